//! Reading a doctor's daily schedule under the configured strategy: the documented
//! cache-aside (GET; on a miss query PostgreSQL and `SET key value EX ttl`), the same with a
//! single-flight fill, or straight from PostgreSQL. Each read reports its outcome and the
//! database queries it caused, so the runner can keep hit and miss latencies apart and the
//! report can say how many queries the cache saved.

use std::sync::atomic::Ordering::Relaxed;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use redis::AsyncCommands;
use serde::Serialize;
use uuid::Uuid;

use super::schedule::fetch_schedule;
use super::{stale, ScheduleCache, Strategy};

/// How a read was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Found in Redis.
    Hit,
    /// Not in Redis: filled from PostgreSQL by this read, or (single-flight) by another
    /// reader this one waited for (then `db_queries` is 0).
    Miss,
    /// No cache: read from PostgreSQL.
    Bypass,
}

impl Outcome {
    /// The op sub-label the runner records under, e.g. `doctor_schedule:hit`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Bypass => "bypass",
        }
    }
}

/// One read: the schedule JSON (byte for byte what is cached), how it was served, the
/// database queries it caused, and whether it was stale (when staleness is counted).
#[derive(Debug, Clone)]
pub struct ScheduleRead {
    pub schedule: String,
    pub outcome: Outcome,
    pub db_queries: u32,
    pub stale: Option<bool>,
}

impl ScheduleCache {
    /// The doctor's appointments on `date`, served according to the configured strategy.
    pub async fn get_schedule(&self, doctor_id: Uuid, date: NaiveDate) -> Result<ScheduleRead> {
        let expected = self
            .config
            .count_stale_reads
            .then(|| self.write_log.expectations(doctor_id, date));
        let (schedule, outcome, db_queries) = match self.config.strategy {
            Strategy::NoCache => (
                fetch_schedule(&self.pool, doctor_id, date).await?,
                Outcome::Bypass,
                1,
            ),
            Strategy::CacheAside | Strategy::WriteThrough => {
                self.cache_aside(doctor_id, date).await?
            }
            Strategy::SingleFlight => self.single_flight(doctor_id, date).await?,
        };
        self.counters.record_read(outcome, db_queries);
        let stale = match expected {
            Some(expected) => {
                let stale = self
                    .confirm_stale(doctor_id, date, outcome, &schedule, &expected)
                    .await?;
                self.counters.stale_checked.fetch_add(1, Relaxed);
                if stale {
                    self.counters.stale_reads.fetch_add(1, Relaxed);
                }
                Some(stale)
            }
            None => None,
        };
        Ok(ScheduleRead {
            schedule,
            outcome,
            db_queries,
            stale,
        })
    }

    /// Whether the read missed an acknowledged write (see `cache::stale`).
    async fn confirm_stale(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        outcome: Outcome,
        schedule: &str,
        expected: &[stale::Expectation],
    ) -> Result<bool> {
        for (e, seen) in stale::missed(schedule, expected)? {
            if seen.is_none() {
                let now: Option<chrono::NaiveDateTime> =
                    sqlx::query_scalar(stale::ABSENT_CHECK_SQL)
                        .bind(e.appointment_id)
                        .fetch_optional(&self.pool)
                        .await
                        .context("checking an appointment missing from a schedule")?;
                if now.is_some_and(|now| now > e.updated_at) {
                    continue; // a later write moved it; the read may show that write
                }
            }
            tracing::debug!(
                %doctor_id, %date, ?outcome, appointment = %e.appointment_id,
                expected_updated_at = %e.updated_at, expected_present = e.present,
                seen_updated_at = ?seen, "stale read"
            );
            return Ok(true);
        }
        Ok(false)
    }

    /// MVP-004's `getDoctorDailySchedule`, step for step (with `guard_fills`, the GET also
    /// reads the key's generation and the SET is conditional on it; see `cache::guard`).
    async fn cache_aside(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
    ) -> Result<(String, Outcome, u32)> {
        let (cached, seen) = self.lookup(doctor_id, date).await?;
        if let Some(cached) = cached {
            return Ok((cached, Outcome::Hit, 0));
        }
        let schedule = fetch_schedule(&self.pool, doctor_id, date).await?;
        self.fill(doctor_id, date, &seen, &schedule).await?;
        Ok((schedule, Outcome::Miss, 1))
    }

    pub(super) async fn redis_get(&self, key: &str) -> Result<Option<String>> {
        let mut conn = self.redis.clone();
        conn.get(key)
            .await
            .with_context(|| format!("Redis GET {key}"))
    }

    /// `SET key value EX ttl` (PX when the TTL is not a whole number of seconds).
    pub(super) async fn redis_set(&self, key: &str, value: &str) -> Result<()> {
        let mut conn = self.redis.clone();
        let ttl = self.config.ttl;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if ttl.subsec_nanos() == 0 {
            cmd.arg("EX").arg(ttl.as_secs());
        } else {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        let _: () = cmd
            .query_async(&mut conn)
            .await
            .with_context(|| format!("Redis SET {key}"))?;
        Ok(())
    }
}
