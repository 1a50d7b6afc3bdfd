//! Applying the Dr. Assistant schema: versioned PostgreSQL migrations (embedded from
//! `migrations/`) and the MongoDB collections, validator and indexes declared as data.
//! `clinicload migrate` runs both (and, on FerretDB, adds companion indexes in its backing
//! PostgreSQL database); `clinicload doctor` reads their state.

pub mod ferretdb;
pub mod mongo;
pub mod postgres;
