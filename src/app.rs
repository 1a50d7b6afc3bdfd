//! The composition root, above every other module: parse the command line, run the command,
//! turn errors into a message and a non-zero exit code (the table is `crate::exit`).
//! `src/main.rs` only calls [`main`]. It lives in the library because a release build
//! compiled it in the binary's own crate, again, with everything it reaches: 55 s of the
//! first run's build on the 2-core box, against 18 s more for the library (issue #20).

use std::process::ExitCode;

use crate::cli::{BaselineCommand, Cli, Command, SweepCommand};
use crate::config::redact_in;
use clap::Parser;

pub fn main() -> ExitCode {
    reset_sigpipe();
    init_logging();
    let cli = Cli::parse();
    let hook_targets = cli.targets.clone();
    crate::exit::report_panics_as_bugs(move |text| redact_in(text, &hook_targets));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let targets = cli.targets.clone();
    let code = runtime.block_on(async {
        let result = dispatch(cli.command, &targets).await;
        exit_code(result, &targets)
    });
    // The command is over and everything it wrote is written. The MongoDB driver's pool
    // workers and monitors may still be running on the runtime: tearing it down under them
    // makes one panic (its connection requester unwraps a send to a worker the teardown
    // dropped), which printed a backtrace after the report. The runtime is left to the
    // process's exit instead of being torn down.
    std::mem::forget(runtime);
    if crate::exit::panicked() {
        // A task panicked and the command carried on: its answer cannot be trusted.
        return crate::exit::code(crate::exit::FAILURE);
    }
    code
}

/// Logs go to stderr, filtered by CLINICLOAD_LOG (default: warnings, minus sqlx's noise).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLINICLOAD_LOG")
                // sqlx warns about every statement over 1 s; a bulk load is made of those. Its
                // pool warns about each broken connection it drops: the command reports that.
                .unwrap_or_else(|_| "warn,sqlx::query=error,sqlx_core::pool=error".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in CI logs or files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the subcommand; a usage mistake caught here has been reported and is `Ok(exit 2)`.
async fn dispatch(command: Command, targets: &crate::config::Targets) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate { status } => crate::doctor::migrate_command(targets, status).await,
        Command::Doctor => crate::doctor::doctor_command(targets).await,
        Command::Seed(args) => seed(targets, args).await,
        Command::Checksum => crate::seed::checksum::checksum_command(targets).await,
        Command::Restore => crate::restore::restore_command(targets).await,
        Command::Explain {
            scenario,
            samples,
            out,
            at_scale,
            profile,
        } => {
            let opts = crate::explain::ExplainOptions {
                scenario,
                samples,
                out,
                at_scale: at_scale
                    .map(|clinics| crate::explain::scale::AtScale { clinics, profile }),
            };
            crate::explain::explain_command(targets, &opts).await
        }
        Command::Compare(args) => compare(&args),
        Command::Baseline(BaselineCommand::Save {
            name,
            from,
            force,
            baselines,
        }) => crate::compare::baseline_save(&name, &from, &baselines, force),
        Command::Baseline(BaselineCommand::Show { name, baselines }) => {
            crate::compare::baseline_show(&name, &baselines)
        }
        Command::Gate(args) => crate::gate::gate_command(targets, &args.options()).await,
        Command::Sweep(sweep_command) => sweep(targets, sweep_command).await,
        Command::Merge {
            dirs,
            out,
            max_skew,
            allow_skew,
        } => crate::distributed::merge::merge_command(&crate::distributed::merge::MergeOptions {
            dirs,
            out,
            max_skew,
            allow_skew,
        }),
        Command::Run {
            scenario,
            duration,
            warmup,
            rate,
            out,
            quiet,
            verbose,
            keep_writes,
            allow_short_pools,
            threshold,
            repeats,
            worker,
            workers,
            start_at,
        } => {
            let worker = match run_worker(worker, workers, start_at) {
                Ok(worker) => worker,
                Err(usage) => return Ok(usage),
            };
            let opts = crate::run::RunOptions {
                overrides: crate::scenario::spec::Overrides {
                    duration,
                    warmup: warmup.and_then(crate::cli::WarmupArg::fixed),
                    warmup_auto: warmup.is_some_and(crate::cli::WarmupArg::is_auto),
                    rate,
                    thresholds: threshold,
                    closed_users: None,
                    abort_after: None,
                    arrivals: None,
                    worker,
                },
                out,
                quiet,
                verbose,
                keep_writes,
                allow_short_pools,
                inject_delay: None,
                repeats: repeats.map(|r| r as usize),
                start_at,
            };
            crate::run::run_command(targets, &scenario, &opts).await
        }
    }
}

/// `clinicload seed`: with `--shards n` and no `--shard`, the shard index comes from the
/// Indexed Job's JOB_COMPLETION_INDEX.
async fn seed(
    targets: &crate::config::Targets,
    mut args: crate::cli::SeedArgs,
) -> anyhow::Result<ExitCode> {
    if let (None, Some(n)) = (args.shard, args.shards) {
        // An Indexed Job: the shard's index is the pod's completion index.
        let shard = std::env::var("JOB_COMPLETION_INDEX")
            .map_err(|_| {
                format!("--shards {n} needs the shard's index: give --shard i/{n}, or run as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)")
            })
            .and_then(|i| format!("{}/{n}", i.trim()).parse::<crate::seed::Shard>());
        match shard {
            Ok(s) => args.shard = Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(crate::exit::code(crate::exit::USAGE));
            }
        }
    }
    crate::seed::seed_command(targets, &args.options()).await
}

/// `clinicload compare`: the command's flags as the compare module takes them.
fn compare(args: &crate::cli::CompareArgs) -> anyhow::Result<ExitCode> {
    crate::compare::compare_command(&crate::compare::CompareCommand {
        baseline: args.baseline.clone(),
        candidate: args.candidate.clone(),
        options: args.stats.options(),
        out: args.out.clone(),
        baselines_dir: args.baselines.clone(),
    })
}

/// `clinicload sweep rate|connections|scale`: runs the sweep, then reports it.
async fn sweep(
    targets: &crate::config::Targets,
    command: SweepCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        SweepCommand::Rate(args) => crate::capacity::sweep_rate(targets, &args.options())
            .await
            .map(|(s, dir)| crate::capacity::finish(&s, &dir)),
        SweepCommand::Connections(args) => {
            crate::capacity::sweep_connections(targets, &args.options())
                .await
                .map(|(s, dir)| crate::capacity::finish(&s, &dir))
        }
        SweepCommand::Scale(args) => crate::capacity::scale::sweep_scale(targets, &args.options())
            .await
            .map(|(s, dir)| crate::capacity::scale::finish(&s, &dir)),
    }
}

/// The worker of `clinicload run` (`--worker`, or `--workers` with JOB_COMPLETION_INDEX);
/// a usage mistake is reported here and comes back as the exit code.
fn run_worker(
    worker: Option<crate::distributed::Worker>,
    workers: Option<u32>,
    start_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<crate::distributed::Worker>, ExitCode> {
    let worker = match crate::distributed::resolve(worker, workers) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(crate::exit::code(crate::exit::USAGE));
        }
    };
    if start_at.is_some() && worker.is_none() {
        eprintln!("error: --start-at is for distributed workers: give --worker i/n (or --workers n with JOB_COMPLETION_INDEX)");
        return Err(crate::exit::code(crate::exit::USAGE));
    }
    Ok(worker)
}

/// The exit code of the command's outcome; an error is printed (credentials redacted) first.
fn exit_code(result: anyhow::Result<ExitCode>, targets: &crate::config::Targets) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", redact_in(&format!("{err:#}"), targets));
            // A mistake in the scenario file is a usage error, like a bad flag (clap: 2).
            if err
                .downcast_ref::<crate::explain::ExpectationFailed>()
                .is_some()
            {
                return crate::exit::code(crate::exit::EXPECTATION_FAILED);
            }
            if err
                .downcast_ref::<crate::scenario::spec::SpecError>()
                .is_some()
                || err.downcast_ref::<crate::exit::UsageError>().is_some()
            {
                crate::exit::code(crate::exit::USAGE)
            } else {
                crate::exit::code(crate::exit::FAILURE)
            }
        }
    }
}

/// Output piped into `head` should end the program quietly, as for other command-line tools,
/// not panic with "failed printing to stdout".
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread writes output.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
