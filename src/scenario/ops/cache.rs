//! The schedule-cache operations: `doctor_schedule` reads a doctor's day through the
//! scenario's cache strategy (recorded as `doctor_schedule:hit`, `:miss` or `:bypass`), and
//! the `schedule_*` writes change a doctor's day through the cache, so the strategy's
//! invalidation (or write-through) runs with them. Their SQL lives next to each operation in
//! `src/cache/schedule.rs` and `src/cache/writes.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration as Days, NaiveDate};
use rand::rngs::SmallRng;
use rand::Rng;
use uuid::Uuid;

use super::{OpError, OpKind, Outcome};
use crate::cache::{Booking, ScheduleCache};
use crate::scenario::catalog::Catalog;
use crate::scenario::spec::OpSpec;

/// The documented read, for the op table.
pub const DOCTOR_SCHEDULE: &str = "GET doctor:{doctorId}:schedule:{date}
-- on a miss (cache-aside; single-flight: only the holder of SET lock:... NX PX):
-- crate::cache::schedule::SCHEDULE_SQL, then SET doctor:{doctorId}:schedule:{date} <json> EX <ttl>";
pub const SCHEDULE_WRITE: &str = "crate::cache::writes (book / cancel / reschedule / check in), \
then DEL doctor:{doctorId}:schedule:{date} (write-through: rebuild and SET)";

/// The cache of the running variant, the day reads and writes are anchored at, and the
/// open appointments the cancel / check-in / reschedule writes take, each once in turn.
pub struct CacheRuntime {
    pub cache: Arc<ScheduleCache>,
    /// The database's CURRENT_DATE when the run started.
    pub today: NaiveDate,
    /// Open appointments from today to the end of the widest write window, shuffled.
    pub open_appointments: Vec<Uuid>,
    pub next_appointment: AtomicUsize,
}

impl CacheRuntime {
    /// The next open appointment, each once; `None` when all are taken (the write is then a
    /// no-op: an appointment is never written twice).
    fn take(&self) -> Option<Uuid> {
        let i = self.next_appointment.fetch_add(1, Ordering::Relaxed);
        self.open_appointments.get(i).copied()
    }
}

fn day(rt: &CacheRuntime, spec: &OpSpec, rng: &mut SmallRng) -> NaiveDate {
    let days = spec.int("days").max(1);
    rt.today + Days::days(rng.gen_range(0..days))
}

fn slot(day: NaiveDate, rng: &mut SmallRng) -> chrono::NaiveDateTime {
    let minute = 8 * 60 + 15 * rng.gen_range(0..36);
    day.and_hms_opt(0, 0, 0).unwrap() + Days::minutes(minute)
}

fn err(e: anyhow::Error) -> OpError {
    OpError::new("cache", format!("{e:#}"))
}

fn written(w: Option<crate::cache::Written>) -> Outcome {
    Outcome::written(w.is_some() as u64)
}

/// Runs a cache operation; `None` if `kind` is not one.
pub async fn execute(
    kind: OpKind,
    spec: &OpSpec,
    rt: Option<&CacheRuntime>,
    catalog: &Catalog,
    rng: &mut SmallRng,
) -> Option<Result<Outcome, OpError>> {
    if !matches!(
        kind,
        OpKind::DoctorSchedule
            | OpKind::ScheduleBook
            | OpKind::ScheduleCancel
            | OpKind::ScheduleCheckIn
            | OpKind::ScheduleReschedule
    ) {
        return None;
    }
    let Some(rt) = rt else {
        return Some(Err(OpError::new("setup", "no schedule cache")));
    };
    let c = &rt.cache;
    Some(match kind {
        OpKind::DoctorSchedule => {
            let doctor = catalog.doctor(spec.dist("doctor"), rng);
            let d = day(rt, spec, rng);
            c.get_schedule(doctor, d)
                .await
                .map_err(err)
                .map(|r| Outcome {
                    rows: r.schedule.len() as u64,
                    sub: Some(r.outcome.label()),
                    noop: false,
                })
        }
        OpKind::ScheduleBook => {
            // A free slot of the doctor's calendar in the window, taken once.
            let window = rt.today..rt.today + Days::days(spec.int("days").max(1));
            let Some((doctor, start)) = catalog.free_slot(spec.dist("doctor"), window, rng) else {
                return Some(Ok(Outcome::noop()));
            };
            let patient = catalog.patient(spec.dist("patient"), rng).0;
            c.book(&Booking {
                id: crate::restore::new_row_id(rng),
                patient_id: patient,
                doctor_id: doctor,
                start_time: start,
                end_time: start + Days::minutes(15),
                appointment_type: "follow_up".into(),
                reason: Some("Follow-up visit".into()),
            })
            .await
            .map(|_| Outcome::written(1))
            .map_err(err)
        }
        OpKind::ScheduleCancel => match rt.take() {
            Some(id) => c
                .cancel(id, "Patient request")
                .await
                .map(written)
                .map_err(err),
            None => Ok(Outcome::noop()),
        },
        OpKind::ScheduleCheckIn => match rt.take() {
            Some(id) => c.check_in(id).await.map(written).map_err(err),
            None => Ok(Outcome::noop()),
        },
        OpKind::ScheduleReschedule => match rt.take() {
            Some(id) => {
                let start = slot(day(rt, spec, rng), rng);
                c.reschedule(id, start).await.map(written).map_err(err)
            }
            None => Ok(Outcome::noop()),
        },
        _ => unreachable!("filtered above"),
    })
}
