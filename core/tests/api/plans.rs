//! Lookups by primary key keep the primary key on PostgreSQL, whatever the planner knows.
//!
//! A new database has no column statistics, and a plan made then is kept by the connection
//! that made it. If another index of a table starts with `tenant_id` alone, a lookup of
//! `tenant_id = $1 AND id = $2` (every foreign-key check is one) costs the same on it as on the
//! primary key while the table is small, and the planner may take it — then it walks every row
//! of the tenant per lookup once the table has grown. On SQLite these tests only check that
//! they are on SQLite.

use crate::kit::{on_postgres, Server};

/// Tables written on the order path and looked up by key there (foreign-key checks, the outbox
/// relay, the order batch's idempotency probe, the reservation, CSV imports).
const HOT: [&str; 4] = [
    "workflow_instances",
    "outbox",
    "idempotency_keys",
    "vehicles",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_index_but_the_primary_key_starts_with_the_tenant_alone_on_hot_tables() {
    let server = Server::demo().await;
    if !on_postgres() {
        assert_eq!(server.state.db.backend, forecourt::store::Backend::Sqlite);
        return;
    }
    for table in HOT {
        // Every index of the table that can serve a query which does not name its predicate
        // (not partial) and whose first column is tenant_id.
        let rivals: Vec<(String, bool)> = sqlx::query_as(
            "SELECT CAST(c.relname AS TEXT), i.indisprimary FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = CAST($1 AS regclass) AND i.indpred IS NULL \
             AND a.attname = 'tenant_id' ORDER BY 1",
        )
        .bind(table)
        .fetch_all(&server.state.db.pool)
        .await
        .unwrap();
        assert_eq!(
            rivals.iter().filter(|(_, primary)| *primary).count(),
            1,
            "{table}: {rivals:?}"
        );
        assert_eq!(
            rivals.len(),
            1,
            "{table} has rivals to its primary key: {rivals:?}"
        );
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
