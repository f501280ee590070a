import { and, asc, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { AWAITING_SCREENING, NEEDING_DERIVED_MEDIA } from '../core/domain/capture-jobs.js';
import type { Executor } from './client.js';
import { captures } from './schema.js';

/** What a stuck capture waits for: its screening, or the measuring and deriving of its media. */
export type StuckNeed = 'screening' | 'media';

export interface StuckCapture {
  id: string;
  deviceId: string;
  capturedAt: Date;
  state: (typeof captures.$inferSelect)['state'];
  receivedAt: Date;
  need: StuckNeed;
}

// An image or video of the capture that has no quality row yet: derivation never finished for it.
const underivedMedia = sql`exists (
  select 1 from capture_media cm join media m on m.sha256 = cm.media_sha256
  where cm.capture_id = ${captures.id}
    and (m.content_type like 'image/%' or m.content_type like 'video/%')
    and not exists (select 1 from media_quality q where q.sha256 = m.sha256))`;

function stuckWhere(need: StuckNeed, receivedBefore: Date): SQL | undefined {
  return need === 'screening'
    ? and(inArray(captures.state, [...AWAITING_SCREENING]), lt(captures.receivedAt, receivedBefore))
    : and(inArray(captures.state, [...NEEDING_DERIVED_MEDIA]), lt(captures.receivedAt, receivedBefore), underivedMedia);
}

/** The oldest captures received before `receivedBefore` that still wait for a job, oldest first. */
export async function findStuckCaptures(db: Executor, need: StuckNeed, receivedBefore: Date, limit: number): Promise<StuckCapture[]> {
  const rows = await db
    .select({
      id: captures.id,
      deviceId: captures.deviceId,
      capturedAt: captures.capturedAt,
      state: captures.state,
      receivedAt: captures.receivedAt,
    })
    .from(captures)
    .where(stuckWhere(need, receivedBefore))
    .orderBy(asc(captures.receivedAt))
    .limit(limit);
  // Accepted captures always have both (a check constraint says so); the filter only convinces the compiler.
  return rows.flatMap((row) =>
    row.deviceId && row.capturedAt ? [{ ...row, deviceId: row.deviceId, capturedAt: row.capturedAt, need }] : [],
  );
}

export interface StuckTally {
  count: number;
  /** Seconds since the oldest of them was received; null when there are none. */
  oldestAgeSeconds: number | null;
}

/** How many captures wait for each kind of job for longer than `stuckAfterMs`, and how long the oldest has. */
export async function tallyStuckCaptures(db: Executor, stuckAfterMs: number, now = new Date()): Promise<Record<StuckNeed, StuckTally>> {
  const before = new Date(now.getTime() - stuckAfterMs);
  const tally = async (need: StuckNeed): Promise<StuckTally> => {
    const [row] = await db
      .select({ count: sql<number>`count(*)::int`, oldest: sql<Date | null>`min(${captures.receivedAt})` })
      .from(captures)
      .where(stuckWhere(need, before));
    return { count: Number(row?.count ?? 0), oldestAgeSeconds: ageSeconds(row?.oldest ?? null, now) };
  };
  return { screening: await tally('screening'), media: await tally('media') };
}

export function ageSeconds(since: Date | string | null, now: Date): number | null {
  if (since === null) return null;
  return Math.max(0, Math.round((now.getTime() - new Date(since).getTime()) / 1000));
}
