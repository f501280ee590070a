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
  /** The smallest reference group worth estimating a rate and dispersion from. */
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
  /** Events per device-day among the other sites of the group that are not outliers. */
  ratePerDay: number;
  /** Negative binomial overdispersion k (Var = μ + kμ²) of those sites, by the method of moments. */
  dispersion: number;
}

export interface GroupFit {
  /** The fit each member is judged by: the group without that member and without the outliers. */
  members: MemberFit[];
  /** Sites left out of every fit as outliers, by index into the members given. */
  outliers: number[];
}

const MAX_FIT_ROUNDS = 10;
const CONFIDENCE = 0.95;

interface Sums {
  sites: number;
  events: number;
  exposure: number;
  eventsSquared: number;
  eventsTimesExposure: number;
  exposureSquared: number;
}

/**
 * Rate and dispersion of a reference group, for each member from the other members only, so
 * a site never predicts itself. Hotspots inflate both, which would hide them behind a wide
 * spread (one very high site can mask itself completely), so members significantly high
 * against the others (Benjamini–Hochberg at `fdr` within the group) are left out and the fit
 * repeated until that set stops changing: the reference is what ordinary sites do, as the
 * HSM calibrates on reference sites.
 */
export function fitReferenceGroup(members: readonly { observed: number; exposureDays: number }[], fdr: number): GroupFit {
  let outliers: number[] = [];
  let fits = leaveOneOut(members, new Set());
  for (let round = 0; round < MAX_FIT_ROUNDS; round++) {
    const pValues = members.map((site, index) =>
      negativeBinomialUpperTail(site.observed, fits[index]!.ratePerDay * site.exposureDays, fits[index]!.dispersion),
    );
    const next = benjaminiHochberg(pValues).flatMap((q, index) => (q <= fdr ? [index] : []));
    if (next.length === outliers.length && next.every((index, i) => index === outliers[i])) break;
    // Two ordinary sites are the least a spread can be measured from.
    if (members.length - next.length < 3) break;
    outliers = next;
    fits = leaveOneOut(members, new Set(outliers));
  }
  return { members: fits, outliers };
}

function leaveOneOut(members: readonly { observed: number; exposureDays: number }[], left: ReadonlySet<number>): MemberFit[] {
  const total: Sums = { sites: 0, events: 0, exposure: 0, eventsSquared: 0, eventsTimesExposure: 0, exposureSquared: 0 };
  members.forEach((site, index) => {
    if (!left.has(index)) add(total, site, 1);
  });
  return members.map((site, index) => {
    if (left.has(index)) return momentFit(total);
    const others = { ...total };
    add(others, site, -1);
    return momentFit(others);
  });
}

function add(sums: Sums, site: { observed: number; exposureDays: number }, sign: 1 | -1): void {
  sums.sites += sign;
  sums.events += sign * site.observed;
  sums.exposure += sign * site.exposureDays;
  sums.eventsSquared += sign * site.observed ** 2;
  sums.eventsTimesExposure += sign * site.observed * site.exposureDays;
  sums.exposureSquared += sign * site.exposureDays ** 2;
}

function momentFit(sums: Sums): MemberFit {
  const ratePerDay = sums.exposure > 0 ? sums.events / sums.exposure : 0;
  if (sums.sites < 2 || sums.events <= 0) return { ratePerDay, dispersion: 0 };
  // Σ(N − rE)² and Σ(rE)², expanded so a member can be taken out of the sums in constant time.
  const squares = sums.eventsSquared - 2 * ratePerDay * sums.eventsTimesExposure + ratePerDay ** 2 * sums.exposureSquared;
  const meanSquares = ratePerDay ** 2 * sums.exposureSquared;
  // E[(N − μ)²] = μ + kμ²; n/(n − 1) undoes the spread lost to estimating the rate from the same sites.
  const corrected = (squares * sums.sites) / (sums.sites - 1);
  return { ratePerDay, dispersion: Math.max(0, (corrected - sums.events) / meanSquares) };
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
  const fits = new Map<string, { positions: Map<number, number>; fit: GroupFit }>();
  for (const group of new Set(chosen)) {
    const indexes = membersOf.get(group) ?? [];
    fits.set(group, {
      positions: new Map(indexes.map((index, position) => [index, position])),
      fit: fitReferenceGroup(
        indexes.map((index) => sites[index]!),
        settings.fdr,
      ),
    });
  }
  const screened = sites.map((site, index) => {
    const referenceGroup = chosen[index]!;
    const { positions, fit } = fits.get(referenceGroup)!;
    const { ratePerDay, dispersion } = fit.members[positions.get(index)!]!;
    const predicted = ratePerDay * site.exposureDays;
    return {
      site,
      referenceGroup,
      predicted,
      dispersion,
      eb: empiricalBayes(site.observed, predicted, dispersion),
      pValue: negativeBinomialUpperTail(site.observed, predicted, dispersion),
    };
  });
  const qValues = benjaminiHochberg(screened.map((entry) => entry.pValue));
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
      flagged: qValue <= settings.fdr && site.observed >= settings.minCount,
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
