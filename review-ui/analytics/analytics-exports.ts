import { suppressionNote, suppressSmallCounts, toCsv, type CsvValue } from '../../core/domain/analytics-export.js';
import { appendAudit } from '../../db/audit-log.js';
import type { Db } from '../../db/client.js';
import { breakdown, type BreakdownQuery } from '../../db/analytics-counts.js';
import { anomalyReport, hotspots } from './analytics-results.js';
import { latestRun, type HotspotQuery } from '../../db/analytics-results.js';
import { listCases } from '../../db/remediation-cases.js';

/**
 * What leaves the analyst's screen: CSV exports and the printable report. Rows with fewer
 * than k events are left out and the omission is stated (law L7); every export is audited.
 */
export interface Export {
  body: string;
  rows: number;
  suppressed: number;
}

const HOTSPOT_COLUMNS = [
  'rank',
  'scope',
  'site_id',
  'violation_type',
  'road',
  'kind',
  'latitude',
  'longitude',
  'observed',
  'exposure_days',
  'predicted',
  'eb_expected',
  'eb_low',
  'eb_high',
  'excess',
  'p_value',
  'q_value',
  'flagged',
  'trend_ratio',
  'trend_low',
  'trend_high',
  'period_from',
  'period_to',
];

export async function hotspotsCsv(db: Db, query: Omit<HotspotQuery, 'limit' | 'offset'>, k: number): Promise<Export> {
  const { run, hotspots: list } = await hotspots(db, { ...query, limit: 1_000_000, offset: 0 });
  const { kept, suppressed } = suppressSmallCounts(list, (row) => row.observed, k);
  const rows: CsvValue[][] = kept.map((row) => [
    row.rank,
    row.scope,
    row.siteId,
    row.violationType,
    row.road,
    row.kind,
    row.centre.latitude,
    row.centre.longitude,
    row.observed,
    row.exposureDays,
    row.predicted,
    row.ebExpected,
    row.ebInterval[0],
    row.ebInterval[1],
    row.excess,
    row.pValue,
    row.qValue,
    row.flagged,
    row.trend?.rateRatio ?? null,
    row.trend?.interval[0] ?? null,
    row.trend?.interval[1] ?? null,
    run?.periodFrom ?? null,
    run?.periodTo ?? null,
  ]);
  const note = suppressed > 0 ? suppressionNote(suppressed, list.length, k) : undefined;
  return { body: toCsv(HOTSPOT_COLUMNS, rows, note), rows: kept.length, suppressed };
}

export async function breakdownCsv(db: Db, query: BreakdownQuery, k: number): Promise<Export> {
  const result = await breakdown(db, query);
  const months = [`${result.hourMonths.from}`, `${result.hourMonths.to}`] as const;
  const all: { dimension: string; key: string; count: number; from: string; to: string }[] = [
    ...result.byHour.map((row) => ({ dimension: 'hour', key: String(row.hour), count: row.count, from: months[0], to: months[1] })),
    ...result.byWeekday.map((row) => ({
      dimension: 'weekday',
      key: String(row.weekday),
      count: row.count,
      from: query.from,
      to: query.to,
    })),
    ...result.byHourOfWeek.map((row) => ({
      dimension: 'hour_of_week',
      key: `${row.weekday}-${String(row.hour).padStart(2, '0')}`,
      count: row.count,
      from: months[0],
      to: months[1],
    })),
    ...result.byViolationType.map((row) => ({
      dimension: 'violation_type',
      key: row.violationType,
      count: row.count,
      from: query.from,
      to: query.to,
    })),
  ];
  const { kept, suppressed } = suppressSmallCounts(all, (row) => row.count, k);
  const note = suppressed > 0 ? suppressionNote(suppressed, all.length, k) : undefined;
  return {
    body: toCsv(
      ['dimension', 'key', 'count', 'from', 'to'],
      kept.map((row) => [row.dimension, row.key, row.count, row.from, row.to]),
      note,
    ),
    rows: kept.length,
    suppressed,
  };
}

/** Records an export in the audit log: who, what, and how much was held back. */
export async function auditExport(
  db: Db,
  actor: string,
  what: string,
  filters: Record<string, unknown>,
  result: { rows: number; suppressed: number },
) {
  const run = await latestRun(db);
  await db.transaction((tx) =>
    appendAudit(tx, {
      actor,
      action: 'analytics.exported',
      subjectType: 'analytics_run',
      subjectId: run?.id ?? 'none',
      details: { what, filters, rows: result.rows, suppressed: result.suppressed },
    }),
  );
}

const escape = (value: string | number | null | undefined) =>
  String(value ?? '').replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
const number = (value: number | null | undefined, digits = 1) => (value === null || value === undefined ? '—' : value.toFixed(digits));
const probability = (value: number) => (value < 1e-4 ? value.toExponential(1) : value.toFixed(4));

/** The periodic analysis the law requires, as one self-contained printable page. */
export async function reportHtml(
  db: Db,
  query: { scope: 'cell' | 'device'; violationType?: string | undefined },
  k: number,
): Promise<Export> {
  const run = await latestRun(db);
  const { hotspots: list } = await hotspots(db, { ...query, limit: 1_000_000, offset: 0 });
  const flagged = list.filter((row) => row.flagged);
  const { kept, suppressed } = suppressSmallCounts(flagged, (row) => row.observed, k);
  const anomalies = (await anomalyReport(db, true)).devices;
  const cases = await listCases(db, undefined);
  const settings = (run?.settings ?? {}) as { fdr?: number; minCount?: number };
  const rows = kept
    .map(
      (row) => `<tr><td>${row.rank}</td><td>${escape(row.siteId)}</td><td>${escape(row.violationType)}</td><td>${escape(row.road)}</td>
<td class="n">${row.observed}</td><td class="n">${number(row.predicted)}</td><td class="n">${number(row.ebExpected)} (${number(row.ebInterval[0])}–${number(row.ebInterval[1])})</td>
<td class="n">${number(row.excess)}</td><td class="n">${probability(row.qValue)}</td>
<td class="n">${row.trend ? `${number(row.trend.rateRatio, 2)} (${number(row.trend.interval[0], 2)}–${number(row.trend.interval[1], 2)})` : '—'}</td>
<td>${row.openCaseId ? 'open case' : ''}</td></tr>`,
    )
    .join('\n');
  const deviceRows = anomalies
    .map((device) => {
      const findings = device.findings
        .filter((finding) => finding.flagged)
        .map((finding) => `${finding.metric.replace('_', ' ')} vs ${finding.basis.replace('_', ' ')}: ×${number(finding.rateRatio, 1)}`)
        .join('; ');
      return `<tr><td>${escape(device.deviceId)}</td><td>${escape(device.road)}</td><td>${escape(findings)}</td></tr>`;
    })
    .join('\n');
  const caseRows = cases
    .map(
      (
        entry,
      ) => `<tr><td>${escape(entry.siteId)}</td><td>${escape(entry.violationType)}</td><td>${escape(entry.suspectedCause.replace('_', ' '))}</td>
<td>${escape(entry.actionTaken ?? '')}</td><td>${escape(entry.actionDate ?? '')}</td><td>${escape(entry.status)}</td><td>${escape(entry.closingReason ?? '')}</td></tr>`,
    )
    .join('\n');
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verity periodic hotspot analysis</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/analytics-report.css"></head><body>
<h1>Periodic hotspot analysis</h1>
<p>${run ? `Screening period ${escape(run.periodFrom)} to ${escape(run.periodTo)}, run finished ${escape(run.finishedAt?.toISOString())}.` : 'No screening run yet.'}
Scope: ${escape(query.scope)}${query.violationType ? `, violation type ${escape(query.violationType)}` : ''}.
Method: Empirical Bayes screening against comparable sites, negative binomial tail probabilities, Benjamini–Hochberg at a false discovery rate of ${escape(settings.fdr)}, at least ${escape(settings.minCount)} events (docs/analytics.md).</p>
<h2>Hotspots (${kept.length})</h2>
${suppressed > 0 ? `<p>${escape(suppressionNote(suppressed, flagged.length, k))}.</p>` : ''}
<table><thead><tr><th>Rank</th><th>Site</th><th>Type</th><th>Road</th><th>Observed</th><th>Predicted</th><th>EB expected (95%)</th><th>Excess</th><th>q</th><th>Trend (95%)</th><th>Case</th></tr></thead>
<tbody>${rows || '<tr><td colspan="11">No site flagged.</td></tr>'}</tbody></table>
<h2>Devices with abnormal capture or exclusion rates (${anomalies.length})</h2>
<table><thead><tr><th>Device</th><th>Road</th><th>Findings</th></tr></thead>
<tbody>${deviceRows || '<tr><td colspan="3">None.</td></tr>'}</tbody></table>
<h2>Remediation cases (${cases.length})</h2>
<table><thead><tr><th>Site</th><th>Type</th><th>Suspected cause</th><th>Action</th><th>Action date</th><th>Status</th><th>Closing reason</th></tr></thead>
<tbody>${caseRows || '<tr><td colspan="7">None.</td></tr>'}</tbody></table>
<p>Counts are of approved captures; sites with fewer than ${k} events are not listed.</p>
</body></html>
`;
  return { body, rows: kept.length, suppressed };
}
