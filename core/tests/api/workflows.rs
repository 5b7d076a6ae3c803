//! Workflows and test drives over HTTP: a booking reviewed end to end, optimistic concurrency,
//! durable timers (exactly once across two nodes, across a restart), versions pinned and
//! migrated, a two-step review uploaded as YAML, work queues, and hostile definitions.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, examples_dir, Server};

/// Tenant time zone of both demo tenants.
const TZ: &str = "Asia/Shanghai";

/// The first slot with a free demo vehicle, from tomorrow on.
pub async fn free_slot(server: &Server, tenant: &str, store: &str, model: &str) -> String {
    free_slots(server, tenant, store, model, 1).await.remove(0)
}

/// `n` slot starts with a free vehicle, from tomorrow on.
pub async fn free_slots(
    server: &Server,
    tenant: &str,
    store: &str,
    model: &str,
    n: usize,
) -> Vec<String> {
    let tz = jiff::tz::TimeZone::get(TZ).unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let mut out = Vec::new();
    for d in 1..=6 {
        let day = today.checked_add(jiff::Span::new().days(d)).unwrap();
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/t/{tenant}/api/v1/public/test-drives/slots?store={store}&model={model}&date={day}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        for slot in body["slots"].as_array().unwrap() {
            if slot["free"].as_u64().unwrap() > 0 {
                out.push(slot["start"].as_str().unwrap().to_string());
                if out.len() == n {
                    return out;
                }
            }
        }
    }
    panic!("no free slots at {store} for {model}");
}

pub async fn book(
    server: &Server,
    tenant: &str,
    store: &str,
    model: &str,
    slot: &str,
) -> (reqwest::StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/t/{tenant}/api/v1/public/test-drives"),
            None,
            Some(json!({
                "store": store, "model": model, "slot_start": slot,
                "contact": { "name": "王小明", "mobile": "13912345678" },
                "notes": "after work if possible"
            })),
        )
        .await
}

async fn buyer(server: &Server, tenant: &str, code: &str) -> Value {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/t/{tenant}/api/v1/public/test-drives/{code}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The booking's staff view (id, instance, version, actions).
async fn staff_booking(server: &Server, token: &str, tenant: &str, code: &str) -> Value {
    let (status, list) = server
        .get("/api/v1/test-drives?include_ended=true", token)
        .await;
    assert_eq!(status, 200, "{list}");
    let id = list["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .unwrap_or_else(|| panic!("booking {code} of {tenant} not in the staff list: {list}"))
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, detail) = server
        .get(&format!("/api/v1/test-drives/{id}"), token)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail
}

async fn decide(
    server: &Server,
    token: &str,
    instance: &str,
    transition: &str,
    input: Value,
    version: i64,
) -> (reqwest::StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/api/v1/workflow-instances/{instance}/commands"),
            Some(token),
            Some(json!({ "transition": transition, "input": input, "version": version })),
        )
        .await
}

/// Publishes a YAML definition of `test_drive_review` through the API as `token`.
async fn publish_yaml(
    server: &Server,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    server
        .client
        .put(format!(
            "{}/api/v1/admin/workflows/test_drive_review",
            server.base
        ))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Makes the named pending timers of every instance due now (the test's stand-in for waiting).
async fn make_due(server: &Server, timer: &str) {
    sqlx_due(&server.state.db, timer).await;
}

async fn sqlx_due(db: &forecourt::store::Db, timer: &str) {
    // Timers are tenant rows; the test works below the API, on both backends, as the schema owner
    // would: one tenant at a time.
    let tenants = forecourt::tenancy::list_tenants(db).await.unwrap();
    for t in tenants {
        let mut tx = db.tenant_tx(&t.id).await.unwrap();
        sqlx::query("UPDATE workflow_timers SET due_at = 0 WHERE tenant_id = $1 AND timer = $2 AND status = 'pending'")
            .bind(&t.id)
            .bind(timer)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn wait_for_state(server: &Server, tenant: &str, code: &str, state: &str) -> Value {
    for _ in 0..100 {
        let b = buyer(server, tenant, code).await;
        if b["state"] == state {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "booking {code} never reached `{state}`: {}",
        buyer(server, tenant, code).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_booking_is_reviewed_driven_and_rated() {
    let server = Server::demo().await;
    let slot = free_slot(&server, "aurora", "sh01", "s7").await;
    let (status, booked) = book(&server, "aurora", "sh01", "s7", &slot).await;
    assert_eq!(status, 201, "{booked}");
    let code = booked["code"].as_str().unwrap().to_string();
    assert_eq!(booked["state"], "requested");
    assert_eq!(
        booked["contact_mobile"], "139****5678",
        "the buyer page masks contact data"
    );
    assert_eq!(booked["actions"], json!(["cancel"]), "{booked}");
    assert_eq!(booked["slot_start"].as_str().unwrap(), slot);

    // The store manager sees it in the work queue and in the bookings list with full contact.
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let (status, tasks) = server.get("/api/v1/tasks", &manager).await;
    assert_eq!(status, 200, "{tasks}");
    let task = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["subject_type"] == "test_drive_booking")
        .expect("the booking awaits the manager")
        .clone();
    let mut actions: Vec<String> = serde_json::from_value(task["actions"].clone()).unwrap();
    actions.sort();
    assert_eq!(actions, ["approve", "reject", "reschedule"]);
    let detail = staff_booking(&server, &manager, "aurora", &code).await;
    assert_eq!(detail["contact_mobile"], "13912345678");
    assert!(
        detail["timers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["timer"] == "review_deadline"),
        "{detail}"
    );
    let instance = detail["instance_id"].as_str().unwrap().to_string();

    // A consultant of the store may not approve; a manager of another region's store sees nothing.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let (status, body) = decide(
        &server,
        &sales,
        &instance,
        "approve",
        json!({}),
        detail["version"].as_i64().unwrap(),
    )
    .await;
    assert_problem(status, &body, 403, "workflow.forbidden");
    let (_, sales_tasks) = server.get("/api/v1/tasks", &sales).await;
    assert!(
        sales_tasks["tasks"].as_array().unwrap().is_empty(),
        "{sales_tasks}"
    );
    let bj_sales = server.login("aurora", "sales.bj01@aurora.example").await;
    let (status, body) = server
        .get(
            &format!("/api/v1/test-drives/{}", detail["id"].as_str().unwrap()),
            &bj_sales,
        )
        .await;
    assert_problem(status, &body, 403, "forbidden");

    // Reject needs a reason (the workflow's input schema); approve moves it on.
    let v = detail["version"].as_i64().unwrap();
    let (status, body) = decide(&server, &manager, &instance, "reject", json!({}), v).await;
    assert_problem(status, &body, 422, "workflow.invalid_input");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reason"),
        "{body}"
    );
    let (status, after) = decide(&server, &manager, &instance, "approve", json!({}), v).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "approved");
    let page = buyer(&server, "aurora", &code).await;
    assert_eq!(page["state"], "approved");
    let templates: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["template"].as_str().unwrap())
        .collect();
    assert!(
        templates.contains(&"test_drive_received") && templates.contains(&"test_drive_approved"),
        "{page}"
    );
    assert!(
        page["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["transition"] == "approve" && h["by"] == "store"),
        "{page}"
    );

    // The drive ends (its `at: slot_end` timer falls due): the buyer is asked for feedback.
    make_due(&server, "slot_finished").await;
    let page = wait_for_state(&server, "aurora", &code, "completed").await;
    assert_eq!(page["actions"], json!(["feedback"]), "{page}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/t/aurora/api/v1/public/test-drives/{code}/commands"),
            None,
            Some(json!({ "transition": "feedback", "input": { "rating": 9 } })),
        )
        .await;
    assert_problem(status, &body, 422, "workflow.invalid_input");
    assert_eq!(body["errors"][0]["pointer"], "/input/rating", "{body}");
    let (status, page) = server
        .call(Method::POST, &format!("/t/aurora/api/v1/public/test-drives/{code}/commands"), None,
              Some(json!({ "transition": "feedback", "input": { "rating": 5, "comment": "安静、平顺" } })))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["state"], "closed");
    assert_eq!(page["ended"], true);
    assert_eq!(page["feedback"]["rating"], 5);
    // The full history, who and when.
    let detail = staff_booking(&server, &manager, "aurora", &code).await;
    let steps: Vec<(String, String)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_string(),
                h["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("start", "requested"),
            ("transition", "approved"),
            ("transition", "completed"),
            ("transition", "closed")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(detail["history"][1]["actor"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
    assert_eq!(detail["history"][2]["actor"], "system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_is_never_double_booked() {
    let server = Server::demo().await;
    // sh01 has two S7 demo cars: of six concurrent buyers for one slot, exactly two succeed.
    let slot = free_slot(&server, "aurora", "sh01", "s7").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let base = server.base.clone();
        let slot = slot.clone();
        tasks.push(tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/t/aurora/api/v1/public/test-drives"))
                .json(&json!({ "store": "sh01", "model": "s7", "slot_start": slot,
                               "contact": { "name": "Buyer", "mobile": "+8613800000000" } }))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => ok += 1,
            409 => assert_eq!(body["code"], "slot_taken", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 2, "two demo vehicles, two bookings");
    let (_, slots) = server
        .call(
            Method::GET,
            &format!(
                "/t/aurora/api/v1/public/test-drives/slots?store=sh01&model=s7&date={}",
                &slot[..10]
            ),
            None,
            None,
        )
        .await;
    let taken = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start"] == slot.as_str())
        .unwrap();
    assert_eq!(taken["free"], 0);

    // Bad input: each a clear 4xx, nothing booked.
    for (body, code) in [
        (
            json!({ "store": "nowhere", "model": "s7", "slot_start": slot, "contact": { "name": "A", "mobile": "13912345678" } }),
            "unknown_store",
        ),
        (
            json!({ "store": "sh01", "model": "zz", "slot_start": slot, "contact": { "name": "A", "mobile": "13912345678" } }),
            "unknown_model",
        ),
        (
            json!({ "store": "sh01", "model": "s7", "slot_start": "tomorrow", "contact": { "name": "A", "mobile": "13912345678" } }),
            "invalid_slot",
        ),
        (
            json!({ "store": "sh01", "model": "s7", "slot_start": "2020-01-01T10:00:00+08:00", "contact": { "name": "A", "mobile": "13912345678" } }),
            "invalid_slot",
        ),
        (
            json!({ "store": "sh01", "model": "s7", "slot_start": slot, "contact": { "name": "", "mobile": "12" } }),
            "invalid_booking",
        ),
    ] {
        let (status, problem) = server
            .call(
                Method::POST,
                "/t/aurora/api/v1/public/test-drives",
                None,
                Some(body),
            )
            .await;
        assert_problem(status, &problem, 422, code);
    }
    let off_grid = slot.replacen(":00:00", ":17:00", 1);
    let (status, problem) = book(&server, "aurora", "sh01", "s7", &off_grid).await;
    assert_problem(status, &problem, 422, "invalid_slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_at_once_one_wins_the_other_gets_409() {
    let server = Server::demo().await;
    let slot = free_slot(&server, "aurora", "sh01", "x9").await;
    let (_, booked) = book(&server, "aurora", "sh01", "x9", &slot).await;
    let code = booked["code"].as_str().unwrap().to_string();
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let detail = staff_booking(&server, &manager, "aurora", &code).await;
    let instance = detail["instance_id"].as_str().unwrap().to_string();
    let version = detail["version"].as_i64().unwrap();
    // The tenant admin may not decide for the store (the workflow names store managers).
    let (status, body) = decide(&server, &admin, &instance, "approve", json!({}), version).await;
    assert_problem(status, &body, 403, "workflow.forbidden");
    let second = server.login("aurora", "manager.sh01@aurora.example").await;
    let a = decide(&server, &manager, &instance, "approve", json!({}), version);
    let b = decide(
        &server,
        &second,
        &instance,
        "reject",
        json!({ "reason": "vehicle in service" }),
        version,
    );
    let ((sa, ba), (sb, bb)) = tokio::join!(a, b);
    let mut statuses = [sa.as_u16(), sb.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{ba} {bb}");
    let loser = if sa == 409 { &ba } else { &bb };
    assert_eq!(loser["code"], "stale_version", "{loser}");
    // A stale version later is a 409 too, and nothing changed.
    let (status, body) = decide(
        &server,
        &manager,
        &instance,
        "reschedule",
        json!({ "slot_start": slot }),
        version,
    )
    .await;
    assert_problem(status, &body, 409, "stale_version");
    let page = buyer(&server, "aurora", &code).await;
    assert_eq!(page["history"].as_array().unwrap().len(), 2, "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreviewed_bookings_are_cancelled_and_the_slot_freed() {
    let server = Server::demo().await;
    let slot = free_slot(&server, "aurora", "sh01", "x9").await;
    let (_, booked) = book(&server, "aurora", "sh01", "x9", &slot).await;
    let code = booked["code"].as_str().unwrap().to_string();
    let (status, _) = book(&server, "aurora", "sh01", "x9", &slot).await;
    assert_eq!(status, 409, "the only X9 is held");
    make_due(&server, "review_deadline").await;
    let page = wait_for_state(&server, "aurora", &code, "cancelled").await;
    assert_eq!(page["ended"], true);
    assert!(
        page["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["transition"] == "expire" && h["by"] == "system"),
        "{page}"
    );
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["template"] == "test_drive_cancelled"),
        "{page}"
    );
    let (status, again) = book(&server, "aurora", "sh01", "x9", &slot).await;
    assert_eq!(status, 201, "the slot is free again: {again}");
    // Messages to the buyer's inbox are delivered by being stored: no relay pass needed.
    let page = buyer(&server, "aurora", &code).await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "delivered"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_timer_fires_exactly_once_across_two_nodes() {
    let first = Server::demo().await;
    let second = Server::start_on(&first.db_url, crate::kit::settings()).await;
    let slots = free_slots(&first, "aurora", "sh01", "s7", 6).await;
    let mut codes = Vec::new();
    for slot in &slots {
        for _ in 0..2 {
            let (status, booked) = book(&first, "aurora", "sh01", "s7", slot).await;
            assert_eq!(status, 201, "{booked}");
            codes.push(booked["code"].as_str().unwrap().to_string());
        }
    }
    // Both nodes' schedulers see the twelve deadlines fall due at once.
    make_due(&first, "review_deadline").await;
    for code in &codes {
        wait_for_state(&second, "aurora", code, "cancelled").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for code in &codes {
        let page = buyer(&first, "aurora", code).await;
        let expiries = page["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["transition"] == "expire")
            .count();
        assert_eq!(expiries, 1, "{page}");
        let cancellations = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == "test_drive_cancelled")
            .count();
        assert_eq!(cancellations, 1, "one message per fired timer: {page}");
    }
    let tenant = first.tenant_id("aurora").await;
    let mut tx = first.state.db.tenant_tx(&tenant).await.unwrap();
    let fired: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow_timers WHERE tenant_id = $1 AND timer = 'review_deadline' AND status = 'fired'")
        .bind(&tenant)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fired, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_timer_survives_a_restart() {
    let server = Server::demo().await;
    let url = server.db_url.clone();
    let slot = free_slot(&server, "aurora", "bj01", "s7").await;
    let (_, booked) = book(&server, "aurora", "bj01", "s7", &slot).await;
    let code = booked["code"].as_str().unwrap().to_string();
    drop(server); // the node and its scheduler stop
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = forecourt::store::Db::connect(&url, 2).await.unwrap();
    sqlx_due(&db, "review_deadline").await; // the deadline passes while no node runs
    let restarted = Server::start_on(&url, crate::kit::settings()).await;
    let page = wait_for_state(&restarted, "aurora", &code, "cancelled").await;
    assert!(page["history"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["transition"] == "expire"));
}

fn shudao_workflow() -> String {
    std::fs::read_to_string(
        examples_dir().join("shudao-auto-group/bundle/workflows/test_drive_review.yaml"),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_two_step_review_drives_a_booking_through_both_steps() {
    // Shudao without its workflow; the integrator uploads the two-step YAML.
    let server = Server::start().await;
    let mut files = crate::kit::demo_bundle("shudao-auto-group");
    files.retain(|path, _| !path.starts_with("workflows/"));
    let dir = tempdir_with(&files);
    let source = forecourt_tenant_config::BundleSource::from_dir(&dir).unwrap();
    let bundle = forecourt_tenant_config::load(&source).unwrap();
    let tenant = forecourt::tenancy::create_for_profile(&server.state.db, &bundle.tenant().tenant)
        .await
        .unwrap();
    forecourt::bundles::apply(
        &server.state,
        &tenant,
        &source,
        "test",
        forecourt::bundles::Origin::Apply,
    )
    .await
    .unwrap();
    let snapshot = server
        .state
        .snapshots
        .get(&server.state.db, &tenant.id)
        .await
        .unwrap()
        .unwrap();
    for (email, role, unit) in [
        ("admin@shudao.example", "tenant_admin", None),
        (
            "manager.gaoxin-01@shudao.example",
            "store_manager",
            Some("gaoxin-01"),
        ),
        (
            "sales.gaoxin-01@shudao.example",
            "sales_consultant",
            Some("gaoxin-01"),
        ),
        ("integrator@shudao.example", "integrator", None),
    ] {
        forecourt::users::create_user(
            &server.state.db,
            &snapshot,
            &forecourt::users::NewUser {
                email: email.into(),
                display_name: email.into(),
                password: Some(forecourt::demo::DEMO_PASSWORD.into()),
                roles: vec![role.into()],
                unit: unit.map(str::to_string),
            },
            "test",
        )
        .await
        .unwrap();
    }
    let slot = free_slot(&server, "shudao", "gaoxin-01", "h6l").await;
    let (status, body) = book(&server, "shudao", "gaoxin-01", "h6l", &slot).await;
    assert_problem(status, &body, 409, "workflow_missing");

    let integrator = server.login("shudao", "integrator@shudao.example").await;
    let resp = publish_yaml(&server, &integrator, shudao_workflow()).await;
    assert_eq!(resp.status(), 201);
    let published: Value = resp.json().await.unwrap();
    assert_eq!(published["version"]["version"], 1);

    let (status, booked) = book(&server, "shudao", "gaoxin-01", "h6l", &slot).await;
    assert_eq!(status, 201, "{booked}");
    let code = booked["code"].as_str().unwrap().to_string();
    let manager = server
        .login("shudao", "manager.gaoxin-01@shudao.example")
        .await;
    let sales = server
        .login("shudao", "sales.gaoxin-01@shudao.example")
        .await;
    let detail = staff_booking(&server, &manager, "shudao", &code).await;
    let instance = detail["instance_id"].as_str().unwrap().to_string();
    let (status, after) = decide(
        &server,
        &manager,
        &instance,
        "approve",
        json!({}),
        detail["version"].as_i64().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "preparing", "step two: vehicle preparation");
    assert!(buyer(&server, "shudao", &code).await["state"] == "preparing");
    // Step two belongs to the store's staff who prepare the car; it is in their queue now.
    let (_, tasks) = server.get("/api/v1/tasks", &sales).await;
    assert!(
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["instance_id"] == instance.as_str() && t["actions"] == json!(["prepared"])),
        "{tasks}"
    );
    let (status, after) = decide(
        &server,
        &sales,
        &instance,
        "prepared",
        json!({}),
        after["version"].as_i64().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "approved");
    let page = buyer(&server, "shudao", &code).await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["template"] == "test_drive_approved"),
        "{page}"
    );
}

fn tempdir_with(files: &std::collections::BTreeMap<String, String>) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fc-bundle-{}", uuid::Uuid::now_v7().simple()));
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// A two-step variant of aurora's review: approve, then `prepared` by the store's stock
/// manager or consultant.
fn aurora_two_step() -> String {
    let text = std::fs::read_to_string(
        examples_dir().join("aurora-motors/bundle/workflows/test_drive_review.yaml"),
    )
    .unwrap();
    let two = shudao_workflow();
    assert!(text.contains("id: test_drive_review") && two.contains("id: test_drive_review"));
    two
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_keep_their_version_until_migrated() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let slots = free_slots(&server, "aurora", "sh01", "s7", 2).await;
    let (_, old) = book(&server, "aurora", "sh01", "s7", &slots[0]).await;
    let old_code = old["code"].as_str().unwrap().to_string();

    let resp = publish_yaml(&server, &admin, aurora_two_step()).await;
    assert_eq!(resp.status(), 201);
    let (_, new) = book(&server, "aurora", "sh01", "s7", &slots[1]).await;
    let new_code = new["code"].as_str().unwrap().to_string();
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let old_detail = staff_booking(&server, &manager, "aurora", &old_code).await;
    let new_detail = staff_booking(&server, &manager, "aurora", &new_code).await;
    assert_eq!(
        old_detail["workflow_version"], 1,
        "pinned to the version it started on"
    );
    assert_eq!(new_detail["workflow_version"], 2);
    let (status, after) = decide(
        &server,
        &manager,
        old_detail["instance_id"].as_str().unwrap(),
        "approve",
        json!({}),
        old_detail["version"].as_i64().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(after["state"], "approved", "v1 has one step");

    // Versions list; deprecating v2 sends new bookings back to v1.
    let (status, list) = server
        .get("/api/v1/admin/workflows/test_drive_review", &admin)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["versions"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v1/admin/workflows/test_drive_review/versions/2/deprecate",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let third_slot = free_slot(&server, "aurora", "sh02", "s7").await;
    let (_, third) = book(&server, "aurora", "sh02", "s7", &third_slot).await;
    let third_detail =
        staff_booking(&server, &admin, "aurora", third["code"].as_str().unwrap()).await;
    assert_eq!(third_detail["workflow_version"], 1);

    // Explicit migration: v2's running instance moves to v1 (same states but `preparing`).
    let (status, moved) = server
        .call(
            Method::POST,
            "/api/v1/admin/workflows/test_drive_review/migrate",
            Some(&admin),
            Some(json!({ "from_version": 2, "to_version": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["migrated"].as_array().unwrap().len(), 1);
    let new_detail = staff_booking(&server, &manager, "aurora", &new_code).await;
    assert_eq!(new_detail["workflow_version"], 1);
    assert_eq!(new_detail["state"], "requested");
    assert!(
        new_detail["timers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["timer"] == "review_deadline"),
        "timers re-armed: {new_detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_definitions_are_refused_and_nothing_is_published() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let put = |body: String| publish_yaml(&server, &admin, body);
    // Every error located.
    let broken = "id: test_drive_review\nsubject: test_drive_booking\nstates:\n  - name: requested\n    initial: true\n  - name: approved\n  - name: lost\ntransitions:\n  - name: approve\n    from: requested\n    to: approved\n    who: [{ role: chief_wizard, scope: same_store }]\n    guard: \"subject.store ==\"\n";
    let resp = put(broken.into()).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["code"], "workflow_invalid");
    let codes: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for want in [
        "workflow.unknown_role",
        "workflow.guard_compile",
        "workflow.unreachable_state",
        "workflow.dead_end",
    ] {
        assert!(codes.contains(&want), "{want} missing in {problem}");
    }
    for e in problem["errors"].as_array().unwrap() {
        assert_eq!(e["file"], "workflows/test_drive_review.yaml");
        assert!(e["line"].is_u64() && e["pointer"].is_string(), "{e}");
    }
    // A YAML alias bomb: refused fast.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "{}: &{} [*{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}]\n",
            (b'a' + i) as char,
            (b'a' + i) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char,
            (b'a' + i - 1) as char
        ));
    }
    let started = std::time::Instant::now();
    let resp = put(bomb).await;
    assert_eq!(resp.status(), 422);
    assert!(started.elapsed() < Duration::from_secs(5), "refused fast");
    // A recursive alias and a dangling reference: refused, located.
    for body in ["a: &a [*a]\n", "id: test_drive_review\nsubject: x\nstates: [{ name: a, initial: true }]\ntransitions: [{ name: t, from: a, to: nowhere }]\n"] {
        let resp = put(body.into()).await;
        assert_eq!(resp.status(), 422, "{body}");
        let problem: Value = resp.json().await.unwrap();
        assert_eq!(problem["code"], "workflow_invalid", "{problem}");
        assert!(!problem["errors"].as_array().unwrap().is_empty());
    }
    // 10 MB: refused before it is read.
    let big = format!(
        "id: test_drive_review\n# {}\n",
        "x".repeat(10 * 1024 * 1024)
    );
    crate::kit::assert_refused_as_too_large(
        crate::kit::one_shot_client()
            .put(format!(
                "{}/api/v1/admin/workflows/test_drive_review",
                server.base
            ))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(big),
    )
    .await;
    // A stale `version:` is a conflict.
    let text = std::fs::read_to_string(
        examples_dir().join("aurora-motors/bundle/workflows/test_drive_review.yaml"),
    )
    .unwrap();
    let resp = put(format!("version: 7\n{text}")).await;
    assert_eq!(resp.status(), 409);
    // Nothing was published by any of these.
    let (_, list) = server
        .get("/api/v1/admin/workflows/test_drive_review", &admin)
        .await;
    assert_eq!(list["versions"].as_array().unwrap().len(), 1, "{list}");

    // A guard that loops forever compiles, but firing it fails fast with a clear error, and the
    // server keeps serving.
    let looping = text.replacen(
        "    to: approved\n",
        "    to: approved\n    guard: \"loop { }\"\n",
        1,
    );
    assert_ne!(
        looping, text,
        "the demo's approve transition is where the guard goes"
    );
    let resp = put(looping).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let slot = free_slot(&server, "aurora", "sh01", "x9").await;
    let (_, booked) = book(&server, "aurora", "sh01", "x9", &slot).await;
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let detail = staff_booking(
        &server,
        &manager,
        "aurora",
        booked["code"].as_str().unwrap(),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) = decide(
        &server,
        &manager,
        detail["instance_id"].as_str().unwrap(),
        "approve",
        json!({}),
        detail["version"].as_i64().unwrap(),
    )
    .await;
    assert_problem(status, &body, 503, "workflow.guard_failed");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, _) = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_and_graph_are_served() {
    let server = Server::demo().await;
    let (status, schema) = server
        .call(Method::GET, "/api/v1/schemas/workflow.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(schema["properties"]["transitions"].is_object(), "{schema}");
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (status, v) = server
        .get(
            "/api/v1/admin/workflows/test_drive_review/versions/1",
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["graph"].as_str().unwrap().starts_with("stateDiagram-v2"),
        "{v}"
    );
    assert!(v["source"].as_str().unwrap().contains("test_drive_booking"));
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let (status, body) = server.get("/api/v1/admin/workflows", &sales).await;
    assert_problem(status, &body, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_with_a_broken_workflow_or_fleet_is_refused_whole() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let mut files = crate::kit::demo_bundle("aurora-motors");
    let wf = files["workflows/test_drive_review.yaml"].replace("to: approved\n", "to: aproved\n");
    files.insert("workflows/test_drive_review.yaml".into(), wf);
    let tenant = files["tenant.yaml"].replace(
        "{ id: bj01-x9-1, store: bj01, model: x9 }",
        "{ id: bj01-x9-1, store: bj01, model: x99 }",
    );
    files.insert("tenant.yaml".into(), tenant);
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(&admin),
            Some(json!({ "files": files })),
        )
        .await;
    assert_problem(status, &body, 422, "bundle_invalid");
    let errors = body["errors"].as_array().unwrap();
    let unknown = errors
        .iter()
        .find(|e| e["code"] == "workflow.unknown_state")
        .expect("workflow error");
    assert_eq!(unknown["file"], "workflows/test_drive_review.yaml");
    assert!(
        unknown["message"].as_str().unwrap().contains("approved"),
        "suggests the name: {unknown}"
    );
    let fleet = errors
        .iter()
        .find(|e| e["code"] == "test_drives.unknown_model")
        .expect("fleet error");
    assert_eq!(fleet["file"], "tenant.yaml");
    assert!(fleet["line"].is_u64(), "{fleet}");
    // Nothing applied: still one bundle version and one version of the review workflow.
    let (_, list) = server.get("/api/v1/admin/workflows", &admin).await;
    let reviews = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["workflow_id"] == "test_drive_review")
        .count();
    assert_eq!(reviews, 1, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reschedule_moves_the_hold_and_an_overdue_review_escalates() {
    let server = Server::demo().await;
    let slots = free_slots(&server, "aurora", "sh01", "x9", 2).await;
    let (_, booked) = book(&server, "aurora", "sh01", "x9", &slots[0]).await;
    let code = booked["code"].as_str().unwrap().to_string();
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let detail = staff_booking(&server, &manager, "aurora", &code).await;
    let instance = detail["instance_id"].as_str().unwrap().to_string();
    let v = detail["version"].as_i64().unwrap();
    let (status, body) = decide(
        &server,
        &manager,
        &instance,
        "reschedule",
        json!({ "slot_start": "next tuesday" }),
        v,
    )
    .await;
    assert_problem(status, &body, 422, "workflow.invalid_input");
    let (status, after) = decide(
        &server,
        &manager,
        &instance,
        "reschedule",
        json!({ "slot_start": slots[1] }),
        v,
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["state"], "requested");
    let page = buyer(&server, "aurora", &code).await;
    assert_eq!(page["slot_start"].as_str().unwrap(), slots[1], "{page}");
    // The old slot is free again, the new one is held.
    let (status, other) = book(&server, "aurora", "sh01", "x9", &slots[0]).await;
    assert_eq!(status, 201, "{other}");
    let (status, _) = book(&server, "aurora", "sh01", "x9", &slots[1]).await;
    assert_eq!(status, 409);

    // Four hours without a review: the region manager is reminded, the booking stays put.
    make_due(&server, "review_reminder").await;
    let tenant = server.tenant_id("aurora").await;
    let booking = detail["id"].as_str().unwrap().to_string();
    let mut reminded = false;
    for _ in 0..50 {
        let messages = forecourt::outbox::for_subject(
            &server.state.db,
            &tenant,
            "test_drive_booking",
            &booking,
        )
        .await
        .unwrap();
        if messages.iter().any(|m| {
            m.name == "test_drive_review_overdue"
                && m.recipient.as_deref() == Some("role:region_manager@sh01")
        }) {
            reminded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reminded, "the escalation reached the outbox");
    let detail = staff_booking(&server, &manager, "aurora", &code).await;
    assert_eq!(detail["state"], "requested");
    assert!(
        detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "escalation" && h["timer"] == "review_reminder"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_action_runs_the_tenant_script_into_the_outbox() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let mut files = crate::kit::demo_bundle("aurora-motors");
    files.insert(
        "scripts/workflow.crm_lead.rhai".into(),
        "fn on_step(step) {\n    #{ lead_for: step.subject.model, store: step.subject.store, state: step.state }\n}\n".into(),
    );
    files.insert(
        "scripts/workflow.crm_down.rhai".into(),
        "fn on_step(step) {\n    throw \"CRM unreachable\";\n}\n".into(),
    );
    let wf = files["workflows/test_drive_review.yaml"].replace(
        "      - emit: test_drive.approved\n",
        "      - emit: test_drive.approved\n      - hook: workflow.crm_lead\n      - hook: workflow.crm_down\n",
    );
    assert!(wf.contains("workflow.crm_lead"));
    files.insert("workflows/test_drive_review.yaml".into(), wf);
    let (status, applied) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(&admin),
            Some(json!({ "files": files })),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    let (_, list) = server
        .get("/api/v1/admin/workflows/test_drive_review", &admin)
        .await;
    assert_eq!(
        list["versions"][0]["version"], 2,
        "the bundle published its changed workflow: {list}"
    );

    let slot = free_slot(&server, "aurora", "sh01", "s7").await;
    let (_, booked) = book(&server, "aurora", "sh01", "s7", &slot).await;
    let manager = server.login("aurora", "manager.sh01@aurora.example").await;
    let detail = staff_booking(
        &server,
        &manager,
        "aurora",
        booked["code"].as_str().unwrap(),
    )
    .await;
    let (status, _) = decide(
        &server,
        &manager,
        detail["instance_id"].as_str().unwrap(),
        "approve",
        json!({}),
        detail["version"].as_i64().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let tenant = server.tenant_id("aurora").await;
    let messages = forecourt::outbox::for_subject(
        &server.state.db,
        &tenant,
        "test_drive_booking",
        detail["id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let hook = messages
        .iter()
        .find(|m| m.kind == "hook")
        .expect("hook message");
    assert_eq!(hook.name, "workflow.crm_lead");
    assert_eq!(
        hook.payload,
        json!({ "lead_for": "s7", "store": "sh01", "state": "approved" })
    );
    // A failing hook does not stop the step: its message is dead, with the reason.
    let down = messages
        .iter()
        .find(|m| m.name == "workflow.crm_down")
        .expect("failed hook kept");
    assert_eq!(down.status, "dead");
    assert!(
        down.last_error
            .as_deref()
            .unwrap()
            .contains("CRM unreachable"),
        "{down:?}"
    );
    // Integrators pull events and hook results from the feed, page by page.
    let integrator = server.login("aurora", "integrator@aurora.example").await;
    let (status, page) = server.get("/api/v1/events?limit=2", &integrator).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["events"][0]["name"], "test_drive.requested");
    let next = page["next"].as_str().unwrap().to_string();
    let (_, rest) = server
        .get(
            &format!("/api/v1/events?after={next}&limit=500"),
            &integrator,
        )
        .await;
    let names: Vec<&str> = rest["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"workflow.crm_lead"), "{rest}");
    assert!(
        rest["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "notify"),
        "notifications are not events: {rest}"
    );
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    let (status, body) = server.get("/api/v1/events", &sales).await;
    assert_problem(status, &body, 403, "forbidden");

    // A workflow naming a hook without a script is refused at publish, located.
    let text =
        files["workflows/test_drive_review.yaml"].replace("workflow.crm_lead", "workflow.missing");
    let resp = publish_yaml(&server, &admin, text).await;
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(
        problem["errors"][0]["code"], "workflow.unknown_hook",
        "{problem}"
    );
    assert!(problem["errors"][0]["line"].is_u64());
}
