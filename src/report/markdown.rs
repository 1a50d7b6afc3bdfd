//! `summary.md`: the run as a person pastes it into a pull request, shaped like pgbench's
//! output (what ran, how long, achieved throughput, then per-statement latencies) with a
//! latency table in milliseconds.

use std::fmt::Write;

use super::LoadFacts;
use super::{OpReport, Summary};

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn row(out: &mut String, r: &OpReport) {
    let _ = writeln!(out, "| {} |", r.table_cells().join(" | "));
}

/// The thresholds' verdicts, failed or passed, before the latency table.
fn thresholds(out: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    let failed = s.thresholds.iter().filter(|v| !v.pass).count();
    let _ = writeln!(
        out,
        "Thresholds: {} of {} passed{}\n",
        s.thresholds.len() - failed,
        s.thresholds.len(),
        if failed > 0 { ", **FAILED**" } else { "" }
    );
    let _ = writeln!(out, "| threshold | expected | observed | result | from |");
    let _ = writeln!(out, "|---|---|---:|---|---|");
    for v in &s.thresholds {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            v.key,
            v.text,
            v.observed_text,
            if v.pass { "passed" } else { "**FAILED**" },
            v.source
        );
    }
    let _ = writeln!(out);
}

pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    title(&mut out, s);
    let _ = writeln!(out, "```");
    load_model(&mut out, s);
    connections(&mut out, s);
    duration_and_arrivals(&mut out, s);
    throughput(&mut out, s);
    environment(&mut out, s);
    let _ = writeln!(out, "```\n");
    thresholds(&mut out, s);
    latency_table(&mut out, s);
    unsupported(&mut out, s);
    errors(&mut out, s);
    warnings(&mut out, s);
    if let Some(cache) = &s.cache {
        let _ = write!(out, "\n{}", cache_markdown(cache));
    }
    out.push_str(&super::page::tables_markdown(&s.sections));
    out
}

/// The run's heading and the scenario's description.
fn title(out: &mut String, s: &Summary) {
    let sc = &s.scenario;
    let _ = writeln!(out, "# clinicload run {}\n", s.run_id);
    if let Some(line) = s.run.restore.failure_line() {
        let _ = writeln!(out, "**{line}**\n");
    }
    if let Some(line) = s
        .run
        .steadiness
        .as_ref()
        .and_then(|st| st.not_steady_line())
    {
        let _ = writeln!(out, "**{line}**\n");
    }
    if !sc.description.is_empty() {
        let _ = writeln!(out, "{}\n", sc.description);
    }
}

/// The facts' first lines: the scenario and its load model (open or closed).
fn load_model(out: &mut String, s: &Summary) {
    let sc = &s.scenario;
    let _ = writeln!(out, "scenario: {} ({})", sc.name, sc.file.display());
    match &sc.load {
        LoadFacts::Open {
            rate,
            ramp,
            ramp_from,
            max_in_flight,
            poisson,
        } => {
            let _ = write!(out, "load model: open, target rate {rate} ops/s");
            if *poisson {
                let _ = write!(out, ", Poisson arrivals");
            }
            if !ramp.is_zero() {
                let _ = write!(out, " (ramp from {ramp_from} over {:?})", ramp);
            }
            let _ = writeln!(out, ", at most {max_in_flight} in flight");
        }
        LoadFacts::Closed { users, think_time } => {
            let _ = writeln!(
                out,
                "load model: closed, {users} virtual users, think time {:?}",
                think_time
            );
        }
    }
}

/// The connection pool of each store the scenario uses.
fn connections(out: &mut String, s: &Summary) {
    let pools: Vec<String> = s
        .scenario
        .pools
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = writeln!(out, "connections: {}", pools.join(", "));
}

/// The measured duration (and how the run ended), the arrivals, the error rate and the
/// data streamed.
fn duration_and_arrivals(out: &mut String, s: &Summary) {
    let sc = &s.scenario;
    let _ = writeln!(
        out,
        "duration: {:.1} s measured (warm-up {:.1} s excluded){}",
        s.run.measured_s,
        sc.warmup.as_secs_f64(),
        if s.run.interrupted {
            ", interrupted by a signal (Ctrl-C or SIGTERM)".to_string()
        } else if let Some(a) = &s.run.aborted_by_threshold {
            format!(", ended early by abort_on_fail: {a}")
        } else {
            String::new()
        }
    );
    if let Some(line) = s.run.warmup.auto_line() {
        let _ = writeln!(out, "{line}");
    }
    if let Some(st) = &s.run.steadiness {
        let _ = writeln!(out, "{}", st.facts_line());
    }
    let a = &s.run.arrivals;
    let _ = writeln!(
        out,
        "arrivals: {} intended{}: {}",
        a.intended,
        if s.run.model == "closed" {
            " (closed model: the iterations the users started)"
        } else {
            ""
        },
        a.buckets_line()
    );
    let _ = writeln!(
        out,
        "error rate: {:.2}% (failed, timed out, missed, abandoned), allowed {:.2}% (max_error_rate)",
        100.0 * s.run.error_rate,
        100.0 * s.run.max_error_rate
    );
    if s.bytes > 0 {
        let _ = writeln!(
            out,
            "data: {} rows and documents, {} bytes streamed",
            s.overall.rows, s.bytes
        );
    }
}

/// Achieved throughput (against the target, with the starts, in the open model) and where
/// latency is measured from.
fn throughput(out: &mut String, s: &Summary) {
    match s.run.target_rate {
        Some(target) => {
            let _ = writeln!(
                out,
                "throughput: {:.1} ops/s achieved vs {:.1} ops/s intended ({:.1}%), target {:.1} ops/s",
                s.run.achieved_rate,
                s.run.intended_rate,
                100.0 * s.run.achieved_rate / s.run.intended_rate.max(1e-9),
                target
            );
            let _ = writeln!(
                out,
                "starts: {} intended, {} started, {} late (> {} ms after the intended time), {} missed; start delay p99 {} ms, max {} ms",
                s.run.intended,
                s.run.started,
                s.run.late_starts,
                s.run.late_after_ms,
                s.run.missed,
                ms(s.run.start_delay_p99_us),
                ms(s.run.start_delay_max_us)
            );
            let _ = writeln!(
                out,
                "latency (open model) measured from each operation's intended start (coordinated omission corrected)"
            );
        }
        None => {
            let _ = writeln!(out, "throughput: {:.1} ops/s", s.run.achieved_rate);
            let _ = writeln!(
                out,
                "latency (closed model) measured from each operation's actual start: waits before a start are not in it"
            );
        }
    }
}

/// What the run ran on: the dataset, the servers' versions, clinicload and the machine.
fn environment(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "dataset: {}",
        s.dataset
            .as_ref()
            .map(|d| format!("{} (seed {}, as of {})", d.fingerprint, d.seed, d.as_of))
            .unwrap_or_else(|| "none recorded".into())
    );
    for (k, v) in &s.servers {
        let _ = writeln!(out, "{k}: {v}");
    }
    let _ = writeln!(
        out,
        "clinicload {} on {} cores, {:.1} GiB, {} ({})",
        s.clinicload_version,
        s.machine.cores,
        s.machine.memory_bytes as f64 / (1u64 << 30) as f64,
        s.machine.os,
        s.machine.cpu
    );
}

/// The latency table: a row per operation and one overall.
fn latency_table(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "Latency in milliseconds, {} model, from each operation's {}: mean to max of successful operations; `p99 all` of every arrival (ok, no-op, failed, timed out, missed, abandoned), what users waited.\n",
        s.run.model, s.run.latency_from
    );
    let _ = writeln!(out, "| {} |", super::TABLE_HEADER.join(" | "));
    let _ = writeln!(
        out,
        "|---|{}",
        "---:|".repeat(super::TABLE_HEADER.len() - 1)
    );
    for r in &s.operations {
        row(out, r);
    }
    row(out, &s.overall);
}

/// The operations the server does not support (skipped, not errors), if any.
fn unsupported(out: &mut String, s: &Summary) {
    let unsupported: Vec<&OpReport> = s
        .operations
        .iter()
        .filter(|o| o.unsupported.is_some())
        .collect();
    if !unsupported.is_empty() {
        let _ = writeln!(
            out,
            "\nUnsupported by the server (not executed, not errors):\n"
        );
        for o in unsupported {
            let u = o.unsupported.as_ref().unwrap();
            let _ = writeln!(
                out,
                "- {}: the server said \"{}\" ({} draws skipped)",
                o.label, u.server_said, u.draws
            );
        }
    }
}

/// The errors of each operation by kind, with the first example, if any.
fn errors(out: &mut String, s: &Summary) {
    let lines = s.error_lines();
    if !lines.is_empty() {
        let _ = writeln!(out, "\nErrors:\n");
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
    }
}

/// The run's warnings, if any.
fn warnings(out: &mut String, s: &Summary) {
    if !s.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:\n");
        for w in &s.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
}

/// The schedule cache's section: its metrics as a two-column table.
fn cache_markdown(c: &super::CacheSection) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Cache: {}\n", c.name);
    let _ = writeln!(out, "| metric | value |\n|---|---|");
    for (k, v) in &c.rows {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out
}
