import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WindowSource } from '../core/domain/fault-window.js';
import { addCertification } from '../review-ui/devices/device-registry.js';
import { captures, deviceCertifications, deviceHealthEvents, malfunctionWindows } from '../db/schema.js';
import { enrolTestDevice } from '../test/support/devices.js';
import { runQueuedScreenings } from '../test/support/screening.js';
import { createTestDatabase } from '../test/support/isolated.js';
import { DEFAULT_HEALTH_SCAN } from '../core/domain/health-detectors.js';
import { scanDeviceHealth } from './handlers/scan-device-health.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('device health scan over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase('health_scan');
  });

  afterAll(async () => {
    await database?.drop();
  });

  async function insertCaptures(deviceId: string, rows: { capturedAt: Date; readings: Record<string, number> }[]) {
    const values = rows.map((row) => {
      const id = randomUUID();
      return {
        messageSha256: randomUUID(),
        deviceId,
        deviceCaptureId: id,
        state: 'awaiting_review' as const,
        capturedAt: row.capturedAt,
        manifest: { readings: row.readings },
        rawMessage: Buffer.from(id),
      };
    });
    for (let start = 0; start < values.length; start += 1000) await database.db.insert(captures).values(values.slice(start, start + 1000));
  }

  const windowsOf = (deviceId: string, source: WindowSource) =>
    database.db
      .select()
      .from(malfunctionWindows)
      .where(and(eq(malfunctionWindows.deviceId, deviceId), eq(malfunctionWindows.source, source)));

  const excludedBy = async (deviceId: string, source: WindowSource) => {
    const [window] = await windowsOf(deviceId, source);
    const rows = await database.db.select().from(captures).where(eq(captures.deviceId, deviceId));
    return rows.filter((row) => row.state === 'excluded' && window && row.exclusionWindowIds?.includes(window.id)).length;
  };

  it('opens a silence window from the last heartbeat and excludes what was captured since', async () => {
    const now = new Date();
    const camera = await enrolTestDevice(database.db);
    await database.db
      .insert(deviceHealthEvents)
      .values({ deviceId: camera.id, kind: 'heartbeat', reportedAt: new Date(now.getTime() - 10 * MINUTE), payload: {} });
    await insertCaptures(camera.id, [
      { capturedAt: new Date(now.getTime() - 20 * MINUTE), readings: { speedKmh: 80, limitKmh: 60 } },
      { capturedAt: new Date(now.getTime() - 5 * MINUTE), readings: { speedKmh: 81, limitKmh: 60 } },
    ]);
    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    await runQueuedScreenings(database);
    expect(await excludedBy(camera.id, 'heartbeat_silence')).toBe(1);
    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    expect(await windowsOf(camera.id, 'heartbeat_silence')).toHaveLength(1);
  });

  it('excludes captures taken while the metrological verification had lapsed', async () => {
    const now = new Date();
    const camera = await enrolTestDevice(database.db);
    await database.db
      .delete(deviceCertifications)
      .where(and(eq(deviceCertifications.deviceId, camera.id), eq(deviceCertifications.kind, 'metrological_verification')));
    await addCertification(database.db, 'test', camera.id, {
      kind: 'metrological_verification',
      reference: 'JJG-527-OLD',
      validFrom: new Date(now.getTime() - 400 * 24 * HOUR).toISOString(),
      validTo: new Date(now.getTime() - 2 * HOUR).toISOString(),
    });
    await insertCaptures(camera.id, [{ capturedAt: new Date(now.getTime() - HOUR), readings: { speedKmh: 80, limitKmh: 60 } }]);
    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    await runQueuedScreenings(database);
    expect(await excludedBy(camera.id, 'verification_expired')).toBe(1);
  });

  it('excludes implausible readings and a stuck sensor', async () => {
    const now = new Date();
    const radar = await enrolTestDevice(database.db);
    const stuck = await enrolTestDevice(database.db);
    await insertCaptures(radar.id, [
      { capturedAt: new Date(now.getTime() - 30 * MINUTE), readings: { speedKmh: 90, limitKmh: 60 } },
      { capturedAt: new Date(now.getTime() - 20 * MINUTE), readings: { speedKmh: 612, limitKmh: 60 } },
      { capturedAt: new Date(now.getTime() - 10 * MINUTE), readings: { speedKmh: 91, limitKmh: 60 } },
    ]);
    await insertCaptures(
      stuck.id,
      Array.from({ length: 25 }, (_, index) => ({
        capturedAt: new Date(now.getTime() - (60 - index) * MINUTE),
        readings: { speedKmh: 77, limitKmh: 60 },
      })),
    );
    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    await runQueuedScreenings(database);
    expect(await excludedBy(radar.id, 'sensor_out_of_range')).toBe(1);
    expect(await excludedBy(stuck.id, 'sensor_stuck')).toBe(25);
  });

  it('flags a device whose captures jump far above its own two-week history', async () => {
    const now = new Date(Math.floor(Date.now() / HOUR) * HOUR + 30 * MINUTE);
    const camera = await enrolTestDevice(database.db);
    const history: { capturedAt: Date; readings: Record<string, number> }[] = [];
    const hours = DEFAULT_HEALTH_SCAN.rateJump.baselineHours + DEFAULT_HEALTH_SCAN.watchHours;
    for (let hour = hours - 1; hour >= 0; hour--) {
      const jumped = hour <= 3;
      const perHour = jumped ? 40 : 2 + (hour % 3);
      for (let index = 0; index < perHour; index++) {
        history.push({
          capturedAt: new Date(now.getTime() - hour * HOUR - 29 * MINUTE + index * 10_000),
          readings: { speedKmh: 70 + (index % 20), limitKmh: 60 },
        });
      }
    }
    await insertCaptures(camera.id, history);
    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    const [window] = await windowsOf(camera.id, 'capture_rate_jump');
    expect(window?.reason).toMatch(/captures rose to/);
    expect(now.getTime() - window!.startsAt.getTime()).toBeLessThanOrEqual(4 * HOUR);
    await runQueuedScreenings(database);
    expect(await excludedBy(camera.id, 'capture_rate_jump')).toBeGreaterThanOrEqual(120);
  });
});
