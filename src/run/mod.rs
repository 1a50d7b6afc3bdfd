//! `clinicload run`: one scenario run with everything around it. The scenario engine
//! (`crate::scenario`) runs the load; this module takes the dataset lock, undoes what a
//! killed run left, checks the plans the scenario expects (`crate::explain`), records what
//! the run will write so it can be restored (`crate::restore`), measures index usage
//! (`crate::indexes`) and the schedule cache (`crate::cache`), runs variants
//! ([`variants`], [`cache_run`]) and writes the report files (`crate::report`).
//!
//! The capabilities that repeat runs (gate, sweeps, the index A/B, distributed workers) call
//! [`run_scenario`] and build their own sections around it.

pub mod cache_run;
pub mod variants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{redact, Targets};
use crate::connect;
use crate::metrics::{fmt_us, Recorder};
use crate::report::{self, hlog::HlogWriter};
use crate::scenario::ops::{self, OpKind, Store, Stores};
use crate::scenario::spec::{self, Load, Overrides, Scenario};
use crate::scenario::{catalog, open_stores, runner};

/// Options of `clinicload run` besides the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub overrides: Overrides,
    /// Directory that receives `<run-id>/` and the `latest` pointer.
    pub out: PathBuf,
    /// No live line (the final summary is still printed).
    pub quiet: bool,
    /// Print the whole summary.md at the end, not the one-screen summary.
    pub verbose: bool,
    /// Leave the run's writes in the dataset instead of restoring it afterwards.
    pub keep_writes: bool,
    /// Run even when the dataset cannot supply the write targets the run plans (writes past
    /// a used-up pool are no-ops).
    pub allow_short_pools: bool,
    /// Calibration only (`gate --inject-delay`): every successful operation of this name is
    /// held for this long more before it counts as done, a known slowdown to measure what
    /// the gate detects. Stated in the run's warnings.
    pub inject_delay: Option<(String, Duration)>,
    /// Runs per variant of a scenario with `[[variant]]`s, interleaved (A B B A ...); None:
    /// 1 for cache variants, enough for a verdict for index variants
    /// (`index_ab::default_repeats`).
    pub repeats: Option<usize>,
    /// A distributed worker's common start (`--start-at`): it waits for it before the load.
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `run_scenario` produced.
#[derive(Debug)]
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: report::Summary,
    /// With variants: each variant's summary, in order (`summary` is the first); with
    /// repeats, the variant's median repeat.
    pub variants: Vec<(String, report::Summary)>,
    /// With repeated variants: every run's summary (the exit code counts them all).
    pub repeats: Vec<report::Summary>,
    /// With index variants: each variant's planned access paths (as it ran).
    pub paths: Vec<(String, Vec<crate::explain::OpPath>)>,
    /// Why the report files (or some of them) could not be written; the summaries above
    /// are then all there is, and `run` prints them and fails.
    pub write_error: Option<anyhow::Error>,
}

impl RunResult {
    /// The exit code of the run (`crate::exit`): interrupted, or operations failed beyond
    /// the scenario's `max_error_rate`, or a threshold failed, or 0; a report that could not be written is FAILURE.
    pub fn exit_code(&self) -> u8 {
        let all = std::iter::once(&self.summary)
            .chain(self.variants.iter().map(|(_, s)| s))
            .chain(&self.repeats);
        crate::scenario::summary::exit_code(all, self.write_error.is_some())
    }
}

/// Validates, runs and reports one scenario. Returns the report directory. A scenario with
/// several cache variants runs once per variant into `<run-id>/<variant>/`, and
/// `<run-id>/` receives the side-by-side comparison. The reports directory is checked for
/// writability and room before anything runs; a run that fails before its report removes
/// the directories it made.
pub async fn run_scenario(targets: &Targets, file: &Path, opts: &RunOptions) -> Result<RunResult> {
    use crate::restore::lock;
    let scenario = spec::load(file, &opts.overrides)?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating the reports directory {}", opts.out.display()))?;
    let needed = report::space_needed(
        scenario.ops.len(),
        scenario.duration + scenario.warmup,
        scenario.cache.len().max(scenario.variants.len()),
        opts.repeats,
    );
    report::check_writable(&opts.out, needed)?;
    // Held until the run has put the dataset back: what it finds pending is then a dead
    // process's, and no second clinicload undoes this one's work while it measures.
    let _lock = if scenario.uses(Store::Postgres) {
        let hold = match scenario.worker {
            Some(_) => lock::Hold::Shared(lock::Job::RunWorkers),
            None => lock::Hold::Exclusive,
        };
        Some(lock::take(targets, hold, &format!("run {}", scenario.name)).await?)
    } else {
        None
    };
    if scenario.uses(Store::Postgres) {
        // An index variant whose process died left its change: put the schema back first.
        crate::restore::index_changes::undo_pending(targets).await?;
    }
    // The plans first: a run whose queries do not use the indexes the scenario expects
    // would measure the wrong thing (exit 6, before anything is written).
    crate::explain::check_before_run(targets, &scenario).await?;
    let now = chrono::Utc::now();
    // The workers of one run share its start, and so the base of their run ids.
    if let (Some(w), true) = (scenario.worker, scenario.uses(Store::Postgres)) {
        // All workers' pools together must fit the server, or the last ones to connect fail
        // mid-run.
        crate::distributed::check_connections(targets, &scenario, w).await?;
    }
    let mut id = report::run_id(
        &scenario.name,
        match (scenario.worker, opts.start_at) {
            (Some(_), Some(t)) => t,
            _ => now,
        },
    );
    if let Some(w) = scenario.worker {
        // Workers of one run can share an output directory.
        id.push_str(&format!("-w{}of{}", w.index, w.count));
    }
    let (run_id, dir) = report::create_run_dir(&opts.out, &id)?;
    let result = run_into(targets, &scenario, &run_id, &dir, opts).await;
    if result.is_err() {
        // Only empty directories go: nothing a finished run wrote is removed.
        for v in &scenario.cache {
            let _ = std::fs::remove_dir(dir.join(&v.name));
        }
        let _ = std::fs::remove_dir(&dir);
    }
    result
}

async fn run_into(
    targets: &Targets,
    scenario: &Scenario,
    run_id: &str,
    dir: &Path,
    opts: &RunOptions,
) -> Result<RunResult> {
    if scenario.cache.len() > 1 || !scenario.variants.is_empty() {
        return variants::run_variants(targets, scenario, run_id, dir, opts).await;
    }
    let (summary, mut write_error) =
        run_in_dir(targets, scenario, scenario.cache.first(), run_id, dir, opts).await?;
    // Workers sharing an output directory would race for `latest`.
    if write_error.is_none() && scenario.worker.is_none() {
        write_error = report::point_latest(&opts.out, run_id).err();
    }
    Ok(RunResult {
        dir: dir.to_path_buf(),
        summary,
        variants: Vec::new(),
        repeats: Vec::new(),
        paths: Vec::new(),
        write_error,
    })
}

/// One run of `scenario` (under one cache variant, if any) reported into `dir`. Returns the
/// summary and, apart, why its files could not be written (the run itself succeeded).
pub(crate) async fn run_in_dir(
    targets: &Targets,
    scenario: &Scenario,
    cache_variant: Option<&crate::cache::variants::CacheVariant>,
    run_id: &str,
    dir: &Path,
    opts: &RunOptions,
) -> Result<(report::Summary, Option<anyhow::Error>)> {
    let mut ready = prepare(targets, scenario, cache_variant, opts).await?;
    let restoring = record_undo(run_id, scenario, cache_variant, opts, &mut ready).await?;
    let restore_stores = ready.stores.clone();
    let taken = ready.catalog.taken();
    let dataset = ready.catalog.dataset.clone();
    let worker_facts = worker_start(scenario, opts, &restore_stores, &mut ready.warnings).await?;
    let mut hlog = HlogWriter::create(
        &dir.join("latency.hlog"),
        std::time::SystemTime::now() + scenario.warmup,
        &[
            format!("clinicload {} run {run_id}", env!("CARGO_PKG_VERSION")),
            format!("scenario {} ({})", scenario.name, scenario.file.display()),
        ],
    )?;
    eprintln!(
        "running {}: {}, {:.1}s (+{} warm-up), {} operations -> {}",
        scenario.name,
        describe_load(&scenario.load),
        scenario.duration.as_secs_f64(),
        if scenario.warmup_auto {
            format!("auto, at most {:.0}s", scenario.warmup.as_secs_f64())
        } else {
            format!("{:.1}s", scenario.warmup.as_secs_f64())
        },
        scenario.ops.len(),
        dir.display()
    );
    // An automatic warm-up's end is not known in advance: the runner zeroes them then.
    if let (Some(rt), false) = (&ready.stores.cache, scenario.warmup_auto) {
        cache_run::reset_after_warmup(rt, scenario.warmup);
    }
    let before = measure_before(&ready.stores, &mut ready.warnings).await;
    let recorder = Arc::new(Recorder::new());
    let outcome = runner::run(
        scenario.clone(),
        ready.stores,
        ready.catalog,
        recorder.clone(),
        Some(&mut hlog),
        opts.quiet,
        ready.delay,
    )
    .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            hlog.discard();
            // Whatever happened to the run, its writes are in the dataset.
            if restoring {
                let (_, failed) = restore_dataset(targets, &restore_stores, &taken).await;
                if let Some(msg) = failed {
                    return Err(e.context(format!(
                        "the dataset was not restored after the run: {msg}. Run `clinicload restore` before the next run"
                    )));
                }
            }
            return Err(e);
        }
    };
    let mut warnings = ready.warnings;
    let after = measure_after(run_id, &restore_stores, &before, &mut warnings).await;
    let totals = recorder.totals();
    let mut summary = crate::scenario::summary::summarize(
        run_id,
        scenario,
        overrides_of(opts),
        &outcome,
        &totals,
        dataset,
        ready.servers,
        warnings,
    );
    // The cache's figures (Redis memory among them) are read before the restore removes
    // the run's keys.
    let cache_report = match ready.cache_setup {
        Some(setup) => Some(cache_run::report(setup, &summary).await),
        None => None,
    };
    let (restore_report, restore_failed) = if restoring {
        restore_dataset(targets, &restore_stores, &taken).await
    } else {
        (None, None)
    };
    summary.cache = cache_report
        .transpose()?
        .map(|r| crate::cache::report::section(&r));
    summary.run.wal_bytes = after.wal_bytes.map(|b| b.max(0.0) as u64);
    if let Some(r) = &after.indexes {
        summary.indexes = serde_json::to_value(r).ok();
        summary.sections = crate::indexes::sections(r);
        summary
            .files
            .insert("indexes_json".into(), "indexes.json".into());
    }
    summary.restore = restore_report;
    if let Some(f) = worker_facts {
        worker_record(dir, scenario, opts, &outcome, &totals, &mut summary, f);
    }
    record_restore(
        run_id,
        restoring,
        restore_failed,
        &restore_stores,
        &mut summary,
    )
    .await;
    // A failed restore is recorded in the summary (exit 8), not a reason to lose the report.
    let failed = write_files(dir, hlog, &summary, after.indexes.as_ref()).err();
    Ok((summary, failed))
}

/// A run's stores, sampled dataset and settings, ready for the load.
struct Ready {
    stores: Stores,
    servers: BTreeMap<String, String>,
    catalog: catalog::Catalog,
    cache_setup: Option<cache_run::CacheSetup>,
    warnings: Vec<String>,
    /// `--inject-delay`: the operation's index and the delay.
    delay: Option<(usize, Duration)>,
}

/// Opens the stores, undoes what a killed run left, samples the dataset, checks the write
/// pools and prepares Redis reads and the cache variant.
async fn prepare(
    targets: &Targets,
    scenario: &Scenario,
    cache_variant: Option<&crate::cache::variants::CacheVariant>,
    opts: &RunOptions,
) -> Result<Ready> {
    let (mut stores, servers) = open_stores(targets, scenario).await?;
    if let (Some(pool), None) = (stores.ledger(), scenario.worker) {
        // A run that was killed left its writes: undo them before drawing from the dataset.
        // (Not a distributed worker: the pending runs may be its fellow workers', running.)
        crate::restore::restore_pending(targets, pool).await?;
    }
    let catalog = catalog::Catalog::load(scenario, &stores).await?;
    check_pools(&catalog, &stores, opts).await?;
    for op in &scenario.ops {
        if op.def.kind == OpKind::RedisGet {
            let mut conn = stores.redis[0].clone();
            ops::redis::prepare(op, &mut conn).await?;
        }
    }
    let cache_setup = match cache_variant {
        Some(v) => Some(cache_run::prepare(targets, scenario, v, &mut stores, &catalog).await?),
        None => None,
    };
    let mut warnings = catalog.warnings.clone();
    let delay = opts.inject_delay.as_ref().and_then(|(name, d)| {
        let i = scenario.ops.iter().position(|o| o.name() == name)?;
        warnings.push(format!(
            "calibration: every successful {name} operation was delayed by {} on purpose (--inject-delay)",
            fmt_us(d.as_micros() as u64)
        ));
        Some((i, *d))
    });
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(Ready {
        stores,
        servers,
        catalog,
        cache_setup,
        warnings,
        delay,
    })
}

/// Records what the run may change so it can be put back; returns whether this process
/// restores the dataset after the run (not with `--keep-writes`, not as a distributed worker).
async fn record_undo(
    run_id: &str,
    scenario: &Scenario,
    cache_variant: Option<&crate::cache::variants::CacheVariant>,
    opts: &RunOptions,
    ready: &mut Ready,
) -> Result<bool> {
    let undo = undo_plan(
        run_id,
        scenario,
        &ready.catalog,
        &ready.stores,
        cache_variant,
    );
    let Some(pool) = ready
        .stores
        .ledger()
        .filter(|_| undo.writes() && !opts.keep_writes)
    else {
        if undo.writes() && opts.keep_writes {
            ready.warnings.push(
                "--keep-writes: the dataset keeps this run's writes; the next run starts from different data".into(),
            );
        }
        return Ok(false);
    };
    let fellows = scenario.worker.and_then(|_| {
        run_id
            .rsplit_once("-w")
            .map(|(base, _)| format!("{base}-w"))
    });
    crate::restore::record(pool, ready.stores.mongo.as_ref(), &undo, fellows.as_deref()).await?;
    if let Some(w) = scenario.worker {
        ready.warnings.push(format!(
            "worker {w}: this run's writes stay in the dataset until `clinicload restore` runs once after every worker has ended"
        ));
    }
    Ok(scenario.worker.is_none())
}

/// A distributed worker: its clock against the server's, then the common start.
async fn worker_start(
    scenario: &Scenario,
    opts: &RunOptions,
    stores: &Stores,
    warnings: &mut Vec<String>,
) -> Result<Option<report::WorkerFacts>> {
    let Some(w) = scenario.worker else {
        return Ok(None);
    };
    let clock = match &stores.pg {
        Some(pool) => crate::distributed::clock_check(pool).await.ok(),
        None => None,
    };
    let late_ms = match &opts.start_at {
        Some(t) => crate::distributed::wait_for_start(t).await?,
        None => 0.0,
    };
    if late_ms > 1000.0 {
        warnings.push(format!(
            "worker {w} reached the common start {:.1} s late: its measured window is not the others'",
            late_ms / 1000.0
        ));
    }
    Ok(Some(report::WorkerFacts {
        worker: w,
        start_at: opts.start_at.map(|t| t.to_rfc3339()),
        late_ms,
        clock,
        window_start_ms: 0.0,
    }))
}

/// What is read right before the load: index counters and the WAL position.
struct Before {
    indexes: Option<crate::indexes::usage::Snapshot>,
    wal_lsn: Option<String>,
}

/// Index counters right before the load (warm-up included), after the sampling's own scans
/// were flushed, and the WAL position.
async fn measure_before(stores: &Stores, warnings: &mut Vec<String>) -> Before {
    let indexes = match crate::indexes::usage::snapshot(
        stores.pg.as_ref(),
        stores.pg_conns.as_ref(),
        stores.mongo.as_ref(),
    )
    .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            warnings.push(format!("index usage was not measured: {e:#}"));
            None
        }
    };
    let wal_lsn = match &stores.pg {
        Some(pool) => sqlx::query_scalar::<_, String>("SELECT pg_current_wal_lsn()::text")
            .fetch_one(pool)
            .await
            .ok(),
        None => None,
    };
    Before { indexes, wal_lsn }
}

/// What is read right after the load: index usage and the WAL written.
struct After {
    indexes: Option<crate::indexes::IndexReport>,
    wal_bytes: Option<f64>,
}

/// Index usage and WAL bytes after the load, before the restore (which scans indexes of its
/// own).
async fn measure_after(
    run_id: &str,
    stores: &Stores,
    before: &Before,
    warnings: &mut Vec<String>,
) -> After {
    let indexes = match &before.indexes {
        Some(snapshot) => match index_after(run_id, stores, snapshot).await {
            Ok(r) => Some(r),
            Err(e) => {
                warnings.push(format!("index usage was not measured: {e:#}"));
                None
            }
        },
        None => None,
    };
    let wal_bytes = match (&stores.pg, &before.wal_lsn) {
        (Some(pool), Some(lsn)) => sqlx::query_scalar::<_, f64>(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8",
        )
        .bind(lsn)
        .fetch_one(pool)
        .await
        .ok(),
        _ => None,
    };
    After { indexes, wal_bytes }
}

/// The command-line overrides, as the summary records them.
fn overrides_of(opts: &RunOptions) -> BTreeMap<String, String> {
    let mut overrides = BTreeMap::new();
    if let Some(d) = opts.overrides.duration {
        overrides.insert("duration".into(), format!("{}s", d.as_secs_f64()));
    }
    if opts.overrides.warmup_auto {
        overrides.insert("warmup".into(), "auto".into());
    }
    if let Some(w) = opts.overrides.warmup {
        overrides.insert("warmup".into(), format!("{}s", w.as_secs_f64()));
    }
    if let Some(r) = opts.overrides.rate {
        overrides.insert("rate".into(), r.to_string());
    }
    if !opts.overrides.thresholds.is_empty() {
        overrides.insert("threshold".into(), opts.overrides.thresholds.join("; "));
    }
    overrides
}

/// A distributed worker's facts in the summary, and its worker.json (the merge's input)
/// written by `crate::distributed`.
fn worker_record(
    dir: &Path,
    scenario: &Scenario,
    opts: &RunOptions,
    outcome: &runner::RunOutcome,
    totals: &crate::metrics::Totals,
    summary: &mut report::Summary,
    mut facts: report::WorkerFacts,
) {
    facts.window_start_ms = crate::distributed::local_ms(outcome.measured_from)
        + facts.clock.map_or(0.0, |c| c.offset_ms);
    summary.worker = Some(facts);
    if let Err(e) = crate::distributed::merge::write_record(
        dir,
        scenario,
        &opts.overrides,
        outcome,
        totals,
        summary,
    ) {
        summary.warnings.push(format!(
            "worker.json (the merge's input) not written: {e:#}"
        ));
    }
}

/// Records in the summary whether the dataset was put back; a failure is also noted in the
/// undo log, so the next command says why the writes are still there.
async fn record_restore(
    run_id: &str,
    restoring: bool,
    failed: Option<String>,
    stores: &Stores,
    summary: &mut report::Summary,
) {
    summary.run.restore = match failed {
        Some(msg) => {
            if let Some(pool) = stores.ledger() {
                if let Err(e) = crate::restore::mark_failed(pool, run_id, &msg).await {
                    eprintln!("warning: {e:#}");
                }
            }
            summary.warnings.push(format!(
                "the dataset was not restored after the run: {msg}. Run `clinicload restore` before the next run"
            ));
            report::RestoreStatus::Failed {
                reason: msg,
                command: "clinicload restore".into(),
            }
        }
        None if restoring => report::RestoreStatus::Done,
        None => report::RestoreStatus::NotNeeded,
    };
}

/// Writes the interval log and the report files; both are attempted, whatever the other
/// did, and the first failure is returned.
fn write_files(
    dir: &Path,
    hlog: HlogWriter,
    summary: &report::Summary,
    indexes: Option<&crate::indexes::IndexReport>,
) -> Result<()> {
    let hlog_written = hlog.finish();
    let files_written = report::write_all(dir, summary).and_then(|_| match indexes {
        Some(r) => report::write_atomic(
            &dir.join("indexes.json"),
            format!("{}\n", serde_json::to_string_pretty(r)?).as_bytes(),
        ),
        None => Ok(()),
    });
    hlog_written.and(files_written)
}

/// The index report of a run whose load is over: flushes the load's connections, snapshots
/// and reads the catalog.
async fn index_after(
    run_id: &str,
    stores: &Stores,
    before: &crate::indexes::usage::Snapshot,
) -> Result<crate::indexes::IndexReport> {
    use crate::indexes::usage;
    let after = usage::snapshot(
        stores.pg.as_ref(),
        stores.pg_conns.as_ref(),
        stores.mongo.as_ref(),
    )
    .await?;
    usage::report(run_id, stores.pg.as_ref(), before, &after).await
}

/// Refuses a run whose write pools the dataset cannot fill (unless allowed), with what to
/// seed instead.
async fn check_pools(catalog: &catalog::Catalog, stores: &Stores, opts: &RunOptions) -> Result<()> {
    let short = catalog.shortfalls();
    if short.is_empty() {
        return Ok(());
    }
    let clinics: i64 = match &stores.pg {
        Some(pool) => sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
            .fetch_one(pool)
            .await
            .unwrap_or(0),
        None => 0,
    };
    let lines: Vec<String> = short
        .iter()
        .map(|(e, have, need)| {
            let advice = if clinics > 0 && *have > 0 {
                let per_clinic = *have as f64 / clinics as f64;
                format!(
                    " ({clinics} clinics seeded, about {per_clinic:.0} per clinic: seed at least {} clinics of the same profile)",
                    (*need as f64 / per_clinic).ceil()
                )
            } else {
                String::new()
            };
            format!(
                "the run plans {need} writes that each take one of the {}, and the dataset has {have}{advice}",
                e.describe()
            )
        })
        .collect();
    if opts.allow_short_pools {
        for l in &lines {
            eprintln!(
                "warning: {l}; --allow-short-pools: writes past the pool are counted as no-ops"
            );
        }
        return Ok(());
    }
    anyhow::bail!(
        "not enough fresh write targets: {}. Seed more, shorten the run or lower its rate, or pass \
         --allow-short-pools to run anyway (writes past the pool are no-ops, counted as such)",
        lines.join("; ")
    )
}

/// What the run may change, for the undo record: the write-target pools' rows and documents,
/// the tables its writes insert into, the Redis keys it writes.
fn undo_plan(
    run_id: &str,
    scenario: &Scenario,
    catalog: &catalog::Catalog,
    stores: &Stores,
    cache_variant: Option<&crate::cache::variants::CacheVariant>,
) -> crate::restore::UndoPlan {
    let mut plan = crate::restore::UndoPlan {
        run_id: run_id.to_string(),
        ..Default::default()
    };
    let writes: Vec<_> = scenario.ops.iter().filter(|o| o.def.write).collect();
    for op in &writes {
        plan.insert_tables.extend(op.def.inserts.iter().copied());
    }
    let (mut pg, mongo) = catalog.write_targets();
    if let Some(rt) = &stores.cache {
        pg.push(("appointments", rt.open_appointments.clone()));
    }
    if !writes.is_empty() {
        plan.pre_images = pg.into_iter().filter(|(_, ids)| !ids.is_empty()).collect();
        plan.mongo_pre_images = mongo
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
    }
    if let Some(v) = cache_variant {
        let prefix = &v.config.key_prefix;
        plan.redis_patterns.extend([
            crate::cache::keys::schedule_pattern(prefix),
            crate::cache::keys::lock_pattern(prefix),
            crate::cache::keys::gen_pattern(prefix),
        ]);
    }
    for op in &scenario.ops {
        if op.def.kind == OpKind::RedisGet {
            plan.redis_patterns.push(format!(
                "{}*",
                crate::cache::keys::escape_glob(op.text("prefix"))
            ));
        }
    }
    plan
}

/// Restores the dataset after a run, printing what it did; on failure, why.
async fn restore_dataset(
    targets: &Targets,
    stores: &Stores,
    taken: &catalog::Taken,
) -> (Option<crate::restore::RestoreReport>, Option<String>) {
    match restore_after(targets, stores, taken).await {
        Ok(r) => {
            if let Some(r) = &r {
                eprintln!("{}", r.describe());
            }
            (r, None)
        }
        Err(e) => (None, Some(redact(&format!("{e:#}")))),
    }
}

/// Restores the dataset with the run's own connections (MongoDB, Redis as the run used them).
async fn restore_after(
    targets: &Targets,
    stores: &Stores,
    taken: &catalog::Taken,
) -> Result<Option<crate::restore::RestoreReport>> {
    let Some(pool) = stores.ledger() else {
        return Ok(None);
    };
    let mut redis = match crate::restore::pending_needs_redis(pool).await? {
        true => Some(connect::redis(targets).await?),
        false => None,
    };
    // Draft notes are the one MongoDB pool; only those the run took can have changed.
    let documents_taken = std::collections::BTreeMap::from([(
        crate::schema::mongo::CLINICAL_NOTES,
        taken.get(catalog::Entity::DraftNote) as u64,
    )]);
    crate::restore::restore_all(
        pool,
        stores.mongo.as_ref(),
        redis.as_mut(),
        Some(&documents_taken),
    )
    .await
}

fn describe_load(load: &Load) -> String {
    match load {
        Load::Open { rate, ramp, .. } if !ramp.is_zero() => {
            format!(
                "open model, {rate} ops/s after a {:.0}s ramp",
                ramp.as_secs_f64()
            )
        }
        Load::Open { rate, .. } => format!("open model, {rate} ops/s"),
        Load::Closed { users, think_time } => format!(
            "closed model, {users} users, think time {:.0} ms",
            think_time.as_secs_f64() * 1000.0
        ),
    }
}

/// `clinicload run`: runs, prints the summary table and where the report is. The summary is
/// printed even when the report files could not be written; the exit code follows
/// `crate::exit`.
pub async fn run_command(targets: &Targets, file: &Path, opts: &RunOptions) -> Result<ExitCode> {
    let result = run_scenario(targets, file, opts).await?;
    print_summary(&result, opts.verbose);
    let code = result.exit_code();
    if let Some(e) = &result.write_error {
        eprintln!(
            "error: the report could not be written: {}; the summary above is all that is kept of this run{}",
            redact(&format!("{e:#}")),
            if out_of_space(e) {
                " (free space or give another directory with --out)"
            } else {
                ""
            }
        );
    } else {
        println!("report: {}", result.dir.join("report.html").display());
    }
    // Every failed threshold, whichever code wins (`result.summary` is the first variant's).
    let summaries: Vec<&report::Summary> = if result.variants.is_empty() {
        vec![&result.summary]
    } else {
        result.variants.iter().map(|(_, s)| s).collect()
    };
    for s in summaries {
        if let Some(line) = &s.run.aborted_by_threshold {
            eprintln!("error: abort_on_fail ended run {} early: {line}", s.run_id);
        }
        for v in s.thresholds.iter().filter(|v| !v.pass) {
            eprintln!(
                "error: threshold failed ({}, run {}): {}",
                v.source,
                s.run_id,
                v.line()
            );
        }
    }
    for s in std::iter::once(&result.summary).chain(result.variants.iter().map(|(_, s)| s)) {
        if let Some(line) = s.run.restore.failure_line() {
            eprintln!("error: run {}: {line}", s.run_id);
        }
    }
    if code == crate::exit::OPERATIONS_FAILED {
        let s = &result.summary;
        eprintln!(
            "error: {:.2}% of the measured arrivals failed, timed out, were missed or abandoned, above the scenario's max_error_rate of {}%",
            100.0 * s.run.error_rate,
            100.0 * s.run.max_error_rate
        );
    } else if code == crate::exit::INTERRUPTED {
        eprintln!("interrupted: the report covers the run up to the signal");
    }
    Ok(crate::exit::code(code))
}

/// The run's summary on stdout: one screen (`report::terminal`), or with `--verbose` the
/// whole summary.md as written.
fn print_summary(result: &RunResult, verbose: bool) {
    if !result.variants.is_empty() {
        // The side-by-side comparison of the variants, as written (with its verdicts).
        let md = std::fs::read_to_string(result.dir.join("summary.md")).unwrap_or_else(|_| {
            report::variants::markdown(
                &result.summary.run_id,
                &result.summary.scenario,
                &result.variants,
                &Default::default(),
            )
        });
        if verbose {
            println!("{}", md.trim_end());
        } else {
            println!("{}", report::terminal::fold_sections(&md).trim_end());
        }
    } else if verbose {
        let s = &result.summary;
        println!("{}", report::markdown::render(s).trim_end());
        println!();
        let a = &s.run.arrivals;
        println!(
            "{} model: {} intended, {}; overall p50 {} p99 {} (all arrivals: p99 {}) max {}",
            s.run.model,
            a.intended,
            a.buckets_line(),
            fmt_us(s.overall.stats.p50_us),
            fmt_us(s.overall.stats.p99_us),
            fmt_us(s.overall.p99_all_us),
            fmt_us(s.overall.stats.max_us)
        );
    } else {
        println!(
            "{}",
            report::terminal::run_summary(&result.summary).trim_end()
        );
    }
}

/// Whether writing failed for lack of room (ENOSPC or a quota, or an error that only kept
/// the OS's text), the one case where freeing space is the advice.
fn out_of_space(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        }) || cause.to_string().contains("No space left")
    })
}
