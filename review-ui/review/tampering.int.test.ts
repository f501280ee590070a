import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { openWindow } from '../../db/malfunction-windows.js';
import { captures, tamperingFindings } from '../../db/schema.js';
import { enrolTestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { runQueuedScreenings } from '../../test/support/screening.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

const ADMIN_TOKEN = 'tampering-test-token-0123';

describe('tampering override: two different qualified people, then back to review', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let officerLi: LoggedIn;
  let officerWang: LoggedIn;
  let lapsedOfficer: LoggedIn;
  let assistant: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('tampering');
    mediaDir = await createTempDir('tampering-media');
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), adminToken: ADMIN_TOKEN });
    officerLi = await personLoggedIn(app, database.db, 'officer.li', ['reviewer']);
    officerWang = await personLoggedIn(app, database.db, 'officer.wang', ['legal_reviewer']);
    lapsedOfficer = await personLoggedIn(app, database.db, 'officer.lapsed', ['reviewer'], {
      certificateExpiresAt: new Date(Date.now() - 86_400_000).toISOString(),
    });
    assistant = await personLoggedIn(app, database.db, 'assistant', ['auxiliary']);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  /** A capture of a fresh camera, excluded by a window the device reported: what a tampering finding answers. */
  const excludedByWindow = async () => {
    const camera = await enrolTestDevice(database.db);
    const capturedAt = new Date(Date.now() - 30 * 60_000);
    const [capture] = await database.db
      .insert(captures)
      .values({
        messageSha256: randomUUID(),
        deviceId: camera.id,
        deviceCaptureId: randomUUID(),
        state: 'awaiting_review',
        capturedAt,
        manifest: {},
        rawMessage: Buffer.from('x'),
      })
      .returning();
    const window = await database.db.transaction((tx) =>
      openWindow(tx, {
        deviceId: camera.id,
        source: 'device_reported',
        startsAt: new Date(capturedAt.getTime() - 60_000),
        endsAt: null,
        reason: 'radar housing opened',
        recordedBy: 'device:test',
      }),
    );
    await runQueuedScreenings(database);
    return { capture: capture!, window };
  };

  it('needs a second, different certified reviewer before an excluded capture returns to review', async () => {
    const { capture, window } = await excludedByWindow();

    const recorded = await app.inject({
      method: 'POST',
      url: `/api/captures/${capture.id}/tampering-findings`,
      headers: officerLi.headers,
      payload: { windowId: window.id, evidence: 'CCTV shows the driver taping over the radar housing at 10:02' },
    });
    expect(recorded.statusCode).toBe(201);
    const findingId = recorded.json<{ id: string }>().id;

    const confirmBy = (who: LoggedIn) =>
      app.inject({ method: 'POST', url: `/api/tampering-findings/${findingId}/confirm`, headers: who.headers });
    const sameReviewer = await confirmBy(officerLi);
    expect(sameReviewer.statusCode).toBe(409);
    // Not qualified: an expired enforcement certificate, or a role that may never decide (law L9).
    const lapsed = await confirmBy(lapsedOfficer);
    expect(lapsed.statusCode).toBe(403);
    expect(lapsed.json<{ error: string }>().error).toMatch(/certificate .* expired/);
    expect((await confirmBy(assistant)).statusCode).toBe(403);
    // The admin token is a machine credential for provisioning; it never decides on evidence.
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/api/tampering-findings/${findingId}/confirm`,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).statusCode,
    ).toBe(403);
    await runQueuedScreenings(database);
    expect((await database.db.select().from(captures).where(eq(captures.id, capture.id)))[0]?.state).toBe('excluded');

    const confirmed = await confirmBy(officerWang);
    expect(confirmed.statusCode).toBe(200);
    const [stored] = await database.db.select().from(tamperingFindings).where(eq(tamperingFindings.id, findingId));
    expect(stored).toMatchObject({ recordedBy: 'person:officer.li', confirmedBy: 'person:officer.wang' });
    await runQueuedScreenings(database);
    expect((await database.db.select().from(captures).where(eq(captures.id, capture.id)))[0]?.state).toBe('awaiting_review');
  });

  it('is refused by the database when one person would take both steps', async () => {
    const { capture, window } = await excludedByWindow();
    const [finding] = await database.db
      .insert(tamperingFindings)
      .values({ captureId: capture.id, windowId: window.id, evidence: 'CCTV footage of the housing', recordedBy: 'person:officer.li' })
      .returning();
    await expect(
      database.db
        .update(tamperingFindings)
        .set({ confirmedBy: finding!.recordedBy, confirmedAt: new Date() })
        .where(eq(tamperingFindings.id, finding!.id)),
    ).rejects.toMatchObject({ cause: { constraint: 'tampering_needs_two_people' } });
  });

  it('refuses a finding for a capture the window did not exclude, without a login, and without the CSRF token', async () => {
    const stray = await app.inject({
      method: 'POST',
      url: `/api/captures/${randomUUID()}/tampering-findings`,
      headers: officerLi.headers,
      payload: { windowId: randomUUID(), evidence: 'nothing to see here at all' },
    });
    expect(stray.statusCode).toBe(404);
    const anonymous = await app.inject({ method: 'POST', url: `/api/tampering-findings/${randomUUID()}/confirm` });
    expect(anonymous.statusCode).toBe(401);
    const forged = await app.inject({
      method: 'POST',
      url: `/api/tampering-findings/${randomUUID()}/confirm`,
      headers: { cookie: officerWang.headers.cookie },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json<{ error: string }>().error).toMatch(/CSRF/);
  });
});
