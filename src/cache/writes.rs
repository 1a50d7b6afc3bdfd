//! The writes that change a doctor's day: book, cancel, reschedule, check in. Each commits
//! one statement to PostgreSQL (its SQL is next to it), then keeps the cache coherent:
//! cache-aside and single-flight delete the day's key (`DEL`), write-through rewrites it
//! from PostgreSQL in the same operation, `invalidate_on_write = false` leaves it alone (the
//! strategy whose stale reads the invalidation scenario counts). A reschedule touches two
//! days: the one the appointment leaves and the one it moves to.
//!
//! When the operation returns, the write is acknowledged: it is recorded in the write log
//! that stale-read accounting checks later reads against.

use std::sync::atomic::Ordering::Relaxed;

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime};
use uuid::Uuid;

use super::schedule::fetch_schedule;
use super::stale::Expectation;
use super::{ScheduleCache, Strategy};

/// A new appointment. The patient's name is denormalised from `patients` by the INSERT.
#[derive(Debug, Clone)]
pub struct Booking {
    /// The new row's key: a version-8 UUID (`crate::restore::new_row_id`), so restoring the
    /// dataset after the run deletes it.
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub start_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    /// One of the `valid_appointment_type` values, e.g. "follow_up".
    pub appointment_type: String,
    pub reason: Option<String>,
}

/// An acknowledged write: the appointment, its doctor, the days whose schedule changed, and
/// the database queries the operation made (the write, plus write-through rebuilds).
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub appointment_id: Uuid,
    pub doctor_id: Uuid,
    pub days: Vec<NaiveDate>,
    pub db_queries: u32,
}

/// Book: insert a scheduled appointment (booked now, or at its start if that is earlier, to
/// satisfy `appointment_booked_before_start`).
const BOOK_SQL: &str = "\
INSERT INTO appointments
    (id, patient_id, doctor_id, patient_name, start_time, end_time, status, appointment_type,
     reason, booked_at)
SELECT $7, p.id, $2, p.first_name || ' ' || p.last_name, $3, $4, 'scheduled', $5, $6,
       LEAST(LOCALTIMESTAMP, $3)
FROM patients p
WHERE p.id = $1
RETURNING id, updated_at";

/// Cancel an appointment that is still open.
const CANCEL_SQL: &str = "\
UPDATE appointments
SET status = 'cancelled', cancelled_at = NOW(), cancellation_reason = $2
WHERE id = $1 AND status IN ('scheduled', 'confirmed', 'checked_in')
RETURNING doctor_id, DATE(start_time), updated_at";

/// Move an open appointment to a new start, keeping its length; returns the old day too.
const RESCHEDULE_SQL: &str = "\
UPDATE appointments a
SET start_time = $2, end_time = $2 + (a.end_time - a.start_time)
FROM (SELECT id, start_time FROM appointments WHERE id = $1 FOR UPDATE) old
WHERE a.id = old.id AND a.status IN ('scheduled', 'confirmed') AND a.booked_at <= $2
RETURNING a.doctor_id, DATE(old.start_time), DATE(a.start_time), a.updated_at";

/// The patient arrived.
const CHECK_IN_SQL: &str = "\
UPDATE appointments
SET status = 'checked_in', checked_in_at = NOW()
WHERE id = $1 AND status IN ('scheduled', 'confirmed')
RETURNING doctor_id, DATE(start_time), updated_at";

impl ScheduleCache {
    /// Books an appointment; fails if the patient does not exist.
    pub async fn book(&self, b: &Booking) -> Result<Written> {
        let (id, updated_at): (Uuid, NaiveDateTime) = sqlx::query_as(BOOK_SQL)
            .bind(b.patient_id)
            .bind(b.doctor_id)
            .bind(b.start_time)
            .bind(b.end_time)
            .bind(&b.appointment_type)
            .bind(&b.reason)
            .bind(b.id)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("booking doctor {} at {}", b.doctor_id, b.start_time))?
            .with_context(|| format!("cannot book: no patient {}", b.patient_id))?;
        let day = b.start_time.date();
        self.after_write(b.doctor_id, id, updated_at, &[(day, true)])
            .await
    }

    /// Cancels an open appointment; `None` if it does not exist or is no longer open.
    pub async fn cancel(&self, appointment_id: Uuid, reason: &str) -> Result<Option<Written>> {
        let row: Option<(Uuid, NaiveDate, NaiveDateTime)> = sqlx::query_as(CANCEL_SQL)
            .bind(appointment_id)
            .bind(reason)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("cancelling appointment {appointment_id}"))?;
        self.after_single_day_write(appointment_id, row).await
    }

    /// Checks a patient in; `None` if the appointment does not exist or is not open.
    pub async fn check_in(&self, appointment_id: Uuid) -> Result<Option<Written>> {
        let row: Option<(Uuid, NaiveDate, NaiveDateTime)> = sqlx::query_as(CHECK_IN_SQL)
            .bind(appointment_id)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("checking in appointment {appointment_id}"))?;
        self.after_single_day_write(appointment_id, row).await
    }

    /// Moves an open appointment to `new_start`; both the old and the new day are
    /// invalidated. `None` if it does not exist, is not open, or would start before it was
    /// booked.
    pub async fn reschedule(
        &self,
        appointment_id: Uuid,
        new_start: NaiveDateTime,
    ) -> Result<Option<Written>> {
        let row: Option<(Uuid, NaiveDate, NaiveDate, NaiveDateTime)> =
            sqlx::query_as(RESCHEDULE_SQL)
                .bind(appointment_id)
                .bind(new_start)
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("rescheduling appointment {appointment_id}"))?;
        let Some((doctor_id, old_day, new_day, updated_at)) = row else {
            return Ok(None);
        };
        let days: &[(NaiveDate, bool)] = if old_day == new_day {
            &[(new_day, true)]
        } else {
            &[(old_day, false), (new_day, true)]
        };
        self.after_write(doctor_id, appointment_id, updated_at, days)
            .await
            .map(Some)
    }

    async fn after_single_day_write(
        &self,
        appointment_id: Uuid,
        row: Option<(Uuid, NaiveDate, NaiveDateTime)>,
    ) -> Result<Option<Written>> {
        let Some((doctor_id, day, updated_at)) = row else {
            return Ok(None);
        };
        self.after_write(doctor_id, appointment_id, updated_at, &[(day, true)])
            .await
            .map(Some)
    }

    /// After the commit: invalidate or rewrite each changed day, then acknowledge.
    /// `days` pairs each day with whether the appointment belongs to it after the write.
    async fn after_write(
        &self,
        doctor_id: Uuid,
        appointment_id: Uuid,
        updated_at: NaiveDateTime,
        days: &[(NaiveDate, bool)],
    ) -> Result<Written> {
        let mut db_queries = 1;
        if self.config.strategy != Strategy::NoCache && self.config.invalidate_on_write {
            for &(day, _) in days {
                let write_through = self.config.strategy == Strategy::WriteThrough;
                let gen = self.invalidate(doctor_id, day, !write_through).await?;
                if write_through {
                    let schedule = fetch_schedule(&self.pool, doctor_id, day).await?;
                    db_queries += 1;
                    self.fill(doctor_id, day, &gen, &schedule).await?;
                }
                self.counters.invalidations.fetch_add(1, Relaxed);
            }
        }
        self.counters.writes.fetch_add(1, Relaxed);
        self.counters
            .write_db_queries
            .fetch_add(db_queries as u64, Relaxed);
        for &(day, present) in days {
            self.write_log.record(
                doctor_id,
                day,
                Expectation {
                    appointment_id,
                    updated_at,
                    present,
                },
            );
        }
        Ok(Written {
            appointment_id,
            doctor_id,
            days: days.iter().map(|d| d.0).collect(),
            db_queries,
        })
    }
}
