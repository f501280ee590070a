import { negativeBinomialUpperTail, poissonLognormalUpperTail } from './analytics-distributions.js';

/**
 * Separates a site's sustained level from a few extreme days. A site with one or two days of
 * hundreds of violations (an event, a convoy, a device glitch that review let through) has a
 * high yearly total without being a place where drivers regularly break the rule, and the
 * road works that fix a hotspot do nothing about it. Each site's days are tested against its
 * own ordinary day; days improbable even after correcting for every site-day screened are
 * spike days, reported with their dates, and counted as one of the site's ordinary days in
 * everything the hotspot screening estimates.
 */
export interface SpikeDay {
  /** Index into the site's daily counts. */
  index: number;
  observed: number;
  /** The site's ordinary day: the mean of its other days with the busiest left out. */
  expected: number;
  pValue: number;
}

export interface DayProfile {
  spikeDays: SpikeDay[];
  /** The site's total with each spike day replaced by its ordinary day (rounded to a count). */
  sustained: number;
  /**
   * Variance-to-mean ratio of the site's days without its spikes, at least 1: how much more a
   * year's total varies than a Poisson count with the same mean (weekdays, weather, events).
   */
  dispersionIndex: number;
}

/** The busiest days left out of a site's ordinary day, so that up to this many spikes cannot hide each other. */
export const SPIKE_DAYS_TRIMMED = 3;

/**
 * A site's spike days and sustained total. `alpha` is the per-day level (the caller divides
 * its error rate by the number of site-days screened); a day also needs `minCount` events,
 * as a flag does. The ordinary day's spread is the negative binomial fitted to the site's
 * other days by moments, and the day's p-value the larger of the negative binomial and
 * Poisson–lognormal tails, as for sites.
 */
export function dayProfile(daily: readonly number[], alpha: number, minCount: number): DayProfile {
  const total = daily.reduce((sum, count) => sum + count, 0);
  if (daily.length <= 2 * SPIKE_DAYS_TRIMMED) return { spikeDays: [], sustained: total, dispersionIndex: indexOf(daily) };
  const order = daily.map((count, index) => ({ count, index })).sort((a, b) => b.count - a.count || a.index - b.index);
  const rest = order.slice(SPIKE_DAYS_TRIMMED).map((day) => day.count);
  const mean = rest.reduce((sum, count) => sum + count, 0) / rest.length;
  const variance = rest.reduce((sum, count) => sum + (count - mean) ** 2, 0) / Math.max(1, rest.length - 1);
  const dispersion = mean > 0 ? Math.max(0, (variance - mean) / (mean * mean)) : 0;
  const spikeDays: SpikeDay[] = [];
  for (const day of order.slice(0, SPIKE_DAYS_TRIMMED)) {
    if (day.count < minCount) break;
    const pValue =
      mean > 0
        ? Math.max(negativeBinomialUpperTail(day.count, mean, dispersion), poissonLognormalUpperTail(day.count, mean, dispersion))
        : 0;
    // Days are taken busiest first: once one is ordinary, the quieter ones are too.
    if (pValue > alpha) break;
    spikeDays.push({ index: day.index, observed: day.count, expected: mean, pValue });
  }
  const spikes = new Set(spikeDays.map((day) => day.index));
  const kept = daily.filter((_, index) => !spikes.has(index));
  return {
    spikeDays: spikeDays.sort((a, b) => a.index - b.index),
    sustained: Math.round(total - spikeDays.reduce((sum, day) => sum + day.observed - day.expected, 0)),
    dispersionIndex: indexOf(kept),
  };
}

function indexOf(days: readonly number[]): number {
  if (days.length < 2) return 1;
  const mean = days.reduce((sum, count) => sum + count, 0) / days.length;
  if (mean <= 0) return 1;
  const variance = days.reduce((sum, count) => sum + (count - mean) ** 2, 0) / (days.length - 1);
  return Math.max(1, variance / mean);
}
