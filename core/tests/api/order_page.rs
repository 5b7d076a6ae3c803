//! The buyer's order page: a guest's tracking link opened in a browser, paid and cancelled
//! through its forms, with personal data masked and nothing changed by a bad or stale form.

use reqwest::StatusCode;
use serde_json::json;

use crate::kit::Server;
use crate::orders::{complete_on_provider, count, order_by_vin, track};

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn open(server: &Server, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = browser()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

async fn submit(
    server: &Server,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let resp = browser()
        .post(format!("{}{path}", server.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    if status != StatusCode::SEE_OTHER {
        // A refusal is a page for the visitor, never an API problem.
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{status}: {ct}");
    }
    (status, location, resp.text().await.unwrap())
}

/// The value of the hidden field `name` in the form whose action ends with `action`.
fn hidden(html: &str, action: &str, name: &str) -> Option<String> {
    let form_at = html.find(&format!("{action}\""))?;
    let form = &html[form_at..html[form_at..].find("</form>")? + form_at];
    let marker = format!("name=\"{name}\" value=\"");
    let start = form.find(&marker)? + marker.len();
    Some(form[start..start + form[start..].find('"')?].to_string())
}

/// Opens the page until `check` holds (payment callbacks arrive in the background).
async fn page_until(server: &Server, path: &str, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let (status, _, html) = open(server, path).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        if check(&html) {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the order page never showed the expected state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_follows_and_pays_an_order_on_its_page() {
    let server = Server::demo().await;
    let (_, vin, placed) = order_by_vin(&server, 700, 7, "page-1").await;
    let token = placed["tracking_token"].as_str().unwrap().to_string();
    let number = placed["number"].as_str().unwrap();
    let deposit = placed["deposit"].as_i64().unwrap();
    let path = format!("/t/aurora/orders/{token}");
    // The link the buyer is given is this page.
    assert_eq!(
        placed["tracking_url"],
        format!("{}{path}", server.state.settings.public_url)
    );

    // The page: the tenant's title for the state, the amounts, masked buyer data, the secret
    // kept out of referrers and caches.
    let (status, headers, html) = open(&server, &format!("{path}?locale=en")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(html.contains(&format!("Order {number}")), "{html}");
    assert!(html.contains("data-state=\"deposit\""), "{html}");
    assert!(html.contains("Awaiting deposit"), "{html}");
    assert!(html.contains(&vin), "{html}");
    assert!(html.contains("Deposit due"), "{html}");
    assert!(
        !html.contains("13900000007"),
        "the mobile is masked: {html}"
    );
    assert!(!html.contains("买家7"), "the name is masked: {html}");
    // In the tenant's other language, the workflow's own titles.
    let (_, _, zh) = open(&server, &format!("{path}?locale=zh-CN")).await;
    assert!(zh.contains("待付定金"), "{zh}");

    // A tampered amount is refused and changes nothing.
    let key = hidden(&html, "/pay", "key").expect("a pay form with a key");
    assert_eq!(
        hidden(&html, "/pay", "amount").unwrap(),
        deposit.to_string()
    );
    let wrong = (deposit - 1).to_string();
    let (status, _, refused) = submit(
        &server,
        &format!("{path}/pay"),
        &[
            ("key", "tampered-1"),
            ("kind", "deposit"),
            ("amount", &wrong),
            ("currency", "CNY"),
            ("locale", "en"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");
    assert!(refused.contains(&format!("href=\"{path}\"")), "{refused}");
    assert_eq!(count(&server, "aurora", "payments", "").await, 0);

    // Paying: back to the page, which links to the provider; a double submit pays once.
    let amount = deposit.to_string();
    let form = [
        ("key", key.as_str()),
        ("kind", "deposit"),
        ("amount", amount.as_str()),
        ("currency", "CNY"),
        ("locale", "en"),
    ];
    for _ in 0..2 {
        let (status, location, text) = submit(&server, &format!("{path}/pay"), &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
        assert_eq!(location.as_deref(), Some(path.as_str()));
    }
    assert_eq!(count(&server, "aurora", "payments", "").await, 1);
    let (_, _, html) = open(&server, &format!("{path}?locale=en")).await;
    let marker = "id=\"continue-payment\" href=\"";
    let continue_at = html.find(marker).expect("a link to pay") + marker.len();
    let redirect = &html[continue_at..continue_at + html[continue_at..].find('"').unwrap()];
    assert!(
        redirect.starts_with(&server.fakepay.base_url()),
        "{redirect}"
    );
    let (_, tracked) = track(&server, &token).await;
    assert_eq!(tracked["payments"][0]["redirect_url"], redirect);

    // Back from the provider before its signed callback: the page says the payment is being
    // confirmed and looks again by itself, without asking for the deposit again — whatever the
    // unsigned `status` in the address says.
    let payment = tracked["payments"][0]["id"].as_str().unwrap().to_string();
    let (status, headers, html) = open(
        &server,
        &format!("{path}?reference={payment}&status=succeeded&locale=en"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-notice=\"confirming\""), "{html}");
    assert!(html.contains("data-state=\"deposit\""), "{html}");
    assert!(
        !html.contains("/pay\""),
        "no pay form while confirming: {html}"
    );
    assert!(!html.contains("continue-payment"), "{html}");
    assert_eq!(
        headers["refresh"],
        format!("3; url={path}?reference={payment}&check=1&locale=en").as_str()
    );
    // After the last look it stops, says the provider is late and offers the way to pay again.
    let (_, headers, html) = open(
        &server,
        &format!("{path}?reference={payment}&check=10&locale=en"),
    )
    .await;
    assert!(html.contains("data-notice=\"late\""), "{html}");
    assert!(headers.get("refresh").is_none());
    assert!(html.contains("continue-payment"), "{html}");
    // The provider's word that it did not go through: no looking again, paying offered.
    let (_, headers, html) = open(
        &server,
        &format!("{path}?reference={payment}&status=failed&locale=zh-CN"),
    )
    .await;
    assert!(html.contains("data-notice=\"not_completed\""), "{html}");
    assert!(html.contains("付款未完成"), "{html}");
    assert!(headers.get("refresh").is_none());
    // Paying again starts a new payment; the declined one is not offered.
    assert!(html.contains("/pay\""), "{html}");
    assert!(!html.contains("continue-payment"), "{html}");
    assert!(html.contains("支付定金"), "{html}");
    // A reference that is not one of this order's payments says nothing.
    let (_, headers, html) = open(
        &server,
        &format!("{path}?reference=00000000-0000-4000-8000-000000000000&status=succeeded"),
    )
    .await;
    assert!(!html.contains("order-notice"), "{html}");
    assert!(headers.get("refresh").is_none());

    // Paid on the provider's page: the page shows the order confirmed and the deposit paid,
    // and the buyer coming back is told it was received.
    complete_on_provider(&server, redirect).await;
    let html = page_until(
        &server,
        &format!("{path}?reference={payment}&status=succeeded&locale=en"),
        |h| h.contains("class=\"order-state\" data-state=\"confirmed\""),
    )
    .await;
    assert!(html.contains("data-notice=\"received\""), "{html}");
    assert!(html.contains("<tr data-status=\"succeeded\">"), "{html}");
    assert!(!html.contains("continue-payment"), "{html}");
    assert!(!html.contains("/pay\""), "nothing is due: {html}");

    // Unknown, malformed and other tenants' tokens: the same not-found page.
    let other_path = format!("/t/shudao/orders/{token}");
    for bad in [
        format!("/t/aurora/orders/{}x", &token[..token.len() - 1]),
        "/t/aurora/orders/not-a-token".to_string(),
        other_path,
    ] {
        let (status, headers, html) = open(&server, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {html}");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{bad}"
        );
        assert!(
            html.contains("Order not found") || html.contains("未找到订单"),
            "{bad}: {html}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cancels_from_the_page_and_a_stale_form_changes_nothing() {
    let server = Server::demo().await;
    let (_, vin, placed) = order_by_vin(&server, 710, 8, "page-2").await;
    let token = placed["tracking_token"].as_str().unwrap().to_string();
    let path = format!("/t/aurora/orders/{token}");

    // The buyer's transitions are the tenant's: the examples grant `cancel`.
    let (_, _, html) = open(&server, &format!("{path}?locale=en")).await;
    assert!(html.contains("data-transition=\"cancel\""), "{html}");
    let version = hidden(&html, "/commands", "version").expect("a command form");

    // A form from an older page is refused, the order unchanged.
    let stale = (version.parse::<i64>().unwrap() - 1).to_string();
    let (status, _, refused) = submit(
        &server,
        &format!("{path}/commands"),
        &[
            ("transition", "cancel"),
            ("version", &stale),
            ("locale", "en"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");
    // A transition the workflow does not grant the buyer is refused too.
    let (status, _, refused) = submit(
        &server,
        &format!("{path}/commands"),
        &[
            ("transition", "deliver"),
            ("version", &version),
            ("locale", "en"),
        ],
    )
    .await;
    assert!(status.is_client_error(), "{status} {refused}");
    let (_, tracked) = track(&server, &token).await;
    assert_eq!(tracked["state"], "deposit");

    let (status, location, text) = submit(
        &server,
        &format!("{path}/commands"),
        &[
            ("transition", "cancel"),
            ("version", &version),
            ("locale", "en"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    assert_eq!(location.as_deref(), Some(path.as_str()));
    let (_, _, html) = open(&server, &format!("{path}?locale=en")).await;
    assert!(
        html.contains("class=\"order-state\" data-state=\"cancelled\""),
        "{html}"
    );
    assert!(html.contains("Cancelled"), "{html}");
    assert!(
        !html.contains("data-transition="),
        "no more actions: {html}"
    );
    assert!(!html.contains("/pay\""), "nothing is due: {html}");
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            &format!("AND vin = '{vin}' AND hold = 'free'")
        )
        .await,
        1,
        "the vehicle is released"
    );

    // A form that is not a form, and an unknown action, are refused plainly.
    let resp = browser()
        .post(format!("{}{path}/commands", server.base))
        .json(&json!({ "transition": "cancel" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, headers, _) = open(&server, &format!("{path}/elsewhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}
