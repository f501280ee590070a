import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { latLngToCell } from 'h3-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertSyntheticCaptures, insertSyntheticDevices, plantedNetwork, type NetworkOptions } from '../bench/analytics-data.js';
import { localDay } from '../core/domain/analytics-calendar.js';
import { loadConfig } from '../core/domain/config.js';
import { createLogger } from '../core/infrastructure/logger.js';
import { appendAudit } from '../db/audit-log.js';
import {
  analyticsDailyCounts,
  analyticsHourlyCounts,
  analyticsRuns,
  analyticsWatermarks,
  captures,
  deviceAnomalies,
  hotspotResults,
} from '../db/schema.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { aggregateCaptures } from './handlers/aggregate-captures.js';
import { rowsOf } from '../db/rows.js';
import { screenHotspots } from './handlers/screen-hotspots.js';
import { startWorkersRole } from './service.js';

// Half a year of screening keeps the generated networks small enough to write quickly.
const settings = { ...loadConfig({}).analytics, screenDays: 180 };
const log = createLogger('silent');
const NOW = new Date('2026-06-30T04:00:00Z');
const network: Omit<NetworkOptions, 'seed'> = {
  devices: 200,
  roads: 4,
  lastDay: '2026-06-29',
  days: 200,
  ratePerDay: { speeding: 2, red_light: 1 },
  dispersion: 0.1,
  hotspots: 5,
  hotspotFactor: 4,
  excludedShare: 0.01,
  // The fault's last 14 days fall in the anomaly window, which ends settleDays before NOW.
  fault: { factor: 10, days: 20 },
};

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

async function seeded(seed: number, options: Partial<NetworkOptions> = {}) {
  const database = await createTestDatabase('analytics');
  const planted = plantedNetwork({ ...network, ...options, seed });
  await insertSyntheticDevices(database.db, planted.devices);
  const written = await insertSyntheticCaptures(database.db, planted.rows, settings.timeZone);
  const cellOf = new Map(
    planted.devices.map((device) => [device.id, latLngToCell(device.latitude, device.longitude, settings.h3Resolution)]),
  );
  return { database, planted, written, cellOf };
}

async function tableTotals(database: TestDatabase) {
  const daily = await database.db
    .select()
    .from(analyticsDailyCounts)
    .orderBy(analyticsDailyCounts.day, analyticsDailyCounts.deviceId, analyticsDailyCounts.violationType, analyticsDailyCounts.state);
  const hourly = await database.db
    .select()
    .from(analyticsHourlyCounts)
    .orderBy(
      analyticsHourlyCounts.month,
      analyticsHourlyCounts.deviceId,
      analyticsHourlyCounts.violationType,
      analyticsHourlyCounts.state,
      analyticsHourlyCounts.hourOfWeek,
    );
  return { daily, hourly };
}

/** One seed's network, aggregated and screened, and what the screening stored. */
async function screen(seed: number) {
  const { database, planted, cellOf } = await seeded(seed);
  try {
    const progress: unknown[] = [];
    const reporter = { updateProgress: async (value: number | object) => void progress.push(value) };
    const aggregated = await aggregateCaptures({ database, settings, log }, reporter, NOW);
    const progressAfterAggregation = progress.length;
    const outcome = await screenHotspots({ database, settings, log }, reporter, NOW);
    const results = await database.db.select().from(hotspotResults).where(eq(hotspotResults.runId, outcome.runId));
    const anomalies = await database.db.select().from(deviceAnomalies).where(eq(deviceAnomalies.runId, outcome.runId));
    const hotspotCells = new Set(planted.hotspots.map((id) => cellOf.get(id)!));
    return { planted, cellOf, hotspotCells, aggregated, progressAfterAggregation, progress, outcome, results, anomalies };
  } finally {
    await database.drop();
  }
}

type Screening = Awaited<ReturnType<typeof screen>>;

const screenings = new Map<number, Promise<Screening>>();
/**
 * Screens each seed once per file run: the rate test needs every seed's screening, and must
 * neither depend on the per-seed tests having run first nor repeat their work when they have.
 */
function screening(seed: number): Promise<Screening> {
  let pending = screenings.get(seed);
  if (!pending) {
    pending = screen(seed);
    screenings.set(seed, pending);
  }
  return pending;
}

/** The flags a seed raised where nothing was planted, and how many sites and devices could have raised one. */
function falseFlags({ planted, cellOf, hotspotCells, results, anomalies }: Screening) {
  // The faulty device's jump is real data at its site too; it is the anomaly report's to explain.
  const faultyCell = cellOf.get(planted.faulty!)!;
  const ordinary = results.filter(
    (r) => r.scope === 'cell' && r.siteId !== faultyCell && !(hotspotCells.has(r.siteId) && r.violationType === 'speeding'),
  );
  // Against its peers a hotspot's camera looks busy too; against its own history it does not.
  const expected = new Set([...planted.hotspots, planted.faulty]);
  return {
    sites: ordinary.filter((r) => r.flagged).length,
    ordinarySites: ordinary.length,
    devices: new Set(anomalies.filter((a) => a.flagged && !expected.has(a.deviceId)).map((a) => a.deviceId)).size,
  };
}

const SEEDS = [1, 2, 3, 4, 5];

describe('hotspot screening over generated networks with planted hotspots', () => {
  // Each seed has a database of its own, so the seeds are screened side by side.
  for (const seed of SEEDS)
    it.concurrent(`seed ${seed}: flags every planted hotspot, the faulty device, and little else`, async ({ expect }) => {
      const { planted, hotspotCells, aggregated, progressAfterAggregation, progress, outcome, results, anomalies } = await screening(seed);
      expect(aggregated.mode).toBe('full');
      expect(progressAfterAggregation).toBe(aggregated.months);
      expect(progress.at(-1)).toEqual({ stage: 'stored', runId: outcome.runId });

      const flaggedCells = results.filter((r) => r.scope === 'cell' && r.flagged);
      for (const cell of hotspotCells) {
        expect(
          flaggedCells.some((r) => r.siteId === cell && r.violationType === 'speeding'),
          `planted hotspot ${cell}`,
        ).toBe(true);
      }
      for (const id of planted.hotspots) {
        expect(results.some((r) => r.scope === 'device' && r.siteId === id && r.flagged)).toBe(true);
      }
      // The planted hotspots lead the ranking by excess.
      const topFive = results.filter((r) => r.scope === 'cell' && r.rank <= 5).map((r) => r.siteId);
      expect(new Set(topFive)).toEqual(hotspotCells);

      const faulty = anomalies.filter((a) => a.deviceId === planted.faulty && a.metric === 'capture_rate');
      expect(faulty.find((a) => a.basis === 'own_history')!.flagged).toBe(true);
      expect(faulty.find((a) => a.basis === 'peers')!.flagged).toBe(true);
      const changeDay = (faulty.find((a) => a.basis === 'own_history')!.detail as { changeDay: string }).changeDay;
      // The first faulty day, unless chance made it an ordinary one.
      expect(changeDay >= '2026-06-10' && changeDay <= '2026-06-12', changeDay).toBe(true);
      const ownHistory = anomalies.filter((a) => a.flagged && a.basis === 'own_history').map((a) => a.deviceId);
      expect(ownHistory.filter((id) => planted.hotspots.includes(id))).toEqual([]);
    });

  it('keeps the false-alarm rate below 1% of ordinary sites and devices over all seeds', async () => {
    const flags = (await Promise.all(SEEDS.map(screening))).map(falseFlags);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const rate = sum(flags.map((f) => f.sites)) / sum(flags.map((f) => f.ordinarySites));
    const deviceRate = sum(flags.map((f) => f.devices)) / (flags.length * (network.devices - network.hotspots - 1));
    console.log(
      `false alarms per seed: ${flags.map((f) => f.sites).join(', ')} over ${flags.map((f) => f.ordinarySites).join(', ')} ordinary sites (rate ${rate.toFixed(4)})`,
    );
    console.log(
      `devices flagged without a planted fault or hotspot, per seed: ${flags.map((f) => f.devices).join(', ')} (rate ${deviceRate.toFixed(4)})`,
    );
    expect(rate).toBeLessThan(0.01);
    expect(deviceRate).toBeLessThan(0.01);
  });
});

/**
 * A fault found late and new captures today: one device's approved captures from two months
 * ago are excluded, each change audited, and seven captures arrive inside the trailing window
 * with no audit row at all. Answers the captures it excluded.
 */
async function changeAfterCounting(database: TestDatabase, device: string) {
  const old = await database.db
    .select({ id: captures.id })
    .from(captures)
    .where(
      and(
        eq(captures.deviceId, device),
        eq(captures.state, 'approved'),
        sql`${captures.capturedAt} < ${new Date('2026-05-01T00:00:00Z')}`,
        sql`${captures.capturedAt} >= ${new Date('2026-04-20T00:00:00Z')}`,
      ),
    );
  expect(old.length).toBeGreaterThan(0);
  await database.db.transaction(async (tx) => {
    await tx
      .update(captures)
      .set({ state: 'excluded', exclusionWindowIds: [randomUUID()] })
      .where(
        inArray(
          captures.id,
          old.map((row) => row.id),
        ),
      );
    for (const { id } of old) {
      await appendAudit(tx, { actor: 'test', action: 'capture.excluded', subjectType: 'capture', subjectId: id, details: {} });
    }
  });
  await insertSyntheticCaptures(
    database.db,
    [{ deviceId: device, day: localDay(NOW, settings.timeZone), violationType: 'speeding', state: 'approved', count: 7 }],
    settings.timeZone,
  );
  return old;
}

describe('incremental aggregation', () => {
  let database: TestDatabase;
  let device: string;
  const deps = () => ({ database, settings, log });

  // Every test starts from a network counted once in full, as the scheduled job leaves it.
  beforeEach(async () => {
    const setup = await seeded(21, { devices: 40, days: 120 });
    database = setup.database;
    device = setup.planted.devices[3]!.id;
    expect((await aggregateCaptures(deps(), undefined, NOW)).mode).toBe('full');
  });
  afterEach(async () => {
    await database?.drop();
  });

  it('recounts late exclusions and new captures to the same tables a full recount gives', async () => {
    const before = await tableTotals(database);
    const old = await changeAfterCounting(database, device);

    const incremental = await aggregateCaptures(deps(), undefined, NOW);
    expect(incremental.mode).toBe('incremental');
    expect(incremental.days).toBeLessThan(40);
    const afterIncremental = await tableTotals(database);
    expect(afterIncremental).not.toEqual(before);

    await database.db.delete(analyticsWatermarks);
    expect((await aggregateCaptures(deps(), undefined, NOW)).mode).toBe('full');
    expect(await tableTotals(database)).toEqual(afterIncremental);

    const [excluded] = rowsOf<{ n: number }>(
      await database.db.execute(
        sql`select coalesce(sum(count), 0)::int as n from analytics_daily_counts where device_id = ${device} and state = 'excluded' and day between '2026-04-20' and '2026-05-01'`,
      ),
    );
    expect(excluded!.n).toBeGreaterThanOrEqual(old.length);
  });

  it('counts nothing twice and loses nothing: the tables sum to the counted captures', async () => {
    await changeAfterCounting(database, device);
    expect((await aggregateCaptures(deps(), undefined, NOW)).mode).toBe('incremental');
    const [sums] = rowsOf<{ captured: number; daily: number; hourly: number }>(
      await database.db.execute(sql`
        select (select count(*) from captures where state in ('approved', 'excluded'))::int as captured,
               (select sum(count) from analytics_daily_counts)::int as daily,
               (select sum(count) from analytics_hourly_counts)::int as hourly`),
    );
    expect(sums!.daily).toBe(sums!.captured);
    expect(sums!.hourly).toBe(sums!.captured);
  });

  it('recounts everything when the H3 resolution changes', async () => {
    const coarser = { ...settings, h3Resolution: 6 };
    expect((await aggregateCaptures({ database, settings: coarser, log }, undefined, NOW)).mode).toBe('full');
    const cells = rowsOf<{ cell: string }>(await database.db.execute(sql`select distinct cell from analytics_daily_counts`));
    const first = await database.db.query.devices.findFirst();
    expect(cells.map((row) => row.cell)).toContain(latLngToCell(first!.latitude, first!.longitude, 6));
  });

  it('keeps only the configured number of runs', async () => {
    const few = { ...settings, keepRuns: 2 };
    for (let i = 0; i < 3; i++) await screenHotspots({ database, settings: few, log }, undefined, NOW);
    expect(await database.db.$count(analyticsRuns)).toBe(2);
  });
});

describe('the analytics queue', () => {
  it('aggregates on its schedule and queues a screening after it', async () => {
    const database = await createTestDatabase('analytics_queue');
    const redis = createTestRedis('analytics_queue');
    const media = await createTempDir('analytics_queue');
    const today = localDay(new Date(), settings.timeZone);
    const planted = plantedNetwork({ ...network, seed: 5, devices: 20, days: 60, lastDay: today, fault: undefined, hotspots: 1 });
    await insertSyntheticDevices(database.db, planted.devices);
    await insertSyntheticCaptures(database.db, planted.rows, settings.timeZone);
    const workers = await startWorkersRole({
      database,
      store: new FilesystemMediaStore(media.dir),
      redis: redis.redis,
      queuePrefix: redis.prefix,
      concurrency: 1,
      analytics: { ...settings, everyMs: 60_000 },
      log,
    });
    try {
      const run = await waitFor('a screening run', async () => (await database.db.select().from(analyticsRuns))[0], 30_000);
      expect(run.finishedAt).not.toBeNull();
      expect(await database.db.$count(analyticsWatermarks)).toBe(1);
    } finally {
      await workers.stop();
      await redis.cleanup();
      await media.remove();
      await database.drop();
    }
  });
});
