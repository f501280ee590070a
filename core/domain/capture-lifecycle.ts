import { certificationGapsAt, type CertificationPeriod } from './certification.js';
import { checkEvidenceMinimum, type MediaFacts } from './evidence-minimum.js';
import { coveringWindows, type MalfunctionWindow } from './fault-window.js';
import { readRefusal } from './review-policy.js';

/**
 * The capture lifecycle in one place: every state a capture can be in, every change between
 * them, who may cause it and what must hold. The database enum, the lists of states elsewhere
 * and the trigger that refuses unlawful changes are all read from this table.
 */

/** Who may move a capture: the ingest gateway, the screening worker, a reviewer, a device administrator re-judging certifications. */
export type LifecycleActor = 'gateway' | 'screening_worker' | 'reviewer' | 'certification_rejudging';

export interface Transition {
  /** null: the state a new row is inserted with. */
  from: CaptureState | null;
  to: CaptureState;
  by: LifecycleActor;
  requires: string;
}

const REVIEWING = ['awaiting_review', 'awaiting_second_review', 'escalated'] as const;
const DECIDED = ['approved', 'rejected', 'escalated', 'awaiting_second_review'] as const;

/** The order of the states is the order of the database enum. */
const STATE_ORDER = [
  'received',
  'verified',
  'quarantined',
  'excluded',
  'awaiting_review',
  'approved',
  'rejected',
  'awaiting_second_review',
  'escalated',
] as const;

export const CAPTURE_STATES = STATE_ORDER;
export type CaptureState = (typeof CAPTURE_STATES)[number];

const rows: Transition[] = [
  { from: null, to: 'received', by: 'gateway', requires: 'a signed capture from a known device, media still arriving' },
  { from: null, to: 'quarantined', by: 'gateway', requires: 'at least one quarantine reason' },
  { from: 'received', to: 'verified', by: 'gateway', requires: 'media complete; signature, hashes, certification and timing check out' },
  { from: 'received', to: 'quarantined', by: 'gateway', requires: 'at least one quarantine reason' },
  {
    from: 'quarantined',
    to: 'verified',
    by: 'certification_rejudging',
    requires: 'the only reason was certification, and a certification now covers the capture time',
  },
  { from: 'verified', to: 'awaiting_review', by: 'screening_worker', requires: 'no malfunction window covers the capture' },
  ...(['verified', ...REVIEWING, 'approved', 'excluded'] as const).map((from): Transition => ({
    from,
    to: 'excluded',
    by: 'screening_worker',
    requires: 'an active malfunction window covers the capture',
  })),
  { from: 'excluded', to: 'awaiting_review', by: 'screening_worker', requires: 'no window covers it any more; a new review round starts' },
  ...REVIEWING.flatMap((from) =>
    DECIDED.filter((to) => !(from === 'awaiting_second_review' && to === 'awaiting_second_review')).map((to): Transition => ({
      from,
      to,
      by: 'reviewer',
      requires:
        to === 'approved'
          ? 'a qualified reviewer who administers no device that took it; a second person when the policy says so'
          : 'a qualified reviewer who administers no device that took it',
    })),
  ),
];

/** Every lawful state change. */
export const CAPTURE_TRANSITIONS: readonly Transition[] = rows;

export type TransitionCheck = { allowed: true; transition: Transition } | { allowed: false; reason: string };

/** Whether `by` may move a capture from `from` (null: a new row) to `to`, and why not. */
export function canTransition(from: CaptureState | null, to: CaptureState, by: LifecycleActor): TransitionCheck {
  const transition = CAPTURE_TRANSITIONS.find((row) => row.from === from && row.to === to && row.by === by);
  if (transition) return { allowed: true, transition };
  const someone = CAPTURE_TRANSITIONS.find((row) => row.from === from && row.to === to);
  if (someone) return { allowed: false, reason: `only the ${someone.by.replace('_', ' ')} may move a capture from ${from} to ${to}` };
  return { allowed: false, reason: from === null ? `a capture may not start as ${to}` : `a capture may not go from ${from} to ${to}` };
}

/** Throws when the change is not in the table. */
export function assertTransition(from: CaptureState | null, to: CaptureState, by: LifecycleActor): void {
  const check = canTransition(from, to, by);
  if (!check.allowed) throw new Error(check.reason);
}

/**
 * Changes that must never happen whoever asks, mirrored by the database trigger: a decided
 * capture leaves its decision only through exclusion by a malfunction window, and nothing
 * reaches approved except from review.
 */
export function forbiddenInDatabase(from: CaptureState, to: CaptureState): boolean {
  if (from === to) return false;
  if (from === 'approved' || from === 'rejected') return !CAPTURE_TRANSITIONS.some((row) => row.from === from && row.to === to);
  if (to === 'approved') return !CAPTURE_TRANSITIONS.some((row) => row.from === from && row.to === to);
  return false;
}

/** Everything known about a capture that bears on whether it may be evidence now. */
export interface EvidenceFacts {
  state: CaptureState;
  deviceId: string;
  capturedAt: Date;
  violationType: string;
  certifications: readonly CertificationPeriod[];
  /**
   * What an integrity check found wrong just now (signature over the signed bytes, stored copies
   * against them, every medium re-hashed from storage); empty when intact. Checking needs the
   * media store, so the caller runs it and hands the findings in.
   */
  integrityProblems: readonly string[];
  media: readonly MediaFacts[];
  windows: readonly MalfunctionWindow[];
  /** Windows a confirmed tampering finding set aside for this capture. */
  overriddenWindowIds: readonly string[];
  /** The person asking, when a person asks: separation of duties applies. */
  reader?: { administeredDeviceIds: readonly string[] };
}

export interface EvidenceEligibility {
  eligible: boolean;
  reasons: string[];
}

/** The one answer to "may this capture be evidence now, and if not why not", composed from the rules in this folder. */
export function evidenceEligibility(facts: EvidenceFacts): EvidenceEligibility {
  const reasons: string[] = [];
  if (facts.state !== 'approved') reasons.push(`the capture is ${facts.state}, not approved`);
  for (const gap of certificationGapsAt(facts.certifications, facts.capturedAt)) {
    reasons.push(`certification ${gap.kind} ${gap.problem.replace(/_/g, ' ')} at capture time`);
  }
  for (const problem of facts.integrityProblems) reasons.push(`integrity: ${problem}`);
  for (const finding of checkEvidenceMinimum(facts.violationType, facts.media)) {
    reasons.push(`evidence minimum: ${finding.detail}`);
  }
  const covering = coveringWindows(facts.windows, facts.deviceId, facts.capturedAt).filter(
    (window) => !facts.overriddenWindowIds.includes(window.id),
  );
  if (covering.length > 0) reasons.push(`malfunction window ${covering.map((window) => window.id).join(', ')} covers the capture`);
  const refusal = facts.reader ? readRefusal([facts.deviceId], facts.reader) : undefined;
  if (refusal) reasons.push(refusal);
  return { eligible: reasons.length === 0, reasons };
}

/**
 * The transition table as docs/design-notes.md shows it, cells padded the way prettier pads
 * them so the formatted document and this rendering stay byte-equal.
 */
export function lifecycleMarkdown(): string {
  const header = ['from', 'to', 'who', 'what must hold'];
  const body = CAPTURE_TRANSITIONS.map((row) => [row.from ?? '(new)', row.to, row.by.replace('_', ' '), row.requires]);
  const widths = header.map((cell, column) => Math.max(3, cell.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
}

function fromsOf(to: CaptureState, by: LifecycleActor): CaptureState[] {
  const froms = CAPTURE_TRANSITIONS.filter((row) => row.to === to && row.by === by && row.from !== null && row.from !== to).map(
    (row) => row.from as CaptureState,
  );
  return [...new Set(froms)];
}

/** States a malfunction window can still pull a capture out of: not yet used in a decision. */
export const EXCLUDABLE_STATES: readonly CaptureState[] = fromsOf('excluded', 'screening_worker');

/** States that only a screening job moves on (to review or to exclusion). */
export const AWAITING_SCREENING: readonly CaptureState[] = fromsOf('awaiting_review', 'screening_worker').filter(
  (state) => state !== 'excluded',
);

/** States in which a reviewer decides. */
export const REVIEWING_STATES: readonly CaptureState[] = [
  ...new Set(CAPTURE_TRANSITIONS.filter((row) => row.by === 'reviewer').map((row) => row.from as CaptureState)),
];
