import { benjaminiHochberg, betaQuantile, gammaQuantile, negativeBinomialUpperTail } from './analytics-distributions.js';

/**
 * Empirical Bayes network screening, after the Highway Safety Manual: a site's count is
 * compared with what comparable sites predict for the same exposure, shrunk towards that
 * prediction in proportion to how noisy the count is, and flagged when it is improbably high
 * under the comparable sites' negative binomial spread. docs/analytics.md states the method.
 */

/** One site (an H3 cell or a device) and violation type over the screening period. */
export interface SiteInput {
  siteId: string;
  violationType: string;
  /**
   * Reference group keys, most specific first (e.g. type+kind+road, type+kind, type): the
   * site is compared with the first group that has enough sites.
   */
  groups: readonly string[];
  observed: number;
  /** Device-days the site was watched in the period. */
  exposureDays: number;
  /** The trend window at the period's end; the rest of the period is the baseline. */
  recent: { observed: number; exposureDays: number };
}

export interface ScreeningSettings {
  /** Benjamini–Hochberg false discovery rate for flagging. */
  fdr: number;
  /** No site with fewer events is flagged, however improbable its count. */
  minCount: number;
  /** The smallest reference group worth estimating a rate from; a violation type with fewer sites is ranked but never flagged. */
  minGroupSites: number;
}

export interface Trend {
  recentPerDay: number;
  baselinePerDay: number;
  /** Recent rate over baseline rate; null when the baseline had no events. */
  rateRatio: number | null;
  /** 95% interval of the ratio; the upper end is null when it is unbounded. */
  interval: [number, number | null];
}

export interface SiteScreening {
  siteId: string;
  violationType: string;
  rank: number;
  referenceGroup: string;
  observed: number;
  exposureDays: number;
  predicted: number;
  dispersion: number;
  ebWeight: number;
  ebExpected: number;
  ebInterval: [number, number];
  excess: number;
  pValue: number;
  qValue: number;
  flagged: boolean;
  trend: Trend | null;
}

export interface MemberFit {
  /** Events per device-day of the site's reference group, without the site and without the outliers. */
  ratePerDay: number;
  /** Negative binomial overdispersion k (Var = μ + kμ²) around the groups' rates, by the method of moments. */
  dispersion: number;
}

export interface ReferenceMember {
  observed: number;
  exposureDays: number;
  /** The reference group whose rate predicts this site. */
  group: string;
  /** Every group this site belongs to, so broader groups' rates count it too (includes `group`). */
  keys: readonly string[];
}

export interface ReferenceFit {
  /** The fit each member is judged by, computed without that member and without the outliers. */
  members: MemberFit[];
  /** Sites left out of every fit as outliers, by index into the members given. */
  outliers: number[];
}

const CONFIDENCE = 0.95;
/** The outlier search looks at up to this share of the sites (at least MIN_OUTLIER_STEPS): hotspots are few, and each step costs a pass over all sites. */
const MAX_OUTLIER_SHARE = 0.1;
const MIN_OUTLIER_STEPS = 10;

/**
 * Rates of the reference groups and one overdispersion k for all of them: one violation type
 * across roads and kinds of device, as a negative binomial safety performance function with
 * those as covariates has a single k. Pooling gives k from hundreds of sites rather than the
 * few dozen of one road, whose estimate would swing enough to flag ordinary sites.
 *
 * Each member is judged without itself, so a site never predicts itself. Hotspots inflate
 * rates and k, and several together hide each other behind the spread they cause, so
 * outliers are found first with the generalized extreme studentized deviate procedure
 * (Rosner 1983) on negative binomial tails: the most extreme site is set aside and the fit
 * repeated, for up to a tenth of the sites (at least 10, at most half); the outliers are the first r set aside, r the last step
 * whose site was improbable at α / (n − i + 1) against the sites still in. The reference is
 * then what ordinary sites do, as the HSM calibrates on reference sites.
 */
export function fitReferenceGroups(members: readonly ReferenceMember[], alpha: number): ReferenceFit {
  const sums = new Map<string, { events: number; exposure: number }>();
  const move = (member: ReferenceMember, sign: 1 | -1) => {
    for (const key of member.keys) {
      const entry = sums.get(key) ?? { events: 0, exposure: 0 };
      entry.events += sign * member.observed;
      entry.exposure += sign * member.exposureDays;
      sums.set(key, entry);
    }
  };
  const rateOf = (key: string) => {
    const entry = sums.get(key);
    return entry && entry.exposure > 0 ? entry.events / entry.exposure : 0;
  };
  members.forEach((member) => move(member, 1));
  const active = members.map(() => true);
  const order: number[] = [];
  let outlierCount = 0;
  const groups = new Set(members.map((member) => member.group)).size;
  const maxOutliers = Math.min(Math.floor(members.length / 2), Math.max(MIN_OUTLIER_STEPS, Math.ceil(members.length * MAX_OUTLIER_SHARE)));
  for (let step = 1; step <= maxOutliers && members.length - step >= groups + 2; step++) {
    const dispersion = pooledDispersion(members, active, rateOf);
    let candidate = -1;
    let largest = Number.NEGATIVE_INFINITY;
    members.forEach((member, index) => {
      if (!active[index]) return;
      const mean = rateOf(member.group) * member.exposureDays;
      const residual = (member.observed - mean) / Math.sqrt(Math.max(mean + dispersion * mean * mean, Number.MIN_VALUE));
      if (residual > largest) {
        largest = residual;
        candidate = index;
      }
    });
    const member = members[candidate]!;
    move(member, -1);
    active[candidate] = false;
    order.push(candidate);
    const mean = rateOf(member.group) * member.exposureDays;
    const pValue = negativeBinomialUpperTail(member.observed, mean, pooledDispersion(members, active, rateOf));
    if (pValue <= alpha / (members.length - step + 1)) outlierCount = step;
  }
  // Back to all sites but the outliers.
  for (const index of order.slice(outlierCount)) {
    move(members[index]!, 1);
    active[index] = true;
  }
  const all = moments(members, active, rateOf);
  const fits = members.map((member, index): MemberFit => {
    if (!active[index]) return { ratePerDay: rateOf(member.group), dispersion: dispersionOf(all) };
    // The member's own terms leave k's sums; the slight shift its absence gives its group's
    // rate is left out, which keeps this linear in the number of sites.
    const mean = rateOf(member.group) * member.exposureDays;
    const without = {
      ...all,
      squares: all.squares - (member.observed - mean) ** 2,
      means: all.means - mean,
      meanSquares: all.meanSquares - mean * mean,
      count: all.count - 1,
    };
    move(member, -1);
    const ratePerDay = rateOf(member.group);
    move(member, 1);
    return { ratePerDay, dispersion: dispersionOf(without) };
  });
  return { members: fits, outliers: order.slice(0, outlierCount).sort((a, b) => a - b) };
}

interface Moments {
  squares: number;
  means: number;
  meanSquares: number;
  count: number;
  groups: number;
}

function moments(members: readonly ReferenceMember[], active: readonly boolean[], rateOf: (key: string) => number): Moments {
  const totals = { squares: 0, means: 0, meanSquares: 0, count: 0 };
  const groups = new Set<string>();
  members.forEach((member, index) => {
    if (!active[index]) return;
    const mean = rateOf(member.group) * member.exposureDays;
    totals.squares += (member.observed - mean) ** 2;
    totals.means += mean;
    totals.meanSquares += mean * mean;
    totals.count++;
    groups.add(member.group);
  });
  return { ...totals, groups: groups.size };
}

/** Method-of-moments k around the groups' rates: Σ(N − μ)² = Σμ + kΣμ². */
function dispersionOf(m: Moments): number {
  if (m.count - m.groups < 1 || m.meanSquares <= 0) return 0;
  // n/(n − g) undoes the spread lost to estimating g rates from the same sites.
  return Math.max(0, ((m.squares * m.count) / (m.count - m.groups) - m.means) / m.meanSquares);
}

function pooledDispersion(members: readonly ReferenceMember[], active: readonly boolean[], rateOf: (key: string) => number): number {
  return dispersionOf(moments(members, active, rateOf));
}

/**
 * The Empirical Bayes estimate of a site's expected count: w·predicted + (1 − w)·observed with
 * w = 1 / (1 + k·predicted), predicted being the count over the whole period. It is the mean
 * of the gamma posterior of the site's mean, Gamma(1/k + N, rate 1/(kμ) + 1), whose
 * quantiles give the interval.
 */
export function empiricalBayes(
  observed: number,
  predicted: number,
  dispersion: number,
): { weight: number; expected: number; interval: [number, number]; variance: number } {
  if (predicted <= 0 || dispersion <= 0) return { weight: 1, expected: predicted, interval: [predicted, predicted], variance: 0 };
  const weight = 1 / (1 + dispersion * predicted);
  const expected = weight * predicted + (1 - weight) * observed;
  const shape = 1 / dispersion + observed;
  const scale = 1 / (1 / (dispersion * predicted) + 1);
  const tail = (1 - CONFIDENCE) / 2;
  return {
    weight,
    expected,
    interval: [gammaQuantile(tail, shape, scale), gammaQuantile(1 - tail, shape, scale)],
    // Var = (1 − w)·EB: the HSM's variance of the EB estimate, the posterior variance above.
    variance: (1 - weight) * expected,
  };
}

/**
 * Ratio of two Poisson rates with an exact interval: given a + b events, a is binomial with
 * p = R·ea / (R·ea + eb), so the Clopper–Pearson interval of p maps onto R.
 */
export function rateRatio(a: number, exposureA: number, b: number, exposureB: number): Trend | null {
  if (exposureA <= 0 || exposureB <= 0) return null;
  const tail = (1 - CONFIDENCE) / 2;
  const toRatio = (p: number) => (p / (1 - p)) * (exposureB / exposureA);
  const low = a === 0 ? 0 : toRatio(betaQuantile(tail, a, b + 1));
  const high = b === 0 ? null : toRatio(betaQuantile(1 - tail, a + 1, b));
  return {
    recentPerDay: a / exposureA,
    baselinePerDay: b / exposureB,
    rateRatio: b === 0 ? null : a / exposureA / (b / exposureB),
    interval: [low, high],
  };
}

/** Screens every site against its reference group, adjusts for testing them all at once, and ranks by excess. */
export function screenSites(sites: readonly SiteInput[], settings: ScreeningSettings): SiteScreening[] {
  const membersOf = new Map<string, number[]>();
  sites.forEach((site, index) => {
    for (const group of site.groups) {
      const members = membersOf.get(group) ?? [];
      members.push(index);
      membersOf.set(group, members);
    }
  });
  const chosen = sites.map((site) => {
    const group = site.groups.find((key) => (membersOf.get(key)?.length ?? 0) >= settings.minGroupSites) ?? site.groups.at(-1);
    if (group === undefined) throw new RangeError(`site ${site.siteId} has no reference group`);
    return group;
  });
  const fits: MemberFit[] = [];
  const byType = new Map<string, number[]>();
  sites.forEach((site, index) => {
    const indexes = byType.get(site.violationType) ?? [];
    indexes.push(index);
    byType.set(site.violationType, indexes);
  });
  for (const indexes of byType.values()) {
    const fit = fitReferenceGroups(
      indexes.map((index) => ({ ...sites[index]!, group: chosen[index]!, keys: sites[index]!.groups })),
      settings.fdr,
    );
    indexes.forEach((index, position) => (fits[index] = fit.members[position]!));
  }
  const screened = sites.map((site, index) => {
    const { ratePerDay, dispersion } = fits[index]!;
    const predicted = ratePerDay * site.exposureDays;
    return {
      site,
      referenceGroup: chosen[index]!,
      predicted,
      dispersion,
      eb: empiricalBayes(site.observed, predicted, dispersion),
      pValue: negativeBinomialUpperTail(site.observed, predicted, dispersion),
    };
  });
  const qValues = benjaminiHochberg(screened.map((entry) => entry.pValue));
  const typeCount = new Map([...byType].map(([type, indexes]) => [type, indexes.length]));
  const results = screened.map((entry, index): SiteScreening => {
    const { site } = entry;
    const qValue = qValues[index]!;
    return {
      siteId: site.siteId,
      violationType: site.violationType,
      rank: 0,
      referenceGroup: entry.referenceGroup,
      observed: site.observed,
      exposureDays: site.exposureDays,
      predicted: entry.predicted,
      dispersion: entry.dispersion,
      ebWeight: entry.eb.weight,
      ebExpected: entry.eb.expected,
      ebInterval: entry.eb.interval,
      excess: entry.eb.expected - entry.predicted,
      pValue: entry.pValue,
      qValue,
      // A dispersion estimated from a handful of sites swings too far to call anything improbable.
      flagged:
        qValue <= settings.fdr && site.observed >= settings.minCount && (typeCount.get(site.violationType) ?? 0) >= settings.minGroupSites,
      trend: rateRatio(
        site.recent.observed,
        site.recent.exposureDays,
        site.observed - site.recent.observed,
        site.exposureDays - site.recent.exposureDays,
      ),
    };
  });
  results.sort((a, b) => b.excess - a.excess || a.pValue - b.pValue || a.siteId.localeCompare(b.siteId));
  results.forEach((result, index) => (result.rank = index + 1));
  return results;
}

/**
 * Getis-Ord Gi* z-score of each cell with its neighbours (binary weights, the cell itself
 * included): how far the neighbourhood's sum lies above what the whole area's mean predicts.
 * Cells outside `values` are outside the study area and do not count. Null when the area has
 * fewer than three cells or no spread at all.
 */
export function getisOrdGiStar(
  values: ReadonlyMap<string, number>,
  neighbours: (cell: string) => Iterable<string>,
): Map<string, number | null> {
  const n = values.size;
  const all = [...values.values()];
  const mean = all.reduce((sum, value) => sum + value, 0) / n;
  const spread = Math.sqrt(all.reduce((sum, value) => sum + value * value, 0) / n - mean * mean);
  const scores = new Map<string, number | null>();
  for (const cell of values.keys()) {
    if (n < 3 || !(spread > 0)) {
      scores.set(cell, null);
      continue;
    }
    const around = new Set([cell, ...neighbours(cell)].filter((other) => values.has(other)));
    const weights = around.size;
    const local = [...around].reduce((sum, other) => sum + values.get(other)!, 0);
    const denominator = spread * Math.sqrt((n * weights - weights * weights) / (n - 1));
    scores.set(cell, denominator > 0 ? (local - mean * weights) / denominator : null);
  }
  return scores;
}
