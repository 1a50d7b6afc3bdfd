//! `clinicload run` end to end against the real servers: scenario validation errors, a smoke
//! run over a small dataset with every report checked, and the writes of a clinic day.
mod common;
use common::prelude::*;
mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use common::TestEnv;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-test-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn invalid_scenarios_are_rejected_with_file_line_and_hint_before_connecting() {
    let dir = scratch("badspec");
    let cases = [
        (
            "unknown_op.toml",
            "name = \"x\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 5\n\n[[op]]\nname = \"appointments_tomorrow\"\n",
            8,
            "unknown operation",
        ),
        (
            "unknown_key.toml",
            "name = \"x\"\nduration = \"1s\"\ncolour = \"blue\"\n[load]\nmodel = \"open\"\nrate = 5\n[[op]]\nname = \"pending_tasks\"\n",
            3,
            "unknown field",
        ),
        (
            "bad_dist.toml",
            "name = \"x\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 5\n[[op]]\nname = \"pending_tasks\"\ndoctor = \"zipf(-1)\"\n",
            8,
            "zipf exponent",
        ),
        (
            "bad_duration.toml",
            "name = \"x\"\nduration = \"10\"\n[load]\nmodel = \"open\"\nrate = 5\n[[op]]\nname = \"pending_tasks\"\n",
            2,
            "duration",
        ),
    ];
    for (file, text, line, what) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        // Unreachable servers: the error must come from validation, before any connection.
        let out = Command::new(TestEnv::bin())
            .arg("run")
            .arg(&path)
            .env("DATABASE_URL", "postgres://u:sekret@127.0.0.1:1/x")
            .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
            .env("REDIS_URL", "redis://127.0.0.1:1/")
            .checked_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(clinicload::exit::USAGE as i32),
            "{file}: a scenario mistake is a usage error"
        );
        let want = format!("{}:{line}:", path.display());
        assert!(
            stderr.contains(&want),
            "{file}: expected {want:?} in:\n{stderr}"
        );
        assert!(
            stderr.contains(what),
            "{file}: expected {what:?} in:\n{stderr}"
        );
        assert!(stderr.contains("hint:"), "{file}: no hint in:\n{stderr}");
        assert!(!stderr.contains("sekret"), "password printed:\n{stderr}");
    }
}

fn run(env: &TestEnv, scenario: &Path, out: &Path, extra: &[&str]) -> (Value, PathBuf) {
    let output = env
        .command()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .checked_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed:\n{stdout}\n{stderr}");
    assert!(
        !stdout.contains(":clinicload@") && !stderr.contains(":clinicload@"),
        "password printed"
    );
    let latest = out.join("latest");
    let dir = std::fs::canonicalize(&latest).expect("reports/latest points at the run");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    common::assert_accounted(&summary);
    (summary, dir)
}

#[tokio::test]
async fn smoke_run_writes_every_report_and_every_read_hits_rows() {
    let env = TestEnv::migrated("run_smoke").await;
    fixture::insert(&env).await;
    let out = scratch("smoke");
    let (s, dir) = run(
        &env,
        &repo("scenarios/smoke.toml"),
        &out,
        &["--duration", "4s", "--warmup", "1s"],
    );

    assert_eq!(s["schema"], "clinicload.summary/2");
    assert_eq!(s["run"]["model"], "open");
    assert_eq!(s["run"]["arrivals"]["missed"], 0);
    assert_eq!(s["dataset"]["fingerprint"], "test-fixture");
    assert_eq!(s["scenario"]["name"], "smoke");
    assert!(s["servers"]["postgres"]
        .as_str()
        .unwrap()
        .contains("PostgreSQL"));
    assert!(s["servers"]["redis"].as_str().unwrap().starts_with("Redis"));
    assert!(s["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .ends_with("-smoke"));
    let ops = s["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 12, "one row per smoke op");
    for op in ops {
        let name = op["label"].as_str().unwrap();
        if op["unsupported"].is_object() {
            // Only full-text search may be unsupported, and only with the server's words.
            assert_eq!(name, "notes_text_search");
            assert!(!op["unsupported"]["server_said"]
                .as_str()
                .unwrap()
                .is_empty());
            continue;
        }
        assert!(op["count"].as_u64().unwrap() > 0, "{name} never ran: {op}");
        assert_eq!(op["errors"].as_u64().unwrap(), 0, "{name} had errors: {op}");
        assert!(
            op["rows"].as_u64().unwrap() > 0,
            "{name} found no rows: {op}"
        );
        let (p50, p99, max) = (
            op["p50_us"].as_u64().unwrap(),
            op["p99_us"].as_u64().unwrap(),
            op["max_us"].as_u64().unwrap(),
        );
        assert!(p50 > 0 && p50 <= p99 && p99 <= max, "{name}: {op}");
    }
    let achieved = s["run"]["achieved_rate"].as_f64().unwrap();
    let target = s["run"]["target_rate"].as_f64().unwrap();
    assert!(
        achieved > 0.7 * target,
        "achieved {achieved} of {target} ops/s"
    );

    // The interval log reads back with hdrhistogram's own reader and decoder.
    let bytes = std::fs::read(dir.join("latency.hlog")).unwrap();
    let mut tags = std::collections::BTreeSet::new();
    let mut total = 0u64;
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(i) = entry.expect("hlog parses") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .unwrap();
            let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut raw.as_slice())
                .expect("histogram decodes");
            match i.tag() {
                Some(t) => {
                    tags.insert(t.as_str().to_string());
                }
                None => {
                    total += h.len();
                    intervals += 1;
                }
            }
        }
    }
    assert!(intervals >= 4, "{intervals} overall intervals");
    assert_eq!(
        total,
        s["overall"]["count"].as_u64().unwrap(),
        "hlog total = summary count"
    );
    assert!(
        tags.contains("appointments_today") && tags.contains("redis_get"),
        "{tags:?}"
    );

    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("| operation | count | errors | no-op | ops/s |"),
        "{md}"
    );
    assert!(md.contains("| appointments_today |"), "{md}");
    assert!(md.contains("test-fixture"));

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Latency by percentile"));
    for fetch in ["http://", "https://", "<script", "<link", "@import", "src="] {
        assert!(!html.contains(fetch), "report.html contains {fetch:?}");
    }
}

#[tokio::test]
async fn clinic_day_writes_are_valid_and_change_the_data() {
    let env = TestEnv::migrated("run_writes").await;
    fixture::insert(&env).await;
    let out = scratch("writes");
    let (s, _dir) = run(
        &env,
        &repo("scenarios/clinic-day.toml"),
        &out,
        &[
            "--duration",
            "4s",
            "--warmup",
            "0s",
            "--rate",
            "80",
            "--keep-writes",
        ],
    );
    for op in s["operations"].as_array().unwrap() {
        let name = op["label"].as_str().unwrap();
        assert_eq!(op["errors"].as_u64().unwrap(), 0, "{name} had errors: {op}");
    }
    let pool = env.pool().await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let written = |name: &str| {
        s["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["label"] == name)
            .map(|o| o["rows"].as_u64().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(
        count("SELECT count(*) FROM appointments WHERE created_by IS NOT NULL").await as u64,
        written("book_appointment")
    );
    assert_eq!(
        count("SELECT count(*) FROM appointments WHERE status = 'cancelled'").await as u64,
        written("cancel_appointment")
    );
    assert_eq!(
        count("SELECT count(*) FROM appointments WHERE status = 'checked_in'").await as u64,
        written("check_in")
    );
    assert_eq!(
        count("SELECT count(*) FROM tasks WHERE status = 'completed'").await as u64,
        written("complete_task")
    );
    let (_c, db) = env.mongo().await;
    let signed = db
        .collection::<mongodb::bson::Document>("clinicalNotes")
        .count_documents(mongodb::bson::doc! { "signedBy": { "$exists": true } })
        .await
        .unwrap();
    assert_eq!(signed, written("sign_note"));
    // At 80 ops/s for 4 s, the ~20% writes include some of each kind.
    for w in [
        "book_appointment",
        "check_in",
        "complete_encounter",
        "sign_note",
    ] {
        assert!(written(w) > 0, "{w} wrote nothing");
    }
}

#[test]
fn ctrl_c_ends_the_run_early_and_still_writes_the_report() {
    interrupted_run("INT", "ctrlc");
}

/// SIGTERM is what `timeout`, CI cancellation and service managers send: the same as Ctrl-C.
#[test]
fn sigterm_ends_the_run_early_and_still_writes_the_report() {
    interrupted_run("TERM", "sigterm");
}

fn interrupted_run(signal: &str, label: &str) {
    let dir = scratch(label);
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        "name = \"long\"\nduration = \"60s\"\n[load]\nmodel = \"open\"\nrate = 100\n\
         connections = { redis = 1 }\n[[op]]\nname = \"redis_get\"\nkeyspace = 10\n\
         prefix = \"clinicload:test:ctrlc:\"\n",
    )
    .unwrap();
    let t = common::base_targets();
    let child = Command::new(TestEnv::bin())
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("reports"))
        .env("REDIS_URL", &t.redis_url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let started = std::time::Instant::now();
    common::signal(&child, signal);
    let out = child.checked_wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(clinicload::exit::INTERRUPTED as i32),
        "exit {:?}:\n{stderr}",
        out.status
    );
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?} to stop",
        started.elapsed()
    );
    // Not a terminal: plain progress lines, one a second.
    let progress = stderr
        .lines()
        .filter(|l| l.contains("ops/s") && l.contains("remaining"))
        .count();
    assert!(progress >= 2, "progress lines:\n{stderr}");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reports/latest/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(s["run"]["interrupted"], true);
    common::assert_accounted(&s);
    let measured = s["run"]["measured_s"].as_f64().unwrap();
    assert!((2.0..10.0).contains(&measured), "measured {measured}");
    assert!(s["overall"]["count"].as_u64().unwrap() > 150);
    assert!(dir.join("reports/latest/report.html").exists());
}

/// The README's main job on a dataset from `clinicload seed --profile tiny`: the smoke
/// scenario runs every read with no errors (full-text search may only be unsupported) and
/// the report carries the seeded dataset's fingerprint.
#[tokio::test]
async fn smoke_run_on_a_seeded_tiny_dataset() {
    let env = TestEnv::migrated("run_seeded").await;
    let seed = env
        .command()
        .args(["seed", "--profile", "tiny"])
        .checked_output()
        .unwrap();
    assert!(
        seed.status.success(),
        "seed failed:\n{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let pool = env.pool().await;
    let fingerprint: String = sqlx::query_scalar("SELECT fingerprint FROM clinicload_meta.dataset")
        .fetch_one(&pool)
        .await
        .unwrap();
    let out = scratch("seeded");
    let (s, _dir) = run(
        &env,
        &repo("scenarios/smoke.toml"),
        &out,
        &["--duration", "5s", "--warmup", "0s"],
    );
    assert_eq!(s["dataset"]["fingerprint"].as_str().unwrap(), fingerprint);
    let mut rows = 0;
    for op in s["operations"].as_array().unwrap() {
        let name = op["label"].as_str().unwrap();
        if op["unsupported"].is_object() {
            assert_eq!(name, "notes_text_search");
            continue;
        }
        assert!(op["count"].as_u64().unwrap() > 0, "{name} never ran: {op}");
        assert_eq!(op["errors"].as_u64().unwrap(), 0, "{name}: {op}");
        rows += op["rows"].as_u64().unwrap();
    }
    assert!(rows > 0);
}

/// The suite's panic-text check (issue #20) can fail: a command printing Rust's panic text
/// fails the test that ran it.
#[test]
#[should_panic(expected = "printed panic text")]
fn a_command_printing_panic_text_fails_its_test() {
    let _ = std::process::Command::new("sh")
        .args([
            "-c",
            "echo \"thread 'main' panicked at src/main.rs:1:1\" >&2",
        ])
        .checked_output();
}

/// The same check for a spawned command whose output goes to a `PanicWatch`'s files.
#[test]
#[should_panic(expected = "printed panic text")]
fn a_watched_command_printing_panic_text_fails_its_test() {
    let watch = common::PanicWatch::new();
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "echo \"thread 'main' panicked at src/main.rs:1:1\" >&2",
        ])
        .stdout(watch.stdout())
        .stderr(watch.stderr())
        .spawn()
        .unwrap();
    child.wait().unwrap();
    drop(watch);
}
