/**
 * Events from the worker's stream, as a discriminated union on `topic`.
 * Unknown topics are kept as `GenericEvent` so the console never drops what it does not understand.
 */
import type { AgentName } from "./agent";

interface EventBase<T extends string, P> {
  readonly id: string;
  readonly topic: T;
  readonly payload: P;
  readonly source: string;
  readonly correlation_id: string | null;
  readonly timestamp: number;
  readonly sequence: number;
}

export type AgentStartedEvent = EventBase<"agent.started", { kind: string; restarts: number }>;
export type AgentFailedEvent = EventBase<"agent.failed", { kind: string; error: string }>;
export type AgentStoppedEvent = EventBase<"agent.stopped", { processed: number }>;
export type AgentGivenUpEvent = EventBase<"agent.given_up", { restarts: number }>;
export type PipelineDoneEvent = EventBase<"pipeline.done", Record<string, unknown>>;
export type PipelineFailedEvent = EventBase<"pipeline.failed", { stage: string; reason: string }>;
export type GenericEvent = EventBase<string, Record<string, unknown>>;

export type HubEvent =
  | AgentStartedEvent
  | AgentFailedEvent
  | AgentStoppedEvent
  | AgentGivenUpEvent
  | PipelineDoneEvent
  | PipelineFailedEvent;

export type KnownTopic = HubEvent["topic"];

/** The payload type of a known topic: `PayloadOf<"agent.failed">` is `{ kind: string; error: string }`. */
export type PayloadOf<T extends KnownTopic> = Extract<HubEvent, { topic: T }>["payload"];

export type AgentLifecycleEvent = Extract<HubEvent, { topic: `agent.${string}` }>;

const KNOWN: ReadonlySet<string> = new Set<KnownTopic>([
  "agent.started",
  "agent.failed",
  "agent.stopped",
  "agent.given_up",
  "pipeline.done",
  "pipeline.failed",
]);

export function isKnown(event: GenericEvent): event is HubEvent {
  return KNOWN.has(event.topic);
}

export function isLifecycle(event: GenericEvent): event is AgentLifecycleEvent {
  return isKnown(event) && event.topic.startsWith("agent.");
}

/** The agent an event is about: lifecycle events are published with the agent as their source. */
export function agentOf(event: AgentLifecycleEvent): AgentName {
  return event.source as AgentName;
}

/** Same wildcard semantics as the worker: `*` is one segment, `#` zero or more. */
export function topicMatches(pattern: string, topic: string): boolean {
  const match = (p: string[], t: string[]): boolean => {
    if (p.length === 0) return t.length === 0;
    const [head, ...rest] = p;
    if (head === "#") {
      for (let i = 0; i <= t.length; i++) {
        if (match(rest, t.slice(i))) return true;
      }
      return false;
    }
    if (t.length === 0) return false;
    return (head === "*" || head === t[0]) && match(rest, t.slice(1));
  };
  return match(pattern.split("."), topic.split("."));
}

export type EventHandler<E extends GenericEvent = GenericEvent> = (event: E) => void;
