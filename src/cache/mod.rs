//! Caching of a doctor's daily schedule in Redis, as the MVP-004 data model documents it
//! (cache-aside, key `doctor:{doctorId}:schedule:{date}`, JSON value, `EX 3600`), and the
//! alternatives a team deciding on it weighs: no cache, cache-aside with a single-flight lock,
//! write-through. clinicload measures what each saves (database queries), what it costs
//! (Redis memory, miss latency) and where it breaks (stale reads, stampedes).
//!
//! Data flow: a read goes through [`ScheduleCache::get_schedule`] (`read`); the writes that
//! change a doctor's day (`writes`) commit to PostgreSQL and then invalidate or rewrite the
//! day's key; every read and write moves plain atomic counters (`counters`); a read may be
//! checked against the writes acknowledged before it started (`stale`); `memory` measures
//! what the cached schedules cost in Redis; `variants` reads a scenario's `[cache]` and
//! `[[variant]]` sections and `report` puts the figures into the run's report. The runner's
//! side (building the cache per variant, the ops) is in `run::cache_run` and
//! `scenario::ops::cache`. docs/cache.md has the design and measured results.

mod config;
pub mod counters;
mod guard;
pub mod keys;
pub mod memory;
mod read;
pub mod report;
pub mod schedule;
mod single_flight;
pub mod stale;
pub mod variants;
mod writes;

use std::sync::Arc;

use redis::aio::ConnectionManager;
use sqlx::PgPool;

pub use config::{parse_duration, CacheConfig, Strategy};
pub use counters::{CounterSnapshot, Counters};
pub use guard::Generation;
pub use memory::{sample_memory, MemoryEstimate};
pub use read::{Outcome, ScheduleRead};
pub use writes::{Booking, Written};

/// The schedule cache of one run: the stores, the configuration and the counters. Shared
/// between tasks behind an `Arc`; every method takes `&self`.
pub struct ScheduleCache {
    pool: PgPool,
    redis: ConnectionManager,
    config: CacheConfig,
    counters: Arc<Counters>,
    gates: single_flight::Gates,
    write_log: stale::WriteLog,
}

impl ScheduleCache {
    /// A cache over `pool` and `redis`; fails on an invalid configuration (e.g. a zero TTL).
    pub fn new(
        pool: PgPool,
        redis: ConnectionManager,
        config: CacheConfig,
    ) -> anyhow::Result<ScheduleCache> {
        config.validate()?;
        Ok(ScheduleCache {
            pool,
            redis,
            config,
            counters: Arc::new(Counters::default()),
            gates: single_flight::Gates::default(),
            write_log: stale::WriteLog::default(),
        })
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The live counters (plain atomics); [`Counters::snapshot`] reads them at once.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The Redis key of a doctor's day under this cache's prefix.
    pub fn key(&self, doctor_id: uuid::Uuid, date: chrono::NaiveDate) -> String {
        keys::schedule_key(&self.config.key_prefix, doctor_id, date)
    }
}
