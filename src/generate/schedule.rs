//! Doctors' weekly calendars and the appointments booked into them. Appointments are placed
//! only inside a doctor's working hours on working days, outside the lunch gap, and never
//! overlapping another appointment of the same doctor (a per-doctor, per-day occupancy map
//! in 5-minute units). Visit counts are skewed per patient, statuses follow time: past visits
//! completed, no-show or cancelled; future ones scheduled or confirmed; today split at noon.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use rand::Rng;
use rand_distr::{Distribution, Poisson};
use serde_json::{json, Value as Json};
use uuid::Uuid;

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
        if start.date() != end.date() && end.time().num_seconds_from_midnight() != 0 {
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
    let receptionists_from = shape.doctors + shape.nurses;
    let bk = Booking {
        params,
        clinic,
        calendars,
        doctor_specialties,
        first_day,
        n_days,
        now: as_of_noon(params),
        receptionists: (receptionists_from..receptionists_from + shape.receptionists).collect(),
    };
    let mut occ = Occupancy::new(calendars.len(), n_days);
    let mut out = Vec::new();
    if calendars.is_empty() {
        return out;
    }
    for p in patients {
        book_patient(&bk, &mut occ, p, &mut out);
    }
    // Walk-ins fill free slots on past working days; the occupancy map keeps them apart.
    out.sort_by_key(|b| (b.appointment.start_time, b.doctor, b.key));
    out
}

/// The clinic-wide facts the booking steps read.
struct Booking<'a> {
    params: &'a SeedParams,
    clinic: u32,
    calendars: &'a [Calendar],
    doctor_specialties: &'a [&'static str],
    /// First day of the window and its length in days.
    first_day: NaiveDate,
    n_days: usize,
    now: NaiveDateTime,
    /// User indexes of the receptionists, who enter most bookings.
    receptionists: Vec<u32>,
}

impl Booking<'_> {
    /// The RNG of entity `key` of `kind` in this clinic.
    fn rng(&self, kind: Kind, key: u64) -> EntityRng {
        entity_rng(self.params.seed, self.clinic, kind, key)
    }
}

/// A visit placed in a doctor's calendar, before its status is known.
struct Placed {
    start: NaiveDateTime,
    doctor: u32,
    complaint: usize,
    appointment_type: &'static str,
    /// Minutes between booking and visit, as drawn.
    lead: i64,
    key: u64,
}

/// Places one patient's visits in the calendars, then books them in time order.
fn book_patient(bk: &Booking, occ: &mut Occupancy, p: &PatientInfo, out: &mut Vec<Booked>) {
    let mut rng = bk.rng(Kind::Visits, u64::from(p.index));
    let start_day = p.registered.max(bk.first_day);
    let offset = (start_day - bk.first_day).num_days().max(0) as usize;
    if offset >= bk.n_days {
        return;
    }
    let count = appointment_count(&mut rng, p, bk.n_days - offset);
    // Patients differ in reliability: most rarely miss, a few often do.
    let reliability_bias: f64 = if rng.gen_bool(0.15) {
        rng.gen_range(0.10..0.35)
    } else {
        0.0
    };
    let mut visits: Vec<Placed> = Vec::new();
    for v in 0..count {
        if let Some(placed) = place_visit(bk, occ, p, v, offset) {
            visits.push(placed);
        }
    }
    visits.sort_by_key(|v| (v.start, v.key));
    let mut history = Attendance::default();
    for visit in &visits {
        out.push(appointment(bk, p, visit, reliability_bias, &mut history));
    }
}

/// How many appointments the patient books over `span` days (Poisson, at most 400).
fn appointment_count(rng: &mut EntityRng, p: &PatientInfo, span: usize) -> usize {
    // Appointments per year = attended visits / (1 - no-show - cancel), so that after
    // no-shows and cancellations the attended rate matches the patient's propensity.
    let per_year = p.visits_per_year / (1.0 - 0.23 - CANCEL_RATE);
    let mean = per_year * span as f64 / 365.0;
    if mean > 0.0 {
        Poisson::new(mean).map_or(0, |d| d.sample(rng) as usize)
    } else {
        0
    }
    .min(400)
}

/// Visit `v` of the patient: its complaint, type, doctor and a free slot near a drawn day.
/// `None` when no slot is free within a week, or the visit would fall before the patient
/// registered or would not be booked yet by now.
fn place_visit(
    bk: &Booking,
    occ: &mut Occupancy,
    p: &PatientInfo,
    v: usize,
    offset: usize,
) -> Option<Placed> {
    let key = (u64::from(p.index) << 16) | v as u64;
    let mut vrng = bk.rng(Kind::Appointment, key);
    // A newly registered patient registered when booking the first visit.
    let first_visit = p.registered >= bk.first_day && v == 0;
    let complaint = pick_complaint(&mut vrng, p);
    let c = &vocab::COMPLAINTS[complaint];
    let atype = appointment_type(&mut vrng, c, first_visit);
    let minutes = slot_minutes(atype);
    let doctor = choose_doctor(bk, &mut vrng, p, c);
    let lead = lead_minutes(&mut vrng, atype);
    let day0 = if first_visit {
        offset + (lead / 1440) as usize
    } else {
        offset + vrng.gen_range(0..bk.n_days - offset)
    };
    let (day, m) = first_free_slot(bk, occ, doctor, day0, minutes, &mut vrng)?;
    let start = at(bk.first_day + Duration::days(day as i64), m);
    if start < p.created_at {
        return None;
    }
    // A future visit exists only if it was booked by now.
    if start > bk.now && (start - bk.now).num_minutes() > lead {
        return None;
    }
    occ.take(doctor as usize, day, m / UNIT_MIN, minutes / UNIT_MIN);
    Some(Placed {
        start,
        doctor,
        complaint,
        appointment_type: atype,
        lead,
        key,
    })
}

/// The primary doctor mostly; a matching specialist for some visits; now and then anyone.
fn choose_doctor(bk: &Booking, rng: &mut EntityRng, p: &PatientInfo, c: &vocab::Complaint) -> u32 {
    let specialist = bk
        .doctor_specialties
        .iter()
        .position(|s| *s == c.specialty && c.specialty != "Family Medicine");
    match specialist {
        Some(d) if rng.gen_bool(0.4) => d as u32,
        _ if rng.gen_bool(0.85) => p.primary_doctor,
        _ => rng.gen_range(0..bk.calendars.len() as u32),
    }
}

/// The first working day of the doctor from `day0` on (within a week and the window) with a
/// free slot of `minutes`, and the slot's start in minutes after midnight.
fn first_free_slot(
    bk: &Booking,
    occ: &Occupancy,
    doctor: u32,
    day0: usize,
    minutes: u32,
    rng: &mut EntityRng,
) -> Option<(usize, u32)> {
    let cal = &bk.calendars[doctor as usize];
    for day in day0..(day0 + 7).min(bk.n_days) {
        let date = bk.first_day + Duration::days(day as i64);
        if !cal.works_on(date) {
            continue;
        }
        if let Some(m) = find_slot(occ, cal, doctor as usize, day, minutes, rng) {
            return Some((day, m));
        }
    }
    None
}

/// The patient's attendance so far, which raises the chance of the next no-show.
#[derive(Default)]
struct Attendance {
    /// Past appointments that were not cancelled.
    earlier: u32,
    earlier_no_shows: u32,
}

/// When an appointment is, and when it was booked.
struct Slot {
    start: NaiveDateTime,
    end: NaiveDateTime,
    booked_at: NaiveDateTime,
    /// Minutes from booking to start.
    lead: i64,
}

/// An appointment's status and the moments that go with it.
struct Outcome {
    status: &'static str,
    checked_in_at: Option<NaiveDateTime>,
    cancelled_at: Option<NaiveDateTime>,
}

/// The appointment row of a placed visit, with its status by time.
fn appointment(
    bk: &Booking,
    p: &PatientInfo,
    visit: &Placed,
    reliability_bias: f64,
    history: &mut Attendance,
) -> Booked {
    let mut vrng = bk.rng(Kind::Appointment, visit.key ^ (1 << 63));
    let start = visit.start;
    let end = start + Duration::minutes(i64::from(slot_minutes(visit.appointment_type)));
    let booked_at = (start - Duration::minutes(visit.lead)).max(p.created_at);
    let slot = Slot {
        start,
        end,
        booked_at,
        lead: (start - booked_at).num_minutes(),
    };
    let outcome = outcome(&mut vrng, bk.now, &slot, reliability_bias, history);
    let updated_at = last_update(&mut vrng, bk.now, &slot, &outcome);
    let created_by = booking_clerk(bk, &mut vrng);
    let cancelled_at = outcome.cancelled_at;
    Booked {
        appointment: Appointment {
            id: entity_uuid(bk.params.seed, bk.clinic, Kind::Appointment, visit.key),
            patient_id: p.id,
            doctor_id: user_id(bk.params, bk.clinic, visit.doctor),
            patient_name: p.name.clone(),
            start_time: start,
            end_time: end,
            status: outcome.status,
            appointment_type: visit.appointment_type,
            reason: Some(vocab::COMPLAINTS[visit.complaint].reason.to_string()),
            notes: vrng
                .gen_bool(0.12)
                .then(|| BOOKING_NOTES[vrng.gen_range(0..BOOKING_NOTES.len())].to_string()),
            booked_at,
            checked_in_at: outcome.checked_in_at,
            cancelled_at,
            cancellation_reason: cancelled_at
                .map(|_| CANCEL_REASONS[vrng.gen_range(0..CANCEL_REASONS.len())].to_string()),
            created_by,
            created_at: booked_at,
            updated_at,
        },
        patient: p.index,
        doctor: visit.doctor,
        complaint: visit.complaint,
        key: visit.key,
    }
}

/// Status by time: a few cancelled ahead; past ones completed or no-show; the one under way
/// in progress; those due within half an hour checked in; later ones confirmed or scheduled.
fn outcome(
    rng: &mut EntityRng,
    now: NaiveDateTime,
    slot: &Slot,
    reliability_bias: f64,
    history: &mut Attendance,
) -> Outcome {
    let Slot {
        start,
        end,
        booked_at,
        lead,
    } = *slot;
    let lead_days = lead as f64 / 1440.0;
    let mut cancelled_at = None;
    let mut checked_in_at = None;
    let status: &'static str = if rng.gen_bool(CANCEL_RATE) {
        // Cancelled mostly a few days ahead, never before booking nor after now.
        let back = Duration::minutes(((lead as f64) * rng.gen_range(0.05..0.9)) as i64)
            .max(Duration::minutes(1));
        let t = (start - back).max(booked_at).min(now);
        cancelled_at = Some(t);
        "cancelled"
    } else if end <= now {
        // No-shows rise with lead time and with the patient's earlier no-shows
        // (Dantas et al. 2018); calibrated to a ~23% mean.
        let past =
            (f64::from(history.earlier_no_shows) + 0.25) / (f64::from(history.earlier) + 1.0);
        let p_ns = (0.05 + 0.16 * (lead_days / 30.0).min(2.0) + 0.30 * past + reliability_bias)
            .clamp(0.02, 0.9);
        history.earlier += 1;
        if rng.gen_bool(p_ns) {
            history.earlier_no_shows += 1;
            "no_show"
        } else {
            checked_in_at = Some(start - Duration::minutes(rng.gen_range(0..20)));
            "completed"
        }
    } else if start <= now {
        checked_in_at = Some(start - Duration::minutes(rng.gen_range(0..20)));
        "in_progress"
    } else if (start - now).num_minutes() <= 30 {
        checked_in_at = Some((now - Duration::minutes(rng.gen_range(0..15))).max(booked_at));
        "checked_in"
    } else if rng.gen_bool(if (start - now).num_days() < 3 {
        0.7
    } else {
        0.2
    }) {
        "confirmed"
    } else {
        "scheduled"
    };
    Outcome {
        status,
        checked_in_at,
        cancelled_at,
    }
}

/// When the appointment row last changed: at cancellation, check-in or shortly after the
/// visit, or for an open booking some time after it was made; never before booking.
fn last_update(
    rng: &mut EntityRng,
    now: NaiveDateTime,
    slot: &Slot,
    outcome: &Outcome,
) -> NaiveDateTime {
    let (end, booked_at, lead) = (slot.end, slot.booked_at, slot.lead);
    match outcome.status {
        "cancelled" => outcome.cancelled_at.expect("set"),
        "completed" => (end + Duration::minutes(rng.gen_range(1..30))).min(now),
        "no_show" => (end + Duration::minutes(rng.gen_range(10..120))).min(now),
        "in_progress" | "checked_in" => outcome.checked_in_at.expect("set"),
        _ => booked_at + Duration::minutes(rng.gen_range(0..(lead.max(1)))).min(now - booked_at),
    }
    .max(booked_at)
}

/// The receptionist who entered the booking (most bookings), if the clinic has one.
fn booking_clerk(bk: &Booking, rng: &mut EntityRng) -> Option<Uuid> {
    if !bk.receptionists.is_empty() && rng.gen_bool(0.85) {
        Some(user_id(
            bk.params,
            bk.clinic,
            bk.receptionists[rng.gen_range(0..bk.receptionists.len())],
        ))
    } else {
        None
    }
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
            if start < p.created_at {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        Calendar {
            doctor_index: 0,
            weekdays: [true, true, false, true, true, false, false],
            start_min: 8 * 60,
            end_min: 17 * 60,
            lunch_start_min: 12 * 60,
            lunch_end_min: 13 * 60,
        }
    }

    fn t(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn calendar_contains_only_working_time() {
        let c = cal();
        // 2026-11-23 is a Monday, 25th a Wednesday (day off), 28th a Saturday.
        assert!(c.contains(t(23, 8, 0), t(23, 8, 20)));
        assert!(c.contains(t(23, 11, 40), t(23, 12, 0)));
        assert!(!c.contains(t(23, 11, 50), t(23, 12, 10)), "runs into lunch");
        assert!(!c.contains(t(23, 12, 30), t(23, 12, 45)), "in lunch");
        assert!(c.contains(t(23, 13, 0), t(23, 13, 30)));
        assert!(!c.contains(t(23, 16, 50), t(23, 17, 10)), "after hours");
        assert!(!c.contains(t(23, 7, 45), t(23, 8, 0)), "before hours");
        assert!(!c.contains(t(25, 9, 0), t(25, 9, 15)), "day off");
        assert!(!c.contains(t(28, 9, 0), t(28, 9, 15)), "weekend");
    }

    #[test]
    fn slots_fill_a_day_without_overlap() {
        let c = cal();
        let mut occ = Occupancy::new(1, 1);
        let mut rng = entity_rng(1, 0, Kind::Calendar, 0);
        let mut taken = Vec::new();
        while let Some(m) = find_slot(&occ, &c, 0, 0, 20, &mut rng) {
            occ.take(0, 0, m / UNIT_MIN, 20 / UNIT_MIN);
            taken.push(m);
        }
        taken.sort_unstable();
        for w in taken.windows(2) {
            assert!(w[0] + 20 <= w[1]);
        }
        // 8 working hours, 20-minute slots: at most 24, and random starts waste some gaps.
        assert!(taken.len() >= 16 && taken.len() <= 24, "{}", taken.len());
        for m in taken {
            assert!(c.contains(t(23, m / 60, m % 60), t(23, (m + 20) / 60, (m + 20) % 60)));
        }
    }
}
