/**
 * The shape of every call to the worker: a Result that is either data or a typed error, never a throw
 * for an expected failure (404, 409, 422). Network failures and bugs still throw.
 */

export type ApiErrorKind = "not_found" | "conflict" | "invalid" | "unavailable" | "timeout" | "server";

export interface ApiError {
  readonly kind: ApiErrorKind;
  readonly status: number;
  readonly message: string;
  readonly retryable: boolean;
}

export type Result<T, E = ApiError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

export function mapResult<T, U, E>(result: Result<T, E>, fn: (value: T) => U): Result<U, E> {
  return result.ok ? ok(fn(result.value)) : result;
}

/** The value, or throw the error as an Error (for places where a failure is a bug). */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new Error(`${result.error.kind} (${result.error.status}): ${result.error.message}`);
}

export function errorFromStatus(status: number, message: string): ApiError {
  const kind: ApiErrorKind =
    status === 404 ? "not_found"
    : status === 409 ? "conflict"
    : status === 400 || status === 422 ? "invalid"
    : status === 503 ? "unavailable"
    : status === 408 || status === 504 ? "timeout"
    : "server";
  return { kind, status, message, retryable: kind === "unavailable" || kind === "timeout" || status >= 500 };
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface Job<R = unknown> {
  readonly id: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly result: R | null;
  readonly error: string | null;
  readonly duration: number | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor: string | null;
}

/** Make selected keys of T required, the rest untouched. */
export type WithRequired<T, K extends keyof T> = T & { [P in K]-?: NonNullable<T[P]> };

/** Deep readonly for values handed to components, so they cannot mutate the cache by accident. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? ReadonlyArray<DeepReadonly<U>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
