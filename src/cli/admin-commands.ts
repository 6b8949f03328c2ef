/**
 * Admin commands against a NATS store: `schedule add|list|pause|resume|rm`, `job add|result|cancel`,
 * `status`. They open the store through a runtime that is never started (no worker, no scheduler).
 */
import { decodeRecord } from '../codec/index.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import type { ScheduleRecord } from '../records.js';
import { natsStore } from '../store/index.js';
import { cron, date, describeTrigger, interval, type Trigger } from '../triggers/index.js';
import {
  jsonOption,
  parseCommand,
  requireOption,
  requirePositional,
  stringOption,
  type OptionSpec,
  type ParsedCommand,
} from './cli-args.js';
import { CliUsageError } from './cli-error.js';
import { existingLeaseDurationMs } from './lease-probe.js';

export const ADMIN_USAGE = `admin commands (need --nats <url>; add --json for machine-readable output):
  jobchart schedule add --task T (--cron EXPR [--tz ZONE] | --interval 5m | --date ISO) [--id ID]
                        [--args JSON] [--paused] [--coalesce latest|earliest|all]
                        [--misfire-grace 30s] [--max-jitter 10s] [--on-conflict keep|replace|error]
  jobchart schedule list | pause ID | resume ID [--from now|ISO] | rm ID
  jobchart job add --task T [--args JSON] [--id ID] [--wait] [--timeout 30s]
  jobchart job result ID [--wait] [--timeout 30s]
  jobchart job cancel ID
  jobchart status`;

type Print = (human: string, json: unknown) => void;

async function withAdminRuntime<T>(parsed: ParsedCommand, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const nats = stringOption(parsed, 'nats') ?? process.env['JOBCHART_NATS'];
  if (!nats) throw new CliUsageError('admin commands need --nats <url> (or JOBCHART_NATS): the in-memory store lives only inside a node');
  const prefix = stringOption(parsed, 'prefix');
  const servers = nats.split(',');
  const leaseMs = await existingLeaseDurationMs(servers, prefix ?? 'jobchart');
  const rt = await createRuntime({
    store: natsStore({ servers, ...(prefix ? { prefix } : {}) }),
    ...(leaseMs !== null ? { leaseDuration: leaseMs } : {}),
  });
  try {
    return await fn(rt);
  } finally {
    await rt.stop();
  }
}

function printer(parsed: ParsedCommand): Print {
  const json = parsed.values['json'] === true;
  return (human, data) => process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
}

const SCHEDULE_OPTIONS: OptionSpec = {
  task: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  interval: { type: 'string' },
  date: { type: 'string' },
  id: { type: 'string' },
  args: { type: 'string' },
  paused: { type: 'boolean' },
  coalesce: { type: 'string' },
  'misfire-grace': { type: 'string' },
  'max-jitter': { type: 'string' },
  'on-conflict': { type: 'string' },
  from: { type: 'string' },
};

function triggerFrom(parsed: ParsedCommand): Trigger {
  const given = ['cron', 'interval', 'date'].filter((k) => stringOption(parsed, k) !== undefined);
  if (given.length !== 1) throw new CliUsageError('give exactly one of --cron, --interval, --date');
  const tz = stringOption(parsed, 'tz');
  const cronExpr = stringOption(parsed, 'cron');
  if (cronExpr !== undefined) return cron(cronExpr, tz ? { timezone: tz } : {});
  const every = stringOption(parsed, 'interval');
  if (every !== undefined) return interval(every);
  return date(stringOption(parsed, 'date') as string);
}

function scheduleLine(s: ScheduleRecord): string {
  const next = s.paused ? 'paused' : (s.nextFireTime?.toISOString() ?? 'finished');
  return `${s.id}\t${s.task}\t${describeTrigger(s.trigger)}\tnext: ${next}`;
}

export async function scheduleCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const parsed = parseCommand(rest, SCHEDULE_OPTIONS);
  const print = printer(parsed);
  switch (sub) {
    case 'add': {
      const task = requireOption(parsed, 'task', 'the task name to run');
      const trigger = triggerFrom(parsed);
      const onConflict = stringOption(parsed, 'on-conflict') as 'keep' | 'replace' | 'error' | undefined;
      const coalesce = stringOption(parsed, 'coalesce') as ScheduleRecord['coalesce'] | undefined;
      const id = stringOption(parsed, 'id');
      const grace = stringOption(parsed, 'misfire-grace');
      const jitter = stringOption(parsed, 'max-jitter');
      const args = jsonOption(parsed, 'args');
      const added = await withAdminRuntime(parsed, (rt) =>
        rt
          .addSchedule({
            task,
            trigger,
            ...(id ? { id } : {}),
            ...(args !== undefined ? { args } : {}),
            ...(parsed.values['paused'] ? { paused: true } : {}),
            ...(coalesce ? { coalesce } : {}),
            ...(grace ? { misfireGraceTime: grace } : {}),
            ...(jitter ? { maxJitter: jitter } : {}),
            ...(onConflict ? { onConflict } : {}),
          })
          .then((sid) => rt.getSchedule(sid)),
      );
      print(`added ${scheduleLine(added)}`, added);
      return 0;
    }
    case 'list': {
      const list = await withAdminRuntime(parsed, (rt) => rt.listSchedules());
      print(list.length ? list.map(scheduleLine).join('\n') : '(no schedules)', list);
      return 0;
    }
    case 'pause':
    case 'resume':
    case 'rm': {
      const id = requirePositional(parsed, 0, `schedule id (jobchart schedule ${sub} ID)`);
      if (sub === 'rm') {
        const removed = await withAdminRuntime(parsed, (rt) => rt.removeSchedule(id));
        if (!removed) throw new CliUsageError(`no schedule with id "${id}"`);
        print(`removed ${id}`, { id, removed });
        return 0;
      }
      const from = stringOption(parsed, 'from');
      const fromDate = from === undefined || from === 'now' ? 'now' : new Date(from);
      if (fromDate !== 'now' && Number.isNaN(fromDate.getTime())) throw new CliUsageError(`--from must be "now" or an ISO date, got "${from}"`);
      const record = await withAdminRuntime(parsed, (rt) => (sub === 'pause' ? rt.pauseSchedule(id) : rt.resumeSchedule(id, { from: fromDate })));
      print(`${sub === 'pause' ? 'paused' : 'resumed'} ${scheduleLine(record)}`, record);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown schedule command "${sub ?? ''}": use add, list, pause, resume or rm`);
  }
}

export async function jobCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const parsed = parseCommand(rest, {
    task: { type: 'string' },
    args: { type: 'string' },
    id: { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const print = printer(parsed);
  const timeout = stringOption(parsed, 'timeout');
  const wait = parsed.values['wait'] === true;
  switch (sub) {
    case 'add': {
      const task = requireOption(parsed, 'task', 'the task name to run');
      const args = jsonOption(parsed, 'args');
      const id = stringOption(parsed, 'id');
      const out = await withAdminRuntime(parsed, async (rt) => {
        const jobId = await rt.addJob({ task, ...(args !== undefined ? { args } : {}), ...(id ? { id } : {}) });
        const result = wait ? await rt.getJobResult(jobId, { wait: true, ...(timeout ? { timeout } : {}) }) : null;
        return { jobId, result };
      });
      print(out.result ? `${out.jobId}\t${out.result.outcome}\t${JSON.stringify(out.result.returnValue ?? out.result.error ?? null)}` : out.jobId, out);
      return out.result && out.result.outcome !== 'success' ? 1 : 0;
    }
    case 'result': {
      const id = requirePositional(parsed, 0, 'job id (jobchart job result ID)');
      const result = await withAdminRuntime(parsed, (rt) => rt.getJobResult(id, { wait, ...(timeout ? { timeout } : {}) }));
      print(result ? `${id}\t${result.outcome}\t${JSON.stringify(result.returnValue ?? result.error ?? null)}` : `${id}\tpending`, result);
      return result ? 0 : 3;
    }
    case 'cancel': {
      const id = requirePositional(parsed, 0, 'job id (jobchart job cancel ID)');
      const cancelled = await withAdminRuntime(parsed, (rt) => rt.cancelJob(id));
      print(cancelled ? `cancelled ${id}` : `${id} had already ended`, { id, cancelled });
      return cancelled ? 0 : 1;
    }
    default:
      throw new CliUsageError(`unknown job command "${sub ?? ''}": use add, result or cancel`);
  }
}

export async function statusCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, {});
  const print = printer(parsed);
  const status = await withAdminRuntime(parsed, async (rt) => {
    const nodes = await rt.backend.nodes.listNodes();
    const leases: { key: string; nodeId: string; acquiredAt: Date }[] = [];
    for (const entry of await rt.backend.buckets.leases.entries()) {
      try {
        const lease = decodeRecord('lease', entry.value);
        leases.push({ key: entry.key, nodeId: lease.nodeId, acquiredAt: lease.acquiredAt });
      } catch {
        leases.push({ key: entry.key, nodeId: '?', acquiredAt: new Date(0) });
      }
    }
    return { nodes, leases };
  });
  const lines = [`nodes (${status.nodes.length}):`];
  for (const n of status.nodes) {
    const held = status.leases.filter((l) => l.nodeId === n.nodeId);
    const count = (prefix: string): number => held.filter((l) => l.key.startsWith(prefix)).length;
    lines.push(
      `  ${n.nodeId}\t${n.role}\trunning ${n.runningJobs ?? 0}/${n.maxConcurrentJobs ?? '?'}\tleases: ${count('job.')} jobs, ${count('schedule.')} schedules, ${count('slot.')} slots\ttasks: ${(n.tasks ?? []).join(',')}`,
    );
  }
  lines.push(`leases held: ${status.leases.length}`);
  print(lines.join('\n'), status);
  return 0;
}

