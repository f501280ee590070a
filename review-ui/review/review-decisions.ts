import { and, eq, gt, isNull } from 'drizzle-orm';
import { incidentSubject, type IncidentKey } from '../../core/domain/incidents.js';
import {
  REVIEW_STATES,
  eligibility,
  lateApprovalRefusal,
  needsSecondApproval,
  reviewDeadline,
  stateAfter,
  type ReviewOutcome,
  type ReviewState,
  type TwoPersonPolicy,
} from '../../core/domain/review-policy.js';
import { appendAudit } from '../../db/audit-log.js';
import { regroupIncidents } from '../../db/incidents.js';
import type { Db, Executor, Tx } from '../../db/client.js';
import { signedEvidenceOf, type StoredCapture } from '../../core/domain/signed-evidence.js';
import { changeCaptureState } from '../../db/captures.js';
import { captures, devices, rejectReasons, reviewClaims, reviewDecisions } from '../../db/schema.js';
import type { QueueViewer } from '../../db/review-queue.js';

export interface Decider extends QueueViewer {
  certificateNumber: string;
}

export interface DecisionInput {
  outcome: ReviewOutcome;
  reasonCode?: string | undefined;
  note?: string | undefined;
  /** Why an approval comes after the statutory deadline; required then, refused otherwise. */
  lateReason?: string | undefined;
}

/**
 * Re-checks signature, the signed fields and media just before an approval, inside the
 * decision's transaction (it is handed the transaction); see checkIntegrity in capture-detail.ts.
 */
export type IntegrityCheck = (
  executor: Executor,
  capture: StoredCapture & { id: string; deviceId: string; receivedAt: Date },
) => Promise<{ intact: boolean; problems: string[] }>;

export type DecisionResult =
  | { ok: true; state: string; step: 'first' | 'second'; incidentId: string | null }
  | { ok: false; status: 403 | 404 | 409 | 422; error: string };

const UNIQUE_VIOLATION = '23505';
const LOCK_NOT_AVAILABLE = '55P03';

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
}

/**
 * Records one person's decision on a capture they hold, and moves the capture on. Every rule
 * of law L9 is checked here and again by the database: a claim held by this person, a step
 * they may take, one decision per step and never two steps by one person.
 */
export async function decide(
  db: Db,
  decider: Decider,
  captureId: string,
  input: DecisionInput,
  policy: TwoPersonPolicy & { incidentWindowMs: number; deadlineDays: number },
  integrityOf: IntegrityCheck,
  now = new Date(),
): Promise<DecisionResult> {
  if (input.outcome === 'rejected' && !input.reasonCode)
    return { ok: false, status: 422, error: 'a rejection needs a reason from the list' };
  if (input.outcome === 'escalated' && !input.note?.trim()) return { ok: false, status: 422, error: 'say why you escalate, in the note' };
  try {
    return await db.transaction(async (tx) => {
      // Only the claim holder may decide, so only the holder's requests ever lock anything: the
      // claim row is locked first, without waiting, so a second decision of the same person
      // racing this one is told at once instead of queueing with a pooled connection held
      // (twenty double-clicks must not exhaust the pool), and someone else's request, which
      // finds no claim of theirs, can never block the holder.
      const [claim] = await tx
        .select()
        .from(reviewClaims)
        .where(and(eq(reviewClaims.captureId, captureId), eq(reviewClaims.personId, decider.id), gt(reviewClaims.expiresAt, now)))
        .for('update', { noWait: true });
      const read = tx.select().from(captures).where(eq(captures.id, captureId));
      const [capture] = claim ? await read.for('update') : await read;
      if (!capture?.deviceId || !capture.capturedAt) return { ok: false, status: 404, error: `no capture ${captureId}` };
      if (!(REVIEW_STATES as readonly string[]).includes(capture.state)) {
        return { ok: false, status: 409, error: `this capture is no longer in review (state ${capture.state})` };
      }
      if (!claim) return { ok: false, status: 409, error: 'claim this capture before deciding: your claim is missing or lapsed' };
      // The clock runs from the signed capture time, which no stored copy can move.
      const signed = signedEvidenceOf(capture);
      const capturedAt = signed.readable ? new Date(signed.manifest.capturedAt) : capture.capturedAt;
      const deadline = reviewDeadline(capturedAt, policy.deadlineDays);
      const late = input.outcome === 'approved' && now.getTime() > deadline.getTime();
      if (input.outcome === 'approved') {
        const refusal = lateApprovalRefusal(deadline, input.lateReason, now);
        if (refusal) return { ok: false, status: 422, error: refusal };
      }
      if (!late && input.lateReason !== undefined) {
        return { ok: false, status: 422, error: 'lateReason is only for approvals after the review deadline' };
      }
      // Law L2: a record whose signature or media no longer check out is not true evidence, whatever a reviewer thinks of it.
      if (input.outcome === 'approved') {
        const integrity = await integrityOf(tx, { ...capture, deviceId: capture.deviceId });
        if (!integrity.intact) {
          return {
            ok: false,
            status: 409,
            error: `this capture fails its integrity check, so it cannot be approved: ${integrity.problems.join('; ')}`,
          };
        }
      }
      if (input.outcome === 'rejected') {
        const [known] = await tx
          .select({ code: rejectReasons.code })
          .from(rejectReasons)
          .where(and(eq(rejectReasons.code, input.reasonCode ?? ''), isNull(rejectReasons.retiredAt)));
        if (!known) return { ok: false, status: 422, error: `unknown or retired reject reason ${input.reasonCode}` };
      }
      const [firstApproval] = await tx
        .select({ personId: reviewDecisions.personId })
        .from(reviewDecisions)
        .where(
          and(
            eq(reviewDecisions.captureId, captureId),
            eq(reviewDecisions.round, capture.reviewRound),
            eq(reviewDecisions.step, 'first'),
            eq(reviewDecisions.outcome, 'approved'),
          ),
        );
      // The rule reads the signed readings: an edited copy in the database must not change who has to approve.
      const readings = signed.readable
        ? signed.manifest.readings
        : (capture.manifest as { readings?: Record<string, unknown> } | null)?.readings;
      const violationType = signed.readable ? signed.manifest.violationType : capture.violationType;
      const needsSecond = needsSecondApproval({ violationType, readings }, policy);
      const allowed = eligibility(
        {
          state: capture.state as ReviewState,
          firstApproverId: firstApproval?.personId ?? null,
          deviceId: capture.deviceId,
          needsSecondApproval: needsSecond,
        },
        decider,
      );
      if (!allowed.eligible) return { ok: false, status: 403, error: allowed.reason };
      await tx.insert(reviewDecisions).values({
        captureId,
        round: capture.reviewRound,
        step: allowed.step,
        outcome: input.outcome,
        personId: decider.id,
        certificateNumber: decider.certificateNumber,
        reasonCode: input.outcome === 'rejected' ? (input.reasonCode ?? null) : null,
        note: input.note?.trim() || null,
        lateReason: late ? (input.lateReason?.trim() ?? null) : null,
        decidedAt: now,
      });
      const next = stateAfter(input.outcome, allowed.step, needsSecond);
      if (!(await changeCaptureState(tx, captureId, { from: capture.state, to: next, by: 'reviewer' }))) {
        throw new Error(`capture ${captureId} left ${capture.state} while locked for a decision`);
      }
      await tx.delete(reviewClaims).where(eq(reviewClaims.captureId, captureId));
      const incidentId =
        next === 'approved'
          ? await regroupIncidents(
              tx,
              decider.actor,
              await actOf(tx, { id: capture.id, deviceId: capture.deviceId, violationType }, readings),
              { kind: 'joined', captureId, capturedAt },
              policy.incidentWindowMs,
              'approved',
            )
          : null;
      await appendAudit(tx, {
        actor: decider.actor,
        action: next === 'awaiting_second_review' ? 'capture.first_approval' : `capture.${next}`,
        subjectType: 'capture',
        subjectId: captureId,
        details: {
          from: capture.state,
          to: next,
          step: allowed.step,
          round: capture.reviewRound,
          certificateNumber: decider.certificateNumber,
          reasonCode: input.reasonCode ?? null,
          note: input.note ?? null,
          lateReason: late ? (input.lateReason?.trim() ?? null) : null,
          incidentId,
        },
      });
      return { ok: true, state: next, step: allowed.step, incidentId };
    });
  } catch (error) {
    // The unique indexes on decisions are the last word when two requests race past the checks above.
    if (errorCode(error) === UNIQUE_VIOLATION)
      return { ok: false, status: 409, error: 'someone decided this step at the same moment; reload' };
    if (errorCode(error) === LOCK_NOT_AVAILABLE) {
      return { ok: false, status: 409, error: 'another decision on this capture is being recorded right now; reload to see it' };
    }
    throw error;
  }
}

/** The act an approved capture is part of (law L10): who, what, and which stretch of road. */
async function actOf(
  tx: Tx,
  capture: { id: string; deviceId: string; violationType: string | null },
  readings: Record<string, unknown> | undefined,
): Promise<IncidentKey> {
  const [device] = await tx
    .select({ road: devices.road, direction: devices.direction })
    .from(devices)
    .where(eq(devices.id, capture.deviceId));
  if (!device) throw new Error(`capture ${capture.id} names unknown device ${capture.deviceId}`);
  return {
    subject: incidentSubject(capture.id, readings),
    violationType: capture.violationType ?? 'unspecified',
    road: device.road,
    direction: device.direction,
  };
}
