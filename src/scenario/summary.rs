//! A finished run's record: the histograms and facts the runner produced turned into the
//! plain [`Summary`] that `report/` renders, with the scenario's thresholds judged on it.

use std::collections::BTreeMap;

use crate::metrics::{Series, Stats, Totals};
use crate::report::{
    percentiles, Arrivals, DatasetInfo, ErrorKind, LoadFacts, Machine, OpReport, OrderedJson,
    RunFacts, ScenarioFacts, Summary, Unsupported, NOOP_WARN_SHARE, SCHEMA,
};

use super::ops::{OpKind, Store};
use super::runner::{label_name, RunOutcome, LATE_AFTER};
use super::schedule::Arrivals as ArrivalPattern;
use super::spec::{Load, OpSpec, Scenario};

/// What `rows` counts for an operation: bytes for the streams and cached JSON, else rows.
pub fn unit_of(kind: OpKind) -> &'static str {
    match kind {
        OpKind::VoiceRecording | OpKind::DoctorSchedule => "bytes",
        _ => "rows",
    }
}

/// What the reports print of the scenario, and its whole definition for summary.json.
pub fn scenario_facts(scenario: &Scenario) -> ScenarioFacts {
    let load = match &scenario.load {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            max_in_flight,
            arrivals,
        } => LoadFacts::Open {
            rate: *rate,
            ramp_from: *ramp_from,
            ramp: *ramp,
            max_in_flight: *max_in_flight,
            poisson: *arrivals == ArrivalPattern::Poisson,
        },
        Load::Closed { users, think_time } => LoadFacts::Closed {
            users: *users,
            think_time: *think_time,
        },
    };
    let c = &scenario.connections;
    let pools = [
        (Store::Postgres, "postgres", c.postgres),
        (Store::Mongo, "mongo", c.mongo),
        (Store::Redis, "redis", c.redis),
    ]
    .into_iter()
    .filter(|(store, _, _)| scenario.uses(*store))
    .map(|(_, name, n)| (name, n))
    .collect();
    ScenarioFacts {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        file: scenario.file.clone(),
        duration: scenario.duration,
        warmup: scenario.warmup,
        load,
        pools,
        queries: scenario
            .ops
            .iter()
            .map(|o| (o.name().to_string(), o.def.query.to_string()))
            .collect(),
        json: OrderedJson::of(scenario),
    }
}

fn arrivals_of(series: &[&Series], totals: &Totals, op: usize) -> Arrivals {
    let mut a = Arrivals::default();
    for s in series {
        a.ok += s.total.len();
        a.noop += s.noop;
        a.timed_out += s.timed_out;
        a.failed += s.errors - s.timed_out;
        a.unsupported += s.unsupported;
        a.missed += s.missed;
        a.abandoned += s.abandoned;
    }
    a.failed_by_kind = totals
        .errors
        .iter()
        .filter(|((o, k), _)| *o == op && k != "timeout")
        .map(|((_, k), e)| (k.clone(), e.count))
        .collect();
    a
}

/// The rows of every operation, the arrivals over all of them and the totals of rows and
/// bytes, from the recorder's series; warnings about no-op writes and unbalanced buckets.
struct OpRows {
    operations: Vec<OpReport>,
    all_arrivals: Arrivals,
    errors_by_kind: BTreeMap<String, ErrorKind>,
    rows: u64,
    bytes: u64,
}

/// A latency row of one operation (or one of its sub-labels).
#[allow(clippy::too_many_arguments)]
fn op_row(
    op: &OpSpec,
    unit: &'static str,
    secs: f64,
    label: String,
    sub: Option<String>,
    h: &hdrhistogram::Histogram<u64>,
    all: &hdrhistogram::Histogram<u64>,
    counts: (u64, u64, u64),
) -> OpReport {
    let (rows, errors, noop) = counts;
    let all_stats = Stats::of(all);
    OpReport {
        label,
        name: op.name().to_string(),
        sub,
        store: format!("{:?}", op.def.store).to_lowercase(),
        write: op.def.write,
        weight: op.weight,
        unit,
        count: h.len(),
        errors,
        noop,
        throughput: h.len() as f64 / secs,
        rows,
        rows_per_op: if h.is_empty() {
            0.0
        } else {
            rows as f64 / h.len() as f64
        },
        stats: Stats::of(h),
        all: all_stats,
        p99_all_us: all_stats.p99_us,
        arrivals: None,
        errors_by_kind: BTreeMap::new(),
        unsupported: None,
        percentiles: percentiles(h),
    }
}

/// Operation `i`'s errors by kind.
fn errors_of(totals: &Totals, i: usize) -> BTreeMap<String, ErrorKind> {
    totals
        .errors
        .iter()
        .filter(|((o, _), _)| *o == i)
        .map(|((_, k), e)| {
            (
                k.clone(),
                ErrorKind {
                    count: e.count,
                    example: e.example.clone(),
                },
            )
        })
        .collect()
}

/// Warnings about one operation's arrivals: too many no-op writes, buckets that do not add up.
fn arrival_warnings(op: &OpSpec, arrivals: &Arrivals, warnings: &mut Vec<String>) {
    if arrivals.accounted() > 0
        && arrivals.noop as f64 > NOOP_WARN_SHARE * arrivals.accounted() as f64
    {
        warnings.push(format!(
            "{}: {} of {} arrivals ({:.1}%) were writes that changed nothing (no-op): its targets ran out or were already in the state it sets",
            op.name(),
            arrivals.noop,
            arrivals.accounted(),
            100.0 * arrivals.noop as f64 / arrivals.accounted() as f64
        ));
    }
    if arrivals.accounted() != arrivals.intended {
        warnings.push(format!(
            "{}: arrivals do not add up: {} intended, {} accounted for ({arrivals:?}); please report this",
            op.name(),
            arrivals.intended,
            arrivals.accounted()
        ));
    }
}

fn op_rows(
    scenario: &Scenario,
    outcome: &RunOutcome,
    totals: &Totals,
    secs: f64,
    warnings: &mut Vec<String>,
) -> OpRows {
    let mut out = OpRows {
        operations: Vec::new(),
        all_arrivals: Arrivals::default(),
        errors_by_kind: BTreeMap::new(),
        rows: 0,
        bytes: 0,
    };
    for (i, op) in scenario.ops.iter().enumerate() {
        // The op's row merges its sub-labels; the sub-labels follow as their own rows.
        let series: Vec<&Series> = totals.series.iter().filter(|s| s.label.op == i).collect();
        let mut merged = crate::metrics::new_histogram();
        let mut merged_all = crate::metrics::new_histogram();
        let mut rows = 0;
        let mut errors = 0;
        for s in &series {
            let _ = merged.add(&s.total);
            let _ = merged_all.add(&s.all);
            rows += s.rows;
            errors += s.errors;
        }
        let unit = unit_of(op.def.kind);
        if unit == "bytes" {
            out.bytes += rows;
        } else {
            out.rows += rows;
        }
        let errors_by_kind = errors_of(totals, i);
        for (k, e) in &errors_by_kind {
            out.errors_by_kind
                .entry(k.clone())
                .and_modify(|o| o.count += e.count)
                .or_insert_with(|| e.clone());
        }
        let mut arrivals = arrivals_of(&series, totals, i);
        arrivals.intended = outcome.intended_per_op.get(i).copied().unwrap_or(0);
        let unsupported = outcome.unsupported[i].as_ref().map(|s| Unsupported {
            server_said: s.clone(),
            draws: arrivals.unsupported,
        });
        let name = op.name().to_string();
        let counts = (rows, errors, arrivals.noop);
        let mut main = op_row(op, unit, secs, name, None, &merged, &merged_all, counts);
        main.errors_by_kind = errors_by_kind;
        main.unsupported = unsupported;
        arrival_warnings(op, &arrivals, warnings);
        out.all_arrivals.add(&arrivals);
        main.arrivals = Some(arrivals);
        out.operations.push(main);
        for s in series.iter().filter(|s| s.label.sub.is_some()) {
            let label = label_name(scenario, s.label);
            let sub = s.label.sub.map(str::to_string);
            let counts = (s.rows, s.errors, s.noop);
            let row = op_row(op, unit, secs, label, sub, &s.total, &s.all, counts);
            out.operations.push(row);
        }
    }
    out
}

/// The "overall" row: every operation's arrivals together.
fn overall_row(totals: &Totals, rows: &OpRows, secs: f64) -> OpReport {
    let total_errors: u64 = totals.series.iter().map(|s| s.errors).sum();
    let total_noop: u64 = totals.series.iter().map(|s| s.noop).sum();
    let all_stats = Stats::of(&totals.overall_all);
    OpReport {
        label: "overall".into(),
        name: "overall".into(),
        sub: None,
        store: "all".into(),
        write: false,
        weight: 0,
        unit: "rows",
        count: totals.overall.len(),
        errors: total_errors,
        noop: total_noop,
        throughput: totals.overall.len() as f64 / secs,
        rows: rows.rows,
        rows_per_op: 0.0,
        stats: Stats::of(&totals.overall),
        all: all_stats,
        p99_all_us: all_stats.p99_us,
        arrivals: Some(rows.all_arrivals.clone()),
        errors_by_kind: rows.errors_by_kind.clone(),
        unsupported: None,
        percentiles: percentiles(&totals.overall),
    }
}

/// Arrivals that were handled (not missed or abandoned).
fn handled(a: &Arrivals) -> u64 {
    a.ok + a.noop + a.failed + a.timed_out + a.unsupported
}

/// Warnings about the run as a whole: a target rate not reached, abandoned arrivals.
fn run_warnings(open: bool, outcome: &RunOutcome, all: &Arrivals, secs: f64) -> Vec<String> {
    let mut warnings = Vec::new();
    warnings.extend(outcome.warmup.cap_warning());
    let handled = handled(all);
    // Compared with what was intended in the window (a ramp intends less than the target
    // rate), not with the target rate.
    if open && (all.missed > 0 || (handled as f64) < 0.95 * outcome.intended as f64) {
        warnings.push(format!(
            "target rate not reached: {handled} of {} intended arrivals were handled ({:.1} ops/s achieved of {:.1} ops/s intended{}); {} starts late, {} missed. Latencies include the waiting (measured from intended starts)",
            outcome.intended,
            handled as f64 / secs,
            outcome.intended as f64 / secs,
            outcome
                .target_rate
                .map(|t| format!(", target {t} ops/s"))
                .unwrap_or_default(),
            outcome.late_starts,
            all.missed
        ));
    }
    if all.abandoned > 0 {
        warnings.push(format!(
            "{} arrivals were abandoned: still running or queued {:.1} s after the end",
            all.abandoned,
            outcome.grace.as_secs_f64()
        ));
    }
    warnings
}

/// The run's facts: model, rates, buckets, start delays, warm-up and generator figures.
fn run_facts(
    scenario: &Scenario,
    outcome: &RunOutcome,
    all: &Arrivals,
    open: bool,
    secs: f64,
) -> RunFacts {
    RunFacts {
        restore: Default::default(),
        model: if open { "open" } else { "closed" },
        latency_from: if open {
            "intended start"
        } else {
            "actual start"
        },
        measured_s: outcome.measured.as_secs_f64(),
        interrupted: outcome.interrupted,
        aborted_by_threshold: outcome.aborted_by_threshold.clone(),
        target_rate: outcome.target_rate,
        intended_rate: outcome.intended as f64 / secs,
        achieved_rate: handled(all) as f64 / secs,
        intended: outcome.intended,
        error_rate: if outcome.intended == 0 {
            0.0
        } else {
            all.not_ok() as f64 / outcome.intended as f64
        },
        max_error_rate: scenario.max_error_rate,
        grace_s: outcome.grace.as_secs_f64(),
        arrivals: all.clone(),
        started: outcome.started,
        late_starts: outcome.late_starts,
        late_after_ms: LATE_AFTER.as_secs_f64() * 1000.0,
        missed: all.missed,
        start_delay_p99_us: if outcome.start_delay.is_empty() {
            0
        } else {
            outcome.start_delay.value_at_quantile(0.99)
        },
        start_delay_max_us: outcome.start_delay.max(),
        warmup_ops: outcome.warmup_ops,
        warmup_errors: outcome.warmup_errors,
        warmup: outcome.warmup.clone(),
        steadiness: steadiness(scenario, outcome),
        abandoned: all.abandoned,
        wal_bytes: None,
        generator: outcome.generator.clone(),
    }
}

/// Whether the measured window trended (`super::steady`), unless the run has no intervals;
/// a window the load ramps through is not judged (its latency follows the load).
fn steadiness(scenario: &Scenario, outcome: &RunOutcome) -> Option<crate::report::Steadiness> {
    if outcome.intervals.is_empty() {
        return None;
    }
    let ramps = match &scenario.load {
        Load::Open {
            rate,
            ramp_from,
            ramp,
            ..
        } => ramp.as_secs_f64() > outcome.warmup.seconds && ramp_from != rate,
        Load::Closed { .. } => false,
    };
    let why = ramps.then(|| {
        "not judged: the load ramps during the measured window, and latency that follows the load is no trend".to_string()
    });
    Some(super::steady::judge(
        &outcome.intervals,
        why,
        outcome.warmup.auto,
    ))
}

/// The report files of a run, by kind.
fn report_files() -> BTreeMap<String, String> {
    [
        ("summary_json", "summary.json"),
        ("hlog", "latency.hlog"),
        ("markdown", "summary.md"),
        ("html", "report.html"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Assembles the summary from the run's parts and judges the scenario's thresholds on it.
#[allow(clippy::too_many_arguments)]
pub fn summarize(
    run_id: &str,
    scenario: &Scenario,
    overrides: BTreeMap<String, String>,
    outcome: &RunOutcome,
    totals: &Totals,
    dataset: Option<DatasetInfo>,
    servers: BTreeMap<String, String>,
    warnings: Vec<String>,
) -> Summary {
    let mut warnings = warnings;
    let secs = outcome.measured.as_secs_f64().max(1e-9);
    let mut rows = op_rows(scenario, outcome, totals, secs, &mut warnings);
    // The operations' intended counts add up to the run's (each arrival runs one op).
    rows.all_arrivals.intended = outcome.intended;
    let overall = overall_row(totals, &rows, secs);
    let open = matches!(scenario.load, Load::Open { .. });
    warnings.extend(run_warnings(open, outcome, &rows.all_arrivals, secs));
    let run = run_facts(scenario, outcome, &rows.all_arrivals, open, secs);
    let started_at = chrono::DateTime::<chrono::Utc>::from(outcome.measured_from)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut summary = Summary {
        schema: SCHEMA,
        run_id: run_id.to_string(),
        clinicload_version: env!("CARGO_PKG_VERSION"),
        started_at,
        scenario: ScenarioFacts {
            // An automatic warm-up: how long it lasted (the scenario's is its cap).
            warmup: if outcome.warmup.auto {
                std::time::Duration::from_secs_f64(outcome.warmup.seconds)
            } else {
                scenario.warmup
            },
            ..scenario_facts(scenario)
        },
        command_line_overrides: overrides,
        dataset,
        servers,
        machine: Machine::detect(),
        run,
        overall,
        bytes: rows.bytes,
        operations: rows.operations,
        intervals: outcome.intervals.clone(),
        warnings,
        files: report_files(),
        cache: None,
        restore: None,
        thresholds: Vec::new(),
        indexes: None,
        sections: Vec::new(),
        worker: None,
        merged_from: Vec::new(),
    };
    summary.thresholds = crate::thresholds::evaluate(&scenario.thresholds, &summary);
    summary
}

/// The exit code of a run's summaries (`crate::exit`): interrupted, or operations failed
/// beyond the scenario's `max_error_rate`, or a threshold failed, or 0; a report that could
/// not be written is FAILURE.
pub fn exit_code<'a>(summaries: impl Iterator<Item = &'a Summary>, write_failed: bool) -> u8 {
    use crate::exit;
    let mut code = exit::OK;
    if write_failed {
        code = exit::worst(code, exit::FAILURE);
    }
    for s in summaries {
        if matches!(s.run.restore, crate::report::RestoreStatus::Failed { .. }) {
            code = exit::worst(code, exit::RESTORE_FAILED);
        }
        if s.run.interrupted {
            code = exit::worst(code, exit::INTERRUPTED);
        }
        if s.run.error_rate > s.run.max_error_rate {
            code = exit::worst(code, exit::OPERATIONS_FAILED);
        }
        if s.thresholds.iter().any(|v| !v.pass) || s.run.aborted_by_threshold.is_some() {
            code = exit::worst(code, exit::THRESHOLDS_FAILED);
        }
    }
    code
}
