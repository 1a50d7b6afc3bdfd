//! The plan of a MongoDB find, from the server's answer to the `explain` command, in the
//! same summary as a PostgreSQL plan. Two kinds of server answer, told apart by their shape,
//! and every verdict says which one it came from:
//!
//! - MongoDB: `queryPlanner.winningPlan` is a tree of stages (`COLLSCAN`, `IXSCAN` with its
//!   `indexName`, `FETCH`, ...; with the slot-based engine of MongoDB 7 the tree is under
//!   `winningPlan.queryPlan`) and `executionStats` counts `nReturned`, `totalKeysExamined`,
//!   `totalDocsExamined` and `executionTimeMillis`.
//! - FerretDB on PostgreSQL: `queryPlanner` holds the backing PostgreSQL plan
//!   (`{"Plan": {"Node Type": ...}}`): a sequential scan of the collection's table, or the
//!   companion GIN index `clinicload migrate` creates (`crate::schema::ferretdb`).

use serde_json::Value;

use super::plan::{self, Access, PlanSummary};

/// Which kind of plan a summary was read from.
pub const MONGODB: &str = "MongoDB explain (queryPlanner.winningPlan, executionStats)";
pub const FERRETDB: &str =
    "FerretDB explain: the backing PostgreSQL plan (collection = table, index = PostgreSQL index)";

fn stages(node: &Value, collection: &str, out: &mut Vec<Access>, tree: &mut String, depth: usize) {
    let stage = node["stage"].as_str().unwrap_or("?");
    let index = node["indexName"].as_str().map(str::to_string);
    tree.push_str(&format!("{}{stage}", "  ".repeat(depth)));
    if let Some(i) = &index {
        tree.push_str(&format!(" {i}"));
    }
    tree.push('\n');
    match stage {
        "COLLSCAN" => out.push(Access {
            relation: collection.to_string(),
            method: "COLLSCAN".into(),
            index: None,
            rows: node["nReturned"].as_f64().unwrap_or(0.0),
            removed: 0.0,
        }),
        "IXSCAN" | "DISTINCT_SCAN" | "COUNT_SCAN" | "EXPRESS_IXSCAN" => out.push(Access {
            relation: collection.to_string(),
            method: stage.to_string(),
            index,
            rows: node["nReturned"].as_f64().unwrap_or(0.0),
            removed: 0.0,
        }),
        "IDHACK" | "EXPRESS_IDHACK" => out.push(Access {
            relation: collection.to_string(),
            method: stage.to_string(),
            index: Some("_id_".into()),
            rows: node["nReturned"].as_f64().unwrap_or(0.0),
            removed: 0.0,
        }),
        _ => {}
    }
    if node["inputStage"].is_object() {
        stages(&node["inputStage"], collection, out, tree, depth + 1);
    }
    for child in node["inputStages"].as_array().into_iter().flatten() {
        stages(child, collection, out, tree, depth + 1);
    }
}

/// The plan of an `explain` answer for a find on `collection`, and which kind it is; None
/// when the answer has neither shape.
pub fn summarize(answer: &Value, collection: &str) -> Option<(PlanSummary, &'static str)> {
    let planner = &answer["queryPlanner"];
    if planner.get("Plan").is_some() {
        return plan::summarize(planner).map(|s| (s, FERRETDB));
    }
    let winning = &planner["winningPlan"];
    let root = if winning["queryPlan"].is_object() {
        &winning["queryPlan"]
    } else {
        winning
    };
    if !root.is_object() {
        return None;
    }
    let mut s = PlanSummary::default();
    stages(root, collection, &mut s.accesses, &mut s.tree, 0);
    let stats = &answer["executionStats"];
    if stats.is_object() {
        s.returned = stats["nReturned"].as_f64().unwrap_or(0.0);
        let docs = stats["totalDocsExamined"].as_f64().unwrap_or(0.0);
        let keys = stats["totalKeysExamined"].as_f64().unwrap_or(0.0);
        s.examined = docs.max(keys);
        s.execution_ms = stats["executionTimeMillis"].as_f64();
    }
    Some((s, MONGODB))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of MongoDB's documented `explain("executionStats")` answer for an indexed
    /// equality find (FETCH over IXSCAN; the manual's "Explain Results" page).
    fn mongodb_ixscan() -> Value {
        serde_json::json!({
            "queryPlanner": {
                "namespace": "clinicload.clinicalNotes",
                "winningPlan": {
                    "stage": "FETCH",
                    "inputStage": {
                        "stage": "IXSCAN",
                        "keyPattern": {"encounterId": 1},
                        "indexName": "encounterId_1",
                        "direction": "forward",
                        "indexBounds": {"encounterId": ["[\"e1\", \"e1\"]"]}
                    }
                },
                "rejectedPlans": []
            },
            "executionStats": {
                "executionSuccess": true, "nReturned": 1, "executionTimeMillis": 0,
                "totalKeysExamined": 1, "totalDocsExamined": 1,
                "executionStages": {"stage": "FETCH", "nReturned": 1}
            },
            "ok": 1.0
        })
    }

    #[test]
    fn mongodb_index_scan() {
        let (s, kind) = summarize(&mongodb_ixscan(), "clinicalNotes").unwrap();
        assert_eq!(kind, MONGODB);
        assert_eq!(s.access_line(), "clinicalNotes: IXSCAN using encounterId_1");
        assert_eq!((s.examined, s.returned), (1.0, 1.0));
        assert!(s.tree.contains("  IXSCAN encounterId_1"));
    }

    #[test]
    fn mongodb_collection_scan_and_the_slot_based_engine_shape() {
        let answer = serde_json::json!({
            "queryPlanner": {"winningPlan": {"queryPlan": {"stage": "COLLSCAN", "direction": "forward"},
                                             "slotBasedPlan": {"slots": "..."}}},
            "executionStats": {"nReturned": 3, "totalKeysExamined": 0, "totalDocsExamined": 21349,
                               "executionTimeMillis": 12}
        });
        let (s, _) = summarize(&answer, "clinicalNotes").unwrap();
        assert!(s.accesses[0].method == "COLLSCAN" && s.accesses[0].index.is_none());
        assert_eq!(s.examined, 21349.0);
        assert_eq!(s.execution_ms, Some(12.0));
    }

    #[test]
    fn ferretdb_answers_with_its_postgresql_plan() {
        let answer = serde_json::json!({
            "queryPlanner": {"Plan": {"Node Type": "Bitmap Heap Scan",
                "Relation Name": "clinicalnotes_e24c607d", "Total Cost": 12.0,
                "Plans": [{"Node Type": "Bitmap Index Scan",
                           "Index Name": "clinicalnotes_e24c607d_encounterid_gin"}]}},
            "explainVersion": "1", "ok": 1.0
        });
        let (s, kind) = summarize(&answer, "clinicalNotes").unwrap();
        assert_eq!(kind, FERRETDB);
        assert_eq!(
            s.accesses[0].index.as_deref(),
            Some("clinicalnotes_e24c607d_encounterid_gin")
        );
        assert!(summarize(&serde_json::json!({"ok": 1}), "x").is_none());
    }
}
