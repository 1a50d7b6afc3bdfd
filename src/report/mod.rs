//! Reports of a run, in `reports/<run-id>/`: `summary.json` (machine-readable, versioned),
//! `latency.hlog` (HdrHistogram interval log), `summary.md` (a table for a pull request) and
//! `report.html` (self-contained charts), plus the `reports/latest` pointer.
//!
//! Every number carries what produced it: the scenario and its parameters, the dataset
//! fingerprint, server versions, clinicload version and the machine. [`Summary`] is that
//! record; the three renderers only format it.

pub mod facts;
pub mod hlog;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod ordered_json;
pub mod page;
pub mod terminal;
pub mod variants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::metrics::Stats;
pub use facts::{
    CacheSection, ClockCheck, DatasetInfo, Drift, IntervalPoint, LoadFacts, ScenarioFacts,
    Steadiness, ThresholdVerdict, WarmupFacts, WorkerFacts, WorkerRow,
};
pub use ordered_json::OrderedJson;

/// Version of the summary.json layout; bumped on any incompatible change.
pub const SCHEMA: &str = "clinicload.summary/2";

/// An operation's share of no-op writes above which the report warns.
pub const NOOP_WARN_SHARE: f64 = 0.01;

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
    /// What `rows` counts: "rows" (rows or documents) or "bytes" (GridFS streams, cached
    /// schedules' JSON).
    pub unit: &'static str,
    /// Successful operations (the `p*_us` figures are theirs).
    pub count: u64,
    /// Failed and timed-out operations (`errors_by_kind` sums to it, `timeout` among them).
    pub errors: u64,
    /// Writes that completed but changed nothing.
    pub noop: u64,
    pub throughput: f64,
    pub rows: u64,
    pub rows_per_op: f64,
    /// Successful operations' latency.
    #[serde(flatten)]
    pub stats: Stats,
    /// Every arrival's latency (ok, no-op, failed, timed out, missed, abandoned): what the
    /// users waited. `p99_all_us` is `all.p99_us`.
    pub all: Stats,
    pub p99_all_us: u64,
    /// Where every intended arrival of the operation ended (the operation's own rows and
    /// `overall`; null on sub-label rows, whose arrivals are counted in their operation's).
    pub arrivals: Option<Arrivals>,
    pub errors_by_kind: BTreeMap<String, ErrorKind>,
    pub unsupported: Option<Unsupported>,
    /// (percentile, latency µs) pairs for the latency-by-percentile chart.
    #[serde(skip)]
    pub percentiles: Vec<(f64, u64)>,
}

/// The buckets every intended arrival ends in; `ok + noop + failed + timed_out +
/// unsupported + missed + abandoned == intended`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Arrivals {
    pub intended: u64,
    pub ok: u64,
    pub noop: u64,
    /// Errors other than timeouts; by kind in `failed_by_kind`.
    pub failed: u64,
    pub failed_by_kind: BTreeMap<String, u64>,
    pub timed_out: u64,
    pub unsupported: u64,
    pub missed: u64,
    pub abandoned: u64,
}

impl Arrivals {
    /// "N ok, N no-op, N failed, ..." (every bucket but `intended`), for the text reports.
    pub fn buckets_line(&self) -> String {
        format!(
            "{} ok, {} no-op, {} failed, {} timed out, {} unsupported, {} missed, {} abandoned",
            self.ok,
            self.noop,
            self.failed,
            self.timed_out,
            self.unsupported,
            self.missed,
            self.abandoned
        )
    }

    /// The sum of the buckets (equal to `intended` when every arrival is accounted for).
    pub fn accounted(&self) -> u64 {
        self.ok
            + self.noop
            + self.failed
            + self.timed_out
            + self.unsupported
            + self.missed
            + self.abandoned
    }

    /// Arrivals that did not get what they asked for: failed, timed out, missed, abandoned.
    pub fn not_ok(&self) -> u64 {
        self.failed + self.timed_out + self.missed + self.abandoned
    }

    /// Adds another's buckets to these.
    pub fn add(&mut self, o: &Arrivals) {
        self.intended += o.intended;
        self.ok += o.ok;
        self.noop += o.noop;
        self.failed += o.failed;
        for (k, v) in &o.failed_by_kind {
            *self.failed_by_kind.entry(k.clone()).or_default() += v;
        }
        self.timed_out += o.timed_out;
        self.unsupported += o.unsupported;
        self.missed += o.missed;
        self.abandoned += o.abandoned;
    }
}

impl OpReport {
    /// The latency table's cells, shared by summary.md and report.html: operation, count,
    /// errors, no-ops, ops/s, then mean, min, p50, p90, p95, p99, p99.9 and max in
    /// milliseconds of successful operations, and p99 of every arrival.
    pub fn table_cells(&self) -> [String; 14] {
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        let st = &self.stats;
        let failed_more = self
            .arrivals
            .as_ref()
            .map(|a| a.missed + a.abandoned)
            .unwrap_or(0);
        [
            self.label.clone(),
            self.count.to_string(),
            if failed_more > 0 {
                format!("{} (+{failed_more} missed/abandoned)", self.errors)
            } else {
                self.errors.to_string()
            },
            self.noop.to_string(),
            format!("{:.1}", self.throughput),
            format!("{:.3}", st.mean_us / 1000.0),
            ms(st.min_us),
            ms(st.p50_us),
            ms(st.p90_us),
            ms(st.p95_us),
            ms(st.p99_us),
            ms(st.p999_us),
            ms(st.max_us),
            ms(self.p99_all_us),
        ]
    }
}

/// The latency table's header, matching [`OpReport::table_cells`].
pub const TABLE_HEADER: [&str; 14] = [
    "operation",
    "count",
    "errors",
    "no-op",
    "ops/s",
    "mean",
    "min",
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "max",
    "p99 all",
];

#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    /// Whether the dataset was put back after the run (shown first in every report).
    pub restore: RestoreStatus,
    /// "open" or "closed".
    pub model: &'static str,
    /// "intended start" (open model) or "actual start" (closed model).
    pub latency_from: &'static str,
    pub measured_s: f64,
    pub interrupted: bool,
    /// Set when `abort_on_fail` ended the run early: the threshold that failed on the run so
    /// far ("appointments_today.p99_all < 15ms: observed 40.1ms so far"). Exit code 4.
    pub aborted_by_threshold: Option<String>,
    pub target_rate: Option<f64>,
    /// Intended arrivals per second of the measured window (below `target_rate` in a ramp).
    pub intended_rate: f64,
    pub achieved_rate: f64,
    pub intended: u64,
    /// Where every intended arrival ended.
    pub arrivals: Arrivals,
    /// (failed + timed out + missed + abandoned) / intended.
    pub error_rate: f64,
    /// The scenario's allowance; above it the run exits with `exit::OPERATIONS_FAILED`.
    pub max_error_rate: f64,
    /// Seconds operations still running at the end were given before being abandoned.
    pub grace_s: f64,
    pub started: u64,
    pub late_starts: u64,
    pub late_after_ms: f64,
    pub missed: u64,
    pub start_delay_p99_us: u64,
    pub start_delay_max_us: u64,
    pub warmup_ops: u64,
    pub warmup_errors: u64,
    /// How the warm-up went: its length, and for `warmup = "auto"` whether it reached its
    /// criterion or hit its cap.
    pub warmup: WarmupFacts,
    /// Whether the measured window still trended (`crate::scenario::steady`); null when the
    /// run was not judged at all (no intervals).
    pub steadiness: Option<Steadiness>,
    pub abandoned: u64,
    /// WAL the PostgreSQL server wrote from the start of the warm-up to the end of the load
    /// (`pg_current_wal_lsn` difference; the whole server's, so on a shared server others'
    /// writes count too). The write-path cost of an index variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_bytes: Option<u64>,
    /// How the load generator itself kept up: what tells a server-bound run from one where
    /// clinicload fell behind (the capacity sweeps judge it).
    pub generator: GeneratorFacts,
}

/// Whether a run put the dataset back: `done`, `failed` (with the reason and the command
/// that finishes it; exit code 8) or `not_needed` (no writes, `--keep-writes`, or a
/// distributed worker, whose writes one `clinicload restore` undoes after all workers).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RestoreStatus {
    #[default]
    NotNeeded,
    Done,
    Failed {
        reason: String,
        command: String,
    },
}

impl RestoreStatus {
    /// The line every report leads with when the restore failed.
    pub fn failure_line(&self) -> Option<String> {
        match self {
            RestoreStatus::Failed { reason, command } => Some(format!(
                "DATASET NOT RESTORED: {reason}. This run's writes are still in the dataset: run `{command}` once the servers are back, before the next run"
            )),
            _ => None,
        }
    }
}

/// The load generator's own figures over the measured window.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct GeneratorFacts {
    /// Workers (open model: max_in_flight; closed: users).
    pub workers: usize,
    /// Open model: how late the scheduler handed measured arrivals to the queue (its own lag,
    /// before any worker was involved).
    pub dispatch_lag_p90_us: Option<u64>,
    pub dispatch_lag_p99_us: Option<u64>,
    pub dispatch_lag_max_us: Option<u64>,
    /// Most arrivals waiting in the queue for a free worker, sampled every second.
    pub max_queue: usize,
    /// Operations in flight, sampled every second.
    pub mean_in_flight: f64,
    pub max_in_flight: usize,
    /// clinicload's CPU time over the run (all threads) and the run's wall time.
    pub cpu_s: f64,
    pub wall_s: f64,
    pub cores: usize,
    /// How late a task woken by a timer ran on the workers' runtime (probed every 10 ms of
    /// the measured window): runnable workers waiting for a CPU. None when not measured.
    #[serde(default)]
    pub runtime_lag_p90_us: Option<u64>,
    #[serde(default)]
    pub runtime_lag_p99_us: Option<u64>,
    /// Every second of the measured window the runner also samples where each worker is:
    /// running an arrival (of which waiting for a pooled connection) or free to take one.
    /// `max_in_flight` above counts measured arrivals only; these count every arrival.
    #[serde(default)]
    pub samples: u64,
    /// Per store the scenario uses: its connections as the workers found them.
    #[serde(default)]
    pub pools: Vec<PoolFacts>,
    /// The sample with the most arrivals queued while the server's side was full: every
    /// connection busy, or workers waiting for a pooled one.
    #[serde(default)]
    pub queued_connections_busy: Option<WorkerSample>,
    /// The sample with the most arrivals queued while connections sat idle, and workers were
    /// free to take arrivals or none waited for a connection: clinicload's own limit.
    #[serde(default)]
    pub queued_connections_idle: Option<WorkerSample>,
}

/// One store's connections over the measured window, sampled every second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PoolFacts {
    /// "postgres", "mongo" or "redis".
    pub store: String,
    pub connections: u32,
    /// A worker waits for one of them when all are in use (PostgreSQL, MongoDB); Redis
    /// connections are multiplexed, shared by any number of operations.
    pub pooled: bool,
    /// Workers running an operation of this store (holding or waiting for a connection).
    pub max_busy: usize,
    pub mean_busy: f64,
    /// Workers waiting for a connection of this pool, at most.
    pub max_waiting: usize,
    /// Samples in which a worker waited for one of its connections (the pool was full).
    pub full_samples: u64,
}

/// Where the workers were at one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct WorkerSample {
    /// Arrivals in the queue, not yet taken by a worker.
    pub queued: usize,
    /// Workers running an arrival, warm-up ones included...
    pub busy_workers: usize,
    /// ...of which waiting for a pooled connection.
    pub waiting_for_connection: usize,
    /// Workers that could have taken an arrival: running none.
    pub free_workers: usize,
    /// Connections of the stores used with no operation on them (in a pool no worker was
    /// waiting for).
    pub idle_connections: usize,
}

/// One store at one sample, as the runner sees it.
#[derive(Debug, Clone, Copy)]
pub struct StoreSample<'a> {
    pub store: &'a str,
    pub connections: u32,
    pub pooled: bool,
    /// Workers running an operation of this store.
    pub busy: usize,
    /// Of them, waiting for one of its connections.
    pub waiting: usize,
    /// Its connections with no operation on them.
    pub idle: usize,
}

impl GeneratorFacts {
    /// Adds one sample: the queue's length and each store used.
    pub fn observe(&mut self, queued: usize, per_store: &[StoreSample<'_>]) {
        self.samples += 1;
        let n = self.samples as f64;
        let mut sample = WorkerSample {
            queued,
            ..WorkerSample::default()
        };
        for st in per_store {
            let (busy, waiting, idle) = (st.busy, st.waiting, st.idle);
            let p = match self.pools.iter().position(|p| p.store == st.store) {
                Some(i) => &mut self.pools[i],
                None => {
                    self.pools.push(PoolFacts {
                        store: st.store.to_string(),
                        connections: st.connections,
                        pooled: st.pooled,
                        ..PoolFacts::default()
                    });
                    self.pools.last_mut().expect("just pushed")
                }
            };
            p.max_busy = p.max_busy.max(busy);
            p.mean_busy += (busy as f64 - p.mean_busy) / n;
            p.max_waiting = p.max_waiting.max(waiting);
            p.full_samples += u64::from(waiting > 0);
            sample.busy_workers += busy;
            sample.waiting_for_connection += waiting;
            // A connection idle while workers wait for its pool is one being handed over.
            if waiting == 0 {
                sample.idle_connections += idle;
            }
        }
        sample.free_workers = self.workers.saturating_sub(sample.busy_workers);
        if queued == 0 {
            return;
        }
        let worst = |slot: &mut Option<WorkerSample>| {
            if slot.map_or(true, |w| w.queued < queued) {
                *slot = Some(sample);
            }
        };
        if sample.idle_connections > 0
            && (sample.free_workers > 0 || sample.waiting_for_connection == 0)
        {
            worst(&mut self.queued_connections_idle);
        } else {
            worst(&mut self.queued_connections_busy);
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub run_id: String,
    pub clinicload_version: &'static str,
    pub started_at: String,
    /// The scenario as it ran (its whole definition in summary.json).
    pub scenario: ScenarioFacts,
    pub command_line_overrides: BTreeMap<String, String>,
    pub dataset: Option<DatasetInfo>,
    pub servers: BTreeMap<String, String>,
    pub machine: Machine,
    pub run: RunFacts,
    /// Like an operation row, over all operations; `rows` counts rows and documents only,
    /// `bytes` the byte-counting operations' (GridFS streams, cached schedules).
    pub overall: OpReport,
    pub bytes: u64,
    pub operations: Vec<OpReport>,
    pub intervals: Vec<IntervalPoint>,
    pub warnings: Vec<String>,
    pub files: BTreeMap<String, String>,
    /// The schedule cache's figures, when the scenario ran one (`cache::report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSection>,
    /// How the dataset was restored after the run (`crate::restore`); absent when the run
    /// wrote nothing or kept its writes (`--keep-writes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::restore::RestoreReport>,
    /// Each threshold of the scenario (`[thresholds]`, `--threshold`) judged on this run, in
    /// order: key, expression, normalised value, observed value, pass.
    pub thresholds: Vec<ThresholdVerdict>,
    /// Index usage under the workload (`crate::indexes`), as it is in indexes.json.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexes: Option<serde_json::Value>,
    /// Further sections a feature hands over as plain tables, rendered after the latency
    /// tables of report.html and summary.md.
    #[serde(skip)]
    pub sections: Vec<page::Table>,
    /// A distributed worker's run (`crate::distributed`): which share, its clock and start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerFacts>,
    /// A merged run (`clinicload merge`): one row per worker.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<WorkerRow>,
}

impl Summary {
    /// One line per operation and error kind: "label kind: count (first: example)", as
    /// summary.md, report.html and the terminal list them.
    pub fn error_lines(&self) -> Vec<String> {
        self.operations
            .iter()
            .flat_map(|o| {
                o.errors_by_kind.iter().map(move |(k, e)| {
                    format!("{} {k}: {} (first: {})", o.label, e.count, e.example)
                })
            })
            .collect()
    }
}

/// Percentiles for the latency-by-percentile chart: 0 .. 99.999 on a 1/(1-p) scale.
pub const CHART_PERCENTILES: &[f64] = &[
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99, 99.995,
    99.999, 100.0,
];

/// (percentile, latency) pairs of `h` at [`CHART_PERCENTILES`], for the chart.
pub fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    CHART_PERCENTILES
        .iter()
        .map(|p| (*p, h.value_at_percentile(*p)))
        .collect()
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
/// symlinks are not possible. Replaced atomically (made under a temporary name, renamed).
pub fn point_latest(root: &Path, name: &str) -> Result<()> {
    let latest = root.join("latest");
    let tmp = root.join(format!(".latest.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    {
        if std::os::unix::fs::symlink(name, &tmp).is_ok() {
            if latest.is_dir() && !latest.is_symlink() {
                let _ = std::fs::remove_file(&tmp);
                anyhow::bail!("{} is a directory; remove it", latest.display());
            }
            return std::fs::rename(&tmp, &latest).with_context(|| {
                let _ = std::fs::remove_file(&tmp);
                format!("pointing {} at {name}", latest.display())
            });
        }
    }
    write_atomic(&latest, format!("{name}\n").as_bytes())
}

/// Writes `path` whole or not at all: into a temporary file beside it, synced, then
/// renamed over `path`. On failure the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// Room asked of the reports directory before a run starts: the fixed part of the report
/// files plus, per second and per operation label, an interval histogram in the log and a
/// point in summary.json.
pub fn space_needed(
    ops: usize,
    length: std::time::Duration,
    variants: usize,
    repeats: Option<usize>,
) -> u64 {
    let labels = ops as u64 * 2 + 1;
    let secs = length.as_secs() + 2;
    let per_run = 256 * 1024 + secs.saturating_mul(labels).saturating_mul(1024);
    let variants = variants.max(1) as u64;
    per_run.saturating_mul(variants * repeats.unwrap_or(1).max(1) as u64 + 1)
}

/// Checks, before any load, that `dir` is writable and its file system has `needed` bytes
/// free; the error names the directory, what is missing and what to do.
pub fn check_writable(dir: &Path, needed: u64) -> Result<()> {
    let probe = dir.join(format!(".clinicload-probe.{}", std::process::id()));
    let wrote = std::fs::write(&probe, b"probe");
    let _ = std::fs::remove_file(&probe);
    if let Err(e) = wrote {
        anyhow::bail!(
            "the reports directory {} is not writable ({e}); give a writable directory with --out",
            dir.display()
        );
    }
    if let Some(free) = free_bytes(dir) {
        if free < needed {
            anyhow::bail!(
                "the reports directory {} has {} KiB free, and this run's reports need about {} KiB; free some space or give another directory with --out",
                dir.display(),
                free / 1024,
                needed.div_ceil(1024)
            );
        }
    }
    Ok(())
}

/// Bytes available to an unprivileged writer on the file system of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Writes summary.json, summary.md and report.html into `dir`, each atomically; tries all
/// three and reports the first failure.
pub fn write_all(dir: &Path, summary: &Summary) -> Result<()> {
    let json = json::render(summary)?;
    let results = [
        write_atomic(
            &dir.join("summary.md"),
            markdown::render(summary).as_bytes(),
        ),
        write_atomic(&dir.join("report.html"), html::render(summary).as_bytes()),
        write_atomic(&dir.join("summary.json"), json.as_bytes()),
    ];
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}
