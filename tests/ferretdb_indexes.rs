//! FerretDB companion indexes against the real local stack: `clinicload migrate` creates a
//! GIN (`jsonb_path_ops`) index in FerretDB's backing PostgreSQL schema for each identifier
//! lookup field, FerretDB's own `explain` then shows a notes lookup by encounterId served by
//! it (and a sequential scan once it is dropped), `doctor` counts them, and migrate is
//! idempotent and puts a dropped one back. On a real MongoDB the test checks that migrate
//! leaves its backing store alone (it has none) and stops.
mod common;

use common::TestEnv;
use mongodb::bson::{doc, Document};
use sqlx::PgConnection;

use clinicload::schema::ferretdb::{self, AccessPath};

fn run(env: &TestEnv, args: &[&str]) -> String {
    let out = env.command().args(args).output().expect("clinicload runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "clinicload {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// FerretDB's table for a collection, read straight from its metadata table.
async fn table(pg: &mut PgConnection, schema: &str, collection: &str) -> String {
    sqlx::query_scalar(&format!(
        "SELECT _jsonb ->> 'table' FROM \"{schema}\"._ferretdb_database_metadata \
         WHERE _jsonb ->> '_id' = $1"
    ))
    .bind(collection)
    .fetch_one(&mut *pg)
    .await
    .unwrap_or_else(|e| panic!("no backing table for {collection}: {e}"))
}

async fn explain_by_encounter(db: &mongodb::Database, encounter: &str) -> Vec<AccessPath> {
    let answer = db
        .run_command(doc! {
            "explain": { "find": "clinicalNotes", "filter": { "encounterId": encounter } },
            "verbosity": "queryPlanner",
        })
        .await
        .expect("FerretDB answers explain");
    assert_eq!(
        answer.get_bool("filterPushdown").ok(),
        Some(true),
        "FerretDB pushed the filter down: {answer}"
    );
    let qp = answer
        .get_document("queryPlanner")
        .expect("queryPlanner in the explain answer");
    let paths = ferretdb::access_paths(qp);
    assert!(!paths.is_empty(), "no scan in the embedded plan: {qp}");
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_adds_companion_indexes_that_serve_lookups_on_ferretdb() {
    let env = TestEnv::new("ferret_idx").await;
    let (_client, db) = env.mongo().await;
    let first = run(&env, &["migrate"]);
    if ferretdb::ferretdb_version(&db).await.unwrap().is_none() {
        assert!(
            !first.contains("companion"),
            "companion indexes attempted on a real MongoDB: {first}"
        );
        eprintln!("not FerretDB: companion indexes do not apply");
        return;
    }
    assert!(
        first.contains("companion GIN indexes: 8 of 8 in place, 8 created"),
        "{first}"
    );
    // Idempotent: the second run creates nothing and fails on nothing.
    let second = run(&env, &["migrate"]);
    assert!(
        second.contains("companion GIN indexes: 8 of 8 in place, 0 created"),
        "{second}"
    );

    let schema = env.targets.mongo_database.clone().unwrap();
    let mut pg = ferretdb::connect_backing(&env.targets)
        .await
        .expect("the stack's FerretDB backing database is reachable");
    for c in ferretdb::companions() {
        let t = table(&mut pg, &schema, c.collection).await;
        let defs: Vec<String> = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
        )
        .bind(&schema)
        .bind(&t)
        .fetch_all(&mut pg)
        .await
        .unwrap();
        let want = format!(
            "USING gin (((_jsonb -> '{}'::text)) jsonb_path_ops)",
            c.field
        );
        assert!(
            defs.iter().any(|d| d.contains(&want)),
            "{}.{}: no `{want}` among {defs:#?}",
            c.collection,
            c.field
        );
    }
    assert!(run(&env, &["doctor"]).contains("companion GIN indexes: 8 of 8"));

    // Enough notes that an index lookup beats reading the table.
    let notes = db.collection::<Document>("clinicalNotes");
    let encounters: Vec<String> = (0..600).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let docs: Vec<Document> = encounters
        .iter()
        .map(|e| {
            doc! {
                "encounterId": e, "patientId": uuid::Uuid::new_v4().to_string(),
                "doctorId": uuid::Uuid::new_v4().to_string(), "status": "signed",
                "noteType": "soap", "rawTranscription": "x".repeat(300),
            }
        })
        .collect();
    notes.insert_many(docs).await.expect("notes inserted");
    let notes_table = table(&mut pg, &schema, "clinicalNotes").await;
    sqlx::query(&format!("ANALYZE \"{schema}\".\"{notes_table}\""))
        .execute(&mut pg)
        .await
        .unwrap();
    let companion = ferretdb::index_name(&notes_table, "encounterId");

    let with = explain_by_encounter(&db, &encounters[123]).await;
    assert!(
        with.iter()
            .any(|p| p.node_type.contains("Index Scan") && p.index.as_deref() == Some(&companion)),
        "lookup by encounterId not served by {companion}: {with:?}"
    );
    assert!(!with.iter().any(|p| p.node_type == "Seq Scan"), "{with:?}");
    let found = notes
        .find_one(doc! { "encounterId": &encounters[123] })
        .await
        .unwrap();
    assert!(found.is_some(), "the note is found through the index");

    // Without it (dropped in this test's own schema), FerretDB scans the table.
    sqlx::query(&format!("DROP INDEX \"{schema}\".\"{companion}\""))
        .execute(&mut pg)
        .await
        .unwrap();
    let without = explain_by_encounter(&db, &encounters[123]).await;
    assert!(
        without
            .iter()
            .any(|p| p.node_type == "Seq Scan" && p.relation.as_deref() == Some(&notes_table)),
        "expected a sequential scan without the companion: {without:?}"
    );
    assert!(
        !without
            .iter()
            .any(|p| p.index.as_deref() == Some(&companion)),
        "{without:?}"
    );
    assert!(run(&env, &["doctor"]).contains("companion GIN indexes: 7 of 8"));

    // Migrate puts it back.
    let again = run(&env, &["migrate"]);
    assert!(
        again.contains("companion GIN indexes: 8 of 8 in place, 1 created"),
        "{again}"
    );
    let back = explain_by_encounter(&db, &encounters[7]).await;
    assert!(
        back.iter().any(|p| p.index.as_deref() == Some(&companion)),
        "{back:?}"
    );
    db.drop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backing_database_is_reported_not_fatal() {
    let env = TestEnv::new("ferret_unreach").await;
    let (_client, db) = env.mongo().await;
    let out = env
        .command()
        .arg("migrate")
        .env(
            "FERRETDB_POSTGRESQL_URL",
            "postgres://clinicload:s3cretpw@127.0.0.1:1/ferretdb",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("s3cretpw"), "{stdout}");
    if ferretdb::ferretdb_version(&db).await.unwrap().is_some() {
        assert!(
            stdout.contains(
                "MongoDB: FerretDB's backing PostgreSQL at postgres://clinicload:****@127.0.0.1:1/ferretdb \
                 is unreachable: companion indexes not created; lookups scan collections"
            ),
            "{stdout}"
        );
    }
    db.drop().await.unwrap();
}
