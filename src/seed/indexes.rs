//! `--defer-indexes` / `--defer-foreign-keys`: drop the secondary indexes (and, if asked, the
//! foreign keys) of the ten tables before a load into empty tables and rebuild them
//! afterwards, then VACUUM (ANALYZE) (see [`vacuum_analyze`]).
//!
//! Why: loading with secondary indexes present was about 8x slower than loading and then
//! building them ("Loading facts", clinic-realism.md). With `--defer-indexes` alone, primary
//! keys, unique constraints and the indexes behind them stay, so foreign keys and duplicate
//! detection keep working during the load. With both options, the primary keys and unique
//! constraints are deferred too (foreign keys depend on them): inserting random UUIDs into a
//! B-tree row by row is most of what is left of the load's cost, and re-adding the keys after
//! the load checks uniqueness over all rows at once, failing loudly on any duplicate. Foreign keys cost a lookup in the referenced table per inserted row; re-adding
//! them after the load validates all rows with one join per key, and fails loudly if any row
//! were orphaned, so the end state is checked as strictly as before. The definitions are read
//! from `pg_indexes` / `pg_get_constraintdef` and saved in
//! `clinicload_meta.deferred_indexes` in the same transaction that drops them, so a seed
//! killed midway still knows what to rebuild: the re-run that completes the dataset does it.

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
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

/// Foreign keys of the ten tables, as the statement that re-adds each. Recorded under the
/// name `fk:<table>.<constraint>` so they sort after the indexes when rebuilt.
const FOREIGN_KEYS: &str = "SELECT 'fk:' || t.relname || '.' || c.conname, t.relname::text,
       format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', t.relname, c.conname, pg_get_constraintdef(c.oid)),
       c.conname::text
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND n.nspname = 'public' AND t.relname = ANY($1)
ORDER BY 1";

/// Primary keys and unique constraints of the ten tables, recorded as `key:<table>.<name>` and
/// rebuilt before the secondary indexes and the foreign keys that need them.
const KEYS: &str = "SELECT 'key:' || t.relname || '.' || c.conname, t.relname::text,
       format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', t.relname, c.conname, pg_get_constraintdef(c.oid)),
       c.conname::text
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype IN ('p', 'u') AND n.nspname = 'public' AND t.relname = ANY($1)
ORDER BY 1";

/// Drops the secondary indexes and/or the foreign keys (and, when both are deferred, the
/// primary keys and unique constraints), recording their definitions in the same
/// transaction. Returns how many indexes (keys included) and foreign keys were dropped.
pub async fn drop_deferred(
    pool: &PgPool,
    indexes: bool,
    foreign_keys: bool,
) -> Result<(usize, usize)> {
    let mut tx = pool.begin().await?;
    sqlx::query(CREATE_BOOKKEEPING).execute(&mut *tx).await?;
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let fks = if foreign_keys {
        drop_constraints(&mut tx, FOREIGN_KEYS, &tables, "foreign keys").await?
    } else {
        0
    };
    // Keys only once nothing references them: the foreign keys are gone above.
    let keys = if foreign_keys && indexes {
        drop_constraints(
            &mut tx,
            KEYS,
            &tables,
            "primary keys and unique constraints",
        )
        .await?
    } else {
        0
    };
    if !indexes {
        tx.commit().await?;
        return Ok((0, fks));
    }
    let defs: Vec<(String, String, String)> = sqlx::query_as(SECONDARY_INDEXES)
        .bind(&tables)
        .fetch_all(&mut *tx)
        .await
        .context("reading index definitions from pg_indexes")?;
    for (name, table, def) in &defs {
        record(&mut tx, name, table, def).await?;
        sqlx::query(&format!("DROP INDEX public.\"{name}\""))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("dropping index {name}"))?;
    }
    tx.commit().await?;
    Ok((defs.len() + keys, fks))
}

/// Saves what rebuilds one dropped index or constraint, in the transaction that drops it.
async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    key: &str,
    table: &str,
    definition: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO clinicload_meta.deferred_indexes (index_name, table_name, definition) \
         VALUES ($1, $2, $3) ON CONFLICT (index_name) DO NOTHING",
    )
    .bind(key)
    .bind(table)
    .bind(definition)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Drops the constraints `query` lists (key, table, ADD CONSTRAINT statement, name), recording
/// each statement first; returns how many.
async fn drop_constraints(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    query: &str,
    tables: &[String],
    what: &str,
) -> Result<usize> {
    let defs: Vec<(String, String, String, String)> = sqlx::query_as(query)
        .bind(tables)
        .fetch_all(&mut **tx)
        .await
        .with_context(|| format!("reading the definitions of the {what} from pg_constraint"))?;
    for (key, table, def, conname) in &defs {
        record(tx, key, table, def).await?;
        sqlx::query(&format!(
            "ALTER TABLE public.\"{table}\" DROP CONSTRAINT \"{conname}\""
        ))
        .execute(&mut **tx)
        .await
        .with_context(|| format!("dropping constraint {conname} of {table}"))?;
    }
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

/// Rebuilds every recorded index, then re-adds every recorded foreign key (each in its own
/// transaction with its bookkeeping row).
pub async fn rebuild(pool: &PgPool) -> Result<usize> {
    let defs: Vec<(String, String)> = if pending(pool).await?.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT index_name, definition FROM clinicload_meta.deferred_indexes \
             ORDER BY index_name LIKE 'fk:%', table_name, index_name",
        )
        .fetch_all(pool)
        .await?
    };
    // Keys first (the foreign keys need their unique indexes), then the secondary indexes,
    // then the foreign keys. Index builds take SHARE locks, which do not conflict with each
    // other, and keys of different tables lock different tables: each group runs on all the
    // pool's connections at once. Foreign keys lock both tables in SHARE ROW EXCLUSIVE mode,
    // which conflicts with itself, so they are re-added one after another.
    let (fks, rest): (Vec<_>, Vec<_>) = defs.iter().partition(|(n, _)| n.starts_with("fk:"));
    let (keys, idx): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(n, _)| n.starts_with("key:"));
    let parallel = (pool.options().get_max_connections() as usize).max(1);
    for group in [keys, idx] {
        futures::stream::iter(
            group
                .into_iter()
                .map(|(name, def)| restore_one(pool, name, def)),
        )
        .buffer_unordered(parallel)
        .try_collect::<Vec<()>>()
        .await?;
    }
    for (name, def) in fks {
        restore_one(pool, name, def).await?;
    }
    Ok(defs.len())
}

/// Runs one recorded definition and forgets it, in one transaction.
async fn restore_one(pool: &PgPool, name: &str, def: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(def)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("rebuilding {name}: {def}"))?;
    sqlx::query("DELETE FROM clinicload_meta.deferred_indexes WHERE index_name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Vacuums the ten tables and refreshes their planner statistics, several tables at once.
///
/// Why VACUUM and not only ANALYZE: a freshly loaded table is exactly what autovacuum wakes
/// up for (its inserts since the last vacuum), about a minute later, in the middle of
/// whatever is measured next. Seen in the gate's tests: autovacuum and autoanalyze ran on the
/// just-seeded baseline during its runs and not on the candidate's clone, and made one side
/// 16% slower. Vacuumed here, the dataset is quiet: hint bits and the visibility map are set
/// and autovacuum has nothing left to do. The writers' connections flush their statistics
/// first: an insert count flushed after the VACUUM would wake autovacuum all the same (seen:
/// `n_ins_since_vacuum` 8,000 on patients right after a vacuumed seed).
pub async fn vacuum_analyze(pool: &PgPool) -> Result<()> {
    crate::connect::flush_pool(pool).await?;
    let parallel = (pool.options().get_max_connections() as usize).max(1);
    futures::stream::iter(TABLES.map(|t| async move {
        sqlx::query(&format!("VACUUM (ANALYZE) {t}"))
            .execute(pool)
            .await
            .with_context(|| format!("VACUUM (ANALYZE) {t}"))
    }))
    .buffer_unordered(parallel)
    .try_collect::<Vec<_>>()
    .await?;
    Ok(())
}
