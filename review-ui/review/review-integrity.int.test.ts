import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { captureMedia, captures, malfunctionWindows, reviewDecisions } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, testJpeg, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import type { CaptureDetail } from './capture-detail.js';

describe('decisions under load and evidence that matches its signature, over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let li: LoggedIn;
  let wang: LoggedIn;
  /** A superuser's own connection, outside the application: what a person with database access has. */
  let superuser: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('review_integrity');
    mediaDir = await createTempDir('review-integrity-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({
      db: database.db,
      store,
      checks: [{ name: 'database', probe: () => database.ping() }],
      settings: { twoPersonViolationTypes: ['red_light'] },
    });
    camera = await enrolTestDevice(database.db);
    li = await personLoggedIn(app, database.db, 'li', ['reviewer']);
    wang = await personLoggedIn(app, database.db, 'wang', ['reviewer']);
    superuser = new pg.Client({ connectionString: database.url });
    await superuser.connect();
  });

  afterAll(async () => {
    await superuser?.end();
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const claim = (who: LoggedIn, captureId: string) =>
    app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/claim`, headers: who.headers });
  const decideAs = (who: LoggedIn, captureId: string, body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/api/review/captures/${captureId}/decision`, headers: who.headers, payload: body });
  const detailOf = async (who: LoggedIn, captureId: string) =>
    (
      await app.inject({ method: 'GET', url: `/api/review/captures/${captureId}?reason=integrity+check`, headers: who.headers })
    ).json<CaptureDetail>();

  // The test database's pool has 5 connections: twenty requests at once is four times that.
  it.each([
    ['approvals', { outcome: 'approved' }, 'approved'],
    ['rejections', { outcome: 'rejected', reasonCode: 'unclear_record' }, 'rejected'],
  ])(
    'twenty parallel %s of one claimed capture record one decision, answer the rest 409 at once, and stay healthy',
    async (_label, body, state) => {
      const captureId = await insertReviewableCapture(database.db, store, camera);
      expect((await claim(li, captureId)).statusCode).toBe(200);
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const response = await decideAs(li, captureId, body);
          return { status: response.statusCode, error: response.json<{ error?: string }>().error, ms: Date.now() - started };
        }),
      );
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      const refused = answers.filter((answer) => answer.status !== 200);
      expect(refused.map((answer) => answer.status)).toEqual(Array(19).fill(409));
      for (const answer of refused) expect(answer.error).toMatch(/being recorded right now|no longer in review|claim this capture/);
      expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(10_000);
      expect(await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, captureId))).toHaveLength(1);
      expect((await database.db.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId)))[0]?.state).toBe(state);
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    },
  );

  it('refuses, in the database, any change to what a device signed', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    await expect(
      superuser.query(`update captures set manifest = jsonb_set(manifest, '{readings,speedKmh}', '150') where id = $1`, [captureId]),
    ).rejects.toThrow(/signed fields are immutable, refused change of manifest/);
    await expect(
      superuser.query(`update captures set captured_at = captured_at - interval '1 hour' where id = $1`, [captureId]),
    ).rejects.toThrow(/captured_at/);
    await expect(superuser.query(`update captures set raw_message = '\\x00' where id = $1`, [captureId])).rejects.toThrow(/raw_message/);
    await expect(
      superuser.query(`update capture_media set media_sha256 = repeat('0', 64) where capture_id = $1`, [captureId]),
    ).rejects.toThrow(/append-only/);
    await expect(superuser.query(`update media set size_bytes = size_bytes + 1`)).rejects.toThrow(/immutable/);
    // Moving a capture on in its life stays possible: the state is not a signed field.
    await superuser.query(`update captures set review_round = review_round + 1 where id = $1`, [captureId]);
  });

  it('shows an edit made with triggers disabled as not intact, names the field, shows the signed value and refuses approval', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, {
      readings: { speedKmh: 75, limitKmh: 60, plate: 'EDIT-75' },
    });
    expect((await detailOf(li, captureId)).integrity.intact).toBe(true);
    await superuser.query('set session_replication_role = replica');
    try {
      await superuser.query(`update captures set manifest = jsonb_set(manifest, '{readings,speedKmh}', '150') where id = $1`, [captureId]);
    } finally {
      await superuser.query('set session_replication_role = origin');
    }

    const detail = await detailOf(li, captureId);
    expect(detail.integrity.intact).toBe(false);
    expect(detail.integrity.record.differences).toEqual([{ field: 'manifest.readings.speedKmh', stored: 150, signed: 75 }]);
    expect(detail.integrity.problems.join(' ')).toContain('manifest.readings.speedKmh: the database says 150, the device signed 75');
    // What the reviewer reads is the device's word, whatever the copy says.
    expect((detail.capture.manifest as { readings: { speedKmh: number } }).readings.speedKmh).toBe(75);

    expect((await claim(li, captureId)).statusCode).toBe(200);
    const refused = await decideAs(li, captureId, { outcome: 'approved' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain('manifest.readings.speedKmh');
  });

  it('names an edited column and a swapped media link as well as an edited manifest', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, { violationType: 'red_light' });
    const [frame] = await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId)).limit(1);
    const substitute = await store.put(await testJpeg(1280, 720));
    await superuser.query('set session_replication_role = replica');
    try {
      await superuser.query(`update captures set violation_type = 'speeding' where id = $1`, [captureId]);
      await superuser.query(`insert into media (sha256, size_bytes, content_type) values ($1, 1, 'image/jpeg') on conflict do nothing`, [
        substitute,
      ]);
      await superuser.query(`update capture_media set media_sha256 = $1 where capture_id = $2 and name = $3`, [
        substitute,
        captureId,
        frame!.name,
      ]);
    } finally {
      await superuser.query('set session_replication_role = origin');
    }
    const detail = await detailOf(wang, captureId);
    expect(detail.integrity.intact).toBe(false);
    expect(detail.integrity.record.differences.map((difference) => difference.field).sort()).toEqual([
      `media.${frame!.name}`,
      'violationType',
    ]);
    // The two-person rule follows the signed violation type, not the edited column.
    expect(detail.capture).toMatchObject({ violationType: 'red_light', twoPersonRule: true });
  });

  it('refuses to serve a stored file whose bytes no longer match its hash, with the reason', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera);
    const detail = await detailOf(li, captureId);
    const original = detail.media[0]!;
    const url = `/api/review/captures/${captureId}/media/${original.sha256}`;
    expect((await app.inject({ method: 'GET', url, headers: li.headers })).statusCode).toBe(200);
    await writeFile(
      path.join(mediaDir.dir, original.sha256.slice(0, 2), original.sha256.slice(2, 4), original.sha256),
      await testJpeg(640, 480),
      {
        mode: 0o644,
      },
    );
    const swapped = await app.inject({ method: 'GET', url, headers: li.headers });
    expect(swapped.statusCode).toBe(409);
    expect(swapped.json<{ error: string }>().error).toMatch(/was changed: its bytes now hash to [0-9a-f]{64}/);
  });

  it('builds no evidence package from an approved capture edited afterwards', async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, {
      readings: { speedKmh: 80, limitKmh: 60, plate: 'PKG-80' },
    });
    expect((await claim(wang, captureId)).statusCode).toBe(200);
    const approved = await decideAs(wang, captureId, { outcome: 'approved' });
    const { incidentId } = approved.json<{ incidentId: string }>();
    const exportUrl = `/api/incidents/${incidentId}/evidence-package?reason=court+hearing+2026-12-09`;
    expect((await app.inject({ method: 'GET', url: exportUrl, headers: wang.headers })).statusCode).toBe(200);
    await superuser.query('set session_replication_role = replica');
    try {
      await superuser.query(`update captures set latitude = latitude + 0.01 where id = $1`, [captureId]);
    } finally {
      await superuser.query('set session_replication_role = origin');
    }
    const refused = await app.inject({ method: 'GET', url: exportUrl, headers: wang.headers });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain('latitude: the database says');
  });

  // A window the screening worker has not acted on yet: it exists in the record, the capture still sits in review.
  const windowNotYetScreened = async (device: TestDevice, startsAt: Date) => {
    const [window] = await database.db
      .insert(malfunctionWindows)
      .values({ deviceId: device.id, source: 'operator', startsAt, reason: 'lens cracked', recordedBy: 'person:operator' })
      .returning({ id: malfunctionWindows.id });
    return window!.id;
  };

  it('asks the one evidence rule before an approval: a malfunction window refuses it, and the detail says why beforehand', async () => {
    const radar = await enrolTestDevice(database.db);
    const capturedAt = new Date(Date.now() - 20 * 60_000);
    const captureId = await insertReviewableCapture(database.db, store, radar, { capturedAt });
    expect((await detailOf(li, captureId)).evidence).toEqual({ eligible: true, reasons: [] });
    const windowId = await windowNotYetScreened(radar, new Date(capturedAt.getTime() - 60_000));

    const detail = await detailOf(li, captureId);
    expect(detail.integrity.intact).toBe(true);
    expect(detail.evidence.eligible).toBe(false);
    expect(detail.evidence.reasons).toEqual([`malfunction window ${windowId} covers the capture`]);
    expect((await claim(li, captureId)).statusCode).toBe(200);
    const refused = await decideAs(li, captureId, { outcome: 'approved' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain(`malfunction window ${windowId} covers the capture`);
    expect((await database.db.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId)))[0]?.state).toBe(
      'awaiting_review',
    );
    // Rejecting stays possible: the rule guards what may become evidence, not what may be turned down.
    expect((await decideAs(li, captureId, { outcome: 'rejected', reasonCode: 'unclear_record' })).statusCode).toBe(200);
  });

  it('builds no evidence package once a malfunction window covers an approved capture, naming the window', async () => {
    const radar = await enrolTestDevice(database.db);
    const capturedAt = new Date(Date.now() - 20 * 60_000);
    const captureId = await insertReviewableCapture(database.db, store, radar, { capturedAt });
    expect((await claim(wang, captureId)).statusCode).toBe(200);
    const { incidentId } = (await decideAs(wang, captureId, { outcome: 'approved' })).json<{ incidentId: string }>();
    const exportUrl = `/api/incidents/${incidentId}/evidence-package?reason=court+hearing+2026-12-09`;
    expect((await app.inject({ method: 'GET', url: exportUrl, headers: wang.headers })).statusCode).toBe(200);
    const windowId = await windowNotYetScreened(radar, new Date(capturedAt.getTime() - 60_000));
    const refused = await app.inject({ method: 'GET', url: exportUrl, headers: wang.headers });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain(`malfunction window ${windowId} covers the capture`);
  });
});
