/**
 * The worker's health report (conductor.worker.health) and how the console summarises it.
 */

export interface HealthCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly duration_ms: number;
}

export interface HealthReport {
  readonly ready: boolean;
  readonly uptime_s: number;
  readonly checks: readonly HealthCheck[];
}

export type HealthLevel = "ok" | "degraded" | "down";

export interface HealthSummary {
  level: HealthLevel;
  failing: string[];
  slowest: HealthCheck | null;
}

/** Down when the report says not ready and most checks fail; degraded when any check fails or is slow. */
export function summarizeHealth(report: HealthReport | null, slowMs = 500): HealthSummary {
  if (report === null) {
    return { level: "down", failing: ["unreachable"], slowest: null };
  }
  const failing = report.checks.filter((c) => !c.ok).map((c) => c.name);
  const slowest = report.checks.reduce<HealthCheck | null>(
    (worst, check) => (worst === null || check.duration_ms > worst.duration_ms ? check : worst),
    null,
  );
  let level: HealthLevel = "ok";
  if (!report.ready && failing.length * 2 > report.checks.length) {
    level = "down";
  } else if (failing.length > 0 || (slowest !== null && slowest.duration_ms > slowMs)) {
    level = "degraded";
  }
  return { level, failing, slowest };
}

export function formatUptime(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  if (days > 0) {
    return `${days}d ${hours}h`;
  }
  if (hours > 0) {
    return `${hours}h ${minutes}m`;
  }
  return `${minutes}m ${Math.floor(seconds % 60)}s`;
}
