import { and, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { CaptureState } from '../core/domain/capture-lifecycle.js';
import type { Db } from './client.js';
import { captureMedia, captures, malfunctionWindows, media, mediaChunks, mediaDerivatives, outbox } from './schema.js';

export type CaptureRow = typeof captures.$inferSelect;

/** Newest received first; `before` pages backwards by receipt time. */
export function newestCaptures(
  db: Db,
  filter: { state?: CaptureState | undefined; before?: Date | undefined; limit: number },
): Promise<CaptureRow[]> {
  const conditions = [
    filter.state ? eq(captures.state, filter.state) : undefined,
    filter.before ? lt(captures.receivedAt, filter.before) : undefined,
    // Purged captures are hash-only tombstones (docs/party.md), not captures anyone reviews.
    isNull(captures.purgedAt),
  ].filter((condition) => condition !== undefined);
  return db
    .select()
    .from(captures)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(captures.receivedAt), desc(captures.id))
    .limit(filter.limit);
}

/** The media of these captures by name, each with its thumbnail when one was derived. */
export function mediaOfCaptures(db: Db, captureIds: readonly string[]) {
  return db
    .select({
      captureId: captureMedia.captureId,
      name: captureMedia.name,
      sha256: media.sha256,
      contentType: media.contentType,
      thumbnailSha256: mediaDerivatives.derivedSha256,
    })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .leftJoin(mediaDerivatives, and(eq(mediaDerivatives.sourceSha256, media.sha256), eq(mediaDerivatives.kind, 'thumbnail')))
    .where(inArray(captureMedia.captureId, [...captureIds]))
    .orderBy(captureMedia.name);
}

export async function malfunctionWindowsById(db: Db, windowIds: readonly string[]) {
  if (windowIds.length === 0) return [];
  return db
    .select({ id: malfunctionWindows.id, source: malfunctionWindows.source, reason: malfunctionWindows.reason })
    .from(malfunctionWindows)
    .where(inArray(malfunctionWindows.id, [...windowIds]));
}

/** Per state present: how many captures, and when the oldest of them was received. */
export async function captureTallies(db: Db): Promise<{ state: CaptureState; count: number; oldest: string | null }[]> {
  const rows = await db
    .select({ state: captures.state, count: sql<number>`count(*)::int`, oldest: sql<string | null>`min(${captures.receivedAt})` })
    .from(captures)
    .groupBy(captures.state);
  return rows.map((row) => ({ ...row, count: Number(row.count) }));
}

/** Whether a hash names a thumbnail (a derivative), not an original. */
export async function isThumbnail(db: Db, sha256: string): Promise<boolean> {
  const [row] = await db
    .select({ sha256: mediaDerivatives.derivedSha256 })
    .from(mediaDerivatives)
    .where(and(eq(mediaDerivatives.derivedSha256, sha256), eq(mediaDerivatives.kind, 'thumbnail')))
    .limit(1);
  return row !== undefined;
}

export async function stagedChunkCount(db: Db): Promise<number> {
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(mediaChunks);
  return row?.count ?? 0;
}

/** Outbox rows not yet handed to the queue. */
export async function undispatchedJobCount(db: Db): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(outbox)
    .where(sql`${outbox.dispatchedAt} IS NULL`);
  return row?.count ?? 0;
}

/** What a read reaches: one capture, a stored file (original or thumbnail), or an incident with its captures. */
export type ReadTarget = { captureId: string } | { mediaSha256: string } | { incidentId: string };

/** The devices whose captures a read reaches, for separation of duties. */
export async function devicesBehind(db: Db, target: ReadTarget): Promise<string[]> {
  const deviceOf = db.selectDistinct({ deviceId: captures.deviceId }).from(captures);
  const rows =
    'captureId' in target
      ? await deviceOf.where(eq(captures.id, target.captureId))
      : 'incidentId' in target
        ? await deviceOf.where(eq(captures.incidentId, target.incidentId))
        : await deviceOf.where(
            inArray(
              captures.id,
              db
                .select({ id: captureMedia.captureId })
                .from(captureMedia)
                .where(
                  or(
                    eq(captureMedia.mediaSha256, target.mediaSha256),
                    sql`${captureMedia.mediaSha256} IN (SELECT ${mediaDerivatives.sourceSha256} FROM ${mediaDerivatives} WHERE ${mediaDerivatives.derivedSha256} = ${target.mediaSha256})`,
                  ),
                ),
            ),
          );
  return rows.flatMap((row) => (row.deviceId ? [row.deviceId] : []));
}
