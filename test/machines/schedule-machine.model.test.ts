/**
 * Model-based tests of the schedule machine. Simple paths are intractable here (thousands of
 * states), so: state and edge invariants over the whole model (store answers, failures, timers,
 * pause/resume/remove/stop), and every shortest path of the core model (no failures, no outside
 * events) replayed on a live actor with a SimulatedClock and hand-answered effects.
 */
import { getAdjacencyMap, getShortestPaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createScheduleMachine } from '../../src/machines/schedule-machine.js';
import type { CreateJobsInput, ScheduleInput, AdvanceScheduleInput } from '../../src/machines/schedule-types.js';
import { edgesOf, fireTimer, tieDateToClock, timersOf, withoutPrefixPaths, type TimerStats } from '../support/fakes/model-replay.js';
import { controlledScheduleMachine, intervalNextFireTime, SCHEDULE_EFFECTS, type ScheduleEffectName } from '../support/fakes/schedule-fakes.js';
import { createSimClock, settle } from '../support/fakes/sim-time.js';
import {
  isTimer,
  LEASE_MS,
  RECORD,
  scheduleEnvironment,
  serializeScheduleState,
  T0,
  type ModelEvent,
  type ScheduleModelConfig,
  type ScheduleSnapshot,
} from './schedule-model-env.js';

const deps = { nextFireTime: intervalNextFireTime, random: () => 0 };
const input: ScheduleInput = { schedule: RECORD, recordRevision: 1, leaseDurationMs: LEASE_MS };
const modelMachine = createScheduleMachine(deps);
const options = (config: ScheduleModelConfig) =>
  ({ events: scheduleEnvironment(config), input, serializeState: (s: ScheduleSnapshot) => serializeScheduleState(s) }) as never;

const isLoss = (e: ModelEvent) =>
  e.type === 'LEASE_LOST' || (e.type === 'xstate.done.actor.renewScheduleLease' && (e.output as { status: string }).status === 'lost');
const inFiring = (s: ScheduleSnapshot) => s.matches({ holding: { work: 'firing' } });

function assertScheduleState(s: ScheduleSnapshot, where: string): void {
  if (s.matches({ holding: { work: { firing: 'creatingJobs' } } })) expect(s.context.firing!.fires.length, `${where}: creating no jobs`).toBeGreaterThan(0);
  if (s.matches('holding') || s.matches('releasing')) expect(s.context.lease, `${where}: holding without a lease`).not.toBeNull();
  if (s.value === 'finished') expect(s.context.schedule.nextFireTime, `${where}: finished with fire times left`).toBeNull();
}

function assertScheduleEdge(from: ScheduleSnapshot, event: ModelEvent, to: ScheduleSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${event.type}--> ${JSON.stringify(to.value)}`;
  if (from.matches('holding') && isLoss(event)) expect(to.value, `${where}: kept going after losing the lease`).toBe('lost');
  if (inFiring(to) && !inFiring(from)) {
    // Only a renewal answered after the fire time came (the proof) starts a firing.
    expect(from.matches({ holding: { work: 'proving' } }), `${where}: fired without proving`).toBe(true);
    expect(event.type, where).toBe('xstate.done.actor.renewScheduleLease');
    // Planned against the proof's clock reading: every fire is due, the next one is not.
    const firing = to.context.firing;
    if (firing !== null) {
      for (const fire of firing.fires) expect(fire.fireTime.getTime(), `${where}: firing ahead of time`).toBeLessThanOrEqual(to.context.now);
      if (firing.nextFireTime) expect(firing.nextFireTime.getTime(), `${where}: next fire not after now`).toBeGreaterThan(to.context.now);
    }
  }
  if (to.matches({ holding: { work: 'advancing' } }) && !from.matches({ holding: { work: 'advancing' } })) {
    expect(from.matches({ holding: { work: { firing: 'creatingJobs' } } }), `${where}: advanced without creating jobs`).toBe(true);
  }
}

const walked: string[] = [];
let clock = createSimClock(T0);
let untie: () => void = () => {};
beforeEach(() => {
  clock = createSimClock(T0);
  untie = tieDateToClock(clock);
});
afterEach(() => untie());
afterAll(() => console.log(`[model-based] schedule:\n  ${walked.join('\n  ')}`));

async function replay(path: StatePath<ScheduleSnapshot, ModelEvent>, stats: TimerStats): Promise<void> {
  const ctl = controlledScheduleMachine(clock, deps);
  const actor = createActor(ctl.machine, { clock, input });
  actor.start();
  await settle();
  let previous = actor.getSnapshot();
  let leaseRequestSentAt = Number.NaN;
  let proofRequestFrom = Number.POSITIVE_INFINITY; // renewal calls numbered ≥ this prove the lease
  let provenForFiring = false;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    const creates = ctl.calls.createJobs.length;
    const advances = ctl.calls.advanceSchedule.length;
    if (i > 0) {
      const effect = event.type.replace(/^xstate\.(done|error)\.actor\./, '') as ScheduleEffectName;
      if (SCHEDULE_EFFECTS.includes(effect)) {
        const call = ctl.last(effect);
        expect(call.answer.settled || call.signal.aborted, `${where}: answering a ${effect} not in flight`).toBe(false);
        if (event.type.startsWith('xstate.done')) call.answer.resolve(event.output);
        else call.answer.reject(event.error);
        const status = (event.output as { status?: string } | undefined)?.status;
        if ((effect === 'acquireScheduleLease' && status === 'acquired') || (effect === 'renewScheduleLease' && status === 'renewed')) {
          leaseRequestSentAt = call.at;
        }
        if (effect === 'renewScheduleLease' && status === 'renewed' && ctl.calls.renewScheduleLease.length >= proofRequestFrom) {
          provenForFiring = true;
        }
      } else if (isTimer(event)) {
        const renewsBefore = ctl.calls.renewScheduleLease.length;
        await fireTimer(clock, actor, event.type, stats);
        if (event.type === 'FIRE_DUE') {
          // Ghost: from now on only a renewal *requested* after this instant proves the lease.
          proofRequestFrom = renewsBefore + 1;
          provenForFiring = false;
        }
      } else actor.send(event as never);
      await settle();
    }
    const live = actor.getSnapshot();
    // Compared through the model's state identity: the generator keeps one snapshot per
    // normalised state, whose raw renewal counter may come from another route to it.
    expect(serializeScheduleState(live), `${where}: implementation diverged from the model`).toBe(serializeScheduleState(step.state));
    assertScheduleState(live, where);

    // Jobs are only created on a proof, and the record only advances at the revision held.
    if (ctl.calls.createJobs.length > creates) {
      expect(provenForFiring, `${where}: createJobs without a renewal requested after the fire time`).toBe(true);
      expect((ctl.last('createJobs').input as CreateJobsInput).lease).toEqual(live.context.lease);
    }
    if (ctl.calls.advanceSchedule.length > advances) {
      expect((ctl.last('advanceSchedule').input as AdvanceScheduleInput).recordRevision).toBe(live.context.recordRevision);
    }
    // After a loss nothing is fired, advanced or renewed until the lease is acquired again.
    if (i > 0 && previous.matches('holding') && isLoss(event)) {
      expect(live.value).toBe('lost');
      expect(ctl.calls.createJobs.length).toBe(creates);
    }
    if (live.matches('holding')) {
      const expires = leaseRequestSentAt + LEASE_MS;
      expect(clock.now(), `${where}: holding past the lease`).toBeLessThan(expires);
      const guard = live.matches({ holding: { lease: 'held' } }) ? timersOf(actor, 'RENEW_DUE') : timersOf(actor, 'LEASE_LOST');
      expect(guard, `${where}: no renewal or loss deadline pending`).toHaveLength(1);
      expect(guard[0]!.due, `${where}: renewal scheduled after the lease expires`).toBeLessThan(expires);
    }
    previous = live;
  }
  actor.stop();
}

describe('schedule machine, model-based', () => {
  it('state and edge invariants over the whole model (failures, pause/resume, remove, stop)', () => {
    const adjacency = getAdjacencyMap(modelMachine, options({ failures: true, outside: true }));
    const states = Object.values(adjacency).map((a) => a.state as ScheduleSnapshot);
    for (const s of states) assertScheduleState(s, `model state ${JSON.stringify(s.value)}`);
    const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<ScheduleSnapshot, ModelEvent>>[0]);
    for (const { from, event, to } of edges) assertScheduleEdge(from, event, to);
    expect(states.some((s) => s.value === 'finished')).toBe(true);
    walked.push(`full model: ${states.length} states, ${edges.length} edges checked`);
  });

  it('shortest paths of the core model replayed on a live schedule actor', async () => {
    const generated = getShortestPaths(modelMachine, options({ failures: false, outside: false })) as unknown as StatePath<ScheduleSnapshot, ModelEvent>[];
    const paths = withoutPrefixPaths(generated);
    const stats: TimerStats = { byClock: 0, direct: 0 };
    let steps = 0;
    for (const path of paths) {
      await replay(path, stats);
      steps += path.steps.length - 1;
    }
    expect(paths.length).toBeGreaterThan(10);
    walked.push(
      `shortest paths (core: store answers incl. late clock readings, timers; no failures/outside events): ${generated.length} generated, ` +
        `${paths.length} walked (prefixes dropped), ${steps} steps; timers fired by the clock ${stats.byClock}, sent directly ${stats.direct}`,
    );
  });
});
