//! `clinicload run scenarios/NAME.toml`: the documented access patterns under a chosen load,
//! reported as latency histograms. Data flows one way: spec (validated file) -> connections
//! -> catalog (rows sampled from the dataset) -> runner (load model, recorder) -> report.
//!
//! This module is the orchestration; each stage lives in its own submodule.

pub mod cache_run;
pub mod catalog;
pub mod ops;
pub mod runner;
pub mod schedule;
pub mod spec;

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
use crate::schema;
use ops::{OpKind, Store, Stores};
use spec::{Load, Overrides, Scenario};

/// Options of `clinicload run` besides the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub overrides: Overrides,
    /// Directory that receives `<run-id>/` and the `latest` pointer.
    pub out: PathBuf,
    /// No live line (the final summary is still printed).
    pub quiet: bool,
    /// Leave the run's writes in the dataset instead of restoring it afterwards.
    pub keep_writes: bool,
    /// Run even when the dataset cannot supply the write targets the run plans (writes past
    /// a used-up pool are no-ops).
    pub allow_short_pools: bool,
}

/// Opens the stores the scenario uses, with its pool sizes, and reads their versions.
pub async fn open_stores(
    targets: &Targets,
    scenario: &Scenario,
) -> Result<(Stores, BTreeMap<String, String>)> {
    let mut stores = Stores::default();
    let mut versions = BTreeMap::new();
    if scenario.uses(Store::Postgres) {
        // A small sqlx pool for sampling the catalog; operations use `pg_conns`.
        let pool = connect::postgres_for_load(targets, 2).await?;
        versions.insert(
            "postgres".to_string(),
            schema::postgres::server_version(&pool).await?,
        );
        stores.pg_conns = Some(
            ops::postgres::PgConns::open(&targets.database_url, scenario.connections.postgres)
                .await
                .with_context(|| {
                    format!(
                        "connecting to PostgreSQL at {}",
                        redact(&targets.database_url)
                    )
                })?,
        );
        stores.pg = Some(pool);
    }
    if scenario.uses(Store::Mongo) {
        // connect::mongo checks reachability with a clear message; the run's own client
        // then gets the scenario's pool size.
        let (_probe, db) = connect::mongo(targets).await?;
        versions.insert(
            "mongo".to_string(),
            schema::mongo::server_version(&db).await?,
        );
        let mut options = mongodb::options::ClientOptions::parse(&targets.mongodb_uri)
            .await
            .with_context(|| format!("MongoDB URI {}", redact(&targets.mongodb_uri)))?;
        options.max_pool_size = Some(scenario.connections.mongo);
        options.app_name = Some("clinicload".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        let client = mongodb::Client::with_options(options)?;
        stores.mongo = Some(client.database(&targets.mongo_database_name()));
    }
    if scenario.uses(Store::Redis) {
        let mut probe = connect::redis(targets).await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut probe)
            .await
            .context("Redis INFO")?;
        let v = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .trim()
            .to_string();
        versions.insert("redis".to_string(), format!("Redis {v}"));
        stores.redis = ops::redis::connections(&targets.redis_url, scenario.connections.redis)
            .await
            .with_context(|| format!("connecting to Redis at {}", redact(&targets.redis_url)))?;
    }
    Ok((stores, versions))
}

/// What `run_scenario` produced.
#[derive(Debug)]
pub struct RunResult {
    pub dir: PathBuf,
    pub summary: report::Summary,
    /// With cache variants: each variant's summary, in order (`summary` is the first).
    pub variants: Vec<(String, report::Summary)>,
}

/// Validates, runs and reports one scenario. Returns the report directory. A scenario with
/// several cache variants runs once per variant into `<run-id>/<variant>/`, and
/// `<run-id>/` receives the side-by-side comparison.
pub async fn run_scenario(targets: &Targets, file: &Path, opts: &RunOptions) -> Result<RunResult> {
    let scenario = spec::load(file, &opts.overrides)?;
    let now = chrono::Utc::now();
    let (run_id, dir) = report::create_run_dir(&opts.out, &report::run_id(&scenario.name, now))?;
    if scenario.cache.len() > 1 {
        let mut variants = Vec::new();
        for variant in &scenario.cache {
            let sub = dir.join(&variant.name);
            std::fs::create_dir(&sub).with_context(|| format!("creating {}", sub.display()))?;
            eprintln!("variant {}:", variant.name);
            let id = format!("{run_id}/{}", variant.name);
            let summary = run_in_dir(targets, &scenario, Some(variant), &id, &sub, opts).await?;
            variants.push((variant.name.clone(), summary));
        }
        report::compare::write_all(&dir, &run_id, &scenario, &variants)?;
        report::point_latest(&opts.out, &run_id)?;
        let summary = variants[0].1.clone();
        return Ok(RunResult {
            dir,
            summary,
            variants,
        });
    }
    let summary = run_in_dir(
        targets,
        &scenario,
        scenario.cache.first(),
        &run_id,
        &dir,
        opts,
    )
    .await?;
    report::point_latest(&opts.out, &run_id)?;
    Ok(RunResult {
        dir,
        summary,
        variants: Vec::new(),
    })
}

/// One run of `scenario` (under one cache variant, if any) reported into `dir`.
async fn run_in_dir(
    targets: &Targets,
    scenario: &Scenario,
    cache_variant: Option<&crate::cache::variants::CacheVariant>,
    run_id: &str,
    dir: &Path,
    opts: &RunOptions,
) -> Result<report::Summary> {
    let (mut stores, servers) = open_stores(targets, scenario).await?;
    if let Some(pool) = &stores.pg {
        // A run that was killed left its writes: undo them before drawing from the dataset.
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
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let undo = undo_plan(run_id, scenario, &catalog, &stores, cache_variant);
    let restoring = match &stores.pg {
        Some(pool) if undo.writes() && !opts.keep_writes => {
            crate::restore::record(pool, stores.mongo.as_ref(), &undo).await?;
            true
        }
        _ => {
            if undo.writes() {
                warnings.push(
                    "--keep-writes: the dataset keeps this run's writes; the next run starts from different data".into(),
                );
            }
            false
        }
    };
    let restore_stores = stores.clone();
    let dataset = catalog.dataset.clone();
    let hlog = HlogWriter::create(
        &dir.join("latency.hlog"),
        std::time::SystemTime::now() + scenario.warmup,
        &[
            format!("clinicload {} run {run_id}", env!("CARGO_PKG_VERSION")),
            format!("scenario {} ({})", scenario.name, scenario.file.display()),
        ],
    )?;
    eprintln!(
        "running {}: {}, {:.1}s (+{:.1}s warm-up), {} operations -> {}",
        scenario.name,
        describe_load(&scenario.load),
        scenario.duration.as_secs_f64(),
        scenario.warmup.as_secs_f64(),
        scenario.ops.len(),
        dir.display()
    );
    if let Some(rt) = &stores.cache {
        cache_run::reset_after_warmup(rt, scenario.warmup);
    }
    let recorder = Arc::new(Recorder::new());
    let outcome = runner::run(
        scenario.clone(),
        stores,
        catalog,
        recorder.clone(),
        Some(hlog),
        opts.quiet,
    )
    .await;
    // Restore whatever happened to the run: its writes are in the dataset either way.
    let mut restore_failed = None;
    let restore_report = if restoring {
        match restore_after(targets, &restore_stores).await {
            Ok(r) => {
                if let Some(r) = &r {
                    eprintln!("{}", r.describe());
                }
                r
            }
            Err(e) => {
                let msg = format!(
                    "the dataset was not restored after the run: {e:#}. Run `clinicload restore` before the next run"
                );
                warnings.push(msg.clone());
                restore_failed = Some(msg);
                None
            }
        }
    } else {
        None
    };
    let outcome = outcome?;
    let totals = recorder.totals();
    let mut overrides = BTreeMap::new();
    if let Some(d) = opts.overrides.duration {
        overrides.insert("duration".into(), format!("{}s", d.as_secs_f64()));
    }
    if let Some(w) = opts.overrides.warmup {
        overrides.insert("warmup".into(), format!("{}s", w.as_secs_f64()));
    }
    if let Some(r) = opts.overrides.rate {
        overrides.insert("rate".into(), r.to_string());
    }
    if let Some(target) = outcome.target_rate {
        // Draws of an operation the server cannot do were handled (skipped), not lost.
        let handled = totals.overall.len()
            + totals.series.iter().map(|s| s.errors).sum::<u64>()
            + outcome.unsupported_draws.iter().sum::<u64>();
        let achieved = handled as f64 / outcome.measured.as_secs_f64().max(1e-9);
        if achieved < 0.95 * target || outcome.missed > 0 {
            warnings.push(format!(
                "target rate not reached: {achieved:.1} ops/s achieved of {target} ops/s; {} starts late, {} missed. Latencies include the waiting (measured from intended starts)",
                outcome.late_starts, outcome.missed
            ));
        }
    }
    if outcome.abandoned > 0 {
        warnings.push(format!(
            "{} operations were still running at the end and were abandoned",
            outcome.abandoned
        ));
    }
    let mut summary = report::summarize(
        run_id, scenario, overrides, &outcome, &totals, dataset, servers, warnings,
    );
    if let Some(setup) = cache_setup {
        summary.cache = Some(cache_run::report(setup, &summary).await?);
    }
    summary.restore = restore_report;
    report::write_all(dir, &summary)?;
    if let Some(msg) = restore_failed {
        anyhow::bail!("{msg} (report written to {})", dir.display());
    }
    Ok(summary)
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

/// Restores the dataset with the run's own connections (MongoDB, Redis as the run used them).
async fn restore_after(
    targets: &Targets,
    stores: &Stores,
) -> Result<Option<crate::restore::RestoreReport>> {
    let Some(pool) = &stores.pg else {
        return Ok(None);
    };
    let mut redis = match crate::restore::pending_needs_redis(pool).await? {
        true => Some(connect::redis(targets).await?),
        false => None,
    };
    crate::restore::restore_all(pool, stores.mongo.as_ref(), redis.as_mut()).await
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

/// `clinicload run`: runs, prints the summary table and where the report is.
pub async fn run_command(targets: &Targets, file: &Path, opts: &RunOptions) -> Result<ExitCode> {
    let result = run_scenario(targets, file, opts).await?;
    if !result.variants.is_empty() {
        // The side-by-side comparison of the cache variants.
        let md = std::fs::read_to_string(result.dir.join("summary.md")).unwrap_or_default();
        println!("{}", md.trim_end());
        println!("report: {}", result.dir.join("report.html").display());
        return Ok(ExitCode::SUCCESS);
    }
    let s = &result.summary;
    let md = report::markdown::render(s);
    println!("{}", md.trim_end());
    println!();
    if let Some(target) = s.run.target_rate {
        println!(
            "achieved {:.1} ops/s of {target} target; {} late starts, {} missed; overall p50 {} p99 {} max {}",
            s.run.achieved_rate,
            s.run.late_starts,
            s.run.missed,
            fmt_us(s.overall.stats.p50_us),
            fmt_us(s.overall.stats.p99_us),
            fmt_us(s.overall.stats.max_us)
        );
    }
    println!("report: {}", result.dir.join("report.html").display());
    Ok(ExitCode::SUCCESS)
}
