import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { PROTOCOL_VERSION, topics, type HealthReport } from '../core/domain/protocol.js';
import { buildManifest, publishCapture, signHealthReport, signManifest } from '../device-simulator/device-protocol.js';
import { openWindow, withdrawWindow } from '../db/malfunction-windows.js';
import { auditLog, captures, malfunctionWindows } from '../db/schema.js';
import { enrolTestDevice, testMedia, type TestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, createTestRedis, uniqueName, waitFor } from '../test/support/isolated.js';
import { testGatewayKey } from '../test/support/acks.js';
import { testServices } from '../test/support/services.js';
import { startWorkersRole } from '../workers/service.js';
import { createPerson } from '../review-ui/people/people.js';
import { decide } from '../review-ui/review/review-decisions.js';
import { claimCapture } from '../db/review-queue.js';
import { startIngestRole, type IngestRole } from './service.js';

const log = pino({ level: 'silent' });
const MINUTE = 60_000;

describe('malfunction screening, from health reports to exclusions', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: ReturnType<typeof createTestRedis>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let ingest: IngestRole;
  let workers: { stop(): Promise<void> };
  let client: MqttClient;
  const topicRoot = `verity-test/${uniqueName('health')}/v1`;

  beforeAll(async () => {
    database = await createTestDatabase('health');
    redis = createTestRedis('health');
    mediaDir = await createTempDir('health-media');
    const common = { database, store: new FilesystemMediaStore(mediaDir.dir), redis: redis.redis, queuePrefix: redis.prefix, log };
    ingest = await startIngestRole({
      gatewayKey: testGatewayKey(),
      ...common,
      mqttUrl: testServices.mqttUrl,
      topicRoot,
      sharedGroup: undefined,
      clientId: uniqueName('gw'),
    });
    workers = await startWorkersRole({ ...common, concurrency: 2 });
    client = await mqtt.connectAsync(testServices.mqttUrl, { clientId: uniqueName('device') });
  });

  afterAll(async () => {
    await client?.endAsync();
    await ingest?.stop();
    await workers?.stop();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function capture(device: TestDevice, capturedAt: Date) {
    const media = await testMedia(capturedAt);
    const manifest = buildManifest({
      deviceId: device.id,
      capturedAt,
      clockOffsetMs: 0,
      location: { latitude: 22.5, longitude: 114.05 },
      violationType: 'speeding',
      readings: { speedKmh: 90, limitKmh: 60 },
      media,
    });
    await publishCapture(client, topicRoot, signManifest(manifest, device.privateKey, media));
    return manifest.captureId;
  }

  async function report(device: TestDevice, body: Record<string, unknown> & { kind: HealthReport['kind'] }) {
    const full = { protocol: PROTOCOL_VERSION, deviceId: device.id, reportedAt: new Date().toISOString(), ...body } as HealthReport;
    await client.publishAsync(topics.health(topicRoot, device.id), signHealthReport(full, device.privateKey), { qos: 1 });
  }

  const stateOf = (captureId: string, expected: string) =>
    waitFor(`capture ${captureId} to be ${expected}`, async () => {
      const [row] = await database.db.select().from(captures).where(eq(captures.deviceCaptureId, captureId));
      return row?.state === expected ? row : undefined;
    });

  const windowsOf = (device: TestDevice, source: string) =>
    database.db
      .select()
      .from(malfunctionWindows)
      .where(and(eq(malfunctionWindows.deviceId, device.id), eq(malfunctionWindows.source, source as 'operator')));

  it('excludes captures inside a device-reported fault and sends the others to review', async () => {
    const camera = await enrolTestDevice(database.db);
    const before = await capture(camera, new Date(Date.now() - 20 * MINUTE));
    await stateOf(before, 'awaiting_review');
    await report(camera, {
      kind: 'fault_report',
      code: 'LENS_FOG',
      detail: 'lens fogged',
      startedAt: new Date(Date.now() - 10 * MINUTE).toISOString(),
      endedAt: null,
    });
    await waitFor('the fault window', async () => ((await windowsOf(camera, 'device_reported')).length === 1 ? true : undefined));
    const inside = await capture(camera, new Date(Date.now() - 5 * MINUTE));
    const row = await stateOf(inside, 'excluded');
    const [window] = await windowsOf(camera, 'device_reported');
    expect(row.exclusionWindowIds).toEqual([window!.id]);
    expect((await stateOf(before, 'awaiting_review')).state).toBe('awaiting_review');
  });

  /** A real approval by a certified reviewer, as the review page makes it. */
  async function approveAsReviewer(captureId: string): Promise<void> {
    const created = await createPerson(database.db, 'test', {
      username: uniqueName('rev').replaceAll('_', '-').slice(0, 40),
      displayName: 'Reviewer',
      password: 'a-long-enough-password',
      roles: ['reviewer'],
      certificate: { number: 'ENF-1', expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    if (!created.ok) throw new Error(created.error);
    const reviewer = {
      id: created.person.id,
      actor: 'person:test',
      administeredDeviceIds: [],
      mayDecideEscalated: false,
      certificateNumber: 'ENF-1',
    };
    expect((await claimCapture(database.db, reviewer, captureId, 60_000)).ok).toBe(true);
    const policy = { twoPersonViolationTypes: [], twoPersonSpeedExcessPercent: 1000, incidentWindowMs: 60_000, deadlineDays: 5 };
    const store = new FilesystemMediaStore(mediaDir.dir);
    expect(await decide(database.db, reviewer, captureId, { outcome: 'approved' }, policy, store)).toMatchObject({
      ok: true,
      state: 'approved',
    });
  }

  it('moves captures already approved to excluded when the fault is reported an hour later', async () => {
    const camera = await enrolTestDevice(database.db);
    const captured = await capture(camera, new Date(Date.now() - 70 * MINUTE));
    const reviewed = await stateOf(captured, 'awaiting_review');
    await approveAsReviewer(reviewed.id);
    expect((await stateOf(captured, 'approved')).incidentId).not.toBeNull();
    await report(camera, {
      kind: 'fault_report',
      code: 'RADAR_DRIFT',
      detail: 'radar calibration drift found in self-check',
      startedAt: new Date(Date.now() - 75 * MINUTE).toISOString(),
      endedAt: new Date(Date.now() - 60 * MINUTE).toISOString(),
    });
    await stateOf(captured, 'excluded');
    const trail = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, reviewed.id), eq(auditLog.action, 'capture.excluded')));
    expect(trail[0]?.details).toMatchObject({ from: 'approved', to: 'excluded' });
  });

  it('excludes on an operator-entered window and re-admits when it is withdrawn as a false alarm', async () => {
    const camera = await enrolTestDevice(database.db);
    const captured = await capture(camera, new Date(Date.now() - 30 * MINUTE));
    await stateOf(captured, 'awaiting_review');
    const window = await database.db.transaction((tx) =>
      openWindow(tx, {
        deviceId: camera.id,
        source: 'operator',
        startsAt: new Date(Date.now() - 40 * MINUTE),
        endsAt: new Date(Date.now() - 20 * MINUTE),
        reason: 'camera misaligned by roadworks',
        recordedBy: 'operator:test',
      }),
    );
    await ingest.dispatcher.dispatch();
    await stateOf(captured, 'excluded');
    await database.db.transaction((tx) => withdrawWindow(tx, window.id, 'operator:test', 'alignment checked on site: fine'));
    await ingest.dispatcher.dispatch();
    const readmitted = await stateOf(captured, 'awaiting_review');
    const actions = (await database.db.select().from(auditLog).where(eq(auditLog.subjectId, readmitted.id))).map((entry) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(['capture.excluded', 'capture.admitted_to_review']));
    const withdrawal = await database.db.select().from(auditLog).where(eq(auditLog.action, 'malfunction_window.withdrawn'));
    expect(withdrawal.some((entry) => (entry.details as { windowId: string }).windowId === window.id)).toBe(true);
  });

  it('opens windows for a failed self-test and a clock off by more than 1 s, and closes them on good reports', async () => {
    const camera = await enrolTestDevice(database.db);
    await report(camera, {
      kind: 'self_test',
      passed: false,
      detail: 'IR flash did not fire',
      reportedAt: new Date(Date.now() - 15 * MINUTE).toISOString(),
    });
    await report(camera, { kind: 'clock_sync', offsetMs: 2400, reportedAt: new Date(Date.now() - 15 * MINUTE).toISOString() });
    const during = await capture(camera, new Date(Date.now() - 10 * MINUTE));
    const excluded = await stateOf(during, 'excluded');
    expect(excluded.exclusionWindowIds).toHaveLength(2);
    await report(camera, {
      kind: 'self_test',
      passed: true,
      detail: 'all checks passed',
      reportedAt: new Date(Date.now() - 5 * MINUTE).toISOString(),
    });
    await report(camera, { kind: 'clock_sync', offsetMs: 12, reportedAt: new Date(Date.now() - 5 * MINUTE).toISOString() });
    const after = await capture(camera, new Date(Date.now() - 2 * MINUTE));
    await stateOf(after, 'awaiting_review');
    const closed = [...(await windowsOf(camera, 'self_test_failed')), ...(await windowsOf(camera, 'clock_offset'))];
    expect(closed.map((window) => window.endsAt !== null)).toEqual([true, true]);
  });

  it('refuses a health report with a forged signature and opens no window', async () => {
    const camera = await enrolTestDevice(database.db);
    const impostor = await enrolTestDevice(database.db);
    const refusedBefore = ingest.gateway.counters.healthRefused;
    const forged = signHealthReport(
      {
        protocol: PROTOCOL_VERSION,
        deviceId: camera.id,
        reportedAt: new Date().toISOString(),
        kind: 'self_test',
        passed: false,
        detail: 'forged',
      },
      impostor.privateKey,
    );
    await client.publishAsync(topics.health(topicRoot, camera.id), forged, { qos: 1 });
    await waitFor('the forged report to be refused', async () =>
      ingest.gateway.counters.healthRefused > refusedBefore ? true : undefined,
    );
    expect(await windowsOf(camera, 'self_test_failed')).toHaveLength(0);
  });
});
