import { describe, expect, it } from 'vitest';
import { eligibility, needsSecondApproval, reviewDeadline, stateAfter, type ReviewContext } from './review-policy.js';

const policy = { twoPersonViolationTypes: ['red_light'], twoPersonSpeedExcessPercent: 50 };
const context = (overrides: Partial<ReviewContext> = {}): ReviewContext => ({
  state: 'awaiting_review',
  firstApproverId: null,
  deviceId: 'CAM-1',
  needsSecondApproval: false,
  ...overrides,
});
const reviewer = { id: 'p1', administeredDeviceIds: [], mayDecideEscalated: false };

describe('two-person rule', () => {
  it('applies to configured violation types and to speeding far over the limit', () => {
    expect(needsSecondApproval({ violationType: 'red_light', readings: {} }, policy)).toBe(true);
    expect(needsSecondApproval({ violationType: 'speeding', readings: { speedKmh: 90, limitKmh: 60 } }, policy)).toBe(true);
    expect(needsSecondApproval({ violationType: 'speeding', readings: { speedKmh: 89, limitKmh: 60 } }, policy)).toBe(false);
    expect(needsSecondApproval({ violationType: 'speeding', readings: { speedKmh: '90', limitKmh: 60 } }, policy)).toBe(false);
    expect(needsSecondApproval({ violationType: 'noise', readings: undefined }, policy)).toBe(false);
  });

  it('sends a first approval to a second reviewer only when needed', () => {
    expect(stateAfter('approved', 'first', true)).toBe('awaiting_second_review');
    expect(stateAfter('approved', 'first', false)).toBe('approved');
    expect(stateAfter('approved', 'second', true)).toBe('approved');
    expect(stateAfter('rejected', 'second', true)).toBe('rejected');
    expect(stateAfter('escalated', 'first', false)).toBe('escalated');
  });
});

describe('who may decide', () => {
  it('refuses the first approver at the second step, and anyone reviewing a device they administer', () => {
    expect(eligibility(context({ firstApproverId: 'p1', state: 'awaiting_second_review' }), reviewer)).toMatchObject({ eligible: false });
    expect(eligibility(context({ firstApproverId: 'p2', state: 'awaiting_second_review' }), reviewer)).toEqual({
      eligible: true,
      step: 'second',
    });
    const own = eligibility(context(), { ...reviewer, administeredDeviceIds: ['CAM-1'] });
    expect(own.eligible).toBe(false);
    expect(!own.eligible && own.reason).toMatch(/administer/);
  });

  it('leaves escalated captures to legal reviewers, at the step the escalation interrupted', () => {
    expect(eligibility(context({ state: 'escalated' }), reviewer)).toMatchObject({ eligible: false });
    expect(eligibility(context({ state: 'escalated' }), { ...reviewer, mayDecideEscalated: true })).toEqual({
      eligible: true,
      step: 'first',
    });
    expect(eligibility(context({ state: 'escalated', firstApproverId: 'p2' }), { ...reviewer, mayDecideEscalated: true })).toEqual({
      eligible: true,
      step: 'second',
    });
  });

  it('counts the statutory review deadline in days from capture', () => {
    expect(reviewDeadline(new Date('2026-01-01T08:00:00Z'), 5).toISOString()).toBe('2026-01-06T08:00:00.000Z');
  });
});
