//! Thresholds end to end against the real servers: thresholds that pass (exit 0), one that
//! fails (exit 4, shown failed in summary.json, summary.md and report.html), `--threshold`
//! adding and replacing the file's, and mistakes refused with file:line before connecting.
mod common;
use common::prelude::*;
mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TestEnv;
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-thr-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two light reads at 20/s for 2 s, plus `thresholds`.
fn scenario(dir: &Path, name: &str, thresholds: &str) -> PathBuf {
    let text = format!(
        "name = \"thr\"\nduration = \"2s\"\nwarmup = \"0s\"\n\n[load]\nmodel = \"open\"\nrate = 20\n\n\
[[op]]\nname = \"appointments_today\"\nweight = 1\ndoctor = \"today\"\n\n\
[[op]]\nname = \"pending_tasks\"\nweight = 1\n\n[thresholds]\n{thresholds}"
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(env: &TestEnv, file: &Path, out: &Path, extra: &[&str]) -> (Output, Value, PathBuf) {
    let output = env
        .command()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .checked_output()
        .unwrap();
    let dir = std::fs::canonicalize(out.join("latest")).unwrap_or_else(|_| {
        panic!(
            "no report: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    common::assert_accounted(&summary);
    (output, summary, dir)
}

fn verdict<'a>(s: &'a Value, key: &str) -> &'a Value {
    s["thresholds"]
        .as_array()
        .expect("summary.json has thresholds")
        .iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("no verdict for {key} in {}", s["thresholds"]))
}

#[tokio::test]
async fn thresholds_that_hold_pass_with_their_observed_values_and_exit_0() {
    let env = TestEnv::migrated("thr_pass").await;
    fixture::insert(&env).await;
    let dir = scratch("pass");
    let file = scenario(
        &dir,
        "pass.toml",
        "\"pending_tasks.p99\" = \"< 30s\"\n\"overall.error_rate\" = \"<= 100%\"\n\
\"run.achieved_ratio\" = \">= 0.5\"\nappointments_today = { count = \"> 0\", p50_ok = \"< 30s\" }\n",
    );
    let (out, s, report) = run(&env, &file, &dir.join("reports"), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s["thresholds"].as_array().unwrap().len(), 5);
    let p99 = verdict(&s, "pending_tasks.p99_all");
    assert_eq!(p99["pass"], true);
    assert_eq!(p99["value"], 30_000_000.0);
    assert_eq!(p99["unit"], "us");
    assert_eq!(p99["op"], "<");
    assert_eq!(p99["source"], format!("{}:19", file.display()));
    // The observed value is the summary's own figure, every arrival's p99.
    let row = s["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == "pending_tasks")
        .unwrap();
    assert_eq!(
        p99["observed"].as_f64().unwrap(),
        row["p99_all_us"].as_f64().unwrap()
    );
    assert!(p99["observed"].as_f64().unwrap() > 0.0);
    let count = verdict(&s, "appointments_today.count");
    assert_eq!(count["pass"], true);
    assert!(count["observed"].as_f64().unwrap() >= 1.0);
    assert_eq!(count["source"], format!("{}:22", file.display()));
    assert_eq!(verdict(&s, "appointments_today.p50_ok")["pass"], true);
    let ratio = verdict(&s, "run.achieved_ratio");
    assert_eq!(ratio["pass"], true);
    assert!(ratio["observed"].as_f64().unwrap() > 0.5);
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("Thresholds: 5 of 5 passed"), "{md}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("Thresholds: 5 of 5 passed"));
}

#[tokio::test]
async fn a_failed_threshold_exits_4_and_shows_failed_and_the_flag_adds_and_replaces() {
    let env = TestEnv::migrated("thr_fail").await;
    fixture::insert(&env).await;
    let dir = scratch("fail");
    // No query answers in under a microsecond.
    let file = scenario(
        &dir,
        "fail.toml",
        "\"pending_tasks.max\" = \"< 1us\"\n\"overall.error_rate\" = \"<= 100%\"\n",
    );
    let (out, s, report) = run(
        &env,
        &file,
        &dir.join("reports"),
        &["--threshold", "overall.count > 0"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(clinicload::exit::THRESHOLDS_FAILED as i32),
        "{stderr}"
    );
    let max = verdict(&s, "pending_tasks.max_all");
    assert_eq!(max["pass"], false);
    assert!(max["observed"].as_f64().unwrap() >= 1.0);
    assert_eq!(verdict(&s, "overall.error_rate")["pass"], true);
    let flag = verdict(&s, "overall.count");
    assert_eq!(
        (flag["pass"].clone(), flag["source"].clone()),
        (true.into(), "--threshold".into())
    );
    assert_eq!(
        s["command_line_overrides"]["threshold"],
        "overall.count > 0"
    );
    assert!(
        stderr.contains("threshold failed") && stderr.contains("pending_tasks.max_all < 1us"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("Thresholds: 2 of 3 passed, **FAILED**"), "{md}");
    assert!(
        md.lines()
            .any(|l| l.contains("pending_tasks.max_all") && l.contains("**FAILED**")),
        "{md}"
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("Thresholds: 2 of 3 passed") && html.contains(">FAILED<"));

    // The same key on the command line replaces the file's: the run passes.
    let (out, s, _) = run(
        &env,
        &file,
        &dir.join("reports"),
        &["--threshold", "pending_tasks.max < 60s"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s["thresholds"].as_array().unwrap().len(), 2);
    assert_eq!(
        verdict(&s, "pending_tasks.max_all")["source"],
        "--threshold"
    );
}

#[tokio::test]
async fn abort_on_fail_ends_a_hopeless_run_after_its_grace_with_the_report_and_exit_4() {
    let env = TestEnv::migrated("thr_abort").await;
    fixture::insert(&env).await;
    let dir = scratch("abort");
    let file = scenario(
        &dir,
        "abort.toml",
        "abort_on_fail = true\nabort_grace = \"1s\"\n\"pending_tasks.max\" = \"< 1us\"\n",
    );
    let started = std::time::Instant::now();
    let (out, s, report) = run(&env, &file, &dir.join("reports"), &["--duration", "60s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(clinicload::exit::THRESHOLDS_FAILED as i32),
        "{stderr}"
    );
    // Ended within seconds of the grace, not after the 60 s asked.
    let measured = s["run"]["measured_s"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&measured), "measured {measured} s");
    assert!(started.elapsed() < std::time::Duration::from_secs(40));
    assert_eq!(s["run"]["interrupted"], false);
    let why = s["run"]["aborted_by_threshold"]
        .as_str()
        .expect("aborted_by_threshold set");
    assert!(
        why.starts_with("pending_tasks.max_all < 1us: observed"),
        "{why}"
    );
    assert_eq!(s["scenario"]["abort_on_fail_after_s"], 1.0);
    assert_eq!(verdict(&s, "pending_tasks.max_all")["pass"], false);
    assert!(stderr.contains("abort_on_fail ended run"), "{stderr}");
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("ended early by abort_on_fail"), "{md}");
}

#[test]
fn unknown_operations_and_metrics_are_refused_with_file_line_before_connecting() {
    let dir = scratch("bad");
    let cases: [(&str, &str, &[&str], String, &str); 6] = [
        (
            "grace.toml",
            "abort_grace = \"5s\"\n",
            &[],
            "grace.toml:19:".into(),
            "abort_on_fail is not",
        ),
        (
            "op.toml",
            "\"overall.p99\" = \"< 1s\"\n\"book_appointment.p99\" = \"< 15ms\"\n",
            &[],
            "op.toml:20:".into(),
            "not an operation of this scenario",
        ),
        (
            "metric.toml",
            "\"pending_tasks.p98\" = \"< 15ms\"\n",
            &[],
            "metric.toml:19:".into(),
            "unknown metric",
        ),
        (
            "unit.toml",
            "pending_tasks = { p99 = \"< 15\" }\n",
            &[],
            "unit.toml:19:".into(),
            "unit",
        ),
        (
            "rate.toml",
            "\"overall.error_rate\" = \"< 5\"\n",
            &[],
            "rate.toml:19:".into(),
            "5%",
        ),
        (
            "flag.toml",
            "",
            &["--threshold", "overall.p99 15ms"],
            "flag.toml: --threshold".into(),
            "does not start with <",
        ),
    ];
    for (name, thresholds, extra, want_at, want_what) in cases {
        let file = scenario(&dir, name, thresholds);
        let out = Command::new(TestEnv::bin())
            .arg("run")
            .arg(&file)
            .args(extra)
            .arg("--out")
            .arg(dir.join("reports"))
            .env("DATABASE_URL", "postgres://u:sekret@127.0.0.1:1/x")
            .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
            .env("REDIS_URL", "redis://127.0.0.1:1/")
            .checked_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(clinicload::exit::USAGE as i32),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&want_at),
            "{name}: want {want_at:?} in {stderr}"
        );
        assert!(
            stderr.contains(want_what),
            "{name}: want {want_what:?} in {stderr}"
        );
        assert!(stderr.contains("hint:"), "{name}: {stderr}");
        assert!(
            !dir.join("reports").exists(),
            "{name}: a report was started"
        );
    }
    // The unknown operation's hint lists the valid scopes.
    let file = scenario(&dir, "op2.toml", "\"book_appointment.p99\" = \"< 15ms\"\n");
    let out = Command::new(TestEnv::bin())
        .arg("run")
        .arg(&file)
        .env("DATABASE_URL", "postgres://u:sekret@127.0.0.1:1/x")
        .checked_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("appointments_today, pending_tasks), overall or run"),
        "{stderr}"
    );
}
