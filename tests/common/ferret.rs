//! A FerretDB of one test alone, to kill and restart without touching the shared stack's.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::TestEnv;

/// A FerretDB of this test alone: its own port, debug port and state directory, backed by a
/// private database on the shared PostgreSQL. Killed and removed on drop.
pub struct PrivateFerret {
    bin: PathBuf,
    state: PathBuf,
    port: u16,
    debug_port: u16,
    pg_url: String,
    pg_db: String,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The FerretDB that `scripts/stack up` builds: `$CLINICLOAD_STACK_DIR/bin/ferretdb`, by
/// default `.stack/bin/ferretdb` at the repository root (scripts/test runs `stack up` first).
fn ferretdb_bin() -> PathBuf {
    let stack = std::env::var_os("CLINICLOAD_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".stack"));
    let bin = stack.join("bin/ferretdb");
    assert!(
        bin.exists(),
        "{} not found: run scripts/stack up (it builds FerretDB), or set CLINICLOAD_STACK_DIR \
         to the stack directory that has bin/ferretdb",
        bin.display()
    );
    bin
}

impl PrivateFerret {
    pub async fn start(label: &str) -> PrivateFerret {
        let base = super::base_targets();
        let pg_db = format!("t_{label}_ferret_{}", std::process::id());
        let mut admin_url = url::Url::parse(&base.database_url).unwrap();
        admin_url.set_path("/postgres");
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url.as_str())
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {pg_db}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut pg_url = url::Url::parse(&base.database_url).unwrap();
        pg_url.set_path(&format!("/{pg_db}"));
        let state = std::env::temp_dir().join(format!("clinicload-{pg_db}"));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).unwrap();
        let mut f = PrivateFerret {
            bin: ferretdb_bin(),
            state,
            port: free_port(),
            debug_port: free_port(),
            pg_url: pg_url.to_string(),
            pg_db,
            child: None,
        };
        f.run();
        f
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (as scripts/stack does) and waits until it accepts connections.
    pub fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("ferretdb.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .env("FERRETDB_POSTGRESQL_URL", &self.pg_url)
            .arg("--handler=postgresql")
            .arg(format!("--listen-addr=127.0.0.1:{}", self.port))
            .arg(format!("--debug-addr=127.0.0.1:{}", self.debug_port))
            .arg(format!("--state-dir={}", self.state.display()))
            .args(["--telemetry=disable", "--log-level=warn"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private FerretDB did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kill -9 of the server process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateFerret {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.state);
        let url = self
            .pg_url
            .replace(&format!("/{}", self.pg_db), "/postgres");
        let db = self.pg_db.clone();
        // Best effort, outside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            })
        })
        .join();
    }
}

/// A test database pair whose MongoDB side is the private FerretDB.
pub async fn env_on(ferret: &PrivateFerret, label: &str) -> TestEnv {
    let mut env = TestEnv::new(label).await;
    env.targets.mongodb_uri = ferret.uri();
    let pool = env.pool().await;
    clinicload::schema::postgres::migrate(&pool).await.unwrap();
    pool.close().await;
    let (_c, db) = env.mongo().await;
    db.drop().await.unwrap();
    clinicload::schema::mongo::apply(&db).await.unwrap();
    env
}
