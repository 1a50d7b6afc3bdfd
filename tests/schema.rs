//! Schema tests against the real PostgreSQL and MongoDB-compatible servers: migrations apply
//! and re-apply as a no-op, every CHECK and every foreign key rejects a bad row, the trigger
//! moves updated_at, documented indexes exist, altered migrations are refused, and the
//! MongoDB validator rejects an invalid note where the server supports validation.
mod common;
use common::prelude::*;

use std::collections::{BTreeMap, BTreeSet};

use common::TestEnv;
use mongodb::bson::doc;
use sqlx::PgPool;

#[tokio::test]
async fn migrations_apply_on_empty_database_and_reapply_as_noop() {
    let env = TestEnv::new("schema_noop").await;
    let pool = env.pool().await;
    let applied = clinicload::schema::postgres::migrate(&pool).await.unwrap();
    assert_eq!(applied, vec![1, 2, 3, 4, 5]);
    let again = clinicload::schema::postgres::migrate(&pool).await.unwrap();
    assert!(again.is_empty(), "second migrate applied {again:?}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "alerts",
            "appointments",
            "encounters",
            "order_items",
            "orders",
            "patients",
            "prescription_items",
            "prescriptions",
            "tasks",
            "users"
        ]
    );
    assert!(
        clinicload::schema::postgres::is_prepared_by_clinicload(&pool)
            .await
            .unwrap()
    );
}

/// Parent rows every other insert can point at.
struct Fixture {
    pool: PgPool,
    _env: TestEnv,
}

const DOCTOR: &str = "'00000000-0000-4000-8000-000000000001'";
const PATIENT: &str = "'00000000-0000-4000-8000-000000000002'";
const APPOINTMENT: &str = "'00000000-0000-4000-8000-000000000003'";
const ENCOUNTER: &str = "'00000000-0000-4000-8000-000000000004'";
const PRESCRIPTION: &str = "'00000000-0000-4000-8000-000000000005'";
const ORDER: &str = "'00000000-0000-4000-8000-000000000006'";
const ORDER_ITEM: &str = "'00000000-0000-4000-8000-000000000007'";
const MISSING: &str = "'99999999-9999-4999-8999-999999999999'";

/// A valid row of each table as column -> SQL expression.
fn baseline(table: &str) -> BTreeMap<&'static str, String> {
    let s = |v: &str| v.to_string();
    let pairs: Vec<(&'static str, String)> = match table {
        "users" => vec![
            ("username", s("'u_' || md5(random()::text)")),
            ("email", s("md5(random()::text) || '@example.org'")),
            ("full_name", s("'Dr. Test'")),
            ("role", s("'doctor'")),
            ("specialty", s("'Cardiology'")),
            ("password_hash", s("'x'")),
            ("status", s("'active'")),
        ],
        "patients" => vec![
            ("mrn", s("'MRN' || substr(md5(random()::text), 1, 10)")),
            ("first_name", s("'Ann'")),
            ("last_name", s("'Lee'")),
            ("date_of_birth", s("'1980-01-01'")),
            ("sex", s("'female'")),
            ("blood_type", s("'A+'")),
            ("allergies", s("'[]'")),
            ("chronic_conditions", s("'[]'")),
            ("primary_doctor_id", s(DOCTOR)),
            ("status", s("'active'")),
        ],
        "appointments" => vec![
            ("patient_id", s(PATIENT)),
            ("doctor_id", s(DOCTOR)),
            ("patient_name", s("'Ann Lee'")),
            ("start_time", s("'2026-01-05 09:00'")),
            ("end_time", s("'2026-01-05 09:20'")),
            ("status", s("'scheduled'")),
            ("appointment_type", s("'routine'")),
            ("booked_at", s("'2026-01-01 10:00'")),
            ("created_by", s(DOCTOR)),
        ],
        "encounters" => vec![
            ("patient_id", s(PATIENT)),
            ("doctor_id", s(DOCTOR)),
            ("encounter_type", s("'walk_in'")),
            ("status", s("'in_progress'")),
            ("start_time", s("'2026-01-05 09:00'")),
        ],
        "prescriptions" => vec![
            ("encounter_id", s(ENCOUNTER)),
            ("patient_id", s(PATIENT)),
            ("doctor_id", s(DOCTOR)),
            ("status", s("'active'")),
            ("prescribed_at", s("'2026-01-05 09:15'")),
        ],
        "prescription_items" => vec![
            ("prescription_id", s(PRESCRIPTION)),
            ("drug_name", s("'Amoxicillin'")),
            ("dose", s("'500 mg'")),
            ("route", s("'oral'")),
            ("frequency", s("'three times daily'")),
            ("duration_days", s("7")),
            ("quantity", s("21")),
            ("refills", s("0")),
        ],
        "orders" => vec![
            ("encounter_id", s(ENCOUNTER)),
            ("patient_id", s(PATIENT)),
            ("doctor_id", s(DOCTOR)),
            ("order_type", s("'lab'")),
            ("status", s("'ordered'")),
            ("priority", s("'routine'")),
            ("ordered_at", s("'2026-01-05 09:10'")),
        ],
        "order_items" => vec![
            ("order_id", s(ORDER)),
            ("code", s("'2345-7'")),
            ("code_system", s("'LOINC'")),
            ("description", s("'Glucose'")),
            ("status", s("'pending'")),
        ],
        "tasks" => vec![
            ("assigned_to", s(DOCTOR)),
            ("created_by", s(DOCTOR)),
            ("patient_id", s(PATIENT)),
            ("encounter_id", s(ENCOUNTER)),
            ("task_type", s("'review_result'")),
            ("title", s("'Review glucose'")),
            ("priority", s("2")),
            ("status", s("'pending'")),
        ],
        "alerts" => vec![
            ("recipient_id", s(DOCTOR)),
            ("patient_id", s(PATIENT)),
            ("order_item_id", s(ORDER_ITEM)),
            ("alert_type", s("'abnormal_result'")),
            ("severity", s("'warning'")),
            ("title", s("'High glucose'")),
            ("message", s("'Glucose 250 mg/dL'")),
            ("is_read", s("false")),
            ("acknowledged_by", s(DOCTOR)),
        ],
        other => panic!("no baseline for {other}"),
    };
    pairs.into_iter().collect()
}

fn insert_sql(table: &str, id: Option<&str>, overrides: &[(&str, &str)]) -> String {
    let mut cols = baseline(table);
    for (k, v) in overrides {
        let key = cols.keys().find(|c| **c == *k).copied();
        match key {
            Some(key) => {
                cols.insert(key, v.to_string());
            }
            None => {
                cols.insert(Box::leak(k.to_string().into_boxed_str()), v.to_string());
            }
        }
    }
    let mut names: Vec<String> = cols.keys().map(|c| c.to_string()).collect();
    let mut values: Vec<String> = cols.values().cloned().collect();
    if let Some(id) = id {
        names.push("id".into());
        values.push(id.into());
    }
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    )
}

impl Fixture {
    async fn new(label: &str) -> Fixture {
        let env = TestEnv::migrated(label).await;
        let pool = env.pool().await;
        for (table, id) in [
            ("users", DOCTOR),
            ("patients", PATIENT),
            ("appointments", APPOINTMENT),
            ("encounters", ENCOUNTER),
            ("prescriptions", PRESCRIPTION),
            ("orders", ORDER),
            ("order_items", ORDER_ITEM),
        ] {
            sqlx::query(&insert_sql(table, Some(id), &[]))
                .execute(&pool)
                .await
                .unwrap();
        }
        Fixture { pool, _env: env }
    }

    /// Runs `sql` and returns the violated constraint's name, if the server rejected it.
    async fn rejected_by(&self, sql: &str) -> Option<(String, String)> {
        match sqlx::query(sql).execute(&self.pool).await {
            Ok(_) => None,
            Err(sqlx::Error::Database(e)) => Some((
                e.code().map(|c| c.to_string()).unwrap_or_default(),
                e.constraint().unwrap_or_default().to_string(),
            )),
            Err(other) => panic!("unexpected error for {sql}: {other}"),
        }
    }
}

/// (constraint, table, column overrides that violate it)
type CheckCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[tokio::test]
async fn every_check_constraint_rejects_a_bad_row() {
    let fx = Fixture::new("schema_checks").await;
    // Every valid baseline row is accepted (so the rejections below are the CHECK's doing).
    for table in [
        "users",
        "patients",
        "appointments",
        "encounters",
        "prescriptions",
        "prescription_items",
        "orders",
        "order_items",
        "tasks",
        "alerts",
    ] {
        assert_eq!(
            fx.rejected_by(&insert_sql(table, None, &[])).await,
            None,
            "baseline {table}"
        );
    }
    let cases: &[CheckCase] = &[
        (
            "valid_role",
            "users",
            &[("role", "'surgeon'"), ("specialty", "NULL")],
        ),
        ("valid_user_status", "users", &[("status", "'gone'")]),
        (
            "specialty_only_for_clinicians",
            "users",
            &[("role", "'receptionist'")],
        ),
        ("valid_patient_sex", "patients", &[("sex", "'x'")]),
        ("valid_blood_type", "patients", &[("blood_type", "'C+'")]),
        ("valid_patient_status", "patients", &[("status", "'lost'")]),
        ("allergies_is_array", "patients", &[("allergies", "'{}'")]),
        (
            "chronic_conditions_is_array",
            "patients",
            &[("chronic_conditions", "'\"x\"'")],
        ),
        (
            "valid_appointment_status",
            "appointments",
            &[("status", "'late'")],
        ),
        (
            "valid_appointment_type",
            "appointments",
            &[("appointment_type", "'spa'")],
        ),
        (
            "appointment_ends_after_start",
            "appointments",
            &[("end_time", "'2026-01-05 08:00'")],
        ),
        (
            "appointment_booked_before_start",
            "appointments",
            &[("booked_at", "'2026-02-01 00:00'")],
        ),
        (
            "cancelled_has_timestamp",
            "appointments",
            &[("status", "'cancelled'")],
        ),
        (
            "valid_encounter_type",
            "encounters",
            &[("encounter_type", "'house_call'")],
        ),
        (
            "valid_encounter_status",
            "encounters",
            &[("status", "'paused'")],
        ),
        (
            "encounter_ends_after_start",
            "encounters",
            &[("end_time", "'2026-01-05 08:00'")],
        ),
        (
            "completed_encounter_has_end",
            "encounters",
            &[("status", "'completed'")],
        ),
        (
            "valid_prescription_status",
            "prescriptions",
            &[("status", "'draft'")],
        ),
        (
            "valid_route",
            "prescription_items",
            &[("route", "'by magic'")],
        ),
        (
            "positive_duration",
            "prescription_items",
            &[("duration_days", "0")],
        ),
        (
            "positive_quantity",
            "prescription_items",
            &[("quantity", "0")],
        ),
        (
            "non_negative_refills",
            "prescription_items",
            &[("refills", "-1")],
        ),
        (
            "valid_order_type",
            "orders",
            &[("order_type", "'pathology'")],
        ),
        ("valid_order_status", "orders", &[("status", "'lost'")]),
        (
            "valid_order_priority",
            "orders",
            &[("priority", "'whenever'")],
        ),
        (
            "order_completed_after_ordered",
            "orders",
            &[("completed_at", "'2026-01-01 00:00'")],
        ),
        (
            "valid_code_system",
            "order_items",
            &[("code_system", "'SNOMED'")],
        ),
        (
            "valid_order_item_status",
            "order_items",
            &[("status", "'done'")],
        ),
        (
            "valid_abnormal_flag",
            "order_items",
            &[("abnormal_flag", "'weird'")],
        ),
        (
            "resulted_item_has_time",
            "order_items",
            &[("status", "'resulted'")],
        ),
        ("valid_task_type", "tasks", &[("task_type", "'chores'")]),
        ("valid_task_priority", "tasks", &[("priority", "5")]),
        ("valid_task_status", "tasks", &[("status", "'someday'")]),
        (
            "completed_task_has_time",
            "tasks",
            &[("status", "'completed'")],
        ),
        ("valid_alert_type", "alerts", &[("alert_type", "'gossip'")]),
        ("valid_alert_severity", "alerts", &[("severity", "'meh'")]),
        ("read_alert_has_time", "alerts", &[("is_read", "true")]),
    ];
    let mut tested = BTreeSet::new();
    for (constraint, table, overrides) in cases {
        let got = fx.rejected_by(&insert_sql(table, None, overrides)).await;
        assert_eq!(
            got,
            Some(("23514".to_string(), constraint.to_string())),
            "{table} with {overrides:?} should violate {constraint}"
        );
        tested.insert(constraint.to_string());
    }
    // The list above covers every CHECK in the schema: a new CHECK needs a case here.
    let all: BTreeSet<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = 'public' AND contype = 'c'",
    )
    .fetch_all(&fx.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(
        all, tested,
        "CHECK constraints without a test case (or cases for missing ones)"
    );
}

#[tokio::test]
async fn every_foreign_key_rejects_a_missing_parent_and_has_a_deliberate_on_delete() {
    let fx = Fixture::new("schema_fks").await;
    let fks: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, a.attname::text, c.conname::text, c.confdeltype::text \
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.contype = 'f' ORDER BY 1, 2",
    )
    .fetch_all(&fx.pool)
    .await
    .unwrap();
    assert_eq!(fks.len(), 23, "every reference column is a foreign key");
    for (table, column, constraint, on_delete) in &fks {
        // 'a' = NO ACTION, the default: every FK must say what happens on delete.
        assert_ne!(
            on_delete, "a",
            "{constraint} on {table}.{column} has no deliberate ON DELETE"
        );
        let got = fx
            .rejected_by(&insert_sql(table, None, &[(column, MISSING)]))
            .await;
        assert_eq!(
            got,
            Some(("23503".to_string(), constraint.clone())),
            "{table}.{column} pointing nowhere should violate {constraint}"
        );
    }
    // ON DELETE behaviour, observed: deleting the patient cascades to the clinical rows.
    sqlx::query(&format!("DELETE FROM patients WHERE id = {PATIENT}"))
        .execute(&fx.pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT count(*) FROM appointments WHERE patient_id = {PATIENT}) + \
                (SELECT count(*) FROM encounters WHERE patient_id = {PATIENT}) + \
                (SELECT count(*) FROM order_items WHERE id = {ORDER_ITEM})"
    ))
    .fetch_one(&fx.pool)
    .await
    .unwrap();
    assert_eq!(
        left, 0,
        "patient deletion must cascade to appointments, encounters, orders"
    );
}

#[tokio::test]
async fn update_timestamp_trigger_moves_updated_at_on_every_table() {
    let fx = Fixture::new("schema_trigger").await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'updated_at' ORDER BY 1",
    )
    .fetch_all(&fx.pool)
    .await
    .unwrap();
    assert_eq!(tables.len(), 10);
    for table in &tables {
        sqlx::query(&insert_sql(table, Some(MISSING), &[]))
            .execute(&fx.pool)
            .await
            .unwrap();
        sqlx::query(&format!("UPDATE {table} SET updated_at = '2000-01-01' , created_at = '2000-01-01' WHERE id = {MISSING}"))
            .execute(&fx.pool)
            .await
            .unwrap();
        let moved: bool = sqlx::query_scalar(&format!(
            "SELECT updated_at > '2020-01-01' AND created_at = '2000-01-01' FROM {table} WHERE id = {MISSING}"
        ))
        .fetch_one(&fx.pool)
        .await
        .unwrap();
        assert!(moved, "trigger did not set {table}.updated_at to now()");
        sqlx::query(&format!("DELETE FROM {table} WHERE id = {MISSING}"))
            .execute(&fx.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn documented_indexes_exist_and_every_table_and_column_is_commented() {
    let env = TestEnv::migrated("schema_indexes").await;
    let pool = env.pool().await;
    let indexes: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let expect = [
        ("idx_users_role", "(role)"),
        (
            "idx_users_specialty",
            "(specialty) WHERE (specialty IS NOT NULL)",
        ),
        ("idx_users_email", "(email)"),
        ("idx_users_status", "(status)"),
        (
            "idx_appointments_doctor_date",
            "(doctor_id, date(start_time))",
        ),
        (
            "idx_encounters_patient_time",
            "(patient_id, start_time DESC)",
        ),
        (
            "idx_tasks_pending",
            "(assigned_to, priority DESC, due_date) WHERE ((status)::text = 'pending'::text)",
        ),
        (
            "idx_alerts_unread",
            "(recipient_id, created_at DESC) WHERE (NOT is_read)",
        ),
        (
            "idx_prescriptions_patient_time",
            "(patient_id, prescribed_at DESC)",
        ),
        ("idx_orders_patient_time", "(patient_id, ordered_at DESC)"),
        ("idx_prescription_items_prescription", "(prescription_id)"),
        ("idx_order_items_order", "(order_id)"),
    ];
    for (name, tail) in expect {
        let def = indexes
            .get(name)
            .unwrap_or_else(|| panic!("index {name} missing"));
        assert!(
            def.ends_with(tail),
            "{name} is `{def}`, expected it to end with `{tail}`"
        );
    }
    let uncommented: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c \
         JOIN pg_class t ON t.relname = c.table_name JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema \
         WHERE c.table_schema IN ('public', 'clinicload_meta') AND c.table_name <> '_sqlx_migrations' \
         AND col_description(t.oid, c.ordinal_position) IS NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        uncommented.is_empty(),
        "columns without COMMENT ON: {uncommented:?}"
    );
    let tables_uncommented: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname IN ('public', 'clinicload_meta') AND t.relkind = 'r' AND t.relname <> '_sqlx_migrations' \
         AND obj_description(t.oid, 'pg_class') IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables_uncommented, 0);
    // The documented dashboard query uses the documented expression index.
    sqlx::query("SET enable_seqscan = off")
        .execute(&pool)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT a.* FROM appointments a WHERE a.doctor_id = gen_random_uuid() AND DATE(a.start_time) = CURRENT_DATE",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        plan.join("\n").contains("idx_appointments_doctor_date"),
        "plan: {plan:?}"
    );
}

#[tokio::test]
async fn mongo_collections_and_indexes_exist_and_unsupported_features_are_reported() {
    let env = TestEnv::new("schema_mongo").await;
    let (_c, db) = env.mongo().await;
    let report = clinicload::schema::mongo::apply(&db).await.unwrap();
    let mut names = db.list_collection_names().await.unwrap();
    names.sort();
    assert_eq!(
        names,
        ["clinicalNotes", "fs.chunks", "fs.files", "voiceRecordings"]
    );
    let present = clinicload::schema::mongo::existing_indexes(&db)
        .await
        .unwrap();
    for spec in clinicload::schema::mongo::indexes() {
        let exists = present
            .iter()
            .any(|(c, n)| c == spec.collection && n == spec.name);
        let reported = spec
            .feature
            .is_some_and(|f| report.unsupported.iter().any(|u| u.feature == f));
        // Each index is either in place or its feature was reported unsupported, never silently missing.
        assert!(
            exists ^ reported,
            "{}.{}: exists={exists} reported unsupported={reported}",
            spec.collection,
            spec.name
        );
    }
    // Re-applying is a no-op that reports the same.
    let again = clinicload::schema::mongo::apply(&db).await.unwrap();
    assert!(again.collections_created.is_empty());
    assert_eq!(again.indexes.len(), report.indexes.len());
}

#[tokio::test]
async fn mongo_validator_rejects_an_invalid_note_where_the_server_validates() {
    let env = TestEnv::new("schema_validator").await;
    let (_c, db) = env.mongo().await;
    let report = clinicload::schema::mongo::apply(&db).await.unwrap();
    let notes = db.collection::<mongodb::bson::Document>("clinicalNotes");
    let valid = doc! { "encounterId": "e", "patientId": "p", "doctorId": "d", "status": "draft", "noteType": "soap" };
    notes
        .insert_one(valid)
        .await
        .expect("a valid note is accepted");
    let validation_unsupported = report
        .unsupported
        .iter()
        .any(|u| u.feature == clinicload::schema::mongo::Feature::DocumentValidation);
    let has_validator = clinicload::schema::mongo::has_validator(&db).await.unwrap();
    assert_eq!(
        has_validator, !validation_unsupported,
        "validator presence must match what migrate reported"
    );
    let invalid = [
        doc! { "patientId": "p", "doctorId": "d", "status": "draft", "noteType": "soap" },
        doc! { "encounterId": "e", "patientId": "p", "doctorId": "d", "status": "lost", "noteType": "soap" },
        doc! { "encounterId": "e", "patientId": "p", "doctorId": "d", "status": "draft", "noteType": "poem" },
    ];
    for bad in invalid {
        let result = notes.insert_one(bad.clone()).await;
        if has_validator {
            let err = result.expect_err("the validator must reject an invalid note");
            assert!(
                err.to_string().contains("121") || err.to_string().contains("validation"),
                "{err}"
            );
        } else {
            // This server does not validate (reported by migrate): the write goes through,
            // which is exactly why the report names the feature as unsupported.
            assert!(result.is_ok());
        }
    }
}

#[tokio::test]
async fn an_altered_migration_is_refused_with_a_clear_message() {
    let env = TestEnv::migrated("schema_checksum").await;
    let pool = env.pool().await;
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 1")
        .execute(&pool)
        .await
        .unwrap();
    let err = clinicload::schema::postgres::migrate(&pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("migration 1") && err.contains("checksum"),
        "{err}"
    );
    let out = env.command().arg("migrate").checked_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("changed after it was applied"), "{stderr}");
    let status = env
        .command()
        .args(["migrate", "--status"])
        .checked_output()
        .unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("checksummismatch"));
}

#[tokio::test]
async fn cli_migrate_twice_status_clean_and_doctor_reports_three_stores() {
    let env = TestEnv::new("schema_cli").await;
    for _ in 0..2 {
        let out = env.command().arg("migrate").checked_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = env
        .command()
        .args(["migrate", "--status"])
        .checked_output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("5 applied, 0 not applied"), "{text}");
    assert!(
        !text.contains("clinicload:clinicload@"),
        "password printed: {text}"
    );
    let doctor = env.command().arg("doctor").checked_output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{text}");
    for needle in [
        "PostgreSQL",
        "MongoDB",
        "Redis",
        "schema:  version 5, 0 pending",
        "server:",
    ] {
        assert!(
            text.contains(needle),
            "doctor output lacks {needle}: {text}"
        );
    }
    assert!(!text.contains(":clinicload@"), "password printed: {text}");
}

#[tokio::test]
async fn unreachable_servers_fail_with_the_store_the_redacted_url_and_a_hint() {
    let env = TestEnv::new("schema_unreachable").await;
    let out = env
        .command()
        .env(
            "DATABASE_URL",
            "postgres://someone:s3cr3t-pw@127.0.0.1:1/nowhere",
        )
        .arg("migrate")
        .checked_output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "cannot connect to PostgreSQL at postgres://someone:****@127.0.0.1:1/nowhere"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("scripts/stack up") && !stderr.contains("s3cr3t-pw"),
        "{stderr}"
    );

    let out = env
        .command()
        .env("MONGODB_URI", "mongodb://127.0.0.1:1/")
        .arg("doctor")
        .checked_output()
        .unwrap();
    assert!(
        !out.status.success(),
        "doctor must fail when a store is unreachable"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cannot reach MongoDB at mongodb://127.0.0.1:1/"),
        "{stdout}"
    );

    let out = env
        .command()
        .env("REDIS_URL", "redis://:pw-xyz@127.0.0.1:1/")
        .arg("doctor")
        .checked_output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cannot connect to Redis at redis://:****@127.0.0.1:1/")
            && !stdout.contains("pw-xyz"),
        "{stdout}"
    );

    let out = env
        .command()
        .env("DATABASE_URL", "not a url")
        .arg("migrate")
        .checked_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid PostgreSQL URL"));
}
