import { and, desc, eq, gte, isNull, ne, sql } from 'drizzle-orm';
import {
  detectRateJump,
  detectSensorFaults,
  detectSilence,
  detectVerificationGaps,
  type DetectedWindow,
  DEFAULT_HEALTH_SCAN,
  type HealthScanSettings,
} from '../../core/domain/health-detectors.js';
import type { Database } from '../../db/client.js';
import { closeWindow, openWindow } from '../../db/malfunction-windows.js';
import { certificationsOfDevice } from '../../db/devices.js';
import { captures, deviceHealthEvents, devices, malfunctionWindows } from '../../db/schema.js';

const SCANNER = 'system:device-health-scan';
const HOUR = 3600 * 1000;

/**
 * Looks at every device for malfunctions nobody reported: heartbeat silence, a lapsed
 * metrological verification, implausible or stuck readings, a capture rate far above the
 * device's own history. Each finding becomes a malfunction window (once: windows are matched
 * by source and start), which re-screens the device's captures.
 */
export async function scanDeviceHealth(
  deps: { database: Database },
  settings: HealthScanSettings = DEFAULT_HEALTH_SCAN,
  now = new Date(),
): Promise<{ opened: number; closed: number }> {
  const { db } = deps.database;
  const fleet = await db.select({ id: devices.id }).from(devices).where(ne(devices.status, 'revoked'));
  let opened = 0;
  let closed = 0;
  for (const { id } of fleet) {
    const detected = await detectFor(deps.database, id, settings, now);
    for (const finding of detected) {
      const outcome = await db.transaction(async (tx) => {
        const [known] = await tx
          .select()
          .from(malfunctionWindows)
          .where(
            and(
              eq(malfunctionWindows.deviceId, id),
              eq(malfunctionWindows.source, finding.source),
              eq(malfunctionWindows.startsAt, finding.startsAt),
              isNull(malfunctionWindows.withdrawnAt),
            ),
          );
        if (!known) {
          await openWindow(tx, { deviceId: id, ...finding, recordedBy: SCANNER });
          return 'opened';
        }
        if (finding.endsAt && known.endsAt === null && finding.endsAt > known.startsAt) {
          await closeWindow(tx, known, finding.endsAt, SCANNER, finding.reason);
          return 'closed';
        }
        return 'unchanged';
      });
      if (outcome === 'opened') opened++;
      if (outcome === 'closed') closed++;
    }
  }
  return { opened, closed };
}

async function detectFor(database: Database, deviceId: string, settings: HealthScanSettings, now: Date): Promise<DetectedWindow[]> {
  const { db } = database;
  const [heartbeat] = await db
    .select({ at: deviceHealthEvents.reportedAt })
    .from(deviceHealthEvents)
    .where(and(eq(deviceHealthEvents.deviceId, deviceId), eq(deviceHealthEvents.kind, 'heartbeat')))
    .orderBy(desc(deviceHealthEvents.reportedAt))
    .limit(1);
  const certifications = await certificationsOfDevice(db, deviceId);
  const recent = await db
    .select({ capturedAt: captures.capturedAt, readings: sql<Record<string, number | string | boolean>>`${captures.manifest}->'readings'` })
    .from(captures)
    .where(
      and(
        eq(captures.deviceId, deviceId),
        ne(captures.state, 'quarantined'),
        gte(captures.capturedAt, new Date(now.getTime() - settings.watchHours * HOUR)),
      ),
    )
    .orderBy(captures.capturedAt);
  const samples = recent.flatMap((row) => (row.capturedAt ? [{ capturedAt: row.capturedAt, readings: row.readings ?? {} }] : []));
  return [
    ...detectSilence(heartbeat?.at ?? null, now, settings.heartbeatSilenceMs),
    ...detectVerificationGaps(certifications, now),
    ...detectSensorFaults(samples),
    ...(await rateJumps(database, deviceId, settings, now)),
  ];
}

async function rateJumps(database: Database, deviceId: string, settings: HealthScanSettings, now: Date): Promise<DetectedWindow[]> {
  const hours = settings.rateJump.baselineHours + settings.watchHours;
  const firstHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR - (hours - 1) * HOUR);
  // A device younger than its baseline has no history to judge against: a new camera's first
  // day would otherwise look like an endless jump from nothing.
  const [oldest] = await database.db
    .select({ at: sql<Date | null>`min(${captures.capturedAt})` })
    .from(captures)
    .where(and(eq(captures.deviceId, deviceId), ne(captures.state, 'quarantined')));
  if (!oldest?.at || new Date(oldest.at).getTime() >= firstHour.getTime() + HOUR) return [];
  const rows = await database.db
    .select({ hour: sql<string>`date_trunc('hour', ${captures.capturedAt})`, count: sql<number>`count(*)::int` })
    .from(captures)
    .where(and(eq(captures.deviceId, deviceId), ne(captures.state, 'quarantined'), gte(captures.capturedAt, firstHour)))
    .groupBy(sql`1`);
  const counts = new Array<number>(hours).fill(0);
  for (const row of rows) {
    const index = Math.round((new Date(row.hour).getTime() - firstHour.getTime()) / HOUR);
    if (index >= 0 && index < hours) counts[index] = Number(row.count);
  }
  return detectRateJump(counts, firstHour, settings.rateJump);
}
