//! What a visit produces in PostgreSQL: an encounter for every attended appointment (and for
//! walk-ins), prescriptions with real drug lines on ~70% of encounters (~2.1 items), lab and
//! imaging orders on a minority with a Zipf-skewed catalogue and results for completed ones,
//! and the staff's tasks and alerts (some raised by abnormal results). The clinical note and
//! voice recording of each encounter are produced alongside, from the same facts, so the
//! MongoDB documents agree with the rows.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal, Poisson};
use serde_json::json;
use uuid::Uuid;

use super::people::staff_count;
use super::people::{user_id, PatientInfo};
use super::rng::{entity_rng, entity_uuid, EntityRng, Kind, Zipf};
use super::schedule::{window, Booked, Calendar, WalkIn};
use super::{as_of_noon, audio, notes, vocab, SeedParams};
use crate::model::{
    Alert, ClinicData, Encounter, Order, OrderItem, Prescription, PrescriptionItem, Task,
};

/// Share of encounters with a prescription (NAMCS 2005: 70.5% of visits include a medication).
pub const PRESCRIPTION_SHARE: f64 = 0.705;
/// Extra drugs beyond the first: Poisson mean, giving ~2.1 items per prescription (NAMCS 2005).
pub const EXTRA_DRUGS_MEAN: f64 = 1.1;
/// Chance of a lab order when the complaint calls for labs, and otherwise; with the
/// complaints' panels this gives about 0.28 lab tests per visit (NAMCS 2001).
pub const LAB_SHARE_INDICATED: f64 = 0.155;
pub const LAB_SHARE_OTHER: f64 = 0.03;
/// Chance of an imaging order when the complaint calls for imaging.
pub const IMAGING_SHARE_INDICATED: f64 = 0.25;
/// Share of resulted lab values outside the reference range.
pub const ABNORMAL_SHARE: f64 = 0.14;

/// Everything a note needs about its encounter, gathered while the rows are generated.
pub struct VisitFacts<'a> {
    pub encounter: &'a Encounter,
    pub patient: &'a PatientInfo,
    pub complaint: &'static vocab::Complaint,
    pub specialty: &'static str,
    pub minutes: u32,
    pub drugs: Vec<&'static vocab::Drug>,
    pub orders: Vec<String>,
}

/// Marks walk-in visit keys. Appointment keys are (patient << 16 | visit) < 2^48 and walk-in
/// keys (doctor << 32 | day) < 2^48, so bit 48 keeps them apart, and derived keys (items
/// `<< 3`, orders `<< 2`, order items `<< 4` more) still fit in 64 bits without losing it.
const WALK_IN_KEY: u64 = 1 << 48;

struct Visit {
    key: u64,
    patient: u32,
    doctor: u32,
    complaint: usize,
    appointment: Option<(Uuid, NaiveDateTime, &'static str, &'static str)>,
    start: NaiveDateTime,
    minutes: u32,
}

fn encounter_type(rng: &mut EntityRng, appointment_type: &str) -> &'static str {
    match appointment_type {
        "telehealth" => "telehealth",
        "procedure" => "procedure",
        "follow_up" => "follow_up",
        "urgent" if rng.gen_bool(0.05) => "emergency",
        _ => "office_visit",
    }
}

fn vitals(rng: &mut EntityRng, p: &PatientInfo) -> serde_json::Value {
    let age = p.age as f64;
    let n = |rng: &mut EntityRng, mean: f64, sd: f64| {
        Normal::new(mean, sd).map_or(mean, |d| d.sample(rng))
    };
    let (height, weight) = if p.age < 18 {
        let h = 75.0 + age * 6.0;
        (h, (h / 100.0).powi(2) * n(rng, 17.0, 2.0))
    } else if p.sex == "female" {
        let h = n(rng, 163.0, 7.0);
        (h, (h / 100.0).powi(2) * n(rng, 27.0, 5.0))
    } else {
        let h = n(rng, 176.0, 7.0);
        (h, (h / 100.0).powi(2) * n(rng, 28.0, 4.5))
    };
    let systolic = n(rng, 105.0 + age * 0.45, 12.0).round();
    json!({
        "systolic": systolic as i64,
        "diastolic": (systolic * 0.62 + n(rng, 0.0, 6.0)).round() as i64,
        "heartRate": n(rng, if p.age < 12 { 95.0 } else { 74.0 }, 10.0).round() as i64,
        "temperatureC": (n(rng, 36.8, 0.35) * 10.0).round() / 10.0,
        "respiratoryRate": n(rng, if p.age < 12 { 22.0 } else { 15.0 }, 2.0).round() as i64,
        "spo2": n(rng, 97.5, 1.2).round().min(100.0) as i64,
        "weightKg": (weight.max(3.0) * 10.0).round() / 10.0,
        "heightCm": height.round() as i64,
    })
}

/// Swaps drugs the patient is allergic to for a usual alternative.
fn allergy_safe(name: &'static str, p: &PatientInfo) -> &'static str {
    let allergic = |substance: &str| {
        p.allergies
            .iter()
            .any(|&k| vocab::ALLERGIES[k].0 == substance)
    };
    match name {
        "Amoxicillin" | "Amoxicillin-clavulanate" if allergic("Penicillin") => "Azithromycin",
        "Cephalexin" if allergic("Cephalexin") || allergic("Penicillin") => "Doxycycline",
        "Ibuprofen" | "Naproxen" if allergic("Ibuprofen") || allergic("Aspirin") => "Acetaminophen",
        _ => name,
    }
}

/// Drug pairs that raise a drug-interaction alert when prescribed together.
const INTERACTIONS: &[(&str, &str, &str)] = &[
    (
        "Apixaban",
        "Naproxen",
        "Increased bleeding risk with anticoagulant plus NSAID",
    ),
    (
        "Apixaban",
        "Ibuprofen",
        "Increased bleeding risk with anticoagulant plus NSAID",
    ),
    ("Sertraline", "Sumatriptan", "Risk of serotonin syndrome"),
    ("Escitalopram", "Sumatriptan", "Risk of serotonin syndrome"),
    (
        "Lisinopril",
        "Losartan",
        "Dual RAAS blockade: hyperkalemia and renal risk",
    ),
    (
        "Lisinopril",
        "Naproxen",
        "NSAID may reduce antihypertensive effect and renal function",
    ),
];

fn fmt_value(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// One lab result: value, flag. Abnormal values fall outside the range; a few are critical.
fn lab_result(
    rng: &mut EntityRng,
    t: &vocab::LabTest,
    abnormal_bias: f64,
) -> (String, &'static str) {
    let abnormal = rng.gen_bool((ABNORMAL_SHARE + abnormal_bias).min(0.9));
    if t.qualitative {
        return if abnormal {
            ("Positive".to_string(), "high")
        } else {
            ("Negative".to_string(), "normal")
        };
    }
    let span = (t.high - t.low).max(f64::EPSILON);
    if !abnormal {
        let v = t.low + span * rng.gen_range(0.05..0.95);
        return (fmt_value(v, t.decimals), "normal");
    }
    let critical = rng.gen_bool(0.06);
    let high = t.low <= 0.0 || rng.gen_bool(0.75);
    let factor = if critical {
        rng.gen_range(0.8..1.5)
    } else {
        rng.gen_range(0.05..0.5)
    };
    let v = if high {
        t.high + span * factor
    } else {
        (t.low - span * factor * 0.5).max(t.low * 0.3)
    };
    let flag = match (critical, high) {
        (true, _) => "critical",
        (false, true) => "high",
        (false, false) => "low",
    };
    (fmt_value(v, t.decimals), flag)
}

fn reference_range(t: &vocab::LabTest) -> String {
    if t.qualitative {
        "Negative".to_string()
    } else {
        format!(
            "{}-{}",
            fmt_value(t.low, t.decimals),
            fmt_value(t.high, t.decimals)
        )
    }
}

/// Status of a work item by its age: old ones done, recent ones open.
fn task_status(
    rng: &mut EntityRng,
    created: NaiveDateTime,
    now: NaiveDateTime,
) -> (&'static str, Option<NaiveDateTime>) {
    let age_h = (now - created).num_hours();
    let done_p = if age_h > 24 * 14 {
        0.95
    } else if age_h > 24 * 3 {
        0.6
    } else {
        0.15
    };
    let available = (now - created).num_minutes();
    if available >= 2 && rng.gen_bool(done_p) {
        if rng.gen_bool(0.04) {
            return ("cancelled", None);
        }
        let done = created + Duration::minutes(rng.gen_range(1..available.min(5 * 24 * 60)));
        ("completed", Some(done))
    } else if rng.gen_bool(0.2) {
        ("in_progress", None)
    } else {
        ("pending", None)
    }
}

/// Read state of an alert by its age: older ones mostly read, the last couple of days unread.
fn alert_read(
    rng: &mut EntityRng,
    created: NaiveDateTime,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let age_h = (now - created).num_hours();
    let read_p = if age_h > 72 {
        0.95
    } else if age_h > 24 {
        0.5
    } else {
        0.15
    };
    if rng.gen_bool(read_p) {
        let max = (now - created).num_minutes().clamp(1, 3 * 24 * 60);
        Some(created + Duration::minutes(rng.gen_range(0..=max)))
    } else {
        None
    }
}

fn date_at(d: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    d.and_hms_opt(h, m, 0).expect("valid time")
}

/// Generates encounters and everything hanging off them, plus notes and recordings, into `out`.
#[allow(clippy::too_many_arguments)]
pub fn generate(
    params: &SeedParams,
    clinic: u32,
    calendars: &[Calendar],
    patients: &[PatientInfo],
    specialties: &[&'static str],
    booked: &[Booked],
    walk_ins: &[WalkIn],
    with_documents: bool,
    out: &mut ClinicData,
) {
    let cx = ClinicFacts::new(params, clinic, specialties, with_documents);
    let mut rows = Rows {
        out,
        task_seq: 0,
        alert_seq: 0,
    };
    for v in &visits_in_order(booked, walk_ins) {
        visit_rows(&cx, &mut rows, v, &patients[v.patient as usize]);
    }
    staff_background(&cx, &mut rows, calendars, booked);
    overdue_reminders(&cx, &mut rows);
}

/// The clinic-wide facts every step of [`generate`] reads.
struct ClinicFacts<'a> {
    params: &'a SeedParams,
    clinic: u32,
    now: NaiveDateTime,
    specialties: &'a [&'static str],
    /// User indexes of the nurses, who get the follow-up calls.
    nurses: Vec<u32>,
    /// User indexes of the receptionists and admins, who get referrals and file requests.
    front_desk: Vec<u32>,
    lab_zipf: Zipf,
    with_documents: bool,
}

impl<'a> ClinicFacts<'a> {
    /// Gathers the facts of clinic `clinic` once, before its visits are generated.
    fn new(
        params: &'a SeedParams,
        clinic: u32,
        specialties: &'a [&'static str],
        with_documents: bool,
    ) -> ClinicFacts<'a> {
        let shape = &params.shape;
        let nurses_end = shape.doctors + shape.nurses;
        ClinicFacts {
            params,
            clinic,
            now: as_of_noon(params),
            specialties,
            nurses: (shape.doctors..nurses_end).collect(),
            front_desk: (nurses_end..nurses_end + shape.receptionists + shape.admins).collect(),
            lab_zipf: Zipf::new(vocab::LABS.len(), 0.9),
            with_documents,
        }
    }

    /// The RNG of entity `key` of `kind` in this clinic.
    fn rng(&self, kind: Kind, key: u64) -> EntityRng {
        entity_rng(self.params.seed, self.clinic, kind, key)
    }

    /// The id of entity `key` of `kind` in this clinic.
    fn uuid(&self, kind: Kind, key: u64) -> Uuid {
        entity_uuid(self.params.seed, self.clinic, kind, key)
    }

    /// The id of the clinic's user number `index`.
    fn user(&self, index: u32) -> Uuid {
        user_id(self.params, self.clinic, index)
    }
}

/// The clinic's rows as they are generated, with the counters that number tasks and alerts.
struct Rows<'a> {
    out: &'a mut ClinicData,
    task_seq: u64,
    alert_seq: u64,
}

impl Rows<'_> {
    /// Adds a task under the next task id.
    fn push_task(&mut self, cx: &ClinicFacts, mut task: Task) {
        task.id = cx.uuid(Kind::Task, self.task_seq);
        self.task_seq += 1;
        self.out.tasks.push(task);
    }

    /// Adds an alert under the next alert id, read (and, if critical, acknowledged) by its age.
    fn push_alert(&mut self, cx: &ClinicFacts, rng: &mut EntityRng, mut a: Alert) {
        let now = cx.now;
        a.id = cx.uuid(Kind::Alert, self.alert_seq);
        self.alert_seq += 1;
        let read_at = alert_read(rng, a.created_at, now);
        a.is_read = read_at.is_some();
        a.read_at = read_at;
        if a.severity == "critical" {
            if let Some(r) = read_at {
                if rng.gen_bool(0.8) {
                    a.acknowledged_at =
                        Some(r + Duration::minutes(rng.gen_range(0..60)).min(now - r));
                    a.acknowledged_by = Some(a.recipient_id);
                }
            }
        }
        a.updated_at = a.acknowledged_at.or(a.read_at).unwrap_or(a.created_at);
        self.out.alerts.push(a);
    }
}

/// An unread alert about no patient and no order item; [`Rows::push_alert`] gives it its id
/// and read state.
fn new_alert(
    recipient_id: Uuid,
    alert_type: &'static str,
    severity: &'static str,
    title: String,
    message: String,
    created_at: NaiveDateTime,
) -> Alert {
    Alert {
        id: Uuid::nil(),
        recipient_id,
        patient_id: None,
        order_item_id: None,
        alert_type,
        severity,
        title,
        message,
        is_read: false,
        read_at: None,
        acknowledged_at: None,
        acknowledged_by: None,
        created_at,
        updated_at: created_at,
    }
}

/// The attended appointments and the walk-ins as visits, in the order they happened.
fn visits_in_order(booked: &[Booked], walk_ins: &[WalkIn]) -> Vec<Visit> {
    let mut visits: Vec<Visit> = booked
        .iter()
        .filter(|b| matches!(b.appointment.status, "completed" | "in_progress"))
        .map(|b| Visit {
            key: b.key,
            patient: b.patient,
            doctor: b.doctor,
            complaint: b.complaint,
            appointment: Some((
                b.appointment.id,
                b.appointment.start_time,
                b.appointment.appointment_type,
                b.appointment.status,
            )),
            start: b.appointment.start_time,
            minutes: (b.appointment.end_time - b.appointment.start_time).num_minutes() as u32,
        })
        .chain(walk_ins.iter().map(|w| Visit {
            key: WALK_IN_KEY | w.key,
            patient: w.patient,
            doctor: w.doctor,
            complaint: w.complaint,
            appointment: None,
            start: w.start,
            minutes: w.minutes,
        }))
        .collect();
    visits.sort_by_key(|v| (v.start, v.doctor, v.key));
    visits
}

/// One visit as the steps after its encounter row see it.
struct Seen<'a> {
    visit: &'a Visit,
    doctor_id: Uuid,
    patient: &'a PatientInfo,
    complaint: &'static vocab::Complaint,
    encounter_id: Uuid,
    /// When the encounter ended; `None` while it is still in progress.
    end: Option<NaiveDateTime>,
    /// When the encounter ended, or now if it has not.
    finished: NaiveDateTime,
    /// When prescriptions and orders are written: four fifths into the encounter.
    action_time: NaiveDateTime,
}

/// Everything one visit leaves: encounter, prescription, orders, tasks, note and recording.
fn visit_rows(cx: &ClinicFacts, rows: &mut Rows, v: &Visit, p: &PatientInfo) {
    let mut rng = cx.rng(Kind::Encounter, v.key);
    let c = &vocab::COMPLAINTS[v.complaint];
    let doctor_id = cx.user(v.doctor);
    let enc = encounter(cx, &mut rng, v, p, c, doctor_id);
    let finished = enc.end_time.unwrap_or(cx.now);
    let start = enc.start_time;
    let seen = Seen {
        visit: v,
        doctor_id,
        patient: p,
        complaint: c,
        encounter_id: enc.id,
        end: enc.end_time,
        finished,
        action_time: start + Duration::seconds((finished - start).num_seconds() * 4 / 5),
    };
    let drugs = choose_drugs(&mut rng, c, p, seen.end.is_some());
    if !drugs.is_empty() {
        prescribe(cx, rows, &mut rng, &seen, &drugs);
    }
    let orders = order_tests(cx, rows, &mut rng, &seen);
    follow_up_tasks(cx, rows, &mut rng, &seen, &drugs);
    documents(cx, rows, &seen, &enc, drugs, orders);
    rows.out.encounters.push(enc);
}

/// The encounter row: the doctor starts at or a little after the booked time and may overrun
/// the slot; in-progress visits have no end yet.
fn encounter(
    cx: &ClinicFacts,
    rng: &mut EntityRng,
    v: &Visit,
    p: &PatientInfo,
    c: &'static vocab::Complaint,
    doctor_id: Uuid,
) -> Encounter {
    let now = cx.now;
    let (etype, in_progress) = match v.appointment {
        Some((_, _, atype, status)) => (encounter_type(rng, atype), status == "in_progress"),
        None => ("walk_in", false),
    };
    let delay = Duration::minutes(rng.gen_range(0..12));
    let start = (v.start + delay).min(now.max(v.start));
    let length = Duration::seconds((f64::from(v.minutes) * 60.0 * rng.gen_range(0.7..1.45)) as i64);
    let end = (!in_progress).then(|| (start + length).min(now.max(start)));
    let diagnosis_codes = diagnosis_codes(rng, c, p);
    Encounter {
        id: cx.uuid(Kind::Encounter, v.key),
        patient_id: p.id,
        doctor_id,
        appointment_id: v.appointment.map(|a| a.0),
        encounter_type: etype,
        status: if in_progress {
            "in_progress"
        } else {
            "completed"
        },
        start_time: start,
        end_time: end,
        chief_complaint: Some(c.chief.to_string()),
        diagnosis_codes,
        vitals: (etype != "telehealth").then(|| vitals(rng, p)),
        created_at: start,
        updated_at: end.unwrap_or(start),
    }
}

/// The complaint's code, plus at a chronic-care visit about half of the patient's first three
/// chronic conditions.
fn diagnosis_codes(rng: &mut EntityRng, c: &vocab::Complaint, p: &PatientInfo) -> Vec<String> {
    let mut codes = vec![c.icd10.to_string()];
    if c.tag == "chronic_care" {
        for &k in p.chronic.iter().take(3) {
            let code = vocab::CHRONIC[k].code;
            if code != c.icd10 && rng.gen_bool(0.5) {
                codes.push(code.to_string());
            }
        }
    }
    codes
}

/// The drugs prescribed at an ended visit, if any: the complaint's drugs first, then the
/// patient's long-term medicines, then common ones, allergy-safe and without repeats.
fn choose_drugs(
    rng: &mut EntityRng,
    c: &vocab::Complaint,
    p: &PatientInfo,
    ended: bool,
) -> Vec<&'static vocab::Drug> {
    let mut drugs: Vec<&'static vocab::Drug> = Vec::new();
    if !ended || !rng.gen_bool(PRESCRIPTION_SHARE) {
        return drugs;
    }
    let want = 1 + Poisson::new(EXTRA_DRUGS_MEAN).map_or(1, |d| d.sample(rng) as usize);
    let want = want.min(5);
    let mut candidates: Vec<&'static str> = c.drugs.to_vec();
    candidates.shuffle(rng);
    let mut chronic: Vec<&'static str> =
        p.chronic.iter().map(|&k| vocab::CHRONIC[k].drug).collect();
    chronic.shuffle(rng);
    candidates.extend(chronic);
    candidates.extend(["Acetaminophen", "Cholecalciferol", "Cetirizine"]);
    for name in candidates {
        if drugs.len() >= want {
            break;
        }
        let name = allergy_safe(name, p);
        if let Some(d) = vocab::drug(name) {
            if !drugs.iter().any(|x| x.name == d.name) {
                drugs.push(d);
            }
        }
    }
    drugs
}

/// The prescription of `drugs`, its items, and an alert for each interacting pair among them.
fn prescribe(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    seen: &Seen,
    drugs: &[&'static vocab::Drug],
) {
    let rx_id = cx.uuid(Kind::Prescription, seen.visit.key);
    let at = seen.action_time;
    let status = prescription_status(rng, drugs, at, cx.now);
    rows.out.prescriptions.push(Prescription {
        id: rx_id,
        encounter_id: seen.encounter_id,
        patient_id: seen.patient.id,
        doctor_id: seen.doctor_id,
        status,
        prescribed_at: at,
        notes: rng
            .gen_bool(0.1)
            .then(|| "Generic substitution permitted".to_string()),
        created_at: at,
        updated_at: at,
    });
    for (k, d) in drugs.iter().enumerate() {
        let id = cx.uuid(Kind::PrescriptionItem, (seen.visit.key << 3) | k as u64);
        let item = prescription_item(rng, id, rx_id, d, at);
        rows.out.prescription_items.push(item);
    }
    interaction_alerts(cx, rows, rng, seen, drugs);
}

/// A few cancelled; otherwise active while the longest course runs, then expired (long-term
/// medicines) or completed.
fn prescription_status(
    rng: &mut EntityRng,
    drugs: &[&'static vocab::Drug],
    prescribed_at: NaiveDateTime,
    now: NaiveDateTime,
) -> &'static str {
    let course_end = drugs
        .iter()
        .map(|d| d.days.unwrap_or(90))
        .max()
        .unwrap_or(30);
    if rng.gen_bool(0.02) {
        "cancelled"
    } else if prescribed_at + Duration::days(i64::from(course_end)) > now {
        "active"
    } else if drugs.iter().any(|d| d.days.is_none()) {
        "expired"
    } else {
        "completed"
    }
}

/// One drug line: the course's quantity, or a month's with refills for a long-term medicine.
fn prescription_item(
    rng: &mut EntityRng,
    id: Uuid,
    prescription_id: Uuid,
    d: &vocab::Drug,
    at: NaiveDateTime,
) -> PrescriptionItem {
    let (quantity, refills) = match d.days {
        Some(days) => ((d.per_day as i32 * days).max(1), 0),
        None => ((d.per_day as i32 * 30).max(1), rng.gen_range(2..=5)),
    };
    PrescriptionItem {
        id,
        prescription_id,
        drug_name: d.name.to_string(),
        dose: d.dose.to_string(),
        route: d.route,
        frequency: d.frequency.to_string(),
        duration_days: d.days,
        quantity,
        refills,
        instructions: Some(d.instructions.to_string()),
        created_at: at,
        updated_at: at,
    }
}

/// A drug-interaction alert to the doctor for each pair of [`INTERACTIONS`] prescribed together.
fn interaction_alerts(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    seen: &Seen,
    drugs: &[&'static vocab::Drug],
) {
    let p = seen.patient;
    for (a, b, why) in INTERACTIONS {
        if drugs.iter().any(|d| d.name == *a) && drugs.iter().any(|d| d.name == *b) {
            let alert = Alert {
                patient_id: Some(p.id),
                ..new_alert(
                    seen.doctor_id,
                    "drug_interaction",
                    "warning",
                    format!("Interaction: {a} + {b}"),
                    format!("{why}. Review the prescription for {}.", p.name),
                    seen.action_time,
                )
            };
            rows.push_alert(cx, rng, alert);
        }
    }
}

/// The visit's lab and imaging orders with their items and results; returns the ordered tests
/// as the note lists them.
fn order_tests(cx: &ClinicFacts, rows: &mut Rows, rng: &mut EntityRng, seen: &Seen) -> Vec<String> {
    let mut names = Vec::new();
    let planned = choose_orders(rng, seen.complaint, &cx.lab_zipf);
    for (o, (order_type, items)) in planned.into_iter().enumerate() {
        let key = (seen.visit.key << 2) | o as u64;
        place_order(cx, rows, seen, key, order_type, &items, &mut names);
    }
    names
}

/// Which orders the visit gets: the complaint's lab panel (sometimes cut to 2-3 tests) or,
/// rarely, a test or two from the Zipf-skewed catalogue; and one of the complaint's imaging
/// studies.
fn choose_orders(
    rng: &mut EntityRng,
    c: &vocab::Complaint,
    lab_zipf: &Zipf,
) -> Vec<(&'static str, Vec<usize>)> {
    let mut orders: Vec<(&'static str, Vec<usize>)> = Vec::new();
    if !c.labs.is_empty() && rng.gen_bool(LAB_SHARE_INDICATED) {
        let mut items: Vec<usize> = c.labs.iter().filter_map(|l| vocab::lab(l)).collect();
        if items.len() > 3 && rng.gen_bool(0.5) {
            items.shuffle(rng);
            items.truncate(rng.gen_range(2..=3));
        }
        orders.push(("lab", items));
    } else if rng.gen_bool(LAB_SHARE_OTHER) {
        let mut items = vec![lab_zipf.sample(rng)];
        if rng.gen_bool(0.4) {
            let extra = lab_zipf.sample(rng);
            if extra != items[0] {
                items.push(extra);
            }
        }
        orders.push(("lab", items));
    }
    if !c.imaging.is_empty() && rng.gen_bool(IMAGING_SHARE_INDICATED) {
        let cpt = c.imaging[rng.gen_range(0..c.imaging.len())];
        if let Some(k) = vocab::imaging(cpt) {
            orders.push(("imaging", vec![k]));
        }
    }
    orders
}

/// One test of an order, as [`order_item`] needs it.
struct OrderedTest {
    order_id: Uuid,
    order_type: &'static str,
    /// Index into `vocab::LABS` or `vocab::IMAGING`, by `order_type`.
    item: usize,
    key: u64,
    cancelled: bool,
    abnormal_bias: f64,
}

/// One order and its items, the order's status following its items' results.
fn place_order(
    cx: &ClinicFacts,
    rows: &mut Rows,
    seen: &Seen,
    key: u64,
    order_type: &'static str,
    items: &[usize],
    names: &mut Vec<String>,
) {
    let order_id = cx.uuid(Kind::Order, key);
    let ordered_at = seen.action_time;
    let mut orng = cx.rng(Kind::Order, key);
    let priority = match orng.gen_range(0..100) {
        0..=84 => "routine",
        85..=96 => "urgent",
        _ => "stat",
    };
    let cancelled = orng.gen_bool(0.02);
    let abnormal_bias = if seen.complaint.tag == "chronic_care" {
        0.12
    } else {
        0.0
    };
    let mut resulted_times = Vec::new();
    let mut pending = 0;
    for (k, &item) in items.iter().enumerate() {
        let test = OrderedTest {
            order_id,
            order_type,
            item,
            key: (key << 4) | k as u64,
            cancelled,
            abnormal_bias,
        };
        match order_item(cx, rows, seen, &test, names) {
            ("resulted", at) => resulted_times.push(at),
            ("pending", _) => pending += 1,
            _ => {}
        }
    }
    let (status, completed_at) = if cancelled {
        ("cancelled", None)
    } else if pending == 0 {
        ("completed", resulted_times.iter().max().copied())
    } else if resulted_times.is_empty() {
        ("ordered", None)
    } else {
        ("in_progress", None)
    };
    rows.out.orders.push(Order {
        id: order_id,
        encounter_id: seen.encounter_id,
        patient_id: seen.patient.id,
        doctor_id: seen.doctor_id,
        order_type,
        status,
        priority,
        ordered_at,
        completed_at,
        notes: orng
            .gen_bool(0.2)
            .then(|| format!("Clinical indication: {}", seen.complaint.diagnosis)),
        created_at: ordered_at,
        updated_at: completed_at.unwrap_or(ordered_at),
    });
}

/// A test's code, description and result as its order item and alert show them.
struct TestResult {
    code: &'static str,
    code_system: &'static str,
    description: &'static str,
    value: String,
    unit: Option<String>,
    range: Option<String>,
    flag: &'static str,
}

/// The result a test would have: a lab value with its flag, or an imaging finding.
fn test_result(rng: &mut EntityRng, test: &OrderedTest) -> TestResult {
    if test.order_type == "lab" {
        let t = &vocab::LABS[test.item];
        let (value, flag) = lab_result(rng, t, test.abnormal_bias);
        return TestResult {
            code: t.loinc,
            code_system: "LOINC",
            description: t.name,
            value,
            unit: (!t.unit.is_empty()).then(|| t.unit.to_string()),
            range: Some(reference_range(t)),
            flag,
        };
    }
    let s = &vocab::IMAGING[test.item];
    let (text, flag) = match rng.gen_range(0..100) {
        0..=81 => (s.normal, "normal"),
        82..=97 => (s.abnormal, "high"),
        _ => (s.abnormal, "critical"),
    };
    TestResult {
        code: s.cpt,
        code_system: "CPT",
        description: s.description,
        value: text.to_string(),
        unit: None,
        range: None,
        flag,
    }
}

/// One order item, resulted once its turnaround has passed; an abnormal result raises an
/// alert and a review task. Returns the item's status and when it is (or will be) resulted.
fn order_item(
    cx: &ClinicFacts,
    rows: &mut Rows,
    seen: &Seen,
    test: &OrderedTest,
    names: &mut Vec<String>,
) -> (&'static str, NaiveDateTime) {
    let mut irng = cx.rng(Kind::OrderItem, test.key);
    let ordered_at = seen.action_time;
    let turnaround = if test.order_type == "lab" {
        Duration::minutes(irng.gen_range(4 * 60..3 * 24 * 60))
    } else {
        Duration::minutes(irng.gen_range(24 * 60..10 * 24 * 60))
    };
    let resulted_at = ordered_at + turnaround;
    let status = if test.cancelled {
        "cancelled"
    } else if resulted_at <= cx.now && seen.end.is_some() {
        "resulted"
    } else {
        "pending"
    };
    let result = test_result(&mut irng, test);
    names.push(format!(
        "{} ({} {})",
        result.description, result.code_system, result.code
    ));
    let item_id = cx.uuid(Kind::OrderItem, test.key);
    let resulted = status == "resulted";
    rows.out.order_items.push(OrderItem {
        id: item_id,
        order_id: test.order_id,
        code: result.code.to_string(),
        code_system: result.code_system,
        description: result.description.to_string(),
        status,
        result_value: resulted.then(|| result.value.clone()),
        result_unit: if resulted { result.unit.clone() } else { None },
        reference_range: if resulted { result.range.clone() } else { None },
        abnormal_flag: resulted.then_some(result.flag),
        resulted_at: resulted.then_some(resulted_at),
        created_at: ordered_at,
        updated_at: if resulted { resulted_at } else { ordered_at },
    });
    if resulted && result.flag != "normal" {
        abnormal_result(cx, rows, &mut irng, seen, item_id, &result, resulted_at);
    }
    (status, resulted_at)
}

/// An abnormal or critical result: an alert to the ordering doctor and a task to review it.
fn abnormal_result(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    seen: &Seen,
    item_id: Uuid,
    result: &TestResult,
    resulted_at: NaiveDateTime,
) {
    let p = seen.patient;
    let critical = result.flag == "critical";
    let (description, flag, value) = (result.description, result.flag, &result.value);
    let unit = result
        .unit
        .as_deref()
        .map_or(String::new(), |u| format!(" {u}"));
    let alert = Alert {
        patient_id: Some(p.id),
        order_item_id: Some(item_id),
        ..new_alert(
            seen.doctor_id,
            if critical {
                "critical_result"
            } else {
                "abnormal_result"
            },
            if critical { "critical" } else { "warning" },
            format!(
                "{} result: {}",
                if critical { "Critical" } else { "Abnormal" },
                short(description)
            ),
            format!("{description} for {} ({flag}): {value}{unit}", p.name),
            resulted_at,
        )
    };
    rows.push_alert(cx, rng, alert);
    let (status, completed_at) = task_status(rng, resulted_at, cx.now);
    let task = Task {
        id: Uuid::nil(),
        assigned_to: seen.doctor_id,
        created_by: None,
        patient_id: Some(p.id),
        encounter_id: Some(seen.encounter_id),
        task_type: "review_result",
        title: format!("Review {} result for {}", short(description), p.name),
        description: Some(format!("{description}: {value} ({flag}).")),
        priority: if critical { 4 } else { 3 },
        status,
        due_date: Some(resulted_at.date() + Duration::days(if critical { 0 } else { 2 })),
        completed_at,
        created_at: resulted_at,
        updated_at: completed_at.unwrap_or(resulted_at),
    };
    rows.push_task(cx, task);
}

/// The tasks an ended visit leaves for others: a nurse's follow-up call, a referral for the
/// front desk, and a refill request for a long-term medicine some weeks later.
fn follow_up_tasks(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    seen: &Seen,
    drugs: &[&'static vocab::Drug],
) {
    if seen.end.is_some() && rng.gen_bool(0.10) {
        follow_up_call(cx, rows, rng, seen);
    }
    if seen.end.is_some() && !cx.front_desk.is_empty() && rng.gen_bool(0.03) {
        referral(cx, rows, rng, seen);
    }
    if let Some(d) = drugs.iter().find(|d| d.days.is_none()) {
        if rng.gen_bool(0.15) {
            refill_request(cx, rows, rng, seen, d);
        }
    }
}

/// A call to the patient about the visit, for a nurse (the doctor if the clinic has none).
fn follow_up_call(cx: &ClinicFacts, rows: &mut Rows, rng: &mut EntityRng, seen: &Seen) {
    let (p, c) = (seen.patient, seen.complaint);
    let assignee = if cx.nurses.is_empty() {
        seen.visit.doctor
    } else {
        cx.nurses[rng.gen_range(0..cx.nurses.len())]
    };
    let created = seen.finished;
    let (status, completed_at) = task_status(rng, created, cx.now);
    let task = Task {
        id: Uuid::nil(),
        assigned_to: cx.user(assignee),
        created_by: Some(seen.doctor_id),
        patient_id: Some(p.id),
        encounter_id: Some(seen.encounter_id),
        task_type: "follow_up_call",
        title: format!("Call {} about {}", p.name, c.reason.to_lowercase()),
        description: Some(format!(
            "Check symptoms and response to treatment. {}",
            c.follow_up
        )),
        priority: 2,
        status,
        due_date: Some(created.date() + Duration::days(rng.gen_range(2..8))),
        completed_at,
        created_at: created,
        updated_at: completed_at.unwrap_or(created),
    };
    rows.push_task(cx, task);
}

/// A referral to the complaint's specialty, for someone at the front desk.
fn referral(cx: &ClinicFacts, rows: &mut Rows, rng: &mut EntityRng, seen: &Seen) {
    let (p, c) = (seen.patient, seen.complaint);
    let created = seen.finished;
    let (status, completed_at) = task_status(rng, created, cx.now);
    let task = Task {
        id: Uuid::nil(),
        assigned_to: cx.user(cx.front_desk[rng.gen_range(0..cx.front_desk.len())]),
        created_by: Some(seen.doctor_id),
        patient_id: Some(p.id),
        encounter_id: Some(seen.encounter_id),
        task_type: "referral",
        title: format!("Referral to {} for {}", c.specialty, p.name),
        description: Some(format!("Reason: {}.", c.diagnosis)),
        priority: rng.gen_range(1..=3),
        status,
        due_date: Some(created.date() + Duration::days(rng.gen_range(3..15))),
        completed_at,
        created_at: created,
        updated_at: completed_at.unwrap_or(created),
    };
    rows.push_task(cx, task);
}

/// A refill request for long-term medicine `d`, 20-60 days after the visit if that is past.
fn refill_request(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    seen: &Seen,
    d: &vocab::Drug,
) {
    let p = seen.patient;
    let created = seen.finished + Duration::days(rng.gen_range(20..60));
    if created > cx.now {
        return;
    }
    let (status, completed_at) = task_status(rng, created, cx.now);
    let task = Task {
        id: Uuid::nil(),
        assigned_to: seen.doctor_id,
        created_by: cx.front_desk.first().map(|&u| cx.user(u)),
        patient_id: Some(p.id),
        encounter_id: Some(seen.encounter_id),
        task_type: "refill_request",
        title: format!("Refill request: {} {}", d.name, d.dose),
        description: Some(format!("{} requests a refill of {}.", p.name, d.name)),
        priority: 2,
        status,
        due_date: Some(created.date() + Duration::days(2)),
        completed_at,
        created_at: created,
        updated_at: completed_at.unwrap_or(created),
    };
    rows.push_task(cx, task);
}

/// The visit's note (and a task to sign it while it is an ended draft) and, with documents,
/// the note and voice recording themselves.
fn documents(
    cx: &ClinicFacts,
    rows: &mut Rows,
    seen: &Seen,
    enc: &Encounter,
    drugs: Vec<&'static vocab::Drug>,
    orders: Vec<String>,
) {
    let v = seen.visit;
    let facts = VisitFacts {
        encounter: enc,
        patient: seen.patient,
        complaint: seen.complaint,
        specialty: cx
            .specialties
            .get(v.doctor as usize)
            .copied()
            .unwrap_or("Family Medicine"),
        minutes: v.minutes,
        drugs,
        orders,
    };
    let note = notes::note(
        cx.params,
        cx.clinic,
        v.key,
        &facts,
        cx.now,
        cx.with_documents,
    );
    if note.status == "draft" {
        if let Some(e) = seen.end {
            sign_note_task(cx, rows, seen, e);
        }
    }
    if cx.with_documents {
        rows.out.clinical_notes.push(note);
        if let Some(rec) = audio::recording(cx.params, cx.clinic, v.key, &facts) {
            rows.out.voice_recordings.push(rec);
        }
    }
}

/// The doctor's task to sign the draft note of an encounter that ended at `ended`.
fn sign_note_task(cx: &ClinicFacts, rows: &mut Rows, seen: &Seen, ended: NaiveDateTime) {
    let p = seen.patient;
    let task = Task {
        id: Uuid::nil(),
        assigned_to: seen.doctor_id,
        created_by: None,
        patient_id: Some(p.id),
        encounter_id: Some(seen.encounter_id),
        task_type: "documentation",
        title: format!("Sign note: {} ({})", p.name, seen.complaint.reason),
        description: Some("Review the AI draft and sign the clinical note.".to_string()),
        priority: 2,
        status: "pending",
        due_date: Some(ended.date() + Duration::days(1)),
        completed_at: None,
        created_at: ended,
        updated_at: ended,
    };
    rows.push_task(cx, task);
}

/// One staff member on one day of the window, up to the as-of date.
struct StaffDay {
    user: Uuid,
    is_doctor: bool,
    date: NaiveDate,
}

/// Background work for every staff member: administrative tasks, system notices, and a
/// morning schedule reminder for each doctor's working days, so every dashboard has pending
/// tasks and unread alerts around the as-of date.
fn staff_background(cx: &ClinicFacts, rows: &mut Rows, calendars: &[Calendar], booked: &[Booked]) {
    let params = cx.params;
    let (first_day, n_days) = window(params);
    let per_day = appointments_per_doctor_day(booked, calendars.len(), first_day, n_days);
    for u in 0..staff_count(&params.shape) {
        let user = cx.user(u);
        let is_doctor = u < params.shape.doctors;
        for day in 0..n_days {
            let date = first_day + Duration::days(day as i64);
            if date > params.as_of {
                break;
            }
            let sd = StaffDay {
                user,
                is_doctor,
                date,
            };
            let mut rng = cx.rng(Kind::StaffDay, (u64::from(u) << 32) | day as u64);
            if is_doctor && calendars[u as usize].works_on(date) {
                let count = per_day[u as usize * n_days + day];
                let first_start = calendars[u as usize].start_min;
                schedule_reminder(cx, rows, &mut rng, &sd, count, first_start);
            }
            admin_task(cx, rows, &mut rng, &sd);
            system_notice(cx, rows, &mut rng, &sd);
        }
    }
}

/// Appointments not cancelled per doctor and day of the window, indexed doctor * days + day.
fn appointments_per_doctor_day(
    booked: &[Booked],
    doctors: usize,
    first_day: NaiveDate,
    n_days: usize,
) -> Vec<u32> {
    let mut per_day = vec![0u32; doctors * n_days];
    for b in booked {
        let day = (b.appointment.start_time.date() - first_day).num_days() as usize;
        if b.appointment.status != "cancelled" && day < n_days {
            per_day[b.doctor as usize * n_days + day] += 1;
        }
    }
    per_day
}

/// A doctor's 07:30 alert with the day's appointment count and first start time.
fn schedule_reminder(
    cx: &ClinicFacts,
    rows: &mut Rows,
    rng: &mut EntityRng,
    sd: &StaffDay,
    count: u32,
    first_start_min: u32,
) {
    let alert = new_alert(
        sd.user,
        "appointment_reminder",
        "info",
        format!("Schedule for {}", sd.date.format("%a %d %b")),
        format!(
            "You have {count} appointments today; the first starts at {}.",
            super::schedule::hhmm(first_start_min)
        ),
        date_at(sd.date, 7, 30),
    );
    rows.push_alert(cx, rng, alert);
}

/// About one administrative task per staff member every few working days; the last days
/// before the as-of date always leave a couple open for doctors.
fn admin_task(cx: &ClinicFacts, rows: &mut Rows, rng: &mut EntityRng, sd: &StaffDay) {
    let (now, date, is_doctor) = (cx.now, sd.date, sd.is_doctor);
    let weekday = date.weekday().num_days_from_monday() < 5;
    let recent = (cx.params.as_of - date).num_days() < 3;
    let p_task = if is_doctor && recent { 0.9 } else { 0.2 };
    if !weekday || !rng.gen_bool(p_task) {
        return;
    }
    let created = date_at(date, rng.gen_range(8..17), rng.gen_range(0..60)).min(now);
    let (status, completed_at) = if recent && is_doctor {
        ("pending", None)
    } else {
        task_status(rng, created, now)
    };
    let (title, ttype) = ADMIN_TASKS[rng.gen_range(0..ADMIN_TASKS.len())];
    let task_type = if is_doctor || ttype != "documentation" {
        ttype
    } else {
        "administrative"
    };
    let front_desk = &cx.front_desk;
    let task = Task {
        id: Uuid::nil(),
        assigned_to: sd.user,
        created_by: if front_desk.is_empty() {
            None
        } else {
            Some(cx.user(front_desk[rng.gen_range(0..front_desk.len())]))
        },
        patient_id: None,
        encounter_id: None,
        task_type,
        title: title.to_string(),
        description: None,
        priority: rng.gen_range(1..=3),
        status,
        due_date: Some(date + Duration::days(rng.gen_range(1..10))),
        completed_at,
        created_at: created,
        updated_at: completed_at.unwrap_or(created),
    };
    rows.push_task(cx, task);
}

/// Now and then one of the [`SYSTEM_NOTICES`].
fn system_notice(cx: &ClinicFacts, rows: &mut Rows, rng: &mut EntityRng, sd: &StaffDay) {
    if !rng.gen_bool(0.04) {
        return;
    }
    let created = date_at(sd.date, rng.gen_range(6..20), rng.gen_range(0..60)).min(cx.now);
    let (title, message) = SYSTEM_NOTICES[rng.gen_range(0..SYSTEM_NOTICES.len())];
    let alert = new_alert(
        sd.user,
        "system",
        "info",
        title.to_string(),
        message.to_string(),
        created,
    );
    rows.push_alert(cx, rng, alert);
}

/// A reminder to the assignee of each open task that is past its due date.
fn overdue_reminders(cx: &ClinicFacts, rows: &mut Rows) {
    let as_of = cx.params.as_of;
    let overdue: Vec<(Uuid, Option<Uuid>, String, NaiveDate, u64)> = rows
        .out
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t.status, "pending" | "in_progress"))
        .filter_map(|(k, t)| {
            t.due_date
                .filter(|d| *d < as_of)
                .map(|d| (t.assigned_to, t.patient_id, t.title.clone(), d, k as u64))
        })
        .collect();
    for (assignee, patient, title, due, k) in overdue {
        let mut rng = cx.rng(Kind::Alert, (1 << 62) | k);
        let created = date_at(due + Duration::days(1), 8, 0).min(cx.now);
        let alert = Alert {
            patient_id: patient,
            ..new_alert(
                assignee,
                "task_overdue",
                "warning",
                "Task overdue".to_string(),
                format!("\"{title}\" was due on {due}."),
                created,
            )
        };
        rows.push_alert(cx, &mut rng, alert);
    }
}

fn short(description: &str) -> &str {
    let cut = description
        .find(" [")
        .or_else(|| description.find(','))
        .unwrap_or(description.len());
    &description[..cut.min(60)]
}

const ADMIN_TASKS: &[(&str, &str)] = &[
    ("Complete annual compliance training", "administrative"),
    ("Review updated infection control policy", "administrative"),
    ("Approve vacation schedule", "administrative"),
    ("Complete disability form", "documentation"),
    ("Sign medical records release", "documentation"),
    ("Update on-call roster", "administrative"),
    ("Review quality metrics report", "administrative"),
    ("Complete prior authorization paperwork", "documentation"),
];

const SYSTEM_NOTICES: &[(&str, &str)] = &[
    (
        "Scheduled maintenance",
        "The system will be unavailable Sunday 02:00-04:00 for maintenance.",
    ),
    (
        "New feature: voice notes",
        "Voice recordings can now be attached to encounters from the mobile app.",
    ),
    (
        "Password expiry",
        "Your password expires in 7 days. Please update it.",
    ),
    (
        "Formulary update",
        "The clinic formulary was updated; see the intranet for changes.",
    ),
];
