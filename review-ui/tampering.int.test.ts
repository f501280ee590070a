import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/media-store.js';
import { openWindow } from '../db/malfunction-windows.js';
import { captures, tamperingFindings } from '../db/schema.js';
import { enrolTestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../test/support/isolated.js';
import { runQueuedScreenings } from '../test/support/screening.js';
import { buildReviewServer } from './server.js';

const ADMIN_TOKEN = 'tampering-test-token-0123';
const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('tampering override: two different people, then back to review', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;

  beforeAll(async () => {
    database = await createTestDatabase('tampering');
    mediaDir = await createTempDir('tampering-media');
    app = await buildReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), adminToken: ADMIN_TOKEN, checks: [] });
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  it('needs a second, different reviewer before an excluded capture returns to review', async () => {
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

    const recorded = await app.inject({
      method: 'POST',
      url: `/api/captures/${capture!.id}/tampering-findings`,
      headers,
      payload: { windowId: window.id, evidence: 'CCTV shows the driver taping over the radar housing at 10:02', reviewer: 'Officer Li' },
    });
    expect(recorded.statusCode).toBe(201);
    const findingId = recorded.json<{ id: string }>().id;

    const sameReviewer = await app.inject({
      method: 'POST',
      url: `/api/tampering-findings/${findingId}/confirm`,
      headers,
      payload: { reviewer: 'Officer Li' },
    });
    expect(sameReviewer.statusCode).toBe(409);
    await runQueuedScreenings(database);
    expect((await database.db.select().from(captures).where(eq(captures.id, capture!.id)))[0]?.state).toBe('excluded');

    const confirmed = await app.inject({
      method: 'POST',
      url: `/api/tampering-findings/${findingId}/confirm`,
      headers,
      payload: { reviewer: 'Officer Wang' },
    });
    expect(confirmed.statusCode).toBe(200);
    await runQueuedScreenings(database);
    expect((await database.db.select().from(captures).where(eq(captures.id, capture!.id)))[0]?.state).toBe('awaiting_review');
  });

  it('is refused by the database when one person would take both steps', async () => {
    const [finding] = await database.db.select().from(tamperingFindings).limit(1);
    await expect(
      database.db
        .update(tamperingFindings)
        .set({ confirmedBy: finding!.recordedBy, confirmedAt: new Date() })
        .where(eq(tamperingFindings.id, finding!.id)),
    ).rejects.toThrow();
  });

  it('refuses a finding for a capture the window did not exclude, and without the token', async () => {
    const stray = await app.inject({
      method: 'POST',
      url: `/api/captures/${randomUUID()}/tampering-findings`,
      headers,
      payload: { windowId: randomUUID(), evidence: 'nothing to see here at all', reviewer: 'Officer Li' },
    });
    expect(stray.statusCode).toBe(404);
    const anonymous = await app.inject({
      method: 'POST',
      url: `/api/tampering-findings/${randomUUID()}/confirm`,
      payload: { reviewer: 'Officer Li' },
    });
    expect(anonymous.statusCode).toBe(401);
  });
});
