//! Scratch datasets: databases beside the target one that clinicload creates and seeds itself
//! with the target's seed and as-of date, for questions one dataset cannot answer (`explain
//! --at-scale` judges plans at N and 2N clinics, `sweep scale` measures latency at growing
//! sizes). A scratch database is named after what it holds
//! (`<database>_scale_<profile>_<n>[_<overrides>][_full]`), carries a comment saying
//! clinicload made it, and is kept for the next time: a complete dataset is not seeded again,
//! and `fresh` drops and re-seeds only a database with that comment.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use sqlx::{Connection, PgConnection};

use crate::config::{redact, Targets};

/// What a scratch dataset holds.
#[derive(Debug, Clone, Default)]
pub struct ScratchSpec {
    pub profile: String,
    pub clinics: u32,
    /// Profile overrides, as `clinicload seed` takes them.
    pub patients: Option<u32>,
    pub history_days: Option<u32>,
    pub future_days: Option<u32>,
    /// PostgreSQL tables only (plans), or MongoDB and GridFS too (runs that read them).
    pub postgres_only: bool,
    /// Drop and re-seed the database even when it is complete (only a clinicload scratch one).
    pub fresh: bool,
}

/// A scratch dataset ready for use.
#[derive(Debug, Clone)]
pub struct Scratch {
    pub name: String,
    pub targets: Targets,
    /// Wall time of its seed: measured now when it was seeded now, otherwise read from its
    /// bookkeeping (first clinic started to last clinic committed).
    pub seed_s: Option<f64>,
    /// Whether this call seeded it (false: an earlier complete seed was reused).
    pub seeded_now: bool,
}

const COMMENT_PREFIX: &str = "clinicload scratch dataset";

/// `<database>_scale_<profile>_<n>`, with the overrides and `_full` (MongoDB seeded too).
pub fn name(database: &str, spec: &ScratchSpec) -> Result<String> {
    let mut name = format!("{database}_scale_{}_{}", spec.profile, spec.clinics);
    for (tag, v) in [
        ("p", spec.patients),
        ("h", spec.history_days),
        ("f", spec.future_days),
    ] {
        if let Some(v) = v {
            name.push_str(&format!("_{tag}{v}"));
        }
    }
    if !spec.postgres_only {
        name.push_str("_full");
    }
    let name = name.to_lowercase();
    if name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!(
            "the scratch database would be named {name:?}, which is not a plain PostgreSQL name of at most 63 characters: use a shorter database name in DATABASE_URL"
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

/// Seconds from the first clinic's start to the last clinic's commit, from the dataset's
/// bookkeeping (None when it has none).
pub async fn recorded_seed_seconds(database_url: &str) -> Option<f64> {
    let mut conn = PgConnection::connect(database_url).await.ok()?;
    let s: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (SELECT max(completed_at) FROM clinicload_meta.seeded_clinics) - d.started_at)::float8
         FROM clinicload_meta.dataset d LIMIT 1",
    )
    .fetch_optional(&mut conn)
    .await
    .ok()
    .flatten()
    .flatten();
    conn.close().await.ok();
    s.filter(|s| *s >= 0.0)
}

/// The scratch dataset `spec` describes beside `targets`' database: created, migrated and
/// seeded (or resumed) when needed.
pub async fn prepare(targets: &Targets, spec: &ScratchSpec, purpose: &str) -> Result<Scratch> {
    let mut url = url::Url::parse(&targets.database_url)
        .with_context(|| format!("DATABASE_URL {}", redact(&targets.database_url)))?;
    let database = url.path().trim_start_matches('/').to_string();
    let name = name(&database, spec)?;
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::connect(admin_url.as_str())
        .await
        .with_context(|| format!("connecting to {}", redact(admin_url.as_str())))?;
    let comment: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(&name)
    .fetch_optional(&mut admin)
    .await?;
    let mut exists = comment.is_some();
    if exists && spec.fresh {
        if !comment
            .flatten()
            .is_some_and(|c| c.starts_with(COMMENT_PREFIX) || c.starts_with("clinicload explain"))
        {
            bail!(
                "--fresh would drop database {name}, which clinicload did not create as a scratch dataset: drop or rename it yourself"
            );
        }
        eprintln!("{purpose}: dropping scratch database {name} to seed it afresh");
        sqlx::raw_sql(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("dropping scratch database {name}"))?;
        exists = false;
    }
    if !exists {
        eprintln!(
            "{purpose}: creating scratch database {name} for {} clinics of profile {}",
            spec.clinics, spec.profile
        );
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .with_context(|| {
                format!("creating scratch database {name} (the role needs CREATEDB)")
            })?;
        sqlx::raw_sql(&format!(
            "COMMENT ON DATABASE \"{name}\" IS '{COMMENT_PREFIX}: {} clinics of {}{}'",
            spec.clinics,
            spec.profile,
            if spec.postgres_only {
                ", PostgreSQL only"
            } else {
                ""
            }
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
    let mut args: Vec<String> = vec![
        "seed".into(),
        "--profile".into(),
        spec.profile.clone(),
        "--clinics".into(),
        spec.clinics.to_string(),
        "--seed".into(),
        seed.to_string(),
        "--as-of".into(),
        as_of.clone(),
    ];
    for (flag, v) in [
        ("--patients", spec.patients),
        ("--history-days", spec.history_days),
        ("--future-days", spec.future_days),
    ] {
        if let Some(v) = v {
            args.extend([flag.to_string(), v.to_string()]);
        }
    }
    if spec.postgres_only {
        args.push("--postgres-only".into());
    }
    let complete_before = recorded_seed_seconds(&scratch.database_url).await.is_some()
        && seeded_clinics(&scratch.database_url).await == Some(spec.clinics as i64);
    eprintln!(
        "{purpose}: seeding {name}: {} clinics of profile {}, seed {seed}, as-of {as_of}{} (resumed or skipped when already there)",
        spec.clinics,
        spec.profile,
        if spec.postgres_only {
            ", PostgreSQL only"
        } else {
            ""
        }
    );
    let started = Instant::now();
    let status = run(args).context("running clinicload seed")?;
    let took = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!(
            "seeding scratch database {name} failed (its messages are above); drop it with DROP DATABASE {name} if it holds something else"
        );
    }
    let (seed_s, seeded_now) = if complete_before {
        (recorded_seed_seconds(&scratch.database_url).await, false)
    } else {
        (Some(took), true)
    };
    Ok(Scratch {
        name,
        targets: scratch,
        seed_s,
        seeded_now,
    })
}

/// Clinics committed in a dataset.
pub async fn seeded_clinics(database_url: &str) -> Option<i64> {
    let mut conn = PgConnection::connect(database_url).await.ok()?;
    let n: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
        .fetch_one(&mut conn)
        .await
        .ok();
    conn.close().await.ok();
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_the_dataset_holds() {
        let spec = ScratchSpec {
            profile: "small".into(),
            clinics: 4,
            postgres_only: true,
            ..Default::default()
        };
        assert_eq!(
            name("clinicload", &spec).unwrap(),
            "clinicload_scale_small_4"
        );
        let full = ScratchSpec {
            patients: Some(4000),
            postgres_only: false,
            ..spec.clone()
        };
        assert_eq!(
            name("clinicload", &full).unwrap(),
            "clinicload_scale_small_4_p4000_full"
        );
        assert!(name(&"x".repeat(60), &spec).is_err());
        assert!(name("Bad-Name", &spec).is_err());
    }
}
