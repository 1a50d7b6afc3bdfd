//! Runs leave the dataset as they found it. Every comparison clinicload makes (the variants of
//! one scenario, repeats of a run, sweep steps, baseline and candidate) assumes each run starts
//! from the same data; write operations would otherwise make each run start from whatever the
//! previous one left (fewer open appointments, bigger cached schedules, writes that find nothing
//! to change).
//!
//! The mechanism costs nothing while the load runs:
//! - before the load, the run records itself in `clinicload_meta.undo_runs` and copies the rows
//!   its writes may update (the write-target pools the catalog drew) into
//!   `clinicload_meta.undo_rows`, and the MongoDB documents into the collection
//!   [`UNDO_COLLECTION`]: the "pre-images";
//! - rows the run inserts carry version-8 UUIDs ([`new_row_id`]), which neither the seeder
//!   (version 4) nor PostgreSQL's `gen_random_uuid()` (version 4) produce;
//! - restoring deletes the version-8 rows of the tables the run inserts into, puts the
//!   pre-images back (with the `updated_at` triggers disabled, so timestamps come back too),
//!   replaces the MongoDB documents, removes the Redis keys the run wrote, deletes the undo
//!   record, then `VACUUM ANALYZE`s the touched tables so repeats do not drift through dead rows
//!   or planner statistics.
//!
//! The undo record is in the database, so a run that was killed is restored by the next
//! `clinicload run` or `checksum` on that dataset, or by `clinicload restore`.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use rand::RngCore;
use sqlx::PgPool;
use uuid::Uuid;

pub mod index_changes;
pub mod lock;

use crate::config::Targets;
use crate::connect;
use crate::connect::scan_page;

/// MongoDB collection (in the dataset's database) holding the pre-images of documents.
pub const UNDO_COLLECTION: &str = "clinicloadUndo";

/// Tables a run may write, children first: the order in which inserted rows are deleted.
const TABLE_ORDER: &[&str] = &[
    "prescription_items",
    "order_items",
    "alerts",
    "tasks",
    "prescriptions",
    "orders",
    "encounters",
    "appointments",
    "patients",
    "users",
];

/// What a run may change, recorded before its load starts.
#[derive(Debug, Clone, Default)]
pub struct UndoPlan {
    pub run_id: String,
    /// Tables the run inserts into (with [`new_row_id`] keys).
    pub insert_tables: BTreeSet<&'static str>,
    /// Rows the run may update: table and ids.
    pub pre_images: Vec<(&'static str, Vec<Uuid>)>,
    /// MongoDB documents the run may update: collection and `_id`s.
    pub mongo_pre_images: Vec<(&'static str, Vec<Bson>)>,
    /// Redis `SCAN MATCH` patterns of the keys the run writes.
    pub redis_patterns: Vec<String>,
}

impl UndoPlan {
    /// Whether the run writes anything at all.
    pub fn writes(&self) -> bool {
        !self.insert_tables.is_empty()
            || self.pre_images.iter().any(|(_, ids)| !ids.is_empty())
            || self.mongo_pre_images.iter().any(|(_, ids)| !ids.is_empty())
            || !self.redis_patterns.is_empty()
    }
}

/// A key for a row a run inserts: a random version-8 UUID, so restore can tell it apart from
/// every seeded or application-made row (version 4).
pub fn new_row_id(rng: &mut impl RngCore) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The SQL test for "inserted by a clinicload run": version nibble 8.
const RUN_ROW: &str = "substr(id::text, 15, 1) = '8'";

/// What a restore did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreReport {
    /// Runs (or variants) whose writes were undone.
    pub runs: Vec<String>,
    /// Updated rows given back their pre-run values (rows that were not changed are not counted).
    pub rows_restored: u64,
    /// Rows the runs inserted, deleted.
    pub rows_deleted: u64,
    pub documents_restored: u64,
    pub redis_keys_deleted: u64,
    /// Undoing the writes (PostgreSQL, MongoDB, Redis).
    pub undo_seconds: f64,
    /// `VACUUM ANALYZE` of the touched tables.
    pub vacuum_seconds: f64,
    pub tables: Vec<String>,
}

impl RestoreReport {
    pub fn seconds(&self) -> f64 {
        self.undo_seconds + self.vacuum_seconds
    }

    pub fn describe(&self) -> String {
        format!(
            "restored the dataset in {:.2}s ({:.2}s undo, {:.2}s VACUUM ANALYZE of {}): {} rows \
             given back their values, {} inserted rows deleted, {} documents restored, {} Redis keys removed",
            self.seconds(),
            self.undo_seconds,
            self.vacuum_seconds,
            if self.tables.is_empty() {
                "no table".to_string()
            } else {
                self.tables.join(", ")
            },
            self.rows_restored,
            self.rows_deleted,
            self.documents_restored,
            self.redis_keys_deleted
        )
    }
}

/// Records `plan` durably before the load starts: the run, its rows' and documents'
/// pre-images. Fails if another undo record is pending (restore it first), unless it is a
/// fellow distributed worker's (its run id starts with `fellows`): the workers of one run
/// record side by side, and one `clinicload restore` undoes them all.
pub async fn record(
    pool: &PgPool,
    mongo: Option<&mongodb::Database>,
    plan: &UndoPlan,
    fellows: Option<&str>,
) -> Result<()> {
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicload_meta.undo_runs
         WHERE $1::text IS NULL OR NOT starts_with(run_id, $1)",
    )
    .bind(fellows)
    .fetch_one(pool)
    .await
    .context(UNDO_LOG_MISSING)?;
    if pending > 0 {
        bail!("an earlier run's writes are not undone yet: run `clinicload restore` first");
    }
    let update_tables: BTreeSet<&str> = plan
        .pre_images
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(t, _)| *t)
        .collect();
    let mongo_collections: BTreeSet<&str> = plan
        .mongo_pre_images
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(c, _)| *c)
        .collect();
    // The MongoDB pre-images first: a record that exists in PostgreSQL always has them.
    if let Some(db) = mongo {
        let undo = db.collection::<Document>(UNDO_COLLECTION);
        for (coll, ids) in &plan.mongo_pre_images {
            // Each pre-image keeps its position in the pool (`i`): the pool is taken in
            // order, so after the run only the first `taken` can have changed.
            let position: std::collections::HashMap<String, usize> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.to_string(), i))
                .collect();
            // In batches of `$in`: one collection scan each on FerretDB (see restore_documents).
            for chunk in ids.chunks(1000) {
                let mut cursor = db
                    .collection::<Document>(coll)
                    .find(doc! { "_id": { "$in": chunk.to_vec() } })
                    .await
                    .with_context(|| format!("reading the pre-images of {coll}"))?;
                let mut batch = Vec::new();
                while let Some(d) = cursor
                    .try_next()
                    .await
                    .with_context(|| format!("reading the pre-images of {coll}"))?
                {
                    let i = d
                        .get("_id")
                        .and_then(|id| position.get(&id.to_string()))
                        .map_or(0, |i| *i as i64);
                    batch.push(doc! { "run": &plan.run_id, "coll": *coll, "i": i, "doc": d });
                }
                if !batch.is_empty() {
                    undo.insert_many(batch)
                        .await
                        .with_context(|| format!("saving the pre-images of {coll}"))?;
                }
            }
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO clinicload_meta.undo_runs \
         (run_id, insert_tables, update_tables, mongo_collections, redis_patterns) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&plan.run_id)
    .bind(plan.insert_tables.iter().copied().collect::<Vec<_>>())
    .bind(update_tables.iter().copied().collect::<Vec<_>>())
    .bind(mongo_collections.iter().copied().collect::<Vec<_>>())
    .bind(&plan.redis_patterns)
    .execute(&mut *tx)
    .await
    .context("recording the run in clinicload_meta.undo_runs")?;
    for (table, ids) in &plan.pre_images {
        check_table(table)?;
        // Each table's rows as JSON, copied inside the database.
        let sql = format!(
            "INSERT INTO clinicload_meta.undo_rows (run_id, table_name, id, pre_image) \
             SELECT $1, '{table}', t.id, to_jsonb(t) FROM public.{table} t WHERE t.id = ANY($2) \
             ON CONFLICT DO NOTHING"
        );
        sqlx::query(&sql)
            .bind(&plan.run_id)
            .bind(ids)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("saving the pre-images of {table}"))?;
    }
    tx.commit().await.context("committing the undo record")?;
    Ok(())
}

const UNDO_LOG_MISSING: &str = "reading clinicload_meta.undo_runs (the database's schema is older \
than this clinicload: run `clinicload migrate`)";

fn check_table(table: &str) -> Result<()> {
    if TABLE_ORDER.contains(&table) {
        Ok(())
    } else {
        bail!("internal: {table} is not a table clinicload restores")
    }
}

/// Whether the database has a run whose writes are not undone.
pub async fn pending(pool: &PgPool) -> Result<Vec<String>> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('clinicload_meta.undo_runs') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT run_id FROM clinicload_meta.undo_runs ORDER BY started_at")
            .fetch_all(pool)
            .await?,
    )
}

/// Undoes every pending run, newest first (so when two runs saved the same row, the oldest
/// pre-image is the one that stays), then vacuums and analyzes what was touched. `None` when
/// nothing was pending.
///
/// `taken` (collection -> documents of its pool the run took), when the process that ran
/// knows it, limits the MongoDB documents put back to those: the rest were never written. A
/// restore after a killed run passes `None` and puts back every saved document.
pub async fn restore_all(
    pool: &PgPool,
    mongo: Option<&mongodb::Database>,
    redis: Option<&mut redis::aio::ConnectionManager>,
    taken: Option<&std::collections::BTreeMap<&str, u64>>,
) -> Result<Option<RestoreReport>> {
    let runs = pending(pool).await?;
    if runs.is_empty() {
        return Ok(None);
    }
    let t0 = Instant::now();
    let mut report = RestoreReport::default();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut redis = redis;
    for run_id in runs.iter().rev() {
        let (insert_tables, update_tables, collections, patterns): (
            Vec<String>,
            Vec<String>,
            Vec<String>,
            Vec<String>,
        ) = sqlx::query_as(
            "SELECT insert_tables, update_tables, mongo_collections, redis_patterns \
             FROM clinicload_meta.undo_runs WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(pool)
        .await?;
        // MongoDB and Redis first: idempotent, and the PostgreSQL record that names them is
        // deleted last, in the transaction that undoes the rows.
        if !collections.is_empty() {
            let Some(db) = mongo else {
                bail!(
                    "run {run_id} changed MongoDB documents ({}): restoring needs the MongoDB \
                     server (check --mongodb-uri and --mongo-database)",
                    collections.join(", ")
                );
            };
            let t = Instant::now();
            report.documents_restored += restore_documents(db, run_id, taken).await?;
            tracing::debug!("restore {run_id}: MongoDB documents in {:?}", t.elapsed());
        }
        if !patterns.is_empty() {
            if let Some(conn) = redis.as_deref_mut() {
                report.redis_keys_deleted += delete_keys(conn, &patterns).await?;
            }
        }
        let t = Instant::now();
        let (restored, deleted) =
            restore_rows(pool, run_id, &insert_tables, &update_tables).await?;
        tracing::debug!("restore {run_id}: PostgreSQL rows in {:?}", t.elapsed());
        report.rows_restored += restored;
        report.rows_deleted += deleted;
        touched.extend(insert_tables);
        touched.extend(update_tables);
        let t = Instant::now();
        if let Some(db) = mongo {
            db.collection::<Document>(UNDO_COLLECTION)
                .delete_many(doc! { "run": run_id })
                .await
                .context("removing the MongoDB pre-images")?;
        }
        tracing::debug!("restore {run_id}: pre-images removed in {:?}", t.elapsed());
        report.runs.push(run_id.clone());
    }
    if let Some(db) = mongo {
        let left = db
            .collection::<Document>(UNDO_COLLECTION)
            .estimated_document_count()
            .await
            .unwrap_or(1);
        if left == 0 {
            let _ = db.collection::<Document>(UNDO_COLLECTION).drop().await;
        }
    }
    report.undo_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    if !touched.is_empty() {
        let list: Vec<String> = touched.iter().map(|t| format!("public.{t}")).collect();
        sqlx::query(&format!("VACUUM (ANALYZE) {}", list.join(", ")))
            .execute(pool)
            .await
            .context("VACUUM ANALYZE after restoring")?;
    }
    report.vacuum_seconds = t1.elapsed().as_secs_f64();
    report.tables = touched.into_iter().collect();
    report.runs.reverse();
    Ok(Some(report))
}

/// One run's PostgreSQL rows, in one transaction: inserted rows deleted, pre-images put back
/// (including rows the run deleted), the undo record removed. Returns (restored, deleted).
async fn restore_rows(
    pool: &PgPool,
    run_id: &str,
    insert_tables: &[String],
    update_tables: &[String],
) -> Result<(u64, u64)> {
    let mut tx = pool.begin().await?;
    let all: BTreeSet<&str> = insert_tables
        .iter()
        .chain(update_tables)
        .map(String::as_str)
        .collect();
    for t in &all {
        check_table(t)?;
        // The updated_at triggers would stamp restored rows with now(); the table's owner
        // (the role that ran `clinicload migrate`) may switch them off inside the transaction.
        sqlx::query(&format!("ALTER TABLE public.{t} DISABLE TRIGGER USER"))
            .execute(&mut *tx)
            .await
            .with_context(|| {
                format!("disabling the updated_at trigger of {t} to restore its rows (restoring needs the role that owns the tables)")
            })?;
    }
    let mut deleted = 0;
    for t in TABLE_ORDER
        .iter()
        .filter(|t| insert_tables.iter().any(|i| i == *t))
    {
        deleted += sqlx::query(&format!("DELETE FROM public.{t} WHERE {RUN_ROW}"))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("deleting the rows the run inserted into {t}"))?
            .rows_affected();
    }
    let mut restored = 0;
    for t in update_tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(attname) FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .bind(format!("public.{t}"))
        .fetch_all(&mut *tx)
        .await?;
        let cols = columns.join(", ");
        let from_r = columns
            .iter()
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let update = format!(
            "UPDATE public.{t} AS t SET ({cols}) = ({from_r}) \
             FROM clinicload_meta.undo_rows u, jsonb_populate_record(NULL::public.{t}, u.pre_image) r \
             WHERE u.run_id = $1 AND u.table_name = '{t}' AND t.id = u.id \
             AND to_jsonb(t) IS DISTINCT FROM u.pre_image"
        );
        restored += sqlx::query(&update)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("restoring the rows of {t}"))?
            .rows_affected();
        let reinsert = format!(
            "INSERT INTO public.{t} ({cols}) SELECT {from_r} \
             FROM clinicload_meta.undo_rows u, jsonb_populate_record(NULL::public.{t}, u.pre_image) r \
             WHERE u.run_id = $1 AND u.table_name = '{t}' \
             AND NOT EXISTS (SELECT 1 FROM public.{t} x WHERE x.id = u.id)"
        );
        restored += sqlx::query(&reinsert)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("re-inserting deleted rows of {t}"))?
            .rows_affected();
    }
    for t in &all {
        sqlx::query(&format!("ALTER TABLE public.{t} ENABLE TRIGGER USER"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM clinicload_meta.undo_runs WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await.context("committing the restore")?;
    Ok((restored, deleted))
}

/// Puts back the documents saved for `run_id` that differ from their saved state (writes to
/// a MongoDB-compatible server cost more than reads); returns how many.
async fn restore_documents(
    db: &mongodb::Database,
    run_id: &str,
    taken: Option<&std::collections::BTreeMap<&str, u64>>,
) -> Result<u64> {
    let mut cursor = db
        .collection::<Document>(UNDO_COLLECTION)
        .find(doc! { "run": run_id })
        .await
        .context("reading the MongoDB pre-images")?;
    let mut saved: Vec<(String, Document)> = Vec::new();
    while let Some(d) = cursor
        .try_next()
        .await
        .context("reading the MongoDB pre-images")?
    {
        if let (Ok(coll), Ok(original)) = (d.get_str("coll"), d.get_document("doc")) {
            let position = d.get_i64("i").unwrap_or(0).max(0) as u64;
            if let Some(limit) = taken.and_then(|t| t.get(coll)) {
                if position >= *limit {
                    continue;
                }
            }
            saved.push((coll.to_string(), original.clone()));
        }
    }
    tracing::debug!("restore {run_id}: {} MongoDB pre-images read", saved.len());
    // One replace per saved document, by `_id` (the pools are sized to the planned writes,
    // so most were changed and reading first would not save writes), a few at a time. On
    // FerretDB's PostgreSQL backend each `_id` filter scans the collection: this is where a
    // restore on FerretDB spends its time (docs/scenarios.md gives the figures).
    let replaced: Vec<u64> = futures::stream::iter(saved.iter())
        .map(|(coll, original)| async move {
            let Some(id) = original.get("_id") else {
                return Ok(0);
            };
            let r = db
                .collection::<Document>(coll)
                .replace_one(doc! { "_id": id.clone() }, original.clone())
                .upsert(true)
                .await
                .with_context(|| format!("restoring a document of {coll}"))?;
            Ok::<u64, anyhow::Error>(r.modified_count + u64::from(r.upserted_id.is_some()))
        })
        .buffer_unordered(RESTORE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(replaced.iter().sum())
}

/// Documents replaced at once while restoring.
const RESTORE_CONCURRENCY: usize = 8;

/// Deletes every key matching `patterns`; returns how many.
async fn delete_keys(conn: &mut redis::aio::ConnectionManager, patterns: &[String]) -> Result<u64> {
    let mut removed = 0u64;
    for pattern in patterns {
        let mut cursor = 0u64;
        loop {
            let (next, keys) = scan_page(conn, cursor, pattern).await?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(conn)
                    .await
                    .context("Redis UNLINK of the run's keys")?;
                removed += n;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
    Ok(removed)
}

/// Notes in the undo log why `run_id`'s own restore failed, so the next command can say so
/// (a dataset migrated before `restore_failed` existed keeps the generic message).
pub async fn mark_failed(pool: &PgPool, run_id: &str, reason: &str) -> Result<()> {
    sqlx::query("UPDATE clinicload_meta.undo_runs SET restore_failed = $2 WHERE run_id = $1")
        .bind(run_id)
        .bind(reason)
        .execute(pool)
        .await
        .context("noting the failed restore in clinicload_meta.undo_runs")?;
    Ok(())
}

/// The pending runs, each with why its writes are still there: "RUN (its restore failed:
/// REASON)" or "RUN (the process ended before it could restore)".
async fn pending_reasons(pool: &PgPool) -> Result<String> {
    // to_jsonb reads the column where it exists and null where an older schema lacks it.
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT run_id, to_jsonb(u) ->> 'restore_failed' FROM clinicload_meta.undo_runs u ORDER BY started_at",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|(run, failed)| match failed {
            Some(why) => format!("{run} (its restore failed: {why})"),
            None => format!("{run} (the process ended before it could restore)"),
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// Whether a pending run wrote Redis keys (restoring then needs a Redis connection).
pub async fn pending_needs_redis(pool: &PgPool) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(bool_or(cardinality(redis_patterns) > 0), false) FROM clinicload_meta.undo_runs",
    )
    .fetch_one(pool)
    .await?)
}

/// Restores whatever is pending on the dataset `targets` name, connecting to MongoDB and
/// Redis only when the pending runs need them. Prints what it did.
pub async fn restore_pending(targets: &Targets, pool: &PgPool) -> Result<Option<RestoreReport>> {
    let runs = pending(pool).await?;
    if runs.is_empty() {
        return Ok(None);
    }
    eprintln!(
        "restoring the dataset: {} left writes that were not undone",
        pending_reasons(pool)
            .await
            .unwrap_or_else(|_| runs.join(", "))
    );
    let needs: (bool, bool) = sqlx::query_as(
        "SELECT bool_or(cardinality(mongo_collections) > 0), bool_or(cardinality(redis_patterns) > 0) \
         FROM clinicload_meta.undo_runs",
    )
    .fetch_one(pool)
    .await?;
    let mongo = if needs.0 {
        Some(connect::mongo(targets).await?.1)
    } else {
        None
    };
    let mut redis = if needs.1 {
        Some(connect::redis(targets).await?)
    } else {
        None
    };
    let report = restore_all(pool, mongo.as_ref(), redis.as_mut(), None).await?;
    if let Some(r) = &report {
        eprintln!("{}", r.describe());
    }
    Ok(report)
}

/// `clinicload restore`: undoes the writes of runs that did not restore the dataset
/// themselves (killed, or run with `--keep-writes`).
pub async fn restore_command(targets: &Targets) -> Result<ExitCode> {
    let lock = lock::take(targets, lock::Hold::Exclusive, "restore").await?;
    let pool = connect::postgres(targets, 2).await?;
    let schema = index_changes::undo_where(&pool, None).await?;
    for d in &schema {
        println!("restored the schema: {d}");
    }
    match restore_pending(targets, &pool).await? {
        Some(_) => {}
        None if schema.is_empty() => {
            println!("nothing to restore: no run left writes or index changes in this dataset")
        }
        None => {}
    }
    lock.release().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn run_rows_are_version_8_and_seeded_rows_are_not() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for _ in 0..100 {
            let id = new_row_id(&mut rng);
            assert_eq!(id.get_version_num(), 8);
            assert_eq!(&id.to_string()[14..15], "8");
        }
        let seeded =
            crate::generate::rng::entity_uuid(7, 0, crate::generate::rng::Kind::Patient, 1);
        assert_eq!(&seeded.to_string()[14..15], "4");
    }
}
