/**
 * Analytics benchmark: the hotspot analysis job and the hotspot page's API over ten million
 * captures in a real Postgres. See bench/README.md.
 *
 *   npx tsx bench/analytics.ts [--captures N] [--devices N] [--requests N] [--keep]
 *
 * Generates the captures with generate_series (1000 devices over a year, two violation types,
 * ten planted hotspots), then times a full aggregation, a screening, an incremental
 * aggregation after a day of new captures and a late exclusion, and p50/p95 of the API calls
 * the hotspot page makes, over HTTP against a listening review server.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { latLngToCell } from 'h3-js';
import { addDays, localDay } from '../core/domain/analytics-calendar.js';
import { loadConfig } from '../core/domain/config.js';
import { createLogger } from '../core/infrastructure/logger.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { appendAudit } from '../db/audit-log.js';
import { captures } from '../db/schema.js';
import { createPerson } from '../review-ui/people/people.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { buildTestReviewServer } from '../test/support/review-server.js';
import { aggregateCaptures, type ProgressReporter } from '../workers/handlers/aggregate-captures.js';
import { rowsOf } from '../db/rows.js';
import { screenHotspots } from '../workers/handlers/screen-hotspots.js';
import { insertSyntheticCaptures, insertSyntheticDevices, plantedNetwork, type CountRow } from './analytics-data.js';
import { machineDescription, percentile } from './run-model.js';

const { values } = parseArgs({
  options: {
    captures: { type: 'string', default: '10000000' },
    devices: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '300' },
    keep: { type: 'boolean', default: false },
  },
});
const target = Number(values.captures);
const deviceCount = Number(values.devices);
const requests = Number(values.requests);
const settings = loadConfig({}).analytics;
const log = createLogger('silent');
const DAYS = 365;
const HOTSPOTS = 10;
// Speeding everywhere and red light at every other device, 20 : 14 per device-day at the default size.
const perDeviceDay = target / (deviceCount * DAYS);
const rates = { speeding: (perDeviceDay * 20) / 27, red_light: (perDeviceDay * 14) / 27 };

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const say = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const progress: ProgressReporter = {
  updateProgress: async (value) => {
    const report = value as { stage?: string; month?: string; done?: number };
    if (report.stage === 'aggregate') say(`  aggregated ${report.month} (${report.done}%)`);
  },
};

const database = await createTestDatabase('bench_analytics');
const media = await createTempDir('bench-analytics');
try {
  const today = localDay(new Date(), settings.timeZone);
  say(`machine: ${machineDescription()}`);
  say(`planning ${target.toLocaleString('en')} captures over ${deviceCount} devices and ${DAYS} days`);
  const network = plantedNetwork({
    seed: 2026,
    devices: deviceCount,
    roads: 20,
    lastDay: today,
    days: DAYS,
    ratePerDay: rates,
    dispersion: 0.1,
    hotspots: HOTSPOTS,
    hotspotFactor: 3,
    excludedShare: 0.01,
    fault: { factor: 10, days: 20 },
  });
  await insertSyntheticDevices(database.db, network.devices);
  const planned = network.rows.reduce((sum, row) => sum + row.count, 0);
  const started = performance.now();
  let written = 0;
  // Month by month in row order, so progress shows and each statement stays a manageable size.
  for (let start = 0; start < network.rows.length; start += 40_000) {
    written += await insertSyntheticCaptures(database.db, network.rows.slice(start, start + 40_000), settings.timeZone);
    const elapsed = (performance.now() - started) / 1000;
    say(
      `generated ${written.toLocaleString('en')} / ${planned.toLocaleString('en')} captures (${Math.round(written / elapsed).toLocaleString('en')}/s)`,
    );
  }
  const generateMs = performance.now() - started;
  await database.db.execute(sql`vacuum analyze captures`);

  say('full aggregation');
  let at = performance.now();
  const full = await aggregateCaptures({ database, settings, log }, progress);
  const fullMs = performance.now() - at;
  say(`full aggregation: ${seconds(fullMs)} s over ${full.days} days`);
  await database.db.execute(sql`analyze analytics_daily_counts`);
  await database.db.execute(sql`analyze analytics_hourly_counts`);

  at = performance.now();
  const screening = await screenHotspots({ database, settings, log });
  const screenMs = performance.now() - at;
  say(
    `screening: ${seconds(screenMs)} s, ${screening.sites} cell sites, ${screening.flagged} flagged, ${screening.devicesFlagged} devices flagged`,
  );

  // A day's work since: today's captures arrive (each audited), and a fault found late excludes a device's month of captures.
  const todays: CountRow[] = network.devices.map((device) => ({
    deviceId: device.id,
    day: today,
    violationType: 'speeding',
    state: 'approved',
    count: Math.round(perDeviceDay),
  }));
  const newCaptures = await insertSyntheticCaptures(database.db, todays, settings.timeZone);
  const lateDevice = network.devices[1]!.id;
  const late = await database.db
    .select({ id: captures.id })
    .from(captures)
    .where(
      and(
        eq(captures.deviceId, lateDevice),
        eq(captures.state, 'approved'),
        sql`${captures.capturedAt} >= ${new Date(`${addDays(today, -120)}T00:00:00Z`)}`,
        sql`${captures.capturedAt} < ${new Date(`${addDays(today, -90)}T00:00:00Z`)}`,
      ),
    );
  await database.db.transaction(async (tx) => {
    await tx
      .update(captures)
      .set({ state: 'excluded', exclusionWindowIds: ['00000000-0000-0000-0000-000000000001'] })
      .where(
        inArray(
          captures.id,
          late.map((row) => row.id),
        ),
      );
    for (const { id } of late) {
      await appendAudit(tx, { actor: 'bench', action: 'capture.excluded', subjectType: 'capture', subjectId: id, details: {} });
    }
  });
  say(`incremental aggregation after ${newCaptures} new captures today and ${late.length} late exclusions`);
  at = performance.now();
  const incremental = await aggregateCaptures({ database, settings, log }, progress);
  const incrementalMs = performance.now() - at;
  say(`incremental aggregation: ${seconds(incrementalMs)} s over ${incremental.days} days in ${incremental.months} months`);
  at = performance.now();
  await screenHotspots({ database, settings, log });
  const rescreenMs = performance.now() - at;

  const app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(media.dir) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const analyst = { username: 'bench-analyst', password: 'bench analyst password' };
  await createPerson(database.db, 'bench', {
    ...analyst,
    displayName: 'Bench Analyst',
    roles: ['analyst'],
    certificate: null,
    administeredDeviceIds: [],
  });
  const login = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(analyst),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const first = network.devices.find((device) => device.id === network.hotspots[0])!;
  const cell = latLngToCell(first.latitude, first.longitude, settings.h3Resolution);
  const calls = [
    { name: 'hotspots (top 100, map and table)', url: '/api/analytics/hotspots?limit=100' },
    { name: 'hotspots flagged only', url: '/api/analytics/hotspots?flagged=true&limit=1000' },
    { name: 'one hotspot: daily series over the year', url: `/api/analytics/sites/cell/${cell}/series?violationType=speeding` },
    { name: 'one hotspot: breakdown', url: `/api/analytics/breakdown?scope=cell&siteId=${cell}` },
    { name: 'network breakdown over the year', url: '/api/analytics/breakdown' },
    { name: 'device anomaly report', url: '/api/analytics/devices/anomalies?flagged=true' },
  ];
  const latencies: { name: string; first: number; p50: number; p95: number; requests: number }[] = [];
  for (const call of calls) {
    const count =
      call.url.startsWith('/api/analytics/breakdown?') || call.url === '/api/analytics/breakdown' ? Math.min(requests, 200) : requests;
    const times: number[] = [];
    let first = 0;
    for (let i = 0; i < count + 10; i++) {
      const begin = performance.now();
      const response = await fetch(`${base}${call.url}`, { headers: { cookie } });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`${call.url} answered ${response.status}`);
      // The first ten warm the connection and Postgres's caches; the very first is reported apart.
      if (i === 0) first = performance.now() - begin;
      if (i >= 10) times.push(performance.now() - begin);
    }
    times.sort((a, b) => a - b);
    latencies.push({ name: call.name, first, p50: percentile(times, 50), p95: percentile(times, 95), requests: count });
    say(`${call.name}: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms over ${count}`);
  }
  await app.close();

  const [sizes] = rowsOf<{ daily: number; hourly: number; captures_size: string; aggregate_size: string }>(
    await database.db.execute(sql`
      select (select count(*) from analytics_daily_counts)::int as daily, (select count(*) from analytics_hourly_counts)::int as hourly,
             pg_size_pretty(pg_total_relation_size('captures')) as captures_size,
             pg_size_pretty(pg_total_relation_size('analytics_daily_counts') + pg_total_relation_size('analytics_hourly_counts')) as aggregate_size`),
  );
  console.log(`
| step | time |
| --- | --- |
| generate ${planned.toLocaleString('en')} captures (generate_series) | ${seconds(generateMs)} s |
| full aggregation (${full.days} days, ${full.months} months) | ${seconds(fullMs)} s |
| screening (${screening.sites} cell sites, ${deviceCount} devices) | ${seconds(screenMs)} s |
| incremental aggregation (${newCaptures.toLocaleString('en')} new, ${late.length.toLocaleString('en')} late exclusions; ${incremental.days} days) | ${seconds(incrementalMs)} s |
| screening again | ${seconds(rescreenMs)} s |

| API call | first request | p50 | p95 | requests |
| --- | --- | --- | --- | --- |
${latencies.map((row) => `| ${row.name} | ${row.first.toFixed(1)} ms | ${row.p50.toFixed(1)} ms | ${row.p95.toFixed(1)} ms | ${row.requests} |`).join('\n')}

aggregate rows: ${sizes?.daily.toLocaleString('en')} daily, ${sizes?.hourly.toLocaleString('en')} hourly (${sizes?.aggregate_size}); captures table ${sizes?.captures_size}
machine: ${machineDescription()}
`);
} finally {
  if (values.keep) {
    await database.close();
    say(`kept database ${database.name}`);
  } else await database.drop();
  await media.remove();
}
