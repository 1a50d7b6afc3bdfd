//! Distributed runs on the local stack: n = 1, 2 and 4 worker processes (`run --worker i/n`
//! with a common `--start-at`) offer the load one process would, never share a write target,
//! and `clinicload merge` adds them into one run whose counts are the workers' sums and whose
//! thresholds are judged on the merged data; a worker whose window is skewed is refused (or
//! flagged with --allow-skew); `clinicload restore` afterwards gives the dataset back.
mod common;
use common::prelude::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestEnv;
use serde_json::Value;

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-dist-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SCENARIO: &str = r#"name = "dist"
duration = "4s"
warmup = "1s"

[load]
model = "open"
rate = 100
connections = { postgres = 2 }

[[op]]
name = "patient_encounters"
weight = 6

[[op]]
name = "pending_tasks"
weight = 3

[[op]]
name = "complete_task"
weight = 1

[thresholds]
"overall.p99" = "< 2s"
"#;

fn summaries(out: &Path, suffix: &str) -> Vec<Value> {
    let mut v: Vec<(PathBuf, Value)> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(suffix) && p.join("summary.json").exists())
        .map(|p| {
            let s = serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap())
                .unwrap();
            (p, s)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|x| x.1).collect()
}

/// Samples per tag ("" for the overall line) in an interval log, read with hdrhistogram's
/// own IntervalLogIterator.
fn hlog_counts(path: &Path) -> BTreeMap<String, u64> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(h) = entry.unwrap() {
            let raw = base64_decode(h.encoded_histogram());
            let hist: hdrhistogram::Histogram<u64> = Deserializer::new()
                .deserialize(&mut raw.as_slice())
                .unwrap();
            let tag = h.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
            *out.entry(tag).or_default() += hist.len();
        }
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// How one worker is disturbed.
#[derive(Clone, Copy, PartialEq)]
enum Trouble {
    None,
    /// Its clock reads this many ms ahead (the hidden CLINICLOAD_TEST_CLOCK_SKEW_MS hook).
    ClockAhead(u32, i64),
    /// It is launched this many seconds after the common start.
    LaunchedLate(u32, u64),
}

/// Starts n workers with a common start 4 s ahead; returns their outputs.
fn run_workers(env: &TestEnv, file: &Path, out: &Path, n: u32, trouble: Trouble) -> Vec<Output> {
    let start = (chrono::Utc::now() + chrono::Duration::seconds(4))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let children: Vec<_> = (0..n)
        .map(|i| {
            if let Trouble::LaunchedLate(w, secs) = trouble {
                if w == i {
                    std::thread::sleep(std::time::Duration::from_secs(4 + secs));
                }
            }
            let mut c = env.command();
            c.args([
                "run",
                file.to_str().unwrap(),
                "--quiet",
                "--allow-short-pools",
                "--start-at",
                &start,
                "--out",
            ])
            .arg(out)
            // As a Kubernetes Indexed Job gives it.
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .env("CLINICLOAD_WORKERS", n.to_string());
            if let Trouble::ClockAhead(w, ms) = trouble {
                if w == i {
                    c.env("CLINICLOAD_TEST_CLOCK_SKEW_MS", ms.to_string());
                }
            }
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.checked_wait().unwrap())
        .collect()
}

#[tokio::test]
async fn one_two_and_four_workers_merge_into_the_load_of_one_process() {
    let env = TestEnv::seeded_8000_patients("dist").await;
    let dir = scratch("n");
    let file = dir.join("dist.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let pool = env.pool().await;
    let before = clinicload::seed::checksum::checksums(&pool, &env.mongo().await.1)
        .await
        .unwrap();
    for n in [1u32, 2, 4] {
        let out = dir.join(format!("out-{n}"));
        let outs = run_workers(&env, &file, &out, n, Trouble::None);
        for o in &outs {
            assert!(o.status.success(), "worker of {n}: {}", text(o));
        }
        let workers = summaries(&out, "of");
        assert_eq!(workers.len(), n as usize, "one run directory per worker");
        // No two workers took the same write target (their undo logs are disjoint), and
        // each took some.
        let shared: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT table_name, id FROM clinicload_meta.undo_rows
             GROUP BY 1, 2 HAVING count(DISTINCT run_id) > 1) s",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(shared, 0, "{n} workers shared write targets");
        let runs: i64 =
            sqlx::query_scalar("SELECT count(DISTINCT run_id) FROM clinicload_meta.undo_rows")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(runs, i64::from(n), "every worker recorded its own targets");

        let merged = env
            .command()
            .args([
                "merge",
                out.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .checked_output()
            .unwrap();
        assert!(merged.status.success(), "merge of {n}: {}", text(&merged));
        let m = &summaries(&out, "-merged")[0];
        let sum = |k: &dyn Fn(&Value) -> u64| workers.iter().map(k).sum::<u64>();
        assert_eq!(
            m["overall"]["count"].as_u64().unwrap(),
            sum(&|w| w["overall"]["count"].as_u64().unwrap()),
            "merged count = the workers' counts"
        );
        assert_eq!(
            m["run"]["intended"].as_u64().unwrap(),
            sum(&|w| w["run"]["intended"].as_u64().unwrap())
        );
        let achieved = m["run"]["achieved_rate"].as_f64().unwrap();
        assert!(
            (achieved - 100.0).abs() <= 2.0,
            "{n} workers achieved {achieved} of 100 ops/s"
        );
        // The merged maximum is the workers' maximum: added histograms, not averaged.
        let max = workers
            .iter()
            .map(|w| w["overall"]["max_us"].as_u64().unwrap())
            .max()
            .unwrap();
        assert_eq!(m["overall"]["max_us"].as_u64().unwrap(), max, "{m}");
        assert_eq!(m["merged_from"].as_array().unwrap().len(), n as usize);
        assert!(
            m["thresholds"][0]["pass"].as_bool().unwrap(),
            "{}",
            m["thresholds"]
        );
        // The merged interval log, read by HdrHistogram's own parser, holds every worker's
        // intervals: per tag, as many samples as the workers' logs together.
        let merged_log = hlog_counts(&out.join(m["run_id"].as_str().unwrap()).join("latency.hlog"));
        let mut workers_log: BTreeMap<String, u64> = BTreeMap::new();
        for w in &workers {
            for (tag, n) in
                hlog_counts(&out.join(w["run_id"].as_str().unwrap()).join("latency.hlog"))
            {
                *workers_log.entry(tag).or_default() += n;
            }
        }
        assert!(!merged_log.is_empty());
        assert_eq!(merged_log, workers_log, "{n} workers' interval logs");

        // One restore after all workers gives the dataset back.
        let r = env.command().arg("restore").checked_output().unwrap();
        assert!(r.status.success(), "{}", text(&r));
        let after = clinicload::seed::checksum::checksums(&pool, &env.mongo().await.1)
            .await
            .unwrap();
        assert_eq!(after, before, "after {n} workers and one restore");
    }

    // A retried worker leaves two directories for its index: both complete is refused; with
    // the retry incomplete, the complete one is merged and the merge says so.
    let out = dir.join("out-2");
    let w1 = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-w1of2"))
        .unwrap();
    let retry = out.join("retried-w1of2");
    std::fs::create_dir_all(&retry).unwrap();
    for e in std::fs::read_dir(&w1).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, retry.join(p.file_name().unwrap())).unwrap();
        }
    }
    let merge = |extra: &[&str]| {
        env.command()
            .args(["merge", out.to_str().unwrap(), "--out"])
            .arg(dir.join("merged-again"))
            .args(extra)
            .checked_output()
            .unwrap()
    };
    let twice = merge(&[]);
    assert_eq!(twice.status.code(), Some(1), "{}", text(&twice));
    assert!(
        text(&twice).contains("worker 1/2 has 2 complete run directories"),
        "{}",
        text(&twice)
    );
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(retry.join("worker.json")).unwrap()).unwrap();
    record["complete"] = Value::Bool(false);
    std::fs::write(retry.join("worker.json"), record.to_string()).unwrap();
    let once = merge(&[]);
    assert!(once.status.success(), "{}", text(&once));
    assert!(text(&once).contains("a retried pod"), "{}", text(&once));
    let again = &summaries(&dir.join("merged-again"), "-merged")[0];
    let first = &summaries(&out, "-merged")[0];
    assert_eq!(again["overall"]["count"], first["overall"]["count"]);
    assert_eq!(again["overall"]["p99_us"], first["overall"]["p99_us"]);

    // A threshold the merged data fails exits 4 from the merge.
    let strict = dir.join("strict.toml");
    std::fs::write(&strict, SCENARIO.replace("< 2s", "< 1us")).unwrap();
    let out = dir.join("out-strict");
    for o in run_workers(&env, &strict, &out, 2, Trouble::None) {
        assert!(matches!(o.status.code(), Some(0 | 4)), "{}", text(&o));
    }
    let merged = env
        .command()
        .args([
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .checked_output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(4), "{}", text(&merged));
    env.command().arg("restore").checked_output().unwrap();

    // A worker whose clock is 3 s ahead starts its window 3 s early on the server's clock.
    let out = dir.join("out-skew");
    for o in run_workers(&env, &file, &out, 2, Trouble::ClockAhead(1, 3000)) {
        assert!(o.status.success(), "{}", text(&o));
    }
    let refused = env
        .command()
        .args([
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .checked_output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("skewed"), "{}", text(&refused));
    assert!(
        summaries(&out, "-merged").is_empty(),
        "a refused merge writes nothing"
    );
    let flagged = env
        .command()
        .args([
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--allow-skew",
        ])
        .checked_output()
        .unwrap();
    assert!(flagged.status.success(), "{}", text(&flagged));
    let m = &summaries(&out, "-merged")[0];
    assert!(
        m["warnings"].to_string().contains("skewed"),
        "{}",
        m["warnings"]
    );
    env.command().arg("restore").checked_output().unwrap();

    // A worker launched 3 s after the common start runs a window 3 s late: refused, naming it.
    let out = dir.join("out-late");
    for o in run_workers(&env, &file, &out, 2, Trouble::LaunchedLate(1, 3)) {
        assert!(o.status.success(), "{}", text(&o));
    }
    let refused = env
        .command()
        .args([
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .checked_output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("late for the common start")
            && text(&refused).contains("worker 1/2"),
        "{}",
        text(&refused)
    );
    env.command().arg("restore").checked_output().unwrap();
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// n workers whose pools together exceed the server's connections are refused before any
/// load, with the numbers.
#[tokio::test]
async fn workers_that_cannot_all_connect_are_refused_with_the_numbers() {
    let env = TestEnv::seeded_8000_patients("dist_conn").await;
    let dir = scratch("conn");
    let file = dir.join("wide.toml");
    std::fs::write(
        &file,
        SCENARIO
            .replace(
                "connections = { postgres = 2 }",
                "connections = { postgres = 40 }",
            )
            .replace("duration = \"4s\"", "duration = \"1s\"")
            .replace("warmup = \"1s\"", "warmup = \"0s\""),
    )
    .unwrap();
    let pool = env.pool().await;
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let workers = max.parse::<u32>().unwrap() / 44 + 1;
    let out = env
        .command()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--allow-short-pools",
            "--out",
        ])
        .arg(dir.join("out"))
        .arg("--worker")
        .arg(format!("0/{workers}"))
        .checked_output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("{workers} workers x 44 PostgreSQL connections"))
            && t.contains(&format!("max_connections {max}")),
        "{t}"
    );
    assert!(
        !dir.join("out").exists() || std::fs::read_dir(dir.join("out")).unwrap().next().is_none()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
