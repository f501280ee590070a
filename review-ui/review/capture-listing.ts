import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { captureMedia, captures, malfunctionWindows, media, mediaChunks, mediaDerivatives, outbox } from '../../db/schema.js';
import { ageSeconds, tallyStuckCaptures, type StuckNeed, type StuckTally } from '../../db/stuck-captures.js';

type CaptureState = (typeof captures.$inferSelect)['state'];

export interface CaptureSummary {
  id: string;
  deviceId: string | null;
  deviceCaptureId: string | null;
  state: CaptureState;
  violationType: string | null;
  capturedAt: string | null;
  receivedAt: string;
  quarantineReasons: { code: string; detail: string }[];
  /** The malfunction windows an excluded capture falls in, so reviewers see why it left review. */
  exclusions: { windowId: string; source: string; reason: string }[];
  media: { name: string; sha256: string; contentType: string; thumbnailSha256: string | null }[];
}

/** Newest first, with each capture's media and thumbnails, for the review list. */
export async function listCaptures(
  db: Db,
  filter: { state?: CaptureState | undefined; before?: Date | undefined; limit: number },
): Promise<CaptureSummary[]> {
  const conditions = [
    filter.state ? eq(captures.state, filter.state) : undefined,
    filter.before ? lt(captures.receivedAt, filter.before) : undefined,
  ].filter((condition) => condition !== undefined);
  const rows = await db
    .select()
    .from(captures)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(captures.receivedAt), desc(captures.id))
    .limit(filter.limit);
  if (rows.length === 0) return [];
  const mediaRows = await db
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
    .where(
      inArray(
        captureMedia.captureId,
        rows.map((row) => row.id),
      ),
    )
    .orderBy(captureMedia.name);
  const windowIds = [...new Set(rows.flatMap((row) => row.exclusionWindowIds ?? []))];
  const windows =
    windowIds.length > 0
      ? await db
          .select({ id: malfunctionWindows.id, source: malfunctionWindows.source, reason: malfunctionWindows.reason })
          .from(malfunctionWindows)
          .where(inArray(malfunctionWindows.id, windowIds))
      : [];
  return rows.map((row) => ({
    id: row.id,
    deviceId: row.deviceId,
    deviceCaptureId: row.deviceCaptureId,
    state: row.state,
    violationType: row.violationType,
    capturedAt: row.capturedAt?.toISOString() ?? null,
    receivedAt: row.receivedAt.toISOString(),
    quarantineReasons: row.quarantineReasons ?? [],
    exclusions: windows
      .filter((window) => row.exclusionWindowIds?.includes(window.id))
      .map((window) => ({ windowId: window.id, source: window.source, reason: window.reason })),
    media: mediaRows
      .filter((item) => item.captureId === row.id)
      .map(({ name, sha256, contentType, thumbnailSha256 }) => ({ name, sha256, contentType, thumbnailSha256 })),
  }));
}

/** How many captures sit in each state; every state is present, zero or not. */
export async function countByState(db: Db): Promise<Record<CaptureState, number>> {
  const rows = await db
    .select({ state: captures.state, count: sql<number>`count(*)::int` })
    .from(captures)
    .groupBy(captures.state);
  const counts = Object.fromEntries(captures.state.enumValues.map((state) => [state, 0])) as Record<CaptureState, number>;
  for (const row of rows) counts[row.state] = Number(row.count);
  return counts;
}

/** Whether a hash is a thumbnail: only derivatives are served without a reviewer's login. */
export async function isThumbnail(db: Db, sha256: string): Promise<boolean> {
  const [row] = await db
    .select({ sha256: mediaDerivatives.derivedSha256 })
    .from(mediaDerivatives)
    .where(and(eq(mediaDerivatives.derivedSha256, sha256), eq(mediaDerivatives.kind, 'thumbnail')))
    .limit(1);
  return row !== undefined;
}

export interface Reconciliation {
  /** Distinct capture messages received: accepted + quarantined + inFlight, always. */
  received: number;
  accepted: number;
  quarantined: number;
  inFlight: number;
  stagedChunks: number;
  /** Outbox rows not yet handed to the queue; a job the queue later lost shows in `stranded`, not here. */
  jobsAwaitingQueue: number;
  /** Every state, with how many captures are in it and how long ago the oldest of them was received. */
  states: Record<CaptureState, StuckTally>;
  /** Captures waiting longer than `stuckAfterSeconds` for a job, by the job they wait for. */
  stranded: { stuckAfterSeconds: number } & Record<StuckNeed, StuckTally>;
}

/** Where every capture message stands, so published and stored counts can be reconciled. */
export async function reconcile(db: Db, stuckAfterMs: number): Promise<Reconciliation> {
  const now = new Date();
  const byState = await db
    .select({ state: captures.state, count: sql<number>`count(*)::int`, oldest: sql<string | null>`min(${captures.receivedAt})` })
    .from(captures)
    .groupBy(captures.state);
  const states = Object.fromEntries(
    captures.state.enumValues.map((state) => [state, { count: 0, oldestAgeSeconds: null as number | null }]),
  ) as Record<CaptureState, StuckTally>;
  for (const row of byState) states[row.state] = { count: Number(row.count), oldestAgeSeconds: ageSeconds(row.oldest, now) };
  const counts = Object.fromEntries(Object.entries(states).map(([state, tally]) => [state, tally.count])) as Record<CaptureState, number>;
  const [chunks] = await db.select({ count: sql<number>`count(*)::int` }).from(mediaChunks);
  const [jobs] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(outbox)
    .where(sql`${outbox.dispatchedAt} IS NULL`);
  const quarantined = counts.quarantined;
  const inFlight = counts.received;
  const received = Object.values(counts).reduce((sum, count) => sum + count, 0);
  return {
    received,
    accepted: received - quarantined - inFlight,
    quarantined,
    inFlight,
    stagedChunks: chunks?.count ?? 0,
    jobsAwaitingQueue: jobs?.count ?? 0,
    states,
    stranded: { stuckAfterSeconds: Math.round(stuckAfterMs / 1000), ...(await tallyStuckCaptures(db, stuckAfterMs, now)) },
  };
}
