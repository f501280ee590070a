import { desc, inArray, isNotNull, sql } from 'drizzle-orm';
import { gridDisk } from 'h3-js';
import { deviceAnomalies, type AnomalyFinding } from '../../core/domain/analytics-anomaly.js';
import { addDays, analysisPeriod } from '../../core/domain/analytics-calendar.js';
import { getisOrdGiStar, screenSites, type SiteScreening } from '../../core/domain/analytics-screening.js';
import type { Tx } from '../../db/client.js';
import { analyticsRuns, deviceAnomalies as deviceAnomaliesTable, hotspotResults } from '../../db/schema.js';
import { ANALYTICS_LOCK, type AnalyticsJobDeps, type ProgressReporter } from './aggregate-captures.js';
import { loadDeviceSeries, loadSites, type Site } from './screen-hotspots-data.js';

export interface ScreeningOutcome {
  runId: string;
  sites: number;
  flagged: number;
  devices: number;
  devicesFlagged: number;
}

const BATCH = 1000;

/**
 * Screens every cell and every device for hotspots and every device for anomalies, from the
 * aggregate tables only, and stores the results as one run so the API serves them at once.
 * Older runs beyond `keepRuns` are deleted with their results.
 */
export async function screenHotspots(
  deps: AnalyticsJobDeps,
  progress: ProgressReporter = { updateProgress: async () => undefined },
  now = new Date(),
): Promise<ScreeningOutcome> {
  const { settings } = deps;
  const { db } = deps.database;
  const log = deps.log.child({ job: 'screen-hotspots' });
  const startedAt = new Date();
  const period = analysisPeriod(now, settings);
  const { cells, devices } = await loadSites(db, period);
  await progress.updateProgress({ stage: 'loaded', cells: cells.length, devices: devices.length });
  log.info({ period, cells: cells.length, deviceSites: devices.length }, 'sites loaded');
  const screening = { fdr: settings.fdr, minCount: settings.minCount, minGroupSites: settings.minGroupSites };
  const cellResults = screenSites(cells, screening);
  const deviceResults = screenSites(devices, screening);
  const giStar = clusterScores(cells);
  await progress.updateProgress({ stage: 'screened', flagged: [...cellResults, ...deviceResults].filter((r) => r.flagged).length });
  const anomalySettings = { ...settings.anomaly, fdr: settings.fdr, minCount: settings.minCount, minGroupSites: settings.minGroupSites };
  const series = await loadDeviceSeries(db, period, anomalySettings);
  const { findings: anomalies, groupChanges } = deviceAnomalies(series, anomalySettings);
  await progress.updateProgress({ stage: 'anomalies', devices: series.length });
  const summary = {
    sites: cellResults.length,
    flagged: cellResults.filter((r) => r.flagged).length,
    deviceSites: deviceResults.length,
    deviceSitesFlagged: deviceResults.filter((r) => r.flagged).length,
    devices: series.length,
    devicesFlagged: new Set(anomalies.filter((a) => a.flagged).map((a) => a.deviceId)).size,
    spikeSites: cellResults.filter((r) => r.category === 'spike').length,
    // A shift most devices of a peer group share: the road changed, not its devices.
    groupChanges: groupChanges.map((change) => ({ ...change, changeDay: dayOfSeries(period.to, settings.anomaly, change.changeDay) })),
  };
  const runId = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${ANALYTICS_LOCK})`);
    const [run] = await tx
      .insert(analyticsRuns)
      .values({
        startedAt,
        finishedAt: new Date(),
        periodFrom: period.from,
        periodTo: period.to,
        settings: runSettings(deps.settings),
        summary,
      })
      .returning({ id: analyticsRuns.id });
    if (!run) throw new Error('analytics run insert returned nothing');
    await writeHotspots(tx, run.id, 'cell', cells, cellResults, giStar, period.to);
    await writeHotspots(tx, run.id, 'device', devices, deviceResults, new Map(), period.to);
    await writeAnomalies(tx, run.id, anomalies, period.to, settings.anomaly);
    const kept = await tx
      .select({ id: analyticsRuns.id })
      .from(analyticsRuns)
      .where(isNotNull(analyticsRuns.finishedAt))
      .orderBy(desc(analyticsRuns.finishedAt))
      .offset(settings.keepRuns);
    if (kept.length > 0) {
      await tx.delete(analyticsRuns).where(
        inArray(
          analyticsRuns.id,
          kept.map((row) => row.id),
        ),
      );
    }
    return run.id;
  });
  await progress.updateProgress({ stage: 'stored', runId });
  log.info({ runId, ...summary }, 'hotspot screening stored');
  return { runId, sites: summary.sites, flagged: summary.flagged, devices: summary.devices, devicesFlagged: summary.devicesFlagged };
}

/** The settings a run used, kept with it so a report can say how it was made. */
function runSettings(settings: AnalyticsJobDeps['settings']) {
  return {
    h3Resolution: settings.h3Resolution,
    timeZone: settings.timeZone,
    screenDays: settings.screenDays,
    settleDays: settings.settleDays,
    trendRecentDays: settings.trendRecentDays,
    fdr: settings.fdr,
    minCount: settings.minCount,
    minGroupSites: settings.minGroupSites,
    kAnonymity: settings.kAnonymity,
    anomaly: settings.anomaly,
  };
}

/** Gi* of each cell's rate per device-day among the cells with the same violation type. */
function clusterScores(cells: readonly Site[]): Map<string, number | null> {
  const scores = new Map<string, number | null>();
  const byType = new Map<string, Map<string, number>>();
  for (const cell of cells) {
    if (cell.exposureDays <= 0) continue;
    const values = byType.get(cell.violationType) ?? new Map<string, number>();
    values.set(cell.siteId, cell.observed / cell.exposureDays);
    byType.set(cell.violationType, values);
  }
  for (const [violationType, values] of byType) {
    for (const [cell, score] of getisOrdGiStar(values, (id) => gridDisk(id, 1))) scores.set(`${cell}\u0000${violationType}`, score);
  }
  return scores;
}

async function writeHotspots(
  tx: Tx,
  runId: string,
  scope: 'cell' | 'device',
  sites: readonly Site[],
  results: readonly SiteScreening[],
  giStar: ReadonlyMap<string, number | null>,
  periodTo: string,
): Promise<void> {
  const siteOf = new Map(sites.map((site) => [`${site.siteId}\u0000${site.violationType}`, site]));
  const rows = results.map((result) => {
    const key = `${result.siteId}\u0000${result.violationType}`;
    const site = siteOf.get(key)!;
    return {
      runId,
      scope,
      siteId: result.siteId,
      violationType: result.violationType,
      rank: result.rank,
      road: site.road,
      kind: site.kind,
      deviceIds: site.deviceIds,
      latitude: site.latitude,
      longitude: site.longitude,
      referenceGroup: result.referenceGroup,
      category: result.category,
      observed: result.observed,
      sustained: result.sustained,
      spikeDays: result.spikeDays.map((spike) => ({
        // A site's days end with the period's last day.
        day: addDays(periodTo, spike.index - (site.daily.length - 1)),
        observed: spike.observed,
        expected: spike.expected,
      })),
      priorDispersion: result.priorDispersion,
      dispersionIndex: result.dispersionIndex,
      exposureDays: result.exposureDays,
      predicted: result.predicted,
      dispersion: result.dispersion,
      ebWeight: result.ebWeight,
      ebExpected: result.ebExpected,
      ebLow: result.ebInterval[0],
      ebHigh: result.ebInterval[1],
      excess: result.excess,
      pValue: result.pValue,
      qValue: result.qValue,
      flagged: result.flagged,
      recentPerDay: result.trend?.recentPerDay ?? null,
      baselinePerDay: result.trend?.baselinePerDay ?? null,
      trendRatio: result.trend?.rateRatio ?? null,
      trendLow: result.trend?.interval[0] ?? null,
      trendHigh: result.trend?.interval[1] ?? null,
      giStar: giStar.get(key) ?? null,
    };
  });
  for (let start = 0; start < rows.length; start += BATCH) await tx.insert(hotspotResults).values(rows.slice(start, start + BATCH));
}

async function writeAnomalies(
  tx: Tx,
  runId: string,
  findings: readonly AnomalyFinding[],
  periodTo: string,
  window: { baselineDays: number; watchDays: number },
): Promise<void> {
  const start = anomalyWindowStart(periodTo, window);
  const dayOf = (index: string | number | boolean | null | undefined) => (typeof index === 'number' ? addDays(start, index) : null);
  const rows = findings.map((finding) => ({
    runId,
    deviceId: finding.deviceId,
    metric: finding.metric,
    basis: finding.basis,
    observed: finding.observed,
    expected: finding.expected,
    rateRatio: finding.rateRatio,
    ciLow: finding.interval?.[0] ?? null,
    ciHigh: finding.interval?.[1] ?? null,
    statistic: finding.statistic,
    pValue: finding.pValue,
    qValue: finding.qValue,
    flagged: finding.flagged,
    detail: {
      ...finding.detail,
      windowFrom: addDays(start, window.baselineDays),
      windowTo: periodTo,
      ...(finding.basis === 'own_history'
        ? { alarmDay: dayOf(finding.detail['alarmDay']), changeDay: dayOf(finding.detail['changeDay']) }
        : {}),
    },
  }));
  for (let offset = 0; offset < rows.length; offset += BATCH)
    await tx.insert(deviceAnomaliesTable).values(rows.slice(offset, offset + BATCH));
}

/** Series indexes count days from the anomaly window's start; the tables name the days. */
function anomalyWindowStart(periodTo: string, window: { baselineDays: number; watchDays: number }): string {
  return addDays(periodTo, 1 - (window.baselineDays + window.watchDays));
}

function dayOfSeries(periodTo: string, window: { baselineDays: number; watchDays: number }, index: number | null): string | null {
  return index === null ? null : addDays(anomalyWindowStart(periodTo, window), index);
}
