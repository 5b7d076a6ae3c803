//! (being written)

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
    _config: ProviderConfig,
}

impl HttpProvider {
    pub fn new(config: ProviderConfig) -> HttpProvider {
        HttpProvider { _config: config }
    }
}

impl super::PaymentProvider for HttpProvider {
    fn name(&self) -> &'static str {
        "fakepay"
    }
    fn create_payment(
        &self,
        _payment: super::NewPayment,
    ) -> super::ProviderFuture<'_, super::CreatedPayment> {
        todo!()
    }
    fn refund(&self, _refund: super::NewRefund) -> super::ProviderFuture<'_, super::CreatedRefund> {
        todo!()
    }
    fn verify_callback(
        &self,
        _headers: &axum::http::HeaderMap,
        _body: &[u8],
        _now_secs: i64,
    ) -> Result<super::CallbackEvent, super::CallbackRejected> {
        todo!()
    }
}
