//! Idempotency keys with Stripe's semantics, for every create and pay endpoint.
//!
//! A client sends `Idempotency-Key: <unique string>` with a POST. The first request with a key
//! runs; its response (status and body) is stored **in the same transaction** as its effect.
//! A retry — or a concurrent duplicate — with the same key and the same request gets that
//! response replayed (with `Idempotent-Replayed: true`) and changes nothing; the same key with a
//! different request is refused with 422 `idempotency_key_reused`.
//!
//! **Invariants**
//! - One effect per (tenant, scope, key): the key row and the effect commit together or not at
//!   all. Two transactions racing on one key cannot both commit — the primary key makes the
//!   second `INSERT` wait for the first and then find the key taken, so the loser rolls its
//!   effect back and replays the winner's response.
//! - Scopes keep callers apart: a staff user's keys (`user:<id>`), a buyer's (`buyer:<id>`) and
//!   the anonymous storefront's (`public`) never meet. A key is remembered for
//!   [`RETENTION_MS`] (24 hours, as Stripe does); after that it may be used again.
//! - Requests refused before any work started (malformed body, failed validation) store
//!   nothing, so the client can fix the request and retry with the same key; a request refused
//!   by the state of the world (sold out, reservation expired) stores its refusal, which a
//!   retry replays.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use std::collections::HashSet;

use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::rows::{json_list, Sql, Val};
use crate::store::{now_ms, Backend, TenantTx};

/// The request header carrying the key.
pub const HEADER: &str = "idempotency-key";
/// The response header set on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// A validated `Idempotency-Key` header: 1–255 visible ASCII characters. As an extractor it
/// is required (400 `idempotency_key_required` without it); `Option<IdempotencyKey>` makes it
/// optional, but a malformed key is refused either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// Checks a raw header value.
    pub fn parse(raw: &[u8]) -> Result<IdempotencyKey, ApiError> {
        let bad = |why: &str| ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            detail: format!("The Idempotency-Key header {why}."),
        };
        if raw.is_empty() {
            return Err(bad("is empty"));
        }
        if raw.len() > MAX_KEY_LEN {
            return Err(bad(&format!(
                "is {} characters long; at most {MAX_KEY_LEN} are allowed",
                raw.len()
            )));
        }
        if !raw.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(bad(
                "may hold only visible ASCII characters (a UUID is a good key)",
            ));
        }
        // All bytes are ASCII, so this cannot fail.
        Ok(IdempotencyKey(String::from_utf8_lossy(raw).into_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(HEADER) {
            Some(v) => IdempotencyKey::parse(v.as_bytes()),
            None => Err(ApiError::Rejected {
                status: StatusCode::BAD_REQUEST,
                detail: "This request creates or pays for something, so it needs an \
                         Idempotency-Key header (a fresh UUID per intended operation; send the \
                         same key when you retry)."
                    .into(),
            }),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        parts
            .headers
            .get(HEADER)
            .map(|v| IdempotencyKey::parse(v.as_bytes()))
            .transpose()
    }
}

/// The fingerprint of a request: what "the same request" means for a key (method, path and
/// body bytes; the body as sent, so clients must retry with the bytes they sent).
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// A response kept under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
}

impl Stored {
    /// The stored response, marked as a replay.
    pub fn replay(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let content_type = if status.is_success() {
            "application/json"
        } else {
            "application/problem+json"
        };
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
        response
    }
}

fn reused(key: &str) -> ApiError {
    ApiError::Invalid {
        code: "idempotency_key_reused",
        detail: format!(
            "Idempotency-Key `{key}` was already used for a different request; use a new key \
             for a new operation (or resend the original request unchanged to get its response)"
        ),
        errors: Vec::new(),
    }
}

/// The response stored under `key`, if any (and not past retention); 422 when the key was
/// used for another request.
pub async fn lookup(
    tx: &mut TenantTx,
    tenant_id: &str,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: i64,
) -> ApiResult<Option<Stored>> {
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency_keys \
         WHERE tenant_id = $1 AND scope = $2 AND key = $3 AND created_at > $4",
    )
    .bind(tenant_id)
    .bind(scope)
    .bind(key)
    .bind(now - RETENTION_MS)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let hash: String = row.try_get("request_hash")?;
    if hash != fingerprint {
        return Err(reused(key));
    }
    Ok(Some(Stored {
        status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(500),
        body: row.try_get("response")?,
    }))
}

/// How a fresh key is inserted when the caller knows it is not stored yet ([`row`]).
pub const INSERT: &str = "INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, \
     status, response, created_at)";
/// Values per key row.
pub const WIDTH: usize = 7;

/// The row of a fresh key, for [`INSERT`].
pub fn row(
    tenant_id: &str,
    scope: &str,
    key: &str,
    fingerprint: &str,
    stored: &Stored,
    now: i64,
) -> Vec<Val> {
    vec![
        tenant_id.into(),
        scope.into(),
        key.into(),
        fingerprint.into(),
        i64::from(stored.status).into(),
        (&stored.body).into(),
        now.into(),
    ]
}

/// Which of `keys` (scope, key) are stored for `tenant_id`, live or past retention.
///
/// SQLite: one statement per scope and 500 keys (`key IN (…)` on the primary key).
/// PostgreSQL: one statement for all of them, a primary-key probe per listed key. Its planner,
/// without column statistics (a new or fast-growing table), answered `key IN (…)` by walking
/// every key of the tenant and scope; a `LATERAL … LIMIT 1` per key leaves it nothing else to
/// choose. The listed scope and key are plain columns (`json_to_recordset`), not `->>`
/// expressions: under row-level security a comparison with a function that is not leakproof
/// cannot be an index condition.
pub async fn stored_keys(
    tx: &mut TenantTx,
    tenant_id: &str,
    keys: &[(&str, &str)],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let mut out = HashSet::new();
    if keys.is_empty() {
        return Ok(out);
    }
    if tx.backend() == Backend::Postgres {
        #[derive(serde::Serialize)]
        struct Listed<'a> {
            s: &'a str,
            k: &'a str,
        }
        let listed: Vec<Listed> = keys.iter().map(|&(s, k)| Listed { s, k }).collect();
        let rows = sqlx::query(
            "SELECT k.s AS scope, k.k AS key FROM json_to_recordset($2::json) AS k(s TEXT, k TEXT), \
             LATERAL (SELECT 1 FROM idempotency_keys i WHERE i.tenant_id = $1 AND i.scope = k.s \
                      AND i.key = k.k LIMIT 1) AS hit",
        )
        .bind(tenant_id)
        .bind(json_list(&listed)?)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            out.insert((r.try_get("scope")?, r.try_get("key")?));
        }
        return Ok(out);
    }
    let mut by_scope: Vec<(&str, Vec<&str>)> = Vec::new();
    for (scope, key) in keys {
        match by_scope.iter_mut().find(|(s, _)| s == scope) {
            Some((_, ks)) => ks.push(key),
            None => by_scope.push((scope, vec![key])),
        }
    }
    for (scope, scope_keys) in by_scope {
        for chunk in scope_keys.chunks(500) {
            let mut sql = Sql::for_tx(tx);
            sql.push("SELECT scope, key FROM idempotency_keys WHERE tenant_id = ")
                .bind(tenant_id)
                .push(" AND scope = ")
                .bind(scope)
                .push(" AND key IN (")
                .list(chunk.iter().map(|k| Val::from(*k)))
                .push(")");
            for r in sql.fetch_all(tx).await? {
                out.insert((r.try_get("scope")?, r.try_get("key")?));
            }
        }
    }
    Ok(out)
}

/// Stores the response of the first request with `key`, in the caller's transaction. Returns
/// false when the key is already taken (a concurrent request won): the caller must roll back
/// and replay.
#[allow(clippy::too_many_arguments)]
pub async fn remember(
    tx: &mut TenantTx,
    tenant_id: &str,
    scope: &str,
    key: &str,
    fingerprint: &str,
    stored: &Stored,
    now: i64,
) -> Result<bool, sqlx::Error> {
    // An expired row of the same key is replaced; a live one wins (nothing written).
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, status, response, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, scope, key) DO UPDATE SET request_hash = excluded.request_hash, \
         status = excluded.status, response = excluded.response, created_at = excluded.created_at \
         WHERE idempotency_keys.created_at <= $8",
    )
    .bind(tenant_id)
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(i64::from(stored.status))
    .bind(&stored.body)
    .bind(now)
    .bind(now - RETENTION_MS)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Whether a refusal is kept under the key: refusals by the state of the world (conflicts,
/// gone, not found) are; malformed or invalid requests and server trouble are not, so the
/// client may correct or retry them with the same key.
pub fn keeps(status: StatusCode) -> bool {
    status.is_success()
        || matches!(
            status,
            StatusCode::CONFLICT | StatusCode::GONE | StatusCode::NOT_FOUND
        )
}

/// Renders an error as the body to store.
pub fn stored_error(err: &ApiError) -> Stored {
    Stored {
        status: err.status().as_u16(),
        body: crate::http::error::problem_json(err),
    }
}

/// The start of an idempotent request: either the stored answer to replay, or a transaction
/// to do the work in, then [`Pending::finish`].
pub enum Begun {
    Replay(Response),
    Fresh(Pending),
}

/// Work under a key, in a transaction of its own.
pub struct Pending {
    state: AppState,
    tenant_id: String,
    scope: String,
    key: Option<IdempotencyKey>,
    fingerprint: String,
    now: i64,
    /// Do the request's work in this transaction.
    pub tx: TenantTx,
}

/// Looks `key` up in a new transaction of `tenant_id`: a replay, 422 for a reused key, or the
/// transaction for the work. Without a key the work simply runs and commits.
pub async fn begin(
    state: &AppState,
    tenant_id: &str,
    scope: &str,
    key: Option<&IdempotencyKey>,
    fingerprint: &str,
) -> ApiResult<Begun> {
    let now = now_ms();
    let mut tx = state.db.write_tx(tenant_id).await?;
    if let Some(key) = key {
        if let Some(stored) = lookup(&mut tx, tenant_id, scope, &key.0, fingerprint, now).await? {
            return Ok(Begun::Replay(stored.replay()));
        }
    }
    Ok(Begun::Fresh(Pending {
        state: state.clone(),
        tenant_id: tenant_id.to_string(),
        scope: scope.to_string(),
        key: key.cloned(),
        fingerprint: fingerprint.to_string(),
        now,
        tx,
    }))
}

impl Pending {
    /// Stores the outcome of the work under the key and commits it with the work; a refusal
    /// that [`keeps`] is stored without the work, other errors store nothing. A concurrent
    /// request that committed the key first wins: this work is undone and its answer replayed.
    pub async fn finish(self, outcome: ApiResult<(StatusCode, Value)>) -> ApiResult<Response> {
        let Pending {
            state,
            tenant_id,
            scope,
            key,
            fingerprint,
            now,
            mut tx,
        } = self;
        let Some(key) = key else {
            let (status, body) = outcome?;
            tx.commit().await?;
            return Ok((status, axum::Json(body)).into_response());
        };
        let (stored, outcome) = match outcome {
            Ok((status, body)) => (
                Stored {
                    status: status.as_u16(),
                    body: body.to_string(),
                },
                Ok((status, body)),
            ),
            Err(err) if keeps(err.status()) => {
                // The refusal is the answer to this key; whatever the work wrote is undone.
                drop(tx);
                tx = state.db.write_tx(&tenant_id).await?;
                (stored_error(&err), Err(err))
            }
            Err(err) => return Err(err),
        };
        let first = remember(
            &mut tx,
            &tenant_id,
            &scope,
            &key.0,
            &fingerprint,
            &stored,
            now,
        )
        .await;
        match first {
            Ok(true) => {}
            Ok(false) => {
                drop(tx);
                return replay_winner(&state, &tenant_id, &scope, &key, &fingerprint).await;
            }
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                return replay_winner(&state, &tenant_id, &scope, &key, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        match tx.commit().await {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return replay_winner(&state, &tenant_id, &scope, &key, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        match outcome {
            Ok((status, body)) => Ok((status, axum::Json(body)).into_response()),
            Err(err) => Err(err),
        }
    }
}

/// After losing a race on `key`: the winner's response.
async fn replay_winner(
    state: &AppState,
    tenant_id: &str,
    scope: &str,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> ApiResult<Response> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let stored = lookup(&mut tx, tenant_id, scope, &key.0, fingerprint, now_ms()).await?;
    tx.commit().await?;
    match stored {
        Some(stored) => Ok(stored.replay()),
        None => Err(ApiError::Conflict {
            code: "idempotency_key_in_use",
            detail: format!(
                "another request with Idempotency-Key `{}` is in progress; retry shortly",
                key.0
            ),
        }),
    }
}

/// True for a unique-key violation (a concurrent request took the key first).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// Forgets keys past retention (all tenants); returns how many.
pub async fn sweep(db: &crate::store::Db, now: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.batch_tx().await?;
    crate::outbox::scan_mode(db, &mut tx).await?;
    let gone = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(now - RETENTION_MS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse(b"0190f3c2-5d7e-7a8b-9c0d-1e2f3a4b5c6d").is_ok());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"has space").is_err());
        assert!(IdempotencyKey::parse("ключ".as_bytes()).is_err());
        assert!(IdempotencyKey::parse(&[b'a'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'a'; 256]).is_err());
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint("POST", "/api/v1/public/orders", b"{\"vin\":\"A\"}");
        assert_eq!(
            a,
            fingerprint("POST", "/api/v1/public/orders", b"{\"vin\":\"A\"}")
        );
        assert_ne!(
            a,
            fingerprint("POST", "/api/v1/public/orders", b"{\"vin\":\"B\"}")
        );
        assert_ne!(
            a,
            fingerprint("POST", "/api/v1/public/order", b"s{\"vin\":\"A\"}")
        );
    }

    #[test]
    fn refusals_by_state_are_kept_and_bad_requests_are_not() {
        assert!(keeps(StatusCode::CREATED));
        assert!(keeps(StatusCode::CONFLICT));
        assert!(!keeps(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!keeps(StatusCode::BAD_REQUEST));
        assert!(!keeps(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!keeps(StatusCode::SERVICE_UNAVAILABLE));
    }
}
