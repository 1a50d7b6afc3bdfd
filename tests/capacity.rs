//! Capacity sweeps against the real servers. Rate sweeps on an operation with a known
//! service time behind 1, 2, 4 and 8 connections (`pg_sleep` of 20 ms: at most connections /
//! service time operations per second), with as many workers as connections and with many
//! more, find that cap within 15%, and the steps beyond it are valid but saturated (the
//! server's pool, not clinicload, fell behind). A connection sweep of an operation
//! that scales with connections fits the USL with R² >= 0.9. With clinicload pinned to one
//! core at a rate that core cannot schedule, the step is invalid (the generator fell behind).
mod common;
use common::prelude::*;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestEnv;
use serde_json::Value;
use sqlx::Connection;

/// The sweeps measure the machine: one at a time (the starved-generator test pins a core).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "clinicload-capacity-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sleep_scenario(dir: &Path, ms: u32, pool: u32, model: &str) -> PathBuf {
    let load = match model {
        "open" => format!("model = \"open\"\nrate = 10\nmax_in_flight = 256\nconnections = {{ postgres = {pool} }}"),
        _ => "model = \"closed\"\nusers = 1".to_string(),
    };
    let path = dir.join(format!("sleep-{model}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"sleep\"\nduration = \"3s\"\nwarmup = \"1s\"\n\n[load]\n{load}\n\n[[op]]\nname = \"pg_sleep\"\nweight = 1\nms = {ms}\n"
        ),
    )
    .unwrap();
    path
}

fn report_html(dir: &Path) -> String {
    let d = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-sweep-"))
        .expect("a sweep directory");
    std::fs::read_to_string(d.join("report.html")).unwrap()
}

fn sweep_json(dir: &Path) -> Value {
    let d = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-sweep-"))
        .expect("a sweep directory");
    serde_json::from_str(&std::fs::read_to_string(d.join("sweep.json")).unwrap()).unwrap()
}

/// An open-model scenario of `pg_sleep(ms)` behind `pool` PostgreSQL connections with
/// `max_in_flight` workers.
fn sleep_open(dir: &Path, ms: u32, pool: u32, max_in_flight: u32) -> PathBuf {
    let path = dir.join(format!("sleep-{pool}-{max_in_flight}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"sleep-{pool}-{max_in_flight}\"\nduration = \"3s\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = 10\nmax_in_flight = {max_in_flight}\nconnections = {{ postgres = {pool} }}\n\n[[op]]\nname = \"pg_sleep\"\nweight = 1\nms = {ms}\n"
        ),
    )
    .unwrap();
    path
}

/// The service time of the calibration operation, and so the caps: `pool` connections each
/// serving one 20 ms sleep at a time serve at most pool / 20 ms = 50, 100, 200, 400 ops/s.
const SLEEP_MS: u32 = 20;

/// A rate sweep of `pg_sleep(20 ms)` behind `pool` connections with `max_in_flight`
/// workers: what it found against the cap connections / service time, and its steps.
fn sweep_sleep(env: &TestEnv, dir: &Path, pool: u32, max_in_flight: u32) -> (Value, String) {
    let file = sleep_open(dir, SLEEP_MS, pool, max_in_flight);
    let nominal = f64::from(pool) * 1000.0 / f64::from(SLEEP_MS);
    let reports = dir.join(format!("reports-{pool}-{max_in_flight}"));
    let out = env
        .command()
        .args([
            "sweep",
            "rate",
            file.to_str().unwrap(),
            "--slo",
            "p99<100ms",
            // Below the cap, so the sweep grows through it; the search does not know it.
            "--from",
            &format!("{}", (0.7 * nominal).round()),
            "--factor",
            "1.5",
            // Evenly spaced arrivals reach the deterministic cap; Poisson ones queue before it.
            "--arrivals",
            "uniform",
            "--warmup",
            "500ms",
            "--step",
            "2s",
            "--confirm",
            "4s",
            "--quiet",
            "--out",
        ])
        .arg(&reports)
        .checked_output()
        .unwrap();
    let t = format!("pool {pool}, max_in_flight {max_in_flight}: {}", text(&out));
    assert!(out.status.success(), "{t}");
    (sweep_json(&reports), t)
}

/// Rate sweeps of an operation with a known service time (`pg_sleep(20 ms)`) behind 1, 2,
/// 4 and 8 connections, each with as many workers as connections and with far more (256,
/// as the shipped scenarios have). Each finds the cap, connections / service time, within
/// 15% and confirms it; no step is invalid, and every step beyond the cap is saturated:
/// arrivals waiting for a full pool are the server's limit, not clinicload's.
///
/// Why 15% holds with margin (false failure well under 1 in 1000 per CI run): the cap is
/// computed from the measured service time (the lowest step median, about 20.2 ms), and
/// evenly spaced arrivals into a deterministic service queue nothing below the cap. Above
/// it, the backlog grows by (rate - cap) each second: a step more than 5.3% over the cap
/// achieves under 95% of its offered rate and breaks, and the 4 s confirmation breaks p99 <
/// 100 ms once the backlog adds 80 ms, about 2% over the cap; so the answer is at most about
/// 5% above the cap, whatever the noise. Below, a step at 90% of the cap breaks only if a
/// stall of the server or of clinicload delays over 1% of its arrivals by more than 80 ms
/// (four times the service time); the answer falls under 85% of the cap only after two such
/// failures (a bisect step and a confirmation, or the confirmation and its step down) in
/// one sweep. On the 2-core development box, with other builds keeping its load average at
/// 6 to 12, the answers fell 1% to 10.9% under the cap, never 15%. Two such stalls in one
/// sweep on a CI runner that runs these sweeps one test at a time is, by this estimate (an
/// argument from the margins, not a count of failures), well under 1 in 1000.
///
/// What the test cannot absorb is a machine starved by other processes: then the scheduler
/// thread wakes late (a dispatch lag p90 of 6 to 20 ms was seen at 1-3% clinicload CPU with
/// the load average at 6 to 12), and the step is rightly invalid: clinicload did not offer
/// the load it meant to. The test assumes a runner without such neighbours, as CI's is.
#[tokio::test]
async fn rate_sweeps_find_the_cap_of_each_pool_and_call_the_steps_beyond_it_saturated() {
    let _serial = SERIAL.lock().await;
    // Two lanes at once, each on its own database (a sweep holds its dataset): sleeping
    // connections leave the CPU to the other lane, and the family takes half the time.
    let lanes = [
        TestEnv::migrated("cap_family_a").await,
        TestEnv::migrated("cap_family_b").await,
    ];
    let dir = scratch("family");
    let results: Vec<(u32, u32, Value, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = lanes
            .iter()
            .zip([None, Some(256)])
            .map(|(env, workers)| {
                let dir = &dir;
                scope.spawn(move || {
                    [1u32, 2, 4, 8]
                        .iter()
                        .map(|&pool| {
                            let w = workers.unwrap_or(pool);
                            let (s, t) = sweep_sleep(env, dir, pool, w);
                            (pool, w, s, t)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut found_lines = Vec::new();
    for (pool, workers, s, t) in &results {
        let steps = s["steps"].as_array().unwrap();
        // The service time, measured where nothing queues: the lowest step median (one
        // step's median can be inflated by the server's background work, e.g. a checkpoint).
        let p50 = steps
            .iter()
            .map(|st| st["p50_us"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let cap = f64::from(*pool) * 1e6 / p50;
        let found = s["max_rate"].as_f64().unwrap_or(0.0);
        found_lines.push(format!(
            "pool {pool} x {workers} workers: found {found:.1} ops/s, cap {cap:.1} ({:+.1}%)",
            (found / cap - 1.0) * 100.0
        ));
        assert!(
            (found - cap).abs() / cap <= 0.15,
            "found {found:.1} ops/s, cap {pool}/{p50} us = {cap:.1}: {t}"
        );
        assert_eq!(s["confirmed"], true, "{t}");
        assert!(t.contains("max sustainable rate"), "{t}");
        assert!(s["generator_ceiling"].is_null(), "{t}");
        for st in steps {
            assert_ne!(st["health"], "invalid", "{st}\n{t}");
            // Beyond the cap, the server fell behind, and clinicload did not.
            if st["target"].as_f64().unwrap() > 1.1 * cap {
                assert_eq!(st["health"], "saturated", "{st}\n{t}");
                assert!(
                    st["health_reason"]
                        .as_str()
                        .unwrap()
                        .contains("the server fell behind"),
                    "{st}"
                );
            }
        }
        let broken: Vec<&Value> = steps.iter().filter(|st| st["slo_pass"] == false).collect();
        assert!(!broken.is_empty(), "the sweep went past the cap: {t}");
        assert_eq!(s["limiting_op"], "pg_sleep", "{t}");
    }
    eprintln!("{}", found_lines.join("\n"));
    let html = report_html(&dir.join("reports-1-256"));
    assert!(html.contains("Latency against offered rate") && html.contains("<svg"));
    assert!(html.contains("max sustainable"));
    assert!(
        html.contains("SLO p99 &lt; 100ms") || html.contains("SLO p99 < 100ms"),
        "the SLO line is drawn"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_connection_sweep_of_a_scalable_operation_fits_the_usl() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::migrated("cap_conn").await;
    let dir = scratch("conn");
    let file = sleep_scenario(&dir, 5, 1, "closed");
    let out = env
        .command()
        .args([
            "sweep",
            "connections",
            file.to_str().unwrap(),
            "--max",
            "8",
            "--step",
            "2s",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let s = sweep_json(&dir.join("reports"));
    let usl = &s["usl"];
    assert!(usl["r_squared"].as_f64().unwrap() >= 0.9, "{usl}: {t}");
    // Sleeping connections do not contend: throughput grows almost linearly.
    assert!(usl["sigma"].as_f64().unwrap() < 0.1, "{usl}");
    let steps = s["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    let x1 = steps[0]["achieved"].as_f64().unwrap();
    let x8 = steps[3]["achieved"].as_f64().unwrap();
    assert!(x8 > 5.0 * x1, "1 connection {x1:.0} ops/s, 8: {x8:.0}");
    let html = report_html(&dir.join("reports"));
    assert!(html.contains("Throughput against connections") && html.contains("USL fit"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// clinicload pinned to one core (`taskset -c 0`) at a rate that core cannot schedule: the
/// step is invalid and the sweep reports the generator's ceiling instead of a capacity.
#[tokio::test]
async fn a_starved_generator_makes_its_step_invalid() {
    let _serial = SERIAL.lock().await;
    if std::process::Command::new("taskset")
        .arg("-V")
        .checked_output()
        .is_err()
    {
        panic!("taskset (util-linux) is needed for this test");
    }
    let env = TestEnv::migrated("cap_starved").await;
    let dir = scratch("starved");
    let path = dir.join("starved.toml");
    std::fs::write(
        &path,
        "name = \"starved\"\nduration = \"3s\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = 10\nmax_in_flight = 512\nconnections = { postgres = 4 }\n\n[[op]]\nname = \"pg_sleep\"\nweight = 1\nms = 0\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new("taskset");
    cmd.args(["-c", "0", TestEnv::bin()]);
    for (k, v) in env.command().get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd
        .args([
            "sweep",
            "rate",
            path.to_str().unwrap(),
            "--slo",
            "p99<1000ms",
            "--from",
            "100000",
            "--max",
            "100000",
            "--step",
            "3s",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let s = sweep_json(&dir.join("reports"));
    assert_eq!(s["steps"][0]["health"], "invalid", "{t}");
    assert_eq!(s["generator_ceiling"].as_f64(), Some(100000.0), "{t}");
    // With the measured reason: clinicload's CPU or its dispatch lag, not a pool.
    let why = s["generator_ceiling_reason"].as_str().unwrap_or_default();
    assert!(why.contains("CPU") || why.contains("late"), "{why}\n{t}");
    assert!(s["max_rate"].is_null(), "no capacity claimed: {t}");
    assert!(t.contains("could not keep"), "{t}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `arrivals = "poisson"`: the run's intended arrivals are the seeded Poisson process's
/// (about rate x window, not exactly), every one is accounted for, and the same seed gives
/// the same count.
#[tokio::test]
async fn poisson_arrivals_are_counted_and_reproducible() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::migrated("cap_poisson").await;
    let dir = scratch("poisson");
    let path = dir.join("poisson.toml");
    std::fs::write(
        &path,
        "name = \"poisson\"\nduration = \"4s\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = 300\narrivals = \"poisson\"\nconnections = { postgres = 4 }\n\n[[op]]\nname = \"pg_sleep\"\nweight = 1\nms = 1\n",
    )
    .unwrap();
    let mut counts = Vec::new();
    for k in 0..2 {
        let out_dir = dir.join(format!("reports{k}"));
        let out = env
            .command()
            .args(["run", path.to_str().unwrap(), "--quiet", "--out"])
            .arg(&out_dir)
            .checked_output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let run = out_dir.join(std::fs::read_link(out_dir.join("latest")).unwrap());
        let s: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                .unwrap();
        common::assert_accounted(&s);
        assert_eq!(s["scenario"]["load"]["arrivals"], "poisson");
        counts.push(s["run"]["intended"].as_u64().unwrap());
    }
    // 1,200 expected; a Poisson count's standard deviation is about 35.
    let n = counts[0] as f64;
    assert!((n - 1200.0).abs() < 175.0, "{counts:?}");
    assert_ne!(
        counts[0], 1200,
        "evenly spaced arrivals would give exactly 1200"
    );
    assert_eq!(counts[0], counts[1], "the same seed, the same arrivals");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scale sweep at 1, 2 and 4 clinics of 4,000 patients each: without its index, a
/// patient's encounters are a sequential scan whose latency grows with the rows; with it, the
/// same lookup stays flat. Every size is seeded by the sweep (its time recorded), every index
/// is back afterwards, and a second sweep reuses the dataset with its recorded seeding time.
#[tokio::test]
async fn a_scale_sweep_shows_a_dropped_index_growing_and_an_indexed_lookup_flat() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::new("cap_scale").await;
    let dir = scratch("scale");
    let file = dir.join("grow.toml");
    std::fs::write(
        &file,
        "name = \"grow\"\nduration = \"5s\"\nwarmup = \"2s\"\n\n[load]\nmodel = \"open\"\nrate = 150\nconnections = { postgres = 4 }\n\n\
         [[op]]\nname = \"patient_encounters\"\nweight = 1\npatient = \"uniform\"\n\n[[op]]\nname = \"unread_alerts\"\nweight = 1\n\n\
         [[variant]]\nname = \"as-migrated\"\n\n[[variant]]\nname = \"no-encounter-index\"\ndrop_indexes = [\"idx_encounters_patient_time\"]\n",
    )
    .unwrap();
    let sweep = |clinics: &str| {
        env.command()
            .args([
                "sweep",
                "scale",
                file.to_str().unwrap(),
                "--profile",
                "tiny",
                "--patients",
                "4000",
                "--history-days",
                "365",
                "--clinics",
                clinics,
                "--step",
                "5s",
                "--warmup",
                "2s",
                "--quiet",
                "--out",
            ])
            .arg(dir.join("reports"))
            .checked_output()
            .unwrap()
    };
    let out = sweep("1,2,4");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let s = sweep_json(&dir.join("reports"));
    assert_eq!(s["schema"], "clinicload.sweep_scale/1");
    let growth = s["growth"].as_array().unwrap();
    let of = |variant: &str, op: &str| {
        growth
            .iter()
            .find(|g| g["variant"] == variant && g["op"] == op)
            .unwrap_or_else(|| panic!("no growth row for {op} [{variant}]: {s}"))
    };
    let dropped = of("no-encounter-index", "patient_encounters");
    assert_eq!(dropped["verdict"], "grows with the data", "{dropped}\n{t}");
    assert_eq!(dropped["against"], "rows read");
    // A lookup on one table by its partial index: flat however many alerts there are. (The
    // encounters query as migrated is not: it joins users, which the planner reads by a
    // sequential scan once there are a few clinics, and the sweep says so.)
    let indexed = of("as-migrated", "unread_alerts");
    assert_eq!(indexed["verdict"], "flat", "{indexed}\n{t}");
    assert_eq!(indexed["against"], "rows read");
    let steps = s["steps"].as_array().unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|z| z["clinics"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 4]
    );
    for z in steps {
        let path_of = |variant: &str| {
            z["ops"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["variant"] == variant && o["op"] == "patient_encounters")
                .and_then(|o| o["path"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            path_of("as-migrated").contains("using idx_encounters_patient_time"),
            "{z}"
        );
        assert!(
            path_of("no-encounter-index").contains("encounters: Seq Scan"),
            "{z}"
        );
        assert_eq!(z["seeded_now"], true, "{z}");
        assert!(z["seed_s"].as_f64().unwrap() > 0.0, "{z}");
    }
    // Rows read grow with the clinics.
    let x = |k: &str| dropped[k].as_f64().unwrap();
    assert!(x("x_last") > 3.0 * x("x_first"), "{dropped}");
    assert!(s["seeding_slope"].as_f64().is_some(), "{s}");
    let html = report_html(&dir.join("reports"));
    assert!(html.contains("p50 against dataset size") && html.contains("grows with the data"));

    // Every scratch dataset has its index back and an empty ledger.
    let names: Vec<String> = steps
        .iter()
        .map(|z| z["dataset"].as_str().unwrap().to_string())
        .collect();
    for name in &names {
        let mut url = url::Url::parse(&env.targets.database_url).unwrap();
        url.set_path(&format!("/{name}"));
        let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        let back: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_encounters_patient_time')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(back, "{name} lost idx_encounters_patient_time");
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.index_changes")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(pending, 0, "{name}");
    }

    // A second sweep reuses the complete dataset and reads its seeding time back.
    std::fs::remove_dir_all(dir.join("reports")).unwrap();
    let out = sweep("2");
    assert!(out.status.success(), "{}", text(&out));
    let s = sweep_json(&dir.join("reports"));
    let z = &s["steps"][0];
    assert_eq!(z["seeded_now"], false, "{z}");
    assert!(z["seed_s"].as_f64().unwrap() > 0.0, "{z}");

    let mut admin_url = url::Url::parse(&env.targets.database_url).unwrap();
    admin_url.set_path("/postgres");
    let mut admin = sqlx::PgConnection::connect(admin_url.as_str())
        .await
        .unwrap();
    for name in &names {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    // The seeds' writes flushed now, not in the middle of the next sweep's measurements.
    sqlx::query("CHECKPOINT").execute(&mut admin).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every step of a sweep is a run in the same process: a step's connections must close with
/// it, or a long sweep ends in "too many clients". Eight steps never hold more than one
/// step's connections.
#[tokio::test]
async fn a_sweep_holds_one_steps_connections_at_a_time() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::migrated("cap_leak").await;
    let dir = scratch("leak");
    let file = sleep_scenario(&dir, 1, 4, "open");
    let watch = common::PanicWatch::new();
    let mut child = env
        .command()
        .args([
            "sweep",
            "rate",
            file.to_str().unwrap(),
            "--slo",
            "p99<1s",
            "--from",
            "10",
            "--factor",
            "1.05",
            "--max",
            "14",
            "--step",
            "1s",
            "--warmup",
            "0s",
            "--confirm",
            "1s",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("reports"))
        .stdout(watch.stdout())
        .stderr(watch.stderr())
        .spawn()
        .unwrap();
    let pool = env.pool().await;
    let mut most = 0i64;
    while child.try_wait().unwrap().is_none() {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'clinicload'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        most = most.max(n);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(child.wait().unwrap().success());
    let steps = sweep_json(&dir.join("reports"))["steps"]
        .as_array()
        .unwrap()
        .len();
    assert!(steps >= 8, "{steps} steps");
    // One step: 4 load connections, 2 for sampling, a few of its own bookkeeping.
    assert!(most <= 12, "{most} connections at once over {steps} steps");
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
