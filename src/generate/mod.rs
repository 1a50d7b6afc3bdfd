//! Pure, deterministic generation of synthetic clinics: (parameters, clinic index) -> rows and
//! documents. No I/O here, so it can be benchmarked alone and run on every core.
//!
//! Randomness for entity k of kind K comes from (seed, K, k), never from a shared sequential
//! RNG, so any thread count, any shard split and any re-run produce the same data, and UUIDs
//! derived the same way keep PostgreSQL and MongoDB consistent.

pub mod audio;
pub mod clinical;
pub mod notes;
pub mod people;
pub mod plan;
pub mod rng;
pub mod schedule;
pub mod vocab;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::model::ClinicData;

pub use plan::{plan, Plan, PlanEntry};

/// The shape of one clinic; profiles fill it in, command-line overrides change single fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicShape {
    pub doctors: u32,
    pub nurses: u32,
    pub receptionists: u32,
    pub admins: u32,
    pub patients: u32,
    /// Days of history before the as-of date.
    pub history_days: u32,
    /// Days of bookings after the as-of date.
    pub future_days: u32,
    /// Multiplier on the length of note texts (1.0 = typical).
    pub note_length: f64,
    /// Share of encounters with a voice recording (0..=1).
    pub voice_share: f64,
    /// Recording length as a share of the visit's length (0..=1).
    pub voice_length_factor: f64,
}

/// Everything that determines a dataset. Equal params => byte-identical data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedParams {
    pub seed: u64,
    /// The "today" the data is anchored at.
    pub as_of: NaiveDate,
    pub clinics: u32,
    pub shape: ClinicShape,
}

/// Bumped whenever a change alters generated data for the same parameters; part of the
/// dataset fingerprint.
pub const GENERATOR_VERSION: &str = "gen-2";

/// The moment "now" within the as-of day: noon. Appointments before it are in the past
/// (completed, no-show, cancelled), later ones still scheduled or confirmed.
pub fn as_of_noon(params: &SeedParams) -> NaiveDateTime {
    params.as_of.and_hms_opt(12, 0, 0).expect("noon exists")
}

/// A short hex fingerprint of the parameters and the generator version: equal fingerprints
/// mean byte-identical datasets.
pub fn fingerprint(params: &SeedParams) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(GENERATOR_VERSION.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(params).expect("params serialize"));
    hex::encode(&h.finalize()[..8])
}

/// Generates every row and document of one clinic.
pub fn generate_clinic(params: &SeedParams, clinic_index: u32) -> ClinicData {
    generate(params, clinic_index, true)
}

/// Generates the PostgreSQL rows of one clinic only, exactly as [`generate_clinic`] does,
/// with no MongoDB documents (`clinical_notes` and `voice_recordings` stay empty): for
/// `seed --postgres-only`, at a fraction of the time and memory.
pub fn generate_clinic_tables(params: &SeedParams, clinic_index: u32) -> ClinicData {
    generate(params, clinic_index, false)
}

fn generate(params: &SeedParams, clinic_index: u32, with_documents: bool) -> ClinicData {
    let shape = &params.shape;
    let calendars: Vec<schedule::Calendar> = (0..shape.doctors)
        .map(|d| schedule::calendar(params, clinic_index, d))
        .collect();
    let users = (0..people::staff_count(shape))
        .map(|i| people::user(params, clinic_index, i, calendars.get(i as usize)))
        .collect();
    let specialties: Vec<&'static str> = (0..shape.doctors)
        .map(|d| people::doctor_specialty(params, clinic_index, d))
        .collect();
    let (patients, infos): (Vec<_>, Vec<_>) = (0..shape.patients)
        .map(|i| people::patient(params, clinic_index, i, &specialties))
        .unzip();
    let booked = schedule::book(params, clinic_index, &calendars, &infos, &specialties);
    let walk_ins = schedule::walk_ins(params, clinic_index, &calendars, &infos, &booked);
    let mut out = ClinicData {
        clinic_index,
        users,
        patients,
        ..ClinicData::default()
    };
    clinical::generate(
        params,
        clinic_index,
        &calendars,
        &infos,
        &specialties,
        &booked,
        &walk_ins,
        with_documents,
        &mut out,
    );
    out.appointments = booked.into_iter().map(|b| b.appointment).collect();
    out
}

/// The named clinic shapes. Per-clinic size stays moderate and grows only a little from
/// small to large: scale comes from `--clinics`, and a seed's peak memory follows the size of
/// one clinic (a `ClinicData` per worker), not the number of clinics. The figures behind each
/// default are in clinic-realism.md:
/// - visit length 20.3-21 min (NAMCS via AJMC 2014) -> 15/20/30-minute slots by type;
/// - ~3 attended visits per patient-year, 24% of patients without one in a year (Smits 2008),
///   top 1%/10% of patients ~6%/~40% of visits (Neal 1998; BMJ Open) -> exponential
///   per-patient visit propensity;
/// - ~23% no-shows (Dantas 2018), rising with lead time and earlier no-shows;
/// - 70.5% of visits with a prescription, ~2.1 drugs (NAMCS 2005); ~0.28 lab tests per
///   visit (NAMCS 2001) with a Zipf-like catalogue (Uppsala study);
/// - staff ratios of a US group practice (about one nurse and half a receptionist per doctor).
///
/// | profile | doctors | nurses | recept. | admins | patients | history | future | per clinic (approx.)             |
/// |---------|---------|--------|---------|--------|----------|---------|--------|----------------------------------|
/// | tiny    | 2       | 1      | 1       | 1      | 60       | 30 d    | 7 d    | ~40 appointments                 |
/// | small   | 5       | 4      | 2       | 1      | 1500     | 365 d   | 30 d   | ~6.4k appointments, ~4.8k notes  |
/// | medium  | 6       | 5      | 3       | 1      | 2000     | 365 d   | 60 d   | ~8.7k appointments               |
/// | large   | 8       | 6      | 4       | 2      | 2800     | 365 d   | 90 d   | ~12k appointments                |
///
/// With ~3 visits a year plus no-shows and cancellations, a small-profile doctor has about
/// four to five appointments a day, a large-profile doctor about six (the doctors' panels
/// are smaller than a full-time primary-care panel; raise `patients` for busier days).
pub fn profile(name: &str) -> Option<ClinicShape> {
    let (doctors, nurses, receptionists, admins, patients, history_days, future_days) = match name {
        "tiny" => (2, 1, 1, 1, 60, 30, 7),
        "small" => (5, 4, 2, 1, 1500, 365, 30),
        "medium" => (6, 5, 3, 1, 2000, 365, 60),
        "large" => (8, 6, 4, 2, 2800, 365, 90),
        _ => return None,
    };
    Some(ClinicShape {
        doctors,
        nurses,
        receptionists,
        admins,
        patients,
        history_days,
        future_days,
        note_length: 1.0,
        // GridFS bytes dominate quickly: a full-length 8 kHz 16-bit recording of a 20-minute
        // visit is ~19 MB. By default one encounter in ten keeps a dictation of ~5% of the
        // visit's length (~45 s, ~0.7 MB), about 330 MB per small clinic; raise both for
        // storage tests (0.3 and 0.8 resemble an ambient scribe recording most visits).
        voice_share: 0.1,
        voice_length_factor: 0.05,
    })
}

/// Names accepted by [`profile`].
pub const PROFILES: [&str; 4] = ["tiny", "small", "medium", "large"];
