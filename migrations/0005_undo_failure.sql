-- Why a run's writes are still pending: a run whose restore failed (a store died under it)
-- says so here, so the next command can tell the user that instead of "the process ended".

ALTER TABLE clinicload_meta.undo_runs ADD COLUMN restore_failed TEXT;

COMMENT ON COLUMN clinicload_meta.undo_runs.restore_failed IS 'Why the run''s own restore failed (null: it did not try, e.g. the process ended first)';
