-- clinicload's own bookkeeping, kept apart from the application schema in schema "clinicload_meta" (not "clinicload": a schema named like the login role would capture the default search_path "$user", public).
-- Its presence marks a database as prepared by `clinicload migrate`: destructive commands
-- (seed --reset) refuse to touch a database without it unless --force is given.

CREATE SCHEMA IF NOT EXISTS clinicload_meta;

CREATE TABLE clinicload_meta.prepared (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    prepared_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    clinicload_version TEXT NOT NULL DEFAULT 'unknown'
);
INSERT INTO clinicload_meta.prepared DEFAULT VALUES;

-- The dataset in this database: how it was generated (its fingerprint is a hash of these).
CREATE TABLE clinicload_meta.dataset (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    fingerprint TEXT NOT NULL,
    seed BIGINT NOT NULL,
    as_of DATE NOT NULL,
    parameters JSONB NOT NULL,
    clinicload_version TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- One row per clinic whose PostgreSQL rows are committed: written in the same transaction
-- as the clinic's rows, so a clinic is either complete here or absent.
CREATE TABLE clinicload_meta.seeded_clinics (
    clinic_index INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    row_counts JSONB NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

COMMENT ON SCHEMA clinicload_meta IS 'Bookkeeping of the clinicload harness (not part of Dr. Assistant)';
COMMENT ON TABLE clinicload_meta.prepared IS 'Marks the database as prepared by clinicload migrate';
COMMENT ON COLUMN clinicload_meta.prepared.singleton IS 'Always true: the table holds one row';
COMMENT ON COLUMN clinicload_meta.prepared.prepared_at IS 'When clinicload migrate first ran here';
COMMENT ON COLUMN clinicload_meta.prepared.clinicload_version IS 'Version of clinicload that prepared it';
COMMENT ON TABLE clinicload_meta.dataset IS 'The seeded dataset: seed, parameters and fingerprint';
COMMENT ON COLUMN clinicload_meta.dataset.singleton IS 'Always true: the table holds one row';
COMMENT ON COLUMN clinicload_meta.dataset.fingerprint IS 'Hash of seed, parameters and generator version';
COMMENT ON COLUMN clinicload_meta.dataset.seed IS 'Random seed';
COMMENT ON COLUMN clinicload_meta.dataset.as_of IS 'The "today" the data is anchored at';
COMMENT ON COLUMN clinicload_meta.dataset.parameters IS 'Resolved scale and realism parameters';
COMMENT ON COLUMN clinicload_meta.dataset.clinicload_version IS 'Version of clinicload that generated it';
COMMENT ON COLUMN clinicload_meta.dataset.started_at IS 'When seeding started';
COMMENT ON TABLE clinicload_meta.seeded_clinics IS 'Clinics whose rows are fully committed';
COMMENT ON COLUMN clinicload_meta.seeded_clinics.clinic_index IS 'Index of the clinic in the dataset (0-based)';
COMMENT ON COLUMN clinicload_meta.seeded_clinics.fingerprint IS 'Fingerprint of the dataset the clinic belongs to';
COMMENT ON COLUMN clinicload_meta.seeded_clinics.row_counts IS 'Rows written per table for this clinic';
COMMENT ON COLUMN clinicload_meta.seeded_clinics.completed_at IS 'When the clinic''s transaction committed';
