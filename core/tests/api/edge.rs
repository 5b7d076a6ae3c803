//! The HTTP edge: problem+json everywhere, limits, health, metrics, the OpenAPI document and
//! the declared-access table, tenant resolution by Host and path.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problem_json_with_request_ids() {
    let server = Server::demo().await;
    let resp = server
        .client
        .get(format!("{}/no/such/path", server.base))
        .header("x-request-id", "test-request-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(resp.headers()["x-request-id"], "test-request-0001");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["request_id"], "test-request-0001");
    assert_problem(reqwest::StatusCode::NOT_FOUND, &body, 404, "not_found");
    let (status, body) = server.call(Method::DELETE, "/healthz", None, None).await;
    assert_problem(status, &body, 405, "method_not_allowed");
    // Malformed JSON: 400 with where it broke.
    let resp = server
        .client
        .post(format!("{}/api/v1/auth/login", server.base))
        .header("content-type", "application/json")
        .body("{\"tenant\": \"aurora\",")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_problem(status, &body, 400, "malformed_json");
    assert!(
        body["detail"].as_str().unwrap().contains("line 1"),
        "{body}"
    );
    // Wrong media type.
    let resp = server
        .client
        .post(format!("{}/api/v1/auth/login", server.base))
        .body("tenant=aurora")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_problem(
        status,
        &resp.json().await.unwrap(),
        415,
        "unsupported_media_type",
    );
    // Oversized body: 413.
    let admin = server.login("aurora", "admin@aurora.example").await;
    let big = json!({ "email": "x@y.z", "display_name": "x".repeat(2 * 1024 * 1024), "roles": [] });
    crate::kit::assert_refused_as_too_large(
        crate::kit::one_shot_client()
            .post(format!("{}/api/v1/users", server.base))
            .bearer_auth(&admin)
            .json(&big),
    )
    .await;
    // Declared over the limit: refused from the headers alone, before any body byte is read.
    let head = oversized_head(&server.base, &admin).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.contains("application/problem+json") && head.contains("payload_too_large"),
        "{head}"
    );
    // Chunked (no Content-Length) oversized body: the server stops reading at the limit and
    // answers 413 (the client may see the connection closed while it is still writing).
    let chunks = futures_stream(3 * 1024 * 1024);
    crate::kit::assert_refused_as_too_large(
        crate::kit::one_shot_client()
            .post(format!("{}/api/v1/users", server.base))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks)),
    )
    .await;
    assert_eq!(
        server.get("/api/v1/me", &admin).await.0,
        200,
        "the server keeps serving"
    );
}

/// Sends only the headers of a POST declaring a 5 MiB body and returns the raw response.
async fn oversized_head(base: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 5242880\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answer before the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn futures_stream(
    total: usize,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunk = 64 * 1024;
    futures_util::stream::iter((0..total / chunk).map(move |i| {
        Ok(if i == 0 {
            b"{\"email\":\"".to_vec()
        } else {
            vec![b'a'; chunk]
        })
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics() {
    let server = Server::start().await;
    assert_eq!(
        server.call(Method::GET, "/healthz", None, None).await.1["status"],
        "ok"
    );
    let (status, ready) = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        ready["database"],
        if crate::kit::on_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let (_, text) = server.call(Method::GET, "/metrics", None, None).await;
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.contains("http_requests_total") && text.contains("route=\"/readyz\""),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_exactly_the_declared_routes() {
    let server = Server::start().await;
    let (status, doc) = server
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut declared: Vec<(String, String)> = forecourt::http::routes::ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    declared.sort();
    assert_eq!(
        documented, declared,
        "the OpenAPI document and routes::ROUTES must list the same operations"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let (status, schema) = server
        .call(Method::GET, "/api/v1/schemas/tenant.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(schema["properties"]["org"].is_object(), "{schema}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_store_list_by_host_and_by_path() {
    let server = Server::demo().await;
    let by_path = server
        .client
        .get(format!("{}/t/shudao/api/v1/public/stores", server.base))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(by_path.status(), 200);
    let body: Value = by_path.json().await.unwrap();
    assert_eq!(body["tenant"], "shudao");
    assert_eq!(body["locale"], "en");
    assert!(body["stores"].as_array().unwrap().len() >= 50);
    let by_host = server
        .client
        .get(format!("{}/api/v1/public/stores", server.base))
        .header("host", "aurora.forecourt.test")
        .send()
        .await
        .unwrap();
    assert_eq!(by_host.status(), 200);
    let body: Value = by_host.json().await.unwrap();
    assert_eq!(body["tenant"], "aurora");
    assert_eq!(body["locale"], "zh-CN");
    assert!(body["stores"].as_array().unwrap().len() >= 12);
    let unknown = server
        .client
        .get(format!("{}/api/v1/public/stores", server.base))
        .header("host", "nobody.forecourt.test")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        server
            .call(Method::GET, "/t/NOPE/api/v1/public/stores", None, None)
            .await
            .0,
        404
    );
}
