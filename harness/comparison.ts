/* Statistics for comparing one metric between two sets of repetitions (say
 * ops/s of strategy A's repetitions, the "base", against strategy B's, the
 * "head"), for reports and `muxbench compare`. Dependency-free on purpose:
 * everything is a few dozen lines and the exact values are checked against
 * scipy in test/harness-comparison.test.ts.
 *
 * Repetitions are few (typically 3-10 per side) and the metrics are positive
 * (rates, latencies), which drives the choices below: the effect is a ratio
 * of medians with a bootstrap interval, and two tests are offered because
 * each has a blind spot at this size (see mannWhitneyU and compare). */

/* ---- Descriptive statistics ------------------------------------------- */

/* Same definition as harness/stats.ts (middle value, or mean of the two
 * middle ones); repeated here so this module imports nothing. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of no values');
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/* Sample standard deviation (divisor n-1); NaN for fewer than 2 values, as
 * one value says nothing about spread. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

/* Relative margin of error in percent at 95% confidence, as tinybench's
 * `rme`: moe = t(0.975, n-1) × sd/√n, rme = moe / |mean| × 100.
 * The critical value is the exact Student-t quantile for every df (current
 * tinybench computes it exactly too; older releases used a 3-decimal table
 * for df 1..30 and 1.96 beyond, which agrees to 3 decimals up to df 30).
 * NaN for fewer than 2 values (tinybench reports 0 there, which reads as
 * "perfectly precise"); Infinity for a zero mean, as tinybench. */
export function relativeMarginOfError(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  if (m === 0) return Infinity;
  const moe = tQuantile(0.975, xs.length - 1) * (sd(xs) / Math.sqrt(xs.length));
  return (moe / Math.abs(m)) * 100;
}

/* ---- Special functions -------------------------------------------------- */

/* ln Γ(x) for x > 0, Lanczos approximation (g = 7, 9 terms; ~1e-15 relative),
 * with the reflection formula below 0.5. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/* Regularized incomplete beta I_x(a, b), as in Numerical Recipes (§6.4):
 * the continued fraction converges quickly for x < (a+1)/(a+b+2); otherwise
 * use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a), which lands there. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) return NaN;
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/* The continued fraction of I_x(a,b) by the modified Lentz method; TINY stands
 * in for a zero denominator so the recurrence cannot divide by zero. */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const clamp = (v: number) => (Math.abs(v) < TINY ? TINY : v);
  let c = 1;
  let d = 1 / clamp(1 - ((a + b) * x) / (a + 1));
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)).
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 / clamp(1 + num * d);
    c = clamp(1 + num / c);
    h *= d * c;
    // Odd step: d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 / clamp(1 + num * d);
    c = clamp(1 + num / c);
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/* Two-sided tail of Student's t: P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/* Student-t quantile: the t with P(T ≤ t) = p. Found by bisection on the
 * two-sided tail (monotone in |t|): slower than Newton but cannot diverge,
 * and 100 halvings are far below a millisecond. Within about 1e-10 (relative) of
 * scipy for the tail quantiles used here (p ≤ 0.1 or ≥ 0.9, any df); near
 * p = 0.5 the tail is ~1 and cancellation costs digits, which no caller needs. */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p === 0.5) return 0;
  const tail = 2 * Math.min(p, 1 - p); // the two-sided tail wanted
  let lo = 0;
  let hi = 1;
  while (studentTTwoSided(hi, df) > tail) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTTwoSided(mid, df) > tail) lo = mid;
    else hi = mid;
  }
  const t = (lo + hi) / 2;
  return p > 0.5 ? t : -t;
}

/* P(Z ≥ z) for a standard normal, via erfc by the Chebyshev fit of Numerical
 * Recipes (erfcc, fractional error < 1.2e-7): ample for p-values. */
export function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/* ---- Tests ---------------------------------------------------------------- */

export interface MannWhitney {
  /* U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties counting ½
   * (scipy.stats.mannwhitneyu's statistic). */
  u: number;
  /* Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

/* Mann-Whitney U test, two-sided. Exact when there are no ties and both
 * samples have at most EXACT_MAX values: the null distribution of the rank
 * sum is counted by dynamic programming. Otherwise the normal approximation
 * with tie correction and continuity correction (scipy's 'asymptotic').
 *
 * With n values per side the smallest two-sided p is 2 / C(2n, n): 0.1 for
 * 3 vs 3, 0.0286 for 4 vs 4. So 3 repetitions can NEVER reach p < 0.05 with
 * this test, however far apart the samples are; a verdict on 3 repetitions
 * has to rest on the bootstrap CI and Welch's test (see compare), or on more
 * repetitions. */
const EXACT_MAX = 20;
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitney {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new Error('Mann-Whitney U needs values on both sides');
  const { ranks, tieTerm } = rank([...a, ...b]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const uMax = Math.max(u1, n1 * n2 - u1); // the two-sided p looks at the far tail
  if (tieTerm === 0 && n1 <= EXACT_MAX && n2 <= EXACT_MAX) {
    return { u: u1, p: Math.min(1, 2 * exactUpperTail(uMax, n1, n2)), method: 'exact' };
  }
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  // All values equal: no evidence of any difference.
  if (sigma === 0) return { u: u1, p: 1, method: 'normal' };
  const z = (uMax - mu - 0.5) / sigma;
  return { u: u1, p: Math.min(1, 2 * normalUpperTail(z)), method: 'normal' };
}

/* Mid-ranks (1-based, ties share their average rank) and Σ(t³ - t) over the
 * tie groups, which shrinks the variance of U. */
function rank(xs: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = xs.map((_, i) => i).sort((i, j) => xs[i] - xs[j]);
  const ranks = new Array<number>(xs.length);
  let tieTerm = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1]] === xs[order[i]]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

/* P(U ≥ u) under the null for samples of n1 and n2 distinct values. Every
 * choice of which n1 of the ranks 1..n1+n2 belong to the first sample is
 * equally likely; ways[k][s] counts the k-subsets of the ranks seen so far
 * with rank sum s, and U = rank sum - n1(n1+1)/2. The counts stay below
 * C(40,20) ≈ 1.4e11, exact in doubles. */
function exactUpperTail(u: number, n1: number, n2: number): number {
  const n = n1 + n2;
  const maxSum = (n1 * (2 * n - n1 + 1)) / 2; // the n1 largest ranks
  const ways = Array.from({ length: n1 + 1 }, () => new Float64Array(maxSum + 1));
  ways[0][0] = 1;
  for (let r = 1; r <= n; r++) {
    // Downwards so that rank r is used at most once per subset.
    for (let k = Math.min(r, n1); k >= 1; k--) {
      for (let s = maxSum; s >= r; s--) ways[k][s] += ways[k - 1][s - r];
    }
  }
  const offset = (n1 * (n1 + 1)) / 2;
  let tail = 0;
  let total = 0;
  for (let s = offset; s <= maxSum; s++) {
    total += ways[n1][s];
    if (s - offset >= u - 1e-9) tail += ways[n1][s];
  }
  return tail / total;
}

export interface Welch {
  /* (mean(a) - mean(b)) / standard error, as scipy's ttest_ind(a, b, equal_var=False). */
  t: number;
  /* Welch-Satterthwaite degrees of freedom. */
  df: number;
  /* Two-sided p-value. */
  p: number;
}

/* Welch's t-test (unequal variances), two-sided. Needs at least 2 values per
 * side. When both samples are constant the standard error is 0: equal means
 * give p = 1 and different means p = 0 (scipy returns NaN for both), since a
 * perfectly repeatable measurement that moved did move. */
export function welchTTest(a: readonly number[], b: readonly number[]): Welch {
  if (a.length < 2 || b.length < 2) throw new Error("Welch's t-test needs at least 2 values per side");
  const va = sd(a) ** 2 / a.length;
  const vb = sd(b) ** 2 / b.length;
  const diff = mean(a) - mean(b);
  if (va + vb === 0) {
    return diff === 0 ? { t: 0, df: NaN, p: 1 } : { t: Math.sign(diff) * Infinity, df: NaN, p: 0 };
  }
  const t = diff / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: studentTTwoSided(t, df) };
}

/* ---- Effect size with a bootstrap interval -------------------------------- */

/* mulberry32: a tiny 32-bit seeded PRNG, uniform in [0, 1). Good enough for
 * resampling, and it makes every interval reproducible from its seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BootstrapOptions {
  /* Resamples drawn (B); default 10000. */
  resamples?: number;
  seed?: number;
  /* Interval coverage; default 0.95. */
  confidence?: number;
}

export const DEFAULT_SEED = 0x6d757862; // "muxb"

export interface RatioCI {
  /* median(head) / median(base). */
  ratio: number;
  ci: [number, number];
}

/* median(head) / median(base) with a percentile-bootstrap interval: both
 * groups are resampled independently with replacement, the ratio of the
 * resampled medians recorded B times, and the interval read at the
 * (1-confidence)/2 and (1+confidence)/2 quantiles (linear interpolation, as
 * numpy's default). With 3-5 values per side the medians can only take a few
 * values, so the interval is coarse and somewhat too narrow: a known weakness
 * of the percentile bootstrap on tiny samples, and why compare also asks for
 * a t-test. A base median of 0 gives infinite or NaN ratios. */
export function ratioOfMedians(base: readonly number[], head: readonly number[], opts: BootstrapOptions = {}): RatioCI {
  const B = opts.resamples ?? 10000;
  const confidence = opts.confidence ?? 0.95;
  const rand = mulberry32(opts.seed ?? DEFAULT_SEED);
  const ratio = median(head) / median(base);
  const ratios = new Float64Array(B);
  const bufBase = new Float64Array(base.length);
  const bufHead = new Float64Array(head.length);
  const resampledMedian = (xs: readonly number[], buf: Float64Array) => {
    for (let i = 0; i < buf.length; i++) buf[i] = xs[Math.floor(rand() * xs.length)];
    buf.sort();
    const mid = buf.length >> 1;
    return buf.length % 2 ? buf[mid] : (buf[mid - 1] + buf[mid]) / 2;
  };
  for (let i = 0; i < B; i++) {
    const mb = resampledMedian(base, bufBase);
    ratios[i] = resampledMedian(head, bufHead) / mb;
  }
  ratios.sort();
  const alpha = 1 - confidence;
  return { ratio, ci: [quantileSorted(ratios, alpha / 2), quantileSorted(ratios, 1 - alpha / 2)] };
}

function quantileSorted(s: Float64Array, q: number): number {
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}

/* ---- The comparison ------------------------------------------------------- */

export type Verdict = 'better' | 'worse' | 'no significant change' | 'not enough samples';

export interface CompareOptions {
  /* true for rates (ops/s, MiB/s), false for latencies and costs. */
  higherIsBetter: boolean;
  /* Significance level; default 0.05. The bootstrap interval uses 1 - alpha. */
  alpha?: number;
  seed?: number;
  resamples?: number;
  /* Smallest change that counts, in percent (default 0): a statistically
   * significant change below it is reported as no significant change and
   * flagged `negligible`. Metrics that barely vary between repetitions
   * (syscalls per operation, memory) make 0.1% differences "significant";
   * nobody should act on those. */
  minEffectPercent?: number;
}

/* The smallest change the reports call a change (their default for minEffectPercent). */
export const DEFAULT_MIN_EFFECT_PERCENT = 1;

export interface Comparison {
  n_base: number;
  n_head: number;
  /* median(head) / median(base); null when a side has no values. */
  ratio: number | null;
  /* (ratio - 1) × 100: +10 means head's median is 10% above base's. */
  change_percent: number | null;
  /* Null below 2 values per side, as are the p-values. */
  ci: [number, number] | null;
  p_mann_whitney: number | null;
  p_welch: number | null;
  significant: boolean;
  /* Statistically significant, but smaller than minEffectPercent. */
  negligible: boolean;
  verdict: Verdict;
}

/* Compares head against base. The rule for "significant":
 *   - at least 2 values per side (otherwise 'not enough samples'), and
 *   - the bootstrap interval of the ratio of medians excludes 1, and
 *   - Welch's p < alpha, and
 *   - the means move the same way as the medians (so the two criteria are
 *     evidence for the same change), and
 *   - the change is at least minEffectPercent (else it is `negligible`).
 * Welch rather than Mann-Whitney because Mann-Whitney cannot reach p < 0.05
 * with 3 repetitions per side (its smallest p is 0.1), which is the common
 * case here; its p is reported for callers that prefer a rank test with more
 * repetitions. Requiring the interval as well guards against Welch's
 * normality assumption on a handful of values, and the interval alone is too
 * narrow on tiny samples (see ratioOfMedians), so each covers the other. */
export function compare(base: readonly number[], head: readonly number[], opts: CompareOptions): Comparison {
  const alpha = opts.alpha ?? 0.05;
  const ratio = base.length && head.length ? median(head) / median(base) : null;
  const result: Comparison = {
    n_base: base.length,
    n_head: head.length,
    ratio,
    change_percent: ratio === null ? null : (ratio - 1) * 100,
    ci: null,
    p_mann_whitney: null,
    p_welch: null,
    significant: false,
    negligible: false,
    verdict: 'not enough samples',
  };
  if (base.length < 2 || head.length < 2) return result;
  result.ci = ratioOfMedians(base, head, { seed: opts.seed, resamples: opts.resamples, confidence: 1 - alpha }).ci;
  result.p_mann_whitney = mannWhitneyU(base, head).p;
  const welch = welchTTest(head, base);
  result.p_welch = welch.p;
  const [lo, hi] = result.ci;
  const up = lo > 1 && welch.t > 0;
  const down = hi < 1 && welch.t < 0;
  const detected = (up || down) && welch.p < alpha;
  result.negligible = detected && Math.abs(result.change_percent!) < (opts.minEffectPercent ?? 0);
  result.significant = detected && !result.negligible;
  result.verdict = !result.significant ? 'no significant change' : up === opts.higherIsBetter ? 'better' : 'worse';
  return result;
}
