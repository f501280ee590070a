import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CAPTURE_POLICY } from '../core/domain/capture-policy.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { buildManifest, publishCapture, signManifest } from '../device-simulator/device-protocol.js';
import { captures } from '../db/schema.js';
import { evidenceNow } from '../review-ui/evidence/evidence-now.js';
import { changeDeviceStatus, rotateDeviceKey } from '../review-ui/devices/device-registry.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });
const OVERLAP_MS = 4000;

/** A device that stores captures while offline sends them after its key was rotated; they were signed with the key of their time. */
describe('verification with the key valid at capture time', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let ingest: IngestRole;
  let client: MqttClient;
  const topicRoot = `verity-test/${uniqueName('rotation')}/v1`;

  beforeAll(async () => {
    database = await createTestDatabase('rotation');
    redis = createTestRedis('rotation');
    mediaDir = await createTempDir('rotation-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    ingest = await startIngestRole({
      gatewayKey: testGatewayKey(),
      database,
      store,
      redis: redis.redis,
      queuePrefix: redis.prefix,
      log,
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      sharedGroup: undefined,
      clientId: uniqueName('gw'),
      policy: { ...DEFAULT_CAPTURE_POLICY, keyRotationOverlapMs: OVERLAP_MS },
    });
    client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('device') });
  });

  afterAll(async () => {
    await client?.endAsync();
    await ingest?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** Signs a capture taken at `capturedAt` now, to be published later (store and forward). */
  async function stored(device: TestDevice, capturedAt: Date, privateKey: KeyObject) {
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: device.id,
      capturedAt,
      clockOffsetMs: 0,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 92, limitKmh: 60 },
      media,
    });
    return signManifest(manifest, privateKey, media);
  }

  const settled = (captureId: string) =>
    waitFor(`capture ${captureId} to settle`, async () => {
      const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, captureId));
      return row && row.state !== 'received' ? row : undefined;
    });

  async function rotate(camera: TestDevice): Promise<KeyObject> {
    const next = generateKeyPairSync('ed25519');
    const publicKeyPem = next.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(await rotateDeviceKey(database.db, 'test', camera.id, { publicKeyPem, reason: 'scheduled rotation' })).toBe('rotated');
    return next.privateKey;
  }

  it('accepts a capture signed with the old key before the rotation and sent within the overlap, and refuses one sent after it', async () => {
    const camera = await enrolTestDevice(database.db);
    const queued = await stored(camera, new Date(Date.now() - 60_000), camera.privateKey);
    const queuedLate = await stored(camera, new Date(Date.now() - 50_000), camera.privateKey);
    await sleep(5);
    const newKey = await rotate(camera);

    await publishCapture(client, topicRoot, queued);
    const accepted = await settled(queued.manifest.captureId);
    expect({ state: accepted.state, reasons: accepted.quarantineReasons }).toEqual({ state: 'verified', reasons: null });
    // The reviewer's integrity check reads the same key history, so the capture stays approvable.
    const evidence = await evidenceNow(database.db, store, { ...accepted, deviceId: camera.id, capturedAt: accepted.capturedAt! });
    expect(evidence?.integrity.signature.valid).toBe(true);

    const fresh = await stored(camera, new Date(), newKey);
    await publishCapture(client, topicRoot, fresh);
    expect((await settled(fresh.manifest.captureId)).state).toBe('verified');

    await sleep(OVERLAP_MS + 500);
    await publishCapture(client, topicRoot, queuedLate);
    const refused = await settled(queuedLate.manifest.captureId);
    expect(refused.state).toBe('quarantined');
    expect(refused.quarantineReasons).toEqual([{ code: 'signature_invalid', detail: expect.stringContaining('overlap') as string }]);
  });

  it('refuses a capture signed with the old key but taken after the rotation', async () => {
    const camera = await enrolTestDevice(database.db);
    const oldKey = camera.privateKey;
    await rotate(camera);
    const late = await stored(camera, new Date(Date.now() + 50), oldKey);
    await sleep(100);
    await publishCapture(client, topicRoot, late);
    const row = await settled(late.manifest.captureId);
    expect(row.quarantineReasons?.map((found) => found.code)).toEqual(['signature_invalid']);
  });

  it('refuses every key of a revoked device, within the overlap too', async () => {
    const camera = await enrolTestDevice(database.db);
    const queued = await stored(camera, new Date(Date.now() - 60_000), camera.privateKey);
    const newKey = await rotate(camera);
    const fresh = await stored(camera, new Date(), newKey);
    expect(await changeDeviceStatus(database.db, 'test', camera.id, { status: 'revoked', reason: 'stolen' })).toBe('changed');
    for (const capture of [queued, fresh]) {
      await publishCapture(client, topicRoot, capture);
      expect((await settled(capture.manifest.captureId)).quarantineReasons?.map((found) => found.code)).toEqual(['device_revoked']);
    }
  });
});
