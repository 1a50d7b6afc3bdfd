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
