/**
 * The bounds of a job's attempt history (src/store/job-attempts.ts) and the commit's fallback when
 * the history and logs would push the done state over the payload limit.
 */
import { describe, expect, it } from 'vitest';
import type { JobAttempt } from '../../src/records.js';
import {
  appendAttempt,
  AttemptLog,
  attemptError,
  ATTEMPT_STACK_MAX_CHARS,
  LOG_LINE_MAX_CHARS,
  LOG_LINES_PER_ATTEMPT,
  MAX_ATTEMPTS_KEPT,
} from '../../src/store/job-attempts.js';
import { memoryStore } from '../../src/store/index.js';
import { job, result } from './conformance/conformance.js';

const at = (ms: number): Date => new Date(Date.UTC(2030, 0, 1) + ms);
const entry = (attempt: number, lines = 0): JobAttempt => {
  const e: JobAttempt = { attempt, nodeId: 'n', startedAt: at(attempt), endedAt: at(attempt + 1), outcome: 'error' };
  if (lines > 0) e.logs = Array.from({ length: lines }, (_, i) => ({ at: at(i), message: `line ${i}` }));
  return e;
};

describe('attempt history bounds', () => {
  it('keeps the last LOG_LINES_PER_ATTEMPT lines of an attempt, in order, each cut to LOG_LINE_MAX_CHARS, counting the dropped ones', () => {
    const log = new AttemptLog();
    const total = LOG_LINES_PER_ATTEMPT + 37;
    for (let i = 0; i < total; i++) log.add(at(i), i === total - 1 ? 'x'.repeat(LOG_LINE_MAX_CHARS + 50) : `line ${i}`);
    const lines = log.lines();
    expect(lines).toHaveLength(LOG_LINES_PER_ATTEMPT);
    expect(log.dropped).toBe(37);
    expect(lines[0]).toEqual({ at: at(37), message: 'line 37' });
    expect(lines.map((l) => l.at.getTime())).toEqual([...lines.map((l) => l.at.getTime())].sort((a, b) => a - b));
    expect(lines.at(-1)?.message).toHaveLength(LOG_LINE_MAX_CHARS);
    expect(lines.at(-1)?.message.endsWith('…')).toBe(true);
  });

  it('keeps the latest MAX_ATTEMPTS_KEPT attempts, log lines on the latest one only (the others count theirs)', () => {
    let history: JobAttempt[] | undefined;
    for (let n = 1; n <= MAX_ATTEMPTS_KEPT + 3; n++) history = appendAttempt(history, entry(n, 5));
    expect(history!.map((e) => e.attempt)).toEqual(Array.from({ length: MAX_ATTEMPTS_KEPT }, (_, i) => i + 4));
    expect(history!.at(-1)?.logs).toHaveLength(5);
    expect(history!.slice(0, -1).every((e) => e.logs === undefined && e.logsDropped === 5)).toBe(true);
  });

  it('cuts an error stack kept in the history', () => {
    const kept = attemptError({ name: 'Error', message: 'm', stack: 's'.repeat(ATTEMPT_STACK_MAX_CHARS * 2) });
    expect(kept.stack).toHaveLength(ATTEMPT_STACK_MAX_CHARS);
    expect(attemptError({ name: 'E', message: 'm' })).toEqual({ name: 'E', message: 'm' });
  });

  it('a commit whose logs and history would exceed the payload limit keeps the result and drops them', async () => {
    const store = await memoryStore({ maxPayloadBytes: 4096 }).open({ leaseDurationMs: 1000, resultSweepIntervalMs: 0 });
    try {
      const record = job('big notes', { resultTtlMs: null });
      await store.jobs.add([record]);
      const [delivery] = await store.jobs.fetch(1);
      const acquired = await store.jobs.acquire(delivery!, delivery!.job!, 'node-a');
      if (acquired.status !== 'acquired') throw new Error('not acquired');
      const logs = Array.from({ length: LOG_LINES_PER_ATTEMPT }, (_, i) => ({ at: at(i), message: 'y'.repeat(LOG_LINE_MAX_CHARS) }));
      const committed = await store.jobs.commit(acquired.lease, result(record.id), { resultTtlMs: null, logs, progress: 1 });
      expect(committed).toMatchObject({ status: 'committed', state: { phase: 'done', result: { outcome: 'success', returnValue: 42 } } });
      if ('lost' in committed) return;
      expect(committed.state.logs).toBeUndefined();
      expect((await store.jobs.result(record.id))?.returnValue).toBe(42);
    } finally {
      await store.close();
    }
  });
});
