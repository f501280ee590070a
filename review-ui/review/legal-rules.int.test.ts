import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidencePackage } from '../evidence/evidence-verifier.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { captureMedia, captures, media, mediaDerivatives, rejectReasons, reviewDecisions } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice, testJpeg, type TestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('legal rules in the cases nobody planned: separation of duties on reads, statutory reasons, deadlines', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let camera: TestDevice;
  let other: TestDevice;
  let colleague: LoggedIn;
  let cameraAdmin: LoggedIn;
  let sysadmin: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('legal_rules');
    mediaDir = await createTempDir('legal-rules-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: [] } });
    camera = await enrolTestDevice(database.db);
    other = await enrolTestDevice(database.db);
    colleague = await personLoggedIn(app, database.db, 'wang', ['reviewer']);
    // A reviewer who also administers the camera: the side door the queue alone did not close.
    cameraAdmin = await personLoggedIn(app, database.db, 'hui', ['reviewer', 'device_admin'], { administeredDeviceIds: [camera.id] });
    sysadmin = await personLoggedIn(app, database.db, 'root', ['system_admin']);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const get = (who: LoggedIn, url: string) => app.inject({ method: 'GET', url, headers: who.headers });
  const post = (who: LoggedIn, url: string, payload: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url, headers: who.headers, payload });

  async function approvedBy(who: LoggedIn, captureId: string, body: Record<string, unknown> = { outcome: 'approved' }) {
    expect((await post(who, `/api/review/captures/${captureId}/claim`)).statusCode).toBe(200);
    return post(who, `/api/review/captures/${captureId}/decision`, body);
  }

  /** A thumbnail derivative of the capture's first frame, as the media worker would store it. */
  async function thumbnailOf(captureId: string): Promise<string> {
    const [frame] = await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId)).limit(1);
    const bytes = await testJpeg(160, 90);
    const sha256 = await store.put(bytes);
    await database.db.insert(media).values({ sha256, sizeBytes: bytes.length, contentType: 'image/jpeg', width: 160, height: 90 });
    await database.db.insert(mediaDerivatives).values({ sourceSha256: frame!.mediaSha256, kind: 'thumbnail', derivedSha256: sha256 });
    return sha256;
  }

  it("refuses (403) an administering reviewer every read of the device's captures: detail, media, thumbnail, incident and evidence", async () => {
    const captureId = await insertReviewableCapture(database.db, store, camera, {
      readings: { speedKmh: 75, limitKmh: 60, plate: 'SOD-1' },
    });
    const thumbnail = await thumbnailOf(captureId);
    const [frame] = await database.db.select().from(captureMedia).where(eq(captureMedia.captureId, captureId)).limit(1);
    const approved = await approvedBy(colleague, captureId);
    expect(approved.statusCode, approved.body).toBe(200);
    const incidentId = approved.json<{ incidentId: string }>().incidentId;

    const reads = [
      `/api/review/captures/${captureId}?reason=checking+my+own+camera`,
      `/api/review/captures/${captureId}/media/${frame!.mediaSha256}`,
      `/api/thumbnails/${thumbnail}`,
      `/api/incidents/${incidentId}`,
      `/api/incidents/${incidentId}/evidence-package?reason=court+hearing+next+week`,
    ];
    for (const url of reads) {
      const refused = await get(cameraAdmin, url);
      expect(refused.statusCode, url).toBe(403);
      expect(refused.json<{ error: string }>().error).toMatch(/you administer device/);
      expect((await get(colleague, url)).statusCode, url).toBe(200);
    }
    const listed = await get(cameraAdmin, '/api/incidents?limit=500');
    expect(listed.json<{ incidents: { id: string }[] }>().incidents.map((incident) => incident.id)).not.toContain(incidentId);
    expect(
      (await post(cameraAdmin, `/api/review/captures/${captureId}/annotations`, { kind: 'note', note: 'looks fine' })).statusCode,
    ).toBe(403);

    // A device they do not administer is read as usual.
    const elsewhere = await insertReviewableCapture(database.db, store, other);
    expect((await get(cameraAdmin, `/api/review/captures/${elsewhere}?reason=second+opinion+asked`)).statusCode).toBe(200);
  });

  it('keeps the seven statutory erasure cases: retiring one is refused (409), in the API and in the database', async () => {
    const statutory = await database.db.select().from(rejectReasons).where(eq(rejectReasons.statutory, true));
    expect(statutory).toHaveLength(7);
    for (const reason of statutory) {
      const refused = await post(sysadmin, `/api/reject-reasons/${reason.code}/retire`);
      expect(refused.statusCode, reason.code).toBe(409);
      expect(refused.json<{ error: string }>().error).toMatch(/statutory/);
    }
    await expect(
      database.db.update(rejectReasons).set({ retiredAt: new Date() }).where(eq(rejectReasons.code, 'emergency_avoidance')),
    ).rejects.toThrow();
    await expect(
      database.db.update(rejectReasons).set({ label: 'Avoidance' }).where(eq(rejectReasons.code, 'emergency_avoidance')),
    ).rejects.toThrow();
    await expect(database.db.delete(rejectReasons).where(eq(rejectReasons.code, 'emergency_avoidance'))).rejects.toThrow();
    await expect(database.db.insert(rejectReasons).values({ code: 'made_up_law', label: 'Made up', statutory: true })).rejects.toThrow();

    // Reasons the agency added are its own to retire.
    expect((await post(sysadmin, '/api/reject-reasons', { code: 'glare_on_plate', label: 'Glare on the plate' })).statusCode).toBe(201);
    expect((await post(sysadmin, '/api/reject-reasons/glare_on_plate/retire')).statusCode).toBe(200);
    const reasons = (await get(colleague, '/api/reject-reasons')).json<{ reasons: { code: string }[] }>().reasons.map((r) => r.code);
    expect(reasons).toContain('emergency_avoidance');
    expect(reasons).not.toContain('glare_on_plate');
  });

  it('shows due soon and overdue in the queue, and takes an overdue approval only with a reason, flagged in the evidence package', async () => {
    const overdueId = await insertReviewableCapture(database.db, store, other, { capturedAt: new Date(Date.now() - 5 * DAY - HOUR) });
    const dueSoonId = await insertReviewableCapture(database.db, store, other, { capturedAt: new Date(Date.now() - 4 * DAY - 2 * HOUR) });
    const freshId = await insertReviewableCapture(database.db, store, other, { capturedAt: new Date(Date.now() - HOUR) });
    const queue = (await get(colleague, `/api/review/queue?deviceId=${other.id}`)).json<{
      items: { id: string; overdue: boolean; dueSoon: boolean }[];
      overdue: number;
      dueSoon: number;
    }>();
    const flags = (id: string) => queue.items.find((item) => item.id === id);
    expect(flags(overdueId)).toMatchObject({ overdue: true, dueSoon: false });
    expect(flags(dueSoonId)).toMatchObject({ overdue: false, dueSoon: true });
    expect(flags(freshId)).toMatchObject({ overdue: false, dueSoon: false });
    expect(queue).toMatchObject({ overdue: 1, dueSoon: 1 });

    const refused = await approvedBy(colleague, overdueId);
    expect(refused.statusCode).toBe(422);
    expect(refused.json<{ error: string }>().error).toMatch(/deadline passed.*lateReason/);
    expect(await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, overdueId))).toHaveLength(0);
    // A reason where none is due is refused too, so a flag never marks an approval that was on time.
    const early = await approvedBy(colleague, freshId, { outcome: 'approved', lateReason: 'just in case it is late' });
    expect(early.statusCode).toBe(422);

    const accepted = await approvedBy(colleague, overdueId, { outcome: 'approved', lateReason: 'held for the radar recalibration report' });
    expect(accepted.statusCode, accepted.body).toBe(200);
    const [decision] = await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, overdueId));
    expect(decision?.lateReason).toBe('held for the radar recalibration report');
    const [state] = await database.db.select({ incidentId: captures.incidentId }).from(captures).where(eq(captures.id, overdueId));
    const exported = await get(colleague, `/api/incidents/${state!.incidentId}/evidence-package?reason=notice+to+the+party`);
    expect(exported.statusCode).toBe(200);
    expect(verifyEvidencePackage(exported.rawPayload).ok).toBe(true);
    const files = unzipSync(exported.rawPayload);
    const decisions = JSON.parse(new TextDecoder().decode(files['decisions.json'])) as { decisions: { lateReason: string | null }[] };
    expect(decisions.decisions.map((entry) => entry.lateReason)).toEqual(['held for the radar recalibration report']);
    expect(new TextDecoder().decode(files['summary.html'])).toContain(
      'APPROVED AFTER THE REVIEW DEADLINE: held for the radar recalibration report',
    );
  });
});
