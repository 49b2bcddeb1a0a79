/**
 * REST service for scheduled jobs: list, create, pause, resume and remove. Responses are decoded, not trusted.
 */
import { err, mapResult, type Result } from "../types/api";
import type { NewSchedule, ScheduledJob } from "../types/schedule";
import { looksLikeCron } from "../types/schedule";
import type { HttpClient } from "./http";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown, field: string): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value !== "string") {
    throw new TypeError(`${field} must be a string or null`);
  }
  return value;
}

export function decodeSchedule(value: unknown): ScheduledJob {
  if (!isObject(value)) {
    throw new TypeError("a scheduled job must be an object");
  }
  const { name, cron, topic, enabled, runs, missed } = value;
  if (typeof name !== "string" || typeof cron !== "string" || typeof topic !== "string") {
    throw new TypeError("a scheduled job needs string name, cron and topic");
  }
  if (typeof enabled !== "boolean" || typeof runs !== "number" || typeof missed !== "number") {
    throw new TypeError(`scheduled job ${name}: enabled, runs and missed have the wrong types`);
  }
  return {
    name, cron, topic, enabled, runs, missed,
    next_run: stringOrNull(value.next_run, "next_run"),
    last_run: stringOrNull(value.last_run, "last_run"),
  };
}

export class ScheduleService {
  constructor(private readonly http: HttpClient) {}

  async list(signal?: AbortSignal): Promise<Result<ScheduledJob[]>> {
    const result = await this.http.get<unknown>("/schedules", signal ? { signal } : {});
    return mapResult(result, (data) => {
      if (!Array.isArray(data)) {
        throw new TypeError("schedules must be an array");
      }
      return data.map(decodeSchedule);
    });
  }

  async create(schedule: NewSchedule): Promise<Result<ScheduledJob>> {
    if (!looksLikeCron(schedule.cron)) {
      return err({ kind: "invalid", status: 422, message: `"${schedule.cron}" is not a cron expression`, retryable: false });
    }
    const result = await this.http.post<unknown>("/schedules", schedule);
    return mapResult(result, decodeSchedule);
  }

  async pause(name: string): Promise<Result<ScheduledJob>> {
    return mapResult(await this.http.post<unknown>(`/schedules/${encodeURIComponent(name)}/pause`, {}),
      decodeSchedule);
  }

  async resume(name: string): Promise<Result<ScheduledJob>> {
    return mapResult(await this.http.post<unknown>(`/schedules/${encodeURIComponent(name)}/resume`, {}),
      decodeSchedule);
  }

  async remove(name: string): Promise<Result<void>> {
    return this.http.delete<void>(`/schedules/${encodeURIComponent(name)}`);
  }
}
