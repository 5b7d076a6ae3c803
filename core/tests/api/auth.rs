//! Staff authentication: login, cookies, tokens, expiry, revocation, throttling.

use reqwest::Method;
use serde_json::json;

use crate::kit::{assert_problem, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_safe_cookie_and_logout_ends_the_session() {
    let server = Server::demo().await;
    let resp = server
        .client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({ "tenant": "aurora", "email": "ADMIN@aurora.example ", "password": "forecourt-demo" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("forecourt_session=fc1."), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "no TLS in tests");
    let body: serde_json::Value = resp.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["user"]["roles"][0], "tenant_admin");
    // The cookie alone authenticates.
    let session = cookie.split(';').next().unwrap();
    let me = server
        .client
        .get(format!("{}/api/v1/me", server.base))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Logout revokes it.
    assert_eq!(
        server
            .call(Method::POST, "/api/v1/auth/logout", Some(token), None)
            .await
            .0,
        204
    );
    let (status, body) = server.get("/api/v1/me", token).await;
    assert_problem(status, &body, 401, "token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_unknown_tenant_and_throttling() {
    let server = Server::demo().await;
    let attempt = |tenant: &'static str, email: &'static str, password: &'static str| {
        let server = &server;
        async move {
            server
                .call(
                    Method::POST,
                    "/api/v1/auth/login",
                    None,
                    Some(json!({ "tenant": tenant, "email": email, "password": password })),
                )
                .await
        }
    };
    let (s1, b1) = attempt("aurora", "admin@aurora.example", "wrong-password").await;
    let (s2, b2) = attempt("nowhere", "admin@aurora.example", "forecourt-demo").await;
    let (s3, b3) = attempt("aurora", "nobody@aurora.example", "forecourt-demo").await;
    for (s, b) in [(s1, &b1), (s2, &b2), (s3, &b3)] {
        assert_problem(s, b, 401, "invalid_credentials");
    }
    assert_eq!(
        b1["detail"], b2["detail"],
        "unknown tenants look like wrong passwords"
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "tenant": "aurora", "email": "x" })),
        )
        .await;
    assert_problem(status, &body, 422, "invalid_body");
    // After 5 failures the account is throttled, even for the right password.
    for _ in 0..4 {
        attempt("aurora", "admin@aurora.example", "wrong-password").await;
    }
    let (status, body) = attempt("aurora", "admin@aurora.example", "forecourt-demo").await;
    assert_problem(status, &body, 429, "too_many_requests");
    // Others are not affected.
    assert_eq!(
        attempt("aurora", "sales.sh01@aurora.example", "forecourt-demo")
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_malformed_tokens_are_refused() {
    let server = Server::demo().await;
    let tenant = server.tenant_id("aurora").await;
    let user = server.user_id("aurora", "integrator@aurora.example").await;
    let (minted, _) = forecourt::auth::issue_token(
        &server.state.db,
        &tenant,
        &user,
        "api",
        "short",
        Some(&["store.read".to_string()]),
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    let (status, body) = server.get("/api/v1/org/stores", &minted.token).await;
    assert_problem(status, &body, 401, "token_expired");
    let (status, body) = server.get("/api/v1/me", "not-a-token").await;
    assert_problem(status, &body, 401, "token_invalid");
    let wrong_secret = format!("{}{}", &minted.token[..minted.token.len() - 4], "0000");
    let (status, _) = server.get("/api/v1/me", &wrong_secret).await;
    assert_eq!(status, 401);
    let (status, body) = server.call(Method::GET, "/api/v1/me", None, None).await;
    assert_problem(status, &body, 401, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_stored_as_argon2id() {
    let server = Server::demo().await;
    let tenant = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant).await.unwrap();
    let hashes: Vec<String> = sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE tenant_id = $1 AND password_hash IS NOT NULL",
    )
    .bind(&tenant)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(!hashes.is_empty());
    assert!(hashes
        .iter()
        .all(|h| h.starts_with("$argon2id$") && !h.contains("forecourt-demo")));
    let secrets: Vec<String> =
        sqlx::query_scalar("SELECT secret_hash FROM auth_tokens WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert!(secrets.iter().all(|s| s.len() == 64));
}
