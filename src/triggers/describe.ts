/** One-line human descriptions of triggers, for the CLI and the demo. */
import { formatDuration } from '../duration.js';
import { formatClock } from './civil.js';
import type { CalendarIntervalTrigger, Trigger } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function bounds(start: number | null, end: number | null): string {
  return (start === null ? '' : ` from ${iso(start)}`) + (end === null ? '' : ` until ${iso(end)}`);
}

function calendarSteps(t: CalendarIntervalTrigger): string {
  const parts: string[] = [];
  for (const unit of ['years', 'months', 'weeks', 'days'] as const) {
    const n = t[unit];
    if (n > 0) parts.push(`${n} ${n === 1 ? unit.slice(0, -1) : unit}`);
  }
  return parts.join(' ');
}

/** A short human description, e.g. `cron "0 9 * * MON-FRI" in Europe/Berlin` or `every 5m from 2026-01-01T00:00:00.000Z`. */
export function describeTrigger(t: Trigger): string {
  switch (t.kind) {
    case 'cron':
      return `cron "${t.expression}" in ${t.timezone}${bounds(t.start, t.end)}`;
    case 'interval':
      return `every ${formatDuration(t.everyMs)}${bounds(t.start, t.end)}`;
    case 'date':
      return `once at ${iso(t.at)}`;
    case 'calendarInterval':
      return (
        `every ${calendarSteps(t)} at ${formatClock(t.hour, t.minute, t.second)} ${t.timezone} from ${t.start}` +
        (t.end === null ? '' : ` until ${t.end}`)
      );
    case 'and':
      return `all of (${t.triggers.map(describeTrigger).join('; ')}) within ${formatDuration(t.thresholdMs)}`;
    case 'or':
      return `any of (${t.triggers.map(describeTrigger).join('; ')})`;
    default:
      return `unknown trigger ${JSON.stringify((t as { kind?: unknown }).kind)}`;
  }
}
