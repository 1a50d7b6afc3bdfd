//! Index variants end to end against the real servers: a variant that drops
//! idx_encounters_patient_time changes that operation's access path and gets "keep" (its
//! operation is significantly slower without it), one that drops idx_appointments_doctor_date
//! changes today's appointments' access path and the report says so, a variant that drops an
//! index the workload never touches gets "drop candidate" (and neither verdict is given to
//! the other index);
//! every dropped index is back after the run, and after a run killed mid-variant once
//! `clinicload restore` (or the next run) has run; a hypothetical index is planned with
//! HypoPG and labelled as an estimate.
mod common;
use common::prelude::*;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::TestEnv;
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-ab-{label}-{}", std::process::id()));
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

/// Two PostgreSQL reads (a patient's encounters, today's appointments) and the variants.
fn scenario(dir: &Path, duration: &str, variants: &str) -> PathBuf {
    let text = format!(
        "name = \"ab\"\nduration = \"{duration}\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = 200\n\
connections = {{ postgres = 4, mongo = 2, redis = 2 }}\n\n\
[[op]]\nname = \"patient_encounters\"\nweight = 1\n\n[[op]]\nname = \"appointments_today\"\nweight = 1\ndoctor = \"today\"\n\n{variants}"
    );
    let path = dir.join("ab.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn indexes(env: &TestEnv) -> Vec<String> {
    let pool = env.pool().await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    names
}

async fn pending_changes(env: &TestEnv) -> i64 {
    let pool = env.pool().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.index_changes")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

fn verdict<'a>(ab: &'a Value, index: &str) -> &'a Value {
    ab["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["index"] == index)
        .unwrap_or_else(|| panic!("no verdict on {index}: {}", ab["verdicts"]))
}

#[tokio::test]
async fn a_needed_index_is_kept_an_untouched_one_is_a_drop_candidate_and_both_come_back() {
    let env = TestEnv::seeded_8000_patients("ab_verdicts").await;
    let before = indexes(&env).await;
    let dir = scratch("verdicts");
    let file = scenario(
        &dir,
        "2s",
        "[[variant]]\nname = \"no-patient-time\"\ndrop_indexes = [\"idx_encounters_patient_time\"]\n\n\
[[variant]]\nname = \"no-tasks-pending\"\ndrop_indexes = [\"idx_tasks_pending\"]\n\n\
[[variant]]\nname = \"no-doctor-date\"\ndrop_indexes = [\"idx_appointments_doctor_date\"]\n\n\
[[variant]]\nname = \"hypo\"\ncreate_indexes = [\"CREATE INDEX idx_hypo_enc ON encounters (patient_id)\"]\nhypothetical = true\n",
    );
    let out = env
        .command()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--repeats",
            "4",
            "--out",
        ])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(indexes(&env).await, before, "the schema is as it was");
    assert_eq!(pending_changes(&env).await, 0);

    let run = std::fs::read_link(dir.join("reports/latest")).unwrap();
    let run = dir.join("reports").join(run);
    let ab: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("index_ab.json")).unwrap()).unwrap();
    assert_eq!(ab["baseline"], "as-migrated");
    assert_eq!(ab["repeats"], 4);

    let kept = verdict(&ab, "idx_encounters_patient_time");
    assert_eq!(kept["verdict"], "keep", "{kept}");
    assert_eq!(kept["ops_using"], serde_json::json!(["patient_encounters"]));
    assert!(kept["scans"].as_i64().unwrap() > 0);
    let dropped = verdict(&ab, "idx_tasks_pending");
    assert_eq!(dropped["verdict"], "drop candidate", "{dropped}");
    assert_eq!(dropped["scans"], 0);
    assert!(dropped["bytes"].as_i64().unwrap() > 0);

    // The access path of the operation that lost its index changed, the other did not.
    let plans = ab["plans"].as_array().unwrap();
    let row = |op: &str| plans.iter().find(|p| p["op"] == op).unwrap().clone();
    let enc = row("patient_encounters");
    assert_eq!(enc["changed"], true, "{enc}");
    let paths: Vec<&str> = enc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_str().unwrap())
        .collect();
    assert!(
        paths[0].contains("idx_encounters_patient_time"),
        "{paths:?}"
    );
    assert!(
        !paths[1].contains("idx_encounters_patient_time"),
        "{paths:?}"
    );
    // Without the doctor's-day index, today's appointments are read another way.
    let appts = row("appointments_today");
    assert_eq!(appts["changed"], true, "{appts}");
    let by_variant = |v: &str| {
        appts["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x[0] == v)
            .unwrap()[1]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(by_variant("as-migrated").contains("idx_appointments_doctor_date"));
    assert!(!by_variant("no-doctor-date").contains("idx_appointments_doctor_date"));
    assert_eq!(by_variant("no-patient-time"), by_variant("as-migrated"));
    assert_ne!(
        verdict(&ab, "idx_appointments_doctor_date")["verdict"],
        "drop candidate",
        "the scenario uses it"
    );

    // The hypothetical index is an estimate that the planner would use.
    let e = &ab["estimates"][0];
    assert!(
        e["status"]
            .as_str()
            .unwrap()
            .starts_with("estimated (HypoPG"),
        "{e}"
    );
    let enc_est = e["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o[0] == "patient_encounters")
        .unwrap();
    assert!(
        enc_est[2]["plan"]["accesses"]
            .to_string()
            .contains("idx_hypo_enc"),
        "{enc_est}"
    );

    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("access path changed"));
    assert!(html.contains("drop candidate") && html.contains("keep"));
    assert!(html.contains("<svg"), "overlaid percentile curves");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_killed_variant_leaves_its_index_dropped_until_restore_puts_it_back() {
    let env = TestEnv::seeded_8000_patients("ab_killed").await;
    let before = indexes(&env).await;
    let dir = scratch("killed");
    let file = scenario(
        &dir,
        "60s",
        "[[variant]]\nname = \"no-patient-time\"\ndrop_indexes = [\"idx_encounters_patient_time\"]\n",
    );
    // The variant runs after as-migrated: wait until its index is gone, then kill.
    let watch = common::PanicWatch::new();
    let mut child = env
        .command()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--repeats",
            "1",
            "--duration",
            "3s",
            "--out",
        ])
        .arg(dir.join("reports"))
        .stdout(watch.stdout())
        .stderr(watch.stderr())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if !indexes(&env)
            .await
            .contains(&"idx_encounters_patient_time".to_string())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the variant never dropped its index"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its variant"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!indexes(&env)
        .await
        .contains(&"idx_encounters_patient_time".to_string()));
    assert_eq!(pending_changes(&env).await, 1);

    let out = env.command().arg("restore").checked_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("rebuilt idx_encounters_patient_time"),
        "{}",
        text(&out)
    );
    assert_eq!(indexes(&env).await, before);
    assert_eq!(pending_changes(&env).await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_variant_naming_a_missing_index_fails_before_changing_anything() {
    let env = TestEnv::migrated("ab_missing").await;
    let before = indexes(&env).await;
    let dir = scratch("missing");
    let file = scenario(
        &dir,
        "1s",
        "[[variant]]\nname = \"typo\"\ndrop_indexes = [\"idx_appointments_doctor_dat\"]\n",
    );
    let out = env
        .command()
        .args([
            "run",
            file.to_str().unwrap(),
            "--quiet",
            "--allow-short-pools",
            "--out",
        ])
        .arg(dir.join("reports"))
        .checked_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "variant typo drops idx_appointments_doctor_dat, which schema public does not have"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(indexes(&env).await, before);
    assert_eq!(pending_changes(&env).await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
