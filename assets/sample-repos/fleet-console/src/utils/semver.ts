/**
 * Just enough semantic versioning for the pack installer: parse, compare, and check caret/tilde ranges
 * the same way the worker's resolver does, so the UI can preview what an install will pick.
 */

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parse(text: string): SemVer | null {
  const m = VERSION.exec(text.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split(".") : [] };
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length; // a release sorts after its pre-releases
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function compare(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

function partial(text: string): { v: SemVer; given: number } {
  const parts = text.replace(/^v/, "").split(".");
  const nums = parts.map(Number);
  if (parts.length < 1 || parts.length > 3 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new RangeError(`bad version in range: ${text}`);
  }
  return { v: { major: nums[0] ?? 0, minor: nums[1] ?? 0, patch: nums[2] ?? 0, pre: [] }, given: parts.length };
}

/** Does `version` satisfy `range` ("^1.2", "~0.3", ">=1.0.0", "*", or an exact version)? */
export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  if (!v) return false;
  const r = range.trim();
  if (r === "" || r === "*" || r === "latest") return v.pre.length === 0;
  if (r.startsWith("^") || r.startsWith("~")) {
    const { v: low, given } = partial(r.slice(1));
    let high: SemVer;
    if (r.startsWith("~")) {
      high = given === 1 ? { ...low, major: low.major + 1, minor: 0, patch: 0 } : { ...low, minor: low.minor + 1, patch: 0 };
    } else if (low.major > 0 || given === 1) {
      high = { ...low, major: low.major + 1, minor: 0, patch: 0 };
    } else if (low.minor > 0 || given === 2) {
      high = { ...low, minor: low.minor + 1, patch: 0 };
    } else {
      high = { ...low, patch: low.patch + 1 };
    }
    return v.pre.length === 0 && compare(v, low) >= 0 && compare(v, high) < 0;
  }
  const op = /^(>=|<=|>|<|==)?\s*(.+)$/.exec(r);
  const bound = op ? parse(op[2] ?? "") : null;
  if (!op || !bound) throw new RangeError(`unsupported range: ${range}`);
  const c = compare(v, bound);
  switch (op[1]) {
    case ">=": return c >= 0;
    case "<=": return c <= 0;
    case ">": return c > 0;
    case "<": return c < 0;
    default: return c === 0;
  }
}

/** The newest version in `versions` that satisfies `range`, or null. */
export function maxSatisfying(versions: readonly string[], range: string): string | null {
  let best: { text: string; v: SemVer } | null = null;
  for (const text of versions) {
    const v = parse(text);
    if (v && satisfies(text, range) && (best === null || compare(v, best.v) > 0)) {
      best = { text, v };
    }
  }
  return best?.text ?? null;
}
