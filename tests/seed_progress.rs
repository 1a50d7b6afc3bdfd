//! Progress that tells the truth: on a terminal (a pty made by `script`), the bars move while
//! a clinic is still in flight (rows, documents and GridFS bytes as they are written, before
//! the clinic commits), the elapsed time ticks and an ETA is shown; and a failed seed says
//! so on a terminal too.
mod common;
use common::prelude::*;

use common::TestEnv;

/// The frames drawn on the terminal, one line each, without escape sequences.
fn lines(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            out.push('\n');
            continue;
        }
        out.push(if c == '\r' { '\n' } else { c });
    }
    out.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Runs `clinicload <args>` for `env` on a pseudo-terminal made by `script`.
fn on_a_terminal(env: &TestEnv, args: &str) -> std::process::Output {
    let cmd = format!("stty cols 160 rows 40; exec {} {args}", TestEnv::bin());
    let mut script = std::process::Command::new("script");
    for (k, v) in env.command().get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    script
        .args(["-qfec", &cmd, "/dev/null"])
        .checked_output()
        .expect("`script` (util-linux) runs")
}

#[tokio::test]
async fn a_failed_seed_says_so_on_a_terminal() {
    let env = TestEnv::migrated("seed_tty_fail").await;
    let out = on_a_terminal(
        &env,
        "seed --profile tiny --seed 3 --as-of 2026-03-02 --patients=40 --clinics 2 \
         --threads 1 --panic-in-clinic 1",
    );
    let frames = lines(&out.stdout).join("\n");
    assert!(!out.status.success(), "{frames}");
    assert!(
        frames.contains("seed failed: clinic 1: generating the clinic failed")
            && frames.contains("1 of 2 clinics are complete")
            && !frames.contains("done:"),
        "{frames}"
    );
}

#[tokio::test]
async fn bars_move_while_a_clinic_is_in_flight() {
    let env = TestEnv::migrated("seed_progress").await;
    let out = on_a_terminal(
        &env,
        "seed --profile tiny --seed 3 --as-of 2026-03-02 --patients=40 --clinics 1 \
         --threads 1 --voice-share 1 --voice-length 0.12",
    );
    let frames = lines(&out.stdout);
    assert!(
        out.status.success(),
        "seed failed on a terminal: {}",
        frames.join("\n")
    );
    // Everything drawn before the clinic committed.
    let before: Vec<&String> = frames
        .iter()
        .take_while(|l| !l.contains("1/1 clinics committed"))
        .collect();
    assert!(
        before.len() < frames.len(),
        "the clinic's commit was never drawn:\n{}",
        frames.join("\n")
    );
    let mut audio: Vec<String> = before
        .iter()
        .filter(|l| l.starts_with("GridFS fs (audio)"))
        .filter_map(|l| l.split(']').nth(1))
        .filter_map(|rest| rest.split('/').next())
        .map(|w| w.trim().to_string())
        .collect();
    audio.dedup();
    assert!(
        audio.len() >= 3,
        "the GridFS bar must move while the clinic is in flight; it showed {audio:?}"
    );
    let mut elapsed: Vec<&str> = before
        .iter()
        .filter(|l| l.starts_with("clinics"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("00:00:")))
        .collect();
    elapsed.dedup();
    assert!(
        elapsed.len() >= 2,
        "elapsed time must tick while the clinic is in flight: {elapsed:?}"
    );
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("clinics") && l.contains("ETA 00:")),
        "an ETA from the moving rates is shown before the first commit"
    );
    let notes: Vec<&&String> = before
        .iter()
        .filter(|l| l.starts_with("clinicalNotes") && l.contains("committed"))
        .collect();
    assert!(!notes.is_empty(), "bars show written and committed");
}
