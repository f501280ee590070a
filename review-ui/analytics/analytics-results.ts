import { cellToBoundary } from 'h3-js';
import { anomalyFindings, hotspotPage, latestRun, type HotspotQuery, type HotspotResult } from '../../db/analytics-results.js';
import type { Db } from '../../db/client.js';
import type { DeviceRow } from '../../db/devices.js';

/**
 * The stored analysis results as the analyst pages show them. Everything here comes from the
 * aggregate and result tables: nothing about a single capture can reach an analyst (law L7).
 */
export async function hotspots(db: Db, query: HotspotQuery) {
  const run = await latestRun(db);
  if (!run) return { run: null, total: 0, hotspots: [] };
  const { total, rows } = await hotspotPage(db, run.id, query);
  return { run, total, hotspots: rows.map(({ result, openCaseId }) => hotspotView(result, openCaseId)) };
}

export function hotspotView(result: HotspotResult, openCaseId: string | null) {
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

/** The latest run's device findings, flagged devices first, each device with its findings. */
export async function anomalyReport(db: Db, flagged: boolean | undefined) {
  const run = await latestRun(db);
  if (!run) return { run: null, groupChanges: [], devices: [] };
  const rows = await anomalyFindings(db, run.id);
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

function deviceEntry(deviceId: string, device: DeviceRow | null) {
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
