/** One readable line per runtime event, for `jobchart node` and the demo. */
import type { RuntimeEvent } from '../store/index.js';

/** An event's error as one line: `Name: message` (first line of the message), or the text it carries. */
export function errorText(error: unknown): string {
  if (typeof error === 'string') return error.split('\n')[0] ?? '';
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  const text = `${typeof name === 'string' && name !== 'Error' ? `${name}: ` : ''}${String(message ?? '')}`;
  return text.split('\n')[0] ?? '';
}

export function formatEvent(event: RuntimeEvent): string {
  const time = event.timestamp.toISOString().slice(11, 23);
  const e = event as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['task', 'jobId', 'scheduleId', 'attempt', 'outcome', 'reason', 'role', 'key', 'holder'] as const) {
    const value = e[key];
    if (value !== undefined) parts.push(`${key}=${String(value)}`);
  }
  if (e['nextFireTime'] instanceof Date) parts.push(`next=${(e['nextFireTime'] as Date).toISOString()}`);
  if (e['nextAttemptAt'] instanceof Date) parts.push(`next=attempt ${String(e['nextAttempt'])} at ${(e['nextAttemptAt'] as Date).toISOString().slice(11, 23)}`);
  if (e['progress'] !== undefined) parts.push(`progress=${JSON.stringify(e['progress'])}`);
  if (e['error'] !== undefined) parts.push(`error=${JSON.stringify(errorText(e['error']))}`);
  return `${time} ${event.type.padEnd(18)} ${parts.join(' ')}  [${event.nodeId}]`;
}
