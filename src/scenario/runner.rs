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

pub use crate::report::IntervalPoint;

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
    /// How the warm-up went (its length; auto: whether it reached its criterion).
    pub warmup: crate::report::WarmupFacts,
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
    /// The wall-clock time at `t0`.
    sys_t0: SystemTime,
    /// The end of the warm-up, in nanoseconds from `t0`: fixed at the start, or for an auto
    /// warm-up [`UNDECIDED`] until it is stable ([`Shared::end_warmup_at`]). Read through
    /// [`Shared::warmup_end`]; the measured window ends `duration` after it.
    warmup_end_ns: AtomicU64,
    /// Auto warm-up, open model: the harvest found it stable; the scheduler ends it at its
    /// next arrival, so that every arrival is on one side of the boundary it was sent with.
    warm_now: AtomicBool,
    /// Auto warm-up, open model: the index of the first measured arrival ([`UNDECIDED`]
    /// until the scheduler sets it).
    first_measured: AtomicU64,
    /// Auto warm-up: the successful warm-up operations of the current second, per op index,
    /// and overall (what the criterion judges). None with a fixed warm-up.
    warm_second: Option<Mutex<WarmHistograms>>,
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

/// An auto warm-up's current second: per op index, and overall.
type WarmHistograms = (Vec<Histogram<u64>>, Histogram<u64>);

/// A warm-up end not decided yet (auto warm-up), and an unset arrival index.
const UNDECIDED: u64 = u64::MAX;
/// Where an undecided warm-up end is taken to be: beyond any run (at most 7 days).
const FAR: Duration = Duration::from_secs(30 * 24 * 3600);

impl Shared {
    /// The end of the warm-up (the start of the measured window); far in the future while an
    /// auto warm-up is not over.
    fn warmup_end(&self) -> Instant {
        match self.warmup_end_ns.load(Ordering::SeqCst) {
            UNDECIDED => self.t0 + FAR,
            ns => self.t0 + Duration::from_nanos(ns),
        }
    }

    /// The end of the measured window.
    fn end(&self) -> Instant {
        self.warmup_end() + self.scenario.duration
    }

    fn warmup_decided(&self) -> bool {
        self.warmup_end_ns.load(Ordering::SeqCst) != UNDECIDED
    }

    /// Ends an auto warm-up at `at` (the scheduler: at the intended start of arrival
    /// `first`), unless it has ended already; zeroes the cache's counters then, so they
    /// cover the measured window as the histograms do. True if this call ended it.
    fn end_warmup_at(&self, at: Instant, first: Option<u64>) -> bool {
        let ns = (at.saturating_duration_since(self.t0).as_nanos() as u64).min(UNDECIDED - 1);
        let ended = self
            .warmup_end_ns
            .compare_exchange(UNDECIDED, ns, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if ended {
            if let Some(i) = first {
                self.first_measured.store(i, Ordering::SeqCst);
            }
            if let Some(rt) = &self.stores.cache {
                rt.cache.counters().reset();
            }
        }
        ended
    }

    /// The measured window's start as an offset from `t0`.
    fn warmup_offset(&self) -> Duration {
        if self.scenario.warmup_auto {
            self.warmup_end().saturating_duration_since(self.t0)
        } else {
            self.scenario.warmup
        }
    }

    /// Auto warm-up: counts a successful warm-up operation of `op` in the current second.
    fn record_warm(&self, op: usize, latency_us: u64) {
        if let Some(w) = &self.warm_second {
            let mut w = lock(w);
            if let Some(h) = w.0.get_mut(op) {
                let _ = h.record(latency_us);
            }
            let _ = w.1.record(latency_us);
        }
    }
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

/// Runs arrival `slot`, intended at `intended`; `measured` when it is in the measured window
/// (decided by the caller, once, against the warm-up's end it saw).
async fn run_one(
    sh: &Shared,
    worker: usize,
    rng: &mut SmallRng,
    (intended, slot): (Instant, u64),
    measured: bool,
) {
    let op_index = sh.mix[(slot % sh.mix.len() as u64) as usize];
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
            if !measured && !outcome.noop {
                sh.record_warm(op_index, latency);
            }
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
    let sh = Arc::new(shared_state(scenario, stores, catalog, recorder, delay));
    let n_workers = sh.running.len();
    let fixed_measured_from = SystemTime::now() + sh.scenario.warmup;

    let stop_notify = Arc::new(tokio::sync::Notify::new());
    let interrupted = Arc::new(AtomicBool::new(false));
    // The listener holds the run's stores: it ends with the run (a process that runs many,
    // a sweep or a gate, would otherwise keep every run's connections open).
    let _signal_listener = stop_on_signal(&sh, &stop_notify, &interrupted);
    let load = start_load(&sh, &stop_notify);
    let ticks = harvest_until_stop(
        &sh,
        &stop_notify,
        load.queue.as_ref(),
        hlog.as_deref_mut(),
        quiet,
    )
    .await;
    sh.stop.store(true, Ordering::SeqCst);
    stop_notify.notify_waiters();
    // The end of the measured window: the end, or when the signal came.
    let cut = ticks.last_tick.max(sh.warmup_end());
    let measured_from = if sh.scenario.warmup_auto {
        sh.sys_t0 + sh.warmup_offset()
    } else {
        fixed_measured_from
    };
    let cpu_s = process_cpu_seconds() - ticks.cpu_at_start;
    let wall_s = ticks.wall_at_start.elapsed().as_secs_f64();
    let (next_unsent, dispatch_lag) = join_scheduler(load.scheduler).await;
    let generator = generator_facts(n_workers, dispatch_lag.as_ref(), &ticks, cpu_s, wall_s);
    let interrupted = interrupted.load(Ordering::SeqCst);
    let grace = grace_period(&sh.scenario, interrupted || ticks.aborted.is_some());
    finish_workers(&sh, load.workers, load.queue.as_ref(), grace).await;
    let (intended, intended_per_op) = intended_in_window(&sh, cut, next_unsent);
    write_late_results(&sh, hlog, ticks.last_tick);
    let measured = cut.saturating_duration_since(sh.warmup_end());
    let start_delay = lock(&sh.start_delay).clone();
    Ok(RunOutcome {
        measured_from,
        measured,
        interrupted,
        aborted_by_threshold: ticks.aborted,
        target_rate: load.target_rate,
        intended,
        intended_per_op,
        started: sh.started.load(Ordering::SeqCst),
        late_starts: sh.late.load(Ordering::SeqCst),
        start_delay,
        warmup_ops: sh.warmup_ops.load(Ordering::SeqCst),
        warmup_errors: sh.warmup_errors.load(Ordering::SeqCst),
        unsupported: sh.unsupported.iter().map(|u| u.get().cloned()).collect(),
        grace,
        intervals: ticks.intervals,
        generator,
        warmup: ticks.warmup,
    })
}

/// The run's shared state, its clock starting now: the warm-up, then the measured window.
fn shared_state(
    scenario: Scenario,
    stores: Stores,
    catalog: Catalog,
    recorder: Arc<Recorder>,
    delay: Option<(usize, Duration)>,
) -> Shared {
    let weights: Vec<u32> = scenario.ops.iter().map(|o| o.weight).collect();
    let mix = mix_cycle(&weights);
    let n_ops = scenario.ops.len();
    let t0 = Instant::now();
    let sys_t0 = SystemTime::now();
    let warmup_end_ns = if scenario.warmup_auto {
        UNDECIDED
    } else {
        scenario.warmup.as_nanos() as u64
    };
    let warm_second = scenario.warmup_auto.then(|| {
        Mutex::new((
            (0..n_ops).map(|_| new_histogram()).collect(),
            new_histogram(),
        ))
    });
    let n_workers = match &scenario.load {
        Load::Open { max_in_flight, .. } => *max_in_flight,
        Load::Closed { users, .. } => *users,
    };
    Shared {
        delay,
        mix,
        unsupported: (0..n_ops).map(|_| OnceLock::new()).collect(),
        stop_at: OnceLock::new(),
        running: (0..n_workers).map(|_| Mutex::new(None)).collect(),
        scenario,
        stores,
        catalog,
        recorder,
        stop: AtomicBool::new(false),
        t0,
        sys_t0,
        warmup_end_ns: AtomicU64::new(warmup_end_ns),
        warm_now: AtomicBool::new(false),
        first_measured: AtomicU64::new(UNDECIDED),
        warm_second,
        started: AtomicU64::new(0),
        late: AtomicU64::new(0),
        warmup_ops: AtomicU64::new(0),
        warmup_errors: AtomicU64::new(0),
        start_delay: Mutex::new(new_histogram()),
        in_op: Default::default(),
    }
}

/// Listens for SIGINT and SIGTERM, which interrupt the run, until the guard is dropped.
fn stop_on_signal(
    sh: &Arc<Shared>,
    stop_notify: &Arc<tokio::sync::Notify>,
    interrupted: &Arc<AtomicBool>,
) -> AbortOnDrop {
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
}

/// The load, once started: its workers and, for the open model, scheduler and queue.
struct StartedLoad {
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Open model: returns the index of the first arrival it did not send, and how late it
    /// sent the measured ones.
    scheduler: Option<std::thread::JoinHandle<(u64, Histogram<u64>)>>,
    /// Open model: a receiver kept here, to count what is still queued if workers are aborted.
    queue: Option<flume::Receiver<(Instant, u64)>>,
    /// Open model: the configured rate (a distributed worker's share); None when closed.
    target_rate: Option<f64>,
}

/// Starts the load: the scheduler and workers (open model) or the virtual users (closed).
fn start_load(sh: &Arc<Shared>, stop_notify: &Arc<tokio::sync::Notify>) -> StartedLoad {
    match sh.scenario.load.clone() {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            max_in_flight,
            arrivals,
        } => {
            // A worker's target is its share.
            let target_rate = Some(rate / sh.scenario.worker.map_or(1.0, |p| f64::from(p.count)));
            let clock = ArrivalClock::new(arrivals, rate, ramp_from, ramp, sh.scenario.seed);
            let (tx, rx) = flume::unbounded::<(Instant, u64)>();
            let queue = Some(rx.clone());
            let scheduler = Some(spawn_scheduler(sh.clone(), clock, tx));
            let workers = (0..max_in_flight)
                .map(|w| tokio::spawn(open_worker(sh.clone(), w, rx.clone())))
                .collect();
            StartedLoad {
                workers,
                scheduler,
                queue,
                target_rate,
            }
        }
        Load::Closed { users, think_time } => {
            let mut workers = Vec::new();
            for w in 0..users {
                if sh.scenario.worker.is_some_and(|p| !p.owns(w as u64)) {
                    // Another worker's virtual user.
                    continue;
                }
                let user = closed_user(sh.clone(), stop_notify.clone(), w, users, think_time);
                workers.push(tokio::spawn(user));
            }
            StartedLoad {
                workers,
                scheduler: None,
                queue: None,
                target_rate: None,
            }
        }
    }
}

/// Starts the open model's scheduler thread, which queues each arrival at its intended start.
fn spawn_scheduler(
    shs: Arc<Shared>,
    mut clock: ArrivalClock,
    tx: flume::Sender<(Instant, u64)>,
) -> std::thread::JoinHandle<(u64, Histogram<u64>)> {
    // Returns the index of the first arrival it did not send, and how late it sent the
    // measured ones (its own lag: the generator falling behind its schedule).
    std::thread::spawn(move || -> (u64, Histogram<u64>) {
        let mut lag = new_histogram();
        let part = shs.scenario.worker;
        loop {
            let (i, offset) = clock.next().expect("the clock never ends");
            let at = shs.t0 + offset;
            if at >= shs.end() || shs.stop.load(Ordering::SeqCst) {
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
            // An auto warm-up found stable ends at this arrival, before it is sent: whoever
            // receives an arrival sees the boundary it was sent with.
            if shs.warm_now.load(Ordering::SeqCst) && !shs.stop.load(Ordering::SeqCst) {
                shs.end_warmup_at(at, Some(i));
            }
            if at >= shs.warmup_end() {
                let _ = lag.record(micros(Instant::now().saturating_duration_since(at)));
            }
            // Due before an early stop: still the window's, sent.
            let after_stop =
                shs.stop.load(Ordering::SeqCst) && shs.stop_at.get().map_or(true, |s| at > *s);
            if after_stop || tx.send((at, i)).is_err() {
                return (i, lag);
            }
        }
    })
}

/// An open-model worker: runs queued arrivals; one still queued after the stop is missed.
async fn open_worker(sh: Arc<Shared>, w: usize, rx: flume::Receiver<(Instant, u64)>) {
    let mut rng = worker_rng(param_seed(&sh.scenario), w);
    while let Ok((intended, slot)) = rx.recv_async().await {
        let now = Instant::now();
        let measured = intended >= sh.warmup_end();
        let at_the_edge = sh
            .stop_at
            .get()
            .is_some_and(|s| intended <= *s && s.saturating_duration_since(intended) <= STOP_EDGE);
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
        run_one(&sh, w, &mut rng, (intended, slot), measured).await;
    }
}

/// A closed-model virtual user: runs an operation, thinks, repeats until the run stops.
async fn closed_user(
    sh: Arc<Shared>,
    n: Arc<tokio::sync::Notify>,
    w: usize,
    users: usize,
    think_time: Duration,
) {
    let mut rng = worker_rng(param_seed(&sh.scenario), w);
    // Users start at different points of the cycle.
    let mut slot = (w * sh.mix.len() / users) as u64;
    loop {
        let start = Instant::now();
        let warmup_end = sh.warmup_end();
        if start >= warmup_end + sh.scenario.duration || sh.stop.load(Ordering::Relaxed) {
            break;
        }
        let measured = start >= warmup_end;
        if measured {
            sh.started.fetch_add(1, Ordering::Relaxed);
        }
        run_one(&sh, w, &mut rng, (start, slot), measured).await;
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
}

/// The harvest loop's state: the measured intervals so far, and the generator's samples.
struct Ticks {
    tty: bool,
    intervals: Vec<IntervalPoint>,
    /// The end of the last harvested interval (the warm-up's end before the first).
    last_tick: Instant,
    /// The next measured tick, in seconds from the warm-up's end.
    k: u32,
    /// The threshold line that ended the run (`abort_on_fail`).
    aborted: Option<String>,
    cpu_at_start: f64,
    wall_at_start: Instant,
    // Sampled at every measured tick: arrivals queued for a worker, operations in flight.
    max_queue: usize,
    in_flight_sum: u64,
    in_flight_max: usize,
    samples: u64,
    /// How late the runtime runs a timer-woken task (its guard ends the probe on drop).
    runtime_lag: (AbortOnDrop, Arc<Mutex<Histogram<u64>>>),
    /// And where every worker was: what tells a full pool from a generator behind.
    worker_facts: crate::report::GeneratorFacts,
    /// How the warm-up went.
    warmup: crate::report::WarmupFacts,
}

/// Harvests every second until the run stops: warm-up ticks, then one per measured second.
async fn harvest_until_stop(
    sh: &Shared,
    stop_notify: &tokio::sync::Notify,
    queue: Option<&flume::Receiver<(Instant, u64)>>,
    mut hlog: Option<&mut HlogWriter>,
    quiet: bool,
) -> Ticks {
    let tty = std::io::stderr().is_terminal();
    let cpu_at_start = process_cpu_seconds();
    let wall_at_start = Instant::now();
    let warmup = if sh.scenario.warmup_auto {
        let facts = auto_warmup(sh, stop_notify, quiet, tty).await;
        // The log's StartTime is the measured window's start, known only now.
        if let Some(h) = hlog.as_deref_mut() {
            h.set_start(sh.sys_t0 + sh.warmup_offset());
        }
        facts
    } else {
        crate::report::WarmupFacts::fixed(sh.scenario.warmup)
    };
    let mut ticks = Ticks {
        tty,
        intervals: Vec::new(),
        last_tick: sh.warmup_end(),
        k: 1,
        aborted: None,
        cpu_at_start,
        wall_at_start,
        warmup,
        max_queue: 0,
        in_flight_sum: 0,
        in_flight_max: 0,
        samples: 0,
        runtime_lag: runtime_lag_probe(sh.warmup_end(), sh.end()),
        worker_facts: crate::report::GeneratorFacts {
            workers: sh.running.len(),
            ..Default::default()
        },
    };
    let op_names: Vec<&str> = sh.scenario.ops.iter().map(|o| o.name()).collect();
    loop {
        let now = Instant::now();
        let next = if now < sh.warmup_end() {
            (sh.t0 + Duration::from_secs((now - sh.t0).as_secs() + 1)).min(sh.warmup_end())
        } else {
            (sh.warmup_end() + Duration::from_secs(ticks.k as u64)).min(sh.end())
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop_notify.notified() => {}
        }
        let now = Instant::now();
        // Where the workers are, before an abort below stops them (stopped workers drop
        // the arrivals still queued, free workers next to a queue).
        if now >= sh.warmup_end() && !sh.stop.load(Ordering::SeqCst) {
            sample_workers(sh, queue, &mut ticks.worker_facts).await;
        }
        let mut stopping = sh.stop.load(Ordering::SeqCst) || now >= sh.end();
        if !stopping && ticks.aborted.is_none() {
            ticks.aborted = abort_if_threshold_fails(sh, now, &op_names);
            stopping = ticks.aborted.is_some();
        }
        if now < sh.warmup_end() && !stopping {
            if !quiet {
                let line = format!(
                    "warm-up {:>4.0}s/{:.0}s  {} ops",
                    (now - sh.t0).as_secs_f64(),
                    sh.scenario.warmup.as_secs_f64(),
                    sh.warmup_ops.load(Ordering::Relaxed)
                );
                live(ticks.tty, &line);
            }
            continue;
        }
        if now < sh.warmup_end() {
            break;
        }
        if next > sh.warmup_end() && next <= now || stopping {
            ticks.sample_generator(sh, queue);
            ticks.close_interval(sh, now, hlog.as_deref_mut(), quiet);
        }
        if stopping {
            break;
        }
    }
    if ticks.tty && !quiet {
        eprintln!();
    }
    ticks
}

/// `warmup = "auto"`: warms up, judging every second whether each operation's per-second p50
/// is stable (`crate::scenario::steady`), until it is, the cap (`scenario.warmup`) or a stop;
/// then ends the warm-up (the closed model now, the open model at the scheduler's next
/// arrival) and says how it went.
async fn auto_warmup(
    sh: &Shared,
    stop_notify: &tokio::sync::Notify,
    quiet: bool,
    tty: bool,
) -> crate::report::WarmupFacts {
    use super::steady::{warm_criterion, warm_verdict, WarmSecond};
    let cap = sh.t0 + sh.scenario.warmup;
    let mut seconds: Vec<WarmSecond> = Vec::new();
    let mut verdict = Default::default();
    let mut k = 1u64;
    let (mut reached, mut hit_cap) = (false, false);
    while !sh.stop.load(Ordering::SeqCst) {
        let next = (sh.t0 + Duration::from_secs(k)).min(cap);
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop_notify.notified() => {}
        }
        if sh.stop.load(Ordering::SeqCst) || Instant::now() < next {
            continue;
        }
        seconds.push(take_warm_second(sh));
        verdict = warm_verdict(&seconds);
        reached = verdict.stable;
        hit_cap = !reached && next >= cap;
        if !quiet {
            let waiting = match (&verdict.unstable, verdict.judged.is_empty()) {
                (_, true) => "too few operations a second to judge".to_string(),
                (u, false) if !u.is_empty() => format!("changing: {}", u.join(", ")),
                _ => "stable".to_string(),
            };
            let line = format!(
                "warm-up (auto) {:>4.0}s, at most {:.0}s  {} ops  {waiting}",
                (next - sh.t0).as_secs_f64(),
                sh.scenario.warmup.as_secs_f64(),
                sh.warmup_ops.load(Ordering::Relaxed)
            );
            live(tty, &line);
        }
        if reached || hit_cap {
            break;
        }
        k += 1;
    }
    end_auto_warmup(sh, stop_notify).await;
    let verdict: super::steady::WarmVerdict = verdict;
    crate::report::WarmupFacts {
        auto: true,
        seconds: sh.warmup_offset().as_secs_f64(),
        max_s: Some(sh.scenario.warmup.as_secs_f64()),
        reached: Some(reached),
        hit_cap: Some(hit_cap),
        criterion: Some(warm_criterion()),
        judged: verdict.judged,
        not_judged: verdict.not_judged,
        unstable: verdict.unstable,
    }
}

/// The warm-up's second just ended, taken from the recording workers.
fn take_warm_second(sh: &Shared) -> super::steady::WarmSecond {
    let Some(w) = &sh.warm_second else {
        return Default::default();
    };
    let (per_op, overall) = {
        let mut w = lock(w);
        let fresh = (
            (0..w.0.len()).map(|_| new_histogram()).collect(),
            new_histogram(),
        );
        std::mem::replace(&mut *w, fresh)
    };
    super::steady::WarmSecond {
        per_op: per_op
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(i, h)| {
                let name = sh.scenario.ops[i].name().to_string();
                (name, h.len(), value_or_zero(h, 0.5))
            })
            .collect(),
        overall: (overall.len(), value_or_zero(&overall, 0.5)),
    }
}

/// Ends an auto warm-up: the closed model at once; the open model at the scheduler's next
/// arrival (waited for), or now if the run stops first.
async fn end_auto_warmup(sh: &Shared, stop_notify: &tokio::sync::Notify) {
    if matches!(sh.scenario.load, Load::Open { .. }) {
        sh.warm_now.store(true, Ordering::SeqCst);
        while !sh.warmup_decided() && !sh.stop.load(Ordering::SeqCst) {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                _ = stop_notify.notified() => {}
            }
        }
    }
    sh.end_warmup_at(Instant::now(), None);
}

/// `abort_on_fail`: after its grace, stops the run on the first threshold failing so far.
fn abort_if_threshold_fails(sh: &Shared, now: Instant, op_names: &[&str]) -> Option<String> {
    let after = sh.scenario.abort_on_fail?;
    if now < sh.warmup_end() + after {
        return None;
    }
    let line =
        crate::thresholds::failing_live(&sh.scenario.thresholds, &sh.recorder.totals(), op_names)?;
    let _ = sh.stop_at.set(Instant::now());
    sh.stop.store(true, Ordering::SeqCst);
    Some(line)
}

impl Ticks {
    /// Samples the arrivals queued for a worker and the operations in flight.
    fn sample_generator(&mut self, sh: &Shared, queue: Option<&flume::Receiver<(Instant, u64)>>) {
        if let Some(q) = queue {
            self.max_queue = self.max_queue.max(q.len());
        }
        let busy = sh.running.iter().filter(|r| lock(r).is_some()).count();
        self.in_flight_sum += busy as u64;
        self.in_flight_max = self.in_flight_max.max(busy);
        self.samples += 1;
    }

    /// Ends the interval at `now` (or the stop) into the hlog, the charts and the live line.
    fn close_interval(
        &mut self,
        sh: &Shared,
        now: Instant,
        hlog: Option<&mut HlogWriter>,
        quiet: bool,
    ) {
        let snap = sh.recorder.harvest();
        // An interrupted window ends when the signal came, not at this tick.
        let end_t = sh
            .stop_at
            .get()
            .map_or(now, |at| now.min(*at))
            .min(sh.end())
            .max(self.last_tick);
        let secs = (end_t - self.last_tick).as_secs_f64();
        let t = (end_t - sh.warmup_end()).as_secs_f64();
        if let Some(h) = hlog {
            let start = self.last_tick - sh.warmup_end();
            write_hlog(h, sh, &snap, start, end_t - self.last_tick);
        }
        let point = interval_point(sh, &snap, t, secs);
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
            live(self.tty, &line);
        }
        if secs > 0.0 {
            self.intervals.push(point);
        }
        self.last_tick = end_t;
        self.k += 1;
    }
}

/// Writes a harvest's histograms to the hlog: each label's, then the overall one.
fn write_hlog(
    h: &mut HlogWriter,
    sh: &Shared,
    snap: &crate::metrics::IntervalSnapshot,
    start: Duration,
    dur: Duration,
) {
    for (label, hist, _) in &snap.series {
        h.write(&label_name(&sh.scenario, *label), hist, start, dur);
    }
    h.write("", &snap.overall, start, dur);
}

/// The chart point of a harvested interval ending `t` seconds into the window.
fn interval_point(
    sh: &Shared,
    snap: &crate::metrics::IntervalSnapshot,
    t: f64,
    secs: f64,
) -> IntervalPoint {
    IntervalPoint {
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
        per_op_p50: snap
            .series
            .iter()
            .map(|(l, h, _)| (label_name(&sh.scenario, *l), value_or_zero(h, 0.5)))
            .collect(),
    }
}

/// Waits for the scheduler thread: the first arrival it did not send, and its lag.
async fn join_scheduler(
    scheduler: Option<std::thread::JoinHandle<(u64, Histogram<u64>)>>,
) -> (Option<u64>, Option<Histogram<u64>>) {
    match scheduler {
        Some(s) => match tokio::task::spawn_blocking(move || s.join())
            .await
            .ok()
            .and_then(|r| r.ok())
        {
            Some((i, lag)) => (Some(i), Some(lag)),
            None => (None, None),
        },
        None => (None, None),
    }
}

/// How the load generator itself kept up.
fn generator_facts(
    n_workers: usize,
    dispatch_lag: Option<&Histogram<u64>>,
    ticks: &Ticks,
    cpu_s: f64,
    wall_s: f64,
) -> crate::report::GeneratorFacts {
    let runtime_lag = lock(&ticks.runtime_lag.1).clone();
    crate::report::GeneratorFacts {
        workers: n_workers,
        runtime_lag_p90_us: (!runtime_lag.is_empty()).then(|| value_or_zero(&runtime_lag, 0.9)),
        runtime_lag_p99_us: (!runtime_lag.is_empty()).then(|| value_or_zero(&runtime_lag, 0.99)),
        dispatch_lag_p90_us: dispatch_lag.map(|h| value_or_zero(h, 0.9)),
        dispatch_lag_p99_us: dispatch_lag.map(|h| value_or_zero(h, 0.99)),
        dispatch_lag_max_us: dispatch_lag.map(|h| h.max()),
        max_queue: ticks.max_queue,
        mean_in_flight: if ticks.samples > 0 {
            ticks.in_flight_sum as f64 / ticks.samples as f64
        } else {
            0.0
        },
        max_in_flight: ticks.in_flight_max,
        cpu_s,
        wall_s,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..ticks.worker_facts.clone()
    }
}

/// How long running operations may take to finish: the timeout, at most 10 s (2 s early).
fn grace_period(scenario: &Scenario, stopped_early: bool) -> Duration {
    scenario.timeout.min(if stopped_early {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    })
}

/// Gives the workers `grace` to end, then aborts them and counts what was left as abandoned.
async fn finish_workers(
    sh: &Shared,
    workers: Vec<tokio::task::JoinHandle<()>>,
    queue: Option<&flume::Receiver<(Instant, u64)>>,
    grace: Duration,
) {
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
                sh.recorder.record_ending(
                    Label { op, sub: None },
                    Ending::Abandoned,
                    micros(given_up.saturating_duration_since(intended)),
                );
            }
        }
        if let Some(q) = queue {
            for (intended, slot) in q.drain() {
                if intended >= sh.warmup_end() {
                    let op = sh.mix[(slot % sh.mix.len() as u64) as usize];
                    sh.recorder.record_ending(
                        Label { op, sub: None },
                        Ending::Abandoned,
                        micros(given_up.saturating_duration_since(intended)),
                    );
                }
            }
        }
    }
}

/// The arrivals intended in the window ending at `cut`, in all and per operation.
fn intended_in_window(sh: &Shared, cut: Instant, next_unsent: Option<u64>) -> (u64, Vec<u64>) {
    let n_ops = sh.scenario.ops.len();
    match &sh.scenario.load {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            arrivals,
            ..
        } => {
            let clock = ArrivalClock::new(*arrivals, *rate, *ramp_from, *ramp, sh.scenario.seed);
            let from = sh.warmup_offset();
            let (lo, hi) = match arrivals {
                Arrivals::Uniform => (
                    first_arrival_at_or_after(from, *rate, *ramp_from, *ramp),
                    first_arrival_at_or_after(cut - sh.t0, *rate, *ramp_from, *ramp),
                ),
                Arrivals::Poisson => window_by_clock(clock.clone(), from, cut - sh.t0),
            };
            // An auto warm-up ended at an arrival the scheduler names: exactly that one
            // (not its time turned back into an index through floating point).
            let lo = match sh.first_measured.load(Ordering::SeqCst) {
                UNDECIDED => lo,
                first => first,
            };
            let sent = next_unsent.unwrap_or(0);
            let hi = hi.max(sent).max(lo);
            // Intended in the window but never sent (the scheduler fell behind, or the
            // window ended while it slept): missed, given up at the end of the window.
            let unsent_from = sent.max(lo);
            let mut times = clock.skip(unsent_from as usize);
            let offset_of = |i: u64| match arrivals {
                Arrivals::Uniform => intended_at(i, *rate, *ramp_from, *ramp),
                Arrivals::Poisson => times.next().map_or(Duration::ZERO, |t| t.1),
            };
            record_unsent_as_missed(sh, unsent_from..hi, offset_of, cut);
            intended_open(sh, lo..hi)
        }
        Load::Closed { .. } => {
            // Closed model: intended = what the users started; per op, what ended there.
            let totals = sh.recorder.totals();
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
    }
}

/// Records the `unsent` arrivals (this worker's) as missed at `cut`, `offset_of` their starts.
fn record_unsent_as_missed(
    sh: &Shared,
    unsent: std::ops::Range<u64>,
    mut offset_of: impl FnMut(u64) -> Duration,
    cut: Instant,
) {
    let part = sh.scenario.worker;
    for i in unsent {
        let op = sh.mix[(i % sh.mix.len() as u64) as usize];
        let offset = offset_of(i);
        if part.is_some_and(|p| !p.owns(i)) {
            continue;
        }
        let at = sh.t0 + offset;
        sh.recorder.record_ending(
            Label { op, sub: None },
            Ending::Missed,
            micros(cut.saturating_duration_since(at)),
        );
    }
}

/// The open model's arrivals `window` (this worker's share), in all and per op.
fn intended_open(sh: &Shared, window: std::ops::Range<u64>) -> (u64, Vec<u64>) {
    let n_ops = sh.scenario.ops.len();
    let (lo, hi) = (window.start, window.end);
    match sh.scenario.worker {
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

/// Writes to the hlog the results that arrived after the last harvest.
fn write_late_results(sh: &Shared, hlog: Option<&mut HlogWriter>, last_tick: Instant) {
    let late_snap = sh.recorder.harvest();
    if let Some(h) = hlog {
        if !late_snap.overall.is_empty() {
            let start = last_tick - sh.warmup_end();
            let dur = Instant::now().saturating_duration_since(last_tick);
            write_hlog(h, sh, &late_snap, start, dur);
        }
    }
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
