//! clinicload: applies the Dr. Assistant schema, seeds synthetic clinics, runs load scenarios
//! against PostgreSQL, MongoDB and Redis, and reports latency histograms.
//!
//! The binary (`src/main.rs`) only calls [`app::main`], which parses the command line and
//! dispatches to these modules.

pub mod app;
pub mod cache;
pub mod capacity;
pub mod cli;
pub mod compare;
pub mod config;
pub mod connect;
pub mod distributed;
pub mod doctor;
pub mod exit;
pub mod explain;
pub mod gate;
pub mod generate;
pub mod index_ab;
pub mod indexes;
pub mod metrics;
pub mod model;
pub mod report;
pub mod restore;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod seed;
pub mod thresholds;

/// mimalloc instead of the system allocator, for the binary, the benches and the tests alike:
/// generating a clinic is allocation-heavy (many small strings and vectors), and glibc malloc
/// and free were about 40% of the generator's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
