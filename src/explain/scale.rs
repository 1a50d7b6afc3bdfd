//! `clinicload explain SCENARIO --at-scale N`: an expectation judged at one size says little
//! about another, so the PostgreSQL expectations are judged on datasets of N and 2N clinics of
//! a profile, and one that holds is *confirmed* only when it holds at both. The datasets are
//! scratch databases beside the target one (`<database>_scale_<profile>_<n>`), seeded
//! PostgreSQL-only by this same binary with the target dataset's seed and as-of date, and
//! kept for the next time (a complete dataset is not seeded again; drop them with
//! `DROP DATABASE` when done).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use super::expect::Outcome;
use super::Plans;
use crate::config::{redact, Targets};
use crate::scenario::spec::Scenario;

/// `--at-scale N --profile P`.
#[derive(Debug, Clone)]
pub struct AtScale {
    pub clinics: u32,
    pub profile: String,
}

/// One expectation at both sizes.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    pub op: String,
    pub expectation: String,
    /// (clinics, outcome, detail) per size, smallest first.
    pub at: Vec<(u32, Outcome, String)>,
    /// "confirmed at N and 2N", "fails at ...", "not judged at ...".
    pub verdict: String,
    pub failed: bool,
}

/// One size's dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub clinics: u32,
    pub fingerprint: String,
    /// Rows per table (`pg_class.reltuples`).
    pub table_rows: Vec<(String, i64)>,
}

/// `scale.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub schema: &'static str,
    pub profile: String,
    pub datasets: Vec<Dataset>,
    pub confirmations: Vec<Confirmation>,
}

pub const SCHEMA: &str = "clinicload.explain_scale/1";

fn scratch_name(database: &str, profile: &str, clinics: u32) -> Result<String> {
    let name = format!("{database}_scale_{profile}_{clinics}").to_lowercase();
    if name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!(
            "the scratch database for --at-scale would be named {name:?}, which is not a plain PostgreSQL name of at most 63 characters: use a shorter database name"
        );
    }
    Ok(name)
}

/// The target's dataset seed and as-of date (the scratch datasets are seeded alike).
async fn seed_and_as_of(targets: &Targets) -> (i64, String) {
    let fallback = (7, chrono::Utc::now().format("%Y-%m-%d").to_string());
    let Ok(mut conn) = PgConnection::connect(&targets.database_url).await else {
        return fallback;
    };
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT seed, as_of::text FROM clinicload_meta.dataset LIMIT 1")
            .fetch_optional(&mut conn)
            .await
            .ok()
            .flatten();
    conn.close().await.ok();
    row.unwrap_or(fallback)
}

/// The targets of a scratch dataset of `clinics` clinics, created and seeded if needed.
async fn dataset(targets: &Targets, at: &AtScale, clinics: u32) -> Result<Targets> {
    let mut url = url::Url::parse(&targets.database_url)
        .with_context(|| format!("DATABASE_URL {}", redact(&targets.database_url)))?;
    let database = url.path().trim_start_matches('/').to_string();
    let name = scratch_name(&database, &at.profile, clinics)?;
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::connect(admin_url.as_str())
        .await
        .with_context(|| format!("connecting to {}", redact(admin_url.as_str())))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        eprintln!(
            "--at-scale: creating scratch database {name} for {clinics} clinics of profile {}",
            at.profile
        );
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .with_context(|| {
                format!("creating scratch database {name} (the role needs CREATEDB)")
            })?;
        sqlx::raw_sql(&format!(
            "COMMENT ON DATABASE \"{name}\" IS 'clinicload explain --at-scale: {clinics} clinics of {}, seeded PostgreSQL-only'",
            at.profile
        ))
        .execute(&mut admin)
        .await
        .ok();
    }
    admin.close().await.ok();
    url.set_path(&format!("/{name}"));
    let scratch = Targets {
        database_url: url.to_string(),
        mongo_database: Some(name.clone()),
        ..targets.clone()
    };
    let (seed, as_of) = seed_and_as_of(targets).await;
    let exe = std::env::current_exe().context("finding the clinicload binary")?;
    let run = |args: Vec<String>| {
        std::process::Command::new(&exe)
            .args(&args)
            .env("DATABASE_URL", &scratch.database_url)
            .env("MONGODB_URI", &scratch.mongodb_uri)
            .env("MONGODB_DATABASE", &name)
            .env("REDIS_URL", &scratch.redis_url)
            .stdout(std::process::Stdio::null())
            .status()
    };
    let status = run(vec!["migrate".into()]).context("running clinicload migrate")?;
    if !status.success() {
        bail!("clinicload migrate on scratch database {name} failed (its messages are above)");
    }
    eprintln!(
        "--at-scale: seeding {name}: {clinics} clinics of profile {}, seed {seed}, as-of {as_of}, PostgreSQL only (resumed or skipped when already there)",
        at.profile
    );
    let status = run(vec![
        "seed".into(),
        "--profile".into(),
        at.profile.clone(),
        "--clinics".into(),
        clinics.to_string(),
        "--seed".into(),
        seed.to_string(),
        "--as-of".into(),
        as_of,
        "--postgres-only".into(),
    ])
    .context("running clinicload seed")?;
    if !status.success() {
        bail!(
            "seeding scratch database {name} failed (its messages are above); drop it with DROP DATABASE {name} if it holds something else"
        );
    }
    Ok(scratch)
}

/// Judges `scenario`'s PostgreSQL expectations at N and 2N clinics.
pub async fn explain_at_scale(
    targets: &Targets,
    scenario: &Scenario,
    samples: usize,
    at: &AtScale,
) -> Result<(ScaleReport, Vec<(u32, Plans)>)> {
    if at.clinics == 0 || at.clinics > 10_000 {
        crate::usage!("--at-scale {}: give 1 to 10000 clinics", at.clinics);
    }
    let pg_only = super::postgres_only(scenario);
    if pg_only.ops.iter().all(|o| o.expect.is_none()) {
        crate::usage!(
            "--at-scale judges expectations, and {} states none on its PostgreSQL operations (expect = {{ uses_index = ... }})",
            scenario.file.display()
        );
    }
    let mut plans = Vec::new();
    for clinics in [at.clinics, at.clinics * 2] {
        let t = dataset(targets, at, clinics).await?;
        let p = super::explain_scenario(&t, &pg_only, samples, true)
            .await
            .with_context(|| format!("explaining at {clinics} clinics"))?;
        plans.push((clinics, p));
    }
    let mut confirmations: Vec<Confirmation> = Vec::new();
    for (clinics, p) in &plans {
        for v in &p.expectations {
            let c = match confirmations
                .iter_mut()
                .find(|c| c.op == v.op && c.expectation == v.expectation)
            {
                Some(c) => c,
                None => {
                    confirmations.push(Confirmation {
                        op: v.op.clone(),
                        expectation: v.expectation.clone(),
                        at: Vec::new(),
                        verdict: String::new(),
                        failed: false,
                    });
                    confirmations.last_mut().expect("just pushed")
                }
            };
            // The worst sample decides a size.
            match c.at.iter_mut().find(|a| a.0 == *clinics) {
                Some(a) if rank(v.outcome) > rank(a.1) => {
                    a.1 = v.outcome;
                    a.2 = v.detail.clone();
                }
                Some(_) => {}
                None => c.at.push((*clinics, v.outcome, v.detail.clone())),
            }
        }
    }
    for c in &mut confirmations {
        let sizes = |o: Outcome| {
            c.at.iter()
                .filter(|a| a.1 == o)
                .map(|a| a.0.to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let failed = sizes(Outcome::Fail);
        let not_judged = sizes(Outcome::NotJudged);
        c.failed = !failed.is_empty();
        c.verdict = if c.failed {
            let detail =
                c.at.iter()
                    .find(|a| a.1 == Outcome::Fail)
                    .map(|a| a.2.clone())
                    .unwrap_or_default();
            format!("FAILS at {failed} clinics: {detail}")
        } else if not_judged.is_empty() {
            format!("confirmed at {} and {} clinics", at.clinics, at.clinics * 2)
        } else {
            format!("not judged at {not_judged} clinics (tables too small to decide)")
        };
    }
    let datasets = plans
        .iter()
        .map(|(n, p)| Dataset {
            clinics: *n,
            fingerprint: p.dataset.clone().unwrap_or_default(),
            table_rows: p.table_rows.clone(),
        })
        .collect();
    Ok((
        ScaleReport {
            schema: SCHEMA,
            profile: at.profile.clone(),
            datasets,
            confirmations,
        },
        plans,
    ))
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::NotJudged => 1,
        Outcome::Fail => 2,
    }
}

/// Writes `scale.json` and each size's plans under `dir/<n>-clinics/`.
pub fn write(dir: &Path, report: &ScaleReport, plans: &[(u32, Plans)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (n, p) in plans {
        super::write(&dir.join(format!("{n}-clinics")), p)?;
    }
    crate::report::write_atomic(
        &dir.join("scale.json"),
        format!("{}\n", serde_json::to_string_pretty(report)?).as_bytes(),
    )
}
