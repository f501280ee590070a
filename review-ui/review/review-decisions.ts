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
import type { Db, Tx } from '../../db/client.js';
import { signedEvidenceOf } from '../../core/domain/signed-evidence.js';
import type { MediaStore } from '../../core/infrastructure/media-store.js';
import { changeCaptureState } from '../../db/captures.js';
import { findDevice } from '../../db/devices.js';
import {
  captureForDecision,
  firstApproverOf,
  isCurrentRejectReason,
  lockOwnClaim,
  recordDecision,
  releaseClaimsOn,
} from '../../db/review-decisions.js';
import type { QueueViewer } from '../../db/review-queue.js';
import { evidenceNow } from '../evidence/evidence-now.js';

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

export type DecisionResult =
  | {
      ok: true;
      state: string;
      step: 'first' | 'second';
      incidentId: string | null;
      /** The signed capture time the statutory review clock ran from. */
      capturedAt: Date;
    }
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
  store: MediaStore,
  now = new Date(),
): Promise<DecisionResult> {
  if (input.outcome === 'rejected' && !input.reasonCode)
    return { ok: false, status: 422, error: 'a rejection needs a reason from the list' };
  if (input.outcome === 'escalated' && !input.note?.trim()) return { ok: false, status: 422, error: 'say why you escalate, in the note' };
  try {
    return await db.transaction(async (tx) => {
      // Only the claim holder may decide, so only the holder's requests ever lock anything
      // (twenty double-clicks must not exhaust the pool), and someone else's request, which
      // finds no claim of theirs, can never block the holder.
      const claim = await lockOwnClaim(tx, captureId, decider.id, now);
      const capture = await captureForDecision(tx, captureId, claim !== undefined);
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
      // Laws L1–L4: an approval is a claim that this could be evidence, so the one evidence rule
      // is asked as if it were approved; a reviewer's opinion cannot outweigh a broken signature,
      // a certification gap or a malfunction window.
      if (input.outcome === 'approved') {
        const evidence = await evidenceNow(
          tx,
          store,
          { ...capture, deviceId: capture.deviceId, capturedAt: capture.capturedAt },
          { asState: 'approved' },
        );
        if (!evidence) return { ok: false, status: 404, error: `capture ${captureId} names unknown device ${capture.deviceId}` };
        if (!evidence.integrity.intact) {
          return {
            ok: false,
            status: 409,
            error: `this capture fails its integrity check, so it cannot be approved: ${evidence.integrity.problems.join('; ')}`,
          };
        }
        if (!evidence.eligibility.eligible) {
          return {
            ok: false,
            status: 409,
            error: `this capture cannot be evidence, so it cannot be approved: ${evidence.eligibility.reasons.join('; ')}`,
          };
        }
      }
      if (input.outcome === 'rejected' && !(await isCurrentRejectReason(tx, input.reasonCode ?? ''))) {
        return { ok: false, status: 422, error: `unknown or retired reject reason ${input.reasonCode}` };
      }
      const firstApproverId = await firstApproverOf(tx, captureId, capture.reviewRound);
      // The rule reads the signed readings: an edited copy in the database must not change who has to approve.
      const readings = signed.readable
        ? signed.manifest.readings
        : (capture.manifest as { readings?: Record<string, unknown> } | null)?.readings;
      const violationType = signed.readable ? signed.manifest.violationType : capture.violationType;
      const needsSecond = needsSecondApproval({ violationType, readings }, policy);
      const allowed = eligibility(
        {
          state: capture.state as ReviewState,
          firstApproverId,
          deviceId: capture.deviceId,
          needsSecondApproval: needsSecond,
        },
        decider,
      );
      if (!allowed.eligible) return { ok: false, status: 403, error: allowed.reason };
      await recordDecision(tx, {
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
      await releaseClaimsOn(tx, captureId);
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
      return { ok: true, state: next, step: allowed.step, incidentId, capturedAt };
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
  const device = await findDevice(tx, capture.deviceId);
  if (!device) throw new Error(`capture ${capture.id} names unknown device ${capture.deviceId}`);
  return {
    subject: incidentSubject(capture.id, readings),
    violationType: capture.violationType ?? 'unspecified',
    road: device.road,
    direction: device.direction,
  };
}
