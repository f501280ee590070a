import { and, asc, desc, eq, gte, inArray, lte, ne, sql } from 'drizzle-orm';
import type { Db, Executor } from './client.js';
import {
  captureAnnotations,
  captureMedia,
  captures,
  deviceHealthEvents,
  media,
  mediaDerivatives,
  people,
  reviewClaims,
  reviewDecisions,
} from './schema.js';

export type CaptureRecordRow = typeof captures.$inferSelect;

export async function findCapture(executor: Executor, captureId: string): Promise<CaptureRecordRow | undefined> {
  const [row] = await executor.select().from(captures).where(eq(captures.id, captureId));
  return row;
}

/** The device's health reports in the day before a capture, newest first (heartbeats included: the latest one counts). */
export function healthReportsBefore(db: Db, deviceId: string, capturedAt: Date, sinceMs: number) {
  return db
    .select({ kind: deviceHealthEvents.kind, reportedAt: deviceHealthEvents.reportedAt, payload: deviceHealthEvents.payload })
    .from(deviceHealthEvents)
    .where(
      and(
        eq(deviceHealthEvents.deviceId, deviceId),
        lte(deviceHealthEvents.reportedAt, capturedAt),
        gte(deviceHealthEvents.reportedAt, new Date(capturedAt.getTime() - sinceMs)),
      ),
    )
    .orderBy(desc(deviceHealthEvents.reportedAt))
    .limit(200);
}

/** Every decision on a capture, in the order made, with the decider's name. */
export function decisionsOn(db: Db, captureId: string) {
  return db
    .select({
      round: reviewDecisions.round,
      step: reviewDecisions.step,
      outcome: reviewDecisions.outcome,
      by: people.displayName,
      certificateNumber: reviewDecisions.certificateNumber,
      reasonCode: reviewDecisions.reasonCode,
      note: reviewDecisions.note,
      decidedAt: reviewDecisions.decidedAt,
    })
    .from(reviewDecisions)
    .innerJoin(people, eq(people.id, reviewDecisions.personId))
    .where(eq(reviewDecisions.captureId, captureId))
    .orderBy(asc(reviewDecisions.decidedAt));
}

export function annotationsOn(db: Db, captureId: string) {
  return db
    .select({ kind: captureAnnotations.kind, note: captureAnnotations.note, by: people.displayName, at: captureAnnotations.createdAt })
    .from(captureAnnotations)
    .innerJoin(people, eq(people.id, captureAnnotations.personId))
    .where(eq(captureAnnotations.captureId, captureId))
    .orderBy(asc(captureAnnotations.createdAt));
}

/** Who holds a claim on the capture right now, if anyone. */
export async function liveClaimOn(db: Db, captureId: string, now: Date) {
  const [claim] = await db
    .select({ personId: reviewClaims.personId, by: people.displayName, expiresAt: reviewClaims.expiresAt })
    .from(reviewClaims)
    .innerJoin(people, eq(people.id, reviewClaims.personId))
    .where(and(eq(reviewClaims.captureId, captureId), sql`${reviewClaims.expiresAt} > ${now}`));
  return claim;
}

export async function derivativesOf(db: Db, sourceSha256s: readonly string[]) {
  if (sourceSha256s.length === 0) return [];
  return db
    .select()
    .from(mediaDerivatives)
    .where(inArray(mediaDerivatives.sourceSha256, [...sourceSha256s]));
}

/** Up to ten earlier captures of the same plate, newest first, quarantined ones left out. */
export function earlierCapturesOfPlate(db: Db, capture: { id: string; capturedAt: Date }, plate: string) {
  return db
    .select({
      id: captures.id,
      deviceId: captures.deviceId,
      capturedAt: captures.capturedAt,
      state: captures.state,
      violationType: captures.violationType,
    })
    .from(captures)
    .where(
      and(
        ne(captures.id, capture.id),
        ne(captures.state, 'quarantined'),
        sql`upper(trim(${captures.manifest} #>> '{readings,plate}')) = ${plate}`,
        lte(captures.capturedAt, capture.capturedAt),
      ),
    )
    .orderBy(desc(captures.capturedAt))
    .limit(10);
}

/** Whether a file may be served as part of this capture: one of its originals or something derived from one. */
export async function belongsToCapture(db: Db, captureId: string, sha256: string): Promise<{ contentType: string } | undefined> {
  const [original] = await db
    .select({ contentType: media.contentType })
    .from(captureMedia)
    .innerJoin(media, eq(media.sha256, captureMedia.mediaSha256))
    .where(and(eq(captureMedia.captureId, captureId), eq(captureMedia.mediaSha256, sha256)));
  if (original) return original;
  const [derived] = await db
    .select({ contentType: media.contentType })
    .from(mediaDerivatives)
    .innerJoin(captureMedia, eq(captureMedia.mediaSha256, mediaDerivatives.sourceSha256))
    .innerJoin(media, eq(media.sha256, mediaDerivatives.derivedSha256))
    .where(and(eq(captureMedia.captureId, captureId), eq(mediaDerivatives.derivedSha256, sha256)));
  return derived;
}
