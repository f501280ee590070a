import { jobIdFor, type JobMap } from './jobs.js';
import { AWAITING_SCREENING, REVIEWING_STATES, type CaptureState } from './capture-lifecycle.js';

/**
 * Which job a capture waits for, read from its state alone: the outbox hands the job to the
 * queue once, and this says how to hand it again when the queue lost it (a Redis restart or
 * FLUSHALL). Both paths name the job the same way, so a second hand-over is a no-op.
 */

export { AWAITING_SCREENING };

/** States in which reviewers look at a capture, so its media must have been measured and derived. */
export const NEEDING_DERIVED_MEDIA: readonly CaptureState[] = [...AWAITING_SCREENING, ...REVIEWING_STATES];

export type CaptureJob =
  | { queue: 'screening'; name: 'screen-captures'; payload: JobMap['screening']['screen-captures']; jobId: string }
  | { queue: 'media'; name: 'derive-thumbnails'; payload: JobMap['media']['derive-thumbnails']; jobId: string };

/** Screens exactly the instant the capture was taken, on its device. */
export function screeningJobFor(capture: { id: string; deviceId: string; capturedAt: string }): CaptureJob {
  return {
    queue: 'screening',
    name: 'screen-captures',
    payload: { deviceId: capture.deviceId, from: capture.capturedAt, to: capture.capturedAt },
    jobId: jobIdFor('screen-captures', capture.id),
  };
}

export function mediaJobFor(captureId: string): CaptureJob {
  return { queue: 'media', name: 'derive-thumbnails', payload: { captureId }, jobId: jobIdFor('derive-thumbnails', captureId) };
}

/** BullMQ job states in which the job is still on its way: handing it over again would change nothing. */
const ON_ITS_WAY = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

export type QueueFinding = 'missing' | 'failed' | 'completed' | 'queued';

/** What the queue's state of a stuck capture's job means: gone, given up on, done without effect, or just slow. */
export function queueFinding(jobState: string | undefined): QueueFinding {
  if (jobState === undefined || jobState === 'unknown') return 'missing';
  if (jobState === 'failed' || jobState === 'completed') return jobState;
  if (ON_ITS_WAY.has(jobState)) return 'queued';
  throw new Error(`unexpected BullMQ job state ${jobState}`);
}
