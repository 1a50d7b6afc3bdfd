//! Progress while seeding and the final summary: a bar per table and collection on a
//! terminal, plain periodic lines when stderr is not a terminal (CI logs), and a table of
//! rows, seconds, rows/s and MB/s per table and collection at the end.
//!
//! Seconds per table are the time spent writing that table, summed over the writers that
//! ran in parallel; the total line uses wall-clock time.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::seed::pg_copy::TABLES;

/// Names of the MongoDB sinks, in summary order.
pub const COLLECTIONS: [&str; 3] = ["clinicalNotes", "voiceRecordings", "GridFS fs (audio)"];

/// Counters of one table or collection, shared by the writers.
#[derive(Default)]
pub struct Counter {
    pub rows: AtomicU64,
    pub bytes: AtomicU64,
    pub nanos: AtomicU64,
}

impl Counter {
    pub fn add(&self, rows: u64, bytes: u64, took: Duration) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Everything counted during one seed.
pub struct Stats {
    pub started: Instant,
    /// One per table of `TABLES`, then one per entry of `COLLECTIONS`.
    pub counters: Vec<Counter>,
    pub clinics_done: AtomicU64,
    pub clinics_total: u64,
}

impl Stats {
    pub fn new(clinics_total: u64) -> Stats {
        Stats {
            started: Instant::now(),
            counters: (0..TABLES.len() + COLLECTIONS.len())
                .map(|_| Counter::default())
                .collect(),
            clinics_done: AtomicU64::new(0),
            clinics_total,
        }
    }

    pub fn table(&self, i: usize) -> &Counter {
        &self.counters[i]
    }

    pub fn collection(&self, i: usize) -> &Counter {
        &self.counters[TABLES.len() + i]
    }

    fn name(i: usize) -> &'static str {
        if i < TABLES.len() {
            TABLES[i]
        } else {
            COLLECTIONS[i - TABLES.len()]
        }
    }

    /// The summary table printed at the end.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{:<20} {:>12} {:>9} {:>12} {:>9}\n",
            "table/collection", "rows", "seconds", "rows/s", "MB/s"
        );
        let (mut pg_rows, mut pg_bytes) = (0u64, 0u64);
        for (i, c) in self.counters.iter().enumerate() {
            let rows = c.rows.load(Ordering::Relaxed);
            let bytes = c.bytes.load(Ordering::Relaxed);
            let secs = c.nanos.load(Ordering::Relaxed) as f64 / 1e9;
            if i < TABLES.len() {
                pg_rows += rows;
                pg_bytes += bytes;
            }
            s.push_str(&format!(
                "{:<20} {:>12} {:>9.2} {:>12.0} {:>9.2}\n",
                Self::name(i),
                rows,
                secs,
                rate(rows as f64, secs),
                rate(bytes as f64 / 1e6, secs)
            ));
        }
        let wall = self.started.elapsed().as_secs_f64();
        s.push_str(&format!(
            "{:<20} {:>12} {:>9.2} {:>12.0} {:>9.2}   (PostgreSQL, wall clock)\n",
            "total",
            pg_rows,
            wall,
            rate(pg_rows as f64, wall),
            rate(pg_bytes as f64 / 1e6, wall)
        ));
        s
    }
}

fn rate(x: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        x / secs
    } else {
        0.0
    }
}

/// Where progress goes: bars on a terminal, lines otherwise.
pub enum Progress {
    Bars {
        _multi: MultiProgress,
        clinics: ProgressBar,
        sinks: Vec<ProgressBar>,
    },
    Lines {
        last: Mutex<Instant>,
    },
}

impl Progress {
    /// `shard_clinics` of the dataset's clinics are this process's; bar lengths are the
    /// plan's estimates scaled to that share.
    pub fn new(
        stats: &Stats,
        already_done: u64,
        params: &crate::generate::SeedParams,
        shard_clinics: usize,
    ) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                last: Mutex::new(Instant::now()),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let clinics = multi.add(ProgressBar::new(stats.clinics_total));
        clinics.set_style(
            ProgressStyle::with_template(
                "{prefix:<20} [{bar:30}] {pos}/{len} clinics  {elapsed_precise} ETA {eta}",
            )
            .unwrap()
            .progress_chars("=> "),
        );
        clinics.set_prefix("clinics");
        clinics.set_position(already_done);
        let style = ProgressStyle::with_template(
            "{prefix:<20} [{bar:30}] {human_pos:>10}/{human_len:<10} {per_sec:>14} ETA {eta}",
        )
        .unwrap()
        .progress_chars("=> ");
        let plan = crate::generate::plan(params);
        let share = shard_clinics as f64 / params.clinics.max(1) as f64;
        let sinks = (0..stats.counters.len())
            .map(|i| {
                let name = match Stats::name(i) {
                    n if n.starts_with("GridFS") => "fs.files",
                    n => n,
                };
                let len = plan
                    .entry(name)
                    .map_or(0, |e| (e.rows as f64 * share).round() as u64);
                let b = multi.add(ProgressBar::new(len));
                b.set_style(style.clone());
                b.set_prefix(Stats::name(i));
                b
            })
            .collect();
        Progress::Bars {
            _multi: multi,
            clinics,
            sinks,
        }
    }

    /// Called after each committed clinic.
    pub fn update(&self, stats: &Stats) {
        let done = stats.clinics_done.load(Ordering::Relaxed);
        match self {
            Progress::Bars { clinics, sinks, .. } => {
                clinics.set_position(done);
                for (b, c) in sinks.iter().zip(&stats.counters) {
                    let rows = c.rows.load(Ordering::Relaxed);
                    // The plan is an estimate (clinic 0 scaled): never show more than 100%.
                    if rows > b.length().unwrap_or(0) {
                        b.set_length(rows);
                    }
                    b.set_position(rows);
                }
            }
            Progress::Lines { last } => {
                let mut last = last.lock().unwrap();
                if last.elapsed() < Duration::from_secs(5) && done < stats.clinics_total {
                    return;
                }
                *last = Instant::now();
                let rows: u64 = stats.counters[..TABLES.len()]
                    .iter()
                    .map(|c| c.rows.load(Ordering::Relaxed))
                    .sum();
                let secs = stats.started.elapsed().as_secs_f64();
                eprintln!(
                    "seed: {done}/{} clinics, {rows} PostgreSQL rows, {:.0} rows/s, {:.0}s elapsed",
                    stats.clinics_total,
                    rate(rows as f64, secs),
                    secs
                );
            }
        }
    }

    pub fn finish(&self) {
        if let Progress::Bars { clinics, sinks, .. } = self {
            clinics.finish();
            for b in sinks {
                b.finish();
            }
        }
    }
}
