//! Payment routes (storefront): start paying an order, and the provider's callback.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use forecourt_plugins::payments::NewPayment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{apply_event, callback_url, record_callback, PaymentView, Verdict};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::idempotency::{self, fingerprint, IdempotencyKey};
use crate::orders::routes::{amount_due, order_id_by_token, order_row};
use crate::state::AppState;
use crate::store::{now_ms, TenantTx};
use crate::tenancy::routes::PublicTenant;
use crate::tenancy::Snapshot;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay))
        .routes(routes!(callback))
}

/// `POST /api/v1/public/orders/{token}/payments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// `deposit` or `balance`.
    pub kind: String,
    /// Minor units; must equal what is due (see the order's `amount_due`).
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize)]
struct TokenParam {
    token: String,
}

/// What is due for `kind` on the order, checked against the request; the order's id, number
/// and currency on success.
async fn check_due(
    state: &AppState,
    s: &Snapshot,
    tx: &mut TenantTx,
    token: &str,
    req: &PayRequest,
    now: i64,
) -> ApiResult<(String, String)> {
    let tenant_id = &s.tenant.id;
    let order_id = order_id_by_token(tx, tenant_id, token).await?;
    let row = order_row(tx, tenant_id, &order_id).await?;
    let order = crate::orders::view_from_row(state, tenant_id, &row, false)?;
    let stored =
        crate::workflows::instance_for_subject(tx, tenant_id, crate::orders::SUBJECT, &order_id)
            .await?;
    if req.kind != "deposit" && req.kind != "balance" {
        return Err(ApiError::field(
            "invalid_payment",
            "/kind",
            "`kind` is `deposit` or `balance`",
        ));
    }
    if req.amount <= 0 {
        return Err(ApiError::field(
            "invalid_amount",
            "/amount",
            format!(
                "an amount to pay is positive (minor units); got {}",
                req.amount
            ),
        ));
    }
    if req.currency != order.currency {
        return Err(ApiError::field(
            "currency_mismatch",
            "/currency",
            format!(
                "the order is in {}; a payment in {} cannot be taken",
                order.currency, req.currency
            ),
        ));
    }
    if stored.instance.ended {
        return Err(ApiError::Conflict {
            code: "order_closed",
            detail: format!("order {} is {}; nothing is due", order.number, order.state),
        });
    }
    let wf =
        crate::workflows::compiled(state, s, &stored.workflow_id, stored.workflow_version).await?;
    let initial = wf.initial().name == stored.instance.state;
    if req.kind == "deposit" {
        if !initial || order.paid >= order.deposit {
            return Err(ApiError::Conflict {
                code: "nothing_due",
                detail: format!("the deposit of order {} is paid", order.number),
            });
        }
        let until: Option<i64> = row.try_get("reserved_until")?;
        if until.is_some_and(|u| u < now) {
            return Err(ApiError::Conflict {
                code: "reservation_expired",
                detail: format!(
                    "the reservation of order {} lapsed before the deposit was paid; place a new order",
                    order.number
                ),
            });
        }
    } else if order.state != "allocated" || order.paid >= order.price {
        return Err(ApiError::Conflict {
            code: "nothing_due",
            detail: format!(
                "no balance is due on order {} now (it is due once a vehicle is allocated)",
                order.number
            ),
        });
    }
    let due = amount_due(&order, initial);
    if req.amount != due {
        return Err(ApiError::field(
            "amount_mismatch",
            "/amount",
            format!(
                "the {} due on order {} is {due} {}; got {}",
                req.kind, order.number, order.currency, req.amount
            ),
        ));
    }
    Ok((order_id, order.number))
}

#[utoipa::path(post, path = "/api/v1/public/orders/{token}/payments", tag = "orders",
    description = "Starts paying what is due on an order (the deposit, or the balance once a vehicle is allocated) with the payment provider; send the buyer to `redirect_url`. Needs an `Idempotency-Key`: a retry replays the first answer and the provider is asked once.",
    params(("token" = String, Path, description = "The order's tracking token"),
           ("Idempotency-Key" = String, Header, description = "A fresh unique key per intended payment")),
    request_body = PayRequest,
    responses((status = 201, body = PaymentView), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem), (status = 503, body = crate::http::error::Problem)))]
async fn pay(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(TokenParam { token }): Path<TokenParam>,
    key: IdempotencyKey,
    JsonBody(req, bytes): JsonBody<PayRequest>,
) -> ApiResult<Response> {
    start_payment(&state, &tenant.0, &token, &key, &bytes, &req).await
}

/// Starts a payment of what is due on the order behind `token`, under the idempotency key
/// `key` for the request body `bytes` (read as `req`): the API's answer (201 with the payment,
/// or the first answer replayed). The storefront's order page pays through here too.
pub(crate) async fn start_payment(
    state: &AppState,
    s: &Snapshot,
    token: &str,
    key: &IdempotencyKey,
    bytes: &[u8],
    req: &PayRequest,
) -> ApiResult<Response> {
    let tenant_id = s.tenant.id.clone();
    let provider = state.payments.clone().ok_or_else(|| {
        ApiError::Unavailable("online payment is not configured on this server".into())
    })?;
    let print = fingerprint(
        "POST",
        &format!("/api/v1/public/orders/{token}/payments"),
        bytes,
    );
    let scope = "public";
    // A retry is answered from the key alone, before anything else is asked.
    let mut tx = state.db.tenant_tx(&tenant_id).await?;
    if let Some(stored) =
        idempotency::lookup(&mut tx, &tenant_id, scope, &key.0, &print, now_ms()).await?
    {
        return Ok(stored.replay());
    }
    let (_, number) = check_due(state, s, &mut tx, token, req, now_ms()).await?;
    tx.commit().await?;
    // The payment id (the provider's reference and idempotency key) comes from our key, so a
    // retry after a lost answer reaches the same provider payment.
    let digest = Sha256::digest(format!("{tenant_id}\u{0}{scope}\u{0}{}", key.0).as_bytes());
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&digest[..16]);
    let payment_id = uuid::Builder::from_random_bytes(seed)
        .into_uuid()
        .to_string();
    let created = provider
        .create_payment(NewPayment {
            reference: payment_id.clone(),
            amount: req.amount,
            currency: req.currency.clone(),
            description: format!(
                "{} {number}",
                if req.kind == "deposit" {
                    "Deposit for order"
                } else {
                    "Balance of order"
                }
            ),
            return_url: crate::orders::page::tracking_url(state, &s.tenant.slug, token),
            callback_url: callback_url(state, &s.tenant.slug),
        })
        .await
        .map_err(|e| {
            ApiError::Unavailable(format!(
                "the payment provider did not take the payment: {e}"
            ))
        })?;
    let mut pending = match idempotency::begin(state, &tenant_id, scope, Some(key), &print).await? {
        idempotency::Begun::Replay(response) => return Ok(response),
        idempotency::Begun::Fresh(pending) => pending,
    };
    let now = now_ms();
    let outcome = record_payment(
        state,
        s,
        &mut pending.tx,
        token,
        req,
        &payment_id,
        provider.name(),
        &created,
        now,
    )
    .await;
    pending.finish(outcome).await
}

/// Writes the created payment, re-checking inside the transaction that it is still due.
#[allow(clippy::too_many_arguments)]
async fn record_payment(
    state: &AppState,
    s: &Snapshot,
    tx: &mut TenantTx,
    token: &str,
    req: &PayRequest,
    payment_id: &str,
    provider_name: &str,
    created: &forecourt_plugins::payments::CreatedPayment,
    now: i64,
) -> ApiResult<(StatusCode, serde_json::Value)> {
    let (order_id, _) = check_due(state, s, tx, token, req, now).await?;
    sqlx::query(
        "INSERT INTO payments (tenant_id, id, order_id, kind, amount, currency, provider, \
         provider_ref, status, refunded, redirect_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'created', 0, $9, $10, $10)",
    )
    .bind(&s.tenant.id)
    .bind(payment_id)
    .bind(&order_id)
    .bind(&req.kind)
    .bind(req.amount)
    .bind(&req.currency)
    .bind(provider_name)
    .bind(&created.provider_ref)
    .bind(&created.redirect_url)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let view = PaymentView {
        id: payment_id.to_string(),
        kind: req.kind.clone(),
        amount: req.amount,
        currency: req.currency.clone(),
        status: "created".into(),
        refunded: 0,
        redirect_url: Some(created.redirect_url.clone()),
        created_at: crate::store::rfc3339(now),
    };
    Ok((
        StatusCode::CREATED,
        serde_json::to_value(view).map_err(ApiError::internal)?,
    ))
}

/// The answer to a provider.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallbackAnswer {
    /// `accepted`, `replay` or `mismatch`.
    pub verdict: String,
}

#[utoipa::path(post, path = "/api/v1/public/payments/callback", tag = "orders",
    description = "The payment provider's signed event (payment or refund succeeded/failed). Verified with the webhook secret; a forged, tampered or stale callback is refused (400) and a replayed event is acknowledged without effect — both are kept and logged.",
    request_body(content = String, description = "The provider's event, signed", content_type = "application/json"),
    responses((status = 200, body = CallbackAnswer), (status = 400, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn callback(
    State(state): State<AppState>,
    tenant: PublicTenant,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<CallbackAnswer>> {
    let s = tenant.0;
    let tenant_id = &s.tenant.id;
    let provider = state
        .payments
        .clone()
        .ok_or_else(|| ApiError::NotFound("payment callbacks (no provider configured)".into()))?;
    let now = now_ms();
    let event = match provider.verify_callback(&headers, &body, now / 1000) {
        Ok(event) => event,
        Err(why) => {
            tracing::warn!(tenant = %tenant_id, provider = provider.name(), reason = %why, "payment callback rejected");
            record_callback(
                &state.db,
                tenant_id,
                provider.name(),
                None,
                Verdict::Rejected,
                &why.to_string(),
            )
            .await?;
            return Err(ApiError::Rejected {
                status: StatusCode::BAD_REQUEST,
                detail: format!("callback refused: {why}"),
            });
        }
    };
    let mut tx = state.db.write_tx(tenant_id).await?;
    let (verdict, detail) = apply_event(&mut tx, &state, &s, provider.name(), &event, now).await?;
    if verdict == Verdict::Accepted {
        super::insert_callback(
            &mut tx,
            tenant_id,
            provider.name(),
            Some(&event.event_id),
            verdict,
            &detail,
        )
        .await?;
        match tx.commit().await {
            Ok(()) => {
                tracing::info!(tenant = %tenant_id, event = %event.event_id, kind = event.kind.as_str(), "payment callback applied");
                return Ok(Json(CallbackAnswer {
                    verdict: verdict.as_str().into(),
                }));
            }
            // The same event applied concurrently: this copy is a replay.
            Err(e) if idempotency::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        record_callback(
            &state.db,
            tenant_id,
            provider.name(),
            Some(&event.event_id),
            Verdict::Replay,
            "applied concurrently by another delivery",
        )
        .await?;
        return Ok(Json(CallbackAnswer {
            verdict: Verdict::Replay.as_str().into(),
        }));
    }
    drop(tx);
    tracing::warn!(tenant = %tenant_id, event = %event.event_id, verdict = verdict.as_str(), detail = %detail, "payment callback ignored");
    record_callback(
        &state.db,
        tenant_id,
        provider.name(),
        Some(&event.event_id),
        verdict,
        &detail,
    )
    .await?;
    if verdict == Verdict::Mismatch {
        return Err(ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            detail: format!("callback refused: {detail}"),
        });
    }
    Ok(Json(CallbackAnswer {
        verdict: verdict.as_str().into(),
    }))
}
