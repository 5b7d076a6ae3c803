//! Storefront pages over HTTP: the builder's save → publish → rollback cycle with immutable
//! versions, located validation errors with nothing saved, a publish reaching another node,
//! the storefront by Host and by `/t/{slug}/`, escaping of hostile text, rich text and tenant
//! templates, per-request blocks, the JSON twin, the no-JS forms and the demo storefronts.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{assert_problem, Server};

/// The block library as the builder reads it.
async fn library(server: &Server, token: &str) -> Value {
    let (status, lib) = server.get("/api/v1/admin/blocks", token).await;
    assert_eq!(status, 200, "{lib}");
    lib
}

/// A block of `kind` with its library defaults, `props` merged over them.
fn block(lib: &Value, kind: &str, id: &str, props: Value) -> Value {
    let entry = lib["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == kind)
        .unwrap_or_else(|| panic!("no block type {kind}"));
    let mut merged = entry["defaults"].clone();
    for (k, v) in props.as_object().unwrap() {
        merged[k] = v.clone();
    }
    json!({ "type": kind, "id": id, "props": merged })
}

fn page_doc(id: &str, route: &str, title: &str, blocks: Vec<Value>) -> Value {
    json!({
        "schema_version": 1,
        "id": id,
        "route": route,
        "meta": {
            "zh-CN": { "title": title, "description": "测试页面" },
            "en": { "title": title, "description": "A test page" }
        },
        "blocks": blocks
    })
}

async fn put_page(server: &Server, token: &str, doc: &Value) -> (StatusCode, Value) {
    let id = doc["id"].as_str().unwrap();
    server
        .call(
            Method::PUT,
            &format!("/api/v1/admin/pages/{id}"),
            Some(token),
            Some(doc.clone()),
        )
        .await
}

async fn publish(
    server: &Server,
    token: &str,
    id: &str,
    hash: Option<&str>,
) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/api/v1/admin/pages/{id}/publish"),
            Some(token),
            Some(json!({ "draft_hash": hash })),
        )
        .await
}

/// A storefront page: status and HTML.
async fn html(server: &Server, path: &str) -> (StatusCode, String) {
    let resp = server
        .client
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if status == 200 {
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        assert!(resp.headers().contains_key("content-security-policy"));
    }
    (status, resp.text().await.unwrap())
}

/// Polls `path` until its HTML satisfies `want` or `limit` passes; returns the time it took.
async fn wait_for(
    server: &Server,
    path: &str,
    limit: Duration,
    want: impl Fn(&str) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let (_, body) = html(server, path).await;
        if want(&body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{path} did not change within {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_drafted_published_and_rolled_back() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let lib = library(&server, &admin).await;
    assert!(lib["blocks"].as_array().unwrap().len() >= 16, "{lib}");
    assert!(lib["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["code"] == "s7"));

    let first = "春季试驾日 <script>alert(1)</script>";
    let doc = page_doc(
        "spring",
        "/spring",
        "Spring drive days",
        vec![block(&lib, "hero", "hero-1", json!({ "headline": first }))],
    );
    let (status, saved) = put_page(&server, &admin, &doc).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["live_version"], Value::Null);
    assert_eq!(saved["draft_changed"], true);
    // A draft is not on the storefront.
    let (status, _) = html(&server, "/t/aurora/spring").await;
    assert_eq!(status, 404);

    let hash = saved["draft_hash"].as_str().unwrap().to_string();
    let (status, published) = publish(&server, &admin, "spring", Some(&hash)).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["live_version"], 1);
    assert_eq!(published["draft_changed"], false);
    assert_eq!(published["storefront_url"], "/t/aurora/spring");
    let (status, body) = html(&server, "/t/aurora/spring").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("春季试驾日 &lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || body.contains("春季试驾日 &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script>alert(1)"), "{body}");
    // Publishing the same draft again is refused.
    let (status, again) = publish(&server, &admin, "spring", None).await;
    assert_problem(status, &again, 409, "nothing_to_publish");

    // Version 2.
    let second = "Spring drive days are back";
    let doc2 = page_doc(
        "spring",
        "/spring",
        "Spring drive days",
        vec![block(&lib, "hero", "hero-1", json!({ "headline": second }))],
    );
    let (status, saved2) = put_page(&server, &admin, &doc2).await;
    assert_eq!(status, 200, "{saved2}");
    assert_eq!(saved2["draft_changed"], true);
    // A publish that names the earlier draft is stale.
    let (status, stale) = publish(&server, &admin, "spring", Some(&hash)).await;
    assert_problem(status, &stale, 409, "stale_draft");
    let (status, v2) = publish(&server, &admin, "spring", saved2["draft_hash"].as_str()).await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["live_version"], 2);
    let (_, body) = html(&server, "/t/aurora/spring").await;
    assert!(
        body.contains(second) && !body.contains("春季试驾日"),
        "{body}"
    );

    // Roll back to 1: live again everywhere, the draft reset to it, version 2 kept unchanged.
    let (status, back) = server
        .call(
            Method::POST,
            "/api/v1/admin/pages/spring/rollback",
            Some(&admin),
            Some(json!({ "version": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["live_version"], 1);
    assert_eq!(back["draft"]["blocks"][0]["props"]["headline"], first);
    let versions: Vec<(i64, bool)> = back["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["live"].as_bool().unwrap()))
        .collect();
    assert_eq!(versions, vec![(2, false), (1, true)]);
    let (_, body) = html(&server, "/t/aurora/spring").await;
    assert!(
        body.contains("春季试驾日") && !body.contains(second),
        "{body}"
    );
    let (status, v2doc) = server
        .get("/api/v1/admin/pages/spring/versions/2", &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(v2doc["document"]["blocks"][0]["props"]["headline"], second);
    assert_eq!(v2doc["live"], false);
    let (status, missing) = server
        .call(
            Method::POST,
            "/api/v1/admin/pages/spring/rollback",
            Some(&admin),
            Some(json!({ "version": 9 })),
        )
        .await;
    assert_problem(status, &missing, 404, "not_found");

    // The JSON twin carries the same data the HTML shows.
    let (status, twin) = server
        .call(
            Method::GET,
            "/t/aurora/api/v1/public/pages?path=/spring&locale=en",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{twin}");
    assert_eq!(twin["version"], 1);
    assert_eq!(twin["page"]["id"], "spring");
    assert_eq!(twin["blocks"][0]["type"], "hero");
    assert!(
        twin["blocks"][0]["data"].to_string().contains("春季试驾日"),
        "{twin}"
    );
    // The list shows it; the audit log has both publishes and the rollback.
    let (_, list) = server.get("/api/v1/admin/pages", &admin).await;
    assert!(
        list["pages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "spring" && p["live_version"] == 1),
        "{list}"
    );
    let (_, audit) = server.get("/api/v1/audit?limit=500", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"page.rollback")
            && actions.iter().filter(|a| **a == "page.publish").count() >= 2,
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_pages_are_refused_whole_with_located_errors() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let lib = library(&server, &admin).await;
    let mut hero = block(&lib, "hero", "hero-1", json!({}));
    hero["props"]["headline"] = json!(12);
    let text = serde_json::to_string_pretty(&json!({
        "schema_version": 1,
        "id": "broken",
        "route": "/broken",
        "meta": { "zh-CN": { "title": "坏页面" } },
        "blocks": [
            hero,
            { "type": "heroo", "id": "x-1", "props": {} },
            { "type": "model_header", "id": "hero-1", "props": { "model": "nope" } },
        ]
    }))
    .unwrap();
    let resp = server
        .client
        .put(format!("{}/api/v1/admin/pages/broken", server.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_problem(status, &body, 422, "page_invalid");
    let errors = body["errors"].as_array().unwrap();
    let at = |pointer: &str| {
        errors
            .iter()
            .find(|e| e["pointer"] == pointer)
            .unwrap_or_else(|| panic!("no error at {pointer}: {body}"))
    };
    let e = at("/blocks/0/props/headline");
    assert!(
        e["line"].as_u64().unwrap() > 1 && e["column"].as_u64().is_some(),
        "{e}"
    );
    assert_eq!(e["file"], "pages/broken.json");
    assert!(
        at("/blocks/1/type")["message"]
            .as_str()
            .unwrap()
            .contains("hero"),
        "did you mean: {body}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == "page.duplicate_block_id"),
        "{body}"
    );
    assert!(
        at("/blocks/2/props/model")["message"]
            .as_str()
            .unwrap()
            .contains("s7"),
        "{body}"
    );
    // Nothing saved.
    let (status, _) = server.get("/api/v1/admin/pages/broken", &admin).await;
    assert_eq!(status, 404);

    // A format this build does not read, and a document id that is not the page's.
    let (status, body) = put_page(
        &server,
        &admin,
        &json!({ "schema_version": 2, "id": "broken", "route": "/b", "meta": {}, "blocks": [] }),
    )
    .await;
    assert_problem(status, &body, 422, "page_invalid");
    assert!(body.to_string().contains("schema_version"), "{body}");
    let doc = page_doc("other", "/other", "Other", vec![]);
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/admin/pages/broken",
            Some(&admin),
            Some(doc),
        )
        .await;
    assert_problem(status, &body, 422, "page_id_mismatch");

    // Tenant templates may not turn escaping off or loop without bound.
    for template in [
        "{{ data.x | safe }}",
        "{% for i in range(end=100000000) %}x{% endfor %}",
        "{% set_global a = 1 %}",
    ] {
        let doc = page_doc(
            "tpl",
            "/tpl",
            "T",
            vec![
                json!({ "type": "template", "id": "t-1", "props": { "template": template, "data": { "x": "<b>" } } }),
            ],
        );
        let (status, body) = put_page(&server, &admin, &doc).await;
        assert_problem(status, &body, 422, "page_invalid");
        assert!(
            body["errors"][0]["pointer"]
                .as_str()
                .unwrap()
                .starts_with("/blocks/0/props"),
            "{template}: {body}"
        );
    }

    // A huge document is refused before it is read.
    let huge = format!(
        "{{\"schema_version\":1,\"id\":\"huge\",\"pad\":\"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    crate::kit::assert_refused_as_too_large(
        crate::kit::one_shot_client()
            .put(format!("{}/api/v1/admin/pages/huge", server.base))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    let (status, _) = server.get("/api/v1/admin/pages/huge", &admin).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_text_is_escaped_sanitised_or_sandboxed() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let lib = library(&server, &admin).await;
    let doc = page_doc(
        "hostile",
        "/hostile",
        "\"><script>alert('t')</script>",
        vec![
            block(
                &lib,
                "rich_text",
                "rt-1",
                json!({ "html": "<p onclick=\"x()\">Hello <strong>buyers</strong><script>alert(2)</script><a href=\"javascript:alert(3)\">x</a></p>" }),
            ),
            json!({ "type": "template", "id": "t-1", "props": { "template": "<p class=\"t\">{{ data.name }} — {{ data.items | length }}</p>{% for i in data.items %}<i>{{ i }}</i>{% endfor %}", "data": { "name": "<img src=x onerror=alert(4)>", "items": ["<b>1</b>", "2"] } } }),
            json!({ "type": "template", "id": "t-2", "props": { "template": "{{ data.missing.deeper }}", "data": {} } }),
        ],
    );
    let (status, saved) = put_page(&server, &admin, &doc).await;
    assert_eq!(status, 200, "{saved}");
    let (status, _) = publish(&server, &admin, "hostile", None).await;
    assert_eq!(status, 200);
    let (status, body) = html(&server, "/t/aurora/hostile?locale=en").await;
    assert_eq!(status, 200, "{body}");
    for bad in [
        "<script>alert",
        "onclick",
        "javascript:",
        "<img src=x onerror",
        "<b>1</b>",
    ] {
        assert!(!body.contains(bad), "`{bad}` reached the page: {body}");
    }
    assert!(body.contains("Hello <strong>buyers</strong>"), "{body}");
    assert!(
        body.contains("&lt;img src=x onerror=alert(4)&gt;")
            || body.contains("&lt;img src=x onerror&#x3D;alert(4)&gt;"),
        "{body}"
    );
    assert!(body.contains("— 2</p>"), "{body}");
    // A template that fails at render time leaves a placeholder; the page still renders.
    assert!(body.contains("data-block-id=\"t-2\""), "{body}");
    assert!(body.contains("</html>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reaches_another_node_within_a_second() {
    let one = Server::demo().await;
    let two = Server::start_on(&one.db_url, crate::kit::settings()).await;
    let admin = one.login("aurora", "admin@aurora.example").await;
    let lib = library(&one, &admin).await;
    let doc = page_doc(
        "news",
        "/news",
        "News",
        vec![block(
            &lib,
            "hero",
            "hero-1",
            json!({ "headline": "First news" }),
        )],
    );
    put_page(&one, &admin, &doc).await;
    assert_eq!(publish(&one, &admin, "news", None).await.0, 200);
    wait_for(&two, "/t/aurora/news", Duration::from_secs(5), |b| {
        b.contains("First news")
    })
    .await;
    // Node two now has the page cached; a publish on node one must replace it there.
    let doc = page_doc(
        "news",
        "/news",
        "News",
        vec![block(
            &lib,
            "hero",
            "hero-1",
            json!({ "headline": "Second news" }),
        )],
    );
    put_page(&one, &admin, &doc).await;
    assert_eq!(publish(&one, &admin, "news", None).await.0, 200);
    let took = wait_for(&two, "/t/aurora/news", Duration::from_secs(1), |b| {
        b.contains("Second news")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // And a rollback likewise.
    let (status, _) = one
        .call(
            Method::POST,
            "/api/v1/admin/pages/news/rollback",
            Some(&admin),
            Some(json!({ "version": 1 })),
        )
        .await;
    assert_eq!(status, 200);
    wait_for(&two, "/t/aurora/news", Duration::from_secs(1), |b| {
        b.contains("First news")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_page_roles_may_edit_or_publish() {
    let server = Server::demo().await;
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/admin/pages", None),
        (Method::GET, "/api/v1/admin/blocks", None),
        (Method::GET, "/api/v1/admin/pages/home", None),
        (
            Method::PUT,
            "/api/v1/admin/pages/home",
            Some(page_doc("home", "/", "x", vec![])),
        ),
        (
            Method::POST,
            "/api/v1/admin/pages/home/publish",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/admin/pages/home/rollback",
            Some(json!({ "version": 1 })),
        ),
    ] {
        let (status, body) = server.call(method, path, Some(&sales), body).await;
        assert_problem(status, &body, 403, "forbidden");
    }
    let (status, body) = server
        .call(Method::GET, "/api/v1/admin/pages", None, None)
        .await;
    assert_problem(status, &body, 401, "unauthenticated");
    // The builder UI itself is public (it logs in); its assets are served with an ETag.
    let resp = server
        .client
        .get(format!("{}/admin/pages", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let resp = server
        .client
        .get(format!("{}/assets/builder.js", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let resp = server
        .client
        .get(format!("{}/assets/builder.js", server.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    let (status, _) = server
        .call(Method::GET, "/assets/..%2FCargo.toml", None, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_storefronts_serve_every_page_by_prefix_and_by_host() {
    let server = Server::demo().await;
    for (tenant, model) in [("aurora", "s7"), ("shudao", "")] {
        let (status, twin) = server
            .call(
                Method::GET,
                &format!("/t/{tenant}/api/v1/public/pages?path=/&locale=en"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{tenant}: {twin}");
        let nav: Vec<String> = twin["nav"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["href"].as_str().unwrap().to_string())
            .collect();
        assert!(nav.len() >= 5, "{tenant}: {nav:?}");
        let model = if model.is_empty() {
            let (_, models) = server
                .call(
                    Method::GET,
                    &format!("/t/{tenant}/api/v1/public/models"),
                    None,
                    None,
                )
                .await;
            models["models"][0]["code"].as_str().unwrap().to_string()
        } else {
            model.to_string()
        };
        let mut paths: Vec<String> = nav.clone();
        paths.push(format!("/t/{tenant}/models/{model}"));
        for path in &paths {
            for locale in ["zh-CN", "en"] {
                let (status, body) = html(&server, &format!("{path}?locale={locale}")).await;
                assert_eq!(status, 200, "{path}: {body}");
                assert!(
                    body.starts_with("<!doctype html>") || body.starts_with("<!DOCTYPE html>"),
                    "{path}"
                );
                assert!(
                    body.contains(&format!("<html lang=\"{locale}\"")),
                    "{path} {locale}"
                );
                for landmark in ["<header", "<nav", "<main", "<footer", "<h1"] {
                    assert!(body.contains(landmark), "{path}: no {landmark}");
                }
                assert!(
                    !body.contains("<img") || !body.contains("alt=\"\""),
                    "{path}: an image without alt text"
                );
                assert!(
                    !body.contains("block-error"),
                    "{path}: a block failed: {body}"
                );
            }
        }
        // The model page carries the configurator island, and only it has a script.
        let (_, body) = html(&server, &format!("/t/{tenant}/models/{model}")).await;
        assert!(
            body.contains("data-configurator") && body.contains("/assets/configurator.js"),
            "{body}"
        );
        let (_, home) = html(&server, &format!("/t/{tenant}/")).await;
        assert!(!home.contains("<script"), "{home}");
        // An unknown model and an unknown path are the storefront's 404.
        let (status, body) = html(&server, &format!("/t/{tenant}/models/nope")).await;
        assert_eq!(status, 404, "{body}");
        let (status, _) = html(&server, &format!("/t/{tenant}/no/such/page")).await;
        assert_eq!(status, 404);
    }
    // By Host: the same page, with links without the /t/ prefix.
    let resp = server
        .client
        .get(format!("{}/", server.base))
        .header("host", "aurora.forecourt.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("href=\"/models") && !body.contains("href=\"/t/aurora"),
        "{body}"
    );
    // API paths stay problems, never storefront pages.
    let (status, body) = server
        .call(Method::GET, "/t/aurora/api/v1/nope", None, None)
        .await;
    assert_problem(status, &body, 404, "not_found");
    let (status, body) = server.call(Method::GET, "/nope", None, None).await;
    assert_problem(status, &body, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_blocks_follow_the_visitor() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let lib = library(&server, &admin).await;
    let doc = page_doc(
        "for-you",
        "/for-you",
        "For you",
        vec![
            block(&lib, "recommended_models", "rec-1", json!({})),
            block(&lib, "store_locator", "stores-1", json!({})),
        ],
    );
    let (status, saved) = put_page(&server, &admin, &doc).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(publish(&server, &admin, "for-you", None).await.0, 200);
    let get = |cookie: Option<&'static str>, query: &'static str| {
        let mut req = server
            .client
            .get(format!("{}/t/aurora/for-you?locale=en{query}", server.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let section = |body: &str, id: &str| {
        let start = body
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id}: {body}"));
        let end = body[start..]
            .find("</section>")
            .map_or(body.len(), |e| start + e);
        body[start..end].to_string()
    };
    let anonymous = get(None, "").await;
    let seen_s7 = get(Some("fc_seen=s7"), "").await;
    assert_ne!(
        section(&anonymous, "rec-1"),
        section(&seen_s7, "rec-1"),
        "recommendations ignore the visitor"
    );
    assert!(
        !section(&seen_s7, "rec-1").contains("/models/s7\""),
        "recommends what was seen: {seen_s7}"
    );
    // Nearest stores to a point in Beijing come before Shanghai's.
    let beijing = get(None, "&lat=39.91&lon=116.40").await;
    let stores = section(&beijing, "stores-1");
    let list = &stores[stores.find("store-list").expect("a store list")..];
    let first = &list[..list.find("</li>").unwrap()];
    assert!(first.contains("Beijing"), "{stores}");
    assert!(list.contains("Distance"), "{stores}");
    // Looking at a model page remembers it.
    let resp = server
        .client
        .get(format!("{}/t/aurora/models/x9", server.base))
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(cookie.starts_with("fc_seen=x9"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storefront_forms_work_without_javascript() {
    let server = Server::demo().await;
    let form = |path: &str, fields: &[(&str, &str)]| {
        server
            .client
            .post(format!("{}{path}", server.base))
            .form(fields)
            .send()
    };
    let resp = form(
        "/t/aurora/forms/lead",
        &[
            ("name", "王先生"),
            ("mobile", "13912345678"),
            ("model", "s7"),
            ("message", "想了解金融方案"),
            ("consent", "on"),
            ("block", "lead-1"),
            ("locale", "zh-CN"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<html lang=\"zh-CN\"") && !body.contains("13912345678"),
        "{body}"
    );
    let tenant_id = server.tenant_id("aurora").await;
    let count = |sql: &'static str| {
        let db = server.state.db.clone();
        let tenant_id = tenant_id.clone();
        async move {
            let mut tx = db.tenant_tx(&tenant_id).await.unwrap();
            let n: i64 = sqlx::query_scalar(sql)
                .bind(&tenant_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM storefront_leads WHERE tenant_id = $1").await,
        1
    );
    assert_eq!(count("SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND name = 'lead.received' AND payload NOT LIKE '%139%'").await, 1);
    // A bad form changes nothing and says what to fix.
    let resp = form(
        "/t/aurora/forms/lead",
        &[("name", ""), ("mobile", "12"), ("locale", "en")],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("mobile number") && body.contains("name"),
        "{body}"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM storefront_leads WHERE tenant_id = $1").await,
        1
    );

    // The test-drive form books a free slot from a local date and time.
    let slot = crate::workflows::free_slot(&server, "aurora", "sh01", "s7").await;
    // Slots are listed in the tenant's offset (+08:00): the local date and time are in the text.
    assert!(slot.ends_with("+08:00"), "{slot}");
    let (date, time) = (slot[..10].to_string(), slot[11..16].to_string());
    let resp = form(
        "/t/aurora/forms/test-drive",
        &[
            ("store", "sh01"),
            ("model", "s7"),
            ("date", &date),
            ("time", &time),
            ("name", "李女士"),
            ("mobile", "13800000000"),
            ("consent", "on"),
            ("locale", "en"),
        ],
    )
    .await
    .unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(
        body.contains("Booking received") && body.contains("/t/aurora/api/v1/public/test-drives/"),
        "{body}"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM test_drive_bookings WHERE tenant_id = $1").await,
        1
    );
    // The same slot again, when every S7 of the store is taken, is a clear conflict page.
    let resp = form(
        "/t/aurora/forms/test-drive",
        &[
            ("store", "sh01"),
            ("model", "s7"),
            ("date", &date),
            ("time", "03:00"),
            ("name", "李女士"),
            ("mobile", "13800000000"),
            ("consent", "on"),
            ("locale", "en"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_send_thirty_forms_an_hour() {
    let server = Server::demo().await;
    let lead = || {
        server
            .client
            .post(format!("{}/t/aurora/forms/lead", server.base))
            .form(&[
                ("name", "王先生"),
                ("mobile", "13912345678"),
                ("consent", "on"),
                ("locale", "en"),
            ])
            .send()
    };
    for n in 0..forecourt::http::limits::FORMS_PER_ADDRESS {
        assert_eq!(lead().await.unwrap().status(), 201, "form {n}");
    }
    let resp = lead().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "a page for the visitor: {ct}");
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("提交过于频繁") || body.contains("Too many forms"),
        "{body}"
    );
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let leads: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM storefront_leads WHERE tenant_id = $1")
            .bind(&tenant_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(leads, i64::from(forecourt::http::limits::FORMS_PER_ADDRESS));
}
