//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no fonts, no
//! network fetches) that a person opens in a browser: the run's facts, latency by percentile
//! per operation (the HdrHistogram plot: x is 1/(1-p) on a log scale, so the tail gets room),
//! throughput and latency over time, and the table of summary.md.

use std::fmt::Write;

use super::{OpReport, Summary};

const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
];

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// An SVG line chart. `y_log` plots log10(y) with decade ticks.
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_ticks: &[(f64, String)],
    y_log: bool,
) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 320.0, 70.0, 190.0, 30.0, 45.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let ty = |y: f64| if y_log { y.max(1e-3).log10() } else { y };
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(ty(*y));
        y1 = y1.max(ty(*y));
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title>"#,
        esc(title)
    );
    let _ = write!(
        svg,
        r##"<text x="{left}" y="18" font-size="14" font-weight="bold">{}</text>"##,
        esc(title)
    );
    if x0 > x1 {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="12">no data</text></svg>"#,
            left + 10.0,
            top + 20.0
        );
        return svg;
    }
    if y_log {
        y0 = y0.floor();
        y1 = y1.ceil().max(y0 + 1.0);
    } else {
        y0 = 0.0;
        if y1 <= 0.0 {
            y1 = 1.0;
        }
        y1 *= 1.05;
    }
    if (x1 - x0).abs() < 1e-12 {
        x1 = x0 + 1.0;
    }
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (ty(y) - y0) / (y1 - y0) * ph;
    let syt = |t: f64| top + ph - (t - y0) / (y1 - y0) * ph;
    let _ = write!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    // y ticks
    let yt: Vec<(f64, String)> = if y_log {
        (y0 as i32..=y1 as i32)
            .map(|d| {
                let v = 10f64.powi(d);
                (d as f64, trim_num(v))
            })
            .collect()
    } else {
        (0..=4)
            .map(|i| {
                let v = y0 + (y1 - y0) * i as f64 / 4.0;
                (v, trim_num(v))
            })
            .collect()
    };
    for (t, label) in yt {
        let y = syt(t);
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            left + pw,
            left - 5.0,
            y + 4.0,
            esc(&label)
        );
    }
    for (x, label) in x_ticks {
        if *x < x0 - 1e-9 || *x > x1 + 1e-9 {
            continue;
        }
        let px = sx(*x);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{top}" y2="{}" stroke="#eee"/><text x="{px:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 15.0,
            esc(label)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 8.0,
        esc(x_label)
    );
    let _ = write!(
        svg,
        r#"<text x="14" y="{}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        top + ph / 2.0,
        top + ph / 2.0,
        esc(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        if s.points.is_empty() {
            continue;
        }
        let path: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.8" points="{}"/>"#,
            s.color,
            path.join(" ")
        );
        let ly = top + 12.0 + i as f64 * 16.0;
        let _ = write!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            left + pw + 10.0,
            left + pw + 28.0,
            s.color,
            left + pw + 32.0,
            ly + 4.0,
            esc(s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn trim_num(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// x position of percentile p on the 1/(1-p) log scale.
fn pct_x(p: f64) -> f64 {
    let p = p.min(99.9999) / 100.0;
    (1.0 / (1.0 - p)).log10()
}

/// A latency-by-percentile chart (log scale) of several series, e.g. a baseline and a
/// candidate overlaid: `(name, [(percentile, µs)])`.
/// A line chart of (x, y) series, x ticks at five even steps (`y_log`: log-scale y).
pub fn xy_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, &[(f64, f64)])],
    y_log: bool,
) -> String {
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let ticks: Vec<(f64, String)> = if lo <= hi {
        (0..=4)
            .map(|i| {
                let x = lo + (hi - lo) * i as f64 / 4.0;
                (x, trim_num(x))
            })
            .collect()
    } else {
        Vec::new()
    };
    let series: Vec<Series> = series
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| Series {
            name,
            color: COLORS[i % COLORS.len()],
            points: pts.to_vec(),
        })
        .collect();
    chart(title, x_label, y_label, &series, &ticks, y_log)
}

pub fn percentile_chart(title: &str, series: &[(&str, &[(f64, u64)])]) -> String {
    let ticks: Vec<(f64, String)> = [0.0, 90.0, 99.0, 99.9, 99.99, 99.999]
        .iter()
        .map(|p| (pct_x(*p), format!("{p}%")))
        .collect();
    let series: Vec<Series> = series
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| Series {
            name,
            color: COLORS[i % COLORS.len()],
            points: pts
                .iter()
                .filter(|(p, _)| *p < 100.0)
                .map(|(p, us)| (pct_x(*p), *us as f64 / 1000.0))
                .collect(),
        })
        .collect();
    chart(
        title,
        "percentile",
        "latency (ms, log scale)",
        &series,
        &ticks,
        true,
    )
}

fn table_row(out: &mut String, r: &OpReport) {
    out.push_str("<tr>");
    for cell in r.table_cells() {
        let _ = write!(out, "<td>{}</td>", esc(&cell));
    }
    out.push_str("</tr>");
}

/// The thresholds' verdicts, at the top: failed ones in red.
fn thresholds(out: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    let failed = s.thresholds.iter().filter(|v| !v.pass).count();
    let _ = write!(
        out,
        "<h2>Thresholds: {} of {} passed</h2><table><tr><th>threshold</th><th>expected</th><th>observed</th><th>result</th><th>from</th></tr>",
        s.thresholds.len() - failed,
        s.thresholds.len()
    );
    for v in &s.thresholds {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"color:{}\">{}</td><td>{}</td></tr>",
            esc(&v.key),
            esc(&v.text),
            esc(&v.observed_text),
            if v.pass { "#2ca02c" } else { "#d62728" },
            if v.pass { "passed" } else { "FAILED" },
            esc(&v.source)
        );
    }
    out.push_str("</table>");
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    head(&mut out, s);
    // Facts: the header of summary.md.
    let md = super::markdown::render(s);
    facts(&mut out, &md);
    thresholds(&mut out, s);

    // Every figure says which model measured it and from when.
    let model = format!(
        "{} model, successful operations, from {}",
        s.run.model, s.run.latency_from
    );
    latency_by_percentile(&mut out, s, &model);
    over_time(&mut out, s, &model);
    summary_table(&mut out, s);
    if let Some(cache) = &s.cache {
        out.push_str(&cache_html(cache));
    }
    sections_and_notes(&mut out, s, &md);
    query_texts(&mut out, s);
    out
}

/// The document's head (title, inline style) and the run's heading and description.
fn head(out: &mut String, s: &Summary) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clinicload {}</title>\
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:13px}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}svg{{display:block;margin:1em 0}}</style></head><body>",
        esc(&s.run_id)
    );
    let _ = write!(out, "<h1>clinicload run {}</h1>", esc(&s.run_id),);
    if let Some(line) = s.run.restore.failure_line() {
        let _ = write!(
            out,
            "<p style=\"background:#fdd;border:2px solid #c00;padding:0.6em\"><b>{}</b></p>",
            esc(&line)
        );
    }
    if let Some(line) = s
        .run
        .steadiness
        .as_ref()
        .and_then(|st| st.not_steady_line())
    {
        let _ = write!(
            out,
            "<p class=\"not-steady\" style=\"background:#fff3cd;border:2px solid #c80;padding:0.6em\"><b>{}</b></p>",
            esc(&line)
        );
    }
    let _ = write!(out, "<p>{}</p>", esc(&s.scenario.description));
}

/// The run's facts: the first fenced block of summary.md (`md`), preformatted.
fn facts(out: &mut String, md: &str) {
    let facts = md
        .split("```")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    let _ = write!(out, "<pre>{}</pre>", esc(&facts));
}

/// One operation's latency-by-percentile series, in the operation's colour.
fn percentile_series(i: usize, r: &OpReport) -> Series<'_> {
    Series {
        name: &r.label,
        color: COLORS[i % COLORS.len()],
        points: r
            .percentiles
            .iter()
            .filter(|(p, _)| *p < 100.0)
            .map(|(p, us)| (pct_x(*p), *us as f64 / 1000.0))
            .collect(),
    }
}

/// "Latency by percentile": all operations on one chart (log scale), then one per operation.
fn latency_by_percentile(out: &mut String, s: &Summary, model: &str) {
    let _ = write!(out, "<h2>Latency by percentile</h2>");
    let ticks: Vec<(f64, String)> = [0.0, 90.0, 99.0, 99.9, 99.99, 99.999]
        .iter()
        .map(|p| (pct_x(*p), format!("{p}%")))
        .collect();
    let mut series = Vec::new();
    for (i, r) in s.operations.iter().enumerate() {
        series.push(percentile_series(i, r));
    }
    out.push_str(&chart(
        &format!("Latency by percentile, all operations ({model})"),
        "percentile",
        "latency (ms, log scale)",
        &series,
        &ticks,
        true,
    ));
    for (i, r) in s.operations.iter().enumerate() {
        if r.percentiles.is_empty() {
            continue;
        }
        out.push_str(&chart(
            &format!("{}: latency by percentile ({model})", r.label),
            "percentile",
            "latency (ms)",
            &[percentile_series(i, r)],
            &ticks,
            false,
        ));
    }
}

/// "Over time": throughput (with the target rate and errors) and latency per interval.
fn over_time(out: &mut String, s: &Summary, model: &str) {
    let _ = write!(out, "<h2>Over time</h2>");
    let xt: Vec<(f64, String)> = {
        let end = s.intervals.last().map(|p| p.t).unwrap_or(1.0);
        let step = (end / 6.0).ceil().max(1.0);
        (0..=7)
            .map(|i| i as f64 * step)
            .filter(|x| *x <= end)
            .map(|x| (x, format!("{x:.0}s")))
            .collect()
    };
    throughput_chart(out, s, &xt);
    latency_over_time_chart(out, s, model, &xt);
}

/// Operations and errors per second per interval, against the target rate (open model).
fn throughput_chart(out: &mut String, s: &Summary, xt: &[(f64, String)]) {
    let tput: Vec<(f64, f64)> = s
        .intervals
        .iter()
        .map(|p| (p.t, p.ops as f64 / p.seconds.max(1e-9)))
        .collect();
    let errs: Vec<(f64, f64)> = s
        .intervals
        .iter()
        .map(|p| (p.t, p.errors as f64 / p.seconds.max(1e-9)))
        .collect();
    let mut tseries = vec![Series {
        name: "ops/s",
        color: COLORS[0],
        points: tput,
    }];
    if let Some(target) = s.run.target_rate {
        tseries.push(Series {
            name: "target",
            color: "#aaa",
            points: s.intervals.iter().map(|p| (p.t, target)).collect(),
        });
    }
    tseries.push(Series {
        name: "errors/s",
        color: COLORS[1],
        points: errs,
    });
    out.push_str(&chart(
        &format!("Throughput ({} model)", s.run.model),
        "time into the measured window",
        "operations per second",
        &tseries,
        xt,
        false,
    ));
}

/// p50, p99 and max latency per interval (intervals with a success only), log scale.
fn latency_over_time_chart(out: &mut String, s: &Summary, model: &str, xt: &[(f64, String)]) {
    let lat = |f: fn(&super::IntervalPoint) -> u64| -> Vec<(f64, f64)> {
        s.intervals
            .iter()
            .filter(|p| p.ops > p.errors)
            .map(|p| (p.t, f(p) as f64 / 1000.0))
            .collect()
    };
    out.push_str(&chart(
        &format!("Latency over time, all operations ({model})"),
        "time into the measured window",
        "latency (ms, log scale)",
        &[
            Series {
                name: "p50",
                color: COLORS[2],
                points: lat(|p| p.p50_us),
            },
            Series {
                name: "p99",
                color: COLORS[3],
                points: lat(|p| p.p99_us),
            },
            Series {
                name: "max",
                color: COLORS[1],
                points: lat(|p| p.max_us),
            },
        ],
        xt,
        true,
    ));
}

/// "Summary": the table of summary.md, a row per operation and one overall.
fn summary_table(out: &mut String, s: &Summary) {
    let _ = write!(
        out,
        "<h2>Summary</h2><p>Latency in milliseconds, {}: mean to max of successful operations; <i>p99 all</i> of every arrival (ok, no-op, failed, timed out, missed, abandoned).</p><table><tr>",
        esc(&format!("{} model, from each operation's {}", s.run.model, s.run.latency_from))
    );
    for h in super::TABLE_HEADER {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for r in &s.operations {
        table_row(out, r);
    }
    table_row(out, &s.overall);
    out.push_str("</table>");
}

/// The summary's extra sections as tables, then what summary.md (`md`) says after its
/// tables (unsupported operations, errors, warnings), preformatted.
fn sections_and_notes(out: &mut String, s: &Summary, md: &str) {
    let mut rest: String = md.split("```").skip(2).collect::<Vec<_>>().join("");
    if let Some(i) = rest.find("\n## Cache: ") {
        rest.truncate(i); // rendered as a table above
    }
    out.push_str(&super::page::tables_html(&s.sections));
    if let Some(first) = s.sections.first() {
        if let Some(i) = rest.find(&format!("\n## {}", first.title)) {
            rest.truncate(i); // rendered as tables above
        }
    }
    if let Some(idx) = rest
        .find("\nUnsupported")
        .or_else(|| rest.find("\nErrors"))
        .or_else(|| rest.find("\nWarnings"))
    {
        let _ = write!(out, "<pre>{}</pre>", esc(rest[idx..].trim()));
    }
}

/// The query text of each operation, and the end of the document.
fn query_texts(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "<p>Query text of each operation:</p><pre>{}</pre></body></html>",
        esc(&s
            .scenario
            .queries
            .iter()
            .map(|(name, query)| format!("{name}:\n{query}"))
            .collect::<Vec<_>>()
            .join("\n\n"))
    );
}

/// The schedule cache's section: its metrics as a two-column table.
fn cache_html(c: &super::CacheSection) -> String {
    let mut out = format!("<h2>Cache: {}</h2>\n<table>\n", esc(&c.name));
    for (k, v) in &c.rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</table>\n");
    out
}
