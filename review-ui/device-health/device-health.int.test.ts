import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { PROTOCOL_VERSION } from '../../core/domain/protocol.js';
import { analyticsRuns, auditLog, captures, deviceAnomalies, deviceHealthEvents, outbox } from '../../db/schema.js';
import { enrolTestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { screenCaptures } from '../../workers/handlers/screen-captures.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const MINUTE = 60_000;

interface WindowBody {
  id: string;
  source: string;
  recordedBy: string;
  endsAt: string | null;
  withdrawnAt: string | null;
}

describe('device health: operator windows, timelines and the fleet, over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let ana: LoggedIn;
  let ben: LoggedIn;
  let headers: LoggedIn['headers'];
  /** Outbox rows already handed to the screening handler, as the dispatcher would mark them. */
  const screened = new Set<number>();

  beforeAll(async () => {
    database = await createTestDatabase('device_health');
    mediaDir = await createTempDir('device-health-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), adminToken: ADMIN_TOKEN });
    ana = await personLoggedIn(app, database.db, 'ana.ruiz', ['device_admin']);
    ben = await personLoggedIn(app, database.db, 'ben.ode', ['device_admin']);
    headers = ana.headers;
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function insertCapture(deviceId: string, capturedAt: Date): Promise<string> {
    const id = randomUUID();
    await database.db.insert(captures).values({
      id,
      messageSha256: id,
      deviceId,
      deviceCaptureId: id,
      state: 'awaiting_review',
      capturedAt,
      manifest: {},
      rawMessage: Buffer.from(id),
    });
    return id;
  }

  /** Runs the re-screenings the API queued, as the workers would once the outbox is dispatched. */
  async function runQueuedScreening(deviceId: string): Promise<void> {
    const queued = await database.db
      .select()
      .from(outbox)
      .where(and(eq(outbox.jobName, 'screen-captures'), sql`${outbox.payload}->>'deviceId' = ${deviceId}`))
      .orderBy(asc(outbox.id));
    for (const job of queued.filter((row) => !screened.has(row.id))) {
      screened.add(job.id);
      await screenCaptures(
        { database, incidentWindowMs: 30 * 60_000 },
        job.payload as { deviceId: string; from: string; to: string | null },
      );
    }
  }

  async function stateOf(captureId: string) {
    const [row] = await database.db
      .select({ state: captures.state, exclusionWindowIds: captures.exclusionWindowIds })
      .from(captures)
      .where(eq(captures.id, captureId));
    return row;
  }

  function openWindow(deviceId: string, body: Record<string, unknown>) {
    return app.inject({ method: 'POST', url: `/api/devices/${deviceId}/windows`, headers, payload: body });
  }

  function post(url: string, payload: Record<string, unknown>, by: LoggedIn = ana) {
    return app.inject({ method: 'POST', url, headers: by.headers, payload });
  }

  it('excludes a capture inside an operator window and re-admits it when the window is withdrawn', async () => {
    const device = await enrolTestDevice(database.db);
    const now = Date.now();
    const inside = await insertCapture(device.id, new Date(now - 30 * MINUTE));
    const outside = await insertCapture(device.id, new Date(now - 3 * 60 * MINUTE));

    const opened = await openWindow(device.id, {
      startsAt: new Date(now - 60 * MINUTE).toISOString(),
      endsAt: new Date(now - 10 * MINUTE).toISOString(),
      reason: 'camera misaligned after roadworks',
    });
    expect(opened.statusCode).toBe(201);
    const window = opened.json<WindowBody>();
    expect(window).toMatchObject({ source: 'operator', recordedBy: 'person:ana.ruiz' });

    await runQueuedScreening(device.id);
    expect(await stateOf(inside)).toEqual({ state: 'excluded', exclusionWindowIds: [window.id] });
    expect(await stateOf(outside)).toEqual({ state: 'awaiting_review', exclusionWindowIds: null });

    const withdrawn = await post(`/api/windows/${window.id}/withdraw`, { reason: 'alignment checked on site: fine' }, ben);
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json<WindowBody>().withdrawnAt).not.toBeNull();
    await runQueuedScreening(device.id);
    expect(await stateOf(inside)).toEqual({ state: 'awaiting_review', exclusionWindowIds: null });

    const trail = await database.db
      .select({ actor: auditLog.actor, action: auditLog.action, subjectId: auditLog.subjectId, details: auditLog.details })
      .from(auditLog)
      .where(inArray(auditLog.subjectId, [device.id, inside]))
      .orderBy(asc(auditLog.seq));
    // Enrolment, its certifications and their confirmation are the registry's story, not this one.
    expect(trail.filter((entry) => !entry.action.startsWith('device.'))).toEqual([
      expect.objectContaining({ actor: 'person:ana.ruiz', action: 'malfunction_window.opened', subjectId: device.id }),
      expect.objectContaining({
        action: 'capture.excluded',
        subjectId: inside,
        details: { from: 'awaiting_review', to: 'excluded', windowIds: [window.id] },
      }),
      expect.objectContaining({
        actor: 'person:ben.ode',
        action: 'malfunction_window.withdrawn',
        details: { windowId: window.id, reason: 'alignment checked on site: fine' },
      }),
      expect.objectContaining({
        action: 'capture.admitted_to_review',
        subjectId: inside,
        details: { from: 'excluded', to: 'awaiting_review', windowIds: [] },
      }),
    ]);

    const again = await post(`/api/windows/${window.id}/withdraw`, { reason: 'once more' }, ben);
    expect(again.statusCode).toBe(409);
  });

  it('closes an open window once, re-admitting what it no longer covers, and refuses to close it again', async () => {
    const device = await enrolTestDevice(database.db);
    const now = Date.now();
    const early = await insertCapture(device.id, new Date(now - 50 * MINUTE));
    const late = await insertCapture(device.id, new Date(now - 5 * MINUTE));
    const opened = await openWindow(device.id, {
      startsAt: new Date(now - 60 * MINUTE).toISOString(),
      reason: 'lens fogged',
    });
    expect(opened.statusCode).toBe(201);
    const window = opened.json<WindowBody>();
    expect(window.endsAt).toBeNull();
    await runQueuedScreening(device.id);
    expect((await stateOf(late))?.state).toBe('excluded');

    const close = { endsAt: new Date(now - 20 * MINUTE).toISOString(), reason: 'lens cleaned' };
    const closed = await post(`/api/windows/${window.id}/close`, close);
    expect(closed.statusCode).toBe(200);
    expect(closed.json<WindowBody>().endsAt).toBe(close.endsAt);
    await runQueuedScreening(device.id);
    expect((await stateOf(early))?.state).toBe('excluded');
    expect((await stateOf(late))?.state).toBe('awaiting_review');

    const twice = await post(`/api/windows/${window.id}/close`, close);
    expect(twice.statusCode).toBe(409);
    expect(twice.json<{ error: string }>().error).toContain('already closed');
    expect((await post(`/api/windows/${randomUUID()}/close`, close)).statusCode).toBe(404);
  });

  it('refuses a window without a login, on an unknown device, or ending before it starts', async () => {
    const device = await enrolTestDevice(database.db);
    const startsAt = new Date(Date.now() - 60 * MINUTE).toISOString();
    const body = { startsAt, reason: 'camera misaligned' };
    const anonymous = await app.inject({ method: 'POST', url: `/api/devices/${device.id}/windows`, payload: body });
    expect(anonymous.statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/fleet/health' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: `/api/devices/${device.id}/health` })).statusCode).toBe(401);
    expect((await openWindow('NO-SUCH-DEVICE', body)).statusCode).toBe(404);
    const backwards = await openWindow(device.id, { ...body, endsAt: startsAt });
    expect(backwards.statusCode).toBe(400);
    expect(backwards.body).toContain('endsAt must be after startsAt');
    // The person acting comes from the login, never from the request body.
    expect((await openWindow(device.id, { ...body, operator: 'someone else' })).statusCode).toBe(400);
    const window = (await openWindow(device.id, body)).json<WindowBody>();
    const closeTooEarly = await post(`/api/windows/${window.id}/close`, { endsAt: startsAt, reason: 'fixed' });
    expect(closeTooEarly.statusCode).toBe(400);
  });

  it('marks a device with an open window, or a silent one, as down and lists it first', async () => {
    const healthy = await enrolTestDevice(database.db);
    const windowed = await enrolTestDevice(database.db);
    const silent = await enrolTestDevice(database.db);
    const now = Date.now();
    const heartbeat = (deviceId: string, at: Date) =>
      database.db.insert(deviceHealthEvents).values({ deviceId, kind: 'heartbeat', reportedAt: at, payload: { kind: 'heartbeat' } });
    await heartbeat(healthy.id, new Date(now - 20_000));
    await heartbeat(windowed.id, new Date(now - 20_000));
    await heartbeat(silent.id, new Date(now - 10 * MINUTE));
    const excludedCapture = await insertCapture(windowed.id, new Date(now - 5 * MINUTE));
    const opened = await openWindow(windowed.id, {
      startsAt: new Date(now - 15 * MINUTE).toISOString(),
      reason: 'pole hit by a van',
    });
    await runQueuedScreening(windowed.id);
    expect((await stateOf(excludedCapture))?.state).toBe('excluded');

    const response = await app.inject({ method: 'GET', url: '/api/fleet/health', headers });
    expect(response.statusCode).toBe(200);
    const fleet = response.json<{
      devices: { id: string; down: boolean; openWindows: unknown[]; silentSince: string | null; excludedLast24h: number }[];
    }>().devices;
    const byId = (id: string) => fleet.find((device) => device.id === id);
    expect(byId(windowed.id)).toMatchObject({
      down: true,
      silentSince: null,
      excludedLast24h: 1,
      openWindows: [{ id: opened.json<WindowBody>().id, source: 'operator', reason: 'pole hit by a van', until: null }],
    });
    expect(byId(silent.id)).toMatchObject({ down: true, openWindows: [], silentSince: new Date(now - 10 * MINUTE).toISOString() });
    expect(byId(healthy.id)).toMatchObject({ down: false, openWindows: [], silentSince: null, excludedLast24h: 0, rateAnomalies: [] });
    const firstUp = fleet.findIndex((device) => !device.down);
    expect(fleet.slice(firstUp).every((device) => !device.down)).toBe(true);
  });

  it('counts a capture excluded today by a fault reported late among the excluded of the last 24 h, as its window does', async () => {
    const device = await enrolTestDevice(database.db, { certifiedFrom: new Date(Date.now() - 10 * 24 * 60 * MINUTE) });
    const now = Date.now();
    const taken = await insertCapture(device.id, new Date(now - 3 * 24 * 60 * MINUTE));
    const opened = await openWindow(device.id, {
      startsAt: new Date(now - 4 * 24 * 60 * MINUTE).toISOString(),
      reason: 'lens fogged since Monday, reported today',
    });
    await runQueuedScreening(device.id);
    expect((await stateOf(taken))?.state).toBe('excluded');
    const health = await app.inject({ method: 'GET', url: `/api/devices/${device.id}/health`, headers });
    const reported = health.json<{ windows: { id: string; excludedCaptures: number }[] }>().windows;
    expect(reported.find((win) => win.id === opened.json<WindowBody>().id)?.excludedCaptures).toBe(1);
    const fleet = (await app.inject({ method: 'GET', url: '/api/fleet/health', headers })).json<{
      devices: { id: string; excludedLast24h: number }[];
    }>().devices;
    expect(fleet.find((entry) => entry.id === device.id)?.excludedLast24h).toBe(1);
  });

  it('shows what the latest hotspot analysis flagged about a device rate, and nothing from older runs', async () => {
    const device = await enrolTestDevice(database.db);
    const run = async (finishedAt: Date, rateRatio: number) => {
      const [row] = await database.db
        .insert(analyticsRuns)
        .values({ startedAt: finishedAt, finishedAt, periodFrom: '2026-01-01', periodTo: '2026-06-30', settings: {} })
        .returning({ id: analyticsRuns.id });
      await database.db.insert(deviceAnomalies).values({
        runId: row!.id,
        deviceId: device.id,
        metric: 'capture_rate',
        basis: 'own_history',
        observed: 100,
        expected: 10,
        rateRatio,
        statistic: 12,
        pValue: 0.0001,
        flagged: true,
      });
    };
    await run(new Date(Date.now() - 2 * 3600_000), 4);
    await run(new Date(Date.now() - 3600_000), 9.8);
    const fleet = (await app.inject({ method: 'GET', url: '/api/fleet/health', headers })).json<{
      devices: { id: string; down: boolean; rateAnomalies: unknown[] }[];
    }>().devices;
    expect(fleet.find((entry) => entry.id === device.id)).toMatchObject({
      down: false,
      rateAnomalies: [{ metric: 'capture_rate', basis: 'own_history', rateRatio: 9.8 }],
    });
  });

  it('lays out a device timeline: reports, heartbeats, windows and what each excluded', async () => {
    const device = await enrolTestDevice(database.db);
    const now = Date.now();
    const lastBeat = new Date(now - 2 * MINUTE);
    await database.db.insert(deviceHealthEvents).values([
      { deviceId: device.id, kind: 'heartbeat', reportedAt: new Date(now - 3 * MINUTE), payload: { kind: 'heartbeat' } },
      { deviceId: device.id, kind: 'heartbeat', reportedAt: lastBeat, payload: { kind: 'heartbeat' } },
      {
        deviceId: device.id,
        kind: 'self_test',
        reportedAt: new Date(now - 90 * MINUTE),
        payload: {
          protocol: PROTOCOL_VERSION,
          deviceId: device.id,
          reportedAt: new Date(now - 90 * MINUTE).toISOString(),
          kind: 'self_test',
          passed: false,
          detail: 'IR filter stuck',
        },
      },
      { deviceId: device.id, kind: 'heartbeat', reportedAt: new Date(now - 72 * 60 * MINUTE), payload: { kind: 'heartbeat' } },
    ]);
    await insertCapture(device.id, new Date(now - 30 * MINUTE));
    await insertCapture(device.id, new Date(now - 25 * MINUTE));
    const window = (
      await openWindow(device.id, {
        startsAt: new Date(now - 40 * MINUTE).toISOString(),
        endsAt: new Date(now - 20 * MINUTE).toISOString(),
        reason: 'camera misaligned',
      })
    ).json<WindowBody>();
    await runQueuedScreening(device.id);

    const response = await app.inject({ method: 'GET', url: `/api/devices/${device.id}/health?hours=48`, headers });
    expect(response.statusCode).toBe(200);
    const timeline = response.json<{
      device: { id: string; status: string; lastHeartbeatAt: string };
      events: { kind: string; summary: string }[];
      heartbeats: { at: string; count: number }[];
      windows: { id: string; source: string; recordedBy: string; excludedCaptures: number; withdrawn: unknown }[];
    }>();
    expect(timeline.device).toEqual({ id: device.id, status: 'enabled', lastHeartbeatAt: lastBeat.toISOString() });
    expect(timeline.events).toEqual([expect.objectContaining({ kind: 'self_test', summary: 'self-test failed: IR filter stuck' })]);
    expect(timeline.heartbeats.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(2);
    expect(timeline.windows).toEqual([
      expect.objectContaining({ id: window.id, source: 'operator', recordedBy: 'person:ana.ruiz', excludedCaptures: 2, withdrawn: null }),
    ]);
    expect((await app.inject({ method: 'GET', url: '/api/devices/NO-SUCH-DEVICE/health', headers })).statusCode).toBe(404);
  });

  it('describes the health routes in the OpenAPI document, each change made by the person logged in', async () => {
    const document = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>>;
    }>();
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/devices/{deviceId}/windows',
        '/api/windows/{windowId}/close',
        '/api/windows/{windowId}/withdraw',
        '/api/devices/{deviceId}/health',
        '/api/fleet/health',
      ]),
    );
    const body = document.paths['/api/devices/{deviceId}/windows']?.post?.requestBody?.content['application/json']?.schema;
    expect(body?.required).toEqual(['startsAt', 'reason']);
  });
});
