//! No panic from user input. Three layers:
//! - the regression corpus (tests/corpus/*.toml, plus three files too large to keep in the
//!   repository, generated here): each is refused by `clinicload run FILE` with a message
//!   and a hint, never a panic or a hang;
//! - a property test over structured input: well-formed TOML scenarios with hostile values
//!   (NaN, infinities, subnormals, huge and negative numbers, non-ASCII and very long names,
//!   duplicate and empty sections) and hostile flag values, through validation and the
//!   arrival schedule, computed without executing anything;
//! - accepted generated scenarios run for real, briefly, against the local stack.
mod common;
use common::prelude::*;
mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clinicload::scenario::ops::{ParamKind, OPS};
use clinicload::scenario::schedule::{arrivals_before, intended_offset, mix_cycle};
use clinicload::scenario::spec::{self, Load, Overrides, Scenario};
use common::TestEnv;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-props-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `cmd` to its end or kills it after `limit` (a hang is a failure too).
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.checked_wait().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.checked_wait().unwrap();
            panic!(
                "still running after {limit:?}: {:?}\n{}",
                cmd,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- the regression corpus ----------------------------------------------------------------

/// Each corpus file starts with `# expect: <text the message must hold>` and, where the
/// problem is on a line of the file, `# line: <n>`.
#[test]
fn corpus_files_are_refused_with_a_message_and_never_panic() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<(PathBuf, String, Option<usize>)> = Vec::new();
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no # expect: line", path.display()))
            .to_string();
        let line = text
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("# line: "))
            .map(|n| n.trim().parse().unwrap());
        files.push((path, expect, line));
    }
    assert!(files.len() >= 30, "only {} corpus files", files.len());

    // Too large for the repository: generated.
    let dir = scratch("corpus");
    let head = "name = \"x\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 5\n";
    let many_ops = dir.join("twenty_thousand_ops.toml");
    std::fs::write(
        &many_ops,
        format!(
            "{head}{}",
            "[[op]]\nname = \"pending_tasks\"\n".repeat(20_000)
        ),
    )
    .unwrap();
    files.push((many_ops, "appears twice".into(), Some(9)));
    let many_variants = dir.join("twenty_thousand_variants.toml");
    let variants: String = (0..20_000)
        .map(|i| format!("[[variant]]\nname = \"v{i}\"\n"))
        .collect();
    std::fs::write(
        &many_variants,
        format!("{head}[[op]]\nname = \"doctor_schedule\"\n{variants}"),
    )
    .unwrap();
    files.push((many_variants, "[[variant]] tables; at most".into(), None));
    let huge_description = dir.join("ten_megabyte_description.toml");
    std::fs::write(
        &huge_description,
        format!(
            "name = \"x\"\ndescription = \"{}\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 5\n[[op]]\nname = \"pending_tasks\"\n",
            "é".repeat(5 << 20)
        ),
    )
    .unwrap();
    files.push((huge_description, "larger than 1024 KiB".into(), None));

    for (path, expect, line) in files {
        let mut cmd = Command::new(TestEnv::bin());
        // Unreachable servers: a file that got past validation would fail to connect,
        // which the expected message would not match.
        cmd.arg("run")
            .arg(&path)
            .arg("--out")
            .arg(dir.join("reports"))
            .env("DATABASE_URL", "postgres://u:sekret@127.0.0.1:1/x")
            .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
            .env("REDIS_URL", "redis://127.0.0.1:1/");
        let out = output_within(cmd, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = path.display().to_string();
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
        // Usage errors exit 2 once the exit-code table lands; until then every error is 1.
        // Never 101 (a panic) and never 0.
        assert!(
            out.status.code() == Some(2),
            "{name}: exit {:?}\n{stderr}",
            out.status
        );
        assert!(
            stderr.contains(&expect),
            "{name}: want {expect:?} in\n{stderr}"
        );
        assert!(stderr.contains("hint:"), "{name}: no hint in\n{stderr}");
        assert!(
            stderr.contains(&format!("{name}:")),
            "{name}: no file in\n{stderr}"
        );
        if let Some(line) = line {
            assert!(
                stderr.contains(&format!("{name}:{line}:")),
                "{name}: want line {line} in\n{stderr}"
            );
        }
        assert!(
            stderr.len() < 4000,
            "{name}: a {} byte message",
            stderr.len()
        );
        assert!(
            !dir.join("reports").exists(),
            "{name}: a report was started"
        );
    }
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/smoke.toml");
    for (flag, value) in [
        ("--rate", "nan"),
        ("--rate", "-1"),
        ("--rate", "5e-324"),
        ("--rate", "1e308"),
        ("--rate", "inf"),
        ("--rate", "fast"),
        ("--duration", "99999999999999s"),
        ("--duration", "-1s"),
        ("--duration", "10"),
        ("--warmup", "99999999999999s"),
        ("--warmup", "1e400s"),
    ] {
        let mut cmd = Command::new(TestEnv::bin());
        cmd.arg("run").arg(&file).arg(flag).arg(value);
        cmd.env("DATABASE_URL", "postgres://u:sekret@127.0.0.1:1/x");
        let out = output_within(cmd, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(flag),
            "{flag} {value}: flag not named:\n{stderr}"
        );
        // Not blamed on a line of the file.
        assert!(!stderr.contains("smoke.toml:"), "{flag} {value}:\n{stderr}");
    }
    // --duration 0.05s parses, but the measured window is too short: named, not a line.
    let mut cmd = Command::new(TestEnv::bin());
    cmd.arg("run").arg(&file).args(["--duration", "50ms"]);
    let out = output_within(cmd, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--duration") && stderr.contains("too short"),
        "{stderr}"
    );
    assert!(
        !(0..10).any(|d| stderr.contains(&format!("smoke.toml:{d}"))),
        "blamed on a line: {stderr}"
    );
}

// ---- generated scenarios ------------------------------------------------------------------

/// How hostile the generator is: `Full` for validation (anything goes), `Runnable` for the
/// real runs (resources kept small: the stack is shared).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Full,
    Runnable,
}

fn float_lit() -> BoxedStrategy<String> {
    prop_oneof![
        16 => (0.001f64..5000.0).prop_map(|f| format!("{f:?}")),
        1 => Just("nan".to_string()),
        1 => Just("inf".to_string()),
        1 => Just("-inf".to_string()),
        1 => Just("5e-324".to_string()),
        1 => Just("2.2250738585072014e-308".to_string()),
        1 => Just("1e308".to_string()),
        1 => Just("-1.0".to_string()),
        1 => Just("0.0".to_string()),
        1 => Just("0.001".to_string()),
        1 => Just("0.0009".to_string()),
        1 => Just("10000000.0".to_string()),
        1 => Just("10000000.000000002".to_string()),
        1 => any::<f64>().prop_map(|f| if f.is_finite() { format!("{f:?}") } else { "nan".into() }),
        1 => any::<i64>().prop_map(|i| i.to_string()),
    ]
    .boxed()
}

fn duration_lit(mode: Mode) -> BoxedStrategy<String> {
    let hostile = prop_oneof![
        Just("\"99999999999999s\"".to_string()),
        Just("\"99999999999999999999999s\"".to_string()),
        Just(format!("\"{}h\"", "9".repeat(400))),
        Just("\"168h\"".to_string()),
        Just("\"168.0000001h\"".to_string()),
        Just("\"-5s\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"0.000001ms\"".to_string()),
        Just("\"nan s\"".to_string()),
        Just("\"1e3s\"".to_string()),
        Just("\"10\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"5 µs\"".to_string()),
        Just("\"..5s\"".to_string()),
        Just("10".to_string()),
        Just("nan".to_string()),
        (
            any::<u64>(),
            prop::sample::select(vec!["ms", "s", "m", "min", "h"])
        )
            .prop_map(|(n, u)| format!("\"{n}{u}\"")),
    ];
    let fine = (0u32..3000, prop::sample::select(vec!["ms", "s"]))
        .prop_map(|(n, u)| format!("\"{n}{u}\""));
    match mode {
        Mode::Full => prop_oneof![6 => fine, 1 => hostile].boxed(),
        // Accepted, if odd: the real runs override duration and warmup anyway.
        Mode::Runnable => prop_oneof![
            6 => (100u32..3000).prop_map(|n| format!("\"{n}ms\"")),
            1 => Just("\"0.000001ms\"".to_string()),
            1 => Just("\"168h\"".to_string()),
        ]
        .boxed(),
    }
}

fn int_lit(small: i64, big: i64) -> BoxedStrategy<String> {
    prop_oneof![
        16 => (1..=small).prop_map(|i| i.to_string()),
        1 => Just("0".to_string()),
        1 => Just("-1".to_string()),
        1 => Just(big.to_string()),
        1 => Just((big + 1).to_string()),
        1 => Just(i64::MAX.to_string()),
        1 => Just(i64::MIN.to_string()),
        1 => Just("1.5".to_string()),
        1 => Just("\"8\"".to_string()),
    ]
    .boxed()
}

fn text_lit() -> BoxedStrategy<String> {
    prop_oneof![
        10 => "[a-z_]{1,12}".prop_map(|s| format!("{s:?}")),
        1 => Just("\"\"".to_string()),
        1 => Just(format!("{:?}", "é".repeat(300))),
        1 => Just(format!("{:?}", "ключ:κλειδί:鍵:")),
        1 => ".{0,40}".prop_map(|s| format!("{s:?}")),
        1 => Just("5".to_string()),
    ]
    .boxed()
}

fn dist_lit() -> BoxedStrategy<String> {
    let fine = prop::sample::select(vec!["uniform", "zipf(1.1)", "zipf(1e-300)", "zipf(10)"])
        .prop_map(|s| format!("{s:?}"));
    prop_oneof![8 => fine, 1 => hostile_dist()].boxed()
}

fn hostile_dist() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "uniform",
        "today",
        "busy_doctor",
        "zipf(1.1)",
        "zipf(10)",
        "zipf(1e-300)",
        "zipf(5e-324)",
        "zipf(0)",
        "zipf(nan)",
        "zipf(inf)",
        "zipf(1e308)",
        "zîpf(1)",
        "zipf(",
        "",
    ])
    .prop_map(|s| format!("{s:?}"))
    .boxed()
}

fn name_lit(mode: Mode) -> BoxedStrategy<String> {
    let fine = "[a-z][a-z0-9_-]{0,20}".prop_map(|s| format!("{s:?}"));
    match mode {
        Mode::Full => prop_oneof![
            24 => fine,
            1 => Just("\"\"".to_string()),
            1 => Just("\"ρ-δ\"".to_string()),
            1 => Just(format!("{:?}", "a".repeat(64))),
            1 => Just(format!("{:?}", "a".repeat(65))),
            1 => Just(format!("{:?}", "n".repeat(5000))),
            1 => Just("\"two words\"".to_string()),
            1 => Just("7".to_string()),
        ]
        .boxed(),
        Mode::Runnable => {
            prop_oneof![4 => fine, 1 => Just(format!("{:?}", "a".repeat(64)))].boxed()
        }
    }
}

/// The operations a real run may use on the test fixture (tests/fixture), or any in `Full`.
fn op_pool(mode: Mode) -> Vec<&'static str> {
    match mode {
        Mode::Full => OPS.iter().map(|o| o.name).collect(),
        Mode::Runnable => vec![
            "appointments_today",
            "pending_tasks",
            "unread_alerts",
            "patient_encounters",
            "patient_prescriptions",
            "patient_orders",
            "note_by_encounter",
            "patient_notes",
            "doctor_drafts",
            "notes_text_search",
            "voice_recording",
            "redis_get",
            // Writes that use rows up (cancel, check in, complete, sign) would exhaust the
            // fixture over 100 runs until restore lands; a booking only adds rows.
            "book_appointment",
        ],
    }
}

/// One `[[op]]` table: a known (or misspelt) operation with hostile weights and parameters.
fn op_table(mode: Mode) -> BoxedStrategy<String> {
    let names = op_pool(mode);
    let name = match mode {
        Mode::Full => prop_oneof![
            30 => prop::sample::select(names).prop_map(|n| format!("{n:?}")),
            1 => Just("\"pendéng_tasks\"".to_string()),
            1 => Just(format!("{:?}", "é".repeat(2000))),
            1 => Just("\"appointments_todai\"".to_string()),
        ]
        .boxed(),
        Mode::Runnable => prop::sample::select(names)
            .prop_map(|n| format!("{n:?}"))
            .boxed(),
    };
    let weight = match mode {
        Mode::Full => prop::option::of(int_lit(10_000, 10_000)).boxed(),
        Mode::Runnable => prop::option::of((1..=10_000i64).prop_map(|w| w.to_string())).boxed(),
    };
    (
        name,
        weight,
        prop::collection::vec(
            (0usize..3, dist_lit(), text_lit(), int_lit(500, 10_000_000)),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(move |(name, weight, params, stray)| {
            let mut t = String::from("[[op]]\n");
            t.push_str(&format!("name = {name}\n"));
            if let Some(w) = weight {
                t.push_str(&format!("weight = {w}\n"));
            }
            let op = OPS.iter().find(|o| format!("{:?}", o.name) == name);
            let mut seen = Vec::new();
            for (k, dist, text, int) in params {
                let Some(def) = op.and_then(|o| o.params.get(k % o.params.len().max(1))) else {
                    continue;
                };
                if seen.contains(&def.name) {
                    continue;
                }
                seen.push(def.name);
                let value = match def.kind {
                    ParamKind::Pick { .. } => dist,
                    ParamKind::Int { .. } if mode == Mode::Runnable => {
                        // A small keyspace: the keys are written before the run.
                        let n: i64 = int.parse().unwrap_or(10).clamp(1, 500);
                        n.to_string()
                    }
                    ParamKind::Int { .. } => int,
                    ParamKind::Text { .. } if mode == Mode::Runnable => format!(
                        "{:?}",
                        format!("clinicload:props:{}:ключ:", std::process::id())
                    ),
                    ParamKind::Text { .. } => text,
                };
                t.push_str(&format!("{} = {value}\n", def.name));
            }
            if stray && mode == Mode::Full {
                t.push_str("colour = \"blue\"\n");
            }
            t
        })
        .boxed()
}

fn load_table(mode: Mode) -> BoxedStrategy<String> {
    let (conn_max, users_max, inflight_max) = match mode {
        Mode::Full => (4096, 100_000, 100_000),
        Mode::Runnable => (3, 8, 32),
    };
    let conns = match mode {
        Mode::Full => prop::option::of(prop::collection::vec(int_lit(16, conn_max), 3)).boxed(),
        Mode::Runnable => prop::option::of(prop::collection::vec(
            (1..=conn_max).prop_map(|i: i64| i.to_string()),
            3,
        ))
        .boxed(),
    };
    let rate = match mode {
        Mode::Full => float_lit(),
        Mode::Runnable => prop_oneof![
            4 => (0.001f64..400.0).prop_map(|f| format!("{f:?}")),
            1 => Just("0.001".to_string()),
            1 => Just("2000".to_string()),
        ]
        .boxed(),
    };
    let ramp_from = match mode {
        Mode::Full => float_lit(),
        Mode::Runnable => prop_oneof![
            Just("0.0".to_string()),
            Just("0.001".to_string()),
            (0.0f64..400.0).prop_map(|f| format!("{f:?}")),
        ]
        .boxed(),
    };
    let closed_ints = match mode {
        Mode::Full => (int_lit(64, users_max), int_lit(64, inflight_max)).boxed(),
        Mode::Runnable => (
            (1..=users_max).prop_map(|i: i64| i.to_string()),
            (1..=inflight_max).prop_map(|i: i64| i.to_string()),
        )
            .boxed(),
    };
    let model = match mode {
        Mode::Full => {
            prop::sample::select(vec!["open", "open", "closed", "closed", "Open", ""]).boxed()
        }
        Mode::Runnable => prop::sample::select(vec!["open", "open", "closed"]).boxed(),
    };
    (
        model,
        prop::option::of(rate),
        prop::option::of(duration_lit(mode)),
        prop::option::of(ramp_from),
        closed_ints,
        prop::option::of(duration_lit(mode)),
        conns,
        prop::bool::weighted(if mode == Mode::Full { 0.1 } else { 0.0 }),
        any::<bool>(),
    )
        .prop_map(
            |(model, rate, ramp, ramp_from, (users, inflight), think, conns, empty, flip)| {
                let mut t = String::from("[load]\n");
                if empty {
                    return t; // an empty section
                }
                t.push_str(&format!("model = {model:?}\n"));
                let open = model == "open" || flip;
                if open || model != "closed" {
                    if let Some(r) = &rate {
                        t.push_str(&format!("rate = {r}\n"));
                    } else if model == "open" {
                        t.push_str("rate = 50\n");
                    }
                    if let Some(r) = ramp {
                        t.push_str(&format!("ramp = {r}\n"));
                        if let Some(f) = ramp_from {
                            t.push_str(&format!("ramp_from = {f}\n"));
                        }
                    }
                    if flip {
                        t.push_str(&format!("max_in_flight = {inflight}\n"));
                    }
                }
                if model != "open" || (flip && rate.is_none()) {
                    t.push_str(&format!("users = {users}\n"));
                    if let Some(th) = think {
                        t.push_str(&format!("think_time = {th}\n"));
                    }
                }
                if let Some(c) = conns {
                    t.push_str(&format!(
                        "connections = {{ postgres = {}, mongo = {}, redis = {} }}\n",
                        c[0], c[1], c[2]
                    ));
                }
                t
            },
        )
        .boxed()
}

/// A whole scenario file.
fn scenario_text(mode: Mode) -> BoxedStrategy<String> {
    let description = match mode {
        Mode::Full => prop::option::of(prop_oneof![
            3 => ".{0,80}".prop_map(|s| format!("{s:?}")),
            1 => Just(format!("{:?}", "д".repeat(4096))),
            1 => Just(format!("{:?}", "x".repeat(4097))),
        ])
        .boxed(),
        Mode::Runnable => prop::option::of(prop_oneof![
            ".{0,80}".prop_map(|s| format!("{s:?}")),
            Just(format!("{:?}", "д".repeat(4096))),
        ])
        .boxed(),
    };
    let n_ops = if mode == Mode::Full { 0..6 } else { 1..5 };
    (
        name_lit(mode),
        description,
        duration_lit(mode),
        prop::option::of(duration_lit(mode)),
        prop::option::of(duration_lit(mode)),
        prop::option::of(prop_oneof![9 => any::<u32>().prop_map(i64::from), 1 => any::<i64>()]),
        load_table(mode),
        prop::collection::vec(op_table(mode), n_ops),
        prop::bool::weighted(if mode == Mode::Full { 0.05 } else { 0.0 }),
        prop::bool::weighted(if mode == Mode::Full { 0.05 } else { 0.0 }),
    )
        .prop_map(
            move |(name, desc, duration, warmup, timeout, seed, load, ops, empty_op, dup_load)| {
                let mut t = format!("name = {name}\n");
                if let Some(d) = desc {
                    t.push_str(&format!("description = {d}\n"));
                }
                t.push_str(&format!("duration = {duration}\n"));
                if let Some(w) = warmup {
                    t.push_str(&format!("warmup = {w}\n"));
                }
                if let Some(x) = timeout {
                    t.push_str(&format!("timeout = {x}\n"));
                }
                if let Some(s) = seed {
                    t.push_str(&format!("seed = {s}\n"));
                }
                t.push('\n');
                t.push_str(&load);
                if dup_load {
                    t.push_str(&load);
                }
                let mut names = Vec::new();
                for op in ops {
                    let name = op.lines().nth(1).unwrap_or("").to_string();
                    if mode == Mode::Runnable && names.contains(&name) {
                        continue; // duplicates are for the Full mode
                    }
                    names.push(name);
                    t.push('\n');
                    t.push_str(&op);
                }
                if empty_op {
                    t.push_str("\n[[op]]\n");
                }
                t
            },
        )
        .boxed()
}

/// Flag values as a user would type them (`--rate`, `--duration`, `--warmup`), parsed by
/// the same functions clap uses; plus, now and then, a raw value a library caller could
/// pass without parsing.
/// `--duration`, `--warmup`, `--rate` as typed, and a raw rate from a library caller.
type Flags = (Option<String>, Option<String>, Option<String>, Option<f64>);

fn overrides() -> BoxedStrategy<Flags> {
    let flag_dur = prop::option::weighted(
        0.3,
        prop_oneof![
            duration_lit(Mode::Full).prop_map(|s| s.trim_matches('"').to_string()),
            Just("0.2s".to_string()),
        ],
    );
    let flag_rate = prop::option::weighted(0.3, float_lit());
    let raw_rate = prop::option::weighted(
        0.05,
        prop::sample::select(vec![f64::NAN, f64::INFINITY, -1.0, 0.0, 5e-324, 1e308, 0.5]),
    );
    (flag_dur.clone(), flag_dur, flag_rate, raw_rate).boxed()
}

/// What must hold of every accepted scenario, and of the schedule computed from it.
fn check_accepted(s: &Scenario) -> Result<(), TestCaseError> {
    prop_assert!(s.duration >= spec::MIN_RUN && s.duration <= spec::MAX_DURATION);
    prop_assert!(s.warmup <= spec::MAX_DURATION && s.timeout <= spec::MAX_DURATION);
    prop_assert!(!s.timeout.is_zero());
    prop_assert!(!s.name.is_empty() && s.name.len() <= spec::MAX_NAME_CHARS);
    prop_assert!(s.description.chars().count() <= spec::MAX_DESCRIPTION_CHARS);
    prop_assert!(!s.ops.is_empty() && s.ops.len() <= OPS.len());
    for (i, op) in s.ops.iter().enumerate() {
        prop_assert!((1..=10_000).contains(&op.weight));
        prop_assert!(
            s.ops[..i].iter().all(|o| o.name() != op.name()),
            "duplicate {}",
            op.name()
        );
    }
    // The mix: exact proportions, every op in every cycle.
    let weights: Vec<u32> = s.ops.iter().map(|o| o.weight).collect();
    let mix = mix_cycle(&weights);
    let total: u64 = weights.iter().map(|w| *w as u64).sum();
    prop_assert_eq!(mix.len() as u64, total);
    for (i, w) in weights.iter().enumerate() {
        prop_assert_eq!(mix.iter().filter(|&&m| m == i).count() as u32, *w);
    }
    // The clock: the run's end must be representable.
    let t0 = Instant::now();
    prop_assert!(t0.checked_add(s.warmup + s.duration + s.timeout).is_some());
    match &s.load {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            max_in_flight,
            ..
        } => {
            let (rate, from, ramp) = (*rate, *ramp_from, *ramp);
            prop_assert!(rate.is_finite() && (spec::MIN_RATE..=spec::MAX_RATE).contains(&rate));
            prop_assert!(from.is_finite() && (0.0..=rate).contains(&from));
            prop_assert!(ramp <= spec::MAX_DURATION);
            prop_assert!((1..=100_000).contains(max_in_flight));
            let end = (s.warmup + s.duration).as_secs_f64();
            let n = arrivals_before(end, rate, from, ramp);
            // Never more than the plateau rate allows, plus the arrival at t = 0.
            prop_assert!(
                (n as f64) <= rate * end + 1.0,
                "{n} arrivals in {end}s at {rate}/s"
            );
            let mut idx: Vec<u64> = (0..n.min(64)).collect();
            idx.extend(n.saturating_sub(64)..=n);
            idx.extend((1..64).map(|k| n / 64 * k));
            idx.sort_unstable();
            idx.dedup();
            let mut last = 0.0f64;
            for i in idx {
                let t = intended_offset(i, rate, from, ramp);
                prop_assert!(t.is_finite() && t >= 0.0, "offset {i} = {t}");
                prop_assert!(t >= last, "offset {i} = {t} < {last}");
                last = t;
                // What the runner does with it: a Duration after t0.
                let d = Duration::try_from_secs_f64(t);
                prop_assert!(d.is_ok(), "offset {i} = {t} is not a Duration");
                prop_assert!(t0.checked_add(d.unwrap()).is_some());
                if i < n {
                    prop_assert!(t < end, "arrival {i} of {n} at {t} >= {end}");
                } else {
                    prop_assert!(t >= end, "arrival {n} at {t} < {end}");
                    // The first arrival past the end is at most one gap later: the gap
                    // is at most 1/from or sqrt(1/a) in the ramp, 1/rate after it.
                    let r = ramp.as_secs_f64();
                    let gap = (2.0 / rate).max((4.0 * r / rate).sqrt());
                    prop_assert!(t <= end + gap + 1e-6 * end.max(1.0), "{t} after {end}");
                }
            }
        }
        Load::Closed { users, think_time } => {
            prop_assert!((1..=100_000).contains(users));
            prop_assert!(*think_time <= spec::MAX_DURATION);
        }
    }
    Ok(())
}

/// Parses the flags as clap would (an error there is clap's message naming the flag),
/// then validates; checks whatever is accepted.
fn validate(text: &str, flags: &Flags) -> Result<Option<Scenario>, TestCaseError> {
    let (duration, warmup, rate, raw_rate) = flags;
    let mut o = Overrides::default();
    if let Some(d) = duration {
        match spec::parse_duration(d) {
            Ok(d) => o.duration = Some(d),
            Err(_) => return Ok(None), // clap refuses it: --duration <value>: message
        }
    }
    if let Some(w) = warmup {
        match spec::parse_duration(w) {
            Ok(w) => o.warmup = Some(w),
            Err(_) => return Ok(None),
        }
    }
    if let Some(r) = rate {
        match spec::parse_rate(r) {
            Ok(r) => o.rate = Some(r),
            Err(_) => return Ok(None),
        }
    }
    if let Some(r) = raw_rate {
        o.rate = Some(*r);
    }
    match spec::parse(text, "gen.toml", &o) {
        Ok(s) => {
            check_accepted(&s)?;
            Ok(Some(s))
        }
        Err(e) => {
            prop_assert!(!e.message.is_empty() && !e.hint.is_empty());
            prop_assert!(
                e.to_string().len() < 4000,
                "a {} byte message",
                e.to_string().len()
            );
            // A bad flag value is blamed on the flag, never on a line of the file.
            if let Some(r) = o.rate {
                if !(r.is_finite() && (spec::MIN_RATE..=spec::MAX_RATE).contains(&r))
                    && text.contains("model = \"open\"")
                    && e.message.contains("rate")
                    && !e.message.contains("ramp_from")
                {
                    prop_assert_eq!(e.line, 0, "{}", e);
                    prop_assert!(e.message.contains("--rate"), "{}", e);
                }
            }
            Ok(None)
        }
    }
}

#[test]
fn generated_scenarios_validate_without_panic_and_their_schedules_are_sane() {
    let mut runner = TestRunner::new(Config {
        cases: 12_000,
        failure_persistence: None,
        ..Config::default()
    });
    let accepted = std::sync::atomic::AtomicU64::new(0);
    let strategy = (
        prop_oneof![1 => scenario_text(Mode::Full), 1 => scenario_text(Mode::Runnable)],
        overrides(),
    );
    runner
        .run(&strategy, |(text, flags)| {
            if validate(&text, &flags)?.is_some() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    let accepted = accepted.into_inner();
    eprintln!("12000 generated scenarios, {accepted} accepted");
    // Both sides were exercised.
    assert!(accepted >= 1_000, "only {accepted} accepted");
    assert!(
        accepted <= 11_000,
        "{accepted} accepted: the generator is not hostile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_generated_scenarios_run_for_real_and_write_a_summary() {
    let env = TestEnv::migrated("props_run").await;
    fixture::insert(&env).await;
    let out = scratch("runs");
    let mut runner = TestRunner::new(Config {
        cases: 1,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    let strategy = scenario_text(Mode::Runnable);
    let mut runs = 0;
    let mut generated = 0;
    while runs < 100 {
        generated += 1;
        assert!(generated < 2_000, "too few runnable scenarios accepted");
        let text = strategy.new_tree(&mut runner).unwrap().current();
        let Ok(s) = spec::parse(&text, "gen.toml", &Overrides::default()) else {
            continue;
        };
        let file = out.join(format!("s{runs}.toml"));
        std::fs::write(&file, &text).unwrap();
        let reports = out.join(format!("r{runs}"));
        let mut cmd = env.command();
        cmd.arg("run")
            .arg(&file)
            .args(["--duration", "0.2s", "--warmup", "0s", "--quiet", "--out"])
            .arg(&reports);
        let output =
            tokio::task::spawn_blocking(move || output_within(cmd, Duration::from_secs(60)))
                .await
                .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "run {runs} panicked:\n{text}\n{stderr}"
        );
        // 0, or 3 when generated operations failed beyond max_error_rate (a hostile
        // `timeout = "0.000001ms"` times every operation out): the run itself completed.
        assert!(
            matches!(
                output.status.code(),
                Some(c) if c == 0 || c == i32::from(clinicload::exit::OPERATIONS_FAILED)
            ),
            "run {runs} failed ({:?}):\n{text}\n{stderr}",
            output.status
        );
        let summary = std::fs::canonicalize(reports.join("latest"))
            .map(|d| d.join("summary.json"))
            .unwrap_or_else(|e| panic!("run {runs}: no report ({e}):\n{text}\n{stderr}"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(json["scenario"]["name"], s.name.as_str(), "run {runs}");
        assert!(json["operations"].is_array(), "run {runs}: {json}");
        runs += 1;
    }
    eprintln!("{runs} accepted scenarios of {generated} generated ran");
}
