import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AWAITING_SCREENING, mediaJobFor, NEEDING_DERIVED_MEDIA, queueFinding, screeningJobFor } from './capture-jobs.js';
import { jobIdFor } from './jobs.js';
import { screen } from './screening.js';

describe('capture jobs', () => {
  it('names a re-sent job exactly as the outbox named the first, so sending it twice is a no-op', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.string({ minLength: 1 }), fc.date({ noInvalidDate: true }), (id, deviceId, capturedAt) => {
        const screening = screeningJobFor({ id, deviceId, capturedAt: capturedAt.toISOString() });
        expect(screening.jobId).toBe(jobIdFor('screen-captures', id));
        expect(screening.payload).toEqual({ deviceId, from: capturedAt.toISOString(), to: capturedAt.toISOString() });
        expect(mediaJobFor(id)).toEqual({
          queue: 'media',
          name: 'derive-thumbnails',
          payload: { captureId: id },
          jobId: jobIdFor('derive-thumbnails', id),
        });
      }),
    );
  });

  it('waits for screening exactly in the states screening moves on', () => {
    for (const state of AWAITING_SCREENING) {
      const outcome = screen({ deviceId: 'd', capturedAt: new Date(), state, exclusionWindowIds: null }, [], []);
      expect(outcome.change).toBe('admit');
    }
    // Every state awaiting screening is one reviewers will see, so its media must be derived too.
    expect(AWAITING_SCREENING.every((state) => NEEDING_DERIVED_MEDIA.includes(state))).toBe(true);
    expect(NEEDING_DERIVED_MEDIA).not.toContain('received');
    expect(NEEDING_DERIVED_MEDIA).not.toContain('quarantined');
  });

  it('reads every BullMQ job state, and refuses one it does not know rather than guess', () => {
    expect(queueFinding(undefined)).toBe('missing');
    expect(queueFinding('unknown')).toBe('missing');
    expect(queueFinding('failed')).toBe('failed');
    expect(queueFinding('completed')).toBe('completed');
    for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']) expect(queueFinding(state)).toBe('queued');
    expect(() => queueFinding('stalled-forever')).toThrow(/unexpected BullMQ job state/);
  });
});
