//! The one small shared state every handler receives: settings, the database, the tenant
//! snapshot cache, the token cache, the login throttle, the personal-data vault, the payment
//! provider and the order desk.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{LoginThrottle, TokenCache};
use crate::store::Db;
use crate::tenancy::Snapshots;

/// Settings of a running server (from the command line or the environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Storefront hosts are `{slug}.{base_domain}`.
    pub base_domain: String,
    /// Mark session cookies `Secure` (set when TLS terminates in front of Forecourt).
    pub secure_cookies: bool,
    /// Largest accepted request body, except bundle uploads.
    pub body_limit: usize,
    /// Largest accepted upload: bundles and stock (CSV import, DMS sync).
    pub bundle_body_limit: usize,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// How long a node may serve a token or role change from its cache before re-reading it.
    pub credential_cache_ttl: Duration,
    /// How often a node checks for configuration published by other nodes.
    pub publish_poll: Duration,
    /// How often the scheduler looks for due workflow timers.
    pub timer_poll: Duration,
    /// How often the outbox relay looks for messages to deliver.
    pub outbox_poll: Duration,
    /// The URL this service is reached at from outside (payment return and callback links).
    pub public_url: String,
    /// The master key of personal data at rest; `None` → a random key for this process only
    /// (tests), so data sealed with it cannot be read after a restart.
    pub pii_key: Option<crate::pii::MasterKey>,
    /// The payment provider; `None` → orders cannot be paid online.
    pub payments: Option<forecourt_plugins::payments::http::ProviderConfig>,
    /// Deliver SMS through the fake adapter: codes go to the log and the `/dev/sms` inbox page
    /// (demo and tests only).
    pub fake_sms: bool,
    /// Reverse proxies whose forwarding header is believed when counting requests per client
    /// address ([`crate::http::limits`]); empty → the socket peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header those proxies write the client's address into.
    pub forwarded_header: crate::http::limits::ForwardedHeader,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            base_domain: "localhost".into(),
            secure_cookies: false,
            body_limit: 1024 * 1024,
            bundle_body_limit: 16 * 1024 * 1024,
            session_ttl: Duration::from_secs(12 * 3600),
            credential_cache_ttl: Duration::from_secs(5),
            publish_poll: Duration::from_millis(200),
            timer_poll: Duration::from_millis(500),
            outbox_poll: Duration::from_millis(500),
            public_url: "http://localhost:8080".into(),
            pii_key: None,
            payments: None,
            fake_sms: false,
            trusted_proxies: Vec::new(),
            forwarded_header: Default::default(),
        }
    }
}

pub struct Inner {
    pub db: Db,
    pub settings: Settings,
    pub snapshots: Snapshots,
    pub tokens: TokenCache,
    pub throttle: LoginThrottle,
    /// Per-address limits on sign-in codes and storefront forms.
    pub limits: crate::http::limits::AddressLimits,
    /// The Rhai sandbox for tenant rules on the request path (compiled scripts cached by hash).
    pub scripts: forecourt_plugins::ScriptRuntime,
    /// Compiled workflow versions (immutable, cached by tenant, id and version).
    pub workflows: crate::workflows::WorkflowCache,
    /// The block library, every tenant's live pages and rendered pages.
    pub pages: crate::pages::PageCache,
    /// Seals, opens and indexes personal data.
    pub pii: crate::pii::Vault,
    /// The payment provider, if one is configured.
    pub payments: Option<Arc<dyn forecourt_plugins::payments::PaymentProvider>>,
    /// The order desk: the writer tasks that commit orders in batches.
    pub orders: crate::orders::OrderDesk,
    /// Vehicle builds by VIN for order handlers, looked up together.
    pub vehicle_builds: crate::inventory::builds::VehicleBuilds,
    /// Saved configurations by (tenant id, code): immutable once saved, so kept without expiry.
    pub saved_configurations:
        moka::sync::Cache<(String, String), Arc<crate::catalog::routes::SavedConfiguration>>,
}

/// Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, settings: Settings) -> Self {
        let tokens = TokenCache::new(settings.credential_cache_ttl);
        let pii = match &settings.pii_key {
            Some(key) => crate::pii::Vault::from_master(key.bytes()),
            None => crate::pii::Vault::random(),
        };
        let payments = settings.payments.clone().map(|config| {
            Arc::new(forecourt_plugins::payments::http::HttpProvider::new(config))
                as Arc<dyn forecourt_plugins::payments::PaymentProvider>
        });
        let orders = crate::orders::OrderDesk::new(&db);
        AppState(Arc::new(Inner {
            db,
            settings,
            snapshots: Snapshots::new(),
            tokens,
            throttle: LoginThrottle::new(),
            limits: Default::default(),
            scripts: forecourt_plugins::ScriptRuntime::default(),
            workflows: crate::workflows::WorkflowCache::default(),
            pages: crate::pages::PageCache::default(),
            pii,
            payments,
            orders,
            vehicle_builds: Default::default(),
            saved_configurations: moka::sync::Cache::new(20_000),
        }))
    }
}
