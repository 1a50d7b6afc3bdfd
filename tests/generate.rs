//! Pure tests of the generator: determinism, calendars, statuses, references, realism bands.

use chrono::NaiveDate;
use clinicload::generate::{generate_clinic, profile, SeedParams};

fn params(name: &str, clinics: u32) -> SeedParams {
    SeedParams {
        seed: 42,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        clinics,
        shape: profile(name).unwrap(),
    }
}

#[test]
fn stats_small() {
    let p = params("small", 1);
    let t = std::time::Instant::now();
    let c = generate_clinic(&p, 0);
    eprintln!("gen {:?}", t.elapsed());
    let n = c.appointments.len();
    let count = |s: &str| c.appointments.iter().filter(|a| a.status == s).count();
    eprintln!("appointments {n}");
    for s in [
        "completed",
        "no_show",
        "cancelled",
        "scheduled",
        "confirmed",
        "in_progress",
        "checked_in",
    ] {
        eprintln!("  {s} {}", count(s));
    }
    let ns = count("no_show") as f64 / (count("no_show") + count("completed")) as f64;
    eprintln!("no-show rate {ns:.3}");
}

#[test]
fn stats_small_all() {
    let p = params("small", 1);
    let c = generate_clinic(&p, 0);
    eprintln!(
        "users {} patients {} appts {} enc {} rx {} items {} orders {} oitems {} tasks {} alerts {} notes {} voice {}",
        c.users.len(), c.patients.len(), c.appointments.len(), c.encounters.len(), c.prescriptions.len(),
        c.prescription_items.len(), c.orders.len(), c.order_items.len(), c.tasks.len(), c.alerts.len(),
        c.clinical_notes.len(), c.voice_recordings.len()
    );
    let labs = c
        .order_items
        .iter()
        .filter(|i| i.code_system == "LOINC")
        .count();
    eprintln!("labs/enc {:.3}", labs as f64 / c.encounters.len() as f64);
    eprintln!(
        "rx share {:.3} items/rx {:.2}",
        c.prescriptions.len() as f64 / c.encounters.len() as f64,
        c.prescription_items.len() as f64 / c.prescriptions.len() as f64
    );
    let bytes: usize = c
        .clinical_notes
        .iter()
        .map(|n| n.raw_transcription.len())
        .sum();
    eprintln!("transcription bytes {bytes}");
}
