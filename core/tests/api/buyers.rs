//! Buyers: sign-in by one-time code (read from the fake SMS inbox), code rules (wrong ×5 burns
//! it, expiry, resend limits), SMS through the outbox, the buyer-vs-buyer matrix over every
//! `Access::Buyer` route, and personal data sealed at rest and masked for staff.

use std::time::{Duration, Instant};

use forecourt::http::routes::{Access, ROUTES};
use forecourt::pii::mask_mobile;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Column, Row};

use crate::kit::{assert_problem, Server};

/// The fake inbox of `tenant`'s storefront (JSON), newest first.
pub async fn sms_inbox(server: &Server, tenant: &str) -> Vec<Value> {
    let resp = server
        .client
        .get(format!("{}/t/{tenant}/dev/sms", server.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["messages"].as_array().unwrap().clone()
}

fn codes_to(inbox: &[Value], mobile: &str) -> Vec<String> {
    let masked = mask_mobile(mobile);
    inbox
        .iter()
        .filter(|m| m["to"] == masked.as_str())
        .map(|m| m["code"].as_str().unwrap().to_string())
        .collect()
}

/// The seconds of a 429's `Retry-After`.
fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Requests a code for `mobile` and waits for the relay to hand it to the fake SMS adapter.
pub async fn request_code(server: &Server, tenant: &str, mobile: &str) -> String {
    let before = codes_to(&sms_inbox(server, tenant).await, mobile).len();
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/t/{tenant}/api/v1/public/buyer/otp"),
            None,
            Some(json!({ "mobile": mobile })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["sent"], true, "{body}");
    let started = Instant::now();
    loop {
        let codes = codes_to(&sms_inbox(server, tenant).await, mobile);
        if codes.len() > before {
            return codes[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no SMS to {mobile} reached the fake inbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn try_sign_in(
    server: &Server,
    tenant: &str,
    mobile: &str,
    code: &str,
) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/t/{tenant}/api/v1/public/buyer/session"),
            None,
            Some(json!({ "mobile": mobile, "code": code })),
        )
        .await
}

/// Signs a buyer in on `tenant`'s storefront; returns the session token and the buyer's id.
pub async fn sign_in(server: &Server, tenant: &str, mobile: &str) -> (String, String) {
    let code = request_code(server, tenant, mobile).await;
    let (status, body) = try_sign_in(server, tenant, mobile, &code).await;
    assert_eq!(status, 200, "{body}");
    (
        body["token"].as_str().unwrap().to_string(),
        body["buyer"]["id"].as_str().unwrap().to_string(),
    )
}

/// Runs `sql` (one `$1` = tenant id) under the tenant and returns the first column.
async fn scalar(server: &Server, tenant_id: &str, sql: &str) -> i64 {
    let mut tx = server.state.db.tenant_tx(tenant_id).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql)
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

async fn execute(server: &Server, tenant_id: &str, sql: &str) {
    let mut tx = server.state.db.tenant_tx(tenant_id).await.unwrap();
    sqlx::query(sql)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_the_sms_inbox_signs_a_buyer_in_and_out() {
    let server = Server::demo().await;
    let tenant_id = server.tenant_id("aurora").await;
    let mobile = "13800000001";
    let path = "/t/aurora/api/v1/public/buyer/otp";

    let (status, body) = server
        .call(Method::POST, path, None, Some(json!({ "mobile": "12" })))
        .await;
    assert_problem(status, &body, 422, "invalid_mobile");
    assert_eq!(body["errors"][0]["pointer"], "/mobile");

    let code = request_code(&server, "aurora", mobile).await;
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    // The HTML inbox shows the same code with the masked number, never the number.
    let html = server
        .client
        .get(format!("{}/t/aurora/dev/sms", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&code) && html.contains("138****0001") && !html.contains(mobile));
    // Shudao's inbox does not show aurora's messages.
    assert!(codes_to(&sms_inbox(&server, "shudao").await, mobile).is_empty());

    // The outbox holds a reference and a sealed code: neither the number nor the code.
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let (recipient, payload, status): (String, String, String) = sqlx::query_as(
        "SELECT recipient, payload, status FROM outbox WHERE tenant_id = $1 AND kind = 'sms'",
    )
    .bind(&tenant_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(recipient.starts_with("otp:") && !recipient.contains(mobile));
    assert!(
        !payload.contains(&code) && !payload.contains(mobile),
        "{payload}"
    );
    assert_eq!(status, "delivered");

    // A second code within 60 s: 429 with Retry-After; nothing new is sent.
    let resp = server
        .client
        .post(format!("{}{path}", server.base))
        .json(&json!({ "mobile": mobile }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry = retry_after(&resp);
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_problem(
        StatusCode::TOO_MANY_REQUESTS,
        &body,
        429,
        "too_many_requests",
    );
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND kind = 'sms'"
        )
        .await,
        1
    );

    // Sign in (the number written another way is the same number).
    let resp = server
        .client
        .post(format!(
            "{}/t/aurora/api/v1/public/buyer/session",
            server.base
        ))
        .json(&json!({ "mobile": "+86 138-0000-0001", "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let buyer_id = body["buyer"]["id"].as_str().unwrap().to_string();
    assert!(token.starts_with("fcb_"), "{body}");
    assert_eq!(body["buyer"]["mobile"], "138****0001");
    assert!(
        cookie.starts_with(&format!("fc_buyer={token};"))
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    // The code is spent.
    let (status, body) = try_sign_in(&server, "aurora", mobile, &code).await;
    assert_problem(status, &body, 422, "otp_missing");

    // The session works as a bearer token and as the cookie.
    let (status, me) = server.get("/t/aurora/api/v1/public/buyer/me", &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], buyer_id.as_str());
    assert_eq!(me["mobile"], "138****0001");
    let by_cookie = server
        .client
        .get(format!("{}/t/aurora/api/v1/public/buyer/me", server.base))
        .header("cookie", format!("fc_buyer={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    // Also on the storefront's own host.
    let by_host = server
        .client
        .get(format!("{}/api/v1/public/buyer/me", server.base))
        .header("host", "aurora.forecourt.test")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_host.status(), 200);

    // Without a session: 401; a made-up token: 401.
    let (status, body) = server
        .call(Method::GET, "/t/aurora/api/v1/public/buyer/me", None, None)
        .await;
    assert_problem(status, &body, 401, "buyer_unauthenticated");
    let (status, body) = server
        .get(
            "/t/aurora/api/v1/public/buyer/me",
            &format!("fcb_{}", "A".repeat(43)),
        )
        .await;
    assert_problem(status, &body, 401, "buyer_session_invalid");

    // Signing in again (after the resend window) finds the same account.
    execute(
        &server,
        &tenant_id,
        "UPDATE buyer_otps SET sent_at = sent_at - 61000 WHERE tenant_id = $1",
    )
    .await;
    let (second, again) = sign_in(&server, "aurora", mobile).await;
    assert_eq!(again, buyer_id);
    assert_ne!(second, token);
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM buyers WHERE tenant_id = $1"
        )
        .await,
        1
    );

    // Signing out ends that session only; the cookie is cleared.
    let resp = server
        .client
        .delete(format!(
            "{}/t/aurora/api/v1/public/buyer/session",
            server.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _) = server.get("/t/aurora/api/v1/public/buyer/me", &token).await;
    assert_eq!(status, 401);
    let (status, _) = server
        .get("/t/aurora/api/v1/public/buyer/me", &second)
        .await;
    assert_eq!(status, 200);
    // An expired session is refused as such.
    execute(
        &server,
        &tenant_id,
        "UPDATE buyer_sessions SET expires_at = 0 WHERE tenant_id = $1",
    )
    .await;
    let (status, body) = server
        .get("/t/aurora/api/v1/public/buyer/me", &second)
        .await;
    assert_problem(status, &body, 401, "buyer_session_expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_burn_a_code_expired_codes_fail_and_five_an_hour() {
    let server = Server::demo().await;
    let tenant_id = server.tenant_id("aurora").await;
    let mobile = "13900000002";
    let code = request_code(&server, "aurora", mobile).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };

    let (status, body) = try_sign_in(&server, "aurora", mobile, "12ab").await;
    assert_problem(status, &body, 422, "invalid_code");
    for left in (1..=4).rev() {
        let (status, body) = try_sign_in(&server, "aurora", mobile, wrong).await;
        assert_problem(status, &body, 422, "otp_wrong");
        assert_eq!(body["errors"][0]["pointer"], "/code");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} tr")),
            "{body}"
        );
    }
    let (status, body) = try_sign_in(&server, "aurora", mobile, wrong).await;
    assert_problem(status, &body, 422, "otp_used_up");
    // Burnt: even the right code no longer works.
    let (status, body) = try_sign_in(&server, "aurora", mobile, &code).await;
    assert_problem(status, &body, 422, "otp_used_up");
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM buyers WHERE tenant_id = $1"
        )
        .await,
        0
    );

    // A new code (after the 60 s window), expired before it is used.
    execute(
        &server,
        &tenant_id,
        "UPDATE buyer_otps SET sent_at = sent_at - 61000 WHERE tenant_id = $1",
    )
    .await;
    let code = request_code(&server, "aurora", mobile).await;
    execute(
        &server,
        &tenant_id,
        "UPDATE buyer_otps SET expires_at = 1 WHERE tenant_id = $1",
    )
    .await;
    let (status, body) = try_sign_in(&server, "aurora", mobile, &code).await;
    assert_problem(status, &body, 422, "otp_expired");
    assert!(body["detail"].as_str().unwrap().contains("expired"));

    // At most five codes an hour, however the 60 s window is dodged.
    for _ in 0..3 {
        execute(
            &server,
            &tenant_id,
            "UPDATE buyer_otps SET sent_at = sent_at - 61000 WHERE tenant_id = $1",
        )
        .await;
        request_code(&server, "aurora", mobile).await;
    }
    execute(
        &server,
        &tenant_id,
        "UPDATE buyer_otps SET sent_at = sent_at - 61000 WHERE tenant_id = $1",
    )
    .await;
    let resp = server
        .client
        .post(format!("{}/t/aurora/api/v1/public/buyer/otp", server.base))
        .json(&json!({ "mobile": mobile }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry = retry_after(&resp);
    assert!(retry > 60 && retry <= 3600, "{retry}");
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND kind = 'sms'"
        )
        .await,
        5
    );
    // Another number is not held back.
    request_code(&server, "aurora", "13900000003").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_sms_gateway_codes_wait_with_a_clear_error() {
    let url = crate::kit::fresh_database().await;
    let settings = forecourt::state::Settings {
        fake_sms: false,
        ..crate::kit::settings()
    };
    let server = Server::start_on(&url, settings).await;
    forecourt::demo::apply_demo(&server.state, &crate::kit::examples_dir())
        .await
        .unwrap();
    let tenant_id = server.tenant_id("aurora").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/buyer/otp",
            None,
            Some(json!({ "mobile": "13700000009" })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let started = Instant::now();
    loop {
        let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
        let row: (String, i64, Option<String>) = sqlx::query_as(
            "SELECT status, attempts, last_error FROM outbox WHERE tenant_id = $1 AND kind = 'sms'",
        )
        .bind(&tenant_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        if let (true, Some(error)) = (row.1 >= 1, &row.2) {
            assert_eq!(row.0, "pending", "retried, not dropped");
            assert!(error.contains("no SMS gateway"), "{error}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = server
        .call(Method::GET, "/t/aurora/dev/sms", None, None)
        .await;
    assert_problem(status, &body, 404, "not_found");
}

/// What one buyer is to make while signed in.
struct Plan<'a> {
    tenant: &'static str,
    mobile: &'static str,
    name: &'static str,
    store: &'static str,
    model: &'static str,
    trim: &'static str,
    slot: &'a str,
    order: &'static str,
}

/// What one buyer made while signed in.
struct Made {
    tenant: &'static str,
    mobile: &'static str,
    name: &'static str,
    token: String,
    buyer_id: String,
    booking: String,
    quote: String,
    order: String,
}

impl Made {
    /// What of this buyer must never show in another buyer's answers.
    fn markers(&self) -> Vec<String> {
        vec![
            self.buyer_id.clone(),
            self.booking.clone(),
            self.quote.clone(),
            self.order.clone(),
            mask_mobile(self.mobile),
            self.mobile.to_string(),
        ]
    }
}

/// An order row of `buyer` (the order flow is not needed to test who sees it).
async fn insert_order(server: &Server, tenant: &str, store: &str, buyer_id: &str, number: &str) {
    let tenant_id = server.tenant_id(tenant).await;
    let vault = &server.state.pii;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    sqlx::query(
        "INSERT INTO orders (tenant_id, id, number, tracking_hash, buyer_id, store_code, channel, \
         model_code, trim_code, options, build_key, price, deposit, currency, state, \
         buyer_name_enc, buyer_mobile_enc, buyer_mobile_index, locale, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'direct', 'm', 't', '[]', 'm/t/', 100, 10, 'CNY', \
         'placed', $7, $8, $9, 'en', 1, 1)",
    )
    .bind(&tenant_id)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(number)
    .bind(number)
    .bind(buyer_id)
    .bind(store)
    .bind(vault.seal(&tenant_id, "name", "x"))
    .bind(vault.seal(&tenant_id, "mobile", "x"))
    .bind(number)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_sees_only_their_own_records_and_only_on_their_storefront() {
    let server = Server::demo().await;
    let aurora_slots = crate::workflows::free_slots(&server, "aurora", "sh01", "s7", 3).await;
    let shudao_slot = crate::workflows::free_slot(&server, "shudao", "gaoxin-01", "h6l").await;
    let plan = [
        Plan {
            tenant: "aurora",
            mobile: "13800000011",
            name: "甲一",
            store: "sh01",
            model: "s7",
            trim: "s7-pro",
            slot: &aurora_slots[0],
            order: "AUR-A1",
        },
        Plan {
            tenant: "aurora",
            mobile: "13900000022",
            name: "乙二",
            store: "sh01",
            model: "s7",
            trim: "s7-pro",
            slot: &aurora_slots[1],
            order: "AUR-A2",
        },
        Plan {
            tenant: "shudao",
            mobile: "13700000033",
            name: "丙三",
            store: "gaoxin-01",
            model: "h6l",
            trim: "h6l-30-executive",
            slot: &shudao_slot,
            order: "SHU-S1",
        },
    ];
    let mut buyers = Vec::new();
    for Plan {
        tenant,
        mobile,
        name,
        store,
        model,
        trim,
        slot,
        order,
    } in plan
    {
        let (token, buyer_id) = sign_in(&server, tenant, mobile).await;
        let (status, booked) = server
            .call(
                Method::POST,
                &format!("/t/{tenant}/api/v1/public/test-drives"),
                Some(&token),
                Some(json!({ "store": store, "model": model, "slot_start": slot,
                             "contact": { "name": name, "mobile": mobile } })),
            )
            .await;
        assert_eq!(status, 201, "{booked}");
        let (status, quote) = server
            .call(
                Method::POST,
                &format!("/t/{tenant}/api/v1/public/quotes"),
                Some(&token),
                Some(json!({ "model": model, "trim": trim })),
            )
            .await;
        assert_eq!(status, 201, "{quote}");
        insert_order(&server, tenant, store, &buyer_id, order).await;
        buyers.push(Made {
            tenant,
            mobile,
            name,
            token,
            buyer_id,
            booking: booked["code"].as_str().unwrap().to_string(),
            quote: quote["code"].as_str().unwrap().to_string(),
            order: order.to_string(),
        });
    }
    // A guest's booking and quote belong to nobody.
    let (status, guest) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/test-drives",
            None,
            Some(
                json!({ "store": "sh01", "model": "s7", "slot_start": aurora_slots[2],
                         "contact": { "name": "访客", "mobile": "13600000044" } }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{guest}");
    let guest_code = guest["code"].as_str().unwrap().to_string();
    // A stale cookie does not stop a guest from booking or quoting.
    let (status, guest_quote) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro" })),
        )
        .await;
    assert_eq!(status, 201, "{guest_quote}");
    let guest_quote = guest_quote["code"].as_str().unwrap().to_string();
    let stale = server
        .client
        .post(format!("{}/t/aurora/api/v1/public/quotes", server.base))
        .header("cookie", format!("fc_buyer=fcb_{}", "Z".repeat(43)))
        .json(&json!({ "model": "s7", "trim": "s7-pro" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 201);
    // …but a presented bearer that is not valid is refused.
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            Some(&format!("fcb_{}", "Z".repeat(43))),
            Some(json!({ "model": "s7", "trim": "s7-pro" })),
        )
        .await;
    assert_problem(status, &body, 401, "buyer_session_invalid");

    // Every buyer route, enumerated from the route table (new ones are covered automatically);
    // signing out comes last, as it ends the session.
    let mut routes: Vec<(&str, &str)> = ROUTES
        .iter()
        .filter(|(_, _, a)| *a == Access::Buyer)
        .map(|(m, p, _)| (*m, *p))
        .collect();
    routes.sort_by_key(|(m, _)| *m == "DELETE");
    assert!(routes.len() >= 5, "{routes:?}");
    let foreign = |of: &Made| -> Vec<String> {
        buyers
            .iter()
            .filter(|b| b.buyer_id != of.buyer_id)
            .flat_map(Made::markers)
            .chain([
                guest_code.clone(),
                guest_quote.clone(),
                "13600000044".into(),
            ])
            .collect()
    };
    for me in &buyers {
        let others = foreign(me);
        let elsewhere = if me.tenant == "aurora" {
            "shudao"
        } else {
            "aurora"
        };
        for (method, path) in &routes {
            assert!(
                !path.contains('{'),
                "buyer matrix: {method} {path} has a path parameter; teach the matrix a value for it"
            );
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            // On another tenant's storefront the session does not exist.
            let (status, body) = server
                .call(
                    m.clone(),
                    &format!("/t/{elsewhere}{path}"),
                    Some(&me.token),
                    None,
                )
                .await;
            assert_problem(status, &body, 401, "buyer_session_invalid");
            // Without a session: 401.
            let (status, _) = server
                .call(m.clone(), &format!("/t/{}{path}", me.tenant), None, None)
                .await;
            assert_eq!(status, 401, "{method} {path} without a session");
            let (status, body) = server
                .call(m, &format!("/t/{}{path}", me.tenant), Some(&me.token), None)
                .await;
            assert!(status.is_success(), "{method} {path}: {status} {body}");
            let text = body.to_string();
            if let Some(leak) = others.iter().find(|m| text.contains(m.as_str())) {
                panic!(
                    "{method} {path} as {} showed another buyer's `{leak}`: {text}",
                    me.mobile
                );
            }
            assert!(
                !text.contains(me.mobile) && !text.contains(me.name),
                "{text}"
            );
            // And the buyer's own records are there (the probe can fail).
            let own = match *path {
                "/api/v1/public/buyer/me" => Some(&me.buyer_id),
                "/api/v1/public/buyer/test-drives" => Some(&me.booking),
                "/api/v1/public/buyer/quotes" => Some(&me.quote),
                "/api/v1/public/buyer/orders" => Some(&me.order),
                _ => None,
            };
            if let Some(own) = own {
                assert!(
                    text.contains(own.as_str()),
                    "{method} {path} lacks `{own}`: {text}"
                );
            }
        }
        // Signed out by the last route.
        let (status, _) = server
            .get(
                &format!("/t/{}/api/v1/public/buyer/me", me.tenant),
                &me.token,
            )
            .await;
        assert_eq!(status, 401);
    }

    // Staff: a consultant (no `pii.read`) sees contact details masked, the store manager in full.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let find = |list: &Value, code: &str| {
        list["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["code"] == code)
            .unwrap_or_else(|| panic!("{code} not in {list}"))
            .clone()
    };
    let (status, list) = server.get("/api/v1/test-drives", &sales).await;
    assert_eq!(status, 200, "{list}");
    let seen = find(&list, &buyers[0].booking);
    assert_eq!(seen["contact_name"], "甲*");
    assert_eq!(seen["contact_mobile"], "138****0011");
    assert_eq!(seen["contact_unmasked"], false);
    let (_, detail) = server
        .get(
            &format!("/api/v1/test-drives/{}", seen["id"].as_str().unwrap()),
            &sales,
        )
        .await;
    assert_eq!(detail["contact_mobile"], "138****0011", "{detail}");
    let (_, list) = server.get("/api/v1/test-drives", &manager).await;
    let seen = find(&list, &buyers[0].booking);
    assert_eq!(seen["contact_name"], "甲一");
    assert_eq!(seen["contact_mobile"], "13800000011");
    assert_eq!(seen["contact_unmasked"], true);

    // A lead from the storefront form, then: no raw row of any table holds a plain number or name.
    let lead = server
        .client
        .post(format!("{}/t/aurora/forms/lead", server.base))
        .form(&[
            ("name", "丁四"),
            ("mobile", "13500000055"),
            ("consent", "on"),
            ("locale", "en"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(lead.status(), 201);
    let plain: Vec<&str> = buyers
        .iter()
        .flat_map(|b| [b.mobile, b.name])
        .chain(["13600000044", "访客", "13500000055", "丁四"])
        .collect();
    let mut scanned = 0;
    for tenant in ["aurora", "shudao"] {
        let tenant_id = server.tenant_id(tenant).await;
        for table in [
            "buyers",
            "buyer_otps",
            "buyer_sessions",
            "test_drive_bookings",
            "storefront_leads",
            "quotes",
            "orders",
            "outbox",
            "workflow_instances",
            "workflow_history",
            "audit_log",
        ] {
            let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
            let rows = sqlx::query(&format!("SELECT * FROM {table} WHERE tenant_id = $1"))
                .bind(&tenant_id)
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            for row in &rows {
                for column in row.columns() {
                    let Ok(Some(value)) = row.try_get::<Option<String>, _>(column.ordinal()) else {
                        continue;
                    };
                    scanned += 1;
                    if let Some(p) = plain.iter().find(|p| value.contains(**p)) {
                        panic!(
                            "{table}.{} holds `{p}` in plain text: {value}",
                            column.name()
                        );
                    }
                }
            }
        }
    }
    assert!(scanned > 100, "only {scanned} text values scanned");
    // The sealed contact details open to what the buyer gave (the key is the server's).
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let (name, mobile): (String, String) = sqlx::query_as(
        "SELECT contact_name, contact_mobile FROM storefront_leads WHERE tenant_id = $1",
    )
    .bind(&tenant_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        server.state.pii.open(&tenant_id, "name", &name).unwrap(),
        "丁四"
    );
    assert_eq!(
        server
            .state
            .pii
            .open(&tenant_id, "mobile", &mobile)
            .unwrap(),
        "13500000055"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_plain_text_contact_rows_are_read_and_sealed_at_start() {
    let server = Server::demo().await;
    let slot = crate::workflows::free_slot(&server, "aurora", "sh01", "s7").await;
    let (status, booked) = crate::workflows::book(&server, "aurora", "sh01", "s7", &slot).await;
    assert_eq!(status, 201, "{booked}");
    let code = booked["code"].as_str().unwrap().to_string();
    let tenant_id = server.tenant_id("aurora").await;
    // As an older version stored it.
    execute(
        &server,
        &tenant_id,
        "UPDATE test_drive_bookings SET contact_name = '王小明', contact_mobile = '13912345678' WHERE tenant_id = $1",
    )
    .await;
    let (status, page) = server
        .call(
            Method::GET,
            &format!("/t/aurora/api/v1/public/test-drives/{code}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["contact_mobile"], "139****5678");
    let sealed = forecourt::pii::seal_legacy_rows(&server.state.db, &server.state.pii)
        .await
        .unwrap();
    assert_eq!(sealed, 1);
    assert_eq!(
        forecourt::pii::seal_legacy_rows(&server.state.db, &server.state.pii)
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM test_drive_bookings WHERE tenant_id = $1 \
             AND contact_mobile LIKE 'v1.%' AND contact_name LIKE 'v1.%'"
        )
        .await,
        1
    );
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let (_, list) = server.get("/api/v1/test-drives", &manager).await;
    assert_eq!(list["bookings"][0]["contact_name"], "王小明", "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_at_most_twenty_codes_an_hour_whatever_the_numbers() {
    let server = Server::demo().await;
    let tenant_id = server.tenant_id("aurora").await;
    let ask = |tenant: &'static str, n: u32| {
        server
            .client
            .post(format!(
                "{}/t/{tenant}/api/v1/public/buyer/otp",
                server.base
            ))
            .json(&json!({ "mobile": format!("137{n:08}") }))
            // With no trusted proxy configured, a forwarded-for header is the client's own
            // word: a new one on every request changes nothing.
            .header("x-forwarded-for", format!("198.51.100.{}", n % 250))
            .send()
    };
    // Twenty numbers from one address: each gets its code.
    for n in 0..forecourt::http::limits::CODES_PER_ADDRESS {
        let resp = ask("aurora", n).await.unwrap();
        assert_eq!(resp.status(), 202, "code {n}");
    }
    // The next number from the same address is refused and nothing is sent.
    let resp = ask("aurora", 99).await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry = retry_after(&resp);
    assert!(retry > 3500 && retry <= 3600, "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests", "{body}");
    assert_eq!(
        scalar(
            &server,
            &tenant_id,
            "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND kind = 'sms'"
        )
        .await,
        i64::from(forecourt::http::limits::CODES_PER_ADDRESS)
    );
    // Another tenant's storefront counts on its own.
    let resp = ask("shudao", 99).await.unwrap();
    assert_eq!(resp.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    // The test client connects from 127.0.0.1: here that is the operator's reverse proxy.
    let settings = forecourt::state::Settings {
        trusted_proxies: vec![forecourt::http::limits::parse_proxy("127.0.0.1").unwrap()],
        ..crate::kit::settings()
    };
    let server = Server::start_on(&crate::kit::fresh_database().await, settings).await;
    forecourt::demo::apply_demo(&server.state, &crate::kit::examples_dir())
        .await
        .expect("demo applies");
    let ask = |forwarded: &'static str, n: u32| {
        server
            .client
            .post(format!("{}/t/aurora/api/v1/public/buyer/otp", server.base))
            .json(&json!({ "mobile": format!("136{n:08}") }))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    for n in 0..forecourt::http::limits::CODES_PER_ADDRESS {
        let resp = ask("203.0.113.5", n).await.unwrap();
        assert_eq!(resp.status(), 202, "code {n}");
    }
    // The same visitor is refused, also when it writes another address before its own (the
    // proxy appends what it saw to the right).
    for forwarded in ["203.0.113.5", "192.0.2.77, 203.0.113.5"] {
        let resp = ask(forwarded, 99).await.unwrap();
        assert_eq!(resp.status(), 429, "{forwarded}");
    }
    // Another visitor through the same proxy has a budget of its own.
    let resp = ask("203.0.113.5, 203.0.113.6", 98).await.unwrap();
    assert_eq!(resp.status(), 202);
    let resp = ask("203.0.113.6", 97).await.unwrap();
    assert_eq!(resp.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_writing_the_standard_header_only_that_header_counts() {
    // The test client connects from 127.0.0.1, the operator's reverse proxy, which writes
    // `Forwarded` (RFC 7239) and passes `X-Forwarded-For` on as the client sent it.
    let settings = forecourt::state::Settings {
        trusted_proxies: vec![forecourt::http::limits::parse_proxy("127.0.0.1").unwrap()],
        forwarded_header: forecourt::http::limits::ForwardedHeader::Forwarded,
        ..crate::kit::settings()
    };
    let server = Server::start_on(&crate::kit::fresh_database().await, settings).await;
    forecourt::demo::apply_demo(&server.state, &crate::kit::examples_dir())
        .await
        .expect("demo applies");
    let ask = |forwarded: &'static str, spoofed: String, n: u32| {
        server
            .client
            .post(format!("{}/t/aurora/api/v1/public/buyer/otp", server.base))
            .json(&json!({ "mobile": format!("137{n:08}") }))
            .header("forwarded", forwarded)
            .header("x-forwarded-for", spoofed)
            .send()
    };
    // A client changing the X-Forwarded-For it sends on every request is still one client.
    for n in 0..forecourt::http::limits::CODES_PER_ADDRESS {
        let resp = ask("for=198.51.100.7;proto=https", format!("192.0.2.{n}"), n)
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "code {n}");
    }
    let resp = ask("for=198.51.100.7;proto=https", "192.0.2.200".into(), 99)
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    // Also when it writes an element of its own before the one the proxy appended.
    let resp = ask(
        "for=192.0.2.1, for=198.51.100.7;proto=https",
        "192.0.2.201".into(),
        98,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 429);
    // Another client behind the same proxy, quoted IPv6 with a port: a budget of its own.
    let resp = ask(
        "for=\"[2001:db8::9]:4711\";proto=https",
        "192.0.2.1".into(),
        97,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 202);
}
