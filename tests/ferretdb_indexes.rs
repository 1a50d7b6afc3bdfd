//! FerretDB companion indexes against the real local stack: `clinicload migrate` creates a
//! GIN (`jsonb_path_ops`) index in FerretDB's backing PostgreSQL schema for each identifier
//! lookup field, FerretDB's own `explain` then shows a notes lookup by encounterId served by
//! it (and a sequential scan once it is dropped), `doctor` counts them, and migrate is
//! idempotent and puts a dropped one back. On a real MongoDB the test checks that migrate
//! leaves its backing store alone (it has none) and stops. A scenario's expectation on a notes
//! lookup (`uses_index = "encounterId_1"`) passes through the companion on FerretDB (through
//! the index itself on MongoDB) and one naming the wrong index fails explain and run (exit 6).
mod common;
use common::prelude::*;
mod fixture;

use common::TestEnv;
use mongodb::bson::{doc, Document};
use sqlx::PgConnection;

use clinicload::schema::ferretdb::{self, AccessPath};

fn run(env: &TestEnv, args: &[&str]) -> String {
    let out = env
        .command()
        .args(args)
        .checked_output()
        .expect("clinicload runs");
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
        first.contains(&format!(
            "companion GIN indexes: {n} of {n} in place, {n} created",
            n = ferretdb::companions().len()
        )),
        "{first}"
    );
    // Idempotent: the second run creates nothing and fails on nothing.
    let second = run(&env, &["migrate"]);
    assert!(
        second.contains(&format!(
            "companion GIN indexes: {n} of {n} in place, 0 created",
            n = ferretdb::companions().len()
        )),
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
    assert!(run(&env, &["doctor"]).contains(&format!(
        "companion GIN indexes: {n} of {n}",
        n = ferretdb::companions().len()
    )));

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
    assert!(run(&env, &["doctor"]).contains(&format!(
        "companion GIN indexes: {} of {}",
        ferretdb::companions().len() - 1,
        ferretdb::companions().len()
    )));

    // Migrate puts it back.
    let again = run(&env, &["migrate"]);
    assert!(
        again.contains(&format!(
            "companion GIN indexes: {n} of {n} in place, 1 created",
            n = ferretdb::companions().len()
        )),
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
        .checked_output()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notes_lookup_expectation_passes_through_its_index_and_a_wrong_one_fails() {
    let env = TestEnv::new("ferret_expect").await;
    run(&env, &["migrate"]);
    fixture::insert(&env).await;
    let (_client, db) = env.mongo().await;
    // Enough notes that an index lookup beats reading the table (as above).
    let docs: Vec<Document> = (0..600)
        .map(|_| {
            doc! {
                "encounterId": uuid::Uuid::new_v4().to_string(),
                "patientId": uuid::Uuid::new_v4().to_string(),
                "doctorId": uuid::Uuid::new_v4().to_string(), "status": "signed",
                "noteType": "soap", "rawTranscription": "x".repeat(300),
            }
        })
        .collect();
    db.collection::<Document>("clinicalNotes")
        .insert_many(docs)
        .await
        .unwrap();
    let ferret = ferretdb::ferretdb_version(&db).await.unwrap().is_some();
    if ferret {
        let schema = env.targets.mongo_database.clone().unwrap();
        let mut pg = ferretdb::connect_backing(&env.targets).await.unwrap();
        let t = table(&mut pg, &schema, "clinicalNotes").await;
        sqlx::query(&format!("ANALYZE \"{schema}\".\"{t}\""))
            .execute(&mut pg)
            .await
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("clinicload-ferret-expect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = |name: &str, expect: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "name = \"notes\"\nduration = \"1s\"\n[load]\nmodel = \"open\"\nrate = 5\n\
                 connections = {{ postgres = 2, mongo = 2 }}\n[[op]]\nname = \"note_by_encounter\"\n\
                 expect = {expect}\n"
            ),
        )
        .unwrap();
        path
    };
    let good = scenario(
        "good.toml",
        "{ uses_index = \"encounterId_1\", no_seq_scan = [\"clinicalNotes\"] }",
    );
    let out = env
        .command()
        .arg("explain")
        .arg(&good)
        .arg("--out")
        .arg(dir.join("good"))
        .checked_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for e in [
        "expect note_by_encounter uses_index = \"encounterId_1\": pass (3 of 3 samples)",
        "expect note_by_encounter no_seq_scan = [\"clinicalNotes\"]: pass (3 of 3 samples)",
    ] {
        assert!(stdout.contains(e), "{stdout}{stderr}");
    }
    let explained = std::fs::read_dir(dir.join("good"))
        .unwrap()
        .next()
        .expect("an explain directory")
        .unwrap()
        .path();
    let plans: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(explained.join("plans.json")).unwrap())
            .unwrap();
    let verdicts = plans["expectations"].as_array().unwrap();
    let detail = verdicts[0]["detail"].as_str().unwrap();
    if ferret {
        assert!(
            detail.contains("_encounterid_gin")
                && detail.contains("companion GIN index of encounterId_1"),
            "{detail}"
        );
        assert!(
            detail.contains("FerretDB explain"),
            "the plan's kind is said: {detail}"
        );
    } else {
        assert!(detail.contains("IXSCAN using encounterId_1"), "{detail}");
    }

    // The notes index on patients cannot serve a lookup by encounter: explain and run fail.
    let wrong = scenario("wrong.toml", "{ uses_index = \"patientId_1\" }");
    for cmd in ["explain", "run"] {
        let out = env
            .command()
            .arg(cmd)
            .arg(&wrong)
            .arg("--out")
            .arg(dir.join(format!("wrong-{cmd}")))
            .checked_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{cmd}: {stderr}");
        assert!(
            stderr.contains("uses_index = \"patientId_1\" FAILED") && stderr.contains("plan:"),
            "{cmd}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    db.drop().await.unwrap();
}
