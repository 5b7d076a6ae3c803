//! The one small shared state every handler receives: settings, the database, the tenant
//! snapshot cache, the token cache and the login throttle.

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
    /// Largest accepted bundle upload.
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
        }
    }
}

pub struct Inner {
    pub db: Db,
    pub settings: Settings,
    pub snapshots: Snapshots,
    pub tokens: TokenCache,
    pub throttle: LoginThrottle,
    /// The Rhai sandbox for tenant rules on the request path (compiled scripts cached by hash).
    pub scripts: forecourt_plugins::ScriptRuntime,
    /// Compiled workflow versions (immutable, cached by tenant, id and version).
    pub workflows: crate::workflows::WorkflowCache,
    /// The block library, every tenant's live pages and rendered pages.
    pub pages: crate::pages::PageCache,
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
        AppState(Arc::new(Inner {
            db,
            settings,
            snapshots: Snapshots::new(),
            tokens,
            throttle: LoginThrottle::new(),
            scripts: forecourt_plugins::ScriptRuntime::default(),
            workflows: crate::workflows::WorkflowCache::default(),
            pages: crate::pages::PageCache::default(),
        }))
    }
}
