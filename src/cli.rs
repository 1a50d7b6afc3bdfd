//! The command line: one clap subcommand per user-visible verb. Parsing only; the work is
//! done by the module each command names.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::config::Targets;

#[derive(Parser, Debug)]
#[command(
    name = "clinicload",
    version,
    about = "Load-testing and data-seeding harness for the Dr. Assistant clinical data model",
    long_about = "clinicload applies the Dr. Assistant schema to PostgreSQL and MongoDB, seeds realistic \
synthetic clinics, runs scenarios that exercise the documented query patterns and the Redis caching \
strategy, and reports latency histograms.\n\nTargets default to the local stack started by \
`scripts/stack up`; override them with --database-url/DATABASE_URL, --mongodb-uri/MONGODB_URI and \
--redis-url/REDIS_URL.",
    after_help = "Example:\n  scripts/stack up && clinicload migrate && clinicload doctor"
)]
pub struct Cli {
    #[command(flatten)]
    pub targets: Targets,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply the schema: PostgreSQL migrations, MongoDB collections, validator and indexes
    #[command(after_help = "Examples:\n  clinicload migrate\n  clinicload migrate --status")]
    Migrate {
        /// List applied and pending migrations and the MongoDB indexes; change nothing
        #[arg(long)]
        status: bool,
    },
    /// Check that each store is reachable; report server versions, schema version, missing features
    #[command(
        after_help = "Example:\n  clinicload doctor\n\nExits non-zero if any store is unreachable."
    )]
    Doctor,
    /// Run a scenario (a weighted mix of the documented queries and writes at a chosen load)
    /// and write reports: summary.json, latency.hlog, summary.md, report.html
    #[command(
        after_help = "Examples:\n  clinicload run scenarios/smoke.toml\n  clinicload run scenarios/dashboard-morning.toml --duration 2m --rate 800\n  clinicload run scenarios/clinic-day.toml --out /tmp/reports\n\n\
Reports go to <out>/<run-id>/ (run-id like 20261125T101500Z-smoke) and <out>/latest points at the newest.\n\
Ctrl-C ends the run early; the report is still written. The scenario file format is in docs/scenarios.md."
    )]
    Run {
        /// Scenario file, e.g. scenarios/smoke.toml
        scenario: PathBuf,
        /// Measured duration, overriding the file's (e.g. 30s, 2m)
        #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
        duration: Option<std::time::Duration>,
        /// Warm-up, overriding the file's (e.g. 0s, 10s), or `auto`: until every operation's
        /// per-second p50 is stable, at most the file's warmup_max (default 60s)
        #[arg(long, value_parser = parse_warmup, allow_hyphen_values = true)]
        warmup: Option<WarmupArg>,
        /// Arrival rate in operations per second, overriding the file's (open model only;
        /// 0.001 to 10000000)
        #[arg(long, value_parser = parse_rate, allow_negative_numbers = true)]
        rate: Option<f64>,
        /// Directory for reports: <out>/<run-id>/ and <out>/latest
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// No live progress line
        #[arg(long)]
        quiet: bool,
        /// Print the whole summary.md at the end instead of the one-screen summary
        #[arg(long)]
        verbose: bool,
        /// Leave the run's writes in the dataset (by default the dataset is restored after
        /// each run and each variant, so the next one starts from the same data)
        #[arg(long)]
        keep_writes: bool,
        /// Run even when the dataset cannot supply the fresh write targets the run plans
        /// (writes past a used-up pool are counted as no-ops)
        #[arg(long)]
        allow_short_pools: bool,
        /// A threshold in addition to the scenario's [thresholds] (replacing one with the same
        /// key), e.g. --threshold 'appointments_today.p99 < 15ms'; repeatable. A failed
        /// threshold exits with code 4
        #[arg(long, value_name = "KEY EXPR")]
        threshold: Vec<String>,
        /// Runs per [[variant]], interleaved (A B B A ...); default 1 for cache variants, and
        /// for index variants the fewest that can give an index a verdict (docs/indexes.md)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
        repeats: Option<u32>,
        /// Run worker i's share of n side-by-side processes (docs/distributed.md): arrivals k
        /// with k % n == i, its own write targets; merge the workers with `clinicload merge`
        #[arg(long, value_name = "i/n", conflicts_with = "workers")]
        worker: Option<crate::distributed::Worker>,
        /// Worker count, with the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
        #[arg(long, env = "CLINICLOAD_WORKERS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        workers: Option<u32>,
        /// Common start of the workers (RFC 3339, e.g. 2026-11-30T12:00:00Z): each waits for
        /// it, so their measured windows coincide
        #[arg(long, env = "CLINICLOAD_START_AT", value_parser = crate::distributed::parse_start_at)]
        start_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Merge the run directories of `clinicload run --worker i/n` processes into one run:
    /// histograms added exactly, counters summed, thresholds judged on the merged data
    #[command(
        after_help = "Example:\n  clinicload merge /results/run-1 --out /results/run-1\n\n\
Each DIR is a worker's run directory (with worker.json) or a directory holding them. Exactly one \
directory per worker index is merged: of a retried worker's two, the complete one (two complete: \
refused). Exits like a run: 0, 3 operations failed, 4 thresholds failed, 130 interrupted."
    )]
    Merge {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Directory that receives <run-id>-merged/
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Refuse when the workers' measured windows start further apart than this (server clock)
        #[arg(long, default_value = "500ms", value_parser = parse_duration)]
        max_skew: std::time::Duration,
        /// Merge skewed windows anyway, flagging them
        #[arg(long)]
        allow_skew: bool,
    },
    /// Fill both stores with synthetic clinics (PostgreSQL tables, MongoDB notes, GridFS audio)
    #[command(after_help = "Examples:\n  \
clinicload seed --profile tiny --clinics 2 --seed 7 --as-of 2026-03-02 --plan\n  \
clinicload seed --profile small --clinics 40 --seed 7 --as-of 2026-03-02 --defer-indexes\n  \
clinicload seed --profile small --clinics 40 --seed 7 --as-of 2026-03-02 --shard 0/4\n\n\
An interrupted seed (Ctrl-C, killed process, lost connection) resumes when the same command is \
run again; the result is identical to an uninterrupted run. n processes run with --shard 0/n .. \
(n-1)/n together write exactly the dataset one process would.")]
    Seed(SeedArgs),
    /// Per-table and per-collection checksums of the seeded data, to compare two datasets
    #[command(
        after_help = "Example:\n  clinicload checksum\n\nTwo databases seeded with the same \
parameters print identical lines, whatever the thread count or shard split."
    )]
    Checksum,
    /// Undo the writes of runs that did not restore the dataset themselves (killed, or run
    /// with --keep-writes), then VACUUM ANALYZE the tables they touched
    #[command(
        after_help = "Example:\n  clinicload restore\n\nA run restores the dataset when it ends; a run that was killed is \
restored by the next `clinicload run` or `checksum` on the same dataset, or by this command."
    )]
    Restore,
    /// Show the plan of every PostgreSQL read of a scenario, with keys drawn from the dataset
    /// as the run draws them: access path per table, rows examined vs returned, buffers, and
    /// whether the prepared statement's generic plan differs; writes plans.json, plans.html
    #[command(
        after_help = "Examples:\n  clinicload explain scenarios/smoke.toml\n  clinicload explain scenarios/clinic-day.toml --samples 5 --out reports"
    )]
    Explain {
        /// Scenario file, e.g. scenarios/smoke.toml
        scenario: PathBuf,
        /// Keys drawn per operation (1 to 100)
        #[arg(long, default_value_t = 3)]
        samples: usize,
        /// Directory for <out>/<time>-<scenario>-explain/
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Judge the PostgreSQL expectations on datasets of N and 2N clinics (scratch
        /// databases <database>_scale_<profile>_<n>, seeded and kept for next time): one that
        /// holds at both is confirmed
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
        at_scale: Option<u32>,
        /// Profile of the --at-scale datasets
        #[arg(long, default_value = "small", requires = "at_scale")]
        profile: String,
    },
    /// Compare two sets of runs (run directories, directories of runs, or saved baselines):
    /// per gated metric better / worse / no significant change / inconclusive
    #[command(after_help = "Examples:\n  \
clinicload compare reports/20261130T101500Z-smoke-gate/baseline reports/20261130T101500Z-smoke-gate/candidate\n  \
clinicload compare main-2026-11 reports/latest --metrics 'appointments_today.p99,tasks_pending.p50'\n\n\
Each side's samples are its repeated runs (a single run is one sample). A change counts when a \
Mann-Whitney U test, Holm-corrected across the gated metrics, is significant at --alpha AND the \
medians differ by more than --noise. Exits 5 when a gated metric is significantly worse, 7 when \
one could not be decided, 3 when a candidate run failed beyond its max_error_rate.")]
    Compare(CompareArgs),
    /// Save or show a baseline (a set of runs kept under reports/baselines/NAME/ to compare with)
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// The CI gate: run a scenario against a baseline and a candidate, interleaved, compare,
    /// judge the thresholds on the candidate; writes compare.json, summary.md, junit.xml, report.html
    #[command(after_help = "Examples:\n  \
clinicload gate scenarios/smoke.toml --candidate-migrations migrations/pending --time-budget 10m\n  \
clinicload gate scenarios/clinic-day.toml --baseline-database-url postgres://user@db-main/app --repeats 8\n\n\
Exit codes: 0 pass, 3 candidate runs failed beyond max_error_rate, 4 a threshold failed on the \
candidate, 5 a significant regression, 7 inconclusive (too few repeats), 1 other failure, 2 usage, \
130 interrupted. Reports go to <out>/<gate-id>/ and <out>/latest.")]
    Gate(GateArgs),
    /// Capacity: the highest rate whose SLO holds (`sweep rate`), throughput against
    /// connections with a Universal Scalability Law fit (`sweep connections`), or latency
    /// against dataset size (`sweep scale`)
    #[command(subcommand)]
    Sweep(SweepCommand),
}

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Steady steps at growing arrival rates until the SLO breaks, then bisection, then a
    /// longer confirmation: the max sustainable rate, the limiting operation, in clinics
    #[command(
        after_help = "Example:\n  clinicload sweep rate scenarios/capacity-clinic-day.toml --slo 'p99<50ms,errors<0.1%' --expect 300\n\n\
Each step is a full run (warm-up, measured window, dataset restored) under <out>/<id>-sweep-rate/steps/; \
sweep.json and report.html hold the steps and the answer. A step where clinicload itself fell behind \
is invalid and ends the sweep with the generator's ceiling."
    )]
    Rate(SweepRateArgs),
    /// Closed-model steps at 1, 2, 4, ... connections (as many virtual users, no think time):
    /// throughput and latency, USL fit (contention, coherency, peak) and the knee
    #[command(
        after_help = "Example:\n  clinicload sweep connections scenarios/capacity-clinic-day.toml --max 32"
    )]
    Connections(SweepConnectionsArgs),
    /// The scenario on datasets of growing size (scratch datasets of 1, 2, 4, ... clinics that
    /// clinicload seeds, or existing ones by URL): latency and plans per operation against
    /// the rows it reads, which operation grows with the data, and the seeding cost
    #[command(
        after_help = "Example:\n  clinicload sweep scale scenarios/index-check.toml --profile small --clinics 1,2,4,8\n\n\
Scratch datasets are databases beside DATABASE_URL's, named <database>_scale_<profile>_<n>[_full], seeded \
with the target dataset's seed and as-of date and kept for the next sweep (--fresh seeds them again). \
A scenario with index [[variant]]s runs every variant at every size."
    )]
    Scale(SweepScaleArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SweepScaleArgs {
    pub scenario: PathBuf,
    /// Sizes in clinics, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub clinics: Vec<u32>,
    /// Clinic shape of the scratch datasets: tiny, small, medium or large
    #[arg(long, default_value = "small")]
    pub profile: String,
    /// Patients per clinic [default: from the profile]
    #[arg(long)]
    pub patients: Option<u32>,
    /// Days of history per clinic [default: from the profile]
    #[arg(long)]
    pub history_days: Option<u32>,
    /// Days of bookings ahead [default: from the profile]
    #[arg(long)]
    pub future_days: Option<u32>,
    /// Existing datasets instead of scratch ones: PostgreSQL URLs, smallest first (each one's
    /// MongoDB database is named like its PostgreSQL database)
    #[arg(long = "dataset", value_name = "URL")]
    pub datasets: Vec<String>,
    /// Drop and re-seed the scratch datasets even when complete (measures the seeding cost)
    #[arg(long)]
    pub fresh: bool,
    /// Measured window at each size
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub step: std::time::Duration,
    /// Warm-up at each size
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
}

impl SweepScaleArgs {
    pub fn options(&self) -> crate::capacity::scale::ScaleOptions {
        crate::capacity::scale::ScaleOptions {
            scenario: self.scenario.clone(),
            clinics: self.clinics.clone(),
            profile: self.profile.clone(),
            patients: self.patients,
            history_days: self.history_days,
            future_days: self.future_days,
            datasets: self.datasets.clone(),
            fresh: self.fresh,
            step: self.step,
            warmup: self.warmup,
            out: self.out.clone(),
            quiet: self.quiet,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct SweepRateArgs {
    pub scenario: PathBuf,
    /// SLO terms, comma-separated: p99<50ms, p50<10ms, errors<0.1%, or any threshold
    /// 'SCOPE.METRIC < VALUE'; added to the scenario's [thresholds]
    #[arg(long)]
    pub slo: Vec<String>,
    /// First offered rate (ops/s)
    #[arg(long, default_value_t = 50.0, value_parser = parse_rate)]
    pub from: f64,
    /// Highest rate to offer (ops/s)
    #[arg(long, default_value_t = 100_000.0, value_parser = parse_rate)]
    pub max: f64,
    /// Growth between steps until the SLO breaks
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,
    /// Bisect until the bracket is this narrow (5% = 0.05)
    #[arg(long, default_value = "5%", value_parser = parse_fraction)]
    pub resolution: f64,
    /// Measured window of each step
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub step: std::time::Duration,
    /// Warm-up of each step
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    /// Measured window of the confirmation
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub confirm: std::time::Duration,
    /// Expected load (ops/s): the answer states the headroom against it
    #[arg(long, value_parser = parse_rate)]
    pub expect: Option<f64>,
    /// Arrivals of every step: poisson (exponential gaps, like independent users) or uniform
    /// (evenly spaced, which makes a knee look better than real traffic does)
    #[arg(long, default_value = "poisson", value_parser = ["poisson", "uniform"])]
    pub arrivals: String,
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SweepConnectionsArgs {
    pub scenario: PathBuf,
    /// Most connections (steps are the powers of two below it, and it)
    #[arg(long, default_value_t = 32)]
    pub max: usize,
    /// Measured window of each step
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub step: std::time::Duration,
    /// Warm-up of each step
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
}

impl SweepRateArgs {
    pub fn options(&self) -> crate::capacity::RateOptions {
        crate::capacity::RateOptions {
            scenario: self.scenario.clone(),
            slo: self.slo.clone(),
            from: self.from,
            max: self.max,
            factor: self.factor,
            resolution: self.resolution,
            step: self.step,
            warmup: self.warmup,
            confirm: self.confirm,
            expect: self.expect,
            arrivals: if self.arrivals == "uniform" {
                crate::scenario::schedule::Arrivals::Uniform
            } else {
                crate::scenario::schedule::Arrivals::Poisson
            },
            out: self.out.clone(),
            quiet: self.quiet,
        }
    }
}

impl SweepConnectionsArgs {
    pub fn options(&self) -> crate::capacity::ConnectionOptions {
        crate::capacity::ConnectionOptions {
            scenario: self.scenario.clone(),
            max: self.max,
            step: self.step,
            warmup: self.warmup,
            out: self.out.clone(),
            quiet: self.quiet,
        }
    }
}

/// Statistics options shared by `compare` and `gate`.
#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// Smallest change of a median that counts, as a fraction or percentage (5% = 0.05)
    #[arg(long, default_value = "5%", value_parser = parse_fraction)]
    pub noise: f64,
    /// Significance level for all gated metrics together (Holm-corrected)
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Gated metrics, comma-separated SCOPE.METRIC keys as in thresholds (default: the
    /// scenario's thresholds' metrics, else p50 and p99 of each operation)
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Compare even when the scenario, dataset, server versions or machine differ
    #[arg(long)]
    pub allow_mismatch: bool,
}

impl StatsArgs {
    pub fn options(&self) -> crate::compare::CompareOptions {
        crate::compare::CompareOptions {
            noise: self.noise,
            alpha: self.alpha,
            metrics: self
                .metrics
                .iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            allow_mismatch: self.allow_mismatch,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The baseline: a run directory, a directory of runs, a gate directory, or a baseline name
    pub baseline: String,
    /// The candidate, in the same forms
    pub candidate: String,
    #[command(flatten)]
    pub stats: StatsArgs,
    /// Also write compare.json, summary.md, junit.xml and report.html to <out>/compare-<time>/
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where named baselines are kept
    #[arg(long, default_value = "reports/baselines")]
    pub baselines: PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum BaselineCommand {
    /// Save runs as a named baseline: a run directory, a directory of runs, or a gate
    /// directory (its candidate's runs)
    #[command(after_help = "Example:\n  clinicload baseline save main-2026-11-30 reports/latest")]
    Save {
        name: String,
        from: String,
        /// Replace an existing baseline of that name
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "reports/baselines")]
        baselines: PathBuf,
    },
    /// Show a saved baseline: where it came from and its medians
    #[command(after_help = "Example:\n  clinicload baseline show main-2026-11-30")]
    Show {
        name: String,
        #[arg(long, default_value = "reports/baselines")]
        baselines: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct GateArgs {
    /// Scenario file, e.g. scenarios/smoke.toml
    pub scenario: PathBuf,
    /// The baseline database; the candidate is --database-url
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "candidate_migrations",
        required_unless_present = "candidate_migrations"
    )]
    pub baseline_database_url: Option<String>,
    /// The candidate's extra migrations (*.sql, applied in name order to a clone of the
    /// --database-url database, which is the baseline; the clone is dropped afterwards)
    #[arg(long, value_name = "DIR")]
    pub candidate_migrations: Option<PathBuf>,
    /// Runs per side [default: the fewest that let the Holm correction fire over the gated
    /// metrics: 5 for 2 to 6, 6 for 7 to 23]
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=200))]
    pub repeats: Option<u32>,
    /// Size each run's measured duration so the whole gate fits, e.g. 10m
    #[arg(long, value_parser = parse_duration)]
    pub time_budget: Option<std::time::Duration>,
    /// Measured duration of each run, overriding the file's
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Warm-up of each run, overriding the file's
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<std::time::Duration>,
    /// Arrival rate, overriding the file's (open model)
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// A threshold in addition to the scenario's, judged on the candidate
    #[arg(long, value_name = "KEY EXPR")]
    pub threshold: Vec<String>,
    #[command(flatten)]
    pub stats: StatsArgs,
    /// Directory for reports: <out>/<gate-id>/ and <out>/latest
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// No live progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Run even when the dataset cannot supply the write targets the runs plan
    #[arg(long)]
    pub allow_short_pools: bool,
    /// Calibration only: delay every successful OP of the candidate by DURATION, e.g.
    /// pending_tasks=200us (to measure the smallest slowdown the gate detects)
    #[arg(long, value_name = "OP=DURATION", value_parser = parse_delay)]
    pub inject_delay: Option<(String, std::time::Duration)>,
}

impl GateArgs {
    pub fn options(&self) -> crate::gate::GateOptions {
        crate::gate::GateOptions {
            scenario: self.scenario.clone(),
            overrides: crate::scenario::spec::Overrides {
                duration: self.duration,
                warmup: self.warmup,
                warmup_auto: false,
                rate: self.rate,
                thresholds: self.threshold.clone(),
                closed_users: None,
                abort_after: None,
                arrivals: None,
                worker: None,
            },
            against: match (&self.baseline_database_url, &self.candidate_migrations) {
                (Some(url), _) => crate::gate::Against::BaselineDatabase(url.clone()),
                (None, Some(dir)) => crate::gate::Against::CandidateMigrations(dir.clone()),
                (None, None) => unreachable!("clap requires one of them"),
            },
            repeats: self.repeats.map(|r| r as usize),
            time_budget: self.time_budget,
            compare: self.stats.options(),
            out: self.out.clone(),
            quiet: self.quiet,
            allow_short_pools: self.allow_short_pools,
            inject_delay: self.inject_delay.clone(),
        }
    }
}

/// `--noise`: `5%` or `0.05`.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a fraction or percentage (e.g. 5% or 0.05)"))?;
    if !(0.0..10.0).contains(&v) {
        return Err(format!("{s:?} is out of range (0% to 1000%)"));
    }
    Ok(v)
}

/// `--alpha`: strictly between 0 and 1.
fn parse_alpha(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number (e.g. 0.05)"))?;
    if !(v > 0.0 && v < 1.0) {
        return Err(format!("{s:?} is not between 0 and 1 (e.g. 0.05)"));
    }
    Ok(v)
}

/// `--inject-delay OP=DURATION`.
fn parse_delay(s: &str) -> Result<(String, std::time::Duration), String> {
    let (op, d) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write OP=DURATION, e.g. pending_tasks=200us"))?;
    let d = d.trim();
    let d = match d.strip_suffix("us") {
        Some(n) => n
            .trim()
            .parse::<u64>()
            .map(std::time::Duration::from_micros)
            .map_err(|_| format!("{s:?}: write the delay as e.g. 200us, 2ms or 1s"))?,
        None => crate::scenario::spec::parse_duration(d)?,
    };
    if d > std::time::Duration::from_secs(10) {
        return Err(format!("{s:?}: at most 10s"));
    }
    Ok((op.trim().to_string(), d))
}

pub use crate::seed::Shard;

/// Options of `clinicload seed`.
#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// Named clinic shape: tiny (tests), small, medium or large
    #[arg(long, default_value = "small")]
    pub profile: String,
    /// Number of clinics in the dataset
    #[arg(long, default_value_t = 1)]
    pub clinics: u32,
    /// Random seed; equal seeds and parameters give byte-identical data
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The "today" the data is anchored at, YYYY-MM-DD [default: today]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,

    /// Doctors per clinic [default: from the profile]
    #[arg(long, help_heading = "Profile overrides")]
    pub doctors: Option<u32>,
    /// Nurses per clinic
    #[arg(long, help_heading = "Profile overrides")]
    pub nurses: Option<u32>,
    /// Receptionists per clinic
    #[arg(long, help_heading = "Profile overrides")]
    pub receptionists: Option<u32>,
    /// Admins per clinic
    #[arg(long, help_heading = "Profile overrides")]
    pub admins: Option<u32>,
    /// Patients per clinic
    #[arg(long, help_heading = "Profile overrides")]
    pub patients: Option<u32>,
    /// Days of history before the as-of date
    #[arg(long, help_heading = "Profile overrides")]
    pub history_days: Option<u32>,
    /// Days of bookings after the as-of date
    #[arg(long, help_heading = "Profile overrides")]
    pub future_days: Option<u32>,
    /// Multiplier on the length of note texts (1.0 = typical)
    #[arg(long, help_heading = "Profile overrides")]
    pub note_length: Option<f64>,
    /// Share of encounters with a voice recording, 0..1
    #[arg(long, help_heading = "Profile overrides")]
    pub voice_share: Option<f64>,
    /// Recording length as a share of the visit's length, 0..1
    #[arg(long, help_heading = "Profile overrides")]
    pub voice_length: Option<f64>,

    /// Print the rows and bytes per table and collection that would be written; touch nothing
    #[arg(long)]
    pub plan: bool,
    /// Generator threads, 1 to 256 [default: all cores]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Write only clinics with index % n == i (i/n)
    #[arg(long, value_name = "i/n", conflicts_with = "shards")]
    pub shard: Option<Shard>,
    /// Shard count, with this shard's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    #[arg(long, env = "CLINICLOAD_SHARDS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shards: Option<u32>,
    /// Add the dataset to a database that already holds other data
    #[arg(long, conflicts_with = "reset")]
    pub append: bool,
    /// Empty clinicload's tables and collections first (only in a database prepared by
    /// `clinicload migrate`, unless --force)
    #[arg(long)]
    pub reset: bool,
    /// With --reset: also in a database that `clinicload migrate` did not prepare
    #[arg(long, requires = "reset")]
    pub force: bool,
    /// Drop secondary indexes before loading into empty tables, rebuild them after, then ANALYZE
    #[arg(long)]
    pub defer_indexes: bool,
    /// Drop the foreign keys before loading into empty tables and re-add them after, which
    /// validates every row at once instead of one lookup per row; then ANALYZE. With
    /// --defer-indexes, primary keys and unique constraints are deferred too
    #[arg(long)]
    pub defer_foreign_keys: bool,
    /// Write only the PostgreSQL tables, no MongoDB documents or GridFS audio: for measuring
    /// PostgreSQL ingest alone. Recorded under its own fingerprint (suffix +postgres-only)
    #[arg(long)]
    pub postgres_only: bool,
    /// Memory for generated clinics waiting for, or being written by, a writer (MB); generator
    /// threads wait when it is used up. Peak memory is about this plus one clinic per
    /// generator thread, whatever the profile and --clinics
    #[arg(long, value_name = "MB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4_000_000))]
    pub memory_budget: u64,
    /// Test hook: pause this many milliseconds after each committed clinic
    #[arg(long, hide = true, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub pause_after_clinic_ms: u64,
    /// Test hook: the generator panics on this clinic (how a generator bug must be reported)
    #[arg(long, hide = true)]
    pub panic_in_clinic: Option<u32>,
}

impl SeedArgs {
    /// The seed's own options, as `crate::seed` takes them.
    pub fn options(&self) -> crate::seed::SeedOptions {
        crate::seed::SeedOptions {
            profile: self.profile.clone(),
            clinics: self.clinics,
            seed: self.seed,
            as_of: self.as_of,
            doctors: self.doctors,
            nurses: self.nurses,
            receptionists: self.receptionists,
            admins: self.admins,
            patients: self.patients,
            history_days: self.history_days,
            future_days: self.future_days,
            note_length: self.note_length,
            voice_share: self.voice_share,
            voice_length: self.voice_length,
            plan: self.plan,
            threads: self.threads,
            shard: self.shard,
            shards: self.shards,
            append: self.append,
            reset: self.reset,
            force: self.force,
            defer_indexes: self.defer_indexes,
            defer_foreign_keys: self.defer_foreign_keys,
            postgres_only: self.postgres_only,
            memory_budget: self.memory_budget,
            pause_after_clinic_ms: self.pause_after_clinic_ms,
            panic_in_clinic: self.panic_in_clinic,
        }
    }
}

/// `--duration` / `--warmup`: the scenario file's duration syntax and bound; clap names the
/// flag in the error and exits with the usage code (2).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::scenario::spec::parse_duration(s)
}

/// `clinicload run --warmup`: a duration, or `auto` (warm up until stable).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WarmupArg {
    Fixed(std::time::Duration),
    Auto,
}

impl WarmupArg {
    /// The fixed warm-up, if that is what was given.
    pub fn fixed(self) -> Option<std::time::Duration> {
        match self {
            WarmupArg::Fixed(d) => Some(d),
            WarmupArg::Auto => None,
        }
    }

    pub fn is_auto(self) -> bool {
        self == WarmupArg::Auto
    }
}

/// `--warmup`: `auto`, or the scenario file's duration syntax and bound.
fn parse_warmup(s: &str) -> Result<WarmupArg, String> {
    if s.trim() == "auto" {
        return Ok(WarmupArg::Auto);
    }
    parse_duration(s)
        .map(WarmupArg::Fixed)
        .map_err(|e| format!("{e}; or auto"))
}

/// `--rate`: a finite number in the accepted range.
fn parse_rate(s: &str) -> Result<f64, String> {
    crate::scenario::spec::parse_rate(s)
}
