//! Lookups by primary key keep the primary key on PostgreSQL, whatever the planner knows.
//!
//! A new database has no column statistics, and a plan made then is kept by the connection
//! that made it. If another index of a table starts with `tenant_id` alone, a lookup of
//! `tenant_id = $1 AND id = $2` (every foreign-key check is one) costs the same on it as on the
//! primary key while the table is small, and the planner may take it — then it walks every row
//! of the tenant per lookup once the table has grown. On SQLite these tests only check that
//! they are on SQLite.

use crate::kit::{on_postgres, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_index_but_the_primary_key_starts_with_the_tenant_alone() {
    let server = Server::demo().await;
    if !on_postgres() {
        assert_eq!(server.state.db.backend, forecourt::store::Backend::Sqlite);
        return;
    }
    // Every index of every table that can serve a query which does not name its predicate
    // (not partial), whose first column is tenant_id, and is not the table's primary key.
    let rivals: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(t.relname AS TEXT), CAST(c.relname AS TEXT) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE n.nspname = 'public' AND i.indpred IS NULL AND NOT i.indisprimary \
         AND a.attname = 'tenant_id' ORDER BY 1, 2",
    )
    .fetch_all(&server.state.db.pool)
    .await
    .unwrap();
    assert!(rivals.is_empty(), "rivals to a primary key: {rivals:?}");
    // And the tables looked up by key on the order and payment paths do key by the tenant.
    for table in [
        "workflow_instances",
        "outbox",
        "idempotency_keys",
        "vehicles",
        "orders",
        "payments",
        "test_drive_bookings",
        "users",
    ] {
        let first: String = sqlx::query_scalar(
            "SELECT CAST(a.attname AS TEXT) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = CAST($1 AS regclass) AND i.indisprimary",
        )
        .bind(table)
        .fetch_one(&server.state.db.pool)
        .await
        .unwrap();
        assert_eq!(first, "tenant_id", "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_by_key_in_a_new_database_is_planned_on_the_primary_key() {
    let server = Server::demo().await;
    if !on_postgres() {
        assert_eq!(server.state.db.backend, forecourt::store::Backend::Sqlite);
        return;
    }
    let tenant_id = server.tenant_id("aurora").await;
    // The shape of PostgreSQL's own foreign-key checks, planned as a generic plan (what a
    // connection keeps after a few executions), on tables nothing has analysed yet.
    for (table, index) in [
        ("workflow_instances", "workflow_instances_pkey"),
        ("outbox", "outbox_pkey"),
        ("orders", "orders_pkey"),
        ("payments", "payments_pkey"),
        ("test_drive_bookings", "test_drive_bookings_pkey"),
        ("users", "users_pkey"),
    ] {
        let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(&format!(
            "PREPARE key_lookup (TEXT, TEXT) AS SELECT 1 FROM {table} \
             WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE"
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        let plan: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE key_lookup ('t', 'x')")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        sqlx::query("DEALLOCATE key_lookup")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let text = plan.join("\n");
        assert!(text.contains(index), "{table}: {text}");
        // Both key columns bound the index scan; neither is left to a filter.
        let bound = plan
            .iter()
            .find(|line| line.contains("Index Cond"))
            .unwrap_or_else(|| panic!("{table}: no index condition in {text}"));
        assert!(
            bound.contains("tenant_id = $1") && bound.contains("id = $2"),
            "{table}: {text}"
        );
    }
}
