//! Sign-in codes: one live six-digit code per mobile number and tenant, sent through the outbox
//! as an SMS, checked in constant time, and spent by a successful sign-in.
//!
//! **Rules** (constants below): a new code at most every 60 s and at most 5 an hour per number;
//! a code lives 5 minutes; 5 tries, after which it is burnt (a new one must be requested).
//!
//! **Invariants**
//! - The code is stored only as SHA-256 of (tenant id, mobile index, code) and travels only
//!   sealed in the outbox payload; the response never says whether an account exists.
//! - Tries are counted atomically before the comparison (`attempts < 5` in the `UPDATE`), so
//!   concurrent guesses cannot exceed five per code.

use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{start_session, BuyerSession};
use crate::http::error::{ApiError, ApiResult};
use crate::outbox::{self, Kind, Message};
use crate::pii::{mask_mobile, normalise_mobile};
use crate::state::AppState;
use crate::store::now_ms;
use crate::tenancy::Snapshot;

/// How long a code works.
pub const CODE_TTL_MS: i64 = 5 * 60_000;
/// The least time between two codes to one number.
pub const RESEND_MS: i64 = 60_000;
/// At most this many codes to one number in an hour.
pub const CODES_PER_HOUR: usize = 5;
/// Tries per code (right or wrong); after that it is burnt.
pub const MAX_TRIES: i64 = 5;
/// The outbox message name of a sign-in code.
pub const MESSAGE: &str = "buyer.sign_in_code";
/// The sealed field of the code in the outbox payload.
pub const CODE_FIELD: &str = "otp_code";

/// The outbox recipient of codes to the number with this blind index.
pub fn recipient(mobile_index: &str) -> String {
    format!("otp:{mobile_index}")
}

fn code_hash(tenant_id: &str, mobile_index: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant_id.as_bytes());
    h.update([0]);
    h.update(mobile_index.as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    hex::encode(h.finalize())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The number as stored and indexed, or a 422 at `/mobile`.
pub fn checked_mobile(raw: &str) -> ApiResult<String> {
    let mobile = normalise_mobile(raw.trim());
    if crate::test_drives::routes::valid_mobile(&mobile) {
        Ok(mobile)
    } else {
        Err(ApiError::field(
            "invalid_mobile",
            "/mobile",
            "expected a mainland China mobile number (11 digits, starting 13–19) or an E.164 number such as +8613812345678",
        ))
    }
}

fn seconds_until(at: i64, now: i64) -> u64 {
    (((at - now).max(0) + 999) / 1000).max(1) as u64
}

/// What `POST …/buyer/otp` answers (the same whether or not the number has an account).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// Always `true`: a code is on its way.
    pub sent: bool,
    /// How long the code works.
    pub expires_in_seconds: i64,
    /// When the next code to this number may be requested.
    pub resend_after_seconds: i64,
}

/// Issues a code to `raw_mobile` and queues its SMS, in one transaction.
pub async fn request_code(
    state: &AppState,
    s: &Snapshot,
    raw_mobile: &str,
    locale: Option<&str>,
) -> ApiResult<CodeSent> {
    let mobile = checked_mobile(raw_mobile)?;
    let doc = s.doc();
    let locale = match locale {
        Some(l) if doc.is_some_and(|d| d.tenant.locales.iter().any(|x| x == l)) => l.to_string(),
        Some(_) => {
            return Err(ApiError::field(
                "unknown_locale",
                "/locale",
                "not one of this storefront's languages",
            ))
        }
        None => doc
            .and_then(|d| d.tenant.locales.first().cloned())
            .unwrap_or_else(|| "en".into()),
    };
    let brand = doc
        .and_then(|d| d.tenant.name.get(&locale).cloned())
        .unwrap_or_else(|| s.tenant.name.clone());
    let tenant_id = &s.tenant.id;
    let index = state.pii.mobile_index(tenant_id, &mobile);
    let to = recipient(&index);
    let now = now_ms();
    // Reads then writes: on SQLite take the write lock first (no stale-snapshot upgrade).
    let mut tx = state.db.write_tx(tenant_id).await?;
    // At most CODES_PER_HOUR an hour: the outbox keeps every code message sent.
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT created_at FROM outbox WHERE tenant_id = $1 AND kind = 'sms' \
         AND recipient = $2 AND created_at > $3 ORDER BY created_at",
    )
    .bind(tenant_id)
    .bind(&to)
    .bind(now - 3_600_000)
    .fetch_all(&mut *tx)
    .await?;
    if recent.len() >= CODES_PER_HOUR {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: seconds_until(recent[recent.len() - CODES_PER_HOUR] + 3_600_000, now),
        });
    }
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    // One live code per number; replacing it needs the last one to be RESEND_MS old (checked
    // in the same statement, so two racing requests cannot both send).
    let replaced = sqlx::query(
        "INSERT INTO buyer_otps (tenant_id, mobile_index, mobile_enc, code_hash, expires_at, \
         attempts, sent_at) VALUES ($1, $2, $3, $4, $5, 0, $6) \
         ON CONFLICT (tenant_id, mobile_index) DO UPDATE SET mobile_enc = excluded.mobile_enc, \
         code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0, \
         sent_at = excluded.sent_at WHERE buyer_otps.sent_at <= $7",
    )
    .bind(tenant_id)
    .bind(&index)
    .bind(state.pii.seal(tenant_id, "mobile", &mobile))
    .bind(code_hash(tenant_id, &index, &code))
    .bind(now + CODE_TTL_MS)
    .bind(now)
    .bind(now - RESEND_MS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if replaced != 1 {
        let sent_at: i64 = sqlx::query_scalar(
            "SELECT sent_at FROM buyer_otps WHERE tenant_id = $1 AND mobile_index = $2",
        )
        .bind(tenant_id)
        .bind(&index)
        .fetch_one(&mut *tx)
        .await?;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: seconds_until(sent_at + RESEND_MS, now),
        });
    }
    outbox::enqueue(
        &mut tx,
        tenant_id,
        &Message {
            kind: Kind::Sms,
            name: MESSAGE.into(),
            recipient: Some(to),
            subject: None,
            payload: serde_json::json!({
                "code": state.pii.seal(tenant_id, CODE_FIELD, &code),
                "locale": locale,
                "brand": brand,
                "ttl_minutes": CODE_TTL_MS / 60_000,
            }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %s.tenant.slug, "buyer sign-in code issued");
    Ok(CodeSent {
        sent: true,
        expires_in_seconds: CODE_TTL_MS / 1000,
        resend_after_seconds: RESEND_MS / 1000,
    })
}

fn refused(code: &'static str, message: String) -> ApiError {
    ApiError::field(code, "/code", message)
}

/// A signed-in buyer as sign-in and `GET …/buyer/me` show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerView {
    pub id: String,
    /// Masked (`138****5678`).
    pub mobile: String,
}

/// A new session.
pub struct SignedIn {
    pub token: String,
    pub expires_at: i64,
    pub session: BuyerSession,
    pub buyer: BuyerView,
}

/// Checks `code` for `raw_mobile`; on success spends it, creates the buyer on first sign-in and
/// starts a session.
pub async fn sign_in(
    state: &AppState,
    s: &Snapshot,
    raw_mobile: &str,
    code: &str,
) -> ApiResult<SignedIn> {
    let mobile = checked_mobile(raw_mobile)?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused(
            "invalid_code",
            "the code is the 6 digits of the text message".into(),
        ));
    }
    let tenant_id = &s.tenant.id;
    let index = state.pii.mobile_index(tenant_id, &mobile);
    let now = now_ms();
    // Reads then writes: on SQLite take the write lock first (no stale-snapshot upgrade).
    let mut tx = state.db.write_tx(tenant_id).await?;
    // Spend one try first (atomically), then compare.
    let tried = sqlx::query(
        "UPDATE buyer_otps SET attempts = attempts + 1 WHERE tenant_id = $1 \
         AND mobile_index = $2 AND attempts < $3 AND expires_at > $4",
    )
    .bind(tenant_id)
    .bind(&index)
    .bind(MAX_TRIES)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if tried != 1 {
        let row = sqlx::query(
            "SELECT attempts, expires_at FROM buyer_otps WHERE tenant_id = $1 AND mobile_index = $2",
        )
        .bind(tenant_id)
        .bind(&index)
        .fetch_optional(&mut *tx)
        .await?;
        return Err(match row {
            None => refused(
                "otp_missing",
                "no sign-in code is pending for this number; request one with POST /api/v1/public/buyer/otp".into(),
            ),
            Some(r) if r.try_get::<i64, _>("attempts")? >= MAX_TRIES => refused(
                "otp_used_up",
                format!("this code was tried {MAX_TRIES} times and no longer works; request a new one"),
            ),
            Some(_) => refused(
                "otp_expired",
                format!(
                    "this code has expired (codes work for {} minutes); request a new one",
                    CODE_TTL_MS / 60_000
                ),
            ),
        });
    }
    let row = sqlx::query(
        "SELECT code_hash, attempts FROM buyer_otps WHERE tenant_id = $1 AND mobile_index = $2",
    )
    .bind(tenant_id)
    .bind(&index)
    .fetch_one(&mut *tx)
    .await?;
    let stored: String = row.try_get("code_hash")?;
    let attempts: i64 = row.try_get("attempts")?;
    if !constant_time_eq(
        code_hash(tenant_id, &index, code).as_bytes(),
        stored.as_bytes(),
    ) {
        // The spent try stays spent.
        tx.commit().await?;
        tracing::info!(tenant = %s.tenant.slug, attempts, "buyer sign-in: wrong code");
        let left = MAX_TRIES - attempts;
        return Err(if left <= 0 {
            refused(
                "otp_used_up",
                format!("wrong code, the {MAX_TRIES}th try: this code no longer works; request a new one"),
            )
        } else {
            refused(
                "otp_wrong",
                format!(
                    "wrong code; {left} {} left",
                    if left == 1 { "try" } else { "tries" }
                ),
            )
        });
    }
    sqlx::query("DELETE FROM buyer_otps WHERE tenant_id = $1 AND mobile_index = $2")
        .bind(tenant_id)
        .bind(&index)
        .execute(&mut *tx)
        .await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM buyers WHERE tenant_id = $1 AND mobile_index = $2")
            .bind(tenant_id)
            .bind(&index)
            .fetch_optional(&mut *tx)
            .await?;
    let buyer_id = match existing {
        Some(id) => {
            sqlx::query("UPDATE buyers SET last_login_at = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(now)
                .bind(tenant_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            sqlx::query(
                "INSERT INTO buyers (tenant_id, id, mobile_index, mobile_enc, created_at, \
                 last_login_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(tenant_id)
            .bind(&id)
            .bind(&index)
            .bind(state.pii.seal(tenant_id, "mobile", &mobile))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let (token, expires_at) = start_session(&mut tx, tenant_id, &buyer_id, now).await?;
    tx.commit().await?;
    tracing::info!(tenant = %s.tenant.slug, buyer = %buyer_id, "buyer signed in");
    Ok(SignedIn {
        token,
        expires_at,
        session: BuyerSession {
            tenant_id: tenant_id.clone(),
            buyer_id: buyer_id.clone(),
        },
        buyer: BuyerView {
            id: buyer_id,
            mobile: mask_mobile(&mobile),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hashes_bind_tenant_number_and_code() {
        let a = code_hash("t1", "i1", "123456");
        assert_eq!(a.len(), 64);
        assert_ne!(a, code_hash("t2", "i1", "123456"));
        assert_ne!(a, code_hash("t1", "i2", "123456"));
        assert_ne!(a, code_hash("t1", "i1", "123457"));
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[1..]));
    }

    #[test]
    fn mobiles_are_normalised_then_checked() {
        assert_eq!(
            checked_mobile(" +86 138-1234-5678 ").unwrap(),
            "13812345678"
        );
        assert_eq!(checked_mobile("+447700900123").unwrap(), "+447700900123");
        assert!(checked_mobile("12").is_err());
        assert_eq!(seconds_until(10_500, 10_000), 1);
        assert_eq!(seconds_until(70_000, 10_000), 60);
    }
}
