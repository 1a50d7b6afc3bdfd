//! Reports of a run, in `reports/<run-id>/`: `summary.json` (machine-readable, versioned),
//! `latency.hlog` (HdrHistogram interval log), `summary.md` (a table for a pull request) and
//! `report.html` (self-contained charts), plus the `reports/latest` pointer.
//!
//! Every number carries what produced it: the scenario and its parameters, the dataset
//! fingerprint, server versions, clinicload version and the machine. [`Summary`] is that
//! record; the three renderers only format it.

pub mod compare;
pub mod hlog;
pub mod html;
pub mod json;
pub mod markdown;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::metrics::{Stats, Totals};
use crate::scenario::catalog::DatasetInfo;
use crate::scenario::runner::{label_name, IntervalPoint, RunOutcome, LATE_AFTER};
use crate::scenario::spec::Scenario;

/// Version of the summary.json layout; bumped on any incompatible change.
pub const SCHEMA: &str = "clinicload.summary/1";

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub cpu: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_default();
        Machine {
            cores: num_cpus::get(),
            memory_bytes,
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpu,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorKind {
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unsupported {
    pub server_said: String,
    /// Times the operation was drawn after the server refused it (not executed).
    pub draws: u64,
}

/// One row of the report: an operation, or one of its sub-labels.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub label: String,
    pub name: String,
    pub sub: Option<String>,
    pub store: String,
    pub write: bool,
    pub weight: u32,
    pub count: u64,
    pub errors: u64,
    pub throughput: f64,
    pub rows: u64,
    pub rows_per_op: f64,
    #[serde(flatten)]
    pub stats: Stats,
    pub errors_by_kind: BTreeMap<String, ErrorKind>,
    pub unsupported: Option<Unsupported>,
    /// (percentile, latency µs) pairs for the latency-by-percentile chart.
    #[serde(skip)]
    pub percentiles: Vec<(f64, u64)>,
}

impl OpReport {
    /// The latency table's cells, shared by summary.md and report.html: operation, count,
    /// errors, ops/s, then mean, min, p50, p90, p95, p99, p99.9 and max in milliseconds.
    pub fn table_cells(&self) -> [String; 12] {
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        let st = &self.stats;
        [
            self.label.clone(),
            self.count.to_string(),
            self.errors.to_string(),
            format!("{:.1}", self.throughput),
            format!("{:.3}", st.mean_us / 1000.0),
            ms(st.min_us),
            ms(st.p50_us),
            ms(st.p90_us),
            ms(st.p95_us),
            ms(st.p99_us),
            ms(st.p999_us),
            ms(st.max_us),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    pub measured_s: f64,
    pub interrupted: bool,
    pub target_rate: Option<f64>,
    pub achieved_rate: f64,
    pub intended: u64,
    pub started: u64,
    pub late_starts: u64,
    pub late_after_ms: f64,
    pub missed: u64,
    pub start_delay_p99_us: u64,
    pub start_delay_max_us: u64,
    pub warmup_ops: u64,
    pub warmup_errors: u64,
    pub abandoned: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub run_id: String,
    pub clinicload_version: &'static str,
    pub started_at: String,
    pub scenario: Scenario,
    pub command_line_overrides: BTreeMap<String, String>,
    pub dataset: Option<DatasetInfo>,
    pub servers: BTreeMap<String, String>,
    pub machine: Machine,
    pub run: RunFacts,
    pub overall: OpReport,
    pub operations: Vec<OpReport>,
    pub intervals: Vec<IntervalPoint>,
    pub warnings: Vec<String>,
    pub files: BTreeMap<String, String>,
    /// The schedule cache's figures, when the scenario ran one (`cache::report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::cache::report::CacheReport>,
    /// How the dataset was restored after the run (`crate::restore`); absent when the run
    /// wrote nothing or kept its writes (`--keep-writes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::restore::RestoreReport>,
}

/// Percentiles for the latency-by-percentile chart: 0 .. 99.999 on a 1/(1-p) scale.
pub const CHART_PERCENTILES: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995,
    99.999, 100.0,
];

fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    CHART_PERCENTILES
        .iter()
        .map(|p| (*p, h.value_at_percentile(*p)))
        .collect()
}

/// Assembles the summary from the run's parts.
#[allow(clippy::too_many_arguments)]
pub fn summarize(
    run_id: &str,
    scenario: &Scenario,
    overrides: BTreeMap<String, String>,
    outcome: &RunOutcome,
    totals: &Totals,
    dataset: Option<DatasetInfo>,
    servers: BTreeMap<String, String>,
    warnings: Vec<String>,
) -> Summary {
    let secs = outcome.measured.as_secs_f64().max(1e-9);
    let mut operations = Vec::new();
    for (i, op) in scenario.ops.iter().enumerate() {
        // The op's row merges its sub-labels; the sub-labels follow as their own rows.
        let mut merged = crate::metrics::new_histogram();
        let mut rows = 0;
        let mut errors = 0;
        for s in totals.series.iter().filter(|s| s.label.op == i) {
            let _ = merged.add(&s.total);
            rows += s.rows;
            errors += s.errors;
        }
        let errors_by_kind: BTreeMap<String, ErrorKind> = totals
            .errors
            .iter()
            .filter(|((o, _), _)| *o == i)
            .map(|((_, k), e)| {
                (
                    k.clone(),
                    ErrorKind {
                        count: e.count,
                        example: e.example.clone(),
                    },
                )
            })
            .collect();
        let unsupported = outcome.unsupported[i].as_ref().map(|s| Unsupported {
            server_said: s.clone(),
            draws: outcome.unsupported_draws[i],
        });
        let row = |label: String,
                   sub: Option<String>,
                   h: &hdrhistogram::Histogram<u64>,
                   rows: u64,
                   errors: u64| OpReport {
            label,
            name: op.name().to_string(),
            sub,
            store: format!("{:?}", op.def.store).to_lowercase(),
            write: op.def.write,
            weight: op.weight,
            count: h.len(),
            errors,
            throughput: h.len() as f64 / secs,
            rows,
            rows_per_op: if h.is_empty() {
                0.0
            } else {
                rows as f64 / h.len() as f64
            },
            stats: Stats::of(h),
            errors_by_kind: BTreeMap::new(),
            unsupported: None,
            percentiles: percentiles(h),
        };
        let mut main = row(op.name().to_string(), None, &merged, rows, errors);
        main.errors_by_kind = errors_by_kind;
        main.unsupported = unsupported;
        operations.push(main);
        for s in totals
            .series
            .iter()
            .filter(|s| s.label.op == i && s.label.sub.is_some())
        {
            operations.push(row(
                label_name(scenario, s.label),
                s.label.sub.map(str::to_string),
                &s.total,
                s.rows,
                s.errors,
            ));
        }
    }
    let total_errors: u64 = totals.series.iter().map(|s| s.errors).sum();
    let overall = OpReport {
        label: "overall".into(),
        name: "overall".into(),
        sub: None,
        store: "all".into(),
        write: false,
        weight: 0,
        count: totals.overall.len(),
        errors: total_errors,
        throughput: totals.overall.len() as f64 / secs,
        rows: totals.series.iter().map(|s| s.rows).sum(),
        rows_per_op: 0.0,
        stats: Stats::of(&totals.overall),
        errors_by_kind: BTreeMap::new(),
        unsupported: None,
        percentiles: percentiles(&totals.overall),
    };
    let run = RunFacts {
        measured_s: outcome.measured.as_secs_f64(),
        interrupted: outcome.interrupted,
        target_rate: outcome.target_rate,
        achieved_rate: (totals.overall.len()
            + total_errors
            + outcome.unsupported_draws.iter().sum::<u64>()) as f64
            / secs,
        intended: outcome.intended,
        started: outcome.started,
        late_starts: outcome.late_starts,
        late_after_ms: LATE_AFTER.as_secs_f64() * 1000.0,
        missed: outcome.missed,
        start_delay_p99_us: if outcome.start_delay.is_empty() {
            0
        } else {
            outcome.start_delay.value_at_quantile(0.99)
        },
        start_delay_max_us: outcome.start_delay.max(),
        warmup_ops: outcome.warmup_ops,
        warmup_errors: outcome.warmup_errors,
        abandoned: outcome.abandoned,
    };
    let started_at = chrono::DateTime::<chrono::Utc>::from(outcome.measured_from)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let files = [
        ("summary_json", "summary.json"),
        ("hlog", "latency.hlog"),
        ("markdown", "summary.md"),
        ("html", "report.html"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Summary {
        schema: SCHEMA,
        run_id: run_id.to_string(),
        clinicload_version: env!("CARGO_PKG_VERSION"),
        started_at,
        scenario: scenario.clone(),
        command_line_overrides: overrides,
        dataset,
        servers,
        machine: Machine::detect(),
        run,
        overall,
        operations,
        intervals: outcome.intervals.clone(),
        warnings,
        files,
        cache: None,
        restore: None,
    }
}

/// `20261125T101500Z-smoke`: UTC start time and scenario name; sorts by time.
pub fn run_id(scenario: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}-{}", at.format("%Y%m%dT%H%M%SZ"), scenario)
}

/// Creates `root/<run-id>` (adding -2, -3, ... if two runs start in the same second).
pub fn create_run_dir(root: &Path, id: &str) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating the reports directory {}", root.display()))?;
    let mut n = 1;
    loop {
        let name = if n == 1 {
            id.to_string()
        } else {
            format!("{id}-{n}")
        };
        let dir = root.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((name, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", dir.display()));
            }
        }
    }
}

/// Points `root/latest` at the run: a relative symlink, or a file holding the run id where
/// symlinks are not possible.
pub fn point_latest(root: &Path, name: &str) -> Result<()> {
    let latest = root.join("latest");
    if latest.is_symlink() || latest.is_file() {
        std::fs::remove_file(&latest).ok();
    }
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(name, &latest).is_ok() {
            return Ok(());
        }
    }
    std::fs::write(&latest, format!("{name}\n"))
        .with_context(|| format!("writing {}", latest.display()))
}

/// Writes summary.json, summary.md and report.html into `dir`.
pub fn write_all(dir: &Path, summary: &Summary) -> Result<()> {
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    };
    write("summary.json", json::render(summary)?)?;
    write("summary.md", markdown::render(summary))?;
    write("report.html", html::render(summary))?;
    Ok(())
}
