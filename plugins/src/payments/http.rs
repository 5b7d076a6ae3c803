//! The HTTP payment adapter: a [`PaymentProvider`] for any provider speaking the FakePay contract
//! (documented in [`super::fake`]), over a `reqwest` client.
//!
//! **Owns** turning [`NewPayment`] / [`NewRefund`] into provider calls, mapping the provider's
//! answers and failures to [`ProviderError`], and verifying and decoding callbacks into
//! [`CallbackEvent`]s.
//!
//! **Invariants**
//! - Every create and refund call carries `Idempotency-Key: <reference>`, so a retried call (after
//!   a timeout, say) can never create a second payment or refund for one Forecourt reference.
//! - Calls time out after [`TIMEOUT`]; redirects are never followed (a provider API that
//!   redirects is misconfigured, and following one would send the API key elsewhere).
//! - Unreachable provider, timeout, 5xx or 429 → [`ProviderError::Unavailable`] (retry later);
//!   any other 4xx → [`ProviderError::Refused`] with the provider's own message (retrying the
//!   same request will not help).
//! - A callback is decoded only after [`signature::verify`] accepted it, with a tolerance of
//!   [`SIGNATURE_TOLERANCE_SECS`]; an unknown event type is [`CallbackRejected::MalformedBody`].
//!   Replays inside the tolerance verify: the caller applies each `event_id` at most once, and
//!   logs rejections with its own context (tenant, request id).
//! - The API key and webhook secret never appear in `Debug` output, errors or logs.
//!
//! `base_url` is `https://` for a real provider (TLS by rustls, trusting the Mozilla roots built
//! in and the system's certificate store) or `http://` (the local fake, or a TLS-terminating
//! proxy on the same host).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    signature, CallbackEvent, CallbackRejected, CreatedPayment, CreatedRefund, EventKind,
    NewPayment, NewRefund, PaymentProvider, ProviderError, ProviderFuture,
};

/// Checks a provider's API base URL (`--payments-url`) and gives it without a trailing slash:
/// absolute, `https://` — or `http://` to a loopback address only (the local fake, a TLS proxy
/// on the same host), since the API key travels in every call — with no credentials, query or
/// fragment. `Err` says what is wrong.
pub fn provider_base_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("`{raw}` is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "`{raw}` would send the API key unencrypted: use https:// (http:// is for a provider on this host only)"
                ));
            }
        }
        other => return Err(format!("`{raw}`: the scheme must be https, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{raw}` carries credentials; the API key comes from the environment instead"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{raw}` has a query or fragment; give the API's base URL only"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// How long one provider call may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How far a callback's signature timestamp may be from now.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Provider answers longer than this are not read (they are not FakePay answers).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Provider messages are cut to this many characters before they are passed on.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where the provider is and the secrets to talk to it. `Debug` never shows a secret.
#[derive(Clone)]
pub struct ProviderConfig {
    pub base_url: String,
    pub api_key: String,
    pub webhook_secret: String,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A provider speaking the FakePay HTTP contract.
pub struct HttpProvider {
    config: ProviderConfig,
    /// `Err` only if the HTTP client could not be built (every call then reports it as
    /// [`ProviderError::Unavailable`] rather than panicking at start-up).
    client: Result<reqwest::Client, String>,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A payment as the provider reports it (`GET /v1/payments/{id}`), for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderPayment {
    pub id: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    /// The sum of succeeded refunds, in minor units.
    pub amount_refunded: i64,
}

impl HttpProvider {
    pub fn new(config: ProviderConfig) -> HttpProvider {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("forecourt/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"));
        let config = ProviderConfig {
            base_url: config.base_url.trim_end_matches('/').to_string(),
            ..config
        };
        HttpProvider { config, client }
    }

    /// The payment `provider_ref` as the provider sees it now (status, refunded amount).
    pub async fn fetch_payment(
        &self,
        provider_ref: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        if provider_ref.is_empty()
            || !provider_ref
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ProviderError::Refused(
                "a provider payment id has only letters, digits, `_` and `-`".into(),
            ));
        }
        let request = self
            .client()?
            .get(format!(
                "{}/v1/payments/{provider_ref}",
                self.config.base_url
            ))
            .bearer_auth(&self.config.api_key);
        self.call(request).await
    }

    fn client(&self) -> Result<&reqwest::Client, ProviderError> {
        self.client
            .as_ref()
            .map_err(|e| ProviderError::Unavailable(e.clone()))
    }

    /// POSTs `body` to `path` with the API key and an idempotency key.
    async fn post<B: Serialize, T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        idempotency_key: &str,
        body: &B,
    ) -> Result<T, ProviderError> {
        let request = self
            .client()?
            .post(format!("{}{path}", self.config.base_url))
            .bearer_auth(&self.config.api_key)
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        self.call(request).await
    }

    /// Sends `request` and decodes a 2xx answer as `T`; maps everything else to a
    /// [`ProviderError`].
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let mut response = request.send().await.map_err(|e| {
            ProviderError::Unavailable(format!(
                "the payment provider could not be reached: {}",
                e.without_url()
            ))
        })?;
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(ProviderError::Unavailable(format!(
                            "the payment provider answered HTTP {} with more than \
                             {MAX_RESPONSE_BYTES} bytes",
                            status.as_u16()
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(ProviderError::Unavailable(format!(
                        "the payment provider's answer was cut off: {}",
                        e.without_url()
                    )))
                }
            }
        }
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                ProviderError::Unavailable(format!(
                    "the payment provider answered HTTP {} with an unexpected body: {e}",
                    status.as_u16()
                ))
            });
        }
        let message = provider_message(&body).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        });
        let message = format!("HTTP {}: {message}", status.as_u16());
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(ProviderError::Unavailable(message))
        } else {
            Err(ProviderError::Refused(message))
        }
    }
}

/// `code: message` from a FakePay error body (`{"error": {"code", "message"}}`), cut short.
fn provider_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        code: Option<String>,
        message: String,
    }
    let detail = serde_json::from_slice::<ErrorBody>(body).ok()?.error;
    let text = match detail.code {
        Some(code) => format!("{code}: {}", detail.message),
        None => detail.message,
    };
    Some(match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    })
}

#[derive(Serialize)]
struct PaymentRequest<'a> {
    reference: &'a str,
    amount: i64,
    currency: &'a str,
    description: &'a str,
    return_url: &'a str,
    callback_url: &'a str,
}

#[derive(Deserialize)]
struct PaymentAnswer {
    id: String,
    redirect_url: String,
}

#[derive(Serialize)]
struct RefundRequest<'a> {
    payment: &'a str,
    reference: &'a str,
    amount: i64,
    currency: &'a str,
    callback_url: &'a str,
}

#[derive(Deserialize)]
struct RefundAnswer {
    id: String,
    status: String,
}

/// A callback body as it comes off the wire.
#[derive(Deserialize)]
struct WireEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[allow(dead_code)]
    created: i64,
    data: WireObject,
}

#[derive(Deserialize)]
struct WireObject {
    id: String,
    reference: String,
    amount: i64,
    currency: String,
}

/// Decodes a verified callback body.
fn decode_event(body: &[u8]) -> Result<CallbackEvent, CallbackRejected> {
    let malformed = |why: String| CallbackRejected::MalformedBody(why);
    let event: WireEvent = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let kind = match event.kind.as_str() {
        "payment.succeeded" => EventKind::PaymentSucceeded,
        "payment.failed" => EventKind::PaymentFailed,
        "refund.succeeded" => EventKind::RefundSucceeded,
        "refund.failed" => EventKind::RefundFailed,
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(malformed(format!("unknown event type `{shown}` at /type")));
        }
    };
    if event.id.is_empty() {
        return Err(malformed("/id is empty".into()));
    }
    if event.data.id.is_empty() {
        return Err(malformed("/data/id is empty".into()));
    }
    if event.data.reference.is_empty() {
        return Err(malformed("/data/reference is empty".into()));
    }
    if event.data.amount <= 0 {
        return Err(malformed("/data/amount is not positive".into()));
    }
    if event.data.currency.len() != 3
        || !event.data.currency.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(malformed(
            "/data/currency is not three upper-case letters".into(),
        ));
    }
    Ok(CallbackEvent {
        event_id: event.id,
        kind,
        provider_ref: event.data.id,
        reference: event.data.reference,
        amount: event.data.amount,
        currency: event.data.currency,
    })
}

impl PaymentProvider for HttpProvider {
    fn name(&self) -> &'static str {
        "fakepay"
    }

    fn create_payment(&self, payment: NewPayment) -> ProviderFuture<'_, CreatedPayment> {
        Box::pin(async move {
            let request = PaymentRequest {
                reference: &payment.reference,
                amount: payment.amount,
                currency: &payment.currency,
                description: &payment.description,
                return_url: &payment.return_url,
                callback_url: &payment.callback_url,
            };
            let answer: PaymentAnswer = self
                .post("/v1/payments", &payment.reference, &request)
                .await?;
            Ok(CreatedPayment {
                provider_ref: answer.id,
                redirect_url: answer.redirect_url,
            })
        })
    }

    fn refund(&self, refund: NewRefund) -> ProviderFuture<'_, CreatedRefund> {
        Box::pin(async move {
            let request = RefundRequest {
                payment: &refund.payment_ref,
                reference: &refund.reference,
                amount: refund.amount,
                currency: &refund.currency,
                callback_url: &refund.callback_url,
            };
            let answer: RefundAnswer = self
                .post("/v1/refunds", &refund.reference, &request)
                .await?;
            Ok(CreatedRefund {
                provider_ref: answer.id,
                status: answer.status,
            })
        })
    }

    fn verify_callback(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now_secs: i64,
    ) -> Result<CallbackEvent, CallbackRejected> {
        let mut values = headers.get_all(signature::HEADER).iter();
        let header = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(value), None) => Some(value.to_str().map_err(|_| {
                CallbackRejected::MalformedSignature("the header is not visible ASCII".into())
            })?),
            (Some(_), Some(_)) => {
                return Err(CallbackRejected::MalformedSignature(format!(
                    "more than one {} header",
                    signature::HEADER
                )))
            }
        };
        signature::verify(
            self.config.webhook_secret.as_bytes(),
            header,
            body,
            now_secs,
            SIGNATURE_TOLERANCE_SECS,
        )?;
        decode_event(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_are_https_or_local() {
        assert_eq!(
            provider_base_url("https://api.pay.example/v1/").unwrap(),
            "https://api.pay.example/v1"
        );
        assert_eq!(
            provider_base_url("http://127.0.0.1:8099").unwrap(),
            "http://127.0.0.1:8099"
        );
        assert!(provider_base_url("http://localhost:8099/").is_ok());
        assert!(provider_base_url("http://[::1]:8099").is_ok());
        let clear = provider_base_url("http://api.pay.example").unwrap_err();
        assert!(clear.contains("unencrypted"), "{clear}");
        assert!(provider_base_url("ftp://api.pay.example")
            .unwrap_err()
            .contains("not ftp"));
        assert!(provider_base_url("https://key:secret@api.pay.example")
            .unwrap_err()
            .contains("credentials"));
        assert!(provider_base_url("https://api.pay.example/?x=1")
            .unwrap_err()
            .contains("query"));
        assert!(provider_base_url("api.pay.example")
            .unwrap_err()
            .contains("not an absolute URL"));
    }

    fn event(kind: &str, amount: i64) -> Vec<u8> {
        format!(
            r#"{{"id":"evt_1","type":"{kind}","created":1,"data":{{"id":"pay_1","reference":"r1","amount":{amount},"currency":"CNY"}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn events_decode_by_type() {
        let decoded = decode_event(&event("refund.succeeded", 500)).unwrap();
        assert_eq!(
            decoded,
            CallbackEvent {
                event_id: "evt_1".into(),
                kind: EventKind::RefundSucceeded,
                provider_ref: "pay_1".into(),
                reference: "r1".into(),
                amount: 500,
                currency: "CNY".into(),
            }
        );
        for kind in [
            EventKind::PaymentSucceeded,
            EventKind::PaymentFailed,
            EventKind::RefundSucceeded,
            EventKind::RefundFailed,
        ] {
            assert_eq!(decode_event(&event(kind.as_str(), 1)).unwrap().kind, kind);
        }
    }

    #[test]
    fn unknown_types_and_bad_values_are_malformed() {
        for body in [
            event("payment.disputed", 1),
            event("payment.succeeded", 0),
            event("payment.succeeded", -5),
            b"not json".to_vec(),
            br#"{"id":"evt_1","type":"payment.succeeded","created":1}"#.to_vec(),
        ] {
            assert!(
                matches!(decode_event(&body), Err(CallbackRejected::MalformedBody(_))),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn provider_messages_are_cut_short() {
        let long = "x".repeat(1000);
        let body = format!(r#"{{"error":{{"code":"c","message":"{long}"}}}}"#);
        let message = provider_message(body.as_bytes()).unwrap();
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.starts_with("c: xxx"));
        assert_eq!(provider_message(b"<html>"), None);
    }

    #[test]
    fn debug_hides_the_secrets() {
        let provider = HttpProvider::new(ProviderConfig {
            base_url: "http://127.0.0.1:9/".into(),
            api_key: "sk_very_secret".into(),
            webhook_secret: "whsec_very_secret".into(),
        });
        let shown = format!("{provider:?}");
        assert!(shown.contains("http://127.0.0.1:9"), "{shown}");
        assert!(!shown.contains("very_secret"), "{shown}");
    }
}
