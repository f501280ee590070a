import { EXCLUDABLE_STATES, type CaptureState } from './capture-lifecycle.js';
import { coveringWindows, type MalfunctionWindow } from './fault-window.js';

export type { CaptureState };

export { EXCLUDABLE_STATES };
const EXCLUDABLE: ReadonlySet<CaptureState> = new Set(EXCLUDABLE_STATES);

export type ScreeningOutcome =
  | { change: 'none' }
  | { change: 'exclude'; from: CaptureState; windowIds: string[] }
  | { change: 'admit'; from: CaptureState; to: 'awaiting_review' };

/**
 * The one rule for malfunction screening (law L4): a capture inside any active window of its
 * device is excluded, whenever the window became known; an excluded capture no longer
 * covered by any window (the window was withdrawn as a false alarm) returns to review, never
 * straight to approved. Quarantined, rejected and still-arriving captures are left alone. A
 * window stops counting for one capture only through a tampering finding confirmed by two people.
 */
export function screen(
  capture: { deviceId: string; capturedAt: Date; state: CaptureState; exclusionWindowIds: readonly string[] | null },
  windows: readonly MalfunctionWindow[],
  /** Windows a confirmed tampering finding has set aside for this capture (the party sabotaged the device). */
  overriddenWindowIds: readonly string[] = [],
): ScreeningOutcome {
  const covering = coveringWindows(windows, capture.deviceId, capture.capturedAt)
    .map((window) => window.id)
    .filter((id) => !overriddenWindowIds.includes(id));
  if (covering.length > 0) {
    if (EXCLUDABLE.has(capture.state)) return { change: 'exclude', from: capture.state, windowIds: covering };
    if (capture.state === 'excluded' && !sameIds(covering, capture.exclusionWindowIds ?? [])) {
      return { change: 'exclude', from: capture.state, windowIds: covering };
    }
    return { change: 'none' };
  }
  if (capture.state === 'excluded') return { change: 'admit', from: capture.state, to: 'awaiting_review' };
  if (capture.state === 'verified') return { change: 'admit', from: capture.state, to: 'awaiting_review' };
  return { change: 'none' };
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
