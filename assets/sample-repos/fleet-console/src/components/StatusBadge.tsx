import type { AgentState } from "../types/agent";

const COLORS: Record<AgentState, string> = {
  created: "#8a8f98",
  starting: "#d29922",
  running: "#2ea043",
  stopping: "#d29922",
  stopped: "#8a8f98",
  failed: "#f85149",
};

export interface StatusBadgeProps {
  state: AgentState;
  restarts?: number;
}

/** A colored pill with the agent's state; restarts are shown when there were any. */
export function StatusBadge({ state, restarts = 0 }: StatusBadgeProps) {
  return (
    <span
      className="status-badge"
      title={restarts > 0 ? `${state}, restarted ${restarts} time(s)` : state}
      style={{ backgroundColor: COLORS[state], borderRadius: 8, padding: "0 8px", color: "white" }}
    >
      {state}
      {restarts > 0 && <sup aria-label="restarts"> ↻{restarts}</sup>}
    </span>
  );
}
