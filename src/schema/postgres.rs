//! PostgreSQL side of the schema: sqlx's migrator over the SQL files in `migrations/`,
//! embedded in the binary so `clinicload migrate` needs nothing on disk.

use anyhow::{anyhow, Result};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// One migration and whether (and how) it is applied in the target database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub state: AppliedState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliedState {
    Applied,
    Pending,
    /// Applied, but the file's checksum differs from what the database recorded.
    ChecksumMismatch,
    /// Recorded in the database but unknown to this binary.
    Unknown,
}

/// Applies every pending migration; a no-op when all are applied. Returns the versions applied.
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>> {
    let before = status(pool).await?;
    if let Some(bad) = before
        .iter()
        .find(|m| m.state == AppliedState::ChecksumMismatch)
    {
        return Err(checksum_error(bad.version, &bad.description));
    }
    MIGRATOR.run(pool).await.map_err(|e| match e {
        MigrateError::VersionMismatch(v) => checksum_error(v, ""),
        MigrateError::VersionMissing(v) => anyhow!(
            "the database has migration {v} applied, which this clinicload does not know: \
             it was migrated by a newer clinicload. Use that version, or a fresh database"
        ),
        other => anyhow!("applying PostgreSQL migrations failed: {other}"),
    })?;
    sqlx::query("UPDATE clinicload_meta.prepared SET clinicload_version = $1")
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(pool)
        .await?;
    Ok(before
        .iter()
        .filter(|m| m.state == AppliedState::Pending)
        .map(|m| m.version)
        .collect())
}

fn checksum_error(version: i64, description: &str) -> anyhow::Error {
    anyhow!(
        "migration {version} {description} was changed after it was applied: its checksum no longer \
         matches the one recorded in _sqlx_migrations. Migrations are immutable once applied; \
         restore the original file and add a new migration, or migrate a fresh database"
    )
}

/// The state of every known migration, plus any the database has that this binary lacks.
pub async fn status(pool: &PgPool) -> Result<Vec<MigrationState>> {
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: Vec<(i64, Vec<u8>, bool)> = if table_exists {
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let mut states: Vec<MigrationState> = MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| {
            let state = match applied.iter().find(|(v, _, _)| *v == m.version) {
                Some((_, sum, true)) if sum.as_slice() == &*m.checksum => AppliedState::Applied,
                Some((_, _, true)) => AppliedState::ChecksumMismatch,
                _ => AppliedState::Pending,
            };
            MigrationState {
                version: m.version,
                description: m.description.to_string(),
                state,
            }
        })
        .collect();
    for (v, _, _) in &applied {
        if !states.iter().any(|s| s.version == *v) {
            states.push(MigrationState {
                version: *v,
                description: "(unknown)".into(),
                state: AppliedState::Unknown,
            });
        }
    }
    Ok(states)
}

/// Whether `clinicload migrate` prepared this database (its bookkeeping schema exists).
pub async fn is_prepared_by_clinicload(pool: &PgPool) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT to_regclass('clinicload_meta.prepared') IS NOT NULL")
            .fetch_one(pool)
            .await?,
    )
}

/// `SELECT version()` of the server, shortened to its first words.
pub async fn server_version(pool: &PgPool) -> Result<String> {
    let v: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(pool)
        .await?;
    Ok(v.split(',').next().unwrap_or(&v).to_string())
}
