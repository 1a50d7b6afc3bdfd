//! The scenario engine: a scenario file validated into plain data ([`spec`]), rows sampled
//! from the dataset for its parameters ([`catalog`]), the operations on each store ([`ops`]),
//! the load models and recorder ([`runner`], [`schedule`]) and the finished run's record
//! ([`summary`]). Data flows one way: spec -> stores -> catalog -> runner -> summary.
//!
//! It imports no capability: what runs around a run (locks, restore, plan checks, index
//! usage, variants, reports on disk) is `crate::run`'s, and the capabilities call both.

pub mod catalog;
pub mod ops;
pub mod runner;
pub mod schedule;
pub mod spec;
pub mod steady;
pub mod summary;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{redact, Targets};
use crate::connect;
use crate::schema;
use ops::{Store, Stores};
use spec::Scenario;

/// Opens the stores the scenario uses, with its pool sizes, and reads their versions.
pub async fn open_stores(
    targets: &Targets,
    scenario: &Scenario,
) -> Result<(Stores, BTreeMap<String, String>)> {
    let mut stores = Stores::default();
    let mut versions = BTreeMap::new();
    if scenario.uses(Store::Postgres) {
        // A small sqlx pool for sampling the catalog; operations use `pg_conns`.
        let pool = connect::postgres_for_load(targets, 2).await?;
        versions.insert(
            "postgres".to_string(),
            schema::postgres::server_version(&pool).await?,
        );
        stores.pg_conns = Some(
            ops::postgres::PgConns::open(&targets.database_url, scenario.connections.postgres)
                .await
                .with_context(|| {
                    format!(
                        "connecting to PostgreSQL at {}",
                        redact(&targets.database_url)
                    )
                })?,
        );
        stores.pg = Some(pool);
    }
    if scenario.uses(Store::Mongo) {
        // connect::mongo checks reachability with a clear message; the run's own client
        // then gets the scenario's pool size.
        let (_probe, db) = connect::mongo(targets).await?;
        versions.insert(
            "mongo".to_string(),
            schema::mongo::server_version(&db).await?,
        );
        let mut options = mongodb::options::ClientOptions::parse(&targets.mongodb_uri)
            .await
            .with_context(|| format!("MongoDB URI {}", redact(&targets.mongodb_uri)))?;
        options.max_pool_size = Some(scenario.connections.mongo);
        options.app_name = Some("clinicload".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        let client = mongodb::Client::with_options(options)?;
        stores.mongo = Some(client.database(&targets.mongo_database_name()));
    }
    if scenario.uses(Store::Redis) {
        let mut probe = connect::redis(targets).await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut probe)
            .await
            .context("Redis INFO")?;
        let v = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .trim()
            .to_string();
        versions.insert("redis".to_string(), format!("Redis {v}"));
        stores.redis = ops::redis::connections(&targets.redis_url, scenario.connections.redis)
            .await
            .with_context(|| format!("connecting to Redis at {}", redact(&targets.redis_url)))?;
    }
    if stores.pg.is_none() && scenario.ops.iter().any(|o| o.def.write) {
        // The writes are put back from the undo ledger, which lives in PostgreSQL.
        stores.ledger_only = Some(connect::postgres_for_load(targets, 2).await?);
    }
    Ok((stores, versions))
}
