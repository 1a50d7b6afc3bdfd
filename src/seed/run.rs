//! The load pipeline: generator threads turn clinic indices into ready-to-send batches
//! (COPY streams and BSON documents), a bounded channel hands them to async writers, and
//! each writer stores one clinic at a time: MongoDB and GridFS first (idempotent), then one
//! PostgreSQL transaction with the clinic's ten COPYs and its `seeded_clinics` row.
//!
//! Why this shape: generation and encoding are CPU work and run on all cores in parallel with
//! the I/O; a memory budget in bytes (`--memory-budget`) caps the encoded clinics waiting for
//! or held by a writer, so memory stays flat whatever `--clinics` is and whatever the size of
//! a clinic (a profile with bigger clinics keeps fewer of them in flight); and a clinic is
//! either committed whole (visible, recorded) or rolled back (absent, redone by a re-run),
//! whatever interrupts it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use mongodb::Database;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{mpsc, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::generate::{generate_clinic, generate_clinic_tables, SeedParams};
use crate::model::VoiceRecording;
use crate::schema::mongo::{CLINICAL_NOTES, VOICE_RECORDINGS};
use crate::seed::failure::{self, Clinic};
use crate::seed::mongo_sink::{self, ClinicDocs};
use crate::seed::pg_copy::{self, TableCopy};
use crate::seed::progress::{Progress, Stats};

/// One clinic, generated and encoded, waiting for a writer.
pub struct Prepared {
    pub index: u32,
    pub tables: Vec<TableCopy>,
    pub docs: ClinicDocs,
}

impl Prepared {
    /// Bytes the encoded clinic holds: its COPY streams and its BSON documents (the audio is
    /// rendered while uploading, one recording at a time).
    pub fn bytes(&self) -> u64 {
        let tables: u64 = self.tables.iter().map(|t| t.payload_bytes()).sum();
        tables + self.docs.note_bytes() + self.docs.voice_bytes()
    }
}

/// Generates and encodes one clinic (pure CPU work); MongoDB documents only if they will be
/// written.
pub fn prepare(params: &SeedParams, index: u32, with_docs: bool) -> Prepared {
    let data = if with_docs {
        generate_clinic(params, index)
    } else {
        generate_clinic_tables(params, index)
    };
    let tables = pg_copy::encode_clinic(&data);
    Prepared {
        index,
        tables,
        docs: ClinicDocs::build(data),
    }
}

/// How the pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Complete,
    Interrupted,
}

/// Knobs of the pipeline.
pub struct Pipeline {
    pub threads: usize,
    pub writers: usize,
    pub fingerprint: String,
    pub wav: fn(&VoiceRecording) -> Vec<u8>,
    pub pause_after_clinic: Duration,
    /// Test hook: the generator panics on this clinic.
    pub panic_in_clinic: Option<u32>,
    /// Skip MongoDB and GridFS (benchmarks of PostgreSQL ingest).
    pub postgres_only: bool,
    /// Bytes of encoded clinics in flight (queued or being written); a clinic larger than
    /// the whole budget still goes, alone.
    pub memory_budget: u64,
    pub stats: Arc<Stats>,
    pub progress: Arc<Progress>,
    /// Set by Ctrl-C (or a failing writer): take no new clinic.
    pub stop: Arc<AtomicBool>,
}

/// Loads `work` (clinic indices) and returns whether it finished or was interrupted by
/// `stop` (Ctrl-C). Clinics already handed to a writer when `stop` is set are finished.
pub async fn load(
    pool: &PgPool,
    db: &Database,
    params: Arc<SeedParams>,
    work: Vec<u32>,
    cfg: &Pipeline,
) -> Result<Ended> {
    let stop = &cfg.stop;
    // The budget, in KiB permits: a generator takes its clinic's share before queueing it and
    // the writer gives it back when the clinic is stored, so the queue needs no other bound.
    let budget_kib = (cfg.memory_budget / 1024).clamp(1, u32::MAX as u64) as u32;
    let budget = Arc::new(Semaphore::new(budget_kib as usize));
    let (tx, rx) = mpsc::unbounded_channel::<(Prepared, OwnedSemaphorePermit)>();
    let work = Arc::new(work);

    // A generator that panics (a bug: parameters are range-checked before anything starts)
    // records why and which clinic, and stops the pipeline.
    let generator_failed: Arc<std::sync::Mutex<Option<anyhow::Error>>> = Arc::default();
    let generators = spawn_generators(
        cfg,
        &params,
        &work,
        &tx,
        &budget,
        budget_kib,
        &generator_failed,
    )?;
    drop(tx);

    let rx = Arc::new(Mutex::new(rx));
    let writers = spawn_writers(cfg, pool, db, &rx);
    let first_error = first_writer_error(writers).await;
    // Writers are gone: the receiver is dropped and the budget closed, so blocked generators
    // wake up and exit.
    budget.close();
    drop(rx);
    for g in generators {
        let _ = tokio::task::spawn_blocking(move || g.join()).await;
    }
    let generator_failed = generator_failed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(e) = generator_failed.or(first_error) {
        return Err(e);
    }
    Ok(if stop.load(Ordering::Relaxed) {
        Ended::Interrupted
    } else {
        Ended::Complete
    })
}

/// The queue from generators to writers: an encoded clinic and its share of the budget.
type Queue = mpsc::UnboundedSender<(Prepared, OwnedSemaphorePermit)>;

/// Starts `cfg.threads` generator threads: each takes the next clinic of `work`, prepares
/// it, waits for its share of the budget and queues it, until the work or the writers end.
fn spawn_generators(
    cfg: &Pipeline,
    params: &Arc<SeedParams>,
    work: &Arc<Vec<u32>>,
    tx: &Queue,
    budget: &Arc<Semaphore>,
    budget_kib: u32,
    generator_failed: &Arc<std::sync::Mutex<Option<anyhow::Error>>>,
) -> Result<Vec<std::thread::JoinHandle<()>>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut generators = Vec::new();
    let with_docs = !cfg.postgres_only;
    let panic_in_clinic = cfg.panic_in_clinic;
    for t in 0..cfg.threads.max(1) {
        let (tx, work, next, stop, params, budget, failed) = (
            tx.clone(),
            work.clone(),
            next.clone(),
            cfg.stop.clone(),
            params.clone(),
            budget.clone(),
            generator_failed.clone(),
        );
        generators.push(
            std::thread::Builder::new()
                .name(format!("generate-{t}"))
                .spawn(move || loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = work.get(i) else { break };
                    let prepared =
                        match prepare_catching_panic(&params, index, with_docs, panic_in_clinic) {
                            Ok(p) => p,
                            Err(e) => {
                                failed
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .get_or_insert(e);
                                stop.store(true, Ordering::Relaxed);
                                break;
                            }
                        };
                    let kib = prepared.bytes().div_ceil(1024).clamp(1, budget_kib as u64) as u32;
                    // Closed when the writers are gone: nothing more to queue.
                    let Ok(permit) =
                        futures::executor::block_on(budget.clone().acquire_many_owned(kib))
                    else {
                        break;
                    };
                    if tx.send((prepared, permit)).is_err() {
                        break; // writers have stopped
                    }
                })
                .context("starting a generator thread")?,
        );
    }
    Ok(generators)
}

/// Prepares one clinic; a panic of the generator (or the `--panic-in-clinic` test hook)
/// becomes an error naming the clinic.
fn prepare_catching_panic(
    params: &SeedParams,
    index: u32,
    with_docs: bool,
    panic_in_clinic: Option<u32>,
) -> Result<Prepared> {
    let generated = crate::exit::catch_panic(|| {
        if panic_in_clinic == Some(index) {
            panic!("test hook --panic-in-clinic {index}");
        }
        prepare(params, index, with_docs)
    });
    generated.map_err(|why| {
        anyhow!(
            "generating the clinic failed ({why}); this is a bug in \
         clinicload's generator, please report it with the command \
         line"
        )
        .context(Clinic(index))
    })
}

/// Starts `cfg.writers` writer tasks: each stores one queued clinic at a time until the
/// queue is closed, `stop` is set, or a write fails (which sets `stop`).
fn spawn_writers(
    cfg: &Pipeline,
    pool: &PgPool,
    db: &Database,
    rx: &Arc<Mutex<mpsc::UnboundedReceiver<(Prepared, OwnedSemaphorePermit)>>>,
) -> tokio::task::JoinSet<Result<()>> {
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..cfg.writers.max(1) {
        let (rx, pool, db, stats, progress, stop) = (
            rx.clone(),
            pool.clone(),
            db.clone(),
            cfg.stats.clone(),
            cfg.progress.clone(),
            cfg.stop.clone(),
        );
        let fingerprint = cfg.fingerprint.clone();
        let wav = cfg.wav;
        let pause = cfg.pause_after_clinic;
        let postgres_only = cfg.postgres_only;
        writers.spawn(async move {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let item = rx.lock().await.recv().await;
                // The permit is held until the clinic is stored (or dropped on error).
                let Some((p, _permit)) = item else {
                    return Ok(());
                };
                let res =
                    write_clinic(&pool, &db, &p, &fingerprint, wav, postgres_only, &stats).await;
                if let Err(e) = res {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e.context(Clinic(p.index)));
                }
                stats.clinics_done.fetch_add(1, Ordering::Relaxed);
                progress.update(&stats);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        });
    }
    writers
}

/// Waits for every writer; returns the first error one ended with (or its task's failure).
async fn first_writer_error(
    mut writers: tokio::task::JoinSet<Result<()>>,
) -> Option<anyhow::Error> {
    let mut first_error: Option<anyhow::Error> = None;
    while let Some(joined) = writers.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(anyhow!("a writer task failed: {e}"));
            }
        }
    }
    first_error
}

/// Writes one clinic's MongoDB documents and GridFS audio (idempotent), counting them as
/// they go ([`Stats::written`]) and once stored.
async fn write_mongo(
    db: &Database,
    p: &Prepared,
    wav: fn(&VoiceRecording) -> Vec<u8>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let t = Instant::now();
    let s = stats.clone();
    let (files, audio_bytes) = mongo_sink::upload_recordings_with(
        db,
        &p.docs.recordings,
        wav,
        Arc::new(move |bytes| s.collection_written(2).add(0, bytes, Duration::ZERO)),
    )
    .await?;
    stats.collection(2).add(files, audio_bytes, t.elapsed());
    let t = Instant::now();
    mongo_sink::insert_idempotent_with(db, VOICE_RECORDINGS, &p.docs.voices, |n, b| {
        stats.collection_written(1).add(n, b, Duration::ZERO)
    })
    .await?;
    stats.collection(1).add(
        p.docs.voices.len() as u64,
        p.docs.voice_bytes(),
        t.elapsed(),
    );
    let t = Instant::now();
    mongo_sink::insert_idempotent_with(db, CLINICAL_NOTES, &p.docs.notes, |n, b| {
        stats.collection_written(0).add(n, b, Duration::ZERO)
    })
    .await?;
    stats
        .collection(0)
        .add(p.docs.notes.len() as u64, p.docs.note_bytes(), t.elapsed());
    Ok(())
}

/// Stores one clinic. MongoDB (unless `postgres_only`) and the PostgreSQL COPYs run at the
/// same time, but the PostgreSQL transaction commits only after MongoDB has everything, so a
/// clinic recorded as complete always has its documents; on any error the transaction rolls
/// back (dropped uncommitted) and the idempotent MongoDB writes are simply redone by a re-run.
pub async fn write_clinic(
    pool: &PgPool,
    db: &Database,
    p: &Prepared,
    fingerprint: &str,
    wav: fn(&VoiceRecording) -> Vec<u8>,
    postgres_only: bool,
    stats: &Arc<Stats>,
) -> Result<()> {
    let mongo = async {
        if postgres_only {
            Ok(())
        } else {
            write_mongo(db, p, wav, stats).await
        }
    };
    let pg = async {
        let mut counts = serde_json::Map::new();
        let mut tx = pool
            .begin()
            .await
            .map_err(|e| failure::pg(e, "opening the clinic's transaction"))?;
        let mut timings = Vec::with_capacity(p.tables.len());
        for (i, table) in p.tables.iter().enumerate() {
            let t = Instant::now();
            // Rows sent so far, in proportion to the bytes of the stream sent.
            let (mut sent, mut rows_shown) = (0u64, 0u64);
            let len = table.data.len().max(1) as u64;
            let n = pg_copy::copy_table_with(&mut tx, table, |bytes| {
                sent += bytes;
                let rows = table.rows * sent / len;
                stats
                    .table_written(i)
                    .add(rows - rows_shown, bytes, Duration::ZERO);
                rows_shown = rows;
            })
            .await?;
            // The stream's header and trailer carry no rows: count any rounding remainder.
            stats
                .table_written(i)
                .add(table.rows - rows_shown, 0, Duration::ZERO);
            timings.push(t.elapsed());
            counts.insert(table.table.to_string(), json!(n));
        }
        let inserted = sqlx::query(
            "INSERT INTO clinicload_meta.seeded_clinics (clinic_index, fingerprint, row_counts) \
             VALUES ($1, $2, $3) ON CONFLICT (clinic_index) DO NOTHING",
        )
        .bind(p.index as i32)
        .bind(fingerprint)
        .bind(serde_json::Value::Object(counts))
        .execute(&mut *tx)
        .await
        .map_err(|e| failure::pg(e, "recording the clinic in clinicload_meta.seeded_clinics"))?;
        if inserted.rows_affected() == 0 {
            // Unreachable in practice: its rows would have collided on their primary keys first.
            return Err(anyhow!(
                "another process committed this clinic at the same time; run each shard once"
            ));
        }
        Ok::<_, anyhow::Error>((tx, timings))
    };
    let (mongo, pg) = tokio::join!(mongo, pg);
    mongo?;
    let (tx, timings) = pg?;
    tx.commit()
        .await
        .map_err(|e| failure::pg(e, "committing the clinic's transaction"))?;
    for (i, (table, took)) in p.tables.iter().zip(timings).enumerate() {
        stats.table(i).add(table.rows, table.payload_bytes(), took);
    }
    Ok(())
}
