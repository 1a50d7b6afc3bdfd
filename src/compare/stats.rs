//! The statistics behind a comparison verdict, as plain functions on samples (one value per
//! repeated run): medians, the Mann-Whitney U rank test (exact when it can be, normal
//! approximation with tie correction otherwise), Holm's step-down correction across the
//! metrics tested together, and a bootstrap confidence interval on the ratio of medians.
//!
//! Why these: latency figures of repeated runs are few (5 to 20), skewed and have outliers,
//! so a rank test that assumes no distribution fits (benchstat uses the same); testing many
//! metrics at once without a correction would raise false alarms with every metric added.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The median of `xs` (mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// C(n, k) as an exact integer (None past u128).
fn binomial(n: u64, k: u64) -> Option<u128> {
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 0..k {
        c = c.checked_mul((n - i) as u128)? / (i as u128 + 1);
    }
    Some(c)
}

/// The smallest two-sided p-value the Mann-Whitney test can give with `n` and `m` samples:
/// 2 / C(n+m, n), when the two sides do not overlap at all (no ties).
pub fn min_p_value(n: usize, m: usize) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    match binomial((n + m) as u64, n as u64) {
        Some(c) => (2.0 / c as f64).min(1.0),
        None => 0.0,
    }
}

/// The number of repeats per side (at least 3) for which Holm's correction over `tests`
/// metrics can declare at least one of them significant at `alpha`: the smallest n with
/// `tests * 2 / C(2n, n) < alpha`. With fewer, no verdict other than "no change" is possible.
pub fn repeats_for(tests: usize, alpha: f64) -> usize {
    let tests = tests.max(1) as f64;
    (3..=60)
        .find(|&n| tests * min_p_value(n, n) < alpha)
        .unwrap_or(60)
}

/// The standard normal's upper tail P(Z > z).
fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// erfc by the Numerical Recipes Chebyshev fit (relative error below 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The result of a Mann-Whitney U test of `a` against `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// U of the first sample: the number of (a, b) pairs with a > b, ties counting half.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// The smallest p-value any arrangement of these values (with their ties) into the two
    /// samples could give: when it is not below the significance level, no difference could
    /// have been detected.
    pub p_min: f64,
    /// Whether `p` is exact (the permutation distribution) or the normal approximation.
    pub exact: bool,
}

/// Largest sample (both sides together) tested with the exact permutation distribution.
const EXACT_UP_TO: usize = 80;

/// The exact permutation distribution of the sum of the first sample's doubled midranks
/// (integers, so ties are exact): `ways[s]` = number of ways to choose `n` of the values with
/// doubled-rank sum `s`. Counts as f64 (C(80, 40) is about 1e23: relative error 1e-16).
fn rank_sum_distribution(doubled: &[usize], n: usize) -> Vec<f64> {
    let total: usize = doubled.iter().sum();
    let mut ways = vec![vec![0.0f64; total + 1]; n + 1];
    ways[0][0] = 1.0;
    for (seen, &r) in doubled.iter().enumerate() {
        for k in (1..=n.min(seen + 1)).rev() {
            let (lower, upper) = ways.split_at_mut(k);
            let (from, to) = (&lower[k - 1], &mut upper[0]);
            for s in (r..=total).rev() {
                if from[s - r] != 0.0 {
                    to[s] += from[s - r];
                }
            }
        }
    }
    ways.swap_remove(n)
}

/// Two-sided Mann-Whitney U test. Exact (the permutation distribution of the rank sum,
/// ties included) for up to 80 values in all; otherwise the normal approximation with the
/// tie correction and a continuity correction. p = 1 when either sample is empty.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> RankTest {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return RankTest {
            u: 0.0,
            p: 1.0,
            p_min: 1.0,
            exact: false,
        };
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total = all.len();
    // doubled midranks: ranks i+1 ..= j+1 of a tie group average to (i + j + 2) / 2
    let mut doubled = vec![0usize; total];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < total {
        let mut j = i;
        while j + 1 < total && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for d in &mut doubled[i..=j] {
            *d = i + j + 2;
        }
        i = j + 1;
    }
    let w: usize = (0..total).filter(|&k| all[k].1).map(|k| doubled[k]).sum();
    let nf = n as f64;
    let u = w as f64 / 2.0 - nf * (nf + 1.0) / 2.0;
    if total <= EXACT_UP_TO {
        let ways = rank_sum_distribution(&doubled, n);
        let all_ways: f64 = ways.iter().sum();
        // E[W] = n (N + 1) in doubled ranks; "as extreme" = at least as far from it
        let mean = n * (total + 1);
        let dev = |s: usize| s.abs_diff(mean);
        let tail = |d: usize| -> f64 {
            ways.iter()
                .enumerate()
                .filter(|(s, c)| **c != 0.0 && dev(*s) >= d)
                .map(|(_, c)| c)
                .sum::<f64>()
                / all_ways
        };
        let mut sorted = doubled.clone();
        sorted.sort_unstable();
        let w_min: usize = sorted[..n].iter().sum();
        let w_max: usize = sorted[total - n..].iter().sum();
        return RankTest {
            u,
            p: tail(dev(w)).min(1.0),
            p_min: tail(dev(w_min).max(dev(w_max))).min(1.0),
            exact: true,
        };
    }
    // Large samples: the approximation; the smallest p is that of complete separation.
    RankTest {
        u,
        p: normal_p(u, n, m, tie_term),
        p_min: normal_p(0.0, n, m, tie_term),
        exact: false,
    }
}

/// The normal approximation of the two-sided p-value of U, with the tie correction
/// (`tie_term` = sum of t^3 - t over tie groups) and a continuity correction.
fn normal_p(u: f64, n: usize, m: usize, tie_term: f64) -> f64 {
    let (nf, mf) = (n as f64, m as f64);
    let nm = nf * mf;
    let big_n = nf + mf;
    let var = nm / 12.0 * ((big_n + 1.0) - tie_term / (big_n * (big_n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - nm / 2.0).abs() - 0.5).max(0.0) / var.sqrt();
    (2.0 * normal_upper_tail(z)).min(1.0)
}

/// Holm's step-down adjustment: each p-value multiplied by the number of hypotheses not yet
/// rejected before it, made monotone, capped at 1. Controls the chance of any false alarm
/// across all the tests at alpha, whatever their dependence.
pub fn holm(ps: &[f64]) -> Vec<f64> {
    let k = ps.len();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| ps[i].total_cmp(&ps[j]));
    let mut adjusted = vec![1.0; k];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((k - rank) as f64 * ps[i]).min(1.0);
        running = running.max(adj);
        adjusted[i] = running;
    }
    adjusted
}

/// A percentile bootstrap 95% confidence interval of median(candidate) / median(baseline),
/// from `resamples` resamples drawn with a fixed seed (the same samples give the same
/// interval). None when either side is empty or a resampled baseline median is 0.
pub fn ratio_interval(baseline: &[f64], candidate: &[f64], resamples: usize) -> Option<(f64, f64)> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x636c_696e_6963);
    let mut ratios = Vec::with_capacity(resamples);
    let mut b = vec![0.0; baseline.len()];
    let mut c = vec![0.0; candidate.len()];
    for _ in 0..resamples {
        for x in b.iter_mut() {
            *x = baseline[rng.gen_range(0..baseline.len())];
        }
        for x in c.iter_mut() {
            *x = candidate[rng.gen_range(0..candidate.len())];
        }
        let mb = median(&b);
        if mb == 0.0 {
            return None;
        }
        ratios.push(median(&c) / mb);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// A 95% Wilson score interval for a proportion of `k` in `n` (the calibration's false-alarm
/// and detection rates).
pub fn wilson_interval(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054;
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let den = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / den;
    let half = z * ((p * (1.0 - p) / nf) + z * z / (4.0 * nf * nf)).sqrt() / den;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn smallest_p_values_are_the_documented_ones() {
        // 2 / C(10, 5) = 2 / 252
        assert!((min_p_value(5, 5) - 2.0 / 252.0).abs() < 1e-12);
        assert!((min_p_value(6, 6) - 2.0 / 924.0).abs() < 1e-12);
        assert_eq!(min_p_value(0, 4), 1.0);
    }

    #[test]
    fn repeats_let_holm_fire() {
        // one metric: n = 4 gives 2/70 = 0.029 < 0.05
        assert_eq!(repeats_for(1, 0.05), 4);
        // 6 metrics: 5 gives 6 * 0.0079 = 0.048 < 0.05
        assert_eq!(repeats_for(6, 0.05), 5);
        // 20 metrics: 5 gives 0.159, 6 gives 0.043
        assert_eq!(repeats_for(20, 0.05), 6);
        for k in [1, 3, 10, 24, 60, 200] {
            let n = repeats_for(k, 0.05);
            assert!(k as f64 * min_p_value(n, n) < 0.05);
            assert!(n == 3 || k as f64 * min_p_value(n - 1, n - 1) >= 0.05);
        }
    }

    /// Brute force over every split, for checking the distribution.
    fn brute_p(a: &[f64], b: &[f64]) -> f64 {
        let all: Vec<f64> = a.iter().chain(b).copied().collect();
        let total = all.len();
        let rank = |x: f64| {
            let below = all.iter().filter(|&&y| y < x).count() as f64;
            let equal = all.iter().filter(|&&y| y == x).count() as f64;
            below + (equal + 1.0) / 2.0
        };
        let ranks: Vec<f64> = all.iter().map(|&x| rank(x)).collect();
        let n = a.len();
        let mean = n as f64 * (total as f64 + 1.0) / 2.0;
        let obs: f64 = ranks[..n].iter().sum::<f64>();
        let (mut hits, mut count) = (0u64, 0u64);
        for mask in 0u32..(1 << total) {
            if mask.count_ones() as usize != n {
                continue;
            }
            let w: f64 = (0..total)
                .filter(|k| mask & (1 << k) != 0)
                .map(|k| ranks[k])
                .sum();
            count += 1;
            if (w - mean).abs() >= (obs - mean).abs() - 1e-9 {
                hits += 1;
            }
        }
        hits as f64 / count as f64
    }

    #[test]
    fn exact_p_matches_brute_force_with_and_without_ties() {
        let cases: &[(&[f64], &[f64])] = &[
            (&[1.0, 3.0, 5.0], &[2.0, 4.0, 6.0, 7.0]),
            (&[1.0, 1.0, 2.0, 2.0], &[3.0, 3.0, 4.0, 4.0]),
            (&[5.0, 5.0, 5.0, 6.0, 2.0], &[5.0, 7.0, 7.0, 1.0, 5.0, 9.0]),
            (&[10.0, 11.0], &[9.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]),
            (
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
            ),
        ];
        for (a, b) in cases {
            let t = mann_whitney(a, b);
            assert!(t.exact);
            assert!(
                (t.p - brute_p(a, b)).abs() < 1e-12,
                "{a:?} {b:?}: {} vs {}",
                t.p,
                brute_p(a, b)
            );
        }
    }

    #[test]
    fn ties_within_one_side_keep_the_smallest_p_reachable() {
        // integer microseconds tie often; a tie inside one side does not weaken separation
        let a = [400.0, 400.0, 401.0, 402.0, 402.0];
        let b = [500.0, 500.0, 503.0, 510.0, 510.0];
        let t = mann_whitney(&a, &b);
        assert!((t.p - 2.0 / 252.0).abs() < 1e-12, "{}", t.p);
        assert!((t.p_min - 2.0 / 252.0).abs() < 1e-12);
        // a tie straddling the sides raises the smallest reachable p
        let t = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 9.0]);
        assert!(t.p_min > 2.0 / 252.0 && t.p >= t.p_min, "{t:?}");
        // every value equal: nothing can be told apart
        assert_eq!(mann_whitney(&[3.0; 5], &[3.0; 5]).p_min, 1.0);
    }

    #[test]
    fn separated_samples_reach_the_smallest_p() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let t = mann_whitney(&a, &b);
        assert!(t.exact);
        assert_eq!(t.u, 0.0);
        assert!((t.p - 2.0 / 252.0).abs() < 1e-12);
        assert_eq!(mann_whitney(&b, &a).p, t.p);
    }

    #[test]
    fn known_exact_value() {
        // a = {1, 3, 5}, b = {2, 4, 6, 7}: U_a = 0+1+2 = 3; P(U <= 3) for n=3, m=4 is
        // (1+1+2+3)/35 = 7/35, so p = 14/35 = 0.4.
        let t = mann_whitney(&[1.0, 3.0, 5.0], &[2.0, 4.0, 6.0, 7.0]);
        assert_eq!(t.u, 3.0);
        assert!((t.p - 0.4).abs() < 1e-12, "{}", t.p);
    }

    #[test]
    fn ties_and_identical_samples() {
        let t = mann_whitney(&[5.0; 6], &[5.0; 6]);
        assert_eq!(t.p, 1.0);
        let t = mann_whitney(&[1.0, 1.0, 2.0, 2.0], &[3.0, 3.0, 4.0, 4.0]);
        assert!(t.exact);
        // the two tie groups on each side move together: 2 of C(8, 4) = 70 splits as extreme
        assert!((t.p - 2.0 / 70.0).abs() < 1e-12, "{}", t.p);
        assert_eq!(mann_whitney(&[], &[1.0]).p, 1.0);
    }

    #[test]
    fn normal_approximation_agrees_with_exact_for_larger_samples() {
        let a: Vec<f64> = (0..30).map(|i| i as f64 * 1.1).collect();
        let b: Vec<f64> = (0..30).map(|i| i as f64 * 1.1 + 7.3).collect();
        let exact = mann_whitney(&a, &b);
        assert!(exact.exact);
        let approx = normal_p(exact.u, 30, 30, 0.0);
        assert!(
            (approx / exact.p - 1.0).abs() < 0.1,
            "{approx} vs {}",
            exact.p
        );
        // {1,1,2,2} vs {3,3,4,4} by hand: U = 0, var = 16/12 * (9 - 24/56), z = 7.5 / 3.381
        let p = normal_p(0.0, 4, 4, 24.0);
        assert!((p - 0.02654).abs() < 2e-4, "{p}");
    }

    #[test]
    fn holm_adjustment() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        // sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> 0.06
        assert_eq!(adj, vec![0.03, 0.06, 0.06, 0.02]);
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn bootstrap_interval_brackets_the_ratio() {
        let b = [10.0, 11.0, 9.5, 10.2, 10.4, 9.9];
        let c = [12.0, 12.5, 11.8, 12.2, 12.1, 12.6];
        let (lo, hi) = ratio_interval(&b, &c, 4000).unwrap();
        let point = median(&c) / median(&b);
        assert!(lo <= point && point <= hi);
        assert!(lo > 1.1 && hi < 1.35, "{lo} {hi}");
        assert_eq!(
            ratio_interval(&b, &c, 4000),
            Some((lo, hi)),
            "deterministic"
        );
        assert_eq!(ratio_interval(&[], &c, 10), None);
    }

    #[test]
    fn wilson() {
        let (lo, hi) = wilson_interval(2, 40);
        assert!(
            lo > 0.005 && lo < 0.02 && hi > 0.15 && hi < 0.18,
            "{lo} {hi}"
        );
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
        let (lo, _) = wilson_interval(0, 40);
        assert_eq!(lo, 0.0);
    }
}
