/**
 * How `jobchart job list`, `job show` and `status` print jobs: plain text for people (aligned
 * columns, one line per error, times in UTC), pure functions of the runtime's JobInfo so the tests
 * can read them without a store.
 */
import { formatDuration } from '../duration.js';
import type { JobAttemptInfo, JobInfo } from '../runtime/job-info.js';
import { errorText } from './event-format.js';

/** `2026-06-01 12:00:00.123` (UTC). */
export function timeText(date: Date | null | undefined): string {
  return date ? date.toISOString().replace('T', ' ').replace('Z', '') : '-';
}

/** A duration between two instants, as `1.25s`, `340ms`, `2m5s`. */
export function spanText(from: Date | undefined, to: Date | undefined): string {
  if (!from || !to) return '';
  const ms = Math.max(0, to.getTime() - from.getTime());
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(2).replace(/\.?0+$/, '')}s` : formatDuration(Math.round(ms / 1000) * 1000);
}

/** JSON of `value`, cut to `max` characters. */
export function valueText(value: unknown, max = 60): string {
  const text = JSON.stringify(value ?? null) ?? String(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A job's state in one word: queued, running, or its outcome. */
export function stateWord(job: JobInfo): string {
  return job.state === 'done' ? (job.result?.outcome ?? 'done') : job.state;
}

/** The short detail of a listed job: why it waits, where it runs, what it returned or why it failed. */
export function detailText(job: JobInfo, now: Date): string {
  if (job.state === 'queued') {
    const retry = job.attempt > 1 ? `retry of attempt ${job.attempt - 1}` : '';
    const after = job.notBefore && job.notBefore.getTime() > now.getTime() ? `not before ${timeText(job.notBefore)}` : '';
    return [retry, after].filter(Boolean).join(', ');
  }
  if (job.state === 'running') return `on ${job.nodeId ?? '?'} for ${spanText(job.startedAt, now)}${job.progress !== undefined ? `, progress ${valueText(job.progress, 30)}` : ''}`;
  const result = job.result;
  if (!result) return '';
  if (result.outcome === 'success') return `→ ${valueText(result.returnValue)}`;
  return result.error ? errorText(result.error) : '';
}

/** Rows of strings as left-aligned columns separated by two spaces (the last column unpadded). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** `job list` as text: a header and one line per job. */
export function jobListText(jobs: readonly JobInfo[], now: Date): string {
  if (jobs.length === 0) return '(no jobs)';
  const rows = [['ID', 'TASK', 'STATE', 'ATTEMPT', 'CREATED', 'DETAIL']];
  for (const job of jobs) rows.push([job.id, job.task, stateWord(job), String(job.attempt), timeText(job.createdAt), detailText(job, now)]);
  return columns(rows).join('\n');
}

function attemptLines(a: JobAttemptInfo): string[] {
  const where = a.nodeId ? `on ${a.nodeId}` : 'never started';
  const when = a.startedAt ? `${timeText(a.startedAt)} → ${a.endedAt ? timeText(a.endedAt) : 'now'}` : a.endedAt ? `ended ${timeText(a.endedAt)}` : '';
  const took = a.startedAt && a.endedAt ? ` (${spanText(a.startedAt, a.endedAt)})` : a.renewedAt ? ` (lease renewed ${timeText(a.renewedAt)})` : '';
  const lines = [`  #${a.attempt}  ${a.outcome}  ${where}  ${when}${took}`.trimEnd()];
  if (a.nextAttemptAt) lines.push(`      next attempt not before ${timeText(a.nextAttemptAt)}`);
  if (a.error) {
    lines.push(`      ${errorText(a.error)}`);
    const stack = a.error.stack?.split('\n') ?? [];
    // The stack's first line repeats the message; the frames follow.
    const frames = stack[0]?.includes(a.error.message.split('\n')[0] ?? '') ? stack.slice(1) : stack;
    for (const frame of frames) lines.push(`        ${frame.trim()}`);
  }
  if (a.progress !== undefined) lines.push(`      progress ${valueText(a.progress, 200)}`);
  for (const log of a.logs) {
    const [first = '', ...rest] = log.message.split('\n');
    const head = `      log ${timeText(log.at).slice(11)}  `;
    lines.push(`${head}${first}`, ...rest.map((line) => `${' '.repeat(head.length)}${line}`));
  }
  if (a.logsDropped) lines.push(`      (${a.logsDropped} log line${a.logsDropped === 1 ? '' : 's'} not kept)`);
  return lines;
}

/** `job show` as text: the record, where it stands, the result, then every attempt. */
export function jobShowText(job: JobInfo, now: Date): string {
  const lines = [`job ${job.id}`];
  const field = (name: string, value: string): void => void lines.push(`  ${name.padEnd(10)} ${value}`);
  field('task', job.task);
  field('state', job.state === 'done' ? `done: ${stateWord(job)}` : job.state === 'running' ? `running (attempt ${job.attempt})` : `queued (attempt ${job.attempt})`);
  field('created', timeText(job.createdAt));
  if (job.scheduleId !== undefined) field('schedule', `${job.scheduleId}, fire time ${timeText(job.scheduledFireTime)}`);
  field('args', job.state === 'done' ? '(not kept once the job has ended)' : valueText(job.args, 200));
  if (job.notBefore) field('not before', timeText(job.notBefore));
  if (job.state === 'running') field('running', `on ${job.nodeId ?? '?'} since ${timeText(job.startedAt)} (${spanText(job.startedAt, now)}), lease renewed ${timeText(job.renewedAt)}`);
  if (job.result) {
    const r = job.result;
    field('result', r.outcome === 'success' ? `success → ${valueText(r.returnValue, 200)}` : r.error ? `${r.outcome}: ${errorText(r.error)}` : r.outcome);
    field('finished', `${timeText(r.finishedAt)}${r.nodeId ? ` on ${r.nodeId}` : ''}`);
  }
  if (job.progress !== undefined) field('progress', valueText(job.progress, 200));
  lines.push(job.attempts.length === 0 ? 'attempts: none yet' : `attempts (${job.attempts.length}${job.attempts[0]!.attempt > 1 ? `, the earliest not kept` : ''}):`);
  for (const attempt of job.attempts) lines.push(...attemptLines(attempt));
  return lines.join('\n');
}
