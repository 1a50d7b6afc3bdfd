//! Progress while seeding and the final summary: a bar per table and collection on a
//! terminal, plain periodic lines when stderr is not a terminal (CI logs), and a table of
//! rows, seconds, rows/s and MB/s per table and collection at the end.
//!
//! The display follows what is written, not only what is committed: writers count rows as
//! their COPY chunks are sent, documents as their batches are inserted and GridFS bytes as
//! the bucket takes them ([`Stats::written`]), and a ticker redraws a few times a second, so
//! the bars move, the elapsed time ticks and the ETA comes from the rates actually moving
//! (the slowest sink's remaining work at its own rate: audio in bytes/s) while a clinic is in
//! flight. A clinic still commits all or nothing; each bar shows written and committed.
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
    /// One per table of `TABLES`, then one per entry of `COLLECTIONS`: what is stored for
    /// good (PostgreSQL: committed clinics).
    pub counters: Vec<Counter>,
    /// Same layout: what has been sent so far, committed or not (rows and bytes; GridFS
    /// bytes of audio).
    pub written: Vec<Counter>,
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
            written: (0..TABLES.len() + COLLECTIONS.len())
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

    /// Rows of table `i` sent so far (committed or not).
    pub fn table_written(&self, i: usize) -> &Counter {
        &self.written[i]
    }

    /// Documents (or GridFS bytes) of collection `i` sent so far.
    pub fn collection_written(&self, i: usize) -> &Counter {
        &self.written[TABLES.len() + i]
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

/// Index of the GridFS sink among the counters: its bar counts bytes of audio.
const GRIDFS: usize = TABLES.len() + 2;

/// Where progress goes: bars on a terminal, lines otherwise.
pub enum Progress {
    Bars {
        _multi: MultiProgress,
        clinics: ProgressBar,
        sinks: Vec<ProgressBar>,
        /// Planned amount per sink (rows; bytes for GridFS) for this process's clinics.
        planned: Vec<u64>,
        /// Already there when the seed started (resume): the bars start there.
        offset: Vec<u64>,
    },
    Lines {
        /// When the last line was printed, and whether the final one was.
        last: Mutex<(Instant, bool)>,
        planned: Vec<u64>,
    },
}

/// Time left: for each sink that has planned work and has moved, its remaining work at its
/// own rate so far; sinks run side by side, so the slowest decides.
fn eta(planned: &[u64], written: &[u64], elapsed: Duration) -> Option<Duration> {
    let secs = elapsed.as_secs_f64();
    let mut worst: Option<f64> = None;
    for (&p, &w) in planned.iter().zip(written) {
        if p == 0 || w == 0 || secs <= 0.0 {
            continue;
        }
        let left = p.saturating_sub(w) as f64 / (w as f64 / secs);
        worst = Some(worst.map_or(left, |x: f64| x.max(left)));
    }
    worst.map(Duration::from_secs_f64)
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Progress {
    /// `shard_clinics` of the dataset's clinics are this process's, `already_done` of them
    /// complete; bar lengths are the plan's estimates scaled to that share.
    pub fn new(
        stats: &Stats,
        already_done: u64,
        params: &crate::generate::SeedParams,
        shard_clinics: usize,
    ) -> Progress {
        let plan = crate::generate::plan(params);
        let share = shard_clinics as f64 / params.clinics.max(1) as f64;
        let planned: Vec<u64> = (0..stats.counters.len())
            .map(|i| {
                let entry = match Stats::name(i) {
                    n if n.starts_with("GridFS") => plan.entry("fs.chunks").map(|e| e.bytes),
                    n => plan.entry(n).map(|e| e.rows),
                };
                (entry.unwrap_or(0) as f64 * share).round() as u64
            })
            .collect();
        let done_share = if shard_clinics == 0 {
            0.0
        } else {
            already_done as f64 / shard_clinics as f64
        };
        let offset: Vec<u64> = planned
            .iter()
            .map(|&p| (p as f64 * done_share).round() as u64)
            .collect();
        // What is left to write this run: ETA and rates are about that.
        let left: Vec<u64> = planned.iter().zip(&offset).map(|(p, o)| p - o).collect();
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                last: Mutex::new((Instant::now(), false)),
                planned: left,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let clinics = multi.add(ProgressBar::new(stats.clinics_total));
        clinics.set_style(
            ProgressStyle::with_template(
                "{prefix:<20} [{bar:30}] {pos}/{len} clinics committed  {elapsed_precise}  {msg}",
            )
            .unwrap()
            .progress_chars("=> "),
        );
        clinics.set_prefix("clinics");
        clinics.set_position(already_done);
        clinics.set_message("ETA --");
        clinics.enable_steady_tick(Duration::from_millis(500));
        let rows = ProgressStyle::with_template(
            "{prefix:<20} [{bar:30}] {human_pos:>10}/{human_len:<10} written {per_sec:>12}  {msg}",
        )
        .unwrap()
        .progress_chars("=> ");
        let bytes = ProgressStyle::with_template(
            "{prefix:<20} [{bar:30}] {bytes:>10}/{total_bytes:<10} written {bytes_per_sec:>12}  {msg}",
        )
        .unwrap()
        .progress_chars("=> ");
        let sinks = (0..stats.counters.len())
            .map(|i| {
                let b = multi.add(ProgressBar::new(planned[i]));
                b.set_style(if i == GRIDFS {
                    bytes.clone()
                } else {
                    rows.clone()
                });
                b.set_prefix(Stats::name(i));
                b.set_position(offset[i]);
                b
            })
            .collect();
        Progress::Bars {
            _multi: multi,
            clinics,
            sinks,
            planned: left,
            offset,
        }
    }

    /// The amount of sink `i` written this run (rows; bytes for GridFS).
    fn written(stats: &Stats, i: usize) -> u64 {
        let c = &stats.written[i];
        if i == GRIDFS {
            c.bytes.load(Ordering::Relaxed)
        } else {
            c.rows.load(Ordering::Relaxed)
        }
    }

    fn committed(stats: &Stats, i: usize) -> u64 {
        let c = &stats.counters[i];
        if i == GRIDFS {
            c.bytes.load(Ordering::Relaxed)
        } else {
            c.rows.load(Ordering::Relaxed)
        }
    }

    /// Redraws from the counters: called by the ticker a few times a second and after each
    /// committed clinic.
    pub fn update(&self, stats: &Stats) {
        let done = stats.clinics_done.load(Ordering::Relaxed);
        let written: Vec<u64> = (0..stats.written.len())
            .map(|i| Self::written(stats, i))
            .collect();
        match self {
            Progress::Bars {
                clinics,
                sinks,
                planned,
                offset,
                ..
            } => {
                clinics.set_position(done);
                let eta = eta(planned, &written, stats.started.elapsed());
                clinics.set_message(match eta {
                    Some(d) if done < stats.clinics_total => format!("ETA {}", hms(d)),
                    Some(_) => String::new(),
                    None => "ETA --".into(),
                });
                for (i, b) in sinks.iter().enumerate() {
                    let pos = offset[i] + written[i];
                    // The plan is an estimate: never show more than 100%.
                    if pos > b.length().unwrap_or(0) {
                        b.set_length(pos);
                    }
                    b.set_position(pos);
                    let committed = offset[i] + Self::committed(stats, i);
                    b.set_message(if i == GRIDFS {
                        format!("{} committed", indicatif::BinaryBytes(committed))
                    } else {
                        format!("{committed} committed")
                    });
                }
            }
            Progress::Lines { last, planned } => {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                let all = done >= stats.clinics_total;
                if last.1 || (last.0.elapsed() < Duration::from_secs(5) && !all) {
                    return;
                }
                *last = (Instant::now(), all);
                let elapsed = stats.started.elapsed();
                let rows: u64 = written[..TABLES.len()].iter().sum();
                let committed: u64 = (0..TABLES.len()).map(|i| Self::committed(stats, i)).sum();
                let secs = elapsed.as_secs_f64();
                eprintln!(
                    "seed: {done}/{} clinics committed; written {rows} PostgreSQL rows \
                     ({committed} committed), {} notes, {:.1} MB audio ({:.2} MB/s); \
                     {:.0}s elapsed, ETA {}",
                    stats.clinics_total,
                    written[TABLES.len()],
                    written[GRIDFS] as f64 / 1e6,
                    rate(written[GRIDFS] as f64 / 1e6, secs),
                    secs,
                    eta(planned, &written, elapsed).map_or("--".into(), hms),
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

/// Redraws `progress` every 250 ms until the returned handle is aborted.
pub fn spawn_ticker(
    progress: std::sync::Arc<Progress>,
    stats: std::sync::Arc<Stats>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(250));
        loop {
            every.tick().await;
            progress.update(&stats);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_the_slowest_moving_sink() {
        // 10 s in: rows done at 100/s with 0 left, audio 1 MB of 4 MB at 0.1 MB/s -> 30 s.
        let planned = [1_000, 4_000_000, 50];
        let written = [1_000, 1_000_000, 0];
        let got = eta(&planned, &written, Duration::from_secs(10)).unwrap();
        assert_eq!(got.as_secs(), 30);
        assert!(eta(&planned, &[0, 0, 0], Duration::from_secs(3)).is_none());
    }
}
