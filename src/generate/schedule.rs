//! Doctors' weekly calendars and the appointments booked into them. Appointments are placed
//! only inside a doctor's working hours on working days, outside the lunch gap, and never
//! overlapping another appointment of the same doctor (a per-doctor, per-day occupancy map
//! in 5-minute units). Visit counts are skewed per patient, statuses follow time: past visits
//! completed, no-show or cancelled; future ones scheduled or confirmed; today split at noon.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use serde_json::{json, Value as Json};

use super::rng::{entity_rng, Kind};
use super::SeedParams;
use rand::Rng;

/// A doctor's weekly working pattern, minutes after midnight, clinic-local.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub doctor_index: u32,
    /// Working days, Monday first.
    pub weekdays: [bool; 7],
    pub start_min: u32,
    pub end_min: u32,
    pub lunch_start_min: u32,
    pub lunch_end_min: u32,
}

/// Granularity of the occupancy map and of slot starts.
pub const UNIT_MIN: u32 = 5;

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl Calendar {
    pub fn works_on(&self, day: NaiveDate) -> bool {
        self.weekdays[day.weekday().num_days_from_monday() as usize]
    }

    /// Whether [start, end) lies in working hours of a working day and outside the lunch gap.
    pub fn contains(&self, start: NaiveDateTime, end: NaiveDateTime) -> bool {
        if start.date() != end.date() && !(end.time().num_seconds_from_midnight() == 0) {
            return false;
        }
        if !self.works_on(start.date()) || end <= start {
            return false;
        }
        let s = start.time().num_seconds_from_midnight() / 60;
        let e = s + ((end - start).num_minutes() as u32);
        s >= self.start_min
            && e <= self.end_min
            && (e <= self.lunch_start_min || s >= self.lunch_end_min)
    }

    pub fn to_json(&self) -> Json {
        let days: Vec<&str> = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .iter()
        .zip(self.weekdays)
        .filter(|(_, on)| *on)
        .map(|(d, _)| match d {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        })
        .collect();
        json!({
            "days": days,
            "start": hhmm(self.start_min),
            "end": hhmm(self.end_min),
            "lunchStart": hhmm(self.lunch_start_min),
            "lunchEnd": hhmm(self.lunch_end_min),
        })
    }
}

/// The calendar of doctor `d`: Monday to Friday (one in five doctors part-time with a weekday
/// off), starting 08:00-09:00, ending 16:30-17:30, an hour's lunch at 12:00 or 12:30.
pub fn calendar(params: &SeedParams, clinic: u32, d: u32) -> Calendar {
    let mut rng = entity_rng(params.seed, clinic, Kind::Calendar, u64::from(d));
    let mut weekdays = [true, true, true, true, true, false, false];
    if rng.gen_bool(0.2) {
        weekdays[rng.gen_range(0..5)] = false;
    }
    let start_min = [8 * 60, 8 * 60 + 30, 9 * 60][rng.gen_range(0..3)];
    let end_min = [16 * 60 + 30, 17 * 60, 17 * 60 + 30][rng.gen_range(0..3)];
    let lunch_start_min = [12 * 60, 12 * 60 + 30][rng.gen_range(0..2)];
    Calendar {
        doctor_index: d,
        weekdays,
        start_min,
        end_min,
        lunch_start_min,
        lunch_end_min: lunch_start_min + 60,
    }
}

/// Unused helper retained so the module compiles while appointments are being written.
pub fn day_start(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::zero()
}
