//! The storefront loan calculator over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::kit::{assert_problem, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loan_plan_is_exact_and_bad_terms_say_where() {
    let server = Server::demo().await;
    let terms = json!({ "vehicle_price": 20_000_000, "down_payment": { "amount": 0 }, "term_months": 36, "annual_rate_bp": 399, "method": "equal_instalment" });
    let (status, plan) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/finance/plan",
            None,
            Some(terms),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["currency"], "CNY");
    assert_eq!(plan["first_payment"], 590_391);
    assert_eq!(plan["last_payment"], 590_377);
    assert_eq!(plan["total_interest"], 1_254_062);
    assert_eq!(plan["instalments"].as_array().unwrap().len(), 36);
    let principal: i64 = plan["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["principal"].as_i64().unwrap())
        .sum();
    assert_eq!(principal, 20_000_000);

    let bad = json!({ "vehicle_price": -5, "down_payment": { "percent_bp": 20_000 }, "term_months": 200, "annual_rate_bp": 399, "method": "equal_principal" });
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/finance/plan",
            None,
            Some(bad),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/vehicle_price") && pointers.contains(&"/term_months"),
        "{pointers:?}"
    );
    let (status, body) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/finance/plan",
            None,
            Some(json!({ "vehicle_price": 1 })),
        )
        .await;
    assert_problem(status, &body, 422, "invalid_body");
    // Unknown storefronts are 404.
    let (status, _) = server
        .call(
            Method::POST,
            "/t/nobody/api/v1/public/finance/plan",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
}
