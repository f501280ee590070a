import {
  benjaminiHochberg,
  betaQuantile,
  gammaQuantile,
  negativeBinomialUpperTail,
  poissonLognormalUpperTail,
} from './analytics-distributions.js';
import { dayProfile, type SpikeDay } from './analytics-spikes.js';

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
  /** Counts per day of the period from the day the site was first watched, summing to `observed`: for the spike test. */
  daily: readonly number[];
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

/** A hotspot is flagged on its sustained count; a spike site has spike days and is not flagged; the rest are ordinary. */
export type SiteCategory = 'hotspot' | 'spike' | 'ordinary';

export interface SiteScreening {
  siteId: string;
  violationType: string;
  rank: number;
  category: SiteCategory;
  referenceGroup: string;
  observed: number;
  /** `observed` with each spike day counted as the site's ordinary day: what the test, EB and rank use. */
  sustained: number;
  spikeDays: SpikeDay[];
  exposureDays: number;
  predicted: number;
  /** k of the reference (ordinary) sites, for the test. */
  dispersion: number;
  /** k of every site of the violation type, hotspots included, for the EB prior. */
  priorDispersion: number;
  /** Variance-to-mean ratio of the site's days (at least 1), widening its EB interval beyond Poisson. */
  dispersionIndex: number;
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
    // The same tail as the flag's: with the negative binomial's alone, ordinary sites in a
    // heavier (lognormal) upper tail were set aside too, and k, estimated without them, fell.
    const threshold = alpha / (members.length - step + 1);
    const pValue = siteTail(member.observed, mean, pooledDispersion(members, active, rateOf), threshold);
    if (pValue <= threshold) outlierCount = step;
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
 * w = 1 / (1 + k·predicted/φ), predicted being the count over the whole period. The site's
 * ratio to its prediction has the gamma prior Gamma(1/k, 1/k); its count, divided by its
 * days' variance-to-mean ratio φ (quasi-Poisson), is Poisson given that ratio, so the
 * posterior is Gamma(1/k + N/φ, 1/k + μ/φ), whose mean is EB/μ and whose quantiles give the
 * interval. With φ = 1 this is the HSM's weight and Hauer's gamma posterior.
 */
export function empiricalBayes(
  observed: number,
  predicted: number,
  dispersion: number,
  dispersionIndex = 1,
): { weight: number; expected: number; interval: [number, number]; variance: number } {
  if (!(dispersionIndex >= 1)) throw new RangeError(`dispersion index must be at least 1, got ${dispersionIndex}`);
  if (predicted <= 0 || dispersion <= 0) return { weight: 1, expected: predicted, interval: [predicted, predicted], variance: 0 };
  const weight = 1 / (1 + (dispersion * predicted) / dispersionIndex);
  const expected = weight * predicted + (1 - weight) * observed;
  const shape = 1 / dispersion + observed / dispersionIndex;
  const scale = predicted / (1 / dispersion + predicted / dispersionIndex);
  const tail = (1 - CONFIDENCE) / 2;
  return {
    weight,
    expected,
    interval: [gammaQuantile(tail, shape, scale), gammaQuantile(1 - tail, shape, scale)],
    // The posterior variance; with φ = 1 the HSM's Var(EB) = (1 − w)·EB.
    variance: shape * scale * scale,
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

/**
 * Screens every site against its reference group, adjusts for testing them all at once, and
 * ranks: flagged sites first, each part by the lower end of the EB interval over the
 * prediction (how many times its group's rate the site at least has), then by excess.
 */
export function screenSites(sites: readonly SiteInput[], settings: ScreeningSettings): SiteScreening[] {
  const membersOf = new Map<string, number[]>();
  sites.forEach((site, index) => {
    if (site.daily.reduce((sum, count) => sum + count, 0) !== site.observed)
      throw new RangeError(`site ${site.siteId} (${site.violationType}): daily counts do not sum to observed`);
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
  const byType = new Map<string, number[]>();
  sites.forEach((site, index) => {
    const indexes = byType.get(site.violationType) ?? [];
    indexes.push(index);
    byType.set(site.violationType, indexes);
  });
  // A spike day must be improbable after correcting for every site-day of its type (Bonferroni).
  const profiles = sites.map((site) => {
    const siteDays = sum((byType.get(site.violationType) ?? []).map((index) => sites[index]!.daily.length));
    return dayProfile(site.daily, settings.fdr / Math.max(1, siteDays), settings.minCount);
  });
  const fits: MemberFit[] = [];
  const priors = new Map<string, number>();
  for (const [type, indexes] of byType) {
    const members = indexes.map((index) => ({
      observed: profiles[index]!.sustained,
      exposureDays: sites[index]!.exposureDays,
      group: chosen[index]!,
      keys: sites[index]!.groups,
    }));
    const fit = fitReferenceGroups(members, settings.fdr);
    indexes.forEach((index, position) => (fits[index] = fit.members[position]!));
    priors.set(
      type,
      priorDispersion(
        members.map((member, position) => ({
          observed: member.observed,
          predicted: fit.members[position]!.ratePerDay * member.exposureDays,
          dispersionIndex: profiles[indexes[position]!]!.dispersionIndex,
          group: member.group,
        })),
      ),
    );
  }
  const screened = sites.map((site, index) => {
    const { ratePerDay, dispersion } = fits[index]!;
    const profile = profiles[index]!;
    const predicted = ratePerDay * site.exposureDays;
    const prior = priors.get(site.violationType)!;
    return {
      site,
      profile,
      referenceGroup: chosen[index]!,
      predicted,
      dispersion,
      prior,
      eb: empiricalBayes(profile.sustained, predicted, prior, profile.dispersionIndex),
      pValue: siteTail(profile.sustained, predicted, dispersion, settings.fdr),
    };
  });
  const qValues = benjaminiHochberg(screened.map((entry) => entry.pValue));
  const typeCount = new Map([...byType].map(([type, indexes]) => [type, indexes.length]));
  const results = screened.map((entry, index): SiteScreening => {
    const { site, profile } = entry;
    const qValue = qValues[index]!;
    // A dispersion estimated from a handful of sites swings too far to call anything improbable.
    const flagged =
      qValue <= settings.fdr &&
      profile.sustained >= settings.minCount &&
      (typeCount.get(site.violationType) ?? 0) >= settings.minGroupSites;
    return {
      siteId: site.siteId,
      violationType: site.violationType,
      rank: 0,
      category: flagged ? 'hotspot' : profile.spikeDays.length > 0 ? 'spike' : 'ordinary',
      referenceGroup: entry.referenceGroup,
      observed: site.observed,
      sustained: profile.sustained,
      spikeDays: profile.spikeDays,
      exposureDays: site.exposureDays,
      predicted: entry.predicted,
      dispersion: entry.dispersion,
      priorDispersion: entry.prior,
      dispersionIndex: profile.dispersionIndex,
      ebWeight: entry.eb.weight,
      ebExpected: entry.eb.expected,
      ebInterval: entry.eb.interval,
      excess: entry.eb.expected - entry.predicted,
      pValue: entry.pValue,
      qValue,
      flagged,
      trend: rateRatio(
        site.recent.observed,
        site.recent.exposureDays,
        site.observed - site.recent.observed,
        site.exposureDays - site.recent.exposureDays,
      ),
    };
  });
  const lowerRatio = (result: SiteScreening) => (result.predicted > 0 ? result.ebInterval[0] / result.predicted : 0);
  results.sort(
    (a, b) =>
      Number(b.flagged) - Number(a.flagged) ||
      lowerRatio(b) - lowerRatio(a) ||
      b.excess - a.excess ||
      a.pValue - b.pValue ||
      a.siteId.localeCompare(b.siteId),
  );
  results.forEach((result, index) => (result.rank = index + 1));
  return results;
}

/**
 * P(X ≥ N) under the reference sites' spread: the larger of the negative binomial tail and
 * the Poisson–lognormal tail with the same mean and variance, since which shape the site
 * effects have is not known and the lognormal's upper tail is the heavier. The second is
 * computed only where the first is at most `fdr`: above it the site cannot be flagged nor
 * change any flagged site's q-value, whichever tail is larger.
 */
export function siteTail(observed: number, predicted: number, dispersion: number, fdr: number): number {
  const tail = negativeBinomialUpperTail(observed, predicted, dispersion);
  return tail > fdr ? tail : Math.max(tail, poissonLognormalUpperTail(observed, predicted, dispersion));
}

/**
 * k of the EB prior: the spread of every site of the violation type around its prediction,
 * hotspots included, by the method of moments Σ[(N − μ)² − φμ] · n/(n − g) = k Σμ² (φ the
 * site's day-to-day variance-to-mean ratio). The prior says how far a site of this type may
 * lie from its group's rate; a k from ordinary sites alone says that hotspots do not exist
 * and would pull a real one most of the way back to its prediction.
 */
export function priorDispersion(
  members: readonly { observed: number; predicted: number; dispersionIndex: number; group: string }[],
): number {
  const n = members.length;
  const g = new Set(members.map((member) => member.group)).size;
  const meanSquares = sum(members.map((member) => member.predicted ** 2));
  if (n - g < 1 || meanSquares <= 0) return 0;
  const excess = sum(members.map((member) => (member.observed - member.predicted) ** 2 - member.dispersionIndex * member.predicted));
  return Math.max(0, (excess * n) / (n - g) / meanSquares);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
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
