//! Per-table and per-collection checksums of a seeded dataset, so two databases (different
//! thread counts, shard splits, an interrupted and resumed run) can be compared exactly.
//!
//! Each PostgreSQL row is reduced to `md5(row::text)` by the server, streamed in primary-key
//! order and folded into a SHA-256 here, so memory stays flat however large the table.
//! MongoDB documents are hashed as their BSON bytes in `_id` order. Values the driver or the
//! server sets at write time are left out: GridFS `uploadDate` and the chunks' ObjectId `_id`
//! (a chunk is identified by its file id and sequence number instead).

use std::process::ExitCode;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::Database;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::config::{redact, Targets};
use crate::connect;
use crate::schema::mongo::{CLINICAL_NOTES, GRIDFS_CHUNKS, GRIDFS_FILES, VOICE_RECORDINGS};
use crate::seed::pg_copy::TABLES;

/// The checksum of one table or collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub name: String,
    pub rows: u64,
    pub digest: String,
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<20} {:>10}  {}", self.name, self.rows, self.digest)
    }
}

/// One PostgreSQL table: rows in id order, each as md5 of its text form.
pub async fn table_checksum(pool: &PgPool, table: &str) -> Result<Checksum> {
    let sql = format!("SELECT md5(t::text) FROM {table} t ORDER BY id");
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(pool);
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(md5) = rows
        .try_next()
        .await
        .with_context(|| format!("reading {table} for its checksum"))?
    {
        h.update(md5.as_bytes());
        n += 1;
    }
    Ok(Checksum {
        name: table.to_string(),
        rows: n,
        digest: hex::encode(&h.finalize()[..16]),
    })
}

/// One MongoDB collection in `sort` order, without the `projection`-excluded fields.
pub async fn collection_checksum(
    db: &Database,
    collection: &str,
    sort: Document,
    projection: Option<Document>,
) -> Result<Checksum> {
    let coll = db.collection::<Document>(collection);
    // MongoDB caps a reply batch at 16 MB by itself; FerretDB does not, and a default batch
    // of 255 kB GridFS chunks exceeds the 48 MB message limit. 64 documents stay below it.
    let mut find = coll.find(doc! {}).sort(sort).batch_size(64);
    if let Some(p) = projection {
        find = find.projection(p);
    }
    let mut cursor = find
        .await
        .with_context(|| format!("reading MongoDB {collection} for its checksum"))?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut buf = Vec::new();
    while let Some(d) = cursor
        .try_next()
        .await
        .with_context(|| format!("reading MongoDB {collection} for its checksum"))?
    {
        buf.clear();
        d.to_writer(&mut buf)?;
        h.update(&buf);
        n += 1;
    }
    Ok(Checksum {
        name: collection.to_string(),
        rows: n,
        digest: hex::encode(&h.finalize()[..16]),
    })
}

/// Checksums of the ten tables and the four collections, in a fixed order.
pub async fn checksums(pool: &PgPool, db: &Database) -> Result<Vec<Checksum>> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push(table_checksum(pool, t).await?);
    }
    out.push(collection_checksum(db, CLINICAL_NOTES, doc! { "_id": 1 }, None).await?);
    out.push(collection_checksum(db, VOICE_RECORDINGS, doc! { "_id": 1 }, None).await?);
    out.push(
        collection_checksum(
            db,
            GRIDFS_FILES,
            doc! { "_id": 1 },
            Some(doc! { "uploadDate": 0 }),
        )
        .await?,
    );
    out.push(
        collection_checksum(
            db,
            GRIDFS_CHUNKS,
            doc! { "files_id": 1, "n": 1 },
            Some(doc! { "_id": 0 }),
        )
        .await?,
    );
    Ok(out)
}

/// `clinicload checksum`: prints one line per table and collection.
pub async fn checksum_command(targets: &Targets) -> Result<ExitCode> {
    // It may restore what a killed run left: not what a live one is doing.
    let _lock =
        crate::restore::lock::take(targets, crate::restore::lock::Hold::Exclusive, "checksum")
            .await?;
    let pool = connect::postgres(targets, 2).await?;
    // A run that was killed left its writes: the checksum is of the dataset as seeded.
    crate::restore::restore_pending(targets, &pool).await?;
    let (_client, db) = connect::mongo(targets).await?;
    println!(
        "PostgreSQL {}, MongoDB {} database {}",
        redact(&targets.database_url),
        redact(&targets.mongodb_uri),
        db.name()
    );
    let fp: Option<String> = sqlx::query_scalar("SELECT fingerprint FROM clinicload_meta.dataset")
        .fetch_optional(&pool)
        .await
        .unwrap_or(None);
    println!(
        "dataset fingerprint: {}",
        fp.as_deref().unwrap_or("(none recorded)")
    );
    println!("{:<20} {:>10}  checksum", "table/collection", "rows");
    for c in checksums(&pool, &db).await? {
        println!("{c}");
    }
    Ok(ExitCode::SUCCESS)
}
