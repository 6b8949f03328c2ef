/**
 * The chaos checker (scripts/chaos/checker.ts) on observations written by hand: each check passes
 * on a clean run and fails on the fault it is there to catch — a job without a result, a job
 * released twice, a result from an aborted run, a run that finished its work after another run of
 * its job started, a fire time doubled, missed or off the grid. And the plan (scripts/chaos/plan.ts):
 * the same seed gives the same plan, every fault kind is in it, server faults never overlap.
 */
import { describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/index.js';
import { checkChaosRun, type ChaosObservations } from '../../scripts/chaos/checker.js';
import { makePlan } from '../../scripts/chaos/plan.js';
import type { RunLine } from '../../scripts/chaos/side-effect-log.js';

const T = 1_000_000;

function result(jobId: string, attempt: number, run: string | null, outcome: JobResult['outcome'] = 'success'): JobResult {
  return { jobId, outcome, attempt, finishedAt: new Date(T + 10_000), ...(run ? { returnValue: { run } } : {}) };
}

function runLines(job: string, run: string, node: string, attempt: number, start: number, end: number | null, aborted = false): RunLine[] {
  const base = { job, task: 'work', attempt, node, run };
  const lines: RunLine[] = [{ e: 'start', ...base, t: start }];
  if (end !== null) lines.push({ e: 'end', ...base, t: end, aborted });
  return lines;
}

/** Two jobs: a ran once on w1; b ran on w2, which was paused, and again on w3 (the first run aborted). */
function clean(): ChaosObservations {
  return {
    jobIds: ['a', 'b'],
    results: new Map([
      ['a', result('a', 1, 'r1')],
      ['b', result('b', 2, 'r3')],
    ]),
    lines: [
      ...runLines('a', 'r1', 'w1', 1, T, T + 100),
      ...runLines('b', 'r2', 'w2', 1, T, T + 9_000, true),
      ...runLines('b', 'r3', 'w3', 2, T + 5_000, T + 5_500),
    ],
    released: new Map([
      ['a', ['w1']],
      ['b', ['w3']],
    ]),
    killedAt: new Map(),
    pauses: [{ node: 'w2', from: T + 500, to: T + 8_990 }],
    collectedAt: T + 20_000,
    schedule: { firstFireTime: T, everyMs: 1_000, pausedAt: T + 4_500, fireTimes: [T, T + 1_000, T + 2_000, T + 3_000, T + 4_000] },
  };
}

const failedChecks = (obs: ChaosObservations): string[] =>
  checkChaosRun(obs)
    .checks.filter((c) => !c.passed)
    .map((c) => c.name);

describe('chaos checker', () => {
  it('passes a clean run and counts the aborted overlap without failing it', () => {
    const findings = checkChaosRun(clean());
    expect(findings.checks.map((c) => [c.passed, c.name])).toEqual([
      [true, 'every job has a terminal result (no job lost)'],
      [true, 'no double commit (one release per job; each result from a run that finished unaborted)'],
      [true, 'no run finished its work while a later run of its job was running'],
      [true, 'each fire time of the 1 s schedule made exactly one job (none duplicated)'],
      [true, 'no fire time of the 1 s schedule missed'],
    ]);
    expect(findings.stats).toMatchObject({
      jobs: 2,
      outcomes: { success: 2 },
      runs: 3,
      runsPerJob: { '1': 1, '2': 1 },
      abortedRuns: 1,
      overlaps: { aborted: 1, killed: 0, completed: 0 },
      releasedEvents: 2,
    });
  });

  it('fails on a job without a result', () => {
    const obs = clean();
    obs.results = new Map([['a', result('a', 1, 'r1')]]);
    expect(failedChecks(obs)).toEqual(['every job has a terminal result (no job lost)']);
    expect(checkChaosRun(obs).checks[0]!.detail).toContain('b has no result');
  });

  it('fails on a job released twice, and on a result from an aborted run, another attempt or an unknown run', () => {
    const twice = clean();
    twice.released = new Map([
      ['a', ['w1']],
      ['b', ['w2', 'w3']],
    ]);
    expect(failedChecks(twice)).toEqual(['no double commit (one release per job; each result from a run that finished unaborted)']);

    const fromAborted = clean();
    fromAborted.results = new Map([
      ['a', result('a', 1, 'r1')],
      ['b', result('b', 1, 'r2')],
    ]);
    expect(checkChaosRun(fromAborted).checks[1]).toMatchObject({ passed: false, detail: expect.stringContaining('ended with its signal aborted') });

    const wrongAttempt = clean();
    wrongAttempt.results = new Map([
      ['a', result('a', 1, 'r1')],
      ['b', result('b', 3, 'r3')],
    ]);
    expect(checkChaosRun(wrongAttempt).checks[1]!.passed).toBe(false);

    const unknown = clean();
    unknown.results = new Map([
      ['a', result('a', 1, 'nope')],
      ['b', result('b', 2, 'r3')],
    ]);
    expect(checkChaosRun(unknown).checks[1]).toMatchObject({ passed: false, detail: expect.stringContaining('not in the log') });
  });

  it('fails when a run finishes its work after a later run of its job started; a killed earlier run only counts', () => {
    const overlap = clean();
    overlap.lines = [
      ...runLines('a', 'r1', 'w1', 1, T, T + 100),
      ...runLines('b', 'r2', 'w2', 1, T, T + 5_200, false),
      ...runLines('b', 'r3', 'w3', 2, T + 5_000, T + 5_500),
    ];
    const findings = checkChaosRun(overlap);
    expect(findings.checks[2]).toMatchObject({ passed: false, detail: expect.stringContaining('finished its work 200 ms after run r3') });
    expect(findings.stats.overlaps.completed).toBe(1);

    const killed = clean();
    killed.lines = [...runLines('a', 'r1', 'w1', 1, T, T + 100), ...runLines('b', 'r2', 'w2', 1, T, null), ...runLines('b', 'r3', 'w3', 2, T + 5_000, T + 5_500)];
    killed.killedAt = new Map([['w2', T + 5_100]]);
    const killedFindings = checkChaosRun(killed);
    expect(killedFindings.checks.every((c) => c.passed)).toBe(true);
    expect(killedFindings.stats).toMatchObject({ killedRuns: 1, overlaps: { killed: 1, aborted: 0, completed: 0 } });
  });

  it('reports work done twice by the cause of the first run not being committed', () => {
    const obs = clean();
    obs.lines = [
      ...runLines('a', 'r1', 'w1', 1, T, T + 100),
      ...runLines('b', 'r2', 'w2', 1, T, T + 400),
      ...runLines('b', 'r3', 'w3', 2, T + 5_000, T + 5_500),
    ];
    expect(checkChaosRun(obs).stats.workDoneTwice).toEqual({ killedBeforeCommit: 0, pausedBeforeCommit: 1, other: 0 });
    obs.pauses = [];
    obs.killedAt = new Map([['w2', T + 450]]);
    expect(checkChaosRun(obs).stats.workDoneTwice).toEqual({ killedBeforeCommit: 1, pausedBeforeCommit: 0, other: 0 });
    // Killed, or paused, only after the next run had started: not why the first result did not stand.
    obs.killedAt = new Map([['w2', T + 6_000]]);
    obs.pauses = [{ node: 'w2', from: T + 5_600, to: T + 7_000 }];
    expect(checkChaosRun(obs).stats.workDoneTwice).toEqual({ killedBeforeCommit: 0, pausedBeforeCommit: 0, other: 1 });
  });

  it('fails on a fire time with two jobs, one off the grid, and one never fired; the fire time racing the pause is not owed', () => {
    const doubled = clean();
    doubled.schedule = { ...doubled.schedule!, fireTimes: [T, T + 1_000, T + 1_000, T + 2_000, T + 3_000] };
    expect(failedChecks(doubled)).toEqual(['each fire time of the 1 s schedule made exactly one job (none duplicated)']);

    const offGrid = clean();
    offGrid.schedule = { ...offGrid.schedule!, fireTimes: [T, T + 1_000, T + 1_500, T + 2_000, T + 3_000] };
    expect(checkChaosRun(offGrid).checks[3]).toMatchObject({ passed: false, detail: expect.stringContaining('is not a fire time') });

    const missed = clean();
    missed.schedule = { ...missed.schedule!, fireTimes: [T, T + 2_000, T + 3_000] };
    expect(failedChecks(missed)).toEqual(['no fire time of the 1 s schedule missed']);

    const racing = clean();
    racing.schedule = { ...racing.schedule!, fireTimes: [T, T + 1_000, T + 2_000, T + 3_000] }; // T + 4000 raced the pause at T + 4500
    expect(failedChecks(racing)).toEqual([]);
  });
});

describe('chaos plan', () => {
  it('is the same for the same seed, has every fault kind, and never overlaps two server faults', () => {
    for (const cluster of [false, true]) {
      const opts = { seed: 42, durationMs: 60_000, cluster, leaseMs: 2_000 };
      const plan = makePlan(opts);
      expect(makePlan(opts)).toEqual(plan);
      expect(makePlan({ ...opts, seed: 43 })).not.toEqual(plan);
      const kinds = new Set(plan.map((a) => a.kind));
      expect([...kinds].sort()).toEqual(['burst', cluster ? 'kill-server' : 'restart-server', 'kill-scheduler', 'kill-worker', 'pause-worker'].sort());
      const serverFaults = plan.filter((a) => a.kind === 'kill-server' || a.kind === 'restart-server');
      for (let i = 1; i < serverFaults.length; i++) {
        const previous = serverFaults[i - 1]! as { at: number; downMs: number };
        expect(serverFaults[i]!.at).toBeGreaterThan(previous.at + previous.downMs);
      }
      expect(plan.every((a, i) => i === 0 || a.at >= plan[i - 1]!.at)).toBe(true);
    }
  });

  it('a short profile still has every kind, within its fault phase', () => {
    for (let seed = 0; seed < 20; seed++) {
      const plan = makePlan({ seed, durationMs: 15_000, cluster: false, leaseMs: 1_500 });
      expect(new Set(plan.map((a) => a.kind)).size, `seed ${seed}`).toBe(5);
      expect(Math.max(...plan.map((a) => a.at))).toBeLessThanOrEqual(15_000);
    }
  });
});
