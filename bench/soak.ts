/**
 * The soak (docs/reliability.md, test 15): a simulated fleet for minutes through fault proxies
 * in front of Redis and Postgres; reconciles every count, reports RSS per role and ingest
 * latency. Long, so not part of `npm test`; its short version is test/resilience/soak.resilience.test.ts.
 *
 *   npm run soak -- [--devices 200] [--minutes 15] [--interval 120] [--heartbeat 30] [--warmup 3]
 *                   [--latency-ms 2] [--jitter-ms 8] [--reset-every 45]
 *                   [--outage redis@300:20 --outage postgres@540:20] [--drain 300] [--heap-snapshots DIR] [--no-write]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir } from './results-report.js';
import { soakMarkdown, type OutagePlan } from './soak-figures.js';
import { runSoak } from './soak-run.js';

function number(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min) throw new Error(`--${name} must be a number ≥ ${min}, not ${value}`);
  return parsed;
}

function outage(value: string): OutagePlan {
  const match = /^(redis|postgres)@(\d+):(\d+)$/.exec(value);
  if (!match) throw new Error(`--outage must look like redis@300:20 (service@start-second:seconds), not ${value}`);
  return { service: match[1] as OutagePlan['service'], atSeconds: Number(match[2]), seconds: Number(match[3]) };
}

const { values } = parseArgs({
  options: {
    devices: { type: 'string' },
    minutes: { type: 'string' },
    interval: { type: 'string' },
    heartbeat: { type: 'string' },
    warmup: { type: 'string' },
    'latency-ms': { type: 'string' },
    'jitter-ms': { type: 'string' },
    'reset-every': { type: 'string' },
    outage: { type: 'string', multiple: true },
    drain: { type: 'string' },
    'heap-snapshots': { type: 'string' },
    'no-write': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log((await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}

const minutes = number('minutes', values.minutes, 15, 0.5);
const seconds = minutes * 60;
const options = {
  devices: Math.round(number('devices', values.devices, 200, 1)),
  minutes,
  // Sized for 2 shared cores: each capture is two frames rendered with sharp (~0.2 s of CPU).
  intervalMs: number('interval', values.interval, 120, 1) * 1000,
  heartbeatMs: number('heartbeat', values.heartbeat, 30, 1) * 1000,
  warmupMinutes: number('warmup', values.warmup, Math.min(3, minutes / 4)),
  latencyMs: number('latency-ms', values['latency-ms'], 2),
  jitterMs: number('jitter-ms', values['jitter-ms'], 8),
  resetEverySeconds: number('reset-every', values['reset-every'], 45),
  // One outage each, after warm-up and well before the end, so recovery is seen under load.
  outages: values.outage?.map(outage) ?? [
    { service: 'redis' as const, atSeconds: Math.round(seconds / 3), seconds: 20 },
    { service: 'postgres' as const, atSeconds: Math.round(seconds * 0.6), seconds: 20 },
  ],
  drainTimeoutMs: number('drain', values.drain, 300, 1) * 1000,
  heapSnapshotDir: values['heap-snapshots'] ? path.resolve(values['heap-snapshots']) : undefined,
  command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
  say: (line: string) => console.log(line),
};

// Bounded whatever happens: the load, the drain, and ten minutes for set-up and clean-up.
const hardLimit = setTimeout(
  () => {
    console.error('the soak ran past its hard limit; exiting');
    process.exit(2);
  },
  seconds * 1000 + options.drainTimeoutMs + 10 * 60_000,
);
hardLimit.unref();

const report = await runSoak(options);
const markdown = soakMarkdown(report);
console.log(`\n${markdown}`);
if (!values['no-write']) {
  const folder = path.join(benchDir, 'results');
  await mkdir(folder, { recursive: true });
  const base = path.join(folder, `soak-${report.settings.devices}-devices-${report.settings.minutes}-min`);
  await writeFile(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  await writeFile(`${base}.md`, markdown);
  console.log(`written: ${path.relative(process.cwd(), base)}.json and .md`);
}
process.exit(report.problems.length === 0 ? 0 : 1);
