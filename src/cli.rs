//! The command line: one clap subcommand per user-visible verb. Parsing only; the work is
//! done by the module each command names.

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
}
