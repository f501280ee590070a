import { and, asc, desc, eq, isNotNull } from 'drizzle-orm';
import { cellToBoundary } from 'h3-js';
import type { Db } from '../../db/client.js';
import { analyticsRuns, analyticsWatermarks, deviceAnomalies, devices, hotspotResults, remediationCases } from '../../db/schema.js';

/**
 * Reads of the stored analysis results. Everything here comes from the aggregate and result
 * tables: nothing about a single capture can reach an analyst through these (law L7).
 */
export type Run = Awaited<ReturnType<typeof latestRun>>;

/** The latest finished screening run, or null before the first. */
export async function latestRun(db: Db) {
  const [run] = await db
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

export async function aggregationState(db: Db) {
  const [mark] = await db.select().from(analyticsWatermarks).limit(1);
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

export async function hotspots(db: Db, query: HotspotQuery) {
  const run = await latestRun(db);
  if (!run) return { run: null, total: 0, hotspots: [] };
  const where = and(
    eq(hotspotResults.runId, run.id),
    eq(hotspotResults.scope, query.scope),
    query.violationType ? eq(hotspotResults.violationType, query.violationType) : undefined,
    query.flagged === undefined ? undefined : eq(hotspotResults.flagged, query.flagged),
  );
  const total = await db.$count(hotspotResults, where);
  const rows = await db
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
  return { run, total, hotspots: rows.map(({ result, openCaseId }) => hotspotView(result, openCaseId)) };
}

export function hotspotView(result: typeof hotspotResults.$inferSelect, openCaseId: string | null) {
  return {
    rank: result.rank,
    scope: result.scope,
    siteId: result.siteId,
    violationType: result.violationType,
    road: result.road,
    kind: result.kind,
    deviceIds: result.deviceIds,
    category: result.category,
    observed: result.observed,
    sustained: result.sustained,
    spikeDays: result.spikeDays,
    exposureDays: result.exposureDays,
    predicted: result.predicted,
    dispersion: result.dispersion,
    priorDispersion: result.priorDispersion,
    dispersionIndex: result.dispersionIndex,
    ebWeight: result.ebWeight,
    ebExpected: result.ebExpected,
    ebInterval: [result.ebLow, result.ebHigh] as [number, number],
    excess: result.excess,
    pValue: result.pValue,
    qValue: result.qValue,
    flagged: result.flagged,
    trend:
      result.recentPerDay === null || result.baselinePerDay === null
        ? null
        : {
            recentPerDay: result.recentPerDay,
            baselinePerDay: result.baselinePerDay,
            rateRatio: result.trendRatio,
            interval: [result.trendLow, result.trendHigh] as [number | null, number | null],
          },
    giStar: result.giStar,
    centre: { latitude: result.latitude, longitude: result.longitude },
    boundary: result.scope === 'cell' ? cellToBoundary(result.siteId) : null,
    openCaseId,
  };
}

/** The latest run's result for one site and violation type, or null. */
export async function siteResult(db: Db, runId: string, scope: 'cell' | 'device', siteId: string, violationType: string) {
  const [row] = await db
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

/** The latest run's device findings, flagged devices first, each device with its findings. */
export async function anomalyReport(db: Db, flagged: boolean | undefined) {
  const run = await latestRun(db);
  if (!run) return { run: null, groupChanges: [], devices: [] };
  const rows = await db
    .select({ finding: deviceAnomalies, device: devices })
    .from(deviceAnomalies)
    .leftJoin(devices, eq(devices.id, deviceAnomalies.deviceId))
    .where(eq(deviceAnomalies.runId, run.id))
    .orderBy(asc(deviceAnomalies.deviceId), asc(deviceAnomalies.metric), asc(deviceAnomalies.basis));
  const byDevice = new Map<string, ReturnType<typeof deviceEntry>>();
  for (const { finding, device } of rows) {
    const entry = byDevice.get(finding.deviceId) ?? deviceEntry(finding.deviceId, device);
    entry.findings.push({
      metric: finding.metric,
      basis: finding.basis,
      observed: finding.observed,
      expected: finding.expected,
      rateRatio: finding.rateRatio,
      interval: finding.ciLow === null ? null : [finding.ciLow, finding.ciHigh],
      statistic: finding.statistic,
      pValue: finding.pValue,
      qValue: finding.qValue,
      flagged: finding.flagged,
      detail: finding.detail,
    });
    entry.flagged ||= finding.flagged;
    byDevice.set(finding.deviceId, entry);
  }
  const list = [...byDevice.values()]
    .filter((entry) => flagged === undefined || entry.flagged === flagged)
    .sort((a, b) => Number(b.flagged) - Number(a.flagged) || a.deviceId.localeCompare(b.deviceId));
  const summary = run.summary as { groupChanges?: unknown[] } | null;
  return { run, groupChanges: summary?.groupChanges ?? [], devices: list };
}

function deviceEntry(deviceId: string, device: typeof devices.$inferSelect | null) {
  return {
    deviceId,
    kind: device?.kind ?? null,
    road: device?.road ?? null,
    direction: device?.direction ?? null,
    latitude: device?.latitude ?? null,
    longitude: device?.longitude ?? null,
    flagged: false,
    findings: [] as {
      metric: string;
      basis: string;
      observed: number;
      expected: number;
      rateRatio: number | null;
      interval: [number, number | null] | null;
      statistic: number;
      pValue: number;
      qValue: number | null;
      flagged: boolean;
      detail: unknown;
    }[],
  };
}
