/**
 * The fault plan of a chaos run, drawn from its seed before anything starts: when to add a burst of
 * jobs, SIGKILL a worker or a scheduler (a replacement follows), SIGSTOP a worker (shorter than its
 * lease deadline, or well past the queue's ack wait so another node takes its jobs over), and
 * restart the nats-server (single) or SIGKILL one of the three (cluster). Targets are fractions
 * resolved against the processes alive at that moment, so the same seed gives the same plan.
 */
import { Prng } from './prng.js';

export interface PlanOptions {
  seed: number;
  /** Length of the fault phase (the drain and the checks come after it). */
  durationMs: number;
  cluster: boolean;
  leaseMs: number;
  /** Mean pause between two planned actions. @defaultValue 2500 */
  meanGapMs?: number;
}

export type PlannedAction =
  /** Add `jobs` jobs of task `work`, each sleeping a duration drawn between minMs and maxMs. */
  | { at: number; kind: 'burst'; jobs: number; durations: number[] }
  | { at: number; kind: 'kill-worker'; target: number; replaceAfterMs: number }
  | { at: number; kind: 'pause-worker'; target: number; pauseMs: number; long: boolean }
  | { at: number; kind: 'kill-scheduler'; target: number; replaceAfterMs: number }
  /** Single server: stopped (SIGTERM) for `downMs`, then started again on the same store dir. */
  | { at: number; kind: 'restart-server'; downMs: number }
  /** Cluster: SIGKILL the server leading the jobs bucket (or a random one), restart it after `downMs`. */
  | { at: number; kind: 'kill-server'; leader: boolean; target: number; downMs: number };

export type ActionKind = PlannedAction['kind'];

const START_MS = 1_500;

/** The plan: actions in time order, every fault kind of the mode at least once. */
export function makePlan(opts: PlanOptions): PlannedAction[] {
  const prng = new Prng(opts.seed);
  const lease = opts.leaseMs;
  const meanGap = opts.meanGapMs ?? 2_500;
  // Faults stop early enough for the last one's recovery to happen inside the fault phase.
  const lastAt = Math.max(START_MS, opts.durationMs - (opts.cluster ? 9_000 : 4 * lease));
  const serverKind: ActionKind = opts.cluster ? 'kill-server' : 'restart-server';

  const burst = (at: number): PlannedAction => {
    const jobs = prng.int(20, 150);
    const durations = Array.from({ length: jobs }, () =>
      prng.next() < 0.7 ? prng.int(20, 300) : prng.int(Math.round(lease / 2), 3 * lease),
    );
    return { at, kind: 'burst', jobs, durations };
  };
  const make = (kind: ActionKind, at: number): PlannedAction => {
    switch (kind) {
      case 'burst':
        return burst(at);
      case 'kill-worker':
        return { at, kind, target: prng.next(), replaceAfterMs: prng.int(200, 2_000) };
      case 'kill-scheduler':
        return { at, kind, target: prng.next(), replaceAfterMs: prng.int(200, 2_000) };
      case 'pause-worker': {
        // Short: under the renewal deadline (4/3 lease), nothing may be lost. Long: past the ack
        // wait (2 leases) plus a lease, so another node takes the paused node's jobs over.
        const long = prng.next() < 0.6;
        const pauseMs = long ? prng.int(Math.round(3.2 * lease), 4 * lease) : prng.int(Math.round(0.3 * lease), Math.round(0.7 * lease));
        return { at, kind, target: prng.next(), pauseMs, long };
      }
      case 'restart-server':
        return { at, kind, downMs: prng.int(300, 2_000) };
      case 'kill-server':
        return { at, kind, leader: prng.next() < 0.7, target: prng.next(), downMs: prng.int(2_000, 6_000) };
    }
  };

  const weights: { item: ActionKind; weight: number }[] = [
    { item: 'burst', weight: 4 },
    { item: 'kill-worker', weight: 2 },
    { item: 'pause-worker', weight: 2 },
    { item: 'kill-scheduler', weight: 1 },
    { item: serverKind, weight: 1 },
  ];
  const plan: PlannedAction[] = [burst(500)];
  // A server fault must be over (and, on a cluster, caught up) before the next one starts.
  let serverFreeAt = START_MS;
  for (let at = START_MS; at <= lastAt; at += Math.round(prng.between(0.4, 1.6) * meanGap)) {
    let kind = prng.weighted(weights);
    if (kind === serverKind && at < serverFreeAt) kind = 'burst';
    const action = make(kind, at);
    if (action.kind === 'restart-server' || action.kind === 'kill-server') serverFreeAt = at + action.downMs + (opts.cluster ? 8_000 : 2_000);
    plan.push(action);
  }
  // Every kind at least once, at a random time of the fault phase (a server fault is missing only
  // when none was planned, so it cannot collide with another).
  for (const { item: kind } of weights) {
    if (!plan.some((a) => a.kind === kind)) plan.push(make(kind, prng.int(START_MS, lastAt)));
  }
  return plan.sort((a, b) => a.at - b.at);
}

/** One line per action, for the run's header. */
export function describeAction(a: PlannedAction): string {
  const at = `${(a.at / 1000).toFixed(1)}s`.padStart(6);
  switch (a.kind) {
    case 'burst':
      return `${at} burst of ${a.jobs} jobs (${Math.min(...a.durations)}–${Math.max(...a.durations)} ms each)`;
    case 'kill-worker':
      return `${at} SIGKILL a worker, replacement after ${a.replaceAfterMs} ms`;
    case 'kill-scheduler':
      return `${at} SIGKILL a scheduler, replacement after ${a.replaceAfterMs} ms`;
    case 'pause-worker':
      return `${at} SIGSTOP a worker for ${a.pauseMs} ms (${a.long ? 'past the ack wait: taken over' : 'under the deadline: nothing lost'})`;
    case 'restart-server':
      return `${at} stop the nats-server for ${a.downMs} ms, then start it again`;
    case 'kill-server':
      return `${at} SIGKILL ${a.leader ? 'the server leading the jobs bucket' : 'a random server'}, restart after ${a.downMs} ms`;
  }
}
