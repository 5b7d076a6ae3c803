//! Vehicle stock over HTTP: CSV import and DMS sync (upserts, every problem located, nothing
//! written on failure, idempotency keys), vehicles held by orders, stock views limited by
//! scope, VIN lookups across tenants, and the demo's seeded stock.

use std::collections::{BTreeMap, BTreeSet};

use forecourt::inventory::vin::Vin;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::kit::{assert_problem, Server};

const HEADER: &str =
    "vin,model,trim,options,store,stage,arrival_date,holding_cost_per_month,external_ref";

/// A valid VIN made from 16 characters (the check digit inserted at position 9).
fn vin(sixteen: &str) -> String {
    Vin::with_check_digit(sixteen)
        .expect("16 allowed characters")
        .into_string()
}

/// The same VIN with a wrong check digit.
fn wrong_check_digit(good: &str) -> String {
    let mut chars: Vec<char> = good.chars().collect();
    chars[8] = if chars[8] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// Today in the demo tenants' time zone.
fn today() -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    jiff::Timestamp::now().to_zoned(tz).date()
}

fn days_from_today(days: i64) -> String {
    today()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

async fn post_csv(
    server: &Server,
    token: &str,
    text: &str,
    key: Option<&str>,
) -> (StatusCode, Value, bool) {
    let mut req = server
        .client
        .post(format!("{}/api/v1/vehicles/import", server.base))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(text.to_string());
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed,
    )
}

async fn sync(server: &Server, token: &str, body: Value) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            "/api/v1/vehicles/sync",
            Some(token),
            Some(body),
        )
        .await
}

/// Every stored vehicle of a tenant as one line of text (what changed is visible).
async fn table(server: &Server, tenant: &str) -> Vec<String> {
    let tenant_id = server.tenant_id(tenant).await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT vin || '|' || model_code || '|' || trim_code || '|' || options || '|' || \
         store_code || '|' || stage || '|' || hold || '|' || COALESCE(arrival_date, '-') || '|' || \
         CAST(holding_cost_per_month AS TEXT) || '|' || source || '|' || \
         COALESCE(external_ref, '-') || '|' || CAST(version AS TEXT) \
         FROM vehicles WHERE tenant_id = $1 ORDER BY vin",
    )
    .bind(&tenant_id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows
}

/// Problems of a refused upload as (line, column, code) or (pointer, code).
fn csv_problems(body: &Value) -> BTreeSet<(u64, String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or_else(|| panic!("{e}")),
                e["column"].as_str().unwrap_or("").to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn json_problems(body: &Value) -> BTreeSet<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| {
            (
                e["pointer"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{e}"))
                    .to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every vehicle a caller sees, following `next` through pages of `limit`.
async fn all_visible(server: &Server, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (status, body) = server
            .get(
                &format!("/api/v1/vehicles?limit={limit}&after={after}{query}"),
                token,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        out.extend(body["vehicles"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => return out,
        }
    }
}

fn stores_of(vehicles: &[Value]) -> BTreeSet<String> {
    vehicles
        .iter()
        .map(|v| v["store"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_creates_updates_and_leaves_unchanged() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let a = vin("LAR7S1E2TS900001");
    let b = vin("LAR9X2R3TC900002");
    let c = vin("LAR3M1E1TS900003");
    let arrived = days_from_today(-45);
    let due = days_from_today(12);
    let first = format!(
        "{HEADER}\n\
         {a},s7,s7-pro,paint-ruby-red|pkg-winter,sh01,in_stock,{arrived},150000,DMS-1\n\
         {b},x9,x9-max,,bj02,in_transit,{due},90000,\n\
         {c},m3,m3-plus,paint-coral|int-black,cd02,in_production,,45,DMS-3\n"
    );
    let (status, body, _) = post_csv(&server, &admin, &first, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "created": 3, "updated": 0, "unchanged": 0 }));

    let (status, v) = server.get(&format!("/api/v1/vehicles/{a}"), &admin).await;
    assert_eq!(status, 200, "{v}");
    // The complete build: the picks plus the trim's defaults and the package's contents.
    let options: Vec<&str> = v["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert_eq!(
        options,
        vec![
            "adas-l2",
            "bat-72",
            "int-obsidian",
            "motor-rwd",
            "opt-heat-pump",
            "opt-heated-rear-seats",
            "opt-heated-wheel",
            "paint-ruby-red",
            "pkg-winter",
            "seat-vegan",
            "wheel-19-aero"
        ]
    );
    assert_eq!(v["build_key"], format!("s7/s7-pro/{}", options.join("+")));
    assert_eq!(v["store"], "sh01");
    assert_eq!(v["region"], "east");
    assert_eq!(v["dealer_group"], Value::Null);
    assert_eq!(v["stage"], "in_stock");
    assert_eq!(v["status"], "in_stock");
    assert_eq!(v["order_id"], Value::Null);
    assert_eq!(v["age_days"], 45);
    // ¥1,500 a month for 45 days: 150000 × 45 / 30 = 225000 exactly.
    assert_eq!(v["holding_cost_to_date"], 225000);
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["source"], "csv");
    assert_eq!(v["external_ref"], "DMS-1");
    assert_eq!(v["version"], 1);
    // In transit: no age, no cost yet; the arrival date is the planned one.
    let (_, v) = server.get(&format!("/api/v1/vehicles/{b}"), &admin).await;
    assert_eq!(v["dealer_group"], "dg-jingjin");
    assert_eq!(v["arrival_date"], due.as_str());
    assert_eq!(v["age_days"], Value::Null);
    assert_eq!(v["holding_cost_to_date"], Value::Null);

    // The same file again: nothing changes (no version bump, no audit, no event).
    let before = table(&server, "aurora").await;
    // VINs are normalised: lower case names the same vehicles.
    let lower = first
        .replace(&a, &a.to_lowercase())
        .replace(&b, &b.to_lowercase());
    let (status, body, _) = post_csv(&server, &admin, &lower, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "created": 0, "updated": 0, "unchanged": 3 }));
    assert_eq!(table(&server, "aurora").await, before);

    // The X9 arrives: one update, two unchanged.
    let arrived_b = days_from_today(-1);
    let second = first.replace(
        &format!("{b},x9,x9-max,,bj02,in_transit,{due},90000,"),
        &format!("{b},x9,x9-max,,bj02,in_stock,{arrived_b},90000,DMS-2"),
    );
    assert_ne!(second, first);
    let (status, body, _) = post_csv(&server, &admin, &second, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "created": 0, "updated": 1, "unchanged": 2 }));
    let (_, v) = server.get(&format!("/api/v1/vehicles/{b}"), &admin).await;
    assert_eq!(v["status"], "in_stock");
    assert_eq!(v["version"], 2);
    assert_eq!(v["age_days"], 1);
    // 90000 / 30 = 3000 a day exactly.
    assert_eq!(v["holding_cost_to_date"], 3000);
    assert_eq!(v["external_ref"], "DMS-2");
    let (_, v) = server.get(&format!("/api/v1/vehicles/{a}"), &admin).await;
    assert_eq!(v["version"], 1);
    // 45 minor units a month: never in stock, so no cost yet.
    let (_, v) = server.get(&format!("/api/v1/vehicles/{c}"), &admin).await;
    assert_eq!(v["holding_cost_per_month"], 45);

    // Two imports changed something: two audit entries and two events, ids and counts only.
    let (_, audit) = server.get("/api/v1/audit?limit=500", &admin).await;
    let imports: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "vehicle.import" && e["actor"] != "demo")
        .collect();
    assert_eq!(imports.len(), 2, "{audit}");
    assert_eq!(
        imports[0]["detail"],
        json!({ "source": "csv", "created": 0, "updated": 1, "unchanged": 2 })
    );
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE tenant_id = $1 AND name = 'vehicle.imported' ORDER BY id",
    )
    .bind(&tenant_id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // The demo's seed announced nothing.
    assert_eq!(events.len(), 2, "{events:?}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["updated"], json!([b]));
    assert_eq!(last["created"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_answer() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let a = vin("LAR7S1E2TS900101");
    let text = format!("{HEADER}\n{a},s7,s7-max,,sh02,in_transit,,0,\n");
    let (status, first, replayed) = post_csv(&server, &admin, &text, Some("import-1")).await;
    assert_eq!(status, 200, "{first}");
    assert!(!replayed);
    assert_eq!(first["created"], 1);
    let before = table(&server, "aurora").await;
    let (status, again, replayed) = post_csv(&server, &admin, &text, Some("import-1")).await;
    assert_eq!(status, 200);
    assert!(replayed, "a retry with the key is a replay");
    assert_eq!(again, first, "the first answer, not `unchanged: 1`");
    assert_eq!(table(&server, "aurora").await, before);
    // The same key for another file is refused.
    let other = text.replace(",0,\n", ",100,\n");
    let (status, body, _) = post_csv(&server, &admin, &other, Some("import-1")).await;
    assert_problem(status, &body, 422, "idempotency_key_reused");
    assert_eq!(table(&server, "aurora").await, before);
    // A refused upload stores nothing under its key: fixed, it goes through with the same key.
    let bad = text.replace(",0,\n", ",-1,\n");
    let (status, body, _) = post_csv(&server, &admin, &bad, Some("import-2")).await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    let (status, body, replayed) = post_csv(&server, &admin, &other, Some("import-2")).await;
    assert_eq!(status, 200, "{body}");
    assert!(!replayed);
    assert_eq!(body["updated"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_with_bad_rows_is_refused_whole_with_every_problem_located() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let good = vin("LAR7S1E2TS900201");
    let other = vin("LAR7S1E2TS900202");
    let bad_check = wrong_check_digit(&vin("LAR7S1E2TS900203"));
    let v = |n: u32| vin(&format!("LAR7S1E2TS9003{n:02}"));
    let past = days_from_today(-3);
    let future = days_from_today(5);
    let text = format!(
        "{HEADER}\n\
         {good},s7,s7-pro,paint-ruby-red,sh01,in_stock,{past},150000,\n\
         {bad_check},s7,s7-pro,,sh01,in_stock,{past},150000,\n\
         {},s7,s7-pro,paint-plaid,sh01,in_stock,{past},150000,\n\
         {},s7,s7-pro,,zz99,in_stock,{past},150000,\n\
         {},s7,s7-pro,,sh01,in_stock,{past},-500,\n\
         {},s7,s7-pro,,sh01,in_transit,2026-02-30,0,\n\
         {good},s7,s7-pro,,sh02,in_stock,{past},0,\n\
         {other},s7,s7-pro,,sh01,reserved,{past},0,\n\
         {},s7,s7-pro,paint-ruby-red|paint-obsidian-black,sh01,in_stock,{past},0,\n\
         {},s9,s9-pro,,sh01,in_stock,{past},0,\n\
         {},s7,s7-pro,,sh01,in_stock,{future},0,\n\
         {},s7,s7-pro,,sh01,in_stock,,0,\n\
         {},s7,s7-pro,,sh01,in_stock,{past},1.5,\n\
         {},s7,s7-pro,,sh01,in_stock,{past},0,{}\n",
        v(1),
        v(2),
        v(3),
        v(4),
        v(5),
        v(6),
        v(7),
        v(8),
        v(9),
        v(10),
        "R".repeat(65),
    );
    let before = table(&server, "aurora").await;
    let (status, body, _) = post_csv(&server, &admin, &text, None).await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    let expected: BTreeSet<(u64, String, String)> = [
        (3, "vin", "vin_check_digit"),
        (4, "options", "unknown_option"),
        (5, "store", "unknown_store"),
        (6, "holding_cost_per_month", "negative_amount"),
        (7, "arrival_date", "invalid_date"),
        (8, "vin", "duplicate_vin"),
        (9, "stage", "stage_set_by_orders"),
        (10, "options", "invalid_build"),
        (11, "model", "unknown_model"),
        (12, "arrival_date", "arrival_in_future"),
        (13, "arrival_date", "missing_arrival_date"),
        (14, "holding_cost_per_month", "invalid_amount"),
        (15, "external_ref", "external_ref_too_long"),
    ]
    .into_iter()
    .map(|(l, c, k)| (l, c.to_string(), k.to_string()))
    .collect();
    assert_eq!(csv_problems(&body), expected, "{body}");
    // Each says why, in words.
    let messages: BTreeMap<u64, String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        messages[&3].starts_with("character 9 is '"),
        "{}",
        messages[&3]
    );
    assert!(messages[&4].contains("paint-plaid"), "{}", messages[&4]);
    assert!(messages[&8].contains("line 2"), "{}", messages[&8]);
    assert!(messages[&9].contains("set by orders"), "{}", messages[&9]);
    assert!(
        messages[&10].contains("paint-ruby-red") || messages[&10].contains("paint-obsidian-black"),
        "{}",
        messages[&10]
    );
    // Nothing was written, not even the good first row.
    assert_eq!(table(&server, "aurora").await, before);
    assert_eq!(
        server
            .get(&format!("/api/v1/vehicles/{good}"), &admin)
            .await
            .0,
        404
    );

    // The header is checked before any row.
    let (status, body, _) = post_csv(
        &server,
        &admin,
        "vin,model,trim,options,store,stage,arrival,holding_cost_per_month,external_ref,colour\n",
        None,
    )
    .await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    assert_eq!(
        csv_problems(&body),
        [
            (1, "arrival".to_string(), "unknown_column".to_string()),
            (1, "colour".to_string(), "unknown_column".to_string()),
            (1, "arrival_date".to_string(), "missing_column".to_string()),
        ]
        .into_iter()
        .collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_upserts_and_locates_problems_by_pointer() {
    let server = Server::demo().await;
    let integrator = server.login("aurora", "integrator@aurora.example").await;
    let a = vin("LAR7S1E2TS900401");
    let b = vin("LAR9X2R3TC900402");
    let (status, body) = sync(
        &server,
        &integrator,
        json!({ "vehicles": [
            { "vin": a, "model": "s7", "trim": "s7-performance", "options": ["paint-track-orange"],
              "store": "cd02", "stage": "in_stock", "arrival_date": days_from_today(-10),
              "holding_cost_per_month": 100, "external_ref": "SYNC-1" },
            { "vin": b.to_lowercase(), "model": "x9", "trim": "x9-ultra", "store": "cq01",
              "stage": "in_production", "holding_cost_per_month": 0 }
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "created": 2, "updated": 0, "unchanged": 0 }));
    let (_, v) = server
        .get(&format!("/api/v1/vehicles/{a}"), &integrator)
        .await;
    assert_eq!(v["source"], "sync");
    // 100 × 10 / 30 = 33.3 → 33.
    assert_eq!(v["holding_cost_to_date"], 33);
    let (status, v) = server
        .get(&format!("/api/v1/vehicles/{b}"), &integrator)
        .await;
    assert_eq!(status, 200, "stored upper case: {v}");
    assert_eq!(v["vin"], b);
    // Echoing a vehicle's complete build back (as a DMS that read it would) changes nothing.
    let (_, v) = server
        .get(&format!("/api/v1/vehicles/{a}"), &integrator)
        .await;
    let (status, body) = sync(
        &server,
        &integrator,
        json!({ "vehicles": [{ "vin": a, "model": "s7", "trim": "s7-performance",
            "options": v["options"], "store": "cd02", "stage": "in_stock",
            "arrival_date": v["arrival_date"], "holding_cost_per_month": 100,
            "external_ref": "SYNC-1" }] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "created": 0, "updated": 0, "unchanged": 1 }));

    let before = table(&server, "aurora").await;
    let (status, body) = sync(
        &server,
        &integrator,
        json!({ "vehicles": [
            { "vin": wrong_check_digit(&a), "model": "s7", "trim": "s7-pro", "store": "cd02",
              "stage": "in_transit", "holding_cost_per_month": 0 },
            { "vin": vin("LAR7S1E2TS900403"), "model": "s7", "trim": "s7-pro", "store": "cd02",
              "stage": "in_transit", "holding_cost_per_month": -1, "external_ref": "R".repeat(65) },
            { "vin": vin("LAR7S1E2TS900404"), "model": "s7", "trim": "s7-gt", "options": ["x"],
              "store": "cd02", "stage": "sold", "holding_cost_per_month": 0 },
            { "vin": b, "model": "x9", "trim": "x9-ultra", "store": "nowhere",
              "stage": "in_stock", "holding_cost_per_month": "12", "colour": "red" },
            { "vin": a, "model": "s7", "trim": "s7-performance", "options": ["paint-track-orange"],
              "store": "cd02", "stage": "in_stock", "arrival_date": days_from_today(-10),
              "holding_cost_per_month": 100, "external_ref": "SYNC-1-changed" }
        ]}),
    )
    .await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    let expected: BTreeSet<(String, String)> = [
        ("/vehicles/0/vin", "vin_check_digit"),
        ("/vehicles/1/holding_cost_per_month", "negative_amount"),
        ("/vehicles/1/external_ref", "external_ref_too_long"),
        ("/vehicles/2/trim", "unknown_trim"),
        ("/vehicles/2/options", "unknown_option"),
        ("/vehicles/2/stage", "stage_set_by_orders"),
        ("/vehicles/3/colour", "unknown_field"),
        ("/vehicles/3/holding_cost_per_month", "invalid_type"),
        ("/vehicles/3/store", "unknown_store"),
        ("/vehicles/3/arrival_date", "missing_arrival_date"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect();
    assert_eq!(json_problems(&body), expected, "{body}");
    assert_eq!(table(&server, "aurora").await, before, "nothing changed");

    // Not JSON: 415; malformed JSON: 400.
    let resp = server
        .client
        .post(format!("{}/api/v1/vehicles/sync", server.base))
        .bearer_auth(&integrator)
        .header("content-type", "text/csv")
        .body(format!("{HEADER}\n"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_problem(status, &body, 415, "unsupported_media_type");
    let resp = server
        .client
        .post(format!("{}/api/v1/vehicles/sync", server.base))
        .bearer_auth(&integrator)
        .header("content-type", "application/json")
        .body("{\"vehicles\": [")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_problem(status, &body, 400, "malformed_json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_in_rows_and_media_type() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    // 5,000 vehicles is the limit: accepted in one transaction.
    let mut text = format!("{HEADER}\n");
    let past = days_from_today(-20);
    for i in 0..5_000 {
        let store = ["sh01", "bj01", "cd02", "hz02"][i % 4];
        text.push_str(&format!(
            "{},m3,m3-air,,{store},in_stock,{past},60000,\n",
            vin(&format!("LAR3M1E1TS5{i:05}"))
        ));
    }
    let started = std::time::Instant::now();
    let (status, body, _) = post_csv(&server, &admin, &text, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 5000);
    eprintln!("5,000 vehicles imported in {:?}", started.elapsed());
    let (_, page) = server
        .get("/api/v1/vehicles?store=hz02&model=m3&limit=1", &admin)
        .await;
    assert!(
        page["counts"]["in_stock"].as_i64().unwrap() >= 1250,
        "{page}"
    );
    // One more is refused, naming the limit; nothing is written.
    let before = table(&server, "aurora").await.len();
    text.push_str(&format!(
        "{},m3,m3-air,,sh01,in_stock,{past},60000,\n",
        vin("LAR3M1E1TS600000")
    ));
    let (status, body, _) = post_csv(&server, &admin, &text, None).await;
    assert_problem(status, &body, 413, "too_many_vehicles");
    assert!(body["detail"].as_str().unwrap().contains("5000"), "{body}");
    assert_eq!(table(&server, "aurora").await.len(), before);

    // JSON to the CSV route, or CSV in another encoding: 415.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/v1/vehicles/import",
            Some(&admin),
            Some(json!({ "vehicles": [] })),
        )
        .await;
    assert_problem(status, &body, 415, "unsupported_media_type");
    let resp = server
        .client
        .post(format!("{}/api/v1/vehicles/import", server.base))
        .bearer_auth(&admin)
        .header("content-type", "text/csv; charset=gbk")
        .body(format!("{HEADER}\n"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_problem(status, &body, 415, "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vehicles_held_by_orders_keep_their_build_and_are_delivered_through_the_order() {
    use forecourt::inventory::stock;
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let tenant_id = server.tenant_id("aurora").await;
    let a = vin("LAR7S1E2TS900501");
    let due = days_from_today(7);
    let row = |options: &str, stage: &str, date: &str| {
        format!("{HEADER}\n{a},s7,s7-max,{options},sh01,{stage},{date},100000,\n")
    };
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-ruby-red", "in_transit", &due),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // An order reserves it and records the VIN it holds, as the order path does (later steps
    // find the vehicle through the order's VIN).
    let now = forecourt::store::now_ms();
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let reserved = stock::reserve_vin(&mut tx, &tenant_id, &a, "order-1", now + 3_600_000, now)
        .await
        .unwrap();
    let vault = &server.state.pii;
    sqlx::query(
        "INSERT INTO orders (tenant_id, id, number, tracking_hash, store_code, channel, vin, \
         model_code, trim_code, options, build_key, price, deposit, currency, state, \
         buyer_name_enc, buyer_mobile_enc, buyer_mobile_index, locale, created_at, updated_at) \
         VALUES ($1, 'order-1', 'N1', 'H1', 'sh01', 'direct', $2, 's7', 's7-max', \
         '[\"paint-ruby-red\"]', 's7/s7-max/paint-ruby-red', 100, 10, 'CNY', 'deposit', \
         $3, $4, 'M1', 'en', $5, $5)",
    )
    .bind(&tenant_id)
    .bind(&a)
    .bind(vault.seal(&tenant_id, "name", "x"))
    .bind(vault.seal(&tenant_id, "mobile", "x"))
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(reserved.is_some());
    let (_, v) = server.get(&format!("/api/v1/vehicles/{a}"), &admin).await;
    assert_eq!(v["status"], "reserved");
    assert_eq!(v["order_id"], "order-1");
    assert!(v["reserved_until"].is_string(), "{v}");

    // Its build cannot change; it cannot be delivered by import.
    let before = table(&server, "aurora").await;
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-obsidian-black", "in_transit", &due),
        None,
    )
    .await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    assert_eq!(
        csv_problems(&body),
        [(2, "options".to_string(), "vehicle_held".to_string())]
            .into_iter()
            .collect()
    );
    let past = days_from_today(-1);
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-ruby-red", "delivered", &past),
        None,
    )
    .await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    assert_eq!(
        csv_problems(&body),
        [(2, "stage".to_string(), "vehicle_held".to_string())]
            .into_iter()
            .collect()
    );
    assert_eq!(table(&server, "aurora").await, before);

    // It may arrive: the stage changes, the hold stays.
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-ruby-red", "in_stock", &past),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["updated"], 1);
    let (_, v) = server.get(&format!("/api/v1/vehicles/{a}"), &admin).await;
    assert_eq!(v["status"], "reserved");
    assert_eq!(v["stage"], "in_stock");
    assert_eq!(v["order_id"], "order-1");
    assert_eq!(v["age_days"], 1);

    // Sold and delivered through the order: its stage stays delivered.
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    assert!(stock::sell(&mut tx, &tenant_id, "order-1", now)
        .await
        .unwrap());
    assert!(stock::deliver(&mut tx, &tenant_id, "order-1", now)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let (_, v) = server.get(&format!("/api/v1/vehicles/{a}"), &admin).await;
    assert_eq!(v["status"], "delivered");
    assert_eq!(v["age_days"], Value::Null);
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-ruby-red", "in_stock", &past),
        None,
    )
    .await;
    assert_problem(status, &body, 422, "vehicles_invalid");
    assert_eq!(
        csv_problems(&body),
        [(2, "stage".to_string(), "vehicle_held".to_string())]
            .into_iter()
            .collect()
    );
    let (status, body, _) = post_csv(
        &server,
        &admin,
        &row("paint-ruby-red", "delivered", &past),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unchanged"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_views_follow_each_roles_scope() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (_, org) = server.get("/api/v1/org/stores", &admin).await;
    let region_of: BTreeMap<String, String> = org["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["code"].as_str().unwrap().to_string(),
                s["region"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let everything = all_visible(&server, &admin, "", 500).await;
    assert!(everything.len() >= 40, "the demo seeds stock");
    let all_stores = stores_of(&everything);
    assert_eq!(all_stores.len(), 21, "every aurora store has demo stock");
    let in_region = |r: &str| -> BTreeSet<String> {
        all_stores
            .iter()
            .filter(|s| region_of[*s] == r)
            .cloned()
            .collect()
    };
    let vins_in = |stores: &BTreeSet<String>| -> BTreeSet<String> {
        everything
            .iter()
            .filter(|v| stores.contains(v["store"].as_str().unwrap()))
            .map(|v| v["vin"].as_str().unwrap().to_string())
            .collect()
    };
    let vins = |list: &[Value]| -> BTreeSet<String> {
        list.iter()
            .map(|v| v["vin"].as_str().unwrap().to_string())
            .collect()
    };

    // Paging returns every vehicle once, in VIN order.
    let paged = all_visible(&server, &admin, "", 7).await;
    assert_eq!(vins(&paged), vins(&everything));
    assert_eq!(paged.len(), everything.len());
    let order: Vec<&str> = paged.iter().map(|v| v["vin"].as_str().unwrap()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    // A stock manager at a level-A dealer (sh02) sees the whole network.
    let a_level = server.login("aurora", "stock.sh02@aurora.example").await;
    let seen = all_visible(&server, &a_level, "", 500).await;
    assert_eq!(vins(&seen), vins(&everything));
    // At a level-B dealer (cq01, southwest): their region only.
    let b_level = server.login("aurora", "stock.cq01@aurora.example").await;
    let seen = all_visible(&server, &b_level, "", 500).await;
    let southwest = in_region("southwest");
    assert_eq!(stores_of(&seen), southwest);
    assert_eq!(vins(&seen), vins_in(&southwest));
    let (_, page) = server.get("/api/v1/vehicles?limit=500", &b_level).await;
    assert_eq!(page["counts"]["total"], seen.len());
    // A filter on a store outside the region is refused; on the region outside, empty.
    let (status, body) = server.get("/api/v1/vehicles?store=sh01", &b_level).await;
    assert_problem(status, &body, 403, "forbidden");
    let (status, body) = server.get("/api/v1/vehicles?region=east", &b_level).await;
    assert_eq!(status, 200);
    assert_eq!(body["vehicles"], json!([]));
    assert_eq!(body["counts"]["total"], 0);
    // A region manager sees their region.
    let east_rm = server.login("aurora", "region.east@aurora.example").await;
    let seen = all_visible(&server, &east_rm, "", 500).await;
    assert_eq!(stores_of(&seen), in_region("east"));
    // A sales consultant sees their store only, in the list and one by one.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let seen = all_visible(&server, &sales, "", 500).await;
    let sh01: BTreeSet<String> = ["sh01".to_string()].into_iter().collect();
    assert_eq!(vins(&seen), vins_in(&sh01));
    assert!(!seen.is_empty());
    let outside = everything.iter().find(|v| v["store"] == "bj01").unwrap()["vin"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = server
        .get(&format!("/api/v1/vehicles/{outside}"), &sales)
        .await;
    assert_problem(status, &body, 403, "forbidden");
    let inside = seen[0]["vin"].as_str().unwrap();
    assert_eq!(
        server
            .get(&format!("/api/v1/vehicles/{inside}"), &sales)
            .await
            .0,
        200
    );
    // No vehicle.read at all: 403 for the list.
    let finance = server.login("aurora", "finance.sh02@aurora.example").await;
    let (status, body) = server.get("/api/v1/vehicles", &finance).await;
    assert_problem(status, &body, 403, "forbidden");

    // Filters: status and counts agree with the full list.
    let (_, page) = server
        .get("/api/v1/vehicles?status=in_transit&limit=500", &admin)
        .await;
    let transit = page["vehicles"].as_array().unwrap();
    assert!(transit.iter().all(|v| v["status"] == "in_transit"));
    assert_eq!(
        transit.len(),
        everything
            .iter()
            .filter(|v| v["status"] == "in_transit")
            .count()
    );
    assert_eq!(page["counts"]["in_transit"], transit.len());
    assert_eq!(page["counts"]["total"], everything.len());
    let key = everything[0]["build_key"].as_str().unwrap();
    let (_, page) = server
        .get(
            &format!("/api/v1/vehicles?build_key={key}&limit=500"),
            &admin,
        )
        .await;
    assert!(page["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["build_key"] == key));
    let (status, body) = server.get("/api/v1/vehicles?status=lost", &admin).await;
    assert_problem(status, &body, 422, "invalid_status");
    let (status, body) = server.get("/api/v1/vehicles?limit=501", &admin).await;
    assert_problem(status, &body, 422, "invalid_limit");

    // Imports: a store manager imports into their store only; a refusal by scope alone is 403.
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let mine = vin("LAR7S1E2TS900601");
    let theirs = vin("LAR7S1E2TS900602");
    let past = days_from_today(-2);
    let text = format!(
        "{HEADER}\n{mine},s7,s7-pro,,sh01,in_stock,{past},0,\n{theirs},s7,s7-pro,,bj01,in_stock,{past},0,\n"
    );
    let before = table(&server, "aurora").await;
    let (status, body, _) = post_csv(&server, &manager, &text, None).await;
    assert_problem(status, &body, 403, "forbidden");
    assert_eq!(
        csv_problems(&body),
        [(3, "store".to_string(), "forbidden".to_string())]
            .into_iter()
            .collect()
    );
    assert_eq!(table(&server, "aurora").await, before);
    // Moving a vehicle of another store into one's own is refused too (its current store).
    let text = format!("{HEADER}\n{outside},s7,s7-pro,,sh01,in_stock,{past},0,\n");
    let (status, body, _) = post_csv(&server, &manager, &text, None).await;
    assert_problem(status, &body, 403, "forbidden");
    assert_eq!(
        csv_problems(&body),
        [(2, "vin".to_string(), "forbidden".to_string())]
            .into_iter()
            .collect()
    );
    let text = format!("{HEADER}\n{mine},s7,s7-pro,,sh01,in_stock,{past},0,\n");
    let (status, body, _) = post_csv(&server, &manager, &text, None).await;
    assert_eq!(status, 200, "{body}");
    // A sales consultant may not import at all.
    let (status, body, _) = post_csv(&server, &sales, &text, None).await;
    assert_problem(status, &body, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vins_are_per_tenant_and_checked_on_lookup() {
    let server = Server::demo().await;
    let aurora = server.login("aurora", "admin@aurora.example").await;
    let shudao = server.login("shudao", "admin@shudao.example").await;
    let (_, page) = server.get("/api/v1/vehicles?limit=1", &aurora).await;
    let a_vin = page["vehicles"][0]["vin"].as_str().unwrap().to_string();
    let (status, body) = server
        .get(&format!("/api/v1/vehicles/{a_vin}"), &shudao)
        .await;
    assert_problem(status, &body, 404, "not_found");
    assert!(!body.to_string().contains("aurora"), "{body}");
    let unknown = vin("LAR7S1E2TS999999");
    let (status, body) = server
        .get(&format!("/api/v1/vehicles/{unknown}"), &aurora)
        .await;
    assert_problem(status, &body, 404, "not_found");
    let (status, body) = server
        .get("/api/v1/vehicles/1M8GDM9A5KP042788", &aurora)
        .await;
    assert_problem(status, &body, 422, "vin_check_digit");
    assert_eq!(
        body["errors"][0]["message"],
        "character 9 is '5' but the check digit of this VIN is 'X'"
    );
    let (status, body) = server
        .get("/api/v1/vehicles/1M8GDM9AXKP04278", &aurora)
        .await;
    assert_problem(status, &body, 422, "vin_length");
    // Lower case is the same VIN.
    let (status, _) = server
        .get(
            &format!("/api/v1/vehicles/{}", a_vin.to_lowercase()),
            &aurora,
        )
        .await;
    assert_eq!(status, 200);
    // Shudao's list holds none of Aurora's vehicles.
    let theirs = all_visible(&server, &shudao, "", 500).await;
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|v| v["vin"] != a_vin.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stock_is_seeded_valid_and_once() {
    let server = Server::demo().await;
    let today = today().to_string();
    for (tenant, email) in [
        ("aurora", "admin@aurora.example"),
        ("shudao", "admin@shudao.example"),
    ] {
        let token = server.login(tenant, email).await;
        let vehicles = all_visible(&server, &token, "", 500).await;
        assert!(
            (40..=80).contains(&vehicles.len()),
            "{tenant}: {} vehicles",
            vehicles.len()
        );
        for v in &vehicles {
            assert!(Vin::parse(v["vin"].as_str().unwrap()).is_ok(), "{v}");
        }
        let stages: BTreeSet<&str> = vehicles
            .iter()
            .map(|v| v["stage"].as_str().unwrap())
            .collect();
        assert_eq!(
            stages,
            ["delivered", "in_production", "in_stock", "in_transit"]
                .into_iter()
                .collect()
        );
        assert!(
            vehicles.iter().any(|v| v["stage"] == "in_transit"
                && v["arrival_date"]
                    .as_str()
                    .is_some_and(|d| d > today.as_str())),
            "{tenant}: some vehicles are on their way"
        );
        assert!(vehicles
            .iter()
            .filter(|v| v["stage"] == "in_stock")
            .all(|v| v["age_days"].as_i64().is_some()));
        assert!(
            stores_of(&vehicles).len() >= 15,
            "{tenant}: spread over stores"
        );
    }
    // Applying the demo again changes no vehicle.
    let before = table(&server, "aurora").await;
    forecourt::demo::apply_demo(&server.state, &crate::kit::examples_dir())
        .await
        .unwrap();
    assert_eq!(table(&server, "aurora").await, before);
}

/// A vehicle's model, trim and options.
type Build = (String, String, Vec<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vehicle_builds_looked_up_together_each_get_their_own_tenants_answer() {
    let server = Server::demo().await;
    let aurora_admin = server.login("aurora", "admin@aurora.example").await;
    let shudao_admin = server.login("shudao", "admin@shudao.example").await;
    let aurora = server.tenant_id("aurora").await;
    let shudao = server.tenant_id("shudao").await;
    let theirs = |vehicles: Vec<Value>| -> Vec<(String, Build)> {
        vehicles
            .into_iter()
            .take(150)
            .map(|v| {
                let options = v["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap().to_string())
                    .collect();
                (
                    v["vin"].as_str().unwrap().to_string(),
                    (
                        v["model"].as_str().unwrap().to_string(),
                        v["trim"].as_str().unwrap().to_string(),
                        options,
                    ),
                )
            })
            .collect()
    };
    let a = theirs(all_visible(&server, &aurora_admin, "", 500).await);
    let s = theirs(all_visible(&server, &shudao_admin, "", 500).await);
    assert!(a.len() > 20 && s.len() > 20, "{} {}", a.len(), s.len());
    // Every lookup with what it must answer: each tenant's own vehicles (twice, as two orders
    // may name the same vehicle), the other tenant's vehicles (none), unknown VINs (none).
    let mut asks: Vec<(String, String, Option<Build>)> = Vec::new();
    for (vin, build) in a.iter().chain(a.iter()) {
        asks.push((aurora.clone(), vin.clone(), Some(build.clone())));
        asks.push((shudao.clone(), vin.clone(), None));
    }
    for (vin, build) in &s {
        asks.push((shudao.clone(), vin.clone(), Some(build.clone())));
        asks.push((aurora.clone(), vin.clone(), None));
    }
    for n in 0..50 {
        asks.push((aurora.clone(), vin(&format!("LAR7S1E2TS{n:06}")), None));
    }
    let state = &server.state;
    let answers = futures_util::future::join_all(
        asks.iter()
            .map(|(tenant, vin, _)| state.vehicle_builds.get(&state.db, tenant, vin)),
    )
    .await;
    for ((tenant, vin, want), got) in asks.iter().zip(answers) {
        let got = got.expect("the lookup is answered").map(|b| {
            let mut options: Vec<String> = serde_json::from_str(&b.options).unwrap();
            options.sort();
            (b.model_code, b.trim_code, options)
        });
        let want = want.clone().map(|(m, t, mut o)| {
            o.sort();
            (m, t, o)
        });
        assert_eq!(got, want, "{vin} for {tenant}");
    }
}
