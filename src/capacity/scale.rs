//! `clinicload sweep scale`: the same scenario on datasets of growing size (scratch datasets
//! of 1, 2, 4, ... clinics of a profile that clinicload seeds itself, or existing datasets
//! named by URL), to show which operation grows with the data. Per operation (and per index
//! variant, when the scenario has them) it reports p50 and p99 against the rows of the tables
//! the operation's plan reads, the access path at each size (a plan that changes with size is
//! flagged), and a growth verdict from the log-log slope of p50 against rows: a sequential
//! scan grows about linearly (slope near 1), an index lookup stays flat. Seeding is part of
//! the cost: seconds per size and whether they grew linearly with the clinics.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::config::{redact, Targets};
use crate::metrics::fmt_us;
use crate::report::page::{Cell, Page, Plot, Table, Tone};
use crate::run::{run_scenario, RunOptions};
use crate::scenario::ops::Store;
use crate::scenario::spec::{self, Overrides};
use crate::seed::scratch::{self, ScratchSpec};

pub const SCHEMA: &str = "clinicload.sweep_scale/1";

/// A log-log slope of p50 against rows at or above this is growth with the data.
pub const GROWS: f64 = 0.5;
/// Below this, flat.
pub const FLAT: f64 = 0.25;

/// Options of `clinicload sweep scale`.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub scenario: PathBuf,
    /// Scratch datasets: clinics of `profile` per size (ignored when `datasets` is given).
    pub clinics: Vec<u32>,
    pub profile: String,
    pub patients: Option<u32>,
    pub history_days: Option<u32>,
    pub future_days: Option<u32>,
    /// Existing datasets by PostgreSQL URL, smallest first (their MongoDB database is named
    /// like their PostgreSQL one).
    pub datasets: Vec<String>,
    /// Re-seed the scratch datasets even when complete (to measure the seeding cost).
    pub fresh: bool,
    pub step: Duration,
    pub warmup: Duration,
    pub out: PathBuf,
    pub quiet: bool,
}

/// One operation (under one variant) at one size.
#[derive(Debug, Clone, Serialize)]
pub struct OpAtSize {
    /// The variant ("" for a scenario without variants).
    pub variant: String,
    pub op: String,
    pub store: String,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The planned access path (PostgreSQL reads), e.g. "encounters: Seq Scan".
    pub path: Option<String>,
    /// Rows in the tables the plan reads (`pg_class.reltuples`).
    pub rows_read: Option<i64>,
}

/// One dataset size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeStep {
    pub clinics: u32,
    /// The dataset's database (no credentials).
    pub dataset: String,
    pub table_rows: Vec<(String, i64)>,
    /// Seconds its seed took (measured now, or from its bookkeeping when reused).
    pub seed_s: Option<f64>,
    pub seeded_now: bool,
    pub ops: Vec<OpAtSize>,
    pub measured_s: f64,
    pub dir: String,
}

/// How one operation's latency grew with the data.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub variant: String,
    pub op: String,
    /// What the slope is against: "rows read" or "clinics" (reads without a plan).
    pub against: &'static str,
    /// Log-log slope of p50 against `against` (1: linear, 0: flat).
    pub slope: Option<f64>,
    /// "grows with the data", "grows slowly", "flat", or "too few sizes".
    pub verdict: String,
    pub p50_first_us: u64,
    pub p50_last_us: u64,
    pub x_first: f64,
    pub x_last: f64,
    /// "at N clinics: path" for each size whose access path differs from the previous one.
    pub plan_changes: Vec<String>,
}

/// `sweep.json` of a scale sweep.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleSweep {
    pub schema: &'static str,
    pub kind: &'static str,
    pub scenario: String,
    pub profile: String,
    pub steps: Vec<SizeStep>,
    pub growth: Vec<Growth>,
    /// Log-log slope of seed seconds against clinics, and what it says.
    pub seeding_slope: Option<f64>,
    pub seeding: String,
    pub answer: String,
    pub measured_s: f64,
    pub total_s: f64,
    pub notes: Vec<String>,
}

/// Least-squares slope of ln(y) against ln(x); None with fewer than two distinct x.
pub fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if p.len() < 2 {
        return None;
    }
    let n = p.len() as f64;
    let mx = p.iter().map(|q| q.0).sum::<f64>() / n;
    let my = p.iter().map(|q| q.1).sum::<f64>() / n;
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    if sxx < 1e-12 {
        return None;
    }
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    Some(sxy / sxx)
}

/// The verdict a slope gives.
pub fn growth_verdict(slope: Option<f64>) -> &'static str {
    match slope {
        None => "too few sizes",
        Some(s) if s >= GROWS => "grows with the data",
        Some(s) if s < FLAT => "flat",
        Some(_) => "grows slowly",
    }
}

async fn table_rows(database_url: &str) -> Result<Vec<(String, i64)>> {
    let mut conn = PgConnection::connect(database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(database_url)))?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, GREATEST(c.reltuples, 0)::bigint
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
         ORDER BY c.relname",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await.ok();
    Ok(rows)
}

fn database_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().trim_start_matches('/').to_string())
        .unwrap_or_else(|_| redact(url))
}

/// Refuses sizes and profiles a sweep cannot seed, before anything runs.
fn check_sizes(opts: &ScaleOptions) -> Result<()> {
    if opts.datasets.is_empty() {
        if opts.clinics.is_empty() || opts.clinics.iter().any(|&c| c == 0 || c > 10_000) {
            crate::usage!("--clinics: give sizes of 1 to 10000 clinics, e.g. 1,2,4,8");
        }
        if crate::generate::profile(&opts.profile).is_none() {
            crate::usage!(
                "--profile {}: use one of {}",
                opts.profile,
                crate::generate::PROFILES.join(", ")
            );
        }
    }
    Ok(())
}

/// A dataset of the sweep, ready to run on: its targets, how long its seed took, whether it
/// was seeded now, and its clinics.
struct Dataset {
    targets: Targets,
    seed_s: Option<f64>,
    seeded_now: bool,
    clinics: u32,
}

/// The scratch dataset of `n` clinics, seeded if it is not complete yet.
async fn scratch_of(
    targets: &Targets,
    opts: &ScaleOptions,
    n: u32,
    uses_mongo: bool,
) -> Result<Dataset> {
    let s = scratch::prepare(
        targets,
        &ScratchSpec {
            profile: opts.profile.clone(),
            clinics: n,
            patients: opts.patients,
            history_days: opts.history_days,
            future_days: opts.future_days,
            postgres_only: !uses_mongo,
            fresh: opts.fresh,
        },
        "sweep scale",
    )
    .await?;
    // (A seed ends with VACUUM (ANALYZE): autovacuum does not wake up for the new rows in
    // the measured window.)
    Ok(Dataset {
        targets: s.targets,
        seed_s: s.seed_s,
        seeded_now: s.seeded_now,
        clinics: n,
    })
}

/// A dataset named by `--dataset URL`, as its bookkeeping describes it.
async fn given_dataset(targets: &Targets, url: &str) -> Result<Dataset> {
    let t = Targets {
        database_url: url.to_string(),
        mongo_database: Some(database_of(url)),
        ..targets.clone()
    };
    let n = scratch::seeded_clinics(&t.database_url)
        .await
        .with_context(|| {
            format!(
                "{} holds no clinicload dataset (clinicload_meta.seeded_clinics)",
                redact(&t.database_url)
            )
        })?;
    let seed_s = scratch::recorded_seed_seconds(&t.database_url).await;
    Ok(Dataset {
        targets: t,
        seed_s,
        seeded_now: false,
        clinics: n as u32,
    })
}

/// Each operation of each variant at one size: its latency, access path (per table, in
/// table order: a join reordered is not a new access path) and the rows of the tables it
/// reads.
fn ops_at_size(
    r: &crate::run::RunResult,
    runs: &[(String, crate::report::Summary)],
    migrated_paths: &[crate::explain::OpPath],
    rows: &[(String, i64)],
) -> Vec<OpAtSize> {
    let mut ops = Vec::new();
    for (variant, summary) in runs {
        let paths = r
            .paths
            .iter()
            .find(|(v, _)| v == variant)
            .map_or(migrated_paths, |(_, p)| p.as_slice());
        for o in summary.operations.iter().filter(|o| o.sub.is_none()) {
            let plan = paths.iter().find(|p| p.op == o.name);
            let path = plan.map(|p| {
                let mut a: Vec<String> = p.plan.accesses.iter().map(|a| a.describe()).collect();
                a.sort();
                a.dedup();
                a.join("; ")
            });
            let rows_read = plan.map(|p| {
                let mut tables: Vec<&str> = p
                    .plan
                    .accesses
                    .iter()
                    .map(|a| a.relation.as_str())
                    .collect();
                tables.sort_unstable();
                tables.dedup();
                tables
                    .iter()
                    .filter_map(|t| rows.iter().find(|r| r.0 == *t).map(|r| r.1))
                    .sum()
            });
            ops.push(OpAtSize {
                variant: variant.clone(),
                op: o.name.clone(),
                store: o.store.clone(),
                count: o.count,
                p50_us: o.stats.p50_us,
                p99_us: o.p99_all_us,
                path,
                rows_read,
            });
        }
    }
    ops
}

/// Runs the scenario (every variant) on one dataset; true when it was interrupted.
async fn run_size(
    scenario: &spec::Scenario,
    opts: &ScaleOptions,
    dir: &Path,
    d: Dataset,
) -> Result<(SizeStep, bool)> {
    let (t, n) = (&d.targets, d.clinics);
    let rows = table_rows(&t.database_url).await?;
    // The plans as the schema stands (a variant's own plans come with its run).
    let migrated_paths = if scenario.uses(Store::Postgres) {
        crate::run::variants::access_paths(t, scenario)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let run_opts = RunOptions {
        overrides: Overrides {
            duration: Some(opts.step),
            warmup: Some(opts.warmup),
            ..Overrides::default()
        },
        out: dir.join("steps").join(format!("{n}-clinics")),
        quiet: opts.quiet,
        verbose: false,
        repeats: Some(1),
        ..RunOptions::default()
    };
    eprintln!(
        "sweep scale: running {} on {} ({n} clinics)",
        scenario.name,
        database_of(&t.database_url)
    );
    let r = run_scenario(t, &opts.scenario, &run_opts)
        .await
        .with_context(|| format!("sweep scale step at {n} clinics"))?;
    if let Some(e) = r.write_error {
        return Err(e.context("writing a sweep step's report"));
    }
    let runs: Vec<(String, crate::report::Summary)> = if r.variants.is_empty() {
        vec![(String::new(), r.summary.clone())]
    } else {
        r.variants.clone()
    };
    let ops = ops_at_size(&r, &runs, &migrated_paths, &rows);
    let step = SizeStep {
        clinics: n,
        dataset: database_of(&t.database_url),
        table_rows: rows,
        seed_s: d.seed_s,
        seeded_now: d.seeded_now,
        ops,
        measured_s: runs.iter().map(|(_, s)| s.run.measured_s).sum(),
        dir: r.dir.display().to_string(),
    };
    Ok((step, r.summary.run.interrupted))
}

/// `clinicload sweep scale`.
pub async fn sweep_scale(targets: &Targets, opts: &ScaleOptions) -> Result<(ScaleSweep, PathBuf)> {
    let scenario = spec::load(&opts.scenario, &Overrides::default())?;
    check_sizes(opts)?;
    let (_, dir) = super::sweep_dir(&opts.out, &scenario.name, "scale")?;
    let started = Instant::now();
    let uses_mongo = scenario.uses(Store::Mongo);
    let mut clinics: Vec<u32> = opts.clinics.clone();
    clinics.sort_unstable();
    clinics.dedup();
    let mut steps: Vec<SizeStep> = Vec::new();
    let mut notes = Vec::new();
    // The sizes to seed, or the datasets given.
    let work: Vec<Result<u32, &String>> = if opts.datasets.is_empty() {
        clinics.into_iter().map(Ok).collect()
    } else {
        opts.datasets.iter().map(Err).collect()
    };
    for size in work {
        let d = match size {
            Ok(n) => scratch_of(targets, opts, n, uses_mongo).await?,
            Err(url) => given_dataset(targets, url).await?,
        };
        let (step, interrupted) = run_size(&scenario, opts, &dir, d).await?;
        steps.push(step);
        if interrupted {
            notes.push("interrupted: the sweep covers the sizes that completed".into());
            break;
        }
    }
    steps.sort_by_key(|s| s.clinics);
    let growth = growth(&steps);
    let seed_points: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| s.seed_s.map(|t| (s.clinics as f64, t)))
        .collect();
    let seeding_slope = log_log_slope(&seed_points);
    let seeding = seeding_text(&steps, seeding_slope);
    if steps.iter().any(|s| !s.seeded_now && s.seed_s.is_some()) {
        notes.push(
            "seeding times of reused datasets come from their bookkeeping (first clinic started to last committed); --fresh seeds them again".into(),
        );
    }
    let answer = answer(&growth, &steps, &seeding);
    let sweep = ScaleSweep {
        schema: SCHEMA,
        kind: "scale",
        scenario: scenario.name.clone(),
        profile: opts.profile.clone(),
        measured_s: steps.iter().map(|s| s.measured_s).sum(),
        steps,
        growth,
        seeding_slope,
        seeding,
        answer,
        total_s: started.elapsed().as_secs_f64(),
        notes,
    };
    write(&dir, &sweep)?;
    Ok((sweep, dir))
}

/// The growth of each (variant, operation) across the sizes.
pub fn growth(steps: &[SizeStep]) -> Vec<Growth> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for s in steps {
        for o in &s.ops {
            let k = (o.variant.clone(), o.op.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.into_iter()
        .map(|(variant, op)| {
            let at: Vec<(u32, &OpAtSize)> = steps
                .iter()
                .filter_map(|s| {
                    s.ops
                        .iter()
                        .find(|o| o.variant == variant && o.op == op && o.count > 0)
                        .map(|o| (s.clinics, o))
                })
                .collect();
            let by_rows = at.iter().all(|(_, o)| o.rows_read.is_some_and(|r| r > 0));
            let x = |c: u32, o: &OpAtSize| {
                if by_rows {
                    o.rows_read.unwrap_or(0) as f64
                } else {
                    c as f64
                }
            };
            let points: Vec<(f64, f64)> = at
                .iter()
                .map(|(c, o)| (x(*c, o), o.p50_us as f64))
                .collect();
            let slope = log_log_slope(&points);
            let mut plan_changes = Vec::new();
            for w in at.windows(2) {
                if w[0].1.path != w[1].1.path {
                    plan_changes.push(format!(
                        "at {} clinics: {}",
                        w[1].0,
                        w[1].1.path.clone().unwrap_or_else(|| "no plan".into())
                    ));
                }
            }
            Growth {
                verdict: growth_verdict(slope).to_string(),
                slope,
                against: if by_rows { "rows read" } else { "clinics" },
                p50_first_us: at.first().map_or(0, |a| a.1.p50_us),
                p50_last_us: at.last().map_or(0, |a| a.1.p50_us),
                x_first: at.first().map_or(0.0, |(c, o)| x(*c, o)),
                x_last: at.last().map_or(0.0, |(c, o)| x(*c, o)),
                variant,
                op,
                plan_changes,
            }
        })
        .collect()
}

fn label(variant: &str, op: &str) -> String {
    if variant.is_empty() {
        op.to_string()
    } else {
        format!("{op} [{variant}]")
    }
}

fn seeding_text(steps: &[SizeStep], slope: Option<f64>) -> String {
    let per: Vec<String> = steps
        .iter()
        .filter_map(|s| s.seed_s.map(|t| format!("{} clinics {t:.1} s", s.clinics)))
        .collect();
    if per.is_empty() {
        return "seeding time unknown (datasets without bookkeeping)".into();
    }
    let shape = match slope {
        Some(s) if (0.8..=1.25).contains(&s) => format!("linear in the clinics (slope {s:.2})"),
        Some(s) if s > 1.25 => {
            format!("faster than linear (slope {s:.2}): seeding slows as the data grows")
        }
        Some(s) => {
            format!("slower than linear (slope {s:.2}): fixed costs weigh on the small sizes")
        }
        None => "one size only".into(),
    };
    format!("seeding {}; {shape}", per.join(", "))
}

fn answer(growth: &[Growth], steps: &[SizeStep], seeding: &str) -> String {
    let sizes: Vec<String> = steps.iter().map(|s| s.clinics.to_string()).collect();
    let growing: Vec<String> = growth
        .iter()
        .filter(|g| g.verdict == "grows with the data")
        .map(|g| {
            format!(
                "{} (p50 {} -> {} for x{:.1} {}, slope {:.2})",
                label(&g.variant, &g.op),
                fmt_us(g.p50_first_us),
                fmt_us(g.p50_last_us),
                if g.x_first > 0.0 {
                    g.x_last / g.x_first
                } else {
                    0.0
                },
                g.against,
                g.slope.unwrap_or(0.0)
            )
        })
        .collect();
    let flat = growth.iter().filter(|g| g.verdict == "flat").count();
    let mut a = format!("at {} clinics: ", sizes.join(", "));
    if growing.is_empty() {
        a.push_str("no operation grows with the data");
    } else {
        a.push_str(&format!("grows with the data: {}", growing.join("; ")));
    }
    a.push_str(&format!("; {flat} of {} flat", growth.len()));
    let changed: Vec<String> = growth
        .iter()
        .filter(|g| !g.plan_changes.is_empty())
        .map(|g| label(&g.variant, &g.op))
        .collect();
    if !changed.is_empty() {
        a.push_str(&format!("; plan changes with size: {}", changed.join(", ")));
    }
    a.push_str(&format!("; {seeding}"));
    a
}

/// The report page of a scale sweep.
pub fn page(s: &ScaleSweep) -> Page {
    Page {
        title: format!("clinicload sweep scale: {}", s.scenario),
        headline: s.answer.clone(),
        tone: if s.growth.iter().any(|g| g.verdict == "grows with the data") {
            Tone::Warn
        } else {
            Tone::Good
        },
        notes: {
            let mut n = vec![format!(
                "verdicts from the log-log slope of p50 against the rows of the tables each plan reads: >= {GROWS} grows with the data (a sequential scan is about 1), < {FLAT} flat"
            )];
            n.extend(s.notes.iter().cloned());
            n
        },
        tables: vec![growth_table(s), datasets_table(s)],
        charts: Vec::new(),
        plots: scale_plots(s),
        footer: vec![
            format!(
                "measured {:.0} s of {:.0} s in all (the rest is seeding, planning and restore)",
                s.measured_s, s.total_s
            ),
            format!("schema {}", s.schema),
        ],
    }
}

/// Per operation (and variant): p50 / p99 at each size, slope, verdict, access path.
fn growth_table(s: &ScaleSweep) -> Table {
    let sizes: Vec<&SizeStep> = s.steps.iter().collect();
    let mut columns: Vec<String> = vec!["operation".into()];
    columns.extend(
        sizes
            .iter()
            .map(|z| format!("p50 / p99 at {} clinics", z.clinics)),
    );
    columns.extend(["slope (log-log)".into(), "verdict".into(), "plan".into()]);
    let rows = s
        .growth
        .iter()
        .map(|g| {
            let mut row = vec![Cell::new(label(&g.variant, &g.op))];
            for z in &sizes {
                row.push(Cell::new(
                    z.ops
                        .iter()
                        .find(|o| o.variant == g.variant && o.op == g.op)
                        .map(|o| format!("{} / {}", fmt_us(o.p50_us), fmt_us(o.p99_us)))
                        .unwrap_or_else(|| "–".into()),
                ));
            }
            row.push(Cell::new(
                g.slope
                    .map(|v| format!("{v:.2} against {}", g.against))
                    .unwrap_or_else(|| "–".into()),
            ));
            row.push(Cell::toned(
                g.verdict.clone(),
                match g.verdict.as_str() {
                    "grows with the data" => Tone::Bad,
                    "grows slowly" => Tone::Warn,
                    "flat" => Tone::Good,
                    _ => Tone::Neutral,
                },
            ));
            let first = sizes
                .first()
                .and_then(|z| {
                    z.ops
                        .iter()
                        .find(|o| o.variant == g.variant && o.op == g.op)
                })
                .and_then(|o| o.path.clone());
            row.push(if g.plan_changes.is_empty() {
                Cell::new(first.unwrap_or_else(|| "–".into()))
            } else {
                Cell::toned(
                    format!(
                        "access path changed: {} first; {}",
                        first.unwrap_or_default(),
                        g.plan_changes.join("; ")
                    ),
                    Tone::Warn,
                )
            });
            row
        })
        .collect();
    Table {
        title: "Latency against dataset size".into(),
        columns,
        rows,
    }
}

/// Per size: the dataset, its largest tables, its seeding time and the run's report.
fn datasets_table(s: &ScaleSweep) -> Table {
    let sizes: Vec<&SizeStep> = s.steps.iter().collect();
    let size_rows = sizes
        .iter()
        .map(|z| {
            let big: Vec<String> = {
                let mut t = z.table_rows.clone();
                t.sort_by_key(|r| -r.1);
                t.iter().take(4).map(|(n, r)| format!("{n} {r}")).collect()
            };
            vec![
                Cell::new(z.clinics.to_string()),
                Cell::new(z.dataset.clone()),
                Cell::new(big.join(", ")),
                Cell::new(
                    z.seed_s
                        .map(|t| {
                            format!(
                                "{t:.1} s ({:.1} s per clinic{})",
                                t / z.clinics.max(1) as f64,
                                if z.seeded_now { "" } else { ", reused" }
                            )
                        })
                        .unwrap_or_else(|| "–".into()),
                ),
                Cell::new(z.dir.clone()),
            ]
        })
        .collect();
    Table {
        title: "Datasets".into(),
        columns: [
            "clinics",
            "database",
            "largest tables (rows)",
            "seeding",
            "run",
        ]
        .map(String::from)
        .to_vec(),
        rows: size_rows,
    }
}

/// p50 of each operation and the seeding time, against the clinics.
fn scale_plots(s: &ScaleSweep) -> Vec<Plot> {
    let sizes: Vec<&SizeStep> = s.steps.iter().collect();
    let mut latency = Vec::new();
    for g in &s.growth {
        let pts: Vec<(f64, f64)> = sizes
            .iter()
            .filter_map(|z| {
                z.ops
                    .iter()
                    .find(|o| o.variant == g.variant && o.op == g.op && o.count > 0)
                    .map(|o| (z.clinics as f64, o.p50_us as f64 / 1000.0))
            })
            .collect();
        latency.push((label(&g.variant, &g.op), pts));
    }
    let seed: Vec<(f64, f64)> = sizes
        .iter()
        .filter_map(|z| z.seed_s.map(|t| (z.clinics as f64, t)))
        .collect();
    vec![
        Plot {
            title: "p50 against dataset size".into(),
            x_label: "clinics".into(),
            y_label: "p50 (ms, log scale)".into(),
            y_log: true,
            series: latency,
        },
        Plot {
            title: "Seeding time against dataset size".into(),
            x_label: "clinics".into(),
            y_label: "seconds".into(),
            y_log: false,
            series: vec![("seed".into(), seed)],
        },
    ]
}

pub fn write(dir: &Path, s: &ScaleSweep) -> Result<()> {
    crate::report::write_atomic(
        &dir.join("sweep.json"),
        format!("{}\n", serde_json::to_string_pretty(s)?).as_bytes(),
    )?;
    let p = page(s);
    crate::report::write_atomic(
        &dir.join("report.html"),
        crate::report::page::html(&p).as_bytes(),
    )?;
    crate::report::write_atomic(
        &dir.join("summary.md"),
        crate::report::page::markdown(&p, usize::MAX).as_bytes(),
    )
}

/// Prints the answer and where the report is; 0, or 130 when interrupted.
pub fn finish(s: &ScaleSweep, dir: &Path) -> ExitCode {
    println!("{}", s.answer);
    for g in &s.growth {
        println!(
            "  {:<40} {:<20} {}",
            label(&g.variant, &g.op),
            g.verdict,
            g.slope.map(|v| format!("slope {v:.2}")).unwrap_or_default()
        );
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    println!("report: {}", dir.join("report.html").display());
    if s.notes.iter().any(|n| n.starts_with("interrupted")) {
        return crate::exit::code(crate::exit::INTERRUPTED);
    }
    crate::exit::code(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_power_law_is_its_exponent() {
        let linear: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0].iter().map(|x| (*x, 3.0 * x)).collect();
        assert!((log_log_slope(&linear).unwrap() - 1.0).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = [1.0, 2.0, 4.0].iter().map(|x| (*x, 0.4)).collect();
        assert!(log_log_slope(&flat).unwrap().abs() < 1e-9);
        assert_eq!(log_log_slope(&[(2.0, 1.0)]), None);
        assert_eq!(log_log_slope(&[(2.0, 1.0), (2.0, 3.0)]), None);
        assert_eq!(growth_verdict(Some(0.95)), "grows with the data");
        assert_eq!(growth_verdict(Some(0.1)), "flat");
        assert_eq!(growth_verdict(Some(0.3)), "grows slowly");
    }

    fn step(clinics: u32, p50: u64, rows: i64, path: &str) -> SizeStep {
        SizeStep {
            clinics,
            dataset: format!("d{clinics}"),
            table_rows: vec![("encounters".into(), rows)],
            seed_s: Some(clinics as f64 * 2.0),
            seeded_now: true,
            ops: vec![OpAtSize {
                variant: String::new(),
                op: "patient_encounters".into(),
                store: "postgres".into(),
                count: 100,
                p50_us: p50,
                p99_us: p50 * 2,
                path: Some(path.into()),
                rows_read: Some(rows),
            }],
            measured_s: 1.0,
            dir: String::new(),
        }
    }

    #[test]
    fn growth_names_the_plan_change() {
        let steps = vec![
            step(1, 300, 10_000, "encounters: Index Scan using i"),
            step(2, 900, 20_000, "encounters: Seq Scan"),
            step(4, 1_800, 40_000, "encounters: Seq Scan"),
        ];
        let g = growth(&steps);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].verdict, "grows with the data");
        assert_eq!(g[0].against, "rows read");
        assert_eq!(g[0].plan_changes, ["at 2 clinics: encounters: Seq Scan"]);
        let seeding = seeding_text(&steps, log_log_slope(&[(1.0, 2.0), (2.0, 4.0), (4.0, 8.0)]));
        assert!(seeding.contains("linear in the clinics"), "{seeding}");
    }
}
