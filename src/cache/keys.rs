//! The Redis key names, in one place: the documented schedule key, the single-flight lock
//! key and the SCAN pattern the memory sampler uses. The lock key deliberately does not
//! match the schedule pattern, so memory figures count schedules only.

use chrono::NaiveDate;
use uuid::Uuid;

/// `{prefix}doctor:{doctorId}:schedule:{YYYY-MM-DD}`, as MVP-004 names it.
pub fn schedule_key(prefix: &str, doctor_id: Uuid, date: NaiveDate) -> String {
    format!(
        "{prefix}doctor:{doctor_id}:schedule:{}",
        date.format("%Y-%m-%d")
    )
}

/// The single-flight lock guarding the fill of `schedule_key`.
pub fn lock_key(prefix: &str, doctor_id: Uuid, date: NaiveDate) -> String {
    format!(
        "{prefix}lock:doctor:{doctor_id}:schedule:{}",
        date.format("%Y-%m-%d")
    )
}

/// The generation counter of `schedule_key`, bumped by every guarded invalidation.
pub fn gen_key(prefix: &str, doctor_id: Uuid, date: NaiveDate) -> String {
    format!(
        "{prefix}gen:doctor:{doctor_id}:schedule:{}",
        date.format("%Y-%m-%d")
    )
}

/// A `SCAN MATCH` pattern for every schedule key under `prefix` (glob characters escaped).
pub fn schedule_pattern(prefix: &str) -> String {
    format!("{}doctor:*:schedule:*", escape_glob(prefix))
}

/// A `SCAN MATCH` pattern for every single-flight lock under `prefix`.
pub fn lock_pattern(prefix: &str) -> String {
    format!("{}lock:doctor:*:schedule:*", escape_glob(prefix))
}

/// A `SCAN MATCH` pattern for every fill generation under `prefix`.
pub fn gen_pattern(prefix: &str) -> String {
    format!("{}gen:doctor:*:schedule:*", escape_glob(prefix))
}

pub fn escape_glob(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub use crate::connect::scan_page;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_key_is_exactly_the_documented_one() {
        let id = Uuid::nil();
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            schedule_key("", id, d),
            "doctor:00000000-0000-0000-0000-000000000000:schedule:2026-11-25"
        );
        assert!(!lock_key("", id, d).starts_with("doctor:"));
        assert!(!gen_key("", id, d).starts_with("doctor:"));
        assert_eq!(schedule_pattern("t[1]:"), "t\\[1\\]:doctor:*:schedule:*");
    }
}
