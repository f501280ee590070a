import { and, eq, like, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { latLngToCell } from 'h3-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSyntheticCaptures, insertSyntheticDevices, plantedNetwork, type PlantedNetwork } from '../../bench/analytics-data.js';
import { addDays, localDay } from '../../core/domain/analytics-calendar.js';
import { loadConfig } from '../../core/domain/config.js';
import { createLogger } from '../../core/infrastructure/logger.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, captures, outbox } from '../../db/schema.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { aggregateCaptures } from '../../workers/handlers/aggregate-captures.js';
import { screenHotspots } from '../../workers/handlers/screen-hotspots.js';

// Half a year of screening keeps the generated network quick to write; the server keeps its default settings.
const settings = { ...loadConfig({}).analytics, screenDays: 180 };
const NOW = new Date();
const today = localDay(NOW, settings.timeZone);
const ACTION_DAY = addDays(today, -(settings.settleDays + 120));

interface Hotspot {
  siteId: string;
  violationType: string;
  observed: number;
  flagged: boolean;
  boundary: [number, number][] | null;
  centre: { latitude: number; longitude: number };
  openCaseId: string | null;
}

describe('analytics API over a generated network with a planted remediation', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let media: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let analyst: LoggedIn;
  let reviewer: LoggedIn;
  let planted: PlantedNetwork;
  let fixedCell: string;
  /** Every JSON body an analyst received, checked at the end for anything about single captures. */
  const seen: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('analytics_api');
    media = await createTempDir('analytics-api');
    planted = plantedNetwork({
      seed: 31,
      devices: 200,
      roads: 4,
      lastDay: today,
      days: 310,
      ratePerDay: { speeding: 1.5, red_light: 0.5 },
      dispersion: 0.1,
      hotspots: 5,
      hotspotFactor: 4,
      excludedShare: 0.01,
      remediation: { actionDay: ACTION_DAY, factorAfter: 1 },
    });
    await insertSyntheticDevices(database.db, planted.devices);
    await insertSyntheticCaptures(database.db, planted.rows, settings.timeZone);
    // A rare violation at one camera: too few events to leave the screen in an export.
    await insertSyntheticCaptures(
      database.db,
      [{ deviceId: planted.devices[7]!.id, day: addDays(today, -30), violationType: 'wrong_way', state: 'approved', count: 3 }],
      settings.timeZone,
    );
    const first = planted.devices.find((device) => device.id === planted.hotspots[0])!;
    fixedCell = latLngToCell(first.latitude, first.longitude, settings.h3Resolution);
    const log = createLogger('silent');
    await aggregateCaptures({ database, settings, log }, undefined, NOW);
    await screenHotspots({ database, settings, log }, undefined, NOW);

    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(media.dir), analytics: settings });
    analyst = await personLoggedIn(app, database.db, 'li.na', ['analyst']);
    reviewer = await personLoggedIn(app, database.db, 'wang.wei', ['reviewer']);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await media?.remove();
  });

  async function get<T>(url: string, who: LoggedIn = analyst): Promise<{ status: number; body: T; raw: string }> {
    const response = await app.inject({ method: 'GET', url, headers: who.headers });
    if (who === analyst) seen.push(response.body);
    return {
      status: response.statusCode,
      body: String(response.headers['content-type']).includes('json') ? response.json<T>() : (undefined as T),
      raw: response.body,
    };
  }

  async function post<T>(url: string, payload: object): Promise<{ status: number; body: T }> {
    const response = await app.inject({ method: 'POST', url, headers: analyst.headers, payload });
    seen.push(response.body);
    return { status: response.statusCode, body: response.json<T>() };
  }

  it('refuses anyone without analytics.read', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/analytics/hotspots' })).statusCode).toBe(401);
    expect((await get('/api/analytics/hotspots', reviewer)).status).toBe(403);
    expect((await get('/api/analytics/devices/anomalies', reviewer)).status).toBe(403);
    expect((await get('/api/analytics/export/hotspots.csv', reviewer)).status).toBe(403);
  });

  it('ranks the planted hotspots first, flagged, with their H3 cell for the map', async () => {
    const { status, body } = await get<{ total: number; hotspots: Hotspot[]; run: { periodTo: string } }>(
      '/api/analytics/hotspots?violationType=speeding&limit=10',
    );
    expect(status).toBe(200);
    expect(body.total).toBe(200);
    expect(body.run.periodTo).toBe(addDays(today, -settings.settleDays));
    const cells = planted.hotspots.map((id) => {
      const device = planted.devices.find((candidate) => candidate.id === id)!;
      return latLngToCell(device.latitude, device.longitude, settings.h3Resolution);
    });
    // The fixed hotspot has fallen back for four of its six months, so it may rank below ordinary sites' luck.
    const others = cells.filter((cell) => cell !== fixedCell);
    expect(
      body.hotspots
        .slice(0, 4)
        .map((row) => row.siteId)
        .sort(),
    ).toEqual([...others].sort());
    for (const row of body.hotspots.slice(0, 4)) {
      expect(row.flagged).toBe(true);
      expect(row.boundary).toHaveLength(6);
      expect(latLngToCell(row.centre.latitude, row.centre.longitude, settings.h3Resolution)).toBe(row.siteId);
    }
    const flaggedOnly = await get<{ hotspots: Hotspot[] }>('/api/analytics/hotspots?flagged=true&limit=1000');
    expect(flaggedOnly.body.hotspots.every((row) => row.flagged)).toBe(true);
  });

  it('serves a site series with every day present, and 404 for a site with no counts', async () => {
    const { status, body } = await get<{ days: { day: string; approved: number; excluded: number }[] }>(
      `/api/analytics/sites/cell/${fixedCell}/series?violationType=speeding&from=${addDays(today, -60)}&to=${addDays(today, -1)}`,
    );
    expect(status).toBe(200);
    expect(body.days).toHaveLength(60);
    expect(body.days.reduce((sum, day) => sum + day.approved + day.excluded, 0)).toBeGreaterThan(0);
    expect((await get('/api/analytics/sites/cell/8f2830828052d25/series')).status).toBe(404);
    expect((await get(`/api/analytics/sites/cell/${fixedCell}/series?from=2026-02-01&to=2026-01-01`)).status).toBe(400);
  });

  it('breaks the counts down by weekday, hour and violation type, consistently', async () => {
    const { status, body } = await get<{
      total: number;
      byWeekday: { count: number }[];
      byHour: { count: number }[];
      byHourOfWeek: { count: number }[];
      byViolationType: { violationType: string; count: number }[];
    }>(`/api/analytics/breakdown?from=${addDays(today, -90)}&to=${addDays(today, -1)}`);
    expect(status).toBe(200);
    expect(body.byWeekday).toHaveLength(7);
    expect(body.byHour).toHaveLength(24);
    expect(body.byHourOfWeek).toHaveLength(168);
    const sum = (rows: { count: number }[]) => rows.reduce((total, row) => total + row.count, 0);
    expect(sum(body.byViolationType)).toBe(body.total);
    expect(sum(body.byHour)).toBe(sum(body.byHourOfWeek));
    expect(body.byViolationType.map((row) => row.violationType)).toEqual(expect.arrayContaining(['speeding', 'red_light']));
    expect((await get('/api/analytics/breakdown?scope=cell')).status).toBe(400);
  });

  it('does not call the cameras of steady hotspots anomalies: busy against their peers, not against their own history', async () => {
    const { body } = await get<{
      groupChanges: unknown[];
      devices: { deviceId: string; flagged: boolean; findings: { basis: string; metric: string; detail: Record<string, unknown> }[] }[];
    }>('/api/analytics/devices/anomalies');
    expect(body.groupChanges).toEqual([]);
    expect(body.devices.filter((device) => device.flagged)).toEqual([]);
    const hotspotCameras = body.devices.filter((device) => planted.hotspots.includes(device.deviceId));
    expect(hotspotCameras.length).toBeGreaterThan(0);
    // Busy against peers (all violation types together, so not every one clears the ratio), yet none flagged.
    const busy = hotspotCameras.filter(
      (device) => device.findings.find((finding) => finding.basis === 'peers' && finding.metric === 'capture_rate')!.detail['significant'],
    );
    expect(busy.length).toBeGreaterThan(0);
  });

  it('runs a screening now when an analyst asks: permission-checked, audited, one job for simultaneous requests', async () => {
    const before = await get<{ run: { id: string } }>('/api/analytics/runs/latest');
    expect((await app.inject({ method: 'POST', url: '/api/analytics/runs', payload: {} })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/analytics/runs', headers: reviewer.headers, payload: {} })).statusCode).toBe(403);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post<{ jobId: string; joined: boolean }>('/api/analytics/runs', {})),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 202));
    const jobIds = new Set(answers.map((answer) => answer.body.jobId));
    expect(jobIds.size).toBe(1);
    expect(answers.filter((answer) => !answer.body.joined)).toHaveLength(1);
    const [jobId] = [...jobIds];
    const queued = await database.db.select().from(outbox).where(eq(outbox.jobId, jobId!));
    expect(queued).toMatchObject([{ queue: 'analytics', jobName: 'screen-hotspots', dispatchedAt: null }]);
    const audited = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'analytics.run_requested'), eq(auditLog.subjectId, jobId!)));
    expect(audited).toHaveLength(20);
    expect(new Set(audited.map((row) => row.actor))).toEqual(new Set(['person:li.na']));
    // The job the outbox hands to the queue is the worker's screening: running it gives a new run.
    await screenHotspots({ database, settings, log: createLogger('silent') }, undefined, NOW);
    const after = await get<{ run: { id: string } }>('/api/analytics/runs/latest');
    expect(after.body.run.id).not.toBe(before.body.run.id);
    // Once handed to the queue, the next request queues a new job.
    await database.db.update(outbox).set({ dispatchedAt: new Date() }).where(eq(outbox.jobId, jobId!));
    const next = await post<{ jobId: string; joined: boolean }>('/api/analytics/runs', {});
    expect(next.body).toMatchObject({ joined: false });
    expect(next.body.jobId).not.toBe(jobId);
  });

  it('runs a remediation case: opened, action recorded, a significant drop, closed as fixed, every step audited', async () => {
    const opened = await post<{ id: string; status: string; openedBy: string }>('/api/analytics/remediation-cases', {
      scope: 'cell',
      siteId: fixedCell,
      violationType: 'speeding',
      suspectedCause: 'signage',
      note: 'Limit sign hidden by trees',
    });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({ status: 'open', openedBy: 'person:li.na' });
    const again = await post('/api/analytics/remediation-cases', {
      scope: 'cell',
      siteId: fixedCell,
      violationType: 'speeding',
      suspectedCause: 'other',
    });
    expect(again.status).toBe(409);
    expect(
      (await post(`/api/analytics/remediation-cases/${opened.body.id}/close`, { outcome: 'fixed', reason: 'looks better' })).status,
    ).toBe(409);

    const pending = await get<{ beforeAfter: { status: string } }>(`/api/analytics/remediation-cases/${opened.body.id}`);
    expect(pending.body.beforeAfter).toEqual({ status: 'no_action' });
    const action = await post(`/api/analytics/remediation-cases/${opened.body.id}/action`, {
      actionTaken: 'Cut back the trees and added a second sign',
      actionDate: ACTION_DAY,
    });
    expect(action.status).toBe(200);

    const studied = await get<{
      beforeAfter: { status: string; theta: number; interval: [number, number]; significantDrop: boolean; naiveRatio: number };
    }>(`/api/analytics/remediation-cases/${opened.body.id}`);
    expect(studied.body.beforeAfter.status).toBe('ok');
    expect(studied.body.beforeAfter.significantDrop).toBe(true);
    expect(studied.body.beforeAfter.interval[1]).toBeLessThan(1);
    expect(studied.body.beforeAfter.theta).toBeGreaterThan(0.15);
    expect(studied.body.beforeAfter.theta).toBeLessThan(0.45);

    const series = await get<{ remediations: { caseId: string; actionDate: string }[] }>(
      `/api/analytics/sites/cell/${fixedCell}/series?violationType=speeding`,
    );
    expect(series.body.remediations).toEqual([expect.objectContaining({ caseId: opened.body.id, actionDate: ACTION_DAY })]);

    const closed = await post<{ status: string; closedBy: string }>(`/api/analytics/remediation-cases/${opened.body.id}/close`, {
      outcome: 'fixed',
      reason: 'Captures fell to the network rate',
    });
    expect(closed.body).toMatchObject({ status: 'fixed', closedBy: 'person:li.na' });
    expect((await post(`/api/analytics/remediation-cases/${opened.body.id}/close`, { outcome: 'dismissed', reason: 'again' })).status).toBe(
      409,
    );
    const trail = await database.db
      .select({ action: auditLog.action, actor: auditLog.actor })
      .from(auditLog)
      .where(eq(auditLog.subjectId, opened.body.id))
      .orderBy(auditLog.seq);
    expect(trail).toEqual([
      { action: 'remediation.opened', actor: 'person:li.na' },
      { action: 'remediation.action_recorded', actor: 'person:li.na' },
      { action: 'remediation.fixed', actor: 'person:li.na' },
    ]);
  });

  it('dismisses a case with a reason without any action', async () => {
    const other = planted.devices.find((device) => !planted.hotspots.includes(device.id))!;
    const opened = await post<{ id: string }>('/api/analytics/remediation-cases', {
      scope: 'device',
      siteId: other.id,
      violationType: 'speeding',
      suspectedCause: 'enforcement_gap',
    });
    const dismissed = await post<{ status: string; closingReason: string }>(`/api/analytics/remediation-cases/${opened.body.id}/close`, {
      outcome: 'dismissed',
      reason: 'Ordinary site, ranked high by chance',
    });
    expect(dismissed.body).toMatchObject({ status: 'dismissed', closingReason: 'Ordinary site, ranked high by chance' });
    const list = await get<{ cases: { id: string }[] }>('/api/analytics/remediation-cases?status=dismissed');
    expect(list.body.cases.map((entry) => entry.id)).toEqual([opened.body.id]);
  });

  it('leaves sites and hours with fewer than k events out of the CSV exports, says so, and audits each export', async () => {
    const hotspots = await get('/api/analytics/export/hotspots.csv?scope=device');
    const lines = hotspots.raw.trim().split('\r\n');
    expect(lines[0]).toMatch(/^# k-anonymity: \d+ of \d+ rows with fewer than 5 events suppressed$/);
    expect(lines[1]!.startsWith('rank,scope,site_id,violation_type')).toBe(true);
    expect(hotspots.raw).not.toContain('wrong_way');
    const all = await get<{ total: number }>('/api/analytics/hotspots?scope=device&limit=1');
    const suppressed = Number(/: (\d+) of/.exec(lines[0]!)![1]);
    expect(lines.length - 2).toBe(all.body.total - suppressed);
    expect(suppressed).toBeGreaterThanOrEqual(1);

    const rare = await get(`/api/analytics/export/breakdown.csv?violationType=wrong_way&from=${addDays(today, -60)}&to=${today}`);
    expect(rare.raw.split('\r\n')[0]).toMatch(/^# k-anonymity: /);
    expect(rare.raw.split('\r\n')[1]).toBe('dimension,key,count,from,to');
    expect(rare.raw.split('\r\n').filter((line) => line.includes('wrong_way'))).toEqual([]);

    const exports = await database.db
      .select({ details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'analytics.exported'), eq(auditLog.actor, 'person:li.na')));
    expect(exports.map((row) => (row.details as { what: string }).what)).toEqual(['hotspots.csv', 'breakdown.csv']);
  });

  it('prints the periodic report as HTML', async () => {
    // A case of its own, so the section has something to list when this test runs alone.
    const site = planted.devices.filter((device) => !planted.hotspots.includes(device.id)).at(-1)!;
    const opened = await post<{ id: string }>('/api/analytics/remediation-cases', {
      scope: 'device',
      siteId: site.id,
      violationType: 'illegal_parking',
      suspectedCause: 'enforcement_gap',
    });
    expect(opened.status).toBe(201);
    const all = await get<{ cases: { id: string }[] }>('/api/analytics/remediation-cases');
    const report = await get('/api/analytics/report.html');
    expect(report.status).toBe(200);
    expect(report.raw).toContain('<h1>Periodic hotspot analysis</h1>');
    expect(report.raw).toContain(`Remediation cases (${all.body.cases.length})`);
    expect(report.raw).toContain(site.id);
  });

  it('has no analytics route that could return a capture, and returned no plate or capture id to the analyst', async () => {
    const paths = app
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .filter((line) => line.includes('analytics'));
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(path).not.toMatch(/\/(captures?|media|thumbnails?|evidence[^/]*)(\/|\s|$)|plate/i);
    const [sample] = await database.db.select({ id: captures.id, manifest: captures.manifest }).from(captures).limit(1);
    const plate = (sample!.manifest as { readings: { plate: string } }).readings.plate;
    const everything = seen.join('\n');
    expect(everything).not.toContain(sample!.id);
    expect(everything).not.toContain(plate);
    expect(everything).not.toMatch(/GD-[0-9A-F]{6}/);
    expect(await database.db.$count(captures, like(sql`${captures.manifest}->'readings'->>'plate'`, 'GD-%'))).toBeGreaterThan(0);
  });
});
