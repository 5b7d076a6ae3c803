//! Staff users through the API: creation, validation, no privilege escalation.

use reqwest::Method;
use serde_json::json;

use crate::kit::{assert_problem, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_manager_manages_own_store_without_escalating() {
    let server = Server::demo().await;
    let mgr = server.login("aurora", "manager.sh01@aurora.example").await;
    let new = json!({ "email": "new.sales@aurora.example", "display_name": "New Sales", "password": "a-long-password", "roles": ["sales_consultant"], "unit": "sh01" });
    let (status, user) = server
        .call(Method::POST, "/api/v1/users", Some(&mgr), Some(new.clone()))
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["unit"], "sh01");
    assert!(user.get("password_hash").is_none());
    // The new user can log in.
    let (status, _) = server.call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "tenant": "aurora", "email": "new.sales@aurora.example", "password": "a-long-password" }))).await;
    assert_eq!(status, 200);
    let (status, body) = server
        .call(Method::POST, "/api/v1/users", Some(&mgr), Some(new))
        .await;
    assert_problem(status, &body, 409, "email_taken");
    // Not in another store.
    let elsewhere = json!({ "email": "x@aurora.example", "display_name": "X", "roles": ["sales_consultant"], "unit": "bj01" });
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/users", Some(&mgr), Some(elsewhere))
            .await
            .0,
        403
    );
    // Not a role with more than the manager holds.
    let admin_role = json!({ "email": "y@aurora.example", "display_name": "Y", "roles": ["tenant_admin"], "unit": "sh01" });
    let (status, body) = server
        .call(Method::POST, "/api/v1/users", Some(&mgr), Some(admin_role))
        .await;
    assert_problem(status, &body, 403, "forbidden");
    assert!(
        body["detail"].as_str().unwrap().contains("tenant_admin"),
        "{body}"
    );
    // Validation with pointers.
    let bad = json!({ "email": "not-an-email", "display_name": "Z", "roles": ["sales_consultant"], "unit": "sh01" });
    let (status, body) = server
        .call(Method::POST, "/api/v1/users", Some(&mgr), Some(bad))
        .await;
    assert_problem(status, &body, 422, "invalid_email");
    assert_eq!(body["errors"][0]["pointer"], "/email");
    let admin = server.login("aurora", "admin@aurora.example").await;
    let bad_role = json!({ "email": "z@aurora.example", "display_name": "Z", "roles": ["captain"], "unit": "sh01" });
    let (status, body) = server
        .call(Method::POST, "/api/v1/users", Some(&admin), Some(bad_role))
        .await;
    assert_problem(status, &body, 422, "unknown_role");
    assert_eq!(body["errors"][0]["pointer"], "/roles/0");
    let weak = json!({ "email": "w@aurora.example", "display_name": "W", "password": "short", "roles": [] });
    assert_problem(
        server
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(weak.clone()),
            )
            .await
            .0,
        &server
            .call(Method::POST, "/api/v1/users", Some(&admin), Some(weak))
            .await
            .1,
        422,
        "weak_password",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_access() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let sales = server.login("aurora", "sales.bj01@aurora.example").await;
    let id = server.user_id("aurora", "sales.bj01@aurora.example").await;
    let (status, user) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({ "status": "disabled" })),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["status"], "disabled");
    assert_eq!(server.get("/api/v1/me", &sales).await.0, 401);
    let (status, _) = server.call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "tenant": "aurora", "email": "sales.bj01@aurora.example", "password": "forecourt-demo" }))).await;
    assert_eq!(status, 401);
}
