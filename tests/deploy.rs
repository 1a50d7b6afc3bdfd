//! The Kubernetes manifests run here: each Job's container command, arguments and environment
//! are read from `deploy/kubernetes/*.yaml` and run against the local stack the way the Job
//! would run them (one process per completion index with JOB_COMPLETION_INDEX set, `$(VAR)`
//! expanded from the container's env, the Secret's keys from the test's targets, the volumes
//! as temporary directories). Only the dataset size (the seed Job's SEED_* values) and the
//! scenario in the ConfigMap are swapped for small ones. The sharded seed must equal a
//! single-process seed, the workers' merge must pass, and the merge pod's restore must leave
//! no pending writes.
mod common;
use common::prelude::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::TestEnv;
use serde_yaml::Value;

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One Job's container, ready to run locally.
struct Pod {
    command: Vec<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    completions: u32,
}

/// Reads a Job: its container's command, args and env; the Secret (envFrom
/// clinicload-targets) becomes the test's targets; `overrides` replaces env values.
fn pod(job: &Value, env: &TestEnv, overrides: &[(&str, &str)]) -> Pod {
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    let completions = spec["completions"].as_u64().unwrap_or(1) as u32;
    if spec["completionMode"] == "Indexed" {
        assert_eq!(
            spec["parallelism"], spec["completions"],
            "all indexes run at once"
        );
    }
    let c = &spec["template"]["spec"]["containers"][0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut vars = BTreeMap::new();
    for e in c["env"].as_sequence().cloned().unwrap_or_default() {
        vars.insert(
            e["name"].as_str().unwrap().to_string(),
            e["value"].as_str().unwrap_or_default().to_string(),
        );
    }
    let from: Vec<&str> = c["envFrom"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| e["secretRef"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        from,
        ["clinicload-targets"],
        "the URLs come from the Secret"
    );
    let t = &env.targets;
    vars.insert("DATABASE_URL".into(), t.database_url.clone());
    vars.insert("MONGODB_URI".into(), t.mongodb_uri.clone());
    vars.insert("MONGODB_DATABASE".into(), t.mongo_database.clone().unwrap());
    vars.insert("REDIS_URL".into(), t.redis_url.clone());
    for (k, v) in overrides {
        assert!(vars.contains_key(*k), "the manifest sets {k}");
        vars.insert(k.to_string(), v.to_string());
    }
    Pod {
        command: strings(&c["command"]),
        args: strings(&c["args"]),
        env: vars,
        completions,
    }
}

/// `$(VAR)` as Kubernetes expands it in command and args, and the volume paths.
fn expand(s: &str, env: &BTreeMap<String, String>, mounts: &[(&str, &Path)]) -> String {
    let mut out = s.to_string();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    // A mount path where a path starts: at the start, or after a quote or a space.
    for (at, dir) in mounts {
        let dir = dir.to_str().unwrap();
        if out.starts_with(at) {
            out = format!("{dir}{}", &out[at.len()..]);
        }
        for before in ["\"", " "] {
            out = out.replace(&format!("{before}{at}"), &format!("{before}{dir}"));
        }
    }
    out
}

/// Runs every completion index of `pod` at once; the image's entrypoint is clinicload.
fn run(pod: &Pod, mounts: &[(&str, &Path)], bin_dir: &Path) -> Vec<Output> {
    let children: Vec<_> = (0..pod.completions)
        .map(|i| {
            let (program, args): (String, Vec<String>) = if pod.command.is_empty() {
                (TestEnv::bin().to_string(), pod.args.clone())
            } else {
                (
                    pod.command[0].clone(),
                    [&pod.command[1..], &pod.args[..]].concat(),
                )
            };
            let mut cmd = Command::new(program);
            cmd.args(args.iter().map(|a| expand(a, &pod.env, mounts)))
                .env_clear()
                .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in &pod.env {
                cmd.env(k, expand(v, &BTreeMap::new(), mounts));
            }
            cmd.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.checked_wait().unwrap())
        .collect()
}

fn checksum(env: &TestEnv) -> String {
    let out = env.command().arg("checksum").checked_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Past the first line, which names the databases.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_manifests_commands_seed_run_merge_and_restore_on_the_local_stack() {
    let env = TestEnv::new("deploy").await;
    let work = std::env::temp_dir().join(format!("clinicload-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (scenario_dir, results, bin_dir) = (
        work.join("scenario"),
        work.join("results"),
        work.join("bin"),
    );
    for d in [&scenario_dir, &results, &bin_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The image puts clinicload on PATH (the merge pod's shell calls it by name).
    std::os::unix::fs::symlink(TestEnv::bin(), bin_dir.join("clinicload")).unwrap();
    let mounts: Vec<(&str, &Path)> = vec![("/scenario", &scenario_dir), ("/results", &results)];

    // The ConfigMap holds a scenario under the key the run Job reads.
    let cm = manifest("configmap-scenario.yaml");
    assert!(cm["data"]["scenario.toml"]
        .as_str()
        .unwrap()
        .contains("[[op]]"));
    std::fs::write(
        scenario_dir.join("scenario.toml"),
        "name = \"deploy\"\nduration = \"3s\"\nwarmup = \"1s\"\n\n[load]\nmodel = \"open\"\nrate = 40\nconnections = { postgres = 2 }\n\n\
         [[op]]\nname = \"appointments_today\"\nweight = 3\ndoctor = \"today\"\n\n[[op]]\nname = \"pending_tasks\"\nweight = 1\n\n\
         [thresholds]\n\"overall.p99\" = \"< 2s\"\n",
    )
    .unwrap();

    // migrate, then the seed Job's 4 shards side by side.
    let migrate = pod(&manifest("job-migrate.yaml"), &env, &[]);
    for o in run(&migrate, &mounts, &bin_dir) {
        assert!(o.status.success(), "migrate: {}", text(&o));
    }
    let small = [
        ("SEED_PROFILE", "tiny"),
        ("SEED_CLINICS", "4"),
        ("SEED_SEED", "7"),
        ("SEED_AS_OF", "2026-11-30"),
    ];
    let seed = pod(&manifest("job-seed.yaml"), &env, &small);
    assert_eq!(seed.completions, 4);
    assert_eq!(seed.env["CLINICLOAD_SHARDS"], "4");
    for o in run(&seed, &mounts, &bin_dir) {
        assert!(o.status.success(), "seed shard: {}", text(&o));
    }
    // The same dataset from one process.
    let single = TestEnv::migrated("deploy_single").await;
    let out = single
        .command()
        .args([
            "seed",
            "--profile",
            "tiny",
            "--clinics",
            "4",
            "--seed",
            "7",
            "--as-of",
            "2026-11-30",
        ])
        .checked_output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(checksum(&env), checksum(&single), "4 shards = one process");

    // The run Job's 4 workers, with their common start.
    let start = (chrono::Utc::now() + chrono::Duration::seconds(4))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let job = manifest("job-run.yaml");
    let worker = pod(
        &job,
        &env,
        &[("RUN_NAME", "r1"), ("CLINICLOAD_START_AT", &start)],
    );
    assert_eq!(worker.completions, 4);
    assert_eq!(worker.env["CLINICLOAD_WORKERS"], "4");
    for o in run(&worker, &mounts, &bin_dir) {
        assert!(o.status.success(), "worker: {}", text(&o));
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir(results.join("r1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 4, "{dirs:?}");

    // The merge pod: merge, then restore whatever the verdict.
    let merge = pod(&manifest("job-merge.yaml"), &env, &[("RUN_NAME", "r1")]);
    let outs = run(&merge, &mounts, &bin_dir);
    assert!(outs[0].status.success(), "merge pod: {}", text(&outs[0]));
    let merged: Vec<PathBuf> = std::fs::read_dir(results.join("r1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-merged"))
        .collect();
    assert_eq!(merged.len(), 1);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged[0].join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["merged_from"].as_array().unwrap().len(), 4);
    let pool = env.pool().await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicload_meta.undo_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "the merge pod restored the dataset");
    pool.close().await;
    let _ = std::fs::remove_dir_all(&work);
}

/// The deployment artifacts pass their linters (hadolint, kubernetes-validate --strict,
/// actionlint), and the same lint fails on a copy with one manifest broken (a field that
/// Kubernetes does not have) and on a workflow with a typo: the lint can fail.
#[test]
fn the_deploy_artifacts_pass_their_linters_and_broken_copies_do_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lint = |tree: &Path| {
        Command::new(tree.join("scripts/lint-deploy"))
            .env("KUBERNETES_VERSIONS", "1.29.0")
            .checked_output()
            .unwrap()
    };
    let ok = lint(root);
    assert!(ok.status.success(), "{}", text(&ok));

    let copy = std::env::temp_dir().join(format!("clinicload-lint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for d in [
        "deploy/kubernetes",
        "deploy/github-actions",
        "scripts",
        "scenarios",
    ] {
        std::fs::create_dir_all(copy.join(d)).unwrap();
    }
    for f in [
        "Dockerfile",
        "scripts/lint-deploy",
        "scripts/lint-ci",
        "scenarios/capacity-clinic-day.toml",
        "deploy/github-actions/distributed-load.yml",
    ] {
        std::fs::copy(root.join(f), copy.join(f)).unwrap();
    }
    for e in std::fs::read_dir(root.join("deploy/kubernetes")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(
            &p,
            copy.join("deploy/kubernetes").join(p.file_name().unwrap()),
        )
        .unwrap();
    }
    let job = copy.join("deploy/kubernetes/job-run.yaml");
    let text_of = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        text_of.replace("  completions: 4\n", "  completions: 4\n  completionz: 4\n"),
    )
    .unwrap();
    let broken = lint(&copy);
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(
        text(&broken).contains("FAILED: kubernetes-validate (Kubernetes 1.29.0)"),
        "{}",
        text(&broken)
    );

    std::fs::write(&job, text_of).unwrap();
    let wf = copy.join("deploy/github-actions/distributed-load.yml");
    let w = std::fs::read_to_string(&wf).unwrap();
    std::fs::write(&wf, w.replacen("runs-on:", "runs-onn:", 1)).unwrap();
    let broken = lint(&copy);
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(
        text(&broken).contains("FAILED: actionlint"),
        "{}",
        text(&broken)
    );
    let _ = std::fs::remove_dir_all(&copy);
}
