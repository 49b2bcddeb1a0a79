/**
 * REST service for agents: list, spawn, stop, message. Responses are decoded, not trusted.
 */
import type { Agent, AgentName, SpawnRequest, TypedSpawnRequest } from "../types/agent";
import { mapResult, type Result } from "../types/api";
import { array, decodeAgent } from "../types/guards";
import type { HttpClient } from "./http";

export interface MessageReceipt {
  event_id: string;
}

export class AgentService {
  constructor(private readonly http: HttpClient) {}

  async list(signal?: AbortSignal): Promise<Result<Agent[]>> {
    const result = await this.http.get<unknown>("/agents", signal ? { signal } : {});
    return mapResult(result, (data) => array(decodeAgent)(data, "agents"));
  }

  async spawn<K extends string>(request: TypedSpawnRequest<K> | SpawnRequest): Promise<Result<Agent>> {
    const result = await this.http.post<unknown>("/agents", { restart: "transient", config: {}, ...request });
    return mapResult(result, (data) => decodeAgent(data, "agent"));
  }

  stop(name: AgentName): Promise<Result<void>> {
    return this.http.delete(`/agents/${encodeURIComponent(name)}`);
  }

  send(name: AgentName, topic: string, payload: Record<string, unknown> = {}): Promise<Result<MessageReceipt>> {
    return this.http.post<MessageReceipt>(`/agents/${encodeURIComponent(name)}/messages`, { topic, payload });
  }

  /** Stop several agents, at most `concurrency` requests at a time; returns the names that failed. */
  async stopMany(names: readonly AgentName[], concurrency = 4): Promise<AgentName[]> {
    const failed: AgentName[] = [];
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const result = await this.stop(name);
        if (!result.ok && result.error.kind !== "not_found") failed.push(name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
    return failed;
  }
}
