//! Pure, deterministic generation of synthetic clinics: (parameters, clinic index) -> rows and
//! documents. No I/O here, so it can be benchmarked alone and run on every core.
//!
//! Randomness for entity k of kind K comes from (seed, K, k), never from a shared sequential
//! RNG, so any thread count, any shard split and any re-run produce the same data, and UUIDs
//! derived the same way keep PostgreSQL and MongoDB consistent.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::ClinicData;

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

/// Generates every row and document of one clinic.
pub fn generate_clinic(_params: &SeedParams, clinic_index: u32) -> ClinicData {
    ClinicData {
        clinic_index,
        ..ClinicData::default()
    }
}
