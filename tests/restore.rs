//! A run leaves the dataset as it found it (src/restore), on the real servers: checksums of
//! both stores before and after a write-heavy run; every cache variant starts from the same
//! data (its writes find fresh targets: no no-ops); a killed run is restored by the next
//! command; short write pools are refused with what to seed; bookings take free slots; a
//! live run holds its dataset, so a second command cannot undo its writes or index change.
mod common;
use common::prelude::*;
mod fixture;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::TestEnv;
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("clinicload-restore-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every write operation, a few reads, at a modest rate: about a third of arrivals write.
const WRITE_HEAVY: &str = r#"
name = "write-heavy"
duration = "2s"
warmup = "0s"
[load]
model = "open"
rate = 40
connections = { postgres = 4, mongo = 2 }
[[op]]
name = "appointments_today"
weight = 4
[[op]]
name = "book_appointment"
weight = 1
[[op]]
name = "cancel_appointment"
weight = 1
[[op]]
name = "check_in"
weight = 1
[[op]]
name = "complete_encounter"
weight = 1
[[op]]
name = "sign_note"
weight = 1
[[op]]
name = "complete_task"
weight = 1
"#;

/// [`WRITE_HEAVY`] at 2 ops/s for `duration`, with `extra` appended, written to `dir/name`.
fn slow_write_heavy(dir: &Path, name: &str, duration: &str, extra: &str) -> PathBuf {
    let file = dir.join(name);
    let text = WRITE_HEAVY
        .replace("duration = \"2s\"", &format!("duration = \"{duration}\""))
        .replace("rate = 40", "rate = 2");
    std::fs::write(&file, text + extra).unwrap();
    file
}

async fn checksums(env: &TestEnv) -> Vec<String> {
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;
    clinicload::seed::checksum::checksums(&pool, &db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

fn run_cmd(env: &TestEnv, file: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    env.command()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .checked_output()
        .unwrap()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn op<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == name)
        .unwrap_or_else(|| panic!("no operation {name} in {s}"))
}

#[tokio::test]
async fn a_write_heavy_run_leaves_both_stores_as_it_found_them() {
    let env = TestEnv::migrated("restore_heavy").await;
    fixture::insert(&env).await;
    let dir = scratch("heavy");
    let file = dir.join("write-heavy.toml");
    std::fs::write(&file, WRITE_HEAVY).unwrap();
    let before = checksums(&env).await;
    let out = run_cmd(&env, &file, &dir.join("reports"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {stderr}");
    assert!(stderr.contains("restored the dataset"), "{stderr}");
    let s = summary(&std::fs::canonicalize(dir.join("reports/latest")).unwrap());
    common::assert_accounted(&s);
    // The run did write: every write op succeeded at least once and none was a no-op.
    for w in [
        "book_appointment",
        "cancel_appointment",
        "check_in",
        "complete_encounter",
        "sign_note",
        "complete_task",
    ] {
        let o = op(&s, w);
        assert!(o["count"].as_u64().unwrap() > 0, "{w} wrote nothing: {o}");
        assert_eq!(o["noop"].as_u64().unwrap(), 0, "{w} had no-ops: {o}");
    }
    let r = &s["restore"];
    assert!(r["rows_deleted"].as_u64().unwrap() > 0, "{r}");
    assert!(r["rows_restored"].as_u64().unwrap() > 0, "{r}");
    assert!(r["documents_restored"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(checksums(&env).await, before, "the run changed the dataset");
    let pool = env.pool().await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.undo_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    // --keep-writes opts out: the same run then changes the data.
    let out = run_cmd(&env, &file, &dir.join("reports"), &["--keep-writes"]);
    assert!(out.status.success());
    assert_ne!(checksums(&env).await, before, "--keep-writes kept nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scenario whose only write is in MongoDB (signing notes) and that runs no PostgreSQL
/// operation is restored too: its undo ledger still lives in PostgreSQL. It used to skip
/// the restore and warn as if `--keep-writes` had been given.
#[tokio::test]
async fn a_mongodb_only_run_is_restored_too() {
    let env = TestEnv::migrated("restore_mongo_only").await;
    fixture::insert(&env).await;
    let dir = scratch("mongo-only");
    let file = dir.join("sign.toml");
    std::fs::write(
        &file,
        "name = \"sign\"\nduration = \"2s\"\nwarmup = \"0s\"\n[load]\nmodel = \"open\"\nrate = 2\n[[op]]\nname = \"sign_note\"\n[[op]]\nname = \"note_by_encounter\"\n",
    )
    .unwrap();
    let before = checksums(&env).await;
    let out = run_cmd(&env, &file, &dir.join("reports"), &["--allow-short-pools"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {stderr}");
    assert!(!stderr.contains("--keep-writes"), "{stderr}");
    let s = summary(&std::fs::canonicalize(dir.join("reports/latest")).unwrap());
    assert!(op(&s, "sign_note")["count"].as_u64().unwrap() > 0, "{s}");
    assert!(
        s["restore"]["documents_restored"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert_eq!(checksums(&env).await, before, "the run changed the dataset");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_cache_variant_starts_from_the_same_dataset() {
    let env = TestEnv::migrated("restore_variants").await;
    fixture::insert(&env).await;
    let dir = scratch("variants");
    let file = dir.join("variants.toml");
    // Cancels and check-ins take each open appointment of the window once; without a
    // restore between variants, the second and third would find theirs already changed.
    std::fs::write(
        &file,
        r#"
name = "variants"
duration = "2s"
warmup = "0s"
[load]
model = "open"
rate = 30
connections = { postgres = 4, redis = 2 }
[cache]
ttl = "1h"
[[variant]]
name = "a"
strategy = "cache-aside"
[[variant]]
name = "b"
strategy = "write-through"
[[variant]]
name = "c"
strategy = "cache-aside"
[[op]]
name = "doctor_schedule"
weight = 2
days = 3
[[op]]
name = "schedule_cancel"
weight = 1
days = 11
[[op]]
name = "schedule_check_in"
weight = 1
days = 11
[[op]]
name = "schedule_book"
weight = 1
days = 3
"#,
    )
    .unwrap();
    let before = checksums(&env).await;
    let out = run_cmd(&env, &file, &dir.join("reports"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {stderr}");
    let root = std::fs::canonicalize(dir.join("reports/latest")).unwrap();
    for v in ["a", "b", "c"] {
        let s = summary(&root.join(v));
        common::assert_accounted(&s);
        assert!(s["restore"].is_object(), "variant {v} was not restored");
        for w in ["schedule_cancel", "schedule_check_in", "schedule_book"] {
            let o = op(&s, w);
            assert!(o["count"].as_u64().unwrap() > 0, "{v} {w}: {o}");
            assert_eq!(
                o["noop"].as_u64().unwrap(),
                0,
                "variant {v}: {w} found changed rows"
            );
        }
    }
    assert_eq!(checksums(&env).await, before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_killed_run_is_restored_by_the_next_command() {
    let env = TestEnv::migrated("restore_killed").await;
    fixture::insert(&env).await;
    let dir = scratch("killed");
    let file = slow_write_heavy(&dir, "write-heavy.toml", "60s", "");
    let before = checksums(&env).await;
    let watch = common::PanicWatch::new();
    let mut child = env
        .command()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--quiet")
        .stdout(watch.stdout())
        .stderr(watch.stderr())
        .spawn()
        .unwrap();
    // Wait until it has written something, then kill it without a chance to restore.
    let pool = env.pool().await;
    let t0 = Instant::now();
    loop {
        let changed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM appointments WHERE substr(id::text, 15, 1) = '8' OR status IN ('cancelled', 'checked_in')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if changed > 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run wrote nothing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(
        checksums(&env).await,
        before,
        "the killed run left no writes"
    );
    let out = env.command().arg("checksum").checked_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("restored the dataset"), "{stderr}");
    assert_eq!(checksums(&env).await, before);
    // Nothing left to do.
    let out = env.command().arg("restore").checked_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to restore"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn short_write_pools_are_refused_with_what_to_do() {
    let env = TestEnv::migrated("restore_short").await;
    fixture::insert(&env).await;
    let dir = scratch("short");
    let file = dir.join("checkins.toml");
    std::fs::write(
        &file,
        "name = \"checkins\"\nduration = \"2s\"\nwarmup = \"0s\"\n[load]\nmodel = \"open\"\nrate = 100\n[[op]]\nname = \"check_in\"\n",
    )
    .unwrap();
    let before = checksums(&env).await;
    // 200 check-ins planned; the fixture has 48 open appointments from today on.
    let out = run_cmd(&env, &file, &dir.join("reports"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("not enough fresh write targets"),
        "{stderr}"
    );
    assert!(stderr.contains("200 writes"), "{stderr}");
    assert!(stderr.contains("--allow-short-pools"), "{stderr}");
    assert_eq!(checksums(&env).await, before, "a refused run wrote");
    // Allowed: the writes past the pool are no-ops, counted and warned about.
    let out = run_cmd(&env, &file, &dir.join("reports"), &["--allow-short-pools"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&std::fs::canonicalize(dir.join("reports/latest")).unwrap());
    let o = op(&s, "check_in");
    assert_eq!(o["count"].as_u64().unwrap(), 48, "{o}");
    assert_eq!(o["noop"].as_u64().unwrap(), 200 - 48, "{o}");
    assert!(
        s["warnings"].to_string().contains("no-op"),
        "no warning about no-ops: {}",
        s["warnings"]
    );
    assert_eq!(checksums(&env).await, before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bookings_take_free_slots_and_never_double_book() {
    let env = TestEnv::migrated("restore_book").await;
    fixture::insert(&env).await;
    let dir = scratch("book");
    let file = dir.join("book.toml");
    std::fs::write(
        &file,
        "name = \"book\"\nduration = \"2s\"\nwarmup = \"0s\"\n[load]\nmodel = \"open\"\nrate = 100\n[[op]]\nname = \"book_appointment\"\ndoctor = \"zipf(2.0)\"\n",
    )
    .unwrap();
    let out = run_cmd(&env, &file, &dir.join("reports"), &["--keep-writes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = env.pool().await;
    let booked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appointments WHERE substr(id::text, 15, 1) = '8'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(booked, 200);
    let overlaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appointments a JOIN appointments b \
         ON a.doctor_id = b.doctor_id AND a.id < b.id \
         AND a.start_time < b.end_time AND b.start_time < a.end_time",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(overlaps, 0, "double-booked");
    let outside: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appointments WHERE substr(id::text, 15, 1) = '8' AND \
         (start_time::time < '08:00' OR end_time::time > '17:00' \
          OR (start_time::time < '13:00' AND end_time::time > '12:00') \
          OR start_time < CURRENT_DATE + 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(outside, 0, "bookings outside working hours");
    // zipf(2.0) prefers one doctor; their slots run out before the others' are used.
    let per_hour: i64 = sqlx::query_scalar(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM appointments \
         WHERE substr(id::text, 15, 1) = '8' GROUP BY doctor_id, date_trunc('hour', start_time)) x",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(per_hour <= 4, "{per_hour} bookings in one doctor-hour");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bug this guards against: a second `run` (or `restore`, `checksum`, `seed`) took a live
/// run's undo record and index change for a killed run's leftovers, put the dropped index back
/// and undid the writes mid-run, and the first run's verdict measured the wrong schema.
#[tokio::test]
async fn a_live_run_holds_its_dataset_until_it_has_put_it_back() {
    let env = TestEnv::migrated("restore_live").await;
    fixture::insert(&env).await;
    let dir = scratch("live");
    let file = slow_write_heavy(
        &dir,
        "variant.toml",
        "10s",
        "[[variant]]\nname = \"no-doctor-date\"\ndrop_indexes = [\"idx_appointments_doctor_date\"]\n",
    );
    let other = slow_write_heavy(&dir, "other.toml", "2s", "");
    let before = checksums(&env).await;
    let watch = common::PanicWatch::new();
    let mut child = env
        .command()
        .arg("run")
        .arg(&file)
        .args(["--repeats", "1", "--out"])
        .arg(dir.join("reports"))
        .arg("--quiet")
        .stdout(watch.stdout())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until the variant runs: its index dropped, its writes recorded for undoing.
    let pool = env.pool().await;
    let index_there = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_appointments_doctor_date'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            == 1
    };
    let pending = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM clinicload_meta.undo_runs")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let t0 = Instant::now();
    while index_there().await || pending().await == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the variant never ran with its index dropped"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let holder = format!("'clinicload run write-heavy (pid {})'", child.id());
    let other_out = dir.join("other");
    let mut refused = Vec::new();
    for args in [
        vec![
            "run",
            other.to_str().unwrap(),
            "--quiet",
            "--out",
            other_out.to_str().unwrap(),
        ],
        vec!["restore"],
        vec!["checksum"],
        vec![
            "explain",
            other.to_str().unwrap(),
            "--out",
            other_out.to_str().unwrap(),
        ],
        vec!["seed", "--profile", "tiny", "--clinics", "1", "--append"],
    ] {
        let out = env.command().args(&args).checked_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} while a run is live: {stderr}"
        );
        assert!(
            stderr.contains("is in use by") && stderr.contains(&holder),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("wait for it to finish"), "{stderr}");
        assert!(
            !stderr.contains("clinicload:clinicload@"),
            "no password: {stderr}"
        );
        refused.push(args[0]);
    }
    assert_eq!(refused, ["run", "restore", "checksum", "explain", "seed"]);
    // Nothing of the live run was undone by the refused commands.
    assert!(
        !index_there().await,
        "a refused command put the variant's index back"
    );
    assert_eq!(
        pending().await,
        1,
        "a refused command undid the live run's writes"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run must still be live for this test to mean anything"
    );
    // Stopped, it puts everything back itself, and the next command finds the dataset free.
    common::signal(&child, "TERM");
    let out = child.checked_wait().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(index_there().await);
    assert_eq!(pending().await, 0);
    assert_eq!(checksums(&env).await, before);
    let out = env.command().arg("restore").checked_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to restore"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The processes of one distributed job share the dataset; nothing else does, not even the
/// processes of another kind of job.
#[tokio::test]
async fn workers_of_one_job_share_the_dataset_lock_and_exclude_the_rest() {
    use clinicload::restore::lock::{take, Hold, Job};
    let env = TestEnv::migrated("restore_lock").await;
    let w1 = take(&env.targets, Hold::Shared(Job::RunWorkers), "run w1")
        .await
        .unwrap();
    let w2 = take(&env.targets, Hold::Shared(Job::RunWorkers), "run w2")
        .await
        .unwrap();
    let shard = take(&env.targets, Hold::Shared(Job::SeedShards), "seed shard").await;
    let e = format!(
        "{:#}",
        shard.err().expect("a seed shard beside run workers")
    );
    assert!(
        e.contains("'clinicload run w1 (pid ") && e.contains("'clinicload run w2 (pid "),
        "{e}"
    );
    let alone = take(&env.targets, Hold::Exclusive, "restore").await;
    assert!(alone.is_err(), "an exclusive holder beside run workers");
    w1.release().await;
    assert!(
        take(&env.targets, Hold::Exclusive, "restore")
            .await
            .is_err(),
        "w2 still holds it"
    );
    drop(w2); // a process that ends without releasing: the server frees the lock
    let t0 = Instant::now();
    let alone = loop {
        match take(&env.targets, Hold::Exclusive, "restore").await {
            Ok(l) => break l,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(10), "never freed: {e:#}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(take(&env.targets, Hold::Shared(Job::RunWorkers), "run w3")
        .await
        .is_err());
    alone.release().await;
    let shard = take(&env.targets, Hold::Shared(Job::SeedShards), "seed shard")
        .await
        .unwrap();
    assert!(take(&env.targets, Hold::Shared(Job::RunWorkers), "run w4")
        .await
        .is_err());
    shard.release().await;
}
