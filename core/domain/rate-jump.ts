/**
 * Poisson CUSUM on a device's hourly capture counts. With in-control rate λ0 (the device's own
 * history) and the rate worth detecting λ1 = ratio·λ0, each hour adds the log-likelihood ratio
 * of its count, x·ln(λ1/λ0) − (λ1 − λ0), to a running sum floored at zero; an alarm sounds when
 * the sum exceeds h. The sum only grows while counts look more like λ1 than λ0, so a sustained
 * rise is caught within a few hours while an ordinary busy hour decays away. h sets the
 * in-control average run length (hours between false alarms): see docs/device-health.md.
 */
export interface CusumParameters {
  baselinePerHour: number;
  /** The rise to detect, as a multiple of the baseline (e.g. 3 for "three times as many"). */
  ratio: number;
  threshold: number;
}

export interface CusumResult {
  /** Index of the first hour at which the sum exceeded the threshold, or null. */
  alarmAt: number | null;
  /** Index where the rise most likely began: the last hour the sum stood at zero before the alarm, plus one. */
  changeAt: number | null;
  statistic: number[];
}

export function poissonCusum(hourlyCounts: readonly number[], parameters: CusumParameters): CusumResult {
  const { baselinePerHour: lambda0, ratio, threshold } = parameters;
  if (!(lambda0 > 0) || !(ratio > 1) || !(threshold > 0)) throw new RangeError('CUSUM needs baseline > 0, ratio > 1, threshold > 0');
  const lambda1 = ratio * lambda0;
  const weight = Math.log(lambda1 / lambda0);
  const drift = lambda1 - lambda0;
  const statistic: number[] = [];
  let sum = 0;
  let lastZero = -1;
  for (const [hour, count] of hourlyCounts.entries()) {
    sum = Math.max(0, sum + count * weight - drift);
    statistic.push(sum);
    if (sum === 0) lastZero = hour;
    if (sum > threshold) return { alarmAt: hour, changeAt: lastZero + 1, statistic };
  }
  return { alarmAt: null, changeAt: null, statistic };
}

/**
 * In-control average run length of the CUSUM above, by simulation with a seeded generator:
 * the expected number of hours until a false alarm when the rate really is the baseline.
 */
export function averageRunLength(parameters: CusumParameters, options: { runs?: number; maxHours?: number; seed?: number } = {}): number {
  const runs = options.runs ?? 400;
  const maxHours = options.maxHours ?? 1_000_000;
  let state = options.seed ?? 12345;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  const poisson = (mean: number) => {
    const limit = Math.exp(-mean);
    let product = uniform();
    let count = 0;
    while (product > limit) {
      product *= uniform();
      count++;
    }
    return count;
  };
  const lambda1 = parameters.ratio * parameters.baselinePerHour;
  const weight = Math.log(parameters.ratio);
  const drift = lambda1 - parameters.baselinePerHour;
  let total = 0;
  for (let run = 0; run < runs; run++) {
    let sum = 0;
    let hour = 0;
    while (hour < maxHours) {
      hour++;
      sum = Math.max(0, sum + poisson(parameters.baselinePerHour) * weight - drift);
      if (sum > parameters.threshold) break;
    }
    total += hour;
  }
  return total / runs;
}
