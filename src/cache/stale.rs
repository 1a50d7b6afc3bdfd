//! Stale-read accounting. A read is stale when it returns a schedule older than the latest
//! write to that doctor's day that was acknowledged before the read started. (A read that
//! overlaps a write may return either state: that is concurrency, not staleness.)
//!
//! How it is measured, without extra database queries and without changing the schema:
//! every write acknowledged through this cache records, per (doctor, day), the appointments
//! it touched with the `updated_at` PostgreSQL gave them (`RETURNING updated_at`) and whether
//! the appointment now belongs to that day (a reschedule moves it out of the old day). A read
//! snapshots those expectations before it starts and, once it has a schedule, checks that
//! every expected appointment is present with at least that `updated_at` (or absent, or
//! newer, if it moved out). The schedule JSON carries each row's `updated_at`, so a cached
//! value built before a write is recognised as such.
//!
//! Limits: only writes made through this process's [`WriteLog`] are known (the runner makes
//! all writes of a scenario through one cache); `updated_at` is the writing transaction's
//! `NOW()`, so two writes to the same row whose transactions started in the opposite order
//! to their commits could hide one stale read (single-statement writes make this rare).

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use chrono::{NaiveDate, NaiveDateTime};
use uuid::Uuid;

use super::schedule::row_versions;

/// The latest acknowledged state of one appointment with respect to one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub appointment_id: Uuid,
    pub updated_at: NaiveDateTime,
    /// Whether the appointment belongs to the day after the write.
    pub present: bool,
}

/// Acknowledged writes per (doctor, day): appointment -> expectation.
#[derive(Debug, Default)]
pub struct WriteLog {
    days: Mutex<HashMap<(Uuid, NaiveDate), HashMap<Uuid, Expectation>>>,
}

impl WriteLog {
    /// Records an acknowledged write; an older acknowledgement never replaces a newer one.
    pub fn record(&self, doctor_id: Uuid, date: NaiveDate, e: Expectation) {
        let mut days = self.days.lock().expect("write log lock");
        let day = days.entry((doctor_id, date)).or_default();
        match day.get(&e.appointment_id) {
            Some(old) if old.updated_at > e.updated_at => {}
            _ => {
                day.insert(e.appointment_id, e);
            }
        }
    }

    /// What a read of that day starting now must reflect.
    pub fn expectations(&self, doctor_id: Uuid, date: NaiveDate) -> Vec<Expectation> {
        let days = self.days.lock().expect("write log lock");
        days.get(&(doctor_id, date))
            .map(|d| d.values().copied().collect())
            .unwrap_or_default()
    }
}

/// Whether `schedule_json` misses any of `expected` (before the absent-row check below).
pub fn is_stale(schedule_json: &str, expected: &[Expectation]) -> Result<bool> {
    Ok(!missed(schedule_json, expected)?.is_empty())
}

/// The expectations `schedule_json` misses, each with the `updated_at` it shows for that
/// appointment (None: not listed).
///
/// A listed appointment older than expected is certainly stale (a newer write only makes
/// `updated_at` larger). An expected appointment that is *not listed* is ambiguous: a newer
/// write, still in flight when the read started, may have moved it out of the day (a read
/// overlapping a write may show it). [`ABSENT_CHECK_SQL`] settles that case.
pub fn missed(
    schedule_json: &str,
    expected: &[Expectation],
) -> Result<Vec<(Expectation, Option<NaiveDateTime>)>> {
    if expected.is_empty() {
        return Ok(Vec::new());
    }
    let rows: HashMap<Uuid, NaiveDateTime> = row_versions(schedule_json)?
        .into_iter()
        .map(|r| (r.id, r.updated_at))
        .collect();
    Ok(expected
        .iter()
        .filter_map(|e| {
            let seen = rows.get(&e.appointment_id).copied();
            let missed = match seen {
                Some(seen) => seen < e.updated_at,
                None => e.present,
            };
            missed.then_some((*e, seen))
        })
        .collect())
}

/// For an expected appointment missing from a schedule: its current `updated_at`. Newer than
/// expected means a later write changed it, and the read may show that write's effect (not
/// counted as stale); unchanged means the schedule lacks an acknowledged write (stale). A
/// primary-key lookup, made only in this rare case and not counted as a read's DB query.
pub const ABSENT_CHECK_SQL: &str = "SELECT updated_at FROM appointments WHERE id = $1";

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn staleness_rules() {
        let a = Uuid::from_u128(1);
        let json = format!(
            "[{{\"id\":\"{a}\",\"updated_at\":\"2026-11-25T09:00:00.5\",\"status\":\"scheduled\"}}]"
        );
        let exp = |ts: &str, present| Expectation {
            appointment_id: a,
            updated_at: t(ts),
            present,
        };
        assert!(!is_stale(&json, &[]).unwrap());
        assert!(!is_stale(&json, &[exp("2026-11-25 09:00:00.5", true)]).unwrap());
        assert!(is_stale(&json, &[exp("2026-11-25 09:00:01", true)]).unwrap());
        // Moved out of the day by a newer write, but the schedule still lists it.
        assert!(is_stale(&json, &[exp("2026-11-25 09:00:01", false)]).unwrap());
        // A newly booked appointment the schedule does not list.
        let other = Expectation {
            appointment_id: Uuid::from_u128(2),
            ..exp("2026-11-25 09:00:00", true)
        };
        assert!(is_stale(&json, &[other]).unwrap());
        assert!(!is_stale("[]", &[exp("2026-11-25 09:00:01", false)]).unwrap());
    }

    #[test]
    fn older_acknowledgement_does_not_replace_newer() {
        let log = WriteLog::default();
        let (d, day, a) = (
            Uuid::from_u128(9),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            Uuid::from_u128(1),
        );
        let e = |ts: &str| Expectation {
            appointment_id: a,
            updated_at: t(ts),
            present: true,
        };
        log.record(d, day, e("2026-01-01 10:00:00"));
        log.record(d, day, e("2026-01-01 09:00:00"));
        assert_eq!(log.expectations(d, day), vec![e("2026-01-01 10:00:00")]);
    }
}
