import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { MAX_CHUNK_BYTES, topics, type AnyAcknowledgement } from '../core/domain/protocol.js';
import { buildManifest, chunkMedia, signManifest, type SignedCapture } from '../device-simulator/device-protocol.js';
import { auditLog, captures, mediaChunks } from '../db/schema.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });
const COMPLETENESS_MS = 4000;

/** The document promises that chunks may be sent again; sending them again must be able to repair a file. */
describe('repairing and resending media chunks', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let ingest: IngestRole;
  let client: MqttClient;
  const acks: AnyAcknowledgement[] = [];
  const gatewayKey = testGatewayKey();
  const topicRoot = `verity-test/${uniqueName('chunks')}/v1`;

  beforeAll(async () => {
    database = await createTestDatabase('chunks');
    redis = createTestRedis('chunks');
    mediaDir = await createTempDir('chunks-media');
    ingest = await startIngestRole({
      gatewayKey,
      database,
      store: new FilesystemMediaStore(mediaDir.dir),
      redis: redis.redis,
      queuePrefix: redis.prefix,
      log,
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      sharedGroup: undefined,
      clientId: uniqueName('gw'),
      completenessTimeoutMs: COMPLETENESS_MS,
    });
    client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('device') });
    await client.subscribeAsync(`${topicRoot}/devices/+/acks`, { qos: 1 });
    client.on('message', (topic, payload) => acks.push(openAck(topic, payload, gatewayKey)));
  });

  afterAll(async () => {
    await client?.endAsync();
    await ingest?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function signedCapture(camera: TestDevice): Promise<SignedCapture> {
    const capturedAt = new Date();
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: camera.id,
      capturedAt,
      clockOffsetMs: 0,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 92, limitKmh: 60 },
      media,
    });
    return signManifest(manifest, camera.privateKey, media);
  }

  const publishChunk = (capture: SignedCapture, file: number, index: number, count: number, bytes: Buffer) =>
    client.publishAsync(
      topics.mediaChunk(topicRoot, capture.manifest.deviceId, capture.manifest.media[file]!.sha256, index, count),
      bytes,
      {
        qos: 1,
      },
    );

  /** Publishes one file whole in chunks of `chunkBytes`, with `corrupt` applied to the chunk it names. */
  async function publishFile(capture: SignedCapture, file: number, chunkBytes: number, corrupt?: { index: number }) {
    const chunks = chunkMedia(capture.media[file]!.bytes, chunkBytes);
    for (const [index, chunk] of chunks.entries()) {
      const bytes = Buffer.from(chunk);
      if (corrupt?.index === index) bytes[bytes.length >> 1]! ^= 0x5a;
      await publishChunk(capture, file, index, chunks.length, bytes);
    }
    return chunks;
  }

  const publishEnvelope = (capture: SignedCapture) =>
    client.publishAsync(topics.capture(topicRoot, capture.manifest.deviceId), capture.envelope, { qos: 1 });

  const rowOf = async (capture: SignedCapture) =>
    (await database.db.select().from(captures).where(eq(captures.deviceCaptureId, capture.manifest.captureId)))[0];

  const settled = (capture: SignedCapture) =>
    waitFor(
      `capture ${capture.manifest.captureId} to settle`,
      async () => {
        const row = await rowOf(capture);
        return row && row.state !== 'received' ? row : undefined;
      },
      COMPLETENESS_MS + 15_000,
    );

  it('accepts a file whose corrupt chunk is followed by the correct one, even after the envelope', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await signedCapture(camera);
    const chunks = await publishFile(capture, 0, 4096, { index: 1 });
    await publishFile(capture, 1, 4096);
    await publishEnvelope(capture);
    await waitFor('the pending acknowledgement', async () =>
      acks.find((ack) => ack.about === 'capture' && ack.captureId === capture.manifest.captureId && ack.status === 'pending'),
    );
    expect((await rowOf(capture))?.state).toBe('received');
    await publishChunk(capture, 0, 1, chunks.length, chunks[1]!);
    const row = await settled(capture);
    expect({ state: row.state, reasons: row.quarantineReasons }).toEqual({ state: 'verified', reasons: null });
  });

  it('accepts a file resent whole in another chunk size after a partial first attempt', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await signedCapture(camera);
    const first = chunkMedia(capture.media[0]!.bytes, 8192);
    // The first attempt breaks off after two chunks; the device starts over with smaller chunks.
    await publishChunk(capture, 0, 0, first.length, first[0]!);
    await publishChunk(capture, 0, 1, first.length, first[1]!);
    await publishFile(capture, 0, 3000);
    await publishFile(capture, 1, MAX_CHUNK_BYTES);
    await publishEnvelope(capture);
    const row = await settled(capture);
    expect({ state: row.state, reasons: row.quarantineReasons }).toEqual({ state: 'verified', reasons: null });
  });

  it('quarantines for media_hash_mismatch, naming what arrived, a file never repaired within the completeness window', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await signedCapture(camera);
    const corrupt = Buffer.from(capture.media[0]!.bytes);
    corrupt[corrupt.length >> 1]! ^= 0x5a;
    await publishChunk(capture, 0, 0, 1, corrupt);
    await publishFile(capture, 1, MAX_CHUNK_BYTES);
    await publishEnvelope(capture);
    const row = await settled(capture);
    expect(row.state).toBe('quarantined');
    const mismatch = row.quarantineReasons?.find((found) => found.code === 'media_hash_mismatch');
    expect(mismatch?.detail).toContain(sha256Hex(corrupt));
  });

  it('answers an oversize chunk and an empty one on the acks topic with a reason', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await signedCapture(camera);
    for (const bytes of [randomBytes(MAX_CHUNK_BYTES + 1), Buffer.alloc(0)]) {
      await publishChunk(capture, 0, 0, 2, bytes);
      const ack = await waitFor(`the refusal of a ${bytes.length}-byte chunk`, async () =>
        acks.find((found) => found.about === 'chunk' && found.reasons.some((reason) => reason.detail.includes(`${bytes.length} bytes`))),
      );
      expect(ack).toMatchObject({
        about: 'chunk',
        sha256: capture.manifest.media[0]!.sha256,
        chunkIndex: 0,
        chunkCount: 2,
        status: 'refused',
        reasons: [{ code: 'chunk_invalid' }],
      });
    }
  });

  it('completes a capture exactly once when 20 corrupt and correct copies of its chunks arrive at once, correct ones last', async () => {
    const camera = await enrolTestDevice(database.db);
    const capture = await signedCapture(camera);
    await publishFile(capture, 1, MAX_CHUNK_BYTES);
    const bytes = capture.media[0]!.bytes;
    const chunkBytes = 1024 + Math.floor(Math.random() * 4096);
    const chunks = chunkMedia(bytes, chunkBytes);
    const target = { deviceId: camera.id, sha256: capture.manifest.media[0]!.sha256, chunkCount: chunks.length };
    await publishEnvelope(capture);
    await waitFor('the envelope to be held', async () => ((await rowOf(capture))?.state === 'received' ? true : undefined));
    const corrupt = chunks.map((chunk) => Buffer.from(chunk).fill(0x41, 0, 8));
    await Promise.all(
      Array.from({ length: 20 }, (_, copy) =>
        ingest.ingestor.ingestChunk({ ...target, chunkIndex: copy % chunks.length }, corrupt[copy % chunks.length]!),
      ),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, copy) =>
        ingest.ingestor.ingestChunk({ ...target, chunkIndex: copy % chunks.length }, chunks[copy % chunks.length]!),
      ),
    );
    const rest = chunks.slice(20);
    const late = await Promise.all(rest.map((chunk, offset) => ingest.ingestor.ingestChunk({ ...target, chunkIndex: 20 + offset }, chunk)));
    const completions = [...outcomes, ...late].flatMap((outcome) => outcome.completed);
    expect(completions.map((completed) => completed.ack.status)).toEqual(['accepted']);
    expect((await rowOf(capture))?.state).toBe('verified');
  });

  it('expires a chunk set no chunk came for within the keep time, once however many sweeps race, audited and told to the device', async () => {
    const camera = await enrolTestDevice(database.db);
    const abandoned = await signedCapture(camera);
    const active = await signedCapture(camera);
    const abandonedChunks = chunkMedia(abandoned.media[0]!.bytes, 4096);
    await publishChunk(abandoned, 0, 0, abandonedChunks.length, abandonedChunks[0]!);
    await publishChunk(active, 0, 0, 3, Buffer.from('still arriving'));
    const staged = (capture: SignedCapture) =>
      database.db.select().from(mediaChunks).where(eq(mediaChunks.sha256, capture.manifest.media[0]!.sha256));
    await waitFor('both chunks to be staged', async () =>
      (await staged(abandoned)).length + (await staged(active)).length === 2 ? true : undefined,
    );
    // A day and an hour ago: past the default keep time of 24 h.
    await database.db
      .update(mediaChunks)
      .set({ receivedAt: new Date(Date.now() - 25 * 3600_000) })
      .where(eq(mediaChunks.sha256, abandoned.manifest.media[0]!.sha256));

    const sweeps = await Promise.all(Array.from({ length: 20 }, () => ingest.gateway.expireStagedChunks()));
    expect(sweeps.flat().map((set) => set.sha256)).toEqual([abandoned.manifest.media[0]!.sha256]);
    expect(await staged(abandoned)).toEqual([]);
    expect(await staged(active)).toHaveLength(1);
    const ack = await waitFor('the expiry on the acks topic', async () =>
      acks.find((found) => found.about === 'chunks' && found.sha256 === abandoned.manifest.media[0]!.sha256),
    );
    expect(ack).toMatchObject({
      status: 'expired',
      chunkCount: abandonedChunks.length,
      chunksReceived: 1,
      reasons: [{ code: 'chunks_expired' }],
    });
    expect(ack.reasons[0]!.detail).toMatch(new RegExp(`^1 of ${abandonedChunks.length} chunks arrived.*kept 24 h`));
    const audited = await database.db.select().from(auditLog).where(eq(auditLog.action, 'media.chunks_expired'));
    expect(audited.map((entry) => [entry.subjectId, (entry.details as { sha256: string }).sha256])).toEqual([
      [camera.id, abandoned.manifest.media[0]!.sha256],
    ]);
  });
});
