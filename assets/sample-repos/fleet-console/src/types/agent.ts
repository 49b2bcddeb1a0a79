/**
 * Agents as the worker reports them. States mirror agent_hub.agents.base.AgentState.
 */

export const AGENT_STATES = ["created", "starting", "running", "stopping", "stopped", "failed"] as const;

export type AgentState = (typeof AGENT_STATES)[number];

export type TerminalState = Extract<AgentState, "stopped" | "failed">;

export type RestartMode = "permanent" | "transient" | "temporary";

/** A branded string: an agent name that passed validation (lowercase, digits, dashes). */
export type AgentName = string & { readonly __brand: "AgentName" };

export interface Agent {
  readonly name: AgentName;
  readonly kind: string;
  readonly state: AgentState;
  readonly processed: number;
  readonly queued: number;
  readonly restarts: number;
  readonly error: string | null;
}

export interface SpawnRequest<C extends Record<string, unknown> = Record<string, unknown>> {
  kind: string;
  name: AgentName;
  config?: C;
  restart?: RestartMode;
}

/** Configuration of the pattern agents the worker ships with, keyed by kind. */
export interface PatternConfigs {
  router: { routes: Array<[pattern: string, topic: string]>; fallback?: string };
  "fan-out": { targets: string[]; timeout?: number };
  pipeline: { stages: string[] };
}

export type PatternKind = keyof PatternConfigs;

/** A spawn request whose config is checked against the kind when the kind is a known pattern. */
export type TypedSpawnRequest<K extends string> = K extends PatternKind
  ? SpawnRequest<PatternConfigs[K]> & { kind: K }
  : SpawnRequest & { kind: K };

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

export function isAgentName(value: string): value is AgentName {
  return NAME_PATTERN.test(value);
}

export function toAgentName(value: string): AgentName {
  if (!isAgentName(value)) {
    throw new TypeError(`invalid agent name "${value}": lowercase letters, digits and dashes, starting with a letter`);
  }
  return value;
}

export function isTerminal(state: AgentState): state is TerminalState {
  return state === "stopped" || state === "failed";
}

/** Group agents by state, with every state present (possibly empty) so callers can render fixed columns. */
export function byState(agents: readonly Agent[]): Record<AgentState, Agent[]> {
  const groups = Object.fromEntries(AGENT_STATES.map((s) => [s, [] as Agent[]])) as Record<AgentState, Agent[]>;
  for (const agent of agents) {
    groups[agent.state].push(agent);
  }
  return groups;
}
