/**
 * Exponential backoff with full jitter, shared by the HTTP client and the event stream.
 */

export interface BackoffOptions {
  baseMs: number;
  factor: number;
  capMs: number;
  jitter: boolean;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, factor: 2, capMs: 15_000, jitter: true };

export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * options.factor ** Math.max(0, attempt - 1));
  return options.jitter ? Math.floor(random() * ceiling) : ceiling;
}

/** Resolves after `ms`, or rejects with the signal's reason when it is aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
