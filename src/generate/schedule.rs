//! Doctors' weekly calendars and the appointments booked into them. Appointments are placed
//! only inside a doctor's working hours on working days, outside the lunch gap, and never
//! overlapping another appointment of the same doctor (a per-doctor, per-day occupancy map
//! in 5-minute units). Visit counts are skewed per patient, statuses follow time: past visits
//! completed, no-show or cancelled; future ones scheduled or confirmed; today split at noon.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use rand::Rng;
use rand_distr::{Distribution, Poisson};
use serde_json::{json, Value as Json};

use super::people::{user_id, PatientInfo};
use super::rng::{entity_rng, entity_uuid, pick_weighted, EntityRng, Kind};
use super::{as_of_noon, vocab, SeedParams};
use crate::model::Appointment;

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

pub fn hhmm(m: u32) -> String {
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

/// Slot length in minutes by appointment type (15/20/30; mean visit 20-21 min, NAMCS via
/// AJMC 2014): new-patient and procedure visits run longer.
pub fn slot_minutes(appointment_type: &str) -> u32 {
    match appointment_type {
        "new_patient" | "procedure" => 30,
        "routine" | "follow_up" => 20,
        _ => 15, // urgent, telehealth
    }
}

/// Share of bookings cancelled ahead of the visit.
pub const CANCEL_RATE: f64 = 0.08;

/// One booked appointment with the facts the clinical generators need.
#[derive(Debug, Clone)]
pub struct Booked {
    pub appointment: Appointment,
    pub patient: u32,
    pub doctor: u32,
    /// Index into `vocab::COMPLAINTS`.
    pub complaint: usize,
    /// Entity key of the appointment (also keys its encounter).
    pub key: u64,
}

/// A walk-in: an unbooked visit squeezed into a free slot of a doctor's day.
#[derive(Debug, Clone)]
pub struct WalkIn {
    pub patient: u32,
    pub doctor: u32,
    pub complaint: usize,
    pub start: NaiveDateTime,
    pub minutes: u32,
    pub key: u64,
}

/// Per doctor and day, which 5-minute units are taken.
struct Occupancy {
    days: usize,
    bits: Vec<[u64; 5]>,
}

impl Occupancy {
    fn new(doctors: usize, days: usize) -> Occupancy {
        Occupancy {
            days,
            bits: vec![[0; 5]; doctors * days],
        }
    }
    fn free(&self, doctor: usize, day: usize, from: u32, units: u32) -> bool {
        let b = &self.bits[doctor * self.days + day];
        (from..from + units).all(|u| b[(u / 64) as usize] & (1 << (u % 64)) == 0)
    }
    fn take(&mut self, doctor: usize, day: usize, from: u32, units: u32) {
        let b = &mut self.bits[doctor * self.days + day];
        for u in from..from + units {
            b[(u / 64) as usize] |= 1 << (u % 64);
        }
    }
}

/// Finds a free start (in minutes after midnight) of `minutes` on `day` for the calendar,
/// beginning the search at a random point so visits spread over the day.
fn find_slot(
    occ: &Occupancy,
    cal: &Calendar,
    doctor: usize,
    day: usize,
    minutes: u32,
    rng: &mut EntityRng,
) -> Option<u32> {
    let units = minutes / UNIT_MIN;
    let first = cal.start_min / UNIT_MIN;
    let last = cal.end_min / UNIT_MIN;
    if last < first + units {
        return None;
    }
    let span = last - first - units + 1;
    let offset = rng.gen_range(0..span);
    (0..span)
        .map(|k| first + (offset + k) % span)
        .find(|&u| {
            let (s, e) = (u * UNIT_MIN, (u + units) * UNIT_MIN);
            (e <= cal.lunch_start_min || s >= cal.lunch_end_min) && occ.free(doctor, day, u, units)
        })
        .map(|u| u * UNIT_MIN)
}

/// The first day of the clinic's window and its length in days (history, today, future).
pub fn window(params: &SeedParams) -> (NaiveDate, usize) {
    let first = params.as_of - Duration::days(i64::from(params.shape.history_days));
    (
        first,
        (params.shape.history_days + 1 + params.shape.future_days) as usize,
    )
}

fn at(day: NaiveDate, minutes: u32) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(i64::from(minutes))
}

/// Picks the reason for a visit: a chronic follow-up for about half the visits of patients
/// with chronic conditions, otherwise an acute or preventive complaint fitting age and sex.
pub fn pick_complaint(rng: &mut EntityRng, p: &PatientInfo) -> usize {
    if !p.chronic.is_empty() && rng.gen_bool(0.5) {
        let c = &vocab::CHRONIC[p.chronic[rng.gen_range(0..p.chronic.len())]];
        if let Some(k) = vocab::chronic_complaint(c.code) {
            return k;
        }
    }
    let weights: Vec<u32> = vocab::COMPLAINTS
        .iter()
        .map(|c| {
            let fits = p.age >= c.ages.0 && p.age <= c.ages.1 && c.sex.map_or(true, |s| s == p.sex);
            if fits {
                c.weight
            } else {
                0
            }
        })
        .collect();
    pick_weighted(rng, &weights)
}

fn appointment_type(rng: &mut EntityRng, c: &vocab::Complaint, first_visit: bool) -> &'static str {
    if first_visit {
        return "new_patient";
    }
    match c.tag {
        "chronic_care" => {
            if rng.gen_bool(0.25) {
                "telehealth"
            } else {
                "follow_up"
            }
        }
        "preventive" => "routine",
        "womens_health" => "procedure",
        _ => match rng.gen_range(0..100) {
            0..=34 => "urgent",
            35..=69 => "routine",
            70..=84 => "follow_up",
            85..=94 => "telehealth",
            _ => "procedure",
        },
    }
}

/// Lead time between booking and visit, in minutes: same day for most urgent visits, weeks
/// for routine and new-patient visits (exponential, capped at four months).
fn lead_minutes(rng: &mut EntityRng, appointment_type: &str) -> i64 {
    let mean_days: f64 = match appointment_type {
        "urgent" => 0.7,
        "new_patient" => 24.0,
        "follow_up" | "routine" => 18.0,
        _ => 10.0,
    };
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let days = (-u.ln() * mean_days).min(120.0);
    ((days * 24.0 * 60.0) as i64).max(rng.gen_range(20..240))
}

const BOOKING_NOTES: &[&str] = &[
    "Patient requests a morning slot",
    "Interpreter needed: Spanish",
    "Bring current medication list",
    "Fasting for labs",
    "Rescheduled from last week",
    "Parent will accompany",
    "Wheelchair access needed",
];

const CANCEL_REASONS: &[&str] = &[
    "Patient request",
    "Feeling better",
    "Scheduling conflict",
    "Transportation problem",
    "Illness in family",
    "Doctor unavailable",
    "Rescheduled",
];

/// Books every patient's visits into the doctors' calendars and assigns statuses by time.
/// Appointments come back sorted by start time (then doctor).
pub fn book(
    params: &SeedParams,
    clinic: u32,
    calendars: &[Calendar],
    patients: &[PatientInfo],
    doctor_specialties: &[&'static str],
) -> Vec<Booked> {
    let shape = &params.shape;
    let (first_day, n_days) = window(params);
    let now = as_of_noon(params);
    let mut occ = Occupancy::new(calendars.len(), n_days);
    let receptionists: Vec<u32> = (shape.doctors + shape.nurses
        ..shape.doctors + shape.nurses + shape.receptionists)
        .collect();
    let mut out = Vec::new();
    if calendars.is_empty() {
        return out;
    }
    for p in patients {
        let mut rng = entity_rng(params.seed, clinic, Kind::Visits, u64::from(p.index));
        let start_day = p.registered.max(first_day);
        let offset = (start_day - first_day).num_days().max(0) as usize;
        if offset >= n_days {
            continue;
        }
        let span = n_days - offset;
        // Appointments per year = attended visits / (1 - no-show - cancel), so that after
        // no-shows and cancellations the attended rate matches the patient's propensity.
        let per_year = p.visits_per_year / (1.0 - 0.23 - CANCEL_RATE);
        let mean = per_year * span as f64 / 365.0;
        let count = if mean > 0.0 {
            Poisson::new(mean).map_or(0, |d| d.sample(&mut rng) as usize)
        } else {
            0
        }
        .min(400);
        // Patients differ in reliability: most rarely miss, a few often do.
        let reliability_bias: f64 = if rng.gen_bool(0.15) {
            rng.gen_range(0.10..0.35)
        } else {
            0.0
        };
        let mut visits: Vec<(NaiveDateTime, u32, usize, &'static str, i64, u64)> = Vec::new();
        let registered_in_window = p.registered >= first_day;
        for v in 0..count {
            let key = (u64::from(p.index) << 16) | v as u64;
            let mut vrng = entity_rng(params.seed, clinic, Kind::Appointment, key);
            let complaint = pick_complaint(&mut vrng, p);
            let c = &vocab::COMPLAINTS[complaint];
            let atype = appointment_type(&mut vrng, c, registered_in_window && v == 0);
            let minutes = slot_minutes(atype);
            // Doctor: the primary doctor mostly; a matching specialist for some visits.
            let specialist = doctor_specialties
                .iter()
                .position(|s| *s == c.specialty && c.specialty != "Family Medicine");
            let doctor = match specialist {
                Some(d) if vrng.gen_bool(0.4) => d as u32,
                _ if vrng.gen_bool(0.85) => p.primary_doctor,
                _ => vrng.gen_range(0..calendars.len() as u32),
            };
            let cal = &calendars[doctor as usize];
            let lead = lead_minutes(&mut vrng, atype);
            // The first visit of a newly registered patient is on registration (or soon after).
            let day0 = if registered_in_window && v == 0 {
                offset
            } else {
                offset + vrng.gen_range(0..span)
            };
            let mut placed = None;
            for day in day0..(day0 + 7).min(n_days) {
                let date = first_day + Duration::days(day as i64);
                if !cal.works_on(date) {
                    continue;
                }
                if let Some(m) = find_slot(&occ, cal, doctor as usize, day, minutes, &mut vrng) {
                    placed = Some((day, m));
                    break;
                }
            }
            let Some((day, m)) = placed else { continue };
            let start = at(first_day + Duration::days(day as i64), m);
            // A future visit exists only if it was booked by now.
            if start > now && (start - now).num_minutes() > lead {
                continue;
            }
            occ.take(doctor as usize, day, m / UNIT_MIN, minutes / UNIT_MIN);
            visits.push((start, doctor, complaint, atype, lead, key));
        }
        visits.sort_by_key(|v| (v.0, v.5));
        let mut earlier = 0u32;
        let mut earlier_no_shows = 0u32;
        for (start, doctor, complaint, atype, lead, key) in visits {
            let mut vrng = entity_rng(params.seed, clinic, Kind::Appointment, key ^ (1 << 63));
            let minutes = slot_minutes(atype);
            let end = start + Duration::minutes(i64::from(minutes));
            let booked_at = start - Duration::minutes(lead);
            let lead_days = lead as f64 / 1440.0;
            let mut cancelled_at = None;
            let mut checked_in_at = None;
            let status: &'static str = if vrng.gen_bool(CANCEL_RATE) {
                // Cancelled mostly a few days ahead, never before booking nor after now.
                let back = Duration::minutes(((lead as f64) * vrng.gen_range(0.05..0.9)) as i64)
                    .max(Duration::minutes(1));
                let t = (start - back).max(booked_at).min(now);
                cancelled_at = Some(t);
                "cancelled"
            } else if end <= now {
                // No-shows rise with lead time and with the patient's earlier no-shows
                // (Dantas et al. 2018); calibrated to a ~23% mean.
                let history = (f64::from(earlier_no_shows) + 0.25) / (f64::from(earlier) + 1.0);
                let p_ns =
                    (0.05 + 0.16 * (lead_days / 30.0).min(2.0) + 0.30 * history + reliability_bias)
                        .clamp(0.02, 0.9);
                earlier += 1;
                if vrng.gen_bool(p_ns) {
                    earlier_no_shows += 1;
                    "no_show"
                } else {
                    checked_in_at = Some(start - Duration::minutes(vrng.gen_range(0..20)));
                    "completed"
                }
            } else if start <= now {
                checked_in_at = Some(start - Duration::minutes(vrng.gen_range(0..20)));
                "in_progress"
            } else if (start - now).num_minutes() <= 30 {
                checked_in_at = Some(now - Duration::minutes(vrng.gen_range(0..15)));
                "checked_in"
            } else if (start - now).num_days() < 3 && vrng.gen_bool(0.7) {
                "confirmed"
            } else if vrng.gen_bool(0.2) {
                "confirmed"
            } else {
                "scheduled"
            };
            let c = &vocab::COMPLAINTS[complaint];
            let p_info = p;
            let updated_at = match status {
                "cancelled" => cancelled_at.expect("set"),
                "completed" => (end + Duration::minutes(vrng.gen_range(1..30))).min(now),
                "no_show" => (end + Duration::minutes(vrng.gen_range(10..120))).min(now),
                "in_progress" | "checked_in" => checked_in_at.expect("set"),
                _ => {
                    booked_at
                        + Duration::minutes(vrng.gen_range(0..(lead.max(1)))).min(now - booked_at)
                }
            }
            .max(booked_at);
            let created_by = if !receptionists.is_empty() && vrng.gen_bool(0.85) {
                Some(user_id(
                    params,
                    clinic,
                    receptionists[vrng.gen_range(0..receptionists.len())],
                ))
            } else {
                None
            };
            out.push(Booked {
                appointment: Appointment {
                    id: entity_uuid(params.seed, clinic, Kind::Appointment, key),
                    patient_id: p_info.id,
                    doctor_id: user_id(params, clinic, doctor),
                    patient_name: p_info.name.clone(),
                    start_time: start,
                    end_time: end,
                    status,
                    appointment_type: atype,
                    reason: Some(c.reason.to_string()),
                    notes: vrng
                        .gen_bool(0.12)
                        .then(|| BOOKING_NOTES[vrng.gen_range(0..BOOKING_NOTES.len())].to_string()),
                    booked_at,
                    checked_in_at,
                    cancelled_at,
                    cancellation_reason: cancelled_at.map(|_| {
                        CANCEL_REASONS[vrng.gen_range(0..CANCEL_REASONS.len())].to_string()
                    }),
                    created_by,
                    created_at: booked_at,
                    updated_at,
                },
                patient: p.index,
                doctor,
                complaint,
                key,
            });
        }
    }
    // Walk-ins fill free slots on past working days; the occupancy map keeps them apart.
    out.sort_by_key(|b| (b.appointment.start_time, b.doctor, b.key));
    out
}

/// Walk-in visits: on each past working day a doctor sees a walk-in with probability
/// `WALK_IN_RATE`, in a free slot, for a patient registered by then.
pub const WALK_IN_RATE: f64 = 0.3;

pub fn walk_ins(
    params: &SeedParams,
    clinic: u32,
    calendars: &[Calendar],
    patients: &[PatientInfo],
    booked: &[Booked],
) -> Vec<WalkIn> {
    let (first_day, n_days) = window(params);
    let now = as_of_noon(params);
    let mut occ = Occupancy::new(calendars.len(), n_days);
    for b in booked {
        let day = (b.appointment.start_time.date() - first_day).num_days() as usize;
        let m = b.appointment.start_time.time().num_seconds_from_midnight() / 60;
        let len = (b.appointment.end_time - b.appointment.start_time).num_minutes() as u32;
        occ.take(b.doctor as usize, day, m / UNIT_MIN, len / UNIT_MIN);
    }
    let mut out = Vec::new();
    if patients.is_empty() {
        return out;
    }
    for (d, cal) in calendars.iter().enumerate() {
        for day in 0..n_days {
            let date = first_day + Duration::days(day as i64);
            if !cal.works_on(date) {
                continue;
            }
            let key = ((d as u64) << 32) | day as u64;
            let mut rng = entity_rng(params.seed, clinic, Kind::WalkIn, key);
            if !rng.gen_bool(WALK_IN_RATE) {
                continue;
            }
            let minutes = 15;
            let Some(m) = find_slot(&occ, cal, d, day, minutes, &mut rng) else {
                continue;
            };
            let start = at(date, m);
            if start + Duration::minutes(minutes as i64) > now {
                continue;
            }
            let p = &patients[rng.gen_range(0..patients.len())];
            if p.registered > date {
                continue;
            }
            occ.take(d, day, m / UNIT_MIN, minutes / UNIT_MIN);
            let complaint = (0..8)
                .map(|_| pick_complaint(&mut rng, p))
                .find(|&k| vocab::COMPLAINTS[k].tag != "preventive")
                .unwrap_or(1);
            out.push(WalkIn {
                patient: p.index,
                doctor: d as u32,
                complaint,
                start,
                minutes,
                key,
            });
        }
    }
    out
}
