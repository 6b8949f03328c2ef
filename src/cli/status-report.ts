/**
 * What `jobchart status` reports, computed from what the store holds (pure, so tests can feed it):
 * the live nodes, the queue (waiting jobs per task), the running jobs (id, node, since when), the
 * failures of the last interval (jobs that ended failed, attempts that failed and were retried),
 * and the leases — users' (schedules, task slots) apart from the runtime's internal ones.
 */
import type { OUTCOMES } from '../outcome.js';
import type { JobInfo } from '../runtime/job-info.js';
import { FAILED_OUTCOMES } from '../store/index.js';
import type { NodeInfo } from '../store/node-registry.js';
import { errorText } from './event-format.js';
import { columns, spanText, timeText } from './job-view.js';

export interface LeaseInfo {
  key: string;
  nodeId: string;
  acquiredAt: Date;
}

export interface StatusReport {
  nodes: NodeInfo[];
  queue: {
    /** Messages in the dispatch queue (delivered, unacked ones included). */
    depth: number;
    /** Jobs waiting to run, by task (queued state). */
    waiting: number;
    byTask: Record<string, number>;
  };
  running: { id: string; task: string; nodeId: string | null; startedAt: Date | null; attempt: number; progress?: unknown }[];
  failures: {
    since: Date;
    /** Jobs that ended with a failed outcome since `since`. */
    jobs: number;
    byOutcome: Partial<Record<(typeof OUTCOMES)[number], number>>;
    /** Attempts that failed since `since` and were retried. */
    retriedAttempts: number;
    /** The latest failed jobs (at most 5), newest first. */
    latest: { id: string; task: string; outcome: string; error?: string; finishedAt: Date }[];
  };
  /** Users' leases: schedule partitions and task slots. */
  leases: LeaseInfo[];
  /** The runtime's own leases (the maintenance round), listed apart. */
  internalLeases: LeaseInfo[];
}

const LATEST_FAILURES = 5;

export function statusReport(input: {
  nodes: NodeInfo[];
  jobs: readonly JobInfo[];
  queueDepth: number;
  leases: readonly LeaseInfo[];
  internalLeaseKeys: readonly string[];
  since: Date;
}): StatusReport {
  const { jobs, since } = input;
  const byTask: Record<string, number> = {};
  let waiting = 0;
  const running: StatusReport['running'] = [];
  const byOutcome: StatusReport['failures']['byOutcome'] = {};
  const failed: StatusReport['failures']['latest'] = [];
  let retriedAttempts = 0;
  const after = (d: Date | undefined): boolean => d !== undefined && d.getTime() >= since.getTime();
  for (const job of jobs) {
    if (job.state === 'queued') {
      waiting++;
      byTask[job.task] = (byTask[job.task] ?? 0) + 1;
    }
    if (job.state === 'running') {
      const entry: StatusReport['running'][number] = { id: job.id, task: job.task, nodeId: job.nodeId ?? null, startedAt: job.startedAt ?? null, attempt: job.attempt };
      if (job.progress !== undefined) entry.progress = job.progress;
      running.push(entry);
    }
    const result = job.result;
    if (result && FAILED_OUTCOMES.includes(result.outcome) && after(result.finishedAt)) {
      byOutcome[result.outcome] = (byOutcome[result.outcome] ?? 0) + 1;
      failed.push({ id: job.id, task: job.task, outcome: result.outcome, ...(result.error ? { error: errorText(result.error) } : {}), finishedAt: result.finishedAt });
    }
    // Attempts that failed and were retried (the final attempt is the result, counted above).
    for (const attempt of job.attempts) {
      if (attempt.nextAttemptAt !== undefined && after(attempt.endedAt)) retriedAttempts++;
    }
  }
  running.sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0));
  failed.sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const internal = new Set(input.internalLeaseKeys);
  return {
    nodes: input.nodes,
    queue: { depth: input.queueDepth, waiting, byTask },
    running,
    failures: { since, jobs: failed.length, byOutcome, retriedAttempts, latest: failed.slice(0, LATEST_FAILURES) },
    leases: input.leases.filter((l) => !internal.has(l.key)),
    internalLeases: input.leases.filter((l) => internal.has(l.key)),
  };
}

/** The report as text. */
export function statusText(report: StatusReport, now: Date, window: string): string {
  const lines = [`nodes (${report.nodes.length}):`];
  const held = (nodeId: string, prefix: string): number => report.leases.filter((l) => l.nodeId === nodeId && l.key.startsWith(prefix)).length;
  lines.push(
    ...columns(
      report.nodes.map((n) => [
        `  ${n.nodeId}`,
        n.role,
        `running ${n.runningJobs ?? 0}/${n.maxConcurrentJobs ?? '?'}`,
        `leases: ${held(n.nodeId, 'partition.')} schedule partitions, ${held(n.nodeId, 'slot.')} task slots`,
        `tasks: ${(n.tasks ?? []).join(',') || '(none)'}`,
      ]),
    ),
  );
  const perTask = Object.entries(report.queue.byTask)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([task, n]) => `${task} ${n}`)
    .join(', ');
  lines.push(`queue: ${report.queue.waiting} waiting${perTask ? ` (${perTask})` : ''}; ${report.queue.depth} in the dispatch queue`);
  lines.push(report.running.length === 0 ? 'running: none' : `running (${report.running.length}):`);
  lines.push(
    ...columns(
      report.running.map((r) => [
        `  ${r.id}`,
        r.task,
        `attempt ${r.attempt}`,
        `on ${r.nodeId ?? '?'}`,
        `since ${timeText(r.startedAt).slice(11)} (${spanText(r.startedAt ?? undefined, now)})${r.progress !== undefined ? `  progress ${JSON.stringify(r.progress)}` : ''}`,
      ]),
    ),
  );
  const outcomes = Object.entries(report.failures.byOutcome)
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(', ');
  const { failures } = report;
  lines.push(
    `failures in the last ${window}: ${failures.jobs} job${failures.jobs === 1 ? '' : 's'} failed${outcomes ? ` (${outcomes})` : ''}; ${failures.retriedAttempts} attempt${failures.retriedAttempts === 1 ? '' : 's'} failed and retried`,
  );
  for (const f of failures.latest) lines.push(`  ${f.id}  ${f.task}  ${f.outcome}${f.error ? `  ${f.error}` : ''}  at ${timeText(f.finishedAt)}`);
  const count = (prefix: string): number => report.leases.filter((l) => l.key.startsWith(prefix)).length;
  const internal = report.internalLeases.map((l) => `${l.key} (${l.nodeId})`).join(', ');
  lines.push(
    `leases: ${count('partition.')} schedule partitions, ${count('slot.')} task slots${report.leases.length > count('partition.') + count('slot.') ? `, ${report.leases.length - count('partition.') - count('slot.')} other` : ''}; internal: ${internal || 'none'}`,
  );
  return lines.join('\n');
}
