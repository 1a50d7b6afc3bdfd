//! Capacity planning: `clinicload sweep rate` finds the highest arrival rate whose SLO holds
//! (steady steps, not a ramp: grow geometrically until the SLO breaks or the server cannot
//! keep up, bisect to a resolution, confirm with a longer window) and says it in clinics;
//! `clinicload sweep connections` measures throughput at 1, 2, 4, ... connections and fits the
//! Universal Scalability Law ([`usl`]) and finds the knee ([`knee`]); `clinicload sweep
//! scale` runs the scenario on datasets of growing size ([`scale`]).
//!
//! Every step is an ordinary run (its own report, the dataset restored after it) and is
//! checked for the generator keeping up ([`judge_step`]): a step where clinicload, not the
//! server, fell behind is *invalid* and ends the search with the generator's ceiling; a step
//! where the server fell behind is *saturated*, the answer the sweep is looking for.

pub mod knee;
pub mod scale;
pub mod usl;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::Targets;
use crate::metrics::fmt_us;
use crate::report::page::{Cell, Page, Table, Tone};
use crate::report::Summary;
use crate::run::{run_scenario, RunOptions};
use crate::scenario::spec::{self, Load, Overrides};

pub const SCHEMA: &str = "clinicload.sweep/1";

/// Options of `clinicload sweep rate`.
#[derive(Debug, Clone)]
pub struct RateOptions {
    pub scenario: PathBuf,
    /// SLO terms on top of the scenario's thresholds (`p99<50ms`, `errors<0.1%`, or any
    /// `KEY EXPR` threshold).
    pub slo: Vec<String>,
    pub from: f64,
    pub max: f64,
    /// Growth factor between steps before the SLO breaks.
    pub factor: f64,
    /// Bisect until (hi - lo) / lo is at most this.
    pub resolution: f64,
    pub step: Duration,
    pub warmup: Duration,
    /// The longer window the answer is confirmed with.
    pub confirm: Duration,
    /// An expected load (ops/s) to state the headroom against.
    pub expect: Option<f64>,
    /// Poisson by default: evenly spaced arrivals make a knee look better than real
    /// traffic does.
    pub arrivals: crate::scenario::schedule::Arrivals,
    pub out: PathBuf,
    pub quiet: bool,
}

/// Options of `clinicload sweep connections`.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    pub scenario: PathBuf,
    pub max: usize,
    pub step: Duration,
    pub warmup: Duration,
    pub out: PathBuf,
    pub quiet: bool,
}

/// What the generator check says of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepHealth {
    /// The generator kept its schedule and the server kept up.
    Ok,
    /// The server fell behind (workers all busy or arrivals queued): a valid measurement of
    /// a saturated server.
    Saturated,
    /// The generator fell behind its own schedule while it had capacity, or used the
    /// machine's CPU: the step measures clinicload, not the server.
    Invalid,
}

/// One step of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// "grow", "bisect", "confirm" or "connections".
    pub phase: &'static str,
    /// Open model: the offered rate; closed model: the connections (= users).
    pub target: f64,
    /// Arrivals intended per second in the window (Poisson arrivals: the seeded process's
    /// count, around the target).
    pub intended: f64,
    pub achieved: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub error_rate: f64,
    pub slo_pass: bool,
    /// The SLO lines that failed.
    pub failed: Vec<String>,
    pub health: StepHealth,
    pub health_reason: String,
    /// Little's law: operations in flight (sampled) against achieved rate x mean latency.
    pub in_flight_observed: f64,
    pub in_flight_expected: f64,
    /// The operation with the highest p99 in the step, and its store.
    pub slowest_op: String,
    pub slowest_store: String,
    pub slowest_p99_us: u64,
    pub measured_s: f64,
    pub dir: String,
}

/// `sweep.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub schema: &'static str,
    /// "rate" or "connections".
    pub kind: &'static str,
    pub scenario: String,
    pub slo: Vec<String>,
    pub steps: Vec<Step>,
    /// The plain-language answer, first line of the report.
    pub answer: String,
    pub max_rate: Option<f64>,
    pub confirmed: bool,
    /// The first rate whose SLO broke (or where the server fell behind), if reached.
    pub breaking_rate: Option<f64>,
    pub limiting_op: Option<String>,
    pub clinics: Option<f64>,
    /// Set only when a step was invalid because clinicload fell behind (never by a
    /// saturated step): the rate this machine's generator could not keep...
    pub generator_ceiling: Option<f64>,
    /// ...and the measured reason (the invalid step's `health_reason`).
    pub generator_ceiling_reason: Option<String>,
    pub usl: Option<usl::Usl>,
    /// Connections at the knee of the throughput curve.
    pub knee: Option<f64>,
    /// Seconds measured in steps, and the sweep's whole time (the rest is warm-up, restore,
    /// sampling between steps).
    pub measured_s: f64,
    pub total_s: f64,
    pub notes: Vec<String>,
}

/// `p99<50ms` -> `overall.p99 < 50ms`; `errors<0.1%` -> `overall.error_rate < 0.1%`; a term
/// with a scope (`appointments_today.p99 < 20ms`) is kept as written.
pub fn slo_terms(slo: &str) -> Vec<String> {
    slo.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let cut = t.find(['<', '>', '=']).unwrap_or(t.len());
            let (key, expr) = t.split_at(cut);
            let key = key.trim();
            let key = match key {
                "errors" | "error_rate" => "overall.error_rate".to_string(),
                k if !k.contains('.') => format!("overall.{k}"),
                k => k.to_string(),
            };
            let expr = expr.trim();
            let op_end = expr
                .find(|c| !matches!(c, '<' | '>' | '='))
                .unwrap_or(expr.len());
            format!("{key} {} {}", &expr[..op_end], expr[op_end..].trim())
        })
        .collect()
}

/// What the generator check reads of a run.
#[derive(Debug, Clone, Default)]
pub struct RunView {
    pub generator: crate::report::GeneratorFacts,
    /// Open model: the offered rate; None for the closed model.
    pub target_rate: Option<f64>,
    pub intended_rate: f64,
    pub achieved_rate: f64,
    /// Mean latency of every arrival.
    pub mean_us: f64,
    /// Connections of the stores the scenario uses.
    pub connections: u32,
}

impl RunView {
    pub fn of(s: &Summary) -> RunView {
        let connections = s.scenario.pools.iter().map(|(_, n)| *n).sum();
        RunView {
            generator: s.run.generator.clone(),
            target_rate: s.run.target_rate,
            intended_rate: s.run.intended_rate,
            achieved_rate: s.run.achieved_rate,
            mean_us: s.overall.all.mean_us,
            connections,
        }
    }
}

/// Judges whether the generator kept up in a run ([`judge`]).
pub fn judge_step(s: &Summary) -> (StepHealth, String) {
    judge(&RunView::of(s))
}

/// Judges whether the generator kept up in a run, from what was measured of clinicload
/// itself. The connections belong to the system under test, as an application's pool does:
/// arrivals waiting while every connection is busy (workers waiting for a pooled one) is the
/// server saturated, a valid measurement. A step is invalid only when clinicload is measured
/// to fall behind: its dispatch lag grows, its runnable workers wait for CPU (its CPU time
/// near the cores it may use), or arrivals queue while connections sit idle (workers free
/// to take them were not run, or every worker, `max_in_flight`, was busy without a
/// connection to wait for).
pub fn judge(r: &RunView) -> (StepHealth, String) {
    let g = &r.generator;
    if let Some(reason) = generator_behind(g, r.target_rate) {
        return (StepHealth::Invalid, reason);
    }
    let cpu = cpu_share(g);
    if r.target_rate.is_none() {
        // Closed model: every user is always busy by design; only the CPU check applies.
        return (
            StepHealth::Ok,
            format!("closed model; clinicload CPU {:.0}%", cpu * 100.0),
        );
    }
    if let Some(reason) = server_behind(r) {
        return (StepHealth::Saturated, reason);
    }
    (
        StepHealth::Ok,
        format!(
            "kept up: dispatch lag p90 {}, clinicload CPU {:.0}%",
            fmt_us(g.dispatch_lag_p90_us.unwrap_or(0)),
            cpu * 100.0
        ),
    )
}

/// clinicload's CPU time over the run against the cores it may use.
fn cpu_share(g: &crate::report::GeneratorFacts) -> f64 {
    if g.wall_s > 0.0 && g.cores > 0 {
        g.cpu_s / (g.wall_s * g.cores as f64)
    } else {
        0.0
    }
}

/// The measured facts of clinicload's own CPU and lag, for a reason text.
fn generator_figures(g: &crate::report::GeneratorFacts) -> String {
    format!(
        "clinicload used {:.2} s of CPU in {:.1} s on {} cores ({:.0}%), dispatch lag p99 {}",
        g.cpu_s,
        g.wall_s,
        g.cores,
        cpu_share(g) * 100.0,
        fmt_us(g.dispatch_lag_p99_us.unwrap_or(0))
    )
}

/// Why clinicload, not the server, fell behind in the run, if it did.
fn generator_behind(g: &crate::report::GeneratorFacts, target_rate: Option<f64>) -> Option<String> {
    // One late wake-up is noise; a tenth of the arrivals late is a generator behind.
    let lag = g.dispatch_lag_p90_us.unwrap_or(0);
    if lag > 5_000 {
        return Some(format!(
            "the scheduler handed out arrivals {} late (p90; max {}) on its own schedule: clinicload, not the server, fell behind ({}); run clinicload on more cores or as several workers",
            fmt_us(lag),
            fmt_us(g.dispatch_lag_max_us.unwrap_or(0)),
            generator_figures(g)
        ));
    }
    // A task woken on time that runs late waited for a CPU (clinicload's own work or the
    // machine's other processes): arrivals wait for a worker that cannot run.
    // A late tail while clinicload itself used over half the cores it may use is its own
    // work crowding its workers. (Late tasks while it used little are the machine's other
    // processes, the server sharing it among them: a capacity of the shared machine.)
    let runtime_lag = g.runtime_lag_p90_us.unwrap_or(0);
    let runtime_tail = g.runtime_lag_p99_us.unwrap_or(0);
    if runtime_tail > 5_000 && cpu_share(g) > 0.5 {
        return Some(format!(
            "its runnable workers waited for CPU: a task woken on time ran {} late (p90; p99 {}) ({}); run clinicload on more cores or as several workers",
            fmt_us(runtime_lag),
            fmt_us(g.runtime_lag_p99_us.unwrap_or(0)),
            generator_figures(g)
        ));
    }
    if cpu_share(g) > 0.9 {
        return Some(format!(
            "its runnable workers waited for CPU: {}; run clinicload on more cores or as several workers",
            generator_figures(g)
        ));
    }
    let rate = target_rate?;
    // A handful of arrivals caught in the queue at a sample is a burst being taken; this
    // many is more than 5 ms of arrivals (the dispatch lag's bound) left waiting.
    let q = g.queued_connections_idle?;
    if q.queued <= 100usize.max((rate * 0.005) as usize) {
        return None;
    }
    Some(if q.free_workers > 0 {
        format!(
            "up to {} arrivals waited in the queue while {} of {} workers were free to take them (not running or waiting for a connection) and {} connections sat idle: clinicload did not hand them out ({}); run clinicload on more cores or as several workers",
            q.queued,
            q.free_workers,
            g.workers,
            q.idle_connections,
            generator_figures(g)
        )
    } else {
        format!(
            "up to {} arrivals waited in the queue while all {} workers were busy, none of them waiting for a connection, and {} connections sat idle: max_in_flight ({}), clinicload's limit, was reached before the server's; raise max_in_flight",
            q.queued, g.workers, q.idle_connections, g.workers
        )
    })
}

/// Why the server's side fell behind in an open-model run, if it did: workers waited for a
/// pooled connection, arrivals queued while every connection was busy, fewer arrivals were
/// served than offered, or more operations were in the system than connections.
fn server_behind(r: &RunView) -> Option<String> {
    let g = &r.generator;
    let mut facts = Vec::new();
    // A worker caught waiting at one sample is a burst; in most samples, a full pool.
    for p in g.pools.iter().filter(|p| 2 * p.full_samples > g.samples) {
        facts.push(format!(
            "every one of the {} {} connections in use with up to {} workers waiting for one ({} of {} samples)",
            p.connections, p.store, p.max_waiting, p.full_samples, g.samples
        ));
    }
    // More arrivals queued than there are connections to take them at once.
    if let Some(q) = g
        .queued_connections_busy
        .filter(|q| q.queued > r.connections as usize)
    {
        facts.push(format!(
            "up to {} arrivals queued while {} of {} workers ran one ({} of them waiting for a connection) and {} connections were idle",
            q.queued, q.busy_workers, g.workers, q.waiting_for_connection, q.idle_connections
        ));
    }
    if r.achieved_rate < 0.95 * r.intended_rate.min(r.target_rate?) {
        facts.push(format!(
            "{:.0} of {:.0} ops/s achieved",
            r.achieved_rate, r.intended_rate
        ));
    }
    // Little's law over every arrival: operations in the system on average. Beyond the
    // connections, they wait for one: the server's side is full.
    let in_system = r.achieved_rate * r.mean_us / 1e6;
    if in_system > r.connections as f64 {
        facts.push(format!(
            "{in_system:.1} operations in the system on average (rate x mean latency) for {} connections",
            r.connections
        ));
    }
    if facts.is_empty() {
        return None;
    }
    Some(format!(
        "the server fell behind: {}; clinicload kept up ({})",
        facts.join("; "),
        generator_figures(g)
    ))
}

fn step_of(phase: &'static str, target: f64, s: &Summary, dir: &Path) -> Step {
    let failed: Vec<String> = s
        .thresholds
        .iter()
        .filter(|v| !v.pass)
        .map(|v| v.line())
        .collect();
    let (health, health_reason) = judge_step(s);
    let slowest = s
        .operations
        .iter()
        .filter(|o| o.sub.is_none())
        .max_by_key(|o| o.p99_all_us);
    let mean_s = s.overall.stats.mean_us / 1e6;
    Step {
        phase,
        target,
        intended: s.run.intended_rate,
        achieved: s.run.achieved_rate,
        p50_us: s.overall.stats.p50_us,
        p99_us: s.overall.p99_all_us,
        error_rate: s.run.error_rate,
        // The SLO is the thresholds (the scenario's and --slo's), errors included when it
        // says so; max_error_rate is the run's exit code, not the SLO.
        slo_pass: failed.is_empty() && s.run.aborted_by_threshold.is_none(),
        failed,
        health,
        health_reason,
        in_flight_observed: s.run.generator.mean_in_flight,
        in_flight_expected: s.run.achieved_rate * mean_s,
        slowest_op: slowest.map(|o| o.label.clone()).unwrap_or_default(),
        slowest_store: slowest.map(|o| o.store.clone()).unwrap_or_default(),
        slowest_p99_us: slowest.map_or(0, |o| o.p99_all_us),
        measured_s: s.run.measured_s,
        dir: dir.display().to_string(),
    }
}

struct Runner<'a> {
    targets: &'a Targets,
    file: &'a Path,
    steps_dir: PathBuf,
    thresholds: Vec<String>,
    quiet: bool,
    warmup: Duration,
    arrivals: crate::scenario::schedule::Arrivals,
}

impl Runner<'_> {
    async fn run(
        &self,
        phase: &'static str,
        target: f64,
        duration: Duration,
        closed_users: Option<usize>,
    ) -> Result<(Step, bool)> {
        let opts = RunOptions {
            overrides: Overrides {
                duration: Some(duration),
                warmup: Some(self.warmup),
                warmup_auto: false,
                rate: closed_users.is_none().then_some(target),
                thresholds: self.thresholds.clone(),
                closed_users,
                // A step whose SLO clearly fails stops after a quarter of its window.
                abort_after: closed_users
                    .is_none()
                    .then(|| (duration / 4).max(Duration::from_secs(1))),
                arrivals: closed_users.is_none().then_some(self.arrivals),
                worker: None,
            },
            out: self.steps_dir.clone(),
            quiet: self.quiet,
            ..RunOptions::default()
        };
        let r = run_scenario(self.targets, self.file, &opts)
            .await
            .with_context(|| format!("sweep step at {target}"))?;
        if let Some(e) = r.write_error {
            return Err(e.context("writing a sweep step's report"));
        }
        let step = step_of(phase, target, &r.summary, &r.dir);
        eprintln!(
            "sweep: {phase} {target:.1}{}: achieved {:.1} ops/s, p99 {}, SLO {}, {:?}",
            if closed_users.is_some() {
                " connections"
            } else {
                " ops/s"
            },
            step.achieved,
            fmt_us(step.p99_us),
            if step.slo_pass { "holds" } else { "broken" },
            step.health
        );
        Ok((step, r.summary.run.interrupted))
    }
}

pub(crate) fn sweep_dir(out: &Path, name: &str, kind: &str) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("creating the reports directory {}", out.display()))?;
    crate::report::create_run_dir(
        out,
        &format!(
            "{}-sweep-{kind}",
            crate::report::run_id(name, chrono::Utc::now())
        ),
    )
}

/// The dataset is the sweep's for all its steps: another command slipping in between two
/// steps would load some steps and not others (`restore::lock`).
async fn hold_dataset(
    targets: &Targets,
    scenario: &spec::Scenario,
    kind: &str,
) -> Result<Option<crate::restore::lock::DatasetLock>> {
    use crate::restore::lock::{take_for_runs, Hold};
    if !scenario.uses(crate::scenario::ops::Store::Postgres) {
        return Ok(None);
    }
    let what = format!("sweep {kind} {}", scenario.name);
    Ok(Some(take_for_runs(targets, Hold::Exclusive, &what).await?))
}

/// The scenario of a rate sweep and its SLO, checked before any step runs: the SLO terms of
/// `--slo` as thresholds, and every SLO line (the scenario's and those).
fn rate_setup(opts: &RateOptions) -> Result<(spec::Scenario, Vec<String>, Vec<String>)> {
    let scenario = spec::load(&opts.scenario, &Overrides::default())?;
    if !matches!(scenario.load, Load::Open { .. }) {
        crate::usage!(
            "{} uses the closed model; a rate sweep offers arrival rates (model = \"open\"): use `sweep connections` for virtual users",
            opts.scenario.display()
        );
    }
    if !(opts.from > 0.0 && opts.max >= opts.from && opts.factor > 1.0 && opts.resolution > 0.0) {
        crate::usage!(
            "--from {} --max {} --factor {} --resolution {}: give 0 < from <= max, factor > 1, resolution > 0",
            opts.from, opts.max, opts.factor, opts.resolution
        );
    }
    let slo: Vec<String> = opts.slo.iter().flat_map(|s| slo_terms(s)).collect();
    if slo.is_empty() && scenario.thresholds.is_empty() {
        crate::usage!(
            "no SLO: give --slo 'p99<50ms,errors<0.1%' or [thresholds] in {}",
            opts.scenario.display()
        );
    }
    // Checked once, so a bad term fails before any step runs.
    spec::load(
        &opts.scenario,
        &Overrides {
            thresholds: slo.clone(),
            ..Overrides::default()
        },
    )?;
    let mut slo_lines: Vec<String> = scenario
        .thresholds
        .iter()
        .map(|t| format!("{} {}", t.key, t.text))
        .collect();
    slo_lines.extend(slo.iter().cloned());
    Ok((scenario, slo, slo_lines))
}

/// Where a rate sweep's search stands.
#[derive(Default)]
struct Search {
    steps: Vec<Step>,
    notes: Vec<String>,
    /// The highest rate that held and the lowest that broke, so far.
    lo: Option<f64>,
    hi: Option<f64>,
    /// The rate of an invalid step and why: clinicload, not the server, fell behind.
    ceiling: Option<(f64, String)>,
    interrupted: bool,
    confirmed: bool,
}

/// What a step of the search says.
#[derive(PartialEq)]
enum Seen {
    /// Interrupted, or invalid: the search ends.
    Over,
    Held,
    Broke,
}

impl Search {
    /// Keeps the step; an invalid one sets the generator's ceiling, with its reason.
    fn record(&mut self, s: Step, stop: bool) -> Seen {
        let seen = if stop {
            self.interrupted = true;
            Seen::Over
        } else if s.health == StepHealth::Invalid {
            self.ceiling = Some((s.target, s.health_reason.clone()));
            Seen::Over
        } else if s.slo_pass && s.achieved >= 0.95 * s.intended {
            Seen::Held
        } else {
            Seen::Broke
        };
        self.steps.push(s);
        seen
    }

    fn searching(&self) -> bool {
        !self.interrupted && self.ceiling.is_none()
    }
}

/// Grow: steps at `--from`, times the factor each, until one breaks (or `--max`).
async fn grow(runner: &Runner<'_>, opts: &RateOptions, search: &mut Search) -> Result<()> {
    let mut r = opts.from;
    loop {
        let (s, stop) = runner.run("grow", r, opts.step, None).await?;
        match search.record(s, stop) {
            Seen::Over => return Ok(()),
            Seen::Held => {
                search.lo = Some(r);
                if r >= opts.max {
                    return Ok(());
                }
                r = (r * opts.factor).min(opts.max);
            }
            Seen::Broke => {
                search.hi = Some(r);
                return Ok(());
            }
        }
    }
}

/// Bisect between the last rate that held and the first that broke, to the resolution.
async fn bisect(runner: &Runner<'_>, opts: &RateOptions, search: &mut Search) -> Result<()> {
    while let (Some(l), Some(h), true) = (search.lo, search.hi, search.searching()) {
        if (h - l) / l <= opts.resolution {
            break;
        }
        let mid = (l + h) / 2.0;
        let (s, stop) = runner.run("bisect", mid, opts.step, None).await?;
        match search.record(s, stop) {
            Seen::Over => {}
            Seen::Held => search.lo = Some(mid),
            Seen::Broke => search.hi = Some(mid),
        }
    }
    Ok(())
}

/// Confirm with the longer window, stepping down by the resolution when it fails.
async fn confirm(runner: &Runner<'_>, opts: &RateOptions, search: &mut Search) -> Result<()> {
    if !search.searching() {
        return Ok(());
    }
    for _ in 0..3 {
        let Some(l) = search.lo else { break };
        let (s, stop) = runner.run("confirm", l, opts.confirm, None).await?;
        match search.record(s, stop) {
            Seen::Over => break,
            Seen::Held => {
                search.confirmed = true;
                break;
            }
            Seen::Broke => {}
        }
        search.hi = Some(l);
        search.lo = Some(l * (1.0 - opts.resolution));
        search.notes.push(format!(
            "{l:.1} ops/s held in a {:.0} s step but not over the {:.0} s confirmation: stepped down",
            opts.step.as_secs_f64(),
            opts.confirm.as_secs_f64()
        ));
    }
    Ok(())
}

/// The plain-language answer of a rate sweep, with the operation that was slowest where the
/// SLO broke and the answer in clinics; notes for what it cannot say.
fn rate_answer(
    opts: &RateOptions,
    scenario: &spec::Scenario,
    search: &mut Search,
    slo_lines: &[String],
) -> (String, Option<String>, Option<f64>) {
    let (lo, hi, confirmed) = (search.lo, search.hi, search.confirmed);
    let limiting = hi.and_then(|h| {
        search
            .steps
            .iter()
            .rfind(|s| s.target == h)
            .map(|s| (s.slowest_op.clone(), s.slowest_store.clone(), s.p99_us))
    });
    let clinics = match (lo, scenario.clinic_rate) {
        (Some(l), Some(c)) if confirmed => Some(l / c),
        _ => None,
    };
    let slo_text = slo_lines.join(", ");
    let mut answer = match (lo, confirmed) {
        (Some(l), true) => format!(
            "max sustainable rate {l:.0} ops/s with {slo_text} (confirmed over {:.0} s)",
            opts.confirm.as_secs_f64()
        ),
        (Some(l), false) => format!("{l:.0} ops/s held the SLO ({slo_text}) but was not confirmed"),
        (None, _) if search.ceiling.is_some() => format!(
            "no capacity measured: clinicload could not generate {:.0} ops/s on this machine, the first step",
            opts.from
        ),
        (None, _) => format!(
            "the SLO ({slo_text}) does not hold even at {:.1} ops/s, the first step",
            opts.from
        ),
    };
    if let (Some(h), Some((op, store, p99))) = (hi, &limiting) {
        answer.push_str(&format!(
            "; at {h:.0} ops/s p99 = {} ({op} on {store} the slowest)",
            fmt_us(*p99)
        ));
    } else if lo.is_some_and(|l| l >= opts.max) {
        answer.push_str(&format!(
            "; --max {:.0} reached without breaking it",
            opts.max
        ));
    }
    match (clinics, scenario.clinic_rate) {
        (Some(n), Some(c)) => answer.push_str(&format!(
            "; about {n:.0} clinics like the seeded ones ({c} ops/s each)"
        )),
        (_, None) => search.notes.push(
            "set clinic_rate (ops/s one clinic generates) in the scenario to read the answer in clinics".into(),
        ),
        _ => {}
    }
    if let (Some(e), Some(l), true) = (opts.expect, lo, confirmed) {
        answer.push_str(&format!(
            "; headroom at the expected {e:.0} ops/s: {:+.0}%",
            (l / e - 1.0) * 100.0
        ));
    }
    if let Some((c, why)) = &search.ceiling {
        search.notes.push(format!(
            "the generator on this machine could not keep {c:.0} ops/s (invalid step): the server's capacity was not reached: {why}"
        ));
    }
    if search.interrupted {
        search
            .notes
            .push("interrupted: the sweep covers the steps that completed".into());
    }
    (answer, limiting.map(|l| l.0), clinics)
}

/// `clinicload sweep rate`.
pub async fn sweep_rate(targets: &Targets, opts: &RateOptions) -> Result<(Sweep, PathBuf)> {
    let (scenario, slo, slo_lines) = rate_setup(opts)?;
    let _dataset = hold_dataset(targets, &scenario, "rate").await?;
    let (_, dir) = sweep_dir(&opts.out, &scenario.name, "rate")?;
    let started = Instant::now();
    let runner = Runner {
        targets,
        file: &opts.scenario,
        steps_dir: dir.join("steps"),
        thresholds: slo,
        quiet: opts.quiet,
        warmup: opts.warmup,
        arrivals: opts.arrivals,
    };
    let mut search = Search::default();
    grow(&runner, opts, &mut search).await?;
    bisect(&runner, opts, &mut search).await?;
    confirm(&runner, opts, &mut search).await?;
    let (answer, limiting_op, clinics) = rate_answer(opts, &scenario, &mut search, &slo_lines);
    let measured_s: f64 = search.steps.iter().map(|s| s.measured_s).sum();
    let (generator_ceiling, generator_ceiling_reason) = search.ceiling.unzip();
    let sweep = Sweep {
        schema: SCHEMA,
        kind: "rate",
        scenario: scenario.name.clone(),
        slo: slo_lines,
        steps: search.steps,
        answer,
        max_rate: search.lo,
        confirmed: search.confirmed,
        breaking_rate: search.hi,
        limiting_op,
        clinics,
        generator_ceiling,
        generator_ceiling_reason,
        usl: None,
        knee: None,
        measured_s,
        total_s: started.elapsed().as_secs_f64(),
        notes: search.notes,
    };
    write(&dir, &sweep)?;
    Ok((sweep, dir))
}

/// `clinicload sweep connections`.
pub async fn sweep_connections(
    targets: &Targets,
    opts: &ConnectionOptions,
) -> Result<(Sweep, PathBuf)> {
    let scenario = spec::load(&opts.scenario, &Overrides::default())?;
    if opts.max == 0 || opts.max > 1024 {
        crate::usage!("--max {}: give 1 to 1024 connections", opts.max);
    }
    let _dataset = hold_dataset(targets, &scenario, "connections").await?;
    let (_, dir) = sweep_dir(&opts.out, &scenario.name, "connections")?;
    let started = Instant::now();
    let runner = Runner {
        targets,
        file: &opts.scenario,
        steps_dir: dir.join("steps"),
        thresholds: Vec::new(),
        quiet: opts.quiet,
        warmup: opts.warmup,
        arrivals: crate::scenario::schedule::Arrivals::Uniform,
    };
    let mut levels = Vec::new();
    let mut n = 1;
    while n < opts.max {
        levels.push(n);
        n *= 2;
    }
    levels.push(opts.max);
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    for n in levels {
        let (s, stop) = runner
            .run("connections", n as f64, opts.step, Some(n))
            .await?;
        steps.push(s);
        if stop {
            notes.push("interrupted: the sweep covers the steps that completed".into());
            break;
        }
    }
    let points: Vec<(f64, f64)> = steps.iter().map(|s| (s.target, s.achieved)).collect();
    let fit = usl::fit(&points);
    let knee = knee::kneedle(&points).map(|i| points[i].0);
    let best = steps
        .iter()
        .max_by(|a, b| a.achieved.total_cmp(&b.achieved));
    let mut answer = match best {
        Some(b) => format!(
            "highest throughput {:.0} ops/s at {} connections (p99 {})",
            b.achieved,
            b.target,
            fmt_us(b.p99_us)
        ),
        None => "no step completed".into(),
    };
    if let Some(u) = &fit {
        answer.push_str(&format!(
            "; USL: contention σ = {:.4}, coherency κ = {:.6}, R² = {:.3}",
            u.sigma, u.kappa, u.r_squared
        ));
        match (u.peak_concurrency(), u.peak_throughput()) {
            (Some(n), Some(x)) => {
                answer.push_str(&format!(", peak {x:.0} ops/s at {n:.0} connections"))
            }
            _ => answer.push_str(", no peak (throughput levels off)"),
        }
    } else {
        notes.push("the USL needs at least 3 connection levels".into());
    }
    if let Some(k) = knee {
        answer.push_str(&format!("; knee at {k} connections"));
    }
    let measured_s: f64 = steps.iter().map(|s| s.measured_s).sum();
    let sweep = Sweep {
        schema: SCHEMA,
        kind: "connections",
        scenario: scenario.name.clone(),
        slo: Vec::new(),
        steps,
        answer,
        max_rate: None,
        confirmed: false,
        breaking_rate: None,
        limiting_op: None,
        clinics: None,
        generator_ceiling: None,
        generator_ceiling_reason: None,
        usl: fit,
        knee,
        measured_s,
        total_s: started.elapsed().as_secs_f64(),
        notes,
    };
    write(&dir, &sweep)?;
    Ok((sweep, dir))
}

/// The curves of a sweep: latency against offered rate and achieved against offered (rate),
/// or throughput against connections with the USL fitted over it and its knee
/// (connections). Confirmation steps, with their longer window, are left out of the curves.
fn plots(s: &Sweep) -> Vec<crate::report::page::Plot> {
    use crate::report::page::Plot;
    let mut steps: Vec<&Step> = s.steps.iter().filter(|st| st.phase != "confirm").collect();
    steps.sort_by(|a, b| a.target.total_cmp(&b.target));
    let curve = |f: &dyn Fn(&Step) -> f64| -> Vec<(f64, f64)> {
        steps.iter().map(|st| (st.target, f(st))).collect()
    };
    if s.kind == "rate" {
        let mut latency = vec![
            (
                "p50 (ms)".to_string(),
                curve(&|st| st.p50_us as f64 / 1000.0),
            ),
            (
                "p99 all (ms)".to_string(),
                curve(&|st| st.p99_us as f64 / 1000.0),
            ),
        ];
        // The SLO's latency terms, as horizontal lines across the offered rates.
        if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
            for (label, ms) in slo_latency_lines(&s.slo) {
                latency.push((label, vec![(first.target, ms), (last.target, ms)]));
            }
        }
        if let Some(max) = s.max_rate {
            // The answer, as a vertical line across the latencies.
            let ys: Vec<f64> = latency
                .iter()
                .flat_map(|l| l.1.iter().map(|p| p.1))
                .collect();
            let (lo, hi) = ys
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
            if lo <= hi {
                latency.push((
                    format!("max sustainable {max:.0} ops/s"),
                    vec![(max, lo.max(1e-3)), (max, hi)],
                ));
            }
        }
        vec![
            Plot {
                title: "Latency against offered rate".into(),
                x_label: "offered ops/s".into(),
                y_label: "latency (ms, log scale)".into(),
                y_log: true,
                series: latency,
            },
            Plot {
                title: "Achieved against offered rate".into(),
                x_label: "offered ops/s".into(),
                y_label: "ops/s".into(),
                y_log: false,
                series: vec![
                    ("achieved".into(), curve(&|st| st.achieved)),
                    ("offered".into(), curve(&|st| st.target)),
                ],
            },
        ]
    } else {
        let mut series = vec![("measured".to_string(), curve(&|st| st.achieved))];
        if let (Some(u), Some(last)) = (&s.usl, steps.last()) {
            let n_max = last.target;
            let fitted: Vec<(f64, f64)> = (0..=60)
                .map(|i| {
                    let n = 1.0 + (n_max - 1.0) * i as f64 / 60.0;
                    (n, u.throughput(n))
                })
                .collect();
            series.push((format!("USL fit (R² {:.3})", u.r_squared), fitted));
        }
        if let Some(k) = s.knee {
            if let Some(st) = steps.iter().find(|st| st.target == k) {
                series.push(("knee".into(), vec![(k, 0.0), (k, st.achieved)]));
            }
        }
        vec![Plot {
            title: "Throughput against connections".into(),
            x_label: "connections".into(),
            y_label: "ops/s".into(),
            y_log: false,
            series,
        }]
    }
}

/// The SLO lines that bound a latency of every operation (`overall.p99 < 50ms`), as
/// ("SLO p99 < 50ms", 50.0 ms).
fn slo_latency_lines(slo: &[String]) -> Vec<(String, f64)> {
    slo.iter()
        .filter_map(|line| {
            let rest = line.strip_prefix("overall.")?;
            let cut = rest.find(['<', '>', '='])?;
            let metric = rest[..cut].trim();
            if !metric.starts_with('p') {
                return None;
            }
            let value = rest[cut..].trim_start_matches(['<', '>', '=']).trim();
            let d = spec::parse_duration(value).ok()?;
            Some((
                format!("SLO {metric} {}", rest[cut..].trim()),
                d.as_secs_f64() * 1000.0,
            ))
        })
        .collect()
}

/// The report page of a sweep.
pub fn page(s: &Sweep) -> Page {
    let rows = s
        .steps
        .iter()
        .map(|st| {
            vec![
                Cell::new(st.phase),
                Cell::new(format!("{:.1}", st.target)),
                Cell::new(format!("{:.1}", st.achieved)),
                Cell::new(fmt_us(st.p50_us)),
                Cell::new(fmt_us(st.p99_us)),
                Cell::new(format!("{:.2}%", st.error_rate * 100.0)),
                if st.slo_pass {
                    Cell::toned("holds", Tone::Good)
                } else {
                    Cell::toned(format!("broken: {}", st.failed.join("; ")), Tone::Bad)
                },
                Cell::toned(
                    format!("{:?}: {}", st.health, st.health_reason),
                    match st.health {
                        StepHealth::Ok => Tone::Neutral,
                        StepHealth::Saturated => Tone::Warn,
                        StepHealth::Invalid => Tone::Bad,
                    },
                ),
                Cell::new(format!(
                    "{:.1} / {:.1}",
                    st.in_flight_observed, st.in_flight_expected
                )),
                Cell::new(format!("{} ({})", st.slowest_op, fmt_us(st.slowest_p99_us))),
            ]
        })
        .collect();
    let mut footer = vec![format!(
        "measured {:.0} s of {:.0} s in all ({:.0}% between steps: warm-up, sampling, restore)",
        s.measured_s,
        s.total_s,
        if s.total_s > 0.0 {
            100.0 * (1.0 - s.measured_s / s.total_s)
        } else {
            0.0
        }
    )];
    footer.push(format!("schema {}", s.schema));
    Page {
        title: format!("clinicload sweep {}: {}", s.kind, s.scenario),
        headline: s.answer.clone(),
        tone: if s.generator_ceiling.is_some() {
            Tone::Warn
        } else {
            Tone::Neutral
        },
        notes: s.notes.clone(),
        tables: vec![Table {
            title: "Steps".into(),
            columns: [
                "phase",
                if s.kind == "rate" {
                    "offered ops/s"
                } else {
                    "connections"
                },
                "achieved ops/s",
                "p50",
                "p99 (all)",
                "errors",
                "SLO",
                "generator check",
                "in flight: seen / rate x latency",
                "slowest operation (p99)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }],
        charts: Vec::new(),
        plots: plots(s),
        footer,
    }
}

pub fn write(dir: &Path, s: &Sweep) -> Result<()> {
    crate::report::write_atomic(
        &dir.join("sweep.json"),
        format!("{}\n", serde_json::to_string_pretty(s)?).as_bytes(),
    )?;
    let p = page(s);
    crate::report::write_atomic(
        &dir.join("report.html"),
        crate::report::page::html(&p).as_bytes(),
    )?;
    crate::report::write_atomic(
        &dir.join("summary.md"),
        crate::report::page::markdown(&p, usize::MAX).as_bytes(),
    )
}

/// Prints the answer and where the report is; exit 0 (a sweep's answer is information),
/// 130 when interrupted.
pub fn finish(s: &Sweep, dir: &Path) -> ExitCode {
    println!("{}", s.answer);
    for n in &s.notes {
        println!("note: {n}");
    }
    println!("report: {}", dir.join("report.html").display());
    if s.notes.iter().any(|n| n.starts_with("interrupted")) {
        return crate::exit::code(crate::exit::INTERRUPTED);
    }
    crate::exit::code(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{GeneratorFacts, StoreSample};

    /// A run at `rate` whose samples all saw `queued` arrivals and PostgreSQL with `busy`
    /// workers on it, `waiting` of them for one of its `pool` connections, `idle` idle; its
    /// CPU share and dispatch lag p90 as given.
    #[allow(clippy::too_many_arguments)]
    fn view(
        workers: usize,
        pool: u32,
        rate: f64,
        achieved: f64,
        (queued, busy, waiting, idle): (usize, usize, usize, usize),
        cpu: f64,
        lag_us: u64,
        mean_us: f64,
    ) -> RunView {
        let mut g = GeneratorFacts {
            workers,
            dispatch_lag_p90_us: Some(lag_us),
            dispatch_lag_p99_us: Some(lag_us * 2),
            dispatch_lag_max_us: Some(lag_us * 3),
            cpu_s: cpu * 4.0 * 2.0,
            wall_s: 4.0,
            cores: 2,
            ..GeneratorFacts::default()
        };
        for _ in 0..4 {
            g.observe(
                queued,
                &[StoreSample {
                    store: "postgres",
                    connections: pool,
                    pooled: true,
                    busy,
                    waiting,
                    idle,
                }],
            );
        }
        RunView {
            generator: g,
            target_rate: Some(rate),
            intended_rate: rate,
            achieved_rate: achieved,
            mean_us,
            connections: pool,
        }
    }

    #[test]
    fn arrivals_waiting_for_a_full_pool_are_the_server_saturated() {
        // Issue #26: 2 connections, 256 workers, 1161 arrivals queued, clinicload at 2% CPU
        // with a dispatch lag of 0.33 ms: every worker waits for the pool, the server's.
        let r = view(
            256,
            2,
            400.0,
            200.0,
            (1161, 256, 254, 0),
            0.02,
            165,
            900_000.0,
        );
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Saturated, "{why}");
        assert!(
            why.contains(
                "every one of the 2 postgres connections in use with up to 254 workers waiting"
            ),
            "{why}"
        );
        // One worker between two arrivals, with a connection just given back, is not idle.
        let r = view(
            256,
            2,
            400.0,
            200.0,
            (1161, 255, 254, 1),
            0.02,
            165,
            900_000.0,
        );
        assert_eq!(judge(&r).0, StepHealth::Saturated, "{}", judge(&r).1);
    }

    #[test]
    fn workers_as_many_as_connections_all_busy_are_the_server_saturated() {
        let r = view(4, 4, 240.0, 200.0, (300, 4, 0, 0), 0.02, 100, 700_000.0);
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Saturated, "{why}");
        assert!(
            why.contains("up to 300 arrivals queued while 4 of 4 workers ran one"),
            "{why}"
        );
    }

    #[test]
    fn arrivals_queued_beside_idle_connections_and_free_workers_are_the_generator() {
        let r = view(256, 16, 400.0, 390.0, (500, 10, 0, 6), 0.3, 100, 20_000.0);
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Invalid, "{why}");
        assert!(why.contains("246 of 256 workers were free"), "{why}");
        assert!(why.contains("6 connections sat idle"), "{why}");
    }

    #[test]
    fn max_in_flight_below_the_pool_is_clinicloads_limit() {
        let r = view(4, 16, 400.0, 200.0, (300, 4, 0, 12), 0.02, 100, 500_000.0);
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Invalid, "{why}");
        assert!(why.contains("raise max_in_flight"), "{why}");
    }

    #[test]
    fn a_busy_cpu_or_a_late_scheduler_is_the_generator() {
        let r = view(
            512,
            4,
            100_000.0,
            30_000.0,
            (9000, 512, 508, 0),
            0.97,
            100,
            1e6,
        );
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Invalid, "{why}");
        assert!(
            why.contains("waited for CPU") && why.contains("on 2 cores (97%)"),
            "{why}"
        );
        let r = view(
            512,
            4,
            100_000.0,
            30_000.0,
            (9000, 512, 508, 0),
            0.5,
            8_000,
            1e6,
        );
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Invalid, "{why}");
        assert!(
            why.contains("8.00 ms late") || why.contains("late (p90"),
            "{why}"
        );
        // Issue #26's starved generator: one core, a full pool, CPU at half the core (the
        // other half went to other processes) and the scheduler on time: the workers' own
        // runtime ran late.
        let mut r = view(
            512,
            4,
            100_000.0,
            0.0,
            (364_461, 512, 508, 0),
            0.67,
            109,
            1e6,
        );
        r.generator.runtime_lag_p90_us = Some(2_955);
        r.generator.runtime_lag_p99_us = Some(10_439);
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Invalid, "{why}");
        assert!(why.contains("runnable workers waited for CPU"), "{why}");
        // The same tail with clinicload nearly idle is the machine's neighbours, on time
        // for most tasks: not enough on its own.
        r.generator.cpu_s = 0.03 * 8.0;
        assert_ne!(judge(&r).0, StepHealth::Invalid, "{}", judge(&r).1);
    }

    #[test]
    fn a_step_below_the_cap_is_ok() {
        let r = view(256, 4, 100.0, 100.0, (0, 2, 0, 2), 0.02, 100, 20_000.0);
        let (h, why) = judge(&r);
        assert_eq!(h, StepHealth::Ok, "{why}");
        // A burst of a few arrivals beside an idle connection is not a generator behind.
        let r = view(256, 4, 100.0, 100.0, (3, 2, 0, 2), 0.02, 100, 20_000.0);
        assert_ne!(judge(&r).0, StepHealth::Invalid);
    }

    #[test]
    fn latency_slo_terms_become_chart_lines() {
        let lines = slo_latency_lines(&[
            "overall.p99 < 50ms".into(),
            "overall.error_rate < 0.1%".into(),
            "appointments_today.p99 < 20ms".into(),
        ]);
        assert_eq!(lines, [("SLO p99 < 50ms".to_string(), 50.0)]);
    }

    #[test]
    fn slo_shorthand_becomes_thresholds() {
        assert_eq!(
            slo_terms("p99<50ms, errors<0.1%"),
            ["overall.p99 < 50ms", "overall.error_rate < 0.1%"]
        );
        assert_eq!(
            slo_terms("appointments_today.p99 < 20ms"),
            ["appointments_today.p99 < 20ms"]
        );
    }
}
