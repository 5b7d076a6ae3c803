//! Orders: no oversell under 1,000 concurrent buyers, Stripe-style idempotency, bad input
//! refused with nothing changed, staff views scoped and masked, reservations that lapse.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

use crate::kit::{assert_problem, Server};

/// A valid VIN (check digit computed) for a serial number; every test VIN starts with
/// `LFV2A2BS` (the demo's own stock does not), so counts can tell them apart.
pub fn vin(serial: u32) -> String {
    let mut chars: Vec<char> = format!("LFV2A2BS0N{serial:07}").chars().collect();
    chars[8] = forecourt::inventory::vin::check_digit(&chars).expect("allowed characters");
    chars.into_iter().collect()
}

/// Saves a build of `model`/`trim` on `slug`'s storefront; returns (code, option codes).
pub async fn saved_build(
    server: &Server,
    slug: &str,
    model: &str,
    trim: &str,
) -> (String, Vec<String>) {
    let (status, saved) = server
        .call(
            Method::POST,
            &format!("/t/{slug}/api/v1/public/configurations"),
            None,
            Some(json!({ "model": model, "trim": trim, "selections": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let options: Vec<String> = saved["resolved"]["resolved"]
        .as_object()
        .expect("resolved build")
        .values()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (saved["code"].as_str().unwrap().to_string(), options)
}

/// Puts `count` free vehicles of a build in stock at `store` (and removes the demo's own
/// vehicles of that build); returns their VINs.
#[allow(clippy::too_many_arguments)]
pub async fn stock(
    server: &Server,
    slug: &str,
    store: &str,
    model: &str,
    trim: &str,
    options: &[String],
    first_serial: u32,
    count: u32,
) -> Vec<String> {
    let tenant_id = server.tenant_id(slug).await;
    let mut sorted = options.to_vec();
    sorted.sort();
    sorted.dedup();
    let key = forecourt::inventory::stock::build_key(model, trim, &sorted);
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    // Only this test's vehicles are of this build: the demo's own stock of it goes.
    sqlx::query(
        "DELETE FROM vehicles WHERE tenant_id = $1 AND build_key = $2 AND vin NOT LIKE 'LFV2A2BS%'",
    )
    .bind(&tenant_id)
    .bind(&key)
    .execute(&mut *tx)
    .await
    .unwrap();
    let mut vins = Vec::new();
    for serial in first_serial..first_serial + count {
        let v = vin(serial);
        sqlx::query(
            "INSERT INTO vehicles (tenant_id, vin, model_code, trim_code, options, build_key, \
             store_code, stage, hold, arrival_date, holding_cost_per_month, source, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_stock', 'free', \
             '2026-11-01', 120000, 'sync', 1, 0, 0)",
        )
        .bind(&tenant_id)
        .bind(&v)
        .bind(model)
        .bind(trim)
        .bind(serde_json::to_string(&sorted).unwrap())
        .bind(&key)
        .bind(store)
        .execute(&mut *tx)
        .await
        .unwrap();
        vins.push(v);
    }
    tx.commit().await.unwrap();
    vins
}

pub fn buyer(n: u32) -> Value {
    json!({ "name": format!("买家{n}"), "mobile": format!("139{n:08}") })
}

/// Places an order; returns status, body and whether it was a replay.
pub async fn place(
    server: &Server,
    slug: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value, bool) {
    let resp = server
        .client
        .post(format!("{}/t/{slug}/api/v1/public/orders", server.base))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed,
    )
}

/// An aurora order by VIN of one fresh `s7`/`s7-pro` vehicle at sh01 (serial `serial`) for
/// buyer `n` under the key `key`, asserted placed: the build's options, the VIN and the answer.
pub async fn order_by_vin(
    server: &Server,
    serial: u32,
    n: u32,
    key: &str,
) -> (Vec<String>, String, Value) {
    let (_, options) = saved_build(server, "aurora", "s7", "s7-pro").await;
    let vins = stock(
        server, "aurora", "sh01", "s7", "s7-pro", &options, serial, 1,
    )
    .await;
    let body = json!({ "vin": vins[0], "store": "sh01", "buyer": buyer(n) });
    let (status, placed, _) = place(server, "aurora", key, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let vin = vins[0].clone();
    (options, vin, placed)
}

/// Counts rows of `table` of one tenant.
pub async fn count(server: &Server, slug: &str, table: &str, filter: &str) -> i64 {
    let tenant_id = server.tenant_id(slug).await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    // Table and filter are constants of these tests.
    let n: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = $1 {filter}"
    ))
    .bind(&tenant_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap()
    .try_get("n")
    .unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_buyers_for_ten_units_buy_exactly_ten() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    // Ten units across two stores of the network.
    stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 1, 6).await;
    stock(&server, "aurora", "bj01", "s7", "s7-pro", &options, 7, 4).await;
    let mut tasks = Vec::new();
    for n in 0..1000u32 {
        let server_base = server.base.clone();
        let client = server.client.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(n) });
            let resp = client
                .post(format!("{server_base}/t/aurora/api/v1/public/orders"))
                .header("Idempotency-Key", format!("launch-{n}"))
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.expect("json");
            (status, body)
        }));
    }
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut vins = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        *by_status.entry(status.as_u16()).or_default() += 1;
        if status == StatusCode::CREATED {
            assert!(
                vins.insert(body["vin"].as_str().unwrap().to_string()),
                "a VIN sold twice: {body}"
            );
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["code"], "sold_out", "{body}");
            assert!(
                body["detail"].as_str().unwrap().contains("sold out"),
                "{body}"
            );
        }
    }
    assert_eq!(by_status.get(&201), Some(&10), "{by_status:?}");
    assert_eq!(by_status.get(&409), Some(&990), "{by_status:?}");
    assert_eq!(count(&server, "aurora", "orders", "").await, 10);
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'reserved'"
        )
        .await,
        10
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'free'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "workflow_instances",
            "AND subject_type = 'vehicle_order'"
        )
        .await,
        10
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND order_id IS NOT NULL"
        )
        .await,
        10,
        "every reserved vehicle names its order"
    );
}

/// SQLite's background writers (the order writer, the scheduler, the refund worker, the relay's
/// write transactions) run on one thread of their own, so the HTTP side's request tasks never
/// stand between the statements of a transaction holding the write lock; on PostgreSQL they run
/// on the server's runtime. An order placed through the writer is answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_run_on_their_own_thread() {
    let server = Server::demo().await;
    let db = &server.state.db;
    let here = std::thread::current().id();
    let (name, id) = db
        .spawn_writer(async {
            let t = std::thread::current();
            (t.name().map(str::to_string), t.id())
        })
        .await
        .expect("the task ran");
    match db.backend {
        forecourt::store::Backend::Sqlite => {
            assert_eq!(name.as_deref(), Some("db-writers"));
            assert_ne!(id, here);
            // The same thread every time.
            let again = db
                .spawn_writer(async { std::thread::current().id() })
                .await
                .expect("the task ran");
            assert_eq!(again, id);
        }
        forecourt::store::Backend::Postgres => {
            assert_ne!(name.as_deref(), Some("db-writers"))
        }
    }
    // A short write handed over with `on_writers` runs there too, and its result comes back.
    let (name, answer) = db
        .on_writers(async { (std::thread::current().name().map(str::to_string), 42) })
        .await;
    assert_eq!(answer, 42);
    assert_eq!(
        name.as_deref() == Some("db-writers"),
        db.backend == forecourt::store::Backend::Sqlite,
        "{name:?}"
    );
    let (_, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    let vins = stock(
        &server, "aurora", "sh01", "s7", "s7-pro", &options, 9_001, 1,
    )
    .await;
    let body = json!({ "vin": vins[0], "store": "sh01", "buyer": buyer(1) });
    let (status, placed, _) = place(&server, "aurora", "writer-thread", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["vin"], vins[0].as_str());
}

/// The batch's reservation of many vehicles at once: each vehicle goes to the order that asked
/// for it only while it is free or its reservation lapsed; the answer names exactly the
/// vehicles won, with their store and build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_vehicles_are_reserved_at_once_only_where_free() {
    use forecourt::inventory::stock::{reserve_many, Hold};
    let server = Server::demo().await;
    let db = &server.state.db;
    let tenant_id = server.tenant_id("aurora").await;
    let (_, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    let vins = stock(
        &server, "aurora", "sh01", "s7", "s7-pro", &options, 9_101, 3,
    )
    .await;
    fn hold<'a>(vin: &'a str, order_id: &'a str, until: i64) -> Hold<'a> {
        Hold {
            vin,
            order_id,
            until,
        }
    }
    let now = forecourt::store::now_ms();
    let mut tx = db.write_tx(&tenant_id).await.unwrap();
    let won = reserve_many(
        &mut tx,
        db.backend,
        &tenant_id,
        &[
            hold(&vins[0], "order-a", now + 60_000),
            hold(&vins[1], "order-b", now + 1),
        ],
        now,
    )
    .await
    .unwrap();
    assert_eq!(won.len(), 2, "{won:?}");
    assert_eq!(won[&vins[0]].store, "sh01");
    assert!(won[&vins[0]].build_key.starts_with("s7/s7-pro/"));
    // Held vehicles go to nobody else; a free one and a lapsed one do; an unknown VIN is not won.
    let later = now + 10;
    let won = reserve_many(
        &mut tx,
        db.backend,
        &tenant_id,
        &[
            hold(&vins[0], "order-c", later + 60_000),
            hold(&vins[1], "order-d", later + 60_000),
            hold(&vins[2], "order-e", later + 60_000),
            hold("LFV0000000000NONE", "order-f", later + 60_000),
        ],
        later,
    )
    .await
    .unwrap();
    let mut names: Vec<&str> = won.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, vec![vins[1].as_str(), vins[2].as_str()]);
    let held: Vec<(String, Option<String>)> = {
        let mut out = Vec::new();
        for vin in &vins {
            let row = sqlx::query(
                "SELECT hold, order_id FROM vehicles WHERE tenant_id = $1 AND vin = $2",
            )
            .bind(&tenant_id)
            .bind(vin)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            out.push((row.get("hold"), row.get("order_id")));
        }
        out
    };
    assert_eq!(
        held,
        vec![
            ("reserved".to_string(), Some("order-a".to_string())),
            ("reserved".to_string(), Some("order-d".to_string())),
            ("reserved".to_string(), Some("order-e".to_string())),
        ]
    );
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_finds_exactly_the_keys_stored_before_whatever_their_scope() {
    use forecourt::idempotency::{remember, stored_keys, Stored};
    let server = Server::demo().await;
    let db = &server.state.db;
    let aurora = server.tenant_id("aurora").await;
    let shudao = server.tenant_id("shudao").await;
    let now = forecourt::store::now_ms();
    let first = Stored {
        status: 201,
        body: "{}".into(),
    };
    for (tenant, scope, key) in [
        (&aurora, "guest", "k-1"),
        (&aurora, "guest", "k-2"),
        (&aurora, "buyer:b1", "k-1"),
        (&shudao, "guest", "k-3"),
    ] {
        let mut tx = db.write_tx(tenant).await.unwrap();
        assert!(remember(&mut tx, tenant, scope, key, "print", &first, now)
            .await
            .unwrap());
        tx.commit().await.unwrap();
    }
    let mut tx = db.write_tx(&aurora).await.unwrap();
    let asked = [
        ("guest", "k-1"),
        ("guest", "k-3"),    // stored for another tenant only
        ("buyer:b1", "k-1"), // the same key in another scope
        ("buyer:b1", "k-2"), // stored in another scope only
        ("buyer:b2", "k-1"), // nobody's
        ("guest", "k-2"),
        ("guest", "it's \"odd\""), // quotes survive the trip as one list
    ];
    let found = stored_keys(&mut tx, &aurora, &asked).await.unwrap();
    tx.rollback().await.unwrap();
    let mut found: Vec<(String, String)> = found.into_iter().collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("buyer:b1".to_string(), "k-1".to_string()),
            ("guest".to_string(), "k-1".to_string()),
            ("guest".to_string(), "k-2".to_string()),
        ]
    );
    let mut tx = db.write_tx(&aurora).await.unwrap();
    assert!(stored_keys(&mut tx, &aurora, &[]).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_has_one_effect_and_replays_its_first_answer() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 100, 3).await;
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(1) });

    let (status, first, replayed) = place(&server, "aurora", "key-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    assert_eq!(first["state"], "deposit");
    let token = first["tracking_token"].as_str().unwrap();
    assert_eq!(token.len(), forecourt::orders::TRACKING_TOKEN_LEN);
    assert!(
        token.starts_with(&first["id"].as_str().unwrap().replace('-', "")),
        "the token names its order: {token}"
    );
    let (status, again, replayed) = place(&server, "aurora", "key-1", &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed, "a retry is marked as a replay");
    assert_eq!(again, first, "a retry replays the first answer");
    assert_eq!(count(&server, "aurora", "orders", "").await, 1);

    // The same key with another body is refused and changes nothing.
    let other = json!({ "configuration": code, "store": "sh01", "buyer": buyer(2) });
    let (status, refused, _) = place(&server, "aurora", "key-1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "idempotency_key_reused");
    assert_eq!(count(&server, "aurora", "orders", "").await, 1);

    // Twenty concurrent requests with one key: one order, twenty identical answers.
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(3) });
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = server.client.clone();
        let url = format!("{}/t/aurora/api/v1/public/orders", server.base);
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .header("Idempotency-Key", "key-burst")
                .json(&body)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every duplicate got the first answer"
    );
    assert_eq!(count(&server, "aurora", "orders", "").await, 2);

    // A refusal by the state of the world is an answer too: sold out is replayed as sold out.
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(4) });
    let (status, _, _) = place(&server, "aurora", "key-3", &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(5) });
    let (status, sold_out, _) = place(&server, "aurora", "key-4", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{sold_out}");
    let (status, again, replayed) = place(&server, "aurora", "key-4", &body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(replayed);
    assert_eq!(again["code"], "sold_out");

    // The first answer stands even when the world changed since: with the saved build gone,
    // a retry of an acknowledged order still replays it.
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    sqlx::query("DELETE FROM saved_configurations WHERE tenant_id = $1")
        .bind(&tenant_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // As seen by a node that has not cached the build (another node, or after a restart).
    server.state.saved_configurations.invalidate_all();
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(1) });
    let (status, again, replayed) = place(&server, "aurora", "key-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(replayed);
    assert_eq!(again, first);

    // After 24 hours a key is forgotten: the same key with another body is a new request.
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = 0 WHERE tenant_id = $1 AND key = 'key-1'",
    )
    .bind(&tenant_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let fresh = json!({ "configuration": code, "store": "sh01", "buyer": buyer(9) });
    let (status, answer, replayed) = place(&server, "aurora", "key-1", &fresh).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["code"], "unknown_configuration",
        "a new attempt, not a reused key: {answer}"
    );
    assert!(!replayed);

    // A request without a key is refused before anything happens.
    let resp = server
        .client
        .post(format!("{}/t/aurora/api/v1/public/orders", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("Idempotency-Key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_orders_are_refused_clearly_and_change_nothing() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    let vins = stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 200, 1).await;
    let mut bad_vin = vins[0].clone();
    // Break the check digit.
    let nine = bad_vin.as_bytes()[8];
    bad_vin.replace_range(8..9, if nine == b'1' { "2" } else { "1" });
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({ "vin": bad_vin, "store": "sh01", "buyer": buyer(1) }),
            422,
            "invalid_vin",
            "check digit",
        ),
        (
            json!({ "vin": "LFV2A2BS", "store": "sh01", "buyer": buyer(1) }),
            422,
            "invalid_vin",
            "17 characters",
        ),
        (
            json!({ "vin": vin(999_999), "store": "sh01", "buyer": buyer(1) }),
            422,
            "unknown_vehicle",
            "no vehicle",
        ),
        (
            json!({ "configuration": "zzzzzzzzzzzz", "store": "sh01", "buyer": buyer(1) }),
            422,
            "unknown_configuration",
            "no saved configuration",
        ),
        (
            json!({ "configuration": code, "vin": vins[0], "store": "sh01", "buyer": buyer(1) }),
            422,
            "invalid_order",
            "exactly one",
        ),
        (
            json!({ "configuration": code, "store": "nowhere", "buyer": buyer(1) }),
            422,
            "invalid_order",
            "no store",
        ),
        (
            json!({ "configuration": code, "store": "sh01", "buyer": buyer(1), "currency": "USD" }),
            422,
            "currency_mismatch",
            "CNY",
        ),
        (
            json!({ "configuration": code, "store": "sh01", "buyer": { "name": "", "mobile": "12" } }),
            422,
            "invalid_order",
            "/buyer/mobile",
        ),
        (
            json!({ "configuration": code, "store": "sh01", "buyer": { "name": "张三", "mobile": "13912345678", "id_number": "110105194912310021" } }),
            422,
            "invalid_order",
            "check character",
        ),
        (
            json!({ "configuration": code, "store": "sh01", "buyer": buyer(1), "price": -1 }),
            422,
            "invalid_body",
            "unknown field",
        ),
    ];
    for (i, (body, status, code_expected, detail)) in cases.into_iter().enumerate() {
        let (got, answer, _) = place(&server, "aurora", &format!("bad-{i}"), &body).await;
        assert_eq!(got.as_u16(), status, "case {i}: {answer}");
        assert_eq!(answer["code"], code_expected, "case {i}: {answer}");
        assert!(
            answer.to_string().contains(detail),
            "case {i}: `{detail}` not in {answer}"
        );
    }
    assert_eq!(count(&server, "aurora", "orders", "").await, 0);
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'free'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&server, "aurora", "idempotency_keys", "").await,
        0,
        "refusals of bad input are not kept"
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "workflow_instances",
            "AND subject_type = 'vehicle_order'"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_orders_of_their_reach_with_buyer_data_masked_unless_allowed() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    // The vehicle is at a dealer (sh02) while a direct store (sh01) sells the car.
    stock(&server, "aurora", "sh02", "s7", "s7-pro", &options, 300, 1).await;
    let body = json!({ "configuration": code, "store": "sh01", "buyer": { "name": "王小明", "mobile": "13912345678", "id_number": "11010519491231002X" } });
    let (status, placed, _) = place(&server, "aurora", "staff-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["fulfilling_store"], "sh02");
    let id = placed["id"].as_str().unwrap();

    // The selling store's manager sees the buyer (pii.read on sh01).
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let (status, page) = server.get("/api/v1/orders", &manager).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["orders"].as_array().unwrap().len(), 1);
    assert_eq!(page["orders"][0]["buyer"]["mobile"], "13912345678");
    assert_eq!(page["orders"][0]["buyer"]["unmasked"], true);
    // A consultant of the store sees it masked.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let (_, page) = server.get("/api/v1/orders", &sales).await;
    assert_eq!(page["orders"][0]["buyer"]["mobile"], "139****5678");
    assert_eq!(page["orders"][0]["buyer"]["name"], "王**");
    assert_eq!(
        page["orders"][0]["buyer"]["id_number"],
        "110***********002X"
    );
    // The fulfilling dealer sees the same order and state.
    let stock_sh02 = server.login("aurora", "stock.sh02@aurora.example").await;
    let (status, detail) = server
        .get(&format!("/api/v1/orders/{id}"), &stock_sh02)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["state"], "deposit");
    assert_eq!(detail["buyer"]["unmasked"], false);
    // Staff find it by the number the buyer reads out (any case, in groups, O for 0).
    let number = placed["number"].as_str().unwrap();
    let spoken = format!("{}-{}", &number[..6], &number[6..])
        .to_lowercase()
        .replace('0', "o");
    let (status, found) = server
        .get(&format!("/api/v1/orders?number={spoken}"), &sales)
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["orders"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["orders"][0]["id"], placed["id"]);
    let other_number = if number.starts_with('Z') {
        "Y23456789ABC"
    } else {
        "Z23456789ABC"
    };
    let (_, none) = server
        .get(&format!("/api/v1/orders?number={other_number}"), &sales)
        .await;
    assert_eq!(none["orders"].as_array().unwrap().len(), 0, "{none}");
    let (status, bad) = server.get("/api/v1/orders?number=12345", &sales).await;
    assert_problem(status, &bad, 422, "invalid_number");
    assert_eq!(bad["errors"][0]["pointer"], "number", "{bad}");
    // A consultant elsewhere sees nothing of it, by number neither.
    let other = server.login("aurora", "sales.bj01@aurora.example").await;
    let (_, page) = server.get("/api/v1/orders", &other).await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 0, "{page}");
    let (_, page) = server
        .get(&format!("/api/v1/orders?number={number}"), &other)
        .await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 0, "{page}");
    let (status, _) = server.get(&format!("/api/v1/orders/{id}"), &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Personal data is sealed at rest.
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let row = sqlx::query("SELECT buyer_name_enc, buyer_mobile_enc, buyer_id_number_enc FROM orders WHERE tenant_id = $1")
        .bind(&tenant_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    for column in ["buyer_name_enc", "buyer_mobile_enc", "buyer_id_number_enc"] {
        let sealed: String = row.try_get(column).unwrap();
        assert!(
            !sealed.contains("13912345678")
                && !sealed.contains("王小明")
                && !sealed.contains("1101051949"),
            "{column} holds plain data"
        );
    }
    tx.commit().await.unwrap();

    // The guest follows the order through the tracking link, with their data masked.
    let token = placed["tracking_token"].as_str().unwrap();
    let (status, tracked) = track(&server, token).await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(tracked["number"], placed["number"]);
    assert_eq!(tracked["amount_due"], placed["deposit"]);
    assert!(tracked["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "cancel"));
    assert_eq!(tracked["buyer"]["mobile"], "139****5678");
    // A guessed token finds nothing.
    let (status, _) = track(&server, "0123456789abcdefghjkmnpqrs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor does the order's id with another secret.
    let forged = format!("{}{}", &token[..32], "0123456789abcdefghjkmnpqrs");
    assert_ne!(forged, token);
    let (status, _) = track(&server, &forged).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A link issued before tokens named their order (the secret alone, stored as its hash)
    // still finds it.
    let old = "abcdefghjkmnpqrs0123456789";
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    sqlx::query("UPDATE orders SET tracking_hash = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(forecourt::orders::token_hash(old))
        .bind(&tenant_id)
        .bind(placed["id"].as_str().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (status, tracked) = track(&server, old).await;
    assert_eq!(status, StatusCode::OK, "{tracked}");
    assert_eq!(tracked["number"], placed["number"]);
    let (status, _) = track(&server, token).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the old link replaced the new one"
    );
    let token = old;

    // The buyer cancels before paying: the vehicle goes back to stock.
    let (status, cancelled) = server
        .call(
            Method::POST,
            &format!("/t/aurora/api/v1/public/orders/{token}/commands"),
            None,
            Some(json!({ "transition": "cancel", "input": { "reason": "changed my mind" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'free' AND order_id IS NULL"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_reservation_releases_the_vehicle() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 400, 1).await;
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(1) });
    let (status, first, _) = place(&server, "aurora", "lapse-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Sold out for the next buyer while the reservation holds.
    let body2 = json!({ "configuration": code, "store": "sh01", "buyer": buyer(2) });
    let (status, _, _) = place(&server, "aurora", "lapse-2", &body2).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Let the reservation lapse (as if 30 minutes passed).
    let tenant_id = server.tenant_id("aurora").await;
    let past = forecourt::store::now_ms() - 1000;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    for sql in [
        "UPDATE vehicles SET reserved_until = $1 WHERE tenant_id = $2",
        "UPDATE orders SET reserved_until = $1 WHERE tenant_id = $2",
    ] {
        sqlx::query(sql)
            .bind(past)
            .bind(&tenant_id)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // Paying the deposit now is refused: the reservation is gone.
    let token = first["tracking_token"].as_str().unwrap();
    let resp = server
        .client
        .post(format!(
            "{}/t/aurora/api/v1/public/orders/{token}/payments",
            server.base
        ))
        .header("Idempotency-Key", "pay-late")
        .json(&json!({ "kind": "deposit", "amount": first["deposit"], "currency": "CNY" }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(
        status == StatusCode::CONFLICT || status == StatusCode::SERVICE_UNAVAILABLE,
        "{status} {text}"
    );
    if status == StatusCode::CONFLICT {
        assert!(text.contains("reservation_expired"), "{text}");
    }

    // The next buyer gets the vehicle at once, before any sweeper ran.
    let (status, second, _) = place(&server, "aurora", "lapse-3", &body2).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["vin"], first["vin"]);
}

/// Starts paying `kind` of the order behind `token`; returns status and body.
pub async fn pay(
    server: &Server,
    token: &str,
    key: &str,
    kind: &str,
    amount: i64,
    currency: &str,
) -> (StatusCode, Value, bool) {
    let resp = server
        .client
        .post(format!(
            "{}/t/aurora/api/v1/public/orders/{token}/payments",
            server.base
        ))
        .header("Idempotency-Key", key)
        .json(&json!({ "kind": kind, "amount": amount, "currency": currency }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    (status, resp.json().await.unwrap(), replayed)
}

/// The buyer pays on the fake provider's page (what its Pay button does).
pub async fn complete_on_provider(server: &Server, redirect_url: &str) -> Value {
    let id = redirect_url.rsplit('/').next().unwrap();
    let resp = server
        .client
        .post(format!(
            "{}/__fake/payments/{id}/complete",
            server.fakepay.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// The tracking view of the aurora order behind `token`, as a guest opens it.
pub async fn track(server: &Server, token: &str) -> (StatusCode, Value) {
    server
        .call(
            Method::GET,
            &format!("/t/aurora/api/v1/public/orders/{token}"),
            None,
            None,
        )
        .await
}

/// Polls the tracking view until `check` holds (callbacks arrive in the background).
pub async fn tracked_until(server: &Server, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (status, tracked) = track(server, token).await;
        assert_eq!(status, StatusCode::OK, "{tracked}");
        if check(&tracked) {
            return tracked;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the order never reached the expected state");
}

async fn callbacks(server: &Server, verdict: &str) -> i64 {
    count(
        server,
        "aurora",
        "payment_callbacks",
        &format!("AND verdict = '{verdict}'"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_paid_allocated_and_delivered_and_only_verified_callbacks_count() {
    let server = Server::demo().await;
    let (options, vin, placed) = order_by_vin(&server, 500, 1, "life-1").await;
    let token = placed["tracking_token"].as_str().unwrap().to_string();
    let deposit = placed["deposit"].as_i64().unwrap();
    let price = placed["price"].as_i64().unwrap();

    // Bad payments change nothing.
    for (kind, amount, currency, code) in [
        ("deposit", -5, "CNY", "invalid_amount"),
        ("deposit", deposit - 1, "CNY", "amount_mismatch"),
        ("deposit", deposit, "USD", "currency_mismatch"),
        ("balance", price - deposit, "CNY", "nothing_due"),
    ] {
        let (status, refused, _) = pay(
            &server,
            &token,
            &format!("bad-{code}"),
            kind,
            amount,
            currency,
        )
        .await;
        assert!(
            status.is_client_error(),
            "{kind} {amount} {currency}: {refused}"
        );
        assert_eq!(refused["code"], code, "{refused}");
    }
    assert_eq!(count(&server, "aurora", "payments", "").await, 0);

    // The deposit: one provider payment however often the buyer retries.
    let (status, payment, _) = pay(&server, &token, "dep-1", "deposit", deposit, "CNY").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let (status, again, replayed) = pay(&server, &token, "dep-1", "deposit", deposit, "CNY").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed);
    assert_eq!(again, payment);
    let redirect = payment["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with(&server.fakepay.base_url()),
        "{redirect}"
    );
    complete_on_provider(&server, redirect).await;
    let tracked = tracked_until(&server, &token, |t| t["state"] == "confirmed").await;
    assert_eq!(tracked["paid"], deposit);
    assert_eq!(tracked["payments"][0]["status"], "succeeded");

    // A replayed event is acknowledged and ignored.
    let events: Value = server
        .client
        .get(format!("{}/__fake/events", server.fakepay.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = events.as_array().unwrap().last().unwrap().clone();
    let resent: Value = server
        .client
        .post(format!(
            "{}/__fake/events/{}/resend",
            server.fakepay.base_url(),
            event["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resent["status"], 200, "{resent}");
    assert_eq!(callbacks(&server, "replay").await, 1);
    // A forged event (amount changed, signature kept) and an unsigned one are refused.
    let forged = event["body"]
        .as_str()
        .unwrap()
        .replace(&format!("\"amount\":{deposit}"), "\"amount\":1");
    assert_ne!(forged, event["body"].as_str().unwrap());
    let callback = format!("{}/t/aurora/api/v1/public/payments/callback", server.base);
    let resp = server
        .client
        .post(&callback)
        .header("content-type", "application/json")
        .header("FakePay-Signature", event["signature"].as_str().unwrap())
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = server
        .client
        .post(&callback)
        .header("content-type", "application/json")
        .body(event["body"].as_str().unwrap().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(callbacks(&server, "rejected").await, 2);
    let tracked = tracked_until(&server, &token, |_| true).await;
    assert_eq!(tracked["paid"], deposit, "nothing changed");
    assert_eq!(tracked["state"], "confirmed");

    // The store allocates the vehicle, the buyer pays the balance, the store hands it over.
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let id = placed["id"].as_str().unwrap();
    let (_, detail) = server.get(&format!("/api/v1/orders/{id}"), &manager).await;
    assert!(
        detail["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "allocate"),
        "{detail}"
    );
    // Allocated from another dealer's stock (a vehicle of the same build at hz01): the order,
    // its workflow subject and the step's event all name the new vehicle and where it is.
    let other = stock(&server, "aurora", "hz01", "s7", "s7-pro", &options, 510, 1).await;
    let (status, allocated) = server
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/commands"),
            Some(&manager),
            Some(json!({ "transition": "allocate", "version": detail["version"], "input": { "vin": other[0] } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{allocated}");
    assert_eq!(allocated["state"], "allocated");
    assert_eq!(allocated["vin"], other[0].as_str(), "{allocated}");
    assert_eq!(allocated["fulfilling_store"], "hz01", "{allocated}");
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            &format!("AND vin = '{}' AND hold = 'sold'", other[0])
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            &format!("AND vin = '{vin}' AND hold = 'free'")
        )
        .await,
        1,
        "the vehicle held before goes back to stock"
    );
    let tenant_id = server.tenant_id("aurora").await;
    let mut tx = server.state.db.tenant_tx(&tenant_id).await.unwrap();
    let body: String = sqlx::query_scalar(
        "SELECT body FROM workflow_instances WHERE tenant_id = $1 AND subject_id = $2 \
         AND subject_type = 'vehicle_order'",
    )
    .bind(&tenant_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE tenant_id = $1 AND subject_id = $2 \
         AND name = 'order.allocated'",
    )
    .bind(&tenant_id)
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let instance: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(instance["subject"]["vin"], other[0].as_str(), "{instance}");
    assert_eq!(
        instance["subject"]["fulfilling_store"], "hz01",
        "{instance}"
    );
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["subject"]["vin"], other[0].as_str(), "{event}");
    assert_eq!(event["subject"]["fulfilling_store"], "hz01", "{event}");
    let (status, payment, _) =
        pay(&server, &token, "bal-1", "balance", price - deposit, "CNY").await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    complete_on_provider(&server, payment["redirect_url"].as_str().unwrap()).await;
    let tracked = tracked_until(&server, &token, |t| t["state"] == "ready").await;
    assert_eq!(tracked["paid"], price);
    assert_eq!(tracked["amount_due"], 0);
    let (status, delivered) = server
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/commands"),
            Some(&manager),
            Some(json!({ "transition": "deliver", "version": allocated["version"].as_i64().unwrap() + 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    assert_eq!(delivered["state"], "delivered");
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND stage = 'delivered'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_is_refunded_by_the_tenants_rules() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 600, 1).await;
    let body = json!({ "configuration": code, "store": "sh01", "buyer": buyer(1) });
    let (status, placed, _) = place(&server, "aurora", "refund-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let token = placed["tracking_token"].as_str().unwrap().to_string();
    let deposit = placed["deposit"].as_i64().unwrap();
    let (_, payment, _) = pay(&server, &token, "dep", "deposit", deposit, "CNY").await;
    complete_on_provider(&server, payment["redirect_url"].as_str().unwrap()).await;
    let tracked = tracked_until(&server, &token, |t| t["state"] == "confirmed").await;

    // Cancelled while confirmed: the rules keep nothing, so the whole deposit goes back.
    let (status, cancelled) = server
        .call(
            Method::POST,
            &format!("/t/aurora/api/v1/public/orders/{token}/commands"),
            None,
            Some(json!({ "transition": "cancel", "version": tracked["version"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    // One refund of the whole deposit (the node's refund worker may be sending it already).
    assert_eq!(
        count(
            &server,
            "aurora",
            "refunds",
            &format!("AND amount = {deposit}")
        )
        .await,
        1,
        "{cancelled}"
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'free'"
        )
        .await,
        1,
        "the vehicle is back in stock"
    );
    // The refund worker sends it; the provider confirms it with a signed callback.
    let sent = forecourt::payments::send_refunds_once(&server.state, 10)
        .await
        .unwrap();
    assert!(sent <= 1);
    let tracked = tracked_until(&server, &token, |t| t["refunded"] == deposit).await;
    assert_eq!(tracked["paid"], deposit);
    assert_eq!(
        count(&server, "aurora", "refunds", "AND status = 'succeeded'").await,
        1
    );
    // Paying anything on a cancelled order is refused.
    let (status, refused, _) = pay(&server, &token, "late", "deposit", deposit, "CNY").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "order_closed");
}

/// One burst mixing buyers of named VINs, buyers of the build (whose search may pick those same
/// VINs) and retries of the same key: the desk places them in shared batches, and still every
/// vehicle goes to one order and every retry gets its twin's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_vins_and_build_orders_in_one_burst_never_share_a_vehicle() {
    let server = Server::demo().await;
    let (code, options) = saved_build(&server, "aurora", "s7", "s7-pro").await;
    let vins = stock(&server, "aurora", "sh01", "s7", "s7-pro", &options, 101, 8).await;
    let mut tasks = Vec::new();
    let mut send = |key: String, body: Value| {
        let base = server.base.clone();
        let client = server.client.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(format!("{base}/t/aurora/api/v1/public/orders"))
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.expect("json");
            (key, status, body)
        }));
    };
    for n in 0..100u32 {
        // 25 buyers for each of the first four VINs …
        let vin = &vins[(n % 4) as usize];
        send(
            format!("vin-{n}"),
            json!({ "vin": vin, "store": "sh01", "buyer": buyer(n) }),
        );
        // … and 100 for the build, from two stores; the first ten keys sent twice.
        let body = json!({
            "configuration": code,
            "store": if n % 2 == 0 { "sh01" } else { "bj01" },
            "buyer": buyer(1000 + n),
        });
        if n < 10 {
            send(format!("build-{n}"), body.clone());
        }
        send(format!("build-{n}"), body);
    }
    let mut answers: BTreeMap<String, Vec<(StatusCode, Value)>> = BTreeMap::new();
    for t in tasks {
        let (key, status, body) = t.await.unwrap();
        answers.entry(key).or_default().push((status, body));
    }
    let mut sold = std::collections::HashSet::new();
    for (key, got) in &answers {
        let (status, body) = &got[0];
        match *status {
            StatusCode::CREATED => {
                let vin = body["vin"]
                    .as_str()
                    .expect("a placed order has its vehicle");
                assert!(sold.insert(vin.to_string()), "{vin} sold twice ({key})");
            }
            StatusCode::CONFLICT => assert_eq!(body["code"], "sold_out", "{key}: {body}"),
            other => panic!("{key}: unexpected {other}: {body}"),
        }
        if let [(s1, b1), (s2, b2)] = got.as_slice() {
            assert_eq!(s1, s2, "{key}: twins answered differently: {b1} / {b2}");
            if *s1 == StatusCode::CREATED {
                assert_eq!(b1["id"], b2["id"], "{key}: one key, two orders");
            }
        }
    }
    assert_eq!(sold.len(), 8, "every unit sold once: {sold:?}");
    assert_eq!(count(&server, "aurora", "orders", "").await, 8);
    assert_eq!(
        count(
            &server,
            "aurora",
            "vehicles",
            "AND vin LIKE 'LFV2A2BS%' AND hold = 'reserved' AND order_id IS NOT NULL"
        )
        .await,
        8
    );
    assert_eq!(
        count(
            &server,
            "aurora",
            "workflow_instances",
            "AND subject_type = 'vehicle_order'"
        )
        .await,
        8
    );
}

/// The due-queue indexes hold only waiting rows, so a statement that names its rows by key
/// (the relay's read and settlement of listed messages, cancelling one instance's timers) is planned on the
/// key, not as a walk over every pending row — under a launch-day backlog that walk cost 15 ms
/// per relay claim. The recipient index holds only sms messages (the sign-in code limit is
/// its one reader), not every order notification. On SQLite the plans are checked (its planner has no statistics to go by);
/// PostgreSQL plans by statistics, so there the test checks that the indexes are partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_statements_by_key_use_the_key() {
    let server = Server::demo().await;
    if server.state.db.backend == forecourt::store::Backend::Postgres {
        for (index, waiting) in [
            ("outbox_due", "'pending'"),
            ("workflow_timers_due", "'pending'"),
            ("refunds_due", "'requested'"),
            ("outbox_recipient", "'sms'"),
            ("orders_buyer", "buyer_id IS NOT NULL"),
        ] {
            let definition: String =
                sqlx::query("SELECT indexdef FROM pg_indexes WHERE indexname = $1")
                    .bind(index)
                    .fetch_one(&server.state.db.pool)
                    .await
                    .unwrap()
                    .try_get("indexdef")
                    .unwrap();
            assert!(
                definition.contains("WHERE") && definition.contains(waiting),
                "{index} should hold only the rows its readers ask for: {definition}"
            );
        }
        return;
    }
    let ids = vec!["?"; 100].join(", ");
    let cases = [
        (
            format!(
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1 \
                 WHERE tenant_id = ? AND status = 'pending' AND id IN ({ids})"
            ),
            "USING INDEX sqlite_autoindex_outbox_1 (tenant_id=? AND id=?)",
        ),
        (
            format!(
                "SELECT id, payload FROM outbox WHERE tenant_id = ? AND status = 'pending' \
                 AND id IN ({ids}) ORDER BY id"
            ),
            "USING INDEX sqlite_autoindex_outbox_1 (tenant_id=? AND id=?)",
        ),
        (
            "UPDATE workflow_timers SET status = 'cancelled' WHERE tenant_id = ? \
             AND instance_id = ? AND status = 'pending'"
                .to_string(),
            "USING INDEX sqlite_autoindex_workflow_timers_1 (tenant_id=? AND instance_id=?)",
        ),
        (
            "SELECT tenant_id, id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? \
             ORDER BY next_attempt_at LIMIT 100"
                .to_string(),
            "USING INDEX outbox_due (next_attempt_at<?)",
        ),
        (
            // The sign-in code rate limit: only sms messages are in the recipient index.
            "SELECT created_at FROM outbox WHERE tenant_id = ? AND kind = 'sms' \
             AND recipient = ? AND created_at > ? ORDER BY created_at"
                .to_string(),
            "INDEX outbox_recipient (tenant_id=? AND recipient=? AND created_at>?)",
        ),
        (
            // A payment, a cancellation or a delivery finds the order's vehicle by its VIN, not
            // by scanning the tenant's vehicles for the order id.
            format!(
                "UPDATE vehicles SET hold = 'sold' WHERE {}",
                forecourt::inventory::stock::HELD_BY_ORDER
            ),
            "USING INDEX sqlite_autoindex_vehicles_1 (tenant_id=? AND vin=?)",
        ),
        (
            format!(
                "SELECT 1 FROM vehicles WHERE {}",
                forecourt::inventory::stock::HELD_BY_ORDER
            ),
            "USING INDEX sqlite_autoindex_orders_1 (tenant_id=? AND id=?)",
        ),
        (
            // A signed-in buyer's orders: guest orders are not in the buyer index.
            "SELECT id FROM orders WHERE tenant_id = $1 AND buyer_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
                .to_string(),
            "USING INDEX orders_buyer (tenant_id=? AND buyer_id=?)",
        ),
    ];
    for (statement, expected) in cases {
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {statement}"))
            .fetch_all(&server.state.db.pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect();
        assert!(
            plan.iter().any(|step| step.contains(expected)),
            "{statement}\nplanned as {plan:?}, expected {expected}"
        );
    }
}
