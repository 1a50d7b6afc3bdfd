//! Drives the load: the open model (arrivals at a rate, latency from each arrival's intended
//! start, so coordinated omission is corrected) or the closed model (N virtual users with
//! think time), with a warm-up that is executed but not recorded, a harvest every second
//! (interval histograms, the live line) and Ctrl-C ending the run early.
//!
//! Open model, as wrk2 does it: a scheduler thread computes the intended start of arrival i
//! from the rate (and ramp) and hands it to a queue at that moment; `max_in_flight` workers
//! take arrivals from the queue. If the server stalls, arrivals wait in the queue and their
//! latency, measured from the intended start, includes the wait, as a user's would. A start
//! more than [`LATE_AFTER`] after its intended time is counted as late; arrivals still
//! queued when the run ends are reported as missed, never silently dropped. The scheduler
//! sleeps with the OS timer (about 0.1 ms resolution), not tokio's 1 ms wheel.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::metrics::{fmt_us, micros, new_histogram, Label, Recorder};
use crate::report::hlog::HlogWriter;
use crate::scenario::catalog::Catalog;
use crate::scenario::ops::{self, Stores};
use crate::scenario::schedule::{intended_offset, mix_cycle};
use crate::scenario::spec::{Load, Scenario};

/// A start later than this after its intended time counts as a late start.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// One second of the measured window, for the charts over time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IntervalPoint {
    /// Seconds from the start of the measured window to the end of this interval.
    pub t: f64,
    pub seconds: f64,
    pub ops: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// (label, count, p99) per operation label.
    pub per_op: Vec<(String, u64, u64)>,
}

/// How the run went, besides the histograms in the recorder.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Wall-clock time at which the measured window began.
    pub measured_from: SystemTime,
    pub measured: Duration,
    pub interrupted: bool,
    /// Open model: the configured rate and what was intended within the measured window.
    pub target_rate: Option<f64>,
    pub intended: u64,
    pub started: u64,
    pub late_starts: u64,
    pub missed: u64,
    /// Open model: delay between intended and actual start (microseconds).
    pub start_delay: Histogram<u64>,
    pub warmup_ops: u64,
    pub warmup_errors: u64,
    /// Operations still running when the run was stopped and abandoned after the grace time.
    pub abandoned: u64,
    /// Per op index: the server's words when it said it cannot do the operation.
    pub unsupported: Vec<Option<String>>,
    /// Per op index: how many times the op was drawn while unsupported (not executed).
    pub unsupported_draws: Vec<u64>,
    pub intervals: Vec<IntervalPoint>,
}

struct Shared {
    scenario: Scenario,
    stores: Stores,
    catalog: Catalog,
    recorder: Arc<Recorder>,
    stop: AtomicBool,
    t0: Instant,
    warmup_end: Instant,
    end: Instant,
    /// The operation mix as a cycle: arrival i runs `mix[i % mix.len()]`.
    mix: Vec<usize>,
    unsupported: Vec<OnceLock<String>>,
    unsupported_draws: Vec<AtomicU64>,
    started: AtomicU64,
    late: AtomicU64,
    missed: AtomicU64,
    warmup_ops: AtomicU64,
    warmup_errors: AtomicU64,
    in_flight: AtomicU64,
    start_delay: Mutex<Histogram<u64>>,
}

/// The label a result is reported under: "op" or "op:sub".
pub fn label_name(scenario: &Scenario, label: Label) -> String {
    let op = scenario.ops[label.op].name();
    match label.sub {
        Some(s) => format!("{op}:{s}"),
        None => op.to_string(),
    }
}

async fn run_one(sh: &Shared, worker: usize, rng: &mut SmallRng, intended: Instant, slot: u64) {
    let op_index = sh.mix[(slot % sh.mix.len() as u64) as usize];
    if sh.unsupported[op_index].get().is_some() {
        sh.unsupported_draws[op_index].fetch_add(1, Ordering::Relaxed);
        return;
    }
    let spec = &sh.scenario.ops[op_index];
    let measured = intended >= sh.warmup_end;
    sh.in_flight.fetch_add(1, Ordering::Relaxed);
    let result = tokio::time::timeout(
        sh.scenario.timeout,
        ops::execute(spec, &sh.stores, &sh.catalog, worker, rng),
    )
    .await;
    sh.in_flight.fetch_sub(1, Ordering::Relaxed);
    let done = Instant::now();
    if !measured {
        sh.warmup_ops.fetch_add(1, Ordering::Relaxed);
    }
    match result {
        Ok(Ok(outcome)) => {
            if measured {
                sh.recorder.record(
                    Label {
                        op: op_index,
                        sub: outcome.sub,
                    },
                    micros(done - intended),
                    outcome.rows,
                );
            }
        }
        Ok(Err(e)) if e.unsupported => {
            let _ = sh.unsupported[op_index].set(e.message.clone());
            sh.unsupported_draws[op_index].fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            if measured {
                let msg = crate::config::redact(&e.message);
                sh.recorder.record_error(op_index, &e.kind, &msg);
            } else {
                sh.warmup_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(_) => {
            if measured {
                sh.recorder.record_error(
                    op_index,
                    "timeout",
                    &format!("no answer within {:?}", sh.scenario.timeout),
                );
            } else {
                sh.warmup_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn worker_rng(seed: u64, worker: usize) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs the scenario to its end (or Ctrl-C). `hlog` receives every measured interval.
pub async fn run(
    scenario: Scenario,
    stores: Stores,
    catalog: Catalog,
    recorder: Arc<Recorder>,
    mut hlog: Option<HlogWriter>,
    quiet: bool,
) -> anyhow::Result<RunOutcome> {
    let weights: Vec<u32> = scenario.ops.iter().map(|o| o.weight).collect();
    let mix = mix_cycle(&weights);
    let n_ops = scenario.ops.len();
    let t0 = Instant::now();
    let warmup_end = t0 + scenario.warmup;
    let end = warmup_end + scenario.duration;
    let sh = Arc::new(Shared {
        mix,
        unsupported: (0..n_ops).map(|_| OnceLock::new()).collect(),
        unsupported_draws: (0..n_ops).map(|_| AtomicU64::new(0)).collect(),
        scenario,
        stores,
        catalog,
        recorder: recorder.clone(),
        stop: AtomicBool::new(false),
        t0,
        warmup_end,
        end,
        started: AtomicU64::new(0),
        late: AtomicU64::new(0),
        missed: AtomicU64::new(0),
        warmup_ops: AtomicU64::new(0),
        warmup_errors: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        start_delay: Mutex::new(new_histogram()),
    });
    let measured_from = SystemTime::now() + sh.scenario.warmup;

    let stop_notify = Arc::new(tokio::sync::Notify::new());
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let sh = sh.clone();
        let n = stop_notify.clone();
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                sh.stop.store(true, Ordering::SeqCst);
                n.notify_waiters();
            }
        });
    }

    let mut workers = Vec::new();
    let mut scheduler = None;
    let intended_total = Arc::new(AtomicU64::new(0));
    let target_rate;
    match sh.scenario.load.clone() {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            max_in_flight,
        } => {
            target_rate = Some(rate);
            let (tx, rx) = flume::unbounded::<(Instant, u64)>();
            let shs = sh.clone();
            let intended_total = intended_total.clone();
            scheduler = Some(std::thread::spawn(move || {
                let mut i: u64 = 0;
                loop {
                    let at =
                        shs.t0 + Duration::from_secs_f64(intended_offset(i, rate, ramp_from, ramp));
                    if at >= shs.end || shs.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    loop {
                        let now = Instant::now();
                        if now >= at || shs.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep((at - now).min(Duration::from_millis(50)));
                    }
                    if shs.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if at >= shs.warmup_end {
                        intended_total.fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.send((at, i)).is_err() {
                        break;
                    }
                    i += 1;
                }
            }));
            for w in 0..max_in_flight {
                let sh = sh.clone();
                let rx = rx.clone();
                workers.push(tokio::spawn(async move {
                    let mut rng = worker_rng(sh.scenario.seed, w);
                    while let Ok((intended, slot)) = rx.recv_async().await {
                        if sh.stop.load(Ordering::Relaxed) {
                            if intended >= sh.warmup_end {
                                sh.missed.fetch_add(1, Ordering::Relaxed);
                            }
                            continue;
                        }
                        let now = Instant::now();
                        if intended >= sh.warmup_end {
                            let delay = now.saturating_duration_since(intended);
                            sh.started.fetch_add(1, Ordering::Relaxed);
                            if delay > LATE_AFTER {
                                sh.late.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = sh
                                .start_delay
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .record(micros(delay));
                        }
                        run_one(&sh, w, &mut rng, intended, slot).await;
                    }
                }));
            }
        }
        Load::Closed { users, think_time } => {
            target_rate = None;
            for w in 0..users {
                let sh = sh.clone();
                let n = stop_notify.clone();
                workers.push(tokio::spawn(async move {
                    let mut rng = worker_rng(sh.scenario.seed, w);
                    // Users start at different points of the cycle.
                    let mut slot = (w * sh.mix.len() / users) as u64;
                    loop {
                        let start = Instant::now();
                        if start >= sh.end || sh.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if start >= sh.warmup_end {
                            sh.started.fetch_add(1, Ordering::Relaxed);
                        }
                        run_one(&sh, w, &mut rng, start, slot).await;
                        slot += 1;
                        if sh.unsupported.iter().all(|u| u.get().is_some()) {
                            break;
                        }
                        if !think_time.is_zero() {
                            tokio::select! {
                                _ = tokio::time::sleep(think_time) => {}
                                _ = n.notified() => break,
                            }
                        }
                    }
                }));
            }
        }
    }

    // Harvest every second: warm-up ticks from t0, measured ticks from the warm-up's end.
    let tty = std::io::stderr().is_terminal();
    let mut intervals: Vec<IntervalPoint> = Vec::new();
    let mut last_tick = warmup_end;
    let mut k: u32 = 1;
    loop {
        let now = Instant::now();
        let next = if now < warmup_end {
            (t0 + Duration::from_secs((now - t0).as_secs() + 1)).min(warmup_end)
        } else {
            (warmup_end + Duration::from_secs(k as u64)).min(end)
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop_notify.notified() => {}
        }
        let now = Instant::now();
        let stopping = sh.stop.load(Ordering::SeqCst) || now >= end;
        if now < warmup_end && !stopping {
            if !quiet {
                let line = format!(
                    "warm-up {:>4.0}s/{:.0}s  {} ops",
                    (now - t0).as_secs_f64(),
                    sh.scenario.warmup.as_secs_f64(),
                    sh.warmup_ops.load(Ordering::Relaxed)
                );
                live(tty, &line);
            }
            continue;
        }
        if now < warmup_end {
            break;
        }
        if next > warmup_end && next <= now || stopping {
            let snap = recorder.harvest();
            let end_t = now.min(end).max(last_tick);
            let secs = (end_t - last_tick).as_secs_f64();
            let t = (end_t - warmup_end).as_secs_f64();
            if let Some(h) = hlog.as_mut() {
                let start = last_tick - warmup_end;
                let dur = end_t - last_tick;
                for (label, hist, _) in &snap.series {
                    h.write(&label_name(&sh.scenario, *label), hist, start, dur)?;
                }
                h.write("", &snap.overall, start, dur)?;
            }
            let point = IntervalPoint {
                t,
                seconds: secs,
                ops: snap.overall.len() + snap.errors,
                errors: snap.errors,
                p50_us: value_or_zero(&snap.overall, 0.5),
                p99_us: value_or_zero(&snap.overall, 0.99),
                max_us: snap.overall.max(),
                per_op: snap
                    .series
                    .iter()
                    .map(|(l, h, _)| {
                        (
                            label_name(&sh.scenario, *l),
                            h.len(),
                            value_or_zero(h, 0.99),
                        )
                    })
                    .collect(),
            };
            if !quiet && secs > 0.0 {
                let total = sh.scenario.duration.as_secs_f64();
                let line = format!(
                    "{:>5.0}s/{:.0}s  {:>8.1} ops/s  p50 {:>9}  p99 {:>9}  errors {:<5} remaining {:.0}s",
                    t,
                    total,
                    point.ops as f64 / secs,
                    fmt_us(point.p50_us),
                    fmt_us(point.p99_us),
                    point.errors,
                    (total - t).max(0.0)
                );
                live(tty, &line);
            }
            if secs > 0.0 {
                intervals.push(point);
            }
            last_tick = end_t;
            k += 1;
        }
        if stopping {
            break;
        }
    }
    if tty && !quiet {
        eprintln!();
    }
    sh.stop.store(true, Ordering::SeqCst);
    stop_notify.notify_waiters();
    if let Some(s) = scheduler {
        let _ = tokio::task::spawn_blocking(move || s.join()).await;
    }
    let grace = sh.scenario.timeout.min(Duration::from_secs(10));
    let mut abandoned = 0;
    let joined = tokio::time::timeout(grace, futures::future::join_all(workers.iter_mut())).await;
    if joined.is_err() {
        abandoned = sh.in_flight.load(Ordering::SeqCst);
        for w in &workers {
            w.abort();
        }
    }
    // Results that arrived after the last harvest (operations finishing after the end).
    let late_snap = recorder.harvest();
    if let Some(h) = hlog.as_mut() {
        if !late_snap.overall.is_empty() {
            let start = last_tick - warmup_end;
            let dur = Instant::now().saturating_duration_since(last_tick);
            for (label, hist, _) in &late_snap.series {
                h.write(&label_name(&sh.scenario, *label), hist, start, dur)?;
            }
            h.write("", &late_snap.overall, start, dur)?;
        }
        h.flush()?;
    }
    let measured = last_tick.saturating_duration_since(warmup_end);
    let start_delay = sh
        .start_delay
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(RunOutcome {
        measured_from,
        measured,
        interrupted: interrupted.load(Ordering::SeqCst),
        target_rate,
        intended: intended_total.load(Ordering::SeqCst),
        started: sh.started.load(Ordering::SeqCst),
        late_starts: sh.late.load(Ordering::SeqCst),
        missed: sh.missed.load(Ordering::SeqCst),
        start_delay,
        warmup_ops: sh.warmup_ops.load(Ordering::SeqCst),
        warmup_errors: sh.warmup_errors.load(Ordering::SeqCst),
        abandoned,
        unsupported: sh.unsupported.iter().map(|u| u.get().cloned()).collect(),
        unsupported_draws: sh
            .unsupported_draws
            .iter()
            .map(|u| u.load(Ordering::SeqCst))
            .collect(),
        intervals,
    })
}

fn value_or_zero(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

fn live(tty: bool, line: &str) {
    let mut err = std::io::stderr().lock();
    if tty {
        let _ = write!(err, "\r\x1b[2K{line}");
    } else {
        let _ = writeln!(err, "{line}");
    }
    let _ = err.flush();
}
