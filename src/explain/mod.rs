//! `clinicload explain SCENARIO`: the plan of every PostgreSQL read of a scenario, with keys
//! drawn from the seeded dataset the way the run draws them, so an engineer sees which index
//! each documented query uses before a release instead of running EXPLAIN by hand.
//!
//! Per operation and sample: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` of the exact statement
//! the run sends, summarised by [`plan`] (access path per table, rows examined vs returned,
//! buffers, time); and the plan the server uses for the prepared statement the load runs
//! (PostgreSQL 15: `PREPARE` plus `plan_cache_mode = force_generic_plan` and
//! `EXPLAIN EXECUTE`) against the custom plan for the same key, flagged when they differ.
//! Output: a table on the terminal, `plans.json` and `plans.html`.

pub mod expect;
pub mod mongo;
pub mod plan;
pub mod scale;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::config::{redact, Targets};
use crate::report::page::{self, Cell, Page, Table, Tone};
use crate::scenario::catalog::Catalog;
use crate::scenario::ops::{mongo::find_query, postgres::read_query, Store};
use crate::scenario::spec::{self, Overrides};
use crate::schema::mongo::CLINICAL_NOTES;
use plan::PlanSummary;

/// Schema of `plans.json`.
pub const SCHEMA: &str = "clinicload.plans/1";

/// Options of `clinicload explain`.
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    pub scenario: PathBuf,
    /// Keys drawn per operation.
    pub samples: usize,
    /// Where `<time>-<scenario>-explain/` goes.
    pub out: PathBuf,
    /// Judge the expectations on datasets of N and 2N clinics instead (`scale`).
    pub at_scale: Option<scale::AtScale>,
}

/// One key's plans.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The key the statement was run with (a uuid; for MongoDB, the find's filter).
    pub key: String,
    /// Which kind of plan `analyzed` was read from (PostgreSQL, MongoDB, or FerretDB's
    /// backing PostgreSQL plan).
    pub plan_kind: &'static str,
    /// EXPLAIN ANALYZE of the statement with this key (the custom plan).
    pub analyzed: PlanSummary,
    /// The generic plan of the prepared statement (estimates only).
    pub generic: PlanSummary,
    /// Whether the generic plan reads the tables differently from the custom one.
    pub generic_differs: bool,
    /// The raw JSON plans, as PostgreSQL gave them.
    pub raw_analyzed: Value,
    pub raw_generic: Value,
    /// With `expect`: the executed plan with sequential scans disabled, which decides
    /// whether an unmet expectation fails or is not judged at this scale.
    pub forced: Option<PlanSummary>,
}

/// One operation's plans.
#[derive(Debug, Clone, Serialize)]
pub struct OpPlans {
    pub op: String,
    pub store: &'static str,
    /// "postgresql EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)", or why it was not explained.
    pub plan_source: String,
    pub sql: Option<String>,
    pub samples: Vec<Sample>,
}

/// `plans.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Plans {
    pub schema: &'static str,
    pub created_at: String,
    pub scenario: String,
    pub server: String,
    pub dataset: Option<String>,
    /// Rows per table the plans ran against (`pg_class.reltuples`).
    pub table_rows: Vec<(String, i64)>,
    pub operations: Vec<OpPlans>,
    /// Each expectation of the scenario judged on each sample's plan.
    pub expectations: Vec<expect::Verdict>,
}

impl Plans {
    pub fn failed(&self) -> impl Iterator<Item = &expect::Verdict> {
        self.expectations
            .iter()
            .filter(|v| v.outcome == expect::Outcome::Fail)
    }
}

/// Runs EXPLAIN (ANALYZE, BUFFERS) for one statement and key, inside a transaction that is
/// rolled back (explaining changes nothing even for a write); `no_seq_scan` plans it with
/// `enable_seqscan = off`, the plan an index would give.
async fn explain_one(
    conn: &mut PgConnection,
    sql: &str,
    key: Uuid,
    no_seq_scan: bool,
) -> Result<Value> {
    let options = "ANALYZE, BUFFERS, FORMAT JSON";
    let mut tx = conn.begin().await?;
    if no_seq_scan {
        sqlx::raw_sql("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await?;
    }
    let v: Value = sqlx::query_scalar(&format!("EXPLAIN ({options}) {sql}"))
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .context("EXPLAIN")?;
    tx.rollback().await?;
    Ok(v)
}

/// The plan of `sql` when `index` is the only index its table has besides unique ones and
/// the primary key, with sequential scans disabled: whether the index can serve the query at
/// all. Inside a transaction that is rolled back (the other indexes are dropped only within
/// it; the table is locked for those few milliseconds, as any DDL would: run explain on a
/// test database). None when there is no such index.
async fn plan_with_only(
    conn: &mut PgConnection,
    sql: &str,
    key: Uuid,
    index: &str,
) -> Result<Option<PlanSummary>> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql("SET LOCAL enable_seqscan = off; SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await?;
    let table: Option<String> = sqlx::query_scalar(
        "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass($1)",
    )
    .bind(index)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(table) = table else {
        tx.rollback().await?;
        return Ok(None);
    };
    let others: Vec<String> = sqlx::query_scalar(
        "SELECT indexrelid::regclass::text FROM pg_index
         WHERE indrelid = to_regclass($1) AND indexrelid <> to_regclass($2)
           AND NOT indisunique AND NOT indisprimary",
    )
    .bind(&table)
    .bind(index)
    .fetch_all(&mut *tx)
    .await?;
    for other in others {
        sqlx::raw_sql(&format!("DROP INDEX {other}"))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("setting {other} aside (in a transaction rolled back)"))?;
    }
    let v: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .context("EXPLAIN")?;
    tx.rollback().await?;
    Ok(plan::summarize(&v))
}

/// The generic plan of `sql` prepared, for `key` (PostgreSQL 15 has no EXPLAIN
/// (GENERIC_PLAN): a prepared statement with `plan_cache_mode = force_generic_plan`).
async fn generic_plan(conn: &mut PgConnection, sql: &str, key: Uuid) -> Result<Value> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(&format!(
        "PREPARE clinicload_explain AS {}",
        sql.trim_end_matches(';')
    ))
    .execute(&mut *tx)
    .await
    .context("PREPARE")?;
    let v: Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) EXECUTE clinicload_explain('{key}')"
    ))
    .fetch_one(&mut *tx)
    .await
    .context("EXPLAIN EXECUTE")?;
    sqlx::raw_sql("DEALLOCATE clinicload_explain")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(v)
}

/// Explains every PostgreSQL read of the scenario.
pub async fn explain(targets: &Targets, opts: &ExplainOptions) -> Result<Plans> {
    let scenario = spec::load(&opts.scenario, &Overrides::default())?;
    if opts.samples == 0 || opts.samples > 100 {
        crate::usage!("--samples {}: give 1 to 100", opts.samples);
    }
    explain_scenario(targets, &scenario, opts.samples, false).await
}

/// What planning a scenario's statements needs: its stores (versions read), the keys sampled
/// from the dataset the way the run samples them, and a connection of its own (hypothetical
/// indexes made on it count for its plans).
pub struct PlanSession {
    pub stores: crate::scenario::ops::Stores,
    pub servers: std::collections::BTreeMap<String, String>,
    pub catalog: Catalog,
    pub conn: PgConnection,
}

impl PlanSession {
    pub async fn open(targets: &Targets, scenario: &spec::Scenario) -> Result<PlanSession> {
        let (stores, servers) = crate::scenario::open_stores(targets, scenario).await?;
        let catalog = Catalog::load(scenario, &stores).await?;
        let conn = PgConnection::connect(&targets.database_url)
            .await
            .with_context(|| {
                format!(
                    "connecting to PostgreSQL at {}",
                    redact(&targets.database_url)
                )
            })?;
        Ok(PlanSession {
            stores,
            servers,
            catalog,
            conn,
        })
    }
}

/// The table sizes of the tables a plan reads, for messages ("tasks: 438 rows").
fn sizes_of(plan: &PlanSummary, table_rows: &[(String, i64)]) -> String {
    plan.accesses
        .iter()
        .map(|a| {
            let n = table_rows
                .iter()
                .find(|(t, _)| *t == a.relation)
                .map_or(0, |(_, n)| *n);
            format!("{}: {n} rows", a.relation)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Explains the operations of a loaded scenario (`only_expected`: only those with an
/// `expect`, as `run` checks them before its load).
pub async fn explain_scenario(
    targets: &Targets,
    scenario: &spec::Scenario,
    samples: usize,
    only_expected: bool,
) -> Result<Plans> {
    // Only the stores and samples the explained operations need.
    let mut narrowed;
    let scenario = if only_expected {
        narrowed = scenario.clone();
        narrowed.ops.retain(|o| o.expect.is_some());
        narrowed.cache.clear();
        narrowed.variants.clear();
        &narrowed
    } else {
        scenario
    };
    let session = PlanSession::open(targets, scenario).await?;
    let (stores, servers, catalog, mut conn) = (
        session.stores,
        session.servers,
        session.catalog,
        session.conn,
    );
    let table_rows = table_rows(&mut conn).await;
    let mut rng = SmallRng::seed_from_u64(scenario.seed);
    let mut operations = Vec::new();
    let mut expectations = Vec::new();
    for spec in &scenario.ops {
        if only_expected && spec.expect.is_none() {
            continue;
        }
        let mut op = OpPlans {
            op: spec.name().to_string(),
            store: store_name(spec.def.store),
            plan_source: String::new(),
            sql: None,
            samples: Vec::new(),
        };
        if let (Some(db), Some(_)) = (
            stores.mongo.as_ref(),
            find_query(spec.def.kind, spec, &catalog, &mut rng.clone()),
        ) {
            for _ in 0..samples {
                let sample =
                    explain_mongo_sample(db, spec, &catalog, &mut rng, &mut expectations).await?;
                op.plan_source = sample.plan_kind.to_string();
                op.sql = Some(spec.def.query.to_string());
                op.samples.push(sample);
            }
            operations.push(op);
            continue;
        }
        if read_query(spec.def.kind, spec, &catalog, &mut rng.clone()).is_none() {
            op.plan_source = not_explained_reason(spec.def.store).into();
            operations.push(op);
            continue;
        }
        op.plan_source = "PostgreSQL EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON); generic plan via PREPARE + plan_cache_mode".into();
        for _ in 0..samples {
            let (sql, key) =
                read_query(spec.def.kind, spec, &catalog, &mut rng).expect("a keyed read");
            op.sql = Some(sql.to_string());
            let sample =
                explain_postgres_sample(&mut conn, spec, sql, key, &table_rows, &mut expectations)
                    .await?;
            op.samples.push(sample);
        }
        operations.push(op);
    }
    conn.close().await.ok();
    Ok(Plans {
        schema: SCHEMA,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        scenario: scenario.name.clone(),
        server: servers.get("postgres").cloned().unwrap_or_default(),
        dataset: catalog.dataset.as_ref().map(|d| d.fingerprint.clone()),
        table_rows,
        operations,
        expectations,
    })
}

/// Rows per table of the public schema, largest first (`pg_class.reltuples`; none if the
/// query fails).
async fn table_rows(conn: &mut PgConnection) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT c.relname::text, c.reltuples::bigint FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.reltuples DESC",
    )
    .fetch_all(conn)
    .await
    .unwrap_or_default()
}

/// The store's name in `plans.json`.
fn store_name(store: Store) -> &'static str {
    match store {
        Store::Postgres => "postgres",
        Store::Mongo => "mongo",
        Store::Redis => "redis",
    }
}

/// Why an operation of this store that is not a keyed read or find has no plan.
fn not_explained_reason(store: Store) -> &'static str {
    match store {
        Store::Postgres => {
            "not explained: a write or a calibration operation (explain covers the keyed reads)"
        }
        Store::Mongo => "not explained: explain covers the keyed finds of clinicalNotes",
        Store::Redis => "not explained: Redis has no plans",
    }
}

/// Explains one drawn find of a MongoDB operation (executionStats) and judges its
/// expectation on the plan.
async fn explain_mongo_sample(
    db: &mongodb::Database,
    spec: &spec::OpSpec,
    catalog: &Catalog,
    rng: &mut SmallRng,
    expectations: &mut Vec<expect::Verdict>,
) -> Result<Sample> {
    let (filter, sort, limit) =
        find_query(spec.def.kind, spec, catalog, rng).expect("a keyed find");
    let mut find =
        mongodb::bson::doc! { "find": CLINICAL_NOTES, "filter": filter.clone(), "limit": limit };
    if let Some(sort) = sort {
        find.insert("sort", sort);
    }
    let answer = db
        .run_command(mongodb::bson::doc! { "explain": find, "verbosity": "executionStats" })
        .await
        .with_context(|| format!("explain of {} on MongoDB", spec.name()))?;
    let raw = mongodb::bson::Bson::Document(answer).into_relaxed_extjson();
    let (analyzed, kind) = mongo::summarize(&raw, CLINICAL_NOTES)
        .context("a MongoDB explain answer with no plan in it")?;
    if let Some(e) = &spec.expect {
        expectations.extend(expect::judge_mongo(
            spec.name(),
            e,
            &analyzed,
            kind,
            CLINICAL_NOTES,
        ));
    }
    Ok(Sample {
        key: mongodb::bson::Bson::Document(filter)
            .into_relaxed_extjson()
            .to_string(),
        plan_kind: kind,
        analyzed,
        generic: PlanSummary::default(),
        generic_differs: false,
        raw_analyzed: raw,
        raw_generic: Value::Null,
        forced: None,
    })
}

/// Explains one drawn key of a PostgreSQL read: the analyzed and the generic plan, and for
/// an operation with an expectation the forced plans it is judged on.
async fn explain_postgres_sample(
    conn: &mut PgConnection,
    spec: &spec::OpSpec,
    sql: &'static str,
    key: Uuid,
    table_rows: &[(String, i64)],
    expectations: &mut Vec<expect::Verdict>,
) -> Result<Sample> {
    let raw_analyzed = explain_one(conn, sql, key, false)
        .await
        .with_context(|| format!("explaining {}", spec.name()))?;
    let raw_generic = generic_plan(conn, sql, key)
        .await
        .with_context(|| format!("the generic plan of {}", spec.name()))?;
    let analyzed = plan::summarize(&raw_analyzed).context("an EXPLAIN without a plan")?;
    let generic = plan::summarize(&raw_generic).context("an EXPLAIN without a plan")?;
    let mut forced = None;
    if let Some(e) = &spec.expect {
        let raw = explain_one(conn, sql, key, true)
            .await
            .with_context(|| format!("explaining {} with enable_seqscan off", spec.name()))?;
        let f = plan::summarize(&raw).context("an EXPLAIN without a plan")?;
        let sizes = sizes_of(&analyzed, table_rows);
        let served = match &e.uses_index {
            // Only when the plan does not already use it: this takes a lock.
            Some(index) if !expect::uses(&analyzed, index) => plan_with_only(conn, sql, key, index)
                .await
                .with_context(|| format!("planning {} with only {index}", spec.name()))?,
            _ => None,
        };
        expectations.extend(expect::judge(
            spec.name(),
            e,
            &analyzed,
            &f,
            served.as_ref(),
            &sizes,
        ));
        forced = Some(f);
    }
    Ok(Sample {
        key: key.to_string(),
        plan_kind: "PostgreSQL EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)",
        generic_differs: analyzed.shape() != generic.shape(),
        analyzed,
        generic,
        raw_analyzed,
        raw_generic,
        forced,
    })
}

/// One operation's planned access path (EXPLAIN without ANALYZE: the planner's choice and
/// cost, nothing executed), for comparing schemas (`crate::index_ab`).
#[derive(Debug, Clone, Serialize)]
pub struct OpPath {
    pub op: String,
    pub plan: PlanSummary,
}

/// `scenario` with only its PostgreSQL operations and no variants: what plans are read from
/// (sampling MongoDB keys for nothing costs seconds on FerretDB).
pub fn postgres_only(scenario: &spec::Scenario) -> spec::Scenario {
    let mut s = scenario.clone();
    s.ops.retain(|o| o.def.store == Store::Postgres);
    s.cache.clear();
    s.variants.clear();
    s
}

/// The planned access path of each keyed PostgreSQL read of `scenario`, one key each (the
/// first the run's seed draws), on `conn` (so hypothetical indexes made on it count).
pub async fn access_paths(
    conn: &mut PgConnection,
    scenario: &spec::Scenario,
    catalog: &Catalog,
) -> Result<Vec<OpPath>> {
    let mut out = Vec::new();
    for spec in &scenario.ops {
        let mut rng = SmallRng::seed_from_u64(scenario.seed);
        let Some((sql, key)) = read_query(spec.def.kind, spec, catalog, &mut rng) else {
            continue;
        };
        let raw: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("EXPLAIN of {}", spec.name()))?;
        let plan = plan::summarize(&raw).context("an EXPLAIN without a plan")?;
        out.push(OpPath {
            op: spec.name().to_string(),
            plan,
        });
    }
    Ok(out)
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3} ms"))
        .unwrap_or_else(|| "–".into())
}

/// The plans as a report page: one row per sample, then each operation's plan tree.
pub fn page(p: &Plans) -> Page {
    let mut rows = Vec::new();
    let mut differs = 0;
    let mut seq = 0;
    for op in &p.operations {
        if op.samples.is_empty() {
            rows.push(vec![
                Cell::new(&op.op),
                Cell::new("–"),
                Cell::new(&op.plan_source),
                Cell::new("–"),
                Cell::new("–"),
                Cell::new("–"),
                Cell::new("–"),
            ]);
            continue;
        }
        for s in &op.samples {
            let a = &s.analyzed;
            let has_seq = a.accesses.iter().any(plan::Access::is_seq_scan);
            seq += has_seq as usize;
            differs += s.generic_differs as usize;
            rows.push(vec![
                Cell::new(&op.op),
                Cell::new(&s.key),
                Cell::toned(
                    a.access_line(),
                    if has_seq { Tone::Warn } else { Tone::Neutral },
                ),
                Cell::new(format!(
                    "{:.0} / {:.0} ({:.1} per row)",
                    a.examined,
                    a.returned,
                    a.examined_per_row()
                )),
                Cell::new(format!("{} hit, {} read", a.shared_hit, a.shared_read)),
                Cell::new(ms(a.execution_ms)),
                if s.generic_differs {
                    Cell::toned(format!("differs: {}", s.generic.access_line()), Tone::Warn)
                } else {
                    Cell::new("same")
                },
            ]);
        }
    }
    let mut tables = vec![Table {
        title: "Plans per operation and key".into(),
        columns: [
            "operation",
            "key",
            "access path (custom plan, executed)",
            "examined / returned rows",
            "buffers",
            "execution",
            "generic plan (prepared)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }];
    tables.push(Table {
        title: "Rows per table".into(),
        columns: vec!["table".into(), "rows (estimate)".into()],
        rows: p
            .table_rows
            .iter()
            .map(|(t, n)| vec![Cell::new(t), Cell::new(n.to_string())])
            .collect(),
    });
    if !p.expectations.is_empty() {
        tables.insert(
            0,
            Table {
                title: "Expectations".into(),
                columns: ["operation", "expectation", "verdict", "detail"]
                    .map(String::from)
                    .to_vec(),
                rows: p
                    .expectations
                    .iter()
                    .map(|v| {
                        vec![
                            Cell::new(&v.op),
                            Cell::new(&v.expectation),
                            match v.outcome {
                                expect::Outcome::Pass => Cell::toned("pass", Tone::Good),
                                expect::Outcome::Fail => Cell::toned("FAIL", Tone::Bad),
                                expect::Outcome::NotJudged => {
                                    Cell::toned("not judged at this scale", Tone::Warn)
                                }
                            },
                            Cell::new(&v.detail),
                        ]
                    })
                    .collect(),
            },
        );
    }
    let mut notes = vec![format!(
        "Plans from {} on dataset {}; keys drawn the way the run draws them.",
        p.server,
        p.dataset.as_deref().unwrap_or("not seeded by clinicload")
    )];
    for op in &p.operations {
        if let Some(s) = op.samples.first() {
            notes.push(format!("{} plan:\n{}", op.op, s.analyzed.tree.trim_end()));
        }
    }
    let failed = p.failed().count();
    Page {
        title: format!("clinicload explain: {}", p.scenario),
        headline: format!(
            "{}{seq} samples with a sequential scan; {differs} whose prepared (generic) plan differs from the custom one",
            if failed > 0 {
                format!("{failed} EXPECTATIONS FAILED; ")
            } else {
                String::new()
            }
        ),
        tone: if failed > 0 {
            Tone::Bad
        } else if seq + differs > 0 {
            Tone::Warn
        } else {
            Tone::Good
        },
        notes,
        tables,
        charts: Vec::new(),
        plots: Vec::new(),
        footer: Vec::new(),
    }
}

/// Writes `plans.json` and `plans.html` into `dir`.
pub fn write(dir: &Path, p: &Plans) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(p)? + "\n";
    crate::report::write_atomic(&dir.join("plans.json"), json.as_bytes())?;
    crate::report::write_atomic(&dir.join("plans.html"), page::html(&page(p)).as_bytes())?;
    Ok(())
}

/// `clinicload explain`.
pub async fn explain_command(targets: &Targets, opts: &ExplainOptions) -> Result<ExitCode> {
    if let Some(at) = &opts.at_scale {
        return at_scale_command(targets, opts, at).await;
    }
    // Not beside a live run: its variant may have an index dropped (the plans would be of
    // that schema), and judging `uses_index` sets the table's other indexes aside inside a
    // rolled-back transaction, which locks the table under the run's queries.
    let lock =
        crate::restore::lock::take(targets, crate::restore::lock::Hold::Exclusive, "explain")
            .await?;
    let plans = explain(targets, opts).await?;
    lock.release().await;
    for op in &plans.operations {
        if op.samples.is_empty() {
            println!("{:<24} {}", op.op, op.plan_source);
            continue;
        }
        for s in &op.samples {
            let a = &s.analyzed;
            println!(
                "{:<24} {}  examined {:.0} / returned {:.0}  {} hit {} read  {}{}",
                op.op,
                a.access_line(),
                a.examined,
                a.returned,
                a.shared_hit,
                a.shared_read,
                ms(a.execution_ms),
                if s.generic_differs {
                    format!("  GENERIC PLAN DIFFERS: {}", s.generic.access_line())
                } else {
                    String::new()
                }
            );
        }
    }
    let dir = opts.out.join(format!(
        "{}-explain",
        crate::report::run_id(&plans.scenario, chrono::Utc::now())
    ));
    write(&dir, &plans)?;
    print_expectations(&plans);
    println!("plans: {}", dir.join("plans.html").display());
    if plans.failed().next().is_some() {
        return Ok(crate::exit::code(crate::exit::EXPECTATION_FAILED));
    }
    Ok(crate::exit::code(crate::exit::OK))
}

/// `clinicload explain --at-scale N`: the expectations at N and 2N clinics.
async fn at_scale_command(
    targets: &Targets,
    opts: &ExplainOptions,
    at: &scale::AtScale,
) -> Result<ExitCode> {
    let scenario = spec::load(&opts.scenario, &Overrides::default())?;
    if opts.samples == 0 || opts.samples > 100 {
        crate::usage!("--samples {}: give 1 to 100", opts.samples);
    }
    {
        use crate::restore::lock;
        let held = lock::take(targets, lock::Hold::Exclusive, "explain").await?;
        crate::restore::index_changes::undo_pending(targets).await?;
        held.release().await;
    }
    let (report, plans) = scale::explain_at_scale(targets, &scenario, opts.samples, at).await?;
    for d in &report.datasets {
        let shown: Vec<String> = d
            .table_rows
            .iter()
            .take(6)
            .map(|(t, r)| format!("{t} {r}"))
            .collect();
        println!(
            "{} clinics of {}: {}",
            d.clinics,
            report.profile,
            shown.join(", ")
        );
    }
    for c in &report.confirmations {
        let line = format!("expect {} {}: {}", c.op, c.expectation, c.verdict);
        if c.failed {
            eprintln!("error: {line}");
        } else {
            println!("{line}");
        }
    }
    let dir = opts.out.join(format!(
        "{}-explain-at-scale",
        crate::report::run_id(&scenario.name, chrono::Utc::now())
    ));
    scale::write(&dir, &report, &plans)?;
    println!("plans: {}", dir.display());
    if report.confirmations.iter().any(|c| c.failed) {
        return Ok(crate::exit::code(crate::exit::EXPECTATION_FAILED));
    }
    Ok(crate::exit::code(crate::exit::OK))
}

/// Prints each expectation's outcome, one line per expectation however many keys were
/// sampled: a pass with its count; a "not judged" with the first sample's reason and how
/// many samples it covers; a failure with the first failing sample's plan and its count.
pub fn print_expectations(plans: &Plans) {
    for group in group_by_expectation(&plans.expectations) {
        let n = group.len();
        let first_of = |outcome: expect::Outcome| group.iter().find(|v| v.outcome == outcome);
        let count_of =
            |outcome: expect::Outcome| group.iter().filter(|v| v.outcome == outcome).count();
        let (op, expectation) = (&group[0].op, &group[0].expectation);
        if let Some(v) = first_of(expect::Outcome::Fail) {
            eprintln!(
                "error: expect {op} {expectation} FAILED in {} of {n} samples; the first: {}\n  plan:\n{}",
                count_of(expect::Outcome::Fail),
                v.detail,
                v.plan
                    .lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        } else if let Some(v) = first_of(expect::Outcome::NotJudged) {
            eprintln!(
                "warning: expect {op} {expectation}: not judged at this scale in {} of {n} samples; the first: {}",
                count_of(expect::Outcome::NotJudged),
                v.detail
            );
        } else {
            println!("expect {op} {expectation}: pass ({n} of {n} samples)");
        }
    }
}

/// The verdicts of each (operation, expectation), in the order they were first met.
fn group_by_expectation(verdicts: &[expect::Verdict]) -> Vec<Vec<&expect::Verdict>> {
    let mut groups: Vec<Vec<&expect::Verdict>> = Vec::new();
    for v in verdicts {
        match groups
            .iter_mut()
            .find(|g| g[0].op == v.op && g[0].expectation == v.expectation)
        {
            Some(g) => g.push(v),
            None => groups.push(vec![v]),
        }
    }
    groups
}

/// A failed expectation at the start of `run` (exit 6).
#[derive(Debug)]
pub struct ExpectationFailed(pub String);

impl std::fmt::Display for ExpectationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExpectationFailed {}

/// Before a run: judges the scenario's expectations (3 keys per operation); a failure stops
/// the run with [`ExpectationFailed`], since the latencies of a wrong plan mislead.
pub async fn check_before_run(targets: &Targets, scenario: &spec::Scenario) -> Result<()> {
    if scenario.ops.iter().all(|o| o.expect.is_none()) {
        return Ok(());
    }
    let plans = explain_scenario(targets, scenario, 3, true).await?;
    print_expectations(&plans);
    let failed: Vec<String> = crate::compare::unique(
        plans
            .failed()
            .map(|v| format!("{} {}", v.op, v.expectation))
            .collect(),
    );
    if !failed.is_empty() {
        return Err(anyhow::Error::new(ExpectationFailed(format!(
            "expectations failed before the run: {}; the plans are above (clinicload explain shows them in full); the run did not start",
            failed.join(", ")
        ))));
    }
    Ok(())
}
