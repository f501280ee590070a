import type { WindowSource } from '../../core/domain/fault-window.js';
import { healthReportSchema } from '../../core/domain/protocol.js';
import type { Db } from '../../db/client.js';
import {
  excludedCaptureCounts,
  flaggedAnomaliesOfLatestRun,
  healthEventsOf,
  heartbeatBuckets,
  lastHeartbeatOf,
  lastHeartbeats,
  windowsCovering,
  windowsWithExclusionCounts,
} from '../../db/device-health.js';
import { findDevice, listUnrevokedDevices } from '../../db/devices.js';
import { closeWindow, lockWindow, openWindow, withdrawWindow, type WindowRow } from '../../db/malfunction-windows.js';
import { DEFAULT_HEALTH_SCAN } from '../../core/domain/health-detectors.js';

const HOUR_MS = 3600 * 1000;
/** The scanner's own threshold, so the page calls a device silent exactly when a window would open. */
const SILENCE_MS = DEFAULT_HEALTH_SCAN.heartbeatSilenceMs;
/** Heartbeats arrive every few seconds; a 48-hour timeline needs their density, not each one. */
const HEARTBEAT_BUCKET_SECONDS = 300;
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
    if (!(await findDevice(tx, deviceId))) return undefined;
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
    const window = await lockWindow(tx, windowId);
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
    const window = await lockWindow(tx, windowId);
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
  const device = await findDevice(db, deviceId);
  if (!device) return undefined;
  const [lastHeartbeatAt, events, heartbeats, windows] = await Promise.all([
    lastHeartbeatOf(db, deviceId),
    healthEventsOf(db, deviceId, from, asOf, EVENT_LIMIT + 1),
    heartbeatBuckets(db, deviceId, from, asOf, HEARTBEAT_BUCKET_SECONDS),
    windowsWithExclusions(db, deviceId, from),
  ]);
  return {
    asOf,
    from,
    device: { id: device.id, status: device.status, lastHeartbeatAt },
    events: events.slice(0, EVENT_LIMIT).map(({ payload, ...event }) => ({ ...event, summary: summarise(payload) })),
    eventsTruncated: events.length > EVENT_LIMIT,
    heartbeats: heartbeats.map((row) => ({ at: new Date(row.at), count: row.count })),
    windows,
  };
}

async function windowsWithExclusions(db: Db, deviceId: string, from: Date): Promise<WindowView[]> {
  const rows = await windowsWithExclusionCounts(db, deviceId, from);
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
    listUnrevokedDevices(db),
    lastHeartbeats(db),
    windowsCovering(db, asOf),
    excludedCaptureCounts(db, new Date(asOf.getTime() - 24 * HOUR_MS)),
    flaggedAnomaliesOfLatestRun(db),
  ]);
  const lastHeartbeat = new Map(heartbeats.map((row) => [row.deviceId, row.at]));
  const excludedBy = new Map(excluded.map((row) => [row.deviceId, row.count]));
  const view = fleet.map(({ id, kind, road, direction, status, enrolledAt }): FleetDeviceHealth => {
    const device = { id, kind, road, direction, status, enrolledAt };
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
