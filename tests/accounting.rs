//! Every intended arrival ends in exactly one bucket, provoked for real: a table without the
//! column an operation reads (failed, by kind), a locked table and a timeout shorter than
//! the lock (timed out), a Redis paused across the end of the run (missed), a SIGTERM while
//! operations hang (abandoned, exit code 130). And results survive a full disk: a small
//! tmpfs as `--out` is refused before the load; a disk that fills during the run leaves no
//! truncated file, and the summary is still printed.
//!
//! Redis is paused on a private server (its own port, started here) so that the rest of the
//! suite, sharing the stack's Redis, is not held up.
mod common;
use common::prelude::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clinicload::config::Targets;
use clinicload::report::Summary;
use clinicload::run::{run_scenario, RunOptions};
use clinicload::scenario::spec::Overrides;
use common::TestEnv;
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-acct-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A redis-server of our own on a free port, stopped on drop.
struct PrivateRedis {
    child: Child,
    url: String,
}

impl PrivateRedis {
    async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/stack installs it)");
        let url = format!("redis://127.0.0.1:{port}/");
        let client = redis::Client::open(url.as_str()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        PrivateRedis { child, url }
    }

    /// `CLIENT PAUSE ms ALL` after `after`, from a connection of its own.
    fn pause(&self, after: Duration, ms: u64) -> tokio::task::JoinHandle<()> {
        let url = self.url.clone();
        tokio::spawn(async move {
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            tokio::time::sleep(after).await;
            let _: () = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(ms)
                .arg("ALL")
                .query_async(&mut c)
                .await
                .unwrap();
        })
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "name = \"{name}\"\n{body}\n[[op]]\nname = \"redis_get\"\nkeyspace = 50\n\
             prefix = \"clinicload:test:acct:\"\n"
        ),
    )
    .unwrap();
    file
}

async fn run_lib(targets: &Targets, file: &Path, out: &Path) -> Summary {
    let opts = RunOptions {
        overrides: Overrides::default(),
        out: out.to_path_buf(),
        quiet: true,
        verbose: false,
        ..RunOptions::default()
    };
    let result = run_scenario(targets, file, &opts).await.unwrap();
    assert!(result.write_error.is_none(), "{:?}", result.write_error);
    common::assert_accounted_summary(&result.summary);
    result.summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_across_the_end_of_the_run_is_missed_not_lost() {
    let redis = PrivateRedis::start().await;
    let targets = Targets {
        redis_url: redis.url.clone(),
        ..common::base_targets()
    };
    let dir = scratch("stall");
    let file = redis_scenario(
        &dir,
        "stall",
        "duration = \"2s\"\ntimeout = \"10s\"\n[load]\nmodel = \"open\"\nrate = 200\n\
         max_in_flight = 16\nconnections = { redis = 1 }",
    );
    // Paused from 1.3 s to 2.8 s: the last 0.7 s of arrivals queue up behind 16 stuck
    // workers and are still queued when the window ends.
    let pauser = redis.pause(Duration::from_millis(1300), 1500);
    let s = run_lib(&targets, &file, &dir.join("reports")).await;
    pauser.await.unwrap();
    let a = &s.run.arrivals;
    eprintln!("{a:?}");
    assert_eq!(a.intended, 400, "200/s over 2 s, from the schedule");
    assert!(a.ok > 200, "{a:?}");
    assert!(a.missed > 50, "queued at the end must be missed: {a:?}");
    assert_eq!(
        (a.failed, a.timed_out, a.abandoned, a.unsupported),
        (0, 0, 0, 0)
    );
    let op = &s.operations[0];
    assert_eq!(op.arrivals.as_ref().unwrap(), a);
    // Missed arrivals waited too: the all-arrivals tail shows it, labelled apart.
    assert!(op.p99_all_us >= 500_000, "p99_all {}", op.p99_all_us);
    assert!(op.all.count == a.ok + a.missed, "{:?}", op.all);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("target rate not reached")));
    assert!(s.run.error_rate > 0.1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_shorter_than_a_redis_pause_counts_timed_out() {
    let redis = PrivateRedis::start().await;
    let targets = Targets {
        redis_url: redis.url.clone(),
        ..common::base_targets()
    };
    let dir = scratch("timeout");
    let file = redis_scenario(
        &dir,
        "timeout",
        "duration = \"2s\"\ntimeout = \"200ms\"\n[load]\nmodel = \"open\"\nrate = 100\n\
         max_in_flight = 64\nconnections = { redis = 1 }",
    );
    let pauser = redis.pause(Duration::from_millis(500), 800);
    let s = run_lib(&targets, &file, &dir.join("reports")).await;
    pauser.await.unwrap();
    let a = &s.run.arrivals;
    eprintln!("{a:?}");
    assert_eq!(a.intended, 200);
    assert!(a.timed_out >= 20, "{a:?}");
    assert!(a.ok > 50, "{a:?}");
    assert_eq!(a.failed, 0, "{a:?}");
    assert_eq!(
        s.overall.errors_by_kind["timeout"].count, a.timed_out,
        "overall.errors_by_kind is filled"
    );
    assert!(s.operations[0].p99_all_us >= 200_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PostgreSQL table for `pg_pk_lookup`: with its `payload` column, or without (every
/// lookup then fails with SQLSTATE 42703).
async fn bench_table(env: &TestEnv, with_payload: bool) {
    let pool = env.pool().await;
    let cols = if with_payload {
        "id bigint PRIMARY KEY, payload text"
    } else {
        "id bigint PRIMARY KEY"
    };
    sqlx::query(&format!("CREATE TABLE clinicload_bench_kv ({cols})"))
        .execute(&pool)
        .await
        .unwrap();
    let fill = if with_payload {
        "INSERT INTO clinicload_bench_kv SELECT g, 'x' FROM generate_series(1, 100) g"
    } else {
        "INSERT INTO clinicload_bench_kv SELECT g FROM generate_series(1, 100) g"
    };
    sqlx::query(fill).execute(&pool).await.unwrap();
    pool.close().await;
}

fn pg_scenario(dir: &Path, name: &str, timeout: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "name = \"{name}\"\nduration = \"2s\"\ntimeout = \"{timeout}\"\n[load]\n\
             model = \"open\"\nrate = 50\nconnections = {{ postgres = 2 }}\n\
             [[op]]\nname = \"pg_pk_lookup\"\nrows = 100\n"
        ),
    )
    .unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_failed_by_kind_with_their_latency() {
    let env = TestEnv::migrated("acct_failed").await;
    bench_table(&env, false).await;
    let dir = scratch("failed");
    let s = run_lib(
        &env.targets,
        &pg_scenario(&dir, "failed", "5s"),
        &dir.join("reports"),
    )
    .await;
    let a = &s.run.arrivals;
    assert_eq!(a.intended, 100);
    assert_eq!(a.failed, 100, "{a:?}");
    assert_eq!(a.failed_by_kind.get("pg:42703"), Some(&100), "{a:?}");
    assert_eq!(s.overall.errors_by_kind["pg:42703"].count, 100);
    assert_eq!(s.overall.count, 0);
    assert_eq!(s.overall.stats.p99_us, 0, "no successful operation");
    assert!(s.overall.p99_all_us > 0, "failed arrivals have a latency");
    assert_eq!(s.run.error_rate, 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_table_with_a_short_timeout_counts_timed_out() {
    let env = TestEnv::migrated("acct_locked").await;
    bench_table(&env, true).await;
    let dir = scratch("locked");
    let locker = {
        let env_url = env.targets.database_url.clone();
        tokio::spawn(async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&env_url).await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut tx = c.begin().await.unwrap();
            sqlx::query("LOCK TABLE clinicload_bench_kv IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(1000)).await;
            tx.rollback().await.unwrap();
        })
    };
    let s = run_lib(
        &env.targets,
        &pg_scenario(&dir, "locked", "250ms"),
        &dir.join("reports"),
    )
    .await;
    locker.await.unwrap();
    let a = &s.run.arrivals;
    eprintln!("{a:?}");
    assert_eq!(a.intended, 100);
    assert!(a.timed_out >= 10, "{a:?}");
    assert!(a.ok >= 20, "{a:?}");
    assert_eq!(s.operations[0].errors_by_kind["timeout"].count, a.timed_out);
    assert!(s.operations[0].p99_all_us >= 250_000);
    let _ = std::fs::remove_dir_all(&dir);
}

fn no_partial_files(dir: &Path) {
    for e in walk(dir) {
        let name = e.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.ends_with(".tmp") && !name.ends_with(".partial"),
            "left behind: {}",
            e.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_stall_abandons_what_is_running_and_queued() {
    let redis = PrivateRedis::start().await;
    let dir = scratch("abandon");
    let file = redis_scenario(
        &dir,
        "abandon",
        "duration = \"20s\"\ntimeout = \"30s\"\n[load]\nmodel = \"open\"\nrate = 100\n\
         max_in_flight = 8\nconnections = { redis = 1 }",
    );
    let pauser = redis.pause(Duration::from_millis(1000), 6000);
    let child = Command::new(TestEnv::bin())
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--quiet")
        .env("REDIS_URL", &redis.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let started = Instant::now();
    common::signal(&child, "TERM");
    let out = child.checked_wait().unwrap();
    pauser.await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(clinicload::exit::INTERRUPTED as i32),
        "{stdout}\n{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a signal waits at most 2 s for running operations, took {:?}",
        started.elapsed()
    );
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reports/latest/summary.json")).unwrap(),
    )
    .unwrap();
    common::assert_accounted(&s);
    let a = &s["run"]["arrivals"];
    assert_eq!(s["run"]["interrupted"], true);
    assert_eq!(s["run"]["grace_s"], 2.0);
    assert!(
        a["abandoned"].as_u64().unwrap() > 8,
        "running and queued: {a}"
    );
    assert!(a["ok"].as_u64().unwrap() > 50, "{a}");
    assert!(stdout.contains("abandoned"), "{stdout}");
    no_partial_files(&dir.join("reports"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(
            st.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn run_into(out: &Path, file: &Path) -> Child {
    let t = common::base_targets();
    Command::new(TestEnv::bin())
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .env("REDIS_URL", &t.redis_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_reports_directory_without_room_is_refused_before_the_load() {
    let dir = scratch("nospace");
    let file = redis_scenario(
        &dir,
        "nospace",
        "duration = \"2s\"\n[load]\nmodel = \"open\"\nrate = 50",
    );
    let fs = Tmpfs::mount(&dir.join("small"), "64k");
    let started = Instant::now();
    let out = run_into(&fs.0, &file).checked_wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("KiB free") && stderr.contains("--out"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("running nospace"),
        "refused before the load: {stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(walk(&fs.0).is_empty(), "nothing written: {:?}", walk(&fs.0));
    drop(fs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_disk_that_fills_during_the_run_leaves_no_truncated_file_and_prints_the_summary() {
    let dir = scratch("fills");
    let file = redis_scenario(
        &dir,
        "fills",
        "duration = \"3s\"\n[load]\nmodel = \"open\"\nrate = 50",
    );
    let fs = Tmpfs::mount(&dir.join("small"), "1m");
    let child = run_into(&fs.0, &file);
    // Once the run has started, something else fills the disk.
    std::thread::sleep(Duration::from_millis(1200));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(fs.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).and_then(|_| f.flush()).is_ok() {}
    }
    let out = child.checked_wait().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("operation ") && stdout.contains("\nredis_get "),
        "the summary is printed: {stdout}"
    );
    assert!(
        stderr.contains("the report could not be written"),
        "{stderr}"
    );
    no_partial_files(&fs.0);
    for p in walk(&fs.0) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_file() && name != "filler" {
            // Whatever made it is whole: a complete JSON document or the full page.
            let text = std::fs::read_to_string(&p).unwrap();
            match name.as_str() {
                "summary.json" => {
                    serde_json::from_str::<Value>(&text).expect("summary.json is whole");
                }
                "report.html" => assert!(text.trim_end().ends_with("</html>")),
                "summary.md" => assert!(text.contains("| overall |")),
                other => panic!("unexpected file {other}"),
            }
        }
    }
    assert!(
        !fs.0.join("latest").exists(),
        "latest points only at a complete report"
    );
    drop(fs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramped_run_intends_what_the_ramp_integrates_and_does_not_cry_wolf() {
    let dir = scratch("ramp");
    // 0 -> 200/s over 2 s: 200 arrivals intended, not 2 s x 200/s.
    let file = redis_scenario(
        &dir,
        "ramp",
        "duration = \"2s\"\n[load]\nmodel = \"open\"\nrate = 200\nramp = \"2s\"\nramp_from = 0",
    );
    let s = run_lib(&common::base_targets(), &file, &dir.join("reports")).await;
    assert_eq!(s.run.arrivals.intended, 200);
    assert_eq!(s.run.arrivals.ok, 200, "{:?}", s.run.arrivals);
    assert!(
        !s.warnings.iter().any(|w| w.contains("target rate")),
        "{:?}",
        s.warnings
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_beyond_max_error_rate_exit_3_within_it_0() {
    let env = TestEnv::migrated("acct_exit").await;
    bench_table(&env, false).await;
    let dir = scratch("exit");
    let strict = pg_scenario(&dir, "strict", "5s");
    let out = env
        .command()
        .arg("run")
        .arg(&strict)
        .args(["--quiet", "--duration", "1s", "--out"])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(clinicload::exit::OPERATIONS_FAILED as i32),
        "{stderr}"
    );
    assert!(stderr.contains("max_error_rate"), "{stderr}");
    assert!(std::fs::canonicalize(dir.join("reports/latest"))
        .unwrap()
        .join("summary.json")
        .is_file());
    let lenient = dir.join("lenient.toml");
    std::fs::write(
        &lenient,
        format!(
            "max_error_rate = 1\n{}",
            std::fs::read_to_string(&strict).unwrap()
        ),
    )
    .unwrap();
    let out = env
        .command()
        .arg("run")
        .arg(&lenient)
        .args(["--quiet", "--duration", "1s", "--out"])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "max_error_rate = 1.5\n{}",
            std::fs::read_to_string(&strict).unwrap()
        ),
    )
    .unwrap();
    let out = env.command().arg("run").arg(&bad).checked_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.toml:1:") && stderr.contains("between 0 and 1"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Some workers end within the grace time and others are still stuck when it runs out: the
/// stuck ones are aborted and counted abandoned, and the ones that ended are not joined twice
/// (that panicked with "JoinHandle polled after completion").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stuck_past_the_grace_are_abandoned_while_the_others_ended() {
    let env = TestEnv::migrated("acct_grace").await;
    bench_table(&env, true).await;
    let dir = scratch("grace");
    let locker = {
        let env_url = env.targets.database_url.clone();
        tokio::spawn(async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&env_url).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let mut tx = c.begin().await.unwrap();
            sqlx::query("LOCK TABLE clinicload_bench_kv IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Past the end of the run (2 s) and its grace (the timeout, at most 10 s).
            tokio::time::sleep(Duration::from_secs(13)).await;
            tx.rollback().await.unwrap();
        })
    };
    // Half the arrivals read Redis, so the workers that take them end normally.
    let file = dir.join("grace.toml");
    std::fs::write(
        &file,
        "name = \"grace\"\nduration = \"2s\"\ntimeout = \"30s\"\n[load]\n\
         model = \"open\"\nrate = 50\nconnections = { postgres = 2, redis = 1 }\n\
         [[op]]\nname = \"pg_pk_lookup\"\nrows = 100\n\
         [[op]]\nname = \"redis_get\"\nkeyspace = 10\nprefix = \"clinicload:test:grace:\"\n",
    )
    .unwrap();
    let s = run_lib(&env.targets, &file, &dir.join("reports")).await;
    locker.abort();
    let a = &s.run.arrivals;
    assert_eq!(a.intended, 100);
    assert!(a.ok >= 40, "{a:?}");
    assert!(a.abandoned >= 2, "{a:?}");
    assert_eq!(a.timed_out, 0, "{a:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
