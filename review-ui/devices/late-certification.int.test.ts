import { and, asc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidencePackage } from '../evidence/evidence-verifier.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { auditLog, captures, deviceCertifications, malfunctionWindows } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { runQueuedScreenings } from '../../test/support/screening.js';
import { DEFAULT_HEALTH_SCAN } from '../../core/domain/health-detectors.js';
import { scanDeviceHealth } from '../../workers/handlers/scan-device-health.js';
import { confirmCertification } from './certification-rejudging.js';
import { addCertification } from './device-registry.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const ADMIN_TOKEN = 'test-admin-token-0123456789';

describe('a renewal recorded late (laws L1, L4): confirmed by a second person, then the device is judged again', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  let app: FastifyInstance;
  let ana: LoggedIn;
  let ben: LoggedIn;
  let reviewer: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('late_certification');
    mediaDir = await createTempDir('late-certification-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, adminToken: ADMIN_TOKEN, settings: { twoPersonViolationTypes: [] } });
    ana = await personLoggedIn(app, database.db, 'ana', ['device_admin']);
    ben = await personLoggedIn(app, database.db, 'ben', ['device_admin']);
    reviewer = await personLoggedIn(app, database.db, 'li', ['reviewer']);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const stateOf = async (id: string) => (await database.db.select().from(captures).where(eq(captures.id, id)))[0]!;

  it('closes the lapse window and re-admits only the capture quarantined for nothing but the lapse', async () => {
    const now = new Date();
    const lapse = new Date(now.getTime() - 3 * HOUR);
    const camera = await enrolTestDevice(database.db);
    // The verification on record lapses three hours ago; the other certifications run on.
    await database.db
      .delete(deviceCertifications)
      .where(and(eq(deviceCertifications.deviceId, camera.id), eq(deviceCertifications.kind, 'metrological_verification')));
    const old = await addCertification(database.db, 'test', camera.id, {
      kind: 'metrological_verification',
      reference: 'JJG-527-2025',
      validFrom: new Date(lapse.getTime() - 365 * DAY).toISOString(),
      validTo: lapse.toISOString(),
    });
    expect((await confirmCertification(database.db, old!, { actor: 'test-second', isPerson: true })).ok).toBe(true);

    // Taken during the lapse: quarantined by the gateway for it alone, or for it and a clock fault.
    const lapseOnly = await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(lapse.getTime() + HOUR) });
    const alsoClock = await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(lapse.getTime() + HOUR) });
    const notCertified = { code: 'not_certified_at_capture', detail: 'metrological_verification expired' };
    await database.db
      .update(captures)
      .set({ state: 'quarantined', quarantineReasons: [notCertified] })
      .where(eq(captures.id, lapseOnly));
    await database.db
      .update(captures)
      .set({ state: 'quarantined', quarantineReasons: [notCertified, { code: 'clock_offset_exceeded', detail: 'off by 4 s' }] })
      .where(eq(captures.id, alsoClock));

    await scanDeviceHealth({ database }, DEFAULT_HEALTH_SCAN, now);
    const [window] = await database.db
      .select()
      .from(malfunctionWindows)
      .where(and(eq(malfunctionWindows.deviceId, camera.id), eq(malfunctionWindows.source, 'verification_expired')));
    expect(window).toMatchObject({ startsAt: lapse, endsAt: null });

    // The renewal, recorded now but valid from the lapse: a correction of the record.
    const renewal = await app.inject({
      method: 'POST',
      url: `/api/devices/${camera.id}/certifications`,
      headers: ana.headers,
      payload: {
        kind: 'metrological_verification',
        reference: 'JJG-527-2026',
        validFrom: lapse.toISOString(),
        validTo: new Date(lapse.getTime() + 365 * DAY).toISOString(),
      },
    });
    expect(renewal.statusCode, renewal.body).toBe(201);
    const { id: renewalId, needsConfirmation } = renewal.json<{ id: string; needsConfirmation: boolean }>();
    expect(needsConfirmation).toBe(true);
    const [recorded] = await database.db.select().from(deviceCertifications).where(eq(deviceCertifications.id, renewalId));
    // Unconfirmed, it counts from its recording: the lapse window ends there, the quarantined captures stay.
    const [meanwhile] = await database.db.select().from(malfunctionWindows).where(eq(malfunctionWindows.id, window!.id));
    expect(meanwhile?.endsAt).toEqual(recorded!.recordedAt);
    expect((await stateOf(lapseOnly)).state).toBe('quarantined');

    // One person's word is not enough, and a token is nobody.
    const own = await app.inject({ method: 'POST', url: `/api/certifications/${renewalId}/confirm`, headers: ana.headers });
    expect(own.statusCode).toBe(409);
    expect(own.json<{ error: string }>().error).toMatch(/second person/);
    const byToken = await app.inject({
      method: 'POST',
      url: `/api/certifications/${renewalId}/confirm`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(byToken.statusCode).toBe(403);

    const confirmed = await app.inject({ method: 'POST', url: `/api/certifications/${renewalId}/confirm`, headers: ben.headers });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toMatchObject({ ok: true, windowsChanged: 1, readmitted: [lapseOnly] });
    const [withdrawn] = await database.db.select().from(malfunctionWindows).where(eq(malfunctionWindows.id, window!.id));
    expect(withdrawn?.withdrawnBy).toBe('person:ben');
    expect(withdrawn?.withdrawalReason).toMatch(/JJG-527-2026/);
    await runQueuedScreenings(database);
    expect((await stateOf(lapseOnly)).state).toBe('awaiting_review');
    expect((await stateOf(alsoClock)).state).toBe('quarantined');
    const trail = await database.db
      .select({ action: auditLog.action, actor: auditLog.actor })
      .from(auditLog)
      .where(eq(auditLog.subjectId, lapseOnly))
      .orderBy(asc(auditLog.seq));
    expect(trail.map((entry) => entry.action)).toEqual(['capture.readmitted', 'capture.admitted_to_review']);
    expect(trail[0]?.actor).toBe('person:ben');
    expect(
      (await app.inject({ method: 'POST', url: `/api/certifications/${renewalId}/confirm`, headers: reviewer.headers })).statusCode,
    ).toBe(403);

    // The evidence package shows when the renewal was recorded, and who confirmed it.
    await app.inject({ method: 'POST', url: `/api/review/captures/${lapseOnly}/claim`, headers: reviewer.headers });
    const approved = await app.inject({
      method: 'POST',
      url: `/api/review/captures/${lapseOnly}/decision`,
      headers: reviewer.headers,
      payload: { outcome: 'approved' },
    });
    expect(approved.statusCode, approved.body).toBe(200);
    const exported = await app.inject({
      method: 'GET',
      url: `/api/incidents/${approved.json<{ incidentId: string }>().incidentId}/evidence-package?reason=notice+to+the+party`,
      headers: reviewer.headers,
    });
    expect(exported.statusCode).toBe(200);
    expect(verifyEvidencePackage(exported.rawPayload).ok).toBe(true);
    const files = unzipSync(exported.rawPayload);
    const name = Object.keys(files).find((path) => path.includes('certifications'))!;
    const file = JSON.parse(new TextDecoder().decode(files[name])) as { certifications: Record<string, unknown>[] };
    expect(file.certifications.find((entry) => entry.reference === 'JJG-527-2026')).toMatchObject({
      recordedAt: recorded!.recordedAt.toISOString(),
      recordedBy: 'person:ana',
      confirmedBy: 'person:ben',
      confirmedAt: expect.any(String) as unknown,
    });
  });
});
