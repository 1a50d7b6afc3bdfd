//! The CI gate and `compare` end to end against the real servers: a candidate that lost the
//! index one operation needs is a regression (exit 5) on that operation, the clone it ran on
//! is dropped and the original untouched; the same runs compared the other way are better
//! (exit 0); an A/A gate on two identical databases finds no regression, and a threshold the
//! candidate misses exits 4; runs of different loads are refused; a budget too small is a
//! usage error; junit.xml validates against the Jenkins and Ant JUnit schemas.
//!
//! This is the short version of the calibration (`scripts/calibrate-gate`, docs/ci.md).
mod common;
use common::prelude::*;
mod fixture;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestEnv;
use serde_json::Value;

/// The load-running tests take turns: a gate's verdicts rest on latency, and another test's
/// seeding or load on the same 2 cores during some of one side's runs but not the other's is
/// exactly the drift the gate must not mistake for a regression.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-gate-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Two PostgreSQL reads at 200/s: pending tasks and a patient's encounters.
fn scenario(dir: &Path, name: &str, rate: u32) -> PathBuf {
    let text = format!(
        "name = \"gate\"\nduration = \"3s\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = {rate}\n\
connections = {{ postgres = 4, mongo = 2, redis = 2 }}\n\n\
[[op]]\nname = \"pending_tasks\"\nweight = 1\n\n[[op]]\nname = \"patient_encounters\"\nweight = 1\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn gated<'a>(c: &'a Value, key: &str) -> &'a Value {
    c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == key && m["gated"] == true)
        .unwrap_or_else(|| panic!("no gated {key} in {}", c["metrics"]))
}

fn validate_junit(path: &Path) {
    let out = std::process::Command::new(repo("scripts/validate-junit"))
        .arg(path)
        .checked_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} is not valid JUnit XML: {}",
        path.display(),
        text(&out)
    );
}

async fn databases_like(env: &TestEnv, pattern: &str) -> Vec<String> {
    let pool = env.pool().await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(pattern)
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    names
}

/// The dataset's checksums (without the first line, which names the database).
fn checksum(env: &TestEnv) -> String {
    let out = env.command().arg("checksum").checked_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.lines().skip(1).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn a_dropped_index_is_a_regression_of_its_operation_and_the_clone_goes_away() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::seeded_8000_patients("gate_drop").await;
    let dir = scratch("drop");
    let file = scenario(&dir, "gate.toml", 200);
    let migrations = dir.join("pending");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("0100_drop_encounters_index.sql"),
        "DROP INDEX idx_encounters_patient_time;\n",
    )
    .unwrap();
    let before = checksum(&env);
    let out = env
        .command()
        .arg("gate")
        .arg(&file)
        .arg("--candidate-migrations")
        .arg(&migrations)
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--quiet")
        .checked_output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(5), "{all}");
    assert!(all.contains("REGRESSION"), "{all}");
    let gate = std::fs::canonicalize(dir.join("reports/latest")).unwrap();
    let c = read_json(&gate.join("compare.json"));
    assert_eq!(c["schema"], "clinicload.compare/1");
    assert_eq!(c["outcome"], "regression");
    assert_eq!(c["exit_code"], 5);
    // default repeats: 4 gated metrics need 5 per side for Holm to be able to fire
    assert_eq!(c["settings"]["tests"], 4);
    assert_eq!(c["settings"]["repeats_needed"], 5);
    assert_eq!(c["baseline"]["runs"].as_array().unwrap().len(), 5);
    assert_eq!(c["candidate"]["runs"].as_array().unwrap().len(), 5);
    let enc = gated(&c, "patient_encounters.p50_all");
    assert_eq!(enc["verdict"], "worse", "{enc}");
    assert!(enc["change"].as_f64().unwrap() > 0.3, "{enc}");
    // The other operation's table kept its index, but its plan's runs share the 2 cores with
    // the candidate's sequential scans, so it can really be slower there (CI once saw +6.7%,
    // 5 of 5 runs, called worse). What the machine guarantees is the size: contention from
    // another operation costs it far less than the lost index costs its own operation.
    // (Issue #23's gate will tell the two apart by plan and server load.)
    let tasks = gated(&c, "pending_tasks.p50_all");
    let tasks_change = tasks["change"].as_f64().unwrap_or(0.0);
    assert!(
        tasks_change < enc["change"].as_f64().unwrap() / 2.0,
        "the untouched operation changed {tasks_change:+.3}, not far less than the dropped index's {enc}: {tasks}"
    );

    // What CI reads: a PR summary leading with the verdict, JUnit naming the figures.
    let md = std::fs::read_to_string(gate.join("summary.md")).unwrap();
    assert!(md.len() < 64 * 1024);
    assert!(
        md.lines().nth(2).unwrap().contains("REGRESSION"),
        "the verdict leads: {md}"
    );
    assert!(md.contains("patient_encounters.p50_all"));
    let junit_path = gate.join("junit.xml");
    validate_junit(&junit_path);
    let junit = std::fs::read_to_string(&junit_path).unwrap();
    assert!(
        junit.contains("failures=\"1\"") || junit.contains("failures=\"2\""),
        "{junit}"
    );
    assert!(
        junit.contains("patient_encounters.p50_all regressed +"),
        "{junit}"
    );
    let html = std::fs::read_to_string(gate.join("report.html")).unwrap();
    assert!(html.contains("REGRESSION") && html.contains("<svg"));

    // The clone is gone; the original kept its index and its data.
    assert!(
        databases_like(&env, &format!("{}_gate_%", env.pg_name))
            .await
            .is_empty(),
        "the candidate clone was dropped"
    );
    let pool = env.pool().await;
    let idx: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('idx_encounters_patient_time')::text")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(idx.as_deref(), Some("idx_encounters_patient_time"));
    pool.close().await;
    assert_eq!(checksum(&env), before, "the original database is untouched");

    // The same runs the other way round: better, exit 0.
    let back = env
        .command()
        .arg("compare")
        .arg(gate.join("candidate"))
        .arg(gate.join("baseline"))
        .arg("--out")
        .arg(dir.join("cmp"))
        .checked_output()
        .unwrap();
    // The dropped index's operation reads better. The untouched operation may read worse
    // this way round, because the candidate's sequential scans took CPU from it on the
    // same 2 cores (a fresh-clone CI saw pending_tasks +16.7%). That is issue #23's
    // contention, not a verdict on this operation, so only exit 0 or 5 with
    // patient_encounters better is asserted here.
    let stdout = String::from_utf8_lossy(&back.stdout);
    assert!(
        matches!(back.status.code(), Some(0) | Some(5)),
        "{}",
        text(&back)
    );
    for metric in ["patient_encounters.p50_all", "patient_encounters.p99_all"] {
        let line = stdout.lines().find(|l| l.contains(metric)).unwrap();
        assert!(line.trim_end().ends_with("better"), "{metric}: {stdout}");
    }

    // A baseline saved from the gate's baseline runs compares like the runs themselves.
    let baselines = dir.join("baselines");
    let save = env
        .command()
        .args(["baseline", "save", "before-drop"])
        .arg(gate.join("baseline"))
        .arg("--baselines")
        .arg(&baselines)
        .checked_output()
        .unwrap();
    assert!(save.status.success(), "{}", text(&save));
    let b = read_json(&baselines.join("before-drop/baseline.json"));
    assert_eq!(b["schema"], "clinicload.baseline/1");
    assert_eq!(b["repeats"].as_array().unwrap().len(), 5);
    let show = env
        .command()
        .args(["baseline", "show", "before-drop", "--baselines"])
        .arg(&baselines)
        .checked_output()
        .unwrap();
    assert!(show.status.success(), "{}", text(&show));
    assert!(String::from_utf8_lossy(&show.stdout).contains("runs: 5"));
    let vs = env
        .command()
        .args(["compare", "before-drop"])
        .arg(gate.join("candidate"))
        .arg("--baselines")
        .arg(&baselines)
        .checked_output()
        .unwrap();
    assert_eq!(vs.status.code(), Some(5), "{}", text(&vs));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The backends holding clinicload's dataset lock in `pool`'s database.
async fn lock_holders(pool: &sqlx::PgPool) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND classid::int = 1668049262 AND objid::int = 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_a_a_gate_on_two_identical_databases_finds_no_regression_and_judges_thresholds() {
    let _serial = SERIAL.lock().await;
    let (a, b) = tokio::join!(
        TestEnv::seeded_8000_patients("gate_aa_base"),
        TestEnv::seeded_8000_patients("gate_aa_cand")
    );
    assert_eq!(
        checksum(&a),
        checksum(&b),
        "same seed parameters, same data"
    );
    let dir = scratch("aa");
    let file = scenario(&dir, "gate.toml", 200);
    // No query answers in a microsecond: this threshold fails on the candidate.
    let mut gate_cmd = b.command();
    gate_cmd
        .arg("gate")
        .arg(&file)
        .arg("--baseline-database-url")
        .arg(&a.targets.database_url)
        .args(["--threshold", "patient_encounters.p50 < 1us"])
        .args(["--threshold", "pending_tasks.p99 < 30s"])
        // At the default alpha (0.05 over the family) an A/A gate cries wolf in up to 1 of 40
        // runs by design, and a p99 of 300 values varies by +-60% from run to run, far beyond
        // the 5% noise floor: CI once saw 5 candidate p99s all above 5 baseline ones (p 0.016
        // after Holm). At 0.001 the gate takes 8 repeats per side and a false alarm under the
        // null is below 1 in 1,000; scripts/calibrate-gate measures the default's real rate.
        .args(["--alpha", "0.001"])
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--quiet");
    // Meanwhile: which sessions hold each side's dataset lock. One each, for all 16 runs: a
    // lock taken per run would be a new session per run, free between runs for another
    // command to slip in.
    let gate = tokio::task::spawn_blocking(move || gate_cmd.checked_output().unwrap());
    let (pa, pb) = (a.pool().await, b.pool().await);
    let mut holders = (BTreeSet::new(), BTreeSet::new());
    while !gate.is_finished() {
        holders.0.extend(lock_holders(&pa).await);
        holders.1.extend(lock_holders(&pb).await);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out = gate.await.unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert_eq!(holders.0.len(), 1, "baseline lock sessions: {holders:?}");
    assert_eq!(holders.1.len(), 1, "candidate lock sessions: {holders:?}");
    assert!(lock_holders(&pa).await.is_empty(), "released at the end");
    let gate = std::fs::canonicalize(dir.join("reports/latest")).unwrap();
    let c = read_json(&gate.join("compare.json"));
    // Gated metrics are the thresholds' metrics.
    assert_eq!(c["settings"]["metrics_from"], "thresholds");
    assert_eq!(c["settings"]["tests"], 2);
    assert_eq!(c["settings"]["repeats_needed"], 8, "2 tests at alpha 0.001");
    assert_eq!(c["candidate"]["runs"].as_array().unwrap().len(), 8);
    for m in c["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["gated"] == true)
    {
        assert_ne!(m["verdict"], "worse", "A/A: {m}");
        assert_ne!(m["verdict"], "inconclusive", "enough repeats: {m}");
    }
    assert_eq!(c["outcome"], "threshold failed");
    let t: Vec<&Value> = c["thresholds"].as_array().unwrap().iter().collect();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0]["key"], "patient_encounters.p50_all");
    assert_eq!(t[0]["pass"], false);
    assert_eq!(t[0]["failed_in"], t[0]["repeats"]);
    assert_eq!(t[1]["pass"], true);
    validate_junit(&gate.join("junit.xml"));
    let junit = std::fs::read_to_string(gate.join("junit.xml")).unwrap();
    assert!(
        junit.contains("patient_encounters.p50_all &lt; 1us not met"),
        "{junit}"
    );
    assert!(
        all.contains("threshold patient_encounters.p50_all < 1us"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn runs_of_different_loads_are_refused_and_budgets_too_small_are_usage_errors() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::migrated("gate_mismatch").await;
    fixture::insert(&env).await;
    let dir = scratch("mismatch");
    let mut dirs = Vec::new();
    for rate in [20, 40] {
        let file = scenario(&dir, &format!("r{rate}.toml"), rate);
        let out = env
            .command()
            .arg("run")
            .arg(&file)
            .args(["--duration", "1s", "--warmup", "0s", "--quiet", "--out"])
            .arg(dir.join(format!("reports{rate}")))
            .checked_output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        dirs.push(std::fs::canonicalize(dir.join(format!("reports{rate}/latest"))).unwrap());
    }
    let refused = env
        .command()
        .arg("compare")
        .args(&dirs)
        .checked_output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("refusing to compare") && msg.contains("scenario"),
        "{msg}"
    );
    assert!(msg.contains("--allow-mismatch"), "{msg}");
    let allowed = env
        .command()
        .arg("compare")
        .args(&dirs)
        .arg("--allow-mismatch")
        .checked_output()
        .unwrap();
    // one run per side decides nothing: inconclusive is its own exit code, not a pass
    assert_eq!(allowed.status.code(), Some(7), "{}", text(&allowed));
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("INCONCLUSIVE"));

    let small = env
        .command()
        .arg("gate")
        .arg(dir.join("r20.toml"))
        .arg("--candidate-migrations")
        .arg(&dir)
        .args(["--time-budget", "20s"])
        .checked_output()
        .unwrap();
    assert_eq!(small.status.code(), Some(2), "{}", text(&small));
    let msg = String::from_utf8_lossy(&small.stderr);
    assert!(
        msg.contains("too small for a verdict") && msg.contains("--time-budget"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_junit_validator_rejects_what_the_schemas_reject() {
    validate_junit(&repo("tests/fixtures/junit/valid-example.xml"));
    let out = std::process::Command::new(repo("scripts/validate-junit"))
        .arg(repo("tests/fixtures/junit/invalid-example.xml"))
        .checked_output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn the_github_actions_recipe_passes_actionlint_and_a_broken_copy_does_not() {
    let out = std::process::Command::new(repo("scripts/lint-ci"))
        .checked_output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let dir = scratch("lint");
    let good = std::fs::read_to_string(repo("docs/ci/github-actions.yml")).unwrap();
    let broken = good.replacen("runs-on:", "runs-onn:", 1);
    assert_ne!(good, broken);
    let path = dir.join("broken.yml");
    std::fs::write(&path, broken).unwrap();
    let out = std::process::Command::new(repo("scripts/lint-ci"))
        .arg(&path)
        .checked_output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a broken workflow passed: {}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
