import jstat from 'jstat';
import { percentile } from './run-model.js';

/** The soak's arithmetic, kept apart from its processes so it can be unit tested: counts, latency, RSS trend, report. */

export type ServiceName = 'redis' | 'postgres';

export interface OutagePlan {
  service: ServiceName;
  /** Seconds after the fleet starts publishing. */
  atSeconds: number;
  seconds: number;
}

export interface RssSample {
  role: string;
  /** Milliseconds since the fleet started publishing. */
  atMs: number;
  rssBytes: number;
}

export interface RssTrend {
  role: string;
  samples: number;
  /** Least-squares slope of RSS over the samples after warm-up, with its 95% interval. */
  slopeMbPerMinute: number;
  slope95: [number, number];
  firstMb: number;
  lastMb: number;
  maxMb: number;
}

const MB = 1024 * 1024;
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** RSS trend of one role between `fromMs` (the end of warm-up) and `untilMs` (the end of the load). */
export function rssTrend(samples: readonly RssSample[], role: string, fromMs: number, untilMs: number): RssTrend | undefined {
  const kept = samples.filter((sample) => sample.role === role && sample.atMs >= fromMs && sample.atMs <= untilMs);
  if (kept.length < 3) return undefined;
  const minutes = kept.map((sample) => sample.atMs / 60_000);
  const megabytes = kept.map((sample) => sample.rssBytes / MB);
  const fit = jstat.jStat.models.ols(
    megabytes,
    minutes.map((minute) => [1, minute]),
  );
  const interval = fit.t.interval95[1] ?? [Number.NaN, Number.NaN];
  return {
    role,
    samples: kept.length,
    slopeMbPerMinute: round(fit.coef[1] ?? Number.NaN, 3),
    slope95: [round(interval[0], 3), round(interval[1], 3)],
    firstMb: round(megabytes[0]!, 1),
    lastMb: round(megabytes.at(-1)!, 1),
    maxMb: round(Math.max(...megabytes), 1),
  };
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summariseLatency(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: Math.round(percentile(sorted, 50)),
    p95: Math.round(percentile(sorted, 95)),
    p99: Math.round(percentile(sorted, 99)),
    max: Math.round(sorted.at(-1) ?? Number.NaN),
  };
}

export interface StoredCapture {
  deviceId: string;
  deviceCaptureId: string;
  state: string;
  /** When the gateway committed the capture's outcome (verified or quarantined), if it has. */
  settledAt: Date | undefined;
  quarantineCodes: string[];
}

export interface SoakCounts {
  /** Distinct captures whose envelope reached the broker. */
  published: number;
  accepted: number;
  quarantined: number;
  /** Published, not yet accepted or quarantined: no row yet, or a row still waiting for its media. */
  inFlight: number;
  /** Published with no row at all (only meaningful once the fleet has stopped and the backlog drained). */
  lost: number;
  /** More than one row for one device capture id. */
  duplicated: number;
  /** Rows for capture ids that were never seen published. */
  unexpected: number;
  reachedReview: number;
  quarantineReasons: Record<string, number>;
}

/** Where every published capture stands, from the database rows alone (never from acknowledgement payloads). */
export function countCaptures(published: ReadonlySet<string>, rows: readonly StoredCapture[]): SoakCounts {
  const byId = new Map<string, StoredCapture[]>();
  for (const row of rows) {
    const key = `${row.deviceId}/${row.deviceCaptureId}`;
    byId.set(key, [...(byId.get(key) ?? []), row]);
  }
  const counts: SoakCounts = {
    published: published.size,
    accepted: 0,
    quarantined: 0,
    inFlight: 0,
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    reachedReview: 0,
    quarantineReasons: {},
  };
  for (const [key, found] of byId) {
    if (found.length > 1) counts.duplicated += found.length - 1;
    if (!published.has(key)) counts.unexpected++;
  }
  for (const key of published) {
    const row = byId.get(key)?.[0];
    if (!row) {
      counts.lost++;
      counts.inFlight++;
    } else if (row.state === 'received') {
      counts.inFlight++;
    } else if (row.state === 'quarantined') {
      counts.quarantined++;
      for (const code of row.quarantineCodes) counts.quarantineReasons[code] = (counts.quarantineReasons[code] ?? 0) + 1;
    } else {
      counts.accepted++;
      if (row.state === 'awaiting_review') counts.reachedReview++;
    }
  }
  return counts;
}

/** Milliseconds from the envelope reaching the broker to the outcome's commit, split by whether an outage overlapped the wait. */
export function ingestLatencies(
  seenAt: ReadonlyMap<string, number>,
  rows: readonly StoredCapture[],
  outages: readonly { startedAt: number; endedAt: number }[],
): { all: LatencySummary; outsideOutages: LatencySummary } {
  const all: number[] = [];
  const outside: number[] = [];
  for (const row of rows) {
    const seen = seenAt.get(`${row.deviceId}/${row.deviceCaptureId}`);
    if (seen === undefined || !row.settledAt) continue;
    const settled = row.settledAt.getTime();
    const latency = Math.max(0, settled - seen);
    all.push(latency);
    if (!outages.some((outage) => seen <= outage.endedAt && settled >= outage.startedAt)) outside.push(latency);
  }
  return { all: summariseLatency(all), outsideOutages: summariseLatency(outside) };
}

export interface SoakSettings {
  devices: number;
  minutes: number;
  intervalMs: number;
  heartbeatMs: number;
  warmupMinutes: number;
  latencyMs: number;
  jitterMs: number;
  resetEverySeconds: number;
  outages: OutagePlan[];
}

export interface SoakReport {
  date: string;
  machine: string;
  command: string;
  settings: SoakSettings;
  faults: { connectionsReset: Record<ServiceName, number>; outages: (OutagePlan & { endedAtSeconds: number })[] };
  /** Captures the devices finished publishing (broker PUBACKs), by the simulator's own count. */
  publishedByDevices: number;
  /** Envelopes seen again on the broker: device resends after an answer took longer than the resend interval. */
  resentEnvelopes: number;
  counts: SoakCounts;
  /** The figures of GET /api/ingest/reconciliation, computed the same way (`reconcile`). */
  reconciliation: {
    received: number;
    accepted: number;
    quarantined: number;
    inFlight: number;
    jobsAwaitingQueue: number;
    stranded: number;
  };
  latencyMs: { all: LatencySummary; outsideOutages: LatencySummary };
  rss: RssTrend[];
  rssSamples: RssSample[];
  /** The same fit of each role's JS heap in use (`nodejs_heap_size_used_bytes`), sampled with RSS. */
  heap: RssTrend[];
  heapSamples: RssSample[];
  /** Average cores busy over the load, from /proc. */
  cpu: Record<string, number>;
  drainSeconds: number;
  rolesAlive: boolean;
  problems: string[];
}

/** What makes a soak fail: anything lost, doubled or unaccounted for, or a role that died. */
export function soakProblems(report: Omit<SoakReport, 'problems'>): string[] {
  const { counts } = report;
  const problems: string[] = [];
  if (counts.lost > 0) problems.push(`${counts.lost} published captures have no row`);
  if (counts.inFlight > 0) problems.push(`${counts.inFlight} captures still in flight after the drain`);
  if (counts.duplicated > 0) problems.push(`${counts.duplicated} duplicate rows`);
  if (counts.unexpected > 0) problems.push(`${counts.unexpected} rows for captures never seen published`);
  if (counts.published !== counts.accepted + counts.quarantined + counts.inFlight)
    problems.push('published ≠ accepted + quarantined + in flight');
  if (report.publishedByDevices !== counts.published)
    problems.push(`the devices count ${report.publishedByDevices} published, the broker carried ${counts.published}`);
  if (report.reconciliation.received !== counts.published)
    problems.push(`the reconciliation counts ${report.reconciliation.received} captures received, the broker carried ${counts.published}`);
  if (report.reconciliation.stranded > 0) problems.push(`${report.reconciliation.stranded} captures stranded waiting for a job`);
  if (!report.rolesAlive) problems.push('a role process ended during the soak');
  return problems;
}

const table = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');

const latencyCells = (summary: LatencySummary) => [summary.count, summary.p50, summary.p95, summary.p99, summary.max];

/** The human summary written next to the JSON and printed at the end. */
export function soakMarkdown(report: SoakReport): string {
  const { settings, counts } = report;
  const outages = report.faults.outages.map((outage) => `${outage.service} ${outage.seconds} s at ${outage.atSeconds} s`).join(', ');
  const lines = [
    `# Soak ${report.date}: ${report.problems.length === 0 ? 'passed' : 'FAILED'}`,
    '',
    `${settings.devices} devices for ${settings.minutes} min (a capture every ${settings.intervalMs / 1000} s each, heartbeats every ${settings.heartbeatMs / 1000} s), ` +
      `through fault proxies in front of Redis and Postgres: ${settings.latencyMs} ms + up to ${settings.jitterMs} ms latency per chunk, ` +
      `connections reset every ${settings.resetEverySeconds} s (Redis ${report.faults.connectionsReset.redis}, Postgres ${report.faults.connectionsReset.postgres} in all), outages: ${outages || 'none'}.`,
    `Machine: ${report.machine}. Command: \`${report.command}\`.`,
    '',
    table(
      ['published', 'accepted', 'quarantined', 'in flight', 'lost', 'duplicated', 'reached review', 'resent envelopes', 'drain'],
      [
        [
          counts.published,
          counts.accepted,
          counts.quarantined,
          counts.inFlight,
          counts.lost,
          counts.duplicated,
          counts.reachedReview,
          report.resentEnvelopes,
          `${report.drainSeconds} s`,
        ],
      ],
    ),
    '',
    `Quarantine reasons: ${
      Object.entries(counts.quarantineReasons)
        .map(([code, count]) => `${code} ${count}`)
        .join(', ') || 'none'
    }. ` +
      `Reconciliation: received ${report.reconciliation.received}, accepted ${report.reconciliation.accepted}, quarantined ${report.reconciliation.quarantined}, ` +
      `in flight ${report.reconciliation.inFlight}, jobs awaiting the queue ${report.reconciliation.jobsAwaitingQueue}, stranded ${report.reconciliation.stranded}.`,
    '',
    'Ingest latency, envelope on the broker → outcome committed (ms):',
    '',
    table(
      ['captures', 'count', 'p50', 'p95', 'p99', 'max'],
      [
        ['all', ...latencyCells(report.latencyMs.all)],
        ['waits no outage overlapped', ...latencyCells(report.latencyMs.outsideOutages)],
      ],
    ),
    '',
    `RSS, and the JS heap within it, after the ${settings.warmupMinutes}-minute warm-up until the load stopped (sampled every 10 s):`,
    '',
    table(
      ['role', 'samples', 'slope MB/min', '95% interval', 'first MB', 'last MB', 'max MB'],
      [...report.rss, ...report.heap].map((trend) => [
        trend.role,
        trend.samples,
        trend.slopeMbPerMinute,
        `${trend.slope95[0]} … ${trend.slope95[1]}`,
        trend.firstMb,
        trend.lastMb,
        trend.maxMb,
      ]),
    ),
    '',
    `CPU, cores busy on average over the load: ${Object.entries(report.cpu)
      .map(([name, cores]) => `${name} ${cores.toFixed(2)}`)
      .join(', ')}.`,
  ];
  if (report.problems.length > 0) lines.push('', '**Problems:**', ...report.problems.map((problem) => `- ${problem}`));
  return lines.join('\n') + '\n';
}
