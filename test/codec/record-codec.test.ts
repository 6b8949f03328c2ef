import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, DeserializationError, decodeRecord, encodeRecord } from '../../src/codec/index.js';
import type { JobRecord, JobResult, LeaseRecord, ScheduleRecord } from '../../src/records.js';
import { Packr } from 'msgpackr';

const job: JobRecord = {
  id: 'job-1',
  task: 'send-email',
  args: { to: ['a@example.test'], n: 3, nested: { when: new Date('2026-01-02T03:04:05.678Z') } },
  createdAt: new Date('2026-01-01T00:00:00.000Z'),
  scheduleId: 's1',
  scheduledFireTime: new Date('2026-01-01T00:00:00.000Z'),
  attempt: 1,
  resultTtlMs: 60_000,
};
const schedule: ScheduleRecord = {
  id: 's1',
  task: 'send-email',
  trigger: { kind: 'interval' } as ScheduleRecord['trigger'],
  args: [1, 'two'],
  paused: false,
  coalesce: 'latest',
  misfireGraceTimeMs: null,
  maxJitterMs: 0,
  nextFireTime: new Date('2026-03-29T01:00:00.000Z'),
  lastFireTime: null,
  createdAt: new Date('2026-01-01T00:00:00.000Z'),
};
const result: JobResult = {
  jobId: 'job-1',
  outcome: 'error',
  error: { name: 'TypeError', message: 'boom', stack: 'TypeError: boom\n    at x' },
  startedAt: new Date('2026-01-01T00:00:01.000Z'),
  finishedAt: new Date('2026-01-01T00:00:02.000Z'),
  attempt: 2,
  nodeId: 'n1',
};
const lease: LeaseRecord = { nodeId: 'n1', acquiredAt: new Date('2026-01-01T00:00:00.000Z') };

describe('record codec', () => {
  it.each([
    ['job', job],
    ['schedule', schedule],
    ['result', result],
    ['lease', lease],
  ] as const)('round-trips a %s record with its Dates', (kind, record) => {
    const bytes = encodeRecord(kind, record as never);
    const back = decodeRecord(kind, bytes);
    expect(back).toEqual(record);
  });

  it('keeps nested Dates as Date instances', () => {
    const back = decodeRecord('job', encodeRecord('job', job));
    const nested = (back.args as { nested: { when: unknown } }).nested.when;
    expect(nested).toBeInstanceOf(Date);
    expect((nested as Date).toISOString()).toBe('2026-01-02T03:04:05.678Z');
  });

  it.each([
    ['empty bytes', new Uint8Array()],
    ['random garbage', Uint8Array.from([0xc1, 0xff, 0x00, 0x13, 0x37])],
    ['JSON text', new TextEncoder().encode('{"id":"x","task":"t"}')],
    ['a bare msgpack string', new Packr().pack('hello')],
    ['a msgpack map without envelope', new Packr({ useRecords: false }).pack({ id: 'x' })],
    ['a truncated record', encodeRecord('job', job).subarray(0, 10)],
  ])('rejects %s with DeserializationError', (_label, bytes) => {
    expect(() => decodeRecord('job', bytes)).toThrow(DeserializationError);
  });

  it('rejects a record of another kind', () => {
    expect(() => decodeRecord('job', encodeRecord('lease', lease))).toThrow(/holds a lease record/);
  });

  it('rejects a record from a newer codec version', () => {
    const future = new Packr({ useRecords: false }).pack({ v: CODEC_VERSION + 1, k: 'lease', d: lease });
    expect(() => decodeRecord('lease', future)).toThrow(/codec version/);
  });

  it('rejects a record whose fields have the wrong types, naming the field', () => {
    const bad = new Packr({ useRecords: false }).pack({ v: CODEC_VERSION, k: 'job', d: { ...job, createdAt: 'yesterday' } });
    expect(() => decodeRecord('job', bad)).toThrow(/createdAt/);
  });
});
