//! `clinicload merge DIR...`: the workers' run directories become one run directory with the
//! same files as a single run. Histograms are added exactly (never averaged percentiles,
//! never rounded), counters summed, interval logs aligned on the server's clock, and the
//! scenario's thresholds judged on the merged data with the run's exit codes. Each worker
//! leaves `worker.json` beside its report: its histograms (V2-serialized, base64) and
//! counters, the input of the merge. Adding is associative and commutative, so the order of
//! the directories does not matter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::WorkerFacts;
use crate::metrics::{new_histogram, ErrorCount, Label, Series, Totals};
use crate::report::IntervalPoint;
use crate::report::{self, GeneratorFacts, Summary};
use crate::scenario::runner::RunOutcome;
use crate::scenario::spec::{self, Overrides, Scenario};

pub const SCHEMA: &str = "clinicload.worker/1";

/// One label's histograms and counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeriesRecord {
    op: usize,
    sub: Option<String>,
    total: String,
    all: String,
    not_ok: String,
    rows: u64,
    noop: u64,
    errors: u64,
    timed_out: u64,
    missed: u64,
    abandoned: u64,
    unsupported: u64,
}

/// `worker.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRecord {
    schema: String,
    pub facts: WorkerFacts,
    pub run_id: String,
    pub scenario_name: String,
    /// The scenario file as the worker read it, and the command line's overrides.
    scenario_toml: String,
    duration_s: Option<f64>,
    warmup_s: Option<f64>,
    rate: Option<f64>,
    thresholds: Vec<String>,
    /// Not interrupted: the worker ran its whole window.
    pub complete: bool,
    measured_s: f64,
    aborted_by_threshold: Option<String>,
    target_rate: Option<f64>,
    intended: u64,
    intended_per_op: Vec<u64>,
    started: u64,
    late_starts: u64,
    start_delay: String,
    warmup_ops: u64,
    warmup_errors: u64,
    unsupported: Vec<Option<String>>,
    grace_s: f64,
    generator: GeneratorFacts,
    intervals: Vec<IntervalPoint>,
    series: Vec<SeriesRecord>,
    overall: String,
    overall_all: String,
    /// (op, kind, count, example)
    errors: Vec<(usize, String, u64, String)>,
    dataset: Option<crate::report::DatasetInfo>,
    servers: BTreeMap<String, String>,
}

fn encode(h: &Histogram<u64>) -> Result<String> {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| anyhow::anyhow!("serializing a histogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

fn decode(s: &str) -> Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .context("a histogram that is not base64")?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("a histogram that does not decode: {e:?}"))?;
    // Same bounds as the run's, so adding never fails for range.
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| anyhow::anyhow!("a histogram out of range: {e:?}"))?;
    Ok(out)
}

/// Writes a worker's `worker.json`.
pub fn write_record(
    dir: &Path,
    scenario: &Scenario,
    overrides: &Overrides,
    outcome: &RunOutcome,
    totals: &Totals,
    summary: &Summary,
) -> Result<()> {
    let facts = summary
        .worker
        .clone()
        .context("a worker record without worker facts")?;
    let toml = std::fs::read_to_string(&scenario.file)
        .with_context(|| format!("reading {}", scenario.file.display()))?;
    let series = totals
        .series
        .iter()
        .map(|s| {
            Ok(SeriesRecord {
                op: s.label.op,
                sub: s.label.sub.map(str::to_string),
                total: encode(&s.total)?,
                all: encode(&s.all)?,
                not_ok: encode(&s.not_ok)?,
                rows: s.rows,
                noop: s.noop,
                errors: s.errors,
                timed_out: s.timed_out,
                missed: s.missed,
                abandoned: s.abandoned,
                unsupported: s.unsupported,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let record = WorkerRecord {
        schema: SCHEMA.into(),
        facts,
        run_id: summary.run_id.clone(),
        scenario_name: scenario.name.clone(),
        scenario_toml: toml,
        duration_s: overrides.duration.map(|d| d.as_secs_f64()),
        warmup_s: overrides.warmup.map(|d| d.as_secs_f64()),
        rate: overrides.rate,
        thresholds: overrides.thresholds.clone(),
        complete: !outcome.interrupted,
        measured_s: outcome.measured.as_secs_f64(),
        aborted_by_threshold: outcome.aborted_by_threshold.clone(),
        target_rate: outcome.target_rate,
        intended: outcome.intended,
        intended_per_op: outcome.intended_per_op.clone(),
        started: outcome.started,
        late_starts: outcome.late_starts,
        start_delay: encode(&outcome.start_delay)?,
        warmup_ops: outcome.warmup_ops,
        warmup_errors: outcome.warmup_errors,
        unsupported: outcome.unsupported.clone(),
        grace_s: outcome.grace.as_secs_f64(),
        generator: outcome.generator.clone(),
        intervals: outcome.intervals.clone(),
        series,
        overall: encode(&totals.overall)?,
        overall_all: encode(&totals.overall_all)?,
        errors: totals
            .errors
            .iter()
            .map(|((op, kind), e)| (*op, kind.clone(), e.count, e.example.clone()))
            .collect(),
        dataset: summary.dataset.clone(),
        servers: summary.servers.clone(),
    };
    report::write_atomic(
        &dir.join("worker.json"),
        format!("{}\n", serde_json::to_string(&record)?).as_bytes(),
    )
}

/// Options of `clinicload merge`.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub dirs: Vec<PathBuf>,
    pub out: PathBuf,
    /// Windows may start this far apart (server clock) before the merge refuses.
    pub max_skew: Duration,
    /// Merge anyway, flagging the skew.
    pub allow_skew: bool,
}

pub use crate::report::WorkerRow;

/// What the merge needs to choose the workers' directories: read first, for every directory,
/// without the histograms.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordHead {
    schema: String,
    pub facts: WorkerFacts,
    pub run_id: String,
    pub scenario_name: String,
    pub complete: bool,
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let f = dir.join("worker.json");
    let file = std::fs::File::open(&f).with_context(|| format!("reading {}", f.display()))?;
    serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a clinicload worker record", f.display()))
}

/// The worker directories under `dirs` (each a run directory with `worker.json`, or a
/// directory holding such, one or two levels down).
fn find_records(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, RecordHead)>> {
    let mut found = Vec::new();
    let mut stack: Vec<(PathBuf, u8)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
    while let Some((d, depth)) = stack.pop() {
        if d.join("worker.json").is_file() {
            let r: RecordHead = read_json(&d)?;
            if r.schema != SCHEMA {
                bail!(
                    "{}: schema {} (this clinicload reads {SCHEMA})",
                    d.join("worker.json").display(),
                    r.schema
                );
            }
            found.push((d, r));
        } else if depth < 2 && d.is_dir() {
            let entries =
                std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))?;
            for e in entries.flatten() {
                if e.path().is_dir() {
                    stack.push((e.path(), depth + 1));
                }
            }
        } else if depth == 0 && !d.exists() {
            crate::usage!("{}: no such directory", d.display());
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// `clinicload merge`: the merged summary and its directory.
pub fn merge(opts: &MergeOptions) -> Result<(Summary, PathBuf)> {
    let found = find_records(&opts.dirs)?;
    if found.is_empty() {
        crate::usage!(
            "no worker run directories (with worker.json) under {}: give the --out directories of the `clinicload run --worker i/n` processes",
            opts.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // One run: one scenario, one start, one worker count.
    let key = |r: &RecordHead| {
        (
            r.scenario_name.clone(),
            r.facts.start_at.clone(),
            r.facts.worker.count,
        )
    };
    let first = key(&found[0].1);
    if let Some((d, r)) = found.iter().find(|(_, r)| key(r) != first) {
        bail!(
            "{} is another run (scenario {}, start {:?}, {} workers) than {} (scenario {}, start {:?}, {} workers): merge one run's workers at a time",
            d.display(),
            r.scenario_name,
            r.facts.start_at,
            r.facts.worker.count,
            found[0].0.display(),
            first.0,
            first.1,
            first.2
        );
    }
    let n = first.2;
    let mut notes = Vec::new();
    let mut chosen: Vec<(PathBuf, RecordHead)> = Vec::new();
    for i in 0..n {
        let cands: Vec<&(PathBuf, RecordHead)> = found
            .iter()
            .filter(|(_, r)| r.facts.worker.index == i)
            .collect();
        let Some(last) = cands.last() else {
            bail!(
                "worker {i}/{n} is missing: every worker index from 0 to {} needs its run directory (found {})",
                n - 1,
                found.len()
            );
        };
        let complete: Vec<&&(PathBuf, RecordHead)> =
            cands.iter().filter(|(_, r)| r.complete).collect();
        if complete.len() > 1 {
            bail!(
                "worker {i}/{n} has {} complete run directories ({}): a retried worker offered its load twice; keep one and merge again",
                complete.len(),
                complete
                    .iter()
                    .map(|(d, _)| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let keep = complete.first().map_or((*last).clone(), |c| (**c).clone());
        if cands.len() > 1 {
            notes.push(format!(
                "worker {i}/{n}: {} run directories (a retried pod); merged {}, the {}",
                cands.len(),
                keep.0.display(),
                if keep.1.complete {
                    "complete one"
                } else {
                    "last one (none completed)"
                }
            ));
        }
        chosen.push(keep);
    }
    // Windows on the server's clock.
    let earliest = chosen
        .iter()
        .map(|(_, r)| r.facts.window_start_ms)
        .fold(f64::INFINITY, f64::min);
    let max_skew_ms = opts.max_skew.as_secs_f64() * 1000.0;
    let skewed: Vec<String> = chosen
        .iter()
        .filter(|(_, r)| r.facts.window_start_ms - earliest > max_skew_ms)
        .map(|(d, r)| {
            format!(
                "worker {} ({}) started its window {:.0} ms after the first{}",
                r.facts.worker,
                d.display(),
                r.facts.window_start_ms - earliest,
                if r.facts.late_ms > 0.0 {
                    format!(", {:.0} ms late for the common start", r.facts.late_ms)
                } else {
                    String::new()
                }
            )
        })
        .collect();
    if !skewed.is_empty() {
        let msg = format!(
            "windows skewed beyond --max-skew {max_skew_ms:.0} ms: {}",
            skewed.join("; ")
        );
        if !opts.allow_skew {
            bail!("{msg}. The merged percentiles would mix different moments: start the workers with a common --start-at, or merge anyway with --allow-skew");
        }
        notes.push(format!("{msg} (merged anyway: --allow-skew)"));
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let r0 = &chosen[0].1;
    let base_id = r0
        .run_id
        .rsplit_once("-w")
        .map_or(r0.run_id.clone(), |(a, _)| a.to_string());
    let (run_id, dir) = report::create_run_dir(&opts.out, &format!("{base_id}-merged"))?;
    let result = write_merged(&chosen, &run_id, &dir, earliest, notes);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map(|s| (s, dir))
}

/// The workers' histograms and counters, added one record at a time (a record is dropped
/// once added: memory holds one worker's record and the sums).
struct Sums {
    series: Vec<Series>,
    overall: Histogram<u64>,
    overall_all: Histogram<u64>,
    start_delay: Histogram<u64>,
    errors: BTreeMap<(usize, String), ErrorCount>,
    intervals: BTreeMap<i64, IntervalPoint>,
    intended_per_op: Vec<u64>,
    unsupported: Vec<Option<String>>,
    intended: u64,
    started: u64,
    late_starts: u64,
    warmup_ops: u64,
    warmup_errors: u64,
    measured_s: f64,
    grace_s: f64,
    target_rate: Option<f64>,
    aborted_by_threshold: Option<String>,
    interrupted: bool,
    generator: GeneratorFacts,
    rows: Vec<WorkerRow>,
}

fn add_encoded(into: &mut Histogram<u64>, s: &str) -> Result<()> {
    into.add(decode(s)?)
        .map_err(|e| anyhow::anyhow!("adding histograms: {e:?}"))
}

impl Sums {
    fn new(n_ops: usize) -> Sums {
        Sums {
            series: Vec::new(),
            overall: new_histogram(),
            overall_all: new_histogram(),
            start_delay: new_histogram(),
            errors: BTreeMap::new(),
            intervals: BTreeMap::new(),
            intended_per_op: vec![0; n_ops],
            unsupported: vec![None; n_ops],
            intended: 0,
            started: 0,
            late_starts: 0,
            warmup_ops: 0,
            warmup_errors: 0,
            measured_s: 0.0,
            grace_s: 0.0,
            target_rate: Some(0.0),
            aborted_by_threshold: None,
            interrupted: false,
            generator: GeneratorFacts::default(),
            rows: Vec::new(),
        }
    }

    fn add(&mut self, d: &Path, r: &WorkerRecord, earliest: f64) -> Result<()> {
        for s in &r.series {
            // Labels are the scenario's operation names and a few fixed sub-labels; the
            // report wants them 'static, and a merge makes a handful.
            let sub: Option<&'static str> = s.sub.clone().map(|x| &*Box::leak(x.into_boxed_str()));
            let label = Label { op: s.op, sub };
            let at = match self.series.iter().position(|x| x.label == label) {
                Some(i) => i,
                None => {
                    self.series.push(Series::empty(label));
                    self.series.len() - 1
                }
            };
            let t = &mut self.series[at];
            add_encoded(&mut t.total, &s.total)?;
            add_encoded(&mut t.all, &s.all)?;
            add_encoded(&mut t.not_ok, &s.not_ok)?;
            t.rows += s.rows;
            t.noop += s.noop;
            t.errors += s.errors;
            t.timed_out += s.timed_out;
            t.missed += s.missed;
            t.abandoned += s.abandoned;
            t.unsupported += s.unsupported;
        }
        let mine = decode(&r.overall)?;
        self.overall
            .add(&mine)
            .map_err(|e| anyhow::anyhow!("adding histograms: {e:?}"))?;
        add_encoded(&mut self.overall_all, &r.overall_all)?;
        add_encoded(&mut self.start_delay, &r.start_delay)?;
        for (op, kind, count, example) in &r.errors {
            self.errors
                .entry((*op, kind.clone()))
                .or_insert(ErrorCount {
                    count: 0,
                    example: example.clone(),
                })
                .count += count;
        }
        for (i, v) in r.intended_per_op.iter().enumerate() {
            if let Some(x) = self.intended_per_op.get_mut(i) {
                *x += v;
            }
        }
        for (i, u) in r.unsupported.iter().enumerate() {
            if let (Some(slot), Some(u)) = (self.unsupported.get_mut(i), u) {
                slot.get_or_insert_with(|| u.clone());
            }
        }
        self.intended += r.intended;
        self.started += r.started;
        self.late_starts += r.late_starts;
        self.warmup_ops += r.warmup_ops;
        self.warmup_errors += r.warmup_errors;
        self.measured_s = self.measured_s.max(r.measured_s);
        self.grace_s = self.grace_s.max(r.grace_s);
        self.target_rate = match (self.target_rate, r.target_rate) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        if self.aborted_by_threshold.is_none() {
            self.aborted_by_threshold = r.aborted_by_threshold.clone();
        }
        self.interrupted |= !r.complete;
        let g = &mut self.generator;
        let w = &r.generator;
        g.workers += w.workers;
        g.dispatch_lag_p90_us = g.dispatch_lag_p90_us.max(w.dispatch_lag_p90_us);
        g.dispatch_lag_p99_us = g.dispatch_lag_p99_us.max(w.dispatch_lag_p99_us);
        g.dispatch_lag_max_us = g.dispatch_lag_max_us.max(w.dispatch_lag_max_us);
        g.max_queue = g.max_queue.max(w.max_queue);
        g.mean_in_flight += w.mean_in_flight;
        g.max_in_flight += w.max_in_flight;
        g.cpu_s += w.cpu_s;
        g.wall_s = g.wall_s.max(w.wall_s);
        g.cores += w.cores;
        // Workers' samples are not simultaneous: per store the sums of their figures, and
        // each worker's worst queue.
        g.samples = g.samples.max(w.samples);
        for wp in &w.pools {
            match g.pools.iter_mut().find(|p| p.store == wp.store) {
                Some(p) => {
                    p.connections += wp.connections;
                    p.max_busy += wp.max_busy;
                    p.mean_busy += wp.mean_busy;
                    p.max_waiting += wp.max_waiting;
                    p.full_samples = p.full_samples.max(wp.full_samples);
                }
                None => g.pools.push(wp.clone()),
            }
        }
        for (mine, theirs) in [
            (&mut g.queued_connections_busy, w.queued_connections_busy),
            (&mut g.queued_connections_idle, w.queued_connections_idle),
        ] {
            if theirs.is_some_and(|t| mine.map_or(true, |m| m.queued < t.queued)) {
                *mine = theirs;
            }
        }
        // Per-second points, each worker's placed by its window's start on the server's clock.
        let shift = (r.facts.window_start_ms - earliest) / 1000.0;
        for p in &r.intervals {
            add_interval(&mut self.intervals, p, shift);
        }
        self.rows.push(WorkerRow {
            worker: r.facts.worker,
            dir: d.display().to_string(),
            ok: mine.len(),
            achieved_rate: if r.measured_s > 0.0 {
                mine.len() as f64 / r.measured_s
            } else {
                0.0
            },
            p99_us: mine.value_at_quantile(0.99),
            late_ms: r.facts.late_ms,
            clock_offset_ms: r.facts.clock.map(|c| c.offset_ms),
            window_skew_ms: r.facts.window_start_ms - earliest,
            complete: r.complete,
        });
        Ok(())
    }
}

/// Adds a worker's per-second point to the merged ones, `shift` seconds later on the merged
/// clock: counts summed, percentiles the worst worker's.
fn add_interval(intervals: &mut BTreeMap<i64, IntervalPoint>, p: &IntervalPoint, shift: f64) {
    let k = (p.t + shift).round() as i64;
    let e = intervals.entry(k).or_insert_with(|| IntervalPoint {
        t: k as f64,
        seconds: p.seconds,
        ops: 0,
        errors: 0,
        noop: 0,
        p50_us: 0,
        p99_us: 0,
        max_us: 0,
        per_op: Vec::new(),
        per_op_p50: Vec::new(),
    });
    e.ops += p.ops;
    e.errors += p.errors;
    e.noop += p.noop;
    // The merged interval log has the exact per-second percentiles; the chart's
    // points take the worst worker's.
    e.p50_us = e.p50_us.max(p.p50_us);
    e.p99_us = e.p99_us.max(p.p99_us);
    e.max_us = e.max_us.max(p.max_us);
    for (label, count, p99) in &p.per_op {
        match e.per_op.iter_mut().find(|x| &x.0 == label) {
            Some(x) => {
                x.1 += count;
                x.2 = x.2.max(*p99);
            }
            None => e.per_op.push((label.clone(), *count, *p99)),
        }
    }
    // Like the chart's p50: the worst worker's (what the steadiness check judges).
    for (label, p50) in &p.per_op_p50 {
        match e.per_op_p50.iter_mut().find(|x| &x.0 == label) {
            Some(x) => x.1 = x.1.max(*p50),
            None => e.per_op_p50.push((label.clone(), *p50)),
        }
    }
}

fn write_merged(
    chosen: &[(PathBuf, RecordHead)],
    run_id: &str,
    dir: &Path,
    earliest: f64,
    notes: Vec<String>,
) -> Result<Summary> {
    let first: WorkerRecord = read_json(&chosen[0].0)?;
    let scenario_file = dir.join("scenario.toml");
    report::write_atomic(&scenario_file, first.scenario_toml.as_bytes())?;
    let overrides = Overrides {
        duration: first.duration_s.map(Duration::from_secs_f64),
        warmup: first.warmup_s.map(Duration::from_secs_f64),
        rate: first.rate,
        thresholds: first.thresholds.clone(),
        ..Overrides::default()
    };
    let scenario = spec::load(&scenario_file, &overrides)?;
    let (dataset, servers) = (first.dataset.clone(), first.servers.clone());
    let mut sums = Sums::new(scenario.ops.len());
    sums.add(&chosen[0].0, &first, earliest)?;
    drop(first);
    for (d, _) in &chosen[1..] {
        let r: WorkerRecord = read_json(d)?;
        sums.add(d, &r, earliest)?;
    }
    let outcome = RunOutcome {
        measured_from: SystemTime::UNIX_EPOCH + Duration::from_secs_f64(earliest.max(0.0) / 1000.0),
        measured: Duration::from_secs_f64(sums.measured_s),
        interrupted: sums.interrupted,
        aborted_by_threshold: sums.aborted_by_threshold.clone(),
        target_rate: sums.target_rate,
        intended: sums.intended,
        intended_per_op: sums.intended_per_op.clone(),
        started: sums.started,
        late_starts: sums.late_starts,
        start_delay: sums.start_delay.clone(),
        warmup_ops: sums.warmup_ops,
        warmup_errors: sums.warmup_errors,
        unsupported: sums.unsupported.clone(),
        grace: Duration::from_secs_f64(sums.grace_s),
        intervals: std::mem::take(&mut sums.intervals).into_values().collect(),
        generator: sums.generator.clone(),
        // Workers warm up for a fixed time (an automatic warm-up is refused to them).
        warmup: crate::report::WarmupFacts::fixed(scenario.warmup),
    };
    let totals = Totals {
        series: std::mem::take(&mut sums.series),
        overall: sums.overall.clone(),
        overall_all: sums.overall_all.clone(),
        errors: std::mem::take(&mut sums.errors),
    };
    let mut warnings = notes;
    warnings.push(format!(
        "merged from {} workers by `clinicload merge`: histograms added exactly, counters summed",
        chosen.len()
    ));
    let mut overrides_map = BTreeMap::new();
    overrides_map.insert("merged_workers".into(), chosen.len().to_string());
    let mut summary = crate::scenario::summary::summarize(
        run_id,
        &scenario,
        overrides_map,
        &outcome,
        &totals,
        dataset,
        servers,
        warnings,
    );
    if let Some(st) = &mut summary.run.steadiness {
        st.note.get_or_insert_with(|| {
            "judged on the merged seconds, whose p50 per operation is the worst worker's".into()
        });
    }
    summary.sections.push(workers_table(&sums.rows));
    summary.merged_from = std::mem::take(&mut sums.rows);
    report::write_all(dir, &summary)?;
    let dirs: Vec<(PathBuf, f64)> = chosen
        .iter()
        .map(|(d, r)| (d.clone(), (r.facts.window_start_ms - earliest) / 1000.0))
        .collect();
    merge_hlogs(&dirs, &dir.join("latency.hlog"), earliest)?;
    Ok(summary)
}

/// One worker's interval log, read a line at a time.
struct HlogReader {
    reader: std::io::BufReader<std::fs::File>,
    shift: f64,
    path: PathBuf,
    /// Buffers reused from line to line (a long log has millions).
    line: String,
    raw: Vec<u8>,
    deserializer: Deserializer,
    /// The next interval: (second on the merged clock, tag, histogram, length in seconds).
    next: Option<(i64, String, Histogram<u64>, f64)>,
}

impl HlogReader {
    fn open(path: &Path, shift: f64) -> Result<Option<HlogReader>> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut r = HlogReader {
            reader: std::io::BufReader::with_capacity(1 << 16, file),
            shift,
            path: path.to_path_buf(),
            line: String::new(),
            raw: Vec::new(),
            deserializer: Deserializer::new(),
            next: None,
        };
        r.advance()?;
        Ok(Some(r))
    }

    /// Reads up to the next interval line (comments and headers are skipped). An interval
    /// line is `[Tag=NAME,]start,length,max,base64` (the format HlogWriter writes).
    fn advance(&mut self) -> Result<()> {
        use std::io::BufRead;
        self.next = None;
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_line(&mut self.line)
                .with_context(|| format!("reading {}", self.path.display()))?;
            if n == 0 {
                return Ok(());
            }
            let line = self.line.trim_end();
            if line.is_empty() || line.starts_with('#') || line.starts_with('"') {
                continue;
            }
            let (tag, rest) = match line.strip_prefix("Tag=") {
                Some(t) => match t.split_once(',') {
                    Some((tag, rest)) => (tag, rest),
                    None => continue,
                },
                None => ("", line),
            };
            let mut fields = rest.splitn(4, ',');
            let (Some(start), Some(length), Some(_max), Some(encoded)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let bad = || {
                anyhow::anyhow!(
                    "{}: a malformed interval line: {line:.80}",
                    self.path.display()
                )
            };
            let start: f64 = start.parse().map_err(|_| bad())?;
            let length: f64 = length.parse().map_err(|_| bad())?;
            self.raw.clear();
            base64::engine::general_purpose::STANDARD
                .decode_vec(encoded, &mut self.raw)
                .map_err(|_| bad())?;
            let hist: Histogram<u64> = self
                .deserializer
                .deserialize(&mut self.raw.as_slice())
                .map_err(|e| anyhow::anyhow!("{}: {e:?}", self.path.display()))?;
            let k = (start + self.shift).round() as i64;
            self.next = Some((k, tag.to_string(), hist, length));
            return Ok(());
        }
    }
}

/// One second of intervals, added: tag -> (histogram, interval length in seconds).
type Second = (i64, BTreeMap<String, (Histogram<u64>, f64)>);

/// Adds `from` into `into`, tag by tag.
fn add_second(
    into: &mut BTreeMap<String, (Histogram<u64>, f64)>,
    from: BTreeMap<String, (Histogram<u64>, f64)>,
) -> Result<()> {
    for (tag, (h, secs)) in from {
        match into.get_mut(&tag) {
            Some(e) => {
                e.0.add(&h)
                    .map_err(|e| anyhow::anyhow!("adding intervals: {e:?}"))?
            }
            None => {
                into.insert(tag, (h, secs));
            }
        }
    }
    Ok(())
}

/// Reads `readers` side by side and sends each second's sum, in time order.
fn merge_group(mut readers: Vec<HlogReader>, tx: std::sync::mpsc::SyncSender<Result<Second>>) {
    let mut step = || -> Result<Option<Second>> {
        let Some(second) = readers
            .iter()
            .filter_map(|r| r.next.as_ref().map(|n| n.0))
            .min()
        else {
            return Ok(None);
        };
        let mut this: BTreeMap<String, (Histogram<u64>, f64)> = BTreeMap::new();
        for r in &mut readers {
            while r.next.as_ref().is_some_and(|n| n.0 <= second) {
                let (_, tag, h, secs) = r.next.take().expect("just seen");
                match this.get_mut(&tag) {
                    Some(e) => {
                        e.0.add(&h)
                            .map_err(|e| anyhow::anyhow!("adding intervals: {e:?}"))?
                    }
                    None => {
                        let mut acc = new_histogram();
                        acc.add(&h)
                            .map_err(|e| anyhow::anyhow!("adding intervals: {e:?}"))?;
                        this.insert(tag, (acc, secs));
                    }
                }
                r.advance()?;
            }
        }
        Ok(Some((second, this)))
    };
    loop {
        match step() {
            Ok(Some(s)) => {
                if tx.send(Ok(s)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// The merged `latency.hlog`: each (tag, second) interval of every worker added into the
/// second it falls in on the earliest worker's window (server clock). The logs are read side
/// by side in time order, a second at a time, so memory holds a few seconds' histograms
/// whatever the length of the run; decoding (most of the work) is split over the machine's
/// cores, each thread summing a share of the workers' logs.
pub fn merge_hlogs(dirs: &[(PathBuf, f64)], out: &Path, earliest_ms: f64) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, dirs.len().max(1));
    let mut groups: Vec<Vec<HlogReader>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, (d, shift)) in dirs.iter().enumerate() {
        if let Some(r) = HlogReader::open(&d.join("latency.hlog"), *shift)? {
            groups[i % threads].push(r);
        }
    }
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(earliest_ms.max(0.0) / 1000.0);
    let mut w = report::hlog::HlogWriter::create(
        out,
        start,
        &[format!(
            "clinicload {} merge of {} workers; values in microseconds",
            env!("CARGO_PKG_VERSION"),
            dirs.len()
        )],
    )?;
    let result = std::thread::scope(|scope| -> Result<()> {
        let mut streams = Vec::new();
        for g in groups.into_iter().filter(|g| !g.is_empty()) {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Second>>(16);
            scope.spawn(move || merge_group(g, tx));
            streams.push(rx);
        }
        let mut heads: Vec<Option<Second>> = Vec::new();
        for rx in &streams {
            heads.push(rx.recv().ok().transpose()?);
        }
        while let Some(second) = heads.iter().filter_map(|h| h.as_ref().map(|s| s.0)).min() {
            let mut this = BTreeMap::new();
            for (i, head) in heads.iter_mut().enumerate() {
                if head.as_ref().is_some_and(|s| s.0 == second) {
                    let (_, part) = head.take().expect("just seen");
                    add_second(&mut this, part)?;
                    *head = streams[i].recv().ok().transpose()?;
                }
            }
            // The overall (untagged) line first, as a run writes it.
            for (tag, (h, secs)) in &this {
                w.write(
                    tag,
                    h,
                    Duration::from_secs(second.max(0) as u64),
                    Duration::from_secs_f64(*secs),
                );
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => w.finish(),
        Err(e) => {
            w.discard();
            Err(e)
        }
    }
}

fn workers_table(rows: &[WorkerRow]) -> report::page::Table {
    use report::page::{Cell, Table};
    Table {
        title: "Workers".into(),
        columns: [
            "worker",
            "ok operations",
            "achieved ops/s",
            "p99",
            "window start vs first",
            "late for the start",
            "clock offset to the server",
            "complete",
            "directory",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::new(r.worker.to_string()),
                    Cell::new(r.ok.to_string()),
                    Cell::new(format!("{:.1}", r.achieved_rate)),
                    Cell::new(crate::metrics::fmt_us(r.p99_us)),
                    Cell::new(format!("{:+.0} ms", r.window_skew_ms)),
                    Cell::new(format!("{:.0} ms", r.late_ms)),
                    Cell::new(
                        r.clock_offset_ms
                            .map(|o| format!("{o:+.1} ms"))
                            .unwrap_or_else(|| "–".into()),
                    ),
                    Cell::new(if r.complete { "yes" } else { "no" }),
                    Cell::new(r.dir.clone()),
                ]
            })
            .collect(),
    }
}

/// `clinicload merge`: prints where the merged run is and exits like a run would (thresholds,
/// operations failed, interrupted).
pub fn merge_command(opts: &MergeOptions) -> Result<ExitCode> {
    let (summary, dir) = merge(opts)?;
    for w in &summary.warnings {
        eprintln!("note: {w}");
    }
    println!(
        "merged {} workers: {} ok operations, {:.1} ops/s achieved of {:.1} intended, p99 {}",
        summary.merged_from.len(),
        summary.overall.count,
        summary.run.achieved_rate,
        summary.run.intended_rate,
        crate::metrics::fmt_us(summary.overall.p99_all_us)
    );
    for t in &summary.thresholds {
        println!("{}", t.line());
    }
    println!("report: {}", dir.join("report.html").display());
    let code = crate::scenario::summary::exit_code(std::iter::once(&summary), false);
    Ok(crate::exit::code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values split over three "workers", encoded as worker.json holds them, decoded
    /// and added: the same histogram as all values recorded in one.
    #[test]
    fn merged_histograms_equal_the_histogram_of_all_samples() {
        let mut all = new_histogram();
        let mut parts = vec![new_histogram(), new_histogram(), new_histogram()];
        for v in 1..=30_000u64 {
            let value = v * v % 9_999_991 + 1;
            all.record(value).unwrap();
            parts[(v % 3) as usize].record(value).unwrap();
        }
        let mut merged = new_histogram();
        for p in &parts {
            merged.add(decode(&encode(p).unwrap()).unwrap()).unwrap();
        }
        assert_eq!(merged.len(), all.len());
        assert_eq!(merged, all);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.value_at_quantile(q), all.value_at_quantile(q));
        }
    }
}
