//! Is the load steady? Two judgements over per-second p50s, kept pure so that they can be
//! tested on families of synthetic series:
//!
//! * **the auto warm-up's criterion** ([`warm_verdict`], `warmup = "auto"`): the last
//!   [`WARM_SECONDS`] one-second intervals of every operation with at least
//!   [`MIN_OK_PER_INTERVAL`] successful operations in each of them have a p50 within
//!   ±[`WARM_TOLERANCE`] of their median. Operations with fewer are not judged; when no
//!   operation has enough, the overall p50 (all operations) is judged instead, and when even
//!   that has too few, the warm-up cannot be judged and runs to its cap. It lasts at least
//!   [`WARM_SECONDS`] and at most `warmup_max` ([`DEFAULT_WARMUP_MAX`]).
//! * **the measured window's steadiness** ([`judge`]): for each operation with at least
//!   [`MIN_INTERVALS_PER_HALF`] one-second intervals in each half of the window, each with at
//!   least [`MIN_OK_PER_INTERVAL`] successful operations, the median of its per-second p50s
//!   over the first half against the second. A ratio beyond [`DRIFT_BOUND`] (up or down) is a
//!   drift, and a run with a drifting operation is "not steady".
//!
//! Medians of per-second p50s, not the p50 of each half, so that a few odd seconds (a
//! neighbour's burst, a checkpoint) do not make a trend: half of a half's seconds must move.

use std::time::Duration;

use crate::report::{Drift, IntervalPoint, Steadiness};

/// A drift: the second half's median per-second p50 more than this many times the first's,
/// or less than its 1/this. Chosen large: what it is for (a cold cache or a cold FerretDB,
/// 290 ms against 3 ms) moves p50 by tens of times, and noise on a shared machine moves a
/// median of several seconds' p50 by far less than 2x (docs/scenarios.md has the figures).
pub const DRIFT_BOUND: f64 = 2.0;
/// One-second intervals an operation needs in each half of the window to be judged.
pub const MIN_INTERVALS_PER_HALF: usize = 5;
/// Successful operations an interval needs for its p50 to count (both judgements).
pub const MIN_OK_PER_INTERVAL: u64 = 5;

/// The auto warm-up compares the p50s of this many last one-second intervals; it is also
/// the shortest auto warm-up, in seconds.
pub const WARM_SECONDS: usize = 3;
/// ... each within this fraction of their median.
pub const WARM_TOLERANCE: f64 = 0.25;
/// The longest auto warm-up unless `warmup_max` says otherwise.
pub const DEFAULT_WARMUP_MAX: Duration = Duration::from_secs(60);

/// The auto warm-up's criterion in words, for the reports.
pub fn warm_criterion() -> String {
    format!(
        "ends when the p50s of the last {WARM_SECONDS} one-second intervals of every operation with at least {MIN_OK_PER_INTERVAL} successful operations in each are within ±{:.0}% of their median (the overall p50 when no operation has that many)",
        WARM_TOLERANCE * 100.0
    )
}

/// One second of warm-up: per label (label, successful operations, p50 µs), and overall
/// (successful operations, p50 µs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarmSecond {
    pub per_op: Vec<(String, u64, u64)>,
    pub overall: (u64, u64),
}

/// What the auto warm-up's criterion says after a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarmVerdict {
    /// Every judged series is stable, and at least one was judged.
    pub stable: bool,
    /// The series judged: operation labels, or "overall".
    pub judged: Vec<String>,
    /// Labels with successful operations in the last seconds, but too few to judge.
    pub not_judged: Vec<String>,
    /// Judged series whose p50s are not yet within the tolerance.
    pub unstable: Vec<String>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Every value within `WARM_TOLERANCE` of the values' median.
fn within_tolerance(p50s: &[u64]) -> bool {
    let mut v: Vec<f64> = p50s.iter().map(|p| *p as f64).collect();
    let m = median(&mut v);
    v.iter().all(|p| (p - m).abs() <= WARM_TOLERANCE * m)
}

/// The auto warm-up's criterion over the seconds so far (oldest first).
pub fn warm_verdict(seconds: &[WarmSecond]) -> WarmVerdict {
    let mut out = WarmVerdict::default();
    if seconds.len() < WARM_SECONDS {
        return out;
    }
    let last = &seconds[seconds.len() - WARM_SECONDS..];
    let mut labels: Vec<&str> = Vec::new();
    for s in last {
        for (l, n, _) in &s.per_op {
            if *n > 0 && !labels.contains(&l.as_str()) {
                labels.push(l);
            }
        }
    }
    for label in labels {
        let points: Vec<(u64, u64)> = last
            .iter()
            .map(|s| {
                s.per_op
                    .iter()
                    .find(|(l, _, _)| l == label)
                    .map_or((0, 0), |(_, n, p)| (*n, *p))
            })
            .collect();
        if points.iter().any(|(n, _)| *n < MIN_OK_PER_INTERVAL) {
            out.not_judged.push(label.to_string());
            continue;
        }
        out.judged.push(label.to_string());
        let p50s: Vec<u64> = points.iter().map(|(_, p)| *p).collect();
        if !within_tolerance(&p50s) {
            out.unstable.push(label.to_string());
        }
    }
    if out.judged.is_empty() && last.iter().all(|s| s.overall.0 >= MIN_OK_PER_INTERVAL) {
        out.judged.push("overall".into());
        let p50s: Vec<u64> = last.iter().map(|s| s.overall.1).collect();
        if !within_tolerance(&p50s) {
            out.unstable.push("overall".into());
        }
    }
    out.stable = !out.judged.is_empty() && out.unstable.is_empty();
    out
}

/// Judges the measured window's intervals. `not_judged_because` (e.g. the load ramps
/// during the window) skips the judgement and says why; `auto_warmup` changes the advice.
pub fn judge(
    intervals: &[IntervalPoint],
    not_judged_because: Option<String>,
    auto_warmup: bool,
) -> Steadiness {
    let mut out = Steadiness {
        bound: DRIFT_BOUND,
        min_intervals_per_half: MIN_INTERVALS_PER_HALF,
        min_ok_per_interval: MIN_OK_PER_INTERVAL,
        auto_warmup,
        ..Steadiness::default()
    };
    let mut labels: Vec<&str> = Vec::new();
    for p in intervals {
        for (l, n, _) in &p.per_op {
            if *n > 0 && !labels.contains(&l.as_str()) {
                labels.push(l);
            }
        }
    }
    if let Some(why) = not_judged_because {
        out.note = Some(why);
        out.not_judged = labels.iter().map(|l| l.to_string()).collect();
        return out;
    }
    let end = intervals.iter().map(|p| p.t).fold(0.0, f64::max);
    let half = end / 2.0;
    const EPS: f64 = 1e-6;
    for label in labels {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for p in intervals {
            let n = p.per_op.iter().find(|x| x.0 == label).map_or(0, |x| x.1);
            let p50 = p.per_op_p50.iter().find(|x| x.0 == label).map(|x| x.1);
            let Some(p50) = p50.filter(|_| n >= MIN_OK_PER_INTERVAL) else {
                continue;
            };
            if p.t <= half + EPS {
                first.push(p50 as f64);
            } else if p.t - p.seconds >= half - EPS {
                second.push(p50 as f64);
            }
        }
        if first.len() < MIN_INTERVALS_PER_HALF || second.len() < MIN_INTERVALS_PER_HALF {
            out.not_judged.push(label.to_string());
            continue;
        }
        out.judged.push(label.to_string());
        let (a, b) = (median(&mut first).max(1.0), median(&mut second).max(1.0));
        let ratio = b / a;
        if !(1.0 / DRIFT_BOUND..=DRIFT_BOUND).contains(&ratio) {
            out.drifting.push(Drift {
                op: label.to_string(),
                first_p50_us: a.round() as u64,
                second_p50_us: b.round() as u64,
                ratio,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// A standard normal draw (Box-Muller).
    fn normal(rng: &mut SmallRng) -> f64 {
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        let v: f64 = rng.gen();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// A window of `secs` one-second intervals of one operation "op", `n` successful
    /// operations a second, the p50 of second `i` (0-based) given by `p50`.
    fn window(secs: usize, n: u64, mut p50: impl FnMut(usize) -> f64) -> Vec<IntervalPoint> {
        (0..secs)
            .map(|i| {
                let p = p50(i).max(1.0).round() as u64;
                IntervalPoint {
                    t: (i + 1) as f64,
                    seconds: 1.0,
                    ops: n,
                    errors: 0,
                    noop: 0,
                    p50_us: p,
                    p99_us: p * 3,
                    max_us: p * 5,
                    per_op: vec![("op".into(), n, p * 3)],
                    per_op_p50: vec![("op".into(), p)],
                }
            })
            .collect()
    }

    /// Multiplicative noise: each second's p50 is `base * exp(sigma * N(0,1))` and, with
    /// probability `spikes`, three times that (a neighbour's burst). The machine this was
    /// written on showed a sigma of about 0.1 and rare spikes of 1.5x on a PostgreSQL read.
    fn noisy(rng: &mut SmallRng, base: f64, sigma: f64, spikes: f64) -> f64 {
        let spike = if rng.gen_bool(spikes) { 3.0 } else { 1.0 };
        base * (sigma * normal(rng)).exp() * spike
    }

    #[test]
    fn flat_noisy_series_are_not_flagged_across_many_seeds() {
        // Lognormal noise (sigma 0.15) on windows of 10 to 59 s; then also 3x spikes in one
        // second of twenty on windows of 20 s or more (ten seconds a half, of which half
        // must be spikes to move a half's median).
        for (spikes, shortest) in [(0.0, 10), (0.05, 20)] {
            let mut judged = 0;
            for seed in 0..3000u64 {
                let mut rng = SmallRng::seed_from_u64(seed);
                let base = [400.0, 3_000.0, 50_000.0][seed as usize % 3];
                let secs = shortest + (seed as usize % 50);
                let w = window(secs, 20, |_| noisy(&mut rng, base, 0.15, spikes));
                let s = judge(&w, None, false);
                assert!(
                    s.drifting.is_empty(),
                    "seed {seed}, spikes {spikes}: flagged {:?}",
                    s.drifting
                );
                assert_eq!(s.not_steady_line(), None);
                judged += s.judged.len();
            }
            assert_eq!(judged, 3000, "every window of 10 s or more is judged");
        }
    }

    #[test]
    fn steps_beyond_the_bound_are_flagged_either_way() {
        for seed in 0..500u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let factor = [2.5, 5.0, 100.0][seed as usize % 3];
            let down = seed % 2 == 0;
            let secs = 10 + (seed as usize % 40);
            // The step at a random point of the middle half: most of each half is one level.
            let at = secs / 2 + (seed as usize % 3) - 1;
            let (before, after) = if down {
                (3_000.0 * factor, 3_000.0)
            } else {
                (3_000.0, 3_000.0 * factor)
            };
            let w = window(secs, 20, |i| {
                let level = if i < at { before } else { after };
                level * (0.05 * normal(&mut rng)).exp()
            });
            let s = judge(&w, None, false);
            assert_eq!(
                s.drifting.len(),
                1,
                "seed {seed}: step x{factor} not flagged"
            );
            let d = &s.drifting[0];
            assert_eq!(d.ratio < 1.0, down, "seed {seed}: direction");
            let line = s.not_steady_line().unwrap();
            assert!(line.starts_with("NOT STEADY: op p50 "), "{line}");
            assert!(line.contains("(bound x2)"), "{line}");
        }
    }

    #[test]
    fn geometric_ramps_beyond_the_bound_are_flagged_and_gentle_ones_are_not() {
        // A ramp from b to b*k, log-linear over the window: half medians k^(1/4) and
        // k^(3/4), a ratio of sqrt(k).
        for seed in 0..300u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let secs = 10 + (seed as usize % 40);
            for (k, flagged) in [(9.0, true), (100.0, true), (1.0 / 25.0, true), (2.0, false)] {
                let w = window(secs, 30, |i| {
                    let x = (i as f64 + 0.5) / secs as f64;
                    2_000.0 * f64::powf(k, x) * (0.03 * normal(&mut rng)).exp()
                });
                let s = judge(&w, None, false);
                assert_eq!(!s.drifting.is_empty(), flagged, "seed {seed}, ramp x{k}");
            }
        }
    }

    #[test]
    fn too_little_data_is_not_judged() {
        // Too short a window: fewer than 5 intervals a half.
        let s = judge(&window(9, 50, |i| 100_000.0 / (i + 1) as f64), None, false);
        assert!(s.judged.is_empty() && s.drifting.is_empty());
        assert_eq!(s.not_judged, vec!["op".to_string()]);
        // Too few successful operations a second, however long and however it trends.
        let s = judge(&window(60, 4, |i| 100_000.0 / (i + 1) as f64), None, false);
        assert!(s.judged.is_empty() && s.drifting.is_empty());
        assert_eq!(s.not_judged, vec!["op".to_string()]);
        // Summaries written before per-operation p50s were kept: nothing to judge.
        let mut old = window(60, 50, |i| 100_000.0 / (i + 1) as f64);
        for p in &mut old {
            p.per_op_p50.clear();
        }
        assert!(judge(&old, None, false).drifting.is_empty());
        // A reason not to judge (a ramp in the window) is kept.
        let s = judge(
            &window(60, 50, |i| 100_000.0 / (i + 1) as f64),
            Some("ramp".into()),
            false,
        );
        assert!(s.drifting.is_empty() && s.judged.is_empty());
        assert_eq!(s.note.as_deref(), Some("ramp"));
    }

    #[test]
    fn the_line_names_the_operation_the_figures_and_the_advice() {
        let w = window(20, 50, |i| if i < 10 { 290_000.0 } else { 3_000.0 });
        let line = judge(&w, None, false).not_steady_line().unwrap();
        assert_eq!(
            line,
            "NOT STEADY: op p50 290 ms -> 3.0 ms from the first half of the measured window to the second (bound x2): the first half was still warming up; lengthen warmup or use warmup = \"auto\""
        );
        let auto = judge(&w, None, true).not_steady_line().unwrap();
        assert!(auto.contains("raise warmup_max"), "{auto}");
        let up = window(20, 50, |i| if i < 10 { 3_000.0 } else { 30_000.0 });
        let line = judge(&up, None, false).not_steady_line().unwrap();
        assert!(line.contains("latency rose"), "{line}");
    }

    fn seconds(series: &[(&str, u64, &[u64])]) -> Vec<WarmSecond> {
        let len = series.iter().map(|s| s.2.len()).max().unwrap_or(0);
        (0..len)
            .map(|i| WarmSecond {
                per_op: series
                    .iter()
                    .map(|(l, n, p)| (l.to_string(), *n, p[i]))
                    .collect(),
                overall: (
                    series.iter().map(|s| s.1).sum(),
                    series.iter().map(|s| s.2[i]).max().unwrap_or(0),
                ),
            })
            .collect()
    }

    #[test]
    fn warm_up_is_stable_when_the_last_seconds_agree() {
        let s = seconds(&[
            ("a", 20, &[90_000, 20_000, 1_100, 1_000, 1_200]),
            ("b", 10, &[5_000, 3_300, 3_000, 3_100, 2_900]),
        ]);
        assert!(!warm_verdict(&s[..2]).stable, "fewer than 3 seconds");
        let v = warm_verdict(&s[..4]);
        assert!(!v.stable);
        assert_eq!(v.unstable, vec!["a".to_string()]);
        let v = warm_verdict(&s);
        assert!(v.stable, "{v:?}");
        assert_eq!(v.judged, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn warm_up_judges_the_overall_p50_when_no_operation_has_enough() {
        let s = seconds(&[
            ("a", 2, &[9_000, 1_000, 1_000, 1_000]),
            ("b", 3, &[9_000, 5_000, 5_000, 5_000]),
        ]);
        let v = warm_verdict(&s);
        assert_eq!(v.judged, vec!["overall".to_string()]);
        assert_eq!(v.not_judged, vec!["a".to_string(), "b".to_string()]);
        assert!(v.stable, "{v:?}");
        // Too few even overall: never stable (the cap ends the warm-up).
        let s = seconds(&[("a", 1, &[1_000, 1_000, 1_000, 1_000])]);
        let v = warm_verdict(&s);
        assert!(!v.stable && v.judged.is_empty());
    }

    #[test]
    fn warm_up_on_flat_noisy_seconds_ends_soon_and_on_a_decay_does_not() {
        // Flat, noisy (sigma 0.08): within ±25% for three seconds in a row comes within
        // a few seconds.
        let mut worst = 0;
        for seed in 0..500u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let p: Vec<u64> = (0..60)
                .map(|_| (2_000.0 * (0.08 * normal(&mut rng)).exp()) as u64)
                .collect();
            let s = seconds(&[("a", 40, &p)]);
            let at = (WARM_SECONDS..=60)
                .find(|n| warm_verdict(&s[..*n]).stable)
                .unwrap_or(61);
            worst = worst.max(at);
        }
        assert!(worst <= 12, "flat series took {worst} s to be stable");
        // Halving every second: never within ±25% over three seconds.
        let p: Vec<u64> = (0..20).map(|i| 1_000_000 >> i).collect();
        let s = seconds(&[("a", 40, &p)]);
        assert!((WARM_SECONDS..=20).all(|n| !warm_verdict(&s[..n]).stable));
    }
}
