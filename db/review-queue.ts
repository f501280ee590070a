import { and, asc, eq, gt, inArray, lte, notInArray, or, sql } from 'drizzle-orm';
import { REVIEW_STATES, reviewDeadline, type ReviewState } from '../core/domain/review-policy.js';
import { appendAudit } from './audit-log.js';
import type { Db } from './client.js';
import { captureAnnotations, captureMedia, captures, devices, mediaDerivatives, people, reviewClaims, reviewDecisions } from './schema.js';

/** The person asking, as far as the queue cares. */
export interface QueueViewer {
  id: string;
  actor: string;
  administeredDeviceIds: readonly string[];
  mayDecideEscalated: boolean;
}

export interface QueueFilter {
  deviceId?: string | undefined;
  road?: string | undefined;
  violationType?: string | undefined;
  /** Only captures at least this many hours old. */
  minAgeHours?: number | undefined;
  state?: ReviewState | undefined;
}

export interface QueueItem {
  id: string;
  state: ReviewState;
  deviceId: string;
  road: string;
  direction: string;
  violationType: string | null;
  capturedAt: string;
  deadline: string;
  overdue: boolean;
  /** Not overdue yet, but within the due-soon margin of the deadline. */
  dueSoon: boolean;
  claim: { by: string; mine: boolean; expiresAt: string } | null;
  thumbnailSha256: string | null;
}

/**
 * What this person may work on: captures in review, minus those from devices they administer,
 * those whose first approval they gave, and escalations unless they are a legal reviewer.
 */
function eligibleFor(viewer: QueueViewer, filter: QueueFilter, now: Date) {
  const states = viewer.mayDecideEscalated ? [...REVIEW_STATES] : REVIEW_STATES.filter((state) => state !== 'escalated');
  return and(
    inArray(captures.state, filter.state ? states.filter((state) => state === filter.state) : states),
    viewer.administeredDeviceIds.length > 0 ? notInArray(captures.deviceId, [...viewer.administeredDeviceIds]) : undefined,
    sql`NOT EXISTS (SELECT 1 FROM ${reviewDecisions} WHERE ${reviewDecisions.captureId} = ${captures.id}
          AND ${reviewDecisions.round} = ${captures.reviewRound} AND ${reviewDecisions.personId} = ${viewer.id}
          AND ${reviewDecisions.outcome} = 'approved')`,
    filter.deviceId ? eq(captures.deviceId, filter.deviceId) : undefined,
    filter.road ? eq(devices.road, filter.road) : undefined,
    filter.violationType ? eq(captures.violationType, filter.violationType) : undefined,
    filter.minAgeHours ? lte(captures.capturedAt, new Date(now.getTime() - filter.minAgeHours * 3600_000)) : undefined,
  );
}

/** Oldest first: the statutory clock runs from capture, so the overdue and nearly-due lead. */
export async function listQueue(
  db: Db,
  viewer: QueueViewer,
  filter: QueueFilter,
  settings: { deadlineDays: number; dueSoonMs: number },
  limit: number,
  now = new Date(),
): Promise<{ items: QueueItem[]; total: number; overdue: number; dueSoon: number }> {
  const where = eligibleFor(viewer, filter, now);
  const rows = await db
    .select({
      id: captures.id,
      state: captures.state,
      deviceId: captures.deviceId,
      road: devices.road,
      direction: devices.direction,
      violationType: captures.violationType,
      capturedAt: captures.capturedAt,
      claimPersonId: reviewClaims.personId,
      claimExpiresAt: reviewClaims.expiresAt,
      claimBy: people.displayName,
    })
    .from(captures)
    .innerJoin(devices, eq(devices.id, captures.deviceId))
    .leftJoin(reviewClaims, and(eq(reviewClaims.captureId, captures.id), gt(reviewClaims.expiresAt, now)))
    .leftJoin(people, eq(people.id, reviewClaims.personId))
    .where(where)
    .orderBy(asc(captures.capturedAt), asc(captures.id))
    .limit(limit);
  const overdueBefore = new Date(now.getTime() - settings.deadlineDays * 24 * 3600_000);
  const dueSoonBefore = new Date(overdueBefore.getTime() + settings.dueSoonMs);
  const [counts] = await db
    .select({
      total: sql<number>`count(*)::int`,
      overdue: sql<number>`count(*) FILTER (WHERE ${captures.capturedAt} < ${overdueBefore})::int`,
      dueSoon: sql<number>`count(*) FILTER (WHERE ${captures.capturedAt} >= ${overdueBefore} AND ${captures.capturedAt} < ${dueSoonBefore})::int`,
    })
    .from(captures)
    .innerJoin(devices, eq(devices.id, captures.deviceId))
    .where(where);
  const thumbnails =
    rows.length > 0
      ? await db
          .select({ captureId: captureMedia.captureId, sha256: mediaDerivatives.derivedSha256 })
          .from(captureMedia)
          .innerJoin(
            mediaDerivatives,
            and(eq(mediaDerivatives.sourceSha256, captureMedia.mediaSha256), eq(mediaDerivatives.kind, 'thumbnail')),
          )
          .where(
            inArray(
              captureMedia.captureId,
              rows.map((row) => row.id),
            ),
          )
          .orderBy(asc(captureMedia.name))
      : [];
  return {
    total: counts?.total ?? 0,
    overdue: counts?.overdue ?? 0,
    dueSoon: counts?.dueSoon ?? 0,
    items: rows.map((row) => {
      const capturedAt = row.capturedAt ?? now;
      const deadline = reviewDeadline(capturedAt, settings.deadlineDays);
      return {
        id: row.id,
        state: row.state as ReviewState,
        deviceId: row.deviceId ?? '',
        road: row.road,
        direction: row.direction,
        violationType: row.violationType,
        capturedAt: capturedAt.toISOString(),
        deadline: deadline.toISOString(),
        overdue: deadline.getTime() < now.getTime(),
        dueSoon: deadline.getTime() >= now.getTime() && deadline.getTime() - now.getTime() < settings.dueSoonMs,
        claim:
          row.claimPersonId && row.claimExpiresAt
            ? { by: row.claimBy ?? 'someone', mine: row.claimPersonId === viewer.id, expiresAt: row.claimExpiresAt.toISOString() }
            : null,
        thumbnailSha256: thumbnails.find((thumbnail) => thumbnail.captureId === row.id)?.sha256 ?? null,
      };
    }),
  };
}

export type ClaimOutcome =
  { ok: true; captureId: string; expiresAt: Date } | { ok: false; status: 404 | 409; error: string; heldBy?: string };

/**
 * Claims one capture for this person, or renews their own claim. The upsert only takes over a
 * claim whose lease has lapsed, so two reviewers racing for one capture cannot both win.
 */
export async function claimCapture(
  db: Db,
  viewer: QueueViewer,
  captureId: string,
  leaseMs: number,
  now = new Date(),
): Promise<ClaimOutcome> {
  return db.transaction(async (tx) => {
    const [eligible] = await tx
      .select({ id: captures.id })
      .from(captures)
      .innerJoin(devices, eq(devices.id, captures.deviceId))
      .where(and(eq(captures.id, captureId), eligibleFor(viewer, {}, now)));
    if (!eligible) {
      const [exists] = await tx.select({ state: captures.state }).from(captures).where(eq(captures.id, captureId));
      if (!exists) return { ok: false, status: 404, error: `no capture ${captureId}` };
      return { ok: false, status: 409, error: `this capture is not in your review queue (state ${exists.state})` };
    }
    const expiresAt = new Date(now.getTime() + leaseMs);
    const [claimed] = await tx
      .insert(reviewClaims)
      .values({ captureId, personId: viewer.id, claimedAt: now, expiresAt })
      .onConflictDoUpdate({
        target: reviewClaims.captureId,
        set: { personId: viewer.id, claimedAt: now, expiresAt },
        setWhere: or(lte(reviewClaims.expiresAt, now), eq(reviewClaims.personId, viewer.id)),
      })
      .returning({ personId: reviewClaims.personId });
    if (!claimed) {
      const [holder] = await tx
        .select({ name: people.displayName })
        .from(reviewClaims)
        .innerJoin(people, eq(people.id, reviewClaims.personId))
        .where(eq(reviewClaims.captureId, captureId));
      return { ok: false, status: 409, error: `${holder?.name ?? 'another reviewer'} is reviewing this capture`, heldBy: holder?.name };
    }
    await appendAudit(tx, {
      actor: viewer.actor,
      action: 'review.claimed',
      subjectType: 'capture',
      subjectId: captureId,
      details: { expiresAt: expiresAt.toISOString() },
    });
    return { ok: true, captureId, expiresAt };
  });
}

/** Claims the most urgent capture nobody holds, skipping the ones given (the reviewer's current capture). */
export async function claimNext(
  db: Db,
  viewer: QueueViewer,
  filter: QueueFilter,
  leaseMs: number,
  skip: readonly string[],
  now = new Date(),
): Promise<ClaimOutcome | undefined> {
  const candidates = await db
    .select({ id: captures.id })
    .from(captures)
    .innerJoin(devices, eq(devices.id, captures.deviceId))
    .leftJoin(reviewClaims, eq(reviewClaims.captureId, captures.id))
    .where(
      and(
        eligibleFor(viewer, filter, now),
        or(sql`${reviewClaims.captureId} IS NULL`, lte(reviewClaims.expiresAt, now), eq(reviewClaims.personId, viewer.id)),
        skip.length > 0 ? notInArray(captures.id, [...skip]) : undefined,
      ),
    )
    .orderBy(asc(captures.capturedAt), asc(captures.id))
    .limit(10);
  for (const candidate of candidates) {
    const outcome = await claimCapture(db, viewer, candidate.id, leaseMs, now);
    if (outcome.ok) return outcome;
  }
  return undefined;
}

/** Gives a claim back before its lease runs out, so a colleague can take the capture at once. */
export async function releaseClaim(db: Db, viewer: QueueViewer, captureId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const released = await tx
      .delete(reviewClaims)
      .where(and(eq(reviewClaims.captureId, captureId), eq(reviewClaims.personId, viewer.id)))
      .returning({ captureId: reviewClaims.captureId });
    if (released.length === 0) return false;
    await appendAudit(tx, { actor: viewer.actor, action: 'review.released', subjectType: 'capture', subjectId: captureId, details: {} });
    return true;
  });
}

/** A reviewer's note on a capture, audited in the same transaction; undefined when there is no such capture. */
export async function annotateCapture(
  db: Db,
  annotation: { captureId: string; personId: string; actor: string; kind: 'looks_valid' | 'has_problem' | 'note'; note: string },
): Promise<{ id: string } | undefined> {
  const { captureId, personId, actor, kind, note } = annotation;
  return db.transaction(async (tx) => {
    const [exists] = await tx.select({ id: captures.id }).from(captures).where(eq(captures.id, captureId));
    if (!exists) return undefined;
    const [row] = await tx.insert(captureAnnotations).values({ captureId, personId, kind, note }).returning({ id: captureAnnotations.id });
    await appendAudit(tx, { actor, action: 'capture.annotated', subjectType: 'capture', subjectId: captureId, details: { kind, note } });
    return row;
  });
}
