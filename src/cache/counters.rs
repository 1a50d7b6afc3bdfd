//! Counters of one run as plain atomics: cheap enough to bump on every read from every task,
//! read once at the end (or per interval) into a [`CounterSnapshot`] for the report.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use super::Outcome;

#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub bypasses: AtomicU64,
    /// Database queries caused by reads (the schedule query).
    pub read_db_queries: AtomicU64,
    pub writes: AtomicU64,
    /// Database queries caused by writes: the write itself plus write-through rebuilds.
    pub write_db_queries: AtomicU64,
    /// Keys deleted or rewritten after a write.
    pub invalidations: AtomicU64,
    /// Reads checked for staleness, and those found stale.
    pub stale_checked: AtomicU64,
    pub stale_reads: AtomicU64,
    /// Single-flight: reads that waited for another task or process to fill the key.
    pub coalesced: AtomicU64,
    /// Single-flight: waits that gave up on the lock holder and queried the database.
    pub lock_timeouts: AtomicU64,
    /// Guarded fills refused because the key was invalidated after the read looked.
    pub refused_fills: AtomicU64,
}

impl Counters {
    pub(crate) fn record_read(&self, outcome: Outcome, db_queries: u32) {
        self.reads.fetch_add(1, Relaxed);
        match outcome {
            Outcome::Hit => &self.hits,
            Outcome::Miss => &self.misses,
            Outcome::Bypass => &self.bypasses,
        }
        .fetch_add(1, Relaxed);
        self.read_db_queries.fetch_add(db_queries as u64, Relaxed);
    }

    /// Zeroes every counter (the runner does this when the warm-up ends).
    pub fn reset(&self) {
        for c in [
            &self.reads,
            &self.hits,
            &self.misses,
            &self.bypasses,
            &self.read_db_queries,
            &self.writes,
            &self.write_db_queries,
            &self.invalidations,
            &self.stale_checked,
            &self.stale_reads,
            &self.coalesced,
            &self.lock_timeouts,
            &self.refused_fills,
        ] {
            c.store(0, Relaxed);
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let reads = self.reads.load(Relaxed);
        let hits = self.hits.load(Relaxed);
        let misses = self.misses.load(Relaxed);
        let read_db_queries = self.read_db_queries.load(Relaxed);
        CounterSnapshot {
            reads,
            hits,
            misses,
            bypasses: self.bypasses.load(Relaxed),
            read_db_queries,
            // Without a cache every read is one schedule query.
            db_queries_saved: reads as i64 - read_db_queries as i64,
            hit_ratio: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            db_queries_per_miss: if misses == 0 {
                0.0
            } else {
                read_db_queries as f64 / misses as f64
            },
            writes: self.writes.load(Relaxed),
            write_db_queries: self.write_db_queries.load(Relaxed),
            invalidations: self.invalidations.load(Relaxed),
            stale_checked: self.stale_checked.load(Relaxed),
            stale_reads: self.stale_reads.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            lock_timeouts: self.lock_timeouts.load(Relaxed),
            refused_fills: self.refused_fills.load(Relaxed),
        }
    }
}

/// The counters at one moment, with the derived figures the report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterSnapshot {
    pub reads: u64,
    pub hits: u64,
    pub misses: u64,
    pub bypasses: u64,
    pub read_db_queries: u64,
    /// Reads minus the database queries they caused: what the cache saved versus no cache.
    pub db_queries_saved: i64,
    /// hits / (hits + misses); 0 when the cache was bypassed.
    pub hit_ratio: f64,
    /// Read database queries per miss: ~1 for cache-aside, < 1 when single-flight coalesces.
    pub db_queries_per_miss: f64,
    pub writes: u64,
    pub write_db_queries: u64,
    pub invalidations: u64,
    pub stale_checked: u64,
    pub stale_reads: u64,
    pub coalesced: u64,
    pub lock_timeouts: u64,
    pub refused_fills: u64,
}
