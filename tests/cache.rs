//! The schedule cache against the real PostgreSQL and Redis of the local stack: each test has
//! its own migrated database and its own Redis key prefix (Redis is shared between tests).

mod common;
use common::prelude::*;
mod fixture;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use clinicload::cache::{
    memory, schedule::fetch_schedule, Booking, CacheConfig, Outcome, ScheduleCache, Strategy,
};
use common::TestEnv;
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use uuid::Uuid;

struct Fixture {
    env: TestEnv,
    pool: PgPool,
    redis: ConnectionManager,
    doctor: Uuid,
    patients: Vec<Uuid>,
    /// Three appointments of `doctor` on `day`, 09:00, 10:00, 11:00.
    appointments: Vec<Uuid>,
    day: NaiveDate,
    other_day: NaiveDate,
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_hms_opt(hour, 0, 0).unwrap()
}

impl Fixture {
    async fn new(label: &str) -> Fixture {
        let env = TestEnv::migrated(label).await;
        let pool = env.pool().await;
        let redis = clinicload::connect::redis(&env.targets)
            .await
            .expect("Redis reachable");
        let day = NaiveDate::from_ymd_opt(2031, 3, 10).unwrap();
        let other_day = day.succ_opt().unwrap();
        let doctor: Uuid = sqlx::query_scalar(
            "INSERT INTO users (username, email, full_name, role, specialty, password_hash)
             VALUES ('dr_rao', 'rao@example.org', 'Dr. Asha Rao', 'doctor', 'cardiology', 'x')
             RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let mut patients = Vec::new();
        for (i, (first, last)) in [("Ana", "Lima"), ("Ben", "Okafor"), ("Chen", "Wei")]
            .into_iter()
            .enumerate()
        {
            let id: Uuid = sqlx::query_scalar(
                "INSERT INTO patients (mrn, first_name, last_name, date_of_birth, sex)
                 VALUES ($1, $2, $3, DATE '1970-01-01', 'unknown') RETURNING id",
            )
            .bind(format!("MRN{i}"))
            .bind(first)
            .bind(last)
            .fetch_one(&pool)
            .await
            .unwrap();
            patients.push(id);
        }
        let mut appointments = Vec::new();
        for (i, patient) in patients.iter().enumerate() {
            let start = at(day, 9 + i as u32);
            let id: Uuid = sqlx::query_scalar(
                "INSERT INTO appointments (patient_id, doctor_id, patient_name, start_time,
                     end_time, appointment_type, booked_at)
                 SELECT p.id, $2, p.first_name || ' ' || p.last_name, $3,
                        $3 + INTERVAL '30 minutes', 'routine', $3 - INTERVAL '7 days'
                 FROM patients p WHERE p.id = $1 RETURNING id",
            )
            .bind(patient)
            .bind(doctor)
            .bind(start)
            .fetch_one(&pool)
            .await
            .unwrap();
            appointments.push(id);
        }
        Fixture {
            env,
            pool,
            redis,
            doctor,
            patients,
            appointments,
            day,
            other_day,
        }
    }

    fn prefix(&self, variant: &str) -> String {
        format!("test:{}:{variant}:", self.env.pg_name)
    }

    fn cache(
        &self,
        variant: &str,
        strategy: Strategy,
        tweak: impl FnOnce(&mut CacheConfig),
    ) -> ScheduleCache {
        let mut config = CacheConfig {
            strategy,
            key_prefix: self.prefix(variant),
            count_stale_reads: true,
            ..CacheConfig::default()
        };
        tweak(&mut config);
        ScheduleCache::new(self.pool.clone(), self.redis.clone(), config).unwrap()
    }

    async fn fresh(&self, day: NaiveDate) -> String {
        fetch_schedule(&self.pool, self.doctor, day).await.unwrap()
    }

    /// Removes every key this test wrote (Redis is shared and outlives the test).
    async fn cleanup(&self) {
        let mut conn = self.redis.clone();
        let pattern = format!("test:{}:*", self.env.pg_name);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// The status of appointment `id` in a schedule's JSON, or None if it is not listed.
fn status_in(schedule: &str, id: Uuid) -> Option<String> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(schedule).unwrap();
    rows.iter()
        .find(|r| r["id"] == id.to_string())
        .map(|r| r["status"].as_str().unwrap().to_string())
}

async fn redis_get(redis: &ConnectionManager, key: &str) -> Option<String> {
    let mut conn = redis.clone();
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_write_followed_by_a_read_never_serves_the_old_schedule_with_invalidation() {
    let f = Fixture::new("cache_fresh").await;
    for (strategy, guard) in [
        (Strategy::CacheAside, false),
        (Strategy::SingleFlight, false),
        (Strategy::WriteThrough, false),
        (Strategy::CacheAside, true),
        (Strategy::SingleFlight, true),
        (Strategy::WriteThrough, true),
    ] {
        // Each strategy has its own keys; every check compares with PostgreSQL as it is now.
        let cache = f.cache(&format!("{strategy}-{guard}"), strategy, |c| {
            c.guard_fills = guard
        });
        let (a0, a1) = (f.appointments[0], f.appointments[1]);

        let first = cache.get_schedule(f.doctor, f.day).await.unwrap();
        assert_eq!(first.schedule, f.fresh(f.day).await, "{strategy}");
        let warm = cache.get_schedule(f.doctor, f.day).await.unwrap();
        assert_eq!(
            warm.outcome,
            Outcome::Hit,
            "{strategy}: second read is a hit"
        );

        cache.check_in(a0).await.unwrap().expect("a0 is open");
        cache
            .cancel(a1, "patient called")
            .await
            .unwrap()
            .expect("a1 is open");
        let after = cache.get_schedule(f.doctor, f.day).await.unwrap();
        assert_eq!(
            after.schedule,
            f.fresh(f.day).await,
            "{strategy}: read after write is fresh"
        );
        assert_eq!(after.stale, Some(false), "{strategy}");

        let booked = cache
            .book(&Booking {
                id: uuid::Uuid::new_v4(),
                patient_id: f.patients[0],
                doctor_id: f.doctor,
                start_time: at(f.day, 14),
                end_time: at(f.day, 15),
                appointment_type: "follow_up".into(),
                reason: Some("review".into()),
            })
            .await
            .unwrap();
        let after = cache.get_schedule(f.doctor, f.day).await.unwrap();
        assert_eq!(
            status_in(&after.schedule, booked.appointment_id).as_deref(),
            Some("scheduled")
        );
        assert_eq!(
            after.schedule,
            f.fresh(f.day).await,
            "{strategy}: booking visible"
        );

        // Warm the other day too, then move an appointment there: both days change.
        cache.get_schedule(f.doctor, f.other_day).await.unwrap();
        let moved = cache
            .reschedule(booked.appointment_id, at(f.other_day, 16))
            .await
            .unwrap()
            .expect("the booking is open and can move");
        assert_eq!(moved.days, vec![f.day, f.other_day]);
        let old_day = cache.get_schedule(f.doctor, f.day).await.unwrap();
        let new_day = cache.get_schedule(f.doctor, f.other_day).await.unwrap();
        assert_eq!(status_in(&old_day.schedule, booked.appointment_id), None);
        assert!(status_in(&new_day.schedule, booked.appointment_id).is_some());
        assert_eq!(old_day.schedule, f.fresh(f.day).await);
        assert_eq!(new_day.schedule, f.fresh(f.other_day).await);
        assert_eq!(cache.counters().snapshot().stale_reads, 0, "{strategy}");
        // Reopen the two touched appointments so the next strategy can write them again.
        sqlx::query("UPDATE appointments SET status = 'scheduled', cancelled_at = NULL, checked_in_at = NULL WHERE id = ANY($1)")
            .bind(vec![a0, a1])
            .execute(&f.pool)
            .await
            .unwrap();
        // That repair bypassed the cache; drop this strategy's keys.
        let mut conn = f.redis.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(cache.key(f.doctor, f.day))
            .arg(cache.key(f.doctor, f.other_day))
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    // Without invalidation the cached schedule outlives the write, and the checker says so.
    let cache = f.cache("noinval", Strategy::CacheAside, |c| {
        c.invalidate_on_write = false
    });
    let before = cache.get_schedule(f.doctor, f.day).await.unwrap();
    assert_eq!(before.outcome, Outcome::Miss);
    assert_eq!(before.stale, Some(false));
    cache
        .cancel(f.appointments[2], "clinic closed")
        .await
        .unwrap()
        .unwrap();
    let after = cache.get_schedule(f.doctor, f.day).await.unwrap();
    assert_eq!(after.outcome, Outcome::Hit);
    assert_eq!(
        after.schedule, before.schedule,
        "the old schedule is served"
    );
    assert_eq!(
        status_in(&after.schedule, f.appointments[2]).as_deref(),
        Some("scheduled")
    );
    assert_eq!(
        after.stale,
        Some(true),
        "the checker recognises the old schedule"
    );
    let c = cache.counters().snapshot();
    assert_eq!((c.stale_checked, c.stale_reads, c.invalidations), (2, 1, 0));
    f.cleanup().await;
}

#[tokio::test]
async fn hits_and_misses_are_counted_exactly() {
    let f = Fixture::new("cache_counts").await;
    let cache = f.cache("aside", Strategy::CacheAside, |_| {});
    let mut outcomes = Vec::new();
    for day in [f.day, f.day, f.day, f.other_day] {
        outcomes.push(cache.get_schedule(f.doctor, day).await.unwrap().outcome);
    }
    cache.check_in(f.appointments[0]).await.unwrap().unwrap();
    for _ in 0..2 {
        outcomes.push(cache.get_schedule(f.doctor, f.day).await.unwrap().outcome);
    }
    use Outcome::{Hit, Miss};
    assert_eq!(outcomes, vec![Miss, Hit, Hit, Miss, Miss, Hit]);
    let c = cache.counters().snapshot();
    assert_eq!((c.reads, c.hits, c.misses, c.bypasses), (6, 3, 3, 0));
    assert_eq!(c.read_db_queries, 3);
    assert_eq!(c.db_queries_saved, 3);
    assert!((c.hit_ratio - 0.5).abs() < 1e-9);
    assert_eq!((c.writes, c.write_db_queries, c.invalidations), (1, 1, 1));
    // The documented expiry is set on the key.
    let mut conn = f.redis.clone();
    let ttl: i64 = redis::cmd("TTL")
        .arg(cache.key(f.doctor, f.day))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}");

    // No cache: every read is a query and Redis is untouched.
    let none = f.cache("none", Strategy::NoCache, |_| {});
    for _ in 0..4 {
        let r = none.get_schedule(f.doctor, f.day).await.unwrap();
        assert_eq!((r.outcome, r.db_queries), (Outcome::Bypass, 1));
    }
    let c = none.counters().snapshot();
    assert_eq!(
        (c.reads, c.bypasses, c.read_db_queries, c.db_queries_saved),
        (4, 4, 4, 0)
    );
    assert_eq!(redis_get(&f.redis, &none.key(f.doctor, f.day)).await, None);
    f.cleanup().await;
}

/// Runs `n` concurrent reads of one cold key while PostgreSQL holds every schedule query
/// (an ACCESS EXCLUSIVE lock on appointments), so every reader misses before any fill can
/// land: a forced stampede. Returns the database queries the reads caused.
async fn stampede(f: &Fixture, caches: &[Arc<ScheduleCache>], n: usize) -> u32 {
    let mut blocker = f.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..n {
        let cache = caches[i % caches.len()].clone();
        let (doctor, day) = (f.doctor, f.day);
        tasks.push(tokio::spawn(async move {
            cache.get_schedule(doctor, day).await
        }));
    }
    // Long enough for every reader to have done its GET and be waiting.
    tokio::time::sleep(Duration::from_millis(400)).await;
    blocker.rollback().await.unwrap();
    let expected = f.fresh(f.day).await;
    let mut queries = 0;
    for t in tasks {
        let read = t.await.unwrap().unwrap();
        assert_eq!(read.schedule, expected);
        assert_eq!(read.outcome, Outcome::Miss, "nobody could hit a cold key");
        queries += read.db_queries;
    }
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_cause_one_query_under_single_flight() {
    let f = Fixture::new("cache_stampede").await;
    let n = 50;

    let aside = Arc::new(f.cache("aside", Strategy::CacheAside, |_| {}));
    let q = stampede(&f, std::slice::from_ref(&aside), n).await;
    assert_eq!(
        q as usize, n,
        "cache-aside: every concurrent miss queries PostgreSQL"
    );

    let sf = Arc::new(f.cache("sf", Strategy::SingleFlight, |_| {}));
    let q = stampede(&f, std::slice::from_ref(&sf), n).await;
    assert_eq!(q, 1, "single-flight: one query for {n} concurrent misses");
    let c = sf.counters().snapshot();
    assert_eq!(
        (c.misses, c.read_db_queries, c.coalesced),
        (n as u64, 1, n as u64 - 1)
    );

    // Two caches with separate in-process gates stand for two processes: only the Redis
    // lock keeps them to one query.
    let p1 = Arc::new(f.cache("sf2", Strategy::SingleFlight, |_| {}));
    let p2 = Arc::new(f.cache("sf2", Strategy::SingleFlight, |_| {}));
    let q = stampede(&f, &[p1, p2], n).await;
    assert_eq!(q, 1, "two processes: one query for {n} concurrent misses");
    // The lock is released once the value is filled.
    let mut conn = f.redis.clone();
    let locks: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}lock:*", f.prefix("sf2")))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(locks.is_empty(), "lock left behind: {locks:?}");
    f.cleanup().await;
}

#[tokio::test]
async fn ttl_expiry_leads_to_a_miss() {
    let f = Fixture::new("cache_ttl").await;
    for strategy in [Strategy::CacheAside, Strategy::SingleFlight] {
        let cache = f.cache(strategy.name(), strategy, |c| {
            c.ttl = Duration::from_secs(1)
        });
        let o = |r: clinicload::cache::ScheduleRead| r.outcome;
        assert_eq!(
            o(cache.get_schedule(f.doctor, f.day).await.unwrap()),
            Outcome::Miss
        );
        assert_eq!(
            o(cache.get_schedule(f.doctor, f.day).await.unwrap()),
            Outcome::Hit
        );
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(
            o(cache.get_schedule(f.doctor, f.day).await.unwrap()),
            Outcome::Miss,
            "{strategy}: expired after 1 s"
        );
        assert_eq!(cache.counters().snapshot().read_db_queries, 2);
    }
    f.cleanup().await;
}

#[tokio::test]
async fn write_through_keeps_the_key_fresh_without_a_miss() {
    let f = Fixture::new("cache_wt").await;
    let cache = f.cache("wt", Strategy::WriteThrough, |_| {});
    assert_eq!(
        cache.get_schedule(f.doctor, f.day).await.unwrap().outcome,
        Outcome::Miss
    );
    assert_eq!(
        cache
            .get_schedule(f.doctor, f.other_day)
            .await
            .unwrap()
            .outcome,
        Outcome::Miss
    );

    let w = cache
        .cancel(f.appointments[0], "unwell")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.db_queries, 2, "the write and the rebuild of its day");
    // The key already holds the new schedule before anyone reads it.
    let key = cache.key(f.doctor, f.day);
    assert_eq!(redis_get(&f.redis, &key).await, Some(f.fresh(f.day).await));
    let r = cache.get_schedule(f.doctor, f.day).await.unwrap();
    assert_eq!((r.outcome, r.stale), (Outcome::Hit, Some(false)));
    assert_eq!(
        status_in(&r.schedule, f.appointments[0]).as_deref(),
        Some("cancelled")
    );

    let w = cache
        .reschedule(f.appointments[1], at(f.other_day, 8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.db_queries, 3, "the write and both days rebuilt");
    for day in [f.day, f.other_day] {
        let r = cache.get_schedule(f.doctor, day).await.unwrap();
        assert_eq!((r.outcome, r.stale), (Outcome::Hit, Some(false)));
        assert_eq!(r.schedule, f.fresh(day).await);
    }
    let c = cache.counters().snapshot();
    assert_eq!((c.misses, c.hits, c.stale_reads), (2, 3, 0));
    f.cleanup().await;
}

#[tokio::test]
async fn memory_of_cached_schedules_is_sampled_and_extrapolated() {
    let f = Fixture::new("cache_mem").await;
    let cache = f.cache("mem", Strategy::CacheAside, |_| {});
    let days: Vec<NaiveDate> = f.day.iter_days().take(5).collect();
    for &day in &days {
        cache.get_schedule(f.doctor, day).await.unwrap();
    }
    let m = memory::sample_memory(&f.redis, &f.prefix("mem"), 1000)
        .await
        .unwrap();
    assert_eq!((m.keys_found, m.keys_sampled), (5, 5));
    let full = f.fresh(f.day).await.len() as f64;
    // Four empty days ("[]") and one with three appointments.
    assert!((m.mean_value_bytes - (full + 4.0 * 2.0) / 5.0).abs() < 1e-9);
    assert!(
        m.mean_bytes_per_key > m.mean_value_bytes,
        "per-key overhead is counted"
    );
    assert_eq!(
        m.extrapolate(100, 30),
        (m.mean_bytes_per_key * 3000.0).round() as u64
    );
    assert!(m.server_used_memory.unwrap() > m.sampled_bytes);
    f.cleanup().await;
}

/// `clinicload run` of a scenario with three cache variants over the runner's fixture
/// dataset: one report with the variants side by side, hits and misses as separate
/// histograms, no stale reads with invalidation and some without.
#[tokio::test]
async fn run_compares_cache_variants_in_one_report() {
    let env = TestEnv::migrated("cache_run").await;
    fixture::insert(&env).await;
    let redis = clinicload::connect::redis(&env.targets).await.unwrap();
    let prefix = format!("test:{}:", env.pg_name);
    let dir =
        std::env::temp_dir().join(format!("clinicload-test-cache-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("cache-e2e.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "cache-e2e"
duration = "3s"
warmup = "0s"

[load]
model = "open"
rate = 150
connections = {{ postgres = 4, redis = 2 }}

[cache]
ttl = "1h"
count_stale_reads = true
key_prefix = "{prefix}"

[[variant]]
name = "aside"
strategy = "cache-aside"

[[variant]]
name = "none"
strategy = "none"

[[variant]]
name = "noinval"
strategy = "cache-aside"
invalidate_on_write = false

[[op]]
name = "doctor_schedule"
weight = 80
doctor = "uniform"

[[op]]
name = "schedule_book"
weight = 15

[[op]]
name = "schedule_cancel"
weight = 5
days = 3
"#
        ),
    )
    .unwrap();
    let out = dir.join("reports");
    let output = env
        .command()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .checked_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed:\n{stdout}\n{stderr}");
    assert!(!stdout.contains(":clinicload@") && !stderr.contains(":clinicload@"));
    assert!(
        stdout.contains("| | aside | none | noinval |"),
        "side-by-side table:\n{stdout}"
    );

    let run_dir = std::fs::canonicalize(out.join("latest")).unwrap();
    let top: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(top["schema"], "clinicload.comparison/1");
    let variants = top["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    for v in variants {
        common::assert_accounted(&v["summary"]);
    }
    for v in variants {
        let name = v["name"].as_str().unwrap();
        for f in ["summary.json", "summary.md", "report.html", "latency.hlog"] {
            assert!(run_dir.join(name).join(f).is_file(), "{name}/{f}");
        }
    }
    assert!(std::fs::read_to_string(run_dir.join("report.html"))
        .unwrap()
        .contains("aside/report.html"));
    let cache = |i: usize| &variants[i]["summary"]["cache"];
    let counter = |i: usize, k: &str| cache(i)["counters"][k].as_u64().unwrap();
    let labels = |i: usize| -> Vec<String> {
        variants[i]["summary"]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["label"].as_str().unwrap().to_string())
            .collect()
    };

    // cache-aside with invalidation: hits and misses apart, nothing stale.
    assert!(labels(0).contains(&"doctor_schedule:hit".to_string()));
    assert!(labels(0).contains(&"doctor_schedule:miss".to_string()));
    assert!(counter(0, "hits") > 0 && counter(0, "misses") > 0);
    assert!(counter(0, "writes") > 0 && counter(0, "invalidations") > 0);
    assert!(counter(0, "stale_checked") > 0);
    assert_eq!(
        counter(0, "stale_reads"),
        0,
        "invalidation leaves no stale read"
    );
    assert!(cache(0)["hit_latency"]["p50_us"].as_u64().is_some());
    assert!(cache(0)["memory"]["keys_found"].as_u64().unwrap() >= 1);
    assert!(cache(0)["scale"]["keys"].as_u64().unwrap() >= 3);

    // No cache: every read is a query, nothing saved, nothing in Redis.
    assert!(labels(1).contains(&"doctor_schedule:bypass".to_string()));
    assert_eq!(counter(1, "bypasses"), counter(1, "reads"));
    assert_eq!(counter(1, "read_db_queries"), counter(1, "reads"));
    assert!(cache(1)["memory"].is_null());

    // Without invalidation the bookings are missing from cached schedules.
    assert_eq!(counter(2, "invalidations"), 0);
    assert!(
        counter(2, "stale_reads") > 0,
        "no-invalidation serves stale schedules"
    );

    let mut conn = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped cache scenarios parse, with the variants their comments promise.
#[test]
fn shipped_cache_scenarios_are_valid() {
    use clinicload::scenario::spec;
    let load = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        spec::load(&path, &spec::Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
    };
    let strategies = |s: &spec::Scenario| -> Vec<(String, Strategy, bool, bool)> {
        s.cache
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.config.strategy,
                    v.config.invalidate_on_write,
                    v.prewarm,
                )
            })
            .collect()
    };
    let cold = load("cache-cold-vs-warm.toml");
    assert_eq!(
        strategies(&cold),
        vec![
            ("cold".into(), Strategy::CacheAside, true, false),
            ("warm".into(), Strategy::CacheAside, true, true)
        ]
    );
    assert_eq!(cold.cache[0].config.ttl, Duration::from_secs(3600));
    assert_eq!(cold.cache[0].config.key_prefix, "", "production keys");
    let vs = load("cache-vs-no-cache.toml");
    assert_eq!(
        strategies(&vs).iter().map(|v| v.1).collect::<Vec<_>>(),
        vec![Strategy::NoCache, Strategy::CacheAside]
    );
    let inval = load("cache-invalidation.toml");
    assert!(inval.cache.iter().all(|v| v.config.count_stale_reads));
    assert_eq!(
        strategies(&inval)
            .iter()
            .map(|v| (v.1, v.2))
            .collect::<Vec<_>>(),
        vec![
            (Strategy::CacheAside, true),
            (Strategy::SingleFlight, true),
            (Strategy::WriteThrough, true),
            (Strategy::CacheAside, true),
            (Strategy::WriteThrough, true),
            (Strategy::CacheAside, false)
        ]
    );
    assert_eq!(
        inval
            .cache
            .iter()
            .map(|v| v.config.guard_fills)
            .collect::<Vec<_>>(),
        vec![false, false, false, true, true, false]
    );
    assert_eq!(inval.ops.len(), 5, "reads and the four writes");
    let stampede = load("cache-stampede.toml");
    assert_eq!(
        strategies(&stampede)
            .iter()
            .map(|v| v.1)
            .collect::<Vec<_>>(),
        vec![Strategy::CacheAside, Strategy::SingleFlight]
    );
    assert_eq!(stampede.cache[0].config.ttl, Duration::from_secs(2));
}

/// A bad `[cache]` or `[[variant]]` is rejected before connecting, naming the line.
#[test]
fn bad_cache_sections_name_the_line() {
    use clinicload::scenario::spec;
    let src = "name = \"x\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 1\n\
               [[op]]\nname = \"doctor_schedule\"\n\
               [cache]\nstrategy = \"lru\"\n";
    let e = spec::parse(src, "x.toml", &spec::Overrides::default()).unwrap_err();
    assert_eq!(e.line, 8, "{e}");
    assert!(
        e.message.contains("lru") || e.message.contains("unknown variant"),
        "{e}"
    );
    assert!(
        e.message.contains("cache-aside"),
        "lists the strategies: {e}"
    );
    // A cache operation without [cache] runs the documented cache-aside.
    let src = "name = \"x\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 1\n\
               [[op]]\nname = \"doctor_schedule\"\n";
    let s = spec::parse(src, "x.toml", &spec::Overrides::default()).unwrap();
    assert_eq!(s.cache.len(), 1);
    assert_eq!(s.cache[0].config, CacheConfig::default());
}

/// Cache-aside's known race, played step by step: a miss reads the old rows, a write commits
/// and deletes the key, then the miss's late `SET` puts the old schedule back. Invalidation
/// cannot prevent it; the checker must catch it (so "0 stale reads" in a run means none
/// happened, not that none could be seen).
#[tokio::test]
async fn the_checker_catches_the_late_fill_race_of_cache_aside() {
    let f = Fixture::new("cache_race").await;
    let cache = f.cache("race", Strategy::CacheAside, |_| {});
    let key = cache.key(f.doctor, f.day);
    // 1. The reader misses and reads PostgreSQL...
    let old = f.fresh(f.day).await;
    // 2. ...a write commits and invalidates...
    cache
        .cancel(f.appointments[0], "race")
        .await
        .unwrap()
        .unwrap();
    // 3. ...and the reader's SET lands after the DEL.
    let mut conn = f.redis.clone();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&old)
        .arg("EX")
        .arg(3600)
        .query_async(&mut conn)
        .await
        .unwrap();
    let r = cache.get_schedule(f.doctor, f.day).await.unwrap();
    assert_eq!(r.outcome, Outcome::Hit);
    assert_eq!(r.schedule, old);
    assert_eq!(r.stale, Some(true));
    assert_eq!(cache.counters().snapshot().stale_reads, 1);
    f.cleanup().await;
}

/// With `guard_fills`, the same interleaving cannot land: the write's invalidation bumps the
/// key's generation, the late fill sees it and is refused, and the next read misses and
/// reads the new schedule. Without the guard the same steps store the old schedule.
#[tokio::test]
async fn guarded_fills_close_the_late_fill_race() {
    let f = Fixture::new("cache_guard").await;
    for (guard, appointment) in [(true, f.appointments[0]), (false, f.appointments[1])] {
        let cache = f.cache(&format!("guard-{guard}"), Strategy::CacheAside, |c| {
            c.guard_fills = guard
        });
        let (cached, seen) = cache.lookup(f.doctor, f.day).await.unwrap();
        assert_eq!(cached, None);
        let old = f.fresh(f.day).await;
        cache.cancel(appointment, "race").await.unwrap().unwrap();
        let stored = cache.fill(f.doctor, f.day, &seen, &old).await.unwrap();
        let r = cache.get_schedule(f.doctor, f.day).await.unwrap();
        let c = cache.counters().snapshot();
        if guard {
            assert!(!stored, "the late fill is refused");
            assert_eq!(c.refused_fills, 1);
            assert_eq!((r.outcome, r.stale), (Outcome::Miss, Some(false)));
            assert_eq!(r.schedule, f.fresh(f.day).await);
            // The read's own fill was accepted: the next read hits the new schedule.
            let again = cache.get_schedule(f.doctor, f.day).await.unwrap();
            assert_eq!((again.outcome, again.stale), (Outcome::Hit, Some(false)));
        } else {
            assert!(stored);
            assert_eq!((r.outcome, r.stale), (Outcome::Hit, Some(true)));
            assert_eq!(r.schedule, old);
        }
    }
    f.cleanup().await;
}
