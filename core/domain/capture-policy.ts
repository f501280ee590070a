import type { Manifest } from './protocol.js';
import { reason, type QuarantineReason } from './quarantine-reasons.js';

/** The timing rules a capture must meet; defaults come from GA/T 832-2014 and MPS order 157. */
export interface CapturePolicy {
  /** A device clock further than this from standard time is a fault (GA/T 832: 1.0 s). */
  maxClockOffsetMs: number;
  /** How far capturedAt may lie after the gateway's receipt: the device's allowed clock error. */
  futureToleranceMs: number;
  /**
   * Older captures smell of replay, and could not be reviewed well within the statutory 5 days:
   * 72 h leaves every accepted capture at least two days of review time.
   */
  maxAgeMs: number;
  /** How long after a key rotation captures signed with the replaced key (and taken before it) still verify. */
  keyRotationOverlapMs: number;
}

export const DEFAULT_CAPTURE_POLICY: CapturePolicy = {
  maxClockOffsetMs: 1000,
  futureToleranceMs: 1000,
  maxAgeMs: 72 * 3600 * 1000,
  keyRotationOverlapMs: 24 * 3600 * 1000,
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** Clock and time-window checks on a manifest received at `receivedAt`. Empty means it passes. */
export function checkCaptureTiming(manifest: Manifest, receivedAt: Date, policy: CapturePolicy): QuarantineReason[] {
  const reasons: QuarantineReason[] = [];
  if (Math.abs(manifest.clockOffsetMs) > policy.maxClockOffsetMs) {
    reasons.push(
      reason('clock_offset_exceeded', `device clock off by ${seconds(manifest.clockOffsetMs)}, limit ${seconds(policy.maxClockOffsetMs)}`),
    );
  }
  const lead = Date.parse(manifest.capturedAt) - receivedAt.getTime();
  if (lead > policy.futureToleranceMs) {
    reasons.push(reason('captured_in_future', `capturedAt is ${seconds(lead)} after the gateway received it`));
  }
  if (-lead > policy.maxAgeMs) {
    reasons.push(
      reason('captured_outside_window', `capturedAt is ${seconds(-lead)} before receipt, over the ${seconds(policy.maxAgeMs)} window`),
    );
  }
  return reasons;
}
