//! PostgreSQL row-level security: the second wall, checked below the application. These tests
//! run in the PostgreSQL pass of CI (`FORECOURT_TEST_POSTGRES`); on SQLite, which has no RLS,
//! they only check that they are on SQLite.

use crate::kit::{on_postgres, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tenant_no_row_is_visible_and_no_row_of_another_tenant_is_writable() {
    let server = Server::demo().await;
    if !on_postgres() {
        assert_eq!(server.state.db.backend, forecourt::store::Backend::Sqlite);
        return;
    }
    let pool = &server.state.db.pool;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        role,
        forecourt::store::PG_APP_ROLE,
        "the service must not run as the tables' owner"
    );
    // No tenant set: every tenant table looks empty, even with no WHERE clause.
    // Every table with a tenant_id column is a tenant table, except the platform's publish log.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'tenant_id' AND table_name <> 'publish_log' \
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.len() >= 13, "{tables:?}");
    for table in &tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} visible without a tenant");
    }
    let a = server.tenant_id("aurora").await;
    let b = server.tenant_id("shudao").await;
    // Tenant A set: only A's rows, even when asking for B's explicitly.
    let mut tx = server.state.db.tenant_tx(&a).await.unwrap();
    let mine: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(mine >= 10);
    let theirs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1")
        .bind(&b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(theirs, 0);
    let updated = sqlx::query("UPDATE users SET display_name = 'x' WHERE tenant_id = $1")
        .bind(&b)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let insert = sqlx::query("INSERT INTO audit_log (tenant_id, id, at, actor, action, target, detail) VALUES ($1, 'x', 0, 'a', 'b', 'c', '{}')")
        .bind(&b)
        .execute(&mut *tx)
        .await;
    assert!(
        insert.is_err(),
        "inserting a row of tenant B inside tenant A's transaction must fail"
    );
    drop(tx);
    // The scheduler's scan mode reveals due timers and outbox rows (ids and times) and nothing
    // else, and writes nothing.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('forecourt.scheduler', 'scan', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    for table in ["users", "test_drive_bookings", "workflow_instances"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} visible in scan mode");
    }
    let updated = sqlx::query("UPDATE outbox SET status = 'dead'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0, "scan mode cannot write");
    drop(tx);
    // The setting is per transaction: it does not leak to the next use of the connection.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
