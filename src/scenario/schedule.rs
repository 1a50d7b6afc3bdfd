//! The arrival schedule, as pure functions: when arrival `i` is intended to start (rate and
//! ramp) and which operation it runs (the weighted mix as a cycle). The runner executes this
//! schedule; validation and property tests compute it without executing anything.

use std::time::Duration;

/// Intended start of arrival `i` (seconds from t0) for a rate ramping linearly from
/// `from` to `rate` over `ramp`, then constant.
pub fn intended_offset(i: u64, rate: f64, from: f64, ramp: Duration) -> f64 {
    let i = i as f64;
    let r = ramp.as_secs_f64();
    if r <= 0.0 || (rate - from).abs() < f64::EPSILON {
        return i / rate;
    }
    let a = (rate - from) / (2.0 * r);
    let n_ramp = from * r + a * r * r;
    if i < n_ramp {
        // a t^2 + from t - i = 0
        (-from + (from * from + 4.0 * a * i).sqrt()) / (2.0 * a)
    } else {
        r + (i - n_ramp) / rate
    }
}

/// How many arrivals are intended before `t` seconds (the inverse of [`intended_offset`]):
/// arrivals 0..n start at offsets below `t`.
pub fn arrivals_before(t: f64, rate: f64, from: f64, ramp: Duration) -> f64 {
    if t.is_nan() || rate.is_nan() || t <= 0.0 || rate <= 0.0 {
        return 0.0;
    }
    let r = ramp.as_secs_f64();
    let exact = if r <= 0.0 || (rate - from).abs() < f64::EPSILON {
        t * rate
    } else {
        let a = (rate - from) / (2.0 * r);
        if t <= r {
            from * t + a * t * t
        } else {
            from * r + a * r * r + (t - r) * rate
        }
    };
    exact.ceil()
}

/// The weighted mix as one cycle of `sum(weights)` slots, interleaved by smooth weighted
/// round robin: exact proportions, every operation in every cycle, evenly spread (so even a
/// weight-1 operation runs in a short smoke run).
pub fn mix_cycle(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|w| *w as i64).sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(weights) {
            *c += *w as i64;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .expect("at least one operation");
        current[best] -= total;
        out.push(best);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_cycle_has_exact_proportions_spread_out() {
        let m = mix_cycle(&[4, 1, 2]);
        assert_eq!(m.len(), 7);
        assert_eq!(m.iter().filter(|&&i| i == 0).count(), 4);
        assert_eq!(m.iter().filter(|&&i| i == 1).count(), 1);
        assert_eq!(m.iter().filter(|&&i| i == 2).count(), 2);
        // op 0 never three times in a row
        assert!(!m.windows(3).any(|w| w.iter().all(|&i| i == 0)), "{m:?}");
        assert_eq!(mix_cycle(&[1, 1, 1]), vec![0, 1, 2]);
    }

    #[test]
    fn constant_rate_spacing() {
        assert_eq!(intended_offset(0, 100.0, 100.0, Duration::ZERO), 0.0);
        assert!((intended_offset(250, 100.0, 0.0, Duration::ZERO) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn arrivals_before_inverts_the_offsets() {
        let ramp = Duration::from_secs(10);
        for (rate, from, ramp) in [
            (100.0, 100.0, Duration::ZERO),
            (100.0, 0.0, ramp),
            (50.0, 10.0, ramp),
        ] {
            for t in [0.5, 3.0, 10.0, 12.5] {
                let n = arrivals_before(t, rate, from, ramp) as u64;
                assert!(intended_offset(n.saturating_sub(1), rate, from, ramp) < t + 1e-9);
                assert!(
                    intended_offset(n, rate, from, ramp) >= t - 1e-9,
                    "{rate} {from} {t} {n}"
                );
            }
        }
    }

    #[test]
    fn ramp_integrates_the_rate() {
        // 0 -> 100/s over 10 s: 500 arrivals in the ramp, then 100/s.
        let ramp = Duration::from_secs(10);
        assert!((intended_offset(500, 100.0, 0.0, ramp) - 10.0).abs() < 1e-6);
        assert!((intended_offset(125, 100.0, 0.0, ramp) - 5.0).abs() < 1e-6);
        assert!((intended_offset(600, 100.0, 0.0, ramp) - 11.0).abs() < 1e-6);
        // monotonic
        let mut last = -1.0;
        for i in 0..2000 {
            let t = intended_offset(i, 100.0, 10.0, ramp);
            assert!(t > last);
            last = t;
        }
    }
}
