/**
 * The schedule machine's effects against a store: the schedule lease (`schedule.<id>`), creating
 * the jobs of due fire times under deterministic ids (G4), and revision-checked advancement.
 * Provided with `createScheduleMachine(deps).provide(...)`.
 */
import { fromPromise } from 'xstate';
import type { LeaseGrant } from '../machines/lease-timing.js';
import type {
  AcquireScheduleLeaseInput,
  AcquireScheduleLeaseOutput,
  AdvanceScheduleInput,
  AdvanceScheduleOutput,
  CreateJobsInput,
  CreateJobsOutput,
  LoadScheduleInput,
  LoadScheduleOutput,
  ReleaseScheduleLeaseInput,
  RenewScheduleLeaseInput,
  RenewScheduleLeaseOutput,
} from '../machines/schedule-types.js';
import type { JobRecord, ScheduleRecord } from '../records.js';
import type { LeaseLostReason as MachineLeaseLostReason } from '../machines/lease-timing.js';
import { CorruptRecordError, isLeaseLost, jobIdForFire, scheduleLeaseKey, type Lease, type LeaseLost, type Stored } from '../store/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { machineLeaseLostReason } from './job-lease-keeper.js';

/** Publishes the LeaseLost event for a refused schedule lease write; answers the machine's reason. */
function announceLeaseLost(node: NodeContext, lost: LeaseLost, scheduleId: string): MachineLeaseLostReason {
  node.emit('LeaseLost', { key: lost.key, reason: lost.reason, scheduleId, ...(lost.holder !== undefined ? { holder: lost.holder } : {}) });
  return machineLeaseLostReason(lost.reason);
}

const leaseOf = (grant: LeaseGrant): Lease => grant.handle as Lease;

export function createScheduleEffects(node: NodeContext) {
  const { backend, nodeId } = node;
  const now = (): number => backend.clock.now();

  /** The record, or null when it is gone; a corrupt record is reported and treated as gone. */
  async function read(scheduleId: string): Promise<Stored<ScheduleRecord> | null> {
    try {
      return await backend.schedules.get(scheduleId);
    } catch (error) {
      if (error instanceof CorruptRecordError) {
        node.emit('ScheduleDeserializationFailed', { scheduleId, error: error.message });
        return null;
      }
      throw error;
    }
  }

  async function acquireScheduleLease({ scheduleId }: AcquireScheduleLeaseInput): Promise<AcquireScheduleLeaseOutput> {
    const lease = await backend.leases.acquire(scheduleLeaseKey(scheduleId), nodeId);
    if (!lease) return { status: 'held_elsewhere' };
    const stored = await read(scheduleId).catch(async (error: unknown) => {
      await backend.leases.release(lease).catch(() => undefined);
      throw error;
    });
    if (!stored) {
      await backend.leases.release(lease).catch(() => undefined);
      return { status: 'removed' };
    }
    return { status: 'acquired', lease: { revision: lease.revision, handle: lease }, now: now(), schedule: stored.record, recordRevision: stored.revision };
  }

  async function renewScheduleLease({ scheduleId, lease }: RenewScheduleLeaseInput): Promise<RenewScheduleLeaseOutput> {
    const renewed = await backend.leases.renew(leaseOf(lease));
    if (isLeaseLost(renewed)) return { status: 'lost', reason: announceLeaseLost(node, renewed, scheduleId) };
    return { status: 'renewed', lease: { revision: renewed.revision, handle: renewed }, now: now() };
  }

  async function createJobs({ schedule, fires }: CreateJobsInput): Promise<CreateJobsOutput> {
    const createdAt = new Date(now());
    const jobs = fires.map((fire) => {
      const job: JobRecord = {
        id: jobIdForFire(schedule.id, fire.fireTime),
        task: schedule.task,
        args: schedule.args,
        createdAt,
        scheduleId: schedule.id,
        scheduledFireTime: fire.fireTime,
        attempt: 1,
        resultTtlMs: node.defaultResultTtlMs,
      };
      if (fire.startDeadline) job.startDeadline = fire.startDeadline;
      if (fire.jitterMs > 0) job.notBefore = fire.runAt;
      return job;
    });
    // G4: the fire's deterministic id is the message id, so a second scheduler's publish of the same
    // fire time is dropped as a duplicate (and a worker drops a duplicate beyond the window).
    const outcomes = await backend.jobs.add(jobs);
    jobs.forEach((job, i) => {
      if (outcomes[i] === 'queued') {
        node.emit('JobAdded', { jobId: job.id, task: job.task, scheduleId: schedule.id, scheduledFireTime: job.scheduledFireTime as Date });
      }
    });
    return { jobIds: jobs.map((job) => job.id) };
  }

  async function advanceSchedule(input: AdvanceScheduleInput): Promise<AdvanceScheduleOutput> {
    const stored = await read(input.scheduleId);
    if (!stored || stored.revision !== input.recordRevision) return { status: 'conflict' };
    const next: ScheduleRecord = { ...stored.record, nextFireTime: input.nextFireTime, lastFireTime: input.lastFireTime };
    const written = await backend.schedules.update(next, input.recordRevision);
    if (!written) return { status: 'conflict' };
    if (input.nextFireTime === null) node.emit('ScheduleUpdated', { scheduleId: next.id, task: next.task, nextFireTime: null });
    return { status: 'advanced', recordRevision: written.revision, now: now() };
  }

  async function loadSchedule({ scheduleId }: LoadScheduleInput): Promise<LoadScheduleOutput> {
    const stored = await read(scheduleId);
    if (!stored) return { status: 'removed' };
    return { status: 'loaded', schedule: stored.record, recordRevision: stored.revision, now: now() };
  }

  async function releaseScheduleLease({ lease }: ReleaseScheduleLeaseInput): Promise<void> {
    await backend.leases.release(leaseOf(lease));
  }

  return {
    actors: {
      acquireScheduleLease: fromPromise<AcquireScheduleLeaseOutput, AcquireScheduleLeaseInput>(({ input }) => acquireScheduleLease(input)),
      renewScheduleLease: fromPromise<RenewScheduleLeaseOutput, RenewScheduleLeaseInput>(({ input }) => renewScheduleLease(input)),
      createJobs: fromPromise<CreateJobsOutput, CreateJobsInput>(({ input }) => createJobs(input)),
      advanceSchedule: fromPromise<AdvanceScheduleOutput, AdvanceScheduleInput>(({ input }) => advanceSchedule(input)),
      loadSchedule: fromPromise<LoadScheduleOutput, LoadScheduleInput>(({ input }) => loadSchedule(input)),
      releaseScheduleLease: fromPromise<void, ReleaseScheduleLeaseInput>(({ input }) => releaseScheduleLease(input)),
    },
  };
}
