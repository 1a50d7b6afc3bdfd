//! `clinicload seed`: generated clinics flow into PostgreSQL (binary COPY), MongoDB
//! (insert_many) and GridFS, one clinic at a time per worker, resumable and shardable.

pub mod mongo_sink;
pub mod pg_copy;
