/**
 * Agents from the REST service, refreshed on an interval and whenever a lifecycle event arrives.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import type { Agent } from "../types/agent";
import type { ApiError } from "../types/api";
import type { AgentService } from "../services/agentService";
import type { EventStream } from "../services/eventStream";

export interface AgentsState {
  agents: Agent[];
  loading: boolean;
  error: ApiError | null;
  refresh: () => void;
}

export function useAgents(service: AgentService, stream?: EventStream, intervalMs = 10_000): AgentsState {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);
  const inFlight = useRef<AbortController | null>(null);

  const refresh = useCallback(() => {
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    setLoading(true);
    service
      .list(controller.signal)
      .then((result) => {
        if (controller.signal.aborted) return;
        if (result.ok) {
          setAgents(result.value);
          setError(null);
        } else {
          setError(result.error);
        }
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) {
          setError({ kind: "server", status: 0, message: String(e), retryable: true });
        }
      })
      .finally(() => {
        if (inFlight.current === controller) setLoading(false);
      });
  }, [service]);

  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, intervalMs);
    const unsubscribe = stream?.subscribe("agent.*", refresh);
    return () => {
      clearInterval(timer);
      unsubscribe?.();
      inFlight.current?.abort();
    };
  }, [refresh, stream, intervalMs]);

  return { agents, loading, error, refresh };
}
