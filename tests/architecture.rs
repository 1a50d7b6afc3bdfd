//! The house rules of docs/architecture.md, as `scripts/check-architecture` checks them: it
//! passes on this tree, and it fails, naming the arrows, on a copy with a cycle or a long
//! function put in on purpose.

mod common;
use common::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(src: &Path) -> (bool, String) {
    let out = Command::new(repo().join("scripts/check-architecture"))
        .arg("--root")
        .arg(src)
        .checked_output()
        .expect("running scripts/check-architecture (it needs python3)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A copy of src/ in a fresh directory (`<dir>/src`).
fn copy_of_src(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicload-arch-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo().join("src"))
        .arg(dir.join("src"))
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("src")
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

#[test]
fn the_tree_has_no_module_cycle_and_no_long_function() {
    let (ok, text) = check(&repo().join("src"));
    assert!(ok, "scripts/check-architecture failed:\n{text}");
}

#[test]
fn a_report_that_imports_the_runner_is_a_cycle_named_with_its_arrows() {
    let src = copy_of_src("cycle");
    append(
        &src.join("report/mod.rs"),
        "\n#[allow(unused_imports)]\nuse crate::run::RunOptions;\n",
    );
    let (ok, text) = check(&src);
    let _ = std::fs::remove_dir_all(src.parent().unwrap());
    assert!(!ok, "a cycle passed:\n{text}");
    assert!(text.contains("cycle between top-level modules"), "{text}");
    assert!(text.contains("report -> run"), "{text}");
}

#[test]
fn a_function_over_the_limit_is_named_with_its_place() {
    let src = copy_of_src("long");
    let body: String = (0..160)
        .map(|i| format!("    let _x{i} = {i};\n"))
        .collect();
    append(
        &src.join("metrics.rs"),
        &format!("\npub fn far_too_long() {{\n{body}}}\n"),
    );
    let (ok, text) = check(&src);
    let _ = std::fs::remove_dir_all(src.parent().unwrap());
    assert!(!ok, "a long function passed:\n{text}");
    assert!(
        text.contains("far_too_long (162 lines) at src/metrics.rs"),
        "{text}"
    );
}
