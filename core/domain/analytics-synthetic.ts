/**
 * Seeded random counts for the analytics' tests and benchmark, where the planted hotspots
 * and faults must be known and every run must see the same data.
 */
export interface Random {
  uniform(): number;
  poisson(mean: number): number;
  /** Negative binomial with the given mean and overdispersion k (Var = μ + kμ²), as a gamma–Poisson mixture. */
  negativeBinomial(mean: number, dispersion: number): number;
  gamma(shape: number): number;
}

/** A small, fast generator (mulberry32) with Poisson, gamma and negative binomial draws. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  // Marsaglia–Tsang; a shape below one is boosted by one and scaled back with U^(1/shape).
  const gamma = (shape: number): number => {
    if (shape < 1) return gamma(shape + 1) * uniform() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v > 0 && Math.log(uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const poisson = (mean: number): number => {
    if (mean <= 0) return 0;
    // Knuth's product method is exact but slow for large means, where the normal approximation is indistinguishable.
    if (mean > 500) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
    const limit = Math.exp(-mean);
    let product = uniform();
    let count = 0;
    while (product > limit) {
      product *= uniform();
      count++;
    }
    return count;
  };
  return {
    uniform,
    gamma,
    poisson,
    negativeBinomial: (mean, dispersion) => (dispersion > 0 ? poisson(mean * dispersion * gamma(1 / dispersion)) : poisson(mean)),
  };
}
