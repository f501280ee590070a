import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../core/infrastructure/media-store.js';
import { insertReviewableCapture } from '../test/support/captures.js';
import { enrolTestDevice } from '../test/support/devices.js';
import { createTempDir, createTestDatabase, uniqueName } from '../test/support/isolated.js';
import { changeCaptureState } from './captures.js';
import { captures, people, reviewDecisions } from './schema.js';

describe('capture state changes over a real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let store: FilesystemMediaStore;
  /** A superuser's own connection, outside the application: what a person with database access has. */
  let superuser: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('capture_states');
    mediaDir = await createTempDir('capture-states-media');
    store = new FilesystemMediaStore(mediaDir.dir);
    superuser = new pg.Client({ connectionString: database.url });
    await superuser.connect();
  });

  afterAll(async () => {
    await superuser?.end();
    await database?.drop();
    await mediaDir?.remove();
  });

  async function approvedCapture(): Promise<string> {
    const device = await enrolTestDevice(database.db);
    const captureId = await insertReviewableCapture(database.db, store, device);
    const [reviewer] = await database.db
      .insert(people)
      .values({
        username: uniqueName('reviewer'),
        displayName: 'Reviewer',
        passwordHash: 'not used here',
        roles: ['reviewer'],
        certificateNumber: 'R-1',
        certificateExpiresAt: new Date(Date.now() + 365 * 24 * 60 * 60_000),
      })
      .returning();
    // The database refuses an approved capture without a recorded approval for its round.
    await database.db.insert(reviewDecisions).values({
      captureId,
      round: 1,
      step: 'first',
      outcome: 'approved',
      personId: reviewer!.id,
      certificateNumber: 'R-1',
    });
    const approved = await changeCaptureState(database.db, captureId, { from: 'awaiting_review', to: 'approved', by: 'reviewer' });
    expect(approved?.state).toBe('approved');
    return captureId;
  }

  const stateOf = async (captureId: string) =>
    (await database.db.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId)))[0]?.state;

  it('refuses, even to a superuser, a direct update that takes an approved capture back before its decision', async () => {
    const captureId = await approvedCapture();
    await expect(superuser.query(`update captures set state = 'awaiting_review' where id = $1`, [captureId])).rejects.toThrow(
      /approved to awaiting_review/,
    );
    await expect(superuser.query(`update captures set state = 'verified' where id = $1`, [captureId])).rejects.toThrow(
      /approved to verified/,
    );
    expect(await stateOf(captureId)).toBe('approved');
  });

  it('lets a lawful change through and reports a stale one as undefined', async () => {
    const captureId = await approvedCapture();
    const stale = await changeCaptureState(database.db, captureId, { from: 'awaiting_review', to: 'rejected', by: 'reviewer' });
    expect(stale).toBeUndefined();
    expect(await stateOf(captureId)).toBe('approved');
    const excluded = await changeCaptureState(database.db, captureId, {
      from: 'approved',
      to: 'excluded',
      by: 'screening_worker',
      set: { exclusionWindowIds: [randomUUID()] },
    });
    expect(excluded?.state).toBe('excluded');
  });
});
