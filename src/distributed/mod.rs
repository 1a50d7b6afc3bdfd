//! Runs beyond one machine: `clinicload run --worker i/n` runs worker i's share of a
//! scenario so that n processes side by side (a Kubernetes Indexed Job, a CI matrix) offer
//! exactly the load one process would, and `clinicload merge` ([`merge`]) adds their
//! histograms into one run. No coordinator: the share is decided by arithmetic every worker
//! does alike.
//!
//! - Open model: arrival k of the one-process schedule belongs to the worker a hash of k
//!   names (k % n would give each worker a fixed part of the operation mix); closed model:
//!   virtual user u likewise.
//! - Write targets: a row or document whose id hashes to i (mod n) is worker i's, so two
//!   workers never take the same appointment, whatever order they sampled in.
//! - Parameter draws: each worker has its own random stream (the schedule is shared).
//! - A common start (`--start-at`) makes the measured windows coincide; each worker records
//!   its clock against the database server's, so the merge can flag a skewed or late one.
//! - Workers record what they write but leave the restore to one `clinicload restore` after
//!   all of them (a worker restoring would undo the others' runs under them).

pub mod merge;

pub use crate::config::Worker;
pub use crate::report::{ClockCheck, WorkerFacts};

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

/// The worker from the command line: `--worker i/n`, or the index from JOB_COMPLETION_INDEX
/// (a Kubernetes Indexed Job) with the count from `--workers n` / CLINICLOAD_WORKERS.
pub fn resolve(explicit: Option<Worker>, workers: Option<u32>) -> Result<Option<Worker>> {
    if let Some(w) = explicit {
        return Ok(Some(w));
    }
    let Some(count) = workers else {
        return Ok(None);
    };
    let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        anyhow::Error::new(crate::exit::UsageError(format!(
            "--workers {count} needs the worker's index: give --worker i/{count}, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)"
        )))
    })?;
    format!("{}/{count}", index.trim())
        .parse::<Worker>()
        .map(Some)
        .map_err(|e| {
            anyhow::Error::new(crate::exit::UsageError(format!(
                "JOB_COMPLETION_INDEX: {e}"
            )))
        })
}

/// This worker's clock against the PostgreSQL server's ([`ClockCheck`]): the best of five
/// round trips.
pub async fn clock_check(pool: &sqlx::PgPool) -> Result<ClockCheck> {
    let mut best: Option<ClockCheck> = None;
    for _ in 0..5 {
        let before = now_ms();
        let server: f64 =
            sqlx::query_scalar("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::float8")
                .fetch_one(pool)
                .await
                .context("reading the database server's clock")?;
        let after = now_ms();
        let c = ClockCheck {
            offset_ms: server - (before + after) / 2.0,
            rtt_ms: after - before,
        };
        if best.map_or(true, |b| c.rtt_ms < b.rtt_ms) {
            best = Some(c);
        }
    }
    Ok(best.unwrap_or_default())
}

/// Milliseconds since the Unix epoch on this machine's clock (shifted by the hidden test
/// hook CLINICLOAD_TEST_CLOCK_SKEW_MS, which stands in for a machine whose clock is off).
pub fn now_ms() -> f64 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    t + skew_ms()
}

/// A local time as [`now_ms`] reads it.
pub fn local_ms(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        + skew_ms()
}

fn skew_ms() -> f64 {
    std::env::var("CLINICLOAD_TEST_CLOCK_SKEW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `start_at` (RFC 3339) on this machine's clock; returns how late the worker was
/// when it got there (0 when it waited). Refuses a start more than a day away (a typo).
pub async fn wait_for_start(start_at: &chrono::DateTime<chrono::Utc>) -> Result<f64> {
    let target = start_at.timestamp_millis() as f64;
    let now = now_ms();
    if target - now > 86_400_000.0 {
        bail!(
            "--start-at {start_at} is more than a day away on this machine's clock: give a time within the next day"
        );
    }
    if target > now {
        eprintln!(
            "worker: waiting {:.1} s for the common start at {start_at}",
            (target - now) / 1000.0
        );
        tokio::time::sleep(Duration::from_secs_f64((target - now) / 1000.0)).await;
        return Ok(0.0);
    }
    Ok(now - target)
}

/// `--start-at`, or CLINICLOAD_START_AT.
pub fn parse_start_at(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-11-30T12:00:00Z: {e}"))
}

/// PostgreSQL connections one worker opens besides its load pool: the sampling pool (2), one
/// for the plan check and index counters, and the dataset lock's (`restore::lock`).
pub const BOOKKEEPING_CONNECTIONS: u32 = 4;

/// Refuses a worker whose run, times the worker count, would not fit the server's
/// connections: every worker opens the scenario's pool, so n workers need n times it.
pub async fn check_connections(
    targets: &crate::config::Targets,
    scenario: &crate::scenario::spec::Scenario,
    w: Worker,
) -> Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&targets.database_url)
        .await
        .with_context(|| {
            format!(
                "connecting to PostgreSQL at {}",
                crate::config::redact(&targets.database_url)
            )
        })?;
    let (max, reserved, used): (i32, i32, i64) = sqlx::query_as(
        "SELECT current_setting('max_connections')::int,
                current_setting('superuser_reserved_connections')::int,
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
    )
    .fetch_one(&mut conn)
    .await
    .context("reading max_connections")?;
    conn.close().await.ok();
    let per_worker = scenario.connections.postgres + BOOKKEEPING_CONNECTIONS;
    let need = i64::from(w.count) * i64::from(per_worker);
    let allowed = i64::from(max - reserved);
    if need > allowed {
        crate::usage!(
            "{} workers x {per_worker} PostgreSQL connections ({} for the load, connections.postgres, + {BOOKKEEPING_CONNECTIONS} of clinicload's own) = {need}, and the server allows {allowed} (max_connections {max} - {reserved} reserved; {used} in use now): lower connections.postgres in the scenario, run fewer workers, or raise max_connections",
            w.count,
            scenario.connections.postgres
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_split_arrivals_and_ids_without_overlap() {
        let ws: Vec<Worker> = (0..4).map(|i| Worker { index: i, count: 4 }).collect();
        // Every worker gets about its share of every position of an 8-long mix cycle.
        for w in &ws {
            for pos in 0..8u64 {
                let n = (0..8000u64).filter(|k| k % 8 == pos && w.owns(*k)).count();
                assert!(
                    (200..300).contains(&n),
                    "worker {w} position {pos}: {n} of 1000"
                );
            }
        }
        for k in 0..1000u64 {
            assert_eq!(ws.iter().filter(|w| w.owns(k)).count(), 1);
            let id = uuid::Uuid::from_u128(u128::from(k) * 7919).into_bytes();
            assert_eq!(ws.iter().filter(|w| w.owns_id(&id)).count(), 1);
        }
        assert_ne!(ws[0].param_seed(7), ws[1].param_seed(7));
        assert!("4/4".parse::<Worker>().is_err());
        assert!("1/0".parse::<Worker>().is_err());
        assert!("x/2".parse::<Worker>().is_err());
        assert_eq!(
            "1/2".parse::<Worker>().unwrap(),
            Worker { index: 1, count: 2 }
        );
        assert!(parse_start_at("2026-11-30T12:00:00Z").is_ok());
        assert!(parse_start_at("noon").is_err());
    }
}
