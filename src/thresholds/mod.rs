//! Thresholds (SLOs) on a run: `"appointments_today.p99" = "< 15ms"` in a scenario's
//! `[thresholds]` table or `--threshold 'KEY EXPR'`, parsed here into plain data and judged
//! on the run's [`Summary`] as pass/fail verdicts. A failed threshold makes the run exit with
//! `exit::THRESHOLDS_FAILED`.
//!
//! Keys are `SCOPE.METRIC`: the scope is an operation of the scenario, `overall` (every
//! operation together) or `run` (the load as a whole). The canonical metric names (what
//! reports and later comparisons use) are:
//!
//! - latency, every arrival (what users waited, failures and misses included):
//!   `mean_all min_all p50_all p90_all p95_all p99_all p999_all max_all`; the bare names
//!   (`p99`, `max`, ...) mean these;
//! - latency, successful operations only: `mean_ok ... max_ok`;
//! - counts: `count` (successful operations), `failed`, `timed_out`, `missed`, `abandoned`,
//!   `noop` (the arrival buckets);
//! - rates (fractions): `error_rate` ((failed + timed out + missed + abandoned) / intended),
//!   `noop_rate` (no-op / intended); `throughput` (successful operations per second);
//! - `run.achieved_ratio` (handled / intended arrivals of the measured window: the achieved
//!   over the target rate when there is no ramp) and `run.achieved_rate` (ops/s).

use serde::Serialize;

use crate::report::{OpReport, Summary};

/// A latency statistic of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Mean,
    Min,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

const STATS: &[(&str, Stat)] = &[
    ("mean", Stat::Mean),
    ("min", Stat::Min),
    ("p50", Stat::P50),
    ("p90", Stat::P90),
    ("p95", Stat::P95),
    ("p99", Stat::P99),
    ("p999", Stat::P999),
    ("max", Stat::Max),
];

/// What a threshold measures, within its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `all`: every arrival's latency; else successful operations'.
    Latency {
        stat: Stat,
        all: bool,
    },
    Count,
    Failed,
    TimedOut,
    Missed,
    Abandoned,
    Noop,
    ErrorRate,
    NoopRate,
    Throughput,
    AchievedRatio,
    AchievedRate,
}

/// How a metric's value is written and normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Microseconds; written with a unit: `us`, `ms`, `s`.
    Time,
    /// A fraction; written as `0.001` or `0.1%`.
    Rate,
    /// A plain number.
    Count,
    /// Operations per second; a plain number (optionally `/s` or `ops/s`).
    PerSecond,
}

impl Kind {
    fn unit(self) -> &'static str {
        match self {
            Kind::Time => "us",
            Kind::Rate => "fraction",
            Kind::Count => "count",
            Kind::PerSecond => "ops/s",
        }
    }
}

const BUCKETS: &[(&str, Metric)] = &[
    ("count", Metric::Count),
    ("failed", Metric::Failed),
    ("timed_out", Metric::TimedOut),
    ("missed", Metric::Missed),
    ("abandoned", Metric::Abandoned),
    ("noop", Metric::Noop),
    ("error_rate", Metric::ErrorRate),
    ("noop_rate", Metric::NoopRate),
    ("throughput", Metric::Throughput),
];

const RUN_METRICS: &[(&str, Metric)] = &[
    ("achieved_ratio", Metric::AchievedRatio),
    ("achieved_rate", Metric::AchievedRate),
];

impl Metric {
    /// The canonical name (`p99_all`, `error_rate`, ...).
    pub fn name(self) -> String {
        match self {
            Metric::Latency { stat, all } => {
                let s = STATS.iter().find(|(_, x)| *x == stat).unwrap().0;
                format!("{s}_{}", if all { "all" } else { "ok" })
            }
            other => BUCKETS
                .iter()
                .chain(RUN_METRICS)
                .find(|(_, m)| *m == other)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::Latency { .. } => Kind::Time,
            Metric::ErrorRate | Metric::NoopRate | Metric::AchievedRatio => Kind::Rate,
            Metric::Throughput | Metric::AchievedRate => Kind::PerSecond,
            _ => Kind::Count,
        }
    }

    /// Whether a larger value is an improvement (throughput, successful operations, the
    /// achieved rate) rather than a degradation (latencies, failures, error rates).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::Count | Metric::Throughput | Metric::AchievedRatio | Metric::AchievedRate
        )
    }

    /// A metric of an operation or `overall` by any accepted spelling: `p99` and `p99_all`
    /// (every arrival), `p99_ok`, `p99.9` for `p999`.
    fn of_op(name: &str) -> Option<Metric> {
        if let Some((_, m)) = BUCKETS.iter().find(|(n, _)| *n == name) {
            return Some(*m);
        }
        let (base, all) = if let Some(b) = name.strip_suffix("_ok") {
            (b, false)
        } else {
            (name.strip_suffix("_all").unwrap_or(name), true)
        };
        let base = if base == "p99.9" { "p999" } else { base };
        STATS
            .iter()
            .find(|(n, _)| *n == base)
            .map(|(_, stat)| Metric::Latency { stat: *stat, all })
    }
}

/// Where a metric is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Run,
    Overall,
    Op(String),
}

impl Scope {
    pub fn name(&self) -> &str {
        match self {
            Scope::Run => "run",
            Scope::Overall => "overall",
            Scope::Op(o) => o,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRef {
    pub scope: Scope,
    pub metric: Metric,
}

/// The comparison a threshold demands of the observed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    /// "<", "<=", ">" or ">=", as written and as summary.json has it.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// Whether `observed` meets it; NaN never does.
    pub fn holds(self, observed: f64, value: f64) -> bool {
        match self {
            Cmp::Lt => observed < value,
            Cmp::Le => observed <= value,
            Cmp::Gt => observed > value,
            Cmp::Ge => observed >= value,
        }
    }
}

/// One threshold, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Threshold {
    /// `SCOPE.METRIC` with the canonical metric name, e.g. `appointments_today.p99_all`.
    pub key: String,
    #[serde(skip)]
    pub metric: MetricRef,
    pub op: Cmp,
    /// Normalised: microseconds for latencies, a fraction for rates.
    pub value: f64,
    /// What `value` is in: "us", "fraction", "count" or "ops/s".
    pub unit: &'static str,
    /// The expression as written, e.g. "< 15ms".
    pub text: String,
    /// Where it was given: `file:line` or `--threshold`.
    pub source: String,
}

/// A threshold that cannot be parsed: what is wrong and what to write instead.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub hint: String,
}

fn metric_list() -> String {
    let lat: Vec<&str> = STATS.iter().map(|(n, _)| *n).collect();
    format!(
        "{} (every arrival's latency; add _ok for successful operations only), {}",
        lat.join(", "),
        BUCKETS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Parses a metric key (`SCOPE.METRIC`, any accepted spelling of the metric). `ops` are the
/// scenario's operation names (the valid scopes besides `overall` and `run`).
pub fn parse_key(key: &str, ops: &[&str]) -> Result<MetricRef, ParseError> {
    let key = key.trim();
    let bad = |message: String, hint: String| ParseError { message, hint };
    let Some((scope, metric)) = key.split_once('.') else {
        return Err(bad(
            format!("metric {key:?} has no scope"),
            "write SCOPE.METRIC, e.g. \"appointments_today.p99\", \"overall.error_rate\" or \"run.achieved_ratio\"".into(),
        ));
    };
    let scope = match scope {
        "run" => Scope::Run,
        "overall" => Scope::Overall,
        op if ops.contains(&op) => Scope::Op(op.to_string()),
        other => {
            return Err(bad(
                format!("{key:?} names {other:?}, which is not an operation of this scenario"),
                format!(
                    "use one of the scenario's operations ({}), overall or run",
                    ops.join(", ")
                ),
            ))
        }
    };
    let found = match scope {
        Scope::Run => RUN_METRICS
            .iter()
            .find(|(n, _)| *n == metric)
            .map(|(_, m)| *m),
        _ => Metric::of_op(metric),
    };
    let Some(metric) = found else {
        let valid = match scope {
            Scope::Run => format!(
                "run takes {}; the other metrics belong to overall or an operation",
                RUN_METRICS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("metrics: {}", metric_list()),
        };
        return Err(bad(format!("{key:?}: unknown metric {metric:?}"), valid));
    };
    Ok(MetricRef { scope, metric })
}

impl MetricRef {
    /// `SCOPE.METRIC` with the canonical metric name.
    pub fn key(&self) -> String {
        format!("{}.{}", self.scope.name(), self.metric.name())
    }
}

/// Parses `key` (`SCOPE.METRIC`) and `expr` (`< 15ms`). `ops` are the scenario's operation
/// names (the valid scopes besides `overall` and `run`).
pub fn parse(key: &str, expr: &str, ops: &[&str], source: &str) -> Result<Threshold, ParseError> {
    let key = key.trim();
    let bad = |message: String, hint: String| ParseError { message, hint };
    let metric_ref = parse_key(key, ops).map_err(|e| ParseError {
        message: format!("threshold {}", e.message),
        hint: e.hint,
    })?;
    let metric = metric_ref.metric;
    let kind = metric.kind();
    let (op, value) = parse_expr(expr, kind).map_err(|m| {
        bad(
            format!("threshold {key:?} = {:?}: {m}", expr.trim()),
            match kind {
                Kind::Time => "write a comparison and a latency with its unit: \"< 15ms\", \"<= 2s\", \"< 800us\"",
                Kind::Rate => "write a comparison and a fraction or a percentage: \"< 0.1%\", \">= 0.99\"",
                Kind::Count => "write a comparison and a number: \"< 10\" (\"< 1\" for none at all)",
                Kind::PerSecond => "write a comparison and operations per second: \"> 100\"",
            }
            .to_string(),
        )
    })?;
    Ok(Threshold {
        key: metric_ref.key(),
        metric: metric_ref,
        op,
        value,
        unit: kind.unit(),
        text: expr.trim().to_string(),
        source: source.to_string(),
    })
}

/// `--threshold 'KEY EXPR'`: the key, then the expression after the first space.
pub fn parse_flag(arg: &str, ops: &[&str]) -> Result<Threshold, ParseError> {
    let t = arg.trim();
    let split = t.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>'));
    let Some(i) = split else {
        return Err(ParseError {
            message: format!("--threshold {t:?} has no expression"),
            hint: "write --threshold 'KEY EXPR', e.g. --threshold 'appointments_today.p99 < 15ms'"
                .into(),
        });
    };
    let (key, expr) = t.split_at(i);
    let expr = expr.trim_start().trim_start_matches('=').trim_start();
    parse(key, expr, ops, "--threshold")
}

fn parse_expr(expr: &str, kind: Kind) -> Result<(Cmp, f64), String> {
    let t = expr.trim();
    let (op, rest) = if let Some(r) = t.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = t.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (Cmp::Lt, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (Cmp::Gt, r)
    } else {
        return Err("it does not start with <, <=, > or >=".into());
    };
    let rest = rest.trim();
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (num, unit) = rest.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{rest:?} does not start with a number"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("{num:?} is not a non-negative number"));
    }
    let unit = unit.trim();
    let value = match kind {
        Kind::Time => match unit {
            "us" | "µs" => n,
            "ms" => n * 1_000.0,
            "s" => n * 1_000_000.0,
            "" => return Err("a latency needs a unit (us, ms or s)".into()),
            other => return Err(format!("unknown latency unit {other:?} (use us, ms or s)")),
        },
        Kind::Rate => match unit {
            "%" if n <= 100.0 => n / 100.0,
            "%" => return Err(format!("{n}% is more than 100%")),
            "" if n <= 1.0 => n,
            "" => {
                return Err(format!(
                    "{n} is not a fraction between 0 and 1 (for a percentage write {n}%)"
                ))
            }
            other => return Err(format!("unknown unit {other:?} for a rate (use % or none)")),
        },
        Kind::Count => match unit {
            "" => n,
            other => return Err(format!("a count takes no unit, not {other:?}")),
        },
        Kind::PerSecond => match unit {
            "" | "/s" | "ops/s" => n,
            other => {
                return Err(format!(
                    "unknown unit {other:?} for a throughput (use none or ops/s)"
                ))
            }
        },
    };
    Ok((op, value))
}

/// A threshold judged on a run, as the report holds it.
pub type Verdict = crate::report::ThresholdVerdict;

/// Judges every threshold on the summary, in order.
pub fn evaluate(thresholds: &[Threshold], summary: &Summary) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|t| {
            let observed = observe(&t.metric, summary).filter(|v| !v.is_nan());
            let pass = observed.is_some_and(|o| t.op.holds(o, t.value));
            Verdict {
                key: t.key.clone(),
                op: t.op.symbol(),
                value: t.value,
                unit: t.unit,
                text: t.text.clone(),
                source: t.source.clone(),
                observed,
                observed_text: observed
                    .map(|o| show(t.metric.metric.kind(), o))
                    .unwrap_or_else(|| "no data".into()),
                pass,
            }
        })
        .collect()
}

/// A value in its kind's usual unit.
pub fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Time if v >= 1_000_000.0 => format!("{:.3}s", v / 1_000_000.0),
        Kind::Time if v >= 1_000.0 => format!("{:.3}ms", v / 1_000.0),
        Kind::Time => format!("{v:.0}us"),
        Kind::Rate => format!("{:.3}%", v * 100.0),
        Kind::Count => format!("{v:.0}"),
        Kind::PerSecond => format!("{v:.1} ops/s"),
    }
}

fn stat_of(st: &crate::metrics::Stats, stat: Stat) -> f64 {
    match stat {
        Stat::Mean => st.mean_us,
        Stat::Min => st.min_us as f64,
        Stat::P50 => st.p50_us as f64,
        Stat::P90 => st.p90_us as f64,
        Stat::P95 => st.p95_us as f64,
        Stat::P99 => st.p99_us as f64,
        Stat::P999 => st.p999_us as f64,
        Stat::Max => st.max_us as f64,
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The metric's observed value, or None when the run gives nothing to judge it on.
pub fn observe(m: &MetricRef, s: &Summary) -> Option<f64> {
    let row: &OpReport = match &m.scope {
        Scope::Run => {
            return match m.metric {
                Metric::AchievedRate => Some(s.run.achieved_rate),
                Metric::AchievedRatio => {
                    (s.run.intended_rate > 0.0).then(|| s.run.achieved_rate / s.run.intended_rate)
                }
                _ => None,
            }
        }
        Scope::Overall => &s.overall,
        Scope::Op(name) => s
            .operations
            .iter()
            .find(|o| o.sub.is_none() && o.label == *name)?,
    };
    let arrivals = row.arrivals.clone().unwrap_or_default();
    match m.metric {
        Metric::Latency { stat, all } => {
            let st = if all { &row.all } else { &row.stats };
            if st.count == 0 {
                return None;
            }
            Some(stat_of(st, stat))
        }
        Metric::Count => Some(row.count as f64),
        Metric::Failed => Some(arrivals.failed as f64),
        Metric::TimedOut => Some(arrivals.timed_out as f64),
        Metric::Missed => Some(arrivals.missed as f64),
        Metric::Abandoned => Some(arrivals.abandoned as f64),
        Metric::Noop => Some(arrivals.noop as f64),
        Metric::ErrorRate => ratio(arrivals.not_ok(), arrivals.intended),
        Metric::NoopRate => ratio(arrivals.noop, arrivals.intended),
        Metric::Throughput => Some(row.throughput),
        Metric::AchievedRatio | Metric::AchievedRate => None,
    }
}

/// Whether `t` can be judged on a run still going (`abort_on_fail`): latencies and rates,
/// and the buckets against an upper bound (they only grow). Counts, throughput and the
/// run's rates are judged only at the end.
pub fn judged_live(t: &Threshold) -> bool {
    if t.metric.scope == Scope::Run {
        return false;
    }
    match t.metric.metric {
        Metric::Latency { .. } | Metric::ErrorRate | Metric::NoopRate => true,
        Metric::Failed | Metric::TimedOut | Metric::Missed | Metric::Abandoned | Metric::Noop => {
            matches!(t.op, Cmp::Lt | Cmp::Le)
        }
        _ => false,
    }
}

/// A metric of an operation or `overall` on the recorder's totals so far; rates are over the
/// arrivals that have ended (the intended count is known only at the end).
pub fn observe_live(m: &MetricRef, totals: &crate::metrics::Totals, ops: &[&str]) -> Option<f64> {
    let op = match &m.scope {
        Scope::Run => return None,
        Scope::Overall => None,
        Scope::Op(name) => Some(ops.iter().position(|o| o == name)?),
    };
    let series: Vec<&crate::metrics::Series> = totals
        .series
        .iter()
        .filter(|s| op.map_or(true, |i| s.label.op == i))
        .collect();
    let sum = |f: fn(&crate::metrics::Series) -> u64| series.iter().map(|s| f(s)).sum::<u64>();
    let (mut ok, mut all) = (
        crate::metrics::new_histogram(),
        crate::metrics::new_histogram(),
    );
    for s in &series {
        let _ = ok.add(&s.total);
        let _ = all.add(&s.all);
    }
    let ended = sum(|s| s.arrivals());
    let not_ok = sum(|s| s.errors + s.missed + s.abandoned);
    match m.metric {
        Metric::Latency { stat, all: every } => {
            let h = if every { &all } else { &ok };
            if h.is_empty() {
                return None;
            }
            Some(stat_of(&crate::metrics::Stats::of(h), stat))
        }
        Metric::Failed => Some(sum(|s| s.errors - s.timed_out) as f64),
        Metric::TimedOut => Some(sum(|s| s.timed_out) as f64),
        Metric::Missed => Some(sum(|s| s.missed) as f64),
        Metric::Abandoned => Some(sum(|s| s.abandoned) as f64),
        Metric::Noop => Some(sum(|s| s.noop) as f64),
        Metric::ErrorRate => ratio(not_ok, ended),
        Metric::NoopRate => ratio(sum(|s| s.noop), ended),
        _ => None,
    }
}

/// The first threshold that can be judged now and fails on the run so far, as its report
/// line (`abort_on_fail`); None while every judged one holds or has no data yet.
pub fn failing_live(
    thresholds: &[Threshold],
    totals: &crate::metrics::Totals,
    ops: &[&str],
) -> Option<String> {
    thresholds.iter().filter(|t| judged_live(t)).find_map(|t| {
        let o = observe_live(&t.metric, totals, ops)?;
        (!t.op.holds(o, t.value)).then(|| {
            format!(
                "{} {}: observed {} so far",
                t.key,
                t.text,
                show(t.metric.metric.kind(), o)
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &[&str] = &["appointments_today", "book_appointment"];

    fn p(key: &str, expr: &str) -> Result<Threshold, ParseError> {
        parse(key, expr, OPS, "t.toml:3")
    }

    #[test]
    fn units_and_percentages_are_normalised() {
        let t = p("appointments_today.p99", "< 15ms").unwrap();
        assert_eq!(t.key, "appointments_today.p99_all");
        assert_eq!((t.op, t.value, t.unit), (Cmp::Lt, 15_000.0, "us"));
        assert_eq!(p("overall.max", "<= 2s").unwrap().value, 2_000_000.0);
        assert_eq!(
            p("overall.p50_ok", "< 800us").unwrap().key,
            "overall.p50_ok"
        );
        assert_eq!(p("overall.p99.9", "< 1ms").unwrap().key, "overall.p999_all");
        let r = p("overall.error_rate", "< 0.1%").unwrap();
        assert!((r.value - 0.001).abs() < 1e-12);
        assert_eq!(r.unit, "fraction");
        assert_eq!(p("run.achieved_ratio", ">= 0.99").unwrap().value, 0.99);
        assert_eq!(p("book_appointment.noop", "< 5").unwrap().value, 5.0);
        assert_eq!(
            p("book_appointment.throughput", "> 100 ops/s").unwrap().op,
            Cmp::Gt
        );
        let f = parse_flag("appointments_today.p99<15ms", OPS).unwrap();
        assert_eq!((f.value, f.source.as_str()), (15_000.0, "--threshold"));
    }

    #[test]
    fn mistakes_are_refused_with_a_hint() {
        let e = p("appointments_tomorrow.p99", "< 1ms").unwrap_err();
        assert!(e.message.contains("not an operation"), "{e:?}");
        assert!(e.hint.contains("appointments_today"), "{e:?}");
        let e = p("overall.p98", "< 1ms").unwrap_err();
        assert!(e.message.contains("unknown metric"), "{e:?}");
        assert!(e.hint.contains("p99"), "{e:?}");
        assert!(p("run.p99", "< 1ms")
            .unwrap_err()
            .hint
            .contains("achieved_ratio"));
        assert!(p("overall", "< 1ms").is_err());
        assert!(p("overall.p99", "< 15")
            .unwrap_err()
            .message
            .contains("unit"));
        assert!(p("overall.p99", "15ms").is_err());
        assert!(p("overall.p99", "< 15 parsecs").is_err());
        assert!(p("overall.error_rate", "< 5")
            .unwrap_err()
            .message
            .contains("5%"));
        assert!(p("overall.error_rate", "< 150%").is_err());
        assert!(p("overall.count", "< 5ms").is_err());
        assert!(p("overall.p99", "< -1ms").is_err());
        assert!(p("overall.p99", "< nanms").is_err());
        assert!(parse_flag("overall.p99", OPS).is_err());
    }

    #[test]
    fn comparisons_are_nan_safe_and_exact_at_the_edge() {
        assert!(Cmp::Le.holds(15_000.0, 15_000.0));
        assert!(!Cmp::Lt.holds(15_000.0, 15_000.0));
        assert!(Cmp::Ge.holds(0.99, 0.99));
        assert!(!Cmp::Gt.holds(0.99, 0.99));
        for c in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge] {
            assert!(!c.holds(f64::NAN, 1.0), "{c:?} held for NaN");
        }
    }

    #[test]
    fn live_judgement_reads_the_recorder_and_skips_what_only_the_end_can_tell() {
        use crate::metrics::{Label, Recorder};
        let rec = Recorder::new();
        let op = |op| Label { op, sub: None };
        for _ in 0..99 {
            rec.record(op(0), 1_000, 1);
        }
        rec.record_error(1, "timeout", "slow", 50_000);
        let totals = rec.totals();
        let live = |key: &str, expr: &str| failing_live(&[p(key, expr).unwrap()], &totals, OPS);
        assert_eq!(live("appointments_today.p99", "< 2ms"), None);
        let f = live("appointments_today.max", "< 1ms").expect("max 1ms fails < 1ms");
        assert!(
            f.starts_with("appointments_today.max_all < 1ms: observed 1.000ms"),
            "{f}"
        );
        assert!(
            live("overall.error_rate", "< 1%").is_some(),
            "1 of 100 is not < 1%"
        );
        assert_eq!(live("overall.error_rate", "<= 1%"), None);
        assert!(live("book_appointment.timed_out", "< 1").is_some());
        // No data yet is not a failure while running; counts and throughput wait for the end.
        assert_eq!(live("book_appointment.p99_ok", "< 1us"), None);
        assert_eq!(live("overall.count", "> 1000"), None);
        assert_eq!(live("run.achieved_ratio", ">= 0.99"), None);
        assert!(!judged_live(&p("overall.failed", "> 3").unwrap()));
    }

    #[test]
    fn shown_values_use_the_metric_unit() {
        assert_eq!(show(Kind::Time, 17_204.0), "17.204ms");
        assert_eq!(show(Kind::Time, 2_500_000.0), "2.500s");
        assert_eq!(show(Kind::Time, 800.0), "800us");
        assert_eq!(show(Kind::Rate, 0.0012), "0.120%");
    }
}
