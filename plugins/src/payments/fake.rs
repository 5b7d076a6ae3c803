//! FakePay: a local payment provider, an HTTP server started by the tests and the demo. It speaks
//! the same HTTP contract a real provider adapter speaks ([`super::http::HttpProvider`]), keeps
//! everything in memory, and never moves money. **Use only in tests and the demo.**
//!
//! # The contract
//!
//! Amounts are integer minor units; currencies are three upper-case letters (ISO 4217). Errors
//! are JSON: `{"error": {"code", "message", "param"?, "details"?: [{"param", "code",
//! "message"}]}}`, where `param` is a JSON pointer into the request body.
//!
//! ## API (server to server, `Authorization: Bearer <api_key>`; 401 without it)
//!
//! - `POST /v1/payments`, body `{reference, amount, currency, description, return_url,
//!   callback_url}` → **201** `{id: "pay_…", status: "pending", amount, currency, reference,
//!   description, redirect_url: "<base>/pay/<id>", created}`. **400** for a missing or unknown
//!   field, `amount ≤ 0`, a currency that is not three upper-case letters, an empty or over-long
//!   reference, an over-long description, or a `return_url` / `callback_url` that is not an
//!   absolute `http(s)` URL without credentials.
//! - `POST /v1/refunds`, body `{payment, reference, amount, currency, callback_url}` → **201**
//!   `{id: "re_…", status: "pending", payment, reference, amount, currency, created}`, then a
//!   `refund.succeeded` callback. **404** for an unknown payment; **400** if the payment has not
//!   succeeded, the currency differs from the payment's, or the amount exceeds what is left to
//!   refund (the payment's amount minus its pending and succeeded refunds).
//! - `GET /v1/payments/{id}` → **200** `{id, status: "pending"|"succeeded"|"failed", amount,
//!   currency, reference, description, amount_refunded, refunds: [{id, reference, amount,
//!   status}], created}`, for reconciliation (`amount_refunded` counts succeeded refunds).
//!
//! Both POSTs honour `Idempotency-Key` (at most 255 visible ASCII characters; keys of payments
//! and refunds are separate): the same key with the same body answers the first response again
//! and creates nothing; the same key with another body is **409** `idempotency_key_reused`.
//!
//! ## The buyer's browser
//!
//! - `GET /pay/{id}`: an HTML page with the description and the amount (`1234.50 CNY`; minor
//!   units per ISO 4217: 0 for JPY, KRW …, 3 for BHD, KWD …, else 2), and two forms: **Pay** →
//!   `POST /pay/{id}/complete`, **Decline** → `POST /pay/{id}/decline`.
//! - Both answer **303 See Other** to the payment's `return_url` with `reference=<reference>`
//!   and `status=succeeded|failed` added to its query string (existing parameters kept).
//!   Completing a succeeded payment (or declining a failed one) again redirects the same way and
//!   sends no second event; completing a declined payment, or declining a paid one, is **409**.
//!
//! ## Callbacks
//!
//! Settling a payment (or a refund) records one event and POSTs it to the `callback_url`:
//!
//! ```text
//! POST <callback_url>
//! Content-Type: application/json
//! FakePay-Signature: t=<unix secs>,v1=<hex HMAC-SHA256(webhook_secret, "<t>.<raw body>")>
//!
//! {"id":"evt_…","type":"payment.succeeded","created":<unix secs>,
//!  "data":{"id":"pay_…","reference":"…","amount":123450,"currency":"CNY"}}
//! ```
//!
//! `type` is `payment.succeeded`, `payment.failed`, `refund.succeeded` or `refund.failed` (the
//! fake never fails a refund, but consumers must handle it); `data.id` is the payment's or the
//! refund's id, `data.reference` the merchant's reference. The header format is in
//! [`super::signature`]. Delivery runs in the background: up to [`DELIVERY_ATTEMPTS`] attempts,
//! each with a 5 s timeout, waiting 100, 200, 400 … ms between them, until the receiver answers
//! 2xx. Every attempt sends the very same bytes and header, so the event id is the key to dedupe
//! on.
//!
//! ## Test controls (fake only; no authentication)
//!
//! - `GET /__fake/events` → every event in the order recorded: `[{id, type, url, body,
//!   signature, created, attempts, delivered, last_status, last_error}]`, with `body` the exact
//!   bytes sent and `signature` the exact header value.
//! - `POST /__fake/events/{id}/resend` → sends that exact signed event once more (a replay), at
//!   once, and answers `{id, delivered, status, error}` with the receiver's HTTP status.
//! - `POST /__fake/payments/{id}/complete` and `…/decline`: what the browser forms do, answered
//!   as JSON `{id, status, return_to, event}` instead of a redirect (`event` is the new event's
//!   id, `null` when nothing changed).
//!
//! # Invariants
//!
//! - State lives in one mutex, never held across an `.await`; each request's check and change
//!   happen under one lock, so concurrent requests with one idempotency key create one payment.
//! - Bounded: at most [`MAX_PAYMENTS`] payments and [`MAX_REFUNDS`] refunds (then **503**
//!   `fake_full`), request bodies of at most 64 KiB, at most one event per payment and per
//!   refund, bounded retries.
//! - Everything shown in the HTML page is escaped.
//! - Secrets are never logged nor shown by `Debug`; logs name ids and event types only.
//! - Dropping [`FakePay`] stops the server and any delivery still retrying.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::RngCore;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{signature, EventKind};

/// The fake refuses new payments beyond this many.
pub const MAX_PAYMENTS: usize = 1_000_000;
/// The fake refuses new refunds beyond this many.
pub const MAX_REFUNDS: usize = 1_000_000;
/// How many times a callback is POSTed before the fake gives up on it.
pub const DELIVERY_ATTEMPTS: u32 = 5;
/// The wait before the second attempt; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// One delivery attempt may take this long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_REFERENCE_CHARS: usize = 255;
const MAX_DESCRIPTION_CHARS: usize = 1000;
const MAX_URL_CHARS: usize = 2048;
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The fake's secrets. `Debug` never shows them.
#[derive(Clone)]
pub struct FakeConfig {
    /// The bearer token the API requires.
    pub api_key: String,
    /// The key callbacks are signed with.
    pub webhook_secret: String,
    /// How long a settled payment's or refund's callback waits before its first attempt. A real
    /// provider's word often reaches the merchant after the buyer is back; zero by default.
    pub callback_delay: std::time::Duration,
}

impl std::fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeConfig").finish_non_exhaustive()
    }
}

/// A running FakePay server; dropping it stops the server.
#[derive(Debug)]
pub struct FakePay {
    base_url: String,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl FakePay {
    /// Binds `addr` (use port 0 for any free port, e.g. `127.0.0.1:0`) and serves the contract
    /// in a tokio task until the returned value is dropped.
    pub async fn start(config: FakeConfig, addr: SocketAddr) -> std::io::Result<FakePay> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut addr = listener.local_addr()?;
        // A server bound to every interface is still reached through the loopback one.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let base_url = format!("http://{addr}");
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("FakePay/1")
            .build()
            .map_err(std::io::Error::other)?;
        let (shutdown, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            base_url: base_url.clone(),
            client,
            stopped: stopped.clone(),
            ledger: Mutex::new(Ledger::default()),
        });
        let app = router(shared);
        let mut signal = stopped;
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Also ends when the sender is dropped.
                    let _ = signal.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "FakePay stopped serving");
            }
        });
        tracing::info!(%base_url, "FakePay listening (a fake payment provider: tests and demo only)");
        Ok(FakePay {
            base_url,
            addr,
            shutdown,
        })
    }

    /// `http://<host>:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FakePay {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

struct Shared {
    config: FakeConfig,
    base_url: String,
    client: reqwest::Client,
    stopped: watch::Receiver<bool>,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic while holding the lock leaves whole values behind (every change is a single
        // insert or field write), so the state is still usable.
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Default)]
struct Ledger {
    payments: HashMap<String, Payment>,
    refunds: HashMap<String, Refund>,
    events: Vec<Event>,
    event_index: HashMap<String, usize>,
    idempotency: HashMap<(Scope, String), Stored>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Payment,
    Refund,
}

/// The first answer to an idempotency key and what it answered.
struct Stored {
    fingerprint: [u8; 32],
    response: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Pending,
    Succeeded,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

struct Payment {
    id: String,
    reference: String,
    amount: i64,
    currency: String,
    description: String,
    return_url: Url,
    callback_url: String,
    status: Status,
    created: i64,
    /// Refund ids, oldest first.
    refunds: Vec<String>,
    /// Pending and succeeded refunds: what is no longer refundable.
    refund_reserved: i64,
}

struct Refund {
    id: String,
    payment: String,
    reference: String,
    amount: i64,
    currency: String,
    callback_url: String,
    status: Status,
    created: i64,
}

struct Event {
    id: String,
    kind: EventKind,
    url: String,
    body: String,
    signature: String,
    created: i64,
    attempts: u32,
    delivered: bool,
    last_status: Option<u16>,
    last_error: Option<String>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `<prefix>_<24 hex digits>`, unguessable, not yet in use.
fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    loop {
        let mut bytes = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut bytes);
        let id = format!("{prefix}_{}", hex::encode(bytes));
        if !taken(&id) {
            return id;
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/payments", post(create_payment))
        .route("/v1/payments/{id}", get(show_payment))
        .route("/v1/refunds", post(create_refund))
        .route("/pay/{id}", get(pay_page))
        .route("/pay/{id}/complete", post(browser_complete))
        .route("/pay/{id}/decline", post(browser_decline))
        .route("/__fake/events", get(list_events))
        .route("/__fake/events/{id}/resend", post(resend_event))
        .route("/__fake/payments/{id}/complete", post(control_complete))
        .route("/__fake/payments/{id}/decline", post(control_decline))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// Errors and request checks
// ---------------------------------------------------------------------------------------------

/// One problem with a request field.
struct Problem {
    param: &'static str,
    code: &'static str,
    message: String,
}

/// An error answer of the API: a status and a JSON body `{"error": {…}}`.
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: json!({"error": {"code": code, "message": message.into()}}),
    }
}

fn invalid(problems: Vec<Problem>) -> ApiError {
    let message = problems
        .iter()
        .map(|p| format!("{} {}", p.param, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    let Some(first) = problems.first() else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid request",
        );
    };
    let details: Vec<Value> = problems
        .iter()
        .map(|p| json!({"param": p.param, "code": p.code, "message": p.message}))
        .collect();
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({"error": {
            "code": first.code,
            "message": message,
            "param": first.param,
            "details": details,
        }}),
    }
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare digests so the time taken says nothing about the key.
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(shared.config.api_key.as_bytes());
    let differs = given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if differs == 0 && !shared.config.api_key.is_empty() {
        return Ok(());
    }
    Err(api_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send the API key as `Authorization: Bearer <api_key>`",
    ))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("Idempotency-Key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS => {
            Ok(Some(key.to_string()))
        }
        _ => Err(api_error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_invalid",
            format!(
                "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible \
                 ASCII characters"
            ),
        )),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        api_error(
            StatusCode::BAD_REQUEST,
            "body_invalid",
            format!("the body is not a valid request: {e}"),
        )
    })
}

fn check_reference(problems: &mut Vec<Problem>, param: &'static str, value: &str) {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_REFERENCE_CHARS || value.chars().any(char::is_control) {
        problems.push(Problem {
            param,
            code: "reference_invalid",
            message: format!(
                "must be 1 to {MAX_REFERENCE_CHARS} characters without control characters"
            ),
        });
    }
}

fn check_amount(problems: &mut Vec<Problem>, amount: i64) {
    if amount <= 0 {
        problems.push(Problem {
            param: "/amount",
            code: "amount_not_positive",
            message: format!("must be a positive number of minor units, not {amount}"),
        });
    }
}

fn check_currency(problems: &mut Vec<Problem>, currency: &str) {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.push(Problem {
            param: "/currency",
            code: "currency_invalid",
            message: "must be three upper-case letters (ISO 4217)".into(),
        });
    }
}

/// An absolute `http(s)` URL with a host and without credentials.
fn check_url(problems: &mut Vec<Problem>, param: &'static str, value: &str) -> Option<Url> {
    let parsed = Url::parse(value).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.has_host()
            && url.username().is_empty()
            && url.password().is_none()
    });
    if value.len() > MAX_URL_CHARS || parsed.is_none() {
        problems.push(Problem {
            param,
            code: "url_invalid",
            message: format!(
                "must be an absolute http(s) URL of at most {MAX_URL_CHARS} characters, \
                 without credentials"
            ),
        });
        return None;
    }
    parsed
}

fn fingerprint<T: Serialize>(request: &T) -> [u8; 32] {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(bytes).into()
}

/// Looks up an idempotency key: `Some(answer)` answers the request without doing anything.
fn replay(
    ledger: &Ledger,
    scope: Scope,
    key: Option<&str>,
    print: [u8; 32],
) -> Option<Result<Response, ApiError>> {
    let stored = ledger.idempotency.get(&(scope, key?.to_string()))?;
    Some(if stored.fingerprint == print {
        Ok((StatusCode::CREATED, Json(stored.response.clone())).into_response())
    } else {
        Err(api_error(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PaymentRequest {
    reference: String,
    amount: i64,
    currency: String,
    description: String,
    return_url: String,
    callback_url: String,
}

async fn create_payment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers)?;
    let key = idempotency_key(&headers)?;
    let request: PaymentRequest = parse_body(&body)?;
    let mut problems = Vec::new();
    check_reference(&mut problems, "/reference", &request.reference);
    check_amount(&mut problems, request.amount);
    check_currency(&mut problems, &request.currency);
    if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
        problems.push(Problem {
            param: "/description",
            code: "description_too_long",
            message: format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        });
    }
    let return_url = check_url(&mut problems, "/return_url", &request.return_url);
    check_url(&mut problems, "/callback_url", &request.callback_url);
    let Some(return_url) = return_url.filter(|_| problems.is_empty()) else {
        return Err(invalid(problems));
    };

    let print = fingerprint(&request);
    let mut ledger = shared.ledger();
    if let Some(answer) = replay(&ledger, Scope::Payment, key.as_deref(), print) {
        return answer;
    }
    if ledger.payments.len() >= MAX_PAYMENTS {
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "fake_full",
            format!("FakePay holds {MAX_PAYMENTS} payments; restart it"),
        ));
    }
    let id = new_id("pay", |id| ledger.payments.contains_key(id));
    let payment = Payment {
        id: id.clone(),
        reference: request.reference,
        amount: request.amount,
        currency: request.currency,
        description: request.description,
        return_url,
        callback_url: request.callback_url,
        status: Status::Pending,
        created: now_secs(),
        refunds: Vec::new(),
        refund_reserved: 0,
    };
    let response = json!({
        "id": payment.id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "description": payment.description,
        "redirect_url": format!("{}/pay/{}", shared.base_url, payment.id),
        "created": payment.created,
    });
    ledger.payments.insert(id.clone(), payment);
    if let Some(key) = key {
        ledger.idempotency.insert(
            (Scope::Payment, key),
            Stored {
                fingerprint: print,
                response: response.clone(),
            },
        );
    }
    drop(ledger);
    tracing::info!(payment = %id, "FakePay payment created");
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

async fn show_payment(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers)?;
    let ledger = shared.ledger();
    let Some(payment) = ledger.payments.get(&id) else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "payment_not_found",
            "no payment has this id",
        ));
    };
    let mut refunded = 0i64;
    let refunds: Vec<Value> = payment
        .refunds
        .iter()
        .filter_map(|refund_id| ledger.refunds.get(refund_id))
        .map(|refund| {
            if refund.status == Status::Succeeded {
                refunded = refunded.saturating_add(refund.amount);
            }
            json!({
                "id": refund.id,
                "reference": refund.reference,
                "amount": refund.amount,
                "status": refund.status,
            })
        })
        .collect();
    Ok(Json(json!({
        "id": payment.id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "description": payment.description,
        "amount_refunded": refunded,
        "refunds": refunds,
        "created": payment.created,
    }))
    .into_response())
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    payment: String,
    reference: String,
    amount: i64,
    currency: String,
    callback_url: String,
}

async fn create_refund(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers)?;
    let key = idempotency_key(&headers)?;
    let request: RefundRequest = parse_body(&body)?;
    let mut problems = Vec::new();
    check_reference(&mut problems, "/reference", &request.reference);
    check_amount(&mut problems, request.amount);
    check_currency(&mut problems, &request.currency);
    check_url(&mut problems, "/callback_url", &request.callback_url);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }

    let print = fingerprint(&request);
    let mut ledger = shared.ledger();
    if let Some(answer) = replay(&ledger, Scope::Refund, key.as_deref(), print) {
        return answer;
    }
    if ledger.refunds.len() >= MAX_REFUNDS {
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "fake_full",
            format!("FakePay holds {MAX_REFUNDS} refunds; restart it"),
        ));
    }
    let Some(payment) = ledger.payments.get(&request.payment) else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "payment_not_found",
            "no payment has the id in /payment",
        ));
    };
    let refusal = |param: &'static str, code: &'static str, message: String| {
        invalid(vec![Problem {
            param,
            code,
            message,
        }])
    };
    if payment.status != Status::Succeeded {
        return Err(refusal(
            "/payment",
            "payment_not_succeeded",
            format!(
                "is {}; only a succeeded payment can be refunded",
                payment.status.as_str()
            ),
        ));
    }
    if payment.currency != request.currency {
        return Err(refusal(
            "/currency",
            "currency_mismatch",
            format!("must be the payment's currency, {}", payment.currency),
        ));
    }
    // `refund_reserved` never exceeds `amount`, so this cannot overflow.
    let refundable = payment.amount - payment.refund_reserved;
    if request.amount > refundable {
        return Err(refusal(
            "/amount",
            "amount_exceeds_refundable",
            format!(
                "is {} but only {refundable} of the payment's {} is left to refund",
                request.amount, payment.amount
            ),
        ));
    }
    let id = new_id("re", |id| ledger.refunds.contains_key(id));
    let refund = Refund {
        id: id.clone(),
        payment: request.payment.clone(),
        reference: request.reference,
        amount: request.amount,
        currency: request.currency,
        callback_url: request.callback_url,
        status: Status::Pending,
        created: now_secs(),
    };
    let response = json!({
        "id": refund.id,
        "status": refund.status,
        "payment": refund.payment,
        "reference": refund.reference,
        "amount": refund.amount,
        "currency": refund.currency,
        "created": refund.created,
    });
    if let Some(payment) = ledger.payments.get_mut(&request.payment) {
        payment.refund_reserved += refund.amount;
        payment.refunds.push(id.clone());
    }
    ledger.refunds.insert(id.clone(), refund);
    if let Some(key) = key {
        ledger.idempotency.insert(
            (Scope::Refund, key),
            Stored {
                fingerprint: print,
                response: response.clone(),
            },
        );
    }
    drop(ledger);
    tracing::info!(refund = %id, payment = %request.payment, "FakePay refund created");
    // The fake's bank always pays refunds back, a moment after answering.
    let task_shared = shared.clone();
    tokio::spawn(async move {
        if let Some(event) = settle_refund(&task_shared, &id) {
            deliver(task_shared, event).await;
        }
    });
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// Marks a pending refund succeeded and records its event; returns the event id.
fn settle_refund(shared: &Shared, id: &str) -> Option<String> {
    let mut ledger = shared.ledger();
    let refund = ledger.refunds.get_mut(id)?;
    if refund.status != Status::Pending {
        return None;
    }
    refund.status = Status::Succeeded;
    let object = EventObject {
        id: refund.id.clone(),
        reference: refund.reference.clone(),
        amount: refund.amount,
        currency: refund.currency.clone(),
    };
    let url = refund.callback_url.clone();
    Some(record_event(
        &mut ledger,
        &shared.config,
        EventKind::RefundSucceeded,
        object,
        url,
    ))
}

// ---------------------------------------------------------------------------------------------
// Events and their delivery
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct EventBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created: i64,
    data: &'a EventObject,
}

#[derive(Serialize)]
struct EventObject {
    id: String,
    reference: String,
    amount: i64,
    currency: String,
}

/// Records a signed event (not yet sent) and returns its id.
fn record_event(
    ledger: &mut Ledger,
    config: &FakeConfig,
    kind: EventKind,
    object: EventObject,
    url: String,
) -> String {
    let id = new_id("evt", |id| ledger.event_index.contains_key(id));
    let created = now_secs();
    let body = serde_json::to_string(&EventBody {
        id: &id,
        kind: kind.as_str(),
        created,
        data: &object,
    })
    .unwrap_or_default();
    let signature = signature::sign(config.webhook_secret.as_bytes(), created, body.as_bytes());
    ledger.event_index.insert(id.clone(), ledger.events.len());
    ledger.events.push(Event {
        id: id.clone(),
        kind,
        url,
        body,
        signature,
        created,
        attempts: 0,
        delivered: false,
        last_status: None,
        last_error: None,
    });
    tracing::info!(event = %id, kind = kind.as_str(), object = %object.id, "FakePay event recorded");
    id
}

/// What one POST of an event gave.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
}

impl Attempt {
    fn delivered(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }
}

/// POSTs event `id` once, exactly as recorded, and records the attempt.
async fn send_once(shared: &Shared, id: &str) -> Option<Attempt> {
    let (url, body, signature) = {
        let ledger = shared.ledger();
        let event = ledger.events.get(*ledger.event_index.get(id)?)?;
        (
            event.url.clone(),
            event.body.clone(),
            event.signature.clone(),
        )
    };
    let sent = shared
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, signature)
        .body(body)
        .send()
        .await;
    let attempt = match sent {
        Ok(response) => Attempt {
            status: Some(response.status().as_u16()),
            error: None,
        },
        Err(e) => Attempt {
            status: None,
            error: Some(e.without_url().to_string()),
        },
    };
    let mut ledger = shared.ledger();
    if let Some(event) = ledger
        .event_index
        .get(id)
        .copied()
        .and_then(|index| ledger.events.get_mut(index))
    {
        event.attempts += 1;
        event.delivered |= attempt.delivered();
        event.last_status = attempt.status;
        event.last_error = attempt.error.clone();
    }
    Some(attempt)
}

/// Sends event `id` until the receiver answers 2xx, at most [`DELIVERY_ATTEMPTS`] times; stops
/// early when the fake shuts down.
async fn deliver(shared: Arc<Shared>, id: String) {
    let mut stopped = shared.stopped.clone();
    let attempts = async {
        if !shared.config.callback_delay.is_zero() {
            tokio::time::sleep(shared.config.callback_delay).await;
        }
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=DELIVERY_ATTEMPTS {
            match send_once(&shared, &id).await {
                None => return,
                Some(outcome) if outcome.delivered() => return,
                Some(outcome) => {
                    tracing::info!(
                        event = %id,
                        attempt,
                        status = ?outcome.status,
                        error = outcome.error.as_deref().unwrap_or(""),
                        "FakePay callback not accepted"
                    );
                }
            }
            if attempt < DELIVERY_ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        tracing::warn!(event = %id, "FakePay gave up delivering a callback");
    };
    tokio::select! {
        _ = stopped.wait_for(|stop| *stop) => {}
        _ = attempts => {}
    }
}

async fn list_events(State(shared): State<Arc<Shared>>) -> Response {
    let ledger = shared.ledger();
    let events: Vec<Value> = ledger
        .events
        .iter()
        .map(|event| {
            json!({
                "id": event.id,
                "type": event.kind.as_str(),
                "url": event.url,
                "body": event.body,
                "signature": event.signature,
                "created": event.created,
                "attempts": event.attempts,
                "delivered": event.delivered,
                "last_status": event.last_status,
                "last_error": event.last_error,
            })
        })
        .collect();
    Json(events).into_response()
}

async fn resend_event(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match send_once(&shared, &id).await {
        None => api_error(
            StatusCode::NOT_FOUND,
            "event_not_found",
            "no event has this id",
        )
        .into_response(),
        Some(attempt) => Json(json!({
            "id": id,
            "delivered": attempt.delivered(),
            "status": attempt.status,
            "error": attempt.error,
        }))
        .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Settling payments: the browser page and the test controls
// ---------------------------------------------------------------------------------------------

enum Settled {
    /// Where to send the buyer back, the payment's status, and the new event (if any).
    Done {
        return_to: String,
        status: Status,
        event: Option<String>,
    },
    NotFound,
    Conflict(String),
}

/// The payment's `return_url` with `reference` and `status` added to its query string.
fn return_to(payment: &Payment) -> String {
    let mut url = payment.return_url.clone();
    url.query_pairs_mut()
        .append_pair("reference", &payment.reference)
        .append_pair("status", payment.status.as_str());
    url.to_string()
}

/// Completes (`pay`) or declines a payment; records its event only on the first change.
fn settle_payment(shared: &Shared, id: &str, pay: bool) -> Settled {
    let mut ledger = shared.ledger();
    let Some(payment) = ledger.payments.get_mut(id) else {
        return Settled::NotFound;
    };
    let target = if pay {
        Status::Succeeded
    } else {
        Status::Failed
    };
    if payment.status == target {
        return Settled::Done {
            return_to: return_to(payment),
            status: target,
            event: None,
        };
    }
    if payment.status != Status::Pending {
        return Settled::Conflict(format!(
            "this payment has already {} and cannot be {}",
            payment.status.as_str(),
            if pay { "paid" } else { "declined" }
        ));
    }
    payment.status = target;
    let back = return_to(payment);
    let object = EventObject {
        id: payment.id.clone(),
        reference: payment.reference.clone(),
        amount: payment.amount,
        currency: payment.currency.clone(),
    };
    let url = payment.callback_url.clone();
    let kind = if pay {
        EventKind::PaymentSucceeded
    } else {
        EventKind::PaymentFailed
    };
    let event = record_event(&mut ledger, &shared.config, kind, object, url);
    Settled::Done {
        return_to: back,
        status: target,
        event: Some(event),
    }
}

fn start_delivery(shared: &Arc<Shared>, event: Option<&String>) {
    if let Some(event) = event {
        tokio::spawn(deliver(shared.clone(), event.clone()));
    }
}

async fn browser_settle(shared: Arc<Shared>, id: String, pay: bool) -> Response {
    match settle_payment(&shared, &id, pay) {
        Settled::Done {
            return_to, event, ..
        } => {
            start_delivery(&shared, event.as_ref());
            Redirect::to(&return_to).into_response()
        }
        Settled::NotFound => page(
            StatusCode::NOT_FOUND,
            "Payment not found",
            "<p>No payment has this id.</p>",
        ),
        Settled::Conflict(why) => page(
            StatusCode::CONFLICT,
            "Payment already settled",
            &format!("<p>{}</p>", escape(&why)),
        ),
    }
}

async fn browser_complete(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    browser_settle(shared, id, true).await
}

async fn browser_decline(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    browser_settle(shared, id, false).await
}

async fn control_settle(shared: Arc<Shared>, id: String, pay: bool) -> Response {
    match settle_payment(&shared, &id, pay) {
        Settled::Done {
            return_to,
            status,
            event,
        } => {
            start_delivery(&shared, event.as_ref());
            Json(json!({"id": id, "status": status, "return_to": return_to, "event": event}))
                .into_response()
        }
        Settled::NotFound => api_error(
            StatusCode::NOT_FOUND,
            "payment_not_found",
            "no payment has this id",
        )
        .into_response(),
        Settled::Conflict(why) => {
            api_error(StatusCode::CONFLICT, "payment_settled", why).into_response()
        }
    }
}

async fn control_complete(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    control_settle(shared, id, true).await
}

async fn control_decline(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    control_settle(shared, id, false).await
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How many minor units a currency's major unit has, as a power of ten (ISO 4217).
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `123450` CNY → `1234.50 CNY`; `5000` JPY → `5000 JPY`.
fn format_amount(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{minor} {currency}");
    }
    let unit = 10u64.pow(digits);
    format!(
        "{sign}{}.{:0width$} {currency}",
        minor / unit,
        minor % unit,
        width = digits as usize
    )
}

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · FakePay</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;\
         padding:0 1rem}}.amount{{font-size:2rem;font-weight:600}}form{{display:inline}}\
         button{{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem}}\
         .note{{color:#666;font-size:.85rem}}</style></head>\
         <body><h1>{title}</h1>{body_html}\
         <p class=\"note\">FakePay is a fake payment provider for tests and demos. \
         No money moves.</p></body></html>\n",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn pay_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let ledger = shared.ledger();
    let Some(payment) = ledger.payments.get(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            "Payment not found",
            "<p>No payment has this id.</p>",
        );
    };
    let amount = escape(&format_amount(payment.amount, &payment.currency));
    let description = escape(&payment.description);
    let reference = escape(&payment.reference);
    let id = escape(&payment.id);
    let summary = format!(
        "<p class=\"description\">{description}</p>\
         <p class=\"amount\">{amount}</p>\
         <p class=\"note\">Reference {reference} · payment {id}</p>"
    );
    match payment.status {
        Status::Pending => page(
            StatusCode::OK,
            "Pay",
            &format!(
                "{summary}\
                 <form method=\"post\" action=\"/pay/{id}/complete\">\
                 <button type=\"submit\">Pay {amount}</button></form>\
                 <form method=\"post\" action=\"/pay/{id}/decline\">\
                 <button type=\"submit\">Decline</button></form>"
            ),
        ),
        status => page(
            StatusCode::OK,
            if status == Status::Succeeded {
                "Paid"
            } else {
                "Declined"
            },
            &format!(
                "{summary}<p>This payment has {}.</p>\
                 <p><a href=\"{}\">Back to the merchant</a></p>",
                status.as_str(),
                escape(&return_to(payment))
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_the_currency_minor_units() {
        assert_eq!(format_amount(123_450, "CNY"), "1234.50 CNY");
        assert_eq!(format_amount(5, "EUR"), "0.05 EUR");
        assert_eq!(format_amount(5000, "JPY"), "5000 JPY");
        assert_eq!(format_amount(1_234, "KWD"), "1.234 KWD");
        assert_eq!(format_amount(-150, "USD"), "-1.50 USD");
        assert_eq!(format_amount(i64::MIN, "USD"), "-92233720368547758.08 USD");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn debug_hides_the_secrets() {
        let config = FakeConfig {
            api_key: "sk_secret_value".into(),
            webhook_secret: "whsec_secret_value".into(),
            callback_delay: std::time::Duration::ZERO,
        };
        assert!(!format!("{config:?}").contains("secret_value"));
    }

    #[test]
    fn return_urls_keep_their_query_and_fragment() {
        let payment = |url: &str| Payment {
            id: "pay_1".into(),
            reference: "ord 1&x=2".into(),
            amount: 1,
            currency: "CNY".into(),
            description: String::new(),
            return_url: Url::parse(url).unwrap(),
            callback_url: String::new(),
            status: Status::Succeeded,
            created: 0,
            refunds: Vec::new(),
            refund_reserved: 0,
        };
        assert_eq!(
            return_to(&payment("https://shop.test/orders/7")),
            "https://shop.test/orders/7?reference=ord+1%26x%3D2&status=succeeded"
        );
        assert_eq!(
            return_to(&payment("https://shop.test/back?lang=zh#top")),
            "https://shop.test/back?lang=zh&reference=ord+1%26x%3D2&status=succeeded#top"
        );
    }
}
