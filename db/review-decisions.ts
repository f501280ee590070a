import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import { findCapture } from './capture-detail-reads.js';
import type { Executor, Tx } from './client.js';
import { captures, devices, rejectReasons, reviewClaims, reviewDecisions } from './schema.js';

export type DecisionRow = typeof reviewDecisions.$inferInsert;

/**
 * This person's live claim on a capture, locked without waiting: a second decision of the same
 * person racing the first is told at once (it throws lock_not_available) instead of queueing
 * with a pooled connection held.
 */
export async function lockOwnClaim(tx: Tx, captureId: string, personId: string, now: Date) {
  const [claim] = await tx
    .select()
    .from(reviewClaims)
    .where(and(eq(reviewClaims.captureId, captureId), eq(reviewClaims.personId, personId), gt(reviewClaims.expiresAt, now)))
    .for('update', { noWait: true });
  return claim;
}

/** The capture, locked for the decision only when the caller holds its claim, so nobody else's request ever blocks the holder. */
export async function captureForDecision(tx: Tx, captureId: string, lock: boolean) {
  if (!lock) return findCapture(tx, captureId);
  const [capture] = await tx.select().from(captures).where(eq(captures.id, captureId)).for('update');
  return capture;
}

export async function isCurrentRejectReason(tx: Tx, code: string): Promise<boolean> {
  const [known] = await tx
    .select({ code: rejectReasons.code })
    .from(rejectReasons)
    .where(and(eq(rejectReasons.code, code), isNull(rejectReasons.retiredAt)));
  return known !== undefined;
}

/** Who gave the first approval in this review round, if anyone. */
export async function firstApproverOf(tx: Tx, captureId: string, round: number): Promise<string | null> {
  const [first] = await tx
    .select({ personId: reviewDecisions.personId })
    .from(reviewDecisions)
    .where(
      and(
        eq(reviewDecisions.captureId, captureId),
        eq(reviewDecisions.round, round),
        eq(reviewDecisions.step, 'first'),
        eq(reviewDecisions.outcome, 'approved'),
      ),
    );
  return first?.personId ?? null;
}

export async function recordDecision(tx: Tx, decision: DecisionRow): Promise<void> {
  await tx.insert(reviewDecisions).values(decision);
}

/** A decided capture is nobody's to hold any more. */
export async function releaseClaimsOn(tx: Tx, captureId: string): Promise<void> {
  await tx.delete(reviewClaims).where(eq(reviewClaims.captureId, captureId));
}

/**
 * The last decision recorded in the capture's current review round: the record an approved
 * state must rest on. Read apart from the state, so a state written around the review (by a
 * database superuser, say) shows up as an approval nobody gave.
 */
export async function lastDecisionOfCurrentRound(executor: Executor, captureId: string) {
  const [last] = await executor
    .select({ outcome: reviewDecisions.outcome, step: reviewDecisions.step, round: reviewDecisions.round })
    .from(reviewDecisions)
    .innerJoin(captures, and(eq(captures.id, reviewDecisions.captureId), eq(captures.reviewRound, reviewDecisions.round)))
    .where(eq(reviewDecisions.captureId, captureId))
    .orderBy(desc(reviewDecisions.decidedAt))
    .limit(1);
  return last;
}

/** This person's latest decisions, newest first, with where each capture stands now. */
export async function decisionsBy(executor: Executor, personId: string, limit: number) {
  return executor
    .select({
      captureId: reviewDecisions.captureId,
      round: reviewDecisions.round,
      step: reviewDecisions.step,
      outcome: reviewDecisions.outcome,
      reasonCode: reviewDecisions.reasonCode,
      decidedAt: reviewDecisions.decidedAt,
      stateNow: captures.state,
      violationType: captures.violationType,
      deviceId: captures.deviceId,
      road: devices.road,
    })
    .from(reviewDecisions)
    .innerJoin(captures, eq(captures.id, reviewDecisions.captureId))
    .leftJoin(devices, eq(devices.id, captures.deviceId))
    .where(eq(reviewDecisions.personId, personId))
    .orderBy(desc(reviewDecisions.decidedAt))
    .limit(limit);
}
