import { useMemo, useState } from "react";

import { byState, isTerminal, type Agent, type AgentState } from "../types/agent";
import type { AgentService } from "../services/agentService";
import { useAgents } from "../hooks/useAgents";
import type { EventStream } from "../services/eventStream";
import { StatusBadge } from "./StatusBadge";

type SortKey = "name" | "kind" | "state" | "processed" | "restarts";

export interface AgentTableProps {
  service: AgentService;
  stream?: EventStream;
  onSelect?: (agent: Agent) => void;
}

function compareBy(key: SortKey): (a: Agent, b: Agent) => number {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    return typeof x === "number" && typeof y === "number" ? y - x : String(x).localeCompare(String(y));
  };
}

/** The fleet at a glance: filter by state, sort by column, stop selected agents in bulk. */
export function AgentTable({ service, stream, onSelect }: AgentTableProps) {
  const { agents, loading, error, refresh } = useAgents(service, stream);
  const [sortKey, setSortKey] = useState<SortKey>("name");
  const [filter, setFilter] = useState<AgentState | "all">("all");
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [busy, setBusy] = useState(false);

  const counts = useMemo(() => byState(agents), [agents]);
  const rows = useMemo(
    () => agents.filter((a) => filter === "all" || a.state === filter).sort(compareBy(sortKey)),
    [agents, filter, sortKey],
  );

  const toggle = (name: string) =>
    setSelected((previous) => {
      const next = new Set(previous);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });

  const stopSelected = async () => {
    setBusy(true);
    try {
      const targets = agents.filter((a) => selected.has(a.name) && !isTerminal(a.state)).map((a) => a.name);
      const failed = await service.stopMany(targets);
      setSelected(new Set(failed));
      refresh();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="agent-table">
      <header>
        <select value={filter} onChange={(e) => setFilter(e.target.value as AgentState | "all")}>
          <option value="all">all ({agents.length})</option>
          {(Object.keys(counts) as AgentState[]).map((state) => (
            <option key={state} value={state}>
              {state} ({counts[state].length})
            </option>
          ))}
        </select>
        <button disabled={busy || selected.size === 0} onClick={stopSelected}>
          Stop {selected.size || ""}
        </button>
        {loading && <span className="spinner" aria-label="loading" />}
        {error && <span role="alert">{error.message}</span>}
      </header>
      <table>
        <thead>
          <tr>
            <th />
            {(["name", "kind", "state", "processed", "restarts"] as const).map((key) => (
              <th key={key} onClick={() => setSortKey(key)} aria-sort={sortKey === key ? "descending" : "none"}>
                {key}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((agent) => (
            <tr key={agent.name} onDoubleClick={() => onSelect?.(agent)}>
              <td>
                <input type="checkbox" checked={selected.has(agent.name)} onChange={() => toggle(agent.name)} />
              </td>
              <td>{agent.name}</td>
              <td>{agent.kind}</td>
              <td>
                <StatusBadge state={agent.state} restarts={agent.restarts} />
              </td>
              <td>{agent.processed}</td>
              <td title={agent.error ?? undefined}>{agent.restarts}</td>
            </tr>
          ))}
          {rows.length === 0 && !loading && (
            <tr>
              <td colSpan={6}>no agents {filter === "all" ? "yet" : `in state ${filter}`}</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
