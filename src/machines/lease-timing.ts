/**
 * Lease vocabulary shared by the job and schedule machines, and the arithmetic that keeps a holder
 * from outliving its lease.
 *
 * Why these numbers: the store restarts a lease key's TTL (`D`) on every revision-checked write, so
 * a lease written by a request sent at `T` lives until at least `T + D`. A holder renews after the
 * interval `I = D/3` and gives every lease request (acquire or renewal, retries included) at most
 * `X = D/4` before it declares the lease lost. The successful request that reset the TTL was sent at
 * most `X` before its answer arrived, so the next deadline falls at most `X + I + X = 5D/6` after it:
 * a holder always stops (LEASE_LOST, task aborted) strictly before the store can hand the lease to
 * anyone else, with `D/6` to spare for timer and event-loop latency.
 */
import { InvalidMachineInputError } from './errors.js';

/**
 * What a lease effect hands back when it holds a lease. `revision` is the fencing token (the KV
 * revision last written); `handle` is opaque runtime data the machine only carries around (e.g. the
 * per-task slot lease) and must stay serialisable if snapshots are persisted.
 */
export interface LeaseGrant {
  revision: number;
  handle?: unknown;
}

/** Why a lease is no longer ours. */
export const LeaseLostReason = {
  /** A revision-checked write found another revision: someone else wrote the key. */
  revisionMoved: 'revision_moved',
  /** The key's TTL ran out before the renewal reached the store. */
  expired: 'expired',
  /** The key is gone (deleted or purged). */
  deleted: 'deleted',
  /** No renewal succeeded within the renewal deadline; the holder gives up before the TTL can. */
  renewalDeadline: 'renewal_deadline',
  /** Someone outside the machine (a KV watcher, the runtime) reported the loss. */
  reported: 'reported',
} as const;
export type LeaseLostReason = (typeof LeaseLostReason)[keyof typeof LeaseLostReason];

/** The timers derived from a lease duration (all in ms). */
export interface LeaseTiming {
  leaseDurationMs: number;
  /** Time between a successful lease request's answer and the next renewal (`D/3`). */
  renewIntervalMs: number;
  /** Longest a lease request may take, retries included, before the lease counts as lost (`D/4`). */
  renewalDeadlineMs: number;
  /** Pause between retries of a failed store call while the lease is held (`D/30`, ≥ 1). */
  effectRetryMs: number;
}

/** Shortest lease the arithmetic above still works for after integer rounding. */
export const MIN_LEASE_DURATION_MS = 12;

/** Derives renewal timers from a lease duration; throws InvalidMachineInputError below 12 ms. */
export function leaseTiming(machine: string, leaseDurationMs: number): LeaseTiming {
  if (!Number.isFinite(leaseDurationMs) || leaseDurationMs < MIN_LEASE_DURATION_MS) {
    throw new InvalidMachineInputError(
      machine,
      'leaseDurationMs',
      leaseDurationMs,
      `use a finite duration of at least ${MIN_LEASE_DURATION_MS} ms (the default is 30000)`,
    );
  }
  const renewIntervalMs = Math.floor(leaseDurationMs / 3);
  const renewalDeadlineMs = Math.floor(leaseDurationMs / 4);
  return {
    leaseDurationMs,
    renewIntervalMs,
    renewalDeadlineMs,
    effectRetryMs: Math.max(1, Math.floor(leaseDurationMs / 30)),
  };
}

/** Latest instant after a successful request sent at `requestSentAt` when a renewal deadline can fire. */
export function latestLossDetection(timing: LeaseTiming, requestSentAt: number): number {
  return requestSentAt + 2 * timing.renewalDeadlineMs + timing.renewIntervalMs;
}
