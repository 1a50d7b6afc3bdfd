//! Schema tests against the real PostgreSQL and MongoDB-compatible servers.
mod common;

use common::TestEnv;

#[tokio::test]
async fn migrations_apply_on_empty_database_and_reapply_as_noop() {
    let env = TestEnv::new("schema_noop").await;
    let pool = env.pool().await;
    let applied = clinicload::schema::postgres::migrate(&pool).await.unwrap();
    assert_eq!(applied, vec![1, 2]);
    let again = clinicload::schema::postgres::migrate(&pool).await.unwrap();
    assert!(again.is_empty(), "second migrate applied {again:?}");
}
