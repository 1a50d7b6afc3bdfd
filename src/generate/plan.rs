//! What a seed would write, estimated without generating it all: clinic 0 is generated and
//! measured, then scaled by the number of clinics (clinics share a shape and differ only in
//! their random draws, so per-clinic counts vary by a few percent). Users and patients are
//! exact. Bytes approximate the stored size: PostgreSQL heap tuples (24-byte header plus
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
            "plan for {} clinic(s), dataset fingerprint {}",
            self.clinics, self.fingerprint
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

/// The plan of a whole seed: clinic 0 measured and scaled by the number of clinics.
pub fn plan(params: &SeedParams) -> Plan {
    let clinics = u64::from(params.clinics);
    let entries = if params.clinics == 0 {
        measure(&ClinicData::default())
    } else {
        measure(&generate_clinic(params, 0))
    };
    Plan {
        fingerprint: fingerprint(params),
        clinics: params.clinics,
        entries: entries
            .into_iter()
            .map(|mut e| {
                e.rows *= clinics;
                e.bytes *= clinics;
                e
            })
            .collect(),
    }
}
