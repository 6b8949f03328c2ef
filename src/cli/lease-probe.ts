/**
 * Admin commands must open a store with the lease duration its nodes use (the store refuses a
 * mismatch, rightly, for nodes). An admin client holds no leases, so it simply adopts the TTL of the
 * existing leases bucket; on a store that has none yet, the runtime default applies.
 */
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';

export async function existingLeaseDurationMs(servers: string[], prefix: string): Promise<number | null> {
  const nc = await connect({ servers, timeout: 5_000 });
  try {
    const kv = await new Kvm(nc).open(`${prefix}_leases`);
    const status = await kv.status();
    return status.ttl > 0 ? status.ttl : null;
  } catch {
    return null;
  } finally {
    await nc.close();
  }
}
