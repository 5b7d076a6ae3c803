//! Staff authentication: argon2id passwords, sessions and API tokens, login throttling, and the
//! [`Actor`] extractor that turns credentials into a tenant and a principal.
//!
//! **Owns** credentials. A token reads `fc1.<tenant id>.<token id>.<secret>`: the tenant and
//! token id locate the row, only a SHA-256 of the 256-bit secret is stored, and the comparison
//! runs in constant time. Sessions (from login) and API tokens share this format; a session is
//! also set as an `HttpOnly`, `SameSite=Lax` cookie.
//!
//! **Invariants**
//! - The tenant of a request comes from its credentials, never from its body or query.
//! - Passwords are hashed with argon2id; unknown emails cost the same time as wrong passwords.
//! - Expired, revoked or disabled credentials are refused; a node may serve a token it verified
//!   for at most `credential_cache_ttl` after it was revoked on another node (revoking on this
//!   node takes effect at once).
//! - Secrets and passwords never reach logs.

pub mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::authz::Principal;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{now_ms, Db};
use crate::tenancy::Snapshot;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "forecourt_session";

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Verifies `password` against a stored PHC string; false on any mismatch or malformed hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so timing does not reveal it.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("forecourt-timing-equaliser").unwrap_or_default())
}

/// Checks a new password's strength: 10–256 characters.
pub fn check_password_policy(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(10..=256).contains(&n) {
        return Err(ApiError::field(
            "weak_password",
            "/password",
            "the password must have 10 to 256 characters",
        ));
    }
    Ok(())
}

/// A freshly minted credential: the full token (shown once) and what is stored of it.
pub struct MintedToken {
    pub id: String,
    pub token: String,
    pub secret_hash: String,
}

/// Mints a token for `tenant_id`.
pub fn mint_token(tenant_id: &str) -> MintedToken {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    let secret_hash = hex::encode(Sha256::digest(secret.as_bytes()));
    MintedToken {
        token: format!("fc1.{tenant_id}.{id}.{secret}"),
        id,
        secret_hash,
    }
}

/// The parts of a presented token.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedToken<'a> {
    pub tenant_id: &'a str,
    pub token_id: &'a str,
    pub secret: &'a str,
}

/// Splits a token into its parts; `None` when it is not shaped like a Forecourt token.
pub fn parse_token(token: &str) -> Option<PresentedToken<'_>> {
    let mut parts = token.split('.');
    let (Some("fc1"), Some(tenant_id), Some(token_id), Some(secret), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let hexish = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (tenant_id.len() == 36 && token_id.len() == 32 && hexish(token_id, 32) && hexish(secret, 64))
        .then_some(PresentedToken {
            tenant_id,
            token_id,
            secret,
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a node remembers of a verified credential.
#[derive(Debug, Clone)]
pub struct CachedCredential {
    pub tenant_id: String,
    pub token_id: String,
    pub kind: String,
    pub secret_hash: String,
    pub expires_at: i64,
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub unit: Option<String>,
    pub roles: Vec<String>,
    pub scopes: Option<Vec<String>>,
}

/// Node-local cache of credentials by token id (short TTL; see the module invariants).
pub struct TokenCache {
    cache: moka::sync::Cache<String, Option<Arc<CachedCredential>>>,
}

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(ttl)
                .build(),
        }
    }
    pub fn invalidate(&self, token_id: &str) {
        self.cache.invalidate(token_id);
    }
    /// Drops every cached credential (after role or user changes on this node).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

/// Loads an active credential (not revoked, user active) with its user's roles.
async fn load_credential(
    db: &Db,
    tenant_id: &str,
    token_id: &str,
) -> Result<Option<Arc<CachedCredential>>, ApiError> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(
        "SELECT t.kind, t.secret_hash, t.expires_at, t.scopes, u.id AS user_id, u.email, u.display_name, u.unit_code \
         FROM auth_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id \
         WHERE t.tenant_id = $1 AND t.id = $2 AND t.revoked_at IS NULL AND u.status = 'active'",
    )
    .bind(tenant_id)
    .bind(token_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let user_id: String = row.try_get("user_id")?;
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT role_code FROM user_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_code",
    )
    .bind(tenant_id)
    .bind(&user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let scopes: Option<String> = row.try_get("scopes")?;
    let scopes = scopes
        .map(|s| serde_json::from_str(&s))
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(Some(Arc::new(CachedCredential {
        tenant_id: tenant_id.to_string(),
        token_id: token_id.to_string(),
        kind: row.try_get("kind")?,
        secret_hash: row.try_get("secret_hash")?,
        expires_at: row.try_get("expires_at")?,
        user_id,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        unit: row.try_get("unit_code")?,
        roles,
        scopes,
    })))
}

/// An authenticated staff user (or integrator token) acting within one tenant.
#[derive(Clone, Debug)]
pub struct Actor {
    pub tenant: Arc<Snapshot>,
    pub principal: Principal,
    pub credential: Arc<CachedCredential>,
}

impl Actor {
    pub fn user_id(&self) -> &str {
        &self.credential.user_id
    }
    /// How the audit log names this actor.
    pub fn audit_name(&self) -> String {
        format!("user:{}", self.credential.user_id)
    }
}

/// Finds the presented token: `Authorization: Bearer …`, else the session cookie.
fn presented(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim);
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Resolves a token to an actor, or the reason it is refused.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Actor, ApiError> {
    let t = parse_token(token).ok_or(ApiError::Unauthenticated("token_invalid"))?;
    let credential = match state.tokens.cache.get(t.token_id) {
        Some(c) => c,
        None => {
            let c = load_credential(&state.db, t.tenant_id, t.token_id).await?;
            state.tokens.cache.insert(t.token_id.to_string(), c.clone());
            c
        }
    };
    let credential = credential.ok_or(ApiError::Unauthenticated("token_invalid"))?;
    let presented_hash = hex::encode(Sha256::digest(t.secret.as_bytes()));
    if credential.tenant_id != t.tenant_id
        || !constant_time_eq(presented_hash.as_bytes(), credential.secret_hash.as_bytes())
    {
        return Err(ApiError::Unauthenticated("token_invalid"));
    }
    if credential.expires_at <= now_ms() {
        return Err(ApiError::Unauthenticated("token_expired"));
    }
    let tenant = state
        .snapshots
        .get(&state.db, t.tenant_id)
        .await?
        .ok_or(ApiError::Unauthenticated("token_invalid"))?;
    if tenant.tenant.status != "active" {
        return Err(ApiError::Forbidden {
            action: "*".into(),
            detail: "This tenant is suspended.".into(),
        });
    }
    tracing::Span::current().record("tenant", tenant.tenant.slug.as_str());
    let principal = Principal {
        user_id: credential.user_id.clone(),
        roles: credential.roles.clone(),
        unit: credential.unit.clone(),
        token_scopes: credential.scopes.clone(),
    };
    Ok(Actor {
        tenant,
        principal,
        credential,
    })
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let token = presented(parts).ok_or(ApiError::Unauthenticated("unauthenticated"))?;
        let actor = authenticate(state, token).await?;
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

/// Counts failed logins per (tenant, email) and per client address; refuses while over limit.
pub struct LoginThrottle {
    failures: moka::sync::Cache<String, u32>,
}

/// Failed logins allowed per account within the window.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed logins allowed per client address within the window.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 50;
/// The throttle window.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginThrottle {
    pub fn new() -> Self {
        LoginThrottle {
            failures: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(THROTTLE_WINDOW)
                .build(),
        }
    }

    fn keys(tenant: &str, email: &str, addr: &str) -> (String, String) {
        (format!("acct:{tenant}:{email}"), format!("addr:{addr}"))
    }

    /// Refuses when either counter is at its limit.
    pub fn check(&self, tenant: &str, email: &str, addr: &str) -> Result<(), ApiError> {
        let (acct, ip) = Self::keys(tenant, email, addr);
        if self.failures.get(&acct).unwrap_or(0) >= MAX_FAILURES_PER_ACCOUNT
            || self.failures.get(&ip).unwrap_or(0) >= MAX_FAILURES_PER_ADDRESS
        {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: THROTTLE_WINDOW.as_secs(),
            });
        }
        Ok(())
    }

    pub fn fail(&self, tenant: &str, email: &str, addr: &str) {
        let (acct, ip) = Self::keys(tenant, email, addr);
        for key in [acct, ip] {
            let n = self.failures.get(&key).unwrap_or(0);
            self.failures.insert(key, n.saturating_add(1));
        }
    }

    pub fn succeed(&self, tenant: &str, email: &str, addr: &str) {
        self.failures.invalidate(&Self::keys(tenant, email, addr).0);
    }
}

/// Verifies a login; returns the user id. Unknown users cost the same as wrong passwords.
pub async fn verify_login(
    db: &Db,
    tenant_id: &str,
    email: &str,
    password: &str,
) -> Result<Option<String>, ApiError> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE tenant_id = $1 AND email = $2 AND status = 'active'")
        .bind(tenant_id)
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    let (user_id, hash) = match row {
        Some(row) => (
            Some(row.try_get::<String, _>("id")?),
            row.try_get::<Option<String>, _>("password_hash")?,
        ),
        None => (None, None),
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(if ok { user_id } else { None })
}

/// Revokes a session or API token; true when it was active. This node forgets it at once.
pub async fn revoke(state: &AppState, tenant_id: &str, token_id: &str) -> Result<bool, ApiError> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let done = sqlx::query("UPDATE auth_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(tenant_id)
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.tokens.invalidate(token_id);
    Ok(done.rows_affected() == 1)
}

/// Stores a new session or API token for `user_id`; returns the full token (shown once).
pub async fn issue_token(
    db: &Db,
    tenant_id: &str,
    user_id: &str,
    kind: &str,
    name: &str,
    scopes: Option<&[String]>,
    ttl: Duration,
) -> Result<(MintedToken, i64), ApiError> {
    let minted = mint_token(tenant_id);
    let now = now_ms();
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
    let scopes = scopes
        .map(serde_json::to_string)
        .transpose()
        .map_err(ApiError::internal)?;
    let mut tx = db.tenant_tx(tenant_id).await?;
    sqlx::query(
        "INSERT INTO auth_tokens (tenant_id, id, user_id, kind, name, secret_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id)
    .bind(&minted.id)
    .bind(user_id)
    .bind(kind)
    .bind(name)
    .bind(&minted.secret_hash)
    .bind(scopes)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((minted, expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let tenant = uuid::Uuid::now_v7().to_string();
        let m = mint_token(&tenant);
        let p = parse_token(&m.token).expect("parses");
        assert_eq!(p.tenant_id, tenant);
        assert_eq!(p.token_id, m.id);
        assert_eq!(
            hex::encode(Sha256::digest(p.secret.as_bytes())),
            m.secret_hash
        );
        for bad in [
            "",
            "fc1",
            "fc1.a.b.c",
            "fc2.x.y.z",
            &format!("{}.extra", m.token),
            &m.token.replace("fc1", "fc0"),
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
        assert_ne!(mint_token(&tenant).token, m.token);
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn throttle_counts_per_account() {
        let t = LoginThrottle::new();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            t.check("a", "x@y", "1.2.3.4").unwrap();
            t.fail("a", "x@y", "1.2.3.4");
        }
        assert!(matches!(
            t.check("a", "x@y", "1.2.3.4"),
            Err(ApiError::TooManyRequests { .. })
        ));
        t.check("a", "other@y", "1.2.3.4").unwrap();
        t.check("b", "x@y", "1.2.3.4").unwrap();
    }
}
