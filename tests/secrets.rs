//! No secret is ever printed: `redact` and `redact_in` over every form of target the drivers
//! accept (property-tested, never panicking on arbitrary text), and every command that can
//! print a target (migrate, doctor, seed, checksum, run), run with each form pointing at an
//! unreachable or wrong server, with the password looked for in stdout, stderr and every
//! report file.
mod common;
use common::prelude::*;

use std::path::{Path, PathBuf};

use clinicload::config::{redact, redact_in, Targets};
use common::TestEnv;
use proptest::prelude::*;

/// Which variable a form goes into.
#[derive(Clone, Copy, Debug)]
enum Store {
    Postgres,
    Mongo,
    Redis,
}

/// (store, target, secrets that must not appear: as written and decoded).
fn forms() -> Vec<(Store, String, Vec<&'static str>)> {
    use Store::*;
    vec![
        (
            Postgres,
            "postgres://app:hunter2pw@127.0.0.1:1/db".into(),
            vec!["hunter2pw"],
        ),
        (
            Postgres,
            "postgresql://app:p%40ss%2Fw%23rd%25x@127.0.0.1:1/db".into(),
            vec!["p%40ss%2Fw%23rd%25x", "p@ss/w#rd%x"],
        ),
        (
            Postgres,
            "postgres://app:r@w/p#ss?x@127.0.0.1:1/db".into(),
            vec!["r@w/p#ss?x"],
        ),
        (
            Postgres,
            "postgres://127.0.0.1:1/db?user=app&password=qu3ryPw&sslmode=disable".into(),
            vec!["qu3ryPw"],
        ),
        (
            Postgres,
            "host=127.0.0.1 port=1 user=app password=hunter2kv dbname=db".into(),
            vec!["hunter2kv"],
        ),
        (
            Postgres,
            r"host=127.0.0.1 port=1 user=app password = 'quoted pw\'s' dbname=db".into(),
            vec![r"quoted pw\'s", "quoted pw's"],
        ),
        (
            Postgres,
            "app:schemelessPw@127.0.0.1:1/db".into(),
            vec!["schemelessPw"],
        ),
        (
            // Reachable server, wrong database (and a password it may not even check).
            Postgres,
            "postgres://clinicload:wrongPw77@127.0.0.1:55432/h3_no_such_database".into(),
            vec!["wrongPw77"],
        ),
        (
            Mongo,
            "mongodb://app:mongoPw1@127.0.0.1:1,127.0.0.1:2/db?replicaSet=rs".into(),
            vec!["mongoPw1"],
        ),
        (
            Mongo,
            "mongodb+srv://app:srvPw123@cluster0.invalid/db".into(),
            vec!["srvPw123"],
        ),
        (
            Mongo,
            "mongodb://app:p%40ss%3Amongo@127.0.0.1:1/?authSource=admin".into(),
            vec!["p%40ss%3Amongo", "p@ss:mongo"],
        ),
        (
            Redis,
            "redis://app:redisPw12@127.0.0.1:1/0".into(),
            vec!["redisPw12"],
        ),
        (
            Redis,
            "redis://:onlyPw123@127.0.0.1:1/".into(),
            vec!["onlyPw123"],
        ),
        (
            // Reachable server that has no such user: AUTH fails.
            Redis,
            "redis://nobody:wrongRedis9@127.0.0.1:56379/".into(),
            vec!["wrongRedis9"],
        ),
    ]
}

#[test]
fn redact_hides_every_form() {
    for (_, target, secrets) in forms() {
        let shown = redact(&target);
        for s in &secrets {
            assert!(!shown.contains(s), "{target} -> {shown}");
        }
        assert!(shown.contains("****"), "{target} -> {shown}");
        let t = Targets {
            database_url: target.clone(),
            ..Targets::default()
        };
        // Drivers echo the target, or its password, in their errors.
        let text = format!(
            "cannot connect to {target}: auth failed for {} (password {})",
            secrets[0],
            secrets.last().unwrap()
        );
        let hidden = redact_in(&text, &t);
        for s in &secrets {
            assert!(!hidden.contains(s), "{text} -> {hidden}");
        }
    }
    // The local stack's user, password and database are all "clinicload": redacting the
    // password must not erase the user and database from messages.
    let t = Targets::default();
    assert_eq!(
        redact_in("database clinicload does not exist", &t),
        "database clinicload does not exist"
    );
    assert_eq!(
        redact(&t.database_url),
        "postgres://clinicload:****@127.0.0.1:55432/clinicload"
    );
    // Shapes that once panicked or leaked.
    assert_eq!(redact("a@b://c"), "a@b://c");
    assert_eq!(redact("://@:"), ":****@:"); // not a URL: everything before @ after a colon is hidden
    assert_eq!(redact("x=1 password="), "x=1 password=");
    assert_eq!(redact("password='unterminated"), "password='****");
}

fn password() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@/#%?:=&;,'\"\\\\+é-]{4,24}".prop_filter("not only punctuation", |p| {
        p.chars().filter(|c| c.is_ascii_alphanumeric()).count() >= 3
    })
}

fn encode(p: &str) -> String {
    url::form_urlencoded::byte_serialize(p.as_bytes()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn redact_never_panics(s in ".{0,80}", t in "[a-z+]{0,8}://[^ ]{0,40}") {
        let _ = redact(&s);
        let _ = redact(&t);
        let targets = Targets { database_url: s.clone(), mongodb_uri: t.clone(), ..Targets::default() };
        let _ = redact_in(&format!("{s} {t}"), &targets);
    }

    #[test]
    fn generated_passwords_never_show(pw in password(), host in "[a-z]{1,8}(:[0-9]{1,5})?", form in 0usize..8) {
        let enc = encode(&pw);
        let quoted = pw.replace('\\', "\\\\").replace('\'', "\\'");
        let target = match form {
            0 => format!("postgres://user:{enc}@{host}/db"),
            1 => format!("mongodb://user:{enc}@{host},{host}/db?replicaSet=rs"),
            2 => format!("mongodb+srv://user:{enc}@{host}/"),
            3 => format!("redis://user:{enc}@{host}/0"),
            4 => format!("postgres://{host}/db?sslmode=disable&password={enc}"),
            5 => format!("host={host} user=app password='{quoted}' dbname=db"),
            // Raw, unencoded: what a user pastes. A host never holds '@'.
            6 => format!("postgres://user:{pw}@{host}/db"),
            _ => format!("redis://:{pw}@{host}/"),
        };
        let shown = redact(&target);
        prop_assert!(!shown.contains(&enc) || enc.len() < 4 && shown.contains("****"), "{} -> {}", target, shown);
        if form != 5 {
            prop_assert!(!shown.contains(&pw), "{} -> {}", target, shown);
        }
        let targets = Targets { redis_url: target.clone(), ..Targets::default() };
        let text = format!("error: {target}: bad password {pw} ({enc})");
        let hidden = redact_in(&text, &targets);
        prop_assert!(!hidden.contains(&pw), "{} -> {}", text, hidden);
        prop_assert!(!hidden.contains(&enc), "{} -> {}", text, hidden);
    }
}

fn scratch(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("clinicload-secrets-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir`, read as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files_under(&p));
        } else if p.is_file() {
            out.push((
                p.clone(),
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_prints_a_password_in_any_form() {
    // The stores a form does not replace are this test's own databases, so a command that
    // gets past the first store touches nothing shared.
    let env = TestEnv::migrated("secrets").await;
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    let root = scratch("cmds");
    let commands: Vec<Vec<String>> = vec![
        vec!["migrate".into()],
        vec!["migrate".into(), "--status".into()],
        vec!["doctor".into()],
        vec![
            "seed".into(),
            "--profile".into(),
            "tiny".into(),
            "--clinics".into(),
            "1".into(),
        ],
        vec!["checksum".into()],
        vec!["restore".into()],
        vec![
            "run".into(),
            smoke.display().to_string(),
            "--duration".into(),
            "0.2s".into(),
            "--warmup".into(),
            "0s".into(),
            "--quiet".into(),
        ],
    ];
    let mut jobs = Vec::new();
    for (f, (store, target, secrets)) in forms().into_iter().enumerate() {
        for (c, args) in commands.iter().enumerate() {
            let out_dir = root.join(format!("f{f}-c{c}"));
            std::fs::create_dir_all(&out_dir).unwrap();
            let mut cmd = env.command();
            cmd.current_dir(&out_dir).args(args);
            if args[0] == "run" {
                cmd.arg("--out").arg(out_dir.join("reports"));
            }
            let var = match store {
                Store::Postgres => "DATABASE_URL",
                Store::Mongo => "MONGODB_URI",
                Store::Redis => "REDIS_URL",
            };
            cmd.env(var, &target);
            // Every command uses PostgreSQL; all but restore (with nothing to restore) use
            // MongoDB; only doctor and run use Redis.
            let must_fail = match store {
                Store::Postgres => true,
                Store::Mongo => args[0] != "restore",
                Store::Redis => args[0] == "doctor" || args[0] == "run",
            };
            jobs.push((
                format!("{} with {target}", args.join(" ")),
                cmd,
                out_dir,
                (secrets.clone(), must_fail),
            ));
        }
    }
    // A few at a time: each waits up to the connect timeout for an unreachable server.
    let results = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        for chunk in jobs.chunks_mut(6) {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter_mut()
                    .map(|(what, cmd, dir, secrets)| {
                        scope.spawn(move || {
                            let out = cmd.checked_output().unwrap();
                            (what.clone(), out, dir.clone(), secrets.clone())
                        })
                    })
                    .collect();
                for h in handles {
                    results.push(h.join().unwrap());
                }
            });
        }
        results
    })
    .await
    .unwrap();
    for (what, out, dir, (secrets, must_fail)) in &results {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
        if *must_fail {
            // The target was unreachable or wrong: the command failed and said where.
            assert!(
                !out.status.success(),
                "{what} succeeded:\n{stdout}\n{stderr}"
            );
            let all = format!("{stdout}{stderr}").to_lowercase();
            assert!(
                all.contains("error") || all.contains("unreachable"),
                "{what}: no error message:\n{stdout}\n{stderr}"
            );
        }
        for s in secrets {
            assert!(!stdout.contains(s), "{what}: {s:?} in stdout:\n{stdout}");
            assert!(!stderr.contains(s), "{what}: {s:?} in stderr:\n{stderr}");
            for (file, text) in files_under(dir) {
                assert!(!text.contains(s), "{what}: {s:?} in {}", file.display());
            }
        }
    }
}
