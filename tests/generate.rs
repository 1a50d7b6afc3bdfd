//! Pure tests of the generator (no servers): determinism across order and threads, calendars
//! and double booking, every CHECK constraint of the migration, references within a clinic,
//! uniqueness across clinics, note coherence, and the realism bands of clinic-realism.md.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use clinicload::generate::{
    audio, fingerprint, generate_clinic, plan, profile, schedule, SeedParams, GENERATOR_VERSION,
    PROFILES,
};
use clinicload::model::ClinicData;
use uuid::Uuid;

fn params(name: &str, clinics: u32) -> SeedParams {
    SeedParams {
        seed: 42,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), // a Wednesday
        clinics,
        shape: profile(name).unwrap(),
    }
}

fn now(p: &SeedParams) -> NaiveDateTime {
    p.as_of.and_hms_opt(12, 0, 0).unwrap()
}

/// One small-profile clinic, generated once for all realism tests.
fn small() -> &'static (SeedParams, ClinicData) {
    static SMALL: OnceLock<(SeedParams, ClinicData)> = OnceLock::new();
    SMALL.get_or_init(|| {
        let p = params("small", 1);
        let c = generate_clinic(&p, 0);
        (p, c)
    })
}

fn tiny(index: u32) -> (SeedParams, ClinicData) {
    let p = params("tiny", 4);
    let c = generate_clinic(&p, index);
    (p, c)
}

// --- determinism ---------------------------------------------------------------------------

#[test]
fn same_params_same_clinic() {
    let p = params("tiny", 3);
    assert_eq!(generate_clinic(&p, 2), generate_clinic(&p, 2));
}

#[test]
fn order_and_threads_do_not_matter() {
    let p = params("tiny", 4);
    let forward: Vec<ClinicData> = (0..4).map(|i| generate_clinic(&p, i)).collect();
    let mut backward: Vec<ClinicData> = (0..4).rev().map(|i| generate_clinic(&p, i)).collect();
    backward.reverse();
    assert_eq!(forward, backward);
    let threaded: Vec<ClinicData> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let p = &p;
                s.spawn(move || generate_clinic(p, i))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(forward, threaded);
}

#[test]
fn clinics_and_seeds_differ() {
    let (_, a) = tiny(0);
    let (_, b) = tiny(1);
    assert_ne!(a.patients[0].id, b.patients[0].id);
    let mut p = params("tiny", 1);
    p.seed = 43;
    let c = generate_clinic(&p, 0);
    assert_ne!(a.patients[0].id, c.patients[0].id);
    assert_ne!(
        a.patients[0].first_name.clone() + &a.patients[1].first_name,
        c.patients[0].first_name.clone() + &c.patients[1].first_name
    );
}

#[test]
fn unique_keys_across_clinics() {
    let clinics: Vec<ClinicData> = (0..4).map(|i| tiny(i).1).collect();
    let mut ids = BTreeSet::new();
    let mut usernames = BTreeSet::new();
    let mut emails = BTreeSet::new();
    let mut mrns = BTreeSet::new();
    for c in &clinics {
        for u in &c.users {
            assert!(ids.insert(u.id));
            assert!(usernames.insert(u.username.clone()), "{}", u.username);
            assert!(emails.insert(u.email.clone()), "{}", u.email);
        }
        for p in &c.patients {
            assert!(ids.insert(p.id));
            assert!(mrns.insert(p.mrn.clone()), "{}", p.mrn);
        }
        for a in &c.appointments {
            assert!(ids.insert(a.id));
        }
        for e in &c.encounters {
            assert!(ids.insert(e.id));
        }
        let rest = c
            .prescriptions
            .iter()
            .map(|x| x.id)
            .chain(c.prescription_items.iter().map(|x| x.id))
            .chain(c.orders.iter().map(|x| x.id))
            .chain(c.order_items.iter().map(|x| x.id))
            .chain(c.tasks.iter().map(|x| x.id))
            .chain(c.alerts.iter().map(|x| x.id))
            .chain(c.clinical_notes.iter().map(|x| x.id))
            .chain(c.voice_recordings.iter().map(|x| x.id));
        for id in rest {
            assert!(ids.insert(id), "duplicate id {id}");
        }
    }
}

// --- calendars and booking ------------------------------------------------------------------

fn minutes(s: &str) -> u32 {
    let t = NaiveTime::parse_from_str(s, "%H:%M").unwrap();
    t.hour() * 60 + t.minute()
}

fn check_calendars(p: &SeedParams, c: &ClinicData) {
    // The calendar as the database sees it: users.preferences.workingHours.
    let mut cal = BTreeMap::new();
    for (i, u) in c.users.iter().enumerate() {
        if u.role == "doctor" {
            let w = &u.preferences.as_ref().unwrap()["workingHours"];
            let days: Vec<String> = w["days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect();
            let hours = (
                minutes(w["start"].as_str().unwrap()),
                minutes(w["end"].as_str().unwrap()),
                minutes(w["lunchStart"].as_str().unwrap()),
                minutes(w["lunchEnd"].as_str().unwrap()),
            );
            assert!(hours.0 < hours.2 && hours.2 < hours.3 && hours.3 < hours.1);
            assert!(!days.iter().any(|d| d == "sat" || d == "sun"));
            // Same as the generator's own calendar.
            let own = schedule::calendar(p, c.clinic_index, i as u32);
            assert_eq!(
                (
                    own.start_min,
                    own.end_min,
                    own.lunch_start_min,
                    own.lunch_end_min
                ),
                hours
            );
            cal.insert(u.id, (days, hours));
        }
    }
    for a in &c.appointments {
        let (days, (start, end, lunch_s, lunch_e)) = cal.get(&a.doctor_id).expect("doctor");
        let day = a.start_time.format("%a").to_string().to_lowercase();
        assert!(days.contains(&day), "{} on {day}", a.start_time);
        assert_eq!(a.start_time.date(), a.end_time.date());
        let s = a.start_time.hour() * 60 + a.start_time.minute();
        let e = a.end_time.hour() * 60 + a.end_time.minute();
        assert!(s >= *start && e <= *end, "{} outside hours", a.start_time);
        assert!(e <= *lunch_s || s >= *lunch_e, "{} in lunch", a.start_time);
        let len = (a.end_time - a.start_time).num_minutes();
        assert!([15, 20, 30].contains(&len), "slot {len}");
        assert_eq!(len as u32, schedule::slot_minutes(a.appointment_type));
    }
}

fn check_no_double_booking(c: &ClinicData) {
    let mut by_doctor: BTreeMap<Uuid, Vec<(NaiveDateTime, NaiveDateTime)>> = BTreeMap::new();
    for a in &c.appointments {
        by_doctor
            .entry(a.doctor_id)
            .or_default()
            .push((a.start_time, a.end_time));
    }
    for (_, mut v) in by_doctor {
        v.sort();
        for w in v.windows(2) {
            assert!(w[0].1 <= w[1].0, "double booking {:?} {:?}", w[0], w[1]);
        }
    }
}

#[test]
fn appointments_inside_calendars_tiny_and_small() {
    for i in 0..2 {
        let (p, c) = tiny(i);
        check_calendars(&p, &c);
    }
    let (p, c) = small();
    check_calendars(p, c);
}

#[test]
fn no_doctor_double_booked() {
    let (_, c) = tiny(0);
    check_no_double_booking(&c);
    check_no_double_booking(&small().1);
}

#[test]
fn weekend_appointments_never_happen_and_times_spread() {
    let (_, c) = small();
    let minutes: BTreeSet<u32> = c
        .appointments
        .iter()
        .map(|a| a.start_time.hour() * 60 + a.start_time.minute())
        .collect();
    assert!(minutes.len() > 40, "start times should spread over the day");
    let encounter_minutes: BTreeSet<(u32, u32)> = c
        .encounters
        .iter()
        .map(|e| (e.start_time.hour(), e.start_time.minute()))
        .collect();
    assert!(encounter_minutes.len() > 100);
}

// --- CHECK constraints and lengths ------------------------------------------------------------

fn within(s: &str, n: usize) -> bool {
    s.chars().count() <= n
}

fn check_constraints(p: &SeedParams, c: &ClinicData) {
    let now = now(p);
    for u in &c.users {
        assert!(["doctor", "nurse", "admin", "receptionist"].contains(&u.role));
        assert!(["active", "inactive", "suspended"].contains(&u.status));
        assert!(u.specialty.is_none() || matches!(u.role, "doctor" | "nurse"));
        assert_eq!(u.specialty.is_some(), matches!(u.role, "doctor" | "nurse"));
        assert!(within(&u.username, 50) && within(&u.email, 100) && within(&u.full_name, 100));
        assert!(
            u.phone.as_deref().map_or(true, |s| within(s, 20)),
            "{:?}",
            u.phone
        );
        assert!(u
            .profile_image_url
            .as_deref()
            .map_or(true, |s| within(s, 255)));
        assert!(u.specialty.map_or(true, |s| within(s, 50)));
        assert!(u.created_at <= u.updated_at && u.updated_at <= now);
        assert!(u.last_login_at.unwrap() <= now);
    }
    for pt in &c.patients {
        assert!(["male", "female", "other", "unknown"].contains(&pt.sex));
        assert!(["active", "inactive", "deceased"].contains(&pt.status));
        assert!(pt
            .blood_type
            .map_or(true, |b| ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
                .contains(&b)));
        assert!(pt.allergies.is_array() && pt.chronic_conditions.is_array());
        assert!(within(&pt.mrn, 20) && within(&pt.first_name, 50) && within(&pt.last_name, 50));
        assert!(
            pt.phone.as_deref().map_or(true, |s| within(s, 20)),
            "{:?}",
            pt.phone
        );
        assert!(pt.email.as_deref().map_or(true, |s| within(s, 100)));
        assert!(pt
            .insurance_provider
            .as_deref()
            .map_or(true, |s| within(s, 100)));
        assert!(pt
            .insurance_policy_number
            .as_deref()
            .map_or(true, |s| within(s, 50)));
        assert!(pt.date_of_birth <= p.as_of);
        assert!(pt.created_at <= pt.updated_at && pt.updated_at <= now);
    }
    for a in &c.appointments {
        assert!([
            "scheduled",
            "confirmed",
            "checked_in",
            "in_progress",
            "completed",
            "cancelled",
            "no_show"
        ]
        .contains(&a.status));
        assert!([
            "new_patient",
            "follow_up",
            "routine",
            "urgent",
            "procedure",
            "telehealth"
        ]
        .contains(&a.appointment_type));
        assert!(a.end_time > a.start_time);
        assert!(a.booked_at <= a.start_time);
        assert!(a.booked_at <= now, "booked in the future");
        assert_eq!(a.status == "cancelled", a.cancelled_at.is_some());
        if let Some(t) = a.cancelled_at {
            assert!(t >= a.booked_at && t <= now && t <= a.start_time);
            assert!(a.cancellation_reason.is_some());
        }
        if let Some(t) = a.checked_in_at {
            assert!(t <= now);
        }
        assert!(within(&a.patient_name, 101));
        assert!(a.reason.as_deref().map_or(true, |s| within(s, 255)));
        assert!(a.created_at <= a.updated_at && a.updated_at <= now);
        // Statuses consistent with time.
        match a.status {
            "completed" | "no_show" => assert!(a.end_time <= now),
            "in_progress" => assert!(a.start_time <= now && now < a.end_time),
            "scheduled" | "confirmed" | "checked_in" => assert!(a.start_time > now),
            _ => {}
        }
    }
    for e in &c.encounters {
        assert!([
            "office_visit",
            "walk_in",
            "telehealth",
            "procedure",
            "follow_up",
            "emergency"
        ]
        .contains(&e.encounter_type));
        assert!(["in_progress", "completed", "cancelled"].contains(&e.status));
        assert!(e.end_time.map_or(true, |t| t >= e.start_time));
        assert!(e.status != "completed" || e.end_time.is_some());
        assert!(e
            .chief_complaint
            .as_deref()
            .map_or(true, |s| within(s, 255)));
        assert!(!e.diagnosis_codes.is_empty());
        assert!(e.start_time <= now && e.end_time.map_or(true, |t| t <= now));
        assert!(e.created_at <= e.updated_at);
    }
    for r in &c.prescriptions {
        assert!(["active", "completed", "cancelled", "expired"].contains(&r.status));
        assert!(r.prescribed_at <= now);
    }
    for i in &c.prescription_items {
        assert!([
            "oral",
            "intravenous",
            "intramuscular",
            "subcutaneous",
            "topical",
            "inhaled",
            "sublingual",
            "rectal",
            "ophthalmic",
            "otic",
            "nasal",
            "transdermal"
        ]
        .contains(&i.route));
        assert!(i.duration_days.map_or(true, |d| d > 0));
        assert!(i.quantity > 0 && i.refills >= 0);
        assert!(within(&i.drug_name, 100) && within(&i.dose, 50) && within(&i.frequency, 50));
    }
    for o in &c.orders {
        assert!(["lab", "imaging"].contains(&o.order_type));
        assert!(["ordered", "in_progress", "completed", "cancelled"].contains(&o.status));
        assert!(["routine", "urgent", "stat"].contains(&o.priority));
        assert!(o
            .completed_at
            .map_or(true, |t| t >= o.ordered_at && t <= now));
        assert_eq!(o.status == "completed", o.completed_at.is_some());
    }
    for i in &c.order_items {
        assert!(["LOINC", "CPT"].contains(&i.code_system));
        assert!(["pending", "resulted", "cancelled"].contains(&i.status));
        assert!(i
            .abnormal_flag
            .map_or(true, |f| ["normal", "low", "high", "critical"].contains(&f)));
        assert!(i.status != "resulted" || i.resulted_at.is_some());
        assert_eq!(i.status == "resulted", i.result_value.is_some());
        assert!(i.resulted_at.map_or(true, |t| t <= now));
        assert!(
            within(&i.code, 20) && within(&i.description, 200),
            "{}",
            i.description
        );
        assert!(i.result_value.as_deref().map_or(true, |s| within(s, 100)));
        assert!(i.result_unit.as_deref().map_or(true, |s| within(s, 30)));
        assert!(i.reference_range.as_deref().map_or(true, |s| within(s, 50)));
    }
    for t in &c.tasks {
        assert!([
            "review_result",
            "follow_up_call",
            "refill_request",
            "documentation",
            "referral",
            "administrative"
        ]
        .contains(&t.task_type));
        assert!((1..=4).contains(&t.priority));
        assert!(["pending", "in_progress", "completed", "cancelled"].contains(&t.status));
        assert!(t.status != "completed" || t.completed_at.is_some());
        assert!(t
            .completed_at
            .map_or(true, |d| d >= t.created_at && d <= now));
        assert!(within(&t.title, 200), "{}", t.title);
        assert!(t.created_at <= now && t.created_at <= t.updated_at);
    }
    for a in &c.alerts {
        assert!([
            "critical_result",
            "abnormal_result",
            "drug_interaction",
            "appointment_reminder",
            "task_overdue",
            "system"
        ]
        .contains(&a.alert_type));
        assert!(["info", "warning", "critical"].contains(&a.severity));
        assert!(!a.is_read || a.read_at.is_some());
        assert_eq!(a.is_read, a.read_at.is_some());
        assert!(a.read_at.map_or(true, |r| r >= a.created_at && r <= now));
        assert!(a
            .acknowledged_at
            .map_or(true, |t| t <= now && a.acknowledged_by.is_some()));
        assert!(within(&a.title, 200));
        assert!(a.created_at <= now);
    }
}

#[test]
fn check_constraints_hold() {
    for i in 0..3 {
        let (p, c) = tiny(i);
        check_constraints(&p, &c);
    }
    let (p, c) = small();
    check_constraints(p, c);
}

// --- references ---------------------------------------------------------------------------

fn check_references(c: &ClinicData) {
    let users: BTreeMap<Uuid, &str> = c.users.iter().map(|u| (u.id, u.role)).collect();
    let patients: BTreeSet<Uuid> = c.patients.iter().map(|p| p.id).collect();
    let appts: BTreeMap<Uuid, _> = c.appointments.iter().map(|a| (a.id, a)).collect();
    let encs: BTreeMap<Uuid, _> = c.encounters.iter().map(|e| (e.id, e)).collect();
    let rx: BTreeSet<Uuid> = c.prescriptions.iter().map(|r| r.id).collect();
    let orders: BTreeSet<Uuid> = c.orders.iter().map(|o| o.id).collect();
    let items: BTreeSet<Uuid> = c.order_items.iter().map(|i| i.id).collect();
    let doctor = |id: &Uuid| users.get(id) == Some(&"doctor");
    for p in &c.patients {
        assert!(doctor(&p.primary_doctor_id.unwrap()));
    }
    for a in &c.appointments {
        assert!(patients.contains(&a.patient_id) && doctor(&a.doctor_id));
        assert!(a.created_by.map_or(true, |u| users.contains_key(&u)));
    }
    let mut seen_appt = BTreeSet::new();
    for e in &c.encounters {
        assert!(patients.contains(&e.patient_id) && doctor(&e.doctor_id));
        if let Some(aid) = e.appointment_id {
            assert!(seen_appt.insert(aid), "two encounters for one appointment");
            let a = appts.get(&aid).expect("appointment exists");
            assert_eq!((a.patient_id, a.doctor_id), (e.patient_id, e.doctor_id));
            assert!(e.start_time >= a.start_time, "encounter before appointment");
            assert!(matches!(a.status, "completed" | "in_progress"));
            assert_eq!(a.status == "in_progress", e.status == "in_progress");
        } else {
            assert_eq!(e.encounter_type, "walk_in");
        }
    }
    // Nothing happens to a patient before registration.
    let registered: BTreeMap<Uuid, NaiveDateTime> =
        c.patients.iter().map(|p| (p.id, p.created_at)).collect();
    for a in &c.appointments {
        assert!(
            a.booked_at >= registered[&a.patient_id],
            "booked before registration"
        );
    }
    for e in &c.encounters {
        assert!(e.start_time >= registered[&e.patient_id]);
    }
    // Every attended appointment has its encounter.
    for a in &c.appointments {
        if matches!(a.status, "completed" | "in_progress") {
            assert!(
                seen_appt.contains(&a.id),
                "completed appointment without encounter"
            );
        }
    }
    for r in &c.prescriptions {
        let e = encs.get(&r.encounter_id).expect("encounter");
        assert_eq!((r.patient_id, r.doctor_id), (e.patient_id, e.doctor_id));
        assert!(r.prescribed_at >= e.start_time);
    }
    for i in &c.prescription_items {
        assert!(rx.contains(&i.prescription_id));
    }
    for o in &c.orders {
        let e = encs.get(&o.encounter_id).expect("encounter");
        assert_eq!((o.patient_id, o.doctor_id), (e.patient_id, e.doctor_id));
    }
    for i in &c.order_items {
        assert!(orders.contains(&i.order_id));
    }
    for t in &c.tasks {
        assert!(users.contains_key(&t.assigned_to));
        assert!(t.created_by.map_or(true, |u| users.contains_key(&u)));
        assert!(t.patient_id.map_or(true, |p| patients.contains(&p)));
        assert!(t.encounter_id.map_or(true, |e| encs.contains_key(&e)));
    }
    for a in &c.alerts {
        assert!(users.contains_key(&a.recipient_id));
        assert!(a.patient_id.map_or(true, |p| patients.contains(&p)));
        assert!(a.order_item_id.map_or(true, |i| items.contains(&i)));
        assert!(a.acknowledged_by.map_or(true, |u| users.contains_key(&u)));
    }
    let mut noted = BTreeSet::new();
    for n in &c.clinical_notes {
        let e = encs
            .get(&n.encounter_id)
            .expect("note references an existing encounter");
        assert!(noted.insert(n.encounter_id), "one note per encounter");
        assert_eq!((n.patient_id, n.doctor_id), (e.patient_id, e.doctor_id));
    }
    assert_eq!(
        noted.len(),
        c.encounters.len(),
        "every encounter has a note"
    );
    for v in &c.voice_recordings {
        let e = encs
            .get(&v.encounter_id)
            .expect("recording references an encounter");
        assert_eq!((v.patient_id, v.doctor_id), (e.patient_id, e.doctor_id));
    }
}

#[test]
fn references_point_inside_the_clinic() {
    for i in 0..3 {
        check_references(&tiny(i).1);
    }
    check_references(&small().1);
}

// --- notes ----------------------------------------------------------------------------------

#[test]
fn notes_agree_with_encounters_and_age() {
    let (p, c) = small();
    let now = now(p);
    let encs: BTreeMap<Uuid, _> = c.encounters.iter().map(|e| (e.id, e)).collect();
    let mut rx_drugs: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    let rx_enc: BTreeMap<Uuid, Uuid> = c
        .prescriptions
        .iter()
        .map(|r| (r.id, r.encounter_id))
        .collect();
    for i in &c.prescription_items {
        rx_drugs
            .entry(rx_enc[&i.prescription_id])
            .or_default()
            .push(i.drug_name.clone());
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut recent_drafts = 0;
    let mut recent = 0;
    for n in &c.clinical_notes {
        let e = encs[&n.encounter_id];
        *counts.entry(n.status).or_default() += 1;
        assert!(["draft", "signed", "amended"].contains(&n.status));
        assert!([
            "soap",
            "progress",
            "procedure",
            "discharge",
            "referral",
            "consultation"
        ]
        .contains(&n.note_type));
        assert!((0.0..=1.0).contains(&n.ai_confidence_score));
        assert_eq!(Some(&n.content.chief_complaint), e.chief_complaint.as_ref());
        let codes: Vec<&String> = n.content.diagnoses.iter().map(|d| &d.0).collect();
        assert_eq!(codes, e.diagnosis_codes.iter().collect::<Vec<_>>());
        assert!(n.ai_summary.contains(&e.diagnosis_codes[0]));
        let drugs = rx_drugs.get(&e.id).cloned().unwrap_or_default();
        assert_eq!(n.content.plan_medications.len(), drugs.len());
        for (line, d) in n.content.plan_medications.iter().zip(&drugs) {
            assert!(line.starts_with(d.as_str()), "{line} vs {d}");
            assert!(n.raw_transcription.contains(d.as_str()));
        }
        assert!(!n.raw_transcription.is_empty() && !n.ai_summary.is_empty() && !n.tags.is_empty());
        match n.status {
            "signed" | "amended" => {
                let s = n.signed_at.unwrap();
                assert!(s >= e.end_time.unwrap() && s <= now);
                assert_eq!(n.signed_by, Some(e.doctor_id));
            }
            _ => assert!(n.signed_at.is_none() && n.signed_by.is_none()),
        }
        if n.status == "amended" {
            assert!(n.updated_at > n.signed_at.unwrap());
        }
        assert!(n.created_at <= n.updated_at && n.updated_at <= now);
        if e.end_time.map_or(true, |t| now - t < Duration::hours(48)) {
            recent += 1;
            recent_drafts += usize::from(n.status == "draft");
        }
    }
    assert!(
        recent > 0 && recent_drafts * 2 >= recent,
        "recent notes mostly drafts"
    );
    let total = c.clinical_notes.len();
    assert!(counts["signed"] * 10 > total * 8, "{counts:?}");
    assert!(
        counts["amended"] > 0 && counts["amended"] * 10 < total,
        "{counts:?}"
    );
}

#[test]
fn note_length_scales_transcriptions() {
    let mut p = params("tiny", 1);
    let base: usize = generate_clinic(&p, 0)
        .clinical_notes
        .iter()
        .map(|n| n.raw_transcription.len())
        .sum();
    p.shape.note_length = 3.0;
    let long: usize = generate_clinic(&p, 0)
        .clinical_notes
        .iter()
        .map(|n| n.raw_transcription.len())
        .sum();
    assert!(long as f64 > base as f64 * 2.3, "{base} -> {long}");
}

// --- voice ------------------------------------------------------------------------------------

#[test]
fn voice_recordings_follow_share_and_visit_length() {
    let (p, c) = small();
    let ended = c.encounters.iter().filter(|e| e.end_time.is_some()).count();
    let share = c.voice_recordings.len() as f64 / ended as f64;
    assert!((share - p.shape.voice_share).abs() < 0.05, "{share}");
    let encs: BTreeMap<Uuid, _> = c.encounters.iter().map(|e| (e.id, e)).collect();
    for v in &c.voice_recordings {
        let e = encs[&v.encounter_id];
        let visit = (e.end_time.unwrap() - e.start_time).num_seconds().max(60) as f64;
        assert!(f64::from(v.duration_seconds) <= visit * p.shape.voice_length_factor + 1.0);
        assert!(f64::from(v.duration_seconds) >= visit * p.shape.voice_length_factor * 0.8 - 1.0);
        assert_eq!(
            audio::wav_len(v),
            44 + v.duration_seconds as usize * v.sample_rate_hz as usize * 2
        );
    }
    let r = &c.voice_recordings[0];
    assert_eq!(audio::wav_bytes(r).len(), audio::wav_len(r));
    let mut none = p.clone();
    none.shape.voice_share = 0.0;
    assert!(generate_clinic(&none, 0).voice_recordings.is_empty());
}

// --- realism bands (clinic-realism.md) ---------------------------------------------------------

#[test]
fn no_show_rate_near_published_mean() {
    let (_, c) = small();
    let count = |s: &str| c.appointments.iter().filter(|a| a.status == s).count() as f64;
    let rate = count("no_show") / (count("no_show") + count("completed"));
    assert!((0.18..=0.28).contains(&rate), "no-show rate {rate}");
    let cancel = count("cancelled") / c.appointments.len() as f64;
    assert!((0.04..=0.12).contains(&cancel), "cancel rate {cancel}");
}

#[test]
fn no_shows_rise_with_lead_time() {
    let (_, c) = small();
    let rate = |short: bool| {
        let v: Vec<_> = c
            .appointments
            .iter()
            .filter(|a| matches!(a.status, "completed" | "no_show"))
            .filter(|a| ((a.start_time - a.booked_at).num_days() < 7) == short)
            .collect();
        v.iter().filter(|a| a.status == "no_show").count() as f64 / v.len() as f64
    };
    assert!(
        rate(false) > rate(true) + 0.05,
        "short {} long {}",
        rate(true),
        rate(false)
    );
}

#[test]
fn visit_skew_matches_published_figures() {
    let (p, c) = small();
    let year_ago = now(p) - Duration::days(365);
    let mut visits: BTreeMap<Uuid, usize> = c.patients.iter().map(|p| (p.id, 0)).collect();
    for e in &c.encounters {
        if e.start_time >= year_ago {
            *visits.get_mut(&e.patient_id).unwrap() += 1;
        }
    }
    let n = visits.len() as f64;
    let zero = visits.values().filter(|&&v| v == 0).count() as f64 / n;
    assert!(
        (0.17..=0.32).contains(&zero),
        "patients without a visit in a year: {zero}"
    );
    let mut counts: Vec<usize> = visits.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: usize = counts.iter().sum();
    let mean = total as f64 / n;
    assert!(
        (2.3..=3.9).contains(&mean),
        "visits per patient-year {mean}"
    );
    let top10: usize = counts[..counts.len() / 10].iter().sum();
    let share = top10 as f64 / total as f64;
    assert!((0.28..=0.55).contains(&share), "top 10% share {share}");
}

#[test]
fn visit_products_match_published_figures() {
    let (_, c) = small();
    let enc = c
        .encounters
        .iter()
        .filter(|e| e.status == "completed")
        .count() as f64;
    let rx_share = c.prescriptions.len() as f64 / enc;
    assert!((0.64..=0.77).contains(&rx_share), "rx share {rx_share}");
    let per_rx = c.prescription_items.len() as f64 / c.prescriptions.len() as f64;
    assert!(
        (1.8..=2.4).contains(&per_rx),
        "items per prescription {per_rx}"
    );
    let labs = c
        .order_items
        .iter()
        .filter(|i| i.code_system == "LOINC")
        .count() as f64
        / enc;
    assert!((0.2..=0.36).contains(&labs), "lab tests per visit {labs}");
    assert!(c.order_items.iter().any(|i| i.code_system == "CPT"));
    assert!(c
        .order_items
        .iter()
        .any(|i| matches!(i.abnormal_flag, Some("high" | "low"))));
    assert!(c
        .order_items
        .iter()
        .any(|i| i.abnormal_flag == Some("critical")));
    assert!(c.order_items.iter().any(|i| i.status == "pending"));
    assert!(c.alerts.iter().any(|a| a.alert_type == "critical_result"));
    assert!(c.tasks.iter().any(|t| t.task_type == "review_result"));
    let walk_ins = c
        .encounters
        .iter()
        .filter(|e| e.appointment_id.is_none())
        .count();
    assert!(walk_ins > 0 && (walk_ins as f64) < enc * 0.15);
}

#[test]
fn today_exists_and_statuses_follow_time() {
    let (p, c) = small();
    let now = now(p);
    let today: Vec<_> = c
        .appointments
        .iter()
        .filter(|a| a.start_time.date() == p.as_of)
        .collect();
    assert!(today.len() >= 5, "today's appointments: {}", today.len());
    assert!(today.iter().any(|a| a.start_time < now));
    assert!(today.iter().any(|a| a.start_time > now));
    let future: Vec<_> = c
        .appointments
        .iter()
        .filter(|a| a.start_time > now)
        .collect();
    assert!(future.iter().all(|a| matches!(
        a.status,
        "scheduled" | "confirmed" | "checked_in" | "cancelled"
    )));
    assert!(
        future.iter().any(|a| a.status == "scheduled")
            && future.iter().any(|a| a.status == "confirmed")
    );
    let last = c.appointments.iter().map(|a| a.start_time).max().unwrap();
    assert!(
        last.date() > p.as_of + Duration::days(7),
        "bookings reach into the future"
    );
    // Every doctor has open work and unread alerts on the dashboard.
    for u in c.users.iter().filter(|u| u.role == "doctor") {
        let pending = c
            .tasks
            .iter()
            .filter(|t| t.assigned_to == u.id && t.status == "pending")
            .count();
        let unread = c
            .alerts
            .iter()
            .filter(|a| a.recipient_id == u.id && !a.is_read)
            .count();
        assert!(pending >= 2, "{} pending tasks", pending);
        assert!(unread >= 1, "{} unread alerts", unread);
        let recent_pending = c.tasks.iter().any(|t| {
            t.assigned_to == u.id
                && t.status == "pending"
                && t.due_date
                    .is_some_and(|d| (d - p.as_of).num_days().abs() <= 10)
        });
        assert!(recent_pending, "pending task due around the as-of date");
    }
}

#[test]
fn tiny_profile_has_every_table() {
    let (p, c) = tiny(0);
    assert_eq!(c.users.len(), 5);
    assert_eq!(c.patients.len(), 60);
    assert_eq!(p.shape.doctors, 2);
    assert!(!c.appointments.is_empty() && !c.encounters.is_empty());
    assert!(!c.clinical_notes.is_empty() && !c.tasks.is_empty() && !c.alerts.is_empty());
    assert!(!c.prescriptions.is_empty());
}

// --- profiles, plan, fingerprint --------------------------------------------------------------

#[test]
fn profiles_exist_and_grow() {
    let shapes: Vec<_> = PROFILES.iter().map(|n| profile(n).unwrap()).collect();
    for w in shapes.windows(2) {
        assert!(w[1].patients > w[0].patients && w[1].doctors >= w[0].doctors);
    }
    assert!(profile("huge").is_none());
    let t = profile("tiny").unwrap();
    assert_eq!(
        (t.doctors, t.patients, t.history_days, t.future_days),
        (2, 60, 30, 7)
    );
}

#[test]
fn plan_is_exact_for_small_seeds() {
    let p = params("tiny", 7);
    let clinics: Vec<ClinicData> = (0..7).map(|i| generate_clinic(&p, i)).collect();
    let total = |f: &dyn Fn(&ClinicData) -> usize| clinics.iter().map(f).sum::<usize>() as u64;
    let plan = plan(&p);
    assert!(plan.exact);
    assert_eq!(plan.entry("users").unwrap().rows, total(&|c| c.users.len()));
    assert_eq!(plan.entry("patients").unwrap().rows, 7 * 60);
    assert_eq!(
        plan.entry("appointments").unwrap().rows,
        total(&|c| c.appointments.len())
    );
    assert_eq!(
        plan.entry("order_items").unwrap().rows,
        total(&|c| c.order_items.len())
    );
    assert_eq!(
        plan.entry("alerts").unwrap().rows,
        total(&|c| c.alerts.len())
    );
    assert_eq!(
        plan.entry("clinicalNotes").unwrap().rows,
        total(&|c| c.clinical_notes.len())
    );
    assert_eq!(
        plan.entry("voiceRecordings").unwrap().rows,
        total(&|c| c.voice_recordings.len())
    );
    let gridfs: u64 = clinics
        .iter()
        .flat_map(|c| &c.voice_recordings)
        .map(|v| audio::wav_len(v) as u64)
        .sum();
    assert!(plan.entry("fs.chunks").unwrap().bytes >= gridfs);
    assert!(plan
        .entries
        .iter()
        .all(|e| e.rows == 0 || e.bytes > e.rows * 20));
    let text = plan.to_string();
    for name in [
        "users",
        "order_items",
        "clinicalNotes",
        "fs.chunks",
        "total",
    ] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains(&plan.fingerprint));
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains("\"rows\""));
}

#[test]
fn fingerprint_tracks_params_and_version() {
    let p = params("tiny", 1);
    let f = fingerprint(&p);
    assert_eq!(f, fingerprint(&p.clone()));
    assert_eq!(f.len(), 16);
    assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
    let mut q = p.clone();
    q.seed += 1;
    assert_ne!(f, fingerprint(&q));
    let mut q = p.clone();
    q.shape.voice_share = 0.5;
    assert_ne!(f, fingerprint(&q));
    assert!(!GENERATOR_VERSION.is_empty());
}

#[test]
fn timestamps_do_not_depend_on_the_wall_clock() {
    // Pinned as-of far in the past: every created/updated time lies before its noon.
    let mut p = params("tiny", 1);
    p.as_of = NaiveDate::from_ymd_opt(2001, 3, 7).unwrap();
    let c = generate_clinic(&p, 0);
    let now = now(&p);
    check_constraints(&p, &c);
    assert!(c.users.iter().all(|u| u.created_at <= now));
    assert!(c.clinical_notes.iter().all(|n| n.updated_at <= now));
    assert!(c
        .appointments
        .iter()
        .all(|a| a.start_time.date() >= p.as_of - Duration::days(30)));
}

#[test]
fn some_doctors_are_busier() {
    let (_, c) = small();
    let mut per: BTreeMap<Uuid, usize> = BTreeMap::new();
    for a in &c.appointments {
        *per.entry(a.doctor_id).or_default() += 1;
    }
    assert_eq!(per.len(), 5, "every doctor has appointments");
    let max = *per.values().max().unwrap() as f64;
    let min = *per.values().min().unwrap() as f64;
    assert!(max > 1.5 * min, "doctor loads {per:?}");
}

#[test]
fn every_id_in_a_clinic_is_unique() {
    let (_, c) = small();
    let ids: Vec<Uuid> = c
        .users
        .iter()
        .map(|x| x.id)
        .chain(c.patients.iter().map(|x| x.id))
        .chain(c.appointments.iter().map(|x| x.id))
        .chain(c.encounters.iter().map(|x| x.id))
        .chain(c.prescriptions.iter().map(|x| x.id))
        .chain(c.prescription_items.iter().map(|x| x.id))
        .chain(c.orders.iter().map(|x| x.id))
        .chain(c.order_items.iter().map(|x| x.id))
        .chain(c.tasks.iter().map(|x| x.id))
        .chain(c.alerts.iter().map(|x| x.id))
        .chain(c.clinical_notes.iter().map(|x| x.id))
        .chain(c.voice_recordings.iter().map(|x| x.id))
        .collect();
    let set: BTreeSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len());
    let files: BTreeSet<&str> = c
        .voice_recordings
        .iter()
        .map(|v| v.filename.as_str())
        .collect();
    assert_eq!(files.len(), c.voice_recordings.len());
}

#[test]
fn plan_estimates_large_seeds_from_samples() {
    let p = params("tiny", 1000);
    let plan = plan(&p);
    assert!(!plan.exact);
    assert_eq!(plan.entry("patients").unwrap().rows, 60_000);
    assert_eq!(plan.entry("users").unwrap().rows, 5_000);
    let one = generate_clinic(&p, 0).appointments.len() as f64 * 1000.0;
    let est = plan.entry("appointments").unwrap().rows as f64;
    assert!((est / one - 1.0).abs() < 0.5, "{est} vs {one}");
    assert!(plan.to_string().contains("estimated"));
}

/// Guards dataset identity: any change to what the generator produces for the same params
/// changes this digest. If it fails on purpose, bump GENERATOR_VERSION (so fingerprints of
/// old datasets no longer match) and update the expected value.
#[test]
fn generated_data_is_pinned_to_the_generator_version() {
    use sha2::{Digest, Sha256};
    let (_, c) = tiny(0);
    let digest = hex::encode(&Sha256::digest(format!("{c:?}").as_bytes())[..8]);
    let expected = "e98a255641b766c0";
    assert_eq!(
        (GENERATOR_VERSION, digest.as_str()),
        ("gen-2", expected),
        "generated data changed: bump GENERATOR_VERSION and update the pinned digest"
    );
}

/// `seed --postgres-only` generates without documents: its rows must be exactly those of a
/// full generation, or a PostgreSQL-only dataset would differ from the full one's tables.
#[test]
fn tables_only_generation_gives_the_same_rows() {
    let (p, full) = tiny(3);
    let mut tables = clinicload::generate::generate_clinic_tables(&p, 3);
    assert!(tables.clinical_notes.is_empty() && tables.voice_recordings.is_empty());
    assert!(
        !full.clinical_notes.is_empty(),
        "the full clinic has notes to leave out"
    );
    tables.clinical_notes = full.clinical_notes.clone();
    tables.voice_recordings = full.voice_recordings.clone();
    assert_eq!(tables, full);
}
