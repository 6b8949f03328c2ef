/**
 * Admin commands (`schedule …`, `job …`, `status`) open a NATS store through a runtime that is never
 * started: no worker, no scheduler, no leases of its own.
 */
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import { natsStore } from '../store/index.js';
import { probeStore } from './store-probe.js';
import type { NatsTarget } from './store-flags.js';

/** Runs `fn` with an admin runtime on `target`, and stops it afterwards. */
export async function withAdminRuntime<T>(target: NatsTarget, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const { leaseDurationMs } = await probeStore(target);
  const rt = await createRuntime({
    store: natsStore(target.options),
    ...(leaseDurationMs !== null ? { leaseDuration: leaseDurationMs } : {}),
  });
  try {
    return await fn(rt);
  } finally {
    await rt.stop();
  }
}
