import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidencePackage } from '../evidence/evidence-verifier.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import type { CaptureDetail } from './capture-detail.js';
import { auditLog, captureMedia, captures, incidents, reviewClaims, reviewDecisions } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, testJpeg, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

describe('review: claims, decisions, the two-person rule and incidents, over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let li: LoggedIn;
  let wang: LoggedIn;
  let legal: LoggedIn;
  let assistant: LoggedIn;
  let analyst: LoggedIn;
  let cameraAdmin: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('review');
    mediaDir = await createTempDir('review-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: ['red_light'] } });
    camera = await enrolTestDevice(database.db);
    li = await personLoggedIn(app, database.db, 'li', ['reviewer']);
    wang = await personLoggedIn(app, database.db, 'wang', ['reviewer']);
    legal = await personLoggedIn(app, database.db, 'chen', ['legal_reviewer']);
    assistant = await personLoggedIn(app, database.db, 'fang', ['auxiliary']);
    analyst = await personLoggedIn(app, database.db, 'yang', ['analyst']);
    cameraAdmin = await personLoggedIn(app, database.db, 'hui', ['reviewer', 'device_admin'], { administeredDeviceIds: [camera.id] });
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
  const stateOf = async (captureId: string) =>
    (
      await database.db.select({ state: captures.state, incidentId: captures.incidentId }).from(captures).where(eq(captures.id, captureId))
    )[0];

  it('gives the next capture with everything needed to decide, and approves it in one step', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - 6 * 24 * 3600_000) });
    const next = await app.inject({ method: 'POST', url: '/api/review/next', headers: li.headers, payload: {} });
    expect(next.statusCode).toBe(200);
    const { detail } = next.json<{ detail: CaptureDetail }>();
    expect(detail.capture).toMatchObject({ id: captureId, state: 'awaiting_review', overdue: true, twoPersonRule: false });
    expect(detail.integrity).toMatchObject({ intact: true, signature: { valid: true } });
    expect(detail.certification.certifiedAtCapture).toBe(true);
    expect(detail.media).toHaveLength(2);

    const original = await app.inject({
      method: 'GET',
      url: `/api/review/captures/${captureId}/media/${detail.media[0]!.sha256}`,
      headers: li.headers,
    });
    expect(original.statusCode).toBe(200);
    expect(original.headers['content-type']).toBe('image/jpeg');

    // Six days old, a day past the statutory deadline: approving it takes a stated reason.
    expect((await decideAs(li, captureId, { outcome: 'approved' })).statusCode).toBe(422);
    const approved = await decideAs(li, captureId, { outcome: 'approved', lateReason: 'arrived after a network outage' });
    expect(approved.json()).toMatchObject({ ok: true, state: 'approved', step: 'first' });
    expect((await stateOf(captureId))?.incidentId).toEqual(expect.any(String));
    const trail = await database.db
      .select({ action: auditLog.action, actor: auditLog.actor, details: auditLog.details })
      .from(auditLog)
      .where(eq(auditLog.subjectId, captureId))
      .orderBy(asc(auditLog.seq));
    expect(trail.map((entry) => entry.action)).toEqual(['review.claimed', 'evidence.viewed', 'capture.approved']);
    expect(trail[2]).toMatchObject({
      actor: 'person:li',
      details: { certificateNumber: 'ENF-li', from: 'awaiting_review', to: 'approved' },
    });
  });

  it('needs a second, different reviewer where the rule applies', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, { violationType: 'red_light' });
    expect((await claim(li, captureId)).statusCode).toBe(200);
    expect((await decideAs(li, captureId, { outcome: 'approved' })).json()).toMatchObject({ state: 'awaiting_second_review' });

    // The first approver can neither claim nor decide the second step.
    expect((await claim(li, captureId)).statusCode).toBe(409);
    const queue = await app.inject({ method: 'GET', url: '/api/review/queue', headers: li.headers });
    expect(queue.json<{ items: { id: string }[] }>().items.map((item) => item.id)).not.toContain(captureId);

    expect((await claim(wang, captureId)).statusCode).toBe(200);
    expect((await decideAs(wang, captureId, { outcome: 'approved' })).json()).toMatchObject({ state: 'approved', step: 'second' });
    const decisions = await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, captureId));
    expect(decisions.map((decision) => [decision.step, decision.certificateNumber])).toEqual([
      ['first', 'ENF-li'],
      ['second', 'ENF-wang'],
    ]);
  });

  it('counts each recorded decision on /metrics by outcome and step, timed from the signed capture time', async () => {
    const scrape = async () => {
      const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return (series: string) =>
        Number(
          body
            .split('\n')
            .find((line) => line.startsWith(`${series} `))
            ?.split(' ')[1] ?? 0,
        );
    };
    const before = await scrape();
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000);
    const twoStep = await insertReviewableCapture(database.db, store, camera, { violationType: 'red_light', capturedAt: hoursAgo(2) });
    await claim(li, twoStep);
    expect((await decideAs(li, twoStep, { outcome: 'approved' })).statusCode).toBe(200);
    await claim(wang, twoStep);
    expect((await decideAs(wang, twoStep, { outcome: 'approved' })).statusCode).toBe(200);
    const rejected = await insertReviewableCapture(database.db, store, camera, { capturedAt: hoursAgo(30) });
    await claim(li, rejected);
    // A refused decision is not a decision: it counts nowhere.
    expect((await decideAs(li, rejected, { outcome: 'rejected' })).statusCode).toBe(422);
    expect((await decideAs(li, rejected, { outcome: 'rejected', reasonCode: 'unclear_record' })).statusCode).toBe(200);
    const after = await scrape();
    const added = (series: string) => after(series) - before(series);

    for (const [labels, count] of [
      ['outcome="approved",step="first"', 1],
      ['outcome="approved",step="second"', 1],
      ['outcome="rejected",step="first"', 1],
      ['outcome="escalated",step="first"', 0],
    ] as const) {
      expect(added(`verity_review_decisions_total{${labels}}`)).toBe(count);
      expect(added(`verity_review_latency_seconds_count{${labels}}`)).toBe(count);
    }
    // Two hours after capture, then 30 hours: the histogram holds each in its bucket.
    const firstApproval = 'outcome="approved",step="first"';
    expect(added(`verity_review_latency_seconds_sum{${firstApproval}}`)).toBeGreaterThanOrEqual(7200);
    expect(added(`verity_review_latency_seconds_sum{${firstApproval}}`)).toBeLessThan(7300);
    expect(added(`verity_review_latency_seconds_bucket{le="3600",${firstApproval}}`)).toBe(0);
    expect(added(`verity_review_latency_seconds_bucket{le="14400",${firstApproval}}`)).toBe(1);
    const rejection = 'outcome="rejected",step="first"';
    expect(added(`verity_review_latency_seconds_bucket{le="86400",${rejection}}`)).toBe(0);
    expect(added(`verity_review_latency_seconds_bucket{le="172800",${rejection}}`)).toBe(1);
  });

  it('rejects only with a reason from the maintained list', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    await claim(wang, captureId);
    expect((await decideAs(wang, captureId, { outcome: 'rejected' })).statusCode).toBe(422);
    expect((await decideAs(wang, captureId, { outcome: 'rejected', reasonCode: 'looked_wrong' })).statusCode).toBe(422);
    const reasons = await app.inject({ method: 'GET', url: '/api/reject-reasons', headers: wang.headers });
    expect(reasons.json<{ reasons: { code: string }[] }>().reasons.map((reason) => reason.code)).toContain('emergency_vehicle_on_duty');
    const rejected = await decideAs(wang, captureId, {
      outcome: 'rejected',
      reasonCode: 'emergency_vehicle_on_duty',
      note: 'ambulance, lights on',
    });
    expect(rejected.json()).toMatchObject({ state: 'rejected' });
    expect((await stateOf(captureId))?.state).toBe('rejected');
  });

  it('leaves escalations to legal reviewers', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    await claim(li, captureId);
    expect((await decideAs(li, captureId, { outcome: 'escalated' })).statusCode).toBe(422);
    expect((await decideAs(li, captureId, { outcome: 'escalated', note: 'plate partly covered; legal view needed' })).json()).toMatchObject(
      {
        state: 'escalated',
      },
    );
    expect((await claim(wang, captureId)).statusCode).toBe(409);
    expect((await claim(legal, captureId)).statusCode).toBe(200);
    expect((await decideAs(legal, captureId, { outcome: 'approved' })).json()).toMatchObject({ state: 'approved' });
  });

  it('never lets auxiliary staff decide, nor analysts see images, nor anyone review a device they administer', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    expect((await claim(assistant, captureId)).statusCode).toBe(403);
    expect((await decideAs(assistant, captureId, { outcome: 'approved' })).statusCode).toBe(403);
    const note = await app.inject({
      method: 'POST',
      url: `/api/review/captures/${captureId}/annotations`,
      headers: assistant.headers,
      payload: { kind: 'looks_valid', note: 'plate readable, both frames sharp' },
    });
    expect(note.statusCode).toBe(201);

    const detail = await app.inject({
      method: 'GET',
      url: `/api/review/captures/${captureId}?reason=checking+the+quality`,
      headers: assistant.headers,
    });
    const sha256 = detail.json<{ media: { sha256: string }[] }>().media[0]!.sha256;
    expect(
      (await app.inject({ method: 'GET', url: `/api/review/captures/${captureId}/media/${sha256}`, headers: analyst.headers })).statusCode,
    ).toBe(403);
    expect(
      (await app.inject({ method: 'GET', url: `/api/review/captures/${captureId}?reason=curious`, headers: analyst.headers })).statusCode,
    ).toBe(403);
    // Looking without a claim needs a stated reason, which the audit log keeps (law L7).
    expect((await app.inject({ method: 'GET', url: `/api/review/captures/${captureId}`, headers: assistant.headers })).statusCode).toBe(
      400,
    );
    const [viewed] = await database.db
      .select({ details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, captureId), eq(auditLog.action, 'evidence.viewed')));
    expect(viewed?.details).toEqual({ reason: 'checking the quality' });

    const own = await claim(cameraAdmin, captureId);
    expect(own.statusCode).toBe(409);
    const ownQueue = await app.inject({ method: 'GET', url: '/api/review/queue', headers: cameraAdmin.headers });
    expect(ownQueue.json<{ items: { id: string }[] }>().items.map((item) => item.id)).not.toContain(captureId);
  });

  it('lets exactly one of two racing reviewers claim, and records exactly one decision', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    const claims = await Promise.all([claim(li, captureId), claim(wang, captureId)]);
    expect(claims.map((response) => response.statusCode).sort()).toEqual([200, 409]);
    const decisions = await Promise.all([
      decideAs(li, captureId, { outcome: 'approved' }),
      decideAs(wang, captureId, { outcome: 'approved' }),
    ]);
    expect(decisions.filter((response) => response.statusCode === 200)).toHaveLength(1);
    expect(await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, captureId))).toHaveLength(1);
  });

  it('hands a capture to a colleague once the claim lease lapses', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    expect((await claim(li, captureId)).statusCode).toBe(200);
    expect((await claim(wang, captureId)).json<{ error: string }>().error).toMatch(/li is reviewing/);
    await database.db
      .update(reviewClaims)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(reviewClaims.captureId, captureId));
    expect((await claim(wang, captureId)).statusCode).toBe(200);
    expect((await decideAs(li, captureId, { outcome: 'approved' })).statusCode).toBe(409);
  });

  it('makes repeated captures of one act a single incident, and a later one a new incident', async () => {
    const plate = 'INC-777';
    const base = Date.now() - 3 * 3600_000;
    const readings = { speedKmh: 80, limitKmh: 60, plate };
    const ids = [
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(base), readings }),
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(base + 10 * 60_000), readings }),
      await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(base + 2 * 3600_000), readings }),
    ];
    for (const id of ids) {
      await claim(wang, id);
      expect((await decideAs(wang, id, { outcome: 'approved' })).statusCode).toBe(200);
    }
    const states = await database.db
      .select({ id: captures.id, incidentId: captures.incidentId })
      .from(captures)
      .where(inArray(captures.id, ids));
    const incidentOf = (id: string) => states.find((row) => row.id === id)?.incidentId;
    expect(incidentOf(ids[0]!)).toBe(incidentOf(ids[1]!));
    expect(incidentOf(ids[2]!)).not.toBe(incidentOf(ids[0]!));
    const [grouped] = await database.db
      .select()
      .from(incidents)
      .where(eq(incidents.id, incidentOf(ids[0]!)!));
    expect(grouped).toMatchObject({ subject: `plate:${plate}`, violationType: 'speeding', road: 'Test Road' });

    const exportUrl = `/api/incidents/${grouped!.id}/evidence-package`;
    expect((await app.inject({ method: 'GET', url: exportUrl, headers: wang.headers })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: `${exportUrl}?reason=curious+analyst`, headers: analyst.headers })).statusCode).toBe(
      403,
    );
    const exported = await app.inject({ method: 'GET', url: `${exportUrl}?reason=court+hearing+2026-12-01`, headers: wang.headers });
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toBe('application/zip');
    const report = verifyEvidencePackage(exported.rawPayload);
    expect(report.ok).toBe(true);
    const [logged] = await database.db
      .select({ actor: auditLog.actor, details: auditLog.details })
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, grouped!.id), eq(auditLog.action, 'evidence.exported')));
    expect(logged).toMatchObject({ actor: 'person:wang', details: { reason: 'court hearing 2026-12-01' } });

    // Auditors read the record of that export; reviewers cannot browse the log.
    const auditor = await personLoggedIn(app, database.db, 'zhao', ['auditor']);
    const record = await app.inject({
      method: 'GET',
      url: `/api/audit/entries?subjectId=${grouped!.id}&action=evidence.exported`,
      headers: auditor.headers,
    });
    expect(record.json<{ entries: { actor: string }[] }>().entries).toEqual([expect.objectContaining({ actor: 'person:wang' })]);
    expect((await app.inject({ method: 'GET', url: '/api/audit/entries', headers: wang.headers })).statusCode).toBe(403);
  });

  it('refuses to approve a capture whose stored media no longer matches what the device signed', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    const [frame] = await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId)).limit(1);
    await writeFile(
      path.join(mediaDir.dir, frame!.mediaSha256.slice(0, 2), frame!.mediaSha256.slice(2, 4), frame!.mediaSha256),
      await testJpeg(),
    );
    await claim(li, captureId);
    const refused = await decideAs(li, captureId, { outcome: 'approved' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toMatch(/integrity/);
    // Rejecting such a record stays possible: it is how it leaves the queue.
    expect((await decideAs(li, captureId, { outcome: 'rejected', reasonCode: 'unclear_record' })).statusCode).toBe(200);
  });

  it('is backed by the database: no approved state without a recorded approval', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    await expect(database.db.update(captures).set({ state: 'approved' }).where(eq(captures.id, captureId))).rejects.toThrow();
  });
});
