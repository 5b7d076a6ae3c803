//! Two server instances on one database: a publish on one is served by the other within a
//! second, with no restart.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::kit::{settings, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_node_is_live_on_the_other_within_a_second() {
    let one = Server::demo().await;
    let two = Server::start_on(&one.db_url, settings()).await;
    let admin = one.login("aurora", "admin@aurora.example").await;
    let sales_on_two = two.login("aurora", "sales.sh01@aurora.example").await;
    // Node two has the tenant cached, without org.read for sales consultants.
    assert_eq!(two.get("/api/v1/org", &sales_on_two).await.0, 403);
    let (_, before) = two
        .get(
            "/api/v1/tenant",
            &two.login("aurora", "admin@aurora.example").await,
        )
        .await;
    assert_eq!(before["config_version"], 1);

    let (_, changed) = crate::kit::aurora_with_sales_org_read();
    let resp = one
        .client
        .put(format!("{}/api/v1/admin/bundle", one.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "files": changed }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let published = Instant::now();
    loop {
        if two.get("/api/v1/org", &sales_on_two).await.0 == 200 {
            break;
        }
        assert!(
            published.elapsed() < Duration::from_secs(1),
            "node two still serves the old version after {:?}",
            published.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen_after = published.elapsed();
    let (_, after) = two.get("/api/v1/tenant", &sales_on_two).await;
    assert_eq!(after["config_version"], 2, "{after}");
    eprintln!("node two served version 2 after {seen_after:?}");
    drop(one);
    // Node two keeps serving when node one goes away.
    assert_eq!(two.call(Method::GET, "/readyz", None, None).await.0, 200);
}

/// Counts what it is handed; delivery always succeeds.
struct Counting(std::sync::Mutex<Vec<String>>);

impl forecourt::outbox::Deliver for Counting {
    fn deliver(
        &self,
        _tenant_id: &str,
        message: &forecourt::outbox::OutboxEntry,
    ) -> forecourt::outbox::Delivery {
        self.0.lock().unwrap().push(message.id.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Writes `n` text messages for `tenant_id` (a relayed kind, so pending).
async fn enqueue(server: &Server, tenant_id: &str, n: usize) {
    enqueue_kind(server, tenant_id, forecourt::outbox::Kind::Sms, n).await
}

async fn enqueue_kind(server: &Server, tenant_id: &str, kind: forecourt::outbox::Kind, n: usize) {
    let mut tx = server.state.db.write_tx(tenant_id).await.unwrap();
    for i in 0..n {
        let message = forecourt::outbox::Message {
            kind,
            name: format!("lease_test_{i}"),
            recipient: Some("otp:lease-test".into()),
            subject: None,
            payload: serde_json::json!({ "i": i }),
        };
        forecourt::outbox::enqueue(&mut tx, tenant_id, &message, forecourt::store::now_ms())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// One relay per database at a time: the relay holding the lease delivers every due message
/// once; another node's relay delivers nothing while that lease holds, and takes over — with
/// what is still pending — once it has run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_relays_the_outbox_at_a_time() {
    // The server's own relay polls once an hour: the two relays here are the only ones.
    let url = crate::kit::fresh_database().await;
    let quiet = forecourt::state::Settings {
        outbox_poll: Duration::from_secs(3600),
        ..settings()
    };
    let server = Server::start_on(&url, quiet).await;
    forecourt::demo::apply_demo(&server.state, &crate::kit::examples_dir())
        .await
        .unwrap();
    let tenant_id = server.tenant_id("aurora").await;
    let db = &server.state.db;
    let (a, b) = (
        forecourt::outbox::Relay::default(),
        forecourt::outbox::Relay::default(),
    );
    let (seen_a, seen_b) = (Counting(Default::default()), Counting(Default::default()));

    enqueue(&server, &tenant_id, 30).await;
    // Notifications are read where they are stored: written delivered, never relayed.
    enqueue_kind(&server, &tenant_id, forecourt::outbox::Kind::Notify, 6).await;
    let delivered = a.pass(db, &seen_a, 1000).await.unwrap();
    assert!(
        delivered >= 30,
        "the first relay takes the lease and delivers: {delivered}"
    );
    enqueue(&server, &tenant_id, 5).await;
    assert_eq!(
        b.pass(db, &seen_b, 1000).await.unwrap(),
        0,
        "the lease is held"
    );
    assert!(seen_b.0.lock().unwrap().is_empty());
    assert_eq!(a.pass(db, &seen_a, 1000).await.unwrap(), 5);

    // The first relay's node stops: its lease runs out.
    enqueue(&server, &tenant_id, 7).await;
    sqlx::query("UPDATE node_leases SET expires_at = 0 WHERE name = 'outbox_relay'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        b.pass(db, &seen_b, 1000).await.unwrap(),
        7,
        "the other relay takes over"
    );
    assert_eq!(a.pass(db, &seen_a, 1000).await.unwrap(), 0);

    // Each message was handed over once, and every one is settled with its attempt counted.
    let mut all: Vec<String> = seen_a.0.lock().unwrap().clone();
    all.extend(seen_b.0.lock().unwrap().iter().cloned());
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "no message delivered twice");
    let mut tx = db.tenant_tx(&tenant_id).await.unwrap();
    let left: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, kind, status, attempts, delivered_at FROM outbox WHERE tenant_id = $1 \
         AND name LIKE 'lease_test_%'",
    )
    .bind(&tenant_id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (texts, notes): (Vec<_>, Vec<_>) = left.iter().partition(|(_, kind, ..)| kind == "sms");
    assert_eq!((texts.len(), notes.len()), (42, 6));
    assert!(
        texts
            .iter()
            .all(|(_, _, status, attempts, at)| status == "delivered"
                && *attempts == 1
                && at.is_some()),
        "{texts:?}"
    );
    assert!(
        notes.iter().all(|(id, _, status, attempts, at)| {
            status == "delivered" && *attempts == 0 && at.is_some() && !all.contains(id)
        }),
        "{notes:?}"
    );
}

async fn relay_lease_expiry(db: &forecourt::store::Db) -> i64 {
    sqlx::query_scalar("SELECT expires_at FROM node_leases WHERE name = 'outbox_relay'")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// A node stopping gracefully (as on SIGTERM) hands the relay over: another node's relay takes
/// the lease on its next pass, not when the lease would have run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopping_gracefully_hands_the_relay_over_at_once() {
    let one = Server::demo().await;
    let tenant_id = one.tenant_id("aurora").await;
    enqueue(&one, &tenant_id, 3).await;
    // Node one's relay (every 100 ms) takes the lease to deliver them.
    let started = Instant::now();
    while relay_lease_expiry(&one.state.db).await <= forecourt::store::now_ms() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "node one's relay never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = one.db_url.clone();
    one.stop_gracefully().await;

    // The lease is given up, and a relay elsewhere takes over with its first pass.
    let quiet = forecourt::state::Settings {
        outbox_poll: Duration::from_secs(3600),
        ..settings()
    };
    let two = Server::start_on(&url, quiet).await;
    assert_eq!(relay_lease_expiry(&two.state.db).await, 0, "released");
    enqueue(&two, &tenant_id, 4).await;
    let relay = forecourt::outbox::Relay::default();
    let seen = Counting(Default::default());
    let delivered = relay.pass(&two.state.db, &seen, 1000).await.unwrap();
    assert!(delivered >= 4, "the other node takes over: {delivered}");
    assert!(relay_lease_expiry(&two.state.db).await > forecourt::store::now_ms());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_to_a_database_leaves_its_schema_as_it_is() {
    use forecourt::store::{Backend, Db};
    async fn tables(db: &Db) -> i64 {
        sqlx::query_scalar(match db.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
            }
        })
        .fetch_one(&db.pool)
        .await
        .unwrap()
    }
    // A new, empty database: attach opens it without migrating it.
    let url = crate::kit::fresh_database().await;
    let attached = Db::attach(&url, 1).await.unwrap();
    assert_eq!(tables(&attached).await, 0, "attach must not create tables");
    attached.pool.close().await;
    // Connecting migrates; a later attach works on the schema it finds.
    let served = Db::connect(&url, 1).await.unwrap();
    served.pool.close().await;
    let attached = Db::attach(&url, 1).await.unwrap();
    assert!(tables(&attached).await > 10);
    assert!(forecourt::tenancy::find_by_slug(&attached, "nobody")
        .await
        .unwrap()
        .is_none());
}
