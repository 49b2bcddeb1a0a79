/**
 * Scheduled jobs as the worker's scheduler reports them (conductor.scheduling.scheduler.ScheduledJob).
 */

export interface ScheduledJob {
  readonly name: string;
  readonly cron: string;
  readonly topic: string;
  readonly enabled: boolean;
  readonly next_run: string | null;
  readonly last_run: string | null;
  readonly runs: number;
  readonly missed: number;
}

export type ScheduleHealth = "healthy" | "lagging" | "paused";

export interface NewSchedule {
  name: string;
  cron: string;
  topic: string;
  payload?: Record<string, unknown>;
}

const CRON_ALIASES = new Set(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"]);
const FIELD_PATTERN = /^(\*|\d+(-\d+)?|[a-z]{3}(-[a-z]{3})?)(\/\d+)?(,(\*|\d+(-\d+)?|[a-z]{3}(-[a-z]{3})?)(\/\d+)?)*$/i;

/** A quick client-side check before the worker parses it for real: five fields of the right shape. */
export function looksLikeCron(expression: string): boolean {
  const text = expression.trim();
  if (CRON_ALIASES.has(text)) {
    return true;
  }
  const fields = text.split(/\s+/);
  return fields.length === 5 && fields.every((field) => FIELD_PATTERN.test(field));
}

export function scheduleHealth(job: ScheduledJob): ScheduleHealth {
  if (!job.enabled) {
    return "paused";
  }
  return job.missed > 0 ? "lagging" : "healthy";
}

/** Jobs by their next run, paused ones last, then by name. */
export function sortSchedules(jobs: readonly ScheduledJob[]): ScheduledJob[] {
  return [...jobs].sort((a, b) => {
    if (a.enabled !== b.enabled) {
      return a.enabled ? -1 : 1;
    }
    const left = a.next_run ?? "9999";
    const right = b.next_run ?? "9999";
    return left === right ? a.name.localeCompare(b.name) : left.localeCompare(right);
  });
}
