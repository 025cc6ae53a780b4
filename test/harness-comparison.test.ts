/* Statistics for comparisons, against known values. Reference numbers come
 * from scipy 1.17 (scipy.special.betainc, scipy.stats.t.ppf,
 * scipy.stats.mannwhitneyu, scipy.stats.ttest_ind(equal_var=False)) or are
 * worked out by hand where the comment says so. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  median, mean, sd, relativeMarginOfError, logGamma, incompleteBeta, tQuantile, studentTTwoSided,
  normalUpperTail, mannWhitneyU, welchTTest, ratioOfMedians, mulberry32, compare,
} from '../harness/comparison.js';

function close(actual: number, expected: number, tol = 1e-6, what = '') {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected} (tolerance ${tol})`);
}

test('median of odd and even lengths, mean, sample sd', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]));
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  // Squared deviations 4+1+0+1+4 = 10, over n-1 = 4: sd = √2.5.
  close(sd([1, 2, 3, 4, 5]), Math.sqrt(2.5), 1e-15);
  assert.ok(Number.isNaN(sd([5])));
});

test('log-gamma and the regularized incomplete beta', () => {
  close(logGamma(1), 0, 1e-14);
  close(logGamma(5), Math.log(24), 1e-13);
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14);
  // By hand: I_0.5(2,3) = P(Binomial(4, ½) ≥ 2) = (6+4+1)/16.
  close(incompleteBeta(0.5, 2, 3), 0.6875, 1e-12);
  close(incompleteBeta(0.2, 0.5, 5), 0.8550723945959195, 1e-10); // small x: direct fraction
  close(incompleteBeta(0.4, 10, 20), 0.7853183897628262, 1e-10); // x past the mean: symmetry branch
  assert.equal(incompleteBeta(0, 2, 3), 0);
  assert.equal(incompleteBeta(1, 2, 3), 1);
  // df = 1 is the Cauchy distribution: P(|T| ≥ 1) = ½ exactly.
  close(studentTTwoSided(1, 1), 0.5, 1e-12);
});

test('Student-t quantiles at 0.975 (the two-sided 95% critical values)', () => {
  const expected: Array<[number, number]> = [
    [1, 12.706204736174694],
    [2, 4.302652729749462],
    [3, 3.1824463052837078],
    [4, 2.7764451051977934],
    [9, 2.262157162798205],
    [10, 2.228138851986274],
    [30, 2.0422724563012378],
    [100, 1.9839715185235518],
  ];
  for (const [df, t] of expected) close(tQuantile(0.975, df), t, 1e-9, `df=${df}`);
  close(tQuantile(0.025, 4), -2.7764451051977934, 1e-9);
  assert.equal(tQuantile(0.5, 7), 0);
  // The normal tail used by Mann-Whitney's approximation: P(Z ≥ 1.959964) = 0.025.
  close(normalUpperTail(1.959963984540054), 0.025, 1e-8);
  close(normalUpperTail(-1.959963984540054), 0.975, 1e-8);
});

test('relative margin of error (tinybench rme)', () => {
  // sd = √62.5 = 7.9057, sem = sd/√5, moe = t(0.975, 4) × sem, / mean 100 × 100.
  close(relativeMarginOfError([100, 110, 90, 105, 95]), 9.816215807387783, 1e-8);
  close(relativeMarginOfError([100, 110, 90, 105, 95]), (2.7764451051977934 * Math.sqrt(62.5)) / Math.sqrt(5), 1e-8);
  assert.equal(relativeMarginOfError([5, 5, 5]), 0);
  assert.ok(Number.isNaN(relativeMarginOfError([5])));
  assert.equal(relativeMarginOfError([-1, 1]), Infinity);
});

test('Mann-Whitney U, exact distribution without ties', () => {
  // Complete separation, 3 vs 3: U = 0 and P = 2/C(6,3) = 0.1, the smallest
  // two-sided p three repetitions can give.
  assert.deepEqual(mannWhitneyU([1, 2, 3], [4, 5, 6]), { u: 0, p: 0.1, method: 'exact' });
  assert.deepEqual(mannWhitneyU([4, 5, 6], [1, 2, 3]), { u: 9, p: 0.1, method: 'exact' });
  // 4 vs 4: 2/C(8,4) = 2/70.
  close(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8]).p, 2 / 70, 1e-15);
  // By hand: U = 17 of 20; 7 of the C(9,4) = 126 splits have U ≥ 17, so p = 14/126.
  const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
  assert.equal(r.u, 17);
  close(r.p, 1 / 9, 1e-15);
  // Interleaved samples: no evidence, p = 1.
  assert.equal(mannWhitneyU([1, 4, 5], [2, 3, 6]).p, 1);
});

test('Mann-Whitney U, normal approximation with ties or large samples', () => {
  const ties = mannWhitneyU([1, 2, 2, 3, 3, 3, 4], [3, 4, 4, 5, 5, 6]);
  assert.equal(ties.method, 'normal');
  assert.equal(ties.u, 3.5);
  close(ties.p, 0.012999854364387305, 1e-6);
  // All values equal: nothing to see.
  assert.deepEqual(mannWhitneyU([10, 10, 10], [10, 10, 10]), { u: 4.5, p: 1, method: 'normal' });
  // 25 vs 25 without ties is past the exact limit.
  const large = mannWhitneyU(
    Array.from({ length: 25 }, (_, i) => i + 1),
    Array.from({ length: 25 }, (_, i) => i + 5.5),
  );
  assert.equal(large.method, 'normal');
  assert.equal(large.u, 210);
  close(large.p, 0.0478057953309806, 1e-6);
});

test("Welch's t-test", () => {
  // Wikipedia's "Welch's t-test" example 1 (t ≈ -2.46, df ≈ 24.99, p ≈ 0.021).
  const a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
  const a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
  const w = welchTTest(a1, a2);
  close(w.t, -2.455356398286006, 1e-6);
  close(w.df, 24.988529290231416, 1e-6);
  close(w.p, 0.021378001462866992, 1e-6);
  // Three repetitions each, clearly apart: significant where Mann-Whitney cannot be.
  const w3 = welchTTest([100, 105, 98], [120, 118, 125]);
  close(w3.t, -6.793662204867575, 1e-6);
  close(w3.df, 4, 1e-6);
  close(w3.p, 0.0024517169620741266, 1e-6);
  assert.throws(() => welchTTest([1], [2, 3]));
  // Constant samples: scipy gives NaN; here equal means are p = 1, different ones p = 0.
  assert.equal(welchTTest([5, 5], [5, 5]).p, 1);
  assert.equal(welchTTest([5, 5], [6, 6]).p, 0);
});

test('bootstrap interval of the ratio of medians: deterministic per seed, brackets the ratio', () => {
  const base = [1000, 1040, 980, 1010, 995];
  const head = [1100, 1150, 1080, 1120, 1090];
  const r = ratioOfMedians(base, head, { seed: 42 });
  assert.equal(r.ratio, 1100 / 1000);
  assert.deepEqual(ratioOfMedians(base, head, { seed: 42 }), r);
  const [lo, hi] = r.ci;
  assert.ok(lo <= r.ratio && r.ratio <= hi, `${lo} <= ${r.ratio} <= ${hi}`);
  // Resampled medians are sample values, so the ratio cannot leave these bounds.
  assert.ok(lo >= 1080 / 1040 && hi <= 1150 / 980, `${lo} ${hi}`);
  assert.ok(lo > 1, 'clearly apart: the interval excludes 1');
  // Another seed draws other resamples (the interval may still land on the
  // same sample ratios: medians of 5 values are discrete) and brackets too.
  const other = ratioOfMedians(base, head, { seed: 7 });
  assert.ok(other.ci[0] <= r.ratio && r.ratio <= other.ci[1]);
  // A narrower coverage gives a narrower interval.
  const c80 = ratioOfMedians(base, head, { seed: 42, confidence: 0.8 });
  assert.ok(c80.ci[0] >= lo && c80.ci[1] <= hi);
  // The generator itself is reproducible and in [0, 1).
  const g1 = mulberry32(1);
  const g2 = mulberry32(1);
  const g3 = mulberry32(2);
  let differs = 0;
  for (let i = 0; i < 1000; i++) {
    const x = g1();
    assert.equal(x, g2());
    assert.ok(x >= 0 && x < 1);
    if (x !== g3()) differs++;
  }
  assert.ok(differs > 990, 'another seed, another stream');
});

test('compare: verdicts for better, worse, identical, noisy and too few samples', () => {
  const base = [100, 101, 99];
  const head = [120, 121, 119];
  const better = compare(base, head, { higherIsBetter: true, seed: 1 });
  assert.equal(better.verdict, 'better');
  assert.equal(better.significant, true);
  close(better.ratio!, 1.2, 1e-12);
  close(better.change_percent!, 20, 1e-9);
  assert.ok(better.ci![0] > 1);
  // 3 vs 3: Mann-Whitney stops at 0.1, the verdict comes from the CI and Welch.
  close(better.p_mann_whitney!, 0.1, 1e-12);
  assert.ok(better.p_welch! < 0.05);
  // The same numbers as latencies are a regression.
  assert.equal(compare(base, head, { higherIsBetter: false }).verdict, 'worse');
  // And the other way round.
  assert.equal(compare(head, base, { higherIsBetter: true }).verdict, 'worse');
  assert.equal(compare(head, base, { higherIsBetter: false }).verdict, 'better');

  const same = compare(base, [...base], { higherIsBetter: true });
  assert.equal(same.verdict, 'no significant change');
  assert.equal(same.ratio, 1);
  assert.equal(same.p_mann_whitney, 1);
  assert.equal(same.p_welch, 1);
  assert.equal(compare([5, 5, 5], [5, 5, 5], { higherIsBetter: true }).verdict, 'no significant change');

  // Overlapping noise around a 2% shift is not a change.
  const noisy = compare([100, 110, 90, 105, 95], [102, 112, 92, 107, 97], { higherIsBetter: true });
  assert.equal(noisy.verdict, 'no significant change');
  assert.equal(noisy.significant, false);

  const single = compare([100], [200], { higherIsBetter: true });
  assert.equal(single.verdict, 'not enough samples');
  assert.equal(single.ratio, 2);
  assert.equal(single.ci, null);
  assert.equal(single.p_welch, null);
  assert.equal(single.p_mann_whitney, null);
  assert.equal(compare([100, 101], [120], { higherIsBetter: true }).verdict, 'not enough samples');
  const empty = compare([], [1, 2], { higherIsBetter: true });
  assert.equal(empty.verdict, 'not enough samples');
  assert.equal(empty.ratio, null);
  assert.equal(empty.change_percent, null);
});

test('compare: a real but tiny change is negligible below minEffectPercent', () => {
  // Near-constant metrics (syscalls per op) make 0.2% differences detectable.
  const base = [2.0, 2.0001, 2.0002];
  const head = [2.004, 2.0041, 2.0042];
  const detected = compare(base, head, { higherIsBetter: false });
  assert.equal(detected.verdict, 'worse', 'without a minimum effect, 0.2% is a regression');
  assert.equal(detected.negligible, false);
  const floored = compare(base, head, { higherIsBetter: false, minEffectPercent: 1 });
  assert.equal(floored.verdict, 'no significant change');
  assert.equal(floored.significant, false);
  assert.equal(floored.negligible, true);
  // A 20% change is not affected by a 1% floor.
  assert.equal(compare([100, 101, 99], [120, 121, 119], { higherIsBetter: true, minEffectPercent: 1 }).verdict, 'better');
});
