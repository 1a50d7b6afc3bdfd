//! Snapshots of the index counters before and after a run's load, their deltas, and the
//! catalog rows the redundancy rules read; the SQL and the MongoDB commands live next to
//! the functions that use them.
//!
//! PostgreSQL 15 keeps cumulative statistics per backend until the backend flushes them (at
//! a transaction's end at most once a second, after 10 s idle, or at exit). Before each
//! snapshot, every connection the run used is asked to flush (`pg_stat_force_next_flush()`
//! takes effect right after that statement, before the server answers), so the "after"
//! snapshot holds all of the load's scans and the "before" one none of the sampling's.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use sqlx::{PgPool, Row};

use super::redundant::{self, ForeignKey, IndexDef};
use super::{IndexReport, IndexUsage, MongoIndexUsage, MongoIndexes, PgIndexes, CRITERIA};
use crate::scenario::ops::postgres::PgConns;

/// Counters of one PostgreSQL index at a point in time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PgCounters {
    pub schema: String,
    pub table: String,
    pub index: String,
    pub scans: i64,
    pub tuples_read: i64,
    pub tuples_fetched: i64,
    pub blocks_hit: i64,
    pub blocks_read: i64,
}

/// MongoDB `$indexStats` counters by (collection, index), or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum MongoCounters {
    Counts(BTreeMap<(String, String), i64>),
    Unsupported(String),
    Failed(String),
}

/// The counters at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub pg: Option<BTreeMap<String, PgCounters>>,
    pub mongo: Option<MongoCounters>,
}

pub use crate::connect::flush_pool;
use crate::connect::FLUSH_STATISTICS as FLUSH;

/// Makes every idle load connection flush its pending statistics.
pub async fn flush_conns(conns: &PgConns) -> Result<()> {
    let mut idle = conns.drain_idle();
    let mut result = Ok(());
    for c in &mut idle {
        if let Err(e) = sqlx::query(FLUSH).execute(&mut *c).await {
            result = Err(e).context("flushing index statistics");
        }
    }
    for c in idle {
        conns.put_back(c);
    }
    result
}

/// The application's indexes (clinicload's own `clinicload_meta` left out).
const PG_COUNTERS: &str = "\
SELECT s.schemaname::text, s.relname::text, s.indexrelname::text, \
       COALESCE(s.idx_scan, 0), COALESCE(s.idx_tup_read, 0), COALESCE(s.idx_tup_fetch, 0), \
       COALESCE(io.idx_blks_hit, 0), COALESCE(io.idx_blks_read, 0) \
FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid) \
WHERE s.schemaname <> 'clinicload_meta'";

async fn pg_counters(pool: &PgPool) -> Result<BTreeMap<String, PgCounters>> {
    // Read afresh, not from a snapshot cached earlier in the transaction.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL stats_fetch_consistency = none")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query_as::<_, (String, String, String, i64, i64, i64, i64, i64)>(PG_COUNTERS)
        .fetch_all(&mut *tx)
        .await
        .context("reading pg_stat_user_indexes")?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(
            |(schema, table, index, scans, read, fetched, hit, blks_read)| {
                (
                    format!("{schema}.{index}"),
                    PgCounters {
                        schema,
                        table,
                        index,
                        scans,
                        tuples_read: read,
                        tuples_fetched: fetched,
                        blocks_hit: hit,
                        blocks_read: blks_read,
                    },
                )
            },
        )
        .collect())
}

/// `$indexStats` of each collection the schema declares; FerretDB answers that it does not
/// implement the stage.
async fn mongo_counters(db: &mongodb::Database) -> MongoCounters {
    let mut counts = BTreeMap::new();
    for coll in crate::schema::mongo::COLLECTIONS {
        let cursor = db
            .collection::<Document>(coll)
            .aggregate(vec![doc! { "$indexStats": {} }])
            .await;
        let docs: Vec<Document> = match cursor {
            Ok(c) => match c.try_collect().await {
                Ok(d) => d,
                Err(e) => return mongo_error(&e),
            },
            Err(e) => return mongo_error(&e),
        };
        for d in docs {
            let name = d.get_str("name").unwrap_or("?").to_string();
            let ops = d
                .get_document("accesses")
                .ok()
                .and_then(|a| a.get("ops"))
                .and_then(|v| match v {
                    mongodb::bson::Bson::Int64(n) => Some(*n),
                    mongodb::bson::Bson::Int32(n) => Some(*n as i64),
                    mongodb::bson::Bson::Double(n) => Some(*n as i64),
                    _ => None,
                })
                .unwrap_or(0);
            counts.insert((coll.to_string(), name), ops);
        }
    }
    MongoCounters::Counts(counts)
}

fn mongo_error(e: &mongodb::error::Error) -> MongoCounters {
    let msg = crate::schema::mongo::server_message(e);
    if crate::schema::mongo::is_unsupported_error(e) {
        MongoCounters::Unsupported(msg)
    } else {
        MongoCounters::Failed(msg)
    }
}

/// Flushes the run's connections and reads the counters of the stores the run uses.
pub async fn snapshot(
    pool: Option<&PgPool>,
    conns: Option<&PgConns>,
    mongo: Option<&mongodb::Database>,
) -> Result<Snapshot> {
    let pg = match pool {
        Some(pool) => {
            if let Some(c) = conns {
                flush_conns(c).await?;
            }
            flush_pool(pool).await?;
            Some(pg_counters(pool).await?)
        }
        None => None,
    };
    let mongo = match mongo {
        Some(db) => Some(mongo_counters(db).await),
        None => None,
    };
    Ok(Snapshot { pg, mongo })
}

/// Each index's counters over the run (`after - before`; an index made during the run
/// counts from zero), with sizes, most scanned first.
pub fn pg_deltas(
    before: &BTreeMap<String, PgCounters>,
    after: &BTreeMap<String, PgCounters>,
    catalog: &[IndexDef],
) -> Vec<IndexUsage> {
    let zero = PgCounters::default();
    let mut out: Vec<IndexUsage> = after
        .iter()
        .map(|(key, a)| {
            let b = before.get(key).unwrap_or(&zero);
            let def = catalog
                .iter()
                .find(|i| i.schema == a.schema && i.name == a.index);
            let scans = (a.scans - b.scans).max(0);
            IndexUsage {
                schema: a.schema.clone(),
                table: a.table.clone(),
                index: a.index.clone(),
                scans,
                tuples_read: (a.tuples_read - b.tuples_read).max(0),
                tuples_fetched: (a.tuples_fetched - b.tuples_fetched).max(0),
                blocks_hit: (a.blocks_hit - b.blocks_hit).max(0),
                blocks_read: (a.blocks_read - b.blocks_read).max(0),
                bytes: def.map_or(0, |d| d.bytes),
                used: scans > 0,
                unique: def.is_some_and(|d| d.unique),
                primary: def.is_some_and(|d| d.primary),
                definition: def.map_or_else(String::new, |d| d.definition.clone()),
            }
        })
        .collect();
    out.sort_by(|x, y| {
        y.scans
            .cmp(&x.scans)
            .then_with(|| (&x.table, &x.index).cmp(&(&y.table, &y.index)))
    });
    out
}

fn mongo_deltas(before: &MongoCounters, after: &MongoCounters) -> MongoIndexes {
    match (before, after) {
        (MongoCounters::Counts(b), MongoCounters::Counts(a)) => MongoIndexes {
            status: "measured".into(),
            message: None,
            indexes: a
                .iter()
                .map(|((coll, name), ops)| {
                    let d = (ops - b.get(&(coll.clone(), name.clone())).unwrap_or(&0)).max(0);
                    MongoIndexUsage {
                        collection: coll.clone(),
                        index: name.clone(),
                        ops: d,
                        used: d > 0,
                    }
                })
                .collect(),
        },
        (MongoCounters::Unsupported(m), _) | (_, MongoCounters::Unsupported(m)) => MongoIndexes {
            status: super::MONGO_UNSUPPORTED.into(),
            message: Some(m.clone()),
            indexes: Vec::new(),
        },
        (MongoCounters::Failed(m), _) | (_, MongoCounters::Failed(m)) => MongoIndexes {
            status: "failed".into(),
            message: Some(m.clone()),
            indexes: Vec::new(),
        },
    }
}

/// Every valid or invalid index of the application's schemas, as the redundancy rules read
/// it. Per key: the column or expression text, then order/nulls flags, operator class and
/// collation, which must all match for two keys to be the same.
const PG_INDEXES: &str = "\
SELECT n.nspname::text, t.relname::text, i.relname::text, i.oid::int8, am.amname::text, \
       x.indisunique, x.indisprimary, \
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.contype IN ('p','u','x')), \
       x.indisvalid, \
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnkeyatts) k ORDER BY k), \
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) || '|' || x.indoption[k - 1] || '|' \
                    || x.indclass[k - 1] || '|' || x.indcollation[k - 1] \
             FROM generate_series(1, x.indnkeyatts) k ORDER BY k), \
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(x.indnkeyatts + 1, x.indnatts) k ORDER BY k), \
       pg_get_expr(x.indpred, x.indrelid, true), pg_get_indexdef(x.indexrelid), \
       pg_relation_size(x.indexrelid) \
FROM pg_index x \
JOIN pg_class i ON i.oid = x.indexrelid \
JOIN pg_class t ON t.oid = x.indrelid \
JOIN pg_namespace n ON n.oid = t.relnamespace \
JOIN pg_am am ON am.oid = i.relam \
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'clinicload_meta') \
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

/// Foreign keys of the application's schemas, their referencing columns quoted the way
/// `pg_get_indexdef` quotes an index column.
const PG_FOREIGN_KEYS: &str = "\
SELECT n.nspname::text, t.relname::text, c.conname::text, \
       ARRAY(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY u(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = u.attnum ORDER BY u.ord), \
       c.confrelid::regclass::text \
FROM pg_constraint c \
JOIN pg_class t ON t.oid = c.conrelid \
JOIN pg_namespace n ON n.oid = t.relnamespace \
WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'clinicload_meta')";

/// The catalog's indexes and foreign keys.
pub async fn catalog(pool: &PgPool) -> Result<(Vec<IndexDef>, Vec<ForeignKey>)> {
    let rows = sqlx::query(PG_INDEXES)
        .fetch_all(pool)
        .await
        .context("reading the indexes from pg_index")?;
    let mut indexes = Vec::with_capacity(rows.len());
    for r in rows {
        indexes.push(IndexDef {
            schema: r.try_get(0)?,
            table: r.try_get(1)?,
            name: r.try_get(2)?,
            oid: r.try_get(3)?,
            method: r.try_get(4)?,
            unique: r.try_get(5)?,
            primary: r.try_get(6)?,
            constraint: r.try_get(7)?,
            valid: r.try_get(8)?,
            columns: r.try_get(9)?,
            keys: r.try_get(10)?,
            include: r.try_get(11)?,
            predicate: r.try_get(12)?,
            definition: r.try_get(13)?,
            bytes: r.try_get(14)?,
        });
    }
    let fks = sqlx::query_as::<_, (String, String, String, Vec<String>, String)>(PG_FOREIGN_KEYS)
        .fetch_all(pool)
        .await
        .context("reading the foreign keys from pg_constraint")?
        .into_iter()
        .map(|(schema, table, name, columns, references)| ForeignKey {
            schema,
            table,
            name,
            columns,
            references,
        })
        .collect();
    Ok((indexes, fks))
}

/// The PostgreSQL part of the report from the two snapshots and the catalog.
pub fn pg_report(
    before: &BTreeMap<String, PgCounters>,
    after: &BTreeMap<String, PgCounters>,
    indexes: &[IndexDef],
    fks: &[ForeignKey],
) -> PgIndexes {
    let usage = pg_deltas(before, after, indexes);
    let used = usage.iter().filter(|u| u.used).count();
    let unused_bytes = usage.iter().filter(|u| !u.used).map(|u| u.bytes).sum();
    PgIndexes {
        used,
        unused: usage.len() - used,
        unused_bytes,
        indexes: usage,
        redundant: redundant::redundant(indexes),
        foreign_keys_without_index: redundant::unindexed_fks(fks, indexes),
    }
}

/// The report of one run: deltas between `before` and `after`, and the catalog read now.
pub async fn report(
    run_id: &str,
    pool: Option<&PgPool>,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<IndexReport> {
    let postgres = match (pool, &before.pg, &after.pg) {
        (Some(pool), Some(b), Some(a)) => {
            let (indexes, fks) = catalog(pool).await?;
            Some(pg_report(b, a, &indexes, &fks))
        }
        _ => None,
    };
    let mongo = match (&before.mongo, &after.mongo) {
        (Some(b), Some(a)) => Some(mongo_deltas(b, a)),
        _ => None,
    };
    Ok(IndexReport {
        schema: super::SCHEMA,
        run_id: run_id.to_string(),
        criteria: CRITERIA.to_vec(),
        postgres,
        mongo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(index: &str, scans: i64) -> (String, PgCounters) {
        (
            format!("public.{index}"),
            PgCounters {
                schema: "public".into(),
                table: "t".into(),
                index: index.into(),
                scans,
                ..Default::default()
            },
        )
    }

    #[test]
    fn deltas_mark_used_what_grew_and_count_new_indexes_from_zero() {
        let before: BTreeMap<_, _> = [c("a", 5), c("b", 7)].into();
        let after: BTreeMap<_, _> = [c("a", 9), c("b", 7), c("new", 2)].into();
        let d = pg_deltas(&before, &after, &[]);
        let got: Vec<_> = d
            .iter()
            .map(|u| (u.index.as_str(), u.scans, u.used))
            .collect();
        assert_eq!(got, vec![("a", 4, true), ("new", 2, true), ("b", 0, false)]);
    }

    #[test]
    fn an_unsupported_index_stats_stage_is_said_so() {
        let m = mongo_deltas(
            &MongoCounters::Unsupported("NotImplemented (238): $indexStats".into()),
            &MongoCounters::Unsupported("x".into()),
        );
        assert_eq!(m.status, super::super::MONGO_UNSUPPORTED);
        assert!(m.message.unwrap().contains("$indexStats"));
    }
}
