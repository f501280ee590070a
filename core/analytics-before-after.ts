import { normalQuantile } from './analytics-distributions.js';
import { empiricalBayes } from './analytics-screening.js';

/**
 * Empirical Bayes before/after study (Hauer, "Observational Before-After Studies in Road
 * Safety"): did a remediation lower the count more than the site's regression to the mean
 * and the network's general trend would have anyway? docs/analytics.md gives the formulas.
 */
export interface BeforeAfterInput {
  /** The treated site before the action; `predicted` is its reference group's rate over the same days times its exposure. */
  before: { observed: number; exposureDays: number; predicted: number };
  after: { observed: number; exposureDays: number };
  /** The reference group's overdispersion k, as in screening. */
  dispersion: number;
  /** Comparable untreated sites over the same two periods, for the general trend. */
  comparison: { beforeCount: number; beforeExposureDays: number; afterCount: number; afterExposureDays: number };
}

export interface BeforeAfterResult {
  ebBefore: number;
  /** Expected after-period count had nothing been done: EB before × period ratio × comparison ratio. */
  expectedWithoutFix: number;
  expectedVariance: number;
  periodRatio: number;
  /** Change of the comparison sites' rate from before to after; 1 when they give no information. */
  comparisonRatio: number;
  /** Index of effectiveness: below 1 the count fell more than expected. */
  theta: number;
  standardError: number;
  interval: [number, number];
  /** The interval lies wholly below 1. */
  significantDrop: boolean;
  /** After rate over before rate, with no correction at all: what a naive comparison would claim. */
  naiveRatio: number | null;
}

const CONFIDENCE = 0.95;

/** The EB before/after estimate, or null when the site had nothing to reduce (no events expected before). */
export function beforeAfterStudy(input: BeforeAfterInput): BeforeAfterResult | null {
  const { before, after, comparison } = input;
  if (before.exposureDays <= 0 || after.exposureDays <= 0) return null;
  const eb = empiricalBayes(before.observed, before.predicted, input.dispersion);
  // With a zero prediction the EB estimate is the observed count, the only information there is.
  const ebBefore = before.predicted > 0 ? eb.expected : before.observed;
  if (ebBefore <= 0) return null;
  const periodRatio = after.exposureDays / before.exposureDays;
  const informative =
    comparison.beforeCount > 0 && comparison.afterCount > 0 && comparison.beforeExposureDays > 0 && comparison.afterExposureDays > 0;
  const comparisonRatio = informative
    ? comparison.afterCount / comparison.afterExposureDays / (comparison.beforeCount / comparison.beforeExposureDays)
    : 1;
  const expectedWithoutFix = ebBefore * periodRatio * comparisonRatio;
  // Relative variances add under the product (delta method); the comparison counts are Poisson.
  const relativeVariance = eb.variance / ebBefore ** 2 + (informative ? 1 / comparison.beforeCount + 1 / comparison.afterCount : 0);
  const expectedVariance = relativeVariance * expectedWithoutFix ** 2;
  const correction = 1 + relativeVariance;
  const theta = after.observed / expectedWithoutFix / correction;
  // Var(λ) = λ, floored at one event: an after period with no events would otherwise claim certainty.
  const afterVariance = Math.max(after.observed, 1);
  const variance = (afterVariance / (expectedWithoutFix ** 2 * correction ** 2) + theta ** 2 * relativeVariance) / correction ** 2;
  const standardError = Math.sqrt(variance);
  const z = normalQuantile(1 - (1 - CONFIDENCE) / 2);
  const interval: [number, number] = [Math.max(0, theta - z * standardError), theta + z * standardError];
  return {
    ebBefore,
    expectedWithoutFix,
    expectedVariance,
    periodRatio,
    comparisonRatio,
    theta,
    standardError,
    interval,
    significantDrop: interval[1] < 1,
    naiveRatio: before.observed > 0 ? after.observed / after.exposureDays / (before.observed / before.exposureDays) : null,
  };
}
