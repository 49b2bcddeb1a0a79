/**
 * Wiring: one HTTP client, one event stream, the services over them.
 */
import { AgentService } from "./services/agentService";
import { EventStream } from "./services/eventStream";
import { HttpClient } from "./services/http";
import { JobService } from "./services/jobService";
import { PackService } from "./services/packService";

export interface Hub {
  http: HttpClient;
  agents: AgentService;
  packs: PackService;
  jobs: JobService;
  events: EventStream;
}

export function connect(baseUrl: string): Hub {
  const http = new HttpClient({ baseUrl, timeoutMs: 10_000, retries: 2 });
  return {
    http,
    agents: new AgentService(http),
    packs: new PackService(http),
    jobs: new JobService(http),
    events: new EventStream({ url: http.url("/events") }),
  };
}

export * from "./types/agent";
export * from "./types/api";
export * from "./types/events";
export * from "./types/packs";
export { AgentTable } from "./components/AgentTable";
export { PackInstaller } from "./components/PackInstaller";
export { StatusBadge } from "./components/StatusBadge";
