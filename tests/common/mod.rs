//! Test support: every test gets its own PostgreSQL database and MongoDB database on the
//! real servers of the local stack (or those named by DATABASE_URL / MONGODB_URI /
//! REDIS_URL), so tests run in parallel without seeing each other's rows.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use clinicload::config::Targets;
use sqlx::{Connection, PgConnection, PgPool};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The stack's targets, from the environment or the local-stack defaults.
pub fn base_targets() -> Targets {
    let mut t = Targets::default();
    if let Ok(v) = std::env::var("DATABASE_URL") {
        t.database_url = v;
    }
    if let Ok(v) = std::env::var("MONGODB_URI") {
        t.mongodb_uri = v;
    }
    if let Ok(v) = std::env::var("REDIS_URL") {
        t.redis_url = v;
    }
    t
}

/// A fresh, empty PostgreSQL database and MongoDB database for one test.
pub struct TestEnv {
    pub targets: Targets,
    pub pg_name: String,
}

impl TestEnv {
    /// Creates empty databases named after `label`, the process id and a counter.
    pub async fn new(label: &str) -> TestEnv {
        let base = base_targets();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{}_{}", label, std::process::id(), n).to_lowercase();
        let mut admin_url = url::Url::parse(&base.database_url).expect("DATABASE_URL parses");
        admin_url.set_path("/postgres");
        let mut admin = PgConnection::connect(admin_url.as_str())
            .await
            .expect("PostgreSQL of the local stack is reachable (run scripts/stack up)");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut db_url = url::Url::parse(&base.database_url).unwrap();
        db_url.set_path(&format!("/{name}"));
        let targets = Targets {
            database_url: db_url.to_string(),
            mongodb_uri: base.mongodb_uri.clone(),
            mongo_database: Some(name.clone()),
            redis_url: base.redis_url.clone(),
        };
        // A leftover MongoDB database of the same name (an earlier run) is dropped.
        let (_c, mdb) = clinicload::connect::mongo(&targets)
            .await
            .expect("MongoDB server reachable");
        mdb.drop().await.unwrap();
        TestEnv {
            targets,
            pg_name: name,
        }
    }

    /// Same, with the schema applied to both stores.
    pub async fn migrated(label: &str) -> TestEnv {
        let env = TestEnv::new(label).await;
        let pool = env.pool().await;
        clinicload::schema::postgres::migrate(&pool)
            .await
            .expect("migrations apply");
        pool.close().await;
        let (_c, db) = env.mongo().await;
        clinicload::schema::mongo::apply(&db)
            .await
            .expect("MongoDB schema applies");
        env
    }

    pub async fn pool(&self) -> PgPool {
        clinicload::connect::postgres(&self.targets, 4)
            .await
            .expect("test database reachable")
    }

    pub async fn mongo(&self) -> (mongodb::Client, mongodb::Database) {
        clinicload::connect::mongo(&self.targets)
            .await
            .expect("MongoDB reachable")
    }

    /// Path of the clinicload binary built for this test run.
    pub fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_clinicload")
    }

    /// A `clinicload` command pointed at this test's databases.
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(Self::bin());
        cmd.env("DATABASE_URL", &self.targets.database_url)
            .env("MONGODB_URI", &self.targets.mongodb_uri)
            .env(
                "MONGODB_DATABASE",
                self.targets.mongo_database.as_deref().unwrap(),
            )
            .env("REDIS_URL", &self.targets.redis_url);
        cmd
    }
}
