import { readFile } from 'node:fs/promises';
import { and, eq, inArray } from 'drizzle-orm';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { sha256Hex } from '../../core/infrastructure/media-store.js';
import { MAX_CHUNK_BYTES, PROTOCOL_VERSION, topics, type HealthReport, type Manifest } from '../../core/domain/protocol.js';
import { QUARANTINE_REASONS } from '../../core/domain/quarantine-reasons.js';
import { captures, mediaChunks } from '../../db/schema.js';
import { buildManifest, signHealthReport, signManifest } from '../../device-simulator/device-protocol.js';
import { HEALTH_REFUSALS } from '../../ingest/health-intake.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../support/devices.js';
import { createTempDir, createTestDatabase, uniqueName, waitFor } from '../support/isolated.js';
import { startPrivateMosquitto, startPrivateRedis, type PrivateMosquitto, type PrivateRedis } from './support/private-services.js';
import { health, spawnRole, type RoleProcess } from './support/role-process.js';

const RUNS = 40;
const BATCH = 30;
/** Generous: a leak of a few kilobytes per message over these few hundred would stay under it; one that keeps payloads would not. */
const RSS_GROWTH_LIMIT_KB = 150 * 1024;

type Fuzzed =
  | { kind: 'capture'; payload: Buffer }
  | { kind: 'health'; payload: Buffer }
  | { kind: 'chunk'; sha256: string; index: number; count: number; payload: Buffer };

/** An ack as published, plain JSON or wrapped as `{"ack": base64, "signature": base64}`. */
function openAck(payload: Buffer): Record<string, unknown> {
  const body = JSON.parse(payload.toString()) as Record<string, unknown>;
  return typeof body.ack === 'string' ? (JSON.parse(Buffer.from(body.ack, 'base64').toString()) as Record<string, unknown>) : body;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
}

/**
 * Test 10 of docs/reliability.md. fast-check sends batches of fuzzed capture envelopes, media
 * chunks and health reports, from random bytes to genuinely signed messages with one field
 * replaced, to a real gateway process. Passing means: nothing is dropped silently (each capture
 * message ends as a row with its reasons, each health report gets an ack with its status and a
 * documented code, each chunk is staged or refused by ack), the process stays up and healthy,
 * and its resident memory grows by less than RSS_GROWTH_LIMIT_KB over the run.
 */
describe('a real gateway process under fuzzed messages', () => {
  let broker: PrivateMosquitto;
  let redis: PrivateRedis;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let gateway: RoleProcess;
  let client: MqttClient;
  let camera: TestDevice;
  let healthPort: number;
  const topicRoot = `verity-test/${uniqueName('fuzz')}/v1`;
  const acks: Record<string, unknown>[] = [];

  beforeAll(async () => {
    [broker, redis, database, mediaDir] = await Promise.all([
      startPrivateMosquitto(),
      startPrivateRedis(),
      createTestDatabase('fuzz'),
      createTempDir('fuzz-media'),
    ]);
    healthPort = await freePort();
    gateway = spawnRole('ingest/main.ts', {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      MEDIA_DIR: mediaDir.dir,
      SIGNING_KEY_FILE: `${mediaDir.dir}/server-signing.pem`,
      MQTT_URL: broker.url,
      MQTT_TOPIC_ROOT: topicRoot,
      MQTT_CLIENT_ID: uniqueName('fuzz-gateway'),
      INGEST_HEALTH_PORT: String(healthPort),
      COMPLETENESS_TIMEOUT_MS: '1000',
      // Every refusal is logged at warn; the test reads rows and acks, not the log.
      LOG_LEVEL: 'error',
    });
    await waitFor('the gateway to answer /health', async () => ((await health(healthPort))?.status === 200 ? true : undefined), 120_000);
    camera = await enrolTestDevice(database.db);
    client = await mqtt.connectAsync(broker.url, { clientId: uniqueName('fuzzer') });
    await client.subscribeAsync(`${topicRoot}/devices/+/acks`, { qos: 1 });
    client.on('message', (_topic, payload) => acks.push(openAck(payload)));
  });

  afterAll(async () => {
    await client?.endAsync();
    await gateway?.stop();
    await Promise.all([broker?.remove(), redis?.remove(), database?.drop(), mediaDir?.remove()]);
  });

  /** Messages from noise to genuinely signed ones with one field replaced by any JSON value. */
  async function arbitraries() {
    const capturedAt = new Date();
    const media = await testMedia(capturedAt);
    const manifest = (): Manifest =>
      buildManifest({
        deviceId: camera.id,
        capturedAt,
        clockOffsetMs: 3,
        location: { latitude: 22.5, longitude: 114.05 },
        violationType: 'speeding',
        readings: { speedKmh: 80, limitKmh: 60 },
        media,
      });
    const report = (): HealthReport => ({
      protocol: PROTOCOL_VERSION,
      deviceId: camera.id,
      kind: 'heartbeat',
      reportedAt: new Date().toISOString(),
    });
    const signWhole = (value: unknown) => signManifest(value as Manifest, camera.privateKey, []).envelope;
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value))),
      fc
        .record({
          manifest: fc.oneof(fc.base64String({ maxLength: 400 }), fc.string()),
          signature: fc.oneof(fc.base64String({ maxLength: 120 }), fc.string(), fc.integer()),
        })
        .map((envelope) => Buffer.from(JSON.stringify(envelope))),
    );
    /** A genuine envelope with bytes flipped, cut or spliced in. */
    const mangled = (genuine: () => Buffer) =>
      fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'cut', 'splice')).map(([at, value, how]) => {
        const bytes = Buffer.from(genuine());
        const index = at % bytes.length;
        if (how === 'cut') return bytes.subarray(0, index);
        if (how === 'splice') return Buffer.concat([bytes.subarray(0, index), Buffer.from([value]), bytes.subarray(index)]);
        bytes[index] = bytes[index]! ^ (value | 1);
        return bytes;
      });
    /** Signed by the device, so only the checks after the signature can refuse it. */
    const resigned = <T extends object>(base: () => T, sign: (value: unknown) => Buffer) =>
      fc.tuple(fc.constantFrom(...Object.keys(base())), fc.jsonValue()).map(([key, value]) => sign({ ...base(), [key]: value }));
    const capture = fc.oneof(
      noise,
      mangled(() => signWhole(manifest())),
      resigned(manifest, signWhole),
    );
    const healthReport = fc.oneof(
      noise,
      mangled(() => signHealthReport(report(), camera.privateKey)),
      resigned(report, (value) => signHealthReport(value as HealthReport, camera.privateKey)),
    );
    const chunk = fc.record({
      sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
      count: fc.integer({ min: 1, max: 8 }),
      index: fc.nat({ max: 7 }),
      payload: fc.oneof(
        { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((bytes) => Buffer.from(bytes)) },
        { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
        { weight: 1, arbitrary: fc.constant(Buffer.alloc(MAX_CHUNK_BYTES + 1, 7)) },
      ),
    });
    return fc.oneof(
      capture.map((payload): Fuzzed => ({ kind: 'capture', payload })),
      healthReport.map((payload): Fuzzed => ({ kind: 'health', payload })),
      chunk.map(({ count, index, ...rest }): Fuzzed => ({ kind: 'chunk', count, index: index % count, ...rest })),
    );
  }

  async function publish(message: Fuzzed): Promise<void> {
    const topic =
      message.kind === 'capture'
        ? topics.capture(topicRoot, camera.id)
        : message.kind === 'health'
          ? topics.health(topicRoot, camera.id)
          : topics.mediaChunk(topicRoot, camera.id, message.sha256, message.index, message.count);
    await client.publishAsync(topic, message.payload, { qos: 1 });
  }

  /** What is still unanswered in a batch: a capture without a settled row, a report without an ack, a chunk neither staged nor refused. */
  async function unanswered(batch: Fuzzed[]): Promise<Fuzzed[]> {
    const captureHashes = batch.filter((message) => message.kind === 'capture').map((message) => sha256Hex(message.payload));
    const rows = captureHashes.length
      ? await database.db.select().from(captures).where(inArray(captures.messageSha256, captureHashes))
      : [];
    const settled = new Map(rows.filter((row) => row.state !== 'received').map((row) => [row.messageSha256, row]));
    const missing: Fuzzed[] = [];
    for (const message of batch) {
      if (message.kind === 'capture') {
        if (!settled.has(sha256Hex(message.payload))) missing.push(message);
      } else if (message.kind === 'health') {
        if (!acks.some((ack) => ack.about === 'health' && ack.messageSha256 === sha256Hex(message.payload))) missing.push(message);
      } else {
        const refused = acks.some(
          (ack) => ack.about === 'chunk' && ack.sha256 === message.sha256 && ack.chunkIndex === message.index && ack.status === 'refused',
        );
        const [staged] = refused
          ? [true]
          : await database.db
              .select({ sha256: mediaChunks.sha256 })
              .from(mediaChunks)
              .where(
                and(
                  eq(mediaChunks.sha256, message.sha256),
                  eq(mediaChunks.deviceId, camera.id),
                  eq(mediaChunks.chunkIndex, message.index),
                  eq(mediaChunks.chunkCount, message.count),
                ),
              );
        if (!staged) missing.push(message);
      }
    }
    return missing;
  }

  it('answers every fuzzed message with a documented code, stays up and keeps its memory bounded', async () => {
    const message = await arbitraries();
    // Warm-up: the first messages load code paths and pools that then stay; growth is measured after them.
    const warmUp = fc.sample(fc.array(message, { minLength: BATCH, maxLength: BATCH }), { numRuns: 1, seed: 1 })[0]!;
    for (const fuzzed of warmUp) await publish(fuzzed);
    await waitFor('the warm-up to be answered', async () => ((await unanswered(warmUp)).length === 0 ? true : undefined), 30_000);
    const rssBefore = await rssKb(gateway.child.pid!);

    let sent = warmUp.length;
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: BATCH / 2, maxLength: BATCH }), async (batch) => {
        for (const fuzzed of batch) await publish(fuzzed);
        sent += batch.length;
        const missing = await waitFor(
          'every message of the batch to be answered',
          async () => {
            const left = await unanswered(batch);
            return left.length === 0 ? left : undefined;
          },
          15_000,
        ).catch(async () => unanswered(batch));
        expect(missing.map((fuzzed) => ({ kind: fuzzed.kind, payload: fuzzed.payload.subarray(0, 80).toString('base64') }))).toEqual([]);
        expect(gateway.alive()).toBe(true);
      }),
      { numRuns: RUNS, seed: 20261203, endOnFailure: true },
    );

    const rows = await database.db.select().from(captures);
    const codes = new Set(rows.flatMap((row) => row.quarantineReasons?.map((reason) => reason.code) ?? []));
    expect([...codes].filter((code) => !(code in QUARANTINE_REASONS))).toEqual([]);
    expect(rows.every((row) => row.state !== 'quarantined' || (row.quarantineReasons?.length ?? 0) > 0)).toBe(true);
    const healthCodes = acks
      .filter((ack) => ack.about === 'health' && ack.status === 'refused')
      .map((ack) => (ack.reasons as { code: string }[])[0]?.code);
    expect(healthCodes.filter((code) => code === undefined || !(code in HEALTH_REFUSALS))).toEqual([]);

    expect(gateway.alive()).toBe(true);
    expect((await health(healthPort))?.status).toBe(200);
    const rssAfter = await rssKb(gateway.child.pid!);
    // Reported by the test run, for docs/reliability.md.
    console.info(`gateway fuzz: ${sent} messages, VmRSS ${rssBefore} kB after warm-up, ${rssAfter} kB at the end`);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_KB);
  });
});
