import type { MqttClient } from 'mqtt';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, topics } from '../core/domain/protocol.js';
import { sha256Hex } from '../core/infrastructure/media-store.js';
import { auditLog, captures, deviceHealthEvents } from '../db/schema.js';
import { publishCapture, signHealthReport, type SignedCapture } from '../device-simulator/device-protocol.js';
import { changeDeviceStatus } from '../review-ui/devices/device-registry.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { waitFor } from '../test/support/isolated.js';
import { signedCapture, startTestGateway, type TestGateway } from '../test/support/test-gateway.js';

/** How soon after the registry commits a revocation the gateway must refuse the device. */
const REFUSED_WITHIN_MS = 3000;

/**
 * Test 12 of docs/reliability.md. A device keeps publishing while an administrator revokes it in
 * the registry. Passing means: every capture and health report it publishes after the revocation
 * is refused `device_revoked`, the first within a few seconds of the commit, and what it sent
 * before stays as it was: the same rows, states, reasons and health events.
 */
describe('a device revoked while it publishes', () => {
  let gateway: TestGateway;
  let camera: TestDevice;
  let device: MqttClient;

  beforeAll(async () => {
    gateway = await startTestGateway('revoked_mid_session');
    camera = await enrolTestDevice(gateway.database.db);
    device = await gateway.connect('device');
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  const heartbeat = () =>
    signHealthReport(
      { protocol: PROTOCOL_VERSION, deviceId: camera.id, kind: 'heartbeat', reportedAt: new Date().toISOString() },
      camera.privateKey,
    );

  const rowsOf = (batch: SignedCapture[]) =>
    gateway.database.db
      .select()
      .from(captures)
      .where(
        inArray(
          captures.deviceCaptureId,
          batch.map((capture) => capture.manifest.captureId),
        ),
      );

  it('refuses what follows the revocation within seconds and leaves what came before untouched', async () => {
    const { db } = gateway.database;
    const media = await testMedia();
    const before: SignedCapture[] = [];
    for (let index = 0; index < 5; index++) {
      const capture = await signedCapture(camera, { media });
      before.push(capture);
      await publishCapture(device, gateway.topicRoot, capture);
      await device.publishAsync(topics.health(gateway.topicRoot, camera.id), heartbeat(), { qos: 1 });
    }
    await waitFor('the captures and heartbeats before the revocation to be taken', async () => {
      const rows = await rowsOf(before);
      const heartbeats = await db.select().from(deviceHealthEvents);
      return rows.length === before.length && rows.every((row) => row.state === 'verified') && heartbeats.length === 5 ? true : undefined;
    });
    const snapshot = { captures: await rowsOf(before), heartbeats: await db.select().from(deviceHealthEvents) };
    expect(snapshot.heartbeats).toHaveLength(5);

    // The device does not stop: it publishes a capture and a heartbeat every 100 ms while the registry revokes it.
    const after: { capture: SignedCapture; report: Buffer; publishedAt: number }[] = [];
    let revokedAt = 0;
    const publishing = (async () => {
      while (after.length < 15) {
        const capture = await signedCapture(camera, { media });
        const report = heartbeat();
        const publishedAt = Date.now();
        await publishCapture(device, gateway.topicRoot, capture);
        await device.publishAsync(topics.health(gateway.topicRoot, camera.id), report, { qos: 1 });
        if (revokedAt > 0 && publishedAt > revokedAt) after.push({ capture, report, publishedAt });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await changeDeviceStatus(db, 'person:admin', camera.id, { status: 'revoked', reason: 'private key found on a forum' })).toBe(
      'changed',
    );
    revokedAt = Date.now();
    await publishing;

    const refused = await waitFor('every capture after the revocation to be refused', async () => {
      const rows = await rowsOf(after.map((sent) => sent.capture));
      return rows.length === after.length && rows.every((row) => row.state !== 'received') ? rows : undefined;
    });
    expect(refused.map((row) => [row.state, row.quarantineReasons?.map((reason) => reason.code)])).toEqual(
      after.map(() => ['quarantined', ['device_revoked']]),
    );
    const firstRefusal = Math.min(...refused.map((row) => row.receivedAt.getTime()));
    expect(firstRefusal - revokedAt).toBeLessThan(REFUSED_WITHIN_MS);

    const refusals = await waitFor('every heartbeat after the revocation to be refused', async () => {
      const rows = await db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, 'health_report.refused'), eq(auditLog.subjectId, camera.id)));
      const hashes = new Set(rows.map((row) => (row.details as { messageSha256: string }).messageSha256));
      return after.every((sent) => hashes.has(sha256Hex(sent.report))) ? rows : undefined;
    });
    expect(new Set(refusals.map((row) => (row.details as { code: string }).code))).toEqual(new Set(['device_revoked']));

    expect(await rowsOf(before)).toEqual(snapshot.captures);
    const ids = new Set(snapshot.heartbeats.map((event) => event.id));
    const events = await db.select().from(deviceHealthEvents);
    expect(events.filter((event) => ids.has(event.id))).toEqual(snapshot.heartbeats);
    expect(events.some((event) => after.some((sent) => event.messageSha256 === sha256Hex(sent.report)))).toBe(false);
  });
});
