//! Buyer routes (storefront: tenant from Host or `/t/{slug}`): request a sign-in code, sign in
//! and out, and a signed-in buyer's own profile, orders, test-drive bookings and quotes; plus
//! the fake SMS inbox page `GET /dev/sms` (only with `--fake-sms`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::otp::{self, BuyerView, CodeSent};
use super::sms::{FakeInbox, FakeSmsEntry};
use super::{end_session, presented, session_cookie, BuyerSession, SESSION_TTL_MS};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::pii::mask_mobile;
use crate::state::AppState;
use crate::store::rfc3339;
use crate::tenancy::routes::PublicTenant;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_code))
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(me))
        .routes(routes!(my_orders))
        .routes(routes!(my_test_drives))
        .routes(routes!(my_quotes))
        .routes(routes!(dev_sms))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// Mainland China mobile (`13812345678`, also `+86 138 1234 5678`) or E.164.
    pub mobile: String,
    /// Language of the text message (one of the storefront's locales; default its first).
    #[serde(default)]
    pub locale: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/public/buyer/otp", tag = "storefront",
    description = "Sends a six-digit sign-in code to the number by SMS (through the outbox). The answer is the same whether or not the number has an account. One code per number per 60 s and at most 5 an hour, and at most 20 an hour from one client address (429 with `Retry-After`); a code works for 5 minutes.",
    request_body = CodeRequest,
    responses((status = 202, body = CodeSent), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem), (status = 429, body = crate::http::error::Problem)))]
async fn request_code(
    State(state): State<AppState>,
    tenant: PublicTenant,
    crate::http::limits::ClientAddr(addr): crate::http::limits::ClientAddr,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    state.limits.take(
        crate::http::limits::Limited::SignInCode,
        &tenant.0.tenant.id,
        &addr,
        crate::store::now_ms(),
    )?;
    let sent = otp::request_code(&state, &tenant.0, &req.mobile, req.locale.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub mobile: String,
    /// The six digits of the text message.
    pub code: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInResponse {
    /// `fcb_…`: send as `Authorization: Bearer …` (also set as the `fc_buyer` cookie).
    pub token: String,
    pub expires_at: String,
    pub buyer: BuyerView,
}

#[utoipa::path(post, path = "/api/v1/public/buyer/session", tag = "storefront",
    description = "Signs a buyer in with the code sent to their number; the first sign-in creates the account. Returns a session token (30 days), also set as the HttpOnly cookie `fc_buyer`. A code has 5 tries, then it is burnt (`otp_used_up`).",
    request_body = SignInRequest,
    responses((status = 200, body = SignInResponse), (status = 404, body = crate::http::error::Problem), (status = 422, description = "`invalid_mobile`, `invalid_code`, `otp_missing`, `otp_wrong`, `otp_expired`, `otp_used_up`", body = crate::http::error::Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    tenant: PublicTenant,
    ApiJson(req): ApiJson<SignInRequest>,
) -> ApiResult<Response> {
    let signed = otp::sign_in(&state, &tenant.0, &req.mobile, &req.code).await?;
    let cookie = session_cookie(
        &signed.token,
        SESSION_TTL_MS / 1000,
        state.settings.secure_cookies,
    );
    let mut response = Json(SignInResponse {
        token: signed.token,
        expires_at: rfc3339(signed.expires_at),
        buyer: signed.buyer,
    })
    .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[utoipa::path(delete, path = "/api/v1/public/buyer/session", tag = "storefront",
    description = "Signs the buyer out: the session presented (cookie or bearer) ends and the cookie is cleared.",
    responses((status = 204, description = "Signed out"), (status = 401, body = crate::http::error::Problem)))]
async fn sign_out(
    State(state): State<AppState>,
    session: BuyerSession,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(p) = presented(&headers) {
        end_session(&state, &session.tenant_id, p.token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = session_cookie("", 0, state.settings.secure_cookies) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerProfile {
    pub id: String,
    /// Masked (`138****5678`).
    pub mobile: String,
    pub created_at: String,
}

#[utoipa::path(get, path = "/api/v1/public/buyer/me", tag = "storefront",
    description = "The signed-in buyer (mobile masked).",
    responses((status = 200, body = BuyerProfile), (status = 401, body = crate::http::error::Problem)))]
async fn me(State(state): State<AppState>, session: BuyerSession) -> ApiResult<Json<BuyerProfile>> {
    let mut tx = state.db.tenant_tx(&session.tenant_id).await?;
    let row = sqlx::query(
        "SELECT id, mobile_enc, created_at FROM buyers WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&session.tenant_id)
    .bind(&session.buyer_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::Unauthenticated("buyer_session_invalid"))?;
    tx.commit().await?;
    let sealed: String = row.try_get("mobile_enc")?;
    let mobile = state
        .pii
        .open(&session.tenant_id, "mobile", &sealed)
        .map_err(ApiError::internal)?;
    Ok(Json(BuyerProfile {
        id: row.try_get("id")?,
        mobile: mask_mobile(&mobile),
        created_at: rfc3339(row.try_get("created_at")?),
    }))
}

/// One of the buyer's vehicle orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerOrder {
    pub id: String,
    pub number: String,
    pub state: String,
    pub model_code: String,
    pub trim_code: String,
    pub vin: Option<String>,
    /// Minor units of `currency`.
    pub price: i64,
    pub deposit: i64,
    pub paid: i64,
    pub currency: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerOrderList {
    pub orders: Vec<BuyerOrder>,
}

/// At most this many records per list, newest first.
const LIST_LIMIT: i64 = 200;

#[utoipa::path(get, path = "/api/v1/public/buyer/orders", tag = "storefront",
    description = "The signed-in buyer's vehicle orders, newest first (at most 200).",
    responses((status = 200, body = BuyerOrderList), (status = 401, body = crate::http::error::Problem)))]
async fn my_orders(
    State(state): State<AppState>,
    session: BuyerSession,
) -> ApiResult<Json<BuyerOrderList>> {
    let mut tx = state.db.tenant_tx(&session.tenant_id).await?;
    let rows = sqlx::query(
        "SELECT id, number, state, model_code, trim_code, vin, price, deposit, paid, currency, \
         created_at FROM orders WHERE tenant_id = $1 AND buyer_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(&session.tenant_id)
    .bind(&session.buyer_id)
    .bind(LIST_LIMIT)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let orders = rows
        .iter()
        .map(|r| {
            Ok(BuyerOrder {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                state: r.try_get("state")?,
                model_code: r.try_get("model_code")?,
                trim_code: r.try_get("trim_code")?,
                vin: r.try_get("vin")?,
                price: r.try_get("price")?,
                deposit: r.try_get("deposit")?,
                paid: r.try_get("paid")?,
                currency: r.try_get("currency")?,
                created_at: rfc3339(r.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(BuyerOrderList { orders }))
}

/// One of the buyer's test-drive bookings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerTestDrive {
    /// The booking's code: its page is `…/api/v1/public/test-drives/{code}`.
    pub code: String,
    pub store: String,
    pub model: String,
    /// RFC 3339 in the tenant's time zone.
    pub slot_start: String,
    pub slot_end: String,
    /// The workflow state (`requested`, `approved` …).
    pub state: Option<String>,
    pub ended: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerTestDriveList {
    pub test_drives: Vec<BuyerTestDrive>,
}

#[utoipa::path(get, path = "/api/v1/public/buyer/test-drives", tag = "storefront",
    description = "Test drives the signed-in buyer booked while signed in, latest slot first (at most 200).",
    responses((status = 200, body = BuyerTestDriveList), (status = 401, body = crate::http::error::Problem)))]
async fn my_test_drives(
    State(state): State<AppState>,
    tenant: PublicTenant,
    session: BuyerSession,
) -> ApiResult<Json<BuyerTestDriveList>> {
    let tz = crate::test_drives::time_zone(&tenant.0);
    let mut tx = state.db.tenant_tx(&session.tenant_id).await?;
    let rows = sqlx::query(
        "SELECT b.code, b.store_code, b.model_code, b.slot_start, b.slot_end, b.created_at, \
         i.state, i.ended FROM test_drive_bookings b LEFT JOIN workflow_instances i \
         ON i.tenant_id = b.tenant_id AND i.subject_type = $3 AND i.subject_id = b.id \
         WHERE b.tenant_id = $1 AND b.buyer_id = $2 ORDER BY b.slot_start DESC, b.id LIMIT $4",
    )
    .bind(&session.tenant_id)
    .bind(&session.buyer_id)
    .bind(crate::test_drives::SUBJECT)
    .bind(LIST_LIMIT)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let test_drives = rows
        .iter()
        .map(|r| {
            Ok(BuyerTestDrive {
                code: r.try_get("code")?,
                store: r.try_get("store_code")?,
                model: r.try_get("model_code")?,
                slot_start: crate::test_drives::rfc3339_in(r.try_get("slot_start")?, &tz),
                slot_end: crate::test_drives::rfc3339_in(r.try_get("slot_end")?, &tz),
                state: r.try_get("state")?,
                ended: r.try_get::<Option<i64>, _>("ended")?.unwrap_or(0) != 0,
                created_at: rfc3339(r.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(BuyerTestDriveList { test_drives }))
}

/// One of the buyer's quotes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerQuote {
    pub code: String,
    pub model: Option<String>,
    pub trim: Option<String>,
    /// The all-in total, minor units of `currency`.
    pub total: i64,
    pub currency: String,
    pub issued_on: String,
    pub valid_until: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerQuoteList {
    pub quotes: Vec<BuyerQuote>,
}

#[utoipa::path(get, path = "/api/v1/public/buyer/quotes", tag = "storefront",
    description = "Quotes the signed-in buyer made while signed in, newest first (at most 200).",
    responses((status = 200, body = BuyerQuoteList), (status = 401, body = crate::http::error::Problem)))]
async fn my_quotes(
    State(state): State<AppState>,
    session: BuyerSession,
) -> ApiResult<Json<BuyerQuoteList>> {
    let mut tx = state.db.tenant_tx(&session.tenant_id).await?;
    let rows = sqlx::query(
        "SELECT code, issued_on, valid_until, total, currency, body, created_at FROM quotes \
         WHERE tenant_id = $1 AND buyer_id = $2 ORDER BY created_at DESC, code LIMIT $3",
    )
    .bind(&session.tenant_id)
    .bind(&session.buyer_id)
    .bind(LIST_LIMIT)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let quotes = rows
        .iter()
        .map(|r| {
            let body: String = r.try_get("body")?;
            let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            Ok(BuyerQuote {
                code: r.try_get("code")?,
                model: body["model"].as_str().map(str::to_string),
                trim: body["trim"].as_str().map(str::to_string),
                total: r.try_get("total")?,
                currency: r.try_get("currency")?,
                issued_on: r.try_get("issued_on")?,
                valid_until: r.try_get("valid_until")?,
                created_at: rfc3339(r.try_get("created_at")?),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(BuyerQuoteList { quotes }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FakeSmsList {
    /// Newest first, at most 100.
    pub messages: Vec<FakeSmsEntry>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[utoipa::path(get, path = "/dev/sms", tag = "storefront",
    description = "Demo only (`--fake-sms`): the text messages the fake SMS adapter would have sent for this storefront, newest first — masked number, code, time. HTML, or JSON with `Accept: application/json`. 404 when the server sends real SMS.",
    responses((status = 200, body = FakeSmsList, content_type = "application/json"), (status = 200, description = "HTML page", content_type = "text/html"), (status = 404, body = crate::http::error::Problem)))]
async fn dev_sms(
    State(state): State<AppState>,
    tenant: PublicTenant,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !state.settings.fake_sms {
        return Err(ApiError::NotFound(
            "the fake SMS inbox (this server sends real text messages; it exists only with --fake-sms)".into(),
        ));
    }
    let messages = FakeInbox::shared().newest_first(&tenant.0.tenant.id);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(FakeSmsList { messages }).into_response());
    }
    let mut rows = String::new();
    for m in &messages {
        rows.push_str(&format!(
            "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td><td>{}</td></tr>\n",
            escape(&m.at),
            escape(m.code.as_deref().unwrap_or("")),
            escape(&m.to),
            escape(&m.text)
        ));
    }
    if messages.is_empty() {
        rows.push_str("<tr><td colspan=\"4\">No messages yet.</td></tr>\n");
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fake SMS inbox — {name}</title>\
         <meta http-equiv=\"refresh\" content=\"5\">\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.4rem .8rem;text-align:left}}</style></head><body>\
         <h1>Fake SMS inbox — {name}</h1>\
         <p>Demo only: these text messages were not sent. Newest first; the page refreshes every 5 seconds.</p>\
         <table><thead><tr><th>Time (UTC)</th><th>Code</th><th>To</th><th>Text</th></tr></thead><tbody>\n{rows}</tbody></table>\
         </body></html>\n",
        name = escape(&tenant.0.tenant.name),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}
