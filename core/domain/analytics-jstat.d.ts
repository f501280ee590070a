// jstat ships no types; these are the few functions the analytics and the soak use, as its documentation states them.
declare module 'jstat' {
  interface JStat {
    /** Regularised incomplete beta function I_x(a, b). */
    ibeta(x: number, a: number, b: number): number;
    /** Regularised lower incomplete gamma function P(a, x). */
    lowRegGamma(a: number, x: number): number;
    /** ln Γ(x). */
    gammaln(x: number): number;
    gamma: { inv(p: number, shape: number, scale: number): number };
    beta: { inv(p: number, alpha: number, beta: number): number };
    normal: { inv(p: number, mean: number, sd: number): number; cdf(x: number, mean: number, sd: number): number };
    /** Ordinary least squares of `endog` on the rows of `exog` (include a column of ones for an intercept). */
    models: { ols(endog: number[], exog: number[][]): { coef: number[]; R2: number; t: { se: number[]; interval95: [number, number][] } } };
  }
  const jstat: { jStat: JStat };
  export default jstat;
}
