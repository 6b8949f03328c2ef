/**
 * What the effect providers in src/actors share: this node's identity, its store handle, its
 * tasks, and a fire-and-forget event publisher.
 */
import type { StoreBackend } from '../store/index.js';
import type { RuntimeEvent, RuntimeEventMap, RuntimeEventType } from '../store/index.js';
import type { Logger } from './logger.js';
import type { JobMetrics } from './metrics.js';
import type { RegisteredTask } from './task-registry.js';

/** Fields `emit` fills in. */
type Filled = 'type' | 'timestamp' | 'nodeId';
export type EventFields<T extends RuntimeEventType> = Omit<RuntimeEventMap[T], Filled>;

export interface NodeContext {
  readonly nodeId: string;
  readonly backend: StoreBackend;
  readonly tasks: ReadonlyMap<string, RegisteredTask>;
  /** How long results are kept unless a job says otherwise (the runtime's defaultResultTtl). */
  readonly defaultResultTtlMs: number;
  /** Publishes a cluster-wide event; a failed publish is reported through `reportError`, never thrown. */
  emit<T extends RuntimeEventType>(type: T, fields: EventFields<T>): void;
  /** Where errors that have no caller go (a background effect failed): logged at level error. */
  reportError(error: unknown, where: string): void;
  /** The node's leveled logger (see logger.ts for what goes at which level). */
  readonly logger: Logger;
  /** Per-job metrics (a no-op recorder when metrics are off). */
  readonly metrics: JobMetrics;
}

export function buildEvent<T extends RuntimeEventType>(type: T, nodeId: string, now: Date, fields: EventFields<T>): RuntimeEvent {
  return { ...fields, type, timestamp: now, nodeId } as unknown as RuntimeEvent;
}
