-- The ledger of index variants (src/index_ab/change.rs). A variant that drops or creates an
-- index records the change here before making it; the end of the variant undoes it and
-- deletes the row. A row left behind means a process died mid-variant: the next clinicload
-- command that touches the dataset (run, restore, seed) rebuilds a dropped index from its
-- recorded definition and drops a created one.

CREATE TABLE clinicload_meta.index_changes (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    index_name TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('dropped', 'created', 'extension')),
    definition TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

COMMENT ON TABLE clinicload_meta.index_changes IS 'Index changes of variants not yet undone';
COMMENT ON COLUMN clinicload_meta.index_changes.run_id IS 'The run (and variant) that made the change';
COMMENT ON COLUMN clinicload_meta.index_changes.index_name IS 'Index in schema public';
COMMENT ON COLUMN clinicload_meta.index_changes.action IS 'dropped (rebuilt on undo), created (dropped on undo), extension (hypopg, dropped on undo)';
COMMENT ON COLUMN clinicload_meta.index_changes.definition IS 'pg_get_indexdef of a dropped index, or the CREATE INDEX statement of a created one';
COMMENT ON COLUMN clinicload_meta.index_changes.id IS 'Order of the changes (undone newest first)';
COMMENT ON COLUMN clinicload_meta.index_changes.recorded_at IS 'When the change was recorded, just before it was made';
