/**
 * The checks of a chaos run, as a pure function of what was observed: the jobs added, their results
 * as the store holds them at the end, the JobReleased events heard, the side-effect log written by
 * the tasks themselves, and when the harness killed or paused which node.
 *
 * Pass/fail checks (the guarantees):
 * 1. no lost job — every job added (and every job the schedule made) has a terminal result (G3);
 * 2. no double commit — no job was released twice, and every success result names a run of that
 *    job and attempt that finished its work with its signal not aborted (G1: a refused runner's
 *    result never stands);
 * 3. no unaborted overlap — no run finished its work (an `end` line with its signal not aborted)
 *    while a later run of the same job had already started (G1 as the task sees it);
 * 4. no duplicated fire time, and 5. no missed fire time, of the 1 s schedule (G4 and coalesce 'all').
 *
 * Reported, not failed: overlaps whose earlier run ended aborted or was killed (work in progress
 * when its node froze or died: the later run starts only after the lease is gone, but the earlier
 * process cannot be stopped from outside mid-instruction), and work done twice (a run that finished
 * but whose node died or froze before its commit landed, so the job ran again) — at-least-once for
 * work in progress, what no lease can prevent.
 */
import type { JobResult } from '../../src/index.js';
import type { RunLine } from './side-effect-log.js';

export interface ChaosObservations {
  /** Every job the run added, and every job the schedule made. */
  jobIds: readonly string[];
  /** Each job's result at the end (null: none). */
  results: ReadonlyMap<string, JobResult | null>;
  /** The side-effect log. */
  lines: readonly RunLine[];
  /** JobReleased events heard, per job id: the nodes that sent them. */
  released: ReadonlyMap<string, readonly string[]>;
  /** When the harness SIGKILLed each node (a run without an end line ended then). */
  killedAt: ReadonlyMap<string, number>;
  /** SIGSTOP..SIGCONT intervals per node. */
  pauses: readonly { node: string; from: number; to: number }[];
  /** When the observations were collected: runs still without an end line end here. */
  collectedAt: number;
  /** The interval schedule (null when the run had none). */
  schedule: { firstFireTime: number; everyMs: number; pausedAt: number; fireTimes: readonly number[] } | null;
}

export interface CheckResult {
  name: string;
  passed: boolean;
  /** What was counted, with a few examples when it failed. */
  detail: string;
}

export interface Run {
  run: string;
  job: string;
  task: string;
  node: string;
  attempt: number;
  start: number;
  /** End line time, or when its node was killed, or `collectedAt`. */
  end: number;
  how: 'completed' | 'aborted' | 'killed' | 'unfinished';
}

export interface ChaosStats {
  jobs: number;
  outcomes: Record<string, number>;
  runs: number;
  /** Jobs by how many runs they took: { '1': n, '2': n, '3+': n }. */
  runsPerJob: Record<string, number>;
  abortedRuns: number;
  killedRuns: number;
  /** Overlapping runs of one job, by what became of the earlier run. */
  overlaps: { aborted: number; killed: number; completed: number };
  /**
   * Jobs whose work was done (completed, not aborted) by more than one run, by what befell the first
   * one's node between its end and the next run's start: killed, paused, or neither (other: e.g. a
   * store outage past its lease deadline, so its commit was refused).
   */
  workDoneTwice: { killedBeforeCommit: number; pausedBeforeCommit: number; other: number };
  releasedEvents: number;
}

export interface ChaosFindings {
  checks: CheckResult[];
  stats: ChaosStats;
  runs: Run[];
}

const EXAMPLES = 5;

function examples(items: readonly string[]): string {
  if (items.length === 0) return '';
  return `: ${items.slice(0, EXAMPLES).join('; ')}${items.length > EXAMPLES ? `; … ${items.length - EXAMPLES} more` : ''}`;
}

/** Runs from the log: one per run id, ended by its end line, its node's death, or the collection. */
export function runsOf(obs: Pick<ChaosObservations, 'lines' | 'killedAt' | 'collectedAt'>): Run[] {
  const byId = new Map<string, Run>();
  for (const line of obs.lines) {
    if (line.e !== 'start') continue;
    byId.set(line.run, { run: line.run, job: line.job, task: line.task, node: line.node, attempt: line.attempt, start: line.t, end: NaN, how: 'unfinished' });
  }
  for (const line of obs.lines) {
    if (line.e !== 'end') continue;
    const run = byId.get(line.run);
    if (!run) continue;
    run.end = line.t;
    run.how = line.aborted ? 'aborted' : 'completed';
  }
  for (const run of byId.values()) {
    if (run.how !== 'unfinished') continue;
    const killed = obs.killedAt.get(run.node);
    if (killed !== undefined && killed >= run.start) {
      run.end = killed;
      run.how = 'killed';
    } else {
      run.end = obs.collectedAt;
    }
  }
  return [...byId.values()].sort((a, b) => a.start - b.start);
}

export function checkChaosRun(obs: ChaosObservations): ChaosFindings {
  const runs = runsOf(obs);
  const runsByJob = new Map<string, Run[]>();
  for (const run of runs) {
    let list = runsByJob.get(run.job);
    if (!list) runsByJob.set(run.job, (list = []));
    list.push(run);
  }
  const checks: CheckResult[] = [];

  // 1. lost jobs
  const lost = obs.jobIds.filter((id) => !obs.results.get(id));
  checks.push({
    name: 'every job has a terminal result (no job lost)',
    passed: lost.length === 0,
    detail: `${obs.jobIds.length - lost.length}/${obs.jobIds.length} jobs ended${examples(lost.map((id) => `${id} has no result`))}`,
  });

  // 2. double commits
  const doubles: string[] = [];
  for (const [job, nodes] of obs.released) if (nodes.length > 1) doubles.push(`${job} released ${nodes.length} times (${nodes.join(', ')})`);
  for (const id of obs.jobIds) {
    const result = obs.results.get(id);
    if (!result || result.outcome !== 'success') continue;
    const named = (result.returnValue as { run?: unknown } | null)?.run;
    const run = runs.find((r) => r.run === named);
    if (!run) doubles.push(`${id}: its result names run ${String(named)}, which is not in the log`);
    else if (run.job !== id || run.attempt !== result.attempt) doubles.push(`${id}: its result (attempt ${result.attempt}) names run ${run.run} of job ${run.job} attempt ${run.attempt}`);
    else if (run.how !== 'completed') doubles.push(`${id}: its result names run ${run.run}, which ${run.how === 'aborted' ? 'ended with its signal aborted' : `was ${run.how}`}`);
  }
  checks.push({
    name: 'no double commit (one release per job; each result from a run that finished unaborted)',
    passed: doubles.length === 0,
    detail: `${[...obs.released.values()].reduce((n, l) => n + l.length, 0)} JobReleased events for ${obs.released.size} jobs${examples(doubles)}`,
  });

  // 3. overlaps
  const overlaps = { aborted: 0, killed: 0, completed: 0 };
  const unaborted: string[] = [];
  for (const [job, list] of runsByJob) {
    for (let i = 0; i < list.length; i++) {
      const earlier = list[i]!;
      for (let j = i + 1; j < list.length; j++) {
        const later = list[j]!;
        if (later.start >= earlier.end) continue;
        if (earlier.how === 'completed') {
          overlaps.completed++;
          unaborted.push(
            `${job}: run ${earlier.run} (${earlier.node}, attempt ${earlier.attempt}) finished its work ${earlier.end - later.start} ms after run ${later.run} (${later.node}, attempt ${later.attempt}) started`,
          );
        } else if (earlier.how === 'aborted') overlaps.aborted++;
        else overlaps.killed++;
      }
    }
  }
  checks.push({
    name: 'no run finished its work while a later run of its job was running',
    passed: unaborted.length === 0,
    detail: `overlapping runs: ${overlaps.completed} finished unaborted, ${overlaps.aborted} ended aborted, ${overlaps.killed} killed${examples(unaborted)}`,
  });

  // 4./5. schedule
  if (obs.schedule) {
    const { firstFireTime, everyMs, pausedAt, fireTimes } = obs.schedule;
    const counts = new Map<number, number>();
    for (const t of fireTimes) counts.set(t, (counts.get(t) ?? 0) + 1);
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([t, n]) => `${new Date(t).toISOString()} made ${n} jobs`);
    const offGrid = [...counts.keys()].filter((t) => t < firstFireTime || (t - firstFireTime) % everyMs !== 0).map((t) => `${new Date(t).toISOString()} is not a fire time`);
    // The fire time racing the pause may or may not have fired: only earlier ones are owed.
    const expected: number[] = [];
    for (let t = firstFireTime; t <= pausedAt - everyMs; t += everyMs) expected.push(t);
    const missing = expected.filter((t) => !counts.has(t)).map((t) => `${new Date(t).toISOString()} never fired`);
    checks.push({
      name: 'each fire time of the 1 s schedule made exactly one job (none duplicated)',
      passed: duplicated.length === 0 && offGrid.length === 0,
      detail: `${fireTimes.length} jobs for ${counts.size} fire times${examples([...duplicated, ...offGrid])}`,
    });
    checks.push({
      name: 'no fire time of the 1 s schedule missed',
      passed: missing.length === 0,
      detail: `${expected.length - missing.length}/${expected.length} fire times from the first to the pause${examples(missing)}`,
    });
  }

  // Stats
  const outcomes: Record<string, number> = {};
  for (const id of obs.jobIds) {
    const outcome = obs.results.get(id)?.outcome ?? 'none';
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  const runsPerJob: Record<string, number> = { '0': 0, '1': 0, '2': 0, '3+': 0 };
  for (const id of obs.jobIds) {
    const n = runsByJob.get(id)?.length ?? 0;
    const key = n >= 3 ? '3+' : String(n);
    runsPerJob[key] = (runsPerJob[key] ?? 0) + 1;
  }
  const workDoneTwice = { killedBeforeCommit: 0, pausedBeforeCommit: 0, other: 0 };
  for (const list of runsByJob.values()) {
    const completed = list.filter((r) => r.how === 'completed');
    if (completed.length < 2) continue;
    // Why the first finished run's result did not stand: what happened to its node between its end
    // and the start of the run after it.
    const first = completed[0]!;
    const next = list.find((r) => r.start > first.start && r !== first) ?? completed[1]!;
    const killed = obs.killedAt.get(first.node);
    if (killed !== undefined && killed >= first.end && killed <= next.start) workDoneTwice.killedBeforeCommit++;
    else if (obs.pauses.some((p) => p.node === first.node && p.to >= first.end && p.from <= next.start)) workDoneTwice.pausedBeforeCommit++;
    else workDoneTwice.other++;
  }
  return {
    checks,
    runs,
    stats: {
      jobs: obs.jobIds.length,
      outcomes,
      runs: runs.length,
      runsPerJob,
      abortedRuns: runs.filter((r) => r.how === 'aborted').length,
      killedRuns: runs.filter((r) => r.how === 'killed').length,
      overlaps,
      workDoneTwice,
      releasedEvents: [...obs.released.values()].reduce((n, l) => n + l.length, 0),
    },
  };
}
