//! A seed that failed never says it succeeded: parameters out of range are refused before
//! anything connects, a generator panic and a dropped PostgreSQL connection end with a
//! non-zero exit and a one-line message naming the clinic and the cause, and a failed seed
//! that committed nothing leaves the stores as they were, so a corrected command is accepted.
mod common;
use common::prelude::*;

use std::process::Output;
use std::time::{Duration, Instant};

use clinicload::seed::checksum::checksums;
use common::TestEnv;

const BASE: [&str; 10] = [
    "seed",
    "--profile",
    "tiny",
    "--seed",
    "7",
    "--as-of",
    "2026-03-02",
    "--voice-length",
    "0.05",
    "--patients=40",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure, got success:\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("done:"),
        "a failed seed printed done:\n{stdout}"
    );
    text(&out.stderr)
}

#[test]
fn every_parameter_is_range_checked_before_anything_connects() {
    let cases: [(&[&str], &str); 12] = [
        (&["--history-days", "100000000"], "--history-days"),
        (&["--future-days", "100000000"], "--future-days"),
        (&["--note-length", "1e9"], "--note-length"),
        (&["--note-length", "NaN"], "--note-length"),
        (&["--clinics", "2000000000"], "--clinics"),
        (&["--clinics", "0"], "--clinics"),
        (&["--doctors", "100000"], "--doctors"),
        (&["--admins", "5000"], "--admins"),
        (&["--voice-share", "inf"], "--voice-share"),
        (&["--voice-length", "0"], "--voice-length"),
        (&["--as-of", "0001-01-01"], "--as-of"),
        (
            &["--patients", "5000", "--history-days", "3650"],
            "one clinic of this shape",
        ),
    ];
    for plan in [true, false] {
        for (args, names) in cases {
            let mut cmd = std::process::Command::new(TestEnv::bin());
            // Nothing listens here: a refusal must come before any connection.
            cmd.env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
                .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
                .args(["seed", "--profile", "tiny"])
                .args(args);
            if plan {
                cmd.arg("--plan");
            }
            let t = Instant::now();
            let out = cmd.checked_output().unwrap();
            let err = failed(&out);
            assert!(
                err.contains(names) && (err.contains("range") || err.contains("at most")),
                "{args:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert!(
                !err.contains("cannot connect"),
                "{args:?} was checked after connecting: {err}"
            );
            assert!(t.elapsed() < Duration::from_secs(10), "{args:?} took long");
        }
    }
    // --threads and --future-days with a non-integer are refused by the parser (usage error).
    for args in [["--threads", "0"], ["--future-days", "1e8"]] {
        let out = std::process::Command::new(TestEnv::bin())
            .args(BASE)
            .args(args)
            .arg("--plan")
            .checked_output()
            .unwrap();
        let err = failed(&out);
        assert!(err.contains(args[0]), "{err}");
    }
}

#[tokio::test]
async fn a_generator_panic_fails_the_seed_and_leaves_the_stores_as_they_were() {
    let env = TestEnv::migrated("seedfail_panic").await;
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "2", "--threads", "1", "--panic-in-clinic", "0"])
        .checked_output()
        .unwrap();
    let err = failed(&out);
    assert!(
        err.contains("seed failed: clinic 0: generating the clinic failed")
            && err.contains("0 of 2 clinics are complete"),
        "{err}"
    );
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;
    let committed: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(committed, 0);
    // The corrected command (other parameters) is accepted and completes, with nothing of
    // the failed dataset left.
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "1"])
        .checked_output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("done: 1 clinics"));
    let clinics: serde_json::Value =
        sqlx::query_scalar("SELECT parameters->'clinics' FROM clinicload_meta.dataset")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(clinics, serde_json::json!(1));
    let stray = db
        .collection::<mongodb::bson::Document>("clinicalNotes")
        .count_documents(mongodb::bson::doc! { "metadata.clinicIndex": { "$ne": 0_i64 } })
        .await
        .unwrap();
    assert_eq!(stray, 0, "documents of the failed dataset are gone");

    // A panic after a committed clinic: the dataset stays (for resume), the exit is non-zero,
    // the message names the clinic.
    let env2 = TestEnv::migrated("seedfail_panic2").await;
    let out = env2
        .command()
        .args(BASE)
        .args(["--clinics", "3", "--threads", "1", "--panic-in-clinic", "2"])
        .checked_output()
        .unwrap();
    let err = failed(&out);
    assert!(
        err.contains("clinic 2: generating the clinic failed") && err.contains("re-run"),
        "{err}"
    );
    let out = env2
        .command()
        .args(BASE)
        .args(["--clinics", "3"])
        .checked_output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("resuming"));
    let s = checksums(&env2.pool().await, &env2.mongo().await.1)
        .await
        .unwrap();
    assert_eq!(s.iter().find(|c| c.name == "users").unwrap().rows, 15);
    drop(db);
}

#[tokio::test]
async fn a_dropped_postgres_connection_reads_as_such() {
    let env = TestEnv::migrated("seedfail_conn").await;
    let pool = env.pool().await;
    let mut child = env
        .command()
        .args(BASE)
        .args(["--clinics", "6", "--threads", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Terminate the seed's backends whenever one is inside a clinic's transaction (COPYing,
    // or waiting for MongoDB before the commit), until the seed exits.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = 0u64;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "seed did not end");
        let n: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND xact_start IS NOT NULL AND query ILIKE 'COPY%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        killed += n.len() as u64;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out = child.checked_wait().unwrap();
    let err = failed(&out);
    assert!(killed > 0, "no backend was terminated: {err}");
    assert!(
        err.contains("lost the connection to PostgreSQL at postgres://")
            && err.contains(&env.pg_name)
            && err.contains("re-run the same command"),
        "{err}"
    );
    assert!(!err.contains("rejected by the server"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes when not a terminal: {err}"
    );
    assert!(err.len() < 2_000, "{} bytes of error:\n{err}", err.len());
    // And the same command finishes the seed.
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "6", "--threads", "1"])
        .checked_output()
        .unwrap();
    assert!(
        out.status.success(),
        "re-run failed: {}\nfirst run: {err}",
        text(&out.stderr)
    );
}

/// A release's migrations add columns and a table (MVP-004's "Plan for Evolution"): the seed
/// reads the schema first. A NOT NULL column without a default refuses it (exit 2) with the
/// column named and nothing written; nullable columns, columns with a default and new tables
/// are named in warnings, and the seed completes.
#[tokio::test]
async fn columns_the_seed_does_not_know_are_listed_and_required_ones_refuse_it() {
    let env = TestEnv::migrated("seedfail_columns").await;
    let pool = env.pool().await;
    for ddl in [
        "ALTER TABLE patients ADD COLUMN preferred_language text",
        "ALTER TABLE patients ADD COLUMN deleted_at timestamptz",
        "ALTER TABLE encounters ADD COLUMN source text NOT NULL DEFAULT 'clinic'",
        "CREATE TABLE referrals (id uuid PRIMARY KEY, patient_id uuid REFERENCES patients(id))",
    ] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let required = "ALTER TABLE appointments ADD COLUMN channel text NOT NULL";
    sqlx::query(required).execute(&pool).await.unwrap();
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "1"])
        .checked_output()
        .unwrap();
    let err = failed(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("appointments.channel (text)"), "{err}");
    assert!(
        !err.contains("preferred_language"),
        "only the required column: {err}"
    );
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(written, 0, "the refused seed wrote rows");

    sqlx::query("ALTER TABLE appointments DROP COLUMN channel")
        .execute(&pool)
        .await
        .unwrap();
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "1"])
        .checked_output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for named in [
        "patients.preferred_language (text) is not a column the seed knows: every seeded row gets NULL",
        "patients.deleted_at (timestamp with time zone)",
        "encounters.source (text) is not a column the seed knows: every seeded row gets its default ('clinic'::text)",
        "table referrals is not one the seed knows: it stays empty",
    ] {
        assert!(err.contains(named), "{named} not in:\n{err}");
    }
    let nulls: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patients WHERE preferred_language IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(nulls > 0);
}
