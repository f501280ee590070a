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
  /** k of the EB prior: the screening's, over every site of the type (the treated site included). */
  dispersion: number;
  /** The treated site's day-to-day variance-to-mean ratio (at least 1), as in screening; 1 when unknown. */
  dispersionIndex?: number;
  /**
   * Comparable untreated sites over the same two periods, for the general trend. Its
   * `dispersionIndex` (at least 1) is how much more the sites' after counts scatter around
   * their before counts × the common trend than Poisson counts would; it widens the trend's
   * variance accordingly.
   */
  comparison: { beforeCount: number; beforeExposureDays: number; afterCount: number; afterExposureDays: number; dispersionIndex?: number };
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
  /** The interval lies wholly above 1: the count rose more than expected. */
  significantRise: boolean;
  /** After rate over before rate, with no correction at all: what a naive comparison would claim. */
  naiveRatio: number | null;
}

const CONFIDENCE = 0.95;

/**
 * The k a before/after study shrinks the treated site's before count with. The screening's
 * verdict says which population the site belongs to: a flagged hotspot is shrunk with the
 * prior of every site of its type (hotspots included), so a real hotspot keeps its level; an
 * unflagged site with the reference (ordinary) sites' k, so a site picked for an unlucky
 * year is expected to fall back as far as ordinary sites do (regression to the mean).
 */
export function beforeAfterDispersion(result: { flagged: boolean; dispersion: number; priorDispersion: number | null }): number {
  return result.flagged ? (result.priorDispersion ?? result.dispersion) : result.dispersion;
}

/** The EB before/after estimate, or null when the site had nothing to reduce (no events expected before). */
export function beforeAfterStudy(input: BeforeAfterInput): BeforeAfterResult | null {
  const parts = studyParts(input);
  if (!parts) return null;
  const { before, after } = input;
  return {
    ...parts,
    ...effectiveness(after.observed, parts.afterVariance, parts.expectedWithoutFix, parts.expectedVariance),
    naiveRatio: before.observed > 0 ? after.observed / after.exposureDays / (before.observed / before.exposureDays) : null,
  };
}

export interface PooledBeforeAfter {
  sites: number;
  afterObserved: number;
  expectedWithoutFix: number;
  theta: number;
  standardError: number;
  interval: [number, number];
  significantDrop: boolean;
  significantRise: boolean;
  /** Σ after rates over Σ before rates, uncorrected. */
  naiveRatio: number | null;
}

/**
 * One treatment applied at several sites (Hauer ch. 6): the after counts and the expected
 * counts without the fix are summed over the sites, their variances too, and θ formed from
 * the sums, so one site's noise does not decide the verdict. Sites with nothing to reduce
 * are left out; null when none is left.
 */
export function pooledBeforeAfter(inputs: readonly BeforeAfterInput[]): PooledBeforeAfter | null {
  let afterObserved = 0;
  let afterVariance = 0;
  let expected = 0;
  let expectedVariance = 0;
  let sites = 0;
  let beforeRate = 0;
  let afterRate = 0;
  for (const input of inputs) {
    const parts = studyParts(input);
    if (!parts) continue;
    sites++;
    afterObserved += input.after.observed;
    afterVariance += parts.afterVariance;
    expected += parts.expectedWithoutFix;
    expectedVariance += parts.expectedVariance;
    beforeRate += input.before.observed / input.before.exposureDays;
    afterRate += input.after.observed / input.after.exposureDays;
  }
  if (sites === 0) return null;
  return {
    sites,
    afterObserved,
    expectedWithoutFix: expected,
    ...effectiveness(afterObserved, afterVariance, expected, expectedVariance),
    naiveRatio: beforeRate > 0 ? afterRate / beforeRate : null,
  };
}

function studyParts(input: BeforeAfterInput) {
  const { before, after, comparison } = input;
  if (before.exposureDays <= 0 || after.exposureDays <= 0) return null;
  const dispersionIndex = input.dispersionIndex ?? 1;
  const eb = empiricalBayes(before.observed, before.predicted, input.dispersion, dispersionIndex);
  // With a zero prediction the EB estimate is the observed count, the only information there is.
  const ebBefore = before.predicted > 0 ? eb.expected : before.observed;
  if (ebBefore <= 0) return null;
  const ebVariance = before.predicted > 0 ? eb.variance : dispersionIndex * before.observed;
  const periodRatio = after.exposureDays / before.exposureDays;
  const informative =
    comparison.beforeCount > 0 && comparison.afterCount > 0 && comparison.beforeExposureDays > 0 && comparison.afterExposureDays > 0;
  const comparisonRatio = informative
    ? comparison.afterCount / comparison.afterExposureDays / (comparison.beforeCount / comparison.beforeExposureDays)
    : 1;
  const expectedWithoutFix = ebBefore * periodRatio * comparisonRatio;
  // Relative variances add under the product (delta method); the comparison counts are
  // Poisson scaled by the comparison sites' own scatter.
  const comparisonScatter = Math.max(1, comparison.dispersionIndex ?? 1);
  const relativeVariance =
    ebVariance / ebBefore ** 2 + (informative ? comparisonScatter * (1 / comparison.beforeCount + 1 / comparison.afterCount) : 0);
  return {
    ebBefore,
    expectedWithoutFix,
    expectedVariance: relativeVariance * expectedWithoutFix ** 2,
    periodRatio,
    comparisonRatio,
    // Var(λ) = φ·λ, floored at one event: an after period with no events would otherwise claim certainty.
    afterVariance: dispersionIndex * Math.max(after.observed, 1),
  };
}

/** Hauer's unbiased θ = (λ/π)/(1 + Var(π)/π²) with its variance, and a normal 95% interval. */
function effectiveness(after: number, afterVariance: number, expected: number, expectedVariance: number) {
  const relative = expectedVariance / expected ** 2;
  const correction = 1 + relative;
  const theta = after / expected / correction;
  const variance = (afterVariance / (expected ** 2 * correction ** 2) + theta ** 2 * relative) / correction ** 2;
  const standardError = Math.sqrt(variance);
  const z = normalQuantile(1 - (1 - CONFIDENCE) / 2);
  const interval: [number, number] = [Math.max(0, theta - z * standardError), theta + z * standardError];
  return { theta, standardError, interval, significantDrop: interval[1] < 1, significantRise: interval[0] > 1 };
}

/**
 * How much more the comparison sites' after counts scatter than Poisson around what their
 * before counts and the common trend predict (Pearson χ²/(n − 1), at least 1). Sites differ
 * in how they change; a trend from sites that each went their own way is less certain than
 * their pooled counts suggest.
 */
export function comparisonScatter(
  sites: readonly { beforeCount: number; beforeExposureDays: number; afterCount: number; afterExposureDays: number }[],
): number {
  const used = sites.filter((site) => site.beforeExposureDays > 0 && site.afterExposureDays > 0);
  const before = used.reduce((sum, site) => sum + site.beforeCount, 0);
  const after = used.reduce((sum, site) => sum + site.afterCount, 0);
  const beforeDays = used.reduce((sum, site) => sum + site.beforeExposureDays, 0);
  const afterDays = used.reduce((sum, site) => sum + site.afterExposureDays, 0);
  if (used.length < 2 || before <= 0 || after <= 0) return 1;
  const ratio = after / afterDays / (before / beforeDays);
  let chi = 0;
  let terms = 0;
  for (const site of used) {
    const expected = (ratio * site.beforeCount * site.afterExposureDays) / site.beforeExposureDays;
    if (expected <= 0) continue;
    // The before count is noisy too: its Poisson variance, carried over, joins the after count's.
    const variance = expected + ((ratio * site.afterExposureDays) / site.beforeExposureDays) ** 2 * site.beforeCount;
    chi += (site.afterCount - expected) ** 2 / variance;
    terms++;
  }
  return terms < 2 ? 1 : Math.max(1, chi / (terms - 1));
}
