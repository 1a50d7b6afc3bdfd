//! The schedule itself: the documented "appointments for today" query for one doctor and one
//! date, returned as the JSON text that is cached, so a hit and a miss hand the caller the
//! same bytes. PostgreSQL builds the JSON (`json_agg`) so the value is exactly the rows of the
//! documented query, with every column of `a.*` under its column name.

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

/// MVP-004 "Appointments for Today", with the date as a parameter (the cache key's date)
/// instead of `CURRENT_DATE`; served by `idx_appointments_doctor_date`. `s.id` breaks ties
/// between appointments at the same time so the JSON is deterministic.
pub const SCHEDULE_SQL: &str = "\
SELECT COALESCE(json_agg(s ORDER BY s.start_time, s.id), '[]'::json)::text
FROM (
    SELECT a.*, p.first_name, p.last_name, p.date_of_birth
    FROM appointments a
    JOIN patients p ON a.patient_id = p.id
    WHERE a.doctor_id = $1
    AND DATE(a.start_time) = $2
    ORDER BY a.start_time
) s";

/// One database query: the doctor's appointments on `date`, as JSON.
pub async fn fetch_schedule(pool: &PgPool, doctor_id: Uuid, date: NaiveDate) -> Result<String> {
    sqlx::query_scalar::<_, String>(SCHEDULE_SQL)
        .bind(doctor_id)
        .bind(date)
        .fetch_one(pool)
        .await
        .with_context(|| format!("reading the schedule of doctor {doctor_id} on {date}"))
}

/// What the staleness check needs of each appointment in a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RowVersion {
    pub id: Uuid,
    pub updated_at: NaiveDateTime,
}

/// The `(id, updated_at)` of every appointment in a schedule's JSON.
pub fn row_versions(schedule_json: &str) -> Result<Vec<RowVersion>> {
    serde_json::from_str(schedule_json)
        .context("a cached schedule is not a JSON array of appointments with id and updated_at")
}
