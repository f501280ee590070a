import { and, asc, eq, inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupIntoIncidents } from '../../core/domain/incidents.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, captures } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { runQueuedScreenings } from '../../test/support/screening.js';

const MINUTE = 60_000;

describe('incidents (law L10): the same acts whatever the order of approvals, every change audited', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let reviewer: LoggedIn;
  let operator: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('incidents');
    mediaDir = await createTempDir('incidents-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: [] } });
    camera = await enrolTestDevice(database.db);
    reviewer = await personLoggedIn(app, database.db, 'li', ['reviewer']);
    operator = await personLoggedIn(app, database.db, 'ops', ['device_admin']);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function approve(captureId: string): Promise<void> {
    const claim = await app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/claim`, headers: reviewer.headers });
    expect(claim.statusCode).toBe(200);
    const decided = await app.inject({
      method: 'POST',
      url: `/api/review/captures/${captureId}/decision`,
      headers: reviewer.headers,
      payload: { outcome: 'approved' },
    });
    expect(decided.statusCode, decided.body).toBe(200);
  }

  async function capturesOf(plate: string, minutes: readonly number[], base: number): Promise<string[]> {
    const ids: string[] = [];
    for (const minute of minutes) {
      ids.push(
        await insertReviewableCapture(database.db, store, camera, {
          capturedAt: new Date(base + minute * MINUTE),
          readings: { speedKmh: 80, limitKmh: 60, plate },
        }),
      );
    }
    return ids;
  }

  const incidentsOf = async (ids: string[]) =>
    new Map(
      (await database.db.select({ id: captures.id, incidentId: captures.incidentId }).from(captures).where(inArray(captures.id, ids))).map(
        (row) => [row.id, row.incidentId],
      ),
    );
  const trailOf = async (incidentId: string) =>
    database.db
      .select({ action: auditLog.action, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.subjectType, 'incident'), eq(auditLog.subjectId, incidentId)))
      .orderBy(asc(auditLog.seq));
  const listed = async () =>
    (await app.inject({ method: 'GET', url: '/api/incidents?limit=500', headers: reviewer.headers })).json<{
      incidents: { id: string }[];
    }>().incidents;

  it('makes t1, t1+55 min and t1+28 min one incident when approved in that order, and audits the merge with both ids', async () => {
    const [first, last, bridge] = await capturesOf('BRIDGE-1', [0, 55, 28], Date.now() - 4 * 3600_000);
    await approve(first!);
    await approve(last!);
    const before = await incidentsOf([first!, last!]);
    expect(before.get(first!)).not.toBe(before.get(last!));

    await approve(bridge!);
    const after = await incidentsOf([first!, last!, bridge!]);
    const survivor = after.get(first!)!;
    expect(new Set(after.values())).toEqual(new Set([survivor]));
    const absorbed = before.get(last!)!;
    expect(survivor).toBe(before.get(first!));
    expect((await trailOf(survivor)).map((entry) => entry.action)).toEqual(['incident.opened', 'incident.merged']);
    const merged = (await trailOf(survivor))[1]?.details as { merged: string[]; captureIds: string[] };
    expect(merged.merged).toEqual([absorbed]);
    expect([...merged.captureIds].sort()).toEqual([first, last, bridge].sort());
    expect((await trailOf(absorbed)).map((entry) => entry.action)).toEqual(['incident.opened', 'incident.closed']);
    expect((await trailOf(absorbed))[1]?.details).toMatchObject({ into: [survivor] });

    // The absorbed incident is no longer an act of its own, but its history stays readable.
    expect((await listed()).map((incident) => incident.id)).not.toContain(absorbed);
    const closed = await app.inject({ method: 'GET', url: `/api/incidents/${absorbed}`, headers: reviewer.headers });
    expect(closed.json()).toMatchObject({ incident: { id: absorbed, closedInto: [survivor] }, captures: [] });
    const kept = await app.inject({ method: 'GET', url: `/api/incidents/${survivor}`, headers: reviewer.headers });
    expect(kept.json<{ captures: unknown[] }>().captures).toHaveLength(3);
  });

  it('splits an incident when a late fault report excludes the capture that bridged it, and closes one left empty, all audited', async () => {
    const base = Date.now() - 3 * 3600_000;
    const [a, b, c] = await capturesOf('SPLIT-1', [0, 25, 50], base);
    for (const id of [a!, b!, c!]) await approve(id);
    const incidentId = (await incidentsOf([a!])).get(a!)!;

    const window = await app.inject({
      method: 'POST',
      url: `/api/devices/${camera.id}/windows`,
      headers: operator.headers,
      payload: {
        startsAt: new Date(base + 20 * MINUTE).toISOString(),
        endsAt: new Date(base + 30 * MINUTE).toISOString(),
        reason: 'radar drift found at the annual check',
      },
    });
    expect(window.statusCode, window.body).toBe(201);
    await runQueuedScreenings(database);

    const after = await incidentsOf([a!, b!, c!]);
    expect(after.get(b!)).toBeNull();
    expect(after.get(a!)).toBe(incidentId);
    const splitOff = after.get(c!)!;
    expect(splitOff).not.toBe(incidentId);
    const trail = await trailOf(incidentId);
    expect(trail.map((entry) => entry.action)).toEqual([
      'incident.opened',
      'incident.capture_added',
      'incident.capture_added',
      'incident.capture_removed',
      'incident.split',
    ]);
    expect(trail[3]?.details).toMatchObject({ captureId: b });
    expect((trail[3]?.details as { reason: string }).reason).toContain(window.json<{ id: string }>().id);
    expect(trail[4]?.details).toMatchObject({ into: [splitOff], captureIds: [a] });
    expect((await trailOf(splitOff)).map((entry) => [entry.action, entry.details])).toEqual([
      ['incident.split_off', expect.objectContaining({ from: [incidentId], captureIds: [c] })],
    ]);
    const shrunk = await app.inject({ method: 'GET', url: `/api/incidents/${incidentId}`, headers: reviewer.headers });
    expect(shrunk.json()).toMatchObject({
      incident: { firstCapturedAt: new Date(base).toISOString(), lastCapturedAt: new Date(base).toISOString(), closedAt: null },
    });

    // A second report covering the rest empties both: closed, not listed, and said so in their trails.
    await app.inject({
      method: 'POST',
      url: `/api/devices/${camera.id}/windows`,
      headers: operator.headers,
      payload: {
        startsAt: new Date(base - MINUTE).toISOString(),
        endsAt: new Date(base + 60 * MINUTE).toISOString(),
        reason: 'firmware fault',
      },
    });
    await runQueuedScreenings(database);
    for (const id of [incidentId, splitOff]) {
      expect((await trailOf(id)).at(-1)).toMatchObject({ action: 'incident.closed', details: { into: [] } });
      expect((await listed()).map((incident) => incident.id)).not.toContain(id);
    }
  });

  it('gives the grouping of time order for random captures of one act approved in random orders', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .uniqueArray(fc.integer({ min: 0, max: 150 }), { minLength: 2, maxLength: 5 })
          .chain((minutes) => fc.tuple(fc.constant(minutes), fc.shuffledSubarray([...minutes.keys()], { minLength: minutes.length }))),
        async ([minutes, order]) => {
          const base = Date.now() - 4 * 24 * 3600_000 + run * 6 * 3600_000;
          const ids = await capturesOf(`PROP-${run++}`, minutes, base);
          for (const index of order) await approve(ids[index]!);
          const assigned = await incidentsOf(ids);
          const partition = new Map<string, number[]>();
          for (const [index, id] of ids.entries())
            partition.set(assigned.get(id)!, [...(partition.get(assigned.get(id)!) ?? []), minutes[index]!]);
          const expected = groupIntoIncidents(
            minutes.map((minute) => ({ captureId: String(minute), capturedAt: new Date(base + minute * MINUTE) })),
            30 * MINUTE,
          ).map((group) => group.map((member) => Number(member.captureId)));
          const sortGroups = (groups: number[][]) => groups.map((group) => [...group].sort((x, y) => x - y)).sort((x, y) => x[0]! - y[0]!);
          expect(sortGroups([...partition.values()])).toEqual(sortGroups(expected));
        },
      ),
      { numRuns: 8 },
    );
  });
});
