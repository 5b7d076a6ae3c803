//! The payment adapter against the local fake provider, over real HTTP on 127.0.0.1: FakePay on
//! one port, a small callback receiver (standing in for Forecourt's callback route) on another,
//! and [`HttpProvider`] talking to both the way the core does.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::Router;
use forecourt_plugins::payments::fake::{FakeConfig, FakePay};
use forecourt_plugins::payments::http::{HttpProvider, ProviderConfig};
use forecourt_plugins::payments::{
    signature, CallbackEvent, CallbackRejected, CreatedPayment, EventKind, NewPayment, NewRefund,
    PaymentProvider, ProviderError,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const API_KEY: &str = "sk_test_forecourt";
const WEBHOOK_SECRET: &str = "whsec_test_forecourt";
const WAIT: Duration = Duration::from_secs(10);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One callback as the receiver got it.
#[derive(Debug, Clone)]
struct Callback {
    headers: HeaderMap,
    body: Bytes,
}

impl Callback {
    fn signature(&self) -> &str {
        self.headers
            .get(signature::HEADER)
            .unwrap()
            .to_str()
            .unwrap()
    }

    /// The `t=` of the signature header.
    fn signed_at(&self) -> i64 {
        let t = self.signature().split(',').next().unwrap();
        t.strip_prefix("t=").unwrap().parse().unwrap()
    }
}

#[derive(Clone)]
struct ReceiverState {
    sender: mpsc::UnboundedSender<Callback>,
    /// Answer 500 to this many callbacks before accepting.
    fail_next: Arc<AtomicU32>,
}

/// A stand-in for Forecourt: takes callbacks on `/callbacks`, and plays a broken provider on
/// `/broken/…` (503) and `/moved/…` (307).
struct Receiver {
    base: String,
    callbacks: mpsc::UnboundedReceiver<Callback>,
    fail_next: Arc<AtomicU32>,
}

impl Receiver {
    async fn start() -> Receiver {
        async fn take(
            State(state): State<ReceiverState>,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            let _ = state.sender.send(Callback { headers, body });
            let failing = state
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        let (sender, callbacks) = mpsc::unbounded_channel();
        let fail_next = Arc::new(AtomicU32::new(0));
        let app = Router::new()
            .route("/callbacks", post(take))
            .route(
                "/broken/v1/payments",
                post(|| async {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(
                            json!({"error": {"code": "maintenance", "message": "back soon"}}),
                        ),
                    )
                }),
            )
            .route(
                "/moved/v1/payments",
                post(|| async {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [("location", "http://127.0.0.1:9/steal")],
                    )
                }),
            )
            .with_state(ReceiverState {
                sender,
                fail_next: fail_next.clone(),
            });
        let listener = tokio::net::TcpListener::bind(localhost()).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            base,
            callbacks,
            fail_next,
        }
    }

    fn url(&self) -> String {
        format!("{}/callbacks?source=fakepay", self.base)
    }

    async fn next(&mut self) -> Callback {
        tokio::time::timeout(WAIT, self.callbacks.recv())
            .await
            .expect("no callback arrived within 10 s")
            .unwrap()
    }

    /// Fails if a callback arrives within `wait`.
    async fn nothing_within(&mut self, wait: Duration) {
        if let Ok(Some(callback)) = tokio::time::timeout(wait, self.callbacks.recv()).await {
            panic!(
                "unexpected callback: {}",
                String::from_utf8_lossy(&callback.body)
            );
        }
    }
}

struct Kit {
    fake: FakePay,
    provider: HttpProvider,
    receiver: Receiver,
    /// A browser that does not follow redirects, so the tests see them.
    browser: reqwest::Client,
}

impl Kit {
    async fn start() -> Kit {
        let fake = FakePay::start(
            FakeConfig {
                api_key: API_KEY.into(),
                webhook_secret: WEBHOOK_SECRET.into(),
                callback_delay: std::time::Duration::ZERO,
            },
            localhost(),
        )
        .await
        .unwrap();
        let provider = provider(&fake.base_url(), API_KEY, WEBHOOK_SECRET);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Kit {
            fake,
            provider,
            receiver: Receiver::start().await,
            browser,
        }
    }

    fn payment(&self, reference: &str, amount: i64, currency: &str) -> NewPayment {
        NewPayment {
            reference: reference.into(),
            amount,
            currency: currency.into(),
            description: format!("Order {reference}"),
            return_url: "https://shop.test/orders/7?lang=zh".into(),
            callback_url: self.receiver.url(),
        }
    }

    async fn create(&self, reference: &str, amount: i64, currency: &str) -> CreatedPayment {
        self.provider
            .create_payment(self.payment(reference, amount, currency))
            .await
            .unwrap()
    }

    /// Completes (or declines) a payment through the fake's test control.
    async fn settle(&self, provider_ref: &str, action: &str) -> reqwest::Response {
        self.browser
            .post(format!(
                "{}/__fake/payments/{provider_ref}/{action}",
                self.fake.base_url()
            ))
            .send()
            .await
            .unwrap()
    }

    /// A paid payment and its verified `payment.succeeded` callback.
    async fn paid(&mut self, reference: &str, amount: i64) -> (CreatedPayment, Callback) {
        let created = self.create(reference, amount, "CNY").await;
        assert_eq!(
            self.settle(&created.provider_ref, "complete")
                .await
                .status(),
            200
        );
        let callback = self.receiver.next().await;
        let event = self.verify(&callback).unwrap();
        assert_eq!(event.kind, EventKind::PaymentSucceeded);
        (created, callback)
    }

    fn verify(&self, callback: &Callback) -> Result<CallbackEvent, CallbackRejected> {
        self.provider
            .verify_callback(&callback.headers, &callback.body, now_secs())
    }

    /// The next callback, verified.
    async fn next_event(&mut self) -> CallbackEvent {
        let callback = self.receiver.next().await;
        self.verify(&callback).unwrap()
    }

    async fn events(&self) -> Vec<Value> {
        reqwest::get(format!("{}/__fake/events", self.fake.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn refund(
        &self,
        payment: &CreatedPayment,
        reference: &str,
        amount: i64,
        currency: &str,
    ) -> NewRefund {
        NewRefund {
            payment_ref: payment.provider_ref.clone(),
            reference: reference.into(),
            amount,
            currency: currency.into(),
            callback_url: self.receiver.url(),
        }
    }
}

fn provider(base_url: &str, api_key: &str, webhook_secret: &str) -> HttpProvider {
    HttpProvider::new(ProviderConfig {
        base_url: base_url.into(),
        api_key: api_key.into(),
        webhook_secret: webhook_secret.into(),
    })
}

fn refused(result: Result<impl std::fmt::Debug, ProviderError>) -> String {
    match result {
        Err(ProviderError::Refused(message)) => message,
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_buyer_pays_on_the_page_and_forecourt_gets_a_verified_event() {
    let mut kit = Kit::start().await;
    let mut payment = kit.payment("ord-1", 123_450, "CNY");
    payment.description = r#"<script>alert("x")</script> Aurora S7 & co"#.into();
    let created = kit.provider.create_payment(payment).await.unwrap();
    assert!(created.provider_ref.starts_with("pay_"), "{created:?}");
    assert_eq!(
        created.redirect_url,
        format!("{}/pay/{}", kit.fake.base_url(), created.provider_ref)
    );

    // The page shows the amount in major units and the description escaped.
    let page = kit.browser.get(&created.redirect_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("1234.50 CNY"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Aurora S7 &amp; co"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let complete = format!("/pay/{}/complete", created.provider_ref);
    assert!(html.contains(&format!("action=\"{complete}\"")), "{html}");
    assert!(html.contains(&format!("action=\"/pay/{}/decline\"", created.provider_ref)));

    // Paying sends the browser back with the reference and status added to the query.
    let paid = kit
        .browser
        .post(format!("{}{complete}", kit.fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        paid.headers()["location"],
        "https://shop.test/orders/7?lang=zh&reference=ord-1&status=succeeded"
    );

    let callback = kit.receiver.next().await;
    assert_eq!(callback.headers["content-type"], "application/json");
    let event = kit.verify(&callback).unwrap();
    assert!(event.event_id.starts_with("evt_"), "{event:?}");
    assert_eq!(
        event,
        CallbackEvent {
            event_id: event.event_id.clone(),
            kind: EventKind::PaymentSucceeded,
            provider_ref: created.provider_ref.clone(),
            reference: "ord-1".into(),
            amount: 123_450,
            currency: "CNY".into(),
        }
    );
    let body: Value = serde_json::from_slice(&callback.body).unwrap();
    assert_eq!(body["type"], "payment.succeeded");
    assert_eq!(body["created"], callback.signed_at());

    // Paying again redirects the same way but sends no second event; declining is too late.
    let again = kit
        .browser
        .post(format!("{}{complete}", kit.fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(paid.headers()["location"], again.headers()["location"]);
    let decline = kit
        .browser
        .post(format!(
            "{}/pay/{}/decline",
            kit.fake.base_url(),
            created.provider_ref
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(decline.status(), StatusCode::CONFLICT);
    kit.receiver
        .nothing_within(Duration::from_millis(300))
        .await;
    let events = kit.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], event.event_id.as_str());
    assert_eq!(events[0]["url"], kit.receiver.url());
    assert_eq!(
        events[0]["body"],
        String::from_utf8_lossy(&callback.body).as_ref()
    );
    assert_eq!(events[0]["signature"], callback.signature());

    // The paid page no longer offers the forms.
    let html = reqwest::get(&created.redirect_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/complete"), "{html}");
    assert!(html.contains("succeeded"), "{html}");

    let seen = kit
        .provider
        .fetch_payment(&created.provider_ref)
        .await
        .unwrap();
    assert_eq!(seen.status, "succeeded");
    assert_eq!((seen.amount, seen.amount_refunded), (123_450, 0));
    assert_eq!(seen.reference, "ord-1");
}

#[tokio::test]
async fn a_declined_payment_sends_a_failed_event_and_cannot_be_paid() {
    let mut kit = Kit::start().await;
    let created = kit.create("ord-2", 500, "JPY").await;
    let html = reqwest::get(&created.redirect_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("500 JPY"), "{html}");

    let declined = kit
        .browser
        .post(format!(
            "{}/pay/{}/decline",
            kit.fake.base_url(),
            created.provider_ref
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        declined.headers()["location"],
        "https://shop.test/orders/7?lang=zh&reference=ord-2&status=failed"
    );
    let event = kit.next_event().await;
    assert_eq!(event.kind, EventKind::PaymentFailed);
    assert_eq!((event.reference.as_str(), event.amount), ("ord-2", 500));

    let paid = kit.settle(&created.provider_ref, "complete").await;
    assert_eq!(paid.status(), StatusCode::CONFLICT);
    let body: Value = paid.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payment_settled");
    // Refunding a failed payment is refused.
    let message = refused(
        kit.provider
            .refund(kit.refund(&created, "rf-x", 100, "JPY"))
            .await,
    );
    assert!(message.contains("payment_not_succeeded"), "{message}");
    kit.receiver
        .nothing_within(Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn tampered_forged_stale_and_unsigned_callbacks_are_rejected() {
    let mut kit = Kit::start().await;
    let (_, callback) = kit.paid("ord-3", 10_000).await;
    let now = now_secs();

    // A changed amount breaks the signature.
    let body = String::from_utf8(callback.body.to_vec()).unwrap();
    assert!(body.contains("\"amount\":10000"), "{body}");
    let tampered = body.replace("\"amount\":10000", "\"amount\":1");
    assert_eq!(
        kit.provider
            .verify_callback(&callback.headers, tampered.as_bytes(), now),
        Err(CallbackRejected::BadSignature)
    );

    // Signed with another secret (a forger's guess).
    let forged = signature::sign(b"whsec_guess", now, &callback.body);
    let mut headers = HeaderMap::new();
    headers.insert(signature::HEADER, HeaderValue::from_str(&forged).unwrap());
    assert_eq!(
        kit.provider.verify_callback(&headers, &callback.body, now),
        Err(CallbackRejected::BadSignature)
    );
    // A receiver configured with the wrong secret rejects the genuine event too.
    let wrong_secret = provider(&kit.fake.base_url(), API_KEY, "whsec_other");
    assert_eq!(
        wrong_secret.verify_callback(&callback.headers, &callback.body, now),
        Err(CallbackRejected::BadSignature)
    );

    // The genuine event, replayed after the 300 s tolerance.
    let later = callback.signed_at() + 301;
    assert_eq!(
        kit.provider
            .verify_callback(&callback.headers, &callback.body, later),
        Err(CallbackRejected::Stale {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert!(kit
        .provider
        .verify_callback(
            &callback.headers,
            &callback.body,
            callback.signed_at() + 300
        )
        .is_ok());

    // No header, a malformed one, two of them.
    assert_eq!(
        kit.provider
            .verify_callback(&HeaderMap::new(), &callback.body, now),
        Err(CallbackRejected::MissingSignature)
    );
    let mut headers = HeaderMap::new();
    headers.insert(signature::HEADER, HeaderValue::from_static("sha256=abc"));
    assert!(matches!(
        kit.provider.verify_callback(&headers, &callback.body, now),
        Err(CallbackRejected::MalformedSignature(_))
    ));
    let mut headers = callback.headers.clone();
    headers.append(
        signature::HEADER,
        HeaderValue::from_str(callback.signature()).unwrap(),
    );
    assert!(matches!(
        kit.provider.verify_callback(&headers, &callback.body, now),
        Err(CallbackRejected::MalformedSignature(_))
    ));

    // Correctly signed but not an event Forecourt knows.
    let unknown = body.replace("payment.succeeded", "payment.disputed");
    let mut headers = HeaderMap::new();
    headers.insert(
        signature::HEADER,
        HeaderValue::from_str(&signature::sign(
            WEBHOOK_SECRET.as_bytes(),
            now,
            unknown.as_bytes(),
        ))
        .unwrap(),
    );
    assert!(matches!(
        kit.provider
            .verify_callback(&headers, unknown.as_bytes(), now),
        Err(CallbackRejected::MalformedBody(why)) if why.contains("payment.disputed")
    ));
}

#[tokio::test]
async fn a_resent_event_is_the_same_event_so_consumers_can_dedupe() {
    let mut kit = Kit::start().await;
    let (_, first) = kit.paid("ord-4", 2_500).await;
    let first_event = kit.verify(&first).unwrap();

    let resent: Value = kit
        .browser
        .post(format!(
            "{}/__fake/events/{}/resend",
            kit.fake.base_url(),
            first_event.event_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resent["delivered"], true, "{resent}");
    assert_eq!(resent["status"], 200, "{resent}");
    let replay = kit.receiver.next().await;
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.signature(), first.signature());
    // Inside the tolerance a replay verifies: the event id is what stops it being applied twice.
    let replayed_event = kit.verify(&replay).unwrap();
    assert_eq!(replayed_event, first_event);
    let mut applied = HashSet::new();
    assert!(applied.insert(first_event.event_id.clone()));
    assert!(!applied.insert(replayed_event.event_id));

    let events = kit.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["attempts"], 2);
    assert_eq!(events[0]["delivered"], true);

    let missing = kit
        .browser
        .post(format!(
            "{}/__fake/events/evt_nope/resend",
            kit.fake.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn callbacks_are_retried_until_the_receiver_accepts() {
    let mut kit = Kit::start().await;
    kit.receiver.fail_next.store(2, Ordering::SeqCst);
    let created = kit.create("ord-5", 700, "CNY").await;
    assert_eq!(
        kit.settle(&created.provider_ref, "complete").await.status(),
        200
    );
    let attempts = [
        kit.receiver.next().await,
        kit.receiver.next().await,
        kit.receiver.next().await,
    ];
    assert!(attempts.iter().all(|a| a.body == attempts[0].body));
    kit.verify(&attempts[2]).unwrap();
    kit.receiver
        .nothing_within(Duration::from_millis(800))
        .await;
    let events = kit.events().await;
    assert_eq!(events[0]["attempts"], 3, "{events:?}");
    assert_eq!(events[0]["delivered"], true);
    assert_eq!(events[0]["last_status"], 200);
}

#[tokio::test]
async fn refunds_are_bounded_by_the_payment_and_confirmed_by_a_signed_event() {
    let mut kit = Kit::start().await;
    let (payment, _) = kit.paid("ord-6", 10_000).await;

    let refund = kit
        .provider
        .refund(kit.refund(&payment, "rf-1", 4_000, "CNY"))
        .await
        .unwrap();
    assert!(refund.provider_ref.starts_with("re_"), "{refund:?}");
    assert_eq!(refund.status, "pending");
    let event = kit.next_event().await;
    assert_eq!(event.kind, EventKind::RefundSucceeded);
    assert_eq!(event.provider_ref, refund.provider_ref);
    assert_eq!(
        (
            event.reference.as_str(),
            event.amount,
            event.currency.as_str()
        ),
        ("rf-1", 4_000, "CNY")
    );

    // The same refund asked again (a retry) is the same refund, with no second event.
    let again = kit
        .provider
        .refund(kit.refund(&payment, "rf-1", 4_000, "CNY"))
        .await
        .unwrap();
    assert_eq!(again.provider_ref, refund.provider_ref);

    let message = refused(
        kit.provider
            .refund(kit.refund(&payment, "rf-2", 6_001, "CNY"))
            .await,
    );
    assert!(message.contains("amount_exceeds_refundable"), "{message}");
    assert!(message.contains("6000"), "{message}");
    let message = refused(
        kit.provider
            .refund(kit.refund(&payment, "rf-3", 100, "EUR"))
            .await,
    );
    assert!(message.contains("currency_mismatch"), "{message}");
    let mut unknown = kit.refund(&payment, "rf-4", 100, "CNY");
    unknown.payment_ref = "pay_000000000000000000000000".into();
    let message = refused(kit.provider.refund(unknown).await);
    assert!(message.contains("payment_not_found"), "{message}");

    // The rest can be refunded, and then nothing more.
    kit.provider
        .refund(kit.refund(&payment, "rf-5", 6_000, "CNY"))
        .await
        .unwrap();
    let event = kit.next_event().await;
    assert_eq!((event.reference.as_str(), event.amount), ("rf-5", 6_000));
    let message = refused(
        kit.provider
            .refund(kit.refund(&payment, "rf-6", 1, "CNY"))
            .await,
    );
    assert!(message.contains("amount_exceeds_refundable"), "{message}");
    kit.receiver
        .nothing_within(Duration::from_millis(200))
        .await;

    let seen = kit
        .provider
        .fetch_payment(&payment.provider_ref)
        .await
        .unwrap();
    assert_eq!((seen.amount, seen.amount_refunded), (10_000, 10_000));
    let kinds: Vec<String> = kit
        .events()
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["payment.succeeded", "refund.succeeded", "refund.succeeded"]
    );

    // A payment still pending cannot be refunded.
    let pending = kit.create("ord-7", 100, "CNY").await;
    let message = refused(
        kit.provider
            .refund(kit.refund(&pending, "rf-7", 100, "CNY"))
            .await,
    );
    assert!(message.contains("payment_not_succeeded"), "{message}");
}

#[tokio::test]
async fn the_api_checks_keys_idempotency_and_every_field() {
    let kit = Kit::start().await;

    // The same reference (the Idempotency-Key) and body → the same payment.
    let first = kit.create("ord-8", 1_000, "CNY").await;
    let second = kit.create("ord-8", 1_000, "CNY").await;
    assert_eq!(first, second);
    let other = kit.create("ord-9", 1_000, "CNY").await;
    assert_ne!(first.provider_ref, other.provider_ref);
    // The same key with another body is refused, not silently answered with the first payment.
    let message = refused(
        kit.provider
            .create_payment(kit.payment("ord-8", 2_000, "CNY"))
            .await,
    );
    assert!(message.contains("idempotency_key_reused"), "{message}");

    // Wrong or missing API key.
    let stranger = provider(&kit.fake.base_url(), "sk_wrong", WEBHOOK_SECRET);
    let message = refused(
        stranger
            .create_payment(kit.payment("ord-10", 1, "CNY"))
            .await,
    );
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(!message.contains(API_KEY), "{message}");
    assert!(matches!(
        stranger.fetch_payment(&first.provider_ref).await,
        Err(ProviderError::Refused(_))
    ));
    let raw = kit
        .browser
        .post(format!("{}/v1/payments", kit.fake.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);

    // Each invalid field is named.
    for (change, code) in [
        (("amount", json!(0)), "amount_not_positive"),
        (("amount", json!(-5)), "amount_not_positive"),
        (("currency", json!("cny")), "currency_invalid"),
        (("currency", json!("CNYX")), "currency_invalid"),
        (("reference", json!("")), "reference_invalid"),
        (("return_url", json!("/relative")), "url_invalid"),
        (("callback_url", json!("ftp://shop.test/x")), "url_invalid"),
        (
            ("callback_url", json!("http://user:pw@shop.test/x")),
            "url_invalid",
        ),
    ] {
        let mut body = json!({
            "reference": "ord-11", "amount": 100, "currency": "CNY", "description": "x",
            "return_url": "https://shop.test/back", "callback_url": "https://shop.test/cb",
        });
        body[change.0] = change.1.clone();
        let answer = kit
            .browser
            .post(format!("{}/v1/payments", kit.fake.base_url()))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{change:?}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{change:?}: {error}");
        assert_eq!(error["error"]["param"], format!("/{}", change.0), "{error}");
    }
    // Missing and unknown fields, and bodies that are not JSON.
    for body in [
        r#"{"reference":"ord-12","amount":100}"#,
        r#"{"reference":"ord-12","amount":1.5,"currency":"CNY","description":"","return_url":"https://a.test","callback_url":"https://a.test"}"#,
        r#"{"reference":"ord-12","amount":100,"currency":"CNY","description":"","return_url":"https://a.test","callback_url":"https://a.test","tip":5}"#,
        "amount=100",
    ] {
        let answer = kit
            .browser
            .post(format!("{}/v1/payments", kit.fake.base_url()))
            .bearer_auth(API_KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], "body_invalid", "{error}");
    }
    let missing: Value = kit
        .browser
        .post(format!("{}/v1/payments", kit.fake.base_url()))
        .bearer_auth(API_KEY)
        .body(r#"{"reference":"ord-12","amount":100}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `currency`"),
        "{missing}"
    );
    // The adapter passes the provider's reason on.
    let message = refused(
        kit.provider
            .create_payment(kit.payment("ord-13", 0, "CNY"))
            .await,
    );
    assert!(
        message.contains("HTTP 400: amount_not_positive"),
        "{message}"
    );

    // Unknown payments.
    assert!(matches!(
        kit.provider.fetch_payment("pay_000000000000000000000000").await,
        Err(ProviderError::Refused(m)) if m.contains("HTTP 404")
    ));
    assert!(matches!(
        kit.provider.fetch_payment("../v1/refunds").await,
        Err(ProviderError::Refused(_))
    ));
    let page = reqwest::get(format!("{}/pay/pay_nope", kit.fake.base_url()))
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
}

#[tokio::test]
async fn an_unreachable_or_failing_provider_is_unavailable_and_redirects_are_not_followed() {
    let kit = Kit::start().await;
    let payment = kit.payment("ord-14", 100, "CNY");

    let broken = provider(
        &format!("{}/broken", kit.receiver.base),
        API_KEY,
        WEBHOOK_SECRET,
    );
    match broken.create_payment(payment.clone()).await {
        Err(ProviderError::Unavailable(message)) => {
            assert!(
                message.contains("HTTP 503: maintenance: back soon"),
                "{message}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let moved = provider(
        &format!("{}/moved", kit.receiver.base),
        API_KEY,
        WEBHOOK_SECRET,
    );
    let message = refused(moved.create_payment(payment.clone()).await);
    assert!(message.contains("HTTP 307"), "{message}");

    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gone = provider(&format!("http://{closed}"), API_KEY, WEBHOOK_SECRET);
    assert!(matches!(
        gone.create_payment(payment).await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn dropping_the_fake_stops_it() {
    let kit = Kit::start().await;
    let base = kit.fake.base_url();
    assert_eq!(
        reqwest::get(format!("{base}/__fake/events"))
            .await
            .unwrap()
            .status(),
        200
    );
    drop(kit);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // A fresh client each time, so no pooled connection is reused.
        if reqwest::get(format!("{base}/__fake/events")).await.is_err() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "FakePay still answers after being dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A provider at an `https://` address is spoken to over TLS: the first bytes on the wire are a
/// TLS ClientHello, and a server that does not finish the handshake is "unavailable, retry".
#[tokio::test]
async fn an_https_provider_is_called_over_tls() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind(localhost()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let provider = provider(
        &format!("https://127.0.0.1:{port}"),
        API_KEY,
        WEBHOOK_SECRET,
    );
    let call = tokio::spawn(async move {
        provider
            .create_payment(NewPayment {
                reference: "ord-tls".into(),
                amount: 100,
                currency: "CNY".into(),
                description: "Order ord-tls".into(),
                return_url: "https://shop.test/orders/7".into(),
                callback_url: "https://shop.test/callback".into(),
            })
            .await
    });
    let (mut socket, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the client connects")
        .unwrap();
    let mut hello = [0u8; 6];
    tokio::time::timeout(WAIT, socket.read_exact(&mut hello))
        .await
        .expect("the client speaks first")
        .unwrap();
    // A TLS record of type handshake (22), version 3.x, whose first message is a ClientHello (1).
    assert_eq!(hello[0], 22, "{hello:?}");
    assert_eq!(hello[1], 3, "{hello:?}");
    assert_eq!(hello[5], 1, "{hello:?}");
    drop(socket);
    match call.await.unwrap() {
        Err(ProviderError::Unavailable(_)) => {}
        other => panic!("a failed handshake is unavailable, got {other:?}"),
    }
}
