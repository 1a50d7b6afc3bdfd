//! `clinicload gate`: the one command a CI job runs for a database change. It runs the
//! scenario against a baseline and a candidate, interleaved (A B B A A B ...), so that drifts
//! of a shared machine hit both alike; each run restores the dataset (`crate::restore`), so
//! every repeat starts from the same data. Then it compares the two sets of repeats
//! (`crate::compare`), judges the scenario's thresholds on the candidate, and writes what CI
//! reads (compare.json, summary.md, junit.xml, report.html).
//!
//! The candidate is the database under change (`--database-url`) against a baseline database
//! (`--baseline-database-url`), or a clone of the seeded database (`CREATE DATABASE ...
//! TEMPLATE`) with the extra migrations of `--candidate-migrations DIR` applied, which the
//! gate drops afterwards, whatever happens, and the original left untouched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sqlx::{Connection, PgConnection};

use crate::compare::{self, CompareOptions, ThresholdOutcome};
use crate::config::{redact, Targets};
use crate::run::{run_scenario, RunOptions};
use crate::scenario::spec::{self, Overrides};

/// What the candidate is compared with.
#[derive(Debug, Clone)]
pub enum Against {
    /// Two databases: the baseline at this URL, the candidate at `--database-url`.
    BaselineDatabase(String),
    /// One database: the baseline is `--database-url`, the candidate a clone of it with the
    /// `*.sql` files of this directory applied in name order.
    CandidateMigrations(PathBuf),
}

/// Options of `clinicload gate`.
#[derive(Debug, Clone)]
pub struct GateOptions {
    pub scenario: PathBuf,
    pub overrides: Overrides,
    pub against: Against,
    /// Repeats per side; None: the fewest that let Holm's correction fire over the gated
    /// metrics (`compare::stats::repeats_for`).
    pub repeats: Option<usize>,
    /// Sizes the measured duration of each run so the whole gate fits.
    pub time_budget: Option<Duration>,
    pub compare: CompareOptions,
    pub out: PathBuf,
    pub quiet: bool,
    pub allow_short_pools: bool,
    /// Calibration: delay one operation of the candidate by a known amount.
    pub inject_delay: Option<(String, Duration)>,
}

/// Time a run takes besides its warm-up and measured window (connecting, sampling the
/// catalog, recording the undo log, restoring and VACUUM ANALYZE), as measured on the
/// development machine for the small shipped scenarios; a budget is planned with it.
pub const RUN_OVERHEAD: Duration = Duration::from_secs(3);

/// The shortest measured window a budget may size a run to.
pub const MIN_WINDOW: Duration = Duration::from_secs(3);

/// Arrivals per run below which a p99 rests on too few values to be steady from run to run.
const P99_MIN_ARRIVALS: f64 = 1000.0;

/// The interleaving of `repeats` pairs: A B, B A, A B, ... (true = baseline).
pub fn order(repeats: usize) -> Vec<bool> {
    (0..repeats)
        .flat_map(|i| {
            if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            }
        })
        .collect()
}

/// How many gated metrics a scenario has under these options (to size the repeats).
fn gated_count(scenario: &spec::Scenario, opts: &CompareOptions) -> usize {
    if !opts.metrics.is_empty() {
        compare::unique(opts.metrics.clone()).len()
    } else if !scenario.thresholds.is_empty() {
        compare::unique(scenario.thresholds.iter().map(|t| t.key.clone()).collect()).len()
    } else {
        2 * scenario.ops.len()
    }
}

/// The plan of a gate: repeats and measured duration, sized to the budget if one is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub repeats: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Estimated wall-clock time of the whole gate.
    pub estimate: Duration,
    pub warnings: Vec<String>,
}

/// Plans the gate. Errors when the budget cannot hold the repeats the correction needs
/// with windows of at least [`MIN_WINDOW`].
pub fn plan(scenario: &spec::Scenario, opts: &GateOptions, duration_given: bool) -> Result<Plan> {
    let tests = gated_count(scenario, &opts.compare);
    let needed = compare::stats::repeats_for(tests, opts.compare.alpha);
    let repeats = opts.repeats.unwrap_or(needed);
    let mut warnings = Vec::new();
    if repeats < 2 {
        crate::usage!("--repeats {repeats}: a comparison needs at least 2 runs per side (the default here is {needed})");
    }
    if repeats < needed {
        warnings.push(format!(
            "--repeats {repeats}: with {tests} gated metrics Holm's correction cannot call any change significant below {needed} repeats per side; the verdict will be inconclusive"
        ));
    }
    let runs = 2 * repeats as u32;
    let warmup = scenario.warmup;
    let mut duration = scenario.duration;
    if let Some(budget) = opts.time_budget {
        let per_run = budget / runs;
        let room = per_run
            .checked_sub(warmup + RUN_OVERHEAD)
            .unwrap_or_default();
        if room < MIN_WINDOW {
            let min_budget = (MIN_WINDOW + warmup + RUN_OVERHEAD) * runs;
            crate::usage!(
                "--time-budget {}s is too small for a verdict: Holm's correction over the {tests} gated metrics needs {repeats} repeats per side ({runs} runs), each of at least {}s measured + {}s warm-up + about {}s of setup and restore; give --time-budget {}s or more, fewer gated metrics (--metrics), or a shorter warm-up (how small a change a budget detects depends on the run-to-run noise: see the calibration in docs/ci.md)",
                budget.as_secs(),
                MIN_WINDOW.as_secs(),
                warmup.as_secs_f64(),
                RUN_OVERHEAD.as_secs(),
                min_budget.as_secs() + 1
            );
        }
        if duration_given && duration > room {
            crate::usage!(
                "--duration {}s does not fit --time-budget {}s with {runs} runs (at most {}s each); drop one of them",
                duration.as_secs_f64(),
                budget.as_secs(),
                room.as_secs()
            );
        }
        if !duration_given {
            duration = Duration::from_secs(room.as_secs());
        }
    }
    if let spec::Load::Open { rate, .. } = scenario.load {
        let total: u32 = scenario.ops.iter().map(|o| o.weight).sum();
        for op in &scenario.ops {
            let p99_gated = (opts.compare.metrics.is_empty() && scenario.thresholds.is_empty())
                || opts
                    .compare
                    .metrics
                    .iter()
                    .chain(scenario.thresholds.iter().map(|t| &t.key))
                    .any(|k| k.starts_with(&format!("{}.p99", op.name())));
            let arrivals = rate * duration.as_secs_f64() * op.weight as f64 / total.max(1) as f64;
            if p99_gated && arrivals < P99_MIN_ARRIVALS {
                warnings.push(format!(
                    "{}: about {arrivals:.0} arrivals per run; a p99 of fewer than {P99_MIN_ARRIVALS:.0} values varies so much from run to run that a {:.0}% change may go undetected (give a longer duration or budget, or a higher rate)",
                    op.name(),
                    opts.compare.noise * 100.0
                ));
            }
        }
    }
    let estimate = (duration + warmup + RUN_OVERHEAD) * runs;
    Ok(Plan {
        repeats,
        duration,
        warmup,
        estimate,
        warnings,
    })
}

/// The database name and an admin URL (same server, database `postgres`) of a PostgreSQL URL.
fn admin_of(database_url: &str) -> Result<(String, url::Url)> {
    let url = url::Url::parse(database_url)
        .with_context(|| format!("--database-url {} is not a URL", redact(database_url)))?;
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() {
        bail!(
            "--database-url {} names no database; --candidate-migrations clones the database it names",
            redact(database_url)
        );
    }
    let mut admin = url.clone();
    admin.set_path("/postgres");
    Ok((name, admin))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The comment that marks a clone as a gate's own: only such databases are ever dropped,
/// and a stale one only by a gate on the same host whose process is gone.
fn clone_comment(source: &str) -> String {
    format!(
        "clinicload gate clone of {source} (host {} pid {}), dropped when the gate ends",
        crate::report::junit::hostname(),
        std::process::id()
    )
}

/// `<source>_gate_<pid>_<nonce>`, within PostgreSQL's 63 bytes: the source part is shortened
/// at a character boundary, the suffix always kept.
fn clone_name(source: &str) -> String {
    let nonce: u16 = rand::random();
    let suffix = format!("_gate_{}_{nonce:04x}", std::process::id());
    let mut prefix = source.to_string();
    let mut cut = 63usize.saturating_sub(suffix.len()).min(prefix.len());
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    prefix.truncate(cut);
    format!("{prefix}{suffix}")
}

/// The migration files of a directory, in name order, with their text.
pub fn read_migrations(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "--candidate-migrations {}: cannot read the directory",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        crate::usage!(
            "--candidate-migrations {}: no .sql files there (the candidate's extra migrations, applied in name order)",
            dir.display()
        );
    }
    files
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

/// A clone of the seeded database, dropped by [`Clone::drop_now`] (and on a best-effort basis
/// when the gate ends any other way).
pub struct DbClone {
    pub name: String,
    pub url: String,
    admin: url::Url,
    dropped: bool,
}

impl DbClone {
    /// `CREATE DATABASE clone TEMPLATE source`, then the migrations in one transaction each.
    pub async fn create(database_url: &str, migrations: &[(String, String)]) -> Result<DbClone> {
        let (source, admin) = admin_of(database_url)?;
        let mut conn = PgConnection::connect(admin.as_str())
            .await
            .with_context(|| {
                format!(
                    "connecting to the server's postgres database at {} to clone {source}",
                    redact(admin.as_str())
                )
            })?;
        drop_stale_clones(&mut conn, &source).await;
        let name = clone_name(&source);
        sqlx::query(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(&source)
        ))
        .execute(&mut conn)
        .await
        .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("being accessed by other users") {
                anyhow::anyhow!(
                    "cannot clone {source}: other sessions are connected to it ({msg}); CREATE DATABASE ... TEMPLATE needs the database idle, so close them (psql, applications) or gate two databases with --baseline-database-url"
                )
            } else {
                anyhow::anyhow!("cloning {source} with CREATE DATABASE ... TEMPLATE: {msg}")
            }
        })?;
        sqlx::query(&format!(
            "COMMENT ON DATABASE {} IS '{}'",
            quote_ident(&name),
            clone_comment(&source).replace('\'', "''")
        ))
        .execute(&mut conn)
        .await
        .ok();
        let mut url = url::Url::parse(database_url)?;
        url.set_path(&format!("/{name}"));
        let mut clone = DbClone {
            name,
            url: url.to_string(),
            admin,
            dropped: false,
        };
        if let Err(e) = clone.migrate(migrations).await {
            clone.drop_now().await;
            return Err(e);
        }
        Ok(clone)
    }

    async fn migrate(&self, migrations: &[(String, String)]) -> Result<()> {
        let mut conn = PgConnection::connect(&self.url)
            .await
            .with_context(|| format!("connecting to the clone {}", self.name))?;
        for (file, sql) in migrations {
            // CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction: such a file runs
            // as it is (one statement per file, as for any migration tool).
            if sql.to_ascii_uppercase().contains("CONCURRENTLY") {
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("applying {file} to the candidate clone"))?;
                continue;
            }
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("applying {file} to the candidate clone"))?;
            tx.commit().await?;
        }
        conn.close().await.ok();
        Ok(())
    }

    /// Drops the clone (forcing off any session left on it).
    pub async fn drop_now(&mut self) {
        if self.dropped {
            return;
        }
        match PgConnection::connect(self.admin.as_str()).await {
            Ok(mut conn) => {
                match sqlx::query(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&self.name)
                ))
                .execute(&mut conn)
                .await
                {
                    Ok(_) => self.dropped = true,
                    Err(e) => eprintln!(
                        "warning: could not drop the candidate clone {}: {e}; drop it with DROP DATABASE {}",
                        self.name, self.name
                    ),
                }
            }
            Err(e) => eprintln!(
                "warning: could not connect to drop the candidate clone {}: {}",
                self.name,
                redact(&e.to_string())
            ),
        }
    }
}

/// Drops clones an earlier gate on this source left behind when it was killed (their
/// comment names a process that no longer runs).
async fn drop_stale_clones(conn: &mut PgConnection, source: &str) {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d WHERE d.datname LIKE $1",
    )
    .bind(format!("{}_gate_%", source.replace('_', "\\_")))
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for (name, comment) in rows {
        let Some(comment) = comment else { continue };
        let prefix = format!(
            "clinicload gate clone of {source} (host {} pid ",
            crate::report::junit::hostname()
        );
        let Some(rest) = comment.strip_prefix(&prefix) else {
            continue;
        };
        let pid: u32 = rest.split(')').next().unwrap_or("").parse().unwrap_or(0);
        if pid == 0 || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&name)
                .fetch_one(&mut *conn)
                .await
                .unwrap_or(1);
        if sessions > 0 {
            continue;
        }
        if sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        ))
        .execute(&mut *conn)
        .await
        .is_ok()
        {
            eprintln!("dropped {name}, a candidate clone left by a gate that was killed");
        }
    }
}

/// Refuses, before any run, two databases that do not hold the same dataset or run on
/// different PostgreSQL versions (the comparison would refuse them after all the runs).
async fn same_dataset(baseline_url: &str, candidate_url: &str) -> Result<()> {
    let mut facts = Vec::new();
    for url in [baseline_url, candidate_url] {
        let pool = crate::connect::postgres_for_load(
            &Targets {
                database_url: url.to_string(),
                ..Targets::default()
            },
            1,
        )
        .await?;
        let version = crate::schema::postgres::server_version(&pool).await?;
        let dataset = crate::scenario::catalog::dataset_info(&pool)
            .await
            .map(|d| d.fingerprint);
        pool.close().await;
        facts.push((version, dataset));
    }
    let (b, c) = (&facts[0], &facts[1]);
    let mut diffs = Vec::new();
    if b.1 != c.1 {
        diffs.push(format!(
            "dataset fingerprint {} vs {}",
            b.1.as_deref().unwrap_or("none"),
            c.1.as_deref().unwrap_or("none")
        ));
    }
    if b.0 != c.0 {
        diffs.push(format!("server {} vs {}", b.0, c.0));
    }
    if !diffs.is_empty() {
        bail!(
            "the baseline database {} and the candidate {} differ before any change: {}; seed both with the same parameters on the same server version, or pass --allow-mismatch",
            redact(baseline_url),
            redact(candidate_url),
            diffs.join("; ")
        );
    }
    Ok(())
}

/// The gate was interrupted before both sides had a run: nothing to compare.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted before both sides had a complete run; nothing to compare")
    }
}

impl std::error::Error for Interrupted {}

/// The gate's result, besides the files it wrote.
pub struct GateResult {
    pub dir: PathBuf,
    pub comparison: compare::Comparison,
    pub interrupted: bool,
}

/// Judges each threshold of the scenario on the candidate's repeats: the median of the
/// observed values, so that one noisy repeat does not fail a gate (and one lucky one does not
/// pass it).
fn thresholds_on(
    thresholds: &[crate::thresholds::Threshold],
    candidates: &[crate::report::Summary],
) -> Vec<ThresholdOutcome> {
    if candidates.is_empty() {
        return Vec::new();
    }
    thresholds
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let observed: Vec<f64> = candidates
                .iter()
                .filter_map(|s| s.thresholds.get(i).and_then(|v| v.observed))
                .collect();
            let failed_in = candidates
                .iter()
                .filter(|s| s.thresholds.get(i).is_some_and(|v| !v.pass))
                .count();
            let median = (!observed.is_empty()).then(|| compare::stats::median(&observed));
            ThresholdOutcome {
                key: t.key.clone(),
                text: t.text.clone(),
                source: t.source.clone(),
                observed: median,
                observed_text: median
                    .map(|m| crate::thresholds::show(t.metric.metric.kind(), m))
                    .unwrap_or_else(|| "no data".into()),
                pass: median.is_some_and(|m| t.op.holds(m, t.value)),
                failed_in,
                repeats: candidates.len(),
            }
        })
        .collect()
}

/// Runs the gate.
pub async fn gate(targets: &Targets, opts: &GateOptions) -> Result<GateResult> {
    let scenario = spec::load(&opts.scenario, &opts.overrides)?;
    check_gateable(&scenario, opts)?;
    let plan = plan(&scenario, opts, opts.overrides.duration.is_some())?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let migrations = match &opts.against {
        Against::CandidateMigrations(dir) => Some(read_migrations(dir)?),
        Against::BaselineDatabase(_) => None,
    };
    let (gate_id, dir) = create_gate_dir(&scenario, opts, &plan)?;

    // A signal between two runs (or while the clone is made) stops the gate after that step;
    // a signal during a run ends the run itself (its runner listens too).
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn({
        let stop = stop.clone();
        async move {
            crate::scenario::runner::interrupt_signal().await;
            stop.store(true, Ordering::SeqCst);
        }
    });
    let mut sides = match prepare_sides(targets, opts, migrations.as_deref(), &stop).await {
        Ok(sides) => sides,
        Err(e) => {
            watcher.abort();
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
    };
    eprintln!(
        "gate {gate_id}: {} repeats per side, interleaved, {:.0}s measured + {:.0}s warm-up each; about {:.0} min in all",
        plan.repeats,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        plan.estimate.as_secs_f64() / 60.0
    );
    // Both datasets are the gate's for all its runs (after the clone: CREATE DATABASE ...
    // TEMPLATE needs its source idle): another command slipping in between two runs would be
    // load on one side only.
    let result = match hold_both(&sides.base_targets, &sides.cand_targets, &gate_id).await {
        Ok(locks) => {
            let r = run_pairs(
                &scenario,
                opts,
                &plan,
                &dir,
                (&sides.base_targets, &sides.base_label),
                (&sides.cand_targets, &sides.cand_label),
                &stop,
            )
            .await;
            for l in locks {
                l.release().await;
            }
            r
        }
        Err(e) => Err(e),
    };
    watcher.abort();
    if let Some(c) = sides.clone.as_mut() {
        c.drop_now().await;
    }
    let pairs = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
    };
    let interrupted = pairs.3;
    if interrupted && (pairs.0.is_empty() || pairs.1.is_empty()) {
        return Err(anyhow::Error::new(Interrupted));
    }
    let comparison = compare_pairs(&scenario, opts, &plan, &sides, pairs, &dir)?;
    crate::report::point_latest(&opts.out, &gate_id)?;
    Ok(GateResult {
        dir,
        comparison,
        interrupted,
    })
}

/// Refuses a scenario a gate cannot compare: several variants, or an `--inject-delay` that
/// names none of its operations.
fn check_gateable(scenario: &spec::Scenario, opts: &GateOptions) -> Result<()> {
    let variants = scenario.cache.len().max(scenario.variants.len());
    if variants > 1 {
        crate::usage!(
            "{} runs {variants} variants; a gate compares one configuration: keep one [[variant]] in a copy of the scenario",
            opts.scenario.display()
        );
    }
    if let Some((name, _)) = &opts.inject_delay {
        if !scenario.ops.iter().any(|o| o.name() == name) {
            crate::usage!(
                "--inject-delay names {name:?}, which is not an operation of {}",
                opts.scenario.display()
            );
        }
    }
    Ok(())
}

/// Creates the gate's report directory, after checking the space its runs need; returns
/// the gate id and the directory.
fn create_gate_dir(
    scenario: &spec::Scenario,
    opts: &GateOptions,
    plan: &Plan,
) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating the reports directory {}", opts.out.display()))?;
    let per_run = crate::report::space_needed(
        scenario.ops.len(),
        scenario.duration + scenario.warmup,
        scenario.cache.len().max(scenario.variants.len()),
        None,
    );
    crate::report::check_writable(&opts.out, per_run * 2 * plan.repeats as u64 + (1 << 20))?;
    let now = chrono::Utc::now();
    crate::report::create_run_dir(
        &opts.out,
        &format!("{}-gate", crate::report::run_id(&scenario.name, now)),
    )
}

/// The two sides of a gate: where each runs, how the reports name it, and the candidate
/// clone to drop afterwards (`--candidate-migrations`).
struct Sides {
    base_targets: Targets,
    cand_targets: Targets,
    base_label: String,
    cand_label: String,
    clone: Option<DbClone>,
}

/// Sets up the two sides: checks that two databases hold the same dataset, or clones the
/// seeded database and applies the candidate migrations (dropped again if a signal came).
async fn prepare_sides(
    targets: &Targets,
    opts: &GateOptions,
    migrations: Option<&[(String, String)]>,
    stop: &AtomicBool,
) -> Result<Sides> {
    if let Against::BaselineDatabase(url) = &opts.against {
        if !opts.compare.allow_mismatch {
            same_dataset(url, &targets.database_url).await?;
        }
    }
    match &opts.against {
        Against::BaselineDatabase(url) => Ok(Sides {
            base_targets: Targets {
                database_url: url.clone(),
                ..targets.clone()
            },
            cand_targets: targets.clone(),
            base_label: format!("baseline database {}", redact(url)),
            cand_label: format!("candidate database {}", redact(&targets.database_url)),
            clone: None,
        }),
        Against::CandidateMigrations(mdir) => {
            let mut c = DbClone::create(&targets.database_url, migrations.unwrap_or(&[])).await?;
            if stop.load(Ordering::SeqCst) {
                c.drop_now().await;
                return Err(anyhow::Error::new(Interrupted));
            }
            eprintln!(
                "gate: candidate = clone {} of the seeded database with {} migration file(s) of {}",
                c.name,
                migrations.map_or(0, <[_]>::len),
                mdir.display()
            );
            let cand = Targets {
                database_url: c.url.clone(),
                ..targets.clone()
            };
            let label = format!("{} + {}", redact(&targets.database_url), mdir.display());
            Ok(Sides {
                base_targets: targets.clone(),
                cand_targets: cand,
                base_label: format!("baseline {}", redact(&targets.database_url)),
                cand_label: format!("candidate {label}"),
                clone: Some(c),
            })
        }
    }
}

/// Compares the completed repeats of both sides, judges the thresholds on the candidate,
/// adds the plan's warnings and writes compare.json, summary.md, junit.xml, report.html.
fn compare_pairs(
    scenario: &spec::Scenario,
    opts: &GateOptions,
    plan: &Plan,
    sides: &Sides,
    (base_dirs, cand_dirs, cand_summaries, interrupted): Pairs,
    dir: &Path,
) -> Result<compare::Comparison> {
    let base = compare::side::from_runs(&sides.base_label, &base_dirs)?;
    let cand = compare::side::from_runs(&sides.cand_label, &cand_dirs)?;
    let mut comparison = compare::compare(&base, &cand, &opts.compare)?;
    comparison.set_thresholds(thresholds_on(&scenario.thresholds, &cand_summaries));
    // (the repeats warning is the comparison's own)
    comparison.warnings.extend(
        plan.warnings
            .iter()
            .filter(|w| !w.starts_with("--repeats"))
            .cloned(),
    );
    if interrupted {
        comparison
            .warnings
            .push("interrupted: the comparison covers the repeats that completed".into());
    }
    compare::write_outputs(
        dir,
        &comparison,
        &base,
        &cand,
        &format!("clinicload gate: {}", scenario.name),
    )?;
    Ok(comparison)
}

/// The dataset locks of both sides, for all the gate's runs.
async fn hold_both(
    base: &Targets,
    cand: &Targets,
    gate_id: &str,
) -> Result<Vec<crate::restore::lock::DatasetLock>> {
    use crate::restore::lock::{take_for_runs, Hold};
    let what = format!("gate {gate_id}");
    let mut locks = vec![take_for_runs(base, Hold::Exclusive, &what).await?];
    if cand.database_url != base.database_url {
        locks.push(take_for_runs(cand, Hold::Exclusive, &what).await?);
    }
    Ok(locks)
}

type Pairs = (
    Vec<PathBuf>,
    Vec<PathBuf>,
    Vec<crate::report::Summary>,
    bool,
);

/// The runs, in the interleaved order; stops early (interrupted) when `stop` is set.
async fn run_pairs(
    scenario: &spec::Scenario,
    opts: &GateOptions,
    plan: &Plan,
    dir: &Path,
    (base_targets, base_label): (&Targets, &str),
    (cand_targets, cand_label): (&Targets, &str),
    stop: &AtomicBool,
) -> Result<Pairs> {
    let mut base_dirs = Vec::new();
    let mut cand_dirs = Vec::new();
    let mut cand_summaries = Vec::new();
    let overrides = Overrides {
        duration: Some(plan.duration),
        ..opts.overrides.clone()
    };
    let started = Instant::now();
    let sequence = order(plan.repeats);
    for (i, is_base) in sequence.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return Ok((base_dirs, cand_dirs, cand_summaries, true));
        }
        let (targets, side_dir, label) = if *is_base {
            (base_targets, dir.join("baseline"), base_label)
        } else {
            (cand_targets, dir.join("candidate"), cand_label)
        };
        eprintln!(
            "gate: run {}/{} ({label}), {:.0}s elapsed",
            i + 1,
            sequence.len(),
            started.elapsed().as_secs_f64()
        );
        let run_opts = RunOptions {
            overrides: overrides.clone(),
            out: side_dir,
            quiet: opts.quiet,
            verbose: false,
            keep_writes: false,
            allow_short_pools: opts.allow_short_pools,
            inject_delay: if *is_base {
                None
            } else {
                opts.inject_delay.clone()
            },
            repeats: None,
            start_at: None,
        };
        let r = run_scenario(targets, &scenario.file, &run_opts)
            .await
            .with_context(|| format!("gate run {} ({label})", i + 1))?;
        if let Some(e) = r.write_error {
            return Err(e.context(format!("writing the report of gate run {}", i + 1)));
        }
        let interrupted = r.summary.run.interrupted || stop.load(Ordering::SeqCst);
        if *is_base {
            base_dirs.push(r.dir);
        } else {
            cand_dirs.push(r.dir);
            cand_summaries.push(r.summary);
        }
        if interrupted {
            return Ok((base_dirs, cand_dirs, cand_summaries, true));
        }
    }
    Ok((base_dirs, cand_dirs, cand_summaries, false))
}

/// `clinicload gate`: runs, prints the verdicts and where the report is, exits with the
/// comparison's code (4 thresholds, 5 regression; 130 when interrupted).
pub async fn gate_command(targets: &Targets, opts: &GateOptions) -> Result<ExitCode> {
    let r = match gate(targets, opts).await {
        Ok(r) => r,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("interrupted: {e}");
            return Ok(crate::exit::code(crate::exit::INTERRUPTED));
        }
        Err(e) => return Err(e),
    };
    compare::print(&r.comparison);
    println!("report: {}", r.dir.join("report.html").display());
    println!(
        "summary for the pull request: {}",
        r.dir.join("summary.md").display()
    );
    if r.interrupted {
        eprintln!("interrupted: the verdicts cover the repeats that completed");
        return Ok(crate::exit::code(crate::exit::worst(
            r.comparison.exit_code,
            crate::exit::INTERRUPTED,
        )));
    }
    Ok(crate::exit::code(r.comparison.exit_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_interleaves_abba() {
        assert_eq!(order(3), vec![true, false, false, true, true, false]);
    }
}
