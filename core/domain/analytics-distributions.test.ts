import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  betaQuantile,
  binomialUpperTail,
  gammaQuantile,
  negativeBinomialUpperTail,
  normalQuantile,
  poissonLowerTail,
  poissonMeanInterval,
  poissonTwoSided,
  poissonUpperTail,
} from './analytics-distributions.js';

/** P(X ≥ x) by summing the negative binomial's probabilities in log space, the slow and obvious way. */
function summedNegativeBinomialTail(x: number, mean: number, dispersion: number): number {
  const size = 1 / dispersion;
  const p = size / (size + mean);
  let logPmf = size * Math.log(p);
  let below = 0;
  for (let j = 0; j < x; j++) {
    below += Math.exp(logPmf);
    logPmf += Math.log((j + size) / (j + 1)) + Math.log(1 - p);
  }
  return 1 - below;
}

function summedPoissonTail(x: number, mean: number): number {
  let term = Math.exp(-mean);
  let below = 0;
  for (let j = 0; j < x; j++) {
    below += term;
    term *= mean / (j + 1);
  }
  return 1 - below;
}

describe('poisson tails', () => {
  it.each([
    [1, 0.5],
    [3, 0.01],
    [10, 4],
    [50, 40],
    [5, 12],
  ])('P(X ≥ %i | mean %d) matches direct summation', (x, mean) => {
    expect(poissonUpperTail(x, mean)).toBeCloseTo(summedPoissonTail(x, mean), 10);
    expect(poissonLowerTail(x - 1, mean)).toBeCloseTo(1 - summedPoissonTail(x, mean), 10);
  });

  it('is certain at zero and impossible above zero with a zero mean', () => {
    expect(poissonUpperTail(0, 3)).toBe(1);
    expect(poissonUpperTail(1, 0)).toBe(0);
    expect(poissonLowerTail(-1, 3)).toBe(0);
    expect(poissonLowerTail(0, 0)).toBe(1);
  });

  it('gives a two-sided p-value of 1 at the mean and tiny far from it', () => {
    expect(poissonTwoSided(10, 10)).toBe(1);
    expect(poissonTwoSided(100, 10)).toBeLessThan(1e-30);
    expect(poissonTwoSided(0, 50)).toBeLessThan(1e-20);
  });
});

describe('negativeBinomialUpperTail', () => {
  it.each([
    [500, 110, 0.4],
    [30, 10, 0.2],
    [200, 100, 0.02],
    [3, 0.5, 0.5],
    [75_000, 50_000, 0.1],
  ])('P(X ≥ %i | mean %d, k %d) matches direct summation', (x, mean, k) => {
    expect(negativeBinomialUpperTail(x, mean, k)).toBeCloseTo(summedNegativeBinomialTail(x, mean, k), 8);
  });

  it('becomes the Poisson tail as the dispersion vanishes', () => {
    expect(negativeBinomialUpperTail(30, 20, 0)).toBe(poissonUpperTail(30, 20));
    expect(negativeBinomialUpperTail(30, 20, 1e-7)).toBeCloseTo(poissonUpperTail(30, 20), 5);
  });

  it('has a heavier tail than the Poisson with the same mean', () => {
    expect(negativeBinomialUpperTail(40, 20, 0.1)).toBeGreaterThan(poissonUpperTail(40, 20));
  });

  it('never leaves [0, 1] and falls as the count rises', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 0.01, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (x, mean, k) => {
          const here = negativeBinomialUpperTail(x, mean, k);
          const next = negativeBinomialUpperTail(x + 1, mean, k);
          return here >= 0 && here <= 1 && next <= here + 1e-12;
        },
      ),
    );
  });
});

describe('binomialUpperTail', () => {
  it('matches a hand computation', () => {
    // P(X ≥ 2 | n 3, p 0.5) = (3 + 1) / 8
    expect(binomialUpperTail(2, 3, 0.5)).toBeCloseTo(0.5, 12);
    expect(binomialUpperTail(0, 3, 0.5)).toBe(1);
    expect(binomialUpperTail(4, 3, 0.5)).toBe(0);
    expect(binomialUpperTail(3, 3, 1)).toBe(1);
  });
});

describe('quantiles', () => {
  it('agree with textbook values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(gammaQuantile(0.5, 1, 2)).toBeCloseTo(2 * Math.LN2, 6);
    expect(betaQuantile(0.5, 1, 1)).toBeCloseTo(0.5, 6);
  });

  it('give the Garwood interval for a Poisson mean', () => {
    expect(poissonMeanInterval(0, 0.95)[0]).toBe(0);
    expect(poissonMeanInterval(0, 0.95)[1]).toBeCloseTo(3.689, 3);
    const [low, high] = poissonMeanInterval(10, 0.95);
    expect(low).toBeCloseTo(4.795, 3);
    expect(high).toBeCloseTo(18.39, 2);
  });
});

describe('benjaminiHochberg', () => {
  it('adjusts the textbook example and keeps the input order', () => {
    const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
    expect(q.map((value) => Number(value.toFixed(4)))).toEqual([0.02, 0.04, 0.04, 0.02]);
  });

  it('returns nothing for no tests', () => {
    expect(benjaminiHochberg([])).toEqual([]);
  });

  it('never lowers a p-value, never passes 1, and keeps the p-values order', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 60 }), (pValues) => {
        const q = benjaminiHochberg(pValues);
        return pValues.every(
          (p, i) => q[i]! >= p - 1e-15 && q[i]! <= 1 && pValues.every((other, j) => !(p < other) || q[i]! <= q[j]! + 1e-15),
        );
      }),
    );
  });
});
