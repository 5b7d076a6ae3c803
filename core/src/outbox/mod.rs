//! The transactional outbox: every side effect that leaves the process (a notification to a
//! buyer or to staff, a business event for integrators, a script hook's result) is written as a
//! row in the **same transaction** as the change that causes it, then delivered by the relay.
//!
//! **Invariants**
//! - A message exists if and only if the change that caused it committed.
//! - Recipients are references (`buyer:<booking id>`, `role:<role>@<store>`,
//!   `otp:<mobile index>`), never contact data: personal data stays in its own table and is
//!   resolved by the adapter at delivery; a secret in a payload (a sign-in code) is sealed.
//! - Each kind goes to one adapter ([`Channels`]); a kind whose adapter is missing fails with a
//!   clear reason and is retried, then dead-lettered — never dropped.
//! - Only messages that leave the process are relayed ([`Kind::relayed`]: a text message).
//!   Notifications, business events and hook results are read where they are stored (the
//!   buyer's inbox, the integrators' feed), so storing one is delivering it: each is written
//!   `delivered` by the transaction that causes it, and the relay never touches it.
//! - One node at a time relays: the one holding the relay lease ([`Relay`]), so two nodes do
//!   not send the same message at the same time; a failed delivery is retried with exponential
//!   backoff and dead-lettered after [`MAX_ATTEMPTS`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::store::rows::{json_list, Rows, Sql, Val};
use crate::store::{now_ms, Backend, Db, TenantTx};

/// Attempts before a message is dead-lettered.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long the relay lease lasts without renewal: after a relay's node dies (or is killed and
/// restarted: a restarted node is a new holder), the relay resumes at most this long later. A
/// node that stops gracefully gives the lease up ([`release_relay`]), so another node, or the
/// same one restarted, resumes on its next pass. A pass that
/// takes longer (a slow gateway) may see another node deliver the same messages again.
const LEASE_MS: i64 = 10_000;

/// What kind of side effect a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A message to a person (buyer or staff), by template.
    Notify,
    /// A business event for integrators (`test_drive.approved` …).
    Event,
    /// The result of a tenant script hook run by a workflow action.
    Hook,
    /// A text message to a mobile number (a buyer's sign-in code), through the SMS adapter.
    Sms,
}

impl Kind {
    /// Whether messages of this kind leave the process through the relay and its adapters.
    /// The others are read from this table by whoever they are for (a buyer's inbox, the
    /// integrators' feed `GET /api/v1/events`), so they are delivered when their transaction
    /// commits and are stored `delivered`: no relay pass reads or rewrites them. A kind that
    /// gains an outside channel (e-mail, a webhook) becomes relayed here.
    pub fn relayed(self) -> bool {
        match self {
            Kind::Sms => true,
            Kind::Notify | Kind::Event | Kind::Hook => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notify => "notify",
            Kind::Event => "event",
            Kind::Hook => "hook",
            Kind::Sms => "sms",
        }
    }
}

/// A message to write with a business change.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: Kind,
    /// Template (notify), event name (event) or hook name (hook).
    pub name: String,
    pub recipient: Option<String>,
    /// The record the message is about (`test_drive_booking`, id).
    pub subject: Option<(String, String)>,
    pub payload: Value,
}

/// How outbox rows are inserted ([`row`] gives the values).
pub const INSERT: &str = "INSERT INTO outbox (tenant_id, id, kind, name, recipient, subject_type, \
     subject_id, payload, status, attempts, next_attempt_at, created_at, delivered_at)";
/// Values per outbox row.
pub const WIDTH: usize = 13;

/// A new message's id and row values, for [`INSERT`]: `pending` for the relay when its kind is
/// [`Kind::relayed`], otherwise `delivered` now.
pub fn row(tenant_id: &str, message: &Message, now: i64) -> (String, Vec<Val>) {
    let id = uuid::Uuid::now_v7().to_string();
    let (subject_type, subject_id) = match &message.subject {
        Some((t, i)) => (Some(t.as_str()), Some(i.as_str())),
        None => (None, None),
    };
    let (status, delivered_at) = if message.kind.relayed() {
        ("pending", None)
    } else {
        ("delivered", Some(now))
    };
    let values = vec![
        tenant_id.into(),
        (&id).into(),
        message.kind.as_str().into(),
        (&message.name).into(),
        message.recipient.as_deref().into(),
        subject_type.into(),
        subject_id.into(),
        message.payload.to_string().into(),
        status.into(),
        0_i64.into(),
        now.into(),
        now.into(),
        delivered_at.into(),
    ];
    (id, values)
}

/// Writes `message` inside the caller's transaction; returns its id.
pub async fn enqueue(
    tx: &mut TenantTx,
    tenant_id: &str,
    message: &Message,
    now: i64,
) -> Result<String, sqlx::Error> {
    let (id, values) = row(tenant_id, message, now);
    let mut rows = Rows::new(INSERT, WIDTH, "");
    rows.push(values);
    rows.write(tx).await?;
    Ok(id)
}

/// Marks a message written in this transaction as dead at once (a hook whose script failed),
/// with the reason.
pub async fn fail(
    tx: &mut TenantTx,
    tenant_id: &str,
    id: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET status = 'dead', last_error = $1 WHERE tenant_id = $2 AND id = $3",
    )
    .bind(reason)
    .bind(tenant_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A stored message as the relay and the inbox views see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub recipient: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// Why the last delivery (or the hook's script) failed.
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

fn entry(row: &sqlx::any::AnyRow) -> Result<OutboxEntry, sqlx::Error> {
    let payload: String = row.try_get("payload")?;
    Ok(OutboxEntry {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        recipient: row.try_get("recipient")?,
        subject_type: row.try_get("subject_type")?,
        subject_id: row.try_get("subject_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

const COLUMNS: &str = "id, kind, name, recipient, subject_type, subject_id, payload, status, \
                       attempts, last_error, created_at, delivered_at";

/// Every message about one record, oldest first (a booking's messages to its buyer …).
pub async fn for_subject(
    db: &Db,
    tenant_id: &str,
    subject_type: &str,
    subject_id: &str,
) -> Result<Vec<OutboxEntry>, sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE tenant_id = $1 AND subject_type = $2 \
         AND subject_id = $3 ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(subject_type)
    .bind(subject_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(entry).collect()
}

/// Business events and hook results after the cursor `after` (an event id; empty = from the
/// start), oldest first: the integrators' pull feed.
pub async fn events_after(
    db: &Db,
    tenant_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<OutboxEntry>, sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE tenant_id = $1 AND kind IN ('event', 'hook') \
         AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(entry).collect()
}

/// The result of one delivery attempt: `Err` carries a reason for the retry log (never personal
/// data).
pub type Delivery = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A channel adapter (SMS, e-mail, webhook …). Adapters that need an outside service ship with
/// a local fake speaking the same contract.
pub trait Deliver: Send + Sync {
    fn deliver(&self, tenant_id: &str, message: &OutboxEntry) -> Delivery;
}

/// The built-in adapter of the kinds that are not [`Kind::relayed`]: a notification is kept as
/// the recipient's inbox entry (shown on the buyer's booking page), an event or hook result
/// stays in the integrators' feed (`GET /api/v1/events`). Such messages are written delivered,
/// so the relay only brings it those an earlier version wrote pending (and any of a kind routed
/// nowhere else); each is logged at debug level by kind, name and recipient kind only.
pub struct LocalInbox;

impl Deliver for LocalInbox {
    fn deliver(&self, tenant_id: &str, message: &OutboxEntry) -> Delivery {
        let recipient_kind = message
            .recipient
            .as_deref()
            .and_then(|r| r.split(':').next())
            .unwrap_or("none")
            .to_string();
        tracing::debug!(
            tenant = tenant_id,
            kind = %message.kind,
            name = %message.name,
            recipient = %recipient_kind,
            "outbox message delivered locally"
        );
        Box::pin(async { Ok(()) })
    }
}

/// The relay's adapter: routes each message by kind to the adapter of its channel (SMS to the
/// SMS adapter …) and every other kind to a default (the [`LocalInbox`]).
pub struct Channels {
    default: Arc<dyn Deliver>,
    routes: Vec<(&'static str, Arc<dyn Deliver>)>,
}

impl Channels {
    /// Every kind to `default` until routed elsewhere.
    pub fn new(default: Arc<dyn Deliver>) -> Channels {
        Channels {
            default,
            routes: Vec::new(),
        }
    }

    /// Messages of `kind` go to `adapter` (a later route for the same kind wins).
    pub fn route(mut self, kind: Kind, adapter: Arc<dyn Deliver>) -> Channels {
        self.routes.retain(|(k, _)| *k != kind.as_str());
        self.routes.push((kind.as_str(), adapter));
        self
    }

    fn adapter_for(&self, kind: &str) -> &Arc<dyn Deliver> {
        self.routes
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| a)
            .unwrap_or(&self.default)
    }
}

impl Deliver for Channels {
    fn deliver(&self, tenant_id: &str, message: &OutboxEntry) -> Delivery {
        self.adapter_for(&message.kind).deliver(tenant_id, message)
    }
}

/// The adapter of a channel nobody configured: every delivery fails with `reason`, so the
/// message is retried and then dead-lettered with that reason in `last_error`.
pub struct Unconfigured {
    pub reason: String,
}

impl Deliver for Unconfigured {
    fn deliver(&self, _tenant_id: &str, _message: &OutboxEntry) -> Delivery {
        let reason = self.reason.clone();
        Box::pin(async move { Err(reason) })
    }
}

/// Delay before attempt `n + 1` after `n` failures: 1 s, 2 s, 4 s … capped at 10 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (1000_i64.saturating_mul(1_i64 << exp)).min(600_000)
}

/// Sets the transaction up to scan due rows of every tenant (ids and times only).
pub(crate) async fn scan_mode(db: &Db, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT set_config('forecourt.scheduler', 'scan', true)")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The name of the outbox relay's row in `node_leases`.
const RELAY_LEASE: &str = "outbox_relay";

/// One node's outbox relay. Of all nodes on a database, only the one holding the relay lease
/// (a row of `node_leases`, taken for [`LEASE_MS`] and renewed by every pass that finds work)
/// relays, so two nodes never send the same message at the same time; when the holder stops,
/// its lease runs out and another node takes over, delivering again what the first had not
/// settled (delivery is at-least-once).
pub struct Relay {
    /// This node's name in the lease (random per relay).
    holder: String,
}

impl Default for Relay {
    fn default() -> Self {
        Relay::new(uuid::Uuid::new_v4().to_string())
    }
}

impl Relay {
    /// A relay that holds the lease as `holder` (unique per node and start).
    pub fn new(holder: String) -> Relay {
        Relay { holder }
    }

    /// Takes or renews the relay lease (one small relaxed write, on the writers' thread).
    /// `false`: another node holds it.
    async fn lease(&self, db: &Db, now: i64) -> Result<bool, sqlx::Error> {
        let (writer, holder) = (db.clone(), self.holder.clone());
        db.on_writers(async move {
            let mut tx = writer.relaxed_tx().await?;
            let taken = sqlx::query(
                "UPDATE node_leases SET holder = $1, expires_at = $2 \
                 WHERE name = $3 AND (holder = $1 OR expires_at < $4)",
            )
            .bind(&holder)
            .bind(now + LEASE_MS)
            .bind(RELAY_LEASE)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(taken == 1)
        })
        .await
    }

    /// One relay pass: delivers up to `batch` due messages. Returns how many were delivered.
    ///
    /// Whatever the number of messages: a read of the due ones' ids (ids and times of every
    /// tenant; an idle queue costs no more), the lease (one row), a read of the messages
    /// (tenant by tenant), and after delivery one write of the outcomes. Both writes are
    /// [`Db::relaxed_tx`]: they do not wait for the disk, since losing one in a crash only
    /// means one more delivery. A message is written once per delivery attempt — the order
    /// writer shares SQLite's one write lock with these writes.
    pub async fn pass(
        &self,
        db: &Db,
        adapter: &dyn Deliver,
        batch: i64,
    ) -> Result<usize, sqlx::Error> {
        let now = now_ms();
        let mut tx = db.scan_tx().await?;
        scan_mode(db, &mut tx).await?;
        let due = sqlx::query(
            "SELECT tenant_id, id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if due.is_empty() || !self.lease(db, now).await? {
            return Ok(0);
        }
        let mut by_tenant: Vec<(String, Vec<String>)> = Vec::new();
        for row in &due {
            let tenant_id: String = row.try_get("tenant_id")?;
            let id: String = row.try_get("id")?;
            match by_tenant.iter_mut().find(|(t, _)| *t == tenant_id) {
                Some((_, ids)) => ids.push(id),
                None => by_tenant.push((tenant_id, vec![id])),
            }
        }

        // The messages themselves, still pending (another node may have settled some since).
        let mut pending: Vec<(String, OutboxEntry)> = Vec::with_capacity(due.len());
        let mut tx = db.scan_tx().await?;
        for (tenant_id, ids) in &by_tenant {
            db.set_tenant(&mut tx, tenant_id).await?;
            if db.backend == Backend::Postgres {
                // A primary-key probe per listed id, whatever the planner knows of the table
                // (see `stored_keys` in idempotency.rs).
                let rows = sqlx::query(&format!(
                    "SELECT m.* FROM json_array_elements_text($2::json) AS k(id), \
                     LATERAL (SELECT {COLUMNS} FROM outbox o WHERE o.tenant_id = $1 \
                              AND o.id = k.id AND o.status = 'pending' LIMIT 1) AS m ORDER BY m.id"
                ))
                .bind(tenant_id.as_str())
                .bind(json_list(ids)?)
                .fetch_all(&mut *tx)
                .await?;
                for row in rows {
                    pending.push((tenant_id.clone(), entry(&row)?));
                }
                continue;
            }
            for chunk in ids.chunks(500) {
                let mut sql = Sql::for_tx(&tx);
                sql.push("SELECT ")
                    .push(COLUMNS)
                    .push(" FROM outbox WHERE tenant_id = ")
                    .bind(tenant_id.as_str())
                    .push(" AND status = 'pending' AND id IN (")
                    .list(chunk.iter().map(Val::from))
                    .push(") ORDER BY id");
                for row in sql.fetch_all(&mut tx).await? {
                    pending.push((tenant_id.clone(), entry(&row)?));
                }
            }
        }
        tx.commit().await?;

        let read = std::time::Instant::now();
        let mut outcomes = Vec::with_capacity(pending.len());
        for (tenant_id, message) in &pending {
            outcomes.push(adapter.deliver(tenant_id, message).await);
        }

        let handed = std::time::Instant::now();
        let messages = pending.len();
        let for_writers = db.clone();
        let settled = db
            .on_writers(async move { settle(&for_writers, &by_tenant, &pending, &outcomes).await })
            .await?;
        tracing::debug!(
            messages,
            delivered = settled.delivered,
            deliver_us = (handed - read).as_micros() as u64,
            lock_wait_us = settled.lock_wait.as_micros() as u64,
            settle_us = settled.writing.as_micros() as u64,
            "outbox relay pass"
        );
        Ok(settled.delivered)
    }
}

/// What [`settle`] wrote, and how long it waited for the write lock and then held it.
struct Settled {
    delivered: usize,
    lock_wait: Duration,
    writing: Duration,
}

/// Writes the outcomes of a relay pass in one relaxed write transaction: delivered messages
/// are marked so, failed ones get their next attempt or are dead-lettered.
async fn settle(
    db: &Db,
    by_tenant: &[(String, Vec<String>)],
    pending: &[(String, OutboxEntry)],
    outcomes: &[Result<(), String>],
) -> Result<Settled, sqlx::Error> {
    let started = std::time::Instant::now();
    let mut delivered = 0;
    let mut tx = db.relaxed_tx().await?;
    let locked = std::time::Instant::now();
    for (tenant_id, _) in by_tenant {
        db.set_tenant(&mut tx, tenant_id).await?;
        let ok: Vec<&str> = pending
            .iter()
            .zip(outcomes)
            .filter(|((t, _), result)| t == tenant_id && result.is_ok())
            .map(|((_, m), _)| m.id.as_str())
            .collect();
        if db.backend == Backend::Postgres {
            // One primary-key update per id inside the database (the migration
            // `planner_proof_lookups`): an `id IN (…)` update was planned as a walk of the
            // tenant's messages while the table had no statistics.
            if !ok.is_empty() {
                let marked: i64 =
                    sqlx::query_scalar("SELECT forecourt_outbox_delivered($1, $2, $3)")
                        .bind(tenant_id.as_str())
                        .bind(json_list(&ok)?)
                        .bind(now_ms())
                        .fetch_one(&mut *tx)
                        .await?;
                delivered += marked as usize;
            }
        } else {
            for chunk in ok.chunks(500) {
                let mut sql = Sql::for_tx(&tx);
                sql.push(
                    "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ",
                )
                .bind(now_ms())
                .push(", last_error = NULL WHERE tenant_id = ")
                .bind(tenant_id.as_str())
                .push(" AND status = 'pending' AND id IN (")
                .list(chunk.iter().map(|id| Val::from(*id)))
                .push(")");
                delivered += sql.execute(&mut tx).await? as usize;
            }
        }
        for ((owner, message), result) in pending.iter().zip(outcomes) {
            let Err(reason) = result else { continue };
            if owner != tenant_id {
                continue;
            }
            let attempt = message.attempts + 1;
            let dead = attempt >= MAX_ATTEMPTS;
            tracing::warn!(tenant = %tenant_id, id = %message.id, attempts = attempt, dead, reason = %reason, "outbox delivery failed");
            sqlx::query(
                "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, \
                 last_error = $4 WHERE tenant_id = $5 AND id = $6 AND status = 'pending'",
            )
            .bind(if dead { "dead" } else { "pending" })
            .bind(attempt)
            .bind(now_ms() + backoff_ms(message.attempts))
            .bind(reason)
            .bind(tenant_id)
            .bind(&message.id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Settled {
        delivered,
        lock_wait: locked - started,
        writing: locked.elapsed(),
    })
}

/// Most messages one relay pass delivers (one write transaction per pass). Under a launch-day
/// stream (two messages per order) passes of 100 fell behind: each pass waits its turn at the
/// SQLite write lock behind an order batch, so the pass size bounds what the relay moves.
const RELAY_BATCH: i64 = 1000;

/// Gives up the relay lease if `holder` holds it, so the next pass of any node takes it at once
/// instead of when it runs out. Called by a node stopping gracefully, after its relay stopped.
/// `true` when the lease was this holder's.
pub async fn release_relay(db: &Db, holder: &str) -> Result<bool, sqlx::Error> {
    let (writer, holder) = (db.clone(), holder.to_string());
    db.on_writers(async move {
        let mut tx = writer.relaxed_tx().await?;
        let released = sqlx::query(
            "UPDATE node_leases SET expires_at = 0 WHERE name = $1 AND holder = $2 \
             AND expires_at > 0",
        )
        .bind(RELAY_LEASE)
        .bind(&holder)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(released == 1)
    })
    .await
}

/// Runs this node's relay, holding the lease as `holder`, until the task is stopped.
pub async fn run_relay(db: Db, adapter: Arc<dyn Deliver>, poll: Duration, holder: String) {
    let relay = Relay::new(holder);
    loop {
        match relay.pass(&db, adapter.as_ref(), RELAY_BATCH).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay pass failed"),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);
    impl Deliver for Named {
        fn deliver(&self, _tenant_id: &str, _message: &OutboxEntry) -> Delivery {
            let name = self.0;
            Box::pin(async move { Err(name.to_string()) })
        }
    }

    fn message(kind: Kind) -> OutboxEntry {
        OutboxEntry {
            id: "m".into(),
            kind: kind.as_str().into(),
            name: "n".into(),
            recipient: None,
            subject_type: None,
            subject_id: None,
            payload: Value::Null,
            status: "pending".into(),
            attempts: 1,
            last_error: None,
            created_at: 0,
            delivered_at: None,
        }
    }

    #[tokio::test]
    async fn channels_route_by_kind_with_a_default() {
        let channels = Channels::new(Arc::new(Named("default")))
            .route(Kind::Sms, Arc::new(Named("first sms")))
            .route(Kind::Sms, Arc::new(Named("sms")));
        let to = |kind| channels.deliver("t", &message(kind));
        assert_eq!(to(Kind::Sms).await, Err("sms".to_string()));
        assert_eq!(to(Kind::Notify).await, Err("default".to_string()));
        assert_eq!(to(Kind::Event).await, Err("default".to_string()));
        let unconfigured = Unconfigured {
            reason: "no gateway".into(),
        };
        assert_eq!(
            unconfigured.deliver("t", &message(Kind::Sms)).await,
            Err("no gateway".to_string())
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(1), 2000);
        assert_eq!(backoff_ms(3), 8000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}

/// `GET /api/v1/events`: the feed of business events for integrators.
pub mod routes {
    use axum::extract::{Query, State};
    use axum::Json;
    use serde::{Deserialize, Serialize};
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    use super::OutboxEntry;
    use crate::authz::Resource;
    use crate::http::error::ApiResult;
    use crate::http::extract::Authz;
    use crate::state::AppState;

    pub fn router() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(list_events))
    }

    #[derive(Debug, Deserialize, utoipa::IntoParams)]
    #[serde(deny_unknown_fields)]
    pub struct EventQuery {
        /// The last event id the caller has seen (its `next` cursor); omit to start at the
        /// beginning.
        #[serde(default)]
        pub after: Option<String>,
        /// At most this many (1–500, default 100).
        #[serde(default)]
        pub limit: Option<i64>,
    }

    #[derive(Debug, Serialize, utoipa::ToSchema)]
    pub struct EventPage {
        pub events: Vec<OutboxEntry>,
        /// Pass as `after` for the next page; `null` when this page is empty.
        pub next: Option<String>,
    }

    #[utoipa::path(get, path = "/api/v1/events", tag = "workflows", security(("bearer" = [])),
        description = "Business events (`test_drive.approved` …) and workflow hook results, oldest first, for integrators to pull with a cursor.",
        params(EventQuery),
        responses((status = 200, body = EventPage), (status = 403, body = crate::http::error::Problem)))]
    async fn list_events(
        State(state): State<AppState>,
        authz: Authz,
        Query(q): Query<EventQuery>,
    ) -> ApiResult<Json<EventPage>> {
        authz.check(&Resource::Tenant)?;
        let limit = q.limit.unwrap_or(100).clamp(1, 500);
        let events = super::events_after(
            &state.db,
            &authz.actor.tenant.tenant.id,
            q.after.as_deref().unwrap_or(""),
            limit,
        )
        .await?;
        let next = events.last().map(|e| e.id.clone());
        Ok(Json(EventPage { events, next }))
    }
}
