//! Latency and error accounting for a run: one HdrHistogram per operation (and per optional
//! sub-label such as `doctor_schedule:hit`), one overall, errors by operation and kind.
//!
//! Why it looks like this: recording sits on the hot path of every operation, so it is a
//! short critical section (a linear scan over a handful of labels and an HdrHistogram
//! increment), and everything else (percentiles, interval logs, live lines) happens on the
//! harvesting side once a second. Nothing is ever sampled or dropped: every measured
//! arrival ends in exactly one bucket ([`Ending`]: ok, no-op, failed by kind, timed out,
//! missed, abandoned, or unsupported), and every one of them that has a latency is also in
//! the all-arrivals histogram, so a failure or a miss is never a missing sample.
//!
//! Values are microseconds, 3 significant digits, auto-resizing histograms (no upper bound,
//! so a 30-second stall is recorded as 30 seconds, not clipped).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant decimal digits of every histogram.
pub const SIGFIG: u8 = 3;

/// A new empty histogram in microseconds with the standard precision.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new(SIGFIG).expect("3 significant digits is a valid precision")
}

/// Microseconds of a duration, at least 1 (the histogram's lowest discernible value).
pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// The name a result is recorded under: the operation, and optionally a sub-label chosen by
/// the operation itself (`doctor_schedule` + `hit` is reported as `doctor_schedule:hit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Index of the operation in the scenario's op list.
    pub op: usize,
    pub sub: Option<&'static str>,
}

/// How one arrival ended. Every measured arrival ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Completed and changed or returned something.
    Ok,
    /// A write that completed but changed nothing.
    Noop,
    /// The server or driver answered with an error (counted by kind).
    Failed,
    /// No answer within the scenario's `timeout`.
    TimedOut,
    /// Intended in the measured window but never started before its end.
    Missed,
    /// Running, or queued, when the run was shut down and the grace time ran out.
    Abandoned,
}

/// Histograms and counts of one label.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: Label,
    /// Latency of successful operations since the start of the measured window.
    pub total: Histogram<u64>,
    /// Latency of successful operations since the last harvest.
    pub interval: Histogram<u64>,
    /// Latency of every arrival that has one: ok, no-op, failed, timed out, missed,
    /// abandoned (intended start to when it ended or was given up).
    pub all: Histogram<u64>,
    /// Latency of the failed, timed-out, missed and abandoned arrivals alone.
    pub not_ok: Histogram<u64>,
    /// Rows (or documents, bytes for streams: see the op's docs) returned or affected.
    pub rows: u64,
    pub noop: u64,
    /// Failed and timed out (the kinds are in [`Totals::errors`], `timeout` among them).
    pub errors: u64,
    pub timed_out: u64,
    pub missed: u64,
    pub abandoned: u64,
    /// Draws of an operation the server said it cannot do (not executed, no latency).
    pub unsupported: u64,
    pub interval_errors: u64,
    pub interval_noop: u64,
}

impl Series {
    /// A series with nothing recorded (a merge adds workers' series into it).
    pub fn empty(label: Label) -> Series {
        Series::new(label)
    }

    fn new(label: Label) -> Series {
        Series {
            label,
            total: new_histogram(),
            interval: new_histogram(),
            all: new_histogram(),
            not_ok: new_histogram(),
            rows: 0,
            noop: 0,
            errors: 0,
            timed_out: 0,
            missed: 0,
            abandoned: 0,
            unsupported: 0,
            interval_errors: 0,
            interval_noop: 0,
        }
    }

    /// Arrivals that ended in this series, whatever the bucket.
    pub fn arrivals(&self) -> u64 {
        self.total.len() + self.noop + self.errors + self.missed + self.abandoned + self.unsupported
    }
}

/// Errors of one operation and kind, with the first message seen (already redacted).
#[derive(Debug, Clone)]
pub struct ErrorCount {
    pub count: u64,
    pub example: String,
}

#[derive(Debug)]
struct Inner {
    series: Vec<Series>,
    overall_total: Histogram<u64>,
    overall_interval: Histogram<u64>,
    overall_all: Histogram<u64>,
    /// (op index, kind) -> count and example.
    errors: BTreeMap<(usize, String), ErrorCount>,
    overall_interval_errors: u64,
    overall_interval_noop: u64,
}

impl Inner {
    fn series(&mut self, label: Label) -> &mut Series {
        let idx = match self.series.iter().position(|s| s.label == label) {
            Some(i) => i,
            None => {
                self.series.push(Series::new(label));
                self.series.len() - 1
            }
        };
        &mut self.series[idx]
    }
}

/// The shared recorder of a run. Cheap to call from every worker.
#[derive(Debug)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// What one harvest returns: the interval histograms of successful operations (per label
/// and overall) with each label's errors, and the overall counts of errors and no-ops.
#[derive(Debug)]
pub struct IntervalSnapshot {
    pub series: Vec<(Label, Histogram<u64>, u64)>,
    pub overall: Histogram<u64>,
    /// Failed, timed out, missed and abandoned arrivals since the last harvest.
    pub errors: u64,
    pub noop: u64,
}

/// Final state at the end of the run.
#[derive(Debug, Clone)]
pub struct Totals {
    pub series: Vec<Series>,
    /// Successful operations.
    pub overall: Histogram<u64>,
    /// Every arrival with a latency.
    pub overall_all: Histogram<u64>,
    pub errors: BTreeMap<(usize, String), ErrorCount>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            inner: Mutex::new(Inner {
                series: Vec::new(),
                overall_total: new_histogram(),
                overall_interval: new_histogram(),
                overall_all: new_histogram(),
                errors: BTreeMap::new(),
                overall_interval_errors: 0,
                overall_interval_noop: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking worker must not take the report down with it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one successful operation: its latency in microseconds and the rows it returned.
    #[inline]
    pub fn record(&self, label: Label, latency_us: u64, rows: u64) {
        let v = latency_us.max(1);
        let mut g = self.lock();
        let inner = &mut *g;
        let s = inner.series(label);
        // Auto-resizing histograms accept any u64; the only error is a resize failure.
        let _ = s.total.record(v);
        let _ = s.interval.record(v);
        let _ = s.all.record(v);
        s.rows += rows;
        let _ = inner.overall_total.record(v);
        let _ = inner.overall_interval.record(v);
        let _ = inner.overall_all.record(v);
    }

    /// Records one arrival that did not end `Ok` (use [`Recorder::record`] for those) nor
    /// as an error (use [`Recorder::record_error`]): a no-op, a miss or an abandonment.
    pub fn record_ending(&self, label: Label, ending: Ending, latency_us: u64) {
        let v = latency_us.max(1);
        let mut g = self.lock();
        let inner = &mut *g;
        let s = inner.series(label);
        let _ = s.all.record(v);
        match ending {
            Ending::Noop => {
                s.noop += 1;
                s.interval_noop += 1;
                inner.overall_interval_noop += 1;
            }
            Ending::Missed | Ending::Abandoned => {
                if ending == Ending::Missed {
                    s.missed += 1;
                } else {
                    s.abandoned += 1;
                }
                let _ = s.not_ok.record(v);
                s.interval_errors += 1;
                inner.overall_interval_errors += 1;
            }
            Ending::Ok | Ending::Failed | Ending::TimedOut => {
                debug_assert!(false, "record_ending({ending:?})");
            }
        }
        let _ = inner.overall_all.record(v);
    }

    /// Counts one failed operation under `kind` (`timeout` for [`Ending::TimedOut`]) with its
    /// latency; `message` is kept for the first of its kind.
    pub fn record_error(&self, op: usize, kind: &str, message: &str, latency_us: u64) {
        let v = latency_us.max(1);
        let mut g = self.lock();
        let inner = &mut *g;
        let s = inner.series(Label { op, sub: None });
        s.errors += 1;
        if kind == "timeout" {
            s.timed_out += 1;
        }
        s.interval_errors += 1;
        let _ = s.all.record(v);
        let _ = s.not_ok.record(v);
        inner.overall_interval_errors += 1;
        let _ = inner.overall_all.record(v);
        inner
            .errors
            .entry((op, kind.to_string()))
            .and_modify(|e| e.count += 1)
            .or_insert_with(|| ErrorCount {
                count: 1,
                example: message.chars().take(500).collect(),
            });
    }

    /// Counts one draw of an operation the server cannot do (not executed, no latency).
    pub fn record_unsupported(&self, op: usize) {
        let mut g = self.lock();
        g.series(Label { op, sub: None }).unsupported += 1;
    }

    /// Takes the interval histograms, leaving empty ones in their place.
    pub fn harvest(&self) -> IntervalSnapshot {
        let mut g = self.lock();
        let inner = &mut *g;
        let mut series = Vec::with_capacity(inner.series.len());
        for s in inner.series.iter_mut() {
            let mut fresh = new_histogram();
            std::mem::swap(&mut fresh, &mut s.interval);
            series.push((s.label, fresh, s.interval_errors));
            s.interval_errors = 0;
            s.interval_noop = 0;
        }
        let mut overall = new_histogram();
        std::mem::swap(&mut overall, &mut inner.overall_interval);
        let errors = inner.overall_interval_errors;
        let noop = inner.overall_interval_noop;
        inner.overall_interval_errors = 0;
        inner.overall_interval_noop = 0;
        IntervalSnapshot {
            series,
            overall,
            errors,
            noop,
        }
    }

    /// A copy of the totals (the recorder keeps running).
    pub fn totals(&self) -> Totals {
        let g = self.lock();
        let mut series = g.series.clone();
        series.sort_by_key(|s| s.label);
        Totals {
            series,
            overall: g.overall_total.clone(),
            overall_all: g.overall_all.clone(),
            errors: g.errors.clone(),
        }
    }
}

/// Summary statistics of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Stats {
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        Stats {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// "0.41 ms", "12.3 ms", "1.52 s": a latency in microseconds for people.
pub fn fmt_us(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_label_and_overall_and_harvest_resets_interval() {
        let r = Recorder::new();
        let a = Label { op: 0, sub: None };
        let hit = Label {
            op: 1,
            sub: Some("hit"),
        };
        for v in 1..=100 {
            r.record(a, v * 10, 1);
        }
        r.record(hit, 5, 0);
        r.record_error(0, "timeout", "timed out after 30s", 30_000_000);
        r.record_error(0, "timeout", "second message is not kept", 30_000_000);
        let snap = r.harvest();
        assert_eq!(snap.overall.len(), 101);
        assert_eq!(snap.errors, 2);
        assert!(r.harvest().overall.is_empty());
        let t = r.totals();
        assert_eq!(t.overall.len(), 101);
        let sa = t.series.iter().find(|s| s.label == a).unwrap();
        assert_eq!(sa.total.len(), 100);
        assert_eq!(sa.rows, 100);
        assert_eq!(sa.errors, 2);
        let st = Stats::of(&sa.total);
        assert_eq!(st.max_us, 1000);
        assert!((495..=505).contains(&st.p50_us), "{st:?}");
        assert_eq!(sa.timed_out, 2);
        assert_eq!(sa.all.len(), 102, "failed arrivals have a latency too");
        assert_eq!(sa.not_ok.len(), 2);
        assert_eq!(t.overall_all.len(), 103);
        let e = &t.errors[&(0, "timeout".to_string())];
        assert_eq!(e.count, 2);
        assert_eq!(e.example, "timed out after 30s");
        assert_eq!(
            t.series
                .iter()
                .find(|s| s.label == hit)
                .unwrap()
                .total
                .len(),
            1
        );
    }

    #[test]
    fn every_ending_lands_in_one_bucket() {
        let r = Recorder::new();
        let l = Label { op: 0, sub: None };
        r.record(l, 10, 1);
        r.record_ending(l, Ending::Noop, 20);
        r.record_error(0, "pg:40P01", "deadlock", 30);
        r.record_error(0, "timeout", "slow", 40);
        r.record_ending(l, Ending::Missed, 50);
        r.record_ending(l, Ending::Abandoned, 60);
        r.record_unsupported(0);
        let t = r.totals();
        let s = &t.series[0];
        assert_eq!(
            (
                s.total.len(),
                s.noop,
                s.errors,
                s.timed_out,
                s.missed,
                s.abandoned,
                s.unsupported
            ),
            (1, 1, 2, 1, 1, 1, 1)
        );
        assert_eq!(s.arrivals(), 7);
        assert_eq!(s.all.len(), 6, "unsupported draws have no latency");
        assert_eq!(s.not_ok.len(), 4);
        assert_eq!(t.overall.len(), 1);
        let snap = r.harvest();
        assert_eq!((snap.errors, snap.noop), (4, 1));
    }

    #[test]
    fn long_stalls_are_not_clipped() {
        let r = Recorder::new();
        let l = Label { op: 0, sub: None };
        r.record(l, 30_000_000, 0);
        let t = r.totals();
        let max = t.series[0].total.max();
        assert!(max >= 29_970_000, "{max}");
    }
}
