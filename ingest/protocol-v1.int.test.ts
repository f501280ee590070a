import { eq } from 'drizzle-orm';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type HealthReport } from '../core/domain/protocol.js';
import { verifyAcknowledgement } from '../core/domain/signed-ack.js';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { buildManifest, publishCapture, signHealthReport, signManifest } from '../device-simulator/device-protocol.js';
import { captures } from '../db/schema.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { waitFor } from '../test/support/isolated.js';
import { startTestGateway, type TestGateway } from '../test/support/test-gateway.js';
import type { IngestRole } from './service.js';

/** docs/protocol.md "Version 1 (deprecated)": a v1 device keeps working, and reads the plain answers it always did. */
describe('a device still speaking verity/1', () => {
  let gateway: TestGateway;
  let database: TestGateway['database'];
  let ingest: IngestRole;
  let topicRoot: string;
  let gatewayKey: TestGateway['gatewayKey'];
  let device: MqttClient;
  let camera: TestDevice;
  const received: Buffer[] = [];

  beforeAll(async () => {
    gateway = await startTestGateway('v1');
    ({ database, ingest, topicRoot, gatewayKey } = gateway);
    camera = await enrolTestDevice(database.db);
    device = await gateway.connect('v1-device');
    await device.subscribeAsync(topics.ack(topicRoot, camera.id), { qos: 1 });
    device.on('message', (_topic, payload) => received.push(payload));
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  async function capture(protocol: 'verity/1' | 'verity/2') {
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
    return signManifest({ ...manifest, protocol }, camera.privateKey, media);
  }

  const answerTo = (messageSha256: string) =>
    waitFor(`the answer to ${messageSha256.slice(0, 12)}`, async () => received.find((payload) => payload.includes(messageSha256)));

  it('accepts a v1 capture and a v1 heartbeat, and answers both in plain v1 JSON', async () => {
    const signed = await capture('verity/1');
    await publishCapture(device, topicRoot, signed);
    const captureAnswer = await waitFor('the final answer to the v1 capture', async () =>
      received
        .map((payload) => JSON.parse(payload.toString()) as Record<string, unknown>)
        .find((ack) => ack.captureId === signed.manifest.captureId && ack.status !== 'pending'),
    );
    expect(captureAnswer).toEqual({
      about: 'capture',
      captureId: signed.manifest.captureId,
      messageSha256: sha256Hex(signed.envelope),
      status: 'accepted',
      reasons: [],
    });
    const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, signed.manifest.captureId));
    expect(row?.state).toBe('verified');

    const report: HealthReport = { protocol: 'verity/1', deviceId: camera.id, reportedAt: new Date().toISOString(), kind: 'heartbeat' };
    const heartbeat = signHealthReport(report, camera.privateKey);
    await device.publishAsync(topics.health(topicRoot, camera.id), heartbeat, { qos: 1 });
    const healthAnswer = await answerTo(sha256Hex(heartbeat));
    expect(JSON.parse(healthAnswer.toString())).toEqual({
      about: 'health',
      messageSha256: sha256Hex(heartbeat),
      status: 'accepted',
      reasons: [],
    });
    expect(ingest.gateway.counters.unsignedAcks).toBeGreaterThanOrEqual(2);
  });

  it('answers a v2 capture from the same device signed', async () => {
    const signed = await capture('verity/2');
    const before = ingest.gateway.counters.unsignedAcks;
    await publishCapture(device, topicRoot, signed);
    const answer = await waitFor('the signed answer to the v2 capture', async () =>
      received
        .map((payload) => verifyAcknowledgement(payload, [gatewayKey], camera.id))
        .flatMap((verified) => (verified.ok && verified.ack.about === 'capture' ? [verified.ack] : []))
        .find((ack) => ack.captureId === signed.manifest.captureId && ack.status !== 'pending'),
    );
    expect(answer).toMatchObject({ protocol: 'verity/2', deviceId: camera.id, status: 'accepted' });
    expect(ingest.gateway.counters.unsignedAcks).toBe(before);
  });
});
