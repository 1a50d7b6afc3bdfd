//! The Universal Scalability Law (Gunther): throughput at concurrency N is
//! `X(N) = λN / (1 + σ(N-1) + κN(N-1))`, with σ the contention (serialised share) and κ the
//! coherency cost (crosstalk). Fitted to a connection sweep's measured points by least squares
//! on X: for each λ the best σ, κ ≥ 0 solve a linear problem in `λN/X - 1`, and λ is searched
//! around the measured single-connection throughput. Peak concurrency `sqrt((1-σ)/κ)`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usl {
    /// Throughput of one connection (ops/s).
    pub lambda: f64,
    pub sigma: f64,
    pub kappa: f64,
    /// 1 - SSE/SST of the throughput predicted at the measured points.
    pub r_squared: f64,
}

impl Usl {
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// The concurrency of the highest throughput (None when κ is 0: throughput only levels
    /// off).
    pub fn peak_concurrency(&self) -> Option<f64> {
        (self.kappa > 0.0).then(|| ((1.0 - self.sigma).max(0.0) / self.kappa).sqrt())
    }

    pub fn peak_throughput(&self) -> Option<f64> {
        self.peak_concurrency().map(|n| self.throughput(n))
    }
}

/// σ, κ ≥ 0 minimising Σ (y_i - σ a_i - κ b_i)² with y = λN/X - 1, a = N-1, b = N(N-1).
fn sigma_kappa(points: &[(f64, f64)], lambda: f64) -> (f64, f64) {
    let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, x) in points {
        let y = lambda * n / x - 1.0;
        let a = n - 1.0;
        let b = n * (n - 1.0);
        saa += a * a;
        sab += a * b;
        sbb += b * b;
        say += a * y;
        sby += b * y;
    }
    let det = saa * sbb - sab * sab;
    let both = if det.abs() > 1e-12 {
        Some(((say * sbb - sby * sab) / det, (sby * saa - say * sab) / det))
    } else {
        None
    };
    match both {
        Some((s, k)) if s >= 0.0 && k >= 0.0 => (s, k),
        _ => {
            // One of them at its bound 0: the better of the two one-parameter fits.
            let s_only = if saa > 0.0 { (say / saa).max(0.0) } else { 0.0 };
            let k_only = if sbb > 0.0 { (sby / sbb).max(0.0) } else { 0.0 };
            let sse = |s: f64, k: f64| {
                points
                    .iter()
                    .map(|&(n, x)| {
                        let y = lambda * n / x - 1.0;
                        (y - s * (n - 1.0) - k * n * (n - 1.0)).powi(2)
                    })
                    .sum::<f64>()
            };
            if sse(s_only, 0.0) <= sse(0.0, k_only) {
                (s_only, 0.0)
            } else {
                (0.0, k_only)
            }
        }
    }
}

fn sse(points: &[(f64, f64)], u: &Usl) -> f64 {
    points
        .iter()
        .map(|&(n, x)| (x - u.throughput(n)).powi(2))
        .sum()
}

/// Fits the USL to (concurrency, throughput) points; None with fewer than 3 distinct
/// concurrencies or a non-positive throughput.
pub fn fit(points: &[(f64, f64)]) -> Option<Usl> {
    let mut ns: Vec<f64> = points.iter().map(|p| p.0).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < 3
        || points
            .iter()
            .any(|&(n, x)| x.is_nan() || x <= 0.0 || n.is_nan() || n < 1.0)
    {
        return None;
    }
    let eval = |lambda: f64| {
        let (sigma, kappa) = sigma_kappa(points, lambda);
        let u = Usl {
            lambda,
            sigma,
            kappa,
            r_squared: 0.0,
        };
        (sse(points, &u), u)
    };
    // λ: the per-connection throughput, at most the best X(N)/N and at least a fraction of
    // it; a coarse scan, then golden-section refinement around the best cell.
    let hi = points.iter().map(|&(n, x)| x / n).fold(0.0f64, f64::max) * 1.5;
    let lo = hi / 20.0;
    let steps = 200;
    let mut best = (f64::INFINITY, 0usize);
    for i in 0..=steps {
        let l = lo + (hi - lo) * i as f64 / steps as f64;
        let e = eval(l).0;
        if e < best.0 {
            best = (e, i);
        }
    }
    let cell = (hi - lo) / steps as f64;
    let (mut a, mut b) = (
        (lo + cell * best.1 as f64 - cell).max(lo),
        (lo + cell * best.1 as f64 + cell).min(hi),
    );
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..100 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if eval(c).0 < eval(d).0 {
            b = d;
        } else {
            a = c;
        }
    }
    let (e, mut u) = eval((a + b) / 2.0);
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let sst: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    u.r_squared = if sst > 0.0 { 1.0 - e / sst } else { 1.0 };
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(u: &Usl, ns: &[f64]) -> Vec<(f64, f64)> {
        ns.iter().map(|&n| (n, u.throughput(n))).collect()
    }

    #[test]
    fn recovers_known_coefficients_within_ten_percent() {
        let ns = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
        for (sigma, kappa) in [(0.05, 0.001), (0.2, 0.0005), (0.02, 0.01)] {
            let truth = Usl {
                lambda: 850.0,
                sigma,
                kappa,
                r_squared: 1.0,
            };
            let u = fit(&points(&truth, &ns)).unwrap();
            assert!((u.sigma - sigma).abs() <= 0.1 * sigma, "{u:?} vs {truth:?}");
            assert!((u.kappa - kappa).abs() <= 0.1 * kappa, "{u:?} vs {truth:?}");
            assert!((u.lambda - 850.0).abs() <= 85.0, "{u:?}");
            assert!(u.r_squared > 0.999);
            let peak = u.peak_concurrency().unwrap();
            let true_peak = truth.peak_concurrency().unwrap();
            assert!((peak - true_peak).abs() <= 0.1 * true_peak);
        }
    }

    #[test]
    fn noisy_points_still_fit_and_linear_scaling_has_no_peak() {
        let truth = Usl {
            lambda: 500.0,
            sigma: 0.1,
            kappa: 0.002,
            r_squared: 1.0,
        };
        // ±3% alternating noise.
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (
                    n,
                    truth.throughput(n) * if i % 2 == 0 { 1.03 } else { 0.97 },
                )
            })
            .collect();
        let u = fit(&pts).unwrap();
        assert!(u.r_squared > 0.9, "{u:?}");
        assert!(
            (u.sigma - 0.1).abs() < 0.05 && (u.kappa - 0.002).abs() < 0.001,
            "{u:?}"
        );

        let linear: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&n| (n, 100.0 * n))
            .collect();
        let u = fit(&linear).unwrap();
        assert!(u.sigma < 0.01 && u.kappa < 1e-4, "{u:?}");
        assert!(fit(&linear[..2]).is_none());
    }
}
