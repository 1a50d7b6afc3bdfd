//! PostgreSQL operations: the doctor's dashboard and patient timeline reads (the first three
//! are the data-model document's SQL, verbatim, named parameters included) and the everyday
//! writes. Statements are prepared once per connection (sqlx caches them), as
//! `pgbench -M prepared` does.

use rand::rngs::SmallRng;
use rand::Rng;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{OpError, OpKind, Outcome};
use crate::restore::new_row_id;
use crate::scenario::catalog::{Catalog, Entity};
use crate::scenario::spec::OpSpec;

/// MVP-004, "Appointments for Today" (verbatim).
pub const APPOINTMENTS_TODAY: &str = "-- Get today's appointments for a doctor
SELECT a.*, p.first_name, p.last_name, p.date_of_birth
FROM appointments a
JOIN patients p ON a.patient_id = p.id
WHERE a.doctor_id = :doctorId
AND DATE(a.start_time) = CURRENT_DATE
ORDER BY a.start_time;";

/// MVP-004, "Pending Tasks" (verbatim).
pub const PENDING_TASKS: &str = "-- Get pending tasks for a doctor
SELECT t.*, p.first_name, p.last_name
FROM tasks t
LEFT JOIN patients p ON t.patient_id = p.id
WHERE t.assigned_to = :doctorId
AND t.status = 'pending'
ORDER BY t.priority DESC, t.due_date;";

/// MVP-004, "Patient Encounters" (verbatim).
pub const PATIENT_ENCOUNTERS: &str = "-- Get all encounters for a patient
SELECT e.*, u.full_name as doctor_name
FROM encounters e
JOIN users u ON e.doctor_id = u.id
WHERE e.patient_id = :patientId
ORDER BY e.start_time DESC;";

/// Doctor's dashboard: unread alerts (served by idx_alerts_unread).
pub const UNREAD_ALERTS: &str = "-- Get unread alerts for a doctor
SELECT al.*
FROM alerts al
WHERE al.recipient_id = :doctorId
AND NOT al.is_read
ORDER BY al.created_at DESC
LIMIT 50;";

/// Patient timeline: prescriptions with their items and the prescribing doctor.
pub const PATIENT_PRESCRIPTIONS: &str = "-- Get all prescriptions with items for a patient
SELECT rx.id, rx.status, rx.prescribed_at, rx.notes, u.full_name as doctor_name,
       i.drug_name, i.dose, i.route, i.frequency, i.duration_days, i.quantity, i.refills
FROM prescriptions rx
JOIN users u ON rx.doctor_id = u.id
LEFT JOIN prescription_items i ON i.prescription_id = rx.id
WHERE rx.patient_id = :patientId
ORDER BY rx.prescribed_at DESC;";

/// Patient timeline: lab and imaging orders with their items (results).
pub const PATIENT_ORDERS: &str = "-- Get all orders with items for a patient
SELECT o.id, o.order_type, o.status, o.priority, o.ordered_at, o.completed_at,
       i.code, i.code_system, i.description, i.status as item_status,
       i.result_value, i.result_unit, i.reference_range, i.abnormal_flag
FROM orders o
LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.patient_id = :patientId
ORDER BY o.ordered_at DESC;";

/// Harness calibration: the same primary-key lookup scripts/bench-harness gives pgbench.
pub const PG_PK_LOOKUP: &str = "SELECT id, payload FROM clinicload_bench_kv WHERE id = :id;";
pub const PG_SLEEP: &str = "SELECT pg_sleep(:ms / 1000.0);";

/// Book a follow-up appointment in a free 15-minute slot of the doctor's calendar in the next
/// four weeks (the catalog finds the free slots; each is taken once). The key is a
/// version-8 UUID, so restoring the dataset can find the run's bookings.
pub const BOOK_APPOINTMENT: &str = "INSERT INTO appointments (id, patient_id, doctor_id, patient_name, start_time, end_time, status, appointment_type, reason, booked_at, created_by)
VALUES (:id, :patientId, :doctorId, :patientName, :startTime, :startTime + interval '15 minutes',
        'scheduled', 'follow_up', :reason, LOCALTIMESTAMP, :doctorId)
RETURNING id;";

/// Cancel a scheduled appointment (no-op if it is no longer scheduled).
pub const CANCEL_APPOINTMENT: &str = "UPDATE appointments
SET status = 'cancelled', cancelled_at = LOCALTIMESTAMP, cancellation_reason = :reason
WHERE id = :appointmentId AND status IN ('scheduled', 'confirmed');";

/// Check a patient in at the front desk.
pub const CHECK_IN: &str = "UPDATE appointments
SET status = 'checked_in', checked_in_at = LOCALTIMESTAMP
WHERE id = :appointmentId AND status IN ('scheduled', 'confirmed');";

/// Complete an encounter and write a prescription with one item, in one transaction.
pub const COMPLETE_ENCOUNTER: &str = "BEGIN;
UPDATE encounters
SET status = 'completed', end_time = COALESCE(end_time, GREATEST(start_time, LOCALTIMESTAMP))
WHERE id = :encounterId AND status <> 'cancelled'
RETURNING patient_id, doctor_id;
INSERT INTO prescriptions (id, encounter_id, patient_id, doctor_id, status, prescribed_at, notes)
VALUES (:prescriptionId, :encounterId, :patientId, :doctorId, 'active', LOCALTIMESTAMP, :notes);
INSERT INTO prescription_items (id, prescription_id, drug_name, dose, route, frequency, duration_days, quantity, refills, instructions)
VALUES (:itemId, :prescriptionId, :drug, :dose, 'oral', :frequency, :days, :quantity, 0, :instructions);
COMMIT;";

/// Complete a pending task.
pub const COMPLETE_TASK: &str = "UPDATE tasks
SET status = 'completed', completed_at = LOCALTIMESTAMP
WHERE id = :taskId AND status IN ('pending', 'in_progress');";

// The statements actually sent: the texts above with named parameters turned into $n.
// Kept as literals (not computed) so sqlx's per-connection statement cache sees one text.
const APPOINTMENTS_TODAY_SQL: &str = "-- Get today's appointments for a doctor
SELECT a.*, p.first_name, p.last_name, p.date_of_birth
FROM appointments a
JOIN patients p ON a.patient_id = p.id
WHERE a.doctor_id = $1
AND DATE(a.start_time) = CURRENT_DATE
ORDER BY a.start_time;";
const PENDING_TASKS_SQL: &str = "-- Get pending tasks for a doctor
SELECT t.*, p.first_name, p.last_name
FROM tasks t
LEFT JOIN patients p ON t.patient_id = p.id
WHERE t.assigned_to = $1
AND t.status = 'pending'
ORDER BY t.priority DESC, t.due_date;";
const PATIENT_ENCOUNTERS_SQL: &str = "-- Get all encounters for a patient
SELECT e.*, u.full_name as doctor_name
FROM encounters e
JOIN users u ON e.doctor_id = u.id
WHERE e.patient_id = $1
ORDER BY e.start_time DESC;";
const BOOK_SQL: &str = "INSERT INTO appointments (id, patient_id, doctor_id, patient_name, start_time, end_time, status, appointment_type, reason, booked_at, created_by)
VALUES ($1, $2, $3, $4, $5, $5 + interval '15 minutes',
        'scheduled', 'follow_up', $6, LOCALTIMESTAMP, $3)
RETURNING id";
const ENCOUNTER_UPDATE_SQL: &str = "UPDATE encounters
SET status = 'completed', end_time = COALESCE(end_time, GREATEST(start_time, LOCALTIMESTAMP))
WHERE id = $1 AND status <> 'cancelled'
RETURNING patient_id, doctor_id";
const PRESCRIPTION_INSERT_SQL: &str =
    "INSERT INTO prescriptions (id, encounter_id, patient_id, doctor_id, status, prescribed_at, notes)
VALUES ($1, $2, $3, $4, 'active', LOCALTIMESTAMP, $5)";
const ITEM_INSERT_SQL: &str = "INSERT INTO prescription_items (id, prescription_id, drug_name, dose, route, frequency, duration_days, quantity, refills, instructions)
VALUES ($1, $2, $3, $4, 'oral', $5, $6, $7, 0, $8)";

/// `sql` with each `:name` parameter replaced by `$1`, `$2`, ... in order of first use
/// (`::` casts are left alone). Used to check the literals above against the documents' text.
pub fn positional(sql: &str) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut out = String::with_capacity(sql.len());
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == ':'
            && i + 1 < b.len()
            && (b[i + 1] as char).is_ascii_alphabetic()
            && (i == 0 || b[i - 1] != b':')
        {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && ((b[j] as char).is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name = &sql[start..j];
            let n = match names.iter().position(|x| x == name) {
                Some(p) => p + 1,
                None => {
                    names.push(name.to_string());
                    names.len()
                }
            };
            out.push_str(&format!("${n}"));
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The connections of a run: a free list of plain connections. Unlike sqlx's pool it does
/// not ping a connection when it is taken or given back (sqlx 0.8 pings on every release),
/// which tripled the round trips of a primary-key lookup (scripts/bench-harness). A
/// connection whose operation was cut short (timeout) or failed on I/O is replaced by a new
/// one in the background.
#[derive(Clone)]
pub struct PgConns {
    tx: flume::Sender<PgConnection>,
    rx: flume::Receiver<PgConnection>,
    options: sqlx::postgres::PgConnectOptions,
    /// Callers of [`PgConns::get`] waiting for a connection (every one in use): what tells a
    /// full pool, the server's side, from a generator that cannot hand out arrivals.
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// A connection taken from [`PgConns`]; given back when dropped after `reusable`. It borrows
/// the list rather than cloning it: a clone per operation (the connect options' strings) was
/// measurable in the primary-key lookup's profile.
pub struct Lease<'a> {
    conn: Option<PgConnection>,
    reusable: bool,
    pool: &'a PgConns,
}

impl PgConns {
    /// Opens `n` connections to `url` (already checked reachable by `connect::postgres`).
    pub async fn open(url: &str, n: u32) -> anyhow::Result<PgConns> {
        use sqlx::ConnectOptions;
        let options: sqlx::postgres::PgConnectOptions = url.parse()?;
        let options = options
            .application_name("clinicload")
            .disable_statement_logging();
        let (tx, rx) = flume::unbounded();
        for _ in 0..n.max(1) {
            tx.send(options.connect().await?)
                .expect("receiver is alive");
        }
        Ok(PgConns {
            tx,
            rx,
            options,
            waiting: Default::default(),
        })
    }

    /// Connections in the list, not leased (sampled by the runner).
    pub fn idle(&self) -> usize {
        self.rx.len()
    }

    /// Callers waiting for a connection now (sampled by the runner).
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes every idle connection out of the list (the run is over), e.g. to make each
    /// flush its statistics; give them back with [`PgConns::put_back`].
    pub fn drain_idle(&self) -> Vec<PgConnection> {
        self.rx.try_iter().collect()
    }

    pub fn put_back(&self, conn: PgConnection) {
        let _ = self.tx.send(conn);
    }

    pub async fn get(&self) -> Lease<'_> {
        let conn = match self.rx.try_recv() {
            Ok(c) => c,
            Err(_) => {
                // Counted while it waits; the guard also uncounts a caller cancelled here.
                struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
                impl Drop for Waiting<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                self.waiting
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _w = Waiting(&self.waiting);
                self.rx.recv_async().await.expect("sender is alive")
            }
        };
        Lease {
            conn: Some(conn),
            reusable: false,
            pool: self,
        }
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("leased connection")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("leased connection")
    }
}

impl Lease<'_> {
    /// Marks the connection fit to be given back (the operation ran to its end).
    pub fn reusable(&mut self, ok: bool) {
        self.reusable = ok;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.reusable {
            let _ = self.pool.tx.send(conn);
            return;
        }
        drop(conn);
        let pool = self.pool.clone(); // rare: only after a failed or cut-short operation
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                use sqlx::ConnectOptions;
                loop {
                    match pool.options.connect().await {
                        Ok(c) => {
                            let _ = pool.tx.send(c);
                            return;
                        }
                        Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                    }
                }
            });
        }
    }
}

const DRUGS: &[(&str, &str, &str)] = &[
    ("Amoxicillin", "500 mg", "three times daily"),
    ("Lisinopril", "10 mg", "once daily"),
    ("Metformin", "500 mg", "twice daily"),
    ("Atorvastatin", "20 mg", "once daily at night"),
    ("Ibuprofen", "400 mg", "every 8 hours as needed"),
    ("Omeprazole", "20 mg", "once daily before breakfast"),
];

/// SQLSTATE (or "pg") as the error kind, the database message as the text.
pub fn pg_error(e: sqlx::Error) -> OpError {
    match &e {
        sqlx::Error::Database(db) => OpError::new(
            format!("pg:{}", db.code().unwrap_or_default()),
            db.message().to_string(),
        ),
        sqlx::Error::PoolTimedOut => OpError::new("pool_timeout", e.to_string()),
        sqlx::Error::Io(_) => OpError::new("io", e.to_string()),
        _ => OpError::new("pg", e.to_string()),
    }
}

/// The statement (positional parameters) and its one key of a read keyed by a doctor or a
/// patient, drawn from the dataset as the run draws it: shared by the run and by `explain`,
/// so both send the same query with the same kind of key. None for other operations.
pub fn read_query(
    kind: OpKind,
    spec: &OpSpec,
    catalog: &Catalog,
    rng: &mut SmallRng,
) -> Option<(&'static str, Uuid)> {
    let doctor = |rng: &mut SmallRng| catalog.doctor(spec.dist("doctor"), rng);
    let patient = |rng: &mut SmallRng| catalog.patient(spec.dist("patient"), rng).0;
    Some(match kind {
        OpKind::AppointmentsToday => (APPOINTMENTS_TODAY_SQL, doctor(rng)),
        OpKind::PendingTasks => (PENDING_TASKS_SQL, doctor(rng)),
        OpKind::UnreadAlerts => (UNREAD_ALERTS_SQL, doctor(rng)),
        OpKind::PatientEncounters => (PATIENT_ENCOUNTERS_SQL, patient(rng)),
        OpKind::PatientPrescriptions => (PATIENT_PRESCRIPTIONS_SQL, patient(rng)),
        OpKind::PatientOrders => (PATIENT_ORDERS_SQL, patient(rng)),
        _ => return None,
    })
}

pub async fn execute(
    kind: OpKind,
    spec: &OpSpec,
    conn: &mut PgConnection,
    catalog: &Catalog,
    rng: &mut SmallRng,
) -> Result<Outcome, OpError> {
    let rows = |v: Vec<sqlx::postgres::PgRow>| Outcome::rows(v.len() as u64);
    match kind {
        OpKind::AppointmentsToday
        | OpKind::PendingTasks
        | OpKind::UnreadAlerts
        | OpKind::PatientEncounters
        | OpKind::PatientPrescriptions
        | OpKind::PatientOrders => {
            let (sql, key) = read_query(kind, spec, catalog, rng).expect("a keyed read");
            sqlx::query(sql)
                .bind(key)
                .fetch_all(&mut *conn)
                .await
                .map(rows)
                .map_err(pg_error)
        }
        OpKind::PgPkLookup => {
            let id: i32 = rng.gen_range(1..=spec.int("rows").min(i32::MAX as i64) as i32);
            sqlx::query(PG_PK_LOOKUP_SQL)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map(|r| Outcome::rows(r.is_some() as u64))
                .map_err(pg_error)
        }
        OpKind::PgSleep => sqlx::query("SELECT pg_sleep($1::float8 / 1000.0)")
            .bind(spec.int("ms") as f64)
            .execute(&mut *conn)
            .await
            .map(|_| Outcome::rows(1))
            .map_err(pg_error),
        OpKind::BookAppointment => {
            let (patient, name) = catalog.patient(spec.dist("patient"), rng).clone();
            // From tomorrow over the next four weeks, in the database's calendar.
            let tomorrow = catalog.today + chrono::Duration::days(1);
            let days = tomorrow..tomorrow + chrono::Duration::days(28);
            let Some((doctor, start)) = catalog.free_slot(spec.dist("doctor"), days, rng) else {
                return Ok(Outcome::noop());
            };
            sqlx::query(BOOK_SQL)
                .bind(new_row_id(rng))
                .bind(patient)
                .bind(doctor)
                .bind(name)
                .bind(start)
                .bind("Follow-up visit")
                .fetch_one(&mut *conn)
                .await
                .map(|_| Outcome::written(1))
                .map_err(pg_error)
        }
        OpKind::CancelAppointment => {
            let Some(i) = catalog.next(Entity::FutureAppointment) else {
                return Ok(Outcome::noop());
            };
            sqlx::query(CANCEL_SQL)
                .bind("Patient request")
                .bind(catalog.future_appointments[i])
                .execute(&mut *conn)
                .await
                .map(|r| Outcome::written(r.rows_affected()))
                .map_err(pg_error)
        }
        OpKind::CheckIn => {
            let Some(i) = catalog.next(Entity::TodayAppointment) else {
                return Ok(Outcome::noop());
            };
            sqlx::query(CHECK_IN_SQL)
                .bind(catalog.today_appointments[i])
                .execute(&mut *conn)
                .await
                .map(|r| Outcome::written(r.rows_affected()))
                .map_err(pg_error)
        }
        OpKind::CompleteTask => {
            let Some(i) = catalog.next(Entity::PendingTask) else {
                return Ok(Outcome::noop());
            };
            sqlx::query(COMPLETE_TASK_SQL)
                .bind(catalog.pending_tasks[i])
                .execute(&mut *conn)
                .await
                .map(|r| Outcome::written(r.rows_affected()))
                .map_err(pg_error)
        }
        OpKind::CompleteEncounter => {
            let Some(i) = catalog.next(Entity::OpenEncounter) else {
                return Ok(Outcome::noop());
            };
            let (drug, dose, freq) = DRUGS[rng.gen_range(0..DRUGS.len())];
            let days: i32 = rng.gen_range(5..=30);
            let ids = (new_row_id(rng), new_row_id(rng));
            complete_encounter(
                conn,
                catalog.open_encounters[i],
                ids,
                drug,
                dose,
                freq,
                days,
            )
            .await
            .map_err(pg_error)
        }
        other => Err(OpError::new(
            "setup",
            format!("{other:?} is not a PostgreSQL operation"),
        )),
    }
}

async fn complete_encounter(
    conn: &mut PgConnection,
    id: Uuid,
    (rx, item): (Uuid, Uuid),
    drug: &str,
    dose: &str,
    freq: &str,
    days: i32,
) -> Result<Outcome, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(ENCOUNTER_UPDATE_SQL)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((patient, doctor)) = row else {
        tx.commit().await?;
        return Ok(Outcome::noop());
    };
    sqlx::query(PRESCRIPTION_INSERT_SQL)
        .bind(rx)
        .bind(id)
        .bind(patient)
        .bind(doctor)
        .bind("Written by clinicload")
        .execute(&mut *tx)
        .await?;
    sqlx::query(ITEM_INSERT_SQL)
        .bind(item)
        .bind(rx)
        .bind(drug)
        .bind(dose)
        .bind(freq)
        .bind(days)
        .bind(days * 2)
        .bind("Take with water")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Outcome::written(3))
}

const UNREAD_ALERTS_SQL: &str = "-- Get unread alerts for a doctor
SELECT al.*
FROM alerts al
WHERE al.recipient_id = $1
AND NOT al.is_read
ORDER BY al.created_at DESC
LIMIT 50;";
const PATIENT_PRESCRIPTIONS_SQL: &str = "-- Get all prescriptions with items for a patient
SELECT rx.id, rx.status, rx.prescribed_at, rx.notes, u.full_name as doctor_name,
       i.drug_name, i.dose, i.route, i.frequency, i.duration_days, i.quantity, i.refills
FROM prescriptions rx
JOIN users u ON rx.doctor_id = u.id
LEFT JOIN prescription_items i ON i.prescription_id = rx.id
WHERE rx.patient_id = $1
ORDER BY rx.prescribed_at DESC;";
const PATIENT_ORDERS_SQL: &str = "-- Get all orders with items for a patient
SELECT o.id, o.order_type, o.status, o.priority, o.ordered_at, o.completed_at,
       i.code, i.code_system, i.description, i.status as item_status,
       i.result_value, i.result_unit, i.reference_range, i.abnormal_flag
FROM orders o
LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.patient_id = $1
ORDER BY o.ordered_at DESC;";
const PG_PK_LOOKUP_SQL: &str = "SELECT id, payload FROM clinicload_bench_kv WHERE id = $1;";
const CANCEL_SQL: &str = "UPDATE appointments
SET status = 'cancelled', cancelled_at = LOCALTIMESTAMP, cancellation_reason = $1
WHERE id = $2 AND status IN ('scheduled', 'confirmed');";
const CHECK_IN_SQL: &str = "UPDATE appointments
SET status = 'checked_in', checked_in_at = LOCALTIMESTAMP
WHERE id = $1 AND status IN ('scheduled', 'confirmed');";
const COMPLETE_TASK_SQL: &str = "UPDATE tasks
SET status = 'completed', completed_at = LOCALTIMESTAMP
WHERE id = $1 AND status IN ('pending', 'in_progress');";

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements sent are the documented texts with only the parameters renamed.
    #[test]
    fn sent_statements_are_the_documented_text() {
        for (doc, sent) in [
            (APPOINTMENTS_TODAY, APPOINTMENTS_TODAY_SQL),
            (PENDING_TASKS, PENDING_TASKS_SQL),
            (PATIENT_ENCOUNTERS, PATIENT_ENCOUNTERS_SQL),
            (UNREAD_ALERTS, UNREAD_ALERTS_SQL),
            (PATIENT_PRESCRIPTIONS, PATIENT_PRESCRIPTIONS_SQL),
            (PATIENT_ORDERS, PATIENT_ORDERS_SQL),
            (PG_PK_LOOKUP, PG_PK_LOOKUP_SQL),
            (CANCEL_APPOINTMENT, CANCEL_SQL),
            (CHECK_IN, CHECK_IN_SQL),
            (COMPLETE_TASK, COMPLETE_TASK_SQL),
        ] {
            assert_eq!(positional(doc), sent);
        }
        assert_eq!(positional(BOOK_APPOINTMENT).trim_end_matches(';'), BOOK_SQL);
        assert_eq!(
            positional("SELECT x::text FROM t WHERE a = :a"),
            "SELECT x::text FROM t WHERE a = $1"
        );
    }

    /// The MVP-004 document's SQL appears verbatim (when the document is at hand).
    #[test]
    fn documented_queries_match_the_reference_document() {
        // ../shared next to the repository, as the project's tests find it.
        let path = std::env::var("CLINICLOAD_MVP004").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/reference/MVP-004-data-model.md"
            )
            .into()
        });
        let Ok(doc) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {path} not found");
            return;
        };
        for q in [APPOINTMENTS_TODAY, PENDING_TASKS, PATIENT_ENCOUNTERS] {
            assert!(doc.contains(q), "not verbatim in MVP-004:\n{q}");
        }
    }
}
