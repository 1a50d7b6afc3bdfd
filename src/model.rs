//! The rows and documents of the Dr. Assistant data model as plain Rust data, one struct per
//! PostgreSQL table (fields in column order, see `migrations/0001_dr_assistant_schema.sql`)
//! and per MongoDB document. The generator produces them; the seed sinks write them; nothing
//! here does I/O.
//!
//! Enumerated columns are `&'static str` holding one of the values the table's CHECK allows.
//! Timestamps are clinic-local `NaiveDateTime`, as the schema's TIMESTAMP columns.

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value as Json;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub role: &'static str,
    pub specialty: Option<&'static str>,
    pub phone: Option<String>,
    pub profile_image_url: Option<String>,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub status: &'static str,
    pub preferences: Option<Json>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: Uuid,
    pub mrn: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: NaiveDate,
    pub sex: &'static str,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<Json>,
    pub emergency_contact: Option<Json>,
    pub insurance_provider: Option<String>,
    pub insurance_policy_number: Option<String>,
    pub blood_type: Option<&'static str>,
    pub allergies: Json,
    pub chronic_conditions: Json,
    pub primary_doctor_id: Option<Uuid>,
    pub status: &'static str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub patient_name: String,
    pub start_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    pub status: &'static str,
    pub appointment_type: &'static str,
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub booked_at: NaiveDateTime,
    pub checked_in_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancellation_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Encounter {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub encounter_type: &'static str,
    pub status: &'static str,
    pub start_time: NaiveDateTime,
    pub end_time: Option<NaiveDateTime>,
    pub chief_complaint: Option<String>,
    pub diagnosis_codes: Vec<String>,
    pub vitals: Option<Json>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prescription {
    pub id: Uuid,
    pub encounter_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub status: &'static str,
    pub prescribed_at: NaiveDateTime,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrescriptionItem {
    pub id: Uuid,
    pub prescription_id: Uuid,
    pub drug_name: String,
    pub dose: String,
    pub route: &'static str,
    pub frequency: String,
    pub duration_days: Option<i32>,
    pub quantity: i32,
    pub refills: i32,
    pub instructions: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: Uuid,
    pub encounter_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub order_type: &'static str,
    pub status: &'static str,
    pub priority: &'static str,
    pub ordered_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub id: Uuid,
    pub order_id: Uuid,
    pub code: String,
    pub code_system: &'static str,
    pub description: String,
    pub status: &'static str,
    pub result_value: Option<String>,
    pub result_unit: Option<String>,
    pub reference_range: Option<String>,
    pub abnormal_flag: Option<&'static str>,
    pub resulted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub assigned_to: Uuid,
    pub created_by: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub encounter_id: Option<Uuid>,
    pub task_type: &'static str,
    pub title: String,
    pub description: Option<String>,
    /// 1 low, 2 normal, 3 high, 4 urgent.
    pub priority: i16,
    pub status: &'static str,
    pub due_date: Option<NaiveDate>,
    pub completed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: Uuid,
    pub recipient_id: Uuid,
    pub patient_id: Option<Uuid>,
    pub order_item_id: Option<Uuid>,
    pub alert_type: &'static str,
    pub severity: &'static str,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub read_at: Option<NaiveDateTime>,
    pub acknowledged_at: Option<NaiveDateTime>,
    pub acknowledged_by: Option<Uuid>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// SOAP content of a clinical note (MongoDB `clinicalNotes.content`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SoapContent {
    pub chief_complaint: String,
    pub history_of_present_illness: String,
    /// Body system -> finding, e.g. ("cardiovascular", "No chest pain or palpitations").
    pub review_of_systems: Vec<(&'static str, String)>,
    pub past_medical_history: String,
    pub medications: String,
    pub allergies: String,
    pub family_history: String,
    pub social_history: String,
    /// Objective: vital signs summary and examination findings.
    pub vital_signs: String,
    pub physical_exam: String,
    /// Assessment: clinical impression and ICD-10 diagnoses as (code, description).
    pub clinical_impression: String,
    pub diagnoses: Vec<(String, String)>,
    /// Plan: medications prescribed, orders, patient education, follow-up.
    pub plan_medications: Vec<String>,
    pub plan_orders: Vec<String>,
    pub patient_education: String,
    pub follow_up: String,
}

/// A document of MongoDB `clinicalNotes`; ids are the PostgreSQL UUIDs as strings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalNote {
    /// Deterministic id (stored as the document's `_id`, a UUID string), so re-runs are idempotent.
    pub id: Uuid,
    pub encounter_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// draft, signed or amended
    pub status: &'static str,
    /// soap, progress, procedure, discharge, referral or consultation
    pub note_type: &'static str,
    pub content: SoapContent,
    pub raw_transcription: String,
    pub ai_summary: String,
    pub ai_confidence_score: f64,
    pub signed_by: Option<Uuid>,
    pub signed_at: Option<NaiveDateTime>,
    pub tags: Vec<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A document of MongoDB `voiceRecordings`: metadata of an audio file stored in GridFS.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceRecording {
    pub id: Uuid,
    pub encounter_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// GridFS file name; the file id is derived from `id` by the sink.
    pub filename: String,
    pub duration_seconds: u32,
    pub sample_rate_hz: u32,
    pub created_at: NaiveDateTime,
    /// Seed for the audio bytes, generated when uploaded rather than held in memory.
    pub audio_seed: u64,
}

/// Everything generated for one clinic: the unit of generation, loading, sharding and resume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClinicData {
    pub clinic_index: u32,
    pub users: Vec<User>,
    pub patients: Vec<Patient>,
    pub appointments: Vec<Appointment>,
    pub encounters: Vec<Encounter>,
    pub prescriptions: Vec<Prescription>,
    pub prescription_items: Vec<PrescriptionItem>,
    pub orders: Vec<Order>,
    pub order_items: Vec<OrderItem>,
    pub tasks: Vec<Task>,
    pub alerts: Vec<Alert>,
    pub clinical_notes: Vec<ClinicalNote>,
    pub voice_recordings: Vec<VoiceRecording>,
}
