//! Expectations about an operation's plan, written in the scenario
//! (`expect = { uses_index = "idx_tasks_pending", no_seq_scan = ["tasks"], max_examined_per_row = 50 }`)
//! and judged by `explain` and at the start of `run` (a failure exits 6).
//!
//! An expectation is judged only where the data can decide it. Tiny tables make the planner
//! rightly prefer a sequential scan, so a plan that does not meet an expectation fails only
//! when no index could have met it: the plan with sequential scans disabled
//! (`enable_seqscan = off`) still breaks it. When that forced plan would meet it, the planner
//! chose otherwise because of the table sizes, and the verdict is "not judged at this scale",
//! with the table sizes and both plans' costs, never a failure.
//!
//! MongoDB finds ([`judge_mongo`]) name MongoDB indexes (`uses_index = "encounterId_1"`) and
//! collections (`no_seq_scan = ["clinicalNotes"]`). A real MongoDB's planner takes an index
//! whenever one serves the filter, so a collection scan fails there. FerretDB answers with its
//! backing PostgreSQL plan: the MongoDB index counts as used when the companion GIN index on
//! its first field serves the find (`crate::schema::ferretdb`), and a sequential scan of the
//! collection's table is "not judged" (the backing planner may rightly prefer it on a small
//! table), with what to check.

use serde::Serialize;

use super::plan::PlanSummary;

pub use crate::scenario::spec::Expect;

/// The outcome of one expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    #[serde(rename = "not judged at this scale")]
    NotJudged,
}

/// One expectation judged on one plan.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub op: String,
    /// `uses_index = "idx_tasks_pending"`, as written.
    pub expectation: String,
    pub outcome: Outcome,
    /// What the plan did, and for a failure or a "not judged", why.
    pub detail: String,
    /// The plan that decided it (its tree), for a failure.
    pub plan: String,
}

/// Whether the plan reads through `index` (a bitmap scan counts).
pub fn uses(plan: &PlanSummary, index: &str) -> bool {
    plan.accesses
        .iter()
        .filter_map(|a| a.index.as_deref())
        .any(|i| i.split('+').any(|x| x == index))
}

fn seq_scans<'a>(plan: &'a PlanSummary, tables: &[String]) -> Vec<&'a str> {
    plan.accesses
        .iter()
        .filter(|a| a.is_seq_scan() && tables.contains(&a.relation))
        .map(|a| a.relation.as_str())
        .collect()
}

/// Judges `expect` on the executed plan (`natural`) and, when it is not met, on the plan with
/// sequential scans disabled (`forced`, also executed) and, for `uses_index`, the plan when
/// that index is the only one its table has besides unique ones (`served`; None when the
/// index does not exist). `sizes` names the tables' row counts for the messages.
pub fn judge(
    op: &str,
    expect: &Expect,
    natural: &PlanSummary,
    forced: &PlanSummary,
    served: Option<&PlanSummary>,
    sizes: &str,
) -> Vec<Verdict> {
    let mut out = Vec::new();
    let verdict =
        |expectation: String, outcome: Outcome, detail: String, plan: &PlanSummary| Verdict {
            op: op.to_string(),
            expectation,
            outcome,
            detail,
            plan: if outcome == Outcome::Pass {
                String::new()
            } else {
                plan.tree.clone()
            },
        };
    let scale = |what: &str| {
        format!(
            "{what}; with sequential scans disabled the plan would meet it (cost {:.1} vs {:.1} chosen), so the planner chose otherwise at this table size ({sizes}): seed more clinics (the expectation is judged where an index is the better plan)",
            forced.total_cost, natural.total_cost
        )
    };
    if let Some(index) = &expect.uses_index {
        let e = format!("uses_index = {index:?}");
        out.push(match served {
            _ if uses(natural, index) => verdict(e, Outcome::Pass, natural.access_line(), natural),
            None => verdict(
                e,
                Outcome::Fail,
                format!(
                    "there is no index {index}; the plan reads {}",
                    natural.access_line()
                ),
                natural,
            ),
            Some(s) if uses(s, index) => verdict(
                e,
                Outcome::NotJudged,
                format!(
                    "the plan reads {}; {index} can serve this query (with sequential scans disabled and the table's other non-unique indexes set aside the plan uses it, cost {:.1} vs {:.1} chosen), so the planner chose otherwise at this table size ({sizes}): seed more clinics (the expectation is judged where that index is the better plan)",
                    natural.access_line(),
                    s.total_cost,
                    natural.total_cost
                ),
                natural,
            ),
            Some(s) => verdict(
                e,
                Outcome::Fail,
                format!(
                    "the plan reads {}; {index} cannot serve this query: even with sequential scans disabled and the table's other non-unique indexes set aside the plan does not use it ({})",
                    natural.access_line(),
                    s.access_line()
                ),
                natural,
            ),
        });
    }
    if !expect.no_seq_scan.is_empty() {
        let e = format!("no_seq_scan = {:?}", expect.no_seq_scan);
        let found = seq_scans(natural, &expect.no_seq_scan);
        out.push(if found.is_empty() {
            verdict(e, Outcome::Pass, natural.access_line(), natural)
        } else if seq_scans(forced, &expect.no_seq_scan).is_empty() {
            verdict(
                e,
                Outcome::NotJudged,
                scale(&format!("sequential scan of {}", found.join(", "))),
                natural,
            )
        } else {
            verdict(
                e,
                Outcome::Fail,
                format!(
                    "sequential scan of {}, and still with sequential scans disabled: no index serves this query on {}",
                    found.join(", "),
                    seq_scans(forced, &expect.no_seq_scan).join(", ")
                ),
                natural,
            )
        });
    }
    if let Some(max) = expect.max_examined_per_row {
        let e = format!("max_examined_per_row = {max}");
        let got = natural.examined_per_row();
        let line = |p: &PlanSummary| {
            format!(
                "{:.0} rows examined for {:.0} returned ({:.1} per row)",
                p.examined,
                p.returned,
                p.examined_per_row()
            )
        };
        out.push(if got <= max {
            verdict(e, Outcome::Pass, line(natural), natural)
        } else if forced.examined_per_row() <= max {
            verdict(e, Outcome::NotJudged, scale(&line(natural)), natural)
        } else {
            verdict(
                e,
                Outcome::Fail,
                format!(
                    "{}, and {} with sequential scans disabled",
                    line(natural),
                    line(forced)
                ),
                natural,
            )
        });
    }
    out
}

/// Judges `expect` on the plan of a MongoDB find on `collection`, read from an answer of
/// `kind` ([`super::mongo::MONGODB`] or [`super::mongo::FERRETDB`]).
pub fn judge_mongo(
    op: &str,
    expect: &Expect,
    natural: &PlanSummary,
    kind: &str,
    collection: &str,
) -> Vec<Verdict> {
    let ferretdb = kind == super::mongo::FERRETDB;
    let verdict = |expectation: String, outcome: Outcome, detail: String| Verdict {
        op: op.to_string(),
        expectation,
        outcome,
        detail: format!("{detail} ({kind})"),
        plan: if outcome == Outcome::Pass {
            String::new()
        } else {
            natural.tree.clone()
        },
    };
    // FerretDB's table for the collection is named after it in lower case, plus a hash.
    let of_collection = |relation: &str| {
        relation == collection
            || relation
                .to_lowercase()
                .starts_with(&format!("{}_", collection.to_lowercase()))
    };
    let scanned = natural
        .accesses
        .iter()
        .any(|a| of_collection(&a.relation) && (a.is_seq_scan() || a.method == "COLLSCAN"));
    let not_judged = || {
        format!(
            "FerretDB's backing PostgreSQL planner read the collection's table sequentially ({}): on a small collection that is its right choice; on a large one, check that `clinicload doctor` reports the companion GIN indexes in place (`clinicload migrate` adds them)",
            natural.access_line()
        )
    };
    let mut out = Vec::new();
    if let Some(index) = &expect.uses_index {
        let e = format!("uses_index = {index:?}");
        let declared = crate::schema::mongo::indexes()
            .into_iter()
            .find(|i| i.collection == collection && i.name == index.as_str());
        let field = declared
            .as_ref()
            .and_then(|d| d.keys.keys().next().cloned());
        let served_by_companion = |field: &str| {
            let suffix = format!("_{}_gin", field.to_lowercase());
            natural
                .accesses
                .iter()
                .filter_map(|a| a.index.as_deref())
                .any(|i| i.ends_with(&suffix))
        };
        out.push(match (declared.is_some(), field) {
            (false, _) => verdict(
                e,
                Outcome::Fail,
                format!(
                    "the schema declares no MongoDB index {index} on {collection}; the plan reads {}",
                    natural.access_line()
                ),
            ),
            _ if !ferretdb && uses(natural, index) => {
                verdict(e, Outcome::Pass, natural.access_line())
            }
            (true, Some(f)) if ferretdb && served_by_companion(&f) => verdict(
                e,
                Outcome::Pass,
                format!(
                    "{}: the companion GIN index of {index}'s field {f}",
                    natural.access_line()
                ),
            ),
            _ if ferretdb && scanned => verdict(e, Outcome::NotJudged, not_judged()),
            _ => verdict(
                e,
                Outcome::Fail,
                format!(
                    "the plan reads {}, not through {index}",
                    natural.access_line()
                ),
            ),
        });
    }
    if !expect.no_seq_scan.is_empty() {
        let e = format!("no_seq_scan = {:?}", expect.no_seq_scan);
        let listed = expect
            .no_seq_scan
            .iter()
            .any(|c| c.eq_ignore_ascii_case(collection));
        out.push(if !listed || !scanned {
            verdict(e, Outcome::Pass, natural.access_line())
        } else if ferretdb {
            verdict(e, Outcome::NotJudged, not_judged())
        } else {
            verdict(
                e,
                Outcome::Fail,
                format!(
                    "collection scan of {collection}: no index serves this find ({})",
                    natural.access_line()
                ),
            )
        });
    }
    if let Some(max) = expect.max_examined_per_row {
        let e = format!("max_examined_per_row = {max}");
        let got = natural.examined_per_row();
        let line = format!(
            "{:.0} examined for {:.0} returned ({got:.1} per document)",
            natural.examined, natural.returned
        );
        out.push(if got <= max {
            verdict(e, Outcome::Pass, line)
        } else if ferretdb && scanned {
            verdict(e, Outcome::NotJudged, format!("{line}; {}", not_judged()))
        } else {
            verdict(e, Outcome::Fail, line)
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::plan::Access;

    fn plan(accesses: &[(&str, &str, Option<&str>)], examined: f64, returned: f64) -> PlanSummary {
        PlanSummary {
            accesses: accesses
                .iter()
                .map(|(r, m, i)| Access {
                    relation: r.to_string(),
                    method: m.to_string(),
                    index: i.map(str::to_string),
                    rows: 0.0,
                    removed: 0.0,
                })
                .collect(),
            examined,
            returned,
            tree: "Seq Scan on tasks".into(),
            total_cost: 10.0,
            ..PlanSummary::default()
        }
    }

    fn expect() -> Expect {
        Expect {
            uses_index: Some("idx_tasks_pending".into()),
            no_seq_scan: vec!["tasks".into()],
            max_examined_per_row: Some(5.0),
        }
    }

    #[test]
    fn met_expectations_pass() {
        let p = plan(
            &[
                ("tasks", "Bitmap Heap Scan", Some("idx_tasks_pending")),
                ("patients", "Seq Scan", None),
            ],
            10.0,
            5.0,
        );
        let v = judge("pending_tasks", &expect(), &p, &p, None, "tasks: 400");
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|v| v.outcome == Outcome::Pass), "{v:?}");
    }

    #[test]
    fn a_small_table_is_not_judged_when_the_index_would_serve() {
        let natural = plan(&[("tasks", "Seq Scan", None)], 400.0, 5.0);
        let forced = plan(
            &[("tasks", "Index Scan", Some("idx_tasks_pending"))],
            5.0,
            5.0,
        );
        let v = judge(
            "pending_tasks",
            &expect(),
            &natural,
            &forced,
            Some(&forced),
            "tasks: 400",
        );
        assert!(v.iter().all(|v| v.outcome == Outcome::NotJudged), "{v:?}");
        assert!(v[0].detail.contains("tasks: 400"));
    }

    #[test]
    fn a_wrong_or_missing_index_fails_with_the_plan() {
        let natural = plan(&[("tasks", "Seq Scan", None)], 400.0, 5.0);
        let same = natural.clone();
        let v = judge(
            "pending_tasks",
            &expect(),
            &natural,
            &same,
            Some(&same),
            "tasks: 400",
        );
        assert!(v.iter().all(|v| v.outcome == Outcome::Fail), "{v:?}");
        assert!(v[0].detail.contains("cannot serve"));
        assert_eq!(v[0].plan, "Seq Scan on tasks");
        let wrong = Expect {
            uses_index: Some("idx_no_such".into()),
            ..Expect::default()
        };
        let p = plan(
            &[("tasks", "Index Scan", Some("idx_tasks_pending"))],
            5.0,
            5.0,
        );
        let v = judge("pending_tasks", &wrong, &p, &p, None, "");
        assert_eq!(v[0].outcome, Outcome::Fail);
        assert!(v[0].detail.contains("there is no index idx_no_such"));
        // a competing index the planner prefers at this size: not judged
        let other = plan(
            &[("tasks", "Index Scan", Some("idx_tasks_assignee_status"))],
            5.0,
            5.0,
        );
        let only = plan(
            &[("tasks", "Index Scan", Some("idx_tasks_pending"))],
            5.0,
            5.0,
        );
        let e = Expect {
            uses_index: Some("idx_tasks_pending".into()),
            ..Expect::default()
        };
        let v = judge(
            "pending_tasks",
            &e,
            &other,
            &other,
            Some(&only),
            "tasks: 400",
        );
        assert_eq!(v[0].outcome, Outcome::NotJudged, "{v:?}");
    }

    fn mongo_plan(relation: &str, method: &str, index: Option<&str>) -> PlanSummary {
        PlanSummary {
            accesses: vec![Access {
                relation: relation.into(),
                method: method.into(),
                index: index.map(str::to_string),
                rows: 1.0,
                removed: 0.0,
            }],
            returned: 1.0,
            examined: 1.0,
            tree: format!("{method}\n"),
            ..PlanSummary::default()
        }
    }

    fn notes_expect(index: &str) -> Expect {
        Expect {
            uses_index: Some(index.into()),
            no_seq_scan: vec!["clinicalNotes".into()],
            max_examined_per_row: None,
        }
    }

    fn outcomes(v: &[Verdict]) -> Vec<Outcome> {
        v.iter().map(|v| v.outcome).collect()
    }

    #[test]
    fn mongodb_plans_pass_through_the_named_index_and_fail_on_a_collection_scan() {
        use crate::explain::mongo::MONGODB;
        let ix = mongo_plan("clinicalNotes", "IXSCAN", Some("encounterId_1"));
        let v = judge_mongo(
            "n",
            &notes_expect("encounterId_1"),
            &ix,
            MONGODB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::Pass, Outcome::Pass]);
        let v = judge_mongo(
            "n",
            &notes_expect("patientId_1"),
            &ix,
            MONGODB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::Fail, Outcome::Pass]);
        let scan = mongo_plan("clinicalNotes", "COLLSCAN", None);
        let v = judge_mongo(
            "n",
            &notes_expect("encounterId_1"),
            &scan,
            MONGODB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::Fail, Outcome::Fail]);
        assert!(v[1].plan.contains("COLLSCAN"), "a failure shows the plan");
        let v = judge_mongo(
            "n",
            &notes_expect("no_such_1"),
            &ix,
            MONGODB,
            "clinicalNotes",
        );
        assert!(v[0].outcome == Outcome::Fail && v[0].detail.contains("declares no MongoDB index"));
    }

    #[test]
    fn ferretdb_plans_count_the_companion_index_and_leave_a_table_scan_unjudged() {
        use crate::explain::mongo::FERRETDB;
        let gin = mongo_plan(
            "clinicalnotes_e24c607d",
            "Bitmap Heap Scan",
            Some("clinicalnotes_e24c607d_encounterid_gin"),
        );
        let v = judge_mongo(
            "n",
            &notes_expect("encounterId_1"),
            &gin,
            FERRETDB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::Pass, Outcome::Pass]);
        assert!(v[0].detail.contains("FerretDB explain"));
        // patientId_1's field is not the one the companion serves.
        let v = judge_mongo(
            "n",
            &notes_expect("patientId_1"),
            &gin,
            FERRETDB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::Fail, Outcome::Pass]);
        let seq = mongo_plan("clinicalnotes_e24c607d", "Seq Scan", None);
        let v = judge_mongo(
            "n",
            &notes_expect("encounterId_1"),
            &seq,
            FERRETDB,
            "clinicalNotes",
        );
        assert_eq!(outcomes(&v), [Outcome::NotJudged, Outcome::NotJudged]);
        assert!(v[0].detail.contains("clinicload doctor"));
    }
}
