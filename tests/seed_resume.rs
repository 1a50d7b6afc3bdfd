//! Resume verifies what it skips. When a GridFS upload's final fs.files insert is applied but
//! its reply is lost, the driver's cleanup deletes the file's chunks, and a resume that
//! skipped every existing fs.files document kept a file without audio. These tests damage
//! MongoDB the ways an interruption can and check that a re-run repairs it, and kill -9 and
//! restart a private FerretDB at many points of a seed (its own port and state directory, on
//! a private database of the shared PostgreSQL), re-running the same command each time: the
//! checksums must equal an uninterrupted seed's, every time.
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clinicload::seed::checksum::{checksums, Checksum};
use clinicload::seed::mongo_sink::{self, ClinicDocs};
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

/// A FerretDB of this test alone: its own port, debug port and state directory, backed by a
/// private database on the shared PostgreSQL. Killed and removed on drop.
struct PrivateFerret {
    bin: PathBuf,
    state: PathBuf,
    port: u16,
    debug_port: u16,
    pg_url: String,
    pg_db: String,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The FerretDB that `scripts/stack up` builds: `$CLINICLOAD_STACK_DIR/bin/ferretdb`, by
/// default `.stack/bin/ferretdb` at the repository root (scripts/test runs `stack up` first).
fn ferretdb_bin() -> PathBuf {
    let stack = std::env::var_os("CLINICLOAD_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".stack"));
    let bin = stack.join("bin/ferretdb");
    assert!(
        bin.exists(),
        "{} not found: run scripts/stack up (it builds FerretDB), or set CLINICLOAD_STACK_DIR \
         to the stack directory that has bin/ferretdb",
        bin.display()
    );
    bin
}

impl PrivateFerret {
    async fn start(label: &str) -> PrivateFerret {
        let base = common::base_targets();
        let pg_db = format!("t_{label}_ferret_{}", std::process::id());
        let mut admin_url = url::Url::parse(&base.database_url).unwrap();
        admin_url.set_path("/postgres");
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url.as_str())
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {pg_db}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut pg_url = url::Url::parse(&base.database_url).unwrap();
        pg_url.set_path(&format!("/{pg_db}"));
        let state = std::env::temp_dir().join(format!("clinicload-{pg_db}"));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).unwrap();
        let mut f = PrivateFerret {
            bin: ferretdb_bin(),
            state,
            port: free_port(),
            debug_port: free_port(),
            pg_url: pg_url.to_string(),
            pg_db,
            child: None,
        };
        f.run();
        f
    }

    fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (as scripts/stack does) and waits until it accepts connections.
    fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("ferretdb.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .env("FERRETDB_POSTGRESQL_URL", &self.pg_url)
            .arg("--handler=postgresql")
            .arg(format!("--listen-addr=127.0.0.1:{}", self.port))
            .arg(format!("--debug-addr=127.0.0.1:{}", self.debug_port))
            .arg(format!("--state-dir={}", self.state.display()))
            .args(["--telemetry=disable", "--log-level=warn"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private FerretDB did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kill -9 of the server process.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateFerret {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.state);
        let url = self
            .pg_url
            .replace(&format!("/{}", self.pg_db), "/postgres");
        let db = self.pg_db.clone();
        // Best effort, outside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            })
        })
        .join();
    }
}

/// A test database pair whose MongoDB side is the private FerretDB.
async fn env_on(ferret: &PrivateFerret, label: &str) -> TestEnv {
    let mut env = TestEnv::new(label).await;
    env.targets.mongodb_uri = ferret.uri();
    let pool = env.pool().await;
    clinicload::schema::postgres::migrate(&pool).await.unwrap();
    pool.close().await;
    let (_c, db) = env.mongo().await;
    db.drop().await.unwrap();
    clinicload::schema::mongo::apply(&db).await.unwrap();
    env
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
    let out = clean.command().args(SEED).output().unwrap();
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
        let first = child.wait_with_output().unwrap();
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
            let out = env.command().args(SEED).output().unwrap();
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
