/**
 * Live nodes for `jobchart status`: each node `heartbeat`s its info into the `nodes` bucket, whose
 * TTL (default 3 × lease duration) removes a node that stopped heartbeating. Not a codec record
 * kind: the info is versioned msgpack of its own, and an unreadable entry is skipped.
 */
import { Packr } from 'msgpackr';
import type { KvBucket } from './kv-bucket.js';
import { decodeKeyToken, encodeKeyToken } from './store-keys.js';

export interface NodeInfo {
  nodeId: string;
  role: 'both' | 'scheduler' | 'worker';
  startedAt: Date;
  /** Set by `heartbeat` to the store clock's now. */
  lastHeartbeat: Date;
  hostname?: string;
  pid?: number;
  maxConcurrentJobs?: number;
  runningJobs?: number;
  /** Tasks registered on the node (lets admin clients check task names without running them). */
  tasks?: string[];
}

const NODE_INFO_VERSION = 1;
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export class NodeRegistry {
  constructor(
    private readonly bucket: KvBucket,
    private readonly now: () => number,
  ) {}

  /** Records `info` as alive now (call at least once per TTL). */
  async heartbeat(info: Omit<NodeInfo, 'lastHeartbeat'>): Promise<void> {
    const record: NodeInfo = { ...info, lastHeartbeat: new Date(this.now()) };
    await this.bucket.put(encodeKeyToken(info.nodeId), packr.pack({ v: NODE_INFO_VERSION, n: record }));
  }

  /** Nodes whose last heartbeat is younger than the bucket TTL, oldest first. */
  async listNodes(): Promise<NodeInfo[]> {
    const nodes: NodeInfo[] = [];
    for (const entry of await this.bucket.entries()) {
      try {
        const envelope = packr.unpack(entry.value) as { v?: unknown; n?: NodeInfo };
        if (envelope.v !== NODE_INFO_VERSION || typeof envelope.n?.nodeId !== 'string') continue;
        if (envelope.n.nodeId !== decodeKeyToken(entry.key)) continue;
        nodes.push(envelope.n);
      } catch {
        // Not ours or damaged: a status listing must not fail because of one entry.
      }
    }
    return nodes.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  }

  /** Removes a node at once (on clean stop) instead of waiting for the TTL. */
  async remove(nodeId: string): Promise<void> {
    await this.bucket.delete(encodeKeyToken(nodeId));
  }
}
