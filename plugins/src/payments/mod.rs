//! Payment providers: the adapter interface Forecourt's order flow talks to, an HTTP adapter for
//! providers that speak the FakePay contract, and the local fake provider itself (an HTTP server
//! for tests and the demo).
//!
//! **Owns** how a payment is created, how the buyer is sent to pay, how a provider's signed
//! callback is verified and decoded, and how a refund is asked for. It knows nothing of orders,
//! tenants' data or SQL: the core records payments and decides what a verified event means.
//!
//! **Invariants**
//! - Amounts are integer minor units with an ISO 4217 currency code; never floats.
//! - A callback is trusted only after its HMAC-SHA256 signature over `{timestamp}.{body}` is
//!   verified in constant time with the webhook secret and its timestamp is within the
//!   tolerance; anything else is a [`CallbackRejected`] naming why.
//! - Secrets never appear in `Debug` output or logs.

pub mod fake;
pub mod http;
pub mod signature;

use std::future::Future;
use std::pin::Pin;

/// A boxed future returned by provider calls.
pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// What Forecourt asks a provider to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Forecourt's payment id; the provider echoes it in callbacks.
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    /// Shown to the buyer on the provider's page.
    pub description: String,
    /// Where the provider sends the buyer's browser after paying (or giving up).
    pub return_url: String,
    /// Where the provider posts signed events about this payment.
    pub callback_url: String,
}

/// The provider's answer to [`NewPayment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPayment {
    /// The provider's id of the payment.
    pub provider_ref: String,
    /// Where to send the buyer's browser to pay.
    pub redirect_url: String,
}

/// A refund of (part of) a succeeded payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    /// The provider's id of the payment to refund.
    pub payment_ref: String,
    /// Forecourt's refund id; the provider echoes it in callbacks.
    pub reference: String,
    pub amount: i64,
    pub currency: String,
    pub callback_url: String,
}

/// The provider's answer to [`NewRefund`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRefund {
    pub provider_ref: String,
    /// `pending` (a callback follows) or `succeeded`.
    pub status: String,
}

/// A verified event from a provider callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackEvent {
    /// The provider's event id: a verified event is applied at most once.
    pub event_id: String,
    pub kind: EventKind,
    /// The provider's id of the payment or refund.
    pub provider_ref: String,
    /// Forecourt's id of the payment or refund (from `reference`).
    pub reference: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    RefundSucceeded,
    RefundFailed,
}

impl EventKind {
    /// The wire name (`payment.succeeded` …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PaymentSucceeded => "payment.succeeded",
            EventKind::PaymentFailed => "payment.failed",
            EventKind::RefundSucceeded => "refund.succeeded",
            EventKind::RefundFailed => "refund.failed",
        }
    }
}

/// Why a callback was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRejected {
    #[error("the callback carries no signature header")]
    MissingSignature,
    #[error("the signature header is malformed: {0}")]
    MalformedSignature(String),
    #[error("the signature does not match the body")]
    BadSignature,
    #[error(
        "the signature timestamp is {age_secs} s away from now (tolerance {tolerance_secs} s)"
    )]
    Stale { age_secs: i64, tolerance_secs: i64 },
    #[error("the body is not a valid event: {0}")]
    MalformedBody(String),
}

/// A provider call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or answered 5xx: worth retrying.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx): retrying will not help.
    #[error("payment provider refused the request: {0}")]
    Refused(String),
}

/// A payment provider as the order flow sees it.
pub trait PaymentProvider: Send + Sync {
    /// Short stable name stored with each payment (`fakepay`).
    fn name(&self) -> &'static str;
    fn create_payment(&self, payment: NewPayment) -> ProviderFuture<'_, CreatedPayment>;
    fn refund(&self, refund: NewRefund) -> ProviderFuture<'_, CreatedRefund>;
    /// Verifies and decodes a callback (`now_secs`: current Unix time).
    fn verify_callback(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now_secs: i64,
    ) -> Result<CallbackEvent, CallbackRejected>;
}
