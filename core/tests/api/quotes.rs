//! Quotes and the all-in cost sheet over HTTP, with the demo rules; a hostile rule fails one
//! quote, fast, and the server keeps serving.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, demo_bundle, Server};

fn half_up_div(n: i64, d: i64) -> i64 {
    (n * 2 + d) / (2 * d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quote_explains_every_fen() {
    let server = Server::demo().await;
    let body = json!({
        "model": "s7", "trim": "s7-pro", "region": "east", "locale": "en",
        "finance": { "down_payment": { "percent_bp": 3000 }, "term_months": 36, "annual_rate_bp": 399, "method": "equal_instalment" }
    });
    let (status, quote) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{quote}");
    let lines = quote["cost"]["lines"].as_array().unwrap();
    let sum: i64 = lines
        .iter()
        .filter(|l| l["category"] != "gift")
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        quote["cost"]["total"].as_i64().unwrap(),
        sum,
        "the total is the sum of its lines"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l["explanation"].as_str().unwrap().is_empty()),
        "every line is explained"
    );
    // Purchase tax by the demo rule, recomputed here independently: a BEV bought in 2026 pays
    // half of 10 % of price / 1.13, the reduction capped at CNY 15,000.
    let price = quote["cost"]["vehicle_price"].as_i64().unwrap();
    let base = half_up_div(price * 100, 113);
    let tax = half_up_div(base, 10);
    let year: i32 = quote["issued_on"].as_str().unwrap()[..4].parse().unwrap();
    let expected = match year {
        2024 | 2025 => tax - tax.min(3_000_000),
        2026 | 2027 => tax - half_up_div(tax, 2).min(1_500_000),
        _ => tax,
    };
    let tax_line = lines.iter().find(|l| l["code"] == "purchase-tax").unwrap();
    assert_eq!(tax_line["amount"].as_i64().unwrap(), expected, "{tax_line}");
    // Insurance and fees from tenant.yaml's `quotes` section.
    let commercial = lines
        .iter()
        .find(|l| l["code"] == "commercial-insurance")
        .unwrap();
    assert_eq!(
        commercial["amount"].as_i64().unwrap(),
        150_000 + half_up_div(price * 120, 10_000)
    );
    assert!(lines
        .iter()
        .any(|l| l["code"] == "compulsory-insurance" && l["amount"] == 95_000));
    assert!(lines
        .iter()
        .any(|l| l["code"] == "registration" && l["amount"] == 50_000));
    // Loan interest equals the plan's.
    let interest = lines
        .iter()
        .find(|l| l["code"] == "finance-interest")
        .unwrap();
    assert_eq!(interest["amount"], quote["finance"]["total_interest"]);
    assert!(quote["valid_until"].as_str().unwrap() > quote["issued_on"].as_str().unwrap());

    // The same quote as JSON and as a printable page; other tenants do not know it.
    let (status, again) = server
        .call(
            Method::GET,
            quote["json_path"].as_str().unwrap(),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["cost"], quote["cost"]);
    let page = server
        .client
        .get(format!(
            "{}{}",
            server.base,
            quote["print_path"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<html lang=\"en\">")
            && html.contains(quote["code"].as_str().unwrap())
            && html.contains("<table>")
    );
    let code = quote["code"].as_str().unwrap();
    assert_eq!(
        server
            .call(
                Method::GET,
                &format!("/t/shudao/api/v1/public/quotes/{code}"),
                None,
                None
            )
            .await
            .0,
        404
    );

    // Bad input is located.
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro", "locale": "fr" })),
        )
        .await;
    assert_problem(status, &body, 422, "unknown_locale");
    let (status, body) = server
        .call(Method::POST, "/t/aurora/api/v1/public/quotes", None, Some(json!({ "model": "s7", "trim": "s7-pro", "finance": { "down_payment": { "amount": 0 }, "term_months": 500, "annual_rate_bp": 399, "method": "equal_principal" } })))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/finance/term_months");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_runs_away_fails_one_quote_and_nothing_else() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let mut files = demo_bundle("aurora-motors");
    // Passes its own test cases (none of them prices an S7 Pro in `north`), loops forever there.
    let pricing = files["scripts/pricing.adjust.rhai"].clone();
    let hostile = pricing.replacen(
        "fn adjust_price(input) {",
        "fn adjust_price(input) {\n    if input.region == \"north\" && input.trim == \"s7-pro\" { loop { } }",
        1,
    );
    assert_ne!(
        hostile, pricing,
        "the demo pricing rule changed shape; update this test"
    );
    files.insert("scripts/pricing.adjust.rhai".into(), hostile);
    let (status, applied) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(&admin),
            Some(json!({ "files": files })),
        )
        .await;
    assert_eq!(status, 200, "{applied}");

    let started = std::time::Instant::now();
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro", "region": "north" })),
        )
        .await;
    let took = started.elapsed();
    assert_problem(status, &body, 503, "unavailable");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("pricing.adjust") && (detail.contains("limit")),
        "{detail}"
    );
    assert!(
        took < std::time::Duration::from_secs(2),
        "stopped after {took:?}"
    );
    // Other regions, other tenants and other requests are served.
    let (status, _): (reqwest::StatusCode, Value) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro", "region": "east" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        server
            .call(Method::GET, "/t/shudao/api/v1/public/models", None, None)
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_build_across_stores_and_a_stores_offer_in_the_quote() {
    let server = Server::demo().await;
    let build = json!({ "trim": "s7-pro", "selections": [] });
    let (status, cmp) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/models/s7/stores",
            None,
            Some(build),
        )
        .await;
    assert_eq!(status, 200, "{cmp}");
    let offers = cmp["offers"].as_array().unwrap();
    assert!(offers.len() >= 3, "{cmp}");
    let list = cmp["list_price"].as_i64().unwrap();
    for o in offers {
        assert_eq!(
            o["price"].as_i64().unwrap(),
            list - o["cash_discount"].as_i64().unwrap()
        );
        let gifts: i64 = o["gifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["value"].as_i64().unwrap())
            .sum();
        assert_eq!(o["gifts_value"].as_i64().unwrap(), gifts);
    }
    let prices: Vec<i64> = offers
        .iter()
        .map(|o| o["price"].as_i64().unwrap())
        .collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "lowest price first: {prices:?}"
    );
    // The s7-max is not in sh02's offer only for trims it names; a Performance build has fewer offers.
    let (_, perf) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/models/s7/stores",
            None,
            Some(json!({ "trim": "s7-performance" })),
        )
        .await;
    assert!(
        perf["offers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["store"] != "sh02"),
        "{perf}"
    );

    // Buying from sh02 with a loan: its discount, gifts and subsidy join the sheet.
    let body = json!({
        "model": "s7", "trim": "s7-pro", "region": "east", "store": "sh02", "locale": "en",
        "finance": { "down_payment": { "percent_bp": 3000 }, "term_months": 36, "annual_rate_bp": 399, "method": "equal_instalment" }
    });
    let (status, quote) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{quote}");
    let lines = quote["cost"]["lines"].as_array().unwrap();
    let discount = lines
        .iter()
        .find(|l| l["code"] == "offer:sh02-s7-year-end")
        .expect("the cash discount line");
    assert_eq!(discount["amount"], -800_000);
    assert_eq!(
        quote["cost"]["vehicle_price"].as_i64().unwrap(),
        list - 800_000,
        "the tax base is the discounted price"
    );
    assert!(lines
        .iter()
        .any(|l| l["code"] == "finance-subsidy" && l["amount"] == -200_000));
    let gifts: Vec<&Value> = lines.iter().filter(|l| l["category"] == "gift").collect();
    assert_eq!(gifts.len(), 2);
    let counted: i64 = lines
        .iter()
        .filter(|l| l["category"] != "gift")
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        quote["cost"]["total"].as_i64().unwrap(),
        counted,
        "gifts are listed, not paid for"
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/quotes",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro", "store": "nowhere" })),
        )
        .await;
    assert_problem(status, &body, 422, "unknown_store");
}
