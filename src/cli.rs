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
        /// Warm-up, overriding the file's (e.g. 0s, 10s)
        #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
        warmup: Option<std::time::Duration>,
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
}

/// `--shard i/n`: this process writes the clinics whose index % n == i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {s:?}: expected i/n with 0 <= i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

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
    #[arg(long, value_name = "i/n")]
    pub shard: Option<Shard>,
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

/// `--duration` / `--warmup`: the scenario file's duration syntax and bound; clap names the
/// flag in the error and exits with the usage code (2).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::scenario::spec::parse_duration(s)
}

/// `--rate`: a finite number in the accepted range.
fn parse_rate(s: &str) -> Result<f64, String> {
    crate::scenario::spec::parse_rate(s)
}
