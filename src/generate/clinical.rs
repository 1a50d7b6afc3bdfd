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
    walk_in: bool,
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
    let shape = &params.shape;
    let seed = params.seed;
    let now = as_of_noon(params);
    let nurses: Vec<u32> = (shape.doctors..shape.doctors + shape.nurses).collect();
    let front_desk: Vec<u32> = (shape.doctors + shape.nurses
        ..shape.doctors + shape.nurses + shape.receptionists + shape.admins)
        .collect();
    let lab_zipf = Zipf::new(vocab::LABS.len(), 0.9);

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
            walk_in: false,
        })
        .chain(walk_ins.iter().map(|w| Visit {
            key: WALK_IN_KEY | w.key,
            patient: w.patient,
            doctor: w.doctor,
            complaint: w.complaint,
            appointment: None,
            start: w.start,
            minutes: w.minutes,
            walk_in: true,
        }))
        .collect();
    visits.sort_by_key(|v| (v.start, v.doctor, v.key));

    let mut task_seq: u64 = 0;
    let mut alert_seq: u64 = 0;
    let mut push_alert = |out: &mut ClinicData, rng: &mut EntityRng, mut a: Alert| {
        a.id = entity_uuid(seed, clinic, Kind::Alert, alert_seq);
        alert_seq += 1;
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
        out.alerts.push(a);
    };

    for v in &visits {
        let mut rng = entity_rng(seed, clinic, Kind::Encounter, v.key);
        let p = &patients[v.patient as usize];
        let c = &vocab::COMPLAINTS[v.complaint];
        let doctor_id = user_id(params, clinic, v.doctor);
        let (etype, in_progress) = match v.appointment {
            Some((_, _, atype, status)) => {
                (encounter_type(&mut rng, atype), status == "in_progress")
            }
            None => ("walk_in", false),
        };
        // The doctor starts at or a little after the booked time and may overrun the slot.
        let delay = Duration::minutes(rng.gen_range(0..12));
        let start = (v.start + delay).min(now.max(v.start));
        let length =
            Duration::seconds((f64::from(v.minutes) * 60.0 * rng.gen_range(0.7..1.45)) as i64);
        let end = (!in_progress).then(|| (start + length).min(now.max(start)));
        let mut diagnosis_codes = vec![c.icd10.to_string()];
        if c.tag == "chronic_care" {
            for &k in p.chronic.iter().take(3) {
                let code = vocab::CHRONIC[k].code;
                if code != c.icd10 && rng.gen_bool(0.5) {
                    diagnosis_codes.push(code.to_string());
                }
            }
        }
        let enc = Encounter {
            id: entity_uuid(seed, clinic, Kind::Encounter, v.key),
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
            vitals: (etype != "telehealth").then(|| vitals(&mut rng, p)),
            created_at: start,
            updated_at: end.unwrap_or(start),
        };
        let _ = v.walk_in;
        let finished = end.unwrap_or(now);
        let action_time = start + Duration::seconds((finished - start).num_seconds() * 4 / 5);

        // Prescriptions: complaint drugs first, then the patient's long-term medicines.
        let mut drugs: Vec<&'static vocab::Drug> = Vec::new();
        if end.is_some() && rng.gen_bool(PRESCRIPTION_SHARE) {
            let want =
                1 + Poisson::new(EXTRA_DRUGS_MEAN).map_or(1, |d| d.sample(&mut rng) as usize);
            let want = want.min(5);
            let mut candidates: Vec<&'static str> = c.drugs.to_vec();
            candidates.shuffle(&mut rng);
            let mut chronic: Vec<&'static str> =
                p.chronic.iter().map(|&k| vocab::CHRONIC[k].drug).collect();
            chronic.shuffle(&mut rng);
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
        }
        if !drugs.is_empty() {
            let rx_id = entity_uuid(seed, clinic, Kind::Prescription, v.key);
            let course_end = drugs
                .iter()
                .map(|d| d.days.unwrap_or(90))
                .max()
                .unwrap_or(30);
            let status = if rng.gen_bool(0.02) {
                "cancelled"
            } else if action_time + Duration::days(i64::from(course_end)) > now {
                "active"
            } else if drugs.iter().any(|d| d.days.is_none()) {
                "expired"
            } else {
                "completed"
            };
            out.prescriptions.push(Prescription {
                id: rx_id,
                encounter_id: enc.id,
                patient_id: p.id,
                doctor_id,
                status,
                prescribed_at: action_time,
                notes: rng
                    .gen_bool(0.1)
                    .then(|| "Generic substitution permitted".to_string()),
                created_at: action_time,
                updated_at: action_time,
            });
            for (k, d) in drugs.iter().enumerate() {
                let (quantity, refills) = match d.days {
                    Some(days) => ((d.per_day as i32 * days).max(1), 0),
                    None => ((d.per_day as i32 * 30).max(1), rng.gen_range(2..=5)),
                };
                out.prescription_items.push(PrescriptionItem {
                    id: entity_uuid(
                        seed,
                        clinic,
                        Kind::PrescriptionItem,
                        (v.key << 3) | k as u64,
                    ),
                    prescription_id: rx_id,
                    drug_name: d.name.to_string(),
                    dose: d.dose.to_string(),
                    route: d.route,
                    frequency: d.frequency.to_string(),
                    duration_days: d.days,
                    quantity,
                    refills,
                    instructions: Some(d.instructions.to_string()),
                    created_at: action_time,
                    updated_at: action_time,
                });
            }
            for (a, b, why) in INTERACTIONS {
                if drugs.iter().any(|d| d.name == *a) && drugs.iter().any(|d| d.name == *b) {
                    push_alert(
                        out,
                        &mut rng,
                        Alert {
                            id: Uuid::nil(),
                            recipient_id: doctor_id,
                            patient_id: Some(p.id),
                            order_item_id: None,
                            alert_type: "drug_interaction",
                            severity: "warning",
                            title: format!("Interaction: {a} + {b}"),
                            message: format!("{why}. Review the prescription for {}.", p.name),
                            is_read: false,
                            read_at: None,
                            acknowledged_at: None,
                            acknowledged_by: None,
                            created_at: action_time,
                            updated_at: action_time,
                        },
                    );
                }
            }
        }

        // Orders: labs and imaging, results for those whose turnaround has passed.
        let mut order_names: Vec<String> = Vec::new();
        let mut orders_to_make: Vec<(&'static str, Vec<usize>)> = Vec::new();
        if !c.labs.is_empty() && rng.gen_bool(LAB_SHARE_INDICATED) {
            let mut items: Vec<usize> = c.labs.iter().filter_map(|l| vocab::lab(l)).collect();
            if items.len() > 3 && rng.gen_bool(0.5) {
                items.shuffle(&mut rng);
                items.truncate(rng.gen_range(2..=3));
            }
            orders_to_make.push(("lab", items));
        } else if rng.gen_bool(LAB_SHARE_OTHER) {
            let mut items = vec![lab_zipf.sample(&mut rng)];
            if rng.gen_bool(0.4) {
                let extra = lab_zipf.sample(&mut rng);
                if extra != items[0] {
                    items.push(extra);
                }
            }
            orders_to_make.push(("lab", items));
        }
        if !c.imaging.is_empty() && rng.gen_bool(IMAGING_SHARE_INDICATED) {
            let cpt = c.imaging[rng.gen_range(0..c.imaging.len())];
            if let Some(k) = vocab::imaging(cpt) {
                orders_to_make.push(("imaging", vec![k]));
            }
        }
        for (o, (order_type, items)) in orders_to_make.into_iter().enumerate() {
            let okey = (v.key << 2) | o as u64;
            let order_id = entity_uuid(seed, clinic, Kind::Order, okey);
            let ordered_at = action_time;
            let mut orng = entity_rng(seed, clinic, Kind::Order, okey);
            let priority = match orng.gen_range(0..100) {
                0..=84 => "routine",
                85..=96 => "urgent",
                _ => "stat",
            };
            let cancelled = orng.gen_bool(0.02);
            let abnormal_bias = if c.tag == "chronic_care" { 0.12 } else { 0.0 };
            let mut resulted_times = Vec::new();
            let mut pending = 0;
            for (k, &item) in items.iter().enumerate() {
                let ikey = (okey << 4) | k as u64;
                let mut irng = entity_rng(seed, clinic, Kind::OrderItem, ikey);
                let turnaround = if order_type == "lab" {
                    Duration::minutes(irng.gen_range(4 * 60..3 * 24 * 60))
                } else {
                    Duration::minutes(irng.gen_range(24 * 60..10 * 24 * 60))
                };
                let resulted_at = ordered_at + turnaround;
                let status = if cancelled {
                    "cancelled"
                } else if resulted_at <= now && end.is_some() {
                    "resulted"
                } else {
                    "pending"
                };
                let (code, code_system, description, value, unit, range, flag) =
                    if order_type == "lab" {
                        let t = &vocab::LABS[item];
                        let (value, flag) = lab_result(&mut irng, t, abnormal_bias);
                        (
                            t.loinc,
                            "LOINC",
                            t.name,
                            value,
                            (!t.unit.is_empty()).then(|| t.unit.to_string()),
                            Some(reference_range(t)),
                            flag,
                        )
                    } else {
                        let s = &vocab::IMAGING[item];
                        let roll = irng.gen_range(0..100);
                        let (text, flag) = match roll {
                            0..=81 => (s.normal, "normal"),
                            82..=97 => (s.abnormal, "high"),
                            _ => (s.abnormal, "critical"),
                        };
                        (
                            s.cpt,
                            "CPT",
                            s.description,
                            text.to_string(),
                            None,
                            None,
                            flag,
                        )
                    };
                order_names.push(format!("{} ({} {})", description, code_system, code));
                let item_id = entity_uuid(seed, clinic, Kind::OrderItem, ikey);
                let resulted = status == "resulted";
                if resulted {
                    resulted_times.push(resulted_at);
                } else if status == "pending" {
                    pending += 1;
                }
                out.order_items.push(OrderItem {
                    id: item_id,
                    order_id,
                    code: code.to_string(),
                    code_system,
                    description: description.to_string(),
                    status,
                    result_value: resulted.then(|| value.clone()),
                    result_unit: if resulted { unit } else { None },
                    reference_range: if resulted { range } else { None },
                    abnormal_flag: resulted.then_some(flag),
                    resulted_at: resulted.then_some(resulted_at),
                    created_at: ordered_at,
                    updated_at: if resulted { resulted_at } else { ordered_at },
                });
                // Abnormal results raise an alert to the ordering doctor and a review task.
                if resulted && flag != "normal" {
                    let critical = flag == "critical";
                    push_alert(
                        out,
                        &mut irng,
                        Alert {
                            id: Uuid::nil(),
                            recipient_id: doctor_id,
                            patient_id: Some(p.id),
                            order_item_id: Some(item_id),
                            alert_type: if critical {
                                "critical_result"
                            } else {
                                "abnormal_result"
                            },
                            severity: if critical { "critical" } else { "warning" },
                            title: format!(
                                "{} result: {}",
                                if critical { "Critical" } else { "Abnormal" },
                                short(description)
                            ),
                            message: format!(
                                "{} for {} ({}): {}{}",
                                description,
                                p.name,
                                flag,
                                value,
                                match (order_type, &vocab::LABS.get(item)) {
                                    ("lab", Some(t)) if !t.unit.is_empty() =>
                                        format!(" {}", t.unit),
                                    _ => String::new(),
                                }
                            ),
                            is_read: false,
                            read_at: None,
                            acknowledged_at: None,
                            acknowledged_by: None,
                            created_at: resulted_at,
                            updated_at: resulted_at,
                        },
                    );
                    let (status, completed_at) = task_status(&mut irng, resulted_at, now);
                    out.tasks.push(Task {
                        id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                        assigned_to: doctor_id,
                        created_by: None,
                        patient_id: Some(p.id),
                        encounter_id: Some(enc.id),
                        task_type: "review_result",
                        title: format!("Review {} result for {}", short(description), p.name),
                        description: Some(format!("{description}: {value} ({flag}).")),
                        priority: if critical { 4 } else { 3 },
                        status,
                        due_date: Some(
                            resulted_at.date() + Duration::days(if critical { 0 } else { 2 }),
                        ),
                        completed_at,
                        created_at: resulted_at,
                        updated_at: completed_at.unwrap_or(resulted_at),
                    });
                    task_seq += 1;
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
            out.orders.push(Order {
                id: order_id,
                encounter_id: enc.id,
                patient_id: p.id,
                doctor_id,
                order_type,
                status,
                priority,
                ordered_at,
                completed_at,
                notes: orng
                    .gen_bool(0.2)
                    .then(|| format!("Clinical indication: {}", c.diagnosis)),
                created_at: ordered_at,
                updated_at: completed_at.unwrap_or(ordered_at),
            });
        }

        // Follow-up calls for nurses, referrals for the front desk.
        if end.is_some() && rng.gen_bool(0.10) {
            let assignee = if nurses.is_empty() {
                v.doctor
            } else {
                nurses[rng.gen_range(0..nurses.len())]
            };
            let created = finished;
            let (status, completed_at) = task_status(&mut rng, created, now);
            out.tasks.push(Task {
                id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                assigned_to: user_id(params, clinic, assignee),
                created_by: Some(doctor_id),
                patient_id: Some(p.id),
                encounter_id: Some(enc.id),
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
            });
            task_seq += 1;
        }
        if end.is_some() && !front_desk.is_empty() && rng.gen_bool(0.03) {
            let created = finished;
            let (status, completed_at) = task_status(&mut rng, created, now);
            out.tasks.push(Task {
                id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                assigned_to: user_id(
                    params,
                    clinic,
                    front_desk[rng.gen_range(0..front_desk.len())],
                ),
                created_by: Some(doctor_id),
                patient_id: Some(p.id),
                encounter_id: Some(enc.id),
                task_type: "referral",
                title: format!("Referral to {} for {}", c.specialty, p.name),
                description: Some(format!("Reason: {}.", c.diagnosis)),
                priority: rng.gen_range(1..=3),
                status,
                due_date: Some(created.date() + Duration::days(rng.gen_range(3..15))),
                completed_at,
                created_at: created,
                updated_at: completed_at.unwrap_or(created),
            });
            task_seq += 1;
        }
        // Refill requests arrive for long-term medicines some weeks later.
        if let Some(d) = drugs.iter().find(|d| d.days.is_none()) {
            if rng.gen_bool(0.15) {
                let created = finished + Duration::days(rng.gen_range(20..60));
                if created <= now {
                    let (status, completed_at) = task_status(&mut rng, created, now);
                    out.tasks.push(Task {
                        id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                        assigned_to: doctor_id,
                        created_by: front_desk.first().map(|&u| user_id(params, clinic, u)),
                        patient_id: Some(p.id),
                        encounter_id: Some(enc.id),
                        task_type: "refill_request",
                        title: format!("Refill request: {} {}", d.name, d.dose),
                        description: Some(format!("{} requests a refill of {}.", p.name, d.name)),
                        priority: 2,
                        status,
                        due_date: Some(created.date() + Duration::days(2)),
                        completed_at,
                        created_at: created,
                        updated_at: completed_at.unwrap_or(created),
                    });
                    task_seq += 1;
                }
            }
        }

        let facts = VisitFacts {
            encounter: &enc,
            patient: p,
            complaint: c,
            specialty: specialties
                .get(v.doctor as usize)
                .copied()
                .unwrap_or("Family Medicine"),
            minutes: v.minutes,
            drugs,
            orders: order_names,
        };
        let note = notes::note(params, clinic, v.key, &facts, now, with_documents);
        // An unsigned note of an ended encounter leaves a documentation task for the doctor.
        if note.status == "draft" {
            if let Some(e) = end {
                let (status, completed_at) = ("pending", None::<NaiveDateTime>);
                out.tasks.push(Task {
                    id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                    assigned_to: doctor_id,
                    created_by: None,
                    patient_id: Some(p.id),
                    encounter_id: Some(enc.id),
                    task_type: "documentation",
                    title: format!("Sign note: {} ({})", p.name, c.reason),
                    description: Some(
                        "Review the AI draft and sign the clinical note.".to_string(),
                    ),
                    priority: 2,
                    status,
                    due_date: Some(e.date() + Duration::days(1)),
                    completed_at,
                    created_at: e,
                    updated_at: e,
                });
                task_seq += 1;
            }
        }
        if with_documents {
            out.clinical_notes.push(note);
            if let Some(rec) = audio::recording(params, clinic, v.key, &facts) {
                out.voice_recordings.push(rec);
            }
        }
        out.encounters.push(enc);
    }

    // Background work for every staff member: administrative tasks, system notices, and a
    // morning schedule reminder for each doctor's working days, so every dashboard has
    // pending tasks and unread alerts around the as-of date.
    let (first_day, n_days) = window(params);
    let staff = super::people::staff_count(shape);
    let mut per_day = vec![0u32; calendars.len() * n_days];
    for b in booked {
        let day = (b.appointment.start_time.date() - first_day).num_days() as usize;
        if b.appointment.status != "cancelled" && day < n_days {
            per_day[b.doctor as usize * n_days + day] += 1;
        }
    }
    for u in 0..staff {
        let uid = user_id(params, clinic, u);
        let is_doctor = u < shape.doctors;
        for day in 0..n_days {
            let date = first_day + Duration::days(day as i64);
            if date > params.as_of {
                break;
            }
            let key = (u64::from(u) << 32) | day as u64;
            let mut rng = entity_rng(seed, clinic, Kind::StaffDay, key);
            let weekday = date.weekday().num_days_from_monday() < 5;
            if is_doctor && calendars[u as usize].works_on(date) {
                let created = date_at(date, 7, 30);
                let count = per_day[u as usize * n_days + day];
                push_alert(
                    out,
                    &mut rng,
                    Alert {
                        id: Uuid::nil(),
                        recipient_id: uid,
                        patient_id: None,
                        order_item_id: None,
                        alert_type: "appointment_reminder",
                        severity: "info",
                        title: format!("Schedule for {}", date.format("%a %d %b")),
                        message: format!(
                            "You have {count} appointments today; the first starts at {}.",
                            super::schedule::hhmm(calendars[u as usize].start_min)
                        ),
                        is_read: false,
                        read_at: None,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        created_at: created,
                        updated_at: created,
                    },
                );
            }
            // About one administrative task per staff member every few working days; the last
            // days before the as-of date always leave a couple open for doctors.
            let recent = (params.as_of - date).num_days() < 3;
            let p_task = if is_doctor && recent { 0.9 } else { 0.2 };
            if weekday && rng.gen_bool(p_task) {
                let created = date_at(date, rng.gen_range(8..17), rng.gen_range(0..60)).min(now);
                let (status, completed_at) = if recent && is_doctor {
                    ("pending", None)
                } else {
                    task_status(&mut rng, created, now)
                };
                let (title, ttype) = ADMIN_TASKS[rng.gen_range(0..ADMIN_TASKS.len())];
                let tt = if is_doctor || ttype != "documentation" {
                    ttype
                } else {
                    "administrative"
                };
                out.tasks.push(Task {
                    id: entity_uuid(seed, clinic, Kind::Task, task_seq),
                    assigned_to: uid,
                    created_by: if front_desk.is_empty() {
                        None
                    } else {
                        Some(user_id(
                            params,
                            clinic,
                            front_desk[rng.gen_range(0..front_desk.len())],
                        ))
                    },
                    patient_id: None,
                    encounter_id: None,
                    task_type: tt,
                    title: title.to_string(),
                    description: None,
                    priority: rng.gen_range(1..=3),
                    status,
                    due_date: Some(date + Duration::days(rng.gen_range(1..10))),
                    completed_at,
                    created_at: created,
                    updated_at: completed_at.unwrap_or(created),
                });
                task_seq += 1;
            }
            if rng.gen_bool(0.04) {
                let created = date_at(date, rng.gen_range(6..20), rng.gen_range(0..60)).min(now);
                let (title, message) = SYSTEM_NOTICES[rng.gen_range(0..SYSTEM_NOTICES.len())];
                push_alert(
                    out,
                    &mut rng,
                    Alert {
                        id: Uuid::nil(),
                        recipient_id: uid,
                        patient_id: None,
                        order_item_id: None,
                        alert_type: "system",
                        severity: "info",
                        title: title.to_string(),
                        message: message.to_string(),
                        is_read: false,
                        read_at: None,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        created_at: created,
                        updated_at: created,
                    },
                );
            }
        }
    }

    // Overdue open tasks raise a reminder to their assignee.
    let overdue: Vec<(Uuid, Option<Uuid>, String, NaiveDate, u64)> = out
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t.status, "pending" | "in_progress"))
        .filter_map(|(k, t)| {
            t.due_date
                .filter(|d| *d < params.as_of)
                .map(|d| (t.assigned_to, t.patient_id, t.title.clone(), d, k as u64))
        })
        .collect();
    for (assignee, patient, title, due, k) in overdue {
        let mut rng = entity_rng(seed, clinic, Kind::Alert, (1 << 62) | k);
        let created = date_at(due + Duration::days(1), 8, 0).min(now);
        push_alert(
            out,
            &mut rng,
            Alert {
                id: Uuid::nil(),
                recipient_id: assignee,
                patient_id: patient,
                order_item_id: None,
                alert_type: "task_overdue",
                severity: "warning",
                title: "Task overdue".to_string(),
                message: format!("\"{title}\" was due on {due}."),
                is_read: false,
                read_at: None,
                acknowledged_at: None,
                acknowledged_by: None,
                created_at: created,
                updated_at: created,
            },
        );
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
