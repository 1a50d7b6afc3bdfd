//! `--defer-indexes`: drop the secondary indexes of the ten tables before a load into empty
//! tables and rebuild them afterwards, then ANALYZE.
//!
//! Why: loading with secondary indexes present was about 8x slower than loading and then
//! building them ("Loading facts", clinic-realism.md). Primary keys, unique constraints and
//! the indexes behind them stay, so foreign keys and duplicate detection keep working during
//! the load. The definitions are read from `pg_indexes` and saved in
//! `clinicload_meta.deferred_indexes` in the same transaction that drops them, so a seed
//! killed midway still knows what to rebuild: the re-run that completes the dataset does it.

use anyhow::{Context, Result};
use sqlx::PgPool;

use crate::seed::pg_copy::TABLES;

/// Bookkeeping of dropped indexes. Created here rather than in a migration because only this
/// option uses it, and it must exist only while indexes are dropped.
const CREATE_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS clinicload_meta.deferred_indexes (
    index_name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    definition TEXT NOT NULL
)";

/// Secondary indexes of the ten tables: every index in `public` on those tables that does not
/// back a constraint (primary key, unique, exclusion).
const SECONDARY_INDEXES: &str = "SELECT i.indexname, i.tablename, i.indexdef
FROM pg_indexes i
WHERE i.schemaname = 'public'
  AND i.tablename = ANY($1)
  AND NOT EXISTS (
      SELECT 1 FROM pg_constraint c
      WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass
  )
ORDER BY i.tablename, i.indexname";

/// Drops the secondary indexes, recording their definitions. Returns how many were dropped.
pub async fn drop_secondary(pool: &PgPool) -> Result<usize> {
    let mut tx = pool.begin().await?;
    sqlx::query(CREATE_BOOKKEEPING).execute(&mut *tx).await?;
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let defs: Vec<(String, String, String)> = sqlx::query_as(SECONDARY_INDEXES)
        .bind(&tables)
        .fetch_all(&mut *tx)
        .await
        .context("reading index definitions from pg_indexes")?;
    for (name, table, def) in &defs {
        sqlx::query(
            "INSERT INTO clinicload_meta.deferred_indexes (index_name, table_name, definition) \
             VALUES ($1, $2, $3) ON CONFLICT (index_name) DO NOTHING",
        )
        .bind(name)
        .bind(table)
        .bind(def)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!("DROP INDEX public.\"{name}\""))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("dropping index {name}"))?;
    }
    tx.commit().await?;
    Ok(defs.len())
}

/// Indexes dropped by an earlier (possibly interrupted) deferred load, still to rebuild.
pub async fn pending(pool: &PgPool) -> Result<Vec<String>> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('clinicload_meta.deferred_indexes') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT index_name FROM clinicload_meta.deferred_indexes ORDER BY 1")
            .fetch_all(pool)
            .await?,
    )
}

/// Rebuilds every recorded index (each in its own transaction with its bookkeeping row).
pub async fn rebuild(pool: &PgPool) -> Result<usize> {
    let defs: Vec<(String, String)> = if pending(pool).await?.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT index_name, definition FROM clinicload_meta.deferred_indexes ORDER BY table_name, index_name",
        )
        .fetch_all(pool)
        .await?
    };
    for (name, def) in &defs {
        let mut tx = pool.begin().await?;
        sqlx::query(def)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("rebuilding index {name}: {def}"))?;
        sqlx::query("DELETE FROM clinicload_meta.deferred_indexes WHERE index_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(defs.len())
}

/// Refreshes the planner statistics of the ten tables.
pub async fn analyze(pool: &PgPool) -> Result<()> {
    sqlx::query(&format!("ANALYZE {}", TABLES.join(", ")))
        .execute(pool)
        .await
        .context("ANALYZE")?;
    Ok(())
}
