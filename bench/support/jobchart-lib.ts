/**
 * The jobchart the bench measures: the built package (`dist/`, what `npm pack` ships and what a
 * deployment runs), which bench/main.ts builds from `src/` before the runs. `BENCH_FROM_SOURCE=1`
 * measures `src/` through tsx instead (no build step; esbuild's `__name` wrappers and the loader
 * cost ~30% more CPU per job than the tsc output).
 */
import type * as Jobchart from '../../src/index.js';
import { fromSource } from './build-dist.js';

export type { Runtime } from '../../src/index.js';

export { fromSource };

const entry = fromSource ? new URL('../../src/index.ts', import.meta.url).href : new URL('../../dist/index.js', import.meta.url).href;
const jobchart = (await import(entry)) as typeof Jobchart;

export const { createRuntime, interval, memoryStore, natsStore } = jobchart;
