//! Durability: the real `forecourt` binary is killed with SIGKILL while 32 buyers are placing
//! orders, then restarted on the same database with the same personal-data key. Every order
//! that was acknowledged (201) must be there with its vehicle; an order whose answer was lost
//! may or may not exist, but whatever exists is whole (its vehicle reservation and its
//! workflow instance), no vehicle is held twice, and retrying a lost request with its key after
//! the restart either replays the committed order or places it once.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::kit::{examples_dir, fresh_database};
use crate::orders::vin;

/// A server process; killed (SIGKILL) and reaped when dropped, so a failing test leaves no
/// server behind.
struct Node {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `forecourt serve --demo` on `db` with `key`; returns once `/readyz` answers.
async fn start(db: &str, key: &str, log: &std::path::Path) -> Node {
    let port = free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_forecourt"))
        .arg("--database-url")
        .arg(db)
        .args(["serve", "--demo", "--examples-dir"])
        .arg(examples_dir())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("FORECOURT_PII_KEY", key)
        .env("FORECOURT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start the forecourt binary");
    let mut node = Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log: log.to_path_buf(),
    };
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Some(exit) = node.child.try_wait().unwrap() {
            panic!(
                "the server exited ({exit}) before it was ready:\n{}",
                node.log_tail()
            );
        }
        if let Ok(r) = client.get(format!("{}/readyz", node.base)).send().await {
            if r.status() == StatusCode::OK {
                return node;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server was not ready after 30 s:\n{}",
            node.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An order as acknowledged to its buyer.
#[derive(Debug, Clone)]
struct Acknowledged {
    key: String,
    body: Value,
    id: String,
    number: String,
    token: String,
    vin: String,
}

/// What the buyers saw before and during the crash.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<Acknowledged>,
    /// Requests whose answer was lost (key and body): they may or may not have committed.
    lost: Vec<(String, Value)>,
    /// Other answers (status and body) — there should be none.
    unexpected: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_order_survives_sigkill_during_load() {
    let test_started = Instant::now();
    let db = fresh_database().await;
    let key = "5e".repeat(32);
    let log = std::env::temp_dir()
        .join("forecourt-tests")
        .join(format!("crash-{}.log", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let mut node = start(&db, &key, &log).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // A build and 1,000 vehicles of it, through the API.
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", node.base))
        .json(
            &json!({ "tenant": "aurora", "email": "admin@aurora.example",
                       "password": forecourt::demo::DEMO_PASSWORD }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("token").to_string();
    let saved: Value = client
        .post(format!(
            "{}/t/aurora/api/v1/public/configurations",
            node.base
        ))
        .json(&json!({ "model": "s7", "trim": "s7-pro", "selections": [] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = saved["code"].as_str().expect("saved build").to_string();
    let options: Vec<Value> = saved["resolved"]["resolved"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .collect();
    const STOCK: u32 = 1_000;
    let arrived = jiff::Zoned::now()
        .date()
        .checked_sub(jiff::Span::new().days(10))
        .unwrap()
        .to_string();
    let vehicles: Vec<Value> = (0..STOCK)
        .map(|i| {
            json!({ "vin": vin(7_000 + i), "model": "s7", "trim": "s7-pro", "options": options,
                    "store": "sh01", "stage": "in_stock", "arrival_date": arrived,
                    "holding_cost_per_month": 100000 })
        })
        .collect();
    let resp = client
        .post(format!("{}/api/v1/vehicles/sync", node.base))
        .bearer_auth(&token)
        .json(&json!({ "vehicles": vehicles }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let synced: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(synced["created"], STOCK);

    // 32 buyers order one after another until the server dies under them.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut buyers = Vec::new();
    for b in 0..32u32 {
        let (client, base, code) = (client.clone(), node.base.clone(), code.clone());
        let (seen, in_flight, acked, killed) = (
            seen.clone(),
            in_flight.clone(),
            acked.clone(),
            killed.clone(),
        );
        buyers.push(tokio::spawn(async move {
            for n in 0.. {
                if killed.load(Ordering::SeqCst) {
                    break;
                }
                let key = format!("crash-{b}-{n}");
                let body = json!({ "configuration": code, "store": "sh01",
                                   "buyer": { "name": format!("Crash {b}-{n}"),
                                              "mobile": format!("1390{b:03}{n:04}") } });
                in_flight.fetch_add(1, Ordering::SeqCst);
                let answer = async {
                    let resp = client
                        .post(format!("{base}/t/aurora/api/v1/public/orders"))
                        .header("Idempotency-Key", &key)
                        .json(&body)
                        .send()
                        .await?;
                    let status = resp.status();
                    let value: Value = resp.json().await?;
                    Ok::<_, reqwest::Error>((status, value))
                }
                .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let mut seen = seen.lock().unwrap();
                match answer {
                    Ok((StatusCode::CREATED, v)) => {
                        seen.acknowledged.push(Acknowledged {
                            key,
                            body,
                            id: v["id"].as_str().unwrap().to_string(),
                            number: v["number"].as_str().unwrap().to_string(),
                            token: v["tracking_token"].as_str().unwrap().to_string(),
                            vin: v["vin"].as_str().expect("a vehicle").to_string(),
                        });
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((status, v)) => seen.unexpected.push(format!("{status}: {v}")),
                    Err(_) => {
                        // The server died with this request in flight (or before it arrived).
                        seen.lost.push((key, body));
                        break;
                    }
                }
            }
        }));
    }
    // Kill at a random moment of the first 1.5 s (each run hits another point of the writer's
    // cycle: gathering, writing, committing, answering) once some orders were acknowledged, or
    // once half the stock is sold, so orders are still being placed when it dies.
    let kill_at = Duration::from_millis(rand::Rng::gen_range(&mut rand::thread_rng(), 200..1500));
    let load_started = Instant::now();
    loop {
        let n = acked.load(Ordering::SeqCst);
        let elapsed = load_started.elapsed();
        if n >= (STOCK / 2) as usize
            || (elapsed >= kill_at && n >= 10)
            || elapsed >= Duration::from_secs(10)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let flying = in_flight.load(Ordering::SeqCst);
    node.child.kill().expect("SIGKILL the server");
    killed.store(true, Ordering::SeqCst);
    let exit = node.child.wait().unwrap();
    for b in buyers {
        b.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "killed after {:?} with {flying} request(s) in flight: {} acknowledged, {} lost",
        load_started.elapsed(),
        seen.acknowledged.len(),
        seen.lost.len()
    );
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit.signal(), Some(9), "the server died of SIGKILL: {exit}");
    }
    assert!(flying > 0, "the kill came while orders were in flight");
    assert!(
        !seen.acknowledged.is_empty(),
        "orders were acknowledged before the kill:\n{}",
        node.log_tail()
    );
    assert!(
        (seen.acknowledged.len() as u32) < STOCK,
        "stock was left when the server died"
    );
    assert!(
        seen.unexpected.is_empty(),
        "only 201s before the kill: {:?}",
        seen.unexpected
    );
    assert!(
        !seen.lost.is_empty(),
        "some buyers lost their answer to the kill"
    );
    let vins: HashSet<&str> = seen.acknowledged.iter().map(|a| a.vin.as_str()).collect();
    assert_eq!(
        vins.len(),
        seen.acknowledged.len(),
        "a VIN acknowledged to two orders"
    );

    // Restart on the same database with the same key.
    drop(node);
    let node = start(&db, &key, &log).await;
    for a in &seen.acknowledged {
        let resp = client
            .get(format!(
                "{}/t/aurora/api/v1/public/orders/{}",
                node.base, a.token
            ))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "acknowledged order {} is gone after the crash: {v}",
            a.number
        );
        assert_eq!(v["id"], a.id.as_str(), "{v}");
        assert_eq!(v["number"], a.number.as_str(), "{v}");
        assert_eq!(v["vin"], a.vin.as_str(), "{v}");
        assert_eq!(
            v["buyer"]["name"].as_str().map(|n| n.is_empty()),
            Some(false)
        );
    }

    // Whatever exists is whole, and no vehicle is held twice.
    let tenant_db = forecourt::store::Db::connect(&db, 2).await.unwrap();
    let tenant_id = forecourt::tenancy::find_by_slug(&tenant_db, "aurora")
        .await
        .unwrap()
        .unwrap()
        .id;
    let counts = |sql: &'static str| {
        let (tenant_db, tenant_id) = (&tenant_db, &tenant_id);
        async move {
            let mut tx = tenant_db.tenant_tx(tenant_id).await.unwrap();
            let n: i64 = sqlx::query(sql)
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await
                .unwrap()
                .try_get("n")
                .unwrap();
            tx.commit().await.unwrap();
            n
        }
    };
    const ORDERS: &str = "SELECT COUNT(*) AS n FROM orders WHERE tenant_id = $1";
    const HELD: &str = "SELECT COUNT(*) AS n FROM vehicles WHERE tenant_id = $1 \
                        AND hold <> 'free' AND order_id IS NOT NULL";
    const VIN_TWICE: &str = "SELECT COUNT(*) AS n FROM (SELECT vin FROM orders \
                             WHERE tenant_id = $1 AND vin IS NOT NULL GROUP BY vin \
                             HAVING COUNT(*) > 1) d";
    const WITHOUT_VEHICLE: &str = "SELECT COUNT(*) AS n FROM orders o WHERE o.tenant_id = $1 \
        AND NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.tenant_id = o.tenant_id \
        AND v.vin = o.vin AND v.order_id = o.id AND v.hold = 'reserved')";
    const WITHOUT_INSTANCE: &str = "SELECT COUNT(*) AS n FROM orders o WHERE o.tenant_id = $1 \
        AND NOT EXISTS (SELECT 1 FROM workflow_instances w WHERE w.tenant_id = o.tenant_id \
        AND w.subject_type = 'vehicle_order' AND w.subject_id = o.id)";
    const WITHOUT_KEY: &str = "SELECT COUNT(*) AS n FROM orders o WHERE o.tenant_id = $1 \
        AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.tenant_id = o.tenant_id \
        AND k.scope = 'public' AND k.status = 201 AND k.response LIKE '%' || o.id || '%')";
    const STRAY_HOLD: &str = "SELECT COUNT(*) AS n FROM vehicles v WHERE v.tenant_id = $1 \
        AND v.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o \
        WHERE o.tenant_id = v.tenant_id AND o.id = v.order_id)";
    let orders = counts(ORDERS).await;
    let acknowledged = seen.acknowledged.len() as i64;
    assert!(
        (acknowledged..=acknowledged + seen.lost.len() as i64).contains(&orders),
        "{orders} orders stored for {acknowledged} acknowledged and {} lost",
        seen.lost.len()
    );
    assert_eq!(counts(VIN_TWICE).await, 0, "a vehicle held by two orders");
    assert_eq!(counts(HELD).await, orders, "one held vehicle per order");
    assert_eq!(
        counts(WITHOUT_VEHICLE).await,
        0,
        "an order without its vehicle"
    );
    assert_eq!(
        counts(WITHOUT_INSTANCE).await,
        0,
        "an order without its workflow"
    );
    assert_eq!(
        counts(WITHOUT_KEY).await,
        0,
        "an order without its idempotency key"
    );
    assert_eq!(counts(STRAY_HOLD).await, 0, "a vehicle held by no order");

    // Buyers retry what they lost with the same key: a committed order replays, a lost one is
    // placed now; either way exactly one order per key.
    let mut replayed = 0;
    for (key, body) in &seen.lost {
        let resp = client
            .post(format!("{}/t/aurora/api/v1/public/orders", node.base))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        if resp.headers().get("idempotent-replayed").is_some() {
            replayed += 1;
        }
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "retry of {key}: {v}");
    }
    assert_eq!(
        replayed as i64,
        orders - acknowledged,
        "the lost requests that had committed replay; the others are placed now"
    );
    eprintln!(
        "{replayed} of the {} lost requests had committed before the kill and replayed",
        seen.lost.len()
    );
    let after = counts(ORDERS).await;
    assert_eq!(after, acknowledged + seen.lost.len() as i64);
    assert_eq!(counts(HELD).await, after);
    assert_eq!(counts(VIN_TWICE).await, 0);
    // An acknowledged key still replays its first answer after the restart.
    let first = &seen.acknowledged[0];
    let resp = client
        .post(format!("{}/t/aurora/api/v1/public/orders", node.base))
        .header("Idempotency-Key", &first.key)
        .json(&first.body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("idempotent-replayed").is_some());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], first.id.as_str());
    assert_eq!(counts(ORDERS).await, after);
    tenant_db.pool.close().await;
    drop(node);
    let _ = std::fs::remove_file(&log);
    eprintln!("crash test took {:?}", test_started.elapsed());
}
