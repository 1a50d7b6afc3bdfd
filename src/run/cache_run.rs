//! The runner's side of the schedule cache: before a run, build the variant's cache, empty
//! (or prewarm) its keys and hand it to the operations; when the warm-up ends, zero its
//! counters; after the run, put its figures into the summary. Kept apart from the runner's
//! own stages so a scenario without a cache is untouched.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use futures::StreamExt;
use sqlx::PgPool;

use crate::cache::keys::{gen_pattern, lock_pattern, scan_page, schedule_pattern};
use crate::cache::report::CacheReport;
use crate::cache::variants::CacheVariant;
use crate::cache::{ScheduleCache, Strategy};
use crate::config::Targets;
use crate::connect;
use crate::report::Summary;
use crate::scenario::catalog::Catalog;
use crate::scenario::ops::cache::CacheRuntime;
use crate::scenario::ops::{OpKind, Stores};
use crate::scenario::spec::Scenario;

/// What the report needs after the run.
pub struct CacheSetup {
    runtime: Arc<CacheRuntime>,
    variant: CacheVariant,
    pool: PgPool,
}

/// Builds the variant's cache into `stores.cache`, starting from an empty cache under its
/// prefix, prewarmed if the variant asks.
pub async fn prepare(
    targets: &Targets,
    scenario: &Scenario,
    variant: &CacheVariant,
    stores: &mut Stores,
    catalog: &Catalog,
) -> Result<CacheSetup> {
    let pool = match &stores.pg {
        Some(p) => p.clone(),
        None => connect::postgres(targets, scenario.connections.postgres).await?,
    };
    let redis = connect::redis(targets).await?;
    let today: NaiveDate = sqlx::query_scalar("SELECT CURRENT_DATE")
        .fetch_one(&pool)
        .await
        .context("reading CURRENT_DATE")?;
    let removed = flush(&redis, &variant.config.key_prefix).await?;
    if removed > 0 {
        eprintln!(
            "cache {}: removed {removed} cached schedules under prefix {:?} to start empty",
            variant.name, variant.config.key_prefix
        );
    }
    if variant.prewarm && variant.config.strategy != Strategy::NoCache {
        let warmer = ScheduleCache::new(pool.clone(), redis.clone(), variant.config.clone())?;
        let days = scenario
            .ops
            .iter()
            .filter(|o| o.def.kind == OpKind::DoctorSchedule)
            .map(|o| o.int("days").max(1))
            .max()
            .unwrap_or(1);
        let mut doctors = catalog.doctors.clone();
        doctors.extend(catalog.doctors_today.iter().copied());
        doctors.sort();
        doctors.dedup();
        let keys: Vec<(uuid::Uuid, NaiveDate)> = doctors
            .iter()
            .flat_map(|d| (0..days).map(move |i| (*d, today + chrono::Duration::days(i))))
            .collect();
        let n = keys.len();
        let parallel = scenario.connections.postgres.max(1) as usize;
        let results: Vec<Result<_>> = futures::stream::iter(keys)
            .map(|(d, day)| {
                let w = &warmer;
                async move { w.get_schedule(d, day).await }
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
        for r in results {
            r.context("prewarming the cache")?;
        }
        eprintln!(
            "cache {}: prewarmed {n} schedules ({} doctors × {days} days)",
            variant.name,
            doctors.len()
        );
    }
    let open_appointments = open_appointments(scenario, &pool, today).await?;
    let cache = Arc::new(ScheduleCache::new(
        pool.clone(),
        redis,
        variant.config.clone(),
    )?);
    let runtime = Arc::new(CacheRuntime {
        cache,
        today,
        open_appointments,
        next_appointment: AtomicUsize::new(0),
    });
    stores.cache = Some(runtime.clone());
    Ok(CacheSetup {
        runtime,
        variant: variant.clone(),
        pool,
    })
}

/// Open appointments the scenario's cancel / check-in / reschedule ops take, each once in
/// turn: those starting from today to the end of the widest `days` window of those ops, in
/// a fixed pseudo-random order. Empty when the scenario has no such op.
const OPEN_APPOINTMENTS_SQL: &str = "\
SELECT id FROM appointments
WHERE start_time >= $1 AND start_time < $2 AND status IN ('scheduled', 'confirmed')
ORDER BY md5(id::text)
LIMIT 100000";

async fn open_appointments(
    scenario: &Scenario,
    pool: &PgPool,
    today: NaiveDate,
) -> Result<Vec<uuid::Uuid>> {
    let days = scenario
        .ops
        .iter()
        .filter(|o| {
            matches!(
                o.def.kind,
                OpKind::ScheduleCancel | OpKind::ScheduleCheckIn | OpKind::ScheduleReschedule
            )
        })
        .map(|o| o.int("days").max(1))
        .max();
    let Some(days) = days else {
        return Ok(Vec::new());
    };
    let from = today.and_hms_opt(0, 0, 0).expect("midnight");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(OPEN_APPOINTMENTS_SQL)
        .bind(from)
        .bind(from + chrono::Duration::days(days))
        .fetch_all(pool)
        .await
        .context("sampling open appointments for the schedule writes")?;
    if ids.is_empty() {
        anyhow::bail!(
            "schedule_cancel / schedule_check_in / schedule_reschedule need open (scheduled or \
             confirmed) appointments from {today} to {}, and the database has none: seed a \
             dataset anchored at today (clinicload seed --as-of {today}) or widen their days",
            today + chrono::Duration::days(days - 1)
        );
    }
    Ok(ids)
}

/// Deletes the schedule keys (and single-flight locks, fill generations) under `prefix`;
/// returns how many.
async fn flush(redis: &redis::aio::ConnectionManager, prefix: &str) -> Result<u64> {
    let mut conn = redis.clone();
    let mut removed = 0u64;
    for pattern in [
        schedule_pattern(prefix),
        lock_pattern(prefix),
        gen_pattern(prefix),
    ] {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys) = scan_page(&mut conn, cursor, &pattern).await?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .context("Redis UNLINK of cached schedules")?;
                removed += n;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    Ok(removed)
}

/// Zeroes the cache's counters when the warm-up ends, so they cover the measured period
/// like the latency histograms do.
pub fn reset_after_warmup(rt: &Arc<CacheRuntime>, warmup: Duration) {
    if warmup.is_zero() {
        return;
    }
    let rt = rt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        rt.cache.counters().reset();
    });
}

/// The cache section of the summary: counters, hit/miss latency, Redis memory.
pub async fn report(setup: CacheSetup, summary: &Summary) -> Result<CacheReport> {
    let mut r = CacheReport::measure(&setup.runtime.cache, &setup.pool, &setup.variant).await?;
    let stats = |label: &str| {
        summary
            .operations
            .iter()
            .find(|o| o.label == label)
            .map(|o| o.stats)
    };
    r.hit_latency = stats("doctor_schedule:hit");
    r.miss_latency = stats("doctor_schedule:miss");
    r.bypass_latency = stats("doctor_schedule:bypass");
    Ok(r)
}
