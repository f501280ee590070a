import { describe, expect, it } from 'vitest';
import { coveringWindows, windowCovers, type MalfunctionWindow } from './fault-window.js';

const window = (overrides: Partial<MalfunctionWindow> = {}): MalfunctionWindow => ({
  id: 'w1',
  deviceId: 'CAM-1',
  source: 'operator',
  startsAt: new Date('2026-11-23T10:00:00Z'),
  endsAt: new Date('2026-11-23T14:00:00Z'),
  reason: 'camera misaligned',
  ...overrides,
});

describe('windowCovers', () => {
  it('is half-open: the start is covered, the end is not', () => {
    expect(windowCovers(window(), new Date('2026-11-23T10:00:00Z'))).toBe(true);
    expect(windowCovers(window(), new Date('2026-11-23T13:59:59.999Z'))).toBe(true);
    expect(windowCovers(window(), new Date('2026-11-23T14:00:00Z'))).toBe(false);
    expect(windowCovers(window(), new Date('2026-11-23T09:59:59.999Z'))).toBe(false);
  });

  it('covers everything after the start while open-ended', () => {
    expect(windowCovers(window({ endsAt: null }), new Date('2030-01-01T00:00:00Z'))).toBe(true);
  });

  it('covers nothing once withdrawn as a false alarm', () => {
    expect(windowCovers(window({ withdrawnAt: new Date() }), new Date('2026-11-23T11:00:00Z'))).toBe(false);
  });
});

describe('coveringWindows', () => {
  it("returns only this device's windows that cover the moment, earliest first", () => {
    const windows = [
      window({ id: 'late', startsAt: new Date('2026-11-23T11:00:00Z') }),
      window({ id: 'other-device', deviceId: 'CAM-2' }),
      window({ id: 'early', source: 'device_reported' }),
      window({ id: 'before', startsAt: new Date('2026-11-23T08:00:00Z'), endsAt: new Date('2026-11-23T09:00:00Z') }),
    ];
    expect(coveringWindows(windows, 'CAM-1', new Date('2026-11-23T12:00:00Z')).map((w) => w.id)).toEqual(['early', 'late']);
  });
});
