import { describe, expect, it } from 'vitest';
import type { MalfunctionWindow } from './fault-window.js';
import { screen, type CaptureState } from './screening.js';

const window = (id: string, overrides: Partial<MalfunctionWindow> = {}): MalfunctionWindow => ({
  id,
  deviceId: 'CAM-1',
  source: 'device_reported',
  startsAt: new Date('2026-11-23T10:00:00Z'),
  endsAt: new Date('2026-11-23T11:00:00Z'),
  reason: 'lens fogged',
  ...overrides,
});

const capture = (state: CaptureState, at = '2026-11-23T10:30:00Z', exclusionWindowIds: string[] | null = null) => ({
  deviceId: 'CAM-1',
  capturedAt: new Date(at),
  state,
  exclusionWindowIds,
});

describe('screen', () => {
  it('excludes a capture inside a window, in every state not yet decided, approved included', () => {
    for (const state of ['verified', 'awaiting_review', 'approved'] as const) {
      expect(screen(capture(state), [window('w1')])).toEqual({ change: 'exclude', from: state, windowIds: ['w1'] });
    }
  });

  it('sends a capture outside every window to review', () => {
    expect(screen(capture('verified', '2026-11-23T11:00:00Z'), [window('w1')])).toEqual({
      change: 'admit',
      from: 'verified',
      to: 'awaiting_review',
    });
  });

  it('leaves quarantined, rejected and still-arriving captures alone', () => {
    for (const state of ['quarantined', 'rejected', 'received'] as const) {
      expect(screen(capture(state), [window('w1')])).toEqual({ change: 'none' });
      expect(screen(capture(state), [])).toEqual({ change: 'none' });
    }
  });

  it('ignores windows of other devices and withdrawn windows', () => {
    const windows = [window('other', { deviceId: 'CAM-2' }), window('withdrawn', { withdrawnAt: new Date() })];
    expect(screen(capture('awaiting_review'), windows)).toEqual({ change: 'none' });
  });

  it('re-admits an excluded capture to review once no window covers it', () => {
    expect(screen(capture('excluded', undefined, ['w1']), [window('w1', { withdrawnAt: new Date() })])).toEqual({
      change: 'admit',
      from: 'excluded',
      to: 'awaiting_review',
    });
  });

  it('keeps an excluded capture excluded, updating the windows when they change', () => {
    expect(screen(capture('excluded', undefined, ['w1']), [window('w1')])).toEqual({ change: 'none' });
    expect(screen(capture('excluded', undefined, ['w1']), [window('w1', { withdrawnAt: new Date() }), window('w2')])).toEqual({
      change: 'exclude',
      from: 'excluded',
      windowIds: ['w2'],
    });
  });

  it('lets a confirmed tampering finding set aside its window, and only that one', () => {
    expect(screen(capture('excluded', undefined, ['w1']), [window('w1')], ['w1'])).toEqual({
      change: 'admit',
      from: 'excluded',
      to: 'awaiting_review',
    });
    expect(screen(capture('excluded', undefined, ['w1', 'w2']), [window('w1'), window('w2')], ['w1'])).toEqual({
      change: 'exclude',
      from: 'excluded',
      windowIds: ['w2'],
    });
  });
});
