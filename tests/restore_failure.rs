//! A run whose restore fails keeps its report: the MongoDB server (a private FerretDB) is
//! killed during a write run and not restarted before the run ends. The run writes its whole
//! report, moves `latest`, records the failed restore in summary.json and at the top of
//! summary.md, and exits 8; once the server is back, `clinicload restore` says why the writes
//! were left and puts the dataset back to the checksums it had before the run.
mod common;
use common::prelude::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use clinicload::seed::checksum::{checksums, Checksum};
use common::ferret::{env_on, PrivateFerret};
use common::TestEnv;

async fn sums(env: &TestEnv) -> Vec<Checksum> {
    let pool = env.pool().await;
    let (_c, db) = env.mongo().await;
    let s = checksums(&pool, &db).await.unwrap();
    pool.close().await;
    s
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[tokio::test]
async fn a_run_whose_mongodb_dies_keeps_its_report_records_the_failed_restore_and_restore_finishes_it(
) {
    let mut ferret = PrivateFerret::start("restorefail").await;
    let env = env_on(&ferret, "restorefail").await;
    let seed = env
        .command()
        .args(["seed", "--profile", "tiny", "--clinics", "2", "--seed", "5"])
        .checked_output()
        .unwrap();
    assert!(seed.status.success(), "{seed:?}");
    let before = sums(&env).await;
    let out_dir =
        std::env::temp_dir().join(format!("clinicload-restorefail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);

    // clinic-day signs draft notes in MongoDB; the server dies 1.5 s into the load.
    let mut child = env
        .command()
        .args(["run"])
        .arg(repo("scenarios/clinic-day.toml"))
        .args(["--duration", "6s", "--warmup", "1s", "--rate", "20"])
        .args(["--allow-short-pools", "--quiet", "--out"])
        .arg(out_dir.as_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut err_text = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "the run ended before its load: {err_text}");
        err_text.push_str(&line);
        if line.starts_with("running clinic-day") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    ferret.kill();
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let output = child.checked_wait().unwrap();
    err_text.push_str(&rest.join().unwrap());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let all = format!("{stdout}\n{err_text}");

    assert_eq!(output.status.code(), Some(8), "{all}");
    assert!(!all.contains("free space"), "{all}");
    assert!(!all.contains("panicked at"), "{all}");
    assert!(all.contains("DATASET NOT RESTORED"), "{all}");

    // The whole report, `latest` pointing at it, the failure recorded where readers look.
    let latest = std::fs::read_link(out_dir.as_path().join("latest")).expect("latest was moved");
    let dir = out_dir.as_path().join(latest);
    for f in ["summary.json", "summary.md", "report.html", "latency.hlog"] {
        assert!(
            dir.join(f).exists(),
            "{f} missing in {}: {all}",
            dir.display()
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let restore = &summary["run"]["restore"];
    assert_eq!(restore["status"], "failed", "{restore}");
    assert_eq!(restore["command"], "clinicload restore", "{restore}");
    assert!(
        !restore["reason"].as_str().unwrap_or("").is_empty(),
        "{restore}"
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let head: String = md.lines().take(4).collect::<Vec<_>>().join("\n");
    assert!(head.contains("DATASET NOT RESTORED"), "{head}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("DATASET NOT RESTORED"));

    // The server back: restore says why the writes were left, and finishes the job.
    ferret.run();
    let restored = env.command().arg("restore").checked_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&restored.stdout),
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(restored.status.success(), "{text}");
    assert!(text.contains("its restore failed"), "{text}");
    assert_eq!(sums(&env).await, before, "{text}");
    let _ = std::fs::remove_dir_all(&out_dir);
}
