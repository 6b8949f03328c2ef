/**
 * The bench's side of one scheduler process (see child-node-process.ts): its progress, samples of
 * what the node holds, its fire records.
 */
import { ChildNodeProcess, spawnChild } from './child-node-process.js';
import type { FireRecords, FromScheduleNode, NodeProgress, ScheduleNodeConfig, ToScheduleNode } from './schedule-protocol.js';

const entries: Record<ScheduleNodeConfig['kind'], string> = {
  jobchart: 'bench/workers/jobchart-schedule-node.ts',
  bullmq: 'bench/workers/bullmq-schedule-node.ts',
};

export type NodeSampleMessage = Extract<FromScheduleNode, { type: 'sample' }>;

export class ScheduleNodeProcess extends ChildNodeProcess<ToScheduleNode, FromScheduleNode> {
  /** The last progress message (the process sends one every 100 ms from a timer once started). */
  progress: (NodeProgress & { wallNow: number }) | null = null;
  /** The partitions the node held at its last sample (null before one). */
  lastPartitions: number[] | null = null;
  /** Partitions whose schedules the node reported it failed to load (its "[jobchart] loading the schedules of partition N: …" lines). */
  readonly failedPartitionLoads: number[] = [];

  /** Spawns the process for `config` and waits (up to `readyTimeoutMs`) until its node is connected, not started. */
  static async spawn(config: ScheduleNodeConfig, readyTimeoutMs = 60_000): Promise<ScheduleNodeProcess> {
    const node = new ScheduleNodeProcess(config.label, spawnChild(entries[config.kind], config, config.label));
    await node.untilReady(readyTimeoutMs);
    return node;
  }

  protected received(msg: FromScheduleNode): void {
    if (msg.type === 'progress') this.progress = msg;
    if (msg.type === 'sample') this.lastPartitions = msg.partitionList;
  }

  protected override noted(line: string): void {
    const failedLoad = /loading the schedules of partition (\d+)/.exec(line);
    if (failedLoad) this.failedPartitionLoads.push(Number(failedLoad[1]));
  }

  sample(timeoutMs = 10_000): Promise<NodeSampleMessage> {
    return this.request({ type: 'sample' }, 'sample', timeoutMs);
  }

  async fires(timeoutMs = 30_000): Promise<FireRecords> {
    const { index, fireTime, startedAt } = await this.request({ type: 'fires' }, 'fires', timeoutMs);
    return { index, fireTime, startedAt };
  }

  override stop(graceMs = 10_000): Promise<void> {
    return super.stop(graceMs);
  }
}
