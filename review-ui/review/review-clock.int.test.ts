import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../../core/domain/clock.js';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { reviewDecisions } from '../../db/schema.js';
import { insertReviewableCapture } from '../../test/support/captures.js';
import { enrolTestDevice } from '../../test/support/devices.js';
import { createTempDir, createTestDatabase } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('the review deadline reads the clock the server is given', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let app: FastifyInstance;
  let reviewer: LoggedIn;
  const clock = new TestClock();

  beforeAll(async () => {
    database = await createTestDatabase('review_clock');
    mediaDir = await createTempDir('review-clock-media');
    const store = new FilesystemMediaStore(mediaDir.dir);
    app = await buildTestReviewServer({ db: database.db, store, settings: { twoPersonViolationTypes: [] }, clock });
    reviewer = await personLoggedIn(app, database.db, 'chen', ['reviewer']);
    const camera = await enrolTestDevice(database.db);
    await insertReviewableCapture(database.db, store, camera, { capturedAt: new Date(Date.now() - HOUR) });
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await mediaDir?.remove();
  });

  const post = (url: string, payload: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url, headers: reviewer.headers, payload });

  it('makes a capture taken an hour ago overdue once the clock has moved five days on, and dates the decision by it', async () => {
    const queue = () =>
      app
        .inject({ method: 'GET', url: '/api/review/queue', headers: reviewer.headers })
        .then((answer) => answer.json<{ items: { id: string; overdue: boolean }[] }>().items);
    const [item] = await queue();
    expect(item?.overdue).toBe(false);

    clock.advance(5 * DAY);
    expect((await queue())[0]?.overdue).toBe(true);
    expect((await post(`/api/review/captures/${item!.id}/claim`)).statusCode).toBe(200);
    const refused = await post(`/api/review/captures/${item!.id}/decision`, { outcome: 'approved' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json<{ error: string }>().error).toMatch(/deadline passed.*lateReason/);
    const approved = await post(`/api/review/captures/${item!.id}/decision`, {
      outcome: 'approved',
      lateReason: 'the clock was moved on for this test',
    });
    expect(approved.statusCode, approved.body).toBe(200);
    const [decision] = await database.db.select().from(reviewDecisions).where(eq(reviewDecisions.captureId, item!.id));
    expect(decision?.decidedAt).toEqual(clock.now());
  });
});
