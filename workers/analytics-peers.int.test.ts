import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSyntheticCaptures, insertSyntheticDevices, type CountRow, type SyntheticDevice } from '../bench/analytics-data.js';
import { addDays, analysisPeriod } from '../core/domain/analytics-calendar.js';
import { seededRandom } from '../core/domain/analytics-synthetic.js';
import { loadConfig } from '../core/domain/config.js';
import { createLogger } from '../core/infrastructure/logger.js';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { analyticsRuns, deviceAnomalies } from '../db/schema.js';
import { createTempDir, createTestDatabase, createTestRedis, waitFor } from '../test/support/isolated.js';
import { aggregateCaptures } from './handlers/aggregate-captures.js';
import { screenHotspots } from './handlers/screen-hotspots.js';
import { QueueRegistry } from '../core/infrastructure/queues.js';
import { startWorkersRole } from './service.js';

// Small peer groups keep the network quick to write; the anomaly window keeps its defaults.
const settings = { ...loadConfig({}).analytics, screenDays: 90, minGroupSites: 10 };
const log = createLogger('silent');
const NOW = new Date('2026-06-30T04:00:00Z');
const period = analysisPeriod(NOW, settings);

/**
 * Three roads of speed cameras (traffic_camera, speeding, about 8 a day) and, on Road 1, parking
 * cameras of the same kind (illegal_parking, about 1 a day). Every speed camera on Road 0
 * catches 8 times as much from 10 days before the period's end: the road changed, not its cameras.
 */
function network() {
  const random = seededRandom(515);
  const devices: SyntheticDevice[] = [];
  const rows: CountRow[] = [];
  const shiftFrom = addDays(period.to, -9);
  const add = (id: string, road: string, violationType: string, perDay: number) => {
    devices.push({
      id,
      road,
      kind: 'traffic_camera',
      latitude: 22.5 + devices.length * 0.01,
      longitude: 114 + (devices.length % 7) * 0.01,
    });
    const effect = random.gamma(20) / 20;
    for (let offset = 0; offset < settings.screenDays; offset++) {
      const day = addDays(period.from, offset);
      const shifted = road === 'Road 0' && violationType === 'speeding' && day >= shiftFrom;
      const count = random.poisson(perDay * effect * (shifted ? 8 : 1));
      if (count > 0) rows.push({ deviceId: id, day, violationType, state: 'approved', count });
    }
  };
  for (let road = 0; road < 3; road++) for (let i = 0; i < 14; i++) add(`spd-${road}-${i}`, `Road ${road}`, 'speeding', 8);
  for (let i = 0; i < 12; i++) add(`park-${i}`, 'Road 1', 'illegal_parking', 1);
  return { devices, rows };
}

describe('device anomalies against peers of the same kind and violation type', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let findings: (typeof deviceAnomalies.$inferSelect)[];
  let summary: { groupChanges: { peerGroup: string; devices: number; shifted: string[]; direction: string; changeDay: string | null }[] };

  beforeAll(async () => {
    database = await createTestDatabase('analytics_peers');
    const { devices, rows } = network();
    await insertSyntheticDevices(database.db, devices);
    await insertSyntheticCaptures(database.db, rows, settings.timeZone);
    await aggregateCaptures({ database, settings, log }, undefined, NOW);
    const outcome = await screenHotspots({ database, settings, log }, undefined, NOW);
    findings = await database.db.select().from(deviceAnomalies).where(eq(deviceAnomalies.runId, outcome.runId));
    const [run] = await database.db.select().from(analyticsRuns).where(eq(analyticsRuns.id, outcome.runId));
    summary = run!.summary as typeof summary;
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('reports a road whose every camera rose together as one road change, and none of its cameras as an anomaly', () => {
    const road = summary.groupChanges.find((change) => change.peerGroup === 'traffic_camera|speeding|Road 0');
    expect(road).toMatchObject({ devices: 14, direction: 'rise' });
    expect(road!.shifted.length).toBeGreaterThanOrEqual(12);
    // The change began within a couple of days of the planted day.
    const planted = addDays(period.to, -9);
    expect(road!.changeDay! >= addDays(planted, -2) && road!.changeDay! <= addDays(planted, 2)).toBe(true);
    expect(summary.groupChanges.map((change) => change.peerGroup)).toEqual(['traffic_camera|speeding|Road 0']);
    const roadFindings = findings.filter((finding) => finding.deviceId.startsWith('spd-0-'));
    expect(roadFindings.filter((finding) => finding.flagged)).toEqual([]);
    expect(roadFindings.some((finding) => finding.detail && (finding.detail as Record<string, unknown>)['sharedShift'])).toBe(true);
    expect(findings.filter((finding) => finding.flagged)).toEqual([]);
  });

  it('compares a parking camera only with parking cameras, never with the speed cameras of its kind and road', () => {
    const parking = findings.filter((finding) => finding.deviceId.startsWith('park-') && finding.basis === 'peers');
    expect(parking.length).toBe(24);
    for (const finding of parking) {
      const detail = finding.detail as Record<string, unknown>;
      expect(detail['peerGroup']).toBe('traffic_camera|illegal_parking|Road 1');
      expect(detail['peers']).toBe(11);
      expect(finding.flagged).toBe(false);
    }
    const capture = parking.filter((finding) => finding.metric === 'capture_rate');
    // Against speed cameras (8 a day) a parking camera (1 a day) would look nearly dead.
    expect(Math.min(...capture.map((finding) => finding.rateRatio!))).toBeGreaterThan(0.25);
  });
});

describe('screening after every aggregation', () => {
  it('screens after a second aggregation in the same hour even when no audit row came between them', async () => {
    const database = await createTestDatabase('analytics_every');
    const redis = createTestRedis('analytics_every');
    const media = await createTempDir('analytics_every');
    const { devices, rows } = network();
    await insertSyntheticDevices(database.db, devices.slice(0, 12));
    await insertSyntheticCaptures(
      database.db,
      rows.filter((row) => devices.slice(0, 12).some((device) => device.id === row.deviceId)),
      settings.timeZone,
    );
    // No schedule: the two aggregations are queued by hand, back to back.
    const workers = await startWorkersRole({
      database,
      store: new FilesystemMediaStore(media.dir),
      redis: redis.redis,
      queuePrefix: redis.prefix,
      concurrency: 1,
      log,
    });
    const queues = new QueueRegistry(redis.redis, redis.prefix);
    try {
      await queues.enqueue('analytics', 'aggregate-captures', {}, 'aggregate-captures.first');
      await waitFor('the first run', async () => ((await database.db.$count(analyticsRuns)) >= 1 ? true : undefined), 60_000);
      await queues.enqueue('analytics', 'aggregate-captures', {}, 'aggregate-captures.second');
      await waitFor('a second run', async () => ((await database.db.$count(analyticsRuns)) >= 2 ? true : undefined), 60_000);
    } finally {
      await workers.stop();
      await queues.close();
      await redis.cleanup();
      await media.remove();
      await database.drop();
    }
  });
});
