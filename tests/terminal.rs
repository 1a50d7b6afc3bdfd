//! What a person sees at the end of `clinicload run` (issue #20): every shipped scenario's
//! terminal summary fits on one screen (40 lines of stdout, the expectations' lines
//! included), repeated warnings are folded into one line, `--verbose` prints the whole
//! summary.md, and no command prints panic text (`common::NoPanic`).
mod common;
use common::prelude::*;

use std::path::{Path, PathBuf};

use common::TestEnv;

/// One screen: what pgbench and k6 print at their end.
const SCREEN_LINES: usize = 40;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(repo("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    all.sort();
    all
}

/// Runs `scenario` briefly (1 s windows, one repeat per variant) into `out`.
fn short_run(env: &TestEnv, scenario: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    env.command()
        .arg("run")
        .arg(scenario)
        .args([
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--repeats",
            "1",
            "--quiet",
            "--allow-short-pools",
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .checked_output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_scenario_ends_with_one_screen_and_folded_warnings() {
    let env = TestEnv::migrated("terminal").await;
    let seed = env
        .command()
        .args(["seed", "--profile", "tiny", "--patients", "400"])
        .checked_output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let out = std::env::temp_dir().join(format!("clinicload-terminal-{}", std::process::id()));
    let scenarios = shipped_scenarios();
    assert!(scenarios.len() >= 10, "{scenarios:?}");
    for scenario in &scenarios {
        let run = short_run(&env, scenario, &out, &[]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        let name = scenario.display();
        assert!(
            run.status.code().is_some_and(|c| c != 1 && c != 2),
            "{name}: exit {:?}\n{stdout}\n{stderr}",
            run.status.code()
        );
        let lines = stdout.lines().count();
        assert!(
            lines <= SCREEN_LINES,
            "{name}: {lines} lines on stdout, more than one screen:\n{stdout}"
        );
        assert!(
            stdout.contains("report: "),
            "{name}: no report path:\n{stdout}"
        );
        // A warning about one expectation is one line, however many samples it covers.
        let mut seen = std::collections::BTreeSet::new();
        for line in stderr.lines().filter(|l| l.starts_with("warning: expect ")) {
            let key = line.split(':').take(2).collect::<Vec<_>>().join(":");
            assert!(
                seen.insert(key.clone()),
                "{name}: repeated warning {key}\n{stderr}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_prints_the_whole_summary_and_the_short_one_points_to_it() {
    let env = TestEnv::migrated("terminal_verbose").await;
    let seed = env
        .command()
        .args(["seed", "--profile", "tiny", "--patients", "400"])
        .checked_output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let out = std::env::temp_dir().join(format!("clinicload-verbose-{}", std::process::id()));
    let smoke = repo("scenarios/smoke.toml");
    let short = short_run(&env, &smoke, &out, &[]);
    let verbose = short_run(&env, &smoke, &out, &["--verbose"]);
    assert!(short.status.success() && verbose.status.success());
    let short = String::from_utf8_lossy(&short.stdout).to_string();
    let verbose = String::from_utf8_lossy(&verbose.stdout).to_string();
    // The short one: the table with every operation, and one line per section left out.
    assert!(short.contains("operation ") && short.contains("patient_encounters"));
    assert!(short.contains("Indexes the workload never touched (PostgreSQL): "));
    assert!(!short.contains("CREATE INDEX"), "{short}");
    // The verbose one: summary.md in full, index definitions included.
    assert!(verbose.contains("CREATE INDEX"), "{verbose}");
    assert!(verbose.lines().count() > short.lines().count());
    let _ = std::fs::remove_dir_all(&out);
}
