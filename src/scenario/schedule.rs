//! The arrival schedule, as pure functions: when arrival `i` is intended to start (rate and
//! ramp) and which operation it runs (the weighted mix as a cycle). The runner executes this
//! schedule; validation and property tests compute it without executing anything.

use std::time::Duration;

/// Intended start of arrival `i` (seconds from t0) for a rate ramping linearly from
/// `from` to `rate` over `ramp`, then constant.
///
/// For the inputs validation accepts (`rate` in [MIN_RATE, MAX_RATE], `0 <= from <= rate`,
/// `ramp` at most 7 days) the result is finite, never negative and non-decreasing in `i`.
/// The ramp uses the rationalised root `2i / (from + sqrt(from² + 4ai))`, which, unlike
/// `(sqrt(from² + 4ai) - from) / 2a`, loses no precision when `from` is close to `rate`.
pub fn intended_offset(i: u64, rate: f64, from: f64, ramp: Duration) -> f64 {
    if i == 0 {
        return 0.0;
    }
    let i = i as f64;
    let r = ramp.as_secs_f64();
    if r <= 0.0 || from >= rate {
        return i / rate;
    }
    let a = (rate - from) / (2.0 * r);
    let n_ramp = ramp_arrivals(rate, from, r);
    if i < n_ramp {
        // a t² + from t - i = 0; clamped so rounding never puts it past the ramp's end.
        (2.0 * i / (from + (from * from + 4.0 * a * i).sqrt())).min(r)
    } else {
        r + (i - n_ramp) / rate
    }
}

/// How arrivals are spaced in the open model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly spaced: arrival i at the time the rate's integral reaches i.
    #[default]
    Uniform,
    /// A Poisson process of the same rate (exponential gaps, seeded): real traffic's
    /// bunching, which evenly spaced arrivals hide from a knee.
    Poisson,
}

/// Offset (seconds from t0) at which the rate's integral reaches `s` (a real number):
/// [`intended_offset`] for a non-integer count, what a Poisson arrival's cumulative
/// unit-exponential sum is mapped through (time rescaling of a non-homogeneous process).
pub fn offset_of_count(s: f64, rate: f64, from: f64, ramp: Duration) -> f64 {
    if s <= 0.0 {
        return 0.0;
    }
    let r = ramp.as_secs_f64();
    if r <= 0.0 || from >= rate {
        return s / rate;
    }
    let a = (rate - from) / (2.0 * r);
    let n_ramp = ramp_arrivals(rate, from, r);
    if s < n_ramp {
        (2.0 * s / (from + (from * from + 4.0 * a * s).sqrt())).min(r)
    } else {
        r + (s - n_ramp) / rate
    }
}

/// The arrivals of an open-model run in order, as (index, intended offset from t0):
/// uniform ones from [`intended_at`], Poisson ones from a seeded stream of exponential gaps,
/// so every pass over the same schedule (the scheduler's, the count of the window's
/// arrivals, the planning of write pools) sees the same arrivals.
#[derive(Debug, Clone)]
pub struct ArrivalClock {
    kind: Arrivals,
    rate: f64,
    from: f64,
    ramp: Duration,
    rng: rand::rngs::SmallRng,
    sum: f64,
    next: u64,
}

impl ArrivalClock {
    pub fn new(kind: Arrivals, rate: f64, from: f64, ramp: Duration, seed: u64) -> ArrivalClock {
        use rand::SeedableRng;
        ArrivalClock {
            kind,
            rate,
            from,
            ramp,
            // Its own stream, apart from the workers' parameter draws.
            rng: rand::rngs::SmallRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            sum: 0.0,
            next: 0,
        }
    }
}

impl Iterator for ArrivalClock {
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        let i = self.next;
        self.next += 1;
        let at = match self.kind {
            Arrivals::Uniform => intended_at(i, self.rate, self.from, self.ramp),
            Arrivals::Poisson => {
                use rand::Rng;
                let u: f64 = self.rng.gen();
                self.sum += -(1.0 - u).ln();
                let s = offset_of_count(self.sum, self.rate, self.from, self.ramp);
                if s.is_finite() && s >= 0.0 {
                    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
                } else {
                    Duration::MAX
                }
            }
        };
        Some((i, at))
    }
}

/// `[first, end)` arrival indices of the window `[from_t, to_t)` of a schedule, by walking
/// the clock (exact for Poisson arrivals, whose count is not a formula).
pub fn window_by_clock(clock: ArrivalClock, from_t: Duration, to_t: Duration) -> (u64, u64) {
    let mut first = None;
    for (i, at) in clock {
        if at >= to_t {
            return (first.unwrap_or(i), i);
        }
        if first.is_none() && at >= from_t {
            first = Some(i);
        }
    }
    unreachable!("the clock never ends")
}

/// Intended start of arrival `i` as a duration from t0: what the runner's scheduler waits
/// for, and what [`first_arrival_at_or_after`] compares against, so the two agree exactly.
pub fn intended_at(i: u64, rate: f64, from: f64, ramp: Duration) -> Duration {
    let s = intended_offset(i, rate, from, ramp);
    if s.is_finite() && s >= 0.0 {
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    } else {
        Duration::MAX
    }
}

/// Index of the first arrival intended at or after `t` (so arrivals `0..result` are
/// intended before `t`).
pub fn first_arrival_at_or_after(t: Duration, rate: f64, from: f64, ramp: Duration) -> u64 {
    if t.is_zero() {
        return 0;
    }
    // Estimate from the integral of the rate, then step to the exact boundary.
    let ts = t.as_secs_f64();
    let r = ramp.as_secs_f64();
    let est = if r > 0.0 && ts < r {
        from * ts + (rate - from) / (2.0 * r) * ts * ts
    } else if r > 0.0 {
        from * r + (rate - from) / 2.0 * r + (ts - r) * rate
    } else {
        ts * rate
    };
    let mut i = if est.is_finite() && est > 0.0 {
        est.min(u64::MAX as f64 / 2.0).ceil() as u64
    } else {
        0
    };
    while i > 0 && intended_at(i - 1, rate, from, ramp) >= t {
        i -= 1;
    }
    while intended_at(i, rate, from, ramp) < t {
        i += 1;
    }
    i
}

/// How many arrivals are intended in `[from_t, to_t)` (the measured window: from the end of
/// the warm-up to the end of the run), computed from the rate and ramp alone.
pub fn intended_in_window(
    from_t: Duration,
    to_t: Duration,
    rate: f64,
    ramp_from: f64,
    ramp: Duration,
) -> u64 {
    if to_t <= from_t {
        return 0;
    }
    first_arrival_at_or_after(to_t, rate, ramp_from, ramp)
        - first_arrival_at_or_after(from_t, rate, ramp_from, ramp)
}

/// How many of the arrivals `lo..hi` run operation `op`, given the mix cycle.
pub fn arrivals_of_op(mix: &[usize], op: usize, lo: u64, hi: u64) -> u64 {
    if hi <= lo || mix.is_empty() {
        return 0;
    }
    let n = mix.len() as u64;
    let per_cycle = mix.iter().filter(|&&m| m == op).count() as u64;
    // Arrivals 0..k of operation op.
    let upto = |k: u64| {
        (k / n) * per_cycle + mix[..(k % n) as usize].iter().filter(|&&m| m == op).count() as u64
    };
    upto(hi) - upto(lo)
}

/// Arrivals intended during a ramp of `r` seconds (the area under the rate).
fn ramp_arrivals(rate: f64, from: f64, r: f64) -> f64 {
    r * (from + rate) / 2.0
}

/// How many arrivals are intended to start before `t` seconds from t0: the `n` with
/// `intended_offset(n - 1) < t <= intended_offset(n)`, in the same f64 seconds as
/// [`intended_offset`] (the runner's own count, [`first_arrival_at_or_after`], works on
/// `Duration`s). Closed form, then settled against `intended_offset` itself, so it costs the
/// same for a 7-day run as for a 1-second one.
pub fn arrivals_before(t: f64, rate: f64, from: f64, ramp: Duration) -> u64 {
    if t.is_nan() || t <= 0.0 {
        return 0;
    }
    let r = ramp.as_secs_f64();
    let estimate = if r <= 0.0 || from >= rate {
        t * rate
    } else if t <= r {
        from * t + (rate - from) / (2.0 * r) * t * t
    } else {
        ramp_arrivals(rate, from, r) + (t - r) * rate
    };
    // Float to integer casts saturate; u64::MAX arrivals would never be reached anyway.
    let mut n = estimate.max(0.0).ceil() as u64;
    while n > 0 && intended_offset(n - 1, rate, from, ramp) >= t {
        n -= 1;
    }
    while n < u64::MAX && intended_offset(n, rate, from, ramp) < t {
        n += 1;
    }
    n
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
    fn window_counts_match_the_schedule_one_by_one() {
        for (rate, from, ramp) in [
            (100.0, 100.0, Duration::ZERO),
            (300.0, 50.0, Duration::from_secs(3)),
            (7.3, 0.0, Duration::from_millis(1500)),
            (1000.0, 2000.0, Duration::from_secs(2)),
        ] {
            for (a, b) in [(0.0, 5.0), (0.5, 4.0), (2.9, 3.1), (1.0, 1.0)] {
                let (a, b) = (Duration::from_secs_f64(a), Duration::from_secs_f64(b));
                let brute = (0..100_000u64)
                    .map(|i| intended_at(i, rate, from, ramp))
                    .filter(|t| *t >= a && *t < b)
                    .count() as u64;
                assert_eq!(
                    intended_in_window(a, b, rate, from, ramp),
                    brute,
                    "{rate} {from} {ramp:?} {a:?}..{b:?}"
                );
            }
        }
        // The ramp counts: 0 -> 100/s over 10 s is 500 arrivals, not 1000.
        assert_eq!(
            intended_in_window(
                Duration::ZERO,
                Duration::from_secs(10),
                100.0,
                0.0,
                Duration::from_secs(10)
            ),
            500
        );
    }

    #[test]
    fn arrivals_per_op_follow_the_cycle() {
        let mix = mix_cycle(&[4, 1, 2]);
        for (lo, hi) in [(0, 7), (3, 30), (5, 6), (10, 10), (1, 1000)] {
            let total: u64 = (0..3).map(|op| arrivals_of_op(&mix, op, lo, hi)).sum();
            assert_eq!(total, hi - lo);
            for op in 0..3 {
                let brute = (lo..hi).filter(|i| mix[(*i % 7) as usize] == op).count() as u64;
                assert_eq!(arrivals_of_op(&mix, op, lo, hi), brute);
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
        assert_eq!(arrivals_before(10.0, 100.0, 0.0, ramp), 500);
        assert_eq!(arrivals_before(11.0, 100.0, 0.0, ramp), 600);
        assert_eq!(arrivals_before(2.5, 100.0, 100.0, Duration::ZERO), 250);
        // monotonic
        let mut last = -1.0;
        for i in 0..2000 {
            let t = intended_offset(i, 100.0, 10.0, ramp);
            assert!(t > last);
            last = t;
        }
    }

    #[test]
    fn ramp_from_next_to_rate_is_precise_and_monotonic() {
        // The textbook root cancels catastrophically here: every offset collapsed to 0.
        let ramp = Duration::from_secs(600_000);
        let rate = 1e6;
        let from = rate * (1.0 - f64::EPSILON);
        let mut last = 0.0;
        for i in (0..5_000_000_000u64).step_by(7_919_993) {
            let t = intended_offset(i, rate, from, ramp);
            assert!((t - i as f64 / rate).abs() <= 1e-6 * (1.0 + t), "{i}: {t}");
            assert!(t >= last);
            last = t;
        }
    }
}

#[cfg(test)]
mod poisson_tests {
    use super::*;

    #[test]
    fn poisson_arrivals_keep_the_rate_and_are_reproducible() {
        let rate = 500.0;
        let clock = || ArrivalClock::new(Arrivals::Poisson, rate, 0.0, Duration::ZERO, 7);
        let (lo, hi) = window_by_clock(clock(), Duration::ZERO, Duration::from_secs(200));
        let n = (hi - lo) as f64;
        // 100,000 expected, standard deviation about 316.
        assert!((n - 100_000.0).abs() < 1_500.0, "{n}");
        let a: Vec<_> = clock().take(1000).collect();
        let b: Vec<_> = clock().take(1000).collect();
        assert_eq!(a, b);
        // Gaps are exponential: their coefficient of variation is about 1 (0 for uniform).
        let gaps: Vec<f64> = a
            .windows(2)
            .map(|w| (w[1].1 - w[0].1).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((0.85..1.15).contains(&cv), "{cv}");
        assert!((mean * rate - 1.0).abs() < 0.1, "{mean}");
        // Uniform through the clock is the closed form.
        let u: Vec<_> = ArrivalClock::new(Arrivals::Uniform, rate, 0.0, Duration::ZERO, 7)
            .take(5)
            .collect();
        assert_eq!(u[3].1, intended_at(3, rate, 0.0, Duration::ZERO));
    }

    #[test]
    fn poisson_arrivals_follow_a_ramp() {
        let ramp = Duration::from_secs(100);
        let clock = ArrivalClock::new(Arrivals::Poisson, 400.0, 0.0, ramp, 3);
        // Over a linear ramp from 0 to 400/s, the first half holds a quarter of the arrivals.
        let (_, half) = window_by_clock(clock.clone(), Duration::ZERO, Duration::from_secs(50));
        let (_, all) = window_by_clock(clock, Duration::ZERO, ramp);
        let share = half as f64 / all as f64;
        assert!((share - 0.25).abs() < 0.02, "{share}");
    }
}
