//! One side of a comparison (baseline or candidate): the figures of its repeated runs, where
//! they came from (scenario, dataset, servers, machine) and its latency-by-percentile curves.
//! Read from run directories (`summary.json`, `latency.hlog`), from a directory of such runs
//! (a gate's `baseline/` or `candidate/`), or from a saved baseline
//! (`reports/baselines/NAME/baseline.json`, written by `clinicload baseline save`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Schema of `baseline.json`.
pub const BASELINE_SCHEMA: &str = "clinicload.baseline/1";

/// What must match for two sides to be comparable.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub scenario: String,
    /// SHA-256 (first 16 hex digits) of the scenario as run (load, duration, warm-up,
    /// timeout, seed, connections, operations, cache), without its file path, description and
    /// thresholds: two files that run the same load have the same digest.
    pub scenario_digest: String,
    /// `clinicload_meta.dataset.fingerprint`, or null for a dataset clinicload did not seed.
    pub dataset: Option<String>,
    pub servers: BTreeMap<String, String>,
    /// cpu model, cores, memory and architecture.
    pub machine: String,
    pub clinicload_version: String,
    /// The scenario's operation names (the scopes metric keys may name).
    pub operations: Vec<String>,
    /// The scenario's thresholds as configured (`key`, `text`), for the gated metrics.
    pub thresholds: Vec<String>,
}

/// One run's figures: every metric the run has a value for, by canonical key
/// (`appointments_today.p99_all`, `overall.error_rate`, `run.achieved_ratio`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Repeat {
    pub run_id: String,
    pub values: BTreeMap<String, f64>,
    /// The run was interrupted, or failed beyond its max_error_rate: the comparison warns.
    #[serde(default)]
    pub warning: Option<String>,
    /// Interrupted: its window is partial, so its figures are not a repeat of the others and
    /// are left out of the samples.
    #[serde(default)]
    pub interrupted: bool,
    /// More than the scenario's max_error_rate of its arrivals failed, timed out, were missed
    /// or abandoned (a candidate like that exits 3, whatever its latencies).
    #[serde(default)]
    pub operations_failed: bool,
}

/// A side: its repeats and where they came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Side {
    /// Where it was read from (a path, or `baseline NAME`).
    pub source: String,
    pub provenance: Provenance,
    pub repeats: Vec<Repeat>,
    /// Latency by percentile of successful operations over all repeats (their histograms
    /// added), per label (`""` is overall): `[(percentile, µs)]`.
    pub curves: BTreeMap<String, Vec<(f64, u64)>>,
}

/// A saved baseline (`baseline.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub name: String,
    pub saved_at: String,
    #[serde(flatten)]
    pub side: Side,
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

const STATS: &[&str] = &["mean", "min", "p50", "p90", "p95", "p99", "p999", "max"];

/// Every metric of a `summary.json` (schema `clinicload.summary/2`) by canonical key, with
/// the names `crate::thresholds` gives them.
pub fn flatten(summary: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let rows = std::iter::once(("overall", &summary["overall"])).chain(
        summary["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["sub"].is_null())
            .filter_map(|o| o["label"].as_str().map(|l| (l, o))),
    );
    for (label, row) in rows {
        let ok_count = row["count"].as_u64().unwrap_or(0);
        let all_count = row["all"]["count"].as_u64().unwrap_or(0);
        for stat in STATS {
            if ok_count > 0 {
                if let Some(v) = num(&row[format!("{stat}_us")]) {
                    out.insert(format!("{label}.{stat}_ok"), v);
                }
            }
            if all_count > 0 {
                if let Some(v) = num(&row["all"][format!("{stat}_us")]) {
                    out.insert(format!("{label}.{stat}_all"), v);
                }
            }
        }
        out.insert(format!("{label}.count"), ok_count as f64);
        if let Some(v) = num(&row["throughput"]) {
            out.insert(format!("{label}.throughput"), v);
        }
        let a = &row["arrivals"];
        if a.is_object() {
            let get = |k: &str| a[k].as_u64().unwrap_or(0) as f64;
            for k in ["failed", "timed_out", "missed", "abandoned", "noop"] {
                out.insert(format!("{label}.{k}"), get(k));
            }
            let intended = get("intended");
            if intended > 0.0 {
                let not_ok = get("failed") + get("timed_out") + get("missed") + get("abandoned");
                out.insert(format!("{label}.error_rate"), not_ok / intended);
                out.insert(format!("{label}.noop_rate"), get("noop") / intended);
            }
        }
    }
    let run = &summary["run"];
    if let Some(v) = num(&run["achieved_rate"]) {
        out.insert("run.achieved_rate".into(), v);
        if let Some(i) = num(&run["intended_rate"]).filter(|i| *i > 0.0) {
            out.insert("run.achieved_ratio".into(), v / i);
        }
    }
    out
}

/// The provenance of a `summary.json`.
pub fn provenance(summary: &Value) -> Provenance {
    let scenario = &summary["scenario"];
    let mut load = serde_json::Map::new();
    for k in [
        "duration",
        "warmup",
        "timeout",
        "seed",
        "load",
        "connections",
        "ops",
        "cache",
    ] {
        load.insert(k.to_string(), scenario[k].clone());
    }
    // An automatic warm-up is a different load from a fixed one as long as its cap; only
    // runs that had one carry the key, so older digests stay as they were.
    if !scenario["warmup_auto"].is_null() {
        load.insert("warmup_auto".into(), scenario["warmup_auto"].clone());
    }
    // Plan expectations are checked before a run; they do not change its load.
    if let Some(ops) = load.get_mut("ops").and_then(Value::as_array_mut) {
        for op in ops {
            if let Some(o) = op.as_object_mut() {
                o.remove("expect");
            }
        }
    }
    let digest = Sha256::digest(Value::Object(load).to_string().as_bytes());
    let m = &summary["machine"];
    let servers = summary["servers"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Provenance {
        scenario: scenario["name"].as_str().unwrap_or_default().to_string(),
        scenario_digest: hex::encode(&digest[..8]),
        dataset: summary["dataset"]["fingerprint"]
            .as_str()
            .map(str::to_string),
        servers,
        machine: format!(
            "{}, {} cores, {} GiB, {}",
            m["cpu"].as_str().unwrap_or("unknown cpu"),
            m["cores"].as_u64().unwrap_or(0),
            m["memory_bytes"].as_u64().unwrap_or(0) / (1 << 30),
            m["arch"].as_str().unwrap_or("")
        ),
        clinicload_version: summary["clinicload_version"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        operations: scenario["ops"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str().map(str::to_string))
            .collect(),
        thresholds: summary["thresholds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["key"].as_str().map(str::to_string))
            .collect(),
    }
}

/// The repeat of a `summary.json`.
pub fn repeat(summary: &Value) -> Repeat {
    let run = &summary["run"];
    let interrupted = run["interrupted"].as_bool() == Some(true);
    let operations_failed =
        num(&run["error_rate"]).unwrap_or(0.0) > num(&run["max_error_rate"]).unwrap_or(0.0);
    let warning = if interrupted {
        Some("interrupted (a partial window: left out of the samples)".to_string())
    } else if operations_failed {
        Some(format!(
            "{:.2}% of its arrivals failed, timed out, were missed or abandoned",
            100.0 * num(&run["error_rate"]).unwrap_or(0.0)
        ))
    } else {
        None
    };
    Repeat {
        run_id: summary["run_id"].as_str().unwrap_or_default().to_string(),
        values: flatten(summary),
        warning,
        interrupted,
        operations_failed,
    }
}

/// Reads `dir/summary.json` of a single run.
fn read_summary(dir: &Path) -> Result<Value> {
    let path = dir.join("summary.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    match v["schema"].as_str() {
        Some(crate::report::SCHEMA) => Ok(v),
        Some("clinicload.comparison/1") => bail!(
            "{} is the side-by-side page of a run with cache variants; compare one variant's directory (e.g. {}/<variant>)",
            path.display(),
            dir.display()
        ),
        Some(other) => bail!(
            "{} has schema {other:?}, which this clinicload cannot read (it reads {})",
            path.display(),
            crate::report::SCHEMA
        ),
        None => bail!("{} is not a clinicload run summary", path.display()),
    }
}

/// Latency by percentile per label (successful operations), from the runs' `latency.hlog`
/// files: each label's interval histograms added over all intervals and runs.
pub fn curves(dirs: &[PathBuf]) -> Result<BTreeMap<String, Vec<(f64, u64)>>> {
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for dir in dirs {
        let path = dir.join("latency.hlog");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for entry in IntervalLogIterator::new(&bytes) {
            let entry = entry.map_err(|e| anyhow!("{} does not parse: {e:?}", path.display()))?;
            let LogEntry::Interval(i) = entry else {
                continue;
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .with_context(|| format!("{}: an interval is not base64", path.display()))?;
            let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut raw.as_slice())
                .map_err(|e| anyhow!("{}: a histogram does not decode: {e:?}", path.display()))?;
            let tag = i.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
            let acc = hists
                .entry(tag)
                .or_insert_with(crate::metrics::new_histogram);
            acc.add(&h)
                .map_err(|e| anyhow!("{}: adding histograms: {e:?}", path.display()))?;
        }
    }
    Ok(hists
        .into_iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(k, h)| {
            let pts = crate::report::CHART_PERCENTILES
                .iter()
                .map(|p| (*p, h.value_at_percentile(*p)))
                .collect();
            (k, pts)
        })
        .collect())
}

/// A side from run directories: their summaries must agree on provenance (else the first
/// disagreement is the error).
pub fn from_runs(source: &str, dirs: &[PathBuf]) -> Result<Side> {
    if dirs.is_empty() {
        bail!("{source} holds no run (no summary.json)");
    }
    let mut first_provenance: Option<Provenance> = None;
    let mut repeats = Vec::new();
    for dir in dirs {
        let v = read_summary(dir)?;
        let p = provenance(&v);
        match &first_provenance {
            None => first_provenance = Some(p),
            Some(first) => {
                if let Some(diff) = mismatches(first, &p).first() {
                    bail!(
                        "the runs of {source} are not repeats of one another: {} differs from the first run ({diff})",
                        dir.display()
                    );
                }
            }
        }
        repeats.push(repeat(&v));
    }
    Ok(Side {
        source: source.to_string(),
        provenance: first_provenance.unwrap_or_default(),
        repeats,
        curves: curves(dirs)?,
    })
}

/// The differences that make two sides incomparable, as lines ("dataset: a vs b").
pub fn mismatches(a: &Provenance, b: &Provenance) -> Vec<String> {
    let mut out = Vec::new();
    if a.scenario != b.scenario || a.scenario_digest != b.scenario_digest {
        out.push(format!(
            "scenario: {} ({}) vs {} ({}); the load, duration or operations differ",
            a.scenario, a.scenario_digest, b.scenario, b.scenario_digest
        ));
    }
    if a.dataset != b.dataset {
        out.push(format!(
            "dataset fingerprint: {} vs {}",
            a.dataset.as_deref().unwrap_or("none"),
            b.dataset.as_deref().unwrap_or("none")
        ));
    }
    if a.servers != b.servers {
        let show = |s: &BTreeMap<String, String>| {
            s.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(format!(
            "server versions: {} vs {}",
            show(&a.servers),
            show(&b.servers)
        ));
    }
    if a.machine != b.machine {
        out.push(format!("machine: {} vs {}", a.machine, b.machine));
    }
    out
}

/// The run directories under `dir` (its subdirectories with a summary.json), by name.
fn run_dirs_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        // `latest` (a symlink, or a file naming the newest run) is not another run.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// Resolves a side named on the command line: a run directory, a directory of runs (a gate's
/// `baseline/` or `candidate/`), a gate directory (its candidate side), a saved baseline's
/// directory, or the name of a baseline under `baselines`.
pub fn load(arg: &str, baselines: &Path) -> Result<Side> {
    let path = PathBuf::from(arg);
    let dir = if path.exists() {
        path
    } else if !arg.contains('/') && baselines.join(arg).join("baseline.json").is_file() {
        baselines.join(arg)
    } else {
        bail!(
            "{arg}: no such run directory, directory of runs or saved baseline (baselines are looked up in {}; `clinicload baseline save NAME RUN_DIR` saves one)",
            baselines.display()
        );
    };
    if dir.join("baseline.json").is_file() {
        return read_baseline(&dir).map(|b| b.side);
    }
    if dir.join("summary.json").is_file() {
        return from_runs(arg, &[dir]);
    }
    if dir.join("compare.json").is_file() && dir.join("candidate").is_dir() {
        let runs = run_dirs_under(&dir.join("candidate"))?;
        return from_runs(&format!("{arg} (its candidate)"), &runs);
    }
    let runs = run_dirs_under(&dir)?;
    if runs.is_empty() {
        bail!(
            "{}: neither a run directory (summary.json), a directory of runs nor a saved baseline (baseline.json)",
            dir.display()
        );
    }
    from_runs(arg, &runs)
}

/// Reads a saved baseline.
pub fn read_baseline(dir: &Path) -> Result<Baseline> {
    let path = dir.join("baseline.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let b: Baseline = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a clinicload baseline", path.display()))?;
    if b.schema != BASELINE_SCHEMA {
        bail!(
            "{} has schema {:?}; this clinicload reads {BASELINE_SCHEMA}",
            path.display(),
            b.schema
        );
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p50: u64, fingerprint: &str) -> Value {
        serde_json::json!({
            "schema": crate::report::SCHEMA,
            "run_id": "r1",
            "clinicload_version": "0.1.0",
            "scenario": {"name": "smoke", "duration": 5.0, "warmup": 1.0, "timeout": 2.0, "seed": 1,
                "load": {"model": "open", "rate": 100.0}, "connections": {}, "ops": [{"name": "a"}], "cache": [],
                "file": "x.toml", "description": "d"},
            "dataset": {"fingerprint": fingerprint},
            "servers": {"postgres": "PostgreSQL 15"},
            "machine": {"cpu": "cpu", "cores": 2, "memory_bytes": 1u64 << 34, "arch": "x86_64"},
            "run": {"achieved_rate": 99.0, "intended_rate": 100.0, "interrupted": false, "error_rate": 0.0, "max_error_rate": 0.0},
            "overall": {"label": "overall", "count": 10, "throughput": 99.0, "p50_us": p50, "all": {"count": 10, "p50_us": p50 + 1},
                "arrivals": {"intended": 10, "failed": 0, "timed_out": 0, "missed": 0, "abandoned": 0, "noop": 0}},
            "operations": [
                {"label": "a", "sub": null, "count": 10, "throughput": 99.0, "p50_us": p50, "all": {"count": 10, "p50_us": p50 + 1},
                 "arrivals": {"intended": 10, "failed": 1, "timed_out": 0, "missed": 0, "abandoned": 0, "noop": 0}},
                {"label": "a:x", "sub": "x", "count": 10, "p50_us": 5}
            ],
            "thresholds": [{"key": "a.p99_all"}]
        })
    }

    #[test]
    fn flatten_names_metrics_as_thresholds_do() {
        let f = flatten(&summary(100, "f"));
        assert_eq!(f["a.p50_ok"], 100.0);
        assert_eq!(f["a.p50_all"], 101.0);
        assert_eq!(f["overall.p50_all"], 101.0);
        assert_eq!(f["a.error_rate"], 0.1);
        assert_eq!(f["run.achieved_ratio"], 0.99);
        assert!(
            !f.keys().any(|k| k.starts_with("a:x")),
            "sub-labels are not gated"
        );
    }

    #[test]
    fn provenance_ignores_the_file_path_but_not_the_dataset() {
        let a = provenance(&summary(100, "f"));
        let mut other = summary(200, "f");
        other["scenario"]["file"] = "elsewhere/x.toml".into();
        assert!(mismatches(&a, &provenance(&other)).is_empty());
        let c = provenance(&summary(100, "g"));
        let m = mismatches(&a, &c);
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("dataset fingerprint"), "{m:?}");
        let mut d = summary(100, "f");
        d["scenario"]["load"]["rate"] = 200.0.into();
        assert!(mismatches(&a, &provenance(&d))[0].starts_with("scenario"));
        assert_eq!(a.thresholds, vec!["a.p99_all".to_string()]);
    }
}
