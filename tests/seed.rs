//! `clinicload seed` against the real servers: integrity across both stores, determinism
//! across thread counts, shards and interruptions, and the refusals that protect data.
//! Every test seeds the `tiny` profile with few clinics and short recordings, so the
//! MongoDB-compatible server (FerretDB locally) stays quick.
mod common;
use common::prelude::*;

use std::collections::HashSet;
use std::process::Output;
use std::time::{Duration, Instant};

use clinicload::seed::checksum::{checksums, Checksum};
use common::TestEnv;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};

/// The dataset every test seeds (plus per-test extras such as --clinics).
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

fn seed(env: &TestEnv, extra: &[&str]) -> Output {
    env.command()
        .args(BASE)
        .args(extra)
        .checked_output()
        .expect("clinicload runs")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "seed failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal, got success:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn sums(env: &TestEnv) -> Vec<Checksum> {
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;
    let s = checksums(&pool, &db).await.unwrap();
    pool.close().await;
    s
}

async fn pg_ids(pool: &sqlx::PgPool, sql: &str) -> HashSet<String> {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn mongo_strings(db: &mongodb::Database, coll: &str, field: &str) -> Vec<String> {
    db.collection::<Document>(coll)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_str(field).unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn tiny_seed_is_consistent_across_both_stores() {
    let env = TestEnv::migrated("seed_integrity").await;
    let out = ok(seed(&env, &["--clinics", "2", "--threads", "2"]));
    assert!(out.contains("dataset fingerprint"), "{out}");
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;

    // Every table count equals what the clinics' transactions recorded, and both clinics are in.
    let clinics: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(clinics, 2);
    for t in clinicload::seed::pg_copy::TABLES {
        let actual: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        let recorded: i64 = sqlx::query_scalar(&format!(
            "SELECT coalesce(sum((row_counts->>'{t}')::bigint), 0)::bigint FROM clinicload_meta.seeded_clinics"
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(actual, recorded, "rows of {t}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        users,
        2 * 5,
        "tiny = 2 doctors, 1 nurse, 1 receptionist, 1 admin per clinic"
    );
    let patients: i64 = sqlx::query_scalar("SELECT count(*) FROM patients")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(patients, 2 * 40, "--patients=40 per clinic");
    // The plan measures clinic 0 and scales it: exact for a one-clinic dataset, so clinic 0's
    // committed row counts must equal the one-clinic plan table by table.
    let mut shape = clinicload::generate::profile("tiny").unwrap();
    shape.patients = 40;
    shape.voice_length_factor = 0.05;
    let one = clinicload::generate::SeedParams {
        seed: 7,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        clinics: 1,
        shape,
    };
    let plan = clinicload::generate::plan(&one);
    let clinic0: serde_json::Value = sqlx::query_scalar(
        "SELECT row_counts FROM clinicload_meta.seeded_clinics WHERE clinic_index = 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    for t in clinicload::seed::pg_copy::TABLES {
        assert_eq!(
            clinic0[t].as_u64().unwrap(),
            plan.entry(t).unwrap().rows,
            "clinic 0 rows of {t} vs the plan"
        );
    }
    let notes0 = db
        .collection::<Document>("clinicalNotes")
        .count_documents(doc! { "metadata.clinicIndex": 0_i64 })
        .await
        .unwrap();
    assert_eq!(notes0, plan.entry("clinicalNotes").unwrap().rows);

    // No doctor is booked twice for the same minute.
    let double: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appointments a JOIN appointments b
           ON a.doctor_id = b.doctor_id AND a.id < b.id
          AND a.status NOT IN ('cancelled') AND b.status NOT IN ('cancelled')
          AND a.start_time < b.end_time AND b.start_time < a.end_time",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(double, 0, "double-booked appointments");
    // Encounters start at or after their appointment.
    let early: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM encounters e JOIN appointments a ON a.id = e.appointment_id
          WHERE e.start_time < a.start_time",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(early, 0, "encounters before their appointment");

    // Every cross-store reference points at an existing PostgreSQL row.
    let encounters = pg_ids(&pool, "SELECT id::text FROM encounters").await;
    let patients = pg_ids(&pool, "SELECT id::text FROM patients").await;
    let doctors = pg_ids(&pool, "SELECT id::text FROM users WHERE role = 'doctor'").await;
    for coll in ["clinicalNotes", "voiceRecordings"] {
        for (field, set) in [
            ("encounterId", &encounters),
            ("patientId", &patients),
            ("doctorId", &doctors),
        ] {
            for id in mongo_strings(&db, coll, field).await {
                assert!(
                    set.contains(&id),
                    "{coll}.{field} {id} has no PostgreSQL row"
                );
            }
        }
    }
    // One note per encounter.
    let notes = mongo_strings(&db, "clinicalNotes", "encounterId").await;
    assert_eq!(
        notes.len(),
        encounters.len(),
        "a clinicalNote per encounter"
    );
    // Every recording's GridFS file exists with all its bytes.
    let voices: Vec<Document> = db
        .collection::<Document>("voiceRecordings")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(!voices.is_empty(), "tiny seeds some recordings");
    assert!(!notes.is_empty(), "tiny seeds some notes");
    let bucket = db.gridfs_bucket(None);
    for v in &voices {
        let id = v.get_object_id("fileId").unwrap();
        let mut bytes = Vec::new();
        let mut stream = bucket
            .open_download_stream(mongodb::bson::Bson::ObjectId(id))
            .await
            .unwrap_or_else(|e| panic!("GridFS file of {v}: {e}"));
        futures::AsyncReadExt::read_to_end(&mut stream, &mut bytes)
            .await
            .unwrap();
        assert_eq!(bytes.len() as i64, v.get_i64("sizeBytes").unwrap());
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
    }
}

/// Also runs the two-thread seed with a 1 MB memory budget, below one tiny clinic's encoded
/// size: clinics then go one at a time, which must neither stall nor change anything.
#[tokio::test]
async fn thread_count_and_memory_budget_do_not_change_the_data() {
    let one = TestEnv::migrated("seed_t1").await;
    let two = TestEnv::migrated("seed_t2").await;
    ok(seed(&one, &["--clinics", "3", "--threads", "1"]));
    ok(seed(
        &two,
        &["--clinics", "3", "--threads", "2", "--memory-budget", "1"],
    ));
    let (a, b) = (sums(&one).await, sums(&two).await);
    assert!(a.iter().find(|c| c.name == "patients").unwrap().rows == 120);
    assert_eq!(a, b);
}

#[tokio::test]
async fn shards_together_equal_the_unsharded_seed() {
    let whole = TestEnv::migrated("seed_whole").await;
    let split = TestEnv::migrated("seed_split").await;
    ok(seed(&whole, &["--clinics", "3"]));
    let first = ok(seed(&split, &["--clinics", "3", "--shard", "0/2"]));
    assert!(first.contains("shard 0/2 (2 clinics)"), "{first}");
    let part = sums(&split).await;
    assert_eq!(
        part.iter().find(|c| c.name == "users").unwrap().rows,
        10,
        "shard 0/2 of 3 clinics writes clinics 0 and 2 only"
    );
    ok(seed(&split, &["--clinics", "3", "--shard", "1/2"]));
    assert_eq!(sums(&whole).await, sums(&split).await);
}

/// Waits until the running seed `child` has committed its first clinic (at most 2 minutes).
async fn wait_for_first_clinic(pool: &sqlx::PgPool, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
            .fetch_one(pool)
            .await
            .unwrap();
        if n >= 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no clinic committed within 2 minutes"
        );
        assert!(child.try_wait().unwrap().is_none(), "seed exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_killed_seed_resumes_to_the_same_data() {
    let killed = TestEnv::migrated("seed_killed").await;
    let clean = TestEnv::migrated("seed_clean").await;
    let args = ["--clinics", "5", "--threads", "1"];
    let watch = common::PanicWatch::new();
    let mut child = killed
        .command()
        .args(BASE)
        .args(args)
        .args(["--pause-after-clinic-ms", "400"])
        .stdout(watch.stdout())
        .stderr(watch.stderr())
        .spawn()
        .unwrap();
    let pool = killed.pool().await;
    wait_for_first_clinic(&pool, &mut child).await;
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!((1..5).contains(&n), "killed midway, {n} clinics committed");
    // Only committed clinics are visible: users belong to exactly the recorded clinics.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, n * 5);

    let out = ok(seed(&killed, &args));
    assert!(out.contains("resuming"), "{out}");
    ok(seed(&clean, &args));
    assert_eq!(sums(&killed).await, sums(&clean).await);
}

#[tokio::test]
async fn refuses_to_mix_datasets_and_resets_only_where_allowed() {
    let env = TestEnv::migrated("seed_refuse").await;
    ok(seed(&env, &["--clinics", "1"]));
    let before = sums(&env).await;

    // A different dataset on top of this one is refused, and nothing changes.
    let err = refused(seed(&env, &["--clinics", "2"]));
    assert!(
        err.contains("already holds dataset") && err.contains("--reset"),
        "{err}"
    );
    assert_eq!(sums(&env).await, before);

    // --reset replaces it in a database prepared by clinicload migrate.
    ok(seed(&env, &["--clinics", "2", "--reset"]));
    assert_eq!(
        sums(&env)
            .await
            .iter()
            .find(|c| c.name == "users")
            .unwrap()
            .rows,
        10
    );

    // Without the clinicload migrate mark, --reset needs --force.
    let pool = env.pool().await;
    sqlx::query("DROP TABLE clinicload_meta.prepared")
        .execute(&pool)
        .await
        .unwrap();
    let err = refused(seed(&env, &["--clinics", "1", "--reset"]));
    assert!(
        err.contains("--force") && err.contains("not prepared"),
        "{err}"
    );
    ok(seed(&env, &["--clinics", "1", "--reset", "--force"]));
    assert_eq!(sums(&env).await, before);
}

#[tokio::test]
async fn refuses_a_database_with_foreign_data_unless_append() {
    let env = TestEnv::migrated("seed_foreign").await;
    let pool = env.pool().await;
    sqlx::query(
        "INSERT INTO users (username, email, full_name, role, password_hash)
         VALUES ('someone', 'someone@example.org', 'Some One', 'admin', 'x')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = refused(seed(&env, &["--clinics", "1"]));
    assert!(
        err.contains("already holds data (users)") && err.contains("--append"),
        "{err}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "a refused seed writes nothing");
    ok(seed(&env, &["--clinics", "1", "--append"]));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 6);
}

#[tokio::test]
async fn deferred_indexes_and_foreign_keys_are_all_restored() {
    let env = TestEnv::migrated("seed_defer").await;
    let pool = env.pool().await;
    let q = "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1";
    let before: Vec<String> = sqlx::query_scalar(q).fetch_all(&pool).await.unwrap();
    let fq =
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
              FROM pg_constraint WHERE contype IN ('f', 'p', 'u') AND convalidated AND connamespace = 'public'::regnamespace ORDER BY 1";
    let fks_before: Vec<String> = sqlx::query_scalar(fq).fetch_all(&pool).await.unwrap();
    let out = env
        .command()
        .args(BASE)
        .args(["--clinics", "1", "--defer-indexes", "--defer-foreign-keys"])
        .checked_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("dropped") && stderr.contains("rebuilt"),
        "{stderr}"
    );
    let after: Vec<String> = sqlx::query_scalar(q).fetch_all(&pool).await.unwrap();
    // A rebuilt partial index's predicate may deparse differently (casts regrouped) while
    // meaning the same; names, columns and the presence of a predicate must match.
    let shape = |v: &[String]| -> Vec<(String, bool)> {
        v.iter()
            .map(|d| match d.split_once(" WHERE ") {
                Some((head, _)) => (head.to_string(), true),
                None => (d.clone(), false),
            })
            .collect()
    };
    assert_eq!(shape(&before), shape(&after));
    assert!(before.len() >= 40, "{before:?}");
    let fks_after: Vec<String> = sqlx::query_scalar(fq).fetch_all(&pool).await.unwrap();
    assert!(fks_before.len() >= 20, "{fks_before:?}");
    assert_eq!(
        fks_before, fks_after,
        "every foreign key, primary key and unique constraint re-added and validated"
    );
    let analyzed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'patients' AND last_analyze IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(analyzed, 1, "ANALYZE ran after the load");
}

#[tokio::test]
async fn plan_touches_nothing_and_bad_parameters_are_refused() {
    // --plan needs no server at all.
    let out = std::process::Command::new(TestEnv::bin())
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
        .args(BASE)
        .args(["--clinics", "3", "--plan"])
        .checked_output()
        .unwrap();
    let stdout = ok(out);
    assert!(stdout.contains("fingerprint"), "{stdout}");

    let out = std::process::Command::new(TestEnv::bin())
        .args(BASE)
        .args(["--voice-share", "1.5", "--plan"])
        .checked_output()
        .unwrap();
    let err = refused(out);
    assert!(err.contains("--voice-share"), "{err}");

    let out = std::process::Command::new(TestEnv::bin())
        .args(BASE)
        .args(["--shard", "2/2", "--plan"])
        .checked_output()
        .unwrap();
    let err = refused(out);
    assert!(err.contains("invalid shard"), "{err}");

    let out = std::process::Command::new(TestEnv::bin())
        .args(BASE)
        .args(["--memory-budget", "0", "--plan"])
        .checked_output()
        .unwrap();
    let err = refused(out);
    assert!(err.contains("--memory-budget"), "{err}");

    // An unreachable server is named, without its password.
    let out = std::process::Command::new(TestEnv::bin())
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .args(BASE)
        .checked_output()
        .unwrap();
    let err = refused(out);
    assert!(
        err.contains("cannot connect to PostgreSQL") && !err.contains("secret"),
        "{err}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_cleanly_and_the_rerun_completes() {
    let env = TestEnv::migrated("seed_sigint").await;
    let args = ["--clinics", "4", "--threads", "1"];
    let mut child = env
        .command()
        .args(BASE)
        .args(args)
        .args(["--pause-after-clinic-ms", "1500"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pool = env.pool().await;
    wait_for_first_clinic(&pool, &mut child).await;
    common::signal(&child, "INT");
    let out = child.checked_wait().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("interrupted") && stdout.contains("re-run the same command"),
        "{stdout}"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(n < 4, "stopped early, {n} clinics complete");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, n * 5, "only complete clinics are visible");
    ok(seed(&env, &args));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn mongo_writes_are_idempotent_and_repair_half_uploads() {
    use clinicload::seed::mongo_sink::{self, ClinicDocs};
    let env = TestEnv::migrated("seed_mongo_idem").await;
    let (_c, db) = env.mongo().await;
    let mut shape = clinicload::generate::profile("tiny").unwrap();
    shape.patients = 20;
    shape.voice_share = 1.0;
    shape.voice_length_factor = 0.02;
    let params = clinicload::generate::SeedParams {
        seed: 3,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        clinics: 1,
        shape,
    };
    let data = clinicload::generate::generate_clinic(&params, 0);
    let docs = ClinicDocs::build(data);
    assert!(!docs.notes.is_empty() && !docs.recordings.is_empty());

    let first = mongo_sink::insert_idempotent(&db, "clinicalNotes", &docs.notes)
        .await
        .unwrap();
    assert_eq!(first, docs.notes.len() as u64);
    let again = mongo_sink::insert_idempotent(&db, "clinicalNotes", &docs.notes)
        .await
        .unwrap();
    assert_eq!(again, 0, "a re-run inserts nothing and does not fail");

    // A half-finished upload: one chunk of the first recording, no files document.
    let file_id = mongo_sink::gridfs_file_id(&docs.recordings[0].id);
    db.collection::<Document>("fs.chunks")
        .insert_one(doc! { "files_id": file_id, "n": 0, "data": mongodb::bson::Binary { subtype: mongodb::bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] } })
        .await
        .unwrap();
    let wav = clinicload::generate::audio::wav_bytes;
    let (files, bytes) = mongo_sink::upload_recordings(&db, &docs.recordings, wav)
        .await
        .unwrap();
    assert_eq!(files, docs.recordings.len() as u64);
    assert_eq!(bytes, docs.audio_bytes());
    let (files, _) = mongo_sink::upload_recordings(&db, &docs.recordings, wav)
        .await
        .unwrap();
    assert_eq!(files, 0, "existing files are skipped");
    let mut stream = db
        .gridfs_bucket(None)
        .open_download_stream(mongodb::bson::Bson::ObjectId(file_id))
        .await
        .unwrap();
    let mut got = Vec::new();
    futures::AsyncReadExt::read_to_end(&mut stream, &mut got)
        .await
        .unwrap();
    assert_eq!(
        got,
        wav(&docs.recordings[0]),
        "the stray chunk was replaced"
    );
}
