//! What a seed may do to the target databases: refuse to mix a new dataset into data that is
//! already there, empty only clinicload's own tables and collections on `--reset` (and only
//! where `clinicload migrate` left its mark, unless `--force`), and record the dataset so a
//! re-run with the same parameters resumes while one with other parameters is refused.
//!
//! Every refusal names the problem and the flag or command that resolves it.

use anyhow::{anyhow, bail, Context, Result};
use mongodb::bson::{doc, Document};
use mongodb::Database;
use sqlx::PgPool;

use crate::config::{redact, Targets};
use crate::generate::SeedParams;
use crate::schema::mongo::{CLINICAL_NOTES, GRIDFS_CHUNKS, GRIDFS_FILES, VOICE_RECORDINGS};
use crate::seed::pg_copy::TABLES;

/// The dataset recorded in `clinicload_meta.dataset`.
#[derive(Debug, Clone)]
pub struct RecordedDataset {
    pub fingerprint: String,
    pub seed: i64,
    pub as_of: chrono::NaiveDate,
    pub parameters: serde_json::Value,
}

/// What the target databases hold before a seed.
#[derive(Debug, Clone)]
pub struct DbState {
    pub prepared: bool,
    pub bookkeeping: bool,
    pub dataset: Option<RecordedDataset>,
    /// Tables and collections that hold at least one row or document.
    pub non_empty: Vec<String>,
    /// Clinics recorded as committed (by any process).
    pub committed: i64,
}

/// How the seed should proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Nothing there yet (or just emptied): record the dataset and load.
    Fresh,
    /// The same dataset is partly or fully there: load what is missing.
    Resume,
    /// Other data is there and --append was given.
    Append,
    /// Another dataset is recorded, but none of its clinics was ever committed (its seed
    /// failed) and the tables are empty: only its documents are there. They are removed and
    /// this dataset takes its place, so a corrected command is accepted.
    Replace,
}

/// Reads the state of both stores.
pub async fn inspect(pool: &PgPool, db: &Database) -> Result<DbState> {
    let schema: bool = sqlx::query_scalar("SELECT to_regclass('public.users') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !schema {
        bail!(
            "the PostgreSQL database has no Dr. Assistant schema (table users is missing); \
             run `clinicload migrate` against it first"
        );
    }
    let prepared = crate::schema::postgres::is_prepared_by_clinicload(pool).await?;
    let bookkeeping: bool = sqlx::query_scalar(
        "SELECT to_regclass('clinicload_meta.dataset') IS NOT NULL \
         AND to_regclass('clinicload_meta.seeded_clinics') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    let dataset = if bookkeeping {
        sqlx::query_as::<_, (String, i64, chrono::NaiveDate, serde_json::Value)>(
            "SELECT fingerprint, seed, as_of, parameters FROM clinicload_meta.dataset",
        )
        .fetch_optional(pool)
        .await?
        .map(|(fingerprint, seed, as_of, parameters)| RecordedDataset {
            fingerprint,
            seed,
            as_of,
            parameters,
        })
    } else {
        None
    };
    let committed: i64 = if bookkeeping {
        sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.seeded_clinics")
            .fetch_one(pool)
            .await?
    } else {
        0
    };
    let mut non_empty = Vec::new();
    for t in TABLES {
        let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {t})"))
            .fetch_one(pool)
            .await
            .with_context(|| format!("checking whether {t} is empty"))?;
        if any {
            non_empty.push(t.to_string());
        }
    }
    for c in [
        CLINICAL_NOTES,
        VOICE_RECORDINGS,
        GRIDFS_FILES,
        GRIDFS_CHUNKS,
    ] {
        let any = db
            .collection::<Document>(c)
            .find_one(doc! {})
            .projection(doc! { "_id": 1 })
            .await
            .with_context(|| format!("checking whether MongoDB {c} is empty"))?
            .is_some();
        if any {
            non_empty.push(format!("MongoDB {c}"));
        }
    }
    Ok(DbState {
        prepared,
        bookkeeping,
        dataset,
        non_empty,
        committed,
    })
}

/// Decides how to start, or refuses with a message naming the problem and the fix.
/// `reset_done` is true when `--reset` has just emptied the stores.
pub fn decide(
    state: &DbState,
    params: &SeedParams,
    fingerprint: &str,
    append: bool,
    targets: &Targets,
) -> Result<Start> {
    if !state.bookkeeping {
        bail!(
            "the PostgreSQL database {} lacks clinicload's bookkeeping (schema clinicload_meta), \
             which resume and sharding need; run `clinicload migrate` against it first",
            redact(&targets.database_url)
        );
    }
    if let Some(d) = &state.dataset {
        if d.fingerprint == fingerprint {
            return Ok(Start::Resume);
        }
        let tables_empty = state.non_empty.iter().all(|t| t.starts_with("MongoDB "));
        let appended = d.parameters.get("append") == Some(&serde_json::Value::Bool(true));
        if state.committed == 0 && tables_empty && !appended {
            return Ok(Start::Replace);
        }
        return Err(anyhow!(
            "the database already holds dataset {} (seed {}, as-of {}, {} clinics), but this command \
             describes dataset {} (seed {}, as-of {}, {} clinics). Re-run the original command to \
             resume that dataset, add --reset to replace it, or seed into another database{}",
            d.fingerprint,
            d.seed,
            d.as_of,
            d.parameters
                .get("clinics")
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into()),
            fingerprint,
            params.seed,
            params.as_of,
            params.clinics,
            if d.as_of != params.as_of {
                " (the as-of date differs: without --as-of it is today's date; pin it with --as-of)"
            } else {
                ""
            }
        ));
    }
    if !state.non_empty.is_empty() {
        if append {
            return Ok(Start::Append);
        }
        bail!(
            "refusing to seed: the target already holds data ({}) that no clinicload seed recorded. \
             Add --append to write the dataset next to it, --reset to empty clinicload's tables and \
             collections first, or point --database-url / --mongodb-database at an empty database",
            state.non_empty.join(", ")
        );
    }
    Ok(Start::Fresh)
}

/// Empties the ten tables, the dataset bookkeeping and the four collections. Refuses in a
/// database `clinicload migrate` did not prepare unless `force`.
pub async fn reset(
    pool: &PgPool,
    db: &Database,
    state: &DbState,
    force: bool,
    targets: &Targets,
) -> Result<()> {
    if !state.prepared && !force {
        bail!(
            "refusing --reset: the PostgreSQL database {} was not prepared by `clinicload migrate` \
             (it has no clinicload_meta.prepared), so its tables may belong to someone else. \
             Add --force to empty the Dr. Assistant tables anyway",
            redact(&targets.database_url)
        );
    }
    // No CASCADE: a foreign table referencing ours must stop the reset, not be emptied with it.
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("TRUNCATE {}", TABLES.join(", ")))
        .execute(&mut *tx)
        .await
        .context("emptying the Dr. Assistant tables (TRUNCATE)")?;
    if state.bookkeeping {
        sqlx::query("TRUNCATE clinicload_meta.seeded_clinics, clinicload_meta.dataset")
            .execute(&mut *tx)
            .await
            .context("emptying clinicload_meta")?;
    }
    tx.commit().await?;
    empty_collections(db).await?;
    Ok(())
}

/// Records the dataset (first writer wins; parallel shards race here harmlessly) and checks
/// that what is recorded is this dataset.
pub async fn record_dataset(
    pool: &PgPool,
    params: &SeedParams,
    fingerprint: &str,
    append: bool,
) -> Result<()> {
    let mut parameters = serde_json::to_value(params)?;
    // Kept so that a failed appending seed is never taken for an abandoned one (Start::Replace
    // would empty the collections, which hold someone else's documents too).
    parameters["append"] = serde_json::Value::Bool(append);
    sqlx::query(
        "INSERT INTO clinicload_meta.dataset (fingerprint, seed, as_of, parameters, clinicload_version) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (singleton) DO NOTHING",
    )
    .bind(fingerprint)
    .bind(params.seed as i64)
    .bind(params.as_of)
    .bind(parameters)
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(pool)
    .await
    .context("recording the dataset in clinicload_meta.dataset")?;
    let recorded: String = sqlx::query_scalar("SELECT fingerprint FROM clinicload_meta.dataset")
        .fetch_one(pool)
        .await?;
    if recorded != fingerprint {
        bail!(
            "another clinicload process recorded dataset {recorded} in this database at the same \
             time; run all shards of one dataset with the same parameters"
        );
    }
    Ok(())
}

/// Clinics already committed (for resume), checked to belong to this dataset.
pub async fn seeded_clinics(pool: &PgPool, fingerprint: &str) -> Result<Vec<u32>> {
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "SELECT clinic_index, fingerprint FROM clinicload_meta.seeded_clinics ORDER BY clinic_index",
    )
    .fetch_all(pool)
    .await?;
    if let Some((i, fp)) = rows.iter().find(|(_, fp)| fp != fingerprint) {
        bail!(
            "clinic {i} in this database belongs to dataset {fp}, not {fingerprint}; \
             use --reset to start over"
        );
    }
    Ok(rows.into_iter().map(|(i, _)| i as u32).collect())
}

/// Empties the dataset's MongoDB collections; delete_many rather than drop keeps their
/// indexes and validator.
async fn empty_collections(db: &Database) -> Result<()> {
    for c in [
        CLINICAL_NOTES,
        VOICE_RECORDINGS,
        GRIDFS_FILES,
        GRIDFS_CHUNKS,
    ] {
        db.collection::<Document>(c)
            .delete_many(doc! {})
            .await
            .with_context(|| format!("emptying MongoDB {c}"))?;
    }
    Ok(())
}

/// Removes an abandoned dataset (see [`Start::Replace`]): its documents first, then its
/// record, so an error on the way leaves it recorded and the step is simply redone.
pub async fn clear_abandoned(pool: &PgPool, db: &Database) -> Result<()> {
    empty_collections(db).await?;
    sqlx::query(
        "DELETE FROM clinicload_meta.dataset \
         WHERE NOT EXISTS (SELECT 1 FROM clinicload_meta.seeded_clinics)",
    )
    .execute(pool)
    .await
    .context("removing the abandoned dataset's record")?;
    Ok(())
}
