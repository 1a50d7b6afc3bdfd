//! The cache's part of a run report: hit ratio, hit and miss latency (from the runner's
//! `doctor_schedule:hit` / `:miss` histograms), database queries saved, stale reads, and the
//! Redis memory of the cached schedules extrapolated to the dataset's scale. Plain data in
//! summary.json, plus its Markdown and HTML renderings.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgPool;

use super::{sample_memory, CounterSnapshot, MemoryEstimate, ScheduleCache};
use crate::cache::variants::CacheVariant;
use crate::metrics::Stats;

/// The dataset's scale for the extrapolation: every doctor × every calendar day that has
/// appointments (first to last), i.e. the keys if every schedule were cached at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    pub doctors: u64,
    pub days: u64,
    pub keys: u64,
    pub extrapolated_bytes: u64,
}

/// Doctors and the span of appointment days: two index-backed aggregates.
const SCALE_SQL: &str = "\
SELECT (SELECT count(*) FROM users WHERE role = 'doctor'),
       COALESCE((SELECT MAX(start_time)::date - MIN(start_time)::date + 1 FROM appointments), 0)::bigint";

#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    pub variant: CacheVariant,
    /// Counters of the measured period: zeroed when the warm-up ends, so they can differ from
    /// the histograms' counts by the few operations in flight at that moment.
    pub counters: CounterSnapshot,
    pub hit_latency: Option<Stats>,
    pub miss_latency: Option<Stats>,
    /// Reads straight from PostgreSQL (strategy "none").
    pub bypass_latency: Option<Stats>,
    pub memory: Option<MemoryEstimate>,
    pub scale: Option<Scale>,
}

impl CacheReport {
    /// Reads the counters and measures Redis memory at the end of a variant's run.
    pub async fn measure(
        cache: &ScheduleCache,
        pool: &PgPool,
        variant: &CacheVariant,
    ) -> Result<CacheReport> {
        let counters = cache.counters().snapshot();
        let (memory, scale) = if variant.config.strategy == super::Strategy::NoCache {
            (None, None)
        } else {
            let m = sample_memory(
                &cache.redis,
                &variant.config.key_prefix,
                super::memory::DEFAULT_MAX_SAMPLES,
            )
            .await?;
            let (doctors, days): (i64, i64) = sqlx::query_as(SCALE_SQL)
                .fetch_one(pool)
                .await
                .context("counting doctors and appointment days for the memory extrapolation")?;
            let (doctors, days) = (doctors.max(0) as u64, days.max(0) as u64);
            let scale = Scale {
                doctors,
                days,
                keys: doctors * days,
                extrapolated_bytes: m.extrapolate(doctors, days),
            };
            (Some(m), Some(scale))
        };
        Ok(CacheReport {
            variant: variant.clone(),
            counters,
            hit_latency: None,
            miss_latency: None,
            bypass_latency: None,
            memory,
            scale,
        })
    }
}

pub fn fmt_bytes(b: f64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

/// (metric, value) rows, shared by the Markdown and HTML renderings and the comparison.
pub fn rows(r: &CacheReport) -> Vec<(&'static str, String)> {
    let c = &r.counters;
    let cfg = &r.variant.config;
    let mut out = vec![
        ("strategy", cfg.strategy.name().to_string()),
        ("ttl", format!("{:?}", cfg.ttl)),
        ("invalidate on write", cfg.invalidate_on_write.to_string()),
        ("guarded fills", cfg.guard_fills.to_string()),
        ("prewarmed", r.variant.prewarm.to_string()),
        ("schedule reads", c.reads.to_string()),
        (
            "hits / misses / bypasses",
            format!("{} / {} / {}", c.hits, c.misses, c.bypasses),
        ),
        ("hit ratio", format!("{:.1}%", c.hit_ratio * 100.0)),
    ];
    let lat = |s: &Option<Stats>| {
        s.as_ref()
            .map(|s| {
                format!(
                    "p50 {} · p99 {} · max {}",
                    ms(s.p50_us),
                    ms(s.p99_us),
                    ms(s.max_us)
                )
            })
            .unwrap_or_else(|| "–".into())
    };
    out.push(("hit latency", lat(&r.hit_latency)));
    out.push(("miss latency", lat(&r.miss_latency)));
    if r.bypass_latency.is_some() {
        out.push(("no-cache read latency", lat(&r.bypass_latency)));
    }
    out.push(("read DB queries", c.read_db_queries.to_string()));
    out.push((
        "DB queries saved vs no cache",
        c.db_queries_saved.to_string(),
    ));
    out.push((
        "DB queries per miss",
        format!("{:.3}", c.db_queries_per_miss),
    ));
    out.push(("single-flight waits (coalesced)", c.coalesced.to_string()));
    if cfg.guard_fills {
        out.push(("guarded fills refused", c.refused_fills.to_string()));
    }
    out.push((
        "writes / invalidated keys / write DB queries",
        format!(
            "{} / {} / {}",
            c.writes, c.invalidations, c.write_db_queries
        ),
    ));
    out.push((
        "stale reads",
        if cfg.count_stale_reads {
            format!("{} of {} checked", c.stale_reads, c.stale_checked)
        } else {
            "not counted (count_stale_reads = false)".into()
        },
    ));
    if let Some(m) = &r.memory {
        out.push((
            "Redis memory per cached schedule",
            format!(
                "{} (MEMORY USAGE, mean of {} keys; JSON value {})",
                fmt_bytes(m.mean_bytes_per_key),
                m.keys_sampled,
                fmt_bytes(m.mean_value_bytes)
            ),
        ));
        out.push(("cached schedule keys at end", m.keys_found.to_string()));
    }
    if let Some(s) = &r.scale {
        out.push((
            "Redis memory at dataset scale",
            format!(
                "{} ({} doctors × {} days = {} keys)",
                fmt_bytes(s.extrapolated_bytes as f64),
                s.doctors,
                s.days,
                s.keys
            ),
        ));
    }
    out
}

/// The section the reports show: the variant's name and the table's rows, with the
/// figures for summary.json.
pub fn section(r: &CacheReport) -> crate::report::CacheSection {
    crate::report::CacheSection {
        name: r.variant.name.clone(),
        rows: rows(r),
        json: crate::report::OrderedJson::of(r),
    }
}
