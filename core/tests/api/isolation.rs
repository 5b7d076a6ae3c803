//! The tenant isolation matrix: every operation of the OpenAPI document, replayed with tenant
//! B's credentials against tenant A's ids. A new route is covered without anyone listing it; a
//! route with a path parameter the matrix cannot fill fails the test until it can.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::Server;

/// Everything of tenant A a response must never show to tenant B.
struct Markers(Vec<String>);

impl Markers {
    /// A marker in the response that the request did not itself carry (echoing the caller's
    /// own input back is not a leak).
    fn leaked(&self, body: &str, request: &str) -> Option<&String> {
        self.0
            .iter()
            .find(|m| body.contains(m.as_str()) && !request.contains(m.as_str()))
    }
}

/// A's observable state, read directly from the database.
async fn state_of_a(server: &Server, tenant_id: &str) -> Value {
    let db = &server.state.db;
    let mut tx = db.tenant_tx(tenant_id).await.unwrap();
    let mut out = serde_json::Map::new();
    for (name, sql) in [
        ("users", "SELECT id || email || display_name || COALESCE(unit_code, '') || status AS v FROM users WHERE tenant_id = $1 ORDER BY id"),
        ("roles", "SELECT user_id || role_code AS v FROM user_roles WHERE tenant_id = $1 ORDER BY user_id, role_code"),
        ("tokens", "SELECT id || COALESCE(CAST(revoked_at AS TEXT), '-') AS v FROM auth_tokens WHERE tenant_id = $1 ORDER BY id"),
        ("versions", "SELECT CAST(version AS TEXT) || hash AS v FROM bundle_versions WHERE tenant_id = $1 ORDER BY version"),
        ("units", "SELECT code || status AS v FROM org_units WHERE tenant_id = $1 ORDER BY code"),
        ("audit", "SELECT id AS v FROM audit_log WHERE tenant_id = $1 ORDER BY id"),
        ("workflows", "SELECT workflow_id || CAST(version AS TEXT) || status AS v FROM workflow_versions WHERE tenant_id = $1 ORDER BY workflow_id, version"),
        ("instances", "SELECT id || state || CAST(version AS TEXT) AS v FROM workflow_instances WHERE tenant_id = $1 ORDER BY id"),
        ("history", "SELECT instance_id || CAST(seq AS TEXT) AS v FROM workflow_history WHERE tenant_id = $1 ORDER BY instance_id, seq"),
        ("bookings", "SELECT id || CAST(slot_start AS TEXT) || vehicle_id AS v FROM test_drive_bookings WHERE tenant_id = $1 ORDER BY id"),
        ("holds", "SELECT vehicle_id || CAST(slot_start AS TEXT) AS v FROM test_drive_holds WHERE tenant_id = $1 ORDER BY vehicle_id, slot_start"),
        ("outbox", "SELECT id AS v FROM outbox WHERE tenant_id = $1 ORDER BY id"),
        ("pages", "SELECT id || draft_hash || COALESCE(CAST(live_version AS TEXT), '-') AS v FROM pages WHERE tenant_id = $1 ORDER BY id"),
        ("page_versions", "SELECT page_id || CAST(version AS TEXT) || hash AS v FROM page_versions WHERE tenant_id = $1 ORDER BY page_id, version"),
        ("leads", "SELECT id AS v FROM storefront_leads WHERE tenant_id = $1 ORDER BY id"),
        ("vehicles", "SELECT vin || store_code || stage || hold || CAST(version AS TEXT) AS v FROM vehicles WHERE tenant_id = $1 ORDER BY vin"),
        ("orders", "SELECT id || state || CAST(paid AS TEXT) || CAST(refunded AS TEXT) AS v FROM orders WHERE tenant_id = $1 ORDER BY id"),
        ("payments", "SELECT id || status AS v FROM payments WHERE tenant_id = $1 ORDER BY id"),
        ("buyers", "SELECT id AS v FROM buyers WHERE tenant_id = $1 ORDER BY id"),
        ("idempotency_keys", "SELECT scope || key AS v FROM idempotency_keys WHERE tenant_id = $1 ORDER BY scope, key"),
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sql).bind(tenant_id).fetch_all(&mut *tx).await.unwrap();
        out.insert(name.into(), json!(rows));
    }
    tx.commit().await.unwrap();
    let active: Option<i64> =
        sqlx::query_scalar("SELECT active_version FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    out.insert("active".into(), json!(active));
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_never_reads_or_changes_tenant_a() {
    let server = Server::demo().await;
    let a_id = server.tenant_id("aurora").await;
    let b_admin = server.login("shudao", "admin@shudao.example").await;
    let a_admin = server.login("aurora", "admin@aurora.example").await;
    let a_user = server.user_id("aurora", "sales.sh01@aurora.example").await;
    let a_user_email = "sales.sh01@aurora.example";
    let (_, created) = server
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&a_admin),
            Some(json!({ "name": "A integration", "scopes": ["store.read"] })),
        )
        .await;
    let a_token_id = created["id"].as_str().expect("A token").to_string();
    let a_token = created["token"].as_str().unwrap().to_string();

    // A test-drive booking of A (public), with its workflow instance.
    let slot = crate::workflows::free_slot(&server, "aurora", "sh01", "s7").await;
    let (status, booked) = crate::workflows::book(&server, "aurora", "sh01", "s7", &slot).await;
    assert_eq!(status, 201, "{booked}");
    let a_booking_code = booked["code"].as_str().unwrap().to_string();
    let (_, a_bookings) = server.get("/api/v1/test-drives", &a_admin).await;
    let a_booking = a_bookings["bookings"][0]["id"]
        .as_str()
        .expect("A booking")
        .to_string();
    let a_instance = a_bookings["bookings"][0]["instance_id"]
        .as_str()
        .unwrap()
        .to_string();

    // A vehicle of A (synced by A's integrator; a VIN no demo file holds).
    let a_vin = forecourt::inventory::vin::Vin::with_check_digit("LAR7S1E2TS777001")
        .unwrap()
        .into_string();
    let a_integrator = server.login("aurora", "integrator@aurora.example").await;
    let (status, synced) = server
        .call(
            Method::POST,
            "/api/v1/vehicles/sync",
            Some(&a_integrator),
            Some(
                json!({ "vehicles": [{ "vin": a_vin, "model": "s7", "trim": "s7-pro",
                "store": "sh01", "stage": "in_transit", "holding_cost_per_month": 0 }] }),
            ),
        )
        .await;
    assert_eq!(status, 200, "{synced}");

    // An order of A for that vehicle (guest, through A's storefront).
    let (status, a_order, _) = crate::orders::place(
        &server,
        "aurora",
        "isolation-order",
        &json!({ "vin": a_vin, "store": "sh01", "buyer": { "name": "甲方买家", "mobile": "13955556666" } }),
    )
    .await;
    assert_eq!(status, 201, "{a_order}");
    let a_order_id = a_order["id"].as_str().unwrap().to_string();
    let a_order_token = a_order["tracking_token"].as_str().unwrap().to_string();

    // Values of A for every path parameter name the API uses.
    let params: BTreeMap<&str, String> = BTreeMap::from([
        ("code", "sh01".to_string()),
        ("version", "1".to_string()),
        ("model", "s7".to_string()),
        ("slug", "aurora".to_string()),
        ("file", "storefront.css".to_string()),
        ("vin", a_vin.clone()),
        ("token", a_order_token.clone()),
    ]);
    // `{id}` means a user or a token depending on the path.
    let id_for = |path: &str| {
        if path.starts_with("/api/v1/tokens") {
            a_token_id.clone()
        } else if path.starts_with("/api/v1/test-drives") {
            a_booking.clone()
        } else if path.starts_with("/api/v1/workflow-instances") {
            a_instance.clone()
        } else if path.starts_with("/api/v1/admin/workflows") {
            "test_drive_review".to_string()
        } else if path.starts_with("/api/v1/admin/pages") {
            "home".to_string()
        } else if path.starts_with("/api/v1/orders") {
            a_order_id.clone()
        } else {
            a_user.clone()
        }
    };
    let code_for = |path: &str| {
        if path.contains("/test-drives/") {
            a_booking_code.clone()
        } else {
            "sh01".to_string()
        }
    };
    let queries: BTreeMap<&str, String> = BTreeMap::from([
        (
            "/api/v1/authz/explain",
            format!("?user={a_user_email}&action=store.read&resource=unit:sh01"),
        ),
        ("/api/v1/admin/bundle/diff", "?from=1&to=1".to_string()),
        ("/api/v1/audit", "?limit=500".to_string()),
        ("/api/v1/public/pages", "?path=/".to_string()),
    ]);
    let a_bundle = crate::kit::demo_bundle("aurora-motors");
    let bodies: BTreeMap<(&str, &str), Value> = BTreeMap::from([
        (
            ("POST", "/api/v1/auth/login"),
            json!({ "tenant": "shudao", "email": a_user_email, "password": "forecourt-demo" }),
        ),
        (
            ("POST", "/api/v1/users"),
            json!({ "email": "intruder@shudao.example", "display_name": "X", "roles": ["sales_consultant"], "unit": "sh01" }),
        ),
        (
            ("PATCH", "/api/v1/users/{id}"),
            json!({ "display_name": "changed by B", "status": "disabled" }),
        ),
        (
            ("POST", "/api/v1/tokens"),
            json!({ "name": "B for A", "user_id": a_user, "scopes": ["*"] }),
        ),
        (
            ("PUT", "/api/v1/admin/bundle"),
            json!({ "files": a_bundle }),
        ),
        (
            ("POST", "/api/v1/admin/bundle/validate"),
            json!({ "files": a_bundle }),
        ),
        (
            ("POST", "/api/v1/admin/bundle/rollback"),
            json!({ "version": 1 }),
        ),
    ]);

    let mut markers = vec![
        a_id.clone(),
        a_user.clone(),
        a_token_id.clone(),
        "@aurora.example".into(),
        "Aurora Space".into(),
        "极光空间".into(),
    ];
    markers.push(server.user_id("aurora", "admin@aurora.example").await);
    markers.push(a_booking.clone());
    markers.push(a_booking_code.clone());
    markers.push(a_instance.clone());
    markers.push(a_order_id.clone());
    markers.push(a_order_token.clone());
    markers.push(a_order["number"].as_str().unwrap().to_string());
    markers.push("13912345678".into());
    markers.push(a_vin.clone());
    let markers = Markers(markers);

    let before = state_of_a(&server, &a_id).await;
    let doc: Value = server
        .client
        .get(format!("{}/api/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut covered = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _op) in item.as_object().unwrap() {
            let method_upper = method.to_uppercase();
            let access = forecourt::http::routes::access(&method_upper, path)
                .unwrap_or_else(|| panic!("{method_upper} {path} is not declared"));
            let _ = access;
            let mut concrete = path.clone();
            while let Some(start) = concrete.find('{') {
                let end = concrete[start..].find('}').unwrap() + start;
                let name = &concrete[start + 1..end];
                let value = if name == "id" {
                    id_for(path)
                } else if name == "code" {
                    code_for(path)
                } else {
                    params.get(name).cloned().unwrap_or_else(|| panic!("isolation matrix: no value of tenant A for path parameter `{name}` in {path}; add one"))
                };
                concrete.replace_range(start..=end, &value);
            }
            concrete.push_str(queries.get(path.as_str()).map(String::as_str).unwrap_or(""));
            let body = bodies
                .get(&(method_upper.as_str(), path.as_str()))
                .cloned()
                .or_else(|| {
                    matches!(method_upper.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}))
                });
            let m = Method::from_bytes(method_upper.as_bytes()).unwrap();
            // Logging out ends the credential used, so it gets a throwaway session of B's.
            let b_token = if path == "/api/v1/auth/logout" {
                server.login("shudao", "admin@shudao.example").await
            } else {
                b_admin.clone()
            };
            let sent = format!(
                "{concrete} {}",
                body.as_ref().map(|b| b.to_string()).unwrap_or_default()
            );
            let mut req = server
                .client
                .request(m, format!("{}{concrete}", server.base))
                .bearer_auth(&b_token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let text = resp.text().await.unwrap();
            // Public storefront data of A is public by design; it must still hold no staff data.
            let public_a = path.starts_with("/t/{slug}");
            if !public_a {
                if let Some(m) = markers.leaked(&text, &sent) {
                    panic!("{method_upper} {concrete} with tenant B's credentials leaked A's `{m}` (status {status}): {text}");
                }
            } else {
                assert!(
                    !text.contains("@aurora.example") && !text.contains(&a_user),
                    "public route leaked staff data: {text}"
                );
            }
            assert!(
                status.as_u16() < 500,
                "{method_upper} {concrete}: {status} {text}"
            );
            covered += 1;
        }
    }
    assert!(covered >= 25, "only {covered} operations in the document");
    let after = state_of_a(&server, &a_id).await;
    assert_eq!(
        before, after,
        "tenant A's data changed while tenant B probed it"
    );

    // A's credentials still work, and only for A.
    let (status, me) = server.get("/api/v1/me", &a_token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenant"], "aurora");
}

/// A token names its tenant; tampering with that part is refused, never re-routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_cannot_be_pointed_at_another_tenant() {
    let server = Server::demo().await;
    let a = server.login("aurora", "admin@aurora.example").await;
    let b_id = server.tenant_id("shudao").await;
    let parts: Vec<&str> = a.split('.').collect();
    let forged = format!("fc1.{b_id}.{}.{}", parts[2], parts[3]);
    let (status, body) = server.get("/api/v1/me", &forged).await;
    crate::kit::assert_problem(status, &body, 401, "token_invalid");
}
