import { describe, expect, it } from 'vitest';
import { averageRunLength, poissonCusum } from './rate-jump.js';

describe('poissonCusum', () => {
  const parameters = { baselinePerHour: 4, ratio: 3, threshold: 12 };

  it('stays quiet on counts at the baseline', () => {
    const steady = [4, 5, 3, 4, 6, 2, 4, 5, 3, 4, 4, 5, 3, 4, 6, 2, 4, 5, 3, 4];
    expect(poissonCusum(steady, parameters).alarmAt).toBeNull();
  });

  it('forgets one busy hour', () => {
    expect(poissonCusum([4, 4, 14, 4, 4, 3, 4, 4, 5, 4], parameters).alarmAt).toBeNull();
  });

  it('alarms within a few hours of a tenfold rise and dates its start', () => {
    const counts = [4, 5, 3, 4, 4, 40, 42, 39, 41];
    const result = poissonCusum(counts, parameters);
    expect(result.alarmAt).toBe(5);
    expect(result.changeAt).toBe(5);
  });

  it('catches a sustained threefold rise that no single hour gives away', () => {
    const counts = [4, 4, 4, 4, 12, 11, 13, 12, 12, 12];
    const result = poissonCusum(counts, parameters);
    expect(result.alarmAt).not.toBeNull();
    expect(result.alarmAt!).toBeGreaterThanOrEqual(4);
    expect(result.changeAt).toBe(4);
  });

  it('refuses parameters that make no sense', () => {
    expect(() => poissonCusum([1], { baselinePerHour: 0, ratio: 3, threshold: 5 })).toThrow(RangeError);
    expect(() => poissonCusum([1], { baselinePerHour: 2, ratio: 1, threshold: 5 })).toThrow(RangeError);
  });
});

describe('averageRunLength', () => {
  it('grows with the threshold, so h buys a lower false-alarm rate', () => {
    const low = averageRunLength({ baselinePerHour: 4, ratio: 3, threshold: 4 }, { runs: 200 });
    const high = averageRunLength({ baselinePerHour: 4, ratio: 3, threshold: 8 }, { runs: 200 });
    expect(high).toBeGreaterThan(low * 3);
  });
});
