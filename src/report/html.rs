//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no fonts, no
//! network fetches) that a person opens in a browser. It leads with the answer: the verdicts
//! (a failed restore, the error rate, thresholds, errors) and the latency table of summary.md;
//! then latency by percentile per operation as a grid of small charts on shared scales (the
//! HdrHistogram plot: x is 1/(1-p) on a log scale, so the tail gets room), throughput and
//! latency over time; then the run's facts and the sections features handed over.

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

#[derive(Clone)]
struct Series<'a> {
    name: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// A chart's size and margins in pixels; `legend` draws the series' names at the right.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    font: f64,
    legend: bool,
}

/// A full-width chart with its legend at the right.
const WIDE: Frame = Frame {
    w: 760.0,
    h: 320.0,
    left: 70.0,
    right: 190.0,
    top: 30.0,
    bottom: 45.0,
    font: 11.0,
    legend: true,
};

/// One of the small multiples: no legend, no axis titles (the grid's heading names them).
const SMALL: Frame = Frame {
    w: 300.0,
    h: 170.0,
    left: 40.0,
    right: 18.0,
    top: 22.0,
    bottom: 20.0,
    font: 9.0,
    legend: false,
};

/// The ranges a chart draws: x, and y (log10 of y when the chart is on a log scale).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Domain {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

/// The ranges that hold every point of `series` (decades on a log scale, from 0 on a
/// linear one); None without points.
fn domain(series: &[Series], y_log: bool) -> Option<Domain> {
    let ty = |y: f64| if y_log { y.max(1e-3).log10() } else { y };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in series.iter().flat_map(|s| s.points.iter()) {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(ty(*y));
        y1 = y1.max(ty(*y));
    }
    if x0 > x1 {
        return None;
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
    Some(Domain { x0, x1, y0, y1 })
}

/// A full-width SVG line chart. `y_log` plots log10(y) with decade ticks.
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_ticks: &[(f64, String)],
    y_log: bool,
) -> String {
    let axes = Axes {
        x_label,
        y_label,
        x_ticks,
        y_log,
    };
    draw(&WIDE, domain(series, y_log), title, &axes, series)
}

/// What a chart says about its axes.
struct Axes<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x_ticks: &'a [(f64, String)],
    y_log: bool,
}

/// The chart in `frame` over `domain` (None: "no data"): frame, ticks, axis titles, a
/// polyline per series and, in a wide frame, the legend.
fn draw(
    frame: &Frame,
    domain: Option<Domain>,
    title: &str,
    axes: &Axes,
    series: &[Series],
) -> String {
    let f = frame;
    let (w, h, left, top, font) = (f.w, f.h, f.left, f.top, f.font);
    let pw = w - left - f.right;
    let ph = h - top - f.bottom;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title>"#,
        esc(title)
    );
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="{}" font-weight="bold">{}</text>"##,
        if f.legend { left } else { 4.0 },
        if f.legend { 18.0 } else { top - 8.0 },
        font + 3.0,
        esc(title)
    );
    let Some(d) = domain else {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="{}">no data</text></svg>"#,
            left + 10.0,
            top + 20.0,
            font + 1.0
        );
        return svg;
    };
    let sx = |x: f64| left + (x - d.x0) / (d.x1 - d.x0) * pw;
    let syt = |t: f64| top + ph - (t - d.y0) / (d.y1 - d.y0) * ph;
    let sy = |y: f64| syt(if axes.y_log { y.max(1e-3).log10() } else { y });
    let _ = write!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    for (t, label) in y_ticks(d, axes.y_log) {
        let y = syt(t);
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="{font}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 4.0,
            y + font / 3.0,
            esc(&label)
        );
    }
    for (x, label) in axes.x_ticks {
        if *x < d.x0 - 1e-9 || *x > d.x1 + 1e-9 {
            continue;
        }
        let px = sx(*x);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{top}" y2="{}" stroke="#eee"/><text x="{px:.1}" y="{}" font-size="{font}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + font + 4.0,
            esc(label)
        );
    }
    if f.legend {
        axis_titles(&mut svg, f, axes);
    }
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
            r#"<polyline fill="none" stroke="{}" stroke-width="{}" points="{}"/>"#,
            s.color,
            if f.legend { 1.8 } else { 1.5 },
            path.join(" ")
        );
        if f.legend {
            legend(&mut svg, f, i, s);
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The y axis' ticks: decades on a log scale, five even steps on a linear one.
fn y_ticks(d: Domain, y_log: bool) -> Vec<(f64, String)> {
    if y_log {
        (d.y0 as i32..=d.y1 as i32)
            .map(|e| (e as f64, trim_num(10f64.powi(e))))
            .collect()
    } else {
        (0..=4)
            .map(|i| {
                let v = d.y0 + (d.y1 - d.y0) * i as f64 / 4.0;
                (v, trim_num(v))
            })
            .collect()
    }
}

/// The x axis' title under the chart and the y axis' title along its left side.
fn axis_titles(svg: &mut String, f: &Frame, axes: &Axes) {
    let pw = f.w - f.left - f.right;
    let mid = f.top + (f.h - f.top - f.bottom) / 2.0;
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        f.left + pw / 2.0,
        f.h - 8.0,
        esc(axes.x_label)
    );
    let _ = write!(
        svg,
        r#"<text x="14" y="{mid}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {mid})">{}</text>"#,
        esc(axes.y_label)
    );
}

/// Series `i`'s entry in the legend at the right of a wide chart.
fn legend(svg: &mut String, f: &Frame, i: usize, s: &Series) {
    let x = f.w - f.right;
    let ly = f.top + 12.0 + i as f64 * 16.0;
    let _ = write!(
        svg,
        r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}" font-size="11">{}</text>"#,
        x + 10.0,
        x + 28.0,
        s.color,
        x + 32.0,
        ly + 4.0,
        esc(s.name)
    );
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

/// A latency-by-percentile chart (log scale) of several series, e.g. a baseline and a
/// candidate overlaid: `(name, [(percentile, µs)])`.
pub fn percentile_chart(title: &str, series: &[(&str, &[(f64, u64)])]) -> String {
    let ticks = percentile_ticks(true);
    let series: Vec<Series> = series
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| Series {
            name,
            color: COLORS[i % COLORS.len()],
            points: percentile_points(pts),
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

/// Ticks of the percentile axis (x is 1/(1-p) on a log scale): "99.9%", or "99.9" where
/// room is short.
fn percentile_ticks(with_sign: bool) -> Vec<(f64, String)> {
    [0.0, 90.0, 99.0, 99.9, 99.99, 99.999]
        .iter()
        .map(|p| {
            let label = if with_sign {
                format!("{p}%")
            } else {
                format!("{p}")
            };
            (pct_x(*p), label)
        })
        .collect()
}

/// (x, ms) points of a latency-by-percentile series: each percentile below 100 on the
/// 1/(1-p) axis, its latency in milliseconds.
fn percentile_points(pts: &[(f64, u64)]) -> Vec<(f64, f64)> {
    pts.iter()
        .filter(|(p, _)| *p < 100.0)
        .map(|(p, us)| (pct_x(*p), *us as f64 / 1000.0))
        .collect()
}

fn table_row(out: &mut String, r: &OpReport) {
    out.push_str("<tr>");
    for cell in r.table_cells() {
        let _ = write!(out, "<td>{}</td>", esc(&cell));
    }
    out.push_str("</tr>");
}

/// The thresholds' verdicts: failed ones in red.
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

/// The page leads with the answer: the verdicts (the restore's, the run's, the thresholds',
/// the errors) and the latency table; then the charts, per operation as small multiples on
/// shared scales; then the facts the figures come from and the handed-over sections.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    head(&mut out, s);
    verdicts(&mut out, s);
    thresholds(&mut out, s);
    problems(&mut out, s);
    summary_table(&mut out, s);

    // Every figure says which model measured it and from when.
    let model = format!(
        "{} model, successful operations, from {}",
        s.run.model, s.run.latency_from
    );
    small_multiples(&mut out, s, &model);
    over_time(&mut out, s, &model);
    // Facts: the header of summary.md.
    facts(&mut out, &super::markdown::render(s));
    if let Some(cache) = &s.cache {
        out.push_str(&cache_html(cache));
    }
    out.push_str(&super::page::tables_html(&s.sections));
    query_texts(&mut out, s);
    out
}

/// The document's head (title, inline style), the run's heading, a failed restore's banner
/// and the scenario's description.
fn head(out: &mut String, s: &Summary) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clinicload {}</title>\
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:13px}}\
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
pre{{background:#f6f6f6;padding:1em;white-space:pre-wrap}}svg{{display:block;margin:1em 0}}\
.good{{color:#1a7f37}}.bad{{color:#c62828;font-weight:bold}}\
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:4px 16px;max-width:1400px}}\
.grid svg{{width:100%;height:auto;margin:0}}.nodata{{border:1px dashed #bbb;padding:0.5em;font-size:13px;color:#555}}\
.wide{{display:flex;flex-wrap:wrap;gap:0 2em}}</style></head><body>",
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

/// The run's own verdicts: its error rate against the allowance, its throughput against
/// the target, and how it ended when it ended early.
fn verdicts(out: &mut String, s: &Summary) {
    let r = &s.run;
    let item = |out: &mut String, class: &str, text: String| {
        let _ = write!(out, "<li class=\"{class}\">{}</li>", esc(&text));
    };
    out.push_str("<h2>Verdicts</h2><ul class=\"verdicts\">");
    let within = r.error_rate <= r.max_error_rate;
    item(
        out,
        if within { "good" } else { "bad" },
        format!(
            "error rate {:.2}% of {} intended arrivals (failed, timed out, missed, abandoned), allowed {:.2}%: {}",
            100.0 * r.error_rate,
            r.arrivals.intended,
            100.0 * r.max_error_rate,
            if within { "within" } else { "EXCEEDED" }
        ),
    );
    match r.target_rate {
        Some(target) => item(
            out,
            "",
            format!(
                "throughput {:.1} ops/s achieved of {:.1} ops/s intended ({:.1}%), target {target:.1} ops/s, over {:.1} s measured",
                r.achieved_rate,
                r.intended_rate,
                100.0 * r.achieved_rate / r.intended_rate.max(1e-9),
                r.measured_s
            ),
        ),
        None => item(
            out,
            "",
            format!(
                "throughput {:.1} ops/s ({} model), over {:.1} s measured",
                r.achieved_rate, r.model, r.measured_s
            ),
        ),
    }
    if r.interrupted {
        item(
            out,
            "bad",
            "interrupted by a signal (Ctrl-C or SIGTERM): the measured window is shorter than planned".into(),
        );
    }
    if let Some(a) = &r.aborted_by_threshold {
        item(out, "bad", format!("ended early by abort_on_fail: {a}"));
    }
    out.push_str("</ul>");
}

/// What went wrong or was left out: errors by kind, operations the server does not
/// support, warnings. Nothing when there are none.
fn problems(out: &mut String, s: &Summary) {
    let list = |out: &mut String, title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        let _ = write!(out, "<h2>{}</h2><ul>", esc(title));
        for i in items {
            let _ = write!(out, "<li>{}</li>", esc(&i));
        }
        out.push_str("</ul>");
    };
    let errors = s.error_lines();
    list(out, "Errors", errors);
    let unsupported = s
        .operations
        .iter()
        .filter_map(|o| {
            let u = o.unsupported.as_ref()?;
            Some(format!(
                "{}: the server said \"{}\" ({} draws skipped)",
                o.label, u.server_said, u.draws
            ))
        })
        .collect();
    list(
        out,
        "Unsupported by the server (not executed, not errors)",
        unsupported,
    );
    list(out, "Warnings", s.warnings.clone());
}

/// The run's facts: the first fenced block of summary.md (`md`), preformatted.
fn facts(out: &mut String, md: &str) {
    let facts = md
        .split("```")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    let _ = write!(out, "<h2>Run facts</h2><pre>{}</pre>", esc(&facts));
}

/// One operation's latency-by-percentile series, in the operation's colour.
fn percentile_series(i: usize, r: &OpReport) -> Series<'_> {
    Series {
        name: &r.label,
        color: COLORS[i % COLORS.len()],
        points: percentile_points(&r.percentiles),
    }
}

/// "Latency by percentile": one small chart per operation, all on the same scales (x from
/// 0 to 99.999%, y the decades that hold every operation's latencies), each over the run's
/// overall curve in grey, so an operation that differs stands out. An operation without a
/// successful one gets a box saying so instead of an empty chart.
fn small_multiples(out: &mut String, s: &Summary, model: &str) {
    let overall = Series {
        name: "all operations",
        color: "#bbb",
        points: percentile_points(&s.overall.percentiles),
    };
    let mut every: Vec<Series> = s
        .operations
        .iter()
        .enumerate()
        .map(|(i, r)| percentile_series(i, r))
        .collect();
    every.push(overall.clone());
    let _ = write!(
        out,
        "<h2>Latency by percentile</h2><p>One chart per operation, all on the same scales: \
x the percentile (0 to 99.999%, spaced by 1/(1-p) so the tail gets room), y the latency in \
milliseconds on a log scale; in grey, all operations together. {}.</p>",
        esc(model)
    );
    let Some(mut shared) = domain(&every, true) else {
        out.push_str("<p>No successful operation: nothing to draw.</p>");
        return;
    };
    shared.x0 = 0.0;
    shared.x1 = shared.x1.max(pct_x(99.999));
    let ticks = percentile_ticks(false);
    let axes = Axes {
        x_label: "percentile",
        y_label: "latency (ms, log scale)",
        x_ticks: &ticks,
        y_log: true,
    };
    out.push_str("<div class=\"grid\">");
    for (i, r) in s.operations.iter().enumerate() {
        out.push_str("<div class=\"op\">");
        if r.percentiles.is_empty() {
            let why = match &r.unsupported {
                Some(_) => "not executed: unsupported by the server".to_string(),
                None => format!("no successful operation ({} errors)", r.errors),
            };
            let _ = write!(
                out,
                "<div class=\"nodata\"><b>{}</b><br>{}</div>",
                esc(&r.label),
                esc(&why)
            );
        } else {
            let series = [overall.clone(), percentile_series(i, r)];
            out.push_str(&draw(&SMALL, Some(shared), &r.label, &axes, &series));
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
}

/// "Over time": throughput (with the target rate and errors) and latency per interval.
fn over_time(out: &mut String, s: &Summary, model: &str) {
    let _ = write!(out, "<h2>Over time</h2><div class=\"wide\">");
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
    out.push_str("</div>");
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

/// "Latency per operation": the table of summary.md, a row per operation and one overall.
fn summary_table(out: &mut String, s: &Summary) {
    let _ = write!(
        out,
        "<h2>Latency per operation</h2><p>Latency in milliseconds, {}: mean to max of successful operations; <i>p99 all</i> of every arrival (ok, no-op, failed, timed out, missed, abandoned).</p><table><tr>",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Arrivals, ErrorKind, GeneratorFacts, Machine, RestoreStatus, RunFacts, ThresholdVerdict,
        Unsupported, CHART_PERCENTILES,
    };

    /// An operation whose latency at percentile p is `base_us` times (1 + p/10).
    fn op(label: &str, base_us: u64) -> OpReport {
        let percentiles = CHART_PERCENTILES
            .iter()
            .map(|p| (*p, base_us + (base_us as f64 * p / 10.0) as u64))
            .collect();
        OpReport {
            label: label.into(),
            name: label.into(),
            sub: None,
            store: "postgres".into(),
            write: false,
            weight: 1,
            unit: "rows",
            count: 100,
            errors: 0,
            noop: 0,
            throughput: 20.0,
            rows: 100,
            rows_per_op: 1.0,
            stats: crate::metrics::Stats::default(),
            all: crate::metrics::Stats::default(),
            p99_all_us: 0,
            arrivals: Some(Arrivals::default()),
            errors_by_kind: Default::default(),
            unsupported: None,
            percentiles,
        }
    }

    fn summary() -> Summary {
        let mut unsupported = op("notes_text_search", 0);
        unsupported.percentiles.clear();
        unsupported.count = 0;
        unsupported.unsupported = Some(Unsupported {
            server_said: "text indexes are not supported".into(),
            draws: 12,
        });
        let mut failing = op("sign_note", 40_000);
        failing.errors = 3;
        failing.errors_by_kind.insert(
            "timeout".into(),
            ErrorKind {
                count: 3,
                example: "timed out after 2s".into(),
            },
        );
        let operations = vec![
            op("appointments_today", 900),
            failing,
            op("redis_get", 150),
            unsupported,
        ];
        Summary {
            schema: crate::report::SCHEMA,
            run_id: "20261203T120000Z-smoke".into(),
            clinicload_version: "0.0.0",
            started_at: "2026-12-03T12:00:00.000Z".into(),
            scenario: Default::default(),
            command_line_overrides: Default::default(),
            dataset: None,
            servers: Default::default(),
            machine: Machine {
                cores: 2,
                memory_bytes: 1 << 30,
                os: "Debian".into(),
                kernel: "6".into(),
                arch: "x86_64".into(),
                cpu: "cpu".into(),
            },
            run: RunFacts {
                restore: RestoreStatus::Failed {
                    reason: "the server went away".into(),
                    command: "clinicload restore".into(),
                },
                model: "open",
                latency_from: "intended start",
                measured_s: 5.0,
                interrupted: false,
                aborted_by_threshold: None,
                target_rate: Some(80.0),
                intended_rate: 80.0,
                achieved_rate: 79.5,
                intended: 400,
                arrivals: Arrivals::default(),
                error_rate: 0.0075,
                max_error_rate: 0.01,
                grace_s: 1.0,
                started: 400,
                late_starts: 0,
                late_after_ms: 10.0,
                missed: 0,
                start_delay_p99_us: 0,
                start_delay_max_us: 0,
                warmup_ops: 0,
                warmup_errors: 0,
                abandoned: 0,
                wal_bytes: None,
                generator: GeneratorFacts::default(),
                warmup: Default::default(),
                steadiness: None,
            },
            overall: op("overall", 800),
            bytes: 0,
            operations,
            intervals: Vec::new(),
            warnings: vec!["a warning".into()],
            files: Default::default(),
            cache: None,
            restore: None,
            thresholds: vec![ThresholdVerdict {
                key: "sign_note.p99_all".into(),
                op: "<",
                value: 15_000.0,
                unit: "us",
                text: "< 15ms".into(),
                source: "smoke.toml:3".into(),
                observed: Some(80_000.0),
                observed_text: "80.000ms".into(),
                pass: false,
            }],
            indexes: None,
            sections: Vec::new(),
            worker: None,
            merged_from: Vec::new(),
        }
    }

    /// Where `needle` first is in `html`, or a failure naming it.
    fn at(html: &str, needle: &str) -> usize {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the page"))
    }

    #[test]
    fn the_page_leads_with_the_verdicts_and_the_table_then_the_charts_then_the_facts() {
        let html = render(&summary());
        let order = [
            "DATASET NOT RESTORED",
            "<h2>Verdicts</h2>",
            "Thresholds: 0 of 1 passed",
            ">FAILED<",
            "sign_note timeout: 3 (first: timed out after 2s)",
            "<th>operation</th>",
            "<td>overall</td>",
            "<div class=\"grid\">",
            "<svg",
            "<h2>Over time</h2>",
            "<h2>Run facts</h2>",
        ];
        for pair in order.windows(2) {
            assert!(
                at(&html, pair[0]) < at(&html, pair[1]),
                "{:?} comes before {:?}",
                pair[0],
                pair[1]
            );
        }
        assert!(html.contains("allowed 1.00%: within"), "{html}");
        assert!(html.trim_end().ends_with("</html>"));
        for fetch in ["http://", "https://", "<script", "<link", "@import", "src="] {
            assert!(!html.contains(fetch), "report.html contains {fetch:?}");
        }
    }

    #[test]
    fn the_grid_has_one_small_chart_per_operation_on_shared_scales() {
        let s = summary();
        let html = render(&s);
        let start = at(&html, "<div class=\"grid\">");
        let grid = &html[start..start + at(&html[start..], "<h2>")];
        let cells: Vec<&str> = grid.split("<div class=\"op\">").skip(1).collect();
        assert_eq!(cells.len(), s.operations.len(), "one cell per operation");
        let mut y_labels = Vec::new();
        for (cell, r) in cells.iter().zip(&s.operations) {
            if r.percentiles.is_empty() {
                // No empty chart: a box saying why.
                assert!(!cell.contains("<svg"), "{cell}");
                assert!(cell.contains("unsupported by the server"), "{cell}");
                continue;
            }
            assert_eq!(cell.matches("<svg").count(), 1, "{cell}");
            assert!(cell.contains(&format!("<title>{}</title>", r.label)));
            assert!(
                cell.contains(r#"width="300" height="170""#),
                "a small chart: {cell}"
            );
            // Its own curve and the overall one behind it.
            assert_eq!(cell.matches("<polyline").count(), 2, "{cell}");
            // The same y ticks (and so the same scale) on every chart: 0.1 ms to 100 ms
            // holds redis_get's 0.15 ms and sign_note's 440 ms at 99.999%.
            let ticks: Vec<&str> = cell
                .split(r#"text-anchor="end">"#)
                .skip(1)
                .map(|t| &t[..t.find('<').unwrap()])
                .collect();
            y_labels.push(ticks);
        }
        assert_eq!(y_labels.len(), 3);
        assert!(y_labels.windows(2).all(|w| w[0] == w[1]), "{y_labels:?}");
        assert_eq!(y_labels[0].first(), Some(&"0.100"), "{y_labels:?}");
        assert_eq!(y_labels[0].last(), Some(&"1000"), "{y_labels:?}");
    }
}
