//! Resume verifies what it skips. When a GridFS upload's final fs.files insert is applied but
//! its reply is lost, the driver's cleanup deletes the file's chunks, and a resume that
//! skipped every existing fs.files document kept a file without audio. These tests damage
//! MongoDB the ways an interruption can and check that a re-run repairs it, and kill -9 and
//! restart a private FerretDB at many points of a seed (its own port and state directory, on
//! a private database of the shared PostgreSQL), re-running the same command each time: the
//! checksums must equal an uninterrupted seed's, every time.
mod common;
use common::prelude::*;

use std::process::Stdio;
use std::time::{Duration, Instant};

use clinicload::seed::checksum::{checksums, Checksum};
use clinicload::seed::mongo_sink::{self, ClinicDocs};
use common::ferret::{env_on, PrivateFerret};
use common::TestEnv;
use mongodb::bson::{doc, Document};

#[tokio::test]
async fn resume_rewrites_gridfs_files_without_their_chunks_and_differing_documents() {
    let env = TestEnv::migrated("resume_verify").await;
    let (_c, db) = env.mongo().await;
    let mut shape = clinicload::generate::profile("tiny").unwrap();
    shape.patients = 20;
    shape.voice_share = 1.0;
    shape.voice_length_factor = 0.05;
    let params = clinicload::generate::SeedParams {
        seed: 5,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        clinics: 1,
        shape,
    };
    let docs = ClinicDocs::build(clinicload::generate::generate_clinic(&params, 0));
    assert!(docs.recordings.len() >= 3 && !docs.notes.is_empty());
    let wav = clinicload::generate::audio::wav_bytes;
    mongo_sink::write_clinic(&db, &docs, wav).await.unwrap();
    let pool = env.pool().await;
    let before: Vec<Checksum> = checksums(&pool, &db).await.unwrap();

    let chunks = db.collection::<Document>("fs.chunks");
    // What the driver's cleanup leaves: fs.files present, every chunk gone.
    let lost = mongo_sink::gridfs_file_id(&docs.recordings[0].id);
    chunks.delete_many(doc! { "files_id": lost }).await.unwrap();
    // One chunk missing of another file.
    let partial = mongo_sink::gridfs_file_id(&docs.recordings[1].id);
    let n = chunks
        .count_documents(doc! { "files_id": partial })
        .await
        .unwrap();
    assert!(n >= 2, "recordings of 5% of a visit span several chunks");
    chunks
        .delete_one(doc! { "files_id": partial, "n": 1 })
        .await
        .unwrap();
    // A files document whose length is wrong.
    let wrong = mongo_sink::gridfs_file_id(&docs.recordings[2].id);
    db.collection::<Document>("fs.files")
        .update_one(doc! { "_id": wrong }, doc! { "$set": { "length": 7_i64 } })
        .await
        .unwrap();
    // A note and a voiceRecordings document that differ from what the generator writes.
    let notes = db.collection::<Document>("clinicalNotes");
    let first: Document = notes.find_one(doc! {}).await.unwrap().unwrap();
    notes
        .update_one(
            doc! { "_id": first.get_str("_id").unwrap() },
            doc! { "$set": { "status": "tampered" } },
        )
        .await
        .unwrap();
    db.collection::<Document>("voiceRecordings")
        .update_many(doc! {}, doc! { "$unset": { "sizeBytes": "" } })
        .await
        .unwrap();
    assert_ne!(checksums(&pool, &db).await.unwrap(), before);

    let (files, bytes) = mongo_sink::upload_recordings(&db, &docs.recordings, wav)
        .await
        .unwrap();
    assert_eq!(files, 3, "exactly the three damaged files are rewritten");
    assert!(bytes > 0);
    let fixed = mongo_sink::insert_idempotent(&db, "clinicalNotes", &docs.notes)
        .await
        .unwrap();
    assert_eq!(fixed, 1, "only the differing note is rewritten");
    let fixed = mongo_sink::insert_idempotent(&db, "voiceRecordings", &docs.voices)
        .await
        .unwrap();
    assert_eq!(fixed, docs.voices.len() as u64);
    assert_eq!(checksums(&pool, &db).await.unwrap(), before);
    // Every file reads back as its audio.
    let bucket = db.gridfs_bucket(None);
    for r in &docs.recordings {
        let mut got = Vec::new();
        let mut s = bucket
            .open_download_stream(mongodb::bson::Bson::ObjectId(mongo_sink::gridfs_file_id(
                &r.id,
            )))
            .await
            .unwrap();
        futures::AsyncReadExt::read_to_end(&mut s, &mut got)
            .await
            .unwrap();
        assert_eq!(got, wav(r));
    }
    // And a clean state is left alone.
    let (files, _) = mongo_sink::upload_recordings(&db, &docs.recordings, wav)
        .await
        .unwrap();
    assert_eq!(files, 0);
}

const SEED: [&str; 16] = [
    "seed",
    "--profile",
    "tiny",
    "--seed",
    "11",
    "--as-of",
    "2026-03-02",
    "--patients=40",
    "--clinics",
    "3",
    "--threads",
    "1",
    "--voice-share",
    "1",
    "--voice-length",
    "0.03",
];

async fn sums(env: &TestEnv) -> Vec<Checksum> {
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;
    let s = checksums(&pool, &db).await.unwrap();
    pool.close().await;
    s
}

#[tokio::test]
async fn killing_the_mongodb_server_anywhere_in_a_seed_loses_nothing() {
    let mut ferret = PrivateFerret::start("resume_kill").await;
    let clean = env_on(&ferret, "resume_clean").await;
    let t = Instant::now();
    let out = clean.command().args(SEED).checked_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = t.elapsed();
    let want = sums(&clean).await;
    let files = want.iter().find(|c| c.name == "fs.files").unwrap().rows;
    assert!(files >= 30, "the seed uploads many files ({files})");

    let points = 6;
    let mut failed_runs = 0;
    let mut killed_mid_seed = 0;
    let mut lost_mongo = 0;
    for k in 1..=points {
        let env = env_on(&ferret, &format!("resume_k{k}")).await;
        let child = env
            .command()
            .args(SEED)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Kill points spread over the seed, the restart after 0.3 to 1.3 s.
        tokio::time::sleep(took * k / (points + 1)).await;
        let mut child = child;
        if child.try_wait().unwrap().is_none() {
            killed_mid_seed += 1;
        }
        ferret.kill();
        tokio::time::sleep(Duration::from_millis(300 + 200 * u64::from(k % 6))).await;
        ferret.run();
        let first = child.checked_wait().unwrap();
        let stderr = String::from_utf8_lossy(&first.stderr).to_string();
        assert!(!stderr.contains("panicked"), "kill point {k}: {stderr}");
        if !first.status.success() {
            failed_runs += 1;
            assert!(
                stderr.contains("seed failed") && stderr.contains("re-run the same command"),
                "kill point {k}: {stderr}"
            );
            assert!(stderr.len() < 2_000, "kill point {k}: {stderr}");
            if stderr.contains("lost the connection to MongoDB at mongodb://127.0.0.1:") {
                lost_mongo += 1;
            }
        }
        // Re-run the same command until it succeeds (a re-run may itself meet the restart).
        let mut attempts = 0;
        loop {
            let out = env.command().args(SEED).checked_output().unwrap();
            if out.status.success() {
                break;
            }
            attempts += 1;
            assert!(
                attempts < 3,
                "kill point {k}: re-run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(sums(&env).await, want, "kill point {k} of {points}");
    }
    // A kill that lands between two MongoDB writes (the seed is busy with
    // PostgreSQL) is ridden out: the driver selects the restarted server for the
    // next write. So what must hold is that most kills landed while a seed ran,
    // and that some of them did break a seed, whose re-run then lost nothing.
    assert!(
        killed_mid_seed >= points / 2,
        "most kills must land while the seed runs ({killed_mid_seed} of {points} did)"
    );
    assert!(
        failed_runs >= 1,
        "a kill mid-seed must interrupt at least one seed ({killed_mid_seed} landed mid-seed)"
    );
    assert!(
        lost_mongo > 0,
        "a killed MongoDB server reads as a lost connection in at least one failed run"
    );
}
