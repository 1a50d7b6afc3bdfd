//! The operations a scenario can mix: one entry per documented query pattern and everyday
//! write, as plain data (name, store, query text, parameters), and `execute`, which runs one.
//!
//! The query text of each operation is a `const` next to its name in the store's file
//! (`postgres.rs`, `mongo.rs`, `redis.rs`), so "appointments for today" can be found by
//! grepping for the SQL the data-model document shows. Adding an operation means one entry
//! in [`OPS`], one variant of [`OpKind`] and one arm in [`execute`].

pub mod cache;
pub mod mongo;
pub mod postgres;
pub mod redis;

use rand::rngs::SmallRng;

use crate::scenario::catalog::{Catalog, Entity};
use crate::scenario::spec::OpSpec;

/// Which server an operation talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    Postgres,
    Mongo,
    Redis,
}

/// Every operation clinicload knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    AppointmentsToday,
    PendingTasks,
    UnreadAlerts,
    PatientEncounters,
    PatientPrescriptions,
    PatientOrders,
    PgPkLookup,
    PgSleep,
    NoteByEncounter,
    PatientNotes,
    DoctorDrafts,
    NotesTextSearch,
    VoiceRecording,
    RedisGet,
    BookAppointment,
    CancelAppointment,
    CheckIn,
    CompleteEncounter,
    SignNote,
    CompleteTask,
    // The schedule cache (src/cache, ops/cache.rs).
    DoctorSchedule,
    ScheduleBook,
    ScheduleCancel,
    ScheduleCheckIn,
    ScheduleReschedule,
}

/// How a parameter of an operation is given in a scenario file.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// An entity drawn from the dataset with a distribution ("uniform", "zipf(1.1)", ...);
    /// `dists` lists the distribution names this parameter accepts.
    Pick {
        entity: Entity,
        default: &'static str,
        dists: &'static [&'static str],
    },
    Int {
        default: i64,
        min: i64,
        max: i64,
    },
    Text {
        default: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub help: &'static str,
}

/// One operation: its name in scenario files, store, query text and parameters.
#[derive(Debug, Clone, Copy)]
pub struct OpDef {
    pub name: &'static str,
    pub kind: OpKind,
    pub store: Store,
    pub write: bool,
    pub summary: &'static str,
    /// The query text as the data-model document (or this project) writes it.
    pub query: &'static str,
    pub params: &'static [ParamDef],
    /// Entities the operation consumes without a distribution (writes take each row once).
    pub uses: &'static [Entity],
    /// Tables the operation inserts into (with version-8 keys, which restore deletes).
    pub inserts: &'static [&'static str],
}

const DOCTOR_DISTS: &[&str] = &["uniform", "zipf", "today", "busy_doctor"];
const PATIENT_DISTS: &[&str] = &["uniform", "zipf", "today"];
const PLAIN_DISTS: &[&str] = &["uniform", "zipf"];

const fn doctor(default: &'static str) -> ParamDef {
    ParamDef {
        name: "doctor",
        kind: ParamKind::Pick {
            entity: Entity::Doctor,
            default,
            dists: DOCTOR_DISTS,
        },
        help: "which doctor: uniform | zipf(s) | today (doctors with appointments today) | busy_doctor (busiest today most often)",
    }
}

const fn patient(default: &'static str) -> ParamDef {
    ParamDef {
        name: "patient",
        kind: ParamKind::Pick {
            entity: Entity::Patient,
            default,
            dists: PATIENT_DISTS,
        },
        help: "which patient: uniform | zipf(s) | today (patients with appointments today)",
    }
}

const SCHEDULE_DAYS: ParamDef = ParamDef {
    name: "days",
    kind: ParamKind::Int {
        default: 1,
        min: 1,
        max: 366,
    },
    help: "the day is drawn uniformly from today .. today + days - 1 (1: today only)",
};

/// The operation table. Scenario files name operations by `name`.
pub static OPS: &[OpDef] = &[
    OpDef {
        name: "appointments_today",
        kind: OpKind::AppointmentsToday,
        store: Store::Postgres,
        write: false,
        summary: "doctor's dashboard: today's appointments with patient names (MVP-004)",
        query: postgres::APPOINTMENTS_TODAY,
        params: &[doctor("today")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "pending_tasks",
        kind: OpKind::PendingTasks,
        store: Store::Postgres,
        write: false,
        summary: "doctor's dashboard: pending tasks (MVP-004)",
        query: postgres::PENDING_TASKS,
        params: &[doctor("uniform")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "unread_alerts",
        kind: OpKind::UnreadAlerts,
        store: Store::Postgres,
        write: false,
        summary: "doctor's dashboard: unread alerts, newest first",
        query: postgres::UNREAD_ALERTS,
        params: &[doctor("uniform")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "patient_encounters",
        kind: OpKind::PatientEncounters,
        store: Store::Postgres,
        write: false,
        summary: "patient timeline: encounters with doctor names (MVP-004)",
        query: postgres::PATIENT_ENCOUNTERS,
        params: &[patient("uniform")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "patient_prescriptions",
        kind: OpKind::PatientPrescriptions,
        store: Store::Postgres,
        write: false,
        summary: "patient timeline: prescriptions with their items",
        query: postgres::PATIENT_PRESCRIPTIONS,
        params: &[patient("uniform")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "patient_orders",
        kind: OpKind::PatientOrders,
        store: Store::Postgres,
        write: false,
        summary: "patient timeline: lab and imaging orders with their items",
        query: postgres::PATIENT_ORDERS,
        params: &[patient("uniform")],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "pg_pk_lookup",
        kind: OpKind::PgPkLookup,
        store: Store::Postgres,
        write: false,
        summary: "harness calibration: primary-key lookup in clinicload_bench_kv (scripts/bench-harness)",
        query: postgres::PG_PK_LOOKUP,
        params: &[ParamDef {
            name: "rows",
            kind: ParamKind::Int {
                default: 100_000,
                min: 1,
                max: 1_000_000_000,
            },
            help: "ids are drawn uniformly from 1..=rows (the table scripts/bench-harness creates)",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "pg_sleep",
        kind: OpKind::PgSleep,
        store: Store::Postgres,
        write: false,
        summary: "harness calibration: a statement that takes a known time on the server (capacity tests: one connection serves at most 1000/ms operations per second)",
        query: postgres::PG_SLEEP,
        params: &[ParamDef {
            name: "ms",
            kind: ParamKind::Int {
                default: 10,
                min: 0,
                max: 60_000,
            },
            help: "milliseconds each statement sleeps on the server",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "note_by_encounter",
        kind: OpKind::NoteByEncounter,
        store: Store::Mongo,
        write: false,
        summary: "the clinical note of an encounter",
        query: mongo::NOTE_BY_ENCOUNTER,
        params: &[ParamDef {
            name: "encounter",
            kind: ParamKind::Pick {
                entity: Entity::NoteEncounter,
                default: "uniform",
                dists: PLAIN_DISTS,
            },
            help: "which encounter (among encounters that have a note): uniform | zipf(s)",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "patient_notes",
        kind: OpKind::PatientNotes,
        store: Store::Mongo,
        write: false,
        summary: "a patient's notes, newest first",
        query: mongo::PATIENT_NOTES,
        params: &[ParamDef {
            name: "patient",
            kind: ParamKind::Pick {
                entity: Entity::NotePatient,
                default: "uniform",
                dists: PLAIN_DISTS,
            },
            help: "which patient (among patients with notes): uniform | zipf(s)",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "doctor_drafts",
        kind: OpKind::DoctorDrafts,
        store: Store::Mongo,
        write: false,
        summary: "a doctor's draft notes, most recently edited first",
        query: mongo::DOCTOR_DRAFTS,
        params: &[ParamDef {
            name: "doctor",
            kind: ParamKind::Pick {
                entity: Entity::NoteDoctor,
                default: "uniform",
                dists: PLAIN_DISTS,
            },
            help: "which doctor (among doctors with notes): uniform | zipf(s)",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "notes_text_search",
        kind: OpKind::NotesTextSearch,
        store: Store::Mongo,
        write: false,
        summary: "full-text search over clinical notes (needs a text index; reported as unsupported by servers without one)",
        query: mongo::NOTES_TEXT_SEARCH,
        params: &[],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "voice_recording",
        kind: OpKind::VoiceRecording,
        store: Store::Mongo,
        write: false,
        summary: "a voice recording streamed from GridFS (rows = bytes read)",
        query: mongo::VOICE_RECORDING,
        params: &[ParamDef {
            name: "recording",
            kind: ParamKind::Pick {
                entity: Entity::Recording,
                default: "uniform",
                dists: PLAIN_DISTS,
            },
            help: "which GridFS file: uniform | zipf(s)",
        }],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "redis_get",
        kind: OpKind::RedisGet,
        store: Store::Redis,
        write: false,
        summary: "GET of a key written before the run (harness calibration and cache baseline)",
        query: redis::REDIS_GET,
        params: &[
            ParamDef {
                name: "keyspace",
                kind: ParamKind::Int {
                    default: 1000,
                    min: 1,
                    max: 10_000_000,
                },
                help: "number of keys, drawn uniformly",
            },
            ParamDef {
                name: "value_size",
                kind: ParamKind::Int {
                    default: 100,
                    min: 1,
                    max: 1 << 20,
                },
                help: "bytes per value",
            },
            ParamDef {
                name: "prefix",
                kind: ParamKind::Text {
                    default: "clinicload:run:kv:",
                },
                help: "key prefix (keys are <prefix><n>)",
            },
        ],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "book_appointment",
        kind: OpKind::BookAppointment,
        store: Store::Postgres,
        write: true,
        summary: "book a follow-up appointment in a free slot of the doctor's calendar in the next four weeks",
        query: postgres::BOOK_APPOINTMENT,
        params: &[doctor("uniform"), patient("uniform")],
        uses: &[Entity::FreeSlot],
        inserts: &["appointments"],
    },
    OpDef {
        name: "cancel_appointment",
        kind: OpKind::CancelAppointment,
        store: Store::Postgres,
        write: true,
        summary: "cancel a future scheduled appointment (each at most once)",
        query: postgres::CANCEL_APPOINTMENT,
        params: &[],
        uses: &[Entity::FutureAppointment],
        inserts: &[],
    },
    OpDef {
        name: "check_in",
        kind: OpKind::CheckIn,
        store: Store::Postgres,
        write: true,
        summary: "check a patient in for today's appointment",
        query: postgres::CHECK_IN,
        params: &[],
        uses: &[Entity::TodayAppointment],
        inserts: &[],
    },
    OpDef {
        name: "complete_encounter",
        kind: OpKind::CompleteEncounter,
        store: Store::Postgres,
        write: true,
        summary: "complete an encounter and write a prescription with one item (one transaction)",
        query: postgres::COMPLETE_ENCOUNTER,
        params: &[],
        uses: &[Entity::OpenEncounter],
        inserts: &["prescriptions", "prescription_items"],
    },
    OpDef {
        name: "sign_note",
        kind: OpKind::SignNote,
        store: Store::Mongo,
        write: true,
        summary: "sign a draft clinical note",
        query: mongo::SIGN_NOTE,
        params: &[],
        uses: &[Entity::DraftNote],
        inserts: &[],
    },
    OpDef {
        name: "complete_task",
        kind: OpKind::CompleteTask,
        store: Store::Postgres,
        write: true,
        summary: "complete a pending task",
        query: postgres::COMPLETE_TASK,
        params: &[],
        uses: &[Entity::PendingTask],
        inserts: &[],
    },
    // ---- the schedule cache: reads and writes through the scenario's [cache] strategy
    OpDef {
        name: "doctor_schedule",
        kind: OpKind::DoctorSchedule,
        store: Store::Postgres,
        write: false,
        summary: "a doctor's daily schedule through the [cache] strategy (MVP-004 cache-aside); recorded as doctor_schedule:hit / :miss / :bypass; rows = JSON bytes",
        query: cache::DOCTOR_SCHEDULE,
        params: &[doctor("busy_doctor"), SCHEDULE_DAYS],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "schedule_book",
        kind: OpKind::ScheduleBook,
        store: Store::Postgres,
        write: true,
        summary: "book a free 15-minute slot of the doctor's calendar on a day of the schedule window, then invalidate that day's cached schedule",
        query: cache::SCHEDULE_WRITE,
        params: &[doctor("busy_doctor"), patient("uniform"), SCHEDULE_DAYS],
        uses: &[Entity::FreeSlot],
        inserts: &["appointments"],
    },
    OpDef {
        name: "schedule_cancel",
        kind: OpKind::ScheduleCancel,
        store: Store::Postgres,
        write: true,
        summary: "cancel an open appointment of the schedule window, then invalidate its day's cached schedule",
        query: cache::SCHEDULE_WRITE,
        params: &[SCHEDULE_DAYS],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "schedule_check_in",
        kind: OpKind::ScheduleCheckIn,
        store: Store::Postgres,
        write: true,
        summary: "check in an open appointment of the schedule window, then invalidate its day's cached schedule",
        query: cache::SCHEDULE_WRITE,
        params: &[SCHEDULE_DAYS],
        uses: &[],
        inserts: &[],
    },
    OpDef {
        name: "schedule_reschedule",
        kind: OpKind::ScheduleReschedule,
        store: Store::Postgres,
        write: true,
        summary: "move an open appointment of the schedule window to another slot in it, then invalidate both days",
        query: cache::SCHEDULE_WRITE,
        params: &[SCHEDULE_DAYS],
        uses: &[],
        inserts: &[],
    },
];

/// The operation named `name`.
pub fn find(name: &str) -> Option<&'static OpDef> {
    OPS.iter().find(|o| o.name == name)
}

/// What one completed operation reports: rows (documents, bytes), an optional sub-label,
/// and whether it was a write that changed nothing (`noop`: its target was already in the
/// state the write sets, or no target was left), which is counted apart from successes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub rows: u64,
    pub sub: Option<&'static str>,
    pub noop: bool,
}

impl Outcome {
    pub fn rows(rows: u64) -> Outcome {
        Outcome {
            rows,
            sub: None,
            noop: false,
        }
    }

    /// A write that changed nothing.
    pub fn noop() -> Outcome {
        Outcome {
            rows: 0,
            sub: None,
            noop: true,
        }
    }

    /// A write that affected `rows` rows: a no-op when that is 0.
    pub fn written(rows: u64) -> Outcome {
        Outcome {
            rows,
            sub: None,
            noop: rows == 0,
        }
    }
}

/// A failed operation: a short kind for counting ("timeout", "pg:23505", ...) and the
/// message. `unsupported` marks an answer by which the server says it lacks the feature.
#[derive(Debug, Clone)]
pub struct OpError {
    pub kind: String,
    pub message: String,
    pub unsupported: bool,
}

impl OpError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> OpError {
        OpError {
            kind: kind.into(),
            message: message.into(),
            unsupported: false,
        }
    }
}

/// Connections to the stores a scenario uses (those it does not use stay `None`).
#[derive(Clone, Default)]
pub struct Stores {
    /// sqlx pool, for sampling the catalog and for operations that want a pool.
    pub pg: Option<sqlx::PgPool>,
    /// Plain connections for the PostgreSQL operations (no per-use ping), as many as the
    /// scenario's `connections.postgres`.
    pub pg_conns: Option<postgres::PgConns>,
    pub mongo: Option<mongodb::Database>,
    /// One multiplexed connection per configured Redis connection; worker k uses k % n.
    pub redis: Vec<::redis::aio::MultiplexedConnection>,
    /// The schedule cache of the running variant, when the scenario has cache operations.
    pub cache: Option<std::sync::Arc<cache::CacheRuntime>>,
    /// A small pool for clinicload's undo ledger when the scenario writes but runs no
    /// PostgreSQL operation (signing notes in MongoDB): the ledger lives in PostgreSQL.
    pub ledger_only: Option<sqlx::PgPool>,
}

impl Stores {
    /// The PostgreSQL pool that holds the undo ledger and the dataset's lock: the run's own
    /// when it uses PostgreSQL, else its ledger-only pool.
    pub fn ledger(&self) -> Option<&sqlx::PgPool> {
        self.pg.as_ref().or(self.ledger_only.as_ref())
    }
}

/// Runs one operation of the scenario with parameters drawn from the catalog.
pub async fn execute(
    spec: &OpSpec,
    stores: &Stores,
    catalog: &Catalog,
    worker: usize,
    rng: &mut SmallRng,
) -> Result<Outcome, OpError> {
    let def = spec.def;
    if let Some(result) =
        cache::execute(def.kind, spec, stores.cache.as_deref(), catalog, rng).await
    {
        return result;
    }
    match def.store {
        Store::Postgres => {
            let conns = stores
                .pg_conns
                .as_ref()
                .ok_or_else(|| OpError::new("setup", "no PostgreSQL connections"))?;
            let mut lease = conns.get().await;
            let result = postgres::execute(def.kind, spec, &mut lease, catalog, rng).await;
            // A database error leaves the connection usable; an I/O error does not.
            lease.reusable(!matches!(&result, Err(e) if e.kind == "io" || e.kind == "pg"));
            result
        }
        Store::Mongo => {
            let db = stores
                .mongo
                .as_ref()
                .ok_or_else(|| OpError::new("setup", "no MongoDB database"))?;
            mongo::execute(def.kind, spec, db, catalog, rng).await
        }
        Store::Redis => {
            if stores.redis.is_empty() {
                return Err(OpError::new("setup", "no Redis connection"));
            }
            let mut conn = stores.redis[worker % stores.redis.len()].clone();
            redis::execute(def.kind, spec, &mut conn, rng).await
        }
    }
}
