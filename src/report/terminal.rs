//! The terminal's summary of a run: one screen (about 40 lines for the shipped scenarios),
//! as pgbench and k6 end theirs. It holds the headline, the per-operation latency table and
//! the verdicts, then one line per report section it leaves out, pointing to `summary.md`,
//! which keeps the full text (`clinicload run --verbose` prints that instead).

use std::fmt::Write;

use super::{OpReport, Summary};

/// The longest a line about a server message or an error example gets on the terminal.
const LINE_WIDTH: usize = 110;

/// The most error kinds listed before the rest is counted.
const ERROR_LINES: usize = 3;

fn ms(us: u64) -> String {
    if us >= 100_000 {
        format!("{:.0}", us as f64 / 1000.0)
    } else {
        format!("{:.2}", us as f64 / 1000.0)
    }
}

/// Shortens `text` to [`LINE_WIDTH`] characters, marking the cut.
pub fn clip(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= LINE_WIDTH {
        return one_line;
    }
    let cut: String = one_line.chars().take(LINE_WIDTH - 1).collect();
    format!("{cut}…")
}

/// The one-screen summary of a single run.
pub fn run_summary(s: &Summary) -> String {
    let mut out = String::new();
    headline(&mut out, s);
    let _ = writeln!(out);
    latency_table(&mut out, s);
    let _ = writeln!(out);
    verdicts(&mut out, s);
    left_out(&mut out, s);
    out
}

/// What ran, how it ended, arrivals by bucket, error rate and throughput against the target.
fn headline(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "clinicload run {}: {}, {} model{}, {:.1} s measured (warm-up {:.1} s excluded)",
        s.run_id,
        s.scenario.name,
        s.run.model,
        match s.run.target_rate {
            Some(rate) => format!(" at {rate} ops/s"),
            None => String::new(),
        },
        s.run.measured_s,
        if s.run.warmup.auto {
            s.run.warmup.seconds
        } else {
            s.scenario.warmup.as_secs_f64()
        },
    );
    if let Some(line) = s.run.restore.failure_line() {
        let _ = writeln!(out, "{line}");
    }
    if s.run.interrupted {
        let _ = writeln!(
            out,
            "INTERRUPTED by a signal: the figures cover the run up to it"
        );
    }
    if let Some(a) = &s.run.aborted_by_threshold {
        let _ = writeln!(out, "ENDED EARLY by abort_on_fail: {a}");
    }
    if let Some(line) = s
        .run
        .steadiness
        .as_ref()
        .and_then(|st| st.not_steady_line())
    {
        let _ = writeln!(out, "{line}");
    }
    if s.run.warmup.auto {
        let w = &s.run.warmup;
        let _ = writeln!(
            out,
            "warm-up: auto, {:.1} s, {}",
            w.seconds,
            if w.reached == Some(true) {
                "stable by its criterion (docs/scenarios.md, Cold numbers)"
            } else {
                "NOT STABLE when it ended: the measured figures may still be cold (summary.md)"
            }
        );
    }
    let a = &s.run.arrivals;
    let _ = writeln!(
        out,
        "arrivals: {} intended: {}",
        a.intended,
        nonzero_buckets(s)
    );
    let throughput = match s.run.target_rate {
        Some(_) => format!(
            "{:.1} ops/s achieved of {:.1} intended ({:.1}%)",
            s.run.achieved_rate,
            s.run.intended_rate,
            100.0 * s.run.achieved_rate / s.run.intended_rate.max(1e-9)
        ),
        None => format!("{:.1} ops/s", s.run.achieved_rate),
    };
    let _ = writeln!(
        out,
        "error rate: {:.2}% (allowed {:.2}%); throughput: {throughput}; latency from each operation's {}",
        100.0 * s.run.error_rate,
        100.0 * s.run.max_error_rate,
        if s.run.model == "open" {
            "intended start"
        } else {
            "actual start"
        }
    );
}

/// The arrival buckets that hold any arrival ("91 ok, 9 unsupported"), `ok` always.
fn nonzero_buckets(s: &Summary) -> String {
    let a = &s.run.arrivals;
    let buckets = [
        ("ok", a.ok),
        ("no-op", a.noop),
        ("failed", a.failed),
        ("timed out", a.timed_out),
        ("unsupported", a.unsupported),
        ("missed", a.missed),
        ("abandoned", a.abandoned),
    ];
    buckets
        .iter()
        .filter(|(name, n)| *n > 0 || *name == "ok")
        .map(|(name, n)| format!("{n} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Operation, count, errors, ops/s and the percentiles in milliseconds, with p99 of every
/// arrival, aligned for a terminal.
fn latency_table(out: &mut String, s: &Summary) {
    let width = s
        .operations
        .iter()
        .map(|o| o.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("operation".len());
    let _ = writeln!(
        out,
        "{:<width$} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "operation", "count", "errors", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "p99 all"
    );
    for o in s.operations.iter().chain(std::iter::once(&s.overall)) {
        let _ = writeln!(out, "{}", table_row(o, width));
    }
}

fn table_row(o: &OpReport, width: usize) -> String {
    let st = &o.stats;
    if o.count == 0 && o.errors == 0 {
        let why = if o.unsupported.is_some() {
            "unsupported by the server"
        } else {
            "no arrivals"
        };
        return format!("{:<width$} {:>7} {:>6}  {why}", o.label, 0, 0);
    }
    format!(
        "{:<width$} {:>7} {:>6} {:>8.1} {:>8} {:>8} {:>8} {:>8} {:>8}",
        o.label,
        o.count,
        o.errors,
        o.throughput,
        ms(st.p50_us),
        ms(st.p95_us),
        ms(st.p99_us),
        ms(st.max_us),
        ms(o.p99_all_us)
    )
}

/// Thresholds (each failure on its own line), operations the server does not support, and
/// errors by kind (the first few).
fn verdicts(out: &mut String, s: &Summary) {
    if !s.thresholds.is_empty() {
        let failed: Vec<_> = s.thresholds.iter().filter(|v| !v.pass).collect();
        let _ = writeln!(
            out,
            "thresholds: {} of {} passed{}",
            s.thresholds.len() - failed.len(),
            s.thresholds.len(),
            if failed.is_empty() { "" } else { ", FAILED:" }
        );
        for v in failed {
            let _ = writeln!(out, "  {}", clip(&v.line()));
        }
    }
    for o in s.operations.iter().filter(|o| o.unsupported.is_some()) {
        let u = o.unsupported.as_ref().unwrap();
        let _ = writeln!(
            out,
            "{}",
            clip(&format!(
                "unsupported: {} ({} draws skipped): {}",
                o.label, u.draws, u.server_said
            ))
        );
    }
    let errors: Vec<String> = s.error_lines();
    for e in errors.iter().take(ERROR_LINES) {
        let _ = writeln!(out, "{}", clip(&format!("errors: {e}")));
    }
    if errors.len() > ERROR_LINES {
        let _ = writeln!(
            out,
            "errors: {} more kinds -> summary.md",
            errors.len() - ERROR_LINES
        );
    }
}

/// One line per section the terminal leaves out, with its count, pointing to summary.md.
fn left_out(out: &mut String, s: &Summary) {
    if !s.warnings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            clip(&format!(
                "warnings: {} (first: {}) -> summary.md",
                s.warnings.len(),
                s.warnings[0]
            ))
        );
    }
    if let Some(cache) = &s.cache {
        let _ = writeln!(
            out,
            "cache {}: {} figures -> summary.md",
            cache.name,
            cache.rows.len()
        );
    }
    for t in &s.sections {
        let _ = writeln!(out, "{}", section_line(&t.title, t.rows.len()));
    }
}

/// "Title: N rows -> summary.md", or the title alone when it already carries its count.
fn section_line(title: &str, rows: usize) -> String {
    let title = title.trim_start_matches('#').trim();
    let counted = title.split_once(':').is_some_and(|(_, tail)| {
        tail.chars().any(|c| c.is_ascii_digit()) || tail.contains("unsupported")
    });
    if counted {
        format!("{title} -> summary.md")
    } else {
        format!(
            "{title}: {rows} {} -> summary.md",
            if rows == 1 { "row" } else { "rows" }
        )
    }
}

/// The cache figures the side-by-side terminal table keeps: what tells the strategies apart.
const CACHE_ROWS_SHOWN: &[&str] = &[
    "strategy",
    "hit ratio",
    "hit latency",
    "miss latency",
    "stale reads",
];

/// A Markdown report cut to one screen (for the side-by-side variants page): everything
/// before its first `## ` section but the cache's configuration rows, the variants' links
/// and their warnings, then one line per section with the rows of its table, and one line
/// each for what else was left out.
pub fn fold_sections(md: &str) -> String {
    let mut kept = String::new();
    let (mut cache_rows, mut warnings, mut first_warning) = (0usize, 0usize, None);
    let mut lines = md.lines().peekable();
    while let Some(line) = lines.next_if(|l| !l.starts_with("## ")) {
        if let Some(metric) = line.strip_prefix("| cache: ") {
            if !CACHE_ROWS_SHOWN
                .iter()
                .any(|m| metric.starts_with(&format!("{m} |")))
            {
                cache_rows += 1;
                continue;
            }
        }
        if let Some(w) = line.trim_start().strip_prefix("- warning: ") {
            warnings += 1;
            first_warning.get_or_insert_with(|| w.to_string());
            continue;
        }
        if line.starts_with("- ") && line.contains("](") {
            continue; // a variant's link to its own summary.md
        }
        let _ = writeln!(kept, "{line}");
    }
    let mut folded = Vec::new();
    if cache_rows > 0 {
        folded.push(format!(
            "cache: {cache_rows} more figures per variant -> summary.md"
        ));
    }
    if let Some(first) = first_warning {
        folded.push(clip(&format!(
            "warnings: {warnings} across the variants (first: {first}) -> summary.md"
        )));
    }
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            let mut rows = 0usize;
            while let Some(l) = lines.next_if(|l| !l.starts_with("## ")) {
                if l.starts_with('|') {
                    rows += 1;
                }
            }
            // A table's heading and its separator are not rows.
            folded.push(section_line(title, rows.saturating_sub(2)));
        }
    }
    let mut out = kept.trim_end().to_string();
    out.push('\n');
    if !folded.is_empty() {
        out.push('\n');
        for f in folded {
            let _ = writeln!(out, "{f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_fold_to_one_line_each_with_their_rows() {
        let md = "# title\n\nintro\n\n| a |\n|---|\n| 1 |\n\n## Index verdicts\n\n| i | v |\n|---|---|\n| x | keep |\n| y | drop |\n\n## Indexes used: 12 of 40\n\n| t |\n|---|\n| z |\n";
        let folded = fold_sections(md);
        assert!(folded.starts_with("# title\n\nintro\n\n| a |\n|---|\n| 1 |\n\n"));
        assert!(folded.contains("Index verdicts: 2 rows -> summary.md\n"));
        assert!(folded.contains("Indexes used: 12 of 40 -> summary.md\n"));
        assert!(!folded.contains("| x | keep |"));
    }

    #[test]
    fn cache_configuration_links_and_warnings_fold_to_counts() {
        let md = "# t\n\n| | a | b |\n|---|---|---|\n| cache: ttl | 1s | 1s |\n| cache: hit ratio | 90% | 95% |\n\n- a: [a/summary.md](a/summary.md)\n  - warning: w1\n- b: [b/summary.md](b/summary.md)\n  - warning: w2\n";
        let folded = fold_sections(md);
        assert!(folded.contains("| cache: hit ratio | 90% | 95% |"));
        assert!(!folded.contains("cache: ttl"));
        assert!(!folded.contains("[a/summary.md]"));
        assert!(folded.contains("cache: 1 more figures per variant -> summary.md"));
        assert!(folded.contains("warnings: 2 across the variants (first: w1) -> summary.md"));
    }

    #[test]
    fn long_lines_are_clipped_on_one_line() {
        let long = "word ".repeat(100);
        let c = clip(&format!("a\nb {long}"));
        assert!(c.chars().count() <= LINE_WIDTH);
        assert!(c.ends_with('…'));
        assert!(!c.contains('\n'));
        assert_eq!(clip("short"), "short");
    }
}
