import { and, eq, inArray, isNull, like } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, captures, incidents, reviewClaims, reviewDecisions } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

const RACERS = 20;

/**
 * Test 13 of docs/reliability.md. Passing means: twenty claims, decisions or approvals sent at
 * once through the real review server leave exactly one winner per step (the others get 409),
 * one decision row and one decision entry in the audit log per step, and one incident per act.
 */
describe('twenty reviewers at once on the same captures', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let reviewers: LoggedIn[];

  beforeAll(async () => {
    database = await createTestDatabase('parallel');
    mediaDir = await createTempDir('parallel-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: ['red_light'] } });
    camera = await enrolTestDevice(database.db);
    reviewers = [];
    for (let index = 0; index < RACERS; index++) reviewers.push(await personLoggedIn(app, database.db, `racer-${index}`, ['reviewer']));
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const claim = (who: LoggedIn, captureId: string) =>
    app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/claim`, headers: who.headers });
  const decideAs = (who: LoggedIn, captureId: string, body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/decision`, headers: who.headers, payload: body });
  const statuses = (responses: { statusCode: number }[]) => responses.map((response) => response.statusCode).sort();
  /** The sorted status codes of `count` racers of whom exactly one won. */
  const oneWinnerOf = (count: number) => [200, ...Array.from({ length: count - 1 }, () => 409)];
  const onlyOneWins = (responses: { statusCode: number }[]) => expect(statuses(responses)).toEqual(oneWinnerOf(responses.length));
  const approveOrReject = (index: number) =>
    index % 2 === 0 ? { outcome: 'approved' } : { outcome: 'rejected', reasonCode: 'emergency_vehicle_on_duty' };
  const decisionEntries = (captureId: string) =>
    database.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, captureId), like(auditLog.action, 'capture.%')));

  /** Claims a capture by twenty reviewers at once, expecting one winner; returns who holds it. */
  async function raceForClaim(captureId: string, among: LoggedIn[]): Promise<LoggedIn> {
    const responses = await Promise.all(among.map((who) => claim(who, captureId)));
    expect(statuses(responses)).toEqual(oneWinnerOf(among.length));
    const [held] = await database.db.select().from(reviewClaims).where(eq(reviewClaims.captureId, captureId));
    const holder = among.find((who) => who.personId === held?.personId);
    if (!holder) throw new Error('the winning claim names none of the racers');
    return holder;
  }

  it("gives a capture to one of twenty claimants; of the holder's twenty approve/reject clicks and everyone else's, one decision counts", async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    const holder = await raceForClaim(captureId, reviewers);
    const others = reviewers.filter((who) => who !== holder);
    const responses = await Promise.all([
      ...Array.from({ length: RACERS }, (_, index) => decideAs(holder, captureId, approveOrReject(index))),
      ...others.map((who, index) => decideAs(who, captureId, approveOrReject(index))),
    ]);
    onlyOneWins(responses);
    expect(await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, captureId))).toHaveLength(1);
    const entries = await decisionEntries(captureId);
    expect(entries.map((entry) => entry.action)).toHaveLength(1);
    expect(entries[0]!.action).toMatch(/^capture\.(approved|rejected)$/);
    const [row] = await database.db.select().from(captures).where(eq(captures.id, captureId));
    expect(row!.state).toBe(entries[0]!.action.slice('capture.'.length));
  });

  it('takes each step of a two-person decision once, with the second claim and approval raced by twenty as well', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, { violationType: 'red_light' });
    const first = await raceForClaim(captureId, reviewers);
    onlyOneWins(await Promise.all(Array.from({ length: RACERS }, () => decideAs(first, captureId, { outcome: 'approved' }))));
    const second = await raceForClaim(
      captureId,
      reviewers.filter((who) => who !== first),
    );
    onlyOneWins(await Promise.all(Array.from({ length: RACERS }, () => decideAs(second, captureId, { outcome: 'approved' }))));
    const decisions = await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, captureId));
    expect(decisions.map((decision) => decision.step).sort()).toEqual(['first', 'second']);
    expect((await decisionEntries(captureId)).map((entry) => entry.action).sort()).toEqual(['capture.approved', 'capture.first_approval']);
    const [row] = await database.db.select().from(captures).where(eq(captures.id, captureId));
    expect(row!.state).toBe('approved');
    expect(row!.incidentId).not.toBeNull();
  });

  it('makes twenty captures of one act, approved by twenty reviewers at the same moment, one incident', async () => {
    const plate = 'RACE-20';
    const base = Date.now() - 3600_000;
    const ids: string[] = [];
    for (let index = 0; index < RACERS; index++) {
      const readings = { speedKmh: 80, limitKmh: 60, plate };
      ids.push(await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(base + index * 60_000), readings }));
    }
    for (const [index, id] of ids.entries()) expect((await claim(reviewers[index]!, id)).statusCode).toBe(200);
    const responses = await Promise.all(ids.map((id, index) => decideAs(reviewers[index]!, id, { outcome: 'approved' })));
    // A concurrent regrouping may be told to retry (409): what matters is that none lands in a second incident.
    expect(responses.every((response) => [200, 409].includes(response.statusCode))).toBe(true);
    for (const [index, id] of ids.entries()) {
      if (responses[index]!.statusCode === 200) continue;
      expect((await decideAs(reviewers[index]!, id, { outcome: 'approved' })).statusCode).toBe(200);
    }
    const rows = await database.db
      .select({ incidentId: captures.incidentId, state: captures.state })
      .from(captures)
      .where(inArray(captures.id, ids));
    expect(rows.every((row) => row.state === 'approved')).toBe(true);
    expect(new Set(rows.map((row) => row.incidentId)).size).toBe(1);
    const open = await database.db
      .select()
      .from(incidents)
      .where(and(eq(incidents.subject, `plate:${plate}`), isNull(incidents.closedAt)));
    expect(open).toHaveLength(1);
  });
});
