-- The undo log that lets a run leave the dataset as it found it (src/restore). Before the load
-- starts, a run records itself here and copies the rows its writes may update (their
-- "pre-images"); rows it inserts carry version-8 UUIDs, which the seeder and PostgreSQL's
-- gen_random_uuid() never produce. Restoring puts the pre-images back and deletes the
-- version-8 rows. Because the log is in the database, a run whose process died is restored by
-- the next clinicload command that touches the dataset.

CREATE TABLE clinicload_meta.undo_runs (
    run_id TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    insert_tables TEXT[] NOT NULL,
    update_tables TEXT[] NOT NULL,
    mongo_collections TEXT[] NOT NULL,
    redis_patterns TEXT[] NOT NULL
);

CREATE TABLE clinicload_meta.undo_rows (
    run_id TEXT NOT NULL REFERENCES clinicload_meta.undo_runs (run_id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    id UUID NOT NULL,
    pre_image JSONB NOT NULL,
    PRIMARY KEY (run_id, table_name, id)
);

COMMENT ON TABLE clinicload_meta.undo_runs IS 'Runs whose writes are not yet undone (one row per run or variant)';
COMMENT ON COLUMN clinicload_meta.undo_runs.run_id IS 'The run (and variant) that wrote';
COMMENT ON COLUMN clinicload_meta.undo_runs.started_at IS 'When the undo record was made, before the load started';
COMMENT ON COLUMN clinicload_meta.undo_runs.insert_tables IS 'Tables the run may insert into (its rows have version-8 UUIDs)';
COMMENT ON COLUMN clinicload_meta.undo_runs.update_tables IS 'Tables whose rows the run may update (pre-images in undo_rows)';
COMMENT ON COLUMN clinicload_meta.undo_runs.mongo_collections IS 'MongoDB collections whose documents the run may update (pre-images in collection clinicloadUndo)';
COMMENT ON COLUMN clinicload_meta.undo_runs.redis_patterns IS 'Redis key patterns the run writes; removed on restore';
COMMENT ON TABLE clinicload_meta.undo_rows IS 'Pre-images of the rows a run may update';
COMMENT ON COLUMN clinicload_meta.undo_rows.run_id IS 'The run that may update the row';
COMMENT ON COLUMN clinicload_meta.undo_rows.table_name IS 'Table of the row, in schema public';
COMMENT ON COLUMN clinicload_meta.undo_rows.id IS 'Primary key of the row';
COMMENT ON COLUMN clinicload_meta.undo_rows.pre_image IS 'The whole row before the run (to_jsonb)';
