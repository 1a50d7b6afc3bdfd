//! Test support: every test gets its own PostgreSQL database and MongoDB database on the
//! real servers of the local stack (or those named by DATABASE_URL / MONGODB_URI /
//! REDIS_URL), so tests run in parallel without seeing each other's rows.
#![allow(dead_code)]

pub mod ferret;

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
    if let Ok(v) = std::env::var("FERRETDB_POSTGRESQL_URL") {
        t.ferretdb_postgresql_url = Some(v);
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
            ferretdb_postgresql_url: base.ferretdb_postgresql_url.clone(),
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

    /// Migrated, with one clinic of 8,000 patients and a year of history, PostgreSQL only:
    /// large enough that losing the encounters index slows that query several times (the
    /// gate's and the index A/B's dataset).
    pub async fn seeded_8000_patients(label: &str) -> TestEnv {
        let env = TestEnv::migrated(label).await;
        let out = env
            .command()
            .args([
                "seed",
                "--profile",
                "tiny",
                "--clinics",
                "1",
                "--patients",
                "8000",
                "--history-days",
                "365",
                "--future-days",
                "7",
                "--seed",
                "7",
                "--as-of",
                "2026-03-02",
                "--postgres-only",
            ])
            .checked_output()
            .unwrap();
        assert!(
            out.status.success(),
            "seed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
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

/// Asserts that every intended arrival of a run ended in exactly one bucket, for the run and
/// for each operation: `ok + noop + failed + timed_out + unsupported + missed + abandoned ==
/// intended`, the operations' intended counts add up to the run's, the failures by kind add
/// up to `failed`, and an operation's `errors` is its failures plus its timeouts.
pub fn assert_accounted(summary: &serde_json::Value) {
    let u = |v: &serde_json::Value, k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {v}"))
    };
    let sum = |a: &serde_json::Value| {
        [
            "ok",
            "noop",
            "failed",
            "timed_out",
            "unsupported",
            "missed",
            "abandoned",
        ]
        .iter()
        .map(|k| u(a, k))
        .sum::<u64>()
    };
    let run = &summary["run"];
    let a = &run["arrivals"];
    assert_eq!(u(run, "intended"), u(a, "intended"), "run.intended: {run}");
    assert_eq!(sum(a), u(a, "intended"), "run buckets do not add up: {a}");
    assert_eq!(u(run, "missed"), u(a, "missed"));
    assert_eq!(u(run, "abandoned"), u(a, "abandoned"));
    assert_eq!(
        &summary["overall"]["arrivals"], a,
        "overall.arrivals = run.arrivals"
    );
    let mut op_intended = 0;
    for op in summary["operations"].as_array().expect("operations") {
        let Some(oa) = op["arrivals"].as_object().map(|_| &op["arrivals"]) else {
            assert!(
                op["sub"].is_string(),
                "an operation row without arrivals: {op}"
            );
            continue;
        };
        assert_eq!(sum(oa), u(oa, "intended"), "{}: buckets: {oa}", op["label"]);
        let by_kind: u64 = oa["failed_by_kind"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            by_kind,
            u(oa, "failed"),
            "{}: failed by kind: {oa}",
            op["label"]
        );
        assert_eq!(
            u(op, "errors"),
            u(oa, "failed") + u(oa, "timed_out"),
            "{}: errors = failed + timed out",
            op["label"]
        );
        assert_eq!(u(op, "count"), u(oa, "ok"), "{}", op["label"]);
        op_intended += u(oa, "intended");
    }
    assert_eq!(
        op_intended,
        u(a, "intended"),
        "per-operation intended counts"
    );
    let kinds: u64 = summary["overall"]["errors_by_kind"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        kinds,
        u(&summary["overall"], "errors"),
        "overall.errors_by_kind"
    );
    for w in summary["warnings"].as_array().unwrap() {
        assert!(!w.as_str().unwrap().contains("do not add up"), "{w}");
    }
}

/// [`assert_accounted`] on a summary returned by the library.
pub fn assert_accounted_summary(summary: &clinicload::report::Summary) {
    assert_accounted(&serde_json::to_value(summary).expect("summary serialises"));
}

/// Sends `signal` ("INT", "TERM", "KILL") to a child process, as a shell or a service manager
/// would.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// The text Rust's panic hook prints. No command clinicload ships may print it, whatever
/// happens (issue #20): a panic is a bug, and so is its text in any output.
pub const PANIC_TEXT: &str = "panicked at";

/// What clinicload's own panic hook prints instead (src/exit.rs): still a bug.
pub const BUG_TEXT: &str = "error: internal error in thread";

/// Fails the test when a finished command printed panic text on stdout or stderr. Every
/// command the suite runs goes through here, by [`NoPanic::checked_output`] or
/// [`NoPanicChild::checked_wait`].
pub fn assert_no_panic_text(what: &str, out: &std::process::Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(PANIC_TEXT) && !text.contains(BUG_TEXT),
            "{what} printed panic text on its {stream}:\n{text}"
        );
    }
}

/// [`std::process::Command::output`], checked for panic text.
pub trait NoPanic {
    fn checked_output(&mut self) -> std::io::Result<std::process::Output>;
}

impl NoPanic for std::process::Command {
    fn checked_output(&mut self) -> std::io::Result<std::process::Output> {
        let out = self.output()?;
        assert_no_panic_text(&format!("{:?}", self.get_program()), &out);
        Ok(out)
    }
}

/// [`std::process::Child::wait_with_output`], checked for panic text.
pub trait NoPanicChild {
    fn checked_wait(self) -> std::io::Result<std::process::Output>;
}

impl NoPanicChild for std::process::Child {
    fn checked_wait(self) -> std::io::Result<std::process::Output> {
        let id = self.id();
        let out = self.wait_with_output()?;
        assert_no_panic_text(&format!("process {id}"), &out);
        Ok(out)
    }
}

/// For a spawned command whose output the test does not read (it is killed, or only its
/// effects matter): its stdout and stderr go to files instead of /dev/null, checked for
/// panic text when the watch is dropped, at the end of the test.
pub struct PanicWatch {
    dir: std::path::PathBuf,
}

impl PanicWatch {
    pub fn new() -> PanicWatch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("clinicload-watch-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        PanicWatch { dir }
    }

    fn file(&self, name: &str) -> std::process::Stdio {
        std::fs::File::create(self.dir.join(name))
            .expect("watch file")
            .into()
    }

    pub fn stdout(&self) -> std::process::Stdio {
        self.file("stdout")
    }

    pub fn stderr(&self) -> std::process::Stdio {
        self.file("stderr")
    }
}

impl Default for PanicWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        let read = |name: &str| std::fs::read(self.dir.join(name)).unwrap_or_default();
        let out = std::process::Output {
            status: std::process::ExitStatus::default(),
            stdout: read("stdout"),
            stderr: read("stderr"),
        };
        let _ = std::fs::remove_dir_all(&self.dir);
        if !std::thread::panicking() {
            assert_no_panic_text("a spawned command", &out);
        }
    }
}

/// What every test file imports to run commands: `use common::prelude::*;`.
pub mod prelude {
    #[allow(unused_imports)]
    pub use super::{NoPanic, NoPanicChild};
}
