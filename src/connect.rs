//! Opening connections to the three stores, with errors that name the store, the redacted
//! URL and what to try, so an unreachable server is a one-line diagnosis rather than a
//! driver backtrace.

use std::time::Duration;

use anyhow::{Context, Result};
use mongodb::{bson::doc, options::ClientOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};

use crate::config::{redact, redact_in, Targets};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What to try, chosen from the driver's error text.
fn unreachable_hint(store: &str, flag: &str, env: &str, error: &str) -> String {
    let e = error.to_lowercase();
    if e.contains("authentication")
        || e.contains("auth failed")
        || e.contains("noauth")
        || e.contains("wrongpass")
    {
        format!("check the user name and password in {flag} / {env}")
    } else if e.contains("does not exist") {
        format!("create that database or fix its name in {flag} / {env}")
    } else {
        format!(
            "is {store} running? Start the local stack with `scripts/stack up`, \
             or point clinicload at your server with {flag} / {env}"
        )
    }
}

/// The useful part of a MongoDB driver error (the server-selection error nests the I/O cause).
fn mongo_cause(message: &str) -> String {
    for cause in [
        "Connection refused",
        "timed out",
        "No such host",
        "failed to lookup",
        "Authentication failed",
    ] {
        if message.contains(cause) {
            return format!("no server answered ({})", cause.to_lowercase());
        }
    }
    message
        .lines()
        .next()
        .unwrap_or(message)
        .chars()
        .take(300)
        .collect()
}

/// A PostgreSQL pool of at most `max_connections`, checked by acquiring one connection.
pub async fn postgres(targets: &Targets, max_connections: u32) -> Result<PgPool> {
    postgres_with(
        targets,
        PgPoolOptions::new().max_connections(max_connections.max(1)),
    )
    .await
}

/// A PostgreSQL pool for load runs: no health-check round trip (`test_before_acquire`) each
/// time a connection is taken from the pool, which would double the round trips of every
/// measured query; a broken connection shows up as the failing operation's error instead.
pub async fn postgres_for_load(targets: &Targets, max_connections: u32) -> Result<PgPool> {
    postgres_with(
        targets,
        PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false),
    )
    .await
}

async fn postgres_with(targets: &Targets, pool_options: PgPoolOptions) -> Result<PgPool> {
    let url = &targets.database_url;
    let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
        anyhow::anyhow!(
            "invalid PostgreSQL URL {}: {}. Expected postgres://user:password@host:port/database",
            redact(url),
            redact_in(&e.to_string(), targets)
        )
    })?;
    let options = options.application_name("clinicload");
    // One direct connection first: the pool would only say "timed out", hiding the cause
    // (connection refused, authentication failed, database does not exist).
    let probe = tokio::time::timeout(
        CONNECT_TIMEOUT,
        sqlx::postgres::PgConnection::connect_with(&options),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out after {CONNECT_TIMEOUT:?}"))
    .and_then(|r| r.map_err(anyhow::Error::from));
    match probe {
        Ok(conn) => {
            let _ = sqlx::Connection::close(conn).await;
        }
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot connect to PostgreSQL at {}: {}; {}",
                redact(url),
                redact_in(&e.to_string(), targets),
                unreachable_hint(
                    "PostgreSQL",
                    "--database-url",
                    "DATABASE_URL",
                    &e.to_string()
                )
            ))
        }
    }
    let pool = pool_options
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to PostgreSQL at {}: {}; {}",
                redact(url),
                redact_in(&e.to_string(), targets),
                unreachable_hint(
                    "PostgreSQL",
                    "--database-url",
                    "DATABASE_URL",
                    &e.to_string()
                )
            )
        })?;
    Ok(pool)
}

/// A MongoDB client and the clinicload database, checked with a `ping`.
pub async fn mongo(targets: &Targets) -> Result<(mongodb::Client, mongodb::Database)> {
    let uri = &targets.mongodb_uri;
    let mut options = ClientOptions::parse(uri).await.map_err(|e| {
        anyhow::anyhow!(
            "invalid MongoDB URI {}: {}. Expected mongodb://[user:password@]host:port/[database]",
            redact(uri),
            redact_in(&e.to_string(), targets)
        )
    })?;
    options
        .app_name
        .get_or_insert_with(|| "clinicload".to_string());
    options
        .server_selection_timeout
        .get_or_insert(CONNECT_TIMEOUT);
    options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
    let client = mongodb::Client::with_options(options)
        .with_context(|| format!("invalid MongoDB options in {}", redact(uri)))?;
    let db = client.database(&targets.mongo_database_name());
    db.run_command(doc! { "ping": 1 }).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach MongoDB at {}: {}; {}",
            redact(uri),
            mongo_cause(&redact_in(&e.to_string(), targets)),
            unreachable_hint(
                "the MongoDB server",
                "--mongodb-uri",
                "MONGODB_URI",
                &e.to_string()
            )
        )
    })?;
    Ok((client, db))
}

/// A multiplexed, auto-reconnecting Redis connection, checked with a `PING`.
pub async fn redis(targets: &Targets) -> Result<redis::aio::ConnectionManager> {
    let url = &targets.redis_url;
    let client = redis::Client::open(url.as_str()).map_err(|e| {
        anyhow::anyhow!(
            "invalid Redis URL {}: {}. Expected redis://[:password@]host:port/[db]",
            redact(url),
            redact_in(&e.to_string(), targets)
        )
    })?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_number_of_retries(1);
    let mut conn = tokio::time::timeout(
        CONNECT_TIMEOUT * 2,
        client.get_connection_manager_with_config(config),
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))
    .and_then(|r| r.map_err(anyhow::Error::from))
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to Redis at {}: {}; {}",
            redact(url),
            redact_in(&e.to_string(), targets),
            unreachable_hint("Redis", "--redis-url", "REDIS_URL", &e.to_string())
        )
    })?;
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .with_context(|| format!("Redis at {} did not answer PING", redact(url)))?;
    Ok(conn)
}

/// One page of `SCAN cursor MATCH pattern COUNT 1000`: the next cursor (0 when the scan is
/// complete) and the keys of this page.
pub async fn scan_page(
    conn: &mut redis::aio::ConnectionManager,
    cursor: u64,
    pattern: &str,
) -> anyhow::Result<(u64, Vec<String>)> {
    use anyhow::Context;
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(1000)
        .query_async(conn)
        .await
        .with_context(|| format!("Redis SCAN MATCH {pattern}"))
}

/// Makes the session send its pending statistics (index scans among them) now.
pub const FLUSH_STATISTICS: &str = "SELECT pg_stat_force_next_flush()";

/// Makes every idle connection of `pool` flush its pending statistics.
pub async fn flush_pool(pool: &PgPool) -> Result<()> {
    let mut held = Vec::new();
    for _ in 0..pool.size().max(1) {
        held.push(pool.acquire().await.context("flushing index statistics")?);
    }
    for c in &mut held {
        sqlx::query(FLUSH_STATISTICS).execute(&mut **c).await?;
    }
    Ok(())
}
