/**
 * Scheduled jobs: cron, topic, next and last run, health; pause/resume and remove per row.
 */
import type { ScheduledJob } from "../types/schedule";
import { scheduleHealth } from "../types/schedule";
import { formatRelative } from "../utils/format";

export interface ScheduleTableProps {
  jobs: readonly ScheduledJob[];
  now?: Date;
  onToggle: (job: ScheduledJob) => void;
  onRemove: (name: string) => void;
}

const HEALTH_CLASS = { healthy: "badge-ok", lagging: "badge-warn", paused: "badge-muted" } as const;

export function ScheduleRow({ job, now, onToggle, onRemove }: { job: ScheduledJob; now: Date } &
  Pick<ScheduleTableProps, "onToggle" | "onRemove">) {
  const health = scheduleHealth(job);
  return (
    <tr>
      <td>{job.name}</td>
      <td><code>{job.cron}</code></td>
      <td>{job.topic}</td>
      <td>{formatRelative(job.next_run, now)}</td>
      <td>{formatRelative(job.last_run, now)}</td>
      <td>
        <span className={HEALTH_CLASS[health]}>{health}</span>
        {job.missed > 0 ? <small> {job.missed} missed</small> : null}
      </td>
      <td>
        <button onClick={() => onToggle(job)}>{job.enabled ? "Pause" : "Resume"}</button>
        <button onClick={() => onRemove(job.name)}>Remove</button>
      </td>
    </tr>
  );
}

export function ScheduleTable({ jobs, now = new Date(), onToggle, onRemove }: ScheduleTableProps) {
  if (jobs.length === 0) {
    return <p className="empty">No scheduled jobs. Add one with a cron expression and a topic.</p>;
  }
  return (
    <table className="schedules">
      <thead>
        <tr>
          <th>name</th><th>cron</th><th>topic</th><th>next</th><th>last</th><th>health</th><th />
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <ScheduleRow key={job.name} job={job} now={now} onToggle={onToggle} onRemove={onRemove} />
        ))}
      </tbody>
    </table>
  );
}
