//! Companion indexes that make FerretDB's PostgreSQL backend use indexes for lookups.
//!
//! FerretDB v1.24 stores each collection as a table of one `jsonb` column `_jsonb` in a
//! PostgreSQL schema named after the MongoDB database (collection -> table name in that
//! schema's `_ferretdb_database_metadata`), and turns a MongoDB index into a btree on
//! `(_jsonb -> 'field')`. It pushes an equality filter `{encounterId: x}` down as
//! `_jsonb -> 'encounterId' @> '"x"'`, which a btree cannot serve: every lookup scans the
//! table. A GIN index on the same expression with `jsonb_path_ops` serves `@>`, so
//! `clinicload migrate` adds one next to FerretDB's own indexes for each field the schema
//! looks documents up by. Only ever done when the server says it is FerretDB and its backing
//! PostgreSQL database holds the MongoDB database's schema; a real MongoDB is never touched.

use anyhow::{Context, Result};
use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;
use sqlx::{Connection, PgConnection};

use super::mongo;
use crate::config::{redact, redact_in, Targets};

/// FerretDB's per-database table mapping collection names to table names.
const METADATA_TABLE: &str = "_ferretdb_database_metadata";

/// A companion index: a collection and the top-level field its documents are looked up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    pub collection: &'static str,
    pub field: String,
}

/// Whether a field is looked up by equality: identifiers (`encounterId`, `files_id`, GridFS
/// `filename`) and `status` (a doctor's drafts are `{doctorId, status: "draft"}`; FerretDB
/// pushes both equalities down, and without an index on `status` PostgreSQL detoasts every
/// note of the doctor to filter it: 19.7 ms against 1.9 ms with one, measured on a tiny x 2
/// dataset). Timestamps and other fields are sorted or ranged over, which FerretDB v1.24
/// does not push down, so a GIN index on them would only cost writes.
fn is_lookup_field(field: &str) -> bool {
    field.ends_with("Id") || field.ends_with("_id") || field == "filename" || field == "status"
}

/// Collections the workload reads or updates by `_id` (signing a note, a GridFS download's
/// file document). FerretDB's own `_id` index is a btree, which cannot serve the `@>` it
/// pushes down, so each such update scanned the whole collection.
const ID_LOOKUPS: &[&str] = &[mongo::CLINICAL_NOTES, mongo::GRIDFS_FILES];

/// One companion per distinct (collection, first key) of the declared MongoDB indexes whose
/// first key is a top-level lookup field, plus `_id` where the workload looks documents up
/// by it; text indexes are skipped.
pub fn companions() -> Vec<Companion> {
    let mut out: Vec<Companion> = ID_LOOKUPS
        .iter()
        .map(|collection| Companion {
            collection,
            field: "_id".into(),
        })
        .collect();
    for spec in mongo::indexes() {
        if spec.feature.is_some() {
            continue;
        }
        let Some(field) = spec.keys.keys().next() else {
            continue;
        };
        if field.contains('.') || !is_lookup_field(field) {
            continue;
        }
        let c = Companion {
            collection: spec.collection,
            field: field.clone(),
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The companion index's name: FerretDB's table name, the field, `_gin`, within
/// PostgreSQL's 63-byte limit (FerretDB's own index names end in `_idx`).
pub fn index_name(table: &str, field: &str) -> String {
    let suffix = format!("_{}_gin", field.to_lowercase());
    let room = 63usize.saturating_sub(suffix.len());
    let head: String = table.chars().take(room).collect();
    format!("{head}{suffix}")
}

/// `ferretdbVersion` of `buildInfo` when the server is FerretDB, else `None`.
pub async fn ferretdb_version(db: &Database) -> Result<Option<String>> {
    let info = db
        .run_command(doc! { "buildInfo": 1 })
        .await
        .context("buildInfo")?;
    Ok(match info.get("ferretdbVersion") {
        Some(Bson::String(v)) => Some(v.clone()),
        Some(_) => Some("unknown version".into()),
        None => None,
    })
}

/// A connection to FerretDB's backing PostgreSQL database, or the one-line reason why not
/// (redacted).
pub async fn connect_backing(targets: &Targets) -> std::result::Result<PgConnection, String> {
    let url = targets.ferretdb_postgresql_url();
    let unreachable = |why: String| {
        format!(
            "FerretDB's backing PostgreSQL at {} is unreachable: companion indexes not created; lookups scan collections ({})",
            redact(&url),
            redact_in(&why, targets)
        )
    };
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PgConnection::connect(&url),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("timed out after 5 s".into())),
    }
}

/// One companion index as found in the backing schema.
#[derive(Debug, Clone)]
pub struct CompanionState {
    pub companion: Companion,
    /// FerretDB's table for the collection; `None` while the collection does not exist.
    pub table: Option<String>,
    pub index: Option<String>,
    pub present: bool,
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the backing database holds FerretDB's schema for this MongoDB database.
pub async fn has_schema(conn: &mut PgConnection, schema: &str) -> Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2",
    )
    .bind(schema)
    .bind(METADATA_TABLE)
    .fetch_optional(&mut *conn)
    .await
    .context("looking for FerretDB's metadata table")?;
    Ok(found.is_some())
}

/// FerretDB's table for a collection, from the schema's metadata table.
pub async fn table_of(
    conn: &mut PgConnection,
    schema: &str,
    collection: &str,
) -> Result<Option<String>> {
    let sql = format!(
        "SELECT _jsonb ->> 'table' FROM {}.{} WHERE _jsonb -> '_id' = to_jsonb($1::text)",
        quote_ident(schema),
        quote_ident(METADATA_TABLE)
    );
    sqlx::query_scalar(&sql)
        .bind(collection)
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("reading FerretDB's table for {schema}.{collection}"))
}

/// The companion indexes of a MongoDB database (= backing schema) and whether each exists.
pub async fn status(conn: &mut PgConnection, schema: &str) -> Result<Vec<CompanionState>> {
    let mut out = Vec::new();
    for companion in companions() {
        let table = table_of(conn, schema, companion.collection).await?;
        let index = table.as_deref().map(|t| index_name(t, &companion.field));
        let present = match (&table, &index) {
            (Some(t), Some(i)) => sqlx::query_scalar::<_, i32>(
                "SELECT 1 FROM pg_catalog.pg_indexes \
                 WHERE schemaname = $1 AND tablename = $2 AND indexname = $3",
            )
            .bind(schema)
            .bind(t)
            .bind(i)
            .fetch_optional(&mut *conn)
            .await
            .context("listing the backing table's indexes")?
            .is_some(),
            _ => false,
        };
        out.push(CompanionState {
            companion,
            table,
            index,
            present,
        });
    }
    Ok(out)
}

/// What [`ensure`] did.
#[derive(Debug, Default)]
pub struct EnsureReport {
    pub created: Vec<String>,
    pub in_place: usize,
    pub total: usize,
    /// Collections with no backing table (not created yet): their companions are missing.
    pub missing_tables: Vec<&'static str>,
}

/// Creates the missing companion indexes in the backing schema. Idempotent.
pub async fn ensure(conn: &mut PgConnection, schema: &str) -> Result<EnsureReport> {
    let states = status(conn, schema).await?;
    let mut report = EnsureReport {
        total: states.len(),
        ..EnsureReport::default()
    };
    for s in states {
        let (Some(table), Some(index)) = (&s.table, &s.index) else {
            if !report.missing_tables.contains(&s.companion.collection) {
                report.missing_tables.push(s.companion.collection);
            }
            continue;
        };
        if !s.present {
            // The expression FerretDB's pushdown writes (`_jsonb -> 'field' @> ...`), so
            // the planner matches it; jsonb_path_ops is the GIN operator class for `@>`.
            let sql = format!(
                "CREATE INDEX IF NOT EXISTS {} ON {}.{} USING gin ((_jsonb -> '{}') jsonb_path_ops)",
                quote_ident(index),
                quote_ident(schema),
                quote_ident(table),
                s.companion.field.replace('\'', "''")
            );
            sqlx::query(&sql)
                .execute(&mut *conn)
                .await
                .with_context(|| {
                    format!(
                        "creating companion index {index} on {schema}.{table} ({}.{})",
                        s.companion.collection, s.companion.field
                    )
                })?;
            report.created.push(index.clone());
        }
        report.in_place += 1;
    }
    Ok(report)
}

/// One node of a PostgreSQL plan that reads a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPath {
    /// "Seq Scan", "Index Scan", "Bitmap Index Scan", ...
    pub node_type: String,
    pub relation: Option<String>,
    pub index: Option<String>,
}

/// The scans of the PostgreSQL plan FerretDB embeds as `queryPlanner` in its `explain`
/// answer (`{"Plan": {"Node Type": ..., "Plans": [...]}}`), depth first.
pub fn access_paths(query_planner: &Document) -> Vec<AccessPath> {
    fn walk(node: &Document, out: &mut Vec<AccessPath>) {
        let node_type = node.get_str("Node Type").unwrap_or_default();
        if node_type.contains("Scan") {
            out.push(AccessPath {
                node_type: node_type.to_string(),
                relation: node.get_str("Relation Name").ok().map(str::to_string),
                index: node.get_str("Index Name").ok().map(str::to_string),
            });
        }
        if let Ok(children) = node.get_array("Plans") {
            for child in children {
                if let Bson::Document(d) = child {
                    walk(d, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(plan) = query_planner.get_document("Plan") {
        walk(plan, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_are_the_lookup_first_keys_and_the_ids_looked_up() {
        let got: Vec<String> = companions()
            .iter()
            .map(|c| format!("{}.{}", c.collection, c.field))
            .collect();
        assert_eq!(
            got,
            [
                "clinicalNotes._id",
                "fs.files._id",
                "clinicalNotes.encounterId",
                "clinicalNotes.patientId",
                "clinicalNotes.doctorId",
                "clinicalNotes.status",
                "voiceRecordings.encounterId",
                "voiceRecordings.patientId",
                "voiceRecordings.doctorId",
                "fs.files.filename",
                "fs.chunks.files_id",
            ]
        );
    }

    #[test]
    fn index_names_fit_postgresql() {
        assert_eq!(
            index_name("clinicalnotes_e24c607d", "encounterId"),
            "clinicalnotes_e24c607d_encounterid_gin"
        );
        let long = index_name(&"t".repeat(80), "encounterId");
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("_encounterid_gin"));
    }

    #[test]
    fn access_paths_walk_the_embedded_plan() {
        let qp = doc! { "Plan": {
            "Node Type": "Bitmap Heap Scan", "Relation Name": "clinicalnotes_x",
            "Plans": [ { "Node Type": "Bitmap Index Scan", "Index Name": "clinicalnotes_x_encounterid_gin" } ]
        } };
        let paths = access_paths(&qp);
        assert_eq!(paths.len(), 2);
        assert_eq!(
            paths[1].index.as_deref(),
            Some("clinicalnotes_x_encounterid_gin")
        );
        assert!(access_paths(&doc! {}).is_empty());
    }
}
