/** One readable line per runtime event, for `jobchart node` and the demo. */
import type { RuntimeEvent } from '../store/index.js';

export function formatEvent(event: RuntimeEvent): string {
  const time = event.timestamp.toISOString().slice(11, 23);
  const e = event as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['task', 'jobId', 'scheduleId', 'attempt', 'outcome', 'reason', 'role', 'key', 'holder', 'error'] as const) {
    const value = e[key];
    if (value !== undefined) parts.push(`${key}=${String(value)}`);
  }
  if (e['nextFireTime'] instanceof Date) parts.push(`next=${(e['nextFireTime'] as Date).toISOString()}`);
  return `${time} ${event.type.padEnd(18)} ${parts.join(' ')}  [${event.nodeId}]`;
}
