import { describe, expect, it } from 'vitest';
import { systemClock, TestClock } from './clock.js';

describe('clocks', () => {
  it('a test clock stands still until moved, and only moves forwards', () => {
    const clock = new TestClock(new Date('2026-01-01T00:00:00.000Z'));
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(clock.advance(30 * 24 * 3600 * 1000).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(() => clock.advance(-1)).toThrow(/forwards/);
  });

  it('hands out a new Date each time, so a caller changing one cannot move the clock', () => {
    const clock = new TestClock(new Date('2026-01-01T00:00:00.000Z'));
    clock.now().setFullYear(2030);
    expect(clock.now().getUTCFullYear()).toBe(2026);
    expect(Math.abs(systemClock.now().getTime() - Date.now())).toBeLessThan(1000);
  });
});
