/** Leases and the ways they are lost. */

/** A held lease. `revision` is the fencing token: only a write naming it can renew or release. */
export interface Lease {
  readonly key: string;
  /** The node holding it (the LeaseRecord's nodeId). */
  readonly owner: string;
  readonly revision: number;
  readonly acquiredAt: Date;
  /** Local time the last successful write was *sent*: the server's TTL started no earlier. */
  readonly renewedAt: Date;
}

/** Why a renew or release was refused. */
export const LeaseLostReason = {
  /** Another owner holds the key now (ours expired, or was deleted, and was re-acquired). */
  expiredAndTaken: 'expired_and_taken',
  /** The key is still ours by name but was written at another revision (e.g. a second handle renewed it). */
  revisionMoved: 'revision_moved',
  /** The key is gone: it expired (or was released) and nobody holds it. */
  keyGone: 'key_gone',
  /**
   * Only from `LeaseRenewer`: renewals failed for lack of a store answer and the lease's TTL is
   * about to run out on the server, so the holder must stop as if it were lost.
   */
  storeUnreachable: 'store_unreachable',
} as const;
export type LeaseLostReason = (typeof LeaseLostReason)[keyof typeof LeaseLostReason];

/** The answer of a fenced operation that found the lease no longer ours. */
export interface LeaseLost {
  readonly lost: true;
  readonly key: string;
  readonly owner: string;
  /** The stale revision the caller held. */
  readonly revision: number;
  readonly reason: LeaseLostReason;
  /** The node that holds the key now, when known. */
  readonly holder?: string;
}

/** The answer of a successful `release`. */
export interface LeaseReleased {
  readonly released: true;
  readonly key: string;
}

/** Narrows a renew/release answer to the lost case. */
export function isLeaseLost(value: Lease | LeaseLost | LeaseReleased): value is LeaseLost {
  return 'lost' in value && value.lost === true;
}
