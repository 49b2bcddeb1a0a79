/**
 * Scheduled jobs, refreshed on an interval and after every change made through the hook.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import type { ApiError } from "../types/api";
import type { NewSchedule, ScheduledJob } from "../types/schedule";
import { sortSchedules } from "../types/schedule";
import type { ScheduleService } from "../services/scheduleService";

export interface SchedulesState {
  jobs: ScheduledJob[];
  loading: boolean;
  error: ApiError | null;
  create: (schedule: NewSchedule) => Promise<boolean>;
  toggle: (job: ScheduledJob) => Promise<boolean>;
  remove: (name: string) => Promise<boolean>;
  refresh: () => Promise<void>;
}

export function useSchedules(service: ScheduleService, refreshMs = 15_000): SchedulesState {
  const [jobs, setJobs] = useState<ScheduledJob[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);
  const abort = useRef<AbortController | null>(null);

  const refresh = useCallback(async () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    const result = await service.list(controller.signal);
    if (controller.signal.aborted) {
      return;
    }
    setLoading(false);
    if (result.ok) {
      setJobs(sortSchedules(result.value));
      setError(null);
    } else {
      setError(result.error);
    }
  }, [service]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), refreshMs);
    return () => {
      clearInterval(timer);
      abort.current?.abort();
    };
  }, [refresh, refreshMs]);

  const apply = useCallback(
    async (action: () => Promise<{ ok: boolean; error?: ApiError }>) => {
      const result = await action();
      if (!result.ok) {
        setError(result.error ?? null);
        return false;
      }
      await refresh();
      return true;
    },
    [refresh],
  );

  const create = useCallback((schedule: NewSchedule) => apply(() => service.create(schedule)), [apply, service]);
  const toggle = useCallback(
    (job: ScheduledJob) => apply(() => (job.enabled ? service.pause(job.name) : service.resume(job.name))),
    [apply, service],
  );
  const remove = useCallback((name: string) => apply(() => service.remove(name)), [apply, service]);

  return { jobs, loading, error, create, toggle, remove, refresh };
}
