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
