//! Drives the load: the open model (arrivals at a rate, latency from each arrival's intended
//! start, so coordinated omission is corrected) or the closed model (N virtual users with
//! think time), with a warm-up that is executed but not recorded, a harvest every second
//! (interval histograms, the live line) and Ctrl-C ending the run early.
//!
//! Open model, as wrk2 does it: a scheduler thread computes the intended start of arrival i
//! from the rate (and ramp) and hands it to a queue at that moment; `max_in_flight` workers
//! take arrivals from the queue. If the server stalls, arrivals wait in the queue and their
//! latency, measured from the intended start, includes the wait, as a user's would. A start
//! more than [`LATE_AFTER`] after its intended time is counted as late. The scheduler
//! sleeps with the OS timer (about 0.1 ms resolution), not tokio's 1 ms wheel.
//!
//! Every arrival intended in the measured window ends in exactly one bucket of the recorder
//! ([`crate::metrics::Ending`]): ok, no-op, failed, timed out, unsupported, missed (queued or
//! never sent when the window ended) or abandoned (running, or still queued, when the grace
//! time after the end ran out). `intended` is computed from the rate and ramp over the
//! window ([`crate::scenario::schedule`]), not from what the scheduler managed to send.
//! SIGINT and SIGTERM end the window early (`interrupted`); the report is still written.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::metrics::{fmt_us, micros, new_histogram, Ending, Label, Recorder};
use crate::report::hlog::HlogWriter;
use crate::scenario::catalog::Catalog;
use crate::scenario::ops::{self, Stores};
use crate::scenario::schedule::{
    arrivals_of_op, first_arrival_at_or_after, intended_at, mix_cycle, window_by_clock,
    ArrivalClock, Arrivals,
};
use crate::scenario::spec::{Load, Scenario};

/// A start later than this after its intended time counts as a late start.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// An arrival still queued when a window ends early (a signal, `abort_on_fail`) and due at
/// most this long before the stop was being handed to a worker as the stop came: it runs,
/// rather than count as missed. Older queued arrivals are a backlog, and missed. Without it,
/// an `abort_on_fail` run at 20 ops/s now and then counted the one arrival due at the abort
/// as missed and exited 3 (operations failed) instead of 4 (threshold failed).
const STOP_EDGE: Duration = Duration::from_millis(10);

/// One second of the measured window, for the charts over time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IntervalPoint {
    /// Seconds from the start of the measured window to the end of this interval.
    pub t: f64,
    pub seconds: f64,
    /// Arrivals that ended in this interval: ok, no-op and errors.
    pub ops: u64,
    /// Failed, timed out, missed and abandoned arrivals that ended in this interval.
    pub errors: u64,
    /// Writes that changed nothing.
    pub noop: u64,
    /// Latency of the successful operations of the interval.
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
    /// Ended early by SIGINT (Ctrl-C) or SIGTERM.
    pub interrupted: bool,
    /// Ended early by `abort_on_fail`: the threshold that failed, as its report line.
    pub aborted_by_threshold: Option<String>,
    /// Open model: the configured rate; None for the closed model.
    pub target_rate: Option<f64>,
    /// Arrivals intended in the measured window. Open model: from the rate and ramp over the
    /// window; closed model: the iterations the virtual users started in it.
    pub intended: u64,
    /// Per op index: how many of `intended` were that operation's.
    pub intended_per_op: Vec<u64>,
    pub started: u64,
    pub late_starts: u64,
    /// Open model: delay between intended and actual start (microseconds).
    pub start_delay: Histogram<u64>,
    pub warmup_ops: u64,
    pub warmup_errors: u64,
    /// Per op index: the server's words when it said it cannot do the operation.
    pub unsupported: Vec<Option<String>>,
    /// How long the run waited after the end for operations still running.
    pub grace: Duration,
    pub intervals: Vec<IntervalPoint>,
    /// How the load generator itself kept up (`crate::report::GeneratorFacts`).
    pub generator: crate::report::GeneratorFacts,
}

/// CPU seconds (user + system) this process has used so far.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
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
    /// When SIGINT or SIGTERM stopped the run (set after `stop`).
    stop_at: OnceLock<Instant>,
    started: AtomicU64,
    late: AtomicU64,
    warmup_ops: AtomicU64,
    warmup_errors: AtomicU64,
    /// Per worker: the measured arrival it is running (op index, intended start), so that
    /// one still running when the workers are aborted is counted as abandoned.
    running: Vec<Mutex<Option<(usize, Instant)>>>,
    start_delay: Mutex<Histogram<u64>>,
    /// Calibration: (op index, extra time) added to each successful operation of that op.
    delay: Option<(usize, Duration)>,
    /// Workers running an arrival (measured or not) per store, in [`STORES`] order.
    in_op: [AtomicUsize; 3],
}

/// The stores in the order of `Shared::in_op`, with their names in reports.
const STORES: [(ops::Store, &str); 3] = [
    (ops::Store::Postgres, "postgres"),
    (ops::Store::Mongo, "mongo"),
    (ops::Store::Redis, "redis"),
];

/// Counts a worker in `in_op` while it runs an arrival, also when it is aborted.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn new(n: &'a AtomicUsize) -> Busy<'a> {
        n.fetch_add(1, Ordering::Relaxed);
        Busy(n)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How late a task woken by a timer runs on the workers' runtime, every 10 ms from `from`
/// to `to`: the time runnable workers wait for a CPU (or for the runtime's other tasks).
/// The scheduler's dispatch lag is its own thread's; this is the workers'. Ends when the
/// returned guard is dropped.
fn runtime_lag_probe(from: Instant, to: Instant) -> (AbortOnDrop, Arc<Mutex<Histogram<u64>>>) {
    let lag = Arc::new(Mutex::new(new_histogram()));
    let h = lag.clone();
    let task = tokio::spawn(async move {
        loop {
            let due = Instant::now() + Duration::from_millis(10);
            if due >= to {
                return;
            }
            tokio::time::sleep_until(due.into()).await;
            if due >= from {
                let _ = lock(&h).record(micros(Instant::now().saturating_duration_since(due)));
            }
        }
    });
    (AbortOnDrop(task), lag)
}

/// Where the workers are now, per store the scenario uses: running an operation, waiting
/// for a pooled connection, and the connections with nothing on them. PostgreSQL's are
/// counted by its free list; MongoDB's driver pool is not visible, so its busy workers
/// beyond the connections are the ones waiting; Redis connections are multiplexed.
fn stores_now(sh: &Shared) -> Vec<crate::report::StoreSample<'static>> {
    use crate::report::StoreSample;
    let c = &sh.scenario.connections;
    STORES
        .iter()
        .enumerate()
        .filter(|(_, (st, _))| sh.scenario.uses(*st))
        .map(|(i, (st, name))| {
            let busy = sh.in_op[i].load(Ordering::Relaxed);
            let (connections, pooled) = match st {
                ops::Store::Postgres => (c.postgres, true),
                ops::Store::Mongo => (c.mongo, true),
                ops::Store::Redis => (c.redis, false),
            };
            let n = connections as usize;
            let (waiting, idle) = match (st, &sh.stores.pg_conns) {
                (ops::Store::Postgres, Some(p)) => (p.waiting(), p.idle()),
                (ops::Store::Redis, _) => (0, n.saturating_sub(busy)),
                _ => (busy.saturating_sub(n), n.saturating_sub(busy)),
            };
            StoreSample {
                store: name,
                connections,
                pooled,
                busy,
                waiting,
                idle,
            }
        })
        .collect()
}

/// Samples the queue and the stores into `out`. Arrivals queued while connections sit idle
/// would mean clinicload fell behind, but a worker handing its connection to its next
/// arrival shows that for a few microseconds (longer when the OS preempts it): such a
/// sample is read again after 2 and 10 ms, and keeps the least of each reading.
async fn sample_workers(
    sh: &Shared,
    queue: Option<&flume::Receiver<(Instant, u64)>>,
    out: &mut crate::report::GeneratorFacts,
) {
    let queued = || queue.map_or(0, |q| q.len());
    let mut q = queued();
    let mut stores = stores_now(sh);
    for pause in [2, 8] {
        if q == 0 || stores.iter().all(|st| st.idle == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
        q = q.min(queued());
        for (st, again) in stores.iter_mut().zip(stores_now(sh)) {
            st.idle = st.idle.min(again.idle);
            // More busy workers is fewer free ones: the reading least like a lapse.
            st.busy = st.busy.max(again.busy);
            st.waiting = st.waiting.max(again.waiting);
        }
    }
    out.observe(q, &stores);
}

/// Holds the caller for `d`: spinning below 2 ms (the timer's granularity is 1 ms, too
/// coarse for the sub-millisecond delays a calibration injects), sleeping above.
async fn injected_delay(d: Duration) {
    if d >= Duration::from_millis(2) {
        tokio::time::sleep(d).await;
    } else {
        let until = Instant::now() + d;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
    let measured = intended >= sh.warmup_end;
    if sh.unsupported[op_index].get().is_some() {
        if measured {
            sh.recorder.record_unsupported(op_index);
        }
        return;
    }
    let spec = &sh.scenario.ops[op_index];
    let store = STORES.iter().position(|(st, _)| *st == spec.def.store);
    let _busy = store.map(|i| Busy::new(&sh.in_op[i]));
    if measured {
        *lock(&sh.running[worker]) = Some((op_index, intended));
    }
    let result = tokio::time::timeout(sh.scenario.timeout, async {
        let r = ops::execute(spec, &sh.stores, &sh.catalog, worker, rng).await;
        if let (Some((i, d)), Ok(_)) = (sh.delay, &r) {
            if i == op_index {
                injected_delay(d).await;
            }
        }
        r
    })
    .await;
    let done = Instant::now();
    let latency = micros(done.saturating_duration_since(intended));
    if !measured {
        sh.warmup_ops.fetch_add(1, Ordering::Relaxed);
    }
    match result {
        Ok(Ok(outcome)) => {
            if measured {
                let label = Label {
                    op: op_index,
                    sub: outcome.sub,
                };
                if outcome.noop {
                    sh.recorder.record_ending(label, Ending::Noop, latency);
                } else {
                    sh.recorder.record(label, latency, outcome.rows);
                }
            }
        }
        Ok(Err(e)) if e.unsupported => {
            let _ = sh.unsupported[op_index].set(e.message.clone());
            if measured {
                sh.recorder.record_unsupported(op_index);
            }
        }
        Ok(Err(e)) => {
            if measured {
                let msg = crate::config::redact(&e.message);
                sh.recorder.record_error(op_index, &e.kind, &msg, latency);
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
                    latency,
                );
            } else {
                sh.warmup_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // Recording and clearing happen with no await between them, so an abort cannot count
    // an arrival twice.
    *lock(&sh.running[worker]) = None;
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `timeout`, CI cancellation and service
/// managers send).
pub async fn interrupt_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => {
                        if r.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The seed of the parameter draws: a distributed worker's own stream.
fn param_seed(scenario: &Scenario) -> u64 {
    scenario
        .worker
        .map_or(scenario.seed, |p| p.param_seed(scenario.seed))
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
    mut hlog: Option<&mut HlogWriter>,
    quiet: bool,
    delay: Option<(usize, Duration)>,
) -> anyhow::Result<RunOutcome> {
    let weights: Vec<u32> = scenario.ops.iter().map(|o| o.weight).collect();
    let mix = mix_cycle(&weights);
    let n_ops = scenario.ops.len();
    let t0 = Instant::now();
    let warmup_end = t0 + scenario.warmup;
    let end = warmup_end + scenario.duration;
    let n_workers = match &scenario.load {
        Load::Open { max_in_flight, .. } => *max_in_flight,
        Load::Closed { users, .. } => *users,
    };
    let sh = Arc::new(Shared {
        delay,
        mix,
        unsupported: (0..n_ops).map(|_| OnceLock::new()).collect(),
        stop_at: OnceLock::new(),
        running: (0..n_workers).map(|_| Mutex::new(None)).collect(),
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
        warmup_ops: AtomicU64::new(0),
        warmup_errors: AtomicU64::new(0),
        start_delay: Mutex::new(new_histogram()),
        in_op: Default::default(),
    });
    let measured_from = SystemTime::now() + sh.scenario.warmup;

    let stop_notify = Arc::new(tokio::sync::Notify::new());
    let interrupted = Arc::new(AtomicBool::new(false));
    // The listener holds the run's stores: it ends with the run (a process that runs many,
    // a sweep or a gate, would otherwise keep every run's connections open).
    let _signal_listener = {
        let sh = sh.clone();
        let n = stop_notify.clone();
        let interrupted = interrupted.clone();
        AbortOnDrop(tokio::spawn(async move {
            interrupt_signal().await;
            interrupted.store(true, Ordering::SeqCst);
            // Set before `stop`: whoever sees `stop` sees when, and the scheduler sends only
            // arrivals intended before it.
            let _ = sh.stop_at.set(Instant::now());
            sh.stop.store(true, Ordering::SeqCst);
            n.notify_waiters();
        }))
    };

    let mut workers = Vec::new();
    let mut scheduler = None;
    // Open model: a receiver kept here, to count what is still queued if workers are aborted.
    let mut queue = None;
    let target_rate;
    match sh.scenario.load.clone() {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            max_in_flight,
            arrivals,
        } => {
            // A worker's target is its share.
            target_rate = Some(rate / sh.scenario.worker.map_or(1.0, |p| f64::from(p.count)));
            let mut clock = ArrivalClock::new(arrivals, rate, ramp_from, ramp, sh.scenario.seed);
            let (tx, rx) = flume::unbounded::<(Instant, u64)>();
            queue = Some(rx.clone());
            let shs = sh.clone();
            // Returns the index of the first arrival it did not send, and how late it sent
            // the measured ones (its own lag: the generator falling behind its schedule).
            scheduler = Some(std::thread::spawn(move || -> (u64, Histogram<u64>) {
                let mut lag = new_histogram();
                let part = shs.scenario.worker;
                loop {
                    let (i, offset) = clock.next().expect("the clock never ends");
                    let at = shs.t0 + offset;
                    if at >= shs.end || shs.stop.load(Ordering::SeqCst) {
                        return (i, lag);
                    }
                    // A worker sends its share of the one-process schedule.
                    if part.is_some_and(|p| !p.owns(i)) {
                        continue;
                    }
                    loop {
                        let now = Instant::now();
                        if now >= at || shs.stop.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep((at - now).min(Duration::from_millis(50)));
                    }
                    if at >= shs.warmup_end {
                        let _ = lag.record(micros(Instant::now().saturating_duration_since(at)));
                    }
                    // Due before an early stop: still the window's, sent.
                    let after_stop = shs.stop.load(Ordering::SeqCst)
                        && shs.stop_at.get().map_or(true, |s| at > *s);
                    if after_stop || tx.send((at, i)).is_err() {
                        return (i, lag);
                    }
                }
            }));
            for w in 0..max_in_flight {
                let sh = sh.clone();
                let rx = rx.clone();
                workers.push(tokio::spawn(async move {
                    let mut rng = worker_rng(param_seed(&sh.scenario), w);
                    while let Ok((intended, slot)) = rx.recv_async().await {
                        let now = Instant::now();
                        let measured = intended >= sh.warmup_end;
                        let at_the_edge = sh.stop_at.get().is_some_and(|s| {
                            intended <= *s && s.saturating_duration_since(intended) <= STOP_EDGE
                        });
                        if sh.stop.load(Ordering::SeqCst) && !at_the_edge {
                            // Still queued when the run stopped: never started.
                            if measured {
                                let op = sh.mix[(slot % sh.mix.len() as u64) as usize];
                                sh.recorder.record_ending(
                                    Label { op, sub: None },
                                    Ending::Missed,
                                    micros(now.saturating_duration_since(intended)),
                                );
                            }
                            continue;
                        }
                        if measured {
                            let delay = now.saturating_duration_since(intended);
                            sh.started.fetch_add(1, Ordering::Relaxed);
                            if delay > LATE_AFTER {
                                sh.late.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = lock(&sh.start_delay).record(micros(delay));
                        }
                        run_one(&sh, w, &mut rng, intended, slot).await;
                    }
                }));
            }
        }
        Load::Closed { users, think_time } => {
            target_rate = None;
            for w in 0..users {
                if sh.scenario.worker.is_some_and(|p| !p.owns(w as u64)) {
                    // Another worker's virtual user.
                    continue;
                }
                let sh = sh.clone();
                let n = stop_notify.clone();
                workers.push(tokio::spawn(async move {
                    let mut rng = worker_rng(param_seed(&sh.scenario), w);
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
    let mut aborted: Option<String> = None;
    let cpu_at_start = process_cpu_seconds();
    let runtime_lag = runtime_lag_probe(warmup_end, end);
    let wall_at_start = Instant::now();
    // Sampled at every measured tick: arrivals queued for a worker, operations in flight.
    let (mut max_queue, mut in_flight_sum, mut in_flight_max, mut samples) =
        (0usize, 0u64, 0usize, 0u64);
    // And where every worker was: what tells a full pool from a generator behind.
    let mut worker_facts = crate::report::GeneratorFacts {
        workers: n_workers,
        ..Default::default()
    };
    let op_names: Vec<&str> = sh.scenario.ops.iter().map(|o| o.name()).collect();
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
        // Where the workers are, before an abort below stops them (stopped workers drop
        // the arrivals still queued, free workers next to a queue).
        if now >= warmup_end && !sh.stop.load(Ordering::SeqCst) {
            sample_workers(&sh, queue.as_ref(), &mut worker_facts).await;
        }
        let mut stopping = sh.stop.load(Ordering::SeqCst) || now >= end;
        // abort_on_fail: once per tick after its grace, the thresholds that can be judged
        // on the run so far; a failure ends the window here, like a signal.
        if let Some(after) = sh.scenario.abort_on_fail {
            if !stopping && aborted.is_none() && now >= warmup_end + after {
                if let Some(line) = crate::thresholds::failing_live(
                    &sh.scenario.thresholds,
                    &recorder.totals(),
                    &op_names,
                ) {
                    let _ = sh.stop_at.set(Instant::now());
                    sh.stop.store(true, Ordering::SeqCst);
                    aborted = Some(line);
                    stopping = true;
                }
            }
        }
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
            if let Some(q) = &queue {
                max_queue = max_queue.max(q.len());
            }
            let busy = sh.running.iter().filter(|r| lock(r).is_some()).count();
            in_flight_sum += busy as u64;
            in_flight_max = in_flight_max.max(busy);
            samples += 1;
            let snap = recorder.harvest();
            // An interrupted window ends when the signal came, not at this tick.
            let end_t = sh
                .stop_at
                .get()
                .map_or(now, |at| now.min(*at))
                .min(end)
                .max(last_tick);
            let secs = (end_t - last_tick).as_secs_f64();
            let t = (end_t - warmup_end).as_secs_f64();
            if let Some(h) = hlog.as_mut() {
                let start = last_tick - warmup_end;
                let dur = end_t - last_tick;
                for (label, hist, _) in &snap.series {
                    h.write(&label_name(&sh.scenario, *label), hist, start, dur);
                }
                h.write("", &snap.overall, start, dur);
            }
            let point = IntervalPoint {
                t,
                seconds: secs,
                ops: snap.overall.len() + snap.errors + snap.noop,
                errors: snap.errors,
                noop: snap.noop,
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
    // The end of the measured window: the end, or when the signal came.
    let cut = last_tick.max(warmup_end);
    let cpu_s = process_cpu_seconds() - cpu_at_start;
    let wall_s = wall_at_start.elapsed().as_secs_f64();
    let (next_unsent, dispatch_lag) = match scheduler {
        Some(s) => match tokio::task::spawn_blocking(move || s.join())
            .await
            .ok()
            .and_then(|r| r.ok())
        {
            Some((i, lag)) => (Some(i), Some(lag)),
            None => (None, None),
        },
        None => (None, None),
    };
    let runtime_lag = lock(&runtime_lag.1).clone();
    let generator = crate::report::GeneratorFacts {
        workers: n_workers,
        runtime_lag_p90_us: (!runtime_lag.is_empty()).then(|| value_or_zero(&runtime_lag, 0.9)),
        runtime_lag_p99_us: (!runtime_lag.is_empty()).then(|| value_or_zero(&runtime_lag, 0.99)),
        dispatch_lag_p90_us: dispatch_lag.as_ref().map(|h| value_or_zero(h, 0.9)),
        dispatch_lag_p99_us: dispatch_lag.as_ref().map(|h| value_or_zero(h, 0.99)),
        dispatch_lag_max_us: dispatch_lag.as_ref().map(|h| h.max()),
        max_queue,
        mean_in_flight: if samples > 0 {
            in_flight_sum as f64 / samples as f64
        } else {
            0.0
        },
        max_in_flight: in_flight_max,
        cpu_s,
        wall_s,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..worker_facts
    };
    let interrupted = interrupted.load(Ordering::SeqCst);
    // Operations still running get the timeout (at most 10 s; 2 s after a signal, which
    // asks for a quick stop) to finish; then they, and arrivals still queued, are abandoned.
    let grace = sh
        .scenario
        .timeout
        .min(if interrupted || aborted.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(10)
        });
    // A set that drops each worker as it ends: a finished JoinHandle is never polled again
    // (joining `&mut` handles twice, once within the grace and once after aborting, panics
    // with "JoinHandle polled after completion" when some ended within the grace).
    let mut workers: futures::stream::FuturesUnordered<_> = workers.into_iter().collect();
    let joined =
        tokio::time::timeout(grace, async { while workers.next().await.is_some() {} }).await;
    if joined.is_err() {
        for w in workers.iter() {
            w.abort();
        }
        // Wait until every aborted worker has stopped, so nothing records after the count.
        while workers.next().await.is_some() {}
        let given_up = Instant::now();
        for slot in &sh.running {
            if let Some((op, intended)) = lock(slot).take() {
                recorder.record_ending(
                    Label { op, sub: None },
                    Ending::Abandoned,
                    micros(given_up.saturating_duration_since(intended)),
                );
            }
        }
        if let Some(q) = &queue {
            for (intended, slot) in q.drain() {
                if intended >= warmup_end {
                    let op = sh.mix[(slot % sh.mix.len() as u64) as usize];
                    recorder.record_ending(
                        Label { op, sub: None },
                        Ending::Abandoned,
                        micros(given_up.saturating_duration_since(intended)),
                    );
                }
            }
        }
    }
    // What was intended in the window, from the schedule alone.
    let (intended, intended_per_op) = match &sh.scenario.load {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            arrivals,
            ..
        } => {
            let clock = ArrivalClock::new(*arrivals, *rate, *ramp_from, *ramp, sh.scenario.seed);
            let (lo, hi) = match arrivals {
                Arrivals::Uniform => (
                    first_arrival_at_or_after(sh.scenario.warmup, *rate, *ramp_from, *ramp),
                    first_arrival_at_or_after(cut - t0, *rate, *ramp_from, *ramp),
                ),
                Arrivals::Poisson => window_by_clock(clock.clone(), sh.scenario.warmup, cut - t0),
            };
            let sent = next_unsent.unwrap_or(0);
            let hi = hi.max(sent).max(lo);
            // Intended in the window but never sent (the scheduler fell behind, or the
            // window ended while it slept): missed, given up at the end of the window.
            let unsent_from = sent.max(lo);
            let part = sh.scenario.worker;
            let mut times = clock.skip(unsent_from as usize);
            for i in unsent_from..hi {
                let op = sh.mix[(i % sh.mix.len() as u64) as usize];
                let offset = match arrivals {
                    Arrivals::Uniform => intended_at(i, *rate, *ramp_from, *ramp),
                    Arrivals::Poisson => times.next().map_or(Duration::ZERO, |t| t.1),
                };
                if part.is_some_and(|p| !p.owns(i)) {
                    continue;
                }
                let at = t0 + offset;
                recorder.record_ending(
                    Label { op, sub: None },
                    Ending::Missed,
                    micros(cut.saturating_duration_since(at)),
                );
            }
            match part {
                None => (
                    hi - lo,
                    (0..n_ops)
                        .map(|op| arrivals_of_op(&sh.mix, op, lo, hi))
                        .collect(),
                ),
                Some(p) => {
                    let mut per_op = vec![0u64; n_ops];
                    for i in (lo..hi).filter(|i| p.owns(*i)) {
                        per_op[sh.mix[(i % sh.mix.len() as u64) as usize]] += 1;
                    }
                    (per_op.iter().sum(), per_op)
                }
            }
        }
        Load::Closed { .. } => {
            // Closed model: intended = what the users started; per op, what ended there.
            let totals = recorder.totals();
            let per_op = (0..n_ops)
                .map(|op| {
                    totals
                        .series
                        .iter()
                        .filter(|s| s.label.op == op)
                        .map(|s| s.arrivals())
                        .sum()
                })
                .collect();
            (sh.started.load(Ordering::SeqCst), per_op)
        }
    };
    // Results that arrived after the last harvest (operations finishing after the end).
    let late_snap = recorder.harvest();
    if let Some(h) = hlog.as_mut() {
        if !late_snap.overall.is_empty() {
            let start = last_tick - warmup_end;
            let dur = Instant::now().saturating_duration_since(last_tick);
            for (label, hist, _) in &late_snap.series {
                h.write(&label_name(&sh.scenario, *label), hist, start, dur);
            }
            h.write("", &late_snap.overall, start, dur);
        }
    }
    let measured = cut.saturating_duration_since(warmup_end);
    let start_delay = lock(&sh.start_delay).clone();
    Ok(RunOutcome {
        measured_from,
        measured,
        interrupted,
        aborted_by_threshold: aborted,
        target_rate,
        intended,
        intended_per_op,
        started: sh.started.load(Ordering::SeqCst),
        late_starts: sh.late.load(Ordering::SeqCst),
        start_delay,
        warmup_ops: sh.warmup_ops.load(Ordering::SeqCst),
        warmup_errors: sh.warmup_errors.load(Ordering::SeqCst),
        unsupported: sh.unsupported.iter().map(|u| u.get().cloned()).collect(),
        grace,
        intervals,
        generator,
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
