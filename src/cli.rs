//! The command line: one clap subcommand per user-visible verb. Parsing only; the work is
//! done by the module each command names.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
        #[arg(long, value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        /// Warm-up, overriding the file's (e.g. 0s, 10s)
        #[arg(long, value_parser = parse_duration)]
        warmup: Option<std::time::Duration>,
        /// Arrival rate in operations per second, overriding the file's (open model only)
        #[arg(long)]
        rate: Option<f64>,
        /// Directory for reports: <out>/<run-id>/ and <out>/latest
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// No live progress line
        #[arg(long)]
        quiet: bool,
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::scenario::spec::parse_duration(s)
}
