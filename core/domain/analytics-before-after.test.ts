import { describe, expect, it } from 'vitest';
import {
  beforeAfterDispersion,
  beforeAfterStudy,
  comparisonScatter,
  pooledBeforeAfter,
  type BeforeAfterInput,
} from './analytics-before-after.js';
import { seededRandom } from './analytics-synthetic.js';

const steadyComparison = { beforeCount: 36_500, beforeExposureDays: 36_500, afterCount: 36_500, afterExposureDays: 36_500 };

describe('beforeAfterStudy', () => {
  it('finds a halving significant at a busy site', () => {
    const result = beforeAfterStudy({
      before: { observed: 3650, exposureDays: 365, predicted: 365 },
      after: { observed: 1825, exposureDays: 365 },
      dispersion: 0.1,
      comparison: steadyComparison,
    })!;
    expect(result.theta).toBeCloseTo(0.5, 1);
    expect(result.interval[1]).toBeLessThan(1);
    expect(result.significantDrop).toBe(true);
    expect(result.naiveRatio).toBeCloseTo(0.5, 9);
  });

  it('calls no change no drop', () => {
    const result = beforeAfterStudy({
      before: { observed: 3650, exposureDays: 365, predicted: 365 },
      after: { observed: 3650, exposureDays: 365 },
      dispersion: 0.1,
      comparison: steadyComparison,
    })!;
    expect(result.interval[0]).toBeLessThan(1);
    expect(result.interval[1]).toBeGreaterThan(1);
    expect(result.significantDrop).toBe(false);
  });

  it('credits the fix only with the drop beyond regression to the mean', () => {
    // A site picked for an unlucky year (30 against 10 predicted) is expected to fall back towards 10 anyway.
    const input: BeforeAfterInput = {
      before: { observed: 30, exposureDays: 365, predicted: 10 },
      after: { observed: 18, exposureDays: 365 },
      dispersion: 0.1,
      comparison: steadyComparison,
    };
    const result = beforeAfterStudy(input)!;
    expect(result.naiveRatio).toBeCloseTo(0.6, 9);
    expect(result.ebBefore).toBeCloseTo(20, 9);
    expect(result.theta).toBeGreaterThan(result.naiveRatio!);
    expect(result.significantDrop).toBe(false);
  });

  it('discounts a drop the comparison sites had too', () => {
    const base = {
      before: { observed: 3650, exposureDays: 365, predicted: 3650 },
      after: { observed: 2920, exposureDays: 365 },
      dispersion: 0.05,
    };
    const alone = beforeAfterStudy({ ...base, comparison: steadyComparison })!;
    const everywhere = beforeAfterStudy({ ...base, comparison: { ...steadyComparison, afterCount: 29_200 } })!;
    expect(alone.significantDrop).toBe(true);
    expect(everywhere.comparisonRatio).toBeCloseTo(0.8, 9);
    expect(everywhere.theta).toBeCloseTo(1, 1);
    expect(everywhere.significantDrop).toBe(false);
  });

  it('scales by the lengths of the two periods', () => {
    const result = beforeAfterStudy({
      before: { observed: 3650, exposureDays: 365, predicted: 3650 },
      after: { observed: 900, exposureDays: 90 },
      dispersion: 0.01,
      comparison: steadyComparison,
    })!;
    expect(result.periodRatio).toBeCloseTo(90 / 365, 12);
    expect(result.expectedWithoutFix).toBeCloseTo(900, -1);
    expect(result.theta).toBeCloseTo(1, 1);
  });

  it('keeps an interval when nothing happened after the fix', () => {
    const result = beforeAfterStudy({
      before: { observed: 4, exposureDays: 365, predicted: 3 },
      after: { observed: 0, exposureDays: 100 },
      dispersion: 0.2,
      comparison: steadyComparison,
    })!;
    expect(result.theta).toBe(0);
    expect(result.interval[1]).toBeGreaterThan(1);
    expect(result.significantDrop).toBe(false);
  });

  it('ignores a comparison group without events', () => {
    const result = beforeAfterStudy({
      before: { observed: 100, exposureDays: 100, predicted: 100 },
      after: { observed: 100, exposureDays: 100 },
      dispersion: 0.1,
      comparison: { beforeCount: 0, beforeExposureDays: 0, afterCount: 0, afterExposureDays: 0 },
    })!;
    expect(result.comparisonRatio).toBe(1);
  });

  it('has nothing to say without exposure or without anything to reduce', () => {
    const comparison = steadyComparison;
    expect(
      beforeAfterStudy({
        before: { observed: 0, exposureDays: 100, predicted: 0 },
        after: { observed: 3, exposureDays: 10 },
        dispersion: 0.1,
        comparison,
      }),
    ).toBeNull();
    expect(
      beforeAfterStudy({
        before: { observed: 5, exposureDays: 100, predicted: 4 },
        after: { observed: 3, exposureDays: 0 },
        dispersion: 0.1,
        comparison,
      }),
    ).toBeNull();
  });

  it('rarely claims a drop where none happened (interval coverage)', () => {
    const random = seededRandom(11);
    let claims = 0;
    const trials = 400;
    for (let i = 0; i < trials; i++) {
      const mean = (200 * random.gamma(10)) / 10;
      const result = beforeAfterStudy({
        before: { observed: random.poisson(mean), exposureDays: 365, predicted: 200 },
        after: { observed: random.poisson(mean), exposureDays: 365 },
        dispersion: 0.1,
        comparison: steadyComparison,
      });
      if (result?.significantDrop) claims++;
    }
    // The upper bound of a two-sided 95% interval falls below the truth about 2.5% of the time.
    expect(claims / trials).toBeLessThan(0.05);
  });

  it('keeps a flagged hotspot at its level and regresses an unflagged site as ordinary sites do', () => {
    expect(beforeAfterDispersion({ flagged: true, dispersion: 0.002, priorDispersion: 0.3 })).toBe(0.3);
    expect(beforeAfterDispersion({ flagged: false, dispersion: 0.002, priorDispersion: 0.3 })).toBe(0.002);
    expect(beforeAfterDispersion({ flagged: true, dispersion: 0.002, priorDispersion: null })).toBe(0.002);
    // A hotspot at 1,932 against 1,000 predicted: with the ordinary sites' tiny k it would be pulled most of the way back.
    const hotspot = (dispersion: number) =>
      beforeAfterStudy({
        before: { observed: 1932, exposureDays: 365, predicted: 1000 },
        after: { observed: 1159, exposureDays: 365 },
        dispersion,
        comparison: steadyComparison,
      })!;
    expect(hotspot(0.3).ebBefore).toBeGreaterThan(1900);
    expect(hotspot(0.3).theta).toBeGreaterThan(0.55);
    expect(hotspot(0.3).theta).toBeLessThan(0.65);
    expect(hotspot(0.0005).ebBefore).toBeLessThan(1400);
  });

  it('pools one treatment over several sites', () => {
    const site = (before: number, after: number): BeforeAfterInput => ({
      before: { observed: before, exposureDays: 365, predicted: before },
      after: { observed: after, exposureDays: 365 },
      dispersion: 0.1,
      comparison: steadyComparison,
    });
    const pooled = pooledBeforeAfter([site(300, 180), site(200, 120), site(100, 60)])!;
    expect(pooled.sites).toBe(3);
    expect(pooled.theta).toBeCloseTo(0.6, 1);
    expect(pooled.significantDrop).toBe(true);
    // Each site alone is less certain than the three together.
    const alone = beforeAfterStudy(site(100, 60))!;
    expect(pooled.standardError).toBeLessThan(alone.standardError);
    expect(pooledBeforeAfter([])).toBeNull();
  });

  it('widens the trend by how much the comparison sites scatter beyond Poisson', () => {
    const even = Array.from({ length: 20 }, () => ({ beforeCount: 100, beforeExposureDays: 100, afterCount: 100, afterExposureDays: 100 }));
    expect(comparisonScatter(even)).toBe(1);
    const scattered = even.map((site, i) => ({ ...site, afterCount: i % 2 === 0 ? 50 : 150 }));
    expect(comparisonScatter(scattered)).toBeGreaterThan(10);
    const base = {
      before: { observed: 500, exposureDays: 365, predicted: 500 },
      after: { observed: 400, exposureDays: 365 },
      dispersion: 0.1,
    };
    const narrow = beforeAfterStudy({ ...base, comparison: { ...steadyComparison, beforeCount: 2000, afterCount: 2000 } })!;
    const wide = beforeAfterStudy({
      ...base,
      comparison: { ...steadyComparison, beforeCount: 2000, afterCount: 2000, dispersionIndex: 12 },
    })!;
    expect(wide.standardError).toBeGreaterThan(narrow.standardError);
  });
});
