//! Index A/B: the same workload on the same data with and without an index, and a verdict
//! per index an engineer can act on before a release: *keep*, *drop candidate* or
//! *inconclusive*, decided by the gate's statistics (`crate::compare`) over repeated,
//! interleaved runs, with the plan changes and the write-path cost beside it.
//!
//! A scenario declares the variants (`[[variant]] drop_indexes = [...]`,
//! `create_indexes = [...]`, `hypothetical = true`; see [`change`]); the scenario runner
//! applies each real change before its runs and undoes it after them, and hands the runs to
//! [`analyse`]. A hypothetical change ([`hypothetical`]) is planned with HypoPG only: plans
//! and costs, labelled as an estimate, no latency.

/// The ledger of index changes lives with the dataset's other undo records.
pub use crate::restore::index_changes as change;
pub mod hypothetical;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::compare::{self, CompareOptions, MetricComparison, Outcome, Verdict};
use crate::explain::OpPath;
use crate::report::page::{Cell, Chart, Table, Tone};
use crate::report::Summary;
use crate::scenario::spec::Scenario;
pub use change::IndexChange;

/// Schema of `index_ab.json`.
pub const SCHEMA: &str = "clinicload.index_ab/1";

pub const CRITERIA: [&str; 4] = [
    "keep: the index was scanned by the workload on the side that has it, and at least one operation whose plan uses it has a significantly lower p50 with it (two-sided Mann-Whitney U over the repeats, Holm across those operations, alpha 0.05, change beyond the 5% noise threshold)",
    "drop candidate: the workload never scanned the index on the side that has it (idx_scan did not grow in any repeat); its size and measured write cost are shown",
    "inconclusive: the index was used, but no operation using it is significantly faster with it (within noise, or too few repeats for any verdict)",
    "write cost: p50 of the scenario's write operations and WAL bytes per run, median over the repeats, with and without the index",
];

/// One variant's runs, as the scenario runner hands them over.
#[derive(Debug, Clone)]
pub struct VariantRuns {
    pub name: String,
    pub change: IndexChange,
    /// What the last application of the change did (sizes, build time).
    pub applied: Option<change::Applied>,
    pub dirs: Vec<PathBuf>,
    pub summaries: Vec<Summary>,
    /// The planned access path of each keyed read under this variant's schema.
    pub paths: Vec<OpPath>,
}

/// The write-path cost of an index: medians over the repeats with and without it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteCost {
    /// (write operation, p50 µs with the index, p50 µs without).
    pub ops: Vec<(String, Option<f64>, Option<f64>)>,
    pub wal_bytes_with: Option<f64>,
    pub wal_bytes_without: Option<f64>,
}

/// The verdict on one index a variant changed.
#[derive(Debug, Clone, Serialize)]
pub struct IndexVerdict {
    pub index: String,
    /// The variant that drops or creates it.
    pub variant: String,
    /// "dropped" or "created" by that variant.
    pub change: &'static str,
    /// "keep", "drop candidate" or "inconclusive".
    pub verdict: &'static str,
    pub reason: String,
    /// Scans of the index over the runs of the side that has it.
    pub scans: i64,
    pub bytes: i64,
    /// Operations whose plan uses the index (on the side that has it).
    pub ops_using: Vec<String>,
    /// The tested metrics: the side without the index as baseline, with it as candidate.
    pub metrics: Vec<MetricComparison>,
    pub write_cost: WriteCost,
}

/// One operation's access path under each variant.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub op: String,
    /// (variant, access path, planner's total cost).
    pub variants: Vec<(String, String, f64)>,
    /// Whether any variant reads the tables differently from the first.
    pub changed: bool,
}

/// `index_ab.json`.
#[derive(Debug, Clone, Serialize)]
pub struct AbReport {
    pub schema: &'static str,
    pub run_id: String,
    pub criteria: Vec<&'static str>,
    /// The variant the others are compared with (the schema as migrated).
    pub baseline: Option<String>,
    pub repeats: usize,
    /// (variant, what it changes, runs, what applying it did).
    pub variants: Vec<(String, String, usize, Option<change::Applied>)>,
    pub plans: Vec<PlanRow>,
    pub verdicts: Vec<IndexVerdict>,
    pub estimates: Vec<hypothetical::Estimate>,
    pub warnings: Vec<String>,
}

/// Repeats per variant when the command line does not say: the fewest for which Holm can
/// reach a verdict (compare's rule) over the most operations one index's verdict tests: those
/// whose plan as migrated (`paths`) uses a dropped index, every operation for a created one.
pub fn default_repeats(scenario: &Scenario, changes: &[&IndexChange], paths: &[OpPath]) -> usize {
    let mut tests = 1;
    for c in changes {
        for index in &c.drop_indexes {
            let using = paths.iter().filter(|p| uses(p, index)).count();
            tests = tests.max(if using == 0 {
                scenario.ops.len()
            } else {
                using
            });
        }
        if !c.create_indexes.is_empty() {
            tests = tests.max(scenario.ops.len());
        }
    }
    compare::stats::repeats_for(tests, CompareOptions::default().alpha)
}

fn uses(path: &OpPath, index: &str) -> bool {
    crate::explain::expect::uses(&path.plan, index)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Scans and size of `index` in a run's index report.
fn index_figures(s: &Summary, index: &str) -> Option<(i64, i64)> {
    let list = s.indexes.as_ref()?["postgres"]["indexes"].as_array()?;
    let i = list.iter().find(|i| i["index"] == index)?;
    Some((i["scans"].as_i64()?, i["bytes"].as_i64()?))
}

fn flat(s: &Summary) -> BTreeMap<String, f64> {
    serde_json::to_value(s)
        .map(|v| compare::side::flatten(&v))
        .unwrap_or_default()
}

fn write_cost(scenario: &Scenario, with: &VariantRuns, without: &VariantRuns) -> WriteCost {
    let p50 = |runs: &VariantRuns, op: &str| {
        median(
            runs.summaries
                .iter()
                .filter_map(|s| flat(s).get(&format!("{op}.p50_ok")).copied())
                .collect(),
        )
    };
    let wal = |runs: &VariantRuns| {
        median(
            runs.summaries
                .iter()
                .filter_map(|s| s.run.wal_bytes.map(|b| b as f64))
                .collect(),
        )
    };
    WriteCost {
        ops: scenario
            .ops
            .iter()
            .filter(|o| o.def.write)
            .map(|o| {
                (
                    o.name().to_string(),
                    p50(with, o.name()),
                    p50(without, o.name()),
                )
            })
            .collect(),
        wal_bytes_with: wal(with),
        wal_bytes_without: wal(without),
    }
}

/// The verdict on `index`, which `with` has and `without` lacks.
fn judge(
    scenario: &Scenario,
    index: &str,
    changed_by: &VariantRuns,
    action: &'static str,
    with: &VariantRuns,
    without: &VariantRuns,
    opts: &CompareOptions,
) -> Result<IndexVerdict> {
    let figures: Vec<(i64, i64)> = with
        .summaries
        .iter()
        .filter_map(|s| index_figures(s, index))
        .collect();
    let scans: i64 = figures.iter().map(|f| f.0).sum();
    let applied = changed_by.applied.as_ref();
    let bytes = applied
        .and_then(|a| {
            a.dropped
                .iter()
                .find(|d| d.0 == index)
                .map(|d| d.2)
                .or_else(|| a.created.iter().find(|c| c.0 == index).map(|c| c.2))
        })
        .or_else(|| figures.last().map(|f| f.1))
        .unwrap_or(0);
    let ops_using: Vec<String> = with
        .paths
        .iter()
        .filter(|p| uses(p, index))
        .map(|p| p.op.clone())
        .collect();
    let write_cost = write_cost(scenario, with, without);
    if scans == 0 {
        return Ok(IndexVerdict {
            index: index.to_string(),
            variant: changed_by.name.clone(),
            change: action,
            verdict: "drop candidate",
            reason: format!(
                "not used by this workload: 0 scans over {} run(s) with it; {} it costs {}",
                with.summaries.len(),
                bytes_text(bytes),
                cost_text(&write_cost)
            ),
            scans,
            bytes,
            ops_using,
            metrics: Vec::new(),
            write_cost,
        });
    }
    // The operations whose plans use it; all operations when no plan names it (a write's
    // lookup, a plan the explain could not see).
    let tested: Vec<String> = if ops_using.is_empty() {
        scenario.ops.iter().map(|o| o.name().to_string()).collect()
    } else {
        ops_using.clone()
    };
    let base = compare::side::from_runs(&format!("without {index}"), &without.dirs)?;
    let cand = compare::side::from_runs(&format!("with {index}"), &with.dirs)?;
    let c = compare::compare(
        &base,
        &cand,
        &CompareOptions {
            metrics: tested.iter().map(|o| format!("{o}.p50_ok")).collect(),
            allow_mismatch: true,
            ..opts.clone()
        },
    )?;
    let metrics: Vec<MetricComparison> = c.metrics.into_iter().filter(|m| m.gated).collect();
    let faster: Vec<String> = metrics
        .iter()
        .filter(|m| m.verdict == Some(Verdict::Better))
        .map(change_text)
        .collect();
    let slower: Vec<String> = metrics
        .iter()
        .filter(|m| m.verdict == Some(Verdict::Worse))
        .map(change_text)
        .collect();
    let (verdict, reason) = if !faster.is_empty() {
        (
            "keep",
            format!(
                "used ({scans} scans) and faster with it: {}",
                faster.join(", ")
            ),
        )
    } else if c.outcome == Outcome::Inconclusive {
        (
            "inconclusive",
            format!(
                "used ({scans} scans), but {} repeats per side cannot give a verdict on {} operation(s): give --repeats {}",
                with.dirs.len().min(without.dirs.len()),
                tested.len(),
                compare::stats::repeats_for(tested.len(), opts.alpha)
            ),
        )
    } else {
        let mut r = format!(
            "used ({scans} scans), but no operation using it is significantly faster with it (within noise at this scale)"
        );
        if !slower.is_empty() {
            r.push_str(&format!("; slower with it: {}", slower.join(", ")));
        }
        ("inconclusive", r)
    };
    Ok(IndexVerdict {
        index: index.to_string(),
        variant: changed_by.name.clone(),
        change: action,
        verdict,
        reason,
        scans,
        bytes,
        ops_using,
        metrics,
        write_cost,
    })
}

fn change_text(m: &MetricComparison) -> String {
    // The side without the index is the baseline: a negative change is the index's gain.
    let op = m.key.split('.').next().unwrap_or(&m.key);
    match (m.change, m.p_holm) {
        (Some(ch), Some(p)) => format!("{op} p50 {:+.0}% with it (p={p:.3})", ch * 100.0),
        _ => format!("{op} p50"),
    }
}

fn bytes_text(b: i64) -> String {
    if b <= 0 {
        String::new()
    } else if b >= 1 << 20 {
        format!("{:.1} MiB;", b as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} KiB;", b as f64 / 1024.0)
    }
}

fn cost_text(w: &WriteCost) -> String {
    let mut parts: Vec<String> = w
        .ops
        .iter()
        .filter_map(|(op, with, without)| {
            Some(format!(
                "{op} p50 {} with vs {} without",
                crate::metrics::fmt_us((*with)? as u64),
                crate::metrics::fmt_us((*without)? as u64)
            ))
        })
        .collect();
    if let (Some(a), Some(b), false) = (w.wal_bytes_with, w.wal_bytes_without, w.ops.is_empty()) {
        parts.push(format!(
            "WAL {:.0} KiB per run with vs {:.0} KiB without",
            a / 1024.0,
            b / 1024.0
        ));
    }
    if parts.is_empty() {
        "no write operations in the scenario".into()
    } else {
        parts.join("; ")
    }
}

/// The A/B report of the variants' runs. `runs` are in the scenario's order; the baseline is
/// the first variant that changes no index.
pub fn analyse(
    run_id: &str,
    scenario: &Scenario,
    runs: &[VariantRuns],
    estimates: Vec<hypothetical::Estimate>,
    opts: &CompareOptions,
) -> Result<AbReport> {
    let mut warnings = Vec::new();
    let baseline = runs.iter().find(|r| r.change.is_empty());
    let mut verdicts = Vec::new();
    match baseline {
        None if runs.iter().any(|r| r.change.is_real()) => warnings.push(
            "no variant keeps the schema as migrated, so no index has a verdict: add one that changes nothing".into(),
        ),
        None => {}
        Some(b) => {
            for v in runs.iter().filter(|r| r.change.is_real()) {
                if v.summaries.is_empty() || b.summaries.is_empty() {
                    warnings.push(format!("variant {} has no completed run to compare", v.name));
                    continue;
                }
                for index in &v.change.drop_indexes {
                    verdicts.push(judge(scenario, index, v, "dropped", b, v, opts)?);
                }
                for c in &v.change.create_indexes {
                    verdicts.push(judge(scenario, &c.name, v, "created", v, b, opts)?);
                }
            }
        }
    }
    let mut plans = Vec::new();
    let ops: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.paths.iter().map(|p| p.op.as_str()))
        .collect();
    for op in compare::unique(ops.iter().map(|s| s.to_string()).collect()) {
        type Shape = Vec<(String, String, Option<String>)>;
        let row: Vec<(String, String, f64, Shape)> = runs
            .iter()
            .filter_map(|r| {
                let p = r.paths.iter().find(|p| p.op == op)?;
                Some((
                    r.name.clone(),
                    p.plan.access_line(),
                    p.plan.total_cost,
                    p.plan.shape(),
                ))
            })
            .collect();
        let changed = row.windows(2).any(|w| w[0].3 != w[1].3);
        plans.push(PlanRow {
            op,
            variants: row.into_iter().map(|(a, b, c, _)| (a, b, c)).collect(),
            changed,
        });
    }
    Ok(AbReport {
        schema: SCHEMA,
        run_id: run_id.to_string(),
        criteria: CRITERIA.to_vec(),
        baseline: baseline.map(|b| b.name.clone()),
        repeats: runs.iter().map(|r| r.dirs.len()).max().unwrap_or(0),
        variants: runs
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.change.describe(),
                    r.dirs.len(),
                    r.applied.clone(),
                )
            })
            .collect(),
        plans,
        verdicts,
        estimates,
        warnings,
    })
}

/// One line per verdict, for the terminal and the top of the page.
pub fn verdict_lines(r: &AbReport) -> Vec<String> {
    r.verdicts
        .iter()
        .map(|v| {
            format!(
                "{} ({} by variant {}): {} — {}",
                v.index, v.change, v.variant, v.verdict, v.reason
            )
        })
        .collect()
}

/// The report's tables, for `report::variants` to render.
pub fn sections(r: &AbReport) -> Vec<Table> {
    let mut out = Vec::new();
    out.push(Table {
        title: "Index verdicts".into(),
        columns: [
            "index",
            "variant",
            "verdict",
            "why",
            "scans",
            "size",
            "write cost",
        ]
        .map(String::from)
        .to_vec(),
        rows: r
            .verdicts
            .iter()
            .map(|v| {
                let tone = match v.verdict {
                    "keep" => Tone::Good,
                    "drop candidate" => Tone::Bad,
                    _ => Tone::Warn,
                };
                vec![
                    Cell::new(&v.index),
                    Cell::new(format!("{} ({})", v.variant, v.change)),
                    Cell::toned(v.verdict, tone),
                    Cell::new(&v.reason),
                    Cell::new(v.scans.to_string()),
                    Cell::new(bytes_text(v.bytes).trim_end_matches(';')),
                    Cell::new(cost_text(&v.write_cost)),
                ]
            })
            .collect(),
    });
    let mut columns = vec!["operation".to_string()];
    columns.extend(r.variants.iter().map(|v| v.0.clone()));
    columns.push("plan".into());
    out.push(Table {
        title: "Access paths per variant (EXPLAIN, planner's cost)".into(),
        columns,
        rows: r
            .plans
            .iter()
            .map(|p| {
                let mut row = vec![Cell::new(&p.op)];
                for v in &r.variants {
                    row.push(match p.variants.iter().find(|x| x.0 == v.0) {
                        Some((_, line, cost)) => Cell::new(format!("{line} (cost {cost:.1})")),
                        None => Cell::new("-"),
                    });
                }
                row.push(if p.changed {
                    Cell::toned("access path changed", Tone::Warn)
                } else {
                    Cell::new("same")
                });
                row
            })
            .collect(),
    });
    for e in &r.estimates {
        out.push(hypothetical::table(e));
    }
    out.push(Table {
        title: "Variants".into(),
        columns: ["variant", "change", "runs", "applied"]
            .map(String::from)
            .to_vec(),
        rows: r
            .variants
            .iter()
            .map(|(name, change, runs, applied)| {
                let applied = applied.as_ref().map_or(String::new(), |a| {
                    let mut parts: Vec<String> = a
                        .dropped
                        .iter()
                        .map(|d| {
                            format!(
                                "dropped {} ({})",
                                d.0,
                                bytes_text(d.2).trim_end_matches(';')
                            )
                        })
                        .collect();
                    parts.extend(a.created.iter().map(|c| {
                        format!(
                            "built {} in {:.0} ms ({})",
                            c.0,
                            c.1,
                            bytes_text(c.2).trim_end_matches(';')
                        )
                    }));
                    parts.join("; ")
                });
                vec![
                    Cell::new(name),
                    Cell::new(change),
                    Cell::new(runs.to_string()),
                    Cell::new(applied),
                ]
            })
            .collect(),
    });
    out
}

/// Latency by percentile per operation, one curve per variant (all its repeats' histograms
/// added).
pub fn charts(runs: &[VariantRuns]) -> Vec<Chart> {
    type Curves = BTreeMap<String, Vec<(f64, u64)>>;
    let curves: Vec<(String, Curves)> = runs
        .iter()
        .filter(|r| !r.dirs.is_empty())
        .filter_map(|r| Some((r.name.clone(), compare::side::curves(&r.dirs).ok()?)))
        .collect();
    let mut ops: Vec<String> = curves.iter().flat_map(|c| c.1.keys().cloned()).collect();
    ops.sort();
    ops.dedup();
    ops.into_iter()
        .map(|op| Chart {
            // The untagged curve is every operation's.
            title: format!(
                "{}: latency by percentile per variant",
                if op.is_empty() { "all operations" } else { &op }
            ),
            series: curves
                .iter()
                .filter_map(|(name, c)| Some((name.clone(), c.get(&op)?.clone())))
                .collect(),
        })
        .collect()
}
