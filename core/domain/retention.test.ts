import { describe, expect, it } from 'vitest';
import { erasureDeadline, purgeCutoffs } from './retention.js';

const DAY = 24 * 3600 * 1000;
const settings = { nonEvidenceKeepMs: 30 * DAY, erasureWithinMs: 3 * DAY, evidenceKeepMs: 730 * DAY };

describe('purge cutoffs', () => {
  const now = new Date('2026-03-31T12:00:00.000Z');
  const cutoffs = purgeCutoffs(settings, now);

  it('makes non-evidence due exactly 30 days after its clock started, and not a millisecond before', () => {
    expect(cutoffs.retention.toISOString()).toBe('2026-03-01T12:00:00.000Z');
    const twentyNineDaysAgo = new Date(now.getTime() - 29 * DAY);
    expect(twentyNineDaysAgo.getTime() <= cutoffs.retention.getTime()).toBe(false);
  });

  it('makes an erasure due at once and evidence after its own period', () => {
    expect(cutoffs.erasure).toEqual(now);
    expect(cutoffs.evidence_retention.getTime()).toBe(now.getTime() - 730 * DAY);
  });

  it('gives an erasure its statutory deadline', () => {
    expect(erasureDeadline(now, settings).toISOString()).toBe('2026-04-03T12:00:00.000Z');
  });
});
