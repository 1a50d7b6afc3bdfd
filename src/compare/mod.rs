//! `clinicload compare BASE CANDIDATE`: is the candidate slower than the baseline, with
//! statistics rather than eyeballing? Each side is a set of repeated runs (one-second
//! intervals of one run are not independent and never count as repeats). Per gated metric
//! (`--metrics`, else the scenario's thresholds' metrics, else p50 and p99 of every
//! operation) a Mann-Whitney U test on the repeats' values, Holm's correction across the
//! gated metrics, and a noise threshold: a change counts only when it is significant at
//! alpha after the correction AND its size (ratio of medians) exceeds the threshold.
//! Other figures (p50/p90/p99/max/throughput of each operation) are shown, not tested.
//!
//! Also `clinicload baseline save|show` (a side kept under `reports/baselines/NAME/`), and
//! the outputs CI reads: `compare.json`, `summary.md`, `junit.xml`, `report.html`.

pub mod side;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::report::page::{self, Cell, Chart, Page, Table, Tone};
use crate::report::{junit, write_atomic};
use crate::thresholds::{self, Kind};
pub use side::{Provenance, Repeat, Side};

/// Schema of `compare.json`.
pub const SCHEMA: &str = "clinicload.compare/1";

/// A pull-request comment holds at most 65,536 characters.
pub const MARKDOWN_LIMIT: usize = 64 * 1024;

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Smallest relative change of a median that counts (0.05 = 5%).
    pub noise: f64,
    /// Significance level of the whole family of gated metrics (after Holm).
    pub alpha: f64,
    /// Metric keys to test; empty: the thresholds' metrics, else p50 and p99 per operation.
    pub metrics: Vec<String>,
    /// Compare sides whose scenario, dataset, servers or machine differ (reported).
    pub allow_mismatch: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            noise: 0.05,
            alpha: 0.05,
            metrics: Vec::new(),
            allow_mismatch: false,
        }
    }
}

/// A gated metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "worse")]
    Worse,
    #[serde(rename = "no significant change")]
    NoChange,
    /// Too few samples to tell.
    #[serde(rename = "inconclusive")]
    Inconclusive,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoChange => "no significant change",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One metric on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    /// `SCOPE.METRIC`, e.g. `appointments_today.p99_all`.
    pub key: String,
    /// "us", "fraction", "count" or "ops/s".
    pub unit: &'static str,
    pub higher_is_better: bool,
    /// Tested (a verdict) or only shown.
    pub gated: bool,
    pub baseline: Vec<f64>,
    pub candidate: Vec<f64>,
    pub baseline_median: Option<f64>,
    pub candidate_median: Option<f64>,
    /// median(candidate) / median(baseline) - 1; null when the baseline median is 0.
    pub change: Option<f64>,
    /// 95% bootstrap interval of the change.
    pub change_ci: Option<(f64, f64)>,
    /// Two-sided Mann-Whitney p-value, and after Holm's correction (gated only).
    pub p: Option<f64>,
    pub p_holm: Option<f64>,
    pub verdict: Option<Verdict>,
    /// Why the verdict is what it is, in a sentence.
    pub reason: String,
}

/// A threshold judged on the candidate's repeats (by `gate`): the median of the repeats'
/// observed values against the threshold.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdOutcome {
    pub key: String,
    pub text: String,
    pub source: String,
    pub observed: Option<f64>,
    pub observed_text: String,
    pub pass: bool,
    /// Repeats in which the threshold failed, of all repeats.
    pub failed_in: usize,
    pub repeats: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    pub source: String,
    pub provenance: Provenance,
    pub runs: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub alpha: f64,
    pub noise: f64,
    /// Where the gated metrics came from: "--metrics", "thresholds" or "default (p50 and p99 of each operation)".
    pub metrics_from: String,
    /// Number of gated metrics tested together (Holm's family).
    pub tests: usize,
    /// Repeats per side needed for the correction to be able to fire at all.
    pub repeats_needed: usize,
}

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "pass")]
    Pass,
    /// A candidate run failed beyond the scenario's max_error_rate.
    #[serde(rename = "operations failed")]
    OperationsFailed,
    #[serde(rename = "regression")]
    Regression,
    #[serde(rename = "threshold failed")]
    ThresholdFailed,
    /// A gated metric could not be decided (too few repeats or values).
    #[serde(rename = "inconclusive")]
    Inconclusive,
}

/// `compare.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub schema: &'static str,
    pub created_at: String,
    pub outcome: Outcome,
    pub exit_code: u8,
    pub baseline: SideInfo,
    pub candidate: SideInfo,
    pub settings: Settings,
    /// Differences of provenance compared anyway (`--allow-mismatch`, or a gate's declared
    /// difference).
    pub mismatches: Vec<String>,
    /// Gated metrics first (worst first), then the shown ones.
    pub metrics: Vec<MetricComparison>,
    pub thresholds: Vec<ThresholdOutcome>,
    /// A candidate repeat failed beyond the scenario's max_error_rate: whatever its
    /// latencies say (failures are often fast), the candidate is broken (exit 3).
    pub candidate_operations_failed: bool,
    pub warnings: Vec<String>,
}

fn kind_unit(k: Kind) -> &'static str {
    match k {
        Kind::Time => "us",
        Kind::Rate => "fraction",
        Kind::Count => "count",
        Kind::PerSecond => "ops/s",
    }
}

/// The gated metric keys (canonical) and where they came from.
fn gated_keys(opts: &CompareOptions, cand: &Side) -> Result<(Vec<String>, String)> {
    let ops: Vec<&str> = cand
        .provenance
        .operations
        .iter()
        .map(String::as_str)
        .collect();
    if !opts.metrics.is_empty() {
        let mut keys = Vec::new();
        for m in &opts.metrics {
            let r = thresholds::parse_key(m, &ops)
                .map_err(|e| anyhow::anyhow!("--metrics {}; {}", e.message, e.hint))?;
            keys.push(r.key());
        }
        return Ok((unique(keys), "--metrics".into()));
    }
    if !cand.provenance.thresholds.is_empty() {
        return Ok((
            unique(cand.provenance.thresholds.clone()),
            "thresholds".into(),
        ));
    }
    let keys = ops
        .iter()
        .flat_map(|o| [format!("{o}.p50_all"), format!("{o}.p99_all")])
        .collect();
    Ok((keys, "default (p50 and p99 of each operation)".into()))
}

/// `keys` without repeats, in their first order (two thresholds on one metric, a range, are
/// one gated metric).
pub fn unique(keys: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// A side's values of a metric, one per repeat; interrupted repeats are left out.
fn values(side: &Side, key: &str) -> Vec<f64> {
    side.repeats
        .iter()
        .filter(|r| !r.interrupted)
        .filter_map(|r| r.values.get(key).copied())
        .filter(|v| v.is_finite())
        .collect()
}

fn metric_info(key: &str, ops: &[&str]) -> (&'static str, bool) {
    match thresholds::parse_key(key, ops) {
        Ok(r) => (kind_unit(r.metric.kind()), r.metric.higher_is_better()),
        Err(_) => ("count", false),
    }
}

fn describe(key: &str, base: &Side, cand: &Side, ops: &[&str], gated: bool) -> MetricComparison {
    let (unit, higher_is_better) = metric_info(key, ops);
    let b = values(base, key);
    let c = values(cand, key);
    let bm = (!b.is_empty()).then(|| stats::median(&b));
    let cm = (!c.is_empty()).then(|| stats::median(&c));
    let change = match (bm, cm) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b - 1.0),
        (Some(_), Some(0.0)) => Some(0.0),
        _ => None,
    };
    // A bootstrap of 1 or 2 values is a point, not an interval.
    let change_ci = (b.len() >= 3 && c.len() >= 3)
        .then(|| stats::ratio_interval(&b, &c, 10_000))
        .flatten()
        .map(|(lo, hi)| (lo - 1.0, hi - 1.0));
    MetricComparison {
        key: key.to_string(),
        unit,
        higher_is_better,
        gated,
        baseline: b,
        candidate: c,
        baseline_median: bm,
        candidate_median: cm,
        change,
        change_ci,
        p: None,
        p_holm: None,
        verdict: None,
        reason: String::new(),
    }
}

/// Compares two sides. Refuses sides whose provenance differs unless `allow_mismatch`;
/// `declared` differences (a gate's two schema states) are reported, not refused.
pub fn compare(base: &Side, cand: &Side, opts: &CompareOptions) -> Result<Comparison> {
    let mismatches = side::mismatches(&base.provenance, &cand.provenance);
    check_comparable(base, cand, opts, &mismatches)?;
    let ops: Vec<&str> = cand
        .provenance
        .operations
        .iter()
        .map(String::as_str)
        .collect();
    let (keys, metrics_from) = gated_keys(opts, cand)?;

    let mut gated: Vec<MetricComparison> = keys
        .iter()
        .map(|k| describe(k, base, cand, &ops, true))
        .collect();
    let (tests, repeats_needed) = judge_gated(&mut gated, opts);
    let n = base
        .repeats
        .iter()
        .filter(|r| !r.interrupted)
        .count()
        .min(cand.repeats.iter().filter(|r| !r.interrupted).count());
    mark_untestable(&mut gated);
    let rank = |v: Option<Verdict>| match v {
        Some(Verdict::Worse) => 0,
        Some(Verdict::Inconclusive) => 1,
        Some(Verdict::Better) => 2,
        _ => 3,
    };
    gated.sort_by_key(|m| rank(m.verdict));

    let shown = shown_metrics(base, cand, &ops, &keys);
    let warnings = comparison_warnings(base, cand, n, tests, repeats_needed);
    let mut c = Comparison {
        schema: SCHEMA,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        outcome: Outcome::Pass,
        exit_code: crate::exit::OK,
        baseline: side_info(base),
        candidate: side_info(cand),
        settings: Settings {
            alpha: opts.alpha,
            noise: opts.noise,
            metrics_from,
            tests,
            repeats_needed,
        },
        mismatches,
        metrics: gated.into_iter().chain(shown).collect(),
        thresholds: Vec::new(),
        candidate_operations_failed: cand.repeats.iter().any(|r| r.operations_failed),
        warnings,
    };
    c.refresh();
    Ok(c)
}

/// Refuses mismatched sides (unless allowed) and an alpha or noise out of range.
fn check_comparable(
    base: &Side,
    cand: &Side,
    opts: &CompareOptions,
    mismatches: &[String],
) -> Result<()> {
    if !mismatches.is_empty() && !opts.allow_mismatch {
        bail!(
            "refusing to compare {} with {}: {}. Runs on different data, servers, machines or loads differ for reasons other than the change under test; re-run both sides alike, or pass --allow-mismatch to compare anyway",
            base.source,
            cand.source,
            mismatches.join("; ")
        );
    }
    if !(0.0..1.0).contains(&opts.alpha) || opts.alpha == 0.0 {
        bail!("--alpha {} is not between 0 and 1 (e.g. 0.05)", opts.alpha);
    }
    if !(0.0..10.0).contains(&opts.noise) {
        bail!(
            "--noise {} is not a fraction between 0 and 10 (e.g. 5% or 0.05)",
            opts.noise
        );
    }
    Ok(())
}

/// Tests the gated metrics with two values a side (Holm's family) and gives each a verdict;
/// returns the family's size and the repeats per side it needs.
fn judge_gated(gated: &mut [MetricComparison], opts: &CompareOptions) -> (usize, usize) {
    // Holm's family: the gated metrics that have at least two values on each side.
    let testable: Vec<usize> = (0..gated.len())
        .filter(|&i| gated[i].baseline.len() >= 2 && gated[i].candidate.len() >= 2)
        .collect();
    let tests = testable.len();
    let repeats_needed = stats::repeats_for(tests.max(1), opts.alpha);
    let rank_tests: Vec<stats::RankTest> = testable
        .iter()
        .map(|&i| stats::mann_whitney(&gated[i].baseline, &gated[i].candidate))
        .collect();
    let ps: Vec<f64> = rank_tests.iter().map(|t| t.p).collect();
    let adjusted = stats::holm(&ps);
    for (j, &i) in testable.iter().enumerate() {
        let m = &mut gated[i];
        m.p = Some(ps[j]);
        m.p_holm = Some(adjusted[j]);
        let (verdict, reason) =
            tested_verdict(m, rank_tests[j], adjusted[j], tests, repeats_needed, opts);
        m.verdict = Some(verdict);
        m.reason = reason;
    }
    (tests, repeats_needed)
}

/// The verdict and its reason for a tested metric, from its rank test and p after Holm.
fn tested_verdict(
    m: &MetricComparison,
    t: stats::RankTest,
    p_holm: f64,
    tests: usize,
    repeats_needed: usize,
    opts: &CompareOptions,
) -> (Verdict, String) {
    // Whether any arrangement of these values (ties included) could have been significant.
    let reachable = tests as f64 * t.p_min < opts.alpha;
    let significant = p_holm < opts.alpha;
    let size = m.change.map(f64::abs).unwrap_or(f64::INFINITY);
    // The direction of the shift, from the ranks (U of the baseline below nm/2: the
    // candidate's values rank higher), the medians when the ranks are even.
    let half = (m.baseline.len() * m.candidate.len()) as f64 / 2.0;
    let up = if t.u != half {
        t.u < half
    } else {
        m.candidate_median > m.baseline_median
    };
    let identical = m
        .baseline
        .iter()
        .chain(&m.candidate)
        .all(|v| *v == m.baseline[0]);
    if identical {
        (
            Verdict::NoChange,
            "every repeat of both sides has the same value".to_string(),
        )
    } else if significant && size >= opts.noise {
        let worse = up != m.higher_is_better;
        (
            if worse {
                Verdict::Worse
            } else {
                Verdict::Better
            },
            format!(
                "significant (p {} after Holm < {}) and beyond the {:.0}% noise threshold",
                fmt_p(p_holm),
                opts.alpha,
                opts.noise * 100.0
            ),
        )
    } else if significant {
        (
            Verdict::NoChange,
            format!(
                "significant (p {}) but within the {:.1}% noise threshold",
                fmt_p(p_holm),
                opts.noise * 100.0
            ),
        )
    } else if !reachable {
        (
            Verdict::Inconclusive,
            format!(
                "{} and {} repeats with these ties cannot reach significance across {tests} gated metrics (the smallest possible p after Holm is {}); {repeats_needed} repeats per side can",
                m.baseline.len(),
                m.candidate.len(),
                fmt_p((t.p_min * tests as f64).min(1.0))
            ),
        )
    } else {
        (
            Verdict::NoChange,
            format!("not significant (p {} after Holm)", fmt_p(p_holm)),
        )
    }
}

/// Gated metrics left untested (fewer than two values a side) are inconclusive.
fn mark_untestable(gated: &mut [MetricComparison]) {
    for m in gated.iter_mut().filter(|m| m.verdict.is_none()) {
        m.verdict = Some(Verdict::Inconclusive);
        m.reason = format!(
            "too few values to test ({} baseline, {} candidate; at least 2 each)",
            m.baseline.len(),
            m.candidate.len()
        );
    }
}

/// Shown, not tested: the usual figures of each operation and overall, unless gated.
fn shown_metrics(base: &Side, cand: &Side, ops: &[&str], keys: &[String]) -> Vec<MetricComparison> {
    let mut shown = Vec::new();
    for scope in std::iter::once("overall").chain(ops.iter().copied()) {
        for metric in ["p50_all", "p90_all", "p99_all", "max_all", "throughput"] {
            let key = format!("{scope}.{metric}");
            if !keys.contains(&key) {
                shown.push(describe(&key, base, cand, ops, false));
            }
        }
    }
    shown
}

/// The runs' own warnings, then one when `n` repeats per side are too few for Holm.
fn comparison_warnings(
    base: &Side,
    cand: &Side,
    n: usize,
    tests: usize,
    repeats_needed: usize,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, s) in [("baseline", base), ("candidate", cand)] {
        for r in &s.repeats {
            if let Some(w) = &r.warning {
                warnings.push(format!("{name} run {}: {w}", r.run_id));
            }
        }
    }
    if n < repeats_needed {
        warnings.push(format!(
            "{n} repeats per side: with {tests} gated metrics Holm's correction needs {repeats_needed} per side before any difference can be called significant"
        ));
    }
    warnings
}

/// A side as `compare.json` describes it: source, provenance, runs and their warnings.
fn side_info(s: &Side) -> SideInfo {
    SideInfo {
        source: s.source.clone(),
        provenance: s.provenance.clone(),
        runs: s.repeats.iter().map(|r| r.run_id.clone()).collect(),
        warnings: s.repeats.iter().filter_map(|r| r.warning.clone()).collect(),
    }
}

impl Comparison {
    /// The exit code: THRESHOLDS_FAILED before REGRESSION (`crate::exit` precedence).
    pub fn code(&self) -> u8 {
        let mut code = crate::exit::OK;
        if self.candidate_operations_failed {
            code = crate::exit::worst(code, crate::exit::OPERATIONS_FAILED);
        }
        if self
            .metrics
            .iter()
            .any(|m| m.verdict == Some(Verdict::Inconclusive))
        {
            code = crate::exit::worst(code, crate::exit::INCONCLUSIVE);
        }
        if self
            .metrics
            .iter()
            .any(|m| m.verdict == Some(Verdict::Worse))
        {
            code = crate::exit::worst(code, crate::exit::REGRESSION);
        }
        if self.thresholds.iter().any(|t| !t.pass) {
            code = crate::exit::worst(code, crate::exit::THRESHOLDS_FAILED);
        }
        code
    }

    /// The exit code and the outcome, which follows it (the first that applies of: operations
    /// failed, threshold failed, regression, inconclusive, pass).
    fn refresh(&mut self) {
        self.exit_code = self.code();
        self.outcome = match self.exit_code {
            crate::exit::OPERATIONS_FAILED => Outcome::OperationsFailed,
            crate::exit::THRESHOLDS_FAILED => Outcome::ThresholdFailed,
            crate::exit::REGRESSION => Outcome::Regression,
            crate::exit::INCONCLUSIVE => Outcome::Inconclusive,
            _ => Outcome::Pass,
        };
    }

    /// Adds the gate's threshold outcomes and recomputes the outcome and exit code.
    pub fn set_thresholds(&mut self, outcomes: Vec<ThresholdOutcome>) {
        self.thresholds = outcomes;
        self.refresh();
    }

    pub fn gated(&self) -> impl Iterator<Item = &MetricComparison> {
        self.metrics.iter().filter(|m| m.gated)
    }

    /// The verdict in one line, as printed and as the page's headline.
    pub fn headline(&self) -> String {
        let gated: Vec<&MetricComparison> = self.gated().collect();
        let count = |v: Verdict| gated.iter().filter(|m| m.verdict == Some(v)).count();
        let worse = count(Verdict::Worse);
        let better = count(Verdict::Better);
        let undecided = count(Verdict::Inconclusive);
        let failed_thresholds = self.thresholds.iter().filter(|t| !t.pass).count();
        let mut parts = Vec::new();
        match self.outcome {
            Outcome::OperationsFailed => parts.push(
                "OPERATIONS FAILED: candidate runs failed beyond the scenario's max_error_rate (their latencies are no measure of the change)".to_string(),
            ),
            Outcome::Regression => parts.push(format!(
                "REGRESSION: {worse} of {} gated metrics significantly worse",
                gated.len()
            )),
            Outcome::ThresholdFailed => parts.push(format!(
                "THRESHOLD FAILED: {failed_thresholds} of {} thresholds not met by the candidate",
                self.thresholds.len()
            )),
            Outcome::Inconclusive => parts.push(format!(
                "INCONCLUSIVE: {undecided} of {} gated metrics could not be decided (too few repeats or values)",
                gated.len()
            )),
            Outcome::Pass => parts.push(format!(
                "PASS: none of {} gated metrics significantly worse",
                gated.len()
            )),
        }
        if self.outcome != Outcome::Regression && worse > 0 {
            parts.push(format!("{worse} gated metrics significantly worse"));
        }
        if self.outcome != Outcome::ThresholdFailed && failed_thresholds > 0 {
            parts.push(format!("{failed_thresholds} thresholds not met"));
        }
        if self.outcome != Outcome::Inconclusive && undecided > 0 {
            parts.push(format!("{undecided} undecided"));
        }
        if better > 0 {
            parts.push(format!("{better} better"));
        }
        parts.join("; ")
    }
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// A value in its unit, for people.
pub fn show(unit: &str, v: f64) -> String {
    let kind = match unit {
        "us" => Kind::Time,
        "fraction" => Kind::Rate,
        "ops/s" => Kind::PerSecond,
        _ => Kind::Count,
    };
    thresholds::show(kind, v)
}

fn show_change(m: &MetricComparison) -> String {
    match (m.change, m.baseline_median, m.candidate_median) {
        (Some(c), _, _) => format!("{:+.1}%", c * 100.0),
        (None, Some(_), Some(_)) => "from 0".into(),
        _ => "–".into(),
    }
}

fn show_ci(m: &MetricComparison) -> String {
    m.change_ci
        .map(|(lo, hi)| format!("{:+.1}% .. {:+.1}%", lo * 100.0, hi * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn show_median(m: &MetricComparison, v: Option<f64>, n: usize) -> String {
    v.map(|v| format!("{} (n={n})", show(m.unit, v)))
        .unwrap_or_else(|| "no data".into())
}

/// The comparison as a report page: verdicts on top, then the figures, then the percentile
/// curves of both sides overlaid per operation.
pub fn page(c: &Comparison, base: &Side, cand: &Side, title: &str) -> Page {
    let tone = match c.outcome {
        Outcome::Pass => Tone::Good,
        Outcome::Inconclusive => Tone::Warn,
        _ => Tone::Bad,
    };
    let mut tables = vec![gated_table(c)];
    if !c.thresholds.is_empty() {
        tables.push(thresholds_table(c));
    }
    tables.push(other_figures_table(c));
    Page {
        title: title.to_string(),
        headline: c.headline(),
        tone,
        notes: page_notes(c),
        tables,
        charts: curve_charts(base, cand),
        plots: Vec::new(),
        footer: vec![
            provenance_line("baseline", &c.baseline),
            provenance_line("candidate", &c.candidate),
        ],
    }
}

/// The page's notes: regressions, failed thresholds, how the test was made, warnings and
/// the differences compared despite.
fn page_notes(c: &Comparison) -> Vec<String> {
    let mut notes = Vec::new();
    for m in c.gated().filter(|m| m.verdict == Some(Verdict::Worse)) {
        notes.push(format!(
            "{} is worse: {} → {} ({}, 95% CI {}), {}",
            m.key,
            show_median(m, m.baseline_median, m.baseline.len()),
            show_median(m, m.candidate_median, m.candidate.len()),
            show_change(m),
            show_ci(m),
            m.reason
        ));
    }
    for t in c.thresholds.iter().filter(|t| !t.pass) {
        notes.push(format!(
            "threshold {} {} ({}) not met: median of the candidate's repeats {} (failed in {} of {} repeats)",
            t.key, t.text, t.source, t.observed_text, t.failed_in, t.repeats
        ));
    }
    notes.push(format!(
        "{} gated metrics ({}) tested with Mann-Whitney U on {} baseline and {} candidate repeats, Holm-corrected at alpha {}; a change counts only beyond the {:.1}% noise threshold",
        c.settings.tests,
        c.settings.metrics_from,
        c.baseline.runs.len(),
        c.candidate.runs.len(),
        c.settings.alpha,
        c.settings.noise * 100.0
    ));
    notes.extend(c.warnings.iter().map(|w| format!("warning: {w}")));
    notes.extend(
        c.mismatches
            .iter()
            .map(|m| format!("compared despite a difference: {m}")),
    );
    notes
}

/// The table of gated metrics: medians, change, its interval, p after Holm, verdict.
fn gated_table(c: &Comparison) -> Table {
    let verdict_tone = |v: Option<Verdict>| match v {
        Some(Verdict::Worse) => Tone::Bad,
        Some(Verdict::Better) => Tone::Good,
        Some(Verdict::Inconclusive) => Tone::Warn,
        _ => Tone::Neutral,
    };
    let gated_rows = c
        .gated()
        .map(|m| {
            vec![
                Cell::new(&m.key),
                Cell::new(show_median(m, m.baseline_median, m.baseline.len())),
                Cell::new(show_median(m, m.candidate_median, m.candidate.len())),
                Cell::new(show_change(m)),
                Cell::new(show_ci(m)),
                Cell::new(m.p_holm.map(fmt_p).unwrap_or_else(|| "–".into())),
                Cell::toned(
                    m.verdict.map(Verdict::text).unwrap_or("–"),
                    verdict_tone(m.verdict),
                ),
            ]
        })
        .collect();
    Table {
        title: "Gated metrics".into(),
        columns: [
            "metric",
            "baseline median",
            "candidate median",
            "change",
            "95% CI of the change",
            "p (Holm)",
            "verdict",
        ]
        .map(String::from)
        .to_vec(),
        rows: gated_rows,
    }
}

/// The table of thresholds judged on the candidate's repeats.
fn thresholds_table(c: &Comparison) -> Table {
    Table {
        title: "Thresholds (candidate, median of its repeats)".into(),
        columns: ["threshold", "source", "observed", "failed in", "result"]
            .map(String::from)
            .to_vec(),
        rows: c
            .thresholds
            .iter()
            .map(|t| {
                vec![
                    Cell::new(format!("{} {}", t.key, t.text)),
                    Cell::new(&t.source),
                    Cell::new(&t.observed_text),
                    Cell::new(format!("{} of {}", t.failed_in, t.repeats)),
                    if t.pass {
                        Cell::toned("pass", Tone::Good)
                    } else {
                        Cell::toned("FAIL", Tone::Bad)
                    },
                ]
            })
            .collect(),
    }
}

/// The table of figures shown but not tested.
fn other_figures_table(c: &Comparison) -> Table {
    Table {
        title: "Other figures (medians of the repeats; not tested)".into(),
        columns: ["metric", "baseline", "candidate", "change"]
            .map(String::from)
            .to_vec(),
        rows: c
            .metrics
            .iter()
            .filter(|m| !m.gated)
            .map(|m| {
                vec![
                    Cell::new(&m.key),
                    Cell::new(show_median(m, m.baseline_median, m.baseline.len())),
                    Cell::new(show_median(m, m.candidate_median, m.candidate.len())),
                    Cell::new(show_change(m)),
                ]
            })
            .collect(),
    }
}

/// One chart per operation (and overall) with both sides' percentile curves overlaid.
fn curve_charts(base: &Side, cand: &Side) -> Vec<Chart> {
    let mut charts = Vec::new();
    let labels: Vec<&String> = {
        let mut l: Vec<&String> = cand.curves.keys().chain(base.curves.keys()).collect();
        l.sort();
        l.dedup();
        l
    };
    for label in labels {
        let name = if label.is_empty() { "overall" } else { label };
        let mut series = Vec::new();
        if let Some(p) = base.curves.get(label) {
            series.push(("baseline".to_string(), p.clone()));
        }
        if let Some(p) = cand.curves.get(label) {
            series.push(("candidate".to_string(), p.clone()));
        }
        charts.push(Chart {
            title: format!("{name} (successful operations, all repeats)"),
            series,
        });
    }
    charts
}

/// A footer line: where a side's runs came from and what they ran on.
fn provenance_line(name: &str, s: &SideInfo) -> String {
    let p = &s.provenance;
    format!(
        "{name}: {} — {} runs; scenario {} ({}); dataset {}; {}; {}; clinicload {}",
        s.source,
        s.runs.len(),
        p.scenario,
        p.scenario_digest,
        p.dataset.as_deref().unwrap_or("not seeded by clinicload"),
        p.servers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        p.machine,
        p.clinicload_version
    )
}

/// JUnit: one test case per gated metric (and per threshold), failing on a regression.
pub fn junit_suites(c: &Comparison, suite_name: &str) -> Vec<junit::Suite> {
    let mut cases = Vec::new();
    for m in c.gated() {
        let (classname, metric) = m.key.split_once('.').unwrap_or(("overall", &m.key));
        let failure = (m.verdict == Some(Verdict::Worse)).then(|| {
            (
                format!(
                    "{} regressed {}: {} -> {}",
                    m.key,
                    show_change(m),
                    show_median(m, m.baseline_median, m.baseline.len()),
                    show_median(m, m.candidate_median, m.candidate.len())
                ),
                format!(
                    "{}\n95% CI of the change: {}\nbaseline: {:?}\ncandidate: {:?}",
                    m.reason,
                    show_ci(m),
                    m.baseline,
                    m.candidate
                ),
            )
        });
        let error = (m.verdict == Some(Verdict::Inconclusive))
            .then(|| (format!("{} could not be decided", m.key), m.reason.clone()));
        cases.push(junit::Case {
            classname: classname.to_string(),
            name: format!("{metric} not worse than baseline"),
            seconds: 0.0,
            failure,
            error,
        });
    }
    for t in &c.thresholds {
        let (classname, metric) = t.key.split_once('.').unwrap_or(("overall", &t.key));
        cases.push(junit::Case {
            classname: classname.to_string(),
            name: format!("threshold {metric} {}", t.text),
            seconds: 0.0,
            failure: (!t.pass).then(|| {
                (
                    format!(
                        "{} {} not met: observed {} (median of {} repeats)",
                        t.key, t.text, t.observed_text, t.repeats
                    ),
                    format!(
                        "{}: failed in {} of {} candidate repeats",
                        t.source, t.failed_in, t.repeats
                    ),
                )
            }),
            error: None,
        });
    }
    vec![junit::Suite {
        name: suite_name.to_string(),
        package: "clinicload".into(),
        timestamp: junit::timestamp_now(),
        hostname: junit::hostname(),
        seconds: 0.0,
        properties: vec![
            ("baseline".into(), c.baseline.source.clone()),
            ("candidate".into(), c.candidate.source.clone()),
            ("alpha".into(), c.settings.alpha.to_string()),
            ("noise".into(), c.settings.noise.to_string()),
            ("outcome".into(), format!("{:?}", c.outcome)),
        ],
        cases,
    }]
}

/// Writes `compare.json`, `summary.md`, `junit.xml` and `report.html` into `dir`.
pub fn write_outputs(
    dir: &Path,
    c: &Comparison,
    base: &Side,
    cand: &Side,
    title: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(c).context("serialising compare.json")? + "\n";
    write_atomic(&dir.join("compare.json"), json.as_bytes())?;
    let p = page(c, base, cand, title);
    write_atomic(
        &dir.join("summary.md"),
        page::markdown(&p, MARKDOWN_LIMIT).as_bytes(),
    )?;
    write_atomic(&dir.join("report.html"), page::html(&p).as_bytes())?;
    let suites = junit_suites(c, title);
    write_atomic(&dir.join("junit.xml"), junit::xml(&suites).as_bytes())?;
    Ok(())
}

/// Prints the verdict lines of a comparison.
pub fn print(c: &Comparison) {
    println!("{}", c.headline());
    for m in c.gated() {
        println!(
            "  {:<40} {:>14} -> {:<14} {:>8}  {}",
            m.key,
            m.baseline_median
                .map(|v| show(m.unit, v))
                .unwrap_or_else(|| "no data".into()),
            m.candidate_median
                .map(|v| show(m.unit, v))
                .unwrap_or_else(|| "no data".into()),
            show_change(m),
            m.verdict.map(Verdict::text).unwrap_or("–")
        );
    }
    for t in &c.thresholds {
        println!(
            "  threshold {} {}: {} ({})",
            t.key,
            t.text,
            t.observed_text,
            if t.pass { "pass" } else { "FAILED" }
        );
    }
    for w in &c.warnings {
        println!("warning: {w}");
    }
}

/// Options of `clinicload compare` besides the compare options.
#[derive(Debug, Clone)]
pub struct CompareCommand {
    pub baseline: String,
    pub candidate: String,
    pub options: CompareOptions,
    /// Where the outputs go (`<out>/compare-<time>/`); None writes nothing.
    pub out: Option<PathBuf>,
    pub baselines_dir: PathBuf,
}

/// `clinicload compare BASE CANDIDATE`.
pub fn compare_command(cmd: &CompareCommand) -> Result<ExitCode> {
    let base = side::load(&cmd.baseline, &cmd.baselines_dir)?;
    let cand = side::load(&cmd.candidate, &cmd.baselines_dir)?;
    let c = compare(&base, &cand, &cmd.options)?;
    print(&c);
    if let Some(out) = &cmd.out {
        let dir = out.join(format!(
            "compare-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        write_outputs(
            &dir,
            &c,
            &base,
            &cand,
            &format!("clinicload compare: {} vs {}", base.source, cand.source),
        )?;
        println!("report: {}", dir.join("report.html").display());
    }
    Ok(crate::exit::code(c.exit_code))
}

/// `clinicload baseline save NAME FROM`: keeps a side (a run, a directory of runs, or a
/// gate's candidate) as `<baselines>/NAME/baseline.json`.
pub fn baseline_save(name: &str, from: &str, baselines: &Path, force: bool) -> Result<ExitCode> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        bail!(
            "baseline name {name:?}: use letters, digits, '-', '_' and '.', e.g. main-2026-11-30"
        );
    }
    let side = side::load(from, baselines)?;
    let dir = baselines.join(name);
    if dir.join("baseline.json").exists() && !force {
        bail!(
            "baseline {name} exists ({}); pass --force to replace it",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let b = side::Baseline {
        schema: side::BASELINE_SCHEMA.into(),
        name: name.to_string(),
        saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        side,
    };
    let json = serde_json::to_string_pretty(&b)? + "\n";
    write_atomic(&dir.join("baseline.json"), json.as_bytes())?;
    println!(
        "saved baseline {name}: {} runs of {} from {} -> {}",
        b.side.repeats.len(),
        b.side.provenance.scenario,
        b.side.source,
        dir.join("baseline.json").display()
    );
    Ok(crate::exit::code(crate::exit::OK))
}

/// `clinicload baseline show NAME`.
pub fn baseline_show(name: &str, baselines: &Path) -> Result<ExitCode> {
    let dir = if Path::new(name).join("baseline.json").is_file() {
        PathBuf::from(name)
    } else {
        baselines.join(name)
    };
    if !dir.join("baseline.json").is_file() {
        bail!(
            "no baseline {name} in {} (save one with `clinicload baseline save {name} RUN_DIR`)",
            baselines.display()
        );
    }
    let b = side::read_baseline(&dir)?;
    let p = &b.side.provenance;
    println!(
        "baseline {} (saved {} from {})",
        b.name, b.saved_at, b.side.source
    );
    println!(
        "  scenario {} ({}), dataset {}, clinicload {}",
        p.scenario,
        p.scenario_digest,
        p.dataset.as_deref().unwrap_or("none"),
        p.clinicload_version
    );
    println!(
        "  servers: {}",
        p.servers
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  machine: {}", p.machine);
    println!("  runs: {}", b.side.repeats.len());
    let mut keys: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in &b.side.repeats {
        for (k, v) in &r.values {
            if k.ends_with(".p50_all") || k.ends_with(".p99_all") || k.ends_with(".throughput") {
                keys.entry(k).or_default().push(*v);
            }
        }
    }
    for (k, vs) in keys {
        let unit = if k.ends_with("throughput") {
            "ops/s"
        } else {
            "us"
        };
        println!("  {k:<40} median {}", show(unit, stats::median(&vs)));
    }
    Ok(crate::exit::code(crate::exit::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(name: &str, p50s: &[f64], p99s: &[f64]) -> Side {
        Side {
            source: name.into(),
            provenance: Provenance {
                scenario: "s".into(),
                scenario_digest: "d".into(),
                operations: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            repeats: p50s
                .iter()
                .zip(p99s)
                .enumerate()
                .map(|(i, (p50, p99))| Repeat {
                    run_id: format!("{name}{i}"),
                    values: [
                        ("a.p50_all".to_string(), *p50),
                        ("a.p99_all".to_string(), *p99),
                        ("b.p50_all".to_string(), 100.0 + i as f64),
                        ("b.p99_all".to_string(), 200.0 + (i * 7 % 11) as f64),
                        ("a.throughput".to_string(), 50.0),
                    ]
                    .into_iter()
                    .collect(),
                    warning: None,
                    interrupted: false,
                    operations_failed: false,
                })
                .collect(),
            curves: BTreeMap::new(),
        }
    }

    fn verdict(c: &Comparison, key: &str) -> Verdict {
        c.metrics
            .iter()
            .find(|m| m.key == key && m.gated)
            .unwrap()
            .verdict
            .unwrap()
    }

    #[test]
    fn a_clear_slowdown_is_worse_and_exits_with_the_regression_code() {
        let base = side("b", &[100., 101., 99., 100., 102., 98.], &[500.; 6]);
        let cand = side("c", &[130., 131., 129., 132., 128., 130.], &[500.; 6]);
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        assert_eq!(verdict(&c, "a.p50_all"), Verdict::Worse);
        assert_eq!(verdict(&c, "a.p99_all"), Verdict::NoChange);
        assert_eq!(verdict(&c, "b.p50_all"), Verdict::NoChange);
        assert_eq!(c.outcome, Outcome::Regression);
        assert_eq!(c.exit_code, crate::exit::REGRESSION);
        assert_eq!(c.settings.tests, 4);
        // and the other way round it is better, exit 0
        let c = compare(&cand, &base, &CompareOptions::default()).unwrap();
        assert_eq!(verdict(&c, "a.p50_all"), Verdict::Better);
        assert_eq!(c.exit_code, crate::exit::OK);
    }

    #[test]
    fn a_significant_change_within_the_noise_threshold_is_no_change() {
        let base = side("b", &[100., 100.5, 100.2, 100.1, 100.3, 100.4], &[500.; 6]);
        let cand = side("c", &[102., 102.5, 102.2, 102.1, 102.3, 102.4], &[500.; 6]);
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        let m = c.metrics.iter().find(|m| m.key == "a.p50_all").unwrap();
        assert!(m.p_holm.unwrap() < 0.05);
        assert_eq!(m.verdict, Some(Verdict::NoChange));
        let strict = CompareOptions {
            noise: 0.01,
            ..Default::default()
        };
        assert_eq!(
            verdict(&compare(&base, &cand, &strict).unwrap(), "a.p50_all"),
            Verdict::Worse
        );
    }

    #[test]
    fn too_few_repeats_are_inconclusive_not_a_pass() {
        let base = side("b", &[100., 101., 99.], &[500.; 3]);
        let cand = side("c", &[200., 201., 199.], &[500.; 3]);
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        assert_eq!(verdict(&c, "a.p50_all"), Verdict::Inconclusive);
        assert_eq!(c.outcome, Outcome::Inconclusive);
        assert_eq!(
            c.exit_code,
            crate::exit::INCONCLUSIVE,
            "no verdict is not a pass"
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("needs 5 per side")),
            "{:?}",
            c.warnings
        );
        // a single gated metric can be decided with 3 repeats? 2/C(6,3) = 0.1: no; with 4: yes
        let base = side("b", &[100., 101., 99., 100.], &[500.; 4]);
        let cand = side("c", &[200., 201., 199., 200.], &[500.; 4]);
        let one = CompareOptions {
            metrics: vec!["a.p50".into()],
            ..Default::default()
        };
        let c = compare(&base, &cand, &one).unwrap();
        assert_eq!(c.settings.metrics_from, "--metrics");
        assert_eq!(verdict(&c, "a.p50_all"), Verdict::Worse);
    }

    #[test]
    fn a_candidate_whose_operations_failed_exits_3_even_when_faster() {
        let base = side("b", &[100., 101., 99., 100., 102., 98.], &[500.; 6]);
        // failures are fast: the candidate looks better
        let mut cand = side("c", &[50., 51., 49., 50., 52., 48.], &[500.; 6]);
        cand.repeats[2].operations_failed = true;
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        assert_eq!(verdict(&c, "a.p50_all"), Verdict::Better);
        assert_eq!(c.outcome, Outcome::OperationsFailed);
        assert_eq!(c.exit_code, crate::exit::OPERATIONS_FAILED);
        assert!(c.headline().starts_with("OPERATIONS FAILED"));
    }

    #[test]
    fn interrupted_repeats_are_left_out_of_the_samples() {
        let base = side("b", &[100., 101., 99., 100., 102., 98.], &[500.; 6]);
        let mut cand = side("c", &[100., 101., 99., 100., 102., 9000.], &[500.; 6]);
        cand.repeats[5].interrupted = true;
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        let m = c.metrics.iter().find(|m| m.key == "a.p50_all").unwrap();
        assert_eq!(m.candidate.len(), 5);
        assert_eq!(m.verdict, Some(Verdict::NoChange));
    }

    #[test]
    fn mismatched_sides_are_refused_unless_allowed() {
        let base = side("b", &[100.; 6], &[500.; 6]);
        let mut cand = side("c", &[100.; 6], &[500.; 6]);
        cand.provenance.dataset = Some("other".into());
        let e = compare(&base, &cand, &CompareOptions::default()).unwrap_err();
        assert!(e.to_string().contains("dataset fingerprint"), "{e}");
        assert!(e.to_string().contains("--allow-mismatch"));
        let c = compare(
            &base,
            &cand,
            &CompareOptions {
                allow_mismatch: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.mismatches.len(), 1);
        assert_eq!(c.outcome, Outcome::Pass);
    }

    #[test]
    fn unknown_metrics_are_named() {
        let base = side("b", &[100.; 6], &[500.; 6]);
        let bad = CompareOptions {
            metrics: vec!["nosuch.p99".into()],
            ..Default::default()
        };
        let e = compare(&base, &base, &bad).unwrap_err().to_string();
        assert!(e.contains("nosuch") && e.contains("a, b"), "{e}");
    }

    #[test]
    fn junit_and_markdown_state_the_figures() {
        let base = side("b", &[100., 101., 99., 100., 102., 98.], &[500.; 6]);
        let cand = side("c", &[130., 131., 129., 132., 128., 130.], &[500.; 6]);
        let c = compare(&base, &cand, &CompareOptions::default()).unwrap();
        let x = junit::xml(&junit_suites(&c, "gate"));
        assert!(x.contains("tests=\"4\" failures=\"1\""), "{x}");
        assert!(x.contains("a.p50_all regressed +30.0%"), "{x}");
        let md = page::markdown(&page(&c, &base, &cand, "gate"), MARKDOWN_LIMIT);
        let first = md.lines().nth(2).unwrap();
        assert!(first.contains("REGRESSION: 1 of 4 gated metrics"), "{md}");
    }
}
