/**
 * The IPC messages between the bench and its worker processes. A worker process hosts one worker
 * (a jobchart node or a BullMQ Worker) running the no-op task; the memory-store process also hosts
 * the producer, since a memory store cannot be shared across processes.
 */

export const WorkerKind = {
  JobchartNats: 'jobchart-nats',
  JobchartMemory: 'jobchart-memory',
  Bullmq: 'bullmq',
} as const;
export type WorkerKind = (typeof WorkerKind)[keyof typeof WorkerKind];

/** What a worker process is told on its command line (one JSON argument). */
export interface WorkerConfig {
  kind: WorkerKind;
  /** 1-based, for connection names and log prefixes. */
  index: number;
  concurrency: number;
  /** NATS: server URL and key prefix. */
  servers?: string;
  prefix?: string;
  /** Redis port and queue name (BullMQ). */
  redisPort?: number;
  queue?: string;
}

/** Task args every bench job carries (the latency runs stamp when the job was added). */
export interface BenchJobArgs {
  addedAt?: number;
}

export interface PrefillReport {
  added: number;
  seconds: number;
  cpuMicros: number;
  /** Set when the producer stopped short (an error, a stall). */
  failure?: string;
}

export interface TrickleReport {
  /** Adds issued, adds that resolved, adds that failed. */
  issued: number;
  added: number;
  failed: number;
  seconds: number;
  /** Adds still unresolved when the trickle ended. */
  pending: number;
  firstError?: string;
}

export type ToWorker =
  /** Start consuming jobs. */
  | { type: 'go' }
  /** Send a `final` report. */
  | { type: 'report' }
  /** Stop gracefully and exit. */
  | { type: 'stop' }
  /** Producer commands (memory store only). */
  | { type: 'prefill'; jobs: number; chunk: number; stallMs: number }
  | { type: 'trickle'; rate: number; seconds: number };

export interface WorkerProgress {
  /** Task invocations so far (a job run twice counts twice). */
  started: number;
  /** Jobs this worker has finished (result committed, slot released). */
  completed: number;
}

export type FromWorker =
  | { type: 'ready'; pid: number; wallNow: number }
  | ({ type: 'progress' } & WorkerProgress)
  | ({
      type: 'final';
      /** Wall time (ms, sub-ms resolution) when the worker received `go`, and of its last completion. */
      goAt: number | null;
      lastCompletedAt: number | null;
      /** CPU µs of the worker process from `go` to the last completion seen. */
      cpuMicros: number;
      /** add→start latencies (ms) of jobs that carried `addedAt`, in start order. */
      latencies: number[];
      /** Jobs the worker saw fail (should be 0 for a no-op task). */
      failed: number;
    } & WorkerProgress)
  | ({ type: 'prefilled' } & PrefillReport)
  | ({ type: 'trickled' } & TrickleReport)
  | { type: 'fatal'; message: string };
