//! Index usage under the workload: after each `clinicload run`, which indexes the run's
//! operations used (from the deltas of PostgreSQL's cumulative index statistics, and of
//! MongoDB's `$indexStats` where the server has it), which they never touched, with their
//! sizes; and, from the catalog, the schema's duplicate or left-prefix-redundant indexes and
//! foreign keys without a supporting index. "Unused" here means unused by the documented
//! workload of this run, decided by the run rather than by weeks of production statistics.
//!
//! `usage` takes the snapshots and builds the [`IndexReport`]; `redundant` holds the pure
//! rules over catalog rows. The report is written as `indexes.json`, put into summary.json
//! under `indexes`, and handed to `report/` as plain tables ([`sections`]).

pub mod redundant;
pub mod usage;

use serde::Serialize;

use crate::report::page::{Cell, Table, Tone};

/// Schema string of `indexes.json`.
pub const SCHEMA: &str = "clinicload.indexes/1";

/// What the run did with the indexes, and what the schema's indexes look like.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub schema: &'static str,
    pub run_id: String,
    /// How the verdicts are decided, in words (the same as reports/README.md).
    pub criteria: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PgIndexes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mongo: Option<MongoIndexes>,
}

pub const CRITERIA: [&str; 4] = [
    "used: idx_scan grew between the snapshot taken right before the load and the one taken after the load's connections flushed their statistics, before the dataset restore",
    "unused: idx_scan did not grow during the run (unused by this workload, not necessarily by production)",
    "redundant: same table, index method and predicate (a partial index is compared only with one of the same predicate); duplicate = same key columns/expressions, order, operator class and collation, and included columns covered; left_prefix = a btree whose keys are a strict prefix of another's; a unique index or primary key is never redundant to a non-unique one, nor to a wider one",
    "foreign key without index: no valid index on the referencing table whose leading columns are the key's columns (in any order), full or with a predicate that is only IS NOT NULL of one of them",
];

#[derive(Debug, Clone, Serialize)]
pub struct PgIndexes {
    /// Every index of the application's schemas (clinicload_meta left out), most scanned first.
    pub indexes: Vec<IndexUsage>,
    pub used: usize,
    pub unused: usize,
    pub unused_bytes: i64,
    pub redundant: Vec<redundant::Redundant>,
    pub foreign_keys_without_index: Vec<redundant::UnindexedFk>,
}

/// One PostgreSQL index's counters over the run (deltas) and its size after it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexUsage {
    pub schema: String,
    pub table: String,
    pub index: String,
    pub scans: i64,
    pub tuples_read: i64,
    pub tuples_fetched: i64,
    pub blocks_hit: i64,
    pub blocks_read: i64,
    pub bytes: i64,
    pub used: bool,
    pub unique: bool,
    pub primary: bool,
    pub definition: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MongoIndexes {
    /// `measured`, or `unsupported by this server` (FerretDB has no `$indexStats`), or
    /// `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub indexes: Vec<MongoIndexUsage>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MongoIndexUsage {
    pub collection: String,
    pub index: String,
    /// Growth of `accesses.ops` over the run.
    pub ops: i64,
    pub used: bool,
}

pub const MONGO_UNSUPPORTED: &str = "unsupported by this server";

fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / 1024.0 / 1024.0)
    } else if n >= 1024.0 {
        format!("{:.0} KiB", n / 1024.0)
    } else {
        format!("{n:.0} B")
    }
}

fn kind(u: &IndexUsage) -> &'static str {
    if u.primary {
        "primary key"
    } else if u.unique {
        "unique"
    } else {
        "index"
    }
}

/// The report's tables for report.html and summary.md.
pub fn sections(r: &IndexReport) -> Vec<Table> {
    let mut out = Vec::new();
    if let Some(pg) = &r.postgres {
        let mut used = Table {
            title: format!(
                "Indexes used by the workload (PostgreSQL): {} of {}",
                pg.used,
                pg.indexes.len()
            ),
            columns: [
                "table",
                "index",
                "scans",
                "tuples read",
                "blocks hit",
                "blocks read",
                "size",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        let mut unused = Table {
            title: format!(
                "Indexes the workload never touched (PostgreSQL): {}, {}",
                pg.unused,
                bytes(pg.unused_bytes)
            ),
            columns: ["table", "index", "kind", "size", "definition"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for u in &pg.indexes {
            if u.used {
                used.rows.push(vec![
                    Cell::new(&u.table),
                    Cell::new(&u.index),
                    Cell::toned(u.scans.to_string(), Tone::Good),
                    Cell::new(u.tuples_read.to_string()),
                    Cell::new(u.blocks_hit.to_string()),
                    Cell::new(u.blocks_read.to_string()),
                    Cell::new(bytes(u.bytes)),
                ]);
            } else {
                let tone = if u.primary || u.unique {
                    Tone::Neutral
                } else {
                    Tone::Warn
                };
                unused.rows.push(vec![
                    Cell::new(&u.table),
                    Cell::toned(&u.index, tone),
                    Cell::new(kind(u)),
                    Cell::new(bytes(u.bytes)),
                    Cell::new(&u.definition),
                ]);
            }
        }
        out.push(used);
        out.push(unused);
        let mut red = Table {
            title: format!(
                "Duplicate and left-prefix-redundant indexes (PostgreSQL): {}",
                pg.redundant.len()
            ),
            columns: ["table", "index", "kind", "covered by", "size", "why"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for d in &pg.redundant {
            red.rows.push(vec![
                Cell::new(&d.table),
                Cell::toned(&d.index, Tone::Warn),
                Cell::new(&d.kind),
                Cell::new(&d.covered_by),
                Cell::new(bytes(d.bytes)),
                Cell::new(&d.reason),
            ]);
        }
        out.push(red);
        let mut fks = Table {
            title: format!(
                "Foreign keys without a supporting index (PostgreSQL): {}",
                pg.foreign_keys_without_index.len()
            ),
            columns: ["table", "constraint", "columns", "references"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for f in &pg.foreign_keys_without_index {
            fks.rows.push(vec![
                Cell::new(&f.table),
                Cell::new(&f.constraint),
                Cell::toned(f.columns.join(", "), Tone::Warn),
                Cell::new(&f.references),
            ]);
        }
        out.push(fks);
    }
    if let Some(m) = &r.mongo {
        let mut t = Table {
            title: format!("MongoDB index use ($indexStats): {}", m.status),
            columns: ["collection", "index", "operations", "used"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        if let Some(msg) = &m.message {
            t.rows.push(vec![
                Cell::toned(&m.status, Tone::Warn),
                Cell::new(msg),
                Cell::new(""),
                Cell::new(""),
            ]);
        }
        for i in &m.indexes {
            t.rows.push(vec![
                Cell::new(&i.collection),
                Cell::new(&i.index),
                Cell::new(i.ops.to_string()),
                Cell::toned(
                    if i.used { "yes" } else { "no" },
                    if i.used { Tone::Good } else { Tone::Warn },
                ),
            ]);
        }
        out.push(t);
    }
    out
}
