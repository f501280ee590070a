/**
 * Workers memory under a steady stream of media jobs (issue 14: the soak saw the workers' RSS grow).
 * Starts one workers role process per variant, side by side so they share the machine's conditions,
 * each with its own database, queue prefix and media folder on the machine's Postgres and Redis, and
 * feeds each the same stream: a capture of two JPEGs of mixed sizes every `--every` seconds, queued
 * as a derive-thumbnails job. Each role samples its own memory (bench/workers-memory-probe.ts); the
 * slopes after warm-up are fitted as the soak fits them (`rssTrend`).
 *
 *   npx tsx bench/workers-memory.ts [--minutes 13] [--warmup 3] [--every 2] [--variant baseline] ...
 *
 * Variants: baseline, sharp-cache-off, sharp-cache-small, malloc-arena-2, jemalloc; a variant
 * named with `+faults` (e.g. `baseline+faults`) reaches Redis and Postgres through the soak's fault
 * proxies: 2 ms + up to 8 ms per chunk, half of one service's connections reset every 45 s, and a
 * 20-second outage of Redis at a third of the run and of Postgres at 60 %.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jobIdFor } from '../core/domain/jobs.js';
import { freePort } from '../core/infrastructure/embedded-redis.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { renderScene } from '../device-simulator/scene.js';
import { insertReviewableCapture } from '../test/support/captures.js';
import { enrolTestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { testServices } from '../test/support/services.js';
import { uniqueJpeg } from './media-pool.js';
import { machineDescription } from './run-model.js';
import { rssTrend, type RssSample } from './soak-figures.js';
import { startFaultProxy, type FaultProxy } from '../test/resilience/support/fault-proxy.js';
import { health } from '../test/resilience/support/role-process.js';

const VARIANTS: Record<string, Record<string, string>> = {
  baseline: {},
  'sharp-cache-off': { MEMORY_PROBE_SHARP_CACHE: 'off' },
  'sharp-cache-small': { MEMORY_PROBE_SHARP_CACHE: JSON.stringify({ memory: 10, files: 0, items: 20 }) },
  'malloc-arena-2': { MALLOC_ARENA_MAX: '2' },
  jemalloc: { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' },
};

/** Frame sizes cameras send: the evidence minimum, full HD, 1440p and 4K. */
const SIZES: [number, number][] = [
  [1280, 720],
  [1920, 1080],
  [2560, 1440],
  [3840, 2160],
];

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '13' },
    warmup: { type: 'string', default: '3' },
    every: { type: 'string', default: '2' },
    'sample-every': { type: 'string', default: '10' },
    variant: { type: 'string', multiple: true },
    out: { type: 'string', default: '/tmp/workers-memory' },
  },
});
const minutes = Number(values.minutes);
const warmupMs = Number(values.warmup) * 60_000;
const everyMs = Number(values.every) * 1000;
const sampleEveryMs = Number(values['sample-every']) * 1000;
const variants = values.variant ?? ['baseline'];
const settingsOf = (variant: string) => VARIANTS[variant.replace(/\+faults$/, '')];
for (const name of variants) if (!settingsOf(name)) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

console.log('rendering frames');
const pool: Buffer[] = [];
for (const [index, [width, height]] of SIZES.entries()) {
  for (let seed = 0; seed < 3; seed++) {
    pool.push(
      await renderScene({
        deviceId: 'CAM-MEM',
        capturedAt: new Date(),
        place: 'bench road',
        plate: `M${index}${seed}`,
        seed,
        width,
        height,
      }),
    );
  }
}

interface Running {
  name: string;
  probeFile: string;
  stop(): Promise<void>;
  alive(): boolean;
  feed(sequence: number): Promise<void>;
  queues: QueueRegistry;
  proxies: Record<'redis' | 'postgres', FaultProxy> | undefined;
}

const cleanups: (() => Promise<unknown>)[] = [];
const running: Running[] = [];
try {
  for (const name of variants) {
    const [database, mediaDir] = await Promise.all([
      createTestDatabase(`wmem_${name.replaceAll(/[^a-z0-9]/g, '_')}`),
      createTempDir(`wmem-${name.replaceAll('+', '-')}`),
    ]);
    const redis = createTestRedis(`wmem_${name.replaceAll(/[^a-z0-9]/g, '_')}`);
    cleanups.push(
      () => database.drop(),
      () => mediaDir.remove(),
      () => redis.cleanup(),
    );
    const store = new FilesystemMediaStore(mediaDir.dir);
    const device = await enrolTestDevice(database.db);
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    cleanups.push(() => queues.close());
    const probeFile = path.join(values.out, `${name}.jsonl`);
    await writeFile(probeFile, '');
    const postgresAddress = new URL(testServices.postgresUrl);
    const redisAddress = new URL(testServices.redisUrl);
    const proxies = name.endsWith('+faults')
      ? {
          redis: await startFaultProxy({ host: redisAddress.hostname, port: Number(redisAddress.port || 6379) }),
          postgres: await startFaultProxy({ host: postgresAddress.hostname, port: Number(postgresAddress.port || 5432) }),
        }
      : undefined;
    if (proxies)
      cleanups.push(
        () => proxies.redis.close(),
        () => proxies.postgres.close(),
      );
    const roleDatabaseUrl = new URL(database.url);
    const roleRedisUrl = new URL(testServices.redisUrl);
    if (proxies) {
      roleDatabaseUrl.hostname = '127.0.0.1';
      roleDatabaseUrl.port = String(proxies.postgres.port);
      roleRedisUrl.hostname = '127.0.0.1';
      roleRedisUrl.port = String(proxies.redis.port);
    }
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './bench/workers-memory-probe.ts', 'workers/main.ts'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LOG_LEVEL: 'warn',
        DATABASE_URL: roleDatabaseUrl.toString(),
        REDIS_URL: roleRedisUrl.toString(),
        QUEUE_PREFIX: redis.prefix,
        MEDIA_DIR: mediaDir.dir,
        SIGNING_KEY_FILE: path.join(mediaDir.dir, 'server-signing.pem'),
        WORKERS_HEALTH_PORT: String(port),
        // As the soak runs the workers, so the reconciler's queries run as often there as here.
        JOB_STUCK_AFTER_MS: '60000',
        JOB_RECONCILE_INTERVAL_MS: '10000',
        MEMORY_PROBE_FILE: probeFile,
        MEMORY_PROBE_EVERY_MS: String(sampleEveryMs),
        ...settingsOf(name),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = once(child, 'exit');
    const alive = () => child.exitCode === null && child.signalCode === null;
    const stop = async () => {
      if (!alive()) return;
      child.kill('SIGTERM');
      await exited;
    };
    cleanups.push(stop);
    await waitFor(`${name} healthy`, async () => ((await health(port))?.status === 200 ? true : undefined), 120_000);
    running.push({
      name,
      probeFile,
      stop,
      alive,
      queues,
      proxies,
      feed: async (sequence) => {
        const capturedAt = new Date(Date.now() - 60_000);
        const pick = (offset: number) => uniqueJpeg(pool[(sequence * 2 + offset) % pool.length]!, `${name} ${sequence} ${offset}`);
        const captureId = await insertReviewableCapture(database.db, store, device, {
          capturedAt,
          files: [
            { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: pick(0) },
            { name: 'frame-2.jpg', contentType: 'image/jpeg', capturedAt: new Date(capturedAt.getTime() + 500), bytes: pick(5) },
          ],
        });
        await queues.enqueue('media', 'derive-thumbnails', { captureId }, jobIdFor('derive-thumbnails', captureId));
        // Every capture the gateway verifies is also screened, so the workers see both jobs as in the soak.
        const at = capturedAt.toISOString();
        await queues.enqueue(
          'screening',
          'screen-captures',
          { deviceId: device.id, from: at, to: at },
          jobIdFor('screen-captures', captureId),
        );
      },
    });
  }

  console.log(`feeding ${variants.join(', ')}: a capture of two frames every ${everyMs / 1000} s each, for ${minutes} min`);
  const startedAt = Date.now();
  const loadMs = minutes * 60_000;
  const faultTimers: NodeJS.Timeout[] = [];
  cleanups.push(async () => faultTimers.forEach((timer) => clearTimeout(timer)));
  const faulty = running.flatMap((role) => (role.proxies ? [role.proxies] : []));
  let turn = 0;
  faultTimers.push(
    setInterval(() => {
      const service = turn++ % 2 === 0 ? 'postgres' : 'redis';
      for (const proxies of faulty) if (!proxies[service].inOutage()) proxies[service].reset(0.5);
    }, 45_000),
  );
  const outages: Promise<void>[] = [];
  for (const [service, share] of [
    ['redis', 1 / 3],
    ['postgres', 0.6],
  ] as const) {
    faultTimers.push(setTimeout(() => faulty.forEach((proxies) => outages.push(proxies[service].outage(20_000))), loadMs * share));
  }
  for (const proxies of faulty) for (const proxy of Object.values(proxies)) proxy.setLatency(2, 8);
  let sequence = 0;
  while (Date.now() - startedAt < loadMs) {
    const tickAt = Date.now();
    await Promise.all(running.map((role) => role.feed(sequence)));
    sequence++;
    if (sequence % 30 === 0) {
      const backlog = await Promise.all(
        running.map(
          async (role) =>
            `${role.name} ${(await role.queues.get('media').getWaitingCount()) + (await role.queues.get('media').getActiveCount())}`,
        ),
      );
      console.log(`${Math.round((Date.now() - startedAt) / 1000)} s: ${sequence} captures each; media backlog ${backlog.join(', ')}`);
    }
    for (const role of running) if (!role.alive()) throw new Error(`${role.name} ended`);
    await sleep(Math.max(0, everyMs - (Date.now() - tickAt)));
  }
  const endedAt = Date.now();
  await Promise.all(outages);

  const results = [];
  for (const role of running) {
    const lines = (await readFile(role.probeFile, 'utf8')).trim().split('\n').filter(Boolean);
    const samples = lines.map((line) => JSON.parse(line) as Record<string, number>);
    const series = (field: string): RssSample[] =>
      samples.map((sample) => ({
        role: field,
        atMs: sample.atMs! - startedAt,
        rssBytes: field === 'vipsTrackedMb' ? sample[field]! * 1024 * 1024 : sample[field]!,
      }));
    const trends = ['rss', 'heapUsed', 'external', 'arrayBuffers', 'vipsTrackedMb'].map((field) =>
      rssTrend(series(field), field, warmupMs, endedAt - startedAt),
    );
    const done = await role.queues.get('media').getCompletedCount();
    const cacheItems = Math.max(...samples.map((sample) => sample.vipsCacheItems ?? 0));
    results.push({ variant: role.name, completed: done, cacheItems, trends });
    console.log(`\n${role.name}: ${done} media jobs completed; at most ${cacheItems} operations in libvips's cache`);
    for (const trend of trends) {
      if (trend)
        console.log(
          `  ${trend.role.padEnd(13)} slope ${trend.slopeMbPerMinute} MB/min (95%: ${trend.slope95[0]} … ${trend.slope95[1]}), first ${trend.firstMb}, last ${trend.lastMb}, max ${trend.maxMb} MB, ${trend.samples} samples`,
        );
    }
  }
  await writeFile(
    path.join(values.out, 'summary.json'),
    JSON.stringify({ date: new Date().toISOString(), machine: machineDescription(), minutes, warmupMs, everyMs, results }, null, 2),
  );
} finally {
  for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error(`clean-up failed: ${String(error)}`));
}
process.exit(0);
