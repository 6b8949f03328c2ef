/**
 * The cluster-wide signals about jobs: completions (sent only while some node waits for results, see
 * interest.ts) and cancel requests to the node running a job. Both are one-way and best effort.
 */
import { decodeRecord } from '../codec/index.js';
import type { DoneJobState, JobState } from '../records.js';
import type { InterestTracker } from './interest.js';
import { SignalChannel, type SignalTransport } from './signals.js';
import { encodeKeyToken, tryDecodeKeyToken } from './store-keys.js';

/** The interest topic of job completions (result waiters). */
export const DONE_TOPIC = 'done';

/** Sends the completion signal of `key` (its done state's bytes) if anyone waits for results. */
export function signalDone(signals: SignalTransport, interest: InterestTracker, key: string, bytes: Uint8Array): void {
  if (interest.wanted(DONE_TOPIC)) signals.send(SignalChannel.done, key, bytes);
}

/** The listening side of completions, and cancel requests both ways. */
export class JobSignals {
  readonly #doneListeners = new Set<(jobId: string, state: DoneJobState) => void>();
  #stopDone: (() => void) | null = null;
  #stopDoneInterest: (() => void) | null = null;

  constructor(
    private readonly signals: SignalTransport,
    private readonly interest: InterestTracker,
  ) {}

  /** Asks the node running `jobId` to cancel it (best effort; one-way). */
  requestCancel(jobId: string): void {
    this.signals.send(SignalChannel.cancel, encodeKeyToken(jobId), new Uint8Array(0));
  }

  /** Cancel requests from the whole cluster. */
  onCancelRequested(listener: (jobId: string) => void): () => void {
    return this.signals.listen(SignalChannel.cancel, (key) => {
      const jobId = tryDecodeKeyToken(key);
      if (jobId !== null) listener(jobId);
    });
  }

  /**
   * Completions from the whole cluster, as they are committed. The channel is listened to only
   * while someone listens here.
   */
  onDone(listener: (jobId: string, state: DoneJobState) => void): () => void {
    this.#doneListeners.add(listener);
    if (this.#stopDone === null) {
      this.#stopDoneInterest = this.interest.listen(DONE_TOPIC);
      this.#stopDone = this.signals.listen(SignalChannel.done, (key, data) => {
        const jobId = tryDecodeKeyToken(key);
        if (jobId === null) return;
        let state: JobState;
        try {
          state = decodeRecord('jobState', data);
        } catch {
          return; // foreign or damaged: the waiter's re-read finds the truth
        }
        if (state.phase !== 'done') return;
        for (const l of [...this.#doneListeners]) l(jobId, state);
      });
    }
    return () => {
      this.#doneListeners.delete(listener);
      if (this.#doneListeners.size === 0 && this.#stopDone) {
        this.#stopDone();
        this.#stopDone = null;
        this.#stopDoneInterest?.();
        this.#stopDoneInterest = null;
      }
    };
  }
}
