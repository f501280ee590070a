/**
 * Ingest benchmark: captures per second and publish → committed latency of one ingest gateway
 * against the machine's Mosquitto, Postgres and Redis. See bench/README.md.
 *
 *   npx tsx bench/ingest.ts [--size 100k|1m] [--connections K] [--captures N] [--devices D]
 *                           [--concurrency C] [--warmup W] [--repeat R] [--timeout S] [--quiet-wait S]
 *                           [--cpu-prof [--cpu-prof-dir DIR]] [--no-readme | --readme-only]
 *
 * --size and --connections may be repeated (or comma-separated); without them every
 * combination of 100k/1m and 4/1 connections runs, each against fresh state.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { count } from 'drizzle-orm';
import mqtt, { type MqttClient } from 'mqtt';
import { topics, type Acknowledgement } from '../core/domain/protocol.js';
import type { GatewayPublicKey } from '../core/domain/signed-ack.js';
import { loadOrCreateSigningKey } from '../core/infrastructure/signing-key.js';
import { captures } from '../db/schema.js';
import { buildManifest, publishCapture, signManifest, type MediaFile } from '../device-simulator/device-protocol.js';
import type { GatewayCounters } from '../ingest/gateway.js';
import { openAck } from '../test/support/acks.js';
import { enrolTestDevice, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName } from '../test/support/isolated.js';
import { testServices } from '../test/support/services.js';
import type { FromGateway, GatewaySettings, ToGateway } from './ingest-gateway.js';
import { framePool, uniqueJpeg } from './media-pool.js';
import { cpuBetween, snapshotCpu, waitForQuiet } from './cpu-accounting.js';
import { benchDir, fixed, printTable, problemsOf, README, rowOf, updateReadme, type ResultRow } from './results-report.js';
import { machineDescription, reproduce, SIZES, type Outcome, type RunResult, type RunSpec, type SizeKey } from './run-model.js';

const DEFAULTS = { connections: [4, 1], devices: 4, concurrency: 8, warmup: 16, timeoutSeconds: 300, quietWaitSeconds: 120 };
/** Distinct base pictures per size; every capture still gets unique bytes (see uniqueJpeg). */
const POOL_SIZE = 4;
/** No capture in a healthy run waits this long; one that does is counted as missing. */
const ACK_TIMEOUT_MS = 60_000;
/** Far beyond any run, so no capture is quarantined as media_incomplete because the machine is busy. */
const COMPLETENESS_TIMEOUT_MS = 30 * 60_000;

/* ------------------------------------------------------------------ command line */

function usage(): never {
  console.log(
    'usage: npx tsx bench/ingest.ts [--size 100k|1m] [--connections K] [--captures N] [--devices D] [--concurrency C]\n' +
      '                               [--warmup W] [--repeat R] [--timeout SECONDS] [--quiet-wait SECONDS]\n' +
      '                               [--cpu-prof [--cpu-prof-dir DIR]] [--no-readme | --readme-only]',
  );
  process.exit(0);
}

function positive(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new Error(`--${name} must be an integer ≥ ${min}, not ${value}`);
  return parsed;
}

function list(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((value) => value.split(',')).map((value) => value.trim().toLowerCase());
}

function sizeKey(value: string): SizeKey {
  const normal = value.replace(/i?b$/, '');
  if (normal === '100k') return '100k';
  if (normal === '1m') return '1m';
  throw new Error(`--size must be 100k or 1m, not ${value}`);
}

function readArguments() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', multiple: true },
      connections: { type: 'string', multiple: true },
      captures: { type: 'string' },
      devices: { type: 'string' },
      concurrency: { type: 'string' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      repeat: { type: 'string' },
      'quiet-wait': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'cpu-prof-dir': { type: 'string' },
      'no-readme': { type: 'boolean' },
      'readme-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) usage();
  const sizes = list(values.size)?.map(sizeKey) ?? (Object.keys(SIZES) as SizeKey[]);
  const connections = list(values.connections)?.map((value) => positive('connections', value, 0)) ?? DEFAULTS.connections;
  const cpuProfDir = values['cpu-prof']
    ? path.resolve(values['cpu-prof-dir'] ?? path.join(os.tmpdir(), 'verity-bench-profiles'))
    : undefined;
  const specs: RunSpec[] = [];
  for (const size of [...new Set(sizes)]) {
    for (const connectionCount of [...new Set(connections)]) {
      specs.push({
        size,
        connections: connectionCount,
        captures: positive('captures', values.captures, SIZES[size].defaultCaptures),
        devices: positive('devices', values.devices, DEFAULTS.devices),
        concurrency: positive('concurrency', values.concurrency, DEFAULTS.concurrency),
        warmup: positive('warmup', values.warmup, DEFAULTS.warmup, 0),
        timeoutMs: positive('timeout', values.timeout, DEFAULTS.timeoutSeconds) * 1000,
        repeat: positive('repeat', values.repeat, 1),
        cpuProfDir,
      });
    }
  }
  const quietWaitMs = positive('quiet-wait', values['quiet-wait'], DEFAULTS.quietWaitSeconds, 0) * 1000;
  return { specs, writeReadme: !values['no-readme'], quietWaitMs, readmeOnly: values['readme-only'] === true };
}

/* ------------------------------------------------------------------ helpers */

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/* ------------------------------------------------------------------ the gateway process */

class GatewayProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private waiters: { type: FromGateway['type']; resolve: (message: FromGateway) => void; reject: (error: Error) => void }[] = [];

  constructor(cpuProfDir: string | undefined) {
    const execArgv = [...process.execArgv, ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [])];
    this.child = fork(path.join(benchDir, 'ingest-gateway.ts'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromGateway) => {
      if (message.type === 'failed') {
        for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`gateway process failed: ${message.error}`));
        return;
      }
      const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
      if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(message);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`gateway process exited (code ${code})`));
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request<T extends FromGateway['type']>(message: ToGateway, answer: T, timeoutMs: number): Promise<Extract<FromGateway, { type: T }>> {
    const reply = new Promise<FromGateway>((resolve, reject) => this.waiters.push({ type: answer, resolve, reject }));
    this.child.send(message);
    return withTimeout(`gateway reply ${answer}`, reply, timeoutMs) as Promise<Extract<FromGateway, { type: T }>>;
  }

  /** Asks the gateway to stop cleanly; kills it (by its pid) if it does not exit in time. */
  async stop(): Promise<GatewayCounters | undefined> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
    let counters: GatewayCounters | undefined;
    try {
      counters = (await this.request({ type: 'stop' }, 'stopped', 30_000)).counters;
      await withTimeout('gateway exit', this.exited, 10_000);
    } catch (error) {
      console.error(`gateway did not stop cleanly (${(error as Error).message}); killing pid ${this.child.pid}`);
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return counters;
  }
}

/** The broker keeps a clean=false session (and its subscriptions) until the same client id connects clean. */
async function discardBrokerSessions(clientId: string, connections: number): Promise<void> {
  const ids = connections === 1 ? [clientId] : Array.from({ length: connections }, (_, index) => `${clientId}-${index + 1}`);
  for (const id of ids) {
    const client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: id, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
    await client.endAsync();
  }
}

/* ------------------------------------------------------------------ acknowledgements */

class AckTracker {
  private readonly waiting = new Map<string, (outcome: Outcome) => void>();
  pending = 0;
  unmatched = 0;

  expect(captureId: string, timeoutMs: number, signal: AbortSignal): Promise<Outcome> {
    return new Promise((resolve) => {
      const finish = (outcome: Outcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(captureId);
        resolve(outcome);
      };
      const onAbort = () => finish({ status: 'missing', reasons: ['run stopped at its time limit'] });
      const timer = setTimeout(() => finish({ status: 'missing', reasons: [`no final acknowledgement in ${timeoutMs} ms`] }), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(captureId, finish);
    });
  }

  cancel(captureId: string, reason: string): void {
    this.waiting.get(captureId)?.({ status: 'missing', reasons: [reason] });
  }

  constructor(private readonly gatewayKey: GatewayPublicKey) {}

  receive(topic: string, payload: Buffer): void {
    const at = performance.now();
    const ack = openAck(topic, payload, this.gatewayKey) as Acknowledgement;
    if (ack.status === 'pending') {
      this.pending++;
      return;
    }
    const finish = ack.captureId === null ? undefined : this.waiting.get(ack.captureId);
    if (!finish) {
      this.unmatched++;
      return;
    }
    finish({ status: ack.status, at, reasons: ack.reasons.map((reason) => reason.code) });
  }
}

/* ------------------------------------------------------------------ one run */

async function runOnce(spec: RunSpec, pool: Buffer[], signal: AbortSignal): Promise<RunResult> {
  const startedAt = new Date();
  const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
  const result: RunResult = {
    spec,
    startedAt,
    accepted: 0,
    quarantined: 0,
    missing: 0,
    reasons: new Map(),
    latencies: [],
    elapsedMs: 0,
    meanCaptureBytes: 0,
    pendingAcks: 0,
    extraFinalAcks: 0,
    databaseStates: {},
    counters: undefined,
    usage: undefined,
    cpu: undefined,
  };
  try {
    const database = await createTestDatabase('bench');
    cleanups.push({ what: 'drop the database', run: () => database.drop() });
    const redis = createTestRedis('bench');
    cleanups.push({ what: 'delete the Redis keys', run: () => redis.cleanup() });
    const mediaDir = await createTempDir('bench-media');
    cleanups.push({ what: 'remove the media folder', run: () => mediaDir.remove() });
    const gatewayKeyFile = path.join(mediaDir.dir, 'gateway-signing.pem');
    const gatewayKey = await loadOrCreateSigningKey(gatewayKeyFile);
    const topicRoot = `verity-bench/${uniqueName('bench')}/v1`;
    const clientId = uniqueName('bench-gateway');

    const devices: TestDevice[] = [];
    for (let index = 0; index < spec.devices; index++) devices.push(await enrolTestDevice(database.db));

    const gateway = new GatewayProcess(spec.cpuProfDir);
    // Runs last (cleanups run in reverse): after the gateway is gone, forget its broker sessions.
    cleanups.push({ what: 'discard the gateway MQTT sessions', run: () => discardBrokerSessions(clientId, spec.connections) });
    cleanups.push({
      what: 'stop the gateway',
      run: async () => {
        result.counters = (await gateway.stop()) ?? result.counters;
      },
    });
    const settings: GatewaySettings = {
      databaseUrl: database.url,
      redisUrl: testServices.redisUrl,
      queuePrefix: redis.prefix,
      mqttUrl: testServices.mqttUrl,
      mediaDir: mediaDir.dir,
      topicRoot,
      sharedGroup: uniqueName('benchgroup'),
      clientId,
      connections: spec.connections,
      completenessTimeoutMs: COMPLETENESS_TIMEOUT_MS,
      gatewayKeyFile,
      logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
    };
    await gateway.request({ type: 'start', settings }, 'ready', 60_000);

    const tracker = new AckTracker(gatewayKey);
    const clients: MqttClient[] = [];
    cleanups.push({ what: 'close the device connections', run: () => Promise.all(clients.map((client) => client.endAsync())) });
    for (const device of devices) {
      const client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('bench-device'), clean: true });
      clients.push(client);
      client.on('message', (topic, payload) => tracker.receive(topic, payload));
      await client.subscribeAsync(topics.ack(topicRoot, device.id), { qos: 1 });
    }

    const frameBytes = (index: number, frame: number) =>
      uniqueJpeg(pool[(2 * index + frame) % pool.length]!, `verity-bench ${topicRoot} capture ${index} frame ${frame}`);

    /** Builds, signs and publishes capture `index`; the clock starts as its first chunk goes out. */
    const oneCapture = async (index: number): Promise<{ outcome: Outcome; started: number; bytes: number }> => {
      const device = devices[index % devices.length]!;
      const client = clients[index % clients.length]!;
      const capturedAt = new Date();
      const media: MediaFile[] = [
        { name: 'frame-1.jpg', contentType: 'image/jpeg', capturedAt, bytes: frameBytes(index, 0) },
        { name: 'frame-2.jpg', contentType: 'image/jpeg', capturedAt: new Date(capturedAt.getTime() + 500), bytes: frameBytes(index, 1) },
      ];
      const manifest = buildManifest({
        deviceId: device.id,
        capturedAt,
        clockOffsetMs: 0,
        location: { latitude: 22.5, longitude: 114.05 },
        violationType: 'speeding',
        readings: { speedKmh: 92, limitKmh: 60 },
        media,
      });
      const signed = signManifest(manifest, device.privateKey, media);
      const outcome = tracker.expect(manifest.captureId, ACK_TIMEOUT_MS, signal);
      const started = performance.now();
      try {
        await publishCapture(client, topicRoot, signed);
      } catch (error) {
        tracker.cancel(manifest.captureId, `publish failed: ${(error as Error).message}`);
      }
      return { outcome: await outcome, started, bytes: media.reduce((sum, file) => sum + file.bytes.length, 0) };
    };

    /** A closed loop: `concurrency` captures in flight, each slot publishing its next one as soon as the last is accepted. */
    const drive = async (total: number, offset: number, record: boolean) => {
      let next = 0;
      let firstStart = Number.POSITIVE_INFINITY;
      let lastEnd = 0;
      let bytes = 0;
      const slot = async () => {
        while (!signal.aborted) {
          const index = next++;
          if (index >= total) return;
          const { outcome, started, bytes: captureBytes } = await oneCapture(offset + index);
          if (!record) continue;
          firstStart = Math.min(firstStart, started);
          bytes += captureBytes;
          if (outcome.status === 'accepted') {
            result.accepted++;
            result.latencies.push(outcome.at - started);
            lastEnd = Math.max(lastEnd, outcome.at);
          } else {
            if (outcome.status === 'quarantined') result.quarantined++;
            else result.missing++;
            for (const reason of outcome.reasons) result.reasons.set(reason, (result.reasons.get(reason) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(spec.concurrency, Math.max(total, 1)) }, slot));
      return { elapsedMs: lastEnd - firstStart, bytes };
    };

    const progress = setInterval(() => {
      const done = result.accepted + result.quarantined + result.missing;
      console.error(`  … ${done}/${spec.captures} captures (${result.quarantined} quarantined, ${result.missing} missing)`);
    }, 10_000);
    try {
      await drive(spec.warmup, 0, false);
      await gateway.request({ type: 'mark' }, 'marked', 10_000);
      const cpuBefore = await snapshotCpu();
      const measured = await drive(spec.captures, spec.warmup, true);
      const cpuAfter = await snapshotCpu();
      const sample = await gateway.request({ type: 'sample' }, 'usage', 10_000);
      result.usage = sample.usage;
      result.counters = sample.counters;
      result.cpu = cpuBetween(cpuBefore, cpuAfter, gateway.pid);
      result.elapsedMs = measured.elapsedMs;
      result.meanCaptureBytes = measured.bytes / Math.max(1, result.accepted + result.quarantined + result.missing);
    } finally {
      clearInterval(progress);
    }
    result.pendingAcks = tracker.pending;
    result.extraFinalAcks = tracker.unmatched;
    const states = await database.db.select({ state: captures.state, rows: count() }).from(captures).groupBy(captures.state);
    result.databaseStates = Object.fromEntries(states.map((row) => [row.state, row.rows]));
    return result;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await withTimeout(cleanup.what, cleanup.run(), 30_000);
      } catch (error) {
        console.error(`cleanup: could not ${cleanup.what}: ${(error as Error).message}`);
      }
    }
  }
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<number> {
  const { specs, writeReadme, quietWaitMs, readmeOnly } = readArguments();
  if (readmeOnly) {
    // Re-renders the results block from the data stored in it, e.g. after a change of layout.
    await updateReadme([]);
    return 0;
  }
  const hardLimitMs = 120_000 + specs.reduce((sum, spec) => sum + spec.repeat * (quietWaitMs + spec.timeoutMs + 150_000), 0);
  // The whole bench ends by itself: past this, something is stuck and the process exits.
  setTimeout(() => {
    console.error(`bench exceeded its hard limit of ${Math.round(hardLimitMs / 1000)} s; exiting`);
    process.exit(3);
  }, hardLimitMs).unref();

  console.error(`machine: ${machineDescription()}, ${os.platform()} ${os.release()}`);
  console.error(`services: ${testServices.mqttUrl}, ${testServices.postgresUrl}, ${testServices.redisUrl}`);
  const pools = new Map<SizeKey, Buffer[]>();
  for (const size of new Set(specs.map((spec) => spec.size))) {
    const pool = await framePool(SIZES[size].totalBytes / 2, POOL_SIZE);
    pools.set(size, pool);
    console.error(`frames for ${SIZES[size].label}: ${pool.map((frame) => frame.length).join(', ')} bytes (1920×1080 JPEG)`);
  }

  const runsOf = new Map<RunSpec, ResultRow[]>(specs.map((spec) => [spec, []]));
  const failedSpecs = new Set<RunSpec>();
  const rounds = Math.max(...specs.map((spec) => spec.repeat));
  // Round by round, so a burst of other work on the machine does not land on one configuration only.
  for (let round = 1; round <= rounds; round++) {
    for (const spec of specs.filter((candidate) => candidate.repeat >= round)) {
      console.error(`\nrun${spec.repeat > 1 ? ` ${round}/${spec.repeat}` : ''}: ${reproduce(spec)}`);
      if (quietWaitMs > 0) await waitForQuiet(quietWaitMs);
      const controller = new AbortController();
      const limit = setTimeout(() => controller.abort(), spec.timeoutMs);
      let result: RunResult;
      try {
        result = await runOnce(spec, pools.get(spec.size)!, controller.signal);
      } catch (error) {
        console.error(`run failed: ${(error as Error).stack ?? String(error)}`);
        failedSpecs.add(spec);
        continue;
      } finally {
        clearTimeout(limit);
      }
      const problems = problemsOf(result);
      if (controller.signal.aborted) problems.push(`stopped at the ${spec.timeoutMs / 1000} s limit`);
      const row = rowOf(result);
      console.error(
        `  ${row.captures} accepted in ${(result.elapsedMs / 1000).toFixed(1)} s: ${fixed(row.capturesPerSecond, 1)} captures/s, ` +
          `p50 ${fixed(row.p50, 0)} ms, p99 ${fixed(row.p99, 0)} ms; other load ${fixed(row.cpu?.other, 2)} cores; ` +
          `acknowledgements also seen: ${result.pendingAcks} pending, ${result.extraFinalAcks} repeated final; ` +
          `gateway counters ${JSON.stringify(result.counters)}`,
      );
      if (problems.length > 0) {
        console.error(`  INVALID run: ${problems.join('; ')}`);
        failedSpecs.add(spec);
        continue;
      }
      runsOf.get(spec)!.push(row);
    }
  }
  const rows: ResultRow[] = [];
  for (const [spec, runs] of runsOf) {
    if (failedSpecs.has(spec) || runs.length === 0) {
      console.error(`not recorded (a run was invalid or failed): ${reproduce(spec)}`);
      continue;
    }
    const ordered = [...runs].sort((a, b) => a.capturesPerSecond - b.capturesPerSecond);
    const median = ordered[Math.floor((ordered.length - 1) / 2)]!;
    rows.push({ ...median, runs: ordered.map((run) => run.capturesPerSecond) });
  }
  const failed = failedSpecs.size > 0;
  if (rows.length > 0) printTable(rows);
  if (rows.length > 0 && writeReadme) {
    await updateReadme(rows);
    console.error(`\nresults written to ${path.relative(process.cwd(), README)}`);
  }
  if (specs.some((spec) => spec.cpuProfDir)) console.error(`gateway CPU profiles in ${specs[0]!.cpuProfDir}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
