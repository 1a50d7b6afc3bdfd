//! `clinicload explain SCENARIO --at-scale N`: an expectation judged at one size says little
//! about another, so the PostgreSQL expectations are judged on datasets of N and 2N clinics of
//! a profile, and one that holds is *confirmed* only when it holds at both. The datasets are
//! scratch databases beside the target one (`<database>_scale_<profile>_<n>`, see
//! [`crate::seed::scratch`]), seeded PostgreSQL-only and kept for the next time.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::expect::Outcome;
use super::Plans;
use crate::config::Targets;
use crate::scenario::spec::Scenario;

/// `--at-scale N --profile P`.
#[derive(Debug, Clone)]
pub struct AtScale {
    pub clinics: u32,
    pub profile: String,
}

/// One expectation at both sizes.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    pub op: String,
    pub expectation: String,
    /// (clinics, outcome, detail) per size, smallest first.
    pub at: Vec<(u32, Outcome, String)>,
    /// "confirmed at N and 2N", "fails at ...", "not judged at ...".
    pub verdict: String,
    pub failed: bool,
}

/// One size's dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub clinics: u32,
    pub fingerprint: String,
    /// Rows per table (`pg_class.reltuples`).
    pub table_rows: Vec<(String, i64)>,
}

/// `scale.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub schema: &'static str,
    pub profile: String,
    pub datasets: Vec<Dataset>,
    pub confirmations: Vec<Confirmation>,
}

pub const SCHEMA: &str = "clinicload.explain_scale/1";

/// Judges `scenario`'s PostgreSQL expectations at N and 2N clinics.
pub async fn explain_at_scale(
    targets: &Targets,
    scenario: &Scenario,
    samples: usize,
    at: &AtScale,
) -> Result<(ScaleReport, Vec<(u32, Plans)>)> {
    if at.clinics == 0 || at.clinics > 10_000 {
        crate::usage!("--at-scale {}: give 1 to 10000 clinics", at.clinics);
    }
    let pg_only = super::postgres_only(scenario);
    if pg_only.ops.iter().all(|o| o.expect.is_none()) {
        crate::usage!(
            "--at-scale judges expectations, and {} states none on its PostgreSQL operations (expect = {{ uses_index = ... }})",
            scenario.file.display()
        );
    }
    let mut plans = Vec::new();
    for clinics in [at.clinics, at.clinics * 2] {
        let t = crate::seed::scratch::prepare(
            targets,
            &crate::seed::scratch::ScratchSpec {
                profile: at.profile.clone(),
                clinics,
                postgres_only: true,
                ..Default::default()
            },
            "--at-scale",
        )
        .await?
        .targets;
        let p = super::explain_scenario(&t, &pg_only, samples, true)
            .await
            .with_context(|| format!("explaining at {clinics} clinics"))?;
        plans.push((clinics, p));
    }
    let mut confirmations: Vec<Confirmation> = Vec::new();
    for (clinics, p) in &plans {
        for v in &p.expectations {
            let c = match confirmations
                .iter_mut()
                .find(|c| c.op == v.op && c.expectation == v.expectation)
            {
                Some(c) => c,
                None => {
                    confirmations.push(Confirmation {
                        op: v.op.clone(),
                        expectation: v.expectation.clone(),
                        at: Vec::new(),
                        verdict: String::new(),
                        failed: false,
                    });
                    confirmations.last_mut().expect("just pushed")
                }
            };
            // The worst sample decides a size.
            match c.at.iter_mut().find(|a| a.0 == *clinics) {
                Some(a) if rank(v.outcome) > rank(a.1) => {
                    a.1 = v.outcome;
                    a.2 = v.detail.clone();
                }
                Some(_) => {}
                None => c.at.push((*clinics, v.outcome, v.detail.clone())),
            }
        }
    }
    for c in &mut confirmations {
        let sizes = |o: Outcome| {
            c.at.iter()
                .filter(|a| a.1 == o)
                .map(|a| a.0.to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let failed = sizes(Outcome::Fail);
        let not_judged = sizes(Outcome::NotJudged);
        c.failed = !failed.is_empty();
        c.verdict = if c.failed {
            let detail =
                c.at.iter()
                    .find(|a| a.1 == Outcome::Fail)
                    .map(|a| a.2.clone())
                    .unwrap_or_default();
            format!("FAILS at {failed} clinics: {detail}")
        } else if not_judged.is_empty() {
            format!("confirmed at {} and {} clinics", at.clinics, at.clinics * 2)
        } else {
            format!("not judged at {not_judged} clinics (tables too small to decide)")
        };
    }
    let datasets = plans
        .iter()
        .map(|(n, p)| Dataset {
            clinics: *n,
            fingerprint: p.dataset.clone().unwrap_or_default(),
            table_rows: p.table_rows.clone(),
        })
        .collect();
    Ok((
        ScaleReport {
            schema: SCHEMA,
            profile: at.profile.clone(),
            datasets,
            confirmations,
        },
        plans,
    ))
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::NotJudged => 1,
        Outcome::Fail => 2,
    }
}

/// Writes `scale.json` and each size's plans under `dir/<n>-clinics/`.
pub fn write(dir: &Path, report: &ScaleReport, plans: &[(u32, Plans)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (n, p) in plans {
        super::write(&dir.join(format!("{n}-clinics")), p)?;
    }
    crate::report::write_atomic(
        &dir.join("scale.json"),
        format!("{}\n", serde_json::to_string_pretty(report)?).as_bytes(),
    )
}
