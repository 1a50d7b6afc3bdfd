//! `clinicload seed`: generated clinics flow into PostgreSQL (binary COPY), MongoDB
//! (unordered insert_many) and GridFS, a clinic at a time per writer, resumable and shardable.
//!
//! The clinic is the unit of everything: generation (a pure function of the parameters and
//! the clinic index), loading (one PostgreSQL transaction per clinic, MongoDB written first
//! and idempotently), resume (`clinicload_meta.seeded_clinics` says which clinics are done)
//! and sharding (`--shard i/n` takes the clinics whose index % n == i).
//!
//! Modules, one concern each: [`pg_copy`] encodes rows as COPY BINARY, [`mongo_sink`] writes
//! documents and audio, [`run`] is the pipeline, [`failure`] words its errors, [`safety`] decides whether and how the
//! target may be written, [`indexes`] defers secondary indexes, [`progress`] reports, and
//! [`checksum`] compares datasets.

pub mod checksum;
pub mod columns;
pub mod failure;
pub mod indexes;
pub mod mongo_sink;
pub mod pg_copy;
pub mod progress;
pub mod run;
pub mod safety;
pub mod scratch;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::config::{redact, Targets};
use crate::connect;
use crate::generate::{self, ClinicShape, SeedParams};
use crate::model::VoiceRecording;

/// What `clinicload seed` was asked to do (the command line's `SeedArgs`, as plain data).
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Named clinic shape: tiny (tests), small, medium or large
    pub profile: String,
    /// Number of clinics in the dataset
    pub clinics: u32,
    /// Random seed; equal seeds and parameters give byte-identical data
    pub seed: u64,
    /// The "today" the data is anchored at, YYYY-MM-DD [default: today]
    pub as_of: Option<chrono::NaiveDate>,

    /// Doctors per clinic [default: from the profile]
    pub doctors: Option<u32>,
    /// Nurses per clinic
    pub nurses: Option<u32>,
    /// Receptionists per clinic
    pub receptionists: Option<u32>,
    /// Admins per clinic
    pub admins: Option<u32>,
    /// Patients per clinic
    pub patients: Option<u32>,
    /// Days of history before the as-of date
    pub history_days: Option<u32>,
    /// Days of bookings after the as-of date
    pub future_days: Option<u32>,
    /// Multiplier on the length of note texts (1.0 = typical)
    pub note_length: Option<f64>,
    /// Share of encounters with a voice recording, 0..1
    pub voice_share: Option<f64>,
    /// Recording length as a share of the visit's length, 0..1
    pub voice_length: Option<f64>,

    /// Print the rows and bytes per table and collection that would be written; touch nothing
    pub plan: bool,
    /// Generator threads, 1 to 256 [default: all cores]
    pub threads: Option<u16>,
    /// Write only clinics with index % n == i (i/n)
    pub shard: Option<Shard>,
    /// Shard count, with this shard's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    pub shards: Option<u32>,
    /// Add the dataset to a database that already holds other data
    pub append: bool,
    /// Empty clinicload's tables and collections first (only in a database prepared by
    /// `clinicload migrate`, unless --force)
    pub reset: bool,
    /// With --reset: also in a database that `clinicload migrate` did not prepare
    pub force: bool,
    /// Drop secondary indexes before loading into empty tables, rebuild them after, then ANALYZE
    pub defer_indexes: bool,
    /// Drop the foreign keys before loading into empty tables and re-add them after, which
    /// validates every row at once instead of one lookup per row; then ANALYZE. With
    /// --defer-indexes, primary keys and unique constraints are deferred too
    pub defer_foreign_keys: bool,
    /// Write only the PostgreSQL tables, no MongoDB documents or GridFS audio: for measuring
    /// PostgreSQL ingest alone. Recorded under its own fingerprint (suffix +postgres-only)
    pub postgres_only: bool,
    /// Memory for generated clinics waiting for, or being written by, a writer (MB); generator
    /// threads wait when it is used up. Peak memory is about this plus one clinic per
    /// generator thread, whatever the profile and --clinics
    pub memory_budget: u64,
    /// Test hook: pause this many milliseconds after each committed clinic
    pub pause_after_clinic_ms: u64,
    /// Test hook: the generator panics on this clinic (how a generator bug must be reported)
    pub panic_in_clinic: Option<u32>,
}

/// `--shard i/n`: this process writes the clinics whose index % n == i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {s:?}: expected i/n with 0 <= i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The dataset parameters: the profile, then each override given on the command line.
pub fn resolve_params(args: &SeedOptions) -> Result<SeedParams> {
    let Some(mut shape): Option<ClinicShape> = generate::profile(&args.profile) else {
        bail!(
            "unknown profile {:?}; choose one of {}",
            args.profile,
            generate::PROFILES.join(", ")
        );
    };
    macro_rules! set {
        ($($field:ident <- $arg:ident),*) => {
            $(if let Some(v) = args.$arg { shape.$field = v; })*
        };
    }
    set!(doctors <- doctors, nurses <- nurses, receptionists <- receptionists, admins <- admins,
         patients <- patients, history_days <- history_days, future_days <- future_days,
         note_length <- note_length, voice_share <- voice_share,
         voice_length_factor <- voice_length);
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let params = SeedParams {
        seed: args.seed,
        as_of,
        clinics: args.clinics,
        shape,
    };
    generate::plan::check_bounds(&params).map_err(anyhow::Error::msg)?;
    Ok(params)
}

/// The clinics this process writes: all of them, or its shard's share.
pub fn shard_clinics(params: &SeedParams, args: &SeedOptions) -> Vec<u32> {
    (0..params.clinics)
        .filter(|i| args.shard.map_or(true, |s| i % s.count == s.index))
        .collect()
}

/// The audio of a voice recording.
fn wav(v: &VoiceRecording) -> Vec<u8> {
    generate::audio::wav_bytes(v)
}

/// Installs the Ctrl-C / SIGTERM handler: the first signal asks the pipeline to stop after
/// the clinics in flight, the second exits at once (open transactions roll back).
fn install_stop_handler(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        for round in 0.. {
            #[cfg(unix)]
            {
                let term_recv = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term_recv => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            if round == 0 {
                stop.store(true, Ordering::Relaxed);
                eprintln!(
                    "\nstopping: finishing the clinics in flight (interrupt again to quit at once; \
                     unfinished clinics roll back and a re-run redoes them)"
                );
            } else {
                eprintln!("\nquitting; re-run the same command to resume");
                std::process::exit(130);
            }
        }
    });
}

/// The target schema against the columns the seed writes (`columns`): refused (exit 2)
/// before anything is written when a column it does not know must be filled; each column
/// it leaves at NULL or its default, and each table it leaves empty, named in a warning.
async fn check_columns(pool: &sqlx::PgPool) -> Result<()> {
    let found = columns::discover(pool).await?;
    if let Some(refusal) = found.refusal() {
        return Err(crate::exit::UsageError(refusal).into());
    }
    for w in found.warnings() {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// `clinicload seed`.
pub async fn seed_command(targets: &Targets, args: &SeedOptions) -> Result<ExitCode> {
    seed(targets, args)
        .await
        .map_err(|e| failure::reword(e, targets))
}

async fn seed(targets: &Targets, args: &SeedOptions) -> Result<ExitCode> {
    use crate::restore::lock;
    let params = resolve_params(args)?;
    let fingerprint = dataset_fingerprint(&params, args);
    let mine = shard_clinics(&params, args);
    if args.plan {
        print_plan(&params, args, &mine);
        return Ok(ExitCode::SUCCESS);
    }
    let threads = args
        .threads
        .map_or_else(num_cpus::get, usize::from)
        .clamp(1, 256);
    // Twice the cores: while one writer waits on a round trip, another keeps the server busy.
    let writers = (threads * 2).clamp(2, 8);
    // Shards of one seed work side by side; any other command on the dataset is refused.
    let hold = match args.shard {
        Some(_) => lock::Hold::Shared(lock::Job::SeedShards),
        None => lock::Hold::Exclusive,
    };
    let _lock = lock::take(targets, hold, "seed").await?;
    let pool = connect::postgres(targets, writers as u32 + 1).await?;
    check_columns(&pool).await?;
    let (_client, db) = connect::mongo(targets).await?;

    // A run that was killed left its writes: undo them first, so an appended seed (or the
    // dataset a reset empties) is the seeded one, and no undo record outlives its rows.
    crate::restore::restore_pending(targets, &pool).await?;
    crate::restore::index_changes::undo_where(&pool, None).await?;
    let (state, start) = decide_start(targets, args, &pool, &db, &params, &fingerprint).await?;
    safety::record_dataset(&pool, &params, &fingerprint, start == safety::Start::Append).await?;
    let done = safety::seeded_clinics(&pool, &fingerprint).await?;
    let work: Vec<u32> = mine
        .iter()
        .copied()
        .filter(|i| done.binary_search(i).is_err())
        .collect();

    if args.defer_indexes || args.defer_foreign_keys {
        defer_constraints(&pool, args, &start, &state).await?;
    }

    announce(args, &params, &fingerprint, mine.len(), work.len());
    let already = (mine.len() - work.len()) as u64;
    let stats = Arc::new(progress::Stats::new(mine.len() as u64));
    stats.clinics_done.store(already, Ordering::Relaxed);
    let progress = Arc::new(progress::Progress::new(
        &stats,
        already,
        &params,
        mine.len(),
    ));
    let cfg = pipeline(args, (threads, writers), &fingerprint, &stats, &progress);
    let ticker = progress::spawn_ticker(progress.clone(), stats.clone());
    let ended = run::load(&pool, &db, Arc::new(params.clone()), work, &cfg).await;
    ticker.abort();
    progress.finish();
    let ended = match ended {
        Ok(e) => e,
        Err(e) => {
            let complete = stats.clinics_done.load(Ordering::Relaxed);
            bail!("{}", failure::report(&e, targets, complete, mine.len()));
        }
    };
    let complete = stats.clinics_done.load(Ordering::Relaxed);
    if ended == run::Ended::Complete && complete < mine.len() as u64 {
        let missing = missing_clinics(&pool, &fingerprint, &mine).await?;
        bail!(
            "seed failed: only {complete} of {} clinics are complete, clinic(s) {} are missing \
             although no error was reported; re-run the same command to write them",
            mine.len(),
            missing.join(", ")
        );
    }
    if ended == run::Ended::Interrupted {
        report_interrupted(&pool, &stats, complete, mine.len(), &fingerprint).await?;
        return Ok(ExitCode::from(130));
    }

    finish_dataset(&pool, &params).await?;
    print!("{}", stats.summary());
    println!(
        "done: {complete} clinics{}; dataset fingerprint {fingerprint}",
        args.shard
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// The dataset's fingerprint. A PostgreSQL-only load is a different (partial) dataset: its
/// own fingerprint keeps a normal seed from resuming it as if its documents were there.
fn dataset_fingerprint(params: &SeedParams, args: &SeedOptions) -> String {
    if args.postgres_only {
        format!("{}+postgres-only", generate::fingerprint(params))
    } else {
        generate::fingerprint(params)
    }
}

/// `--plan`: prints the dataset's plan (and this shard's share of it) and writes nothing.
fn print_plan(params: &SeedParams, args: &SeedOptions, mine: &[u32]) {
    println!("{}", generate::plan(params));
    if let Some(s) = args.shard {
        println!(
            "shard {s}: {} of {} clinics (the plan above is for the whole dataset)",
            mine.len(),
            params.clinics
        );
    }
}

/// Reads the stores (emptying them first with `--reset`) and decides how the seed starts;
/// a dataset whose seed never committed a clinic is cleared and replaced.
async fn decide_start(
    targets: &Targets,
    args: &SeedOptions,
    pool: &sqlx::PgPool,
    db: &mongodb::Database,
    params: &SeedParams,
    fingerprint: &str,
) -> Result<(safety::DbState, safety::Start)> {
    let mut state = safety::inspect(pool, db).await?;
    if args.reset {
        safety::reset(pool, db, &state, args.force, targets).await?;
        eprintln!(
            "reset: emptied the Dr. Assistant tables and MongoDB collections of {} / {}",
            redact(&targets.database_url),
            db.name()
        );
        state = safety::inspect(pool, db).await?;
    }
    let mut start = safety::decide(&state, params, fingerprint, args.append, targets)?;
    if start == safety::Start::Replace {
        let old = state
            .dataset
            .as_ref()
            .map_or("?", |d| d.fingerprint.as_str());
        eprintln!(
            "replacing dataset {old}: none of its clinics was ever committed (its seed failed), \
             so its documents are removed and this dataset is recorded instead"
        );
        safety::clear_abandoned(pool, db).await?;
        state = safety::inspect(pool, db).await?;
        start = safety::decide(&state, params, fingerprint, args.append, targets)?;
    }
    Ok((state, start))
}

/// `--defer-indexes` / `--defer-foreign-keys`: drops them before a load into empty tables
/// (unless an earlier run left them dropped); otherwise says why they stay.
async fn defer_constraints(
    pool: &sqlx::PgPool,
    args: &SeedOptions,
    start: &safety::Start,
    state: &safety::DbState,
) -> Result<()> {
    let pending = indexes::pending(pool).await?.len();
    if pending > 0 {
        eprintln!(
            "defer: {pending} indexes/foreign keys are still dropped from an earlier run; \
             they are rebuilt after the load"
        );
    } else if *start == safety::Start::Fresh && state.non_empty.is_empty() {
        let (ix, fk) =
            indexes::drop_deferred(pool, args.defer_indexes, args.defer_foreign_keys).await?;
        eprintln!(
            "defer: dropped {ix} secondary indexes and {fk} foreign keys; they are rebuilt \
             (and the foreign keys validated) after the load"
        );
    } else {
        eprintln!(
            "defer: ignored, the tables are not empty (it applies to a load into empty \
             tables); loading with indexes and foreign keys in place"
        );
    }
    Ok(())
}

/// Says what is seeded (and this shard's share), and how much an earlier run already did.
fn announce(args: &SeedOptions, params: &SeedParams, fingerprint: &str, mine: usize, work: usize) {
    println!(
        "seeding dataset {fingerprint}: profile {}, {} clinics, seed {}, as-of {}{}",
        args.profile,
        params.clinics,
        params.seed,
        params.as_of,
        args.shard
            .map(|s| format!(", shard {s} ({mine} clinics)"))
            .unwrap_or_default()
    );
    let already = (mine - work) as u64;
    if already > 0 {
        println!("resuming: {already} of {mine} clinics already complete, {work} to write");
    }
}

/// The pipeline's knobs from the command line, with a stop flag set by the first Ctrl-C or
/// SIGTERM (its handler installed here).
fn pipeline(
    args: &SeedOptions,
    (threads, writers): (usize, usize),
    fingerprint: &str,
    stats: &Arc<progress::Stats>,
    progress: &Arc<progress::Progress>,
) -> run::Pipeline {
    let stop = Arc::new(AtomicBool::new(false));
    install_stop_handler(stop.clone());
    run::Pipeline {
        threads,
        writers,
        fingerprint: fingerprint.to_string(),
        wav,
        pause_after_clinic: Duration::from_millis(args.pause_after_clinic_ms),
        panic_in_clinic: args.panic_in_clinic,
        postgres_only: args.postgres_only,
        memory_budget: args.memory_budget * 1_000_000,
        stats: stats.clone(),
        progress: progress.clone(),
        stop,
    }
}

/// Up to ten of this process's clinics that are not recorded as seeded.
async fn missing_clinics(
    pool: &sqlx::PgPool,
    fingerprint: &str,
    mine: &[u32],
) -> Result<Vec<String>> {
    let done = safety::seeded_clinics(pool, fingerprint).await?;
    Ok(mine
        .iter()
        .filter(|i| done.binary_search(i).is_err())
        .take(10)
        .map(u32::to_string)
        .collect())
}

/// After a stop: the statistics, how far the seed got, how to resume, and whether deferred
/// indexes are still dropped.
async fn report_interrupted(
    pool: &sqlx::PgPool,
    stats: &progress::Stats,
    complete: u64,
    mine: usize,
    fingerprint: &str,
) -> Result<()> {
    print!("{}", stats.summary());
    println!(
        "interrupted: {complete} of {mine} clinics are complete (committed in both stores); \
         re-run the same command to resume. Dataset fingerprint: {fingerprint}"
    );
    if !indexes::pending(pool).await?.is_empty() {
        println!(
            "secondary indexes are still dropped (--defer-indexes); the run that completes the \
             dataset rebuilds them"
        );
    }
    Ok(())
}

/// The dataset is complete when every shard's clinics are in: then rebuild deferred
/// indexes and refresh statistics once.
async fn finish_dataset(pool: &sqlx::PgPool, params: &SeedParams) -> Result<()> {
    let all_done: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(pool)
        .await?;
    if all_done as u64 == params.clinics as u64 {
        let t = std::time::Instant::now();
        let rebuilt = indexes::rebuild(pool).await?;
        indexes::vacuum_analyze(pool).await?;
        if rebuilt > 0 {
            eprintln!(
                "rebuilt {rebuilt} deferred indexes/foreign keys and vacuumed in {:.1}s",
                t.elapsed().as_secs_f64()
            );
        }
    } else if !indexes::pending(pool).await?.is_empty() {
        eprintln!(
            "secondary indexes stay dropped until the last shard completes ({all_done} of {} clinics in)",
            params.clinics
        );
    }
    Ok(())
}
