/**
 * Drift statistics on binned distributions: the training side is a dataset profile (histogram
 * counts on fixed edges, or top-value counts), the live side is counted on the same bins.
 */

/** Shares below this are raised to it, so that an empty bin does not make PSI infinite (the usual convention). */
const PSI_FLOOR = 1e-4;

function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => Math.max(PSI_FLOOR, total > 0 ? c / total : 0));
}

/**
 * Population stability index Σ (a − e)·ln(a / e) over bins. Rules of thumb: < 0.1 stable,
 * 0.1–0.25 moderate shift, > 0.25 major shift.
 */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length !== actual.length) throw new Error('psi needs the same bins on both sides');
  const e = shares(expected);
  const a = shares(actual);
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += (a[i]! - e[i]!) * Math.log(a[i]! / e[i]!);
  return sum;
}

export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Two-sample Kolmogorov–Smirnov on binned data: the largest gap between the two cumulative
 * distributions at the bin edges (a lower bound of the exact statistic), with the asymptotic
 * p-value for the effective sample size n·m/(n+m).
 */
export function binnedKs(expected: readonly number[], actual: readonly number[]): TestResult {
  if (expected.length !== actual.length) throw new Error('ks needs the same bins on both sides');
  const n = expected.reduce((a, b) => a + b, 0);
  const m = actual.reduce((a, b) => a + b, 0);
  if (n === 0 || m === 0) return { statistic: Number.NaN, pValue: Number.NaN };
  let ce = 0;
  let ca = 0;
  let d = 0;
  for (let i = 0; i < expected.length; i++) {
    ce += expected[i]!;
    ca += actual[i]!;
    d = Math.max(d, Math.abs(ce / n - ca / m));
  }
  const effective = (n * m) / (n + m);
  return { statistic: d, pValue: kolmogorovSurvival(d * Math.sqrt(effective)) };
}

/** P(K > x) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²x²). */
export function kolmogorovSurvival(x: number): number {
  if (x <= 0) return 1;
  if (x < 0.2) return 1; // the series converges slowly here and the value is 1 to 6 digits
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Pearson's chi-square test of the live counts against the training shares (goodness of fit),
 * over the bins the training side has; df = bins − 1.
 */
export function chiSquare(expected: readonly number[], actual: readonly number[]): TestResult & { df: number } {
  if (expected.length !== actual.length) throw new Error('chi-square needs the same bins on both sides');
  const n = expected.reduce((a, b) => a + b, 0);
  const m = actual.reduce((a, b) => a + b, 0);
  const df = expected.length - 1;
  if (n === 0 || m === 0 || df < 1) return { statistic: Number.NaN, pValue: Number.NaN, df };
  let x = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max((expected[i]! / n) * m, 1e-9);
    x += (actual[i]! - e) ** 2 / e;
  }
  return { statistic: x, df, pValue: chiSquareSurvival(x, df) };
}

/** P(X > x) for X ~ χ²(df): the regularized upper incomplete gamma Q(df/2, x/2). */
export function chiSquareSurvival(x: number, df: number): number {
  if (x <= 0) return 1;
  return upperGammaRegularized(df / 2, x / 2);
}

/** Q(a, x), by the series for x < a + 1 and the continued fraction otherwise (Numerical Recipes §6.2). */
function upperGammaRegularized(a: number, x: number): number {
  const lnPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.min(1, Math.max(0, 1 - sum * Math.exp(lnPrefix)));
  }
  // Lentz's method for the continued fraction of Γ(a, x).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.max(0, Math.exp(lnPrefix) * h));
}

/** ln Γ(z) by the Lanczos approximation (g = 7, n = 9), accurate to ~15 digits for z > 0. */
export function logGamma(z: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - logGamma(1 - z);
  const x = z - 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
