/**
 * The review rules (laws L3, L9, L10), as plain functions: who may take which step on a
 * capture, where the capture goes next, and when an approval needs a second person.
 */

import { speedReadings } from './reading-schemas.js';

export type ReviewState = 'awaiting_review' | 'awaiting_second_review' | 'escalated';
export type ReviewOutcome = 'approved' | 'rejected' | 'escalated';
export type ReviewStep = 'first' | 'second';

export const REVIEW_STATES: readonly ReviewState[] = ['awaiting_review', 'awaiting_second_review', 'escalated'];

export interface TwoPersonPolicy {
  twoPersonViolationTypes: readonly string[];
  twoPersonSpeedExcessPercent: number;
}

/** Whether approving this capture takes two different qualified people. */
export function needsSecondApproval(
  capture: { violationType: string | null; readings: Record<string, unknown> | undefined },
  policy: TwoPersonPolicy,
): boolean {
  if (capture.violationType && policy.twoPersonViolationTypes.includes(capture.violationType)) return true;
  const speed = speedReadings(capture.readings);
  if (!speed) return false;
  return ((speed.speedKmh - speed.limitKmh) / speed.limitKmh) * 100 >= policy.twoPersonSpeedExcessPercent;
}

export interface ReviewContext {
  state: ReviewState;
  /** The person who approved the first step in this round, if anyone did. */
  firstApproverId: string | null;
  deviceId: string;
  needsSecondApproval: boolean;
}

export interface Reviewer {
  id: string;
  administeredDeviceIds: readonly string[];
  mayDecideEscalated: boolean;
}

export type Eligibility = { eligible: true; step: ReviewStep } | { eligible: false; reason: string };

/**
 * Separation of duties where evidence is read (laws L7, L9): nobody sees a capture, its media
 * or an evidence package holding it when they administer a device that took it. The queue,
 * every decision and every read route apply this one rule. Returns why not, or undefined.
 */
export function readRefusal(deviceIds: readonly string[], reader: { administeredDeviceIds: readonly string[] }): string | undefined {
  const own = deviceIds.filter((deviceId) => reader.administeredDeviceIds.includes(deviceId));
  if (own.length === 0) return undefined;
  return `you administer device ${[...new Set(own)].join(', ')}, so you may not review or see its captures`;
}

/** Whether this person may take the next decision on this capture, and which step it would be. */
export function eligibility(context: ReviewContext, reviewer: Reviewer): Eligibility {
  const refusal = readRefusal([context.deviceId], reviewer);
  if (refusal) return { eligible: false, reason: refusal };
  if (context.firstApproverId === reviewer.id) {
    return { eligible: false, reason: 'you approved the first step: the second approval must come from someone else' };
  }
  if (context.state === 'escalated' && !reviewer.mayDecideEscalated) {
    return { eligible: false, reason: 'this capture was escalated: a legal reviewer decides it' };
  }
  return { eligible: true, step: context.firstApproverId ? 'second' : 'first' };
}

export type NextState = 'approved' | 'rejected' | 'escalated' | 'awaiting_second_review';

/** Where a decision takes the capture: an approval waits for a second person when the policy says so. */
export function stateAfter(outcome: ReviewOutcome, step: ReviewStep, needsSecond: boolean): NextState {
  if (outcome === 'rejected') return 'rejected';
  if (outcome === 'escalated') return 'escalated';
  return step === 'first' && needsSecond ? 'awaiting_second_review' : 'approved';
}

/** The statutory clock: a capture must be reviewed within `days` of being taken (MPS order 157, art. 19). */
export function reviewDeadline(capturedAt: Date, days: number): Date {
  return new Date(capturedAt.getTime() + days * 24 * 3600 * 1000);
}

/**
 * An approval after the statutory deadline is not silently allowed: it needs the reviewer's
 * reason, which the decision and every evidence package holding it carry. Returns the refusal, or undefined.
 */
export function lateApprovalRefusal(deadline: Date, lateReason: string | undefined, now: Date): string | undefined {
  if (now.getTime() <= deadline.getTime() || lateReason?.trim()) return undefined;
  return `the statutory review deadline passed at ${deadline.toISOString()}: approving now needs a reason (lateReason)`;
}
