/**
 * REST service for jobs, with polling until a job settles.
 */
import { err, mapResult, type Job, type Result } from "../types/api";
import { decodeJob } from "../types/guards";
import { sleep } from "../utils/backoff";
import type { HttpClient } from "./http";

const SETTLED = new Set(["succeeded", "failed", "cancelled"]);

export class JobService {
  constructor(private readonly http: HttpClient) {}

  async submit(kind: string, params: Record<string, unknown>): Promise<Result<Job>> {
    return mapResult(await this.http.post<unknown>("/jobs", { kind, params }), (d) => decodeJob(d, "job"));
  }

  async get(id: string, signal?: AbortSignal): Promise<Result<Job>> {
    const result = await this.http.get<unknown>(`/jobs/${encodeURIComponent(id)}`, signal ? { signal } : {});
    return mapResult(result, (d) => decodeJob(d, "job"));
  }

  /** Poll until the job is settled, backing off from 250 ms to 5 s between polls. */
  async waitFor(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Result<Job>> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    let interval = 250;
    while (Date.now() < deadline) {
      const result = await this.get(id, options.signal);
      if (!result.ok || SETTLED.has(result.value.status)) return result;
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), options.signal);
      interval = Math.min(5_000, interval * 1.5);
    }
    return err({ kind: "timeout", status: 408, message: `job ${id} did not settle in time`, retryable: true });
  }
}
