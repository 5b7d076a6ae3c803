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
