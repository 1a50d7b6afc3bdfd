//! What a seed would write. Small seeds (up to `EXACT_PATIENTS` patients in all) are
//! generated and measured clinic by clinic, so the plan's row counts are exact and a test
//! can compare a seeded database with them. Larger seeds are estimated without generating
//! everything: up to four clinics spread over the range are measured and the mean scaled by
//! the number of clinics (clinics share a shape and differ only in their random draws, so
//! per-clinic counts vary by a few percent); users and patients stay exact. Bytes approximate the stored size: PostgreSQL heap tuples (24-byte header plus
//! 4-byte line pointer plus column data) and MongoDB BSON documents; GridFS counts the WAV
//! bytes plus per-chunk and per-file overhead. Indexes are not included.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{audio, fingerprint, generate_clinic, SeedParams};
use crate::model::*;

/// One table or collection of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// "postgres", "mongodb" or "gridfs".
    pub store: String,
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Rows and approximate bytes per table and collection for a whole seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub fingerprint: String,
    pub clinics: u32,
    /// True when every clinic was generated and the row counts are exact.
    pub exact: bool,
    pub entries: Vec<PlanEntry>,
}

impl Plan {
    pub fn total_rows(&self) -> u64 {
        self.entries.iter().map(|e| e.rows).sum()
    }
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum()
    }
    pub fn entry(&self, name: &str) -> Option<&PlanEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan for {} clinic(s), dataset fingerprint {} ({})",
            self.clinics,
            self.fingerprint,
            if self.exact {
                "exact row counts"
            } else {
                "estimated from sampled clinics"
            }
        )?;
        writeln!(
            f,
            "{:<9} {:<20} {:>14} {:>12}",
            "store", "table", "rows", "approx size"
        )?;
        for e in &self.entries {
            writeln!(
                f,
                "{:<9} {:<20} {:>14} {:>12}",
                e.store,
                e.name,
                e.rows,
                human(e.bytes)
            )?;
        }
        write!(
            f,
            "{:<9} {:<20} {:>14} {:>12}",
            "total",
            "",
            self.total_rows(),
            human(self.total_bytes())
        )
    }
}

// --- PostgreSQL sizes: column data as stored (varlena short header 1 byte) ---------------

const TUPLE: usize = 28;
const UUID: usize = 16;
const TS: usize = 8;

fn text(s: &str) -> usize {
    s.len() + 1
}
fn opt_text(s: &Option<String>) -> usize {
    s.as_deref().map_or(0, text)
}
fn jsonb(v: &Json) -> usize {
    // jsonb stores keys and values with headers; the compact text is a fair estimate.
    v.to_string().len() + 4
}
fn opt_jsonb(v: &Option<Json>) -> usize {
    v.as_ref().map_or(0, jsonb)
}
fn opt<T>(v: &Option<T>, n: usize) -> usize {
    v.as_ref().map_or(0, |_| n)
}

fn user(r: &User) -> usize {
    TUPLE
        + UUID
        + text(&r.username)
        + text(&r.email)
        + text(&r.full_name)
        + text(r.role)
        + r.specialty.map_or(0, text)
        + opt_text(&r.phone)
        + opt_text(&r.profile_image_url)
        + text(&r.password_hash)
        + 2 * TS
        + opt(&r.last_login_at, TS)
        + text(r.status)
        + opt_jsonb(&r.preferences)
}

fn patient(r: &Patient) -> usize {
    TUPLE
        + UUID
        + text(&r.mrn)
        + text(&r.first_name)
        + text(&r.last_name)
        + 4
        + text(r.sex)
        + opt_text(&r.phone)
        + opt_text(&r.email)
        + opt_jsonb(&r.address)
        + opt_jsonb(&r.emergency_contact)
        + opt_text(&r.insurance_provider)
        + opt_text(&r.insurance_policy_number)
        + r.blood_type.map_or(0, text)
        + jsonb(&r.allergies)
        + jsonb(&r.chronic_conditions)
        + opt(&r.primary_doctor_id, UUID)
        + text(r.status)
        + 2 * TS
}

fn appointment(r: &Appointment) -> usize {
    TUPLE
        + 3 * UUID
        + text(&r.patient_name)
        + 2 * TS
        + text(r.status)
        + text(r.appointment_type)
        + opt_text(&r.reason)
        + opt_text(&r.notes)
        + TS
        + opt(&r.checked_in_at, TS)
        + opt(&r.cancelled_at, TS)
        + opt_text(&r.cancellation_reason)
        + opt(&r.created_by, UUID)
        + 2 * TS
}

fn encounter(r: &Encounter) -> usize {
    TUPLE
        + 3 * UUID
        + opt(&r.appointment_id, UUID)
        + text(r.encounter_type)
        + text(r.status)
        + TS
        + opt(&r.end_time, TS)
        + opt_text(&r.chief_complaint)
        + 24
        + r.diagnosis_codes.iter().map(|c| c.len() + 4).sum::<usize>()
        + opt_jsonb(&r.vitals)
        + 2 * TS
}

fn prescription(r: &Prescription) -> usize {
    TUPLE + 4 * UUID + text(r.status) + TS + opt_text(&r.notes) + 2 * TS
}

fn prescription_item(r: &PrescriptionItem) -> usize {
    TUPLE
        + 2 * UUID
        + text(&r.drug_name)
        + text(&r.dose)
        + text(r.route)
        + text(&r.frequency)
        + opt(&r.duration_days, 4)
        + 8
        + opt_text(&r.instructions)
        + 2 * TS
}

fn order(r: &Order) -> usize {
    TUPLE
        + 4 * UUID
        + text(r.order_type)
        + text(r.status)
        + text(r.priority)
        + TS
        + opt(&r.completed_at, TS)
        + opt_text(&r.notes)
        + 2 * TS
}

fn order_item(r: &OrderItem) -> usize {
    TUPLE
        + 2 * UUID
        + text(&r.code)
        + text(r.code_system)
        + text(&r.description)
        + text(r.status)
        + opt_text(&r.result_value)
        + opt_text(&r.result_unit)
        + opt_text(&r.reference_range)
        + r.abnormal_flag.map_or(0, text)
        + opt(&r.resulted_at, TS)
        + 2 * TS
}

fn task(r: &Task) -> usize {
    TUPLE
        + UUID
        + opt(&r.created_by, UUID)
        + opt(&r.patient_id, UUID)
        + opt(&r.encounter_id, UUID)
        + text(r.task_type)
        + text(&r.title)
        + opt_text(&r.description)
        + 2
        + text(r.status)
        + opt(&r.due_date, 4)
        + opt(&r.completed_at, TS)
        + 2 * TS
}

fn alert(r: &Alert) -> usize {
    TUPLE
        + UUID
        + opt(&r.patient_id, UUID)
        + opt(&r.order_item_id, UUID)
        + text(r.alert_type)
        + text(r.severity)
        + text(&r.title)
        + text(&r.message)
        + 1
        + opt(&r.read_at, TS)
        + opt(&r.acknowledged_at, TS)
        + opt(&r.acknowledged_by, UUID)
        + 2 * TS
}

// --- MongoDB sizes: BSON (type byte + key + value; strings 4+len+1; UUIDs as strings) ----

fn bstr(key: &str, s: &str) -> usize {
    1 + key.len() + 1 + 4 + s.len() + 1
}
const BUUID_STR: usize = 4 + 36 + 1;

fn note(n: &ClinicalNote) -> usize {
    let c = &n.content;
    let subjective = bstr("chiefComplaint", &c.chief_complaint)
        + bstr("historyOfPresentIllness", &c.history_of_present_illness)
        + c.review_of_systems
            .iter()
            .map(|(k, v)| bstr(k, v))
            .sum::<usize>()
        + 25
        + bstr("pastMedicalHistory", &c.past_medical_history)
        + bstr("medications", &c.medications)
        + bstr("allergies", &c.allergies)
        + bstr("familyHistory", &c.family_history)
        + bstr("socialHistory", &c.social_history);
    let objective = bstr("vitalSigns", &c.vital_signs) + bstr("physicalExam", &c.physical_exam);
    let assessment = bstr("clinicalImpression", &c.clinical_impression)
        + c.diagnoses
            .iter()
            .map(|(code, d)| 30 + bstr("code", code) + bstr("description", d))
            .sum::<usize>();
    let plan = c
        .plan_medications
        .iter()
        .chain(&c.plan_orders)
        .map(|s| bstr("0", s))
        .sum::<usize>()
        + bstr("patientEducation", &c.patient_education)
        + bstr("followUp", &c.follow_up)
        + 40;
    5 + 4 * (7 + BUUID_STR + 12)
        + bstr("status", n.status)
        + bstr("noteType", n.note_type)
        + subjective
        + objective
        + assessment
        + plan
        + 60
        + bstr("rawTranscription", &n.raw_transcription)
        + bstr("aiSummary", &n.ai_summary)
        + 28
        + opt(&n.signed_by, 10 + BUUID_STR)
        + opt(&n.signed_at, 18)
        + n.tags.iter().map(|t| bstr("0", t)).sum::<usize>()
        + 10
        + 2 * 19
}

fn voice(v: &VoiceRecording) -> usize {
    5 + 4 * (13 + BUUID_STR) + bstr("filename", &v.filename) + 3 * 20 + 19 + 20
}

/// GridFS: 255 kB chunks, each a document with _id, files_id, n and the binary data; one
/// fs.files document per file.
pub const GRIDFS_CHUNK: usize = 255 * 1024;

fn gridfs(v: &VoiceRecording) -> (u64, u64, u64) {
    let len = audio::wav_len(v);
    let chunks = len.div_ceil(GRIDFS_CHUNK).max(1);
    let chunk_bytes = len + chunks * 62;
    (
        chunks as u64,
        chunk_bytes as u64,
        160 + v.filename.len() as u64,
    )
}

fn sum<T>(rows: &[T], f: impl Fn(&T) -> usize) -> u64 {
    rows.iter().map(|r| f(r) as u64).sum()
}

/// Measures one generated clinic: (store, name, rows, bytes) for each table and collection.
pub fn measure(c: &ClinicData) -> Vec<PlanEntry> {
    let pg = |name: &str, rows: usize, bytes: u64| PlanEntry {
        store: "postgres".into(),
        name: name.into(),
        rows: rows as u64,
        bytes,
    };
    let (mut chunks, mut chunk_bytes, mut file_bytes) = (0u64, 0u64, 0u64);
    for v in &c.voice_recordings {
        let (n, b, f) = gridfs(v);
        chunks += n;
        chunk_bytes += b;
        file_bytes += f;
    }
    vec![
        pg("users", c.users.len(), sum(&c.users, user)),
        pg("patients", c.patients.len(), sum(&c.patients, patient)),
        pg(
            "appointments",
            c.appointments.len(),
            sum(&c.appointments, appointment),
        ),
        pg(
            "encounters",
            c.encounters.len(),
            sum(&c.encounters, encounter),
        ),
        pg(
            "prescriptions",
            c.prescriptions.len(),
            sum(&c.prescriptions, prescription),
        ),
        pg(
            "prescription_items",
            c.prescription_items.len(),
            sum(&c.prescription_items, prescription_item),
        ),
        pg("orders", c.orders.len(), sum(&c.orders, order)),
        pg(
            "order_items",
            c.order_items.len(),
            sum(&c.order_items, order_item),
        ),
        pg("tasks", c.tasks.len(), sum(&c.tasks, task)),
        pg("alerts", c.alerts.len(), sum(&c.alerts, alert)),
        PlanEntry {
            store: "mongodb".into(),
            name: "clinicalNotes".into(),
            rows: c.clinical_notes.len() as u64,
            bytes: sum(&c.clinical_notes, note),
        },
        PlanEntry {
            store: "mongodb".into(),
            name: "voiceRecordings".into(),
            rows: c.voice_recordings.len() as u64,
            bytes: sum(&c.voice_recordings, voice),
        },
        PlanEntry {
            store: "gridfs".into(),
            name: "fs.files".into(),
            rows: c.voice_recordings.len() as u64,
            bytes: file_bytes,
        },
        PlanEntry {
            store: "gridfs".into(),
            name: "fs.chunks".into(),
            rows: chunks,
            bytes: chunk_bytes,
        },
    ]
}

/// Seeds with at most this many patients in all are planned exactly.
pub const EXACT_PATIENTS: u64 = 20_000;

fn add(into: &mut Vec<PlanEntry>, from: Vec<PlanEntry>) {
    if into.is_empty() {
        *into = from;
    } else {
        for (a, b) in into.iter_mut().zip(from) {
            a.rows += b.rows;
            a.bytes += b.bytes;
        }
    }
}

/// The plan of a whole seed: exact for small seeds, sampled and scaled otherwise.
pub fn plan(params: &SeedParams) -> Plan {
    let n = params.clinics;
    let total_patients = u64::from(n) * u64::from(params.shape.patients);
    let exact = total_patients <= EXACT_PATIENTS;
    let sample: Vec<u32> = if exact {
        (0..n).collect()
    } else {
        let mut s: Vec<u32> = (0..4u32)
            .map(|k| (u64::from(n - 1) * u64::from(k) / 3) as u32)
            .collect();
        s.dedup();
        s
    };
    let mut sum = Vec::new();
    for &i in &sample {
        add(&mut sum, measure(&generate_clinic(params, i)));
    }
    if sum.is_empty() {
        sum = measure(&ClinicData::default());
    }
    let k = sample.len().max(1) as u64;
    let entries = sum
        .into_iter()
        .map(|mut e| {
            if !exact {
                e.rows = e.rows * u64::from(n) / k;
                e.bytes = e.bytes * u64::from(n) / k;
            }
            e
        })
        .collect();
    Plan {
        fingerprint: fingerprint(params),
        clinics: n,
        exact,
        entries,
    }
}

/// The checked range of every seed parameter. Generation holds one whole clinic in memory, so
/// besides each parameter's own range the estimated size of one clinic is bounded too: scale
/// comes from `--clinics`, not from a giant clinic.
pub mod bounds {
    pub const CLINICS: (u32, u32) = (1, 1_000_000);
    pub const DOCTORS: (u32, u32) = (1, 1_000);
    /// Nurses, receptionists and admins each.
    pub const STAFF: (u32, u32) = (0, 1_000);
    pub const PATIENTS: (u32, u32) = (1, 500_000);
    pub const HISTORY_DAYS: (u32, u32) = (0, 3_650);
    pub const FUTURE_DAYS: (u32, u32) = (0, 730);
    pub const NOTE_LENGTH: (f64, f64) = (0.01, 20.0);
    /// Years of `--as-of`.
    pub const AS_OF_YEARS: (i32, i32) = (1900, 2200);
    /// Estimated memory of one clinic while it is generated and encoded.
    pub const CLINIC_BYTES: u64 = 4_000_000_000;
}

/// Rough memory one clinic takes while it is generated and encoded: its appointments (about
/// four a patient-year with no-shows and cancellations, about 1 kB of rows each plus a note of
/// about 9 kB at `note_length` 1.0), held as model structs and as encoded bytes, and the
/// doctors' calendars. A small clinic comes to about 0.2 GB.
pub fn clinic_memory_estimate(shape: &super::ClinicShape) -> u64 {
    let days = u64::from(shape.history_days) + 1 + u64::from(shape.future_days);
    let appointments = u64::from(shape.patients) * days * 4 / 365 + 1;
    let per_appointment = 1_000.0 + 9_000.0 * shape.note_length.max(0.0);
    let calendars = u64::from(shape.doctors) * days * 200;
    (appointments as f64 * per_appointment * 3.0) as u64 + calendars
}

/// Checks every parameter against [`bounds`]; the error names the flag, the range and why.
pub fn check_bounds(params: &SeedParams) -> Result<(), String> {
    use bounds::*;
    let s = &params.shape;
    let range = |flag: &str, v: u32, (lo, hi): (u32, u32), why: &str| {
        if v < lo || v > hi {
            Err(format!(
                "--{flag} {v} is out of range: it must be between {lo} and {hi}{why}"
            ))
        } else {
            Ok(())
        }
    };
    range(
        "clinics",
        params.clinics,
        CLINICS,
        " (scale is the number of clinics; more than that, split the dataset over databases)",
    )?;
    range(
        "doctors",
        s.doctors,
        DOCTORS,
        " per clinic (appointments need a doctor)",
    )?;
    range("nurses", s.nurses, STAFF, " per clinic")?;
    range("receptionists", s.receptionists, STAFF, " per clinic")?;
    range("admins", s.admins, STAFF, " per clinic")?;
    range("patients", s.patients, PATIENTS, " per clinic")?;
    range("history-days", s.history_days, HISTORY_DAYS, " (ten years)")?;
    range(
        "future-days",
        s.future_days,
        FUTURE_DAYS,
        " (two years of bookings)",
    )?;
    let (lo, hi) = NOTE_LENGTH;
    if !(s.note_length >= lo && s.note_length <= hi) {
        return Err(format!(
            "--note-length {} is out of range: it must be a multiplier between {lo} and {hi} \
             (1.0 = typical note length)",
            s.note_length
        ));
    }
    if !(0.0..=1.0).contains(&s.voice_share) {
        return Err(format!(
            "--voice-share {} is out of range: it must be between 0 and 1 (a share of encounters)",
            s.voice_share
        ));
    }
    if !(s.voice_length_factor > 0.0 && s.voice_length_factor <= 1.0) {
        return Err(format!(
            "--voice-length {} is out of range: it must be above 0 and at most 1 (a share of \
             the visit's length)",
            s.voice_length_factor
        ));
    }
    let (lo, hi) = AS_OF_YEARS;
    let year = chrono::Datelike::year(&params.as_of);
    if year < lo || year > hi {
        return Err(format!(
            "--as-of {} is out of range: its year must be between {lo} and {hi}",
            params.as_of
        ));
    }
    let bytes = clinic_memory_estimate(s);
    if bytes > CLINIC_BYTES {
        return Err(format!(
            "one clinic of this shape would take about {:.1} GB of memory while it is generated \
             (at most {:.0} GB): a clinic is generated whole. Lower --patients, --history-days, \
             --future-days or --note-length and raise --clinics instead",
            bytes as f64 / 1e9,
            CLINIC_BYTES as f64 / 1e9
        ));
    }
    Ok(())
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    fn params(profile: &str) -> SeedParams {
        SeedParams {
            seed: 1,
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            clinics: 10,
            shape: crate::generate::profile(profile).unwrap(),
        }
    }

    #[test]
    fn every_profile_is_within_bounds_and_extremes_are_not() {
        for p in crate::generate::PROFILES {
            check_bounds(&params(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        let small = clinic_memory_estimate(&params("small").shape);
        assert!((100_000_000..400_000_000).contains(&small), "{small}");
        let mut p = params("small");
        p.shape.note_length = f64::NAN;
        assert!(check_bounds(&p).unwrap_err().contains("--note-length"));
        let mut p = params("small");
        p.shape.patients = 200_000;
        assert!(check_bounds(&p).unwrap_err().contains("one clinic"));
        let mut p = params("tiny");
        p.shape.history_days = bounds::HISTORY_DAYS.1;
        p.shape.future_days = bounds::FUTURE_DAYS.1;
        p.as_of = chrono::NaiveDate::from_ymd_opt(bounds::AS_OF_YEARS.0, 1, 1).unwrap();
        check_bounds(&p).unwrap();
        // The extreme accepted window still generates (no date overflow).
        p.shape.patients = 5;
        let c = crate::generate::generate_clinic_tables(&p, 0);
        assert_eq!(c.patients.len(), 5);
    }
}
