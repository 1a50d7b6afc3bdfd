//! The plain data that capabilities hand to `report/`: what a run's record holds beyond the
//! latency rows, in types that import nothing above `report/`. The scenario engine, the
//! cache, the thresholds and the distributed workers each build theirs and hand it over;
//! `summary.json` prints them as their owners' own types would.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::OrderedJson;
use crate::config::Worker;

/// The scenario as it ran: what the renderers print of it, and its whole definition for
/// `summary.json` (`json`, written exactly as the scenario's own type writes it).
#[derive(Debug, Clone, Default)]
pub struct ScenarioFacts {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub duration: Duration,
    pub warmup: Duration,
    pub load: LoadFacts,
    /// The pool size of each store the scenario uses: ("postgres", 16), ...
    pub pools: Vec<(&'static str, u32)>,
    /// Each operation's name and query text, in order.
    pub queries: Vec<(String, String)>,
    pub json: OrderedJson,
}

impl Serialize for ScenarioFacts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// The load model, as the reports describe it.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadFacts {
    Open {
        rate: f64,
        ramp_from: f64,
        ramp: Duration,
        max_in_flight: usize,
        poisson: bool,
    },
    Closed {
        users: usize,
        think_time: Duration,
    },
}

impl Default for LoadFacts {
    fn default() -> Self {
        LoadFacts::Closed {
            users: 0,
            think_time: Duration::ZERO,
        }
    }
}

impl LoadFacts {
    pub fn is_open(&self) -> bool {
        matches!(self, LoadFacts::Open { .. })
    }
}

/// One threshold judged on a run (`crate::thresholds` judges it): the threshold as written,
/// normalised, and what was observed.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdVerdict {
    /// `SCOPE.METRIC` with the canonical metric name, e.g. `appointments_today.p99_all`.
    pub key: String,
    /// The comparison: "<", "<=", ">" or ">=".
    pub op: &'static str,
    /// Normalised: microseconds for latencies, a fraction for rates.
    pub value: f64,
    /// What `value` is in: "us", "fraction", "count" or "ops/s".
    pub unit: &'static str,
    /// The expression as written, e.g. "< 15ms".
    pub text: String,
    /// Where it was given: `file:line` or `--threshold`.
    pub source: String,
    /// The observed value in the threshold's unit; null when the run has nothing to judge
    /// it on (no arrivals of the operation, no intended arrivals), which fails.
    pub observed: Option<f64>,
    /// The observed value as shown in the reports ("17.204ms", "0.120%", "no data").
    pub observed_text: String,
    pub pass: bool,
}

impl ThresholdVerdict {
    /// "appointments_today.p99_all < 15ms: observed 17.204ms, FAILED".
    pub fn line(&self) -> String {
        format!(
            "{} {}: observed {}, {}",
            self.key,
            self.text,
            self.observed_text,
            if self.pass { "passed" } else { "FAILED" }
        )
    }
}

/// The schedule cache's section (`crate::cache` measures it): its rows as the reports show
/// them, and its figures for `summary.json`.
#[derive(Debug, Clone, Default)]
pub struct CacheSection {
    /// The cache variant's name.
    pub name: String,
    /// (metric, value) rows of the section's table.
    pub rows: Vec<(&'static str, String)>,
    pub json: OrderedJson,
}

impl Serialize for CacheSection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// One second of the measured window, for the charts over time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntervalPoint {
    /// Seconds from the start of the measured window to the end of this interval.
    pub t: f64,
    pub seconds: f64,
    /// Arrivals that ended in this interval: ok, no-op and errors.
    pub ops: u64,
    /// Failed, timed out, missed and abandoned arrivals that ended in this interval.
    pub errors: u64,
    /// Writes that changed nothing.
    pub noop: u64,
    /// Latency of the successful operations of the interval.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// (label, count, p99) per operation label.
    pub per_op: Vec<(String, u64, u64)>,
    /// (label, p50) per operation label, of the successful operations `per_op` counts:
    /// what the steadiness check compares (absent in older summaries).
    #[serde(default)]
    pub per_op_p50: Vec<(String, u64)>,
}

/// How the warm-up went: fixed, or `warmup = "auto"` (warmed until every operation's
/// per-second p50 was stable, `crate::scenario::steady`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WarmupFacts {
    /// Warmed until stable (`warmup = "auto"`, `--warmup auto`) rather than for a fixed time.
    pub auto: bool,
    /// How long the warm-up lasted, in seconds.
    pub seconds: f64,
    /// Auto: the longest it could last (`warmup_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_s: Option<f64>,
    /// Auto: whether it ended because its criterion was met (false: the cap ended it, or
    /// the run was stopped first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<bool>,
    /// Auto: the cap ended it before the criterion was met (a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_cap: Option<bool>,
    /// Auto: the criterion, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<String>,
    /// Auto: the series judged last (operation labels, or "overall" when no operation had
    /// enough arrivals a second), and those that had arrivals but too few to judge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judged: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
    /// Auto, cap reached: the series still not stable then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unstable: Vec<String>,
}

impl WarmupFacts {
    /// A fixed warm-up of `d`.
    pub fn fixed(d: Duration) -> WarmupFacts {
        WarmupFacts {
            seconds: d.as_secs_f64(),
            ..WarmupFacts::default()
        }
    }

    /// "warm-up: auto, 4.0 s, criterion reached (at most 60 s): ..." for an auto warm-up.
    pub fn auto_line(&self) -> Option<String> {
        if !self.auto {
            return None;
        }
        let outcome = if self.reached == Some(true) {
            "criterion reached"
        } else if self.hit_cap == Some(true) {
            "CAP HIT before it was stable"
        } else {
            "stopped before it was stable"
        };
        Some(format!(
            "warm-up: auto, {:.1} s, {outcome} (at most {:.0} s; {})",
            self.seconds,
            self.max_s.unwrap_or(0.0),
            self.criterion.as_deref().unwrap_or("")
        ))
    }

    /// The warning of an auto warm-up that its cap ended before it was stable.
    pub fn cap_warning(&self) -> Option<String> {
        if !self.auto || self.hit_cap != Some(true) {
            return None;
        }
        let (still, advice) = if self.unstable.is_empty() {
            (
                "too few successful operations a second to judge any".to_string(),
                "give a fixed warm-up, or a higher rate",
            )
        } else {
            (
                format!("still changing: {}", self.unstable.join(", ")),
                "raise warmup_max, or lower the rate if the servers cannot keep up with it",
            )
        };
        Some(format!(
            "the auto warm-up hit its cap of {:.0} s before every operation's per-second p50 was stable ({still}): the measured window may still be warming up; {advice}",
            self.max_s.unwrap_or(self.seconds)
        ))
    }
}

/// Whether the measured window still trended (`crate::scenario::steady` judges it): each
/// operation's median per-second p50 over the first half of the window against the second.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Steadiness {
    /// A drift is a second-half / first-half ratio above `bound` or below 1 / `bound`.
    pub bound: f64,
    /// What an operation needs to be judged: this many one-second intervals in each half,
    /// each with at least `min_ok_per_interval` successful operations.
    pub min_intervals_per_half: usize,
    pub min_ok_per_interval: u64,
    /// Operations judged, and those with arrivals but too little data to judge.
    pub judged: Vec<String>,
    pub not_judged: Vec<String>,
    /// The judged operations that drifted beyond the bound.
    pub drifting: Vec<Drift>,
    /// Why the run as a whole was not judged, or how it was (a merged run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The run warmed up with `warmup = "auto"` (the advice differs).
    #[serde(default)]
    pub auto_warmup: bool,
}

/// One operation whose per-second p50 drifted from the first half of the window to the second.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Drift {
    pub op: String,
    /// Median of the per-second p50s of each half (µs).
    pub first_p50_us: u64,
    pub second_p50_us: u64,
    /// second / first.
    pub ratio: f64,
}

/// "290 ms", "3.0 ms", "0.45 ms".
fn ms_text(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

impl Steadiness {
    /// The facts' line: steady, not steady (which operations), or not judged (why).
    pub fn facts_line(&self) -> String {
        let too_little = if self.not_judged.is_empty() {
            String::new()
        } else {
            format!(
                "; {} with too little data (fewer than {} one-second intervals a half with {}+ successful operations)",
                self.not_judged.len(),
                self.min_intervals_per_half,
                self.min_ok_per_interval
            )
        };
        let how = format!(
            "median per-second p50, first half of the window against the second, bound x{}",
            self.bound
        );
        let mut line = if let (true, Some(n)) = (self.judged.is_empty(), &self.note) {
            return format!("steadiness: {n}");
        } else if self.judged.is_empty() {
            format!("steadiness: not judged{too_little}")
        } else if self.drifting.is_empty() {
            format!(
                "steadiness: steady, {} of {} operations judged ({how}){too_little}",
                self.judged.len(),
                self.judged.len() + self.not_judged.len()
            )
        } else {
            let ops: Vec<String> = self
                .drifting
                .iter()
                .map(|d| format!("{} x{:.2}", d.op, d.ratio))
                .collect();
            format!(
                "steadiness: NOT STEADY, {} of {} judged operations drifted: {} ({how}){too_little}",
                self.drifting.len(),
                self.judged.len(),
                ops.join(", ")
            )
        };
        if let Some(n) = &self.note {
            line.push_str(&format!("; {n}"));
        }
        line
    }

    /// The line every report shows when the window trended: which operations, from what to
    /// what, the bound, and what to do.
    pub fn not_steady_line(&self) -> Option<String> {
        if self.drifting.is_empty() {
            return None;
        }
        const SHOWN: usize = 3;
        let mut ops: Vec<String> = self
            .drifting
            .iter()
            .take(SHOWN)
            .map(|d| {
                format!(
                    "{} p50 {} -> {}",
                    d.op,
                    ms_text(d.first_p50_us),
                    ms_text(d.second_p50_us)
                )
            })
            .collect();
        if self.drifting.len() > SHOWN {
            ops.push(format!("and {} more", self.drifting.len() - SHOWN));
        }
        let down = self.drifting.iter().all(|d| d.ratio < 1.0);
        let up = self.drifting.iter().all(|d| d.ratio > 1.0);
        let why = if down && self.auto_warmup {
            "the first half was still warming up although the auto warm-up had ended; lengthen warmup (a fixed one) or raise warmup_max"
        } else if down {
            "the first half was still warming up; lengthen warmup or use warmup = \"auto\""
        } else if up {
            "latency rose during the window: more load than the servers sustain, or something changed during the run; lower the rate or look for what else ran"
        } else {
            "the window trended both ways: its figures describe neither state; look for what changed during the run"
        };
        Some(format!(
            "NOT STEADY: {} from the first half of the measured window to the second (bound x{}): {why}",
            ops.join(", "),
            self.bound
        ))
    }
}

/// The dataset's identity, from `clinicload_meta.dataset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub fingerprint: String,
    pub seed: i64,
    pub as_of: String,
}

/// A distributed worker's clock against the PostgreSQL server's: offset (server minus local,
/// ms) and the round trip it was measured over (the offset's uncertainty is half of it). The
/// best of five round trips.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ClockCheck {
    pub offset_ms: f64,
    pub rtt_ms: f64,
}

/// What a worker adds to its run: who it was and how its clock and start went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerFacts {
    pub worker: Worker,
    /// The common start, when given.
    pub start_at: Option<String>,
    /// How late the worker reached the common start (ms; 0 when it waited for it).
    pub late_ms: f64,
    pub clock: Option<ClockCheck>,
    /// Start of the measured window, ms since the epoch on the server's clock (local clock
    /// corrected by the measured offset).
    pub window_start_ms: f64,
}

/// A merged run's row per worker (`clinicload merge`).
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    pub worker: Worker,
    pub dir: String,
    pub ok: u64,
    pub achieved_rate: f64,
    pub p99_us: u64,
    pub late_ms: f64,
    pub clock_offset_ms: Option<f64>,
    /// Its window's start against the earliest worker's (server clock, ms).
    pub window_skew_ms: f64,
    pub complete: bool,
}
