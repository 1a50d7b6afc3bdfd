//! The report of a scenario run once per variant: the variants side by side in
//! `<run-id>/summary.json`, `summary.md` and `report.html`, each variant's full report in
//! `<run-id>/<variant>/` (`<variant>/r<n>/` with repeats). Only formats the variants'
//! summaries and the sections it is handed ([`Extra`]: the index verdicts of
//! `crate::index_ab`, the overlaid percentile curves).

/// What a feature adds to the side-by-side page, rendered as handed over.
#[derive(Debug, Default)]
pub struct Extra {
    /// Lines under the title (verdicts first).
    pub notes: Vec<String>,
    pub tables: Vec<super::page::Table>,
    pub charts: Vec<super::page::Chart>,
    /// A file written beside summary.json, e.g. ("index_ab.json", its content).
    pub json: Option<(String, serde_json::Value)>,
    /// Each variant's report directory relative to the run's, when it is not the variant's
    /// name (with repeats: the representative repeat's).
    pub dirs: Vec<String>,
    /// Runs per variant (0 or 1: once each, one after the other).
    pub repeats: usize,
}

impl Extra {
    fn dir<'a>(&'a self, i: usize, name: &'a str) -> &'a str {
        self.dirs.get(i).map_or(name, String::as_str)
    }
}

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::html::esc;
use super::Summary;
use super::{LoadFacts, ScenarioFacts};

pub const SCHEMA: &str = "clinicload.comparison/1";

#[derive(Serialize)]
struct Comparison<'a> {
    schema: &'static str,
    run_id: &'a str,
    scenario: &'a ScenarioFacts,
    variants: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    dir: &'a str,
    summary: &'a Summary,
}

/// What the latencies of the page are: the model states where they are measured from.
fn latency_note(scenario: &ScenarioFacts) -> &'static str {
    match scenario.load {
        LoadFacts::Open { .. } => {
            "Open model: latencies in ms, measured from each operation's intended start; \
             p99 all counts every arrival (failed, timed out, missed, abandoned included)."
        }
        LoadFacts::Closed { .. } => {
            "Closed model: latencies in ms, measured from each operation's actual start \
             (waits before a start are not in them); p99 all counts every operation started."
        }
    }
}

/// The comparison table: (metric, one value per variant).
fn table(variants: &[(String, Summary)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    out.push((
        "model (latency from)".into(),
        variants
            .iter()
            .map(|(_, s)| format!("{} ({})", s.run.model, s.run.latency_from))
            .collect(),
    ));
    out.push((
        "arrivals: intended / ok / no-op / failed / timed out / missed / abandoned".into(),
        variants
            .iter()
            .map(|(_, s)| {
                let a = &s.run.arrivals;
                format!(
                    "{} / {} / {} / {} / {} / {} / {}",
                    a.intended, a.ok, a.noop, a.failed, a.timed_out, a.missed, a.abandoned
                )
            })
            .collect(),
    ));
    out.push((
        "achieved ops/s".into(),
        variants
            .iter()
            .map(|(_, s)| format!("{:.1}", s.run.achieved_rate))
            .collect(),
    ));
    let mut labels: Vec<String> = Vec::new();
    for (_, s) in variants {
        for o in std::iter::once(&s.overall).chain(&s.operations) {
            if !labels.contains(&o.label) {
                labels.push(o.label.clone());
            }
        }
    }
    for label in labels {
        let cell = |s: &Summary| {
            std::iter::once(&s.overall)
                .chain(&s.operations)
                .find(|o| o.label == label)
                .map(|o| {
                    format!(
                        "{} ops · p50 {} · p99 {} · max {} · p99 all {} ms",
                        o.count,
                        ms(o.stats.p50_us),
                        ms(o.stats.p99_us),
                        ms(o.stats.max_us),
                        ms(o.p99_all_us)
                    )
                })
                .unwrap_or_else(|| "–".into())
        };
        out.push((
            label.clone(),
            variants.iter().map(|(_, s)| cell(s)).collect(),
        ));
    }
    let per_variant: Vec<Vec<(&'static str, String)>> = variants
        .iter()
        .map(|(_, s)| s.cache.as_ref().map(|c| c.rows.clone()).unwrap_or_default())
        .collect();
    let mut metrics: Vec<&'static str> = Vec::new();
    let mut seen = BTreeSet::new();
    for rows in &per_variant {
        for (k, _) in rows {
            if seen.insert(*k) {
                metrics.push(k);
            }
        }
    }
    for m in metrics {
        out.push((
            format!("cache: {m}"),
            per_variant
                .iter()
                .map(|rows| {
                    rows.iter()
                        .find(|(k, _)| *k == m)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "–".into())
                })
                .collect(),
        ));
    }
    out
}

pub fn markdown(
    run_id: &str,
    scenario: &ScenarioFacts,
    variants: &[(String, Summary)],
    extra: &Extra,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# clinicload run {run_id}: {} variants side by side\n",
        variants.len()
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "{}\n", scenario.description);
    }
    let _ = writeln!(
        out,
        "Scenario {} ({}), run {}, {:.0} s measured each \
         (+{:.0} s warm-up). {}\n",
        scenario.name,
        scenario.file.display(),
        if extra.repeats > 1 {
            format!(
                "{} times per variant, interleaved (A B B A ...)",
                extra.repeats
            )
        } else {
            "once per variant, one after the other".to_string()
        },
        scenario.duration.as_secs_f64(),
        scenario.warmup.as_secs_f64(),
        latency_note(scenario)
    );
    for n in &extra.notes {
        let _ = writeln!(out, "- {n}");
    }
    if !extra.notes.is_empty() {
        let _ = writeln!(out);
    }
    if variants.len() > 1 && extra.dirs.iter().any(|d| d.contains('/')) {
        let _ = writeln!(
            out,
            "Each column is the variant's median repeat (by overall p50); every repeat is under its directory.\n"
        );
    }
    let names: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
    let _ = writeln!(out, "| | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(names.len()));
    for (metric, cells) in table(variants) {
        let _ = writeln!(out, "| {metric} | {} |", cells.join(" | "));
    }
    out.push_str(&super::page::tables_markdown(&extra.tables));
    let _ = writeln!(out);
    for (i, (name, s)) in variants.iter().enumerate() {
        let d = extra.dir(i, name);
        let _ = writeln!(out, "- {name}: [{d}/summary.md]({d}/summary.md)");
        for w in &s.warnings {
            let _ = writeln!(out, "  - warning: {w}");
        }
    }
    out
}

pub fn html(
    run_id: &str,
    scenario: &ScenarioFacts,
    variants: &[(String, Summary)],
    extra: &Extra,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>clinicload {}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         th{{background:#f4f4f4}}</style></head><body>",
        esc(run_id)
    );
    let _ = write!(
        out,
        "<h1>{} — {} variants side by side</h1><p>{}</p><p>{}</p>",
        esc(&scenario.name),
        variants.len(),
        esc(&scenario.description),
        esc(latency_note(scenario))
    );
    if !extra.notes.is_empty() {
        out.push_str("<ul>");
        for n in &extra.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    out.push_str(&super::page::tables_html(&extra.tables));
    out.push_str(&super::page::charts_html(&extra.charts));
    let _ = write!(out, "<h2>Side by side</h2><table><tr><th></th>");
    for (i, (name, _)) in variants.iter().enumerate() {
        let _ = write!(
            out,
            "<th><a href=\"{}/report.html\">{}</a></th>",
            esc(extra.dir(i, name)),
            esc(name)
        );
    }
    out.push_str("</tr>");
    for (metric, cells) in table(variants) {
        let _ = write!(out, "<tr><th>{}</th>", esc(&metric));
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></body></html>\n");
    out
}

/// Writes the comparison into `dir` (the variants' own reports are already in subdirectories).
pub fn write_all(
    dir: &Path,
    run_id: &str,
    scenario: &ScenarioFacts,
    variants: &[(String, Summary)],
    extra: &Extra,
) -> Result<()> {
    let write = |name: &str, text: String| super::write_atomic(&dir.join(name), text.as_bytes());
    if let Some((name, value)) = &extra.json {
        write(
            name,
            serde_json::to_string_pretty(value).context("serialising the variants' report")? + "\n",
        )?;
    }
    let json = Comparison {
        schema: SCHEMA,
        run_id,
        scenario,
        variants: variants
            .iter()
            .enumerate()
            .map(|(i, (n, s))| Entry {
                name: n,
                dir: extra.dir(i, n),
                summary: s,
            })
            .collect(),
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(&json).context("serialising the comparison")? + "\n",
    )?;
    write("summary.md", markdown(run_id, scenario, variants, extra))?;
    write("report.html", html(run_id, scenario, variants, extra))?;
    Ok(())
}
