/**
 * The one place that talks HTTP: base URL, JSON, timeouts through AbortController, retries of idempotent
 * requests on retryable failures, and errors mapped to typed Results.
 */
import { errorFromStatus, err, ok, type Result } from "../types/api";
import { backoffDelay, sleep, DEFAULT_BACKOFF, type BackoffOptions } from "../utils/backoff";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
  retries?: number;
  signal?: AbortSignal;
}

export interface HttpClientOptions {
  baseUrl: string;
  timeoutMs?: number;
  retries?: number;
  backoff?: BackoffOptions;
  fetchImpl?: typeof fetch;
}

const IDEMPOTENT: ReadonlySet<Method> = new Set(["GET", "PUT", "DELETE"]);

export class HttpClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoff: BackoffOptions;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.fetchImpl = options.fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(this.baseUrl + (path.startsWith("/") ? path : `/${path}`));
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<Result<T>> {
    const attempts = 1 + (IDEMPOTENT.has(method) ? (options.retries ?? this.retries) : 0);
    let last: Result<T> | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      last = await this.once<T>(method, path, options);
      if (last.ok || !last.error.retryable || attempt === attempts) {
        return last;
      }
      await sleep(backoffDelay(attempt, this.backoff), options.signal);
    }
    return last as Result<T>;
  }

  get<T>(path: string, options?: RequestOptions): Promise<Result<T>> {
    return this.request<T>("GET", path, options);
  }

  post<T>(path: string, body: unknown, options?: RequestOptions): Promise<Result<T>> {
    return this.request<T>("POST", path, { ...options, body });
  }

  delete<T = void>(path: string, options?: RequestOptions): Promise<Result<T>> {
    return this.request<T>("DELETE", path, options);
  }

  private async once<T>(method: Method, path: string, options: RequestOptions): Promise<Result<T>> {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(new DOMException("timeout", "TimeoutError")),
      options.timeoutMs ?? this.timeoutMs);
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.fetchImpl(this.url(path, options.query), {
        method,
        headers: options.body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: controller.signal,
      });
      if (response.status === 204) {
        return ok(undefined as T);
      }
      const text = await response.text();
      const data: unknown = text ? JSON.parse(text) : null;
      if (!response.ok) {
        return err(errorFromStatus(response.status, detailOf(data) ?? response.statusText));
      }
      return ok(data as T);
    } catch (error) {
      if (controller.signal.aborted && !options.signal?.aborted) {
        return err(errorFromStatus(408, `${method} ${path} timed out`));
      }
      throw error;
    } finally {
      clearTimeout(timeout);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** FastAPI puts the reason in `detail`: a string, or a list of validation errors. */
function detailOf(data: unknown): string | null {
  if (typeof data !== "object" || data === null || !("detail" in data)) return null;
  const detail = (data as { detail: unknown }).detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => (typeof d === "object" && d && "msg" in d ? String((d as { msg: unknown }).msg) : String(d)))
      .join("; ");
  }
  return null;
}
