//! A PostgreSQL plan (`EXPLAIN (FORMAT JSON)`, with or without ANALYZE and BUFFERS) read
//! into what a verdict needs: the access path per table (sequential scan, or which index),
//! rows examined against rows returned, buffers, times and cost. Works from the JSON plan,
//! never its text, so new lines in a later PostgreSQL's text format break nothing.

use serde::Serialize;
use serde_json::Value;

/// How one table was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Access {
    pub relation: String,
    /// "Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", ...
    pub method: String,
    /// The index used (for a bitmap scan, its bitmap index scans' indexes, joined by "+").
    pub index: Option<String>,
    /// Rows the scan produced (actual rows × loops; 0 without ANALYZE).
    pub rows: f64,
    /// Rows it read and threw away (removed by filter or index recheck, × loops).
    pub removed: f64,
}

impl Access {
    /// "appointments: Index Scan using idx_appointments_doctor_date".
    pub fn describe(&self) -> String {
        match &self.index {
            Some(i) => format!("{}: {} using {i}", self.relation, self.method),
            None => format!("{}: {}", self.relation, self.method),
        }
    }

    pub fn is_seq_scan(&self) -> bool {
        self.method == "Seq Scan"
    }
}

/// A plan, summarised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    pub accesses: Vec<Access>,
    /// Rows the statement returned (the top node's actual rows).
    pub returned: f64,
    /// Rows the scans read: produced plus removed.
    pub examined: f64,
    pub shared_hit: u64,
    pub shared_read: u64,
    pub planning_ms: Option<f64>,
    pub execution_ms: Option<f64>,
    /// The planner's total cost estimate of the top node.
    pub total_cost: f64,
    /// The plan tree, one node per line, indented.
    pub tree: String,
}

impl PlanSummary {
    /// Rows examined per row returned (examined when nothing was returned).
    pub fn examined_per_row(&self) -> f64 {
        if self.returned > 0.0 {
            self.examined / self.returned
        } else {
            self.examined
        }
    }

    /// The access paths as one line, e.g. "appointments: Index Scan using idx_...; patients: ...".
    pub fn access_line(&self) -> String {
        self.accesses
            .iter()
            .map(Access::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// (relation, method, index) of every access: what differs when two plans read the data
    /// differently.
    pub fn shape(&self) -> Vec<(String, String, Option<String>)> {
        let mut v: Vec<_> = self
            .accesses
            .iter()
            .map(|a| (a.relation.clone(), a.method.clone(), a.index.clone()))
            .collect();
        v.sort();
        v
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn bitmap_indexes(node: &Value, out: &mut Vec<String>) {
    if node["Node Type"] == "Bitmap Index Scan" {
        if let Some(i) = node["Index Name"].as_str() {
            out.push(i.to_string());
        }
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        bitmap_indexes(child, out);
    }
}

fn walk(node: &Value, depth: usize, s: &mut PlanSummary) {
    let kind = node["Node Type"].as_str().unwrap_or("?");
    let loops = node["Actual Loops"].as_f64().unwrap_or(1.0).max(1.0);
    let rows = num(&node["Actual Rows"]) * loops;
    let removed = (num(&node["Rows Removed by Filter"])
        + num(&node["Rows Removed by Index Recheck"]))
        * loops;
    let mut line = format!("{}{kind}", "  ".repeat(depth));
    if let Some(r) = node["Relation Name"].as_str() {
        let index = if kind == "Bitmap Heap Scan" {
            let mut v = Vec::new();
            bitmap_indexes(node, &mut v);
            (!v.is_empty()).then(|| v.join("+"))
        } else {
            node["Index Name"].as_str().map(str::to_string)
        };
        line.push_str(&format!(" on {r}"));
        if let Some(i) = &index {
            line.push_str(&format!(" using {i}"));
        }
        s.accesses.push(Access {
            relation: r.to_string(),
            method: kind.to_string(),
            index,
            rows,
            removed,
        });
        s.examined += rows + removed;
    } else if let Some(i) = node["Index Name"].as_str() {
        line.push_str(&format!(" using {i}"));
    }
    if node.get("Actual Rows").is_some() {
        line.push_str(&format!(
            " (rows={}, loops={}",
            node["Actual Rows"], node["Actual Loops"]
        ));
        if removed > 0.0 {
            line.push_str(&format!(", removed={removed}"));
        }
        line.push(')');
    } else {
        line.push_str(&format!(" (est. rows={})", node["Plan Rows"]));
    }
    s.tree.push_str(&line);
    s.tree.push('\n');
    for child in node["Plans"].as_array().into_iter().flatten() {
        walk(child, depth + 1, s);
    }
}

/// Reads the output of `EXPLAIN (FORMAT JSON)`: an array holding one object with "Plan".
pub fn summarize(explain: &Value) -> Option<PlanSummary> {
    let top = explain
        .as_array()
        .and_then(|a| a.first())
        .unwrap_or(explain);
    let plan = top.get("Plan")?;
    let mut s = PlanSummary {
        returned: num(&plan["Actual Rows"]),
        shared_hit: plan["Shared Hit Blocks"].as_u64().unwrap_or(0),
        shared_read: plan["Shared Read Blocks"].as_u64().unwrap_or(0),
        planning_ms: top["Planning Time"].as_f64(),
        execution_ms: top["Execution Time"].as_f64(),
        total_cost: num(&plan["Total Cost"]),
        ..PlanSummary::default()
    };
    walk(plan, 0, &mut s);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of PostgreSQL 15's EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) for a join of an
    /// index scan and a bitmap heap scan under a sort.
    fn sample() -> Value {
        serde_json::json!([{
            "Plan": {
                "Node Type": "Sort", "Total Cost": 42.5, "Actual Rows": 6, "Actual Loops": 1,
                "Shared Hit Blocks": 20, "Shared Read Blocks": 3,
                "Plans": [{
                    "Node Type": "Nested Loop", "Actual Rows": 6, "Actual Loops": 1,
                    "Plans": [
                        {"Node Type": "Bitmap Heap Scan", "Relation Name": "appointments", "Alias": "a",
                         "Actual Rows": 6, "Actual Loops": 1, "Rows Removed by Index Recheck": 0,
                         "Rows Removed by Filter": 2,
                         "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "idx_appointments_doctor_date",
                                    "Actual Rows": 8, "Actual Loops": 1}]},
                        {"Node Type": "Index Scan", "Relation Name": "patients", "Alias": "p",
                         "Index Name": "patients_pkey", "Actual Rows": 1, "Actual Loops": 6}
                    ]
                }]
            },
            "Planning Time": 0.2, "Execution Time": 0.31
        }])
    }

    #[test]
    fn access_paths_rows_and_buffers() {
        let s = summarize(&sample()).unwrap();
        assert_eq!(s.accesses.len(), 2);
        assert_eq!(
            s.accesses[0].describe(),
            "appointments: Bitmap Heap Scan using idx_appointments_doctor_date"
        );
        assert_eq!(s.accesses[1].index.as_deref(), Some("patients_pkey"));
        assert_eq!(s.returned, 6.0);
        // 6 + 2 removed from appointments, 1 x 6 loops from patients
        assert_eq!(s.examined, 14.0);
        assert!((s.examined_per_row() - 14.0 / 6.0).abs() < 1e-12);
        assert_eq!((s.shared_hit, s.shared_read), (20, 3));
        assert_eq!(s.execution_ms, Some(0.31));
        assert!(s
            .tree
            .contains("    Bitmap Index Scan using idx_appointments_doctor_date"));
        assert!(!s.accesses.iter().any(Access::is_seq_scan));
    }

    #[test]
    fn a_plain_explain_has_estimates_only() {
        let v = serde_json::json!([{"Plan": {"Node Type": "Seq Scan", "Relation Name": "tasks",
            "Total Cost": 99.0, "Plan Rows": 40}}]);
        let s = summarize(&v).unwrap();
        assert!(s.accesses[0].is_seq_scan());
        assert_eq!(s.total_cost, 99.0);
        assert!(s.tree.contains("est. rows=40"));
        assert_eq!(s.execution_ms, None);
        assert!(summarize(&serde_json::json!({"x": 1})).is_none());
    }
}
