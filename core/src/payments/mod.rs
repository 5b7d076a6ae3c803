//! Payments of orders through the provider adapter (`forecourt_plugins::payments`): the buyer
//! pays the deposit and later the balance on the provider's page; the provider's signed
//! callback tells us it succeeded; refunds go back through the provider.
//!
//! **Invariants**
//! - A payment counts only when a callback whose signature verified says so. A callback that
//!   does not verify (forged, tampered, stale) or that repeats an event already applied (a
//!   replay) changes nothing; each is kept in `payment_callbacks` with its verdict and logged
//!   (without personal data or secrets).
//! - A verified event is applied at most once: its `accepted` row (unique per provider event)
//!   commits in the same transaction as its effect.
//! - The payment, the order's paid amount and the workflow step it causes (`deposit_paid`,
//!   `balance_paid`) commit together.
//! - Refunds are rows first (`refunds`, status `requested`) written with the cancellation, then
//!   sent by the refund worker with retries — never lost, never sent twice (the provider gets the
//!   refund id as its idempotency key).

pub mod routes;

use forecourt_plugins::payments::{CallbackEvent, EventKind, NewRefund, ProviderError};
use forecourt_workflow_engine as engine;
use serde::Serialize;
use sqlx::Row;

use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{now_ms, rfc3339, Db, TenantTx};
use crate::tenancy::Snapshot;
use crate::workflows::{self, Acting};

/// A payment as the buyer and staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: String,
    /// `deposit` or `balance`.
    pub kind: String,
    pub amount: i64,
    pub currency: String,
    /// `created` (waiting for the buyer), `succeeded` or `failed`.
    pub status: String,
    pub refunded: i64,
    /// Where the buyer pays (while `created`).
    pub redirect_url: Option<String>,
    pub created_at: String,
}

fn view(row: &sqlx::any::AnyRow) -> ApiResult<PaymentView> {
    let status: String = row.try_get("status")?;
    Ok(PaymentView {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        redirect_url: if status == "created" {
            row.try_get("redirect_url")?
        } else {
            None
        },
        status,
        refunded: row.try_get("refunded")?,
        created_at: rfc3339(row.try_get("created_at")?),
    })
}

/// The payments of an order, oldest first.
pub async fn for_order(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
) -> ApiResult<Vec<PaymentView>> {
    let rows = sqlx::query(
        "SELECT id, kind, amount, currency, status, refunded, redirect_url, created_at \
         FROM payments WHERE tenant_id = $1 AND order_id = $2 ORDER BY id",
    )
    .bind(tenant_id)
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(view).collect()
}

/// A cancelled order gets back what it paid minus `keep`: one refund per succeeded payment
/// (newest first) until the amount is covered. The refund worker sends them.
pub async fn refund_order(
    tx: &mut TenantTx,
    snapshot: &Snapshot,
    order_id: &str,
    keep: i64,
    now: i64,
) -> ApiResult<()> {
    let tenant_id = &snapshot.tenant.id;
    let rows = sqlx::query(
        "SELECT id, amount, refunded FROM payments WHERE tenant_id = $1 AND order_id = $2 \
         AND status = 'succeeded' ORDER BY id DESC",
    )
    .bind(tenant_id)
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut refundable = Vec::new();
    let mut paid = 0i64;
    for row in &rows {
        let id: String = row.try_get("id")?;
        let left = row.try_get::<i64, _>("amount")? - row.try_get::<i64, _>("refunded")?;
        paid += left;
        refundable.push((id, left));
    }
    let mut owed = (paid - keep.max(0)).max(0);
    for (payment_id, left) in refundable {
        if owed == 0 {
            break;
        }
        let amount = owed.min(left);
        if amount <= 0 {
            continue;
        }
        request_refund(tx, tenant_id, &payment_id, amount, "order cancelled", now).await?;
        owed -= amount;
    }
    Ok(())
}

/// Writes one refund request and books it against its payment (so it is never asked twice).
pub async fn request_refund(
    tx: &mut TenantTx,
    tenant_id: &str,
    payment_id: &str,
    amount: i64,
    reason: &str,
    now: i64,
) -> ApiResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO refunds (tenant_id, id, payment_id, amount, reason, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'requested', 0, $6, $6, $6)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(payment_id)
    .bind(amount)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE payments SET refunded = refunded + $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(amount)
    .bind(now)
    .bind(tenant_id)
    .bind(payment_id)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// What became of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verified and applied.
    Accepted,
    /// Verified, but the event was applied before: nothing changed.
    Replay,
    /// Not verified (no or bad signature, stale, malformed): nothing changed.
    Rejected,
    /// Verified, but it does not match what we asked for (amount, currency, unknown payment):
    /// nothing changed.
    Mismatch,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Replay => "replay",
            Verdict::Rejected => "rejected",
            Verdict::Mismatch => "mismatch",
        }
    }
}

/// Keeps a callback that changed nothing, in its own transaction.
pub async fn record_callback(
    db: &Db,
    tenant_id: &str,
    provider: &str,
    event_id: Option<&str>,
    verdict: Verdict,
    detail: &str,
) -> ApiResult<()> {
    let mut tx = db.write_tx(tenant_id).await?;
    insert_callback(&mut tx, tenant_id, provider, event_id, verdict, detail).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_callback(
    tx: &mut TenantTx,
    tenant_id: &str,
    provider: &str,
    event_id: Option<&str>,
    verdict: Verdict,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_callbacks (tenant_id, id, provider, event_id, verdict, detail, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(provider)
    .bind(event_id)
    .bind(verdict.as_str())
    .bind(detail)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn system() -> Acting {
    Acting::system()
}

/// Applies a verified event inside `tx`. `Ok(Replay|Mismatch)` means nothing may change: the
/// caller rolls back and records the verdict.
pub async fn apply_event(
    tx: &mut TenantTx,
    state: &AppState,
    snapshot: &Snapshot,
    provider: &str,
    event: &CallbackEvent,
    now: i64,
) -> ApiResult<(Verdict, String)> {
    let tenant_id = &snapshot.tenant.id;
    let seen = sqlx::query(
        "SELECT 1 AS one FROM payment_callbacks WHERE tenant_id = $1 AND provider = $2 \
         AND event_id = $3 AND verdict = 'accepted'",
    )
    .bind(tenant_id)
    .bind(provider)
    .bind(&event.event_id)
    .fetch_optional(&mut **tx)
    .await?;
    if seen.is_some() {
        return Ok((Verdict::Replay, "event already applied".into()));
    }
    match event.kind {
        EventKind::PaymentSucceeded | EventKind::PaymentFailed => {
            let row = sqlx::query(
                "SELECT p.id, p.order_id, p.kind, p.amount, p.currency, p.status, o.reserved_until, \
                 o.vin FROM payments p JOIN orders o ON o.tenant_id = p.tenant_id AND o.id = p.order_id \
                 WHERE p.tenant_id = $1 AND p.provider = $2 AND p.provider_ref = $3",
            )
            .bind(tenant_id)
            .bind(provider)
            .bind(&event.provider_ref)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                return Ok((
                    Verdict::Mismatch,
                    "no payment with this provider reference".into(),
                ));
            };
            let payment_id: String = row.try_get("id")?;
            let amount: i64 = row.try_get("amount")?;
            let currency: String = row.try_get("currency")?;
            if event.reference != payment_id || event.amount != amount || event.currency != currency
            {
                return Ok((
                    Verdict::Mismatch,
                    format!(
                        "event says {} {} for reference {}, the payment is {amount} {currency}",
                        event.amount, event.currency, event.reference
                    ),
                ));
            }
            let status: String = row.try_get("status")?;
            if status != "created" {
                return Ok((Verdict::Replay, format!("payment already {status}")));
            }
            if event.kind == EventKind::PaymentFailed {
                set_payment_status(tx, tenant_id, &payment_id, "failed", now).await?;
                return Ok((Verdict::Accepted, "payment failed".into()));
            }
            set_payment_status(tx, tenant_id, &payment_id, "succeeded", now).await?;
            let order_id: String = row.try_get("order_id")?;
            sqlx::query(
                "UPDATE orders SET paid = paid + $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(amount)
            .bind(now)
            .bind(tenant_id)
            .bind(&order_id)
            .execute(&mut **tx)
            .await?;
            let kind: String = row.try_get("kind")?;
            let transition = if kind == "deposit" {
                "deposit_paid"
            } else {
                "balance_paid"
            };
            // The deposit only counts while the order still holds its vehicle (or holds none:
            // a factory order); a lapsed reservation taken by another buyer is refunded.
            let held = row.try_get::<Option<String>, _>("vin")?.is_none()
                || kind != "deposit"
                || still_held(tx, tenant_id, &order_id, now).await?;
            let fired = if held {
                fire(tx, state, snapshot, &order_id, transition, now).await?
            } else {
                false
            };
            if !fired {
                request_refund(
                    tx,
                    tenant_id,
                    &payment_id,
                    amount,
                    "paid after the order lapsed or ended",
                    now,
                )
                .await?;
                return Ok((
                    Verdict::Accepted,
                    format!("payment succeeded but the order could not take it ({transition}); refunded"),
                ));
            }
            Ok((
                Verdict::Accepted,
                format!("payment succeeded: {transition}"),
            ))
        }
        EventKind::RefundSucceeded | EventKind::RefundFailed => {
            let row = sqlx::query(
                "SELECT r.id, r.amount, r.status, r.payment_id, p.order_id, p.currency FROM refunds r \
                 JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id \
                 WHERE r.tenant_id = $1 AND r.id = $2",
            )
            .bind(tenant_id)
            .bind(&event.reference)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                return Ok((Verdict::Mismatch, "no refund with this reference".into()));
            };
            let amount: i64 = row.try_get("amount")?;
            let currency: String = row.try_get("currency")?;
            if event.amount != amount || event.currency != currency {
                return Ok((
                    Verdict::Mismatch,
                    format!(
                        "event says {} {}, the refund is {amount} {currency}",
                        event.amount, event.currency
                    ),
                ));
            }
            let status: String = row.try_get("status")?;
            if status == "succeeded" || status == "failed" {
                return Ok((Verdict::Replay, format!("refund already {status}")));
            }
            let refund_id: String = row.try_get("id")?;
            if event.kind == EventKind::RefundFailed {
                sqlx::query(
                    "UPDATE refunds SET status = 'failed', last_error = 'the provider reported the refund failed', \
                     updated_at = $1 WHERE tenant_id = $2 AND id = $3",
                )
                .bind(now)
                .bind(tenant_id)
                .bind(&refund_id)
                .execute(&mut **tx)
                .await?;
                let payment_id: String = row.try_get("payment_id")?;
                sqlx::query(
                    "UPDATE payments SET refunded = refunded - $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
                )
                .bind(amount)
                .bind(now)
                .bind(tenant_id)
                .bind(&payment_id)
                .execute(&mut **tx)
                .await?;
                tracing::error!(tenant = %tenant_id, refund = %refund_id, "refund failed at the provider; staff must follow up");
                return Ok((Verdict::Accepted, "refund failed".into()));
            }
            sqlx::query(
                "UPDATE refunds SET status = 'succeeded', updated_at = $1 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(now)
            .bind(tenant_id)
            .bind(&refund_id)
            .execute(&mut **tx)
            .await?;
            let order_id: String = row.try_get("order_id")?;
            sqlx::query(
                "UPDATE orders SET refunded = refunded + $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(amount)
            .bind(now)
            .bind(tenant_id)
            .bind(&order_id)
            .execute(&mut **tx)
            .await?;
            Ok((Verdict::Accepted, "refund succeeded".into()))
        }
    }
}

async fn set_payment_status(
    tx: &mut TenantTx,
    tenant_id: &str,
    payment_id: &str,
    status: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET status = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(status)
    .bind(now)
    .bind(tenant_id)
    .bind(payment_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// True when the order still holds its reserved vehicle at `now`.
async fn still_held(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT 1 AS one FROM vehicles WHERE {} \
         AND (hold = 'sold' OR reserved_until IS NULL OR reserved_until >= $1)",
        crate::inventory::stock::HELD_BY_ORDER
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// Fires `transition` on the order's workflow as the system; false when the workflow does not
/// take it now (the order ended, or is in another state).
async fn fire(
    tx: &mut TenantTx,
    state: &AppState,
    snapshot: &Snapshot,
    order_id: &str,
    transition: &str,
    now: i64,
) -> ApiResult<bool> {
    let tenant_id = &snapshot.tenant.id;
    let stored =
        workflows::instance_for_subject(tx, tenant_id, crate::orders::SUBJECT, order_id).await?;
    let command = engine::Command::Fire {
        transition: transition.to_string(),
        input: serde_json::Value::Object(Default::default()),
    };
    match workflows::command_in(
        tx,
        state,
        snapshot,
        &stored.id,
        stored.instance.version as i64,
        &command,
        &system(),
        now,
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(ApiError::WorkflowRefused { code, .. }) => {
            tracing::warn!(tenant = %tenant_id, order = %order_id, transition, code, "order workflow did not take a payment");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// How long the refund worker waits before retry `n`.
fn refund_backoff_ms(attempts: i64) -> i64 {
    crate::outbox::backoff_ms(attempts)
}

/// Attempts before a refund is left `failed` for staff.
const REFUND_ATTEMPTS: i64 = 8;

/// One pass of the refund worker: sends up to `batch` due refund requests to the provider.
pub async fn send_refunds_once(state: &AppState, batch: i64) -> Result<usize, sqlx::Error> {
    let Some(provider) = state.payments.clone() else {
        return Ok(0);
    };
    let now = now_ms();
    // Look first (no write lock while nothing is due), then claim what is still due.
    let mut tx = state.db.scan_tx().await?;
    crate::outbox::scan_mode(&state.db, &mut tx).await?;
    let due = sqlx::query(
        "SELECT tenant_id, id FROM refunds WHERE status = 'requested' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut tx = state.db.batch_tx().await?;
    crate::outbox::scan_mode(&state.db, &mut tx).await?;
    // Lease them, so another node does not send the same refund at the same time.
    let mut claimed = Vec::new();
    for row in &due {
        let tenant_id: String = row.try_get("tenant_id")?;
        let id: String = row.try_get("id")?;
        let got = sqlx::query(
            "UPDATE refunds SET next_attempt_at = $1 WHERE tenant_id = $2 AND id = $3 \
             AND status = 'requested' AND next_attempt_at <= $4",
        )
        .bind(now + 60_000)
        .bind(&tenant_id)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if got == 1 {
            claimed.push((tenant_id, id));
        }
    }
    tx.commit().await?;
    let mut sent = 0;
    for (tenant_id, id) in claimed {
        let mut tx = state.db.tenant_tx(&tenant_id).await?;
        let row = sqlx::query(
            "SELECT r.amount, r.attempts, p.provider_ref, p.currency, t.slug FROM refunds r \
             JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id \
             JOIN tenants t ON t.id = r.tenant_id \
             WHERE r.tenant_id = $1 AND r.id = $2",
        )
        .bind(&tenant_id)
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let attempts: i64 = row.try_get("attempts")?;
        let slug: String = row.try_get("slug")?;
        let request = NewRefund {
            payment_ref: row
                .try_get::<Option<String>, _>("provider_ref")?
                .unwrap_or_default(),
            reference: id.clone(),
            amount: row.try_get("amount")?,
            currency: row.try_get("currency")?,
            callback_url: callback_url(state, &slug),
        };
        let result = provider.refund(request).await;
        let now = now_ms();
        let mut tx = state.db.write_tx(&tenant_id).await?;
        match result {
            Ok(created) => {
                // The refund is booked when the provider's signed callback confirms it (also for
                // a provider that settles at once); that callback may even have come first, so a
                // settled refund is never moved back.
                sqlx::query(
                    "UPDATE refunds SET status = CASE WHEN status = 'requested' THEN 'pending' ELSE status END, \
                     provider_ref = $1, attempts = attempts + 1, \
                     updated_at = $2 WHERE tenant_id = $3 AND id = $4",
                )
                .bind(&created.provider_ref)
                .bind(now)
                .bind(&tenant_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                sent += 1;
            }
            Err(e) => {
                let (status, next) = match &e {
                    ProviderError::Unavailable(_) if attempts + 1 < REFUND_ATTEMPTS => {
                        ("requested", now + refund_backoff_ms(attempts + 1))
                    }
                    _ => ("failed", now),
                };
                tracing::warn!(tenant = %tenant_id, refund = %id, error = %e, status, "refund not sent");
                sqlx::query(
                    "UPDATE refunds SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                     last_error = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6 \
                     AND status = 'requested'",
                )
                .bind(status)
                .bind(next)
                .bind(e.to_string())
                .bind(now)
                .bind(&tenant_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(sent)
}

/// The refund worker of one node.
pub async fn run_refunds(state: std::sync::Weak<crate::state::Inner>, poll: std::time::Duration) {
    loop {
        tokio::time::sleep(poll).await;
        let Some(inner) = state.upgrade() else { break };
        let state = AppState(inner);
        if let Err(e) = send_refunds_once(&state, 50).await {
            tracing::warn!(error = %e, "refund worker pass failed");
        }
    }
}

/// Where the provider posts events for tenant `slug`.
pub fn callback_url(state: &AppState, slug: &str) -> String {
    format!(
        "{}/t/{slug}/api/v1/public/payments/callback",
        state.settings.public_url.trim_end_matches('/')
    )
}
