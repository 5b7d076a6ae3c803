//! Buyers: accounts by mobile number with one-time codes, sessions, and a buyer's own orders,
//! bookings and quotes.
//!
//! **Owns** the `buyers`, `buyer_otps` and `buyer_sessions` tables, the [`BuyerSession`]
//! extractor, the sign-in code flow ([`otp`]) and the SMS adapter ([`sms`]).
//!
//! **Invariants**
//! - A buyer belongs to one tenant: a session is looked up under the storefront's tenant only,
//!   so a token of tenant A's storefront is unknown (401) on tenant B's.
//! - The mobile number is stored sealed (`mobile_enc`) and found by its blind index
//!   (`mobile_index`); sign-in codes and session tokens are stored as SHA-256 hashes only.
//! - A sign-in code reaches the buyer only through the outbox (kind `sms`, recipient
//!   `otp:<mobile index>`, the code sealed in the payload): never in a response or a log, except
//!   the fake SMS adapter's one log line in demo mode.
//! - A buyer's routes show that buyer's own records only (`buyer_id = session's buyer`).

pub mod otp;
pub mod routes;
pub mod sms;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{now_ms, TenantTx};
use crate::tenancy::routes::PublicTenant;

/// Name of the buyer session cookie.
pub const COOKIE: &str = "fc_buyer";
/// Every buyer session token starts with this.
pub const TOKEN_PREFIX: &str = "fcb_";
/// How long a buyer session lasts.
pub const SESSION_TTL_MS: i64 = 30 * 86_400_000;

/// A signed-in buyer (from the `fc_buyer` cookie or `Authorization: Bearer fcb_…`) of the
/// storefront's tenant. As an extractor it fails with 401 when there is no valid session;
/// use `Option<BuyerSession>` where signing in is optional.
#[derive(Debug, Clone)]
pub struct BuyerSession {
    pub tenant_id: String,
    pub buyer_id: String,
}

/// A session token as the request presents it.
pub(crate) struct Presented<'a> {
    pub token: &'a str,
    /// From the cookie (a stale cookie on an optional route counts as no session) rather than
    /// an explicit `Authorization` header.
    pub from_cookie: bool,
}

/// The buyer token of a request: `Authorization: Bearer fcb_…`, else the `fc_buyer` cookie. A
/// staff bearer token (`fc1.…`) is not a buyer token and is ignored here.
pub(crate) fn presented(headers: &HeaderMap) -> Option<Presented<'_>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX));
    if let Some(token) = bearer {
        return Some(Presented {
            token,
            from_cookie: false,
        });
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, token)| Presented {
            token,
            from_cookie: true,
        })
}

/// SHA-256 of a token, hex: what `buyer_sessions` stores.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session token: `fcb_` + 32 random bytes, base64url.
pub(crate) fn mint_token() -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret))
}

fn well_formed(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|s| {
        s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Starts a session for `buyer_id` inside `tx`; returns the token (shown once) and its expiry.
pub(crate) async fn start_session(
    tx: &mut TenantTx,
    tenant_id: &str,
    buyer_id: &str,
    now: i64,
) -> Result<(String, i64), sqlx::Error> {
    let token = mint_token();
    let expires_at = now + SESSION_TTL_MS;
    // Expired sessions of this buyer go at each sign-in, so they do not pile up.
    sqlx::query(
        "DELETE FROM buyer_sessions WHERE tenant_id = $1 AND buyer_id = $2 AND expires_at <= $3",
    )
    .bind(tenant_id)
    .bind(buyer_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO buyer_sessions (tenant_id, token_hash, buyer_id, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(token_hash(&token))
    .bind(buyer_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok((token, expires_at))
}

/// Ends the session of `token` (if it is one of `tenant_id`'s).
pub(crate) async fn end_session(
    state: &AppState,
    tenant_id: &str,
    token: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    sqlx::query("DELETE FROM buyer_sessions WHERE tenant_id = $1 AND token_hash = $2")
        .bind(tenant_id)
        .bind(token_hash(token))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The buyer of a presented token on `tenant_id`'s storefront, or why not (401).
pub(crate) async fn verify(
    state: &AppState,
    tenant_id: &str,
    token: &str,
) -> Result<BuyerSession, ApiError> {
    if !well_formed(token) {
        return Err(ApiError::Unauthenticated("buyer_session_invalid"));
    }
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(
        "SELECT buyer_id, expires_at FROM buyer_sessions WHERE tenant_id = $1 AND token_hash = $2",
    )
    .bind(tenant_id)
    .bind(token_hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let row = row.ok_or(ApiError::Unauthenticated("buyer_session_invalid"))?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now_ms() {
        return Err(ApiError::Unauthenticated("buyer_session_expired"));
    }
    Ok(BuyerSession {
        tenant_id: tenant_id.to_string(),
        buyer_id: row.try_get("buyer_id")?,
    })
}

/// The signed-in buyer of a request to `tenant_id`'s storefront, if any (the storefront's forms,
/// which read the raw request). A stale cookie counts as no session; a presented
/// `Authorization: Bearer fcb_…` that is not valid is refused (401).
pub async fn optional_session(
    state: &AppState,
    tenant_id: &str,
    headers: &HeaderMap,
) -> Result<Option<BuyerSession>, ApiError> {
    let Some(p) = presented(headers) else {
        return Ok(None);
    };
    match verify(state, tenant_id, p.token).await {
        Ok(session) => Ok(Some(session)),
        Err(ApiError::Unauthenticated(_)) if p.from_cookie => Ok(None),
        Err(e) => Err(e),
    }
}

impl FromRequestParts<AppState> for BuyerSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant = PublicTenant::from_request_parts(parts, state).await?;
        let p =
            presented(&parts.headers).ok_or(ApiError::Unauthenticated("buyer_unauthenticated"))?;
        verify(state, &tenant.0.tenant.id, p.token).await
    }
}

impl OptionalFromRequestParts<AppState> for BuyerSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if presented(&parts.headers).is_none() {
            return Ok(None);
        }
        let tenant = PublicTenant::from_request_parts(parts, state).await?;
        optional_session(state, &tenant.0.tenant.id, &parts.headers).await
    }
}

/// The `Set-Cookie` value of a buyer session (`max_age_secs` 0 clears it).
pub(crate) fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_recognised() {
        let a = mint_token();
        assert!(a.starts_with("fcb_") && a.len() == 47, "{a}");
        assert!(well_formed(&a));
        assert_ne!(a, mint_token());
        assert!(!well_formed("fcb_short"));
        assert!(!well_formed(&a.replace("fcb_", "fcx_")));
        assert_eq!(token_hash(&a).len(), 64);
    }

    #[test]
    fn presented_prefers_a_buyer_bearer_and_ignores_staff_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=b; fc_buyer=fcb_cookie".parse().unwrap());
        let p = presented(&h).unwrap();
        assert_eq!((p.token, p.from_cookie), ("fcb_cookie", true));
        h.insert(header::AUTHORIZATION, "Bearer fc1.t.i.s".parse().unwrap());
        assert_eq!(
            presented(&h).unwrap().token,
            "fcb_cookie",
            "staff token ignored"
        );
        h.insert(header::AUTHORIZATION, "Bearer fcb_header".parse().unwrap());
        let p = presented(&h).unwrap();
        assert_eq!((p.token, p.from_cookie), ("fcb_header", false));
        assert!(presented(&HeaderMap::new()).is_none());
    }

    #[test]
    fn cookie_is_http_only_lax_and_secure_when_asked() {
        let c = session_cookie("fcb_x", 60, true).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.starts_with("fc_buyer=fcb_x; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"));
        assert!(c.ends_with("; Secure"));
        assert!(!session_cookie("fcb_x", 60, false)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}
