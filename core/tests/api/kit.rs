//! The test kit: boots the real router on a real database (a fresh SQLite file, or a fresh
//! PostgreSQL database when `FORECOURT_TEST_POSTGRES` names a server) and talks HTTP to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use forecourt::state::{AppState, Settings};
use forecourt::store::Db;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// `postgres://USER@HOST:PORT` of a server to test against, when set.
pub fn postgres_server() -> Option<String> {
    std::env::var("FORECOURT_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database() -> String {
    let name = format!("fc_test_{}", uuid::Uuid::now_v7().simple());
    match postgres_server() {
        Some(server) => {
            let admin = format!("{}/postgres", server.trim_end_matches('/'));
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("connect to the PostgreSQL server for tests");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create test database");
            pool.close().await;
            format!("{}/{name}", server.trim_end_matches('/'))
        }
        None => {
            let dir: PathBuf = std::env::temp_dir().join("forecourt-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}", dir.join(format!("{name}.db")).display())
        }
    }
}

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A running server on 127.0.0.1.
pub struct Server {
    pub base: String,
    pub state: AppState,
    pub db_url: String,
    pub client: reqwest::Client,
    /// The local fake payment provider this server is configured with.
    pub fakepay: forecourt_plugins::payments::fake::FakePay,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The node's watcher, timer scheduler and outbox relay; stopped with the server.
    background: Option<forecourt::cli::Background>,
}

impl Server {
    /// Stops this node as `serve` does on SIGTERM: no new requests, then its background tasks,
    /// handing the outbox relay over.
    pub async fn stop_gracefully(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(background) = self.background.take() {
            background.stop().await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The fake payment provider's credentials in tests.
pub const FAKEPAY_API_KEY: &str = "fakepay-test-key";
pub const FAKEPAY_SECRET: &str = "fakepay-test-webhook-secret";

pub fn settings() -> Settings {
    Settings {
        base_domain: "forecourt.test".into(),
        publish_poll: Duration::from_millis(100),
        timer_poll: Duration::from_millis(100),
        outbox_poll: Duration::from_millis(100),
        // One key for every node of a test (as in production), so a second node or a restart
        // reads what the first sealed.
        pii_key: Some(forecourt::pii::MasterKey([7; 32])),
        // Buyers' sign-in codes go to the fake inbox (`GET /dev/sms`).
        fake_sms: true,
        ..Settings::default()
    }
}

impl Server {
    /// A server on a new, empty database.
    pub async fn start() -> Server {
        let url = fresh_database().await;
        Server::start_on(&url, settings()).await
    }

    /// A server with the two demo tenants and their users.
    pub async fn demo() -> Server {
        let server = Server::start().await;
        forecourt::demo::apply_demo(&server.state, &examples_dir())
            .await
            .expect("demo applies");
        server
    }

    /// Another node on an existing database.
    pub async fn start_on(url: &str, settings: Settings) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let fakepay = forecourt_plugins::payments::fake::FakePay::start(
            forecourt_plugins::payments::fake::FakeConfig {
                api_key: FAKEPAY_API_KEY.into(),
                webhook_secret: FAKEPAY_SECRET.into(),
                callback_delay: std::time::Duration::ZERO,
            },
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("start FakePay");
        let settings = Settings {
            public_url: format!("http://{addr}"),
            payments: Some(forecourt_plugins::payments::http::ProviderConfig {
                base_url: fakepay.base_url(),
                api_key: FAKEPAY_API_KEY.into(),
                webhook_secret: FAKEPAY_SECRET.into(),
            }),
            ..settings
        };
        let db = Db::connect(url, 8).await.expect("connect");
        let state = AppState::new(db, settings);
        let background = forecourt::cli::spawn_background(&state);
        let app = forecourt::http::router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Server {
            base: format!("http://{addr}"),
            state,
            db_url: url.to_string(),
            client,
            fakepay,
            shutdown: Some(tx),
            background: Some(background),
        }
    }

    pub async fn login(&self, tenant: &str, email: &str) -> String {
        let (status, body) = self.call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "tenant": tenant, "email": email, "password": forecourt::demo::DEMO_PASSWORD }))).await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Sends a request; returns the status and the JSON body (or the text as a JSON string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// The id of a user by email.
    pub async fn user_id(&self, tenant: &str, email: &str) -> String {
        let t = forecourt::tenancy::find_by_slug(&self.state.db, tenant)
            .await
            .unwrap()
            .unwrap();
        forecourt::users::find_user_by_email(&self.state.db, &t.id, email)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    pub async fn tenant_id(&self, tenant: &str) -> String {
        forecourt::tenancy::find_by_slug(&self.state.db, tenant)
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

/// A client that never reuses a connection: for requests the server answers before reading
/// the whole body (413), after which it closes the connection.
pub fn one_shot_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Sends a request whose body is over the limit: the server must answer 413 problem+json, or
/// close the connection while the client is still writing (it stopped reading at the limit).
pub async fn assert_refused_as_too_large(req: reqwest::RequestBuilder) {
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let body: Value = resp.json().await.expect("problem body");
            assert_problem(status, &body, 413, "payload_too_large");
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "unexpected error: {e}"),
    }
}

/// Asserts a problem+json error with `code` and `status`.
pub fn assert_problem(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(
        status.as_u16(),
        want_status,
        "unexpected status; body: {body}"
    );
    assert_eq!(body["code"], want_code, "unexpected code; body: {body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

/// Every file of a demo tenant's bundle (tenant.yaml, catalog, scripts …), as the upload JSON.
pub fn demo_bundle(dir: &str) -> std::collections::BTreeMap<String, String> {
    forecourt_tenant_config::BundleSource::from_dir(examples_dir().join(dir).join("bundle"))
        .expect("demo bundle")
        .files()
        .clone()
}

/// The aurora demo bundle, and the same with one more grant for sales consultants: `org.read`
/// at tenant reach (a meaningful change: one added grant in tenant.yaml, no other difference).
pub fn aurora_with_sales_org_read() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let good = demo_bundle("aurora-motors");
    let text = good["tenant.yaml"].clone();
    let role_at = text
        .find("code: sales_consultant")
        .expect("demo has a sales consultant");
    let marker = "reach: own_store\n";
    let at = role_at
        + text[role_at..]
            .find(marker)
            .expect("with an own_store grant")
        + marker.len();
    let mut changed_text = text.clone();
    changed_text.insert_str(at, "      - actions: [org.read]\n        reach: tenant\n");
    let mut changed = good.clone();
    changed.insert("tenant.yaml".into(), changed_text);
    (good, changed)
}
