import type { Runtime } from '../../src/index.js';

/** Jobs a jobchart node holds; read defensively, as the runtime's status shape may change under rework. */
export function runningJobs(node: Runtime): number {
  const running = (node.status as { running?: unknown }).running;
  return typeof running === 'number' ? running : 0;
}
