//! Applying the Dr. Assistant schema: versioned PostgreSQL migrations (embedded from
//! `migrations/`) and the MongoDB collections, validator and indexes declared as data.
//! `clinicload migrate` runs both; `clinicload doctor` reads their state.

pub mod mongo;
pub mod postgres;
