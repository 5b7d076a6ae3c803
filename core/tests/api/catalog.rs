//! The storefront catalog over HTTP: models, the configurator, saved configurations and
//! comparison, with the demo catalogs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, Server};

async fn configure(
    server: &Server,
    tenant: &str,
    model: &str,
    body: Value,
) -> (reqwest::StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/t/{tenant}/api/v1/public/models/{model}/configure"),
            None,
            Some(body),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurator_resolves_prices_and_explains() {
    let server = Server::demo().await;
    let (status, list) = server
        .call(Method::GET, "/t/aurora/api/v1/public/models", None, None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert!(list["models"].as_array().unwrap().len() >= 3);

    let (status, eval) = configure(&server, "aurora", "s7", json!({ "trim": "s7-max" })).await;
    assert_eq!(status, 200, "{eval}");
    // Every group resolved, every option has a state, the price is the sum of its lines.
    let (_, detail) = server
        .call(Method::GET, "/t/aurora/api/v1/public/models/s7", None, None)
        .await;
    let groups = detail["model"]["option_groups"].as_array().unwrap();
    let option_count: usize = groups
        .iter()
        .map(|g| g["options"].as_array().unwrap().len())
        .sum();
    assert!(
        option_count >= 30,
        "the flagship has {option_count} options"
    );
    assert_eq!(eval["resolved"].as_object().unwrap().len(), groups.len());
    assert_eq!(eval["options"].as_array().unwrap().len(), option_count);
    let lines: i64 = eval["price"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(eval["price"]["total"].as_i64().unwrap(), lines);
    for o in eval["options"].as_array().unwrap() {
        let state = o["state"].as_str().unwrap();
        assert!(
            ["selected", "included", "selectable", "unavailable"].contains(&state),
            "{o}"
        );
        if state == "unavailable" {
            assert!(!o["reason"]["message"].as_str().unwrap().is_empty(), "{o}");
        }
    }

    // A pick that conflicts wins; the earlier pick yields and the change says why.
    let selectable: Vec<String> = eval["options"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "selectable")
        .map(|o| o["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        selectable.contains(&"motor-awd".to_string()),
        "{selectable:?}"
    );
    let (status, after) = configure(
        &server,
        "aurora",
        "s7",
        json!({ "trim": "s7-max", "selections": ["motor-awd"] }),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    let unavailable_now: Vec<&Value> = after["options"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["state"] == "unavailable"
                && o["reason"]["conflicts_with"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x == "motor-awd"))
        })
        .collect();
    assert!(
        !unavailable_now.is_empty(),
        "picking AWD rules something out: {after}"
    );
    let blocked = unavailable_now[0]["code"].as_str().unwrap();
    let (status, resolved) = configure(
        &server,
        "aurora",
        "s7",
        json!({ "trim": "s7-max", "selections": ["motor-awd", blocked] }),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert!(resolved["selections"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == blocked));
    let changes = resolved["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["option"] == "motor-awd"),
        "{resolved}"
    );

    // Bad input: a clear 4xx with a pointer.
    let (status, body) = configure(
        &server,
        "aurora",
        "s7",
        json!({ "trim": "s7-max", "selections": ["no-such-option"] }),
    )
    .await;
    assert_problem(status, &body, 422, "configurator.unknown_option");
    assert_eq!(body["errors"][0]["pointer"], "/selections");
    let (status, body) = configure(
        &server,
        "aurora",
        "s7",
        json!({ "trim": "s7-max", "region": "atlantis" }),
    )
    .await;
    assert_problem(status, &body, 422, "unknown_region");
    let (status, _) = configure(&server, "aurora", "nope", json!({ "trim": "x" })).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_configurations_are_shareable_and_per_tenant() {
    let server = Server::demo().await;
    let (status, saved) = server
        .call(
            Method::POST,
            "/t/aurora/api/v1/public/configurations",
            None,
            Some(json!({ "model": "s7", "trim": "s7-pro", "selections": [] })),
        )
        .await;
    assert_eq!(status, 201, "{saved}");
    let code = saved["code"].as_str().unwrap();
    assert_eq!(code.len(), 12);
    let (status, again) = server
        .call(
            Method::GET,
            saved["share_path"].as_str().unwrap(),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["total_price"], saved["total_price"]);
    assert_eq!(again["resolved"], saved["resolved"]);
    // Another tenant's storefront does not know the code.
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/t/shudao/api/v1/public/configurations/{code}"),
            None,
            None,
        )
        .await;
    assert_problem(status, &body, 404, "not_found");
    let (status, _) = server
        .call(
            Method::GET,
            "/t/aurora/api/v1/public/configurations/guessme",
            None,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_trims_side_by_side() {
    let server = Server::demo().await;
    let (status, cmp) = server
        .call(
            Method::GET,
            "/t/aurora/api/v1/public/compare?trims=s7:s7-pro,x9:x9-max",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{cmp}");
    assert_eq!(cmp["columns"].as_array().unwrap().len(), 2);
    let specs = cmp["specs"].as_array().unwrap();
    assert!(
        specs.len() >= 5
            && specs
                .iter()
                .all(|s| s["values"].as_array().unwrap().len() == 2)
    );
    assert!(specs.iter().any(|s| s["differs"] == true));
    let (status, body) = server
        .call(
            Method::GET,
            "/t/aurora/api/v1/public/compare?trims=s7:s7-pro",
            None,
            None,
        )
        .await;
    assert_problem(status, &body, 422, "invalid_comparison");
    // Extractor rejections are problem+json too.
    let (status, body) = server
        .call(Method::GET, "/t/aurora/api/v1/public/compare", None, None)
        .await;
    assert_problem(status, &body, 400, "invalid_request");
}
