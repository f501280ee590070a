import { and, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import { daysBetween, eachDay, isoWeekday, monthOf } from '../core/domain/analytics-calendar.js';
import type { Db } from './client.js';
import { analyticsWatermarks, remediationCases } from './schema.js';

/** Daily and hourly counts for the analyst pages, read from the aggregate tables only. */
export interface Site {
  scope: 'cell' | 'device';
  siteId: string;
}

function rows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

function siteCondition(site: Site | null): SQL {
  if (!site) return sql`true`;
  return site.scope === 'cell' ? sql`cell = ${site.siteId}` : sql`device_id = ${site.siteId}`;
}

function typeCondition(violationType: string | undefined): SQL {
  return violationType ? sql`violation_type = ${violationType}` : sql`true`;
}

/** Whether the site has any counts at all. */
export async function siteExists(db: Db, site: Site): Promise<boolean> {
  const [row] = rows<{ found: boolean }>(
    await db.execute(sql`select exists (select 1 from analytics_daily_counts where ${siteCondition(site)}) as found`),
  );
  return row?.found === true;
}

/** One site's approved and excluded counts for every day of [from, to], with the remediation actions recorded there. */
export async function siteSeries(db: Db, site: Site, violationType: string | undefined, from: string, to: string) {
  const counted = rows<{ day: string; approved: number; excluded: number }>(
    await db.execute(sql`
      select day::text as day,
             coalesce(sum(count) filter (where state = 'approved'), 0)::int as approved,
             coalesce(sum(count) filter (where state = 'excluded'), 0)::int as excluded
      from analytics_daily_counts
      where day between ${from}::date and ${to}::date and ${siteCondition(site)} and ${typeCondition(violationType)}
      group by 1`),
  );
  const byDay = new Map(counted.map((row) => [row.day, row]));
  const cases = await db
    .select()
    .from(remediationCases)
    .where(
      and(
        eq(remediationCases.scope, site.scope),
        eq(remediationCases.siteId, site.siteId),
        isNotNull(remediationCases.actionDate),
        violationType ? eq(remediationCases.violationType, violationType) : undefined,
      ),
    );
  return {
    scope: site.scope,
    siteId: site.siteId,
    violationType: violationType ?? null,
    from,
    to,
    days: eachDay(from, to).map((day) => ({
      day,
      approved: Number(byDay.get(day)?.approved ?? 0),
      excluded: Number(byDay.get(day)?.excluded ?? 0),
    })),
    remediations: cases.map((entry) => ({
      caseId: entry.id,
      status: entry.status,
      suspectedCause: entry.suspectedCause,
      actionTaken: entry.actionTaken,
      actionDate: entry.actionDate,
    })),
  };
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

export interface BreakdownQuery {
  site: Site | null;
  violationType: string | undefined;
  state: 'approved' | 'excluded';
  from: string;
  to: string;
}

type Breakdown = Awaited<ReturnType<typeof countBreakdown>>;
const NETWORK_CACHE_SIZE = 64;
/**
 * The whole network's breakdowns read every hourly row (millions at scale, about a second)
 * and change only when aggregation runs, so they are kept per database until it runs again.
 */
const networkBreakdowns = new WeakMap<Db, Map<string, Breakdown>>();

/** When violations happen: weekday and type over exactly [from, to]; hours over the whole months it touches. */
export async function breakdown(db: Db, query: BreakdownQuery): Promise<Breakdown> {
  if (query.site) return countBreakdown(db, query);
  const [mark] = await db.select().from(analyticsWatermarks).limit(1);
  const key = JSON.stringify([mark?.auditSeq, mark?.aggregatedAt.getTime(), query]);
  const cache = networkBreakdowns.get(db) ?? new Map<string, Breakdown>();
  networkBreakdowns.set(db, cache);
  const cached = cache.get(key);
  if (cached) return cached;
  const fresh = await countBreakdown(db, query);
  if (cache.size >= NETWORK_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, fresh);
  return fresh;
}

async function countBreakdown(db: Db, query: BreakdownQuery) {
  const where = sql`${siteCondition(query.site)} and ${typeCondition(query.violationType)} and state = ${query.state}`;
  const daily = rows<{ day: string; violation_type: string; count: number }>(
    await db.execute(sql`
      select day::text as day, violation_type, sum(count)::int as count
      from analytics_daily_counts
      where day between ${query.from}::date and ${query.to}::date and ${where}
      group by 1, 2`),
  );
  const firstMonth = monthOf(query.from);
  const lastMonth = monthOf(query.to);
  const hourly = rows<{ hour_of_week: number; count: number }>(
    await db.execute(sql`
      select hour_of_week, sum(count)::int as count
      from analytics_hourly_counts
      where month between ${firstMonth}::date and ${lastMonth}::date and ${where}
      group by 1`),
  );
  const byWeekday = new Array<number>(7).fill(0);
  const byType = new Map<string, number>();
  for (const row of daily) {
    byWeekday[isoWeekday(row.day) - 1]! += Number(row.count);
    byType.set(row.violation_type, (byType.get(row.violation_type) ?? 0) + Number(row.count));
  }
  const byHourOfWeek = new Array<number>(168).fill(0);
  for (const row of hourly) byHourOfWeek[Number(row.hour_of_week)] = Number(row.count);
  return {
    scope: query.site?.scope ?? null,
    siteId: query.site?.siteId ?? null,
    violationType: query.violationType ?? null,
    state: query.state,
    from: query.from,
    to: query.to,
    total: byWeekday.reduce((sum, count) => sum + count, 0),
    byWeekday: byWeekday.map((count, index) => ({ weekday: index + 1, name: WEEKDAYS[index]!, count })),
    byViolationType: [...byType].sort((a, b) => b[1] - a[1]).map(([violationType, count]) => ({ violationType, count })),
    hourMonths: { from: firstMonth.slice(0, 7), to: lastMonth.slice(0, 7) },
    byHour: Array.from({ length: 24 }, (_, hour) => ({
      hour,
      count: [0, 1, 2, 3, 4, 5, 6].reduce((sum, day) => sum + byHourOfWeek[day * 24 + hour]!, 0),
    })),
    byHourOfWeek: byHourOfWeek.map((count, index) => ({ weekday: Math.floor(index / 24) + 1, hour: index % 24, count })),
  };
}

/** Counts and device-days of sites over [from, to]; a device is watched from its first counted day on. */
export async function siteTotals(db: Db, sites: readonly Site[], violationType: string, from: string, to: string) {
  if (sites.length === 0 || to < from) return { events: 0, exposureDays: 0 };
  const cells = sites.filter((site) => site.scope === 'cell').map((site) => site.siteId);
  const deviceIds = sites.filter((site) => site.scope === 'device').map((site) => site.siteId);
  const member = sql`(cell = any(${sql.param(cells)}::text[]) or device_id = any(${sql.param(deviceIds)}::text[]))`;
  const [events] = rows<{ events: number }>(
    await db.execute(sql`
      select coalesce(sum(count), 0)::int as events from analytics_daily_counts
      where state = 'approved' and violation_type = ${violationType} and day between ${from}::date and ${to}::date and ${member}`),
  );
  const starts = rows<{ first_day: string }>(
    await db.execute(sql`
      select min(day)::text as first_day from analytics_daily_counts
      where violation_type = ${violationType} and ${member}
      group by device_id, cell`),
  );
  const exposureDays = starts.reduce((sum, row) => {
    const start = row.first_day > from ? row.first_day : from;
    return sum + daysBetween(start, to);
  }, 0);
  return { events: Number(events?.events ?? 0), exposureDays };
}

/** The same as siteTotals, for each site apart (keyed `scope:siteId`): what a comparison group's scatter is estimated from. */
export async function eachSiteTotals(db: Db, sites: readonly Site[], violationType: string, from: string, to: string) {
  const totals = new Map(sites.map((site) => [`${site.scope}:${site.siteId}`, { events: 0, exposureDays: 0 }]));
  if (sites.length === 0 || to < from) return totals;
  const cells = sites.filter((site) => site.scope === 'cell').map((site) => site.siteId);
  const deviceIds = sites.filter((site) => site.scope === 'device').map((site) => site.siteId);
  const member = sql`(cell = any(${sql.param(cells)}::text[]) or device_id = any(${sql.param(deviceIds)}::text[]))`;
  const found = rows<{ device_id: string; cell: string; first_day: string; events: number }>(
    await db.execute(sql`
      select device_id, cell, min(day)::text as first_day,
             coalesce(sum(count) filter (where state = 'approved' and day between ${from}::date and ${to}::date), 0)::int as events
      from analytics_daily_counts
      where violation_type = ${violationType} and ${member}
      group by device_id, cell`),
  );
  const cellSet = new Set(cells);
  const deviceSet = new Set(deviceIds);
  for (const row of found) {
    const start = row.first_day > from ? row.first_day : from;
    const days = start <= to ? daysBetween(start, to) : 0;
    for (const key of [
      cellSet.has(row.cell) ? `cell:${row.cell}` : null,
      deviceSet.has(row.device_id) ? `device:${row.device_id}` : null,
    ]) {
      const entry = key === null ? undefined : totals.get(key);
      if (!entry) continue;
      entry.events += Number(row.events);
      entry.exposureDays += days;
    }
  }
  return totals;
}
