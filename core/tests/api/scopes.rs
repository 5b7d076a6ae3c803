//! Permission scopes end to end: roles and reach from the demo bundles, enforced on the API.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, Server};

fn codes(body: &Value, list: &str, key: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|s| s[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_consultant_sees_only_own_store() {
    let server = Server::demo().await;
    let sh = server.login("aurora", "sales.sh01@aurora.example").await;
    let (status, body) = server.get("/api/v1/org/stores", &sh).await;
    assert_eq!(status, 200);
    assert_eq!(codes(&body, "stores", "code"), vec!["sh01"]);
    assert_eq!(server.get("/api/v1/org/stores/sh01", &sh).await.0, 200);
    let (status, body) = server.get("/api/v1/org/stores/bj01", &sh).await;
    assert_problem(status, &body, 403, "forbidden");

    // Staff records follow the store: X's consultant reads X's staff, not Y's.
    let (status, body) = server.get("/api/v1/users", &sh).await;
    assert_eq!(status, 200);
    let emails = codes(&body, "users", "email");
    assert!(
        emails.contains(&"sales.sh01@aurora.example".to_string())
            && emails.contains(&"manager.sh01@aurora.example".to_string()),
        "{emails:?}"
    );
    assert!(
        emails.iter().all(|e| e.ends_with("sh01@aurora.example")),
        "{emails:?}"
    );
    let bj_user = server.user_id("aurora", "sales.bj01@aurora.example").await;
    let (status, body) = server.get(&format!("/api/v1/users/{bj_user}"), &sh).await;
    assert_problem(status, &body, 403, "forbidden");
    // And the other way round.
    let bj = server.login("aurora", "sales.bj01@aurora.example").await;
    let sh_user = server.user_id("aurora", "sales.sh01@aurora.example").await;
    assert_eq!(
        server.get(&format!("/api/v1/users/{sh_user}"), &bj).await.0,
        403
    );
    // Nothing tenant-wide.
    assert_eq!(
        server.get("/api/v1/admin/bundle/versions", &sh).await.0,
        403
    );
    assert_eq!(server.get("/api/v1/audit", &sh).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_manager_reads_every_store_in_region_and_none_outside() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (_, all) = server.get("/api/v1/org/stores", &admin).await;
    let all_stores = all["stores"].as_array().unwrap().clone();
    let east: Vec<String> = all_stores
        .iter()
        .filter(|s| s["region"] == "east")
        .map(|s| s["code"].as_str().unwrap().to_string())
        .collect();
    let other: Vec<String> = all_stores
        .iter()
        .filter(|s| s["region"] != "east")
        .map(|s| s["code"].as_str().unwrap().to_string())
        .collect();
    assert!(east.len() >= 3 && other.len() >= 3);

    let rm = server.login("aurora", "region.east@aurora.example").await;
    let (_, mine) = server.get("/api/v1/org/stores", &rm).await;
    let mut got = codes(&mine, "stores", "code");
    got.sort();
    let mut want = east.clone();
    want.sort();
    assert_eq!(got, want);
    for code in &east {
        assert_eq!(
            server
                .get(&format!("/api/v1/org/stores/{code}"), &rm)
                .await
                .0,
            200,
            "{code}"
        );
    }
    for code in &other {
        assert_eq!(
            server
                .get(&format!("/api/v1/org/stores/{code}"), &rm)
                .await
                .0,
            403,
            "{code}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_level_widens_stock_managers_reach() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (_, all) = server.get("/api/v1/org/stores", &admin).await;
    let total = all["stores"].as_array().unwrap().len();
    // sh02 is a level-A store: its stock manager sees the whole network.
    let a = server.login("aurora", "stock.sh02@aurora.example").await;
    assert_eq!(
        server.get("/api/v1/org/stores", &a).await.1["stores"]
            .as_array()
            .unwrap()
            .len(),
        total
    );
    // cq01 is level B: its stock manager sees only its own region.
    let b = server.login("aurora", "stock.cq01@aurora.example").await;
    let (_, seen) = server.get("/api/v1/org/stores", &b).await;
    let seen = seen["stores"].as_array().unwrap();
    assert!(!seen.is_empty() && seen.len() < total);
    assert!(seen.iter().all(|s| s["region"] == "southwest"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrator_token_reaches_only_its_scopes() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let integrator = server.user_id("aurora", "integrator@aurora.example").await;
    let (status, created) = server
        .call(Method::POST, "/api/v1/tokens", Some(&admin), Some(json!({ "name": "DMS sync", "user_id": integrator, "scopes": ["store.read", "org.read"], "expires_in_days": 30 })))
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap();
    assert_eq!(server.get("/api/v1/org/stores/cq01", token).await.0, 200);
    assert_eq!(server.get("/api/v1/org", token).await.0, 200);
    // The integrator role may read bundles, but this token's scopes do not include it.
    let (status, body) = server.get("/api/v1/admin/bundle/versions", token).await;
    assert_problem(status, &body, 403, "forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("scopes"),
        "{body}"
    );
    // A scope the user's roles lack is not granted by the token either.
    let (_, wide) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({ "name": "too wide", "user_id": integrator, "scopes": ["bundle.apply"] })),
        )
        .await;
    let wide = wide["token"].as_str().unwrap();
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(wide),
            Some(json!({ "files": crate::kit::demo_bundle("aurora-motors") })),
        )
        .await;
    assert_eq!(status, 403);
    // Listed without the secret; revoked tokens stop working at once.
    let (_, list) = server.get("/api/v1/tokens", &admin).await;
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none() && t.get("secret_hash").is_none()),
        "{list}"
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        server
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{id}"),
                Some(&admin),
                None
            )
            .await
            .0,
        204
    );
    let (status, body) = server.get("/api/v1/org", token).await;
    assert_problem(status, &body, 401, "token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_which_policy_decided() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (status, allow) = server.get("/api/v1/authz/explain?user=sales.sh01@aurora.example&action=store.read&resource=unit:sh01", &admin).await;
    assert_eq!(status, 200, "{allow}");
    assert_eq!(allow["decision"], "allow");
    assert_eq!(
        allow["determining"][0]
            .as_str()
            .unwrap()
            .split(".grant.")
            .next(),
        Some("role.sales_consultant")
    );
    let (_, deny) = server.get("/api/v1/authz/explain?user=sales.sh01@aurora.example&action=store.read&resource=unit:bj01", &admin).await;
    assert_eq!(deny["decision"], "deny");
    assert!(
        deny["summary"]
            .as_str()
            .unwrap()
            .contains("none reaches org unit bj01"),
        "{deny}"
    );
    assert_eq!(deny["considered"][0]["permits"], false);
    assert!(deny["considered"][0]["cedar"]
        .as_str()
        .unwrap()
        .contains("resource in principal.store"));
    let (_, none) = server.get("/api/v1/authz/explain?user=sales.sh01@aurora.example&action=bundle.apply&resource=tenant", &admin).await;
    assert!(
        none["summary"]
            .as_str()
            .unwrap()
            .starts_with("Denied by default"),
        "{none}"
    );
    let (_, tok) = server.get("/api/v1/authz/explain?user=admin@aurora.example&action=bundle.apply&resource=tenant&token_scopes=store.read", &admin).await;
    assert!(
        tok["summary"].as_str().unwrap().contains("token's scopes"),
        "{tok}"
    );
    let (status, body) = server
        .get(
            "/api/v1/authz/explain?user=nobody@aurora.example&action=store.read&resource=tenant",
            &admin,
        )
        .await;
    assert_problem(status, &body, 404, "not_found");
    let (status, body) = server
        .get(
            "/api/v1/authz/explain?user=admin@aurora.example&action=store.write&resource=tenant",
            &admin,
        )
        .await;
    assert_problem(status, &body, 422, "unknown_action");
    // Only admins may ask.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    assert_eq!(
        server
            .get(
                "/api/v1/authz/explain?user=admin@aurora.example&action=store.read&resource=tenant",
                &sales
            )
            .await
            .0,
        403
    );
    let (status, policies) = server.get("/api/v1/authz/policies", &admin).await;
    assert_eq!(status, 200);
    assert!(policies["schema"]
        .as_str()
        .unwrap()
        .contains("entity Store"));
}
