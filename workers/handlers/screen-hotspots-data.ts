import { sql } from 'drizzle-orm';
import { cellToLatLng } from 'h3-js';
import type { DeviceSeries } from '../../core/domain/analytics-anomaly.js';
import { addDays, daysBetween, type AnalysisPeriod } from '../../core/domain/analytics-calendar.js';
import type { SiteInput } from '../../core/domain/analytics-screening.js';
import type { Db } from '../../db/client.js';
import { rowsOf } from '../../db/rows.js';

/** A site to screen, with what the results table and the map need besides the statistics. */
export interface Site extends SiteInput {
  road: string | null;
  kind: string | null;
  deviceIds: string[];
  latitude: number;
  longitude: number;
}

interface DeviceRow {
  deviceId: string;
  cell: string;
  violationType: string;
  firstDay: string;
  observed: number;
  recent: number;
  road: string | null;
  kind: string | null;
  latitude: number | null;
  longitude: number | null;
}

/**
 * Each device's counts per cell and violation type over the period, with the day it was
 * first counted: a device is watched from that day on, so its exposure is the device-days
 * from then (or the period's start) to the period's end.
 */
async function deviceRows(db: Db, period: AnalysisPeriod): Promise<DeviceRow[]> {
  const rows = rowsOf<Record<string, string | number | null>>(
    await db.execute(sql`
      select a.device_id, a.cell, a.violation_type, a.first_day::text, a.observed, a.recent,
             d.road, d.kind::text, d.latitude, d.longitude
      from (
        select device_id, cell, violation_type, min(day) as first_day,
               coalesce(sum(count) filter (where state = 'approved' and day >= ${period.from}::date), 0)::int as observed,
               coalesce(sum(count) filter (where state = 'approved' and day >= ${period.recentFrom}::date), 0)::int as recent
        from analytics_daily_counts
        where day <= ${period.to}::date
        group by 1, 2, 3
      ) a
      left join devices d on d.id = a.device_id`),
  );
  return rows.map((row) => ({
    deviceId: String(row['device_id']),
    cell: String(row['cell']),
    violationType: String(row['violation_type']),
    firstDay: String(row['first_day']),
    observed: Number(row['observed']),
    recent: Number(row['recent']),
    road: row['road'] === null ? null : String(row['road']),
    kind: row['kind'] === null ? null : String(row['kind']),
    latitude: row['latitude'] === null ? null : Number(row['latitude']),
    longitude: row['longitude'] === null ? null : Number(row['longitude']),
  }));
}

/** Reference groups, most specific first: same violation type, kind of device and road; then type and kind; then type. */
function groupsOf(violationType: string, kind: string | null, road: string | null): string[] {
  if (!kind) return [violationType];
  return [...(road ? [`${violationType}|${kind}|${road}`] : []), `${violationType}|${kind}`, violationType];
}

/** Approved counts per device, cell, violation type and day of the period, for the sites' daily series. */
async function dailyRows(db: Db, period: AnalysisPeriod) {
  return rowsOf<{ device_id: string; cell: string; violation_type: string; day: string; count: number }>(
    await db.execute(sql`
      select device_id, cell, violation_type, day::text, sum(count)::int as count
      from analytics_daily_counts
      where state = 'approved' and day between ${period.from}::date and ${period.to}::date
      group by 1, 2, 3, 4`),
  );
}

/** The sites of both scopes: H3 cells (every device in the cell together) and single devices. */
export async function loadSites(db: Db, period: AnalysisPeriod): Promise<{ cells: Site[]; devices: Site[] }> {
  const rows = (await deviceRows(db, period)).filter((row) => row.firstDay <= period.to);
  const exposure = (row: DeviceRow, from: string) => daysBetween(row.firstDay > from ? row.firstDay : from, period.to);
  const cells = new Map<string, DeviceRow[]>();
  const devices = new Map<string, DeviceRow[]>();
  for (const row of rows) {
    append(cells, `${row.cell}\u0000${row.violationType}`, row);
    append(devices, `${row.deviceId}\u0000${row.violationType}`, row);
  }
  // Each site's days start at its earliest device's first day (or the period's start).
  const periodDays = daysBetween(period.from, period.to);
  const cellDays = new Map<string, number[]>();
  const deviceDays = new Map<string, number[]>();
  for (const row of await dailyRows(db, period)) {
    const index = daysBetween(period.from, row.day) - 1;
    for (const [map, key] of [
      [cellDays, `${row.cell}\u0000${row.violation_type}`],
      [deviceDays, `${row.device_id}\u0000${row.violation_type}`],
    ] as const) {
      const days = map.get(key) ?? new Array<number>(periodDays).fill(0);
      days[index]! += Number(row.count);
      map.set(key, days);
    }
  }
  const toSite = (siteId: string, members: DeviceRow[], position: [number, number], days: number[] | undefined): Site => {
    // The busiest device names the site's road and kind, and so its reference group.
    const leading = [...members].sort((a, b) => b.observed - a.observed || a.deviceId.localeCompare(b.deviceId))[0]!;
    const firstDay = members.map((row) => row.firstDay).sort()[0]!;
    const watchedFrom = firstDay > period.from ? daysBetween(period.from, firstDay) - 1 : 0;
    return {
      siteId,
      violationType: leading.violationType,
      groups: groupsOf(leading.violationType, leading.kind, leading.road),
      observed: sum(members.map((row) => row.observed)),
      exposureDays: sum(members.map((row) => exposure(row, period.from))),
      recent: {
        observed: sum(members.map((row) => row.recent)),
        exposureDays: sum(members.map((row) => exposure(row, period.recentFrom))),
      },
      daily: (days ?? new Array<number>(periodDays).fill(0)).slice(watchedFrom),
      road: leading.road,
      kind: leading.kind,
      deviceIds: [...new Set(members.map((row) => row.deviceId))].sort(),
      latitude: position[0],
      longitude: position[1],
    };
  };
  return {
    cells: [...cells.entries()].map(([key, members]) =>
      toSite(members[0]!.cell, members, cellToLatLng(members[0]!.cell), cellDays.get(key)),
    ),
    devices: [...devices.entries()].map(([key, members]) => {
      const first = members[0]!;
      const position: [number, number] =
        first.latitude !== null && first.longitude !== null ? [first.latitude, first.longitude] : cellToLatLng(first.cell);
      return toSite(first.deviceId, members, position, deviceDays.get(key));
    }),
  };
}

/** Daily approved + excluded and excluded counts of every device over the anomaly window, which ends with the period. */
export async function loadDeviceSeries(
  db: Db,
  period: AnalysisPeriod,
  window: { baselineDays: number; watchDays: number },
): Promise<DeviceSeries[]> {
  const length = window.baselineDays + window.watchDays;
  const start = addDays(period.to, 1 - length);
  // A device's peers are devices of its kind catching the same main violation type (its most
  // frequent one): a parking camera is compared with parking cameras, not with speed radars.
  const firstDays = rowsOf<{ device_id: string; first_day: string; kind: string | null; road: string | null; violation_type: string }>(
    await db.execute(sql`
      with totals as (
        select device_id, violation_type, min(day) as first_day, sum(count) as n
        from analytics_daily_counts where day <= ${period.to}::date group by 1, 2
      ), main as (
        select distinct on (device_id) device_id, violation_type from totals order by device_id, n desc, violation_type
      )
      select f.device_id, f.first_day::text, d.kind::text, d.road, m.violation_type
      from (select device_id, min(first_day) as first_day from totals group by 1) f
      join main m on m.device_id = f.device_id
      left join devices d on d.id = f.device_id`),
  );
  const counts = rowsOf<{ device_id: string; day: string; total: number; excluded: number }>(
    await db.execute(sql`
      select device_id, day::text, sum(count)::int as total,
             coalesce(sum(count) filter (where state = 'excluded'), 0)::int as excluded
      from analytics_daily_counts
      where day between ${start}::date and ${period.to}::date
      group by 1, 2`),
  );
  const series = new Map<string, DeviceSeries & { total: number[]; excluded: number[] }>();
  for (const row of firstDays) {
    series.set(row.device_id, {
      deviceId: row.device_id,
      peerGroups: peerGroupsOf(row.kind ?? 'unknown', row.violation_type, row.road),
      firstDay: Math.max(0, daysBetween(start, row.first_day) - 1),
      total: new Array<number>(length).fill(0),
      excluded: new Array<number>(length).fill(0),
    });
  }
  for (const row of counts) {
    const device = series.get(row.device_id);
    const index = daysBetween(start, row.day) - 1;
    if (!device || index < 0 || index >= length) continue;
    device.total[index] = Number(row.total);
    device.excluded[index] = Number(row.excluded);
  }
  return [...series.values()];
}

/** Peer groups, most specific first: same kind, main violation type and road; then same kind and type. */
export function peerGroupsOf(kind: string, violationType: string, road: string | null): string[] {
  return [...(road ? [`${kind}|${violationType}|${road}`] : []), `${kind}|${violationType}`];
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
