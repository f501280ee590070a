import { and, asc, desc, eq, isNotNull, ne, sql } from 'drizzle-orm';
import type { Site } from './analytics-counts.js';
import type { Executor } from './client.js';
import {
  analyticsDailyCounts,
  analyticsRuns,
  analyticsWatermarks,
  deviceAnomalies,
  devices,
  hotspotResults,
  remediationCases,
} from './schema.js';

/**
 * Reads of the stored analysis results. Everything here comes from the aggregate and result
 * tables: nothing about a single capture can reach an analyst through these (law L7).
 */
export type Run = Awaited<ReturnType<typeof latestRun>>;
export type HotspotResult = typeof hotspotResults.$inferSelect;

/** The latest finished screening run, or null before the first. */
export async function latestRun(executor: Executor) {
  const [run] = await executor
    .select({
      id: analyticsRuns.id,
      startedAt: analyticsRuns.startedAt,
      finishedAt: analyticsRuns.finishedAt,
      periodFrom: analyticsRuns.periodFrom,
      periodTo: analyticsRuns.periodTo,
      settings: analyticsRuns.settings,
      summary: analyticsRuns.summary,
    })
    .from(analyticsRuns)
    .where(isNotNull(analyticsRuns.finishedAt))
    .orderBy(desc(analyticsRuns.finishedAt))
    .limit(1);
  return run ?? null;
}

/** The first local day with an approved capture counted, or null while there is none. */
export async function firstCountedDay(executor: Executor): Promise<string | null> {
  const [row] = await executor
    .select({ day: sql<string | null>`min(${analyticsDailyCounts.day})` })
    .from(analyticsDailyCounts)
    .where(eq(analyticsDailyCounts.state, 'approved'));
  return row?.day ?? null;
}

/**
 * South-west and north-east corners of the devices not revoked: device sites are public (the
 * public device list), and a map with no result on it yet still opens where the fleet is.
 */
export async function fleetBounds(executor: Executor): Promise<[[number, number], [number, number]] | null> {
  const [row] = await executor
    .select({
      south: sql<number | null>`min(${devices.latitude})`,
      west: sql<number | null>`min(${devices.longitude})`,
      north: sql<number | null>`max(${devices.latitude})`,
      east: sql<number | null>`max(${devices.longitude})`,
    })
    .from(devices)
    .where(ne(devices.status, 'revoked'));
  if (!row || row.south === null || row.west === null || row.north === null || row.east === null) return null;
  return [
    [row.south, row.west],
    [row.north, row.east],
  ];
}

export async function aggregationState(executor: Executor) {
  const [mark] = await executor.select().from(analyticsWatermarks).limit(1);
  return mark
    ? { auditSeq: mark.auditSeq, aggregatedAt: mark.aggregatedAt, h3Resolution: mark.h3Resolution, timeZone: mark.timeZone }
    : null;
}

export interface HotspotQuery {
  scope: 'cell' | 'device';
  violationType?: string | undefined;
  flagged?: boolean | undefined;
  limit: number;
  offset: number;
}

/** One page of a run's results by rank, each with the site's open remediation case, and how many match in all. */
export async function hotspotPage(
  executor: Executor,
  runId: string,
  query: HotspotQuery,
): Promise<{ total: number; rows: { result: HotspotResult; openCaseId: string | null }[] }> {
  const where = and(
    eq(hotspotResults.runId, runId),
    eq(hotspotResults.scope, query.scope),
    query.violationType ? eq(hotspotResults.violationType, query.violationType) : undefined,
    query.flagged === undefined ? undefined : eq(hotspotResults.flagged, query.flagged),
  );
  const total = await executor.$count(hotspotResults, where);
  const rows = await executor
    .select({ result: hotspotResults, openCaseId: remediationCases.id })
    .from(hotspotResults)
    .leftJoin(
      remediationCases,
      and(
        eq(remediationCases.scope, hotspotResults.scope),
        eq(remediationCases.siteId, hotspotResults.siteId),
        eq(remediationCases.violationType, hotspotResults.violationType),
        eq(remediationCases.status, 'open'),
      ),
    )
    .where(where)
    .orderBy(asc(hotspotResults.rank))
    .limit(query.limit)
    .offset(query.offset);
  return { total, rows };
}

/** The latest run's result for one site and violation type, or null. */
export async function siteResult(executor: Executor, runId: string, scope: 'cell' | 'device', siteId: string, violationType: string) {
  const [row] = await executor
    .select()
    .from(hotspotResults)
    .where(
      and(
        eq(hotspotResults.runId, runId),
        eq(hotspotResults.scope, scope),
        eq(hotspotResults.siteId, siteId),
        eq(hotspotResults.violationType, violationType),
      ),
    );
  return row ?? null;
}

/** A run's device findings by device, metric and basis, each with its device row, null when there is none. */
export async function anomalyFindings(executor: Executor, runId: string) {
  return executor
    .select({ finding: deviceAnomalies, device: devices })
    .from(deviceAnomalies)
    .leftJoin(devices, eq(devices.id, deviceAnomalies.deviceId))
    .where(eq(deviceAnomalies.runId, runId))
    .orderBy(asc(deviceAnomalies.deviceId), asc(deviceAnomalies.metric), asc(deviceAnomalies.basis));
}

/**
 * Sites of the same reference group in the run, without the treated site, without any site
 * that had an action of its own, and only ordinary ones: a flagged hotspot or a spike site
 * changes for its own reasons and would bend the trend the treated site is measured against.
 */
export async function comparisonSites(executor: Executor, runId: string, treated: HotspotResult): Promise<Site[]> {
  const [violationType, kind, road] = treated.referenceGroup.split('|');
  const rows = await executor
    .select({ siteId: hotspotResults.siteId })
    .from(hotspotResults)
    .where(
      and(
        eq(hotspotResults.runId, runId),
        eq(hotspotResults.scope, treated.scope),
        eq(hotspotResults.violationType, violationType ?? treated.violationType),
        kind === undefined ? undefined : eq(hotspotResults.kind, kind),
        road === undefined ? undefined : eq(hotspotResults.road, road),
        ne(hotspotResults.siteId, treated.siteId),
        eq(hotspotResults.category, 'ordinary'),
        sql`not exists (select 1 from remediation_cases c where c.scope = ${hotspotResults.scope} and c.site_id = ${hotspotResults.siteId}
                        and c.violation_type = ${hotspotResults.violationType} and c.action_date is not null)`,
      ),
    );
  return rows.map((row) => ({ scope: treated.scope, siteId: row.siteId }));
}
