//! `summary.json`: the machine-readable record of a run, for CI gates and comparisons
//! between runs. Its layout is versioned by the `schema` field ([`super::SCHEMA`],
//! currently `clinicload.summary/1`) and documented field by field in `reports/README.md`;
//! fields are only added within a version, never renamed or removed.
//!
//! Latencies are integers in microseconds (fields ending in `_us`), measured from each
//! operation's intended start in the open model; throughputs are per second of the
//! measured window (warm-up excluded).

use anyhow::Result;

use super::Summary;

/// The summary as pretty-printed JSON.
pub fn render(summary: &Summary) -> Result<String> {
    let mut s = serde_json::to_string_pretty(summary)?;
    s.push('\n');
    Ok(s)
}
