//! The catalog: ids and names sampled from the seeded dataset once, before the run, so that
//! every read during the run hits real rows and every write is valid (an appointment is
//! cancelled once, a draft note is signed once), and drawing a parameter costs nanoseconds
//! instead of a query.
//!
//! Only the entities the scenario's operations draw are sampled. Samples are capped at
//! [`SAMPLE`] rows per entity and ordered by id (or a hash of it), so two runs against the
//! same dataset draw from the same rows and a Zipf "hot set" is the same rows each time.

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
        }
    }
}

/// The dataset's identity, from `clinicload_meta.dataset`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetInfo {
    pub fingerprint: String,
    pub seed: i64,
    pub as_of: String,
}

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
    pub dataset: Option<DatasetInfo>,
    /// Things the person running should know (fallbacks taken, stale "today").
    pub warnings: Vec<String>,
    cursors: [AtomicUsize; 11],
}

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

    /// The next row of a consumed entity: each row once, in sampled order, then round again
    /// (a second pass finds the rows already changed; the write then affects no row).
    pub fn next(&self, e: Entity) -> usize {
        let len = self.len(e);
        if len == 0 {
            return 0;
        }
        self.cursors[e as usize].fetch_add(1, Ordering::Relaxed) % len
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
        }
    }

    pub fn is_empty(&self) -> bool {
        Entity::ALL.iter().all(|e| self.len(*e) == 0)
    }

    /// Samples what `scenario` draws. Fails, naming the operation, if the dataset lacks rows
    /// an operation needs.
    pub async fn load(scenario: &Scenario, stores: &Stores) -> Result<Catalog> {
        let mut c = Catalog::default();
        let mut needed: Vec<(Entity, Dist, &'static str)> = Vec::new();
        for op in &scenario.ops {
            for (e, d) in op.draws() {
                needed.push((e, d, op.name()));
            }
        }
        let needs = |e: Entity| needed.iter().any(|(n, _, _)| *n == e);
        let needs_dist =
            |e: Entity, d: &str| needed.iter().any(|(n, x, _)| *n == e && x.name() == d);

        if let Some(pool) = &stores.pg {
            c.dataset = dataset_info(pool).await;
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
            let today_needed =
                needs_dist(Entity::Doctor, "today") || needs_dist(Entity::Doctor, "busy_doctor");
            if needs(Entity::Doctor) {
                c.doctors = uuids(
                    pool,
                    "SELECT id FROM users WHERE role = 'doctor' AND status = 'active' ORDER BY id LIMIT $1",
                )
                .await?;
            }
            if today_needed {
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
                    c.doctors_today.push(r.get(0));
                    c.doctors_today_cum.push(cum);
                }
                if c.doctors_today.is_empty() {
                    c.warnings.push(format!(
                        "no appointments today ({}) in the dataset{}: doctors for \"today\"/\"busy_doctor\" are drawn from all doctors, and appointments_today will mostly find no rows. Seed a dataset anchored at today",
                        chrono::Local::now().date_naive(),
                        c.dataset.as_ref().map(|d| format!(" (anchored at {})", d.as_of)).unwrap_or_default()
                    ));
                }
            }
            if needs(Entity::Patient) {
                c.patients = named(
                    pool,
                    "SELECT id, first_name || ' ' || last_name FROM patients ORDER BY id LIMIT $1",
                )
                .await?;
            }
            if needs_dist(Entity::Patient, "today") {
                c.patients_today = named(
                    pool,
                    "SELECT DISTINCT patient_id, patient_name FROM appointments \
                     WHERE DATE(start_time) = CURRENT_DATE ORDER BY patient_id LIMIT $1",
                )
                .await?;
                if c.patients_today.is_empty() {
                    c.warnings.push(
                        "no patients with appointments today: patients for \"today\" are drawn from all patients".into(),
                    );
                }
            }
            if needs(Entity::FutureAppointment) {
                c.future_appointments = uuids(
                    pool,
                    "SELECT id FROM appointments WHERE start_time > LOCALTIMESTAMP \
                     AND status IN ('scheduled', 'confirmed') ORDER BY md5(id::text) LIMIT $1",
                )
                .await?;
            }
            if needs(Entity::TodayAppointment) {
                c.today_appointments = uuids(
                    pool,
                    "SELECT id FROM appointments WHERE DATE(start_time) = CURRENT_DATE \
                     AND status IN ('scheduled', 'confirmed') ORDER BY md5(id::text) LIMIT $1",
                )
                .await?;
                if c.today_appointments.is_empty() {
                    c.today_appointments = uuids(
                        pool,
                        "SELECT id FROM appointments WHERE start_time > LOCALTIMESTAMP \
                         AND status IN ('scheduled', 'confirmed') ORDER BY md5(id::text) LIMIT $1",
                    )
                    .await?;
                    if !c.today_appointments.is_empty() {
                        c.warnings.push(
                            "no scheduled appointments today: check_in uses future scheduled appointments".into(),
                        );
                    }
                }
            }
            if needs(Entity::PendingTask) {
                c.pending_tasks = uuids(
                    pool,
                    "SELECT id FROM tasks WHERE status = 'pending' ORDER BY md5(id::text) LIMIT $1",
                )
                .await?;
            }
            if needs(Entity::OpenEncounter) {
                c.open_encounters = uuids(
                    pool,
                    "SELECT id FROM encounters WHERE status = 'in_progress' ORDER BY md5(id::text) LIMIT $1",
                )
                .await?;
                if c.open_encounters.is_empty() {
                    c.open_encounters = uuids(
                        pool,
                        "SELECT id FROM encounters WHERE status = 'completed' ORDER BY start_time DESC LIMIT $1",
                    )
                    .await?;
                    if !c.open_encounters.is_empty() {
                        c.warnings.push(
                            "no encounters in progress: complete_encounter re-completes recent encounters (adding a prescription)".into(),
                        );
                    }
                }
            }
        }
        if let Some(db) = &stores.mongo {
            if needs(Entity::NoteEncounter)
                || needs(Entity::NotePatient)
                || needs(Entity::NoteDoctor)
            {
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
                        c.note_encounters.push(s.to_string());
                    }
                    if let Ok(s) = d.get_str("patientId") {
                        c.note_patients.push(s.to_string());
                    }
                    if let Ok(s) = d.get_str("doctorId") {
                        c.note_doctors.push(s.to_string());
                    }
                }
                for v in [
                    &mut c.note_encounters,
                    &mut c.note_patients,
                    &mut c.note_doctors,
                ] {
                    v.sort();
                    v.dedup();
                }
            }
            if needs(Entity::DraftNote) {
                let mut cursor = db
                    .collection::<Document>(CLINICAL_NOTES)
                    .find(doc! { "status": "draft" })
                    .projection(doc! { "_id": 1, "doctorId": 1 })
                    .sort(doc! { "_id": 1 })
                    .limit(SAMPLE)
                    .await
                    .context("sampling draft notes")?;
                while let Some(d) = cursor.try_next().await.context("sampling draft notes")? {
                    if let (Some(id), Ok(doctor)) = (d.get("_id"), d.get_str("doctorId")) {
                        c.draft_notes.push((id.clone(), doctor.to_string()));
                    }
                }
                if c.draft_notes.is_empty() {
                    // Every note is signed (small datasets): sign_note still issues its
                    // update, which then matches no draft and changes nothing.
                    let mut cursor = db
                        .collection::<Document>(CLINICAL_NOTES)
                        .find(doc! {})
                        .projection(doc! { "_id": 1, "doctorId": 1 })
                        .sort(doc! { "_id": 1 })
                        .limit(SAMPLE)
                        .await
                        .context("sampling notes")?;
                    while let Some(d) = cursor.try_next().await.context("sampling notes")? {
                        if let (Some(id), Ok(doctor)) = (d.get("_id"), d.get_str("doctorId")) {
                            c.draft_notes.push((id.clone(), doctor.to_string()));
                        }
                    }
                    if !c.draft_notes.is_empty() {
                        c.warnings.push(
                            "no draft notes in the dataset: sign_note updates signed notes' ids, matching no draft (rows 0)".into(),
                        );
                    }
                }
            }
            if needs(Entity::Recording) {
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
                        c.recordings.push(id.clone());
                    }
                }
            }
        }
        for (e, _, op) in &needed {
            if c.len(*e) == 0 {
                bail!(
                    "operation {op} needs {} but the dataset has none{}. Seed a dataset first \
                     (clinicload migrate && clinicload seed --profile tiny), or drop {op} from the scenario",
                    e.describe(),
                    if c.dataset.is_none() && stores.pg.is_some() {
                        " (this database has no seeded dataset)"
                    } else {
                        ""
                    }
                );
            }
        }
        Ok(c)
    }
}

impl Entity {
    pub const ALL: [Entity; 11] = [
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
    ];
}

async fn uuids(pool: &sqlx::PgPool, sql: &str) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(sql)
        .bind(SAMPLE)
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
