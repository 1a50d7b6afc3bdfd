//! Exit codes of every clinicload command, in one place, so scripts and CI can tell a failed
//! gate from a broken run. The table (and its precedence) is documented in
//! `reports/README.md`; later gates take the reserved codes, never a new meaning for an old one.
//!
//! Precedence when several apply (first wins): [`USAGE`], [`FAILURE`], [`RESTORE_FAILED`],
//! [`INTERRUPTED`],
//! [`OPERATIONS_FAILED`], then the verdicts in numeric order ([`THRESHOLDS_FAILED`],
//! [`REGRESSION`], [`EXPECTATION_FAILED`], [`INCONCLUSIVE`]).

use std::process::ExitCode;

/// Everything went as asked.
pub const OK: u8 = 0;
/// Any failure that is not one of the others: a server unreachable, a report that could not
/// be written (the summary is still printed), a seed that did not finish.
pub const FAILURE: u8 = 1;
/// The command line or the scenario file is wrong (clap uses 2 for bad flags too).
pub const USAGE: u8 = 2;
/// The run completed and its report is written, but more than the scenario's
/// `max_error_rate` of the measured arrivals failed, timed out, were missed or abandoned.
pub const OPERATIONS_FAILED: u8 = 3;
/// A threshold (SLO) of the scenario (`[thresholds]`, `--threshold`) was not met; the
/// report is written.
pub const THRESHOLDS_FAILED: u8 = 4;
/// `gate` or `compare`: a gated metric of the candidate is significantly worse than the
/// baseline (`crate::compare`).
pub const REGRESSION: u8 = 5;
/// Reserved: an expectation about the data or the run failed.
pub const EXPECTATION_FAILED: u8 = 6;
/// The run completed and its report is written, but the dataset could not be put back
/// afterwards (a store died under the restore): run `clinicload restore` before the next run.
pub const RESTORE_FAILED: u8 = 8;
/// `gate` or `compare` could not decide: too few repeats (or values) for a gated metric to
/// be judged at all. Not a pass: the gate did not do its job.
pub const INCONCLUSIVE: u8 = 7;
/// The run was ended early by SIGINT (Ctrl-C) or SIGTERM; its report is written. 130 is
/// what shells report for a command ended by Ctrl-C.
pub const INTERRUPTED: u8 = 130;

/// An error that is the user's to fix in the command line (exit [`USAGE`]), e.g. a time
/// budget too small for the runs it must hold.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Fails with a [`UsageError`].
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::exit::UsageError(format!($($arg)*))))
    };
}

/// `code` as a process exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// The rank of a code in the precedence order (lower wins); unknown codes rank with FAILURE.
fn rank(code: u8) -> u8 {
    match code {
        USAGE => 0,
        FAILURE => 1,
        RESTORE_FAILED => 2,
        INTERRUPTED => 3,
        OPERATIONS_FAILED => 4,
        THRESHOLDS_FAILED => 5,
        REGRESSION => 6,
        EXPECTATION_FAILED => 7,
        INCONCLUSIVE => 8,
        OK => 255,
        _ => 1,
    }
}

/// The code that applies when both `a` and `b` do.
pub fn worst(a: u8, b: u8) -> u8 {
    if rank(b) < rank(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_the_documented_one() {
        assert_eq!(worst(OK, OPERATIONS_FAILED), OPERATIONS_FAILED);
        assert_eq!(worst(OPERATIONS_FAILED, INTERRUPTED), INTERRUPTED);
        assert_eq!(worst(INTERRUPTED, FAILURE), FAILURE);
        assert_eq!(worst(INTERRUPTED, RESTORE_FAILED), RESTORE_FAILED);
        assert_eq!(worst(RESTORE_FAILED, FAILURE), FAILURE);
        assert_eq!(worst(OPERATIONS_FAILED, RESTORE_FAILED), RESTORE_FAILED);
        assert_eq!(worst(FAILURE, USAGE), USAGE);
        assert_eq!(
            worst(THRESHOLDS_FAILED, OPERATIONS_FAILED),
            OPERATIONS_FAILED
        );
        assert_eq!(worst(OK, OK), OK);
    }
}

thread_local! {
    /// Set while [`catch_panic`] runs a closure: its caller reports a panic itself.
    static CAUGHT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Set by the panic hook: some thread panicked and nothing caught it for a report.
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a panic went to the hook during the command (its answer cannot be trusted).
pub fn panicked() -> bool {
    PANICKED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Runs `f`, turning a panic into `Err(message)` that the caller reports in its own words
/// (the seed's generator: "generating the clinic failed ..."); the hook stays quiet for it.
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let before = CAUGHT.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CAUGHT.with(|c| c.set(before));
    result.map_err(|panic| panic_message(panic.as_ref()))
}

/// A panic's message: its `&str` or `String` payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// A panic is a bug, and so is Rust's panic text (with its backtrace) in front of a user: a
/// panic anywhere that nothing catches, a driver's background task included, prints one line
/// saying it is an internal error, where and what (through `redact`), and [`panicked`] turns
/// the exit code to 1. `RUST_BACKTRACE=1` adds the backtrace for whoever debugs it.
pub fn report_panics_as_bugs(redact: impl Fn(&str) -> String + Send + Sync + 'static) {
    let want_backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    std::panic::set_hook(Box::new(move |info| {
        if CAUGHT.with(|c| c.get()) {
            return;
        }
        PANICKED.store(true, std::sync::atomic::Ordering::SeqCst);
        let what = panic_message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error in thread {}{place}: {}; this is a bug in clinicload (or a library it uses), please report it with the command you ran",
            std::thread::current().name().unwrap_or("unnamed"),
            redact(&what),
        );
        if want_backtrace {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}

#[cfg(test)]
mod panic_tests {
    #[test]
    fn a_caught_panic_is_its_message_and_leaves_the_flag_alone() {
        let r: Result<(), String> = super::catch_panic(|| panic!("generator broke at {}", 7));
        assert_eq!(r, Err("generator broke at 7".to_string()));
        assert_eq!(super::catch_panic(|| 5), Ok(5));
        assert!(!super::panicked());
    }
}
