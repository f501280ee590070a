import jstat from 'jstat';

/**
 * The few distributions the analytics need, on jstat's incomplete beta and gamma functions
 * (which agree with direct summation to nine digits over the ranges used here). Counts are
 * Poisson, or negative binomial with mean μ and variance μ + kμ² (k: overdispersion).
 */
const { jStat } = jstat;

/** Below this the negative binomial is numerically a Poisson (1/k would overflow the beta function's accuracy). */
const POISSON_DISPERSION = 1e-9;

/** P(X ≥ x) for X ~ Poisson(mean). */
export function poissonUpperTail(x: number, mean: number): number {
  if (x <= 0) return 1;
  if (mean <= 0) return 0;
  return clampProbability(jStat.lowRegGamma(x, mean));
}

/** P(X ≤ x) for X ~ Poisson(mean). */
export function poissonLowerTail(x: number, mean: number): number {
  if (x < 0) return 0;
  if (mean <= 0) return 1;
  return clampProbability(1 - jStat.lowRegGamma(x + 1, mean));
}

/** Two-sided exact Poisson test: twice the smaller tail, at most 1. */
export function poissonTwoSided(x: number, mean: number): number {
  return Math.min(1, 2 * Math.min(poissonUpperTail(x, mean), poissonLowerTail(x, mean)));
}

/** P(X ≥ x) for X negative binomial with the given mean and overdispersion k (Var = μ + kμ²). */
export function negativeBinomialUpperTail(x: number, mean: number, dispersion: number): number {
  if (dispersion < POISSON_DISPERSION) return poissonUpperTail(x, mean);
  if (x <= 0) return 1;
  if (mean <= 0) return 0;
  const size = 1 / dispersion;
  // P(X ≥ x) = I_{1−p}(x, r) with r = 1/k and p = r / (r + μ).
  return clampProbability(jStat.ibeta(mean / (size + mean), x, size));
}

/**
 * P(X ≥ x) for X Poisson with a lognormal mean μ·exp(σZ − σ²/2), σ² = ln(1 + k): the negative
 * binomial's mean μ and variance μ + kμ², but a heavier upper tail. Site effects are not
 * known to be gamma; taking the larger of the two tails keeps a flag valid whichever of the
 * two shapes the sites follow. The Poisson tail P(X ≥ x | Z) climbs from 0 to 1 within about
 * 1/(σ√x) of z₀, where the mean reaches x: Simpson's rule covers that stretch, and above it
 * the tail is 1 and the normal's tail is exact.
 */
export function poissonLognormalUpperTail(x: number, mean: number, dispersion: number): number {
  if (dispersion < POISSON_DISPERSION) return poissonUpperTail(x, mean);
  if (x <= 0) return 1;
  if (mean <= 0) return 0;
  const sigma = Math.sqrt(Math.log1p(dispersion));
  const z0 = (Math.log(x / mean) + (sigma * sigma) / 2) / sigma;
  const width = TRANSITION_SDS / (sigma * Math.sqrt(x));
  const from = Math.max(-LOGNORMAL_Z_RANGE, z0 - width);
  const to = Math.min(LOGNORMAL_Z_RANGE, z0 + width);
  const above = to < LOGNORMAL_Z_RANGE ? 1 - jStat.normal.cdf(to, 0, 1) : 0;
  if (!(to > from)) return clampProbability(above);
  const h = (to - from) / SIMPSON_INTERVALS;
  let total = 0;
  for (let i = 0; i <= SIMPSON_INTERVALS; i++) {
    const z = from + i * h;
    const weight = i === 0 || i === SIMPSON_INTERVALS ? 1 : i % 2 === 1 ? 4 : 2;
    total += weight * Math.exp(-0.5 * z * z) * poissonUpperTail(x, mean * Math.exp(sigma * z - (sigma * sigma) / 2));
  }
  return clampProbability((total * h) / 3 / Math.sqrt(2 * Math.PI) + above);
}

/** Beyond ±8 standard deviations the normal density is below 1e-14: nothing a flag could notice. */
const LOGNORMAL_Z_RANGE = 8;
/** Poisson standard deviations (on the log scale, 1/√x each) either side of z₀ where the Poisson tail is not yet 0 or already 1. */
const TRANSITION_SDS = 12;
const SIMPSON_INTERVALS = 400;

/** Two-sided negative binomial test: twice the smaller tail, at most 1. */
export function negativeBinomialTwoSided(x: number, mean: number, dispersion: number): number {
  const upper = negativeBinomialUpperTail(x, mean, dispersion);
  const lower = 1 - negativeBinomialUpperTail(x + 1, mean, dispersion);
  return Math.min(1, 2 * Math.min(upper, Math.max(0, lower)));
}

/** P(X ≥ x) for X ~ Binomial(n, p). */
export function binomialUpperTail(x: number, n: number, p: number): number {
  if (x <= 0) return 1;
  if (x > n || p <= 0) return 0;
  if (p >= 1) return 1;
  return clampProbability(jStat.ibeta(p, x, n - x + 1));
}

/** Quantile of the gamma distribution with the given shape and scale. */
export function gammaQuantile(probability: number, shape: number, scale: number): number {
  return jStat.gamma.inv(probability, shape, scale);
}

/** Quantile of the beta distribution. */
export function betaQuantile(probability: number, alpha: number, beta: number): number {
  return jStat.beta.inv(probability, alpha, beta);
}

/** Quantile of the standard normal distribution. */
export function normalQuantile(probability: number): number {
  return jStat.normal.inv(probability, 0, 1);
}

/**
 * Exact (Garwood) two-sided interval for a Poisson mean, given the observed count: the
 * gamma quantiles that are the chi-square limits halved.
 */
export function poissonMeanInterval(observed: number, confidence: number): [number, number] {
  const alpha = 1 - confidence;
  const low = observed === 0 ? 0 : gammaQuantile(alpha / 2, observed, 1);
  return [low, gammaQuantile(1 - alpha / 2, observed + 1, 1)];
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values), in the order given: a test is significant
 * at false discovery rate q when its adjusted value is at most q.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const entry = order[rank - 1]!;
    running = Math.min(running, (entry.p * m) / rank);
    adjusted[entry.index] = running;
  }
  return adjusted;
}

function clampProbability(value: number): number {
  if (Number.isNaN(value)) throw new RangeError('probability computation did not converge');
  return Math.min(1, Math.max(0, value));
}
