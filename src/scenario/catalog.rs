//! The catalog: ids and names sampled from the seeded dataset once, before the run, so that
//! every read during the run hits real rows and every write is valid (an appointment is
//! cancelled once, a draft note is signed once), and drawing a parameter costs nanoseconds
//! instead of a query.
//!
//! Only the entities the scenario's operations draw are sampled. Samples are capped at
//! [`SAMPLE`] rows per entity and ordered by id (or a hash of it), so two runs against the
//! same dataset draw from the same rows and a Zipf "hot set" is the same rows each time.
//!
//! Write targets (appointments to cancel or check in, tasks, encounters, draft notes, free
//! slots for bookings) are pools taken each row once and never cycled: a pool holds at least
//! the writes the run plans ([`planned_uses`]), the run refuses to start when the dataset cannot
//! supply them ([`Catalog::shortfalls`]), and a write that finds its pool empty is a no-op.
//! Their rows' pre-images are what `crate::restore` saves, so every run and variant starts from
//! the same dataset with the same fresh pools.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use rand::rngs::SmallRng;
use rand::Rng;
use rand_distr::Distribution;
use sqlx::Row;
use uuid::Uuid;

use crate::scenario::ops::{OpKind, Stores};
use crate::scenario::spec::{Dist, Scenario};
use crate::schema::mongo::{CLINICAL_NOTES, GRIDFS_FILES};

/// Rows sampled per entity.
pub const SAMPLE: i64 = 10_000;

/// What a parameter is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Doctor,
    Patient,
    /// Encounters that have a clinical note (by their MongoDB `encounterId`).
    NoteEncounter,
    /// Patients that have clinical notes.
    NotePatient,
    /// Doctors that have clinical notes.
    NoteDoctor,
    DraftNote,
    FutureAppointment,
    TodayAppointment,
    PendingTask,
    OpenEncounter,
    Recording,
    /// Free 15-minute slots in doctors' calendars over the next four weeks (bookings).
    FreeSlot,
}

impl Entity {
    pub fn describe(self) -> &'static str {
        match self {
            Entity::Doctor => "active doctors",
            Entity::Patient => "patients",
            Entity::NoteEncounter => "clinical notes (with an encounterId)",
            Entity::NotePatient => "clinical notes (with a patientId)",
            Entity::NoteDoctor => "clinical notes (with a doctorId)",
            Entity::DraftNote => "draft clinical notes",
            Entity::FutureAppointment => "future scheduled appointments",
            Entity::TodayAppointment => "appointments scheduled for today",
            Entity::PendingTask => "pending tasks",
            Entity::OpenEncounter => "encounters",
            Entity::Recording => "GridFS files (voice recordings)",
            Entity::FreeSlot => "free 15-minute slots in doctors' calendars (next four weeks)",
        }
    }
}

pub use crate::report::DatasetInfo;

/// Sampled rows, per entity.
#[derive(Debug, Default)]
pub struct Catalog {
    pub doctors: Vec<Uuid>,
    /// Doctors with appointments today, busiest first, with cumulative appointment counts.
    pub doctors_today: Vec<Uuid>,
    pub doctors_today_cum: Vec<u64>,
    pub patients: Vec<(Uuid, String)>,
    pub patients_today: Vec<(Uuid, String)>,
    pub note_encounters: Vec<String>,
    pub note_patients: Vec<String>,
    pub note_doctors: Vec<String>,
    /// (note `_id`, doctorId) of draft notes.
    pub draft_notes: Vec<(Bson, String)>,
    pub future_appointments: Vec<Uuid>,
    pub today_appointments: Vec<Uuid>,
    pub pending_tasks: Vec<Uuid>,
    pub open_encounters: Vec<Uuid>,
    pub recordings: Vec<Bson>,
    /// Free booking slots per doctor (index in `doctors`), in time order, from today or
    /// tomorrow over the next four weeks (or the widest schedule window); a booking removes
    /// the one it takes.
    pub free_slots: Vec<std::sync::Mutex<Vec<chrono::NaiveDateTime>>>,
    free_slots_total: usize,
    /// The database's CURRENT_DATE when the catalog was drawn.
    pub today: chrono::NaiveDate,
    pub dataset: Option<DatasetInfo>,
    /// Things the person running should know (fallbacks taken, stale "today").
    pub warnings: Vec<String>,
    /// Consumed entities: how many the run plans to take (open model), for the pool check.
    pub planned: BTreeMap<Entity, u64>,
    cursors: Taken,
}

/// How many rows of each consumed entity the run has taken so far, shared with whoever
/// holds a clone (the restore reads it after the run: rows past it were never written).
#[derive(Debug, Clone, Default)]
pub struct Taken(std::sync::Arc<[AtomicUsize; 12]>);

impl Taken {
    /// Rows of `e` taken (at most the pool's size is meaningful: later draws found none).
    pub fn get(&self, e: Entity) -> usize {
        self.0[e as usize].load(Ordering::Relaxed)
    }
}

/// Rows a run's writes may update: table and ids.
pub type RowTargets = (&'static str, Vec<Uuid>);
/// Documents a run's writes may update: collection and `_id`s.
pub type DocumentTargets = (&'static str, Vec<Bson>);

/// Index into `n` rows drawn with `dist` (Today/BusyDoctor are resolved by the caller).
pub fn pick_index(n: usize, dist: Dist, rng: &mut SmallRng) -> usize {
    debug_assert!(n > 0);
    match dist {
        Dist::Zipf(s) if n > 1 => match rand_distr::Zipf::new(n as u64, s) {
            Ok(z) => {
                let k: f64 = z.sample(rng);
                ((k as usize).max(1) - 1).min(n - 1)
            }
            Err(_) => rng.gen_range(0..n),
        },
        _ => rng.gen_range(0..n),
    }
}

impl Catalog {
    /// A doctor's id drawn with `dist`.
    pub fn doctor(&self, dist: Dist, rng: &mut SmallRng) -> Uuid {
        match dist {
            Dist::Today if !self.doctors_today.is_empty() => {
                self.doctors_today[rng.gen_range(0..self.doctors_today.len())]
            }
            Dist::BusyDoctor if !self.doctors_today.is_empty() => {
                // Weighted by today's appointments: the doctor of a random appointment today.
                let total = *self.doctors_today_cum.last().unwrap();
                let x = rng.gen_range(0..total);
                let i = self.doctors_today_cum.partition_point(|c| *c <= x);
                self.doctors_today[i.min(self.doctors_today.len() - 1)]
            }
            Dist::Today | Dist::BusyDoctor => self.doctors[rng.gen_range(0..self.doctors.len())],
            d => self.doctors[pick_index(self.doctors.len(), d, rng)],
        }
    }

    /// A patient (id, "first last") drawn with `dist`.
    pub fn patient(&self, dist: Dist, rng: &mut SmallRng) -> &(Uuid, String) {
        match dist {
            Dist::Today if !self.patients_today.is_empty() => {
                &self.patients_today[rng.gen_range(0..self.patients_today.len())]
            }
            Dist::Today | Dist::BusyDoctor => &self.patients[rng.gen_range(0..self.patients.len())],
            d => &self.patients[pick_index(self.patients.len(), d, rng)],
        }
    }

    /// The next row of a consumed entity: each row once, in sampled order; `None` once the
    /// pool is used up (the write is then a no-op: rows are never taken twice).
    pub fn next(&self, e: Entity) -> Option<usize> {
        let i = self.cursors.0[e as usize].fetch_add(1, Ordering::Relaxed);
        (i < self.len(e)).then_some(i)
    }

    /// A free slot for a booking on a day in `days`: the doctor drawn with `dist` if they
    /// have one left, otherwise the next doctor (in sample order) who has; `None` when no
    /// slot is left. The slot is taken: no other booking gets it.
    pub fn free_slot(
        &self,
        dist: Dist,
        days: std::ops::Range<chrono::NaiveDate>,
        rng: &mut SmallRng,
    ) -> Option<(Uuid, chrono::NaiveDateTime)> {
        if self.free_slots.is_empty() {
            return None;
        }
        let doctor = self.doctor(dist, rng);
        let first = self.doctors.iter().position(|d| *d == doctor).unwrap_or(0);
        let n = self.free_slots.len();
        for k in 0..n {
            let d = (first + k) % n;
            let mut slots = self.free_slots[d].lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = slots.iter().position(|s| days.contains(&s.date())) {
                let start = slots.remove(i);
                self.cursors.0[Entity::FreeSlot as usize].fetch_add(1, Ordering::Relaxed);
                return Some((self.doctors[d], start));
            }
        }
        None
    }

    /// Keeps a distributed worker's share of the write pools (the read samples are shared): the rows and documents whose
    /// id hashes to it, and the free slots whose doctor and time do; no two workers share one.
    pub fn partition(&mut self, w: crate::config::Worker) {
        let mine = |id: &Uuid| w.owns_id(id.as_bytes());
        let doc = |b: &Bson| match b {
            Bson::ObjectId(o) => w.owns_id(&o.bytes()),
            other => w.owns_id(other.to_string().as_bytes()),
        };
        self.future_appointments.retain(mine);
        self.today_appointments.retain(mine);
        self.pending_tasks.retain(mine);
        self.open_encounters.retain(mine);
        self.draft_notes.retain(|(id, _)| doc(id));
        let mut total = 0;
        for (d, slots) in self.free_slots.iter().enumerate() {
            let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
            let doctor = self.doctors.get(d).copied().unwrap_or_default();
            slots.retain(|s| {
                let mut key = doctor.as_bytes().to_vec();
                key.extend(s.and_utc().timestamp().to_le_bytes());
                w.owns_id(&key)
            });
            total += slots.len();
        }
        self.free_slots_total = total;
    }

    /// The shared count of rows taken per consumed entity.
    pub fn taken(&self) -> Taken {
        self.cursors.clone()
    }

    /// Consumed entities whose pool is smaller than the run's planned writes: (entity, pool,
    /// planned).
    pub fn shortfalls(&self) -> Vec<(Entity, usize, u64)> {
        self.planned
            .iter()
            .filter(|(e, n)| (self.len(**e) as u64) < **n)
            .map(|(e, n)| (*e, self.len(*e), *n))
            .collect()
    }

    /// The rows the run's writes may update, by table (their pre-images are saved before
    /// the load), and the MongoDB documents likewise.
    pub fn write_targets(&self) -> (Vec<RowTargets>, Vec<DocumentTargets>) {
        let mut appointments = self.future_appointments.clone();
        appointments.extend(&self.today_appointments);
        let pg = vec![
            ("appointments", appointments),
            ("tasks", self.pending_tasks.clone()),
            ("encounters", self.open_encounters.clone()),
        ];
        let notes = self.draft_notes.iter().map(|(id, _)| id.clone()).collect();
        (pg, vec![(CLINICAL_NOTES, notes)])
    }

    /// Rows sampled for `e`.
    pub fn len(&self, e: Entity) -> usize {
        match e {
            Entity::Doctor => self.doctors.len(),
            Entity::Patient => self.patients.len(),
            Entity::NoteEncounter => self.note_encounters.len(),
            Entity::NotePatient => self.note_patients.len(),
            Entity::NoteDoctor => self.note_doctors.len(),
            Entity::DraftNote => self.draft_notes.len(),
            Entity::FutureAppointment => self.future_appointments.len(),
            Entity::TodayAppointment => self.today_appointments.len(),
            Entity::PendingTask => self.pending_tasks.len(),
            Entity::OpenEncounter => self.open_encounters.len(),
            Entity::Recording => self.recordings.len(),
            Entity::FreeSlot => self.free_slots_total,
        }
    }

    pub fn is_empty(&self) -> bool {
        Entity::ALL.iter().all(|e| self.len(*e) == 0)
    }

    /// Samples what `scenario` draws. Fails, naming the operation, if the dataset lacks rows
    /// an operation needs.
    pub async fn load(scenario: &Scenario, stores: &Stores) -> Result<Catalog> {
        let mut c = Catalog {
            planned: planned_uses(scenario),
            ..Catalog::default()
        };
        let needs = Needs::of(scenario);
        c.today = chrono::Local::now().date_naive();
        if let Some(pool) = &stores.pg {
            c.sample_postgres(scenario, pool, &needs).await?;
        }
        if let Some(db) = &stores.mongo {
            c.sample_mongo(db, &needs).await?;
        }
        if let Some(w) = scenario.worker {
            c.partition(w);
        }
        c.check_needs_met(&needs, stores)?;
        Ok(c)
    }

    /// The PostgreSQL side: the database's date and dataset, then each entity drawn.
    async fn sample_postgres(
        &mut self,
        scenario: &Scenario,
        pool: &sqlx::PgPool,
        needs: &Needs,
    ) -> Result<()> {
        self.today = sqlx::query_scalar("SELECT CURRENT_DATE")
            .fetch_one(pool)
            .await
            .context("reading the database's date")?;
        self.dataset = dataset_info(pool).await;
        require_bench_kv(scenario, pool).await?;
        let today_needed =
            needs.dist(Entity::Doctor, "today") || needs.dist(Entity::Doctor, "busy_doctor");
        if needs.entity(Entity::Doctor) {
            self.doctors = uuids(
                pool,
                "SELECT id FROM users WHERE role = 'doctor' AND status = 'active' ORDER BY id LIMIT $1",
            )
            .await?;
        }
        if today_needed {
            self.sample_doctors_today(pool).await?;
        }
        if needs.entity(Entity::Patient) {
            self.patients = named(
                pool,
                "SELECT id, first_name || ' ' || last_name FROM patients ORDER BY id LIMIT $1",
            )
            .await?;
        }
        if needs.dist(Entity::Patient, "today") {
            self.sample_patients_today(pool).await?;
        }
        if needs.entity(Entity::TodayAppointment) {
            self.sample_today_appointments(pool).await?;
        }
        if needs.entity(Entity::FutureAppointment) {
            self.sample_future_appointments(pool, needs).await?;
        }
        if needs.entity(Entity::PendingTask) {
            self.pending_tasks = uuids_n(
                pool,
                "SELECT id FROM tasks WHERE status = 'pending' ORDER BY md5(id::text) LIMIT $1",
                needs.pool_size(Entity::PendingTask),
            )
            .await?;
        }
        if needs.entity(Entity::FreeSlot) {
            self.sample_free_slots(scenario, pool).await?;
        }
        if needs.entity(Entity::OpenEncounter) {
            self.sample_open_encounters(pool, needs).await?;
        }
        Ok(())
    }

    /// Doctors with appointments today, busiest first, with cumulative appointment counts.
    async fn sample_doctors_today(&mut self, pool: &sqlx::PgPool) -> Result<()> {
        let rows = sqlx::query(
            "SELECT doctor_id, count(*) AS n FROM appointments \
             WHERE DATE(start_time) = CURRENT_DATE GROUP BY doctor_id ORDER BY n DESC, doctor_id",
        )
        .fetch_all(pool)
        .await
        .context("sampling today's doctors")?;
        let mut cum = 0u64;
        for r in rows {
            cum += r.get::<i64, _>(1) as u64;
            self.doctors_today.push(r.get(0));
            self.doctors_today_cum.push(cum);
        }
        if self.doctors_today.is_empty() {
            self.warnings.push(format!(
                "no appointments today ({}) in the dataset{}: doctors for \"today\"/\"busy_doctor\" are drawn from all doctors, and appointments_today will mostly find no rows. Seed a dataset anchored at today",
                chrono::Local::now().date_naive(),
                self.dataset.as_ref().map(|d| format!(" (anchored at {})", d.as_of)).unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Patients with appointments today (a warning when there are none).
    async fn sample_patients_today(&mut self, pool: &sqlx::PgPool) -> Result<()> {
        self.patients_today = named(
            pool,
            "SELECT DISTINCT patient_id, patient_name FROM appointments \
             WHERE DATE(start_time) = CURRENT_DATE ORDER BY patient_id LIMIT $1",
        )
        .await?;
        if self.patients_today.is_empty() {
            self.warnings.push(
                "no patients with appointments today: patients for \"today\" are drawn from all patients".into(),
            );
        }
        Ok(())
    }

    /// The check-in pool: today's open appointments, then the coming days' as planned.
    async fn sample_today_appointments(&mut self, pool: &sqlx::PgPool) -> Result<()> {
        // Today's open appointments first (in hash order), then, as far as the run
        // plans check-ins, the coming days' in time order.
        let today: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM appointments WHERE DATE(start_time) = CURRENT_DATE \
             AND status IN ('scheduled', 'confirmed')",
        )
        .fetch_one(pool)
        .await
        .context("counting today's open appointments")?;
        let planned = self
            .planned
            .get(&Entity::TodayAppointment)
            .copied()
            .unwrap_or(0) as i64;
        let mut n = planned.saturating_add(planned / 10).max(today.min(SAMPLE));
        if n == 0 {
            n = SAMPLE;
        }
        self.today_appointments = uuids_n(
            pool,
            "SELECT id FROM appointments WHERE start_time >= CURRENT_DATE \
             AND status IN ('scheduled', 'confirmed') \
             ORDER BY DATE(start_time), md5(id::text) LIMIT $1",
            n,
        )
        .await?;
        if (today as usize) < self.today_appointments.len() {
            self.warnings.push(format!(
                "check_in: {today} open appointments today; the pool continues with the coming days' ({} in all)",
                self.today_appointments.len()
            ));
        }
        Ok(())
    }

    /// The cancellation pool: future open appointments, none of them in the check-in pool.
    async fn sample_future_appointments(
        &mut self,
        pool: &sqlx::PgPool,
        needs: &Needs,
    ) -> Result<()> {
        let taken: HashSet<Uuid> = self.today_appointments.iter().copied().collect();
        let n = needs.pool_size(Entity::FutureAppointment);
        self.future_appointments = uuids_n(
            pool,
            "SELECT id FROM appointments WHERE start_time > LOCALTIMESTAMP \
             AND status IN ('scheduled', 'confirmed') ORDER BY md5(id::text) LIMIT $1",
            n.saturating_add(taken.len() as i64),
        )
        .await?;
        // Disjoint from the check-in pool: no appointment is both checked in and cancelled.
        self.future_appointments.retain(|id| !taken.contains(id));
        self.future_appointments.truncate(n as usize);
        Ok(())
    }

    /// The sampled doctors' free slots over the days the booking operations book.
    async fn sample_free_slots(&mut self, scenario: &Scenario, pool: &sqlx::PgPool) -> Result<()> {
        // book_appointment books from tomorrow on; schedule_book within its window,
        // from today.
        let mut from = 1;
        let mut to = 28;
        for op in &scenario.ops {
            if op.def.kind == OpKind::ScheduleBook {
                from = 0;
                to = to.max(op.int("days"));
            }
        }
        let slots = free_slots(pool, &self.doctors, from, to).await?;
        self.free_slots_total = slots.iter().map(Vec::len).sum();
        self.free_slots = slots.into_iter().map(std::sync::Mutex::new).collect();
        Ok(())
    }

    /// The completion pool: encounters in progress, then recently completed ones.
    async fn sample_open_encounters(&mut self, pool: &sqlx::PgPool, needs: &Needs) -> Result<()> {
        // Encounters in progress first; when the run plans more completions than
        // there are, the most recent completed ones, which are completed again (a
        // further prescription), said in a warning.
        self.open_encounters = uuids_n(
            pool,
            "SELECT id FROM encounters WHERE status IN ('in_progress', 'completed') \
             ORDER BY status = 'in_progress' DESC, start_time DESC, id LIMIT $1",
            needs.pool_size(Entity::OpenEncounter),
        )
        .await?;
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM encounters WHERE status = 'in_progress'")
                .fetch_one(pool)
                .await
                .context("counting encounters in progress")?;
        if (open as usize) < self.open_encounters.len() {
            self.warnings.push(format!(
                "complete_encounter: {open} encounters in progress; the pool continues with recent completed encounters, completed again with a further prescription ({} in all)",
                self.open_encounters.len()
            ));
        }
        Ok(())
    }

    /// The MongoDB side: note keys, draft notes and recordings, as drawn.
    async fn sample_mongo(&mut self, db: &mongodb::Database, needs: &Needs) -> Result<()> {
        if needs.entity(Entity::NoteEncounter)
            || needs.entity(Entity::NotePatient)
            || needs.entity(Entity::NoteDoctor)
        {
            self.sample_note_keys(db).await?;
        }
        if needs.entity(Entity::DraftNote) {
            self.sample_draft_notes(db, needs).await?;
        }
        if needs.entity(Entity::Recording) {
            self.sample_recordings(db).await?;
        }
        Ok(())
    }

    /// The encounter, patient and doctor ids of the first clinical notes, deduplicated.
    async fn sample_note_keys(&mut self, db: &mongodb::Database) -> Result<()> {
        let mut cursor = db
            .collection::<Document>(CLINICAL_NOTES)
            .find(doc! {})
            .projection(doc! { "encounterId": 1, "patientId": 1, "doctorId": 1 })
            .sort(doc! { "_id": 1 })
            .limit(SAMPLE)
            .await
            .context("sampling clinicalNotes")?;
        while let Some(d) = cursor.try_next().await.context("sampling clinicalNotes")? {
            if let Ok(s) = d.get_str("encounterId") {
                self.note_encounters.push(s.to_string());
            }
            if let Ok(s) = d.get_str("patientId") {
                self.note_patients.push(s.to_string());
            }
            if let Ok(s) = d.get_str("doctorId") {
                self.note_doctors.push(s.to_string());
            }
        }
        for v in [
            &mut self.note_encounters,
            &mut self.note_patients,
            &mut self.note_doctors,
        ] {
            v.sort();
            v.dedup();
        }
        Ok(())
    }

    /// The signing pool: draft notes, or signed ones when there are none (small datasets).
    async fn sample_draft_notes(&mut self, db: &mongodb::Database, needs: &Needs) -> Result<()> {
        self.draft_notes = note_doctors(
            db,
            doc! { "status": "draft" },
            needs.pool_size(Entity::DraftNote),
            "sampling draft notes",
        )
        .await?;
        if self.draft_notes.is_empty() {
            // Every note is signed (small datasets): sign_note still issues its
            // update, which then matches no draft and changes nothing.
            self.draft_notes = note_doctors(db, doc! {}, SAMPLE, "sampling notes").await?;
            if !self.draft_notes.is_empty() {
                self.warnings.push(
                    "no draft notes in the dataset: sign_note updates signed notes' ids, matching no draft (counted as no-ops)".into(),
                );
            }
        }
        Ok(())
    }

    /// The `_id`s of the first GridFS files (voice recordings).
    async fn sample_recordings(&mut self, db: &mongodb::Database) -> Result<()> {
        let mut cursor = db
            .collection::<Document>(GRIDFS_FILES)
            .find(doc! {})
            .projection(doc! { "_id": 1 })
            .sort(doc! { "_id": 1 })
            .limit(SAMPLE)
            .await
            .context("sampling GridFS files")?;
        while let Some(d) = cursor.try_next().await.context("sampling GridFS files")? {
            if let Some(id) = d.get("_id") {
                self.recordings.push(id.clone());
            }
        }
        Ok(())
    }

    /// Fails, naming the operation, when an entity it draws has no rows and no planned pool.
    fn check_needs_met(&self, needs: &Needs, stores: &Stores) -> Result<()> {
        for (e, _, op) in &needs.draws {
            // A write pool the run plans is checked against the plan (`shortfalls`), which
            // says how much to seed and allows running short with a flag.
            if self.len(*e) == 0 && !self.planned.get(e).is_some_and(|n| *n > 0) {
                bail!(
                    "operation {op} needs {} but the dataset has none{}. Seed a dataset first \
                     (clinicload migrate && clinicload seed --profile tiny), or drop {op} from the scenario",
                    e.describe(),
                    if self.dataset.is_none() && stores.pg.is_some() {
                        " (this database has no seeded dataset)"
                    } else {
                        ""
                    }
                );
            }
        }
        Ok(())
    }
}

/// What a scenario's operations draw, and how large the write pools must be.
struct Needs {
    /// (entity, distribution, operation) of every draw, consumed entities included.
    draws: Vec<(Entity, Dist, &'static str)>,
    /// The writes of the whole run: a distributed worker draws the pools of the whole run
    /// and keeps its share of them (`partition`), so the pools are sized for every worker.
    whole_run: BTreeMap<Entity, u64>,
}

impl Needs {
    /// The draws of `scenario`'s operations and the planned writes of its whole run.
    fn of(scenario: &Scenario) -> Needs {
        let mut draws: Vec<(Entity, Dist, &'static str)> = Vec::new();
        for op in &scenario.ops {
            for (e, d) in op.draws() {
                draws.push((e, d, op.name()));
            }
        }
        Needs {
            draws,
            whole_run: planned_uses(&Scenario {
                worker: None,
                ..scenario.clone()
            }),
        }
    }

    /// Whether any operation draws `e`.
    fn entity(&self, e: Entity) -> bool {
        self.draws.iter().any(|(n, _, _)| *n == e)
    }

    /// Whether any operation draws `e` with the distribution named `d`.
    fn dist(&self, e: Entity, d: &str) -> bool {
        self.draws.iter().any(|(n, x, _)| *n == e && x.name() == d)
    }

    /// A consumed entity's pool size: the whole run's planned uses with a margin.
    fn pool_size(&self, e: Entity) -> i64 {
        // What the run plans to take, with a margin (SAMPLE rows when that is not known:
        // the closed model). Every row in it has its pre-image saved before the run, so it
        // is no bigger than needed.
        match self.whole_run.get(&e) {
            Some(&p) if p > 0 => {
                (p.saturating_add(p / 10).saturating_add(16)).min(i64::MAX as u64) as i64
            }
            _ => SAMPLE,
        }
    }
}

/// pg_pk_lookup reads table clinicload_bench_kv: refuses to start without it.
async fn require_bench_kv(scenario: &Scenario, pool: &sqlx::PgPool) -> Result<()> {
    if scenario
        .ops
        .iter()
        .any(|o| o.def.kind == OpKind::PgPkLookup)
    {
        sqlx::query("SELECT 1 FROM clinicload_bench_kv LIMIT 1")
            .execute(pool)
            .await
            .context(
                "pg_pk_lookup reads table clinicload_bench_kv, which is missing: \
                 scripts/bench-harness creates it (or drop pg_pk_lookup from the scenario)",
            )?;
    }
    Ok(())
}

/// (`_id`, doctorId) of the first `limit` clinical notes matching `filter`, in `_id` order.
async fn note_doctors(
    db: &mongodb::Database,
    filter: Document,
    limit: i64,
    what: &'static str,
) -> Result<Vec<(Bson, String)>> {
    let mut out = Vec::new();
    let mut cursor = db
        .collection::<Document>(CLINICAL_NOTES)
        .find(filter)
        .projection(doc! { "_id": 1, "doctorId": 1 })
        .sort(doc! { "_id": 1 })
        .limit(limit)
        .await
        .context(what)?;
    while let Some(d) = cursor.try_next().await.context(what)? {
        if let (Some(id), Ok(doctor)) = (d.get("_id"), d.get_str("doctorId")) {
            out.push((id.clone(), doctor.to_string()));
        }
    }
    Ok(out)
}

impl Entity {
    pub const ALL: [Entity; 12] = [
        Entity::Doctor,
        Entity::Patient,
        Entity::NoteEncounter,
        Entity::NotePatient,
        Entity::NoteDoctor,
        Entity::DraftNote,
        Entity::FutureAppointment,
        Entity::TodayAppointment,
        Entity::PendingTask,
        Entity::OpenEncounter,
        Entity::Recording,
        Entity::FreeSlot,
    ];
}

/// How many rows of each consumed entity the run takes if every arrival happens (open model:
/// warm-up and measured window, each operation its exact share of the mix cycle). Empty for
/// the closed model, whose number of operations is not known in advance.
pub fn planned_uses(scenario: &Scenario) -> BTreeMap<Entity, u64> {
    let mut out = BTreeMap::new();
    let crate::scenario::spec::Load::Open {
        rate,
        ramp_from,
        ramp,
        arrivals: kind,
        ..
    } = &scenario.load
    else {
        return out;
    };
    let total = scenario.warmup + scenario.duration;
    use crate::scenario::schedule::{self, ArrivalClock, Arrivals};
    let arrivals = match kind {
        Arrivals::Uniform => schedule::first_arrival_at_or_after(total, *rate, *ramp_from, *ramp),
        // The same seeded arrivals the run will have, counted.
        Arrivals::Poisson => {
            let clock = ArrivalClock::new(*kind, *rate, *ramp_from, *ramp, scenario.seed);
            schedule::window_by_clock(clock, std::time::Duration::ZERO, total).1
        }
    };
    let weights: Vec<u32> = scenario.ops.iter().map(|o| o.weight).collect();
    let mix = crate::scenario::schedule::mix_cycle(&weights);
    // A distributed worker plans only its own arrivals.
    let per_op: Vec<u64> = match scenario.worker {
        None => (0..scenario.ops.len())
            .map(|i| crate::scenario::schedule::arrivals_of_op(&mix, i, 0, arrivals))
            .collect(),
        Some(p) => {
            let mut n = vec![0u64; scenario.ops.len()];
            for k in (0..arrivals).filter(|k| p.owns(*k)) {
                n[mix[(k % mix.len() as u64) as usize]] += 1;
            }
            n
        }
    };
    for (i, op) in scenario.ops.iter().enumerate() {
        for e in op.def.uses {
            *out.entry(*e).or_insert(0) += per_op[i];
        }
    }
    out
}

/// Free 15-minute slots of `doctors` from `CURRENT_DATE + $2` to `CURRENT_DATE + $3`: inside each doctor's working hours
/// (`preferences.workingHours`, as the seeder writes it), outside the lunch gap, overlapping
/// no appointment of theirs; per doctor in time order. A booking takes one, so bookings under
/// load fill calendars the way the application would, never double-booking.
const FREE_SLOTS_SQL: &str = "\
WITH d AS (
    SELECT u.id, ord, u.preferences->'workingHours' AS wh
    FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord) JOIN users u ON u.id = x.id
    WHERE u.preferences ? 'workingHours'
), slot AS (
    SELECT d.id AS doctor_id, d.ord, s AS start_time
    FROM d,
         generate_series(CURRENT_DATE + $2::int, CURRENT_DATE + $3::int, interval '1 day') AS day,
         generate_series(day::date + (d.wh->>'start')::time,
                         day::date + (d.wh->>'end')::time - interval '15 minutes',
                         interval '15 minutes') AS s
    WHERE d.wh->'days' ? lower(to_char(day, 'dy'))
      AND (s::time + interval '15 minutes' <= (d.wh->>'lunchStart')::time
           OR s::time >= (d.wh->>'lunchEnd')::time)
)
SELECT slot.ord, slot.start_time FROM slot
WHERE NOT EXISTS (
    SELECT 1 FROM appointments a
    WHERE a.doctor_id = slot.doctor_id
      AND a.start_time < slot.start_time + interval '15 minutes'
      AND a.end_time > slot.start_time
      AND a.start_time > slot.start_time - interval '1 day')
ORDER BY slot.ord, slot.start_time";

async fn free_slots(
    pool: &sqlx::PgPool,
    doctors: &[Uuid],
    from_day: i64,
    to_day: i64,
) -> Result<Vec<Vec<chrono::NaiveDateTime>>> {
    let rows: Vec<(i64, chrono::NaiveDateTime)> = sqlx::query_as(FREE_SLOTS_SQL)
        .bind(doctors)
        .bind(from_day as i32)
        .bind(to_day as i32)
        .fetch_all(pool)
        .await
        .context("finding free slots in the doctors' calendars")?;
    let mut out = vec![Vec::new(); doctors.len()];
    for (ord, start) in rows {
        if let Some(v) = out.get_mut(ord as usize - 1) {
            v.push(start);
        }
    }
    Ok(out)
}

async fn uuids(pool: &sqlx::PgPool, sql: &str) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(sql)
        .bind(SAMPLE)
        .fetch_all(pool)
        .await
        .with_context(|| format!("sampling the dataset: {sql}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn uuids_n(pool: &sqlx::PgPool, sql: &str, n: i64) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(sql)
        .bind(n)
        .fetch_all(pool)
        .await
        .with_context(|| format!("sampling the dataset: {sql}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn named(pool: &sqlx::PgPool, sql: &str) -> Result<Vec<(Uuid, String)>> {
    let rows = sqlx::query(sql)
        .bind(SAMPLE)
        .fetch_all(pool)
        .await
        .with_context(|| format!("sampling the dataset: {sql}"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The dataset's fingerprint, if `clinicload seed` recorded one.
pub async fn dataset_info(pool: &sqlx::PgPool) -> Option<DatasetInfo> {
    let row =
        sqlx::query("SELECT fingerprint, seed, as_of::text FROM clinicload_meta.dataset LIMIT 1")
            .fetch_optional(pool)
            .await
            .ok()??;
    Some(DatasetInfo {
        fingerprint: row.get(0),
        seed: row.get(1),
        as_of: row.get(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zipf_prefers_the_first_rows_and_stays_in_range() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[pick_index(100, Dist::Zipf(1.2), &mut rng)] += 1;
        }
        assert!(counts[0] > counts[10] * 5, "{:?}", &counts[..12]);
        let mut uni = [0u32; 100];
        for _ in 0..20_000 {
            uni[pick_index(100, Dist::Uniform, &mut rng)] += 1;
        }
        assert!(
            uni.iter().all(|c| *c > 100),
            "uniform should cover every row"
        );
    }

    #[test]
    fn busy_doctor_is_weighted_by_appointments() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let c = Catalog {
            doctors: vec![a, b],
            doctors_today: vec![a, b],
            doctors_today_cum: vec![90, 100],
            ..Catalog::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let n = (0..10_000)
            .filter(|_| c.doctor(Dist::BusyDoctor, &mut rng) == a)
            .count();
        assert!((8_700..9_300).contains(&n), "{n}");
    }
}
