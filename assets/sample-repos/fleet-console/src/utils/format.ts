/**
 * Formatting for the console's tables: durations, relative times, byte sizes and compact counts.
 */

const UNITS: Array<[limit: number, divisor: number, suffix: string]> = [
  [1_000, 1, "ms"],
  [60_000, 1_000, "s"],
  [3_600_000, 60_000, "min"],
  [86_400_000, 3_600_000, "h"],
  [Number.POSITIVE_INFINITY, 86_400_000, "d"],
];

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) {
    return "–";
  }
  const sign = ms < 0 ? "-" : "";
  const value = Math.abs(ms);
  for (const [limit, divisor, suffix] of UNITS) {
    if (value < limit) {
      const scaled = value / divisor;
      return `${sign}${scaled < 10 && divisor > 1 ? scaled.toFixed(1) : Math.round(scaled)} ${suffix}`;
    }
  }
  return `${sign}${value} ms`;
}

export function formatRelative(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return "never";
  }
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) {
    return "invalid date";
  }
  const delta = then.getTime() - now.getTime();
  const text = formatDuration(Math.abs(delta));
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  if (Math.abs(n) < 1_000) {
    return String(n);
  }
  if (Math.abs(n) < 1_000_000) {
    return `${(n / 1_000).toFixed(n < 10_000 ? 1 : 0)}k`;
  }
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function formatPercent(share: number, digits = 0): string {
  return `${(share * 100).toFixed(digits)}%`;
}

/** Truncate in the middle so both the start and the end of an id or a path stay visible. */
export function middleEllipsis(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  const keep = Math.max(1, max - 1);
  const head = Math.ceil(keep / 2);
  const tail = Math.floor(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}
