//! A variant's index change (`drop_indexes`, `create_indexes`, `hypothetical`): read from the
//! scenario file, applied to PostgreSQL, and undone afterwards.
//!
//! Every change is written to `clinicload_meta.index_changes` before it is made, so a run
//! whose process died with an index dropped or created is put back by the next clinicload
//! command that touches the dataset (`run`, `restore`, `seed`), as the trust issue's undo log
//! does for rows. An index this module did not create is never dropped for good: a dropped
//! index's definition (`pg_get_indexdef`) is recorded first and rebuilt from it.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sqlx::PgPool;

/// One `CREATE INDEX` of a variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateIndex {
    /// The index's name, read from the statement (it is how the index is dropped again).
    pub name: String,
    pub sql: String,
}

/// What a variant does to the indexes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexChange {
    pub drop_indexes: Vec<String>,
    pub create_indexes: Vec<CreateIndex>,
    /// Planner-only (HypoPG): plans and costs with the change, no build, no load.
    pub hypothetical: bool,
}

impl IndexChange {
    pub fn is_empty(&self) -> bool {
        self.drop_indexes.is_empty() && self.create_indexes.is_empty()
    }

    /// Changes the schema for real (a hypothetical change runs no load).
    pub fn is_real(&self) -> bool {
        !self.is_empty() && !self.hypothetical
    }

    /// "drops idx_a; creates idx_b (hypothetical)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.drop_indexes.is_empty() {
            parts.push(format!("drops {}", self.drop_indexes.join(", ")));
        }
        if !self.create_indexes.is_empty() {
            let names: Vec<&str> = self
                .create_indexes
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            parts.push(format!("creates {}", names.join(", ")));
        }
        if parts.is_empty() {
            return "the schema as migrated".into();
        }
        let mut s = parts.join("; ");
        if self.hypothetical {
            s.push_str(" (hypothetical: HypoPG, planner only)");
        }
        s
    }

    /// Takes the index keys out of a `[[variant]]` table (the rest is the cache's).
    pub fn take(t: &mut toml::Table) -> Result<IndexChange, String> {
        let mut change = IndexChange::default();
        if let Some(v) = t.remove("drop_indexes") {
            for name in strings(&v, "drop_indexes")? {
                check_name(&name).map_err(|e| format!("drop_indexes: {e}"))?;
                if change.drop_indexes.contains(&name) {
                    return Err(format!("drop_indexes names {name} twice"));
                }
                change.drop_indexes.push(name);
            }
        }
        if let Some(v) = t.remove("create_indexes") {
            for sql in strings(&v, "create_indexes")? {
                let name = created_name(&sql).map_err(|e| format!("create_indexes: {e}"))?;
                if change.create_indexes.iter().any(|c| c.name == name)
                    || change.drop_indexes.contains(&name)
                {
                    return Err(format!(
                        "create_indexes: {name} appears twice in the variant"
                    ));
                }
                change.create_indexes.push(CreateIndex {
                    name,
                    sql: sql.trim().trim_end_matches(';').trim().to_string(),
                });
            }
        }
        match t.remove("hypothetical") {
            None => {}
            Some(toml::Value::Boolean(b)) => change.hypothetical = b,
            Some(_) => return Err("hypothetical must be true or false".into()),
        }
        if change.hypothetical && change.is_empty() {
            return Err(
                "hypothetical = true needs drop_indexes or create_indexes to estimate".into(),
            );
        }
        Ok(change)
    }
}

fn strings(v: &toml::Value, key: &str) -> Result<Vec<String>, String> {
    let err = || format!("{key} is a list of strings");
    let list = v.as_array().ok_or_else(err)?;
    if list.len() > 32 {
        return Err(format!("{key} has {} entries; at most 32", list.len()));
    }
    list.iter()
        .map(|s| s.as_str().map(str::to_string).ok_or_else(err))
        .collect()
}

/// An index name as PostgreSQL folds an unquoted one: lower-case letters, digits, '_'.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not an index name (lower-case letters, digits and '_', at most 63; the index must be in schema public)",
            name.chars().take(80).collect::<String>()
        ))
    }
}

/// The name a `CREATE [UNIQUE] INDEX [CONCURRENTLY] name ON ...` statement gives its index.
/// One statement only, and it must name its index (that name is how it is dropped again).
pub fn created_name(sql: &str) -> Result<String, String> {
    let body = sql.trim().trim_end_matches(';');
    if body.contains(';') {
        return Err("one CREATE INDEX statement per entry (no ';' inside)".into());
    }
    if sql.len() > 4000 {
        return Err("a CREATE INDEX statement longer than 4,000 characters".into());
    }
    let words: Vec<&str> = body.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let mut i = 0;
    let expect = |w: &str, i: &mut usize| -> bool {
        if upper.get(*i).is_some_and(|u| u == w) {
            *i += 1;
            true
        } else {
            false
        }
    };
    let hint = "write CREATE [UNIQUE] INDEX [CONCURRENTLY] name ON table (...)";
    if !expect("CREATE", &mut i) {
        return Err(format!("{:?} is not a CREATE INDEX; {hint}", shorten(body)));
    }
    expect("UNIQUE", &mut i);
    if !expect("INDEX", &mut i) {
        return Err(format!("{:?} is not a CREATE INDEX; {hint}", shorten(body)));
    }
    expect("CONCURRENTLY", &mut i);
    if upper.get(i).is_some_and(|u| u == "IF") {
        return Err(format!(
            "IF NOT EXISTS in {:?}: the variant must create the index itself to drop it afterwards",
            shorten(body)
        ));
    }
    let name = words.get(i).copied().unwrap_or_default();
    if upper.get(i).map_or(true, |u| u == "ON") {
        return Err(format!(
            "{:?} does not name its index; {hint}",
            shorten(body)
        ));
    }
    if upper.get(i + 1).map_or(true, |u| u != "ON") {
        return Err(format!(
            "{:?}: expected ON after the index name; {hint}",
            shorten(body)
        ));
    }
    check_name(name)?;
    Ok(name.to_string())
}

fn shorten(s: &str) -> String {
    let t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        format!("{t}...")
    } else {
        t
    }
}

/// What applying a change did, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    /// (index, its definition, its size in bytes before the drop).
    pub dropped: Vec<(String, String, i64)>,
    /// (index, build time in ms, size in bytes).
    pub created: Vec<(String, f64, i64)>,
}

const LEDGER_MISSING: &str = "clinicload_meta.index_changes is missing (the database's schema is \
    older than this clinicload): run `clinicload migrate` first";

async fn ledger_exists(pool: &PgPool) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT to_regclass('clinicload_meta.index_changes') IS NOT NULL")
            .fetch_one(pool)
            .await?,
    )
}

/// The index's definition, its size and whether it backs a constraint; None when schema
/// public has no index of that name.
async fn index_info(pool: &PgPool, name: &str) -> Result<Option<(String, i64, bool)>> {
    Ok(sqlx::query_as(
        "SELECT pg_get_indexdef(c.oid), pg_relation_size(c.oid), \
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'i' AND c.relname = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// Checks that `change` can be applied (its dropped indexes exist and back no constraint,
/// its created ones do not exist yet), so a typo fails before any variant has run.
pub async fn check(pool: &PgPool, variant: &str, change: &IndexChange) -> Result<()> {
    if !ledger_exists(pool).await? {
        bail!("{LEDGER_MISSING}");
    }
    for name in &change.drop_indexes {
        match index_info(pool, name).await? {
            None => bail!(
                "variant {variant} drops {name}, which schema public does not have (`clinicload explain` \
                 and a run's indexes.json list the indexes there are)"
            ),
            Some((_, _, true)) => bail!(
                "variant {variant} drops {name}, which backs a primary key, unique or exclusion \
                 constraint; name a plain index"
            ),
            Some(_) => {}
        }
    }
    for c in &change.create_indexes {
        if index_info(pool, &c.name).await?.is_some() {
            bail!(
                "variant {variant} creates {}, which already exists: rename it in the scenario or drop it",
                c.name
            );
        }
    }
    Ok(())
}

/// Applies `change` for `run_id` (a real change; see `hypothetical` for the other kind).
/// Each step is recorded before it is made; on an error the steps already made are undone.
pub async fn apply(pool: &PgPool, run_id: &str, change: &IndexChange) -> Result<Applied> {
    if !ledger_exists(pool).await? {
        bail!("{LEDGER_MISSING}");
    }
    let mut applied = Applied::default();
    let result = apply_steps(pool, run_id, change, &mut applied).await;
    if let Err(e) = result {
        if let Err(u) = undo(pool, run_id).await {
            return Err(e.context(format!(
                "and undoing it failed too ({u:#}); run `clinicload restore`"
            )));
        }
        return Err(e);
    }
    Ok(applied)
}

async fn apply_steps(
    pool: &PgPool,
    run_id: &str,
    change: &IndexChange,
    applied: &mut Applied,
) -> Result<()> {
    for name in &change.drop_indexes {
        let Some((definition, bytes, constraint)) = index_info(pool, name).await? else {
            bail!(
                "the variant drops {name}, which schema public does not have (`clinicload explain` \
                 and the run's indexes.json list the indexes there are)"
            );
        };
        if constraint {
            bail!(
                "the variant drops {name}, which backs a primary key, unique or exclusion \
                 constraint; name a plain index"
            );
        }
        record(pool, run_id, name, "dropped", &definition).await?;
        sqlx::raw_sql(&format!("DROP INDEX public.\"{name}\""))
            .execute(pool)
            .await
            .with_context(|| format!("dropping {name}"))?;
        applied.dropped.push((name.clone(), definition, bytes));
    }
    for c in &change.create_indexes {
        if index_info(pool, &c.name).await?.is_some() {
            bail!(
                "the variant creates {}, which already exists: rename it in the scenario or drop it",
                c.name
            );
        }
        record(pool, run_id, &c.name, "created", &c.sql).await?;
        let started = std::time::Instant::now();
        sqlx::raw_sql(&c.sql)
            .execute(pool)
            .await
            .with_context(|| format!("creating {} ({})", c.name, shorten(&c.sql)))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let bytes = index_info(pool, &c.name).await?.map_or(0, |(_, b, _)| b);
        applied.created.push((c.name.clone(), ms, bytes));
    }
    // Fresh statistics for an expression index (a plain one needs none).
    if !change.create_indexes.is_empty() {
        sqlx::raw_sql("ANALYZE").execute(pool).await.ok();
    }
    Ok(())
}

async fn record(pool: &PgPool, run_id: &str, name: &str, action: &str, sql: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO clinicload_meta.index_changes (run_id, index_name, action, definition) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(run_id)
    .bind(name)
    .bind(action)
    .bind(sql)
    .execute(pool)
    .await
    .context("recording the index change in clinicload_meta.index_changes")?;
    Ok(())
}

/// Undoes the recorded changes of `run_id` (all runs when None), newest first: a created
/// index is dropped, a dropped one rebuilt from its definition. Returns what it did.
pub async fn undo_where(pool: &PgPool, run_id: Option<&str>) -> Result<Vec<String>> {
    if !ledger_exists(pool).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT id, index_name, action, definition FROM clinicload_meta.index_changes \
         WHERE $1::text IS NULL OR run_id = $1 ORDER BY id DESC",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    let mut done = Vec::new();
    for (id, name, action, definition) in rows {
        let exists = index_info(pool, &name).await?.is_some();
        match action.as_str() {
            "created" if exists => {
                sqlx::raw_sql(&format!("DROP INDEX public.\"{name}\""))
                    .execute(pool)
                    .await
                    .with_context(|| format!("dropping {name}, which a variant created"))?;
                done.push(format!("dropped {name}, which a variant created"));
            }
            "dropped" if !exists => {
                sqlx::raw_sql(&definition)
                    .execute(pool)
                    .await
                    .with_context(|| format!("rebuilding {name}, which a variant dropped"))?;
                done.push(format!("rebuilt {name}, which a variant dropped"));
            }
            "extension" => {
                sqlx::raw_sql("DROP EXTENSION IF EXISTS hypopg")
                    .execute(pool)
                    .await
                    .context("dropping the hypopg extension a hypothetical variant created")?;
                done.push("dropped the hypopg extension a hypothetical variant created".into());
            }
            _ => {}
        }
        sqlx::query("DELETE FROM clinicload_meta.index_changes WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(done)
}

/// Undoes one run's changes.
pub async fn undo(pool: &PgPool, run_id: &str) -> Result<Vec<String>> {
    undo_where(pool, Some(run_id)).await
}

/// Undoes every pending change on the database `targets` names (a variant whose process
/// died), saying what it did. Called before a run, a restore and a seed.
pub async fn undo_pending(targets: &crate::config::Targets) -> Result<()> {
    let pool = crate::connect::postgres(targets, 1).await?;
    let done = undo_where(&pool, None).await?;
    for d in &done {
        eprintln!("restoring the schema: {d} (its process ended before it could)");
    }
    pool.close().await;
    Ok(())
}

/// Records that a hypothetical variant created the hypopg extension (dropped on undo).
pub async fn record_extension(pool: &PgPool, run_id: &str) -> Result<()> {
    if !ledger_exists(pool).await? {
        bail!("{LEDGER_MISSING}");
    }
    record(
        pool,
        run_id,
        "hypopg",
        "extension",
        "CREATE EXTENSION hypopg",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_statements_name_their_index() {
        assert_eq!(
            created_name("CREATE INDEX idx_x ON tasks (due_date)").unwrap(),
            "idx_x"
        );
        assert_eq!(
            created_name("create unique index concurrently idx_y on t (a);").unwrap(),
            "idx_y"
        );
        for bad in [
            "CREATE INDEX ON tasks (a)",
            "CREATE INDEX IF NOT EXISTS i ON t (a)",
            "DROP TABLE patients",
            "CREATE INDEX i ON t (a); DROP TABLE patients",
            "CREATE INDEX \"Weird\" ON t (a)",
            "CREATE TABLE i ON",
        ] {
            assert!(created_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variant_tables_give_their_index_keys_and_keep_the_rest() {
        let mut t: toml::Table = toml::from_str(
            "name = \"v\"\nttl = \"1m\"\ndrop_indexes = [\"idx_a\"]\ncreate_indexes = [\"CREATE INDEX idx_b ON t (x)\"]\nhypothetical = true",
        )
        .unwrap();
        let c = IndexChange::take(&mut t).unwrap();
        assert_eq!(c.drop_indexes, ["idx_a"]);
        assert_eq!(c.create_indexes[0].name, "idx_b");
        assert!(c.hypothetical && !c.is_real());
        assert!(t.contains_key("ttl") && !t.contains_key("drop_indexes"));
        let mut bad: toml::Table = toml::from_str("hypothetical = true").unwrap();
        assert!(IndexChange::take(&mut bad).is_err());
        let mut bad: toml::Table = toml::from_str("drop_indexes = [\"Idx; drop\"]").unwrap();
        assert!(IndexChange::take(&mut bad).is_err());
    }
}
