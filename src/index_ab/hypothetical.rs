//! A hypothetical index variant: the planner's view of a change before paying for it. With
//! HypoPG (1.3, Debian `postgresql-15-hypopg`) a `CREATE INDEX` becomes a hypothetical index
//! (`hypopg_create_index`) and a dropped index a hidden one (`hypopg_hide_index`), both on
//! one session only; each keyed read is then planned (EXPLAIN without ANALYZE) before and
//! after. The result is an estimate: plans, costs and the estimated size, never latency.
//! A server without HypoPG is reported as such, never an error of the run.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use super::change::{self, IndexChange};
use crate::config::Targets;
use crate::explain::OpPath;
use crate::report::page::{Cell, Table, Tone};
use crate::scenario::spec::Scenario;

/// The estimate of one hypothetical variant.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub variant: String,
    /// "estimated (HypoPG x.y, planner only: no latency)" or "unsupported by this server".
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// (hypothetical index, estimated size in bytes).
    pub sizes: Vec<(String, i64)>,
    /// (operation, plan as migrated, plan with the change).
    pub ops: Vec<(String, OpPath, OpPath)>,
}

pub const UNSUPPORTED: &str = "unsupported by this server";

/// Plans `scenario`'s keyed reads without and with `change` on a HypoPG session.
pub async fn estimate(
    targets: &Targets,
    scenario: &Scenario,
    variant: &str,
    run_id: &str,
    change: &IndexChange,
) -> Result<Estimate> {
    let scenario = &crate::explain::postgres_only(scenario);
    let crate::explain::PlanSession {
        catalog, mut conn, ..
    } = crate::explain::PlanSession::open(targets, scenario).await?;
    let mut out = Estimate {
        variant: variant.to_string(),
        status: UNSUPPORTED.into(),
        message: None,
        sizes: Vec::new(),
        ops: Vec::new(),
    };
    let available: Option<String> = sqlx::query_scalar(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'hypopg'",
    )
    .fetch_optional(&mut conn)
    .await?;
    let Some(version) = available else {
        out.message = Some(
            "HypoPG is not installed on this PostgreSQL server (Debian/Ubuntu: postgresql-15-hypopg; scripts/stack installs it): the hypothetical variant was not estimated".into(),
        );
        return Ok(out);
    };
    let installed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg')")
            .fetch_one(&mut conn)
            .await?;
    if !installed {
        let pool = crate::connect::postgres(targets, 1).await?;
        change::record_extension(&pool, run_id).await?;
        if let Err(e) = sqlx::raw_sql("CREATE EXTENSION hypopg")
            .execute(&mut conn)
            .await
        {
            let _ = change::undo(&pool, run_id).await;
            out.message = Some(format!(
                "HypoPG {version} is available but could not be created here ({e}); the hypothetical variant was not estimated"
            ));
            return Ok(out);
        }
    }
    let can_hide: bool = sqlx::query_scalar("SELECT to_regproc('hypopg_hide_index') IS NOT NULL")
        .fetch_one(&mut conn)
        .await?;
    if !change.drop_indexes.is_empty() && !can_hide {
        out.message = Some(format!(
            "HypoPG {version} cannot hide an existing index (hypopg_hide_index came with HypoPG 1.4): a hypothetical drop is not estimated on this server; drop it for real in a variant without hypothetical = true"
        ));
        if !installed {
            let pool = crate::connect::postgres(targets, 1).await?;
            change::undo(&pool, run_id).await?;
        }
        return Ok(out);
    }
    let result = plan_both(&mut conn, scenario, &catalog, change, &mut out).await;
    let _ = sqlx::raw_sql("SELECT hypopg_reset()")
        .execute(&mut conn)
        .await;
    conn.close().await.ok();
    if !installed {
        // The extension this variant created goes again (its ledger row says so).
        let pool = crate::connect::postgres(targets, 1).await?;
        change::undo(&pool, run_id).await?;
    }
    result?;
    out.status = format!("estimated (HypoPG {version}, planner only: no latency)");
    Ok(out)
}

async fn plan_both(
    conn: &mut PgConnection,
    scenario: &Scenario,
    catalog: &crate::scenario::catalog::Catalog,
    change: &IndexChange,
    out: &mut Estimate,
) -> Result<()> {
    let before = crate::explain::access_paths(conn, scenario, catalog).await?;
    // Hypothetical indexes are named "<oid>btree_table_column"; the report uses the names the
    // scenario gave them.
    let mut names: Vec<(String, String)> = Vec::new();
    for c in &change.create_indexes {
        let (oid, hypo_name): (sqlx::postgres::types::Oid, String) =
            sqlx::query_as("SELECT indexrelid, indexname FROM hypopg_create_index($1)")
                .bind(&c.sql)
                .fetch_one(&mut *conn)
                .await
                .with_context(|| format!("hypopg_create_index for {}", c.name))?;
        let size: i64 = sqlx::query_scalar("SELECT hypopg_relation_size($1)")
            .bind(oid)
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(0);
        out.sizes.push((c.name.clone(), size));
        names.push((hypo_name, c.name.clone()));
    }
    for name in &change.drop_indexes {
        let hidden: bool = sqlx::query_scalar("SELECT hypopg_hide_index(to_regclass($1)::oid)")
            .bind(format!("public.{name}"))
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("hypopg_hide_index for {name} (HypoPG 1.3 or later)"))?;
        if !hidden {
            anyhow::bail!(
                "hypothetical variant {}: schema public has no index {name} to hide",
                out.variant
            );
        }
    }
    let mut after = crate::explain::access_paths(conn, scenario, catalog).await?;
    for p in &mut after {
        for a in &mut p.plan.accesses {
            if let Some(i) = &mut a.index {
                for (hypo, real) in &names {
                    *i = i.replace(hypo.as_str(), real);
                }
            }
        }
        for (hypo, real) in &names {
            p.plan.tree = p.plan.tree.replace(hypo.as_str(), real);
        }
    }
    for b in before {
        if let Some(a) = after.iter().find(|a| a.op == b.op) {
            out.ops.push((b.op.clone(), b.clone(), a.clone()));
        }
    }
    Ok(())
}

/// The estimate as a report table.
pub fn table(e: &Estimate) -> Table {
    let mut title = format!("Hypothetical variant {} — {}", e.variant, e.status);
    if let Some(m) = &e.message {
        title.push_str(&format!(": {m}"));
    }
    Table {
        title,
        columns: [
            "operation",
            "as migrated (estimate)",
            "with the change (estimate)",
            "cost",
        ]
        .map(String::from)
        .to_vec(),
        rows: e
            .ops
            .iter()
            .map(|(op, before, after)| {
                let changed = before.plan.shape() != after.plan.shape();
                let ratio = if before.plan.total_cost > 0.0 {
                    after.plan.total_cost / before.plan.total_cost
                } else {
                    1.0
                };
                vec![
                    Cell::new(op),
                    Cell::new(format!(
                        "{} (cost {:.1})",
                        before.plan.access_line(),
                        before.plan.total_cost
                    )),
                    Cell::toned(
                        format!(
                            "{} (cost {:.1})",
                            after.plan.access_line(),
                            after.plan.total_cost
                        ),
                        if changed { Tone::Warn } else { Tone::Neutral },
                    ),
                    Cell::new(format!("x{ratio:.2} (estimate)")),
                ]
            })
            .collect(),
    }
}
