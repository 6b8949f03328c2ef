/**
 * Bad input on the command line: each exits 2 with one line in the command line's words (flags and
 * commands, never API option names), and is caught before the command connects. The store URL points
 * at a port where nothing listens: a check that ran too late would show up as exit 1, "cannot connect".
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/nats-server.js';
import { runInProcess } from './support/run-jobchart.js';

let nats: string[] = [];
let deadUrl = '';
let dir = '';

beforeAll(async () => {
  deadUrl = `nats://127.0.0.1:${await freePort()}`;
  nats = ['--nats', deadUrl];
  dir = mkdtempSync(join(tmpdir(), 'jobchart-cli-input-'));
  writeFileSync(join(dir, 'cert.pem'), 'not really a certificate');
});

type Case = [what: string, args: () => string[], message: RegExp, env?: () => NodeJS.ProcessEnv];

const cases: Case[] = [
  ['unknown command', () => ['bogus'], /^unknown command "bogus" \(try: jobchart help\)$/],
  ['misspelt command', () => ['stauts'], /^unknown command "stauts"; did you mean status\? \(try: jobchart help\)$/],
  ['unknown subcommand', () => ['schedule', 'bogus'], /^unknown schedule command "bogus" \(try: jobchart schedule --help\)$/],
  ['unknown flag', () => ['schedule', 'list', '--bogus', ...nats], /^unknown option '--bogus' \(see: jobchart schedule list --help\)$/],
  ['flag of another subcommand', () => ['schedule', 'pause', 'x', '--from', 'now', ...nats], /^unknown option '--from' \(see: jobchart schedule pause --help\)$/],
  ['stray argument', () => ['schedule', 'list', 'extra', ...nats], /^too many arguments for 'list'\. Expected 0 arguments but got 1 \(see: jobchart schedule list --help\)$/],
  ['stray argument after an id', () => ['job', 'cancel', 'a', 'b', ...nats], /^too many arguments for 'cancel'/],
  ['stray argument to node', () => ['node', 'tasks.js'], /^too many arguments for 'node'/],
  ['missing id', () => ['job', 'result', ...nats], /^missing required argument 'id' \(see: jobchart job result --help\)$/],
  ['missing --task', () => ['job', 'add', ...nats], /^required option '--task <name>' not specified/],
  ['flag without its value', () => ['job', 'add', ...nats, '--task'], /^option '--task <name>' argument missing \(see: jobchart job add --help\)$/],
  ['flag followed by another flag instead of its value', () => ['job', 'add', '--task', ...nats], /^--task needs a value, not the flag --nats$/],
  ['no trigger', () => ['schedule', 'add', '--task', 't', ...nats], /^give exactly one of --cron, --interval, --date$/],
  ['two triggers', () => ['schedule', 'add', '--task', 't', '--cron', '* * * * *', '--interval', '5m', ...nats], /^give exactly one of --cron, --interval, --date$/],
  ['bad cron', () => ['schedule', 'add', '--task', 't', '--cron', '61 * * * *', ...nats], /^--cron: /],
  ['bad --tz', () => ['schedule', 'add', '--task', 't', '--cron', '0 2 * * *', '--tz', 'Mars/Olympus', ...nats], /^--tz: "Mars\/Olympus" is not a known IANA time zone/],
  ['--tz without --cron', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--tz', 'UTC', ...nats], /^--tz applies to --cron only$/],
  ['bad --interval', () => ['schedule', 'add', '--task', 't', '--interval', '1x', ...nats], /^--interval "1x" is not a duration; use e\.g\. 250ms, 90s/],
  ['zero --interval', () => ['schedule', 'add', '--task', 't', '--interval', '0', ...nats], /^--interval: /],
  ['bad --date', () => ['schedule', 'add', '--task', 't', '--date', 'tomorrow', ...nats], /^--date: "tomorrow" is not a valid instant/],
  ['past --date', () => ['schedule', 'add', '--task', 't', '--date', '2020-01-01T00:00:00Z', ...nats], /^--date 2020-01-01T00:00:00\.000Z is in the past: the schedule would never fire$/],
  [
    'cron with no fire time between --start and --end',
    () => ['schedule', 'add', '--task', 't', '--cron', '0 2 * * *', '--start', '2020-01-01T03:00:00Z', '--end', '2020-01-01T04:00:00Z', ...nats],
    /^cron "0 2 \* \* \*" in UTC from .* has no fire time after now: the schedule would never fire \(check --start and --end\)$/,
  ],
  ['interval that ended', () => ['schedule', 'add', '--task', 't', '--interval', '1h', '--start', '2020-01-01T00:00:00Z', '--end', '2020-01-02T00:00:00Z', ...nats], /would never fire/],
  ['--end before --start', () => ['schedule', 'add', '--task', 't', '--interval', '1h', '--start', '2030-01-02T00:00:00Z', '--end', '2030-01-01T00:00:00Z', ...nats], /^--end: |^--start: /],
  ['--start with --date', () => ['schedule', 'add', '--task', 't', '--date', '2030-01-01T00:00:00Z', '--start', '2030-01-01T00:00:00Z', ...nats], /^--start and --end apply to --cron and --interval, not --date$/],
  ['bad --coalesce', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--coalesce', 'bogus', ...nats], /^option '--coalesce <policy>' argument 'bogus' is invalid\. Allowed choices are latest, earliest, all/],
  ['bad --misfire-grace', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--misfire-grace', 'soon', ...nats], /^--misfire-grace "soon" is not a duration/],
  ['bad --max-jitter', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--max-jitter', '-1s', ...nats], /^--max-jitter "-1s" is not a duration/],
  ['bad --args', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--args', '{to:1}', ...nats], /^--args must be JSON/],
  ['empty --id', () => ['schedule', 'add', '--task', 't', '--interval', '5m', '--id', '', ...nats], /^--id must not be empty$/],
  ['bad --from', () => ['schedule', 'resume', 'x', '--from', 'yesterday', ...nats], /^--from "yesterday" is not an ISO 8601 date-time/],
  ['bad --timeout (the issue: the job was created anyway)', () => ['job', 'add', '--task', 'hello', '--timeout', '1x', '--wait', ...nats], /^--timeout "1x" is not a duration/],
  ['--timeout without --wait', () => ['job', 'add', '--task', 'hello', '--timeout', '5s', ...nats], /^--timeout applies to --wait: add --wait, or drop --timeout$/],
  ['bad --result-ttl', () => ['job', 'add', '--task', 'hello', '--result-ttl', 'forever', ...nats], /^--result-ttl "forever" is not a duration/],
  ['bad --args for a job', () => ['job', 'add', '--task', 'hello', '--args', 'nope', ...nats], /^--args must be JSON/],
  ['bad --role', () => ['node', '--role', 'boss'], /^option '--role <role>' argument 'boss' is invalid\. Allowed choices are both, worker, scheduler/],
  ['bad --concurrency', () => ['node', '--concurrency', '0'], /^--concurrency must be a whole number >= 1, got "0"$/],
  ['bad --lease', () => ['node', '--lease', 'long'], /^--lease "long" is not a duration/],
  ['--lease below the minimum', () => ['node', '--lease', '10ms'], /^--lease: must be at least 300ms/],
  ['bad --poll', () => ['node', '--poll', '1 minute'], /^--poll "1 minute" is not a duration/],
  ['--inspect with an http URL (no silent fallback)', () => ['node', '--inspect', 'http://127.0.0.1:8080'], /^--inspect takes the ws:\/\/ \(or wss:\/\/\) URL of an inspector server/],
  ['--inspect with a bare host', () => ['node', '--inspect=127.0.0.1:8080'], /^--inspect takes the ws:\/\//],
  ['missing tasks module', () => ['node', '--tasks', './no-such-tasks.js'], /^--tasks: cannot find "\.\/no-such-tasks\.js" \(looked for \/.*no-such-tasks\.js\)$/],
  ['admin command without a store', () => ['schedule', 'list'], /^admin commands need --nats <url> \(or JOBCHART_NATS \/ NATS_URL\)/],
  ['--nats with an http URL', () => ['status', '--nats', 'http://127.0.0.1:4222'], /^--nats "http:\/\/127\.0\.0\.1:4222": the scheme must be nats:\/\/ or tls:\/\/, not http:\/\//],
  ['JOBCHART_NATS with a bad URL names the variable', () => ['status'], /^JOBCHART_NATS "ws:\/\/x:1": the scheme must be nats:\/\/ or tls:\/\//, () => ({ JOBCHART_NATS: 'ws://x:1' })],
  ['bad --prefix', () => ['status', ...nats, '--prefix', 'a.b'], /^--prefix "a\.b": use letters, digits, - and _ only$/],
  ['--user without --password', () => ['status', ...nats, '--user', 'u'], /^--user needs --password \(or JOBCHART_NATS_PASSWORD\)$/],
  ['--password without --user', () => ['status', ...nats, '--password', 'p'], /^--password needs --user \(or JOBCHART_NATS_USER\)$/],
  ['--token and --user together', () => ['status', ...nats, '--token', 't', '--user', 'u', '--password', 'p'], /^give one way to authenticate, not --user\/--password and --token$/],
  ['missing --creds file', () => ['status', ...nats, '--creds', './no.creds'], /^--creds "\.\/no\.creds": no such file \(looked for \/.*no\.creds\)$/],
  ['missing JOBCHART_NATS_TLS_CA file names the variable', () => ['status', ...nats], /^JOBCHART_NATS_TLS_CA "\/nonexistent\/ca\.pem": no such file/, () => ({ JOBCHART_NATS_TLS_CA: '/nonexistent/ca.pem' })],
  ['--tls-cert without --tls-key', () => ['status', ...nats, '--tls-cert', join(dir, 'cert.pem')], /^--tls-cert needs --tls-key \(the client key\)$/],
  ['auth flags on a memory node', () => ['node', '--token', 't'], /^--token applies to a NATS store: give --nats <url> too$/],
  ['auth flags with --memory', () => ['node', '--memory', '--prefix', 'p'], /^--prefix applies to a NATS store: drop it or --memory$/],
  ['--memory with --nats', () => ['node', '--memory', ...nats], /^option '--memory' cannot be used with option '--nats <urls>'/],
];

describe('bad input exits 2 with one line, before connecting', () => {
  it.each(cases)('%s', async (_what, args, message, env) => {
    const run = await runInProcess(args(), env?.() ?? {});
    expect(run.stderr).toMatch(/^jobchart: [^\n]+\n$/);
    expect(run.stderr.slice('jobchart: '.length, -1)).toMatch(message);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    // Messages speak the command line's words, not the API's.
    expect(run.stderr).not.toMatch(/onConflict|rt\.\w+\(|leaseDuration|maxConcurrentJobs|misfireGraceTime|resultTtl|Error:/);
  });

  it('a well-formed command against that port fails with exit 1 and names the URL (so the cases above did stop early)', async () => {
    const run = await runInProcess(['schedule', 'list', ...nats]);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toBe(`jobchart: cannot connect to ${deadUrl}: connection refused\n`);
  });

  it('the URL from JOBCHART_NATS (then NATS_URL) is used, and named with its source when it fails', async () => {
    const fromJobchart = await runInProcess(['status'], { JOBCHART_NATS: deadUrl, NATS_URL: 'nats://127.0.0.1:1' });
    expect(fromJobchart.stderr).toBe(`jobchart: cannot connect to ${deadUrl} (from JOBCHART_NATS): connection refused\n`);
    const fromNatsUrl = await runInProcess(['job', 'result', 'x'], { NATS_URL: deadUrl });
    expect(fromNatsUrl.stderr).toBe(`jobchart: cannot connect to ${deadUrl} (from NATS_URL): connection refused\n`);
    const flagWins = await runInProcess(['status', ...nats], { JOBCHART_NATS: 'nats://127.0.0.1:1' });
    expect(flagWins.stderr).toBe(`jobchart: cannot connect to ${deadUrl}: connection refused\n`);
  });

  it('node honours JOBCHART_NATS too: it tries that store instead of running on the memory store', async () => {
    const run = await runInProcess(['node'], { JOBCHART_NATS: deadUrl });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`jobchart: cannot connect to ${deadUrl} (from JOBCHART_NATS): connection refused\n`);
  });
});
