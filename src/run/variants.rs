//! A scenario with `[[variant]]`s: each variant runs the same load on the same data, its
//! cache settings in place and its index change applied (and undone after each of its runs,
//! even when the run fails or is interrupted). With several repeats the variants are
//! interleaved (A B B A ...) so drift on the machine falls on all of them alike. The report
//! puts the variants side by side; index variants add the plans per variant and a verdict per
//! index (`crate::index_ab`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{run_in_dir, RunOptions, RunResult};
use crate::config::Targets;
use crate::index_ab::{self, change, hypothetical, VariantRuns};
use crate::report::{self, Summary};
use crate::scenario::spec::Scenario;

/// The order of the runs: round r runs the variants forwards when r is even, backwards when
/// odd (for two variants: A B B A A B ...).
pub fn order(variants: usize, repeats: usize) -> Vec<usize> {
    (0..repeats)
        .flat_map(|r| {
            let v: Vec<usize> = if r % 2 == 0 {
                (0..variants).collect()
            } else {
                (0..variants).rev().collect()
            };
            v
        })
        .collect()
}

/// The repeat whose overall p50 is the median of the variant's repeats: the one the
/// side-by-side table shows.
fn representative(summaries: &[Summary]) -> Summary {
    let mut idx: Vec<usize> = (0..summaries.len()).collect();
    idx.sort_by_key(|&i| summaries[i].overall.stats.p50_us);
    summaries[idx[idx.len() / 2]].clone()
}

pub async fn run_variants(
    targets: &Targets,
    scenario: &Scenario,
    run_id: &str,
    dir: &Path,
    opts: &RunOptions,
) -> Result<RunResult> {
    // (name, cache settings, index change) per variant, in the scenario's order.
    let names: Vec<String> = if scenario.variants.is_empty() {
        scenario.cache.iter().map(|c| c.name.clone()).collect()
    } else {
        scenario.variants.iter().map(|v| v.name.clone()).collect()
    };
    let no_change = index_ab::IndexChange::default();
    let change_of = |i: usize| scenario.variants.get(i).map_or(&no_change, |v| &v.indexes);
    let cache_of = |i: usize| scenario.cache.get(i);
    let indexed = (0..names.len()).any(|i| !change_of(i).is_empty());
    let repeats = match opts.repeats {
        Some(r) => r,
        None if indexed => {
            // The plans as migrated say how many operations each dropped index serves: the
            // metrics its verdict tests.
            let paths = access_paths(targets, scenario).await.unwrap_or_default();
            let changes: Vec<&index_ab::IndexChange> = (0..names.len())
                .map(change_of)
                .filter(|c| c.is_real())
                .collect();
            index_ab::default_repeats(scenario, &changes, &paths)
        }
        None => 1,
    };
    let pool = if indexed {
        Some(crate::connect::postgres(targets, 2).await?)
    } else {
        None
    };

    if let Some(pool) = &pool {
        for (i, name) in names.iter().enumerate() {
            change::check(pool, name, change_of(i)).await?;
        }
    }
    // Hypothetical variants are planned, not run.
    let estimates = hypothetical_estimates(targets, scenario, run_id, &names, &change_of).await?;
    let running: Vec<usize> = (0..names.len())
        .filter(|&i| !change_of(i).hypothetical)
        .collect();
    let mut runs: Vec<VariantRuns> = running
        .iter()
        .map(|&i| VariantRuns::new(&names[i], change_of(i)))
        .collect();
    let sequence = order(running.len(), repeats);
    let mut write_error: Option<anyhow::Error> = None;
    for (step, &k) in sequence.iter().enumerate() {
        let i = running[k];
        let name = &names[i];
        let nth = runs[k].dirs.len() + 1;
        let (sub, id) = if repeats == 1 {
            (dir.join(name), format!("{run_id}/{name}"))
        } else {
            (
                dir.join(name).join(format!("r{nth}")),
                format!("{run_id}/{name}/r{nth}"),
            )
        };
        std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
        if repeats == 1 {
            eprintln!("variant {name}:");
        } else {
            eprintln!(
                "variant {name}, repeat {nth}/{repeats} (run {}/{}):",
                step + 1,
                sequence.len()
            );
        }
        let c = change_of(i);
        if let (Some(pool), true) = (&pool, c.is_real()) {
            eprintln!("variant {name}: {}", c.describe());
            runs[k].applied = Some(change::apply(pool, &id, c).await?);
        }
        if indexed && runs[k].paths.is_empty() {
            match access_paths(targets, scenario).await {
                Ok(p) => runs[k].paths = p,
                Err(e) => eprintln!("warning: variant {name}: plans not read: {e:#}"),
            }
        }
        let result = run_in_dir(targets, scenario, cache_of(i), &id, &sub, opts).await;
        // The schema goes back whatever the run did; a failure to put it back is the
        // error, with what to do.
        if let (Some(pool), true) = (&pool, c.is_real()) {
            match change::undo(pool, &id).await {
                Ok(done) => {
                    for d in done {
                        eprintln!("variant {name}: {d}");
                    }
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "putting the indexes back after variant {name}; run `clinicload restore`, which retries from clinicload_meta.index_changes"
                    )))
                }
            }
        }
        let (summary, err) = result?;
        let stop = summary.run.interrupted;
        runs[k].dirs.push(sub.clone());
        runs[k].summaries.push(summary);
        if write_error.is_none() {
            write_error = err;
        }
        if stop {
            // A signal stops the whole run, not only the current variant.
            break;
        }
    }
    let variants: Vec<(String, Summary)> = runs
        .iter()
        .filter(|r| !r.summaries.is_empty())
        .map(|r| (r.name.clone(), representative(&r.summaries)))
        .collect();
    if variants.is_empty() {
        anyhow::bail!("no variant completed a run");
    }
    let extra = sections(run_id, scenario, dir, &runs, estimates, repeats, indexed)?;
    if write_error.is_none() {
        // Every variant ran the same scenario: the first one's facts describe it.
        let facts = &variants[0].1.scenario;
        write_error = report::variants::write_all(dir, run_id, facts, &variants, &extra)
            .and_then(|_| report::point_latest(&opts.out, run_id))
            .err();
    }
    let summary = variants[0].1.clone();
    Ok(RunResult {
        dir: dir.to_path_buf(),
        summary,
        variants,
        paths: runs
            .iter()
            .filter(|r| !r.paths.is_empty())
            .map(|r| (r.name.clone(), r.paths.clone()))
            .collect(),
        repeats: runs.into_iter().flat_map(|r| r.summaries).collect(),
        write_error,
    })
}

/// The estimates of the hypothetical variants (HypoPG), which are planned, not run.
async fn hypothetical_estimates<'a>(
    targets: &Targets,
    scenario: &Scenario,
    run_id: &str,
    names: &[String],
    change_of: &impl Fn(usize) -> &'a index_ab::IndexChange,
) -> Result<Vec<hypothetical::Estimate>> {
    let mut estimates = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let c = change_of(i);
        if c.hypothetical && !c.is_empty() {
            eprintln!("variant {name}: estimating with HypoPG ({})", c.describe());
            let e = hypothetical::estimate(targets, scenario, name, &format!("{run_id}/{name}"), c)
                .await
                .with_context(|| format!("hypothetical variant {name}"))?;
            if let Some(m) = &e.message {
                eprintln!("warning: variant {name}: {}: {m}", e.status);
            }
            estimates.push(e);
        }
    }
    Ok(estimates)
}

/// The side-by-side report's extra sections: index verdicts (printed as they are found),
/// overlaid percentile curves and the representative repeat of each variant.
fn sections(
    run_id: &str,
    scenario: &Scenario,
    dir: &Path,
    runs: &[VariantRuns],
    estimates: Vec<hypothetical::Estimate>,
    repeats: usize,
    indexed: bool,
) -> Result<report::variants::Extra> {
    let mut extra = report::variants::Extra {
        repeats,
        ..Default::default()
    };
    if indexed {
        let ab = index_ab::analyse(
            run_id,
            scenario,
            runs,
            estimates,
            &crate::compare::CompareOptions::default(),
        )?;
        for line in index_ab::verdict_lines(&ab) {
            eprintln!("index verdict: {line}");
        }
        for w in &ab.warnings {
            eprintln!("warning: {w}");
        }
        extra.notes = index_ab::verdict_lines(&ab);
        extra.notes.extend(ab.warnings.iter().cloned());
        extra.tables = index_ab::sections(&ab);
        extra.json = Some(("index_ab.json".into(), serde_json::to_value(&ab)?));
    }
    if repeats > 1 || indexed {
        extra.charts = index_ab::charts(runs);
        extra.dirs = runs
            .iter()
            .filter(|r| !r.summaries.is_empty())
            .map(|r| {
                let rep = representative(&r.summaries);
                let at = r
                    .summaries
                    .iter()
                    .position(|s| s.run_id == rep.run_id)
                    .unwrap_or(0);
                relative(dir, &r.dirs[at])
            })
            .collect();
    }
    Ok(extra)
}

impl VariantRuns {
    /// A variant before its first run.
    fn new(name: &str, change: &index_ab::IndexChange) -> VariantRuns {
        VariantRuns {
            name: name.to_string(),
            change: change.clone(),
            applied: None,
            dirs: Vec::new(),
            summaries: Vec::new(),
            paths: Vec::new(),
        }
    }
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .map(PathBuf::from)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The planned access paths of `scenario`'s PostgreSQL reads under the schema as it is now.
pub async fn access_paths(
    targets: &Targets,
    scenario: &Scenario,
) -> Result<Vec<crate::explain::OpPath>> {
    use sqlx::Connection;
    let scenario = crate::explain::postgres_only(scenario);
    let crate::explain::PlanSession {
        catalog, mut conn, ..
    } = crate::explain::PlanSession::open(targets, &scenario).await?;
    let paths = crate::explain::access_paths(&mut conn, &scenario, &catalog).await;
    conn.close().await.ok();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_interleave_forwards_then_backwards() {
        assert_eq!(order(2, 3), [0, 1, 1, 0, 0, 1]);
        assert_eq!(order(3, 2), [0, 1, 2, 2, 1, 0]);
        assert_eq!(order(2, 1), [0, 1]);
    }
}
