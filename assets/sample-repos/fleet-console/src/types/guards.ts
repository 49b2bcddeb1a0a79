/**
 * Runtime validation of what comes over the wire. Types are promises; these check them.
 */
import { AGENT_STATES, type Agent, type AgentState } from "./agent";
import type { GenericEvent } from "./events";
import type { Job, JobStatus } from "./api";

export class DecodeError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${path}: expected ${expected}, got ${JSON.stringify(got)?.slice(0, 80)}`);
    this.name = "DecodeError";
  }
}

type Decoder<T> = (value: unknown, path: string) => T;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const string: Decoder<string> = (v, path) => {
  if (typeof v !== "string") throw new DecodeError(path, "string", v);
  return v;
};

export const number: Decoder<number> = (v, path) => {
  if (typeof v !== "number" || Number.isNaN(v)) throw new DecodeError(path, "number", v);
  return v;
};

export const nullable =
  <T>(inner: Decoder<T>): Decoder<T | null> =>
  (v, path) =>
    v === null || v === undefined ? null : inner(v, path);

export const oneOf =
  <T extends string>(options: readonly T[]): Decoder<T> =>
  (v, path) => {
    if (typeof v !== "string" || !(options as readonly string[]).includes(v)) {
      throw new DecodeError(path, options.join(" | "), v);
    }
    return v as T;
  };

export const array =
  <T>(item: Decoder<T>): Decoder<T[]> =>
  (v, path) => {
    if (!Array.isArray(v)) throw new DecodeError(path, "array", v);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };

/** Build a decoder from a field map; extra fields are ignored, missing ones fail. */
export function object<T>(fields: { [K in keyof T]: Decoder<T[K]> }): Decoder<T> {
  return (v, path) => {
    if (!isObject(v)) throw new DecodeError(path, "object", v);
    const out = {} as T;
    for (const key of Object.keys(fields) as Array<keyof T>) {
      out[key] = fields[key](v[key as string], `${path}.${String(key)}`);
    }
    return out;
  };
}

export const decodeAgent: Decoder<Agent> = object<Agent>({
  name: string as Decoder<Agent["name"]>,
  kind: string,
  state: oneOf<AgentState>(AGENT_STATES),
  processed: number,
  queued: number,
  restarts: number,
  error: nullable(string),
});

export const decodeJob: Decoder<Job> = object<Job>({
  id: string,
  kind: string,
  status: oneOf<JobStatus>(["queued", "running", "succeeded", "failed", "cancelled"]),
  result: (v) => (v === undefined ? null : v),
  error: nullable(string),
  duration: nullable(number),
});

export const decodeEvent: Decoder<GenericEvent> = object<GenericEvent>({
  id: string,
  topic: string,
  payload: (v, path) => {
    if (!isObject(v)) throw new DecodeError(path, "object", v);
    return v;
  },
  source: string,
  correlation_id: nullable(string),
  timestamp: number,
  sequence: number,
});
