import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKeyToken, encodeKeyToken, jobIdForFire, slotLeaseKey, validatePrefix } from '../../src/store/store-keys.js';
import { InvalidStoreKeyError } from '../../src/store/store-errors.js';

const KEY_TOKEN = /^[-_A-Za-z0-9]+$/;

describe('store keys', () => {
  it('encodes any id into one valid KV key token and back', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'binary' }), (id) => {
        const token = encodeKeyToken(id);
        expect(token).toMatch(KEY_TOKEN);
        expect(decodeKeyToken(token)).toBe(id);
      }),
    );
  });

  it('never maps two ids to the same token', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        fc.pre(a !== b);
        expect(encodeKeyToken(a)).not.toBe(encodeKeyToken(b));
      }),
    );
    expect(encodeKeyToken('a_2E')).not.toBe(encodeKeyToken('a.'));
    expect(encodeKeyToken('report-2030')).toBe('report-2030');
    expect(encodeKeyToken('a.b')).toBe('a_2Eb');
  });

  it('gives a stable, collision-free job id per (schedule, fire time)', () => {
    const t = new Date('2030-03-31T01:30:00.000Z');
    expect(jobIdForFire('nightly', t)).toBe('nightly@2030-03-31T01:30:00.000Z');
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.date({ noInvalidDate: true }),
        fc.date({ noInvalidDate: true }),
        (s1, s2, t1, t2) => {
          fc.pre(s1 !== s2 || t1.getTime() !== t2.getTime());
          expect(jobIdForFire(s1, t1)).not.toBe(jobIdForFire(s2, t2));
        },
      ),
    );
  });

  it('rejects what cannot become a key, naming it', () => {
    expect(() => encodeKeyToken('')).toThrow(InvalidStoreKeyError);
    expect(() => encodeKeyToken('a\uD800')).toThrow(/surrogate/); // would collide with 'a\uFFFD'
    expect(() => jobIdForFire('s', new Date(Number.NaN))).toThrow(/valid Date/);
    expect(() => slotLeaseKey('t', -1)).toThrow(InvalidStoreKeyError);
    expect(() => decodeKeyToken('a.b')).toThrow(InvalidStoreKeyError);
    expect(() => validatePrefix('job chart')).toThrow(/job chart/);
    expect(validatePrefix('jobchart_prod-1')).toBe('jobchart_prod-1');
  });
});
