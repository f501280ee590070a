import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CAPTURE_POLICY } from '../core/domain/capture-policy.js';
import { FilesystemMediaStore, sha256Hex } from '../core/infrastructure/media-store.js';
import { PROTOCOL_VERSION, topics, type HealthReport } from '../core/domain/protocol.js';
import { signHealthReport } from '../device-simulator/device-protocol.js';
import { auditLog, deviceHealthEvents, malfunctionWindows } from '../db/schema.js';
import { changeDeviceStatus } from '../review-ui/devices/device-registry.js';
import { enrolTestDevice, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { openAck, testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { DeviceDirectory } from './device-directory.js';
import { HealthIntake } from './health-intake.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });
const MINUTE = 60_000;

/** Anyone on the broker can republish a device's old signed bytes; none of them may change what the system believes. */
describe('health reports from anyone on the broker', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let ingest: IngestRole;
  let client: MqttClient;
  const acks: { topic: string; body: Record<string, unknown> }[] = [];
  const gatewayKey = testGatewayKey();
  const topicRoot = `verity-test/${uniqueName('replay')}/v1`;

  beforeAll(async () => {
    database = await createTestDatabase('replay');
    redis = createTestRedis('replay');
    mediaDir = await createTempDir('replay-media');
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
    });
    client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('attacker') });
    await client.subscribeAsync(`${topicRoot}/devices/+/acks`, { qos: 1 });
    client.on('message', (topic, payload) =>
      acks.push({ topic, body: openAck(topic, payload, gatewayKey) as unknown as Record<string, unknown> }),
    );
  });

  afterAll(async () => {
    await client?.endAsync();
    await ingest?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  function signed(device: TestDevice, body: Record<string, unknown> & { kind: HealthReport['kind']; reportedAt: string }): Buffer {
    return signHealthReport({ protocol: PROTOCOL_VERSION, deviceId: device.id, ...body } as HealthReport, device.privateKey);
  }

  const publish = (device: TestDevice, bytes: Buffer) => client.publishAsync(topics.health(topicRoot, device.id), bytes, { qos: 1 });

  const selfTestWindows = (device: TestDevice) =>
    database.db
      .select()
      .from(malfunctionWindows)
      .where(and(eq(malfunctionWindows.deviceId, device.id), eq(malfunctionWindows.source, 'self_test_failed')));

  /** The audited refusal of one message, found by the hash of its bytes. */
  const refusalOf = (bytes: Buffer) =>
    waitFor(`the refusal of ${sha256Hex(bytes).slice(0, 12)} in the audit log`, async () => {
      const rows = await database.db.select().from(auditLog).where(eq(auditLog.action, 'health_report.refused'));
      return rows.find((row) => (row.details as { messageSha256?: string }).messageSha256 === sha256Hex(bytes));
    });

  const ackOf = (bytes: Buffer) =>
    waitFor(`the acknowledgement of ${sha256Hex(bytes).slice(0, 12)}`, async () =>
      acks.find((ack) => ack.body.about === 'health' && ack.body.messageSha256 === sha256Hex(bytes)),
    );

  it('refuses an old failing self-test replayed byte for byte after the device passed, and opens no new window', async () => {
    const camera = await enrolTestDevice(database.db);
    const failing = signed(camera, {
      kind: 'self_test',
      passed: false,
      detail: 'IR flash did not fire',
      reportedAt: new Date(Date.now() - 30 * MINUTE).toISOString(),
    });
    await publish(camera, failing);
    expect((await ackOf(failing)).body).toMatchObject({ status: 'accepted', reasons: [] });
    const passing = signed(camera, {
      kind: 'self_test',
      passed: true,
      detail: 'all checks passed',
      reportedAt: new Date(Date.now() - 20 * MINUTE).toISOString(),
    });
    await publish(camera, passing);
    await waitFor('the window to close', async () => ((await selfTestWindows(camera))[0]?.endsAt ? true : undefined));

    await publish(camera, failing);
    const refusal = await refusalOf(failing);
    expect(refusal).toMatchObject({ subjectType: 'device', subjectId: camera.id, actor: 'system:ingest-gateway' });
    expect(refusal.details).toMatchObject({ code: 'replayed', kind: 'self_test' });
    expect((await ackOf(failing)).body).toMatchObject({ status: 'accepted' });
    const refusedAck = await waitFor('the refusal ack', async () =>
      acks.find((ack) => ack.body.messageSha256 === sha256Hex(failing) && ack.body.status === 'refused'),
    );
    expect(refusedAck.topic).toBe(topics.ack(topicRoot, camera.id));
    expect(refusedAck.body.reasons).toEqual([expect.objectContaining({ code: 'replayed' })]);

    const windows = await selfTestWindows(camera);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.endsAt).not.toBeNull();
    const events = await database.db.select().from(deviceHealthEvents).where(eq(deviceHealthEvents.deviceId, camera.id));
    expect(events).toHaveLength(2);
  });

  it('refuses a signed report of a kind older than, or as old as, the last one accepted of that kind', async () => {
    const camera = await enrolTestDevice(database.db);
    const at = new Date(Date.now() - 10 * MINUTE).toISOString();
    const newer = signed(camera, { kind: 'clock_sync', offsetMs: 5, reportedAt: at });
    await publish(camera, newer);
    await ackOf(newer);
    // Other kinds keep their own order: a heartbeat of the same moment is not held back by the clock sync.
    const heartbeat = signed(camera, { kind: 'heartbeat', reportedAt: at });
    await publish(camera, heartbeat);
    expect((await ackOf(heartbeat)).body).toMatchObject({ status: 'accepted' });
    for (const reportedAt of [at, new Date(Date.now() - 40 * MINUTE).toISOString()]) {
      const older = signed(camera, { kind: 'clock_sync', offsetMs: 4000, reportedAt });
      await publish(camera, older);
      expect((await refusalOf(older)).details).toMatchObject({ code: 'stale', kind: 'clock_sync', reportedAt });
      expect((await ackOf(older)).body).toMatchObject({ status: 'refused', reasons: [expect.objectContaining({ code: 'stale' })] });
    }
    const clockWindows = await database.db
      .select()
      .from(malfunctionWindows)
      .where(and(eq(malfunctionWindows.deviceId, camera.id), eq(malfunctionWindows.source, 'clock_offset')));
    expect(clockWindows).toHaveLength(0);
  });

  it("refuses a revoked device's signed failing self-test, and its passing one, without touching any window", async () => {
    const camera = await enrolTestDevice(database.db);
    const failing = signed(camera, {
      kind: 'self_test',
      passed: false,
      detail: 'lamp failure',
      reportedAt: new Date(Date.now() - 5 * MINUTE).toISOString(),
    });
    await publish(camera, failing);
    await ackOf(failing);
    expect(await changeDeviceStatus(database.db, 'test', camera.id, { status: 'revoked', reason: 'key leaked' })).toBe('changed');

    const fresh = signed(camera, {
      kind: 'self_test',
      passed: false,
      detail: 'lamp failure again',
      reportedAt: new Date(Date.now() - 4 * MINUTE).toISOString(),
    });
    const passing = signed(camera, { kind: 'self_test', passed: true, detail: 'fine', reportedAt: new Date().toISOString() });
    for (const bytes of [fresh, passing]) {
      await publish(camera, bytes);
      expect((await refusalOf(bytes)).details).toMatchObject({ code: 'device_revoked' });
      expect((await ackOf(bytes)).body).toMatchObject({
        status: 'refused',
        reasons: [expect.objectContaining({ code: 'device_revoked' })],
      });
    }
    const windows = await selfTestWindows(camera);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.endsAt).toBeNull();
  });

  it("counts a disabled device's reports, and an older last will once, after its heartbeats", async () => {
    const camera = await enrolTestDevice(database.db);
    const will = signed(camera, { kind: 'offline', reportedAt: new Date(Date.now() - 2 * MINUTE).toISOString() });
    const heartbeat = signed(camera, { kind: 'heartbeat', reportedAt: new Date(Date.now() - MINUTE).toISOString() });
    expect(await changeDeviceStatus(database.db, 'test', camera.id, { status: 'disabled', reason: 'roadworks' })).toBe('changed');
    await publish(camera, heartbeat);
    expect((await ackOf(heartbeat)).body).toMatchObject({ status: 'accepted' });
    await publish(camera, will);
    expect((await ackOf(will)).body).toMatchObject({ status: 'accepted' });
    await publish(camera, will);
    expect((await refusalOf(will)).details).toMatchObject({ code: 'replayed', kind: 'offline' });
  });

  it('accepts exactly one of 20 copies of one report ingested at once, and audits the other 19', async () => {
    const camera = await enrolTestDevice(database.db);
    const intake = new HealthIntake(database.db, new DeviceDirectory(database.db), DEFAULT_CAPTURE_POLICY);
    const failing = signed(camera, {
      kind: 'self_test',
      passed: false,
      detail: 'x',
      reportedAt: new Date(Date.now() - MINUTE).toISOString(),
    });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => intake.ingest(camera.id, failing)));
    expect(outcomes.filter((outcome) => outcome.accepted)).toHaveLength(1);
    const refusals = (await database.db.select().from(auditLog).where(eq(auditLog.subjectId, camera.id))).filter(
      (row) => row.action === 'health_report.refused',
    );
    expect(refusals.map((row) => (row.details as { code: string }).code)).toEqual(Array(19).fill('replayed'));
    expect(await selfTestWindows(camera)).toHaveLength(1);
  });
});
