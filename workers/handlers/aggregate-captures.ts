import { sql, type SQL } from 'drizzle-orm';
import { latLngToCell } from 'h3-js';
import { addDays, consecutiveRuns, localDay, monthOf } from '../../core/domain/analytics-calendar.js';
import type { Config } from '../../core/domain/config.js';
import type { Logger } from '../../core/infrastructure/logger.js';
import type { Database, Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows.js';
import { analyticsLocations, analyticsWatermarks } from '../../db/schema.js';

/** Arbitrary but fixed: one aggregation (or screening) writes at a time, however many workers run. */
export const ANALYTICS_LOCK = 7_351_006;
const WATERMARK = 'captures';
/** States the analytics count: violations that became evidence, and captures set aside for a malfunction (law L4). */
const COUNTED_STATES = sql`('approved', 'excluded')`;

export interface AnalyticsJobDeps {
  database: Database;
  settings: Config['analytics'];
  log: Logger;
}

/** The part of a BullMQ job a handler reports progress through. */
export interface ProgressReporter {
  updateProgress(progress: number | object): Promise<void>;
}

export interface AggregationOutcome {
  mode: 'full' | 'incremental';
  auditSeq: number;
  days: number;
  months: number;
}

/**
 * Brings analytics_daily_counts and analytics_hourly_counts up to date with the captures.
 * Every capture state change writes an audit-log row naming the capture, so the days to
 * recount are those of the captures named by audit rows after the watermark (a capture
 * excluded months later, when a fault is found, recounts its own old day). The trailing
 * days are recounted on every run as well: review moves captures in and out of 'approved'
 * for days after capture, and recounting that busy stretch costs little while guarding
 * against any change that reached the captures without its audit row. A change of H3
 * resolution or time zone recounts everything.
 */
export async function aggregateCaptures(
  deps: AnalyticsJobDeps,
  progress: ProgressReporter = { updateProgress: async () => undefined },
  now = new Date(),
): Promise<AggregationOutcome> {
  const { db } = deps.database;
  const { h3Resolution, timeZone, trailingDays } = deps.settings;
  const log = deps.log.child({ job: 'aggregate-captures' });
  const [mark] = await db
    .select()
    .from(analyticsWatermarks)
    .where(sql`${analyticsWatermarks.name} = ${WATERMARK}`);
  const [head] = rowsOf<{ seq: string | null }>(await db.execute(sql`select max(seq)::text as seq from audit_log`));
  const auditSeq = Number(head?.seq ?? 0);
  const full = !mark || mark.h3Resolution !== h3Resolution || mark.timeZone !== timeZone;
  const days = full ? await allCountedDays(deps) : await touchedDays(deps, mark.auditSeq, auditSeq, now);
  if (!full) {
    const today = localDay(now, timeZone);
    for (let back = 0; back <= trailingDays; back++) days.add(addDays(today, -back));
  }
  if (full) {
    await db.transaction(async (tx) => {
      await lock(tx);
      await tx.execute(sql`truncate analytics_daily_counts, analytics_hourly_counts`);
    });
  }
  const byMonth = new Map<string, string[]>();
  for (const day of days) {
    const inMonth = byMonth.get(monthOf(day)) ?? [];
    inMonth.push(day);
    byMonth.set(monthOf(day), inMonth);
  }
  const months = [...byMonth.keys()].sort();
  log.info({ mode: full ? 'full' : 'incremental', days: days.size, months: months.length, auditSeq }, 'aggregating captures');
  for (const [index, month] of months.entries()) {
    await db.transaction(async (tx) => {
      await lock(tx);
      const runs = consecutiveRuns(byMonth.get(month)!);
      // Locations only for the touched days, though the whole month's hours are recounted: a
      // capture on an untouched day was counted on an earlier run, which located it then.
      for (const [from, to] of runs) await ensureLocations(tx, deps.settings, from, to);
      await recountHours(tx, deps.settings, month);
      for (const [from, to] of runs) await recountDays(tx, deps.settings, from, to);
    });
    const done = Math.round(((index + 1) / months.length) * 100);
    await progress.updateProgress({ stage: 'aggregate', month, done, of: months.length });
    log.info({ month, percent: done }, 'month aggregated');
  }
  await db
    .insert(analyticsWatermarks)
    .values({ name: WATERMARK, auditSeq, h3Resolution, timeZone, aggregatedAt: now })
    .onConflictDoUpdate({
      target: analyticsWatermarks.name,
      // A slower run that read an older head must not move the watermark back.
      set: { auditSeq: sql`greatest(${analyticsWatermarks.auditSeq}, excluded.audit_seq)`, h3Resolution, timeZone, aggregatedAt: now },
    });
  return { mode: full ? 'full' : 'incremental', auditSeq, days: days.size, months: months.length };
}

async function lock(tx: Tx): Promise<void> {
  // A month of a large network takes longer than the pool's statement timeout, which is sized for requests.
  await tx.execute(sql`set local statement_timeout = '15min'`);
  await tx.execute(sql`select pg_advisory_xact_lock(${ANALYTICS_LOCK})`);
}

/** Every local day from the first counted capture to the last. */
async function allCountedDays(deps: AnalyticsJobDeps): Promise<Set<string>> {
  // One min and one max per state, so each is a single probe of the (state, captured_at) index.
  const [range] = rowsOf<{ first: Date | string | null; last: Date | string | null }>(
    await deps.database.db.execute(sql`
      select least(
               (select min(captured_at) from captures where state = 'approved'),
               (select min(captured_at) from captures where state = 'excluded')) as first,
             greatest(
               (select max(captured_at) from captures where state = 'approved'),
               (select max(captured_at) from captures where state = 'excluded')) as last`),
  );
  if (!range?.first || !range.last) return new Set();
  const { timeZone } = deps.settings;
  const first = localDay(new Date(range.first), timeZone);
  const last = localDay(new Date(range.last), timeZone);
  const days = new Set<string>();
  for (let day = first; day <= last; day = addDays(day, 1)) days.add(day);
  return days;
}

/** Local days of the captures that audit rows after the watermark name. */
async function touchedDays(deps: AnalyticsJobDeps, afterSeq: number, upToSeq: number, now: Date): Promise<Set<string>> {
  if (upToSeq <= afterSeq) return new Set();
  const rows = rowsOf<{ day: string }>(
    await deps.database.db.execute(sql`
      select distinct (c.captured_at at time zone ${deps.settings.timeZone})::date::text as day
      from audit_log a
      join captures c on c.id = (case when a.subject_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                      then a.subject_id::uuid end)
      where a.seq > ${afterSeq} and a.seq <= ${upToSeq} and a.subject_type = 'capture' and c.captured_at is not null`),
  );
  // A device clock far in the future must not make the job recount days that have not happened.
  const today = localDay(now, deps.settings.timeZone);
  return new Set(rows.map((row) => row.day).filter((day) => day <= today));
}

/** The capture's own position, or its device's when it gave none, rounded to the location table's grid. */
const position = {
  latitude: sql`round(coalesce(c.latitude, d.latitude) * 1e5)::int`,
  longitude: sql`round(coalesce(c.longitude, d.longitude) * 1e5)::int`,
};

function capturesBetween(settings: AnalyticsJobDeps['settings'], from: string, to: string): SQL {
  return sql`c.state in ${COUNTED_STATES}
    and c.captured_at >= (${from}::date::timestamp at time zone ${settings.timeZone})
    and c.captured_at < (${addDays(to, 1)}::date::timestamp at time zone ${settings.timeZone})`;
}

/** Adds the H3 cell of every position among the days' captures that has none yet; h3 runs here, not in SQL. */
async function ensureLocations(tx: Tx, settings: AnalyticsJobDeps['settings'], from: string, to: string): Promise<void> {
  const missing = rowsOf<{ latitude: number; longitude: number }>(
    await tx.execute(sql`
      select distinct ${position.latitude} as latitude, ${position.longitude} as longitude
      from captures c left join devices d on d.id = c.device_id
      where ${capturesBetween(settings, from, to)}
        and coalesce(c.latitude, d.latitude) is not null
        and not exists (
          select 1 from analytics_locations l
          where l.h3_resolution = ${settings.h3Resolution}
            and l.latitude_e5 = ${position.latitude} and l.longitude_e5 = ${position.longitude})`),
  );
  for (let start = 0; start < missing.length; start += 5000) {
    const batch = missing.slice(start, start + 5000).map((row) => ({
      h3Resolution: settings.h3Resolution,
      latitudeE5: Number(row.latitude),
      longitudeE5: Number(row.longitude),
      cell: latLngToCell(Number(row.latitude) / 1e5, Number(row.longitude) / 1e5, settings.h3Resolution),
    }));
    await tx.insert(analyticsLocations).values(batch).onConflictDoNothing();
  }
}

const located = (settings: AnalyticsJobDeps['settings']) => sql`
  from captures c
  left join devices d on d.id = c.device_id
  join analytics_locations l on l.h3_resolution = ${settings.h3Resolution}
    and l.latitude_e5 = ${position.latitude} and l.longitude_e5 = ${position.longitude}`;

async function recountDays(tx: Tx, settings: AnalyticsJobDeps['settings'], from: string, to: string): Promise<void> {
  await tx.execute(sql`delete from analytics_daily_counts where day between ${from}::date and ${to}::date`);
  await tx.execute(sql`
    insert into analytics_daily_counts (day, device_id, cell, violation_type, state, count)
    select (c.captured_at at time zone ${settings.timeZone})::date, c.device_id, l.cell,
           coalesce(c.violation_type, 'unspecified'), c.state::text::analytics_count_state, count(*)
    ${located(settings)}
    where ${capturesBetween(settings, from, to)}
    group by 1, 2, 3, 4, 5`);
}

async function recountHours(tx: Tx, settings: AnalyticsJobDeps['settings'], month: string): Promise<void> {
  const last = addDays(monthOf(addDays(month, 31)), -1);
  await tx.execute(sql`delete from analytics_hourly_counts where month = ${month}::date`);
  await tx.execute(sql`
    insert into analytics_hourly_counts (month, device_id, cell, violation_type, state, hour_of_week, count)
    select ${month}::date, c.device_id, l.cell, coalesce(c.violation_type, 'unspecified'), c.state::text::analytics_count_state,
           ((extract(isodow from c.captured_at at time zone ${settings.timeZone}) - 1) * 24
             + extract(hour from c.captured_at at time zone ${settings.timeZone}))::smallint,
           count(*)
    ${located(settings)}
    where ${capturesBetween(settings, month, last)}
    group by 1, 2, 3, 4, 5, 6`);
}
