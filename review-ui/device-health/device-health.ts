import { and, asc, count, desc, eq, gt, gte, isNull, lte, max, ne, or, sql } from 'drizzle-orm';
import type { WindowSource } from '../../core/domain/fault-window.js';
import { healthReportSchema } from '../../core/domain/protocol.js';
import type { Db } from '../../db/client.js';
import { closeWindow, openWindow, withdrawWindow, type WindowRow } from '../../db/malfunction-windows.js';
import { analyticsRuns, captures, deviceAnomalies, deviceHealthEvents, devices, malfunctionWindows } from '../../db/schema.js';
import { DEFAULT_HEALTH_SCAN } from '../../core/domain/health-detectors.js';

const HOUR_MS = 3600 * 1000;
/** The scanner's own threshold, so the page calls a device silent exactly when a window would open. */
const SILENCE_MS = DEFAULT_HEALTH_SCAN.heartbeatSilenceMs;
/** Heartbeats arrive every few seconds; a 48-hour timeline needs their density, not each one. */
const HEARTBEAT_BUCKET_SECONDS = sql.raw('300');
const EVENT_LIMIT = 500;

export interface WindowView {
  id: string;
  source: WindowSource;
  startsAt: Date;
  endsAt: Date | null;
  reason: string;
  recordedBy: string;
  recordedAt: Date;
  withdrawn: { at: Date; by: string; reason: string } | null;
  excludedCaptures: number;
}

export interface DeviceTimeline {
  asOf: Date;
  from: Date;
  device: { id: string; status: string; lastHeartbeatAt: Date | null };
  /** Every report but heartbeats, newest first. */
  events: { id: number; kind: string; reportedAt: Date; summary: string }[];
  eventsTruncated: boolean;
  heartbeats: { at: Date; count: number }[];
  /** Windows reaching into the period, including those still open or starting later. */
  windows: WindowView[];
}

export interface FleetDeviceHealth {
  id: string;
  kind: string;
  road: string;
  direction: string;
  status: string;
  enrolledAt: Date;
  lastHeartbeatAt: Date | null;
  /** Set when an enabled device has been silent past the threshold: its last heartbeat, or its enrolment if it never sent one. */
  silentSince: Date | null;
  /** Windows covering this moment: open-ended, or ending later. */
  openWindows: { id: string; source: WindowSource; since: Date; until: Date | null; reason: string }[];
  excludedLast24h: number;
  /**
   * What the latest hotspot analysis flagged about this device's capture or exclusion rate: a
   * device that suddenly finds many more violations is more likely broken or badly placed
   * (law L6). A hint for the administrator, never an exclusion by itself.
   */
  rateAnomalies: { metric: string; basis: string; rateRatio: number | null }[];
  down: boolean;
}

/** Opens an operator window on a known device; undefined when there is no such device. */
export async function recordOperatorWindow(
  db: Db,
  deviceId: string,
  input: { startsAt: Date; endsAt: Date | null; reason: string; recordedBy: string },
): Promise<WindowRow | undefined> {
  return db.transaction(async (tx) => {
    const [device] = await tx.select({ id: devices.id }).from(devices).where(eq(devices.id, deviceId));
    if (!device) return undefined;
    return openWindow(tx, { deviceId, source: 'operator', ...input });
  });
}

export type CloseOutcome = { outcome: 'closed'; window: WindowRow } | { outcome: 'not_found' | 'not_open' | 'ends_before_start' };

/** Ends an open window; a withdrawn one excludes nothing already, so it counts as not open. */
export async function closeOpenWindow(
  db: Db,
  windowId: string,
  close: { endsAt: Date; by: string; reason: string },
): Promise<CloseOutcome> {
  return db.transaction(async (tx) => {
    const [window] = await tx.select().from(malfunctionWindows).where(eq(malfunctionWindows.id, windowId)).for('update');
    if (!window) return { outcome: 'not_found' };
    if (window.endsAt !== null || window.withdrawnAt !== null) return { outcome: 'not_open' };
    if (close.endsAt.getTime() <= window.startsAt.getTime()) return { outcome: 'ends_before_start' };
    const closed = await closeWindow(tx, window, close.endsAt, close.by, close.reason);
    if (!closed) throw new Error(`window ${windowId} was locked open yet did not close`);
    return { outcome: 'closed', window: closed };
  });
}

export type WithdrawOutcome = { outcome: 'withdrawn'; window: WindowRow } | { outcome: 'not_found' | 'already_withdrawn' };

export async function withdrawKnownWindow(db: Db, windowId: string, withdrawal: { by: string; reason: string }): Promise<WithdrawOutcome> {
  return db.transaction(async (tx) => {
    const [window] = await tx
      .select({ withdrawnAt: malfunctionWindows.withdrawnAt })
      .from(malfunctionWindows)
      .where(eq(malfunctionWindows.id, windowId))
      .for('update');
    if (!window) return { outcome: 'not_found' };
    if (window.withdrawnAt !== null) return { outcome: 'already_withdrawn' };
    const withdrawn = await withdrawWindow(tx, windowId, withdrawal.by, withdrawal.reason);
    if (!withdrawn) throw new Error(`window ${windowId} was locked unwithdrawn yet did not withdraw`);
    return { outcome: 'withdrawn', window: withdrawn };
  });
}

/** One device's reports, heartbeats and windows over the `hours` before `asOf`; undefined for an unknown device. */
export async function deviceTimeline(db: Db, deviceId: string, asOf: Date, hours: number): Promise<DeviceTimeline | undefined> {
  const from = new Date(asOf.getTime() - hours * HOUR_MS);
  const [device] = await db.select({ id: devices.id, status: devices.status }).from(devices).where(eq(devices.id, deviceId));
  if (!device) return undefined;
  const ofDevice = eq(deviceHealthEvents.deviceId, deviceId);
  const inPeriod = and(gte(deviceHealthEvents.reportedAt, from), lte(deviceHealthEvents.reportedAt, asOf));
  const isHeartbeat = eq(deviceHealthEvents.kind, 'heartbeat');
  // Inlined, not bound: GROUP BY must see the very expression the SELECT list has.
  const bucket = sql<Date>`to_timestamp(floor(extract(epoch from ${deviceHealthEvents.reportedAt}) / ${HEARTBEAT_BUCKET_SECONDS}) * ${HEARTBEAT_BUCKET_SECONDS})`;
  const [[lastHeartbeat], events, heartbeats, windows] = await Promise.all([
    db
      .select({ at: max(deviceHealthEvents.reportedAt) })
      .from(deviceHealthEvents)
      .where(and(ofDevice, isHeartbeat)),
    db
      .select({
        id: deviceHealthEvents.id,
        kind: deviceHealthEvents.kind,
        reportedAt: deviceHealthEvents.reportedAt,
        payload: deviceHealthEvents.payload,
      })
      .from(deviceHealthEvents)
      .where(and(ofDevice, inPeriod, ne(deviceHealthEvents.kind, 'heartbeat')))
      .orderBy(desc(deviceHealthEvents.reportedAt), desc(deviceHealthEvents.id))
      .limit(EVENT_LIMIT + 1),
    db
      .select({ at: bucket, count: count() })
      .from(deviceHealthEvents)
      .where(and(ofDevice, inPeriod, isHeartbeat))
      .groupBy(bucket)
      .orderBy(bucket),
    windowsWithExclusions(db, deviceId, from),
  ]);
  return {
    asOf,
    from,
    device: { ...device, lastHeartbeatAt: lastHeartbeat?.at ?? null },
    events: events.slice(0, EVENT_LIMIT).map(({ payload, ...event }) => ({ ...event, summary: summarise(payload) })),
    eventsTruncated: events.length > EVENT_LIMIT,
    heartbeats: heartbeats.map((row) => ({ at: new Date(row.at), count: row.count })),
    windows,
  };
}

async function windowsWithExclusions(db: Db, deviceId: string, from: Date): Promise<WindowView[]> {
  const rows = await db
    .select({
      id: malfunctionWindows.id,
      source: malfunctionWindows.source,
      startsAt: malfunctionWindows.startsAt,
      endsAt: malfunctionWindows.endsAt,
      reason: malfunctionWindows.reason,
      recordedBy: malfunctionWindows.recordedBy,
      recordedAt: malfunctionWindows.recordedAt,
      withdrawnAt: malfunctionWindows.withdrawnAt,
      withdrawnBy: malfunctionWindows.withdrawnBy,
      withdrawalReason: malfunctionWindows.withdrawalReason,
      excludedCaptures: count(captures.id),
    })
    .from(malfunctionWindows)
    .leftJoin(
      captures,
      and(
        eq(captures.deviceId, malfunctionWindows.deviceId),
        eq(captures.state, 'excluded'),
        sql`${captures.exclusionWindowIds} ? ${malfunctionWindows.id}::text`,
      ),
    )
    .where(and(eq(malfunctionWindows.deviceId, deviceId), or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, from))))
    .groupBy(malfunctionWindows.id)
    .orderBy(desc(malfunctionWindows.startsAt));
  return rows.map(({ withdrawnAt, withdrawnBy, withdrawalReason, ...window }) => ({
    ...window,
    withdrawn: withdrawnAt && withdrawnBy && withdrawalReason ? { at: withdrawnAt, by: withdrawnBy, reason: withdrawalReason } : null,
  }));
}

/** One line a person can read; reports were validated on arrival, so a failure here means an older protocol. */
function summarise(payload: unknown): string {
  const parsed = healthReportSchema.safeParse(payload);
  if (!parsed.success) return `report in an unknown shape: ${JSON.stringify(payload).slice(0, 200)}`;
  const report = parsed.data;
  switch (report.kind) {
    case 'heartbeat':
      return 'alive';
    case 'self_test':
      return report.passed ? 'self-test passed' : `self-test failed: ${report.detail}`;
    case 'fault_report':
      return `fault ${report.code}: ${report.detail} (${report.endedAt ? `ended ${report.endedAt}` : 'ongoing'})`;
    case 'clock_sync':
      return `clock off by ${report.offsetMs} ms`;
    case 'offline':
      return 'announced going offline';
  }
}

/**
 * Every device that can still capture, down first. Down means a window covers this moment,
 * or the device is enabled and has been silent past the scanner's threshold.
 */
export async function fleetHealth(db: Db, asOf: Date): Promise<FleetDeviceHealth[]> {
  const [fleet, heartbeats, windows, excluded, anomalies] = await Promise.all([
    db
      .select({
        id: devices.id,
        kind: devices.kind,
        road: devices.road,
        direction: devices.direction,
        status: devices.status,
        enrolledAt: devices.enrolledAt,
      })
      .from(devices)
      .where(ne(devices.status, 'revoked'))
      .orderBy(asc(devices.id)),
    db
      .select({ deviceId: deviceHealthEvents.deviceId, at: max(deviceHealthEvents.reportedAt) })
      .from(deviceHealthEvents)
      .where(eq(deviceHealthEvents.kind, 'heartbeat'))
      .groupBy(deviceHealthEvents.deviceId),
    db
      .select({
        id: malfunctionWindows.id,
        deviceId: malfunctionWindows.deviceId,
        source: malfunctionWindows.source,
        since: malfunctionWindows.startsAt,
        until: malfunctionWindows.endsAt,
        reason: malfunctionWindows.reason,
      })
      .from(malfunctionWindows)
      .where(
        and(
          isNull(malfunctionWindows.withdrawnAt),
          lte(malfunctionWindows.startsAt, asOf),
          or(isNull(malfunctionWindows.endsAt), gt(malfunctionWindows.endsAt, asOf)),
        ),
      )
      .orderBy(asc(malfunctionWindows.startsAt)),
    db
      .select({ deviceId: captures.deviceId, count: count() })
      .from(captures)
      .where(and(eq(captures.state, 'excluded'), gte(captures.capturedAt, new Date(asOf.getTime() - 24 * HOUR_MS))))
      .groupBy(captures.deviceId),
    db
      .select({
        deviceId: deviceAnomalies.deviceId,
        metric: deviceAnomalies.metric,
        basis: deviceAnomalies.basis,
        rateRatio: deviceAnomalies.rateRatio,
      })
      .from(deviceAnomalies)
      .where(
        and(
          eq(deviceAnomalies.flagged, true),
          eq(
            deviceAnomalies.runId,
            sql`(SELECT ${analyticsRuns.id} FROM ${analyticsRuns} WHERE ${analyticsRuns.finishedAt} IS NOT NULL ORDER BY ${analyticsRuns.finishedAt} DESC LIMIT 1)`,
          ),
        ),
      ),
  ]);
  const lastHeartbeat = new Map(heartbeats.map((row) => [row.deviceId, row.at]));
  const excludedBy = new Map(excluded.map((row) => [row.deviceId, row.count]));
  const view = fleet.map((device): FleetDeviceHealth => {
    const lastHeartbeatAt = lastHeartbeat.get(device.id) ?? null;
    const heardFrom = lastHeartbeatAt ?? device.enrolledAt;
    const silentSince = device.status === 'enabled' && asOf.getTime() - heardFrom.getTime() > SILENCE_MS ? heardFrom : null;
    const openWindows = windows
      .filter((window) => window.deviceId === device.id)
      .map(({ id, source, since, until, reason }) => ({ id, source, since, until, reason }));
    return {
      ...device,
      lastHeartbeatAt,
      silentSince,
      openWindows,
      excludedLast24h: excludedBy.get(device.id) ?? 0,
      rateAnomalies: anomalies
        .filter((row) => row.deviceId === device.id)
        .map(({ metric, basis, rateRatio }) => ({ metric, basis, rateRatio })),
      down: openWindows.length > 0 || silentSince !== null,
    };
  });
  return view.sort((a, b) => Number(b.down) - Number(a.down) || a.id.localeCompare(b.id));
}
