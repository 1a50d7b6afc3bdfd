//! Index usage under the workload, against the real servers: a scenario that reads only
//! today's appointments (and a note by encounter) uses `idx_appointments_doctor_date` as
//! often as it ran the operation and never touches the tasks indexes; the schema's duplicate
//! and left-prefix-redundant indexes and its foreign keys without an index are listed, the
//! unread-alerts partial index is not called a duplicate of the full one; FerretDB's missing
//! `$indexStats` is said so. Written to indexes.json, summary.json, summary.md and report.html.
mod common;
use common::prelude::*;
mod fixture;

use std::path::{Path, PathBuf};

use common::TestEnv;
use serde_json::Value;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-idx-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Today's appointments and a note by encounter at 20/s for 2 s: nothing about tasks.
fn scenario(dir: &Path) -> PathBuf {
    let text = "name = \"idx\"\nduration = \"2s\"\nwarmup = \"0s\"\n\n[load]\nmodel = \"open\"\nrate = 20\n\n\
[[op]]\nname = \"appointments_today\"\nweight = 3\ndoctor = \"today\"\n\n\
[[op]]\nname = \"note_by_encounter\"\nweight = 1\n";
    let path = dir.join("idx.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the scenario; returns summary.json, indexes.json and the report directory.
fn run(env: &TestEnv, file: &Path, out: &Path) -> (Value, Value, PathBuf) {
    let output = env
        .command()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .checked_output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    let dir = std::fs::canonicalize(out.join("latest")).expect("a report");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    (read("summary.json"), read("indexes.json"), dir)
}

fn pg_index<'a>(ix: &'a Value, name: &str) -> &'a Value {
    ix["postgres"]["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["index"] == name)
        .unwrap_or_else(|| panic!("{name} not in indexes.json"))
}

fn redundant_names(ix: &Value) -> Vec<String> {
    ix["postgres"]["redundant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_str().unwrap().to_string())
        .collect()
}

fn fk_names(ix: &Value) -> Vec<String> {
    ix["postgres"]["foreign_keys_without_index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}.{}",
                r["table"].as_str().unwrap(),
                r["constraint"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn the_run_reports_used_unused_redundant_indexes_and_unindexed_foreign_keys() {
    let env = TestEnv::migrated("idx_use").await;
    fixture::insert(&env).await;
    // On the fixture's few rows the planner rightly prefers sequential scans; this test is
    // about counting the scans the load makes, so its own database is told to use indexes.
    let pool = env.pool().await;
    sqlx::query(&format!(
        "ALTER DATABASE {} SET enable_seqscan = off",
        env.pg_name
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let dir = scratch("use");
    let file = scenario(&dir);
    let (summary, ix, report) = run(&env, &file, &dir.join("reports"));

    assert_eq!(ix["schema"], "clinicload.indexes/1");
    assert_eq!(summary["indexes"]["postgres"], ix["postgres"]);
    assert_eq!(summary["files"]["indexes_json"], "indexes.json");

    // Used, and as often as the operation ran: the after-snapshot holds all of the load's
    // scans (each appointments_today is one scan of the index).
    let ran = summary["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == "appointments_today")
        .unwrap()["arrivals"]["ok"]
        .as_u64()
        .unwrap();
    assert!(ran > 10, "appointments_today ran {ran} times");
    let doctor_date = pg_index(&ix, "idx_appointments_doctor_date");
    assert_eq!(doctor_date["used"], true, "{doctor_date}");
    assert!(
        doctor_date["scans"].as_u64().unwrap() >= ran,
        "{ran} operations, {doctor_date}"
    );
    assert!(doctor_date["bytes"].as_i64().unwrap() > 0);
    // Never touched: the tasks indexes, with their sizes.
    for name in [
        "idx_tasks_pending",
        "idx_tasks_assignee_status",
        "idx_tasks_patient",
    ] {
        let i = pg_index(&ix, name);
        assert_eq!(i["used"], false, "{i}");
        assert_eq!(i["scans"], 0, "{i}");
        assert!(i["bytes"].as_i64().unwrap() > 0, "{i}");
    }
    // clinicload's own bookkeeping is not the application's schema.
    assert!(ix["postgres"]["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["schema"] != "clinicload_meta"));
    // FerretDB has no $indexStats; the run says so instead of failing.
    let servers = summary["servers"]["mongo"].as_str().unwrap_or("");
    if servers.contains("FerretDB") {
        assert_eq!(
            ix["mongo"]["status"], "unsupported by this server",
            "{}",
            ix["mongo"]
        );
    } else {
        assert_eq!(ix["mongo"]["status"], "measured", "{}", ix["mongo"]);
    }
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    for page in [&md, &html] {
        assert!(page.contains("Indexes the workload never touched (PostgreSQL)"));
        assert!(page.contains("idx_tasks_pending"));
    }

    // The shipped schema: one duplicate, idx_users_email next to the UNIQUE constraint's own
    // index (the unread-alerts partial index is not one of the full recipient index), and
    // its unindexed foreign keys, e.g. appointments.created_by;
    // appointments.doctor_id is served by idx_appointments_doctor_date, tasks.patient_id by
    // the partial idx_tasks_patient (WHERE patient_id IS NOT NULL).
    let red: Vec<&Value> = ix["postgres"]["redundant"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(red.len(), 1, "{red:?}");
    assert_eq!(red[0]["index"], "idx_users_email");
    assert_eq!(red[0]["kind"], "duplicate");
    assert_eq!(red[0]["covered_by"], "users_email_key");
    let fks = fk_names(&ix);
    assert!(
        fks.contains(&"appointments.appointments_created_by_fkey".to_string()),
        "{fks:?}"
    );
    assert!(
        !fks.contains(&"appointments.appointments_doctor_id_fkey".to_string()),
        "{fks:?}"
    );
    assert!(
        !fks.contains(&"tasks.tasks_patient_id_fkey".to_string()),
        "{fks:?}"
    );
    assert!(
        !fks.contains(&"alerts.alerts_recipient_id_fkey".to_string()),
        "{fks:?}"
    );

    // A deliberate duplicate, a left prefix, a unique prefix and an unindexed foreign key.
    let pool = env.pool().await;
    for sql in [
        "CREATE INDEX dup ON appointments(doctor_id, DATE(start_time))",
        "CREATE INDEX prefix_patient ON appointments(patient_id)",
        "CREATE UNIQUE INDEX uniq_mrn_dob ON patients(mrn, date_of_birth)",
        "CREATE TABLE referrals (id bigserial PRIMARY KEY, patient_id uuid REFERENCES patients(id))",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let (_, ix, _) = run(&env, &file, &dir.join("reports"));
    let red: Vec<&Value> = ix["postgres"]["redundant"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let names = redundant_names(&ix);
    let dup = red
        .iter()
        .find(|r| r["index"] == "dup")
        .expect("dup is flagged");
    assert_eq!(dup["kind"], "duplicate");
    assert_eq!(dup["covered_by"], "idx_appointments_doctor_date");
    let prefix = red
        .iter()
        .find(|r| r["index"] == "prefix_patient")
        .expect("prefix_patient is flagged");
    assert_eq!(prefix["kind"], "left_prefix");
    assert_eq!(prefix["covered_by"], "idx_appointments_patient_time");
    for not in [
        "idx_appointments_doctor_date",
        "idx_alerts_unread",
        "idx_alerts_recipient_time",
        "uniq_mrn_dob",
        "patients_mrn_key",
    ] {
        assert!(
            !names.contains(&not.to_string()),
            "{not} flagged: {names:?}"
        );
    }
    assert_eq!(names.len(), 3, "{names:?}");
    let fks = fk_names(&ix);
    assert!(
        fks.contains(&"referrals.referrals_patient_id_fkey".to_string()),
        "{fks:?}"
    );
}
