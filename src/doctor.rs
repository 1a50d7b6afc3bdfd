//! `clinicload migrate` and `clinicload doctor`: apply the schema to both stores, or report
//! whether each store is reachable, its version, the schema state and the features it lacks.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::{redact, Targets};
use crate::connect;
use crate::schema::{ferretdb, mongo, postgres};

/// Applies PostgreSQL migrations and the MongoDB schema, or (with `status_only`) lists them.
pub async fn migrate_command(targets: &Targets, status_only: bool) -> Result<ExitCode> {
    let pool = connect::postgres(targets, 2).await?;
    if status_only {
        let states = postgres::status(&pool).await?;
        println!("PostgreSQL {}", redact(&targets.database_url));
        for m in &states {
            println!(
                "  {:>4}  {:<18} {}",
                m.version,
                format!("{:?}", m.state).to_lowercase(),
                m.description
            );
        }
        let pending = states
            .iter()
            .filter(|m| m.state != postgres::AppliedState::Applied)
            .count();
        println!(
            "  {} applied, {} not applied",
            states.len() - pending,
            pending
        );
        let (_client, db) = connect::mongo(targets).await?;
        let present = mongo::existing_indexes(&db).await?;
        println!(
            "MongoDB {} database {}",
            redact(&targets.mongodb_uri),
            db.name()
        );
        for spec in mongo::indexes() {
            let ok = present
                .iter()
                .any(|(c, n)| c == spec.collection && n == spec.name);
            println!(
                "  {:<8} {}.{}",
                if ok { "present" } else { "missing" },
                spec.collection,
                spec.name
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let applied = postgres::migrate(&pool).await?;
    if applied.is_empty() {
        println!("PostgreSQL: schema up to date (nothing to apply)");
    } else {
        println!("PostgreSQL: applied migrations {applied:?}");
    }
    let (_client, db) = connect::mongo(targets).await?;
    let report = mongo::apply(&db).await?;
    println!(
        "MongoDB: database {}: {} collections created, {} indexes in place",
        db.name(),
        report.collections_created.len(),
        report.indexes.len()
    );
    for u in &report.unsupported {
        println!(
            "MongoDB: unsupported by this server: {} (server said: {})",
            u.feature.describe(),
            u.server_said
        );
    }
    if ferretdb::ferretdb_version(&db).await?.is_some() {
        migrate_ferretdb_companions(targets, db.name()).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// On FerretDB: the companion GIN indexes in its backing PostgreSQL database (see
/// `schema::ferretdb`). An unreachable backing database is reported, not a failure.
async fn migrate_ferretdb_companions(targets: &Targets, schema: &str) -> Result<()> {
    let url = redact(&targets.ferretdb_postgresql_url());
    let mut conn = match ferretdb::connect_backing(targets).await {
        Ok(conn) => conn,
        Err(why) => {
            println!("MongoDB: {why}");
            return Ok(());
        }
    };
    if !ferretdb::has_schema(&mut conn, schema).await? {
        println!(
            "MongoDB: FerretDB's backing PostgreSQL at {url} has no schema {schema} \
             (is it the database FerretDB runs on? set --ferretdb-postgresql-url / \
             FERRETDB_POSTGRESQL_URL): companion indexes not created; lookups scan collections"
        );
        return Ok(());
    }
    let r = ferretdb::ensure(&mut conn, schema).await?;
    println!(
        "MongoDB: FerretDB backing schema {schema} at {url}: companion GIN indexes: {} of {} in place, {} created",
        r.in_place,
        r.total,
        r.created.len()
    );
    if !r.missing_tables.is_empty() {
        println!(
            "MongoDB: no backing table yet for {}: their companion indexes are missing",
            r.missing_tables.join(", ")
        );
    }
    Ok(())
}

/// The doctor's line about FerretDB's companion indexes.
async fn ferretdb_companion_line(targets: &Targets, schema: &str) -> Result<String> {
    let url = redact(&targets.ferretdb_postgresql_url());
    let mut conn = match ferretdb::connect_backing(targets).await {
        Ok(conn) => conn,
        Err(why) => return Ok(why),
    };
    if !ferretdb::has_schema(&mut conn, schema).await? {
        return Ok(format!(
            "companion GIN indexes: none (no schema {schema} in FerretDB's backing PostgreSQL at {url}; lookups scan collections)"
        ));
    }
    let states = ferretdb::status(&mut conn, schema).await?;
    let present = states.iter().filter(|s| s.present).count();
    let hint = if present < states.len() {
        " (run `clinicload migrate`; lookups without one scan the collection)"
    } else {
        ""
    };
    Ok(format!(
        "companion GIN indexes: {present} of {} in schema {schema} at {url}{hint}",
        states.len()
    ))
}

/// Checks the three stores and prints one block per store; fails if any is unreachable.
pub async fn doctor_command(targets: &Targets) -> Result<ExitCode> {
    let mut healthy = true;

    println!("PostgreSQL  {}", redact(&targets.database_url));
    match connect::postgres(targets, 1).await {
        Ok(pool) => {
            println!("  server:  {}", postgres::server_version(&pool).await?);
            let states = postgres::status(&pool).await?;
            let pending = states
                .iter()
                .filter(|m| m.state == postgres::AppliedState::Pending)
                .count();
            let version = states
                .iter()
                .filter(|m| m.state == postgres::AppliedState::Applied)
                .map(|m| m.version)
                .max();
            match version {
                Some(v) => println!("  schema:  version {v}, {pending} pending"),
                None => println!("  schema:  not migrated (run `clinicload migrate`)"),
            }
            if let Some(bad) = states
                .iter()
                .find(|m| m.state == postgres::AppliedState::ChecksumMismatch)
            {
                healthy = false;
                println!(
                    "  problem: migration {} was altered after it was applied (checksum mismatch)",
                    bad.version
                );
            }
        }
        Err(e) => {
            healthy = false;
            println!("  unreachable: {e:#}");
        }
    }

    println!(
        "MongoDB     {} (database {})",
        redact(&targets.mongodb_uri),
        targets.mongo_database_name()
    );
    match connect::mongo(targets).await {
        Ok((_client, db)) => {
            println!("  server:  {}", mongo::server_version(&db).await?);
            if ferretdb::ferretdb_version(&db).await?.is_some() {
                println!(
                    "  backing: {}",
                    ferretdb_companion_line(targets, db.name()).await?
                );
            }
            let present = mongo::existing_indexes(&db).await?;
            let specs = mongo::indexes();
            let missing: Vec<_> = specs
                .iter()
                .filter(|s| {
                    !present
                        .iter()
                        .any(|(c, n)| c == s.collection && n == s.name)
                })
                .collect();
            println!(
                "  schema:  {} of {} indexes present",
                specs.len() - missing.len(),
                specs.len()
            );
            let validator = mongo::has_validator(&db).await?;
            let mut lacks: Vec<&str> = Vec::new();
            if missing
                .iter()
                .any(|s| s.feature == Some(mongo::Feature::TextIndex))
            {
                lacks.push(mongo::Feature::TextIndex.describe());
            }
            if !validator {
                lacks.push(mongo::Feature::DocumentValidation.describe());
            }
            if lacks.is_empty() {
                println!("  lacks:   nothing clinicload uses");
            } else {
                println!(
                    "  lacks:   {} (not in place; this server may not support them)",
                    lacks.join("; ")
                );
            }
        }
        Err(e) => {
            healthy = false;
            println!("  unreachable: {e:#}");
        }
    }

    println!("Redis       {}", redact(&targets.redis_url));
    match connect::redis(targets).await {
        Ok(mut conn) => {
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(&mut conn)
                .await?;
            let version = info
                .lines()
                .find_map(|l| l.strip_prefix("redis_version:"))
                .unwrap_or("unknown")
                .trim()
                .to_string();
            println!("  server:  Redis {version}");
        }
        Err(e) => {
            healthy = false;
            println!("  unreachable: {e:#}");
        }
    }

    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
