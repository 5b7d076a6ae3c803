//! The order desk: writer tasks that commit orders in batches (group commit).
//!
//! Handlers validate, price and seal an order outside the writer, then hand it to the desk and
//! wait. A writer takes every order waiting in its queue (up to [`MAX_BATCH`]), places them in
//! **one** transaction — set-based ([`super::batch`]), with what that path leaves placed order by
//! order, each inside its own savepoint so one refused order does not undo the others — commits
//! once, and only then answers each handler. While a batch
//! commits, the next one gathers, so the cost of a durable commit (an fsync on SQLite with
//! `synchronous=FULL`, a WAL flush on PostgreSQL) is shared by every order in the batch.
//!
//! **Invariants**
//! - An order is acknowledged only after the transaction holding it committed; when a commit
//!   fails, every order of the batch is answered 503 and none of them exists.
//! - SQLite has one writer (it has one write lock anyway), on the thread of SQLite's background
//!   writers ([`crate::store::Db::spawn_writer`]); PostgreSQL has [`PG_WRITERS`], whose
//!   concurrent reservations are kept apart by the conditional updates in
//!   [`crate::inventory::stock`].
//! - All orders with the same idempotency key go to the same writer, so a duplicate in the same
//!   batch sees the first one's key and replays its answer.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{OnceLock, Weak};

use tokio::sync::{mpsc, oneshot};

use super::batch::{self, Fallback};
use super::{place_in, NewOrder, PlacedOrder};
use crate::http::error::{ApiError, ApiResult};
use crate::idempotency::{self, Stored};
use crate::state::{AppState, Inner};
use crate::store::{Backend, Db, TenantTx};

/// Most orders in one transaction.
pub const MAX_BATCH: usize = 512;
/// Writer tasks on PostgreSQL.
pub const PG_WRITERS: usize = 4;
/// Orders waiting per writer before new ones are refused with 503.
const QUEUE: usize = 8192;

/// What a handler gets back.
#[derive(Debug)]
pub enum Answer {
    /// The order was placed (and is durable).
    Placed(Box<PlacedOrder>),
    /// The key was used before with this request: its first response.
    Replay(Stored),
}

struct Job {
    order: NewOrder,
    reply: oneshot::Sender<ApiResult<Answer>>,
}

/// Hands orders to the writers. Lives in [`AppState`]; writers start on first use and stop
/// when the state is dropped.
pub struct OrderDesk {
    writers: usize,
    queues: OnceLock<Vec<mpsc::Sender<Job>>>,
}

impl OrderDesk {
    pub fn new(db: &Db) -> OrderDesk {
        OrderDesk {
            writers: match db.backend {
                Backend::Sqlite => 1,
                Backend::Postgres => PG_WRITERS,
            },
            queues: OnceLock::new(),
        }
    }

    /// Places `order` and waits until its batch committed.
    pub async fn place(&self, state: &AppState, order: NewOrder) -> ApiResult<Answer> {
        let queues = self.queues.get_or_init(|| {
            (0..self.writers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    // On SQLite, on the writers' thread (see `Db::spawn_writer`).
                    state
                        .db
                        .spawn_writer(writer(std::sync::Arc::downgrade(&state.0), rx));
                    tx
                })
                .collect()
        });
        let lane = match &order.key {
            Some(key) => {
                let mut h = DefaultHasher::new();
                (&order.snapshot.tenant.id, &order.scope, key).hash(&mut h);
                (h.finish() % queues.len() as u64) as usize
            }
            None => (order.now as usize) % queues.len(),
        };
        let (reply, answer) = oneshot::channel();
        queues[lane].try_send(Job { order, reply }).map_err(|_| {
            ApiError::Unavailable(
                "the order desk is at capacity; retry in a moment with the same Idempotency-Key"
                    .into(),
            )
        })?;
        answer.await.map_err(|_| {
            ApiError::Unavailable(
                "the order writer stopped before answering; retry with the same Idempotency-Key"
                    .into(),
            )
        })?
    }
}

/// The version of the tenant's order workflow new orders start on, memoised per batch.
async fn lifecycle_version(
    tx: &mut TenantTx,
    order: &NewOrder,
    versions: &mut HashMap<(String, String), i64>,
) -> ApiResult<i64> {
    let settings = super::settings(&order.snapshot)?;
    let key = (order.snapshot.tenant.id.clone(), settings.workflow.clone());
    if let Some(v) = versions.get(&key) {
        return Ok(*v);
    }
    let v = crate::workflows::current_version(tx, &key.0, &key.1).await?;
    versions.insert(key, v);
    Ok(v)
}

async fn writer(state: Weak<Inner>, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(inner) = state.upgrade() else { break };
        let state = AppState(inner);
        commit_batch(&state, &mut batch).await;
        batch.clear();
    }
}

/// Places every job of `batch` in one transaction, then answers them all: set-based first
/// ([`super::batch`]); when that path gives up, the transaction is rolled back and the batch
/// placed order by order.
async fn commit_batch(state: &AppState, batch: &mut Vec<Job>) {
    let outcome = match place_all(state, batch, true).await {
        Err(Fallback::Plan(why)) => {
            tracing::debug!(%why, orders = batch.len(), "order batch placed order by order");
            place_all(state, batch, false).await
        }
        Err(Fallback::Db(e)) => {
            tracing::warn!(error = %e, orders = batch.len(), "set-based order batch failed; placing order by order");
            place_all(state, batch, false).await
        }
        done => done,
    };
    match outcome {
        Ok(answers) => {
            for (job, answer) in batch.drain(..).zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, orders = batch.len(), "order batch failed to commit");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(ApiError::Unavailable(
                    "the order could not be saved; nothing was reserved or charged. Retry with the same Idempotency-Key"
                        .into(),
                )));
            }
        }
    }
}

/// One transaction for the whole batch, tenant by tenant; `set_based` tries
/// [`batch::place_group`] first and places only what it leaves order by order.
async fn place_all(
    state: &AppState,
    batch: &[Job],
    set_based: bool,
) -> Result<Vec<ApiResult<Answer>>, Fallback> {
    let started = std::time::Instant::now();
    let mut tx = state.db.batch_tx().await?;
    let began = started.elapsed();
    let mut answers: Vec<Option<ApiResult<Answer>>> = batch.iter().map(|_| None).collect();
    // The batch's tenants, in order of first appearance, with their jobs in batch order.
    let mut tenants: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, job) in batch.iter().enumerate() {
        let id = job.order.snapshot.tenant.id.as_str();
        match tenants.iter_mut().find(|(t, _)| *t == id) {
            Some((_, jobs)) => jobs.push(i),
            None => tenants.push((id, vec![i])),
        }
    }
    // The lifecycle version new orders start on, looked up once per tenant and batch.
    let mut versions: HashMap<(String, String), i64> = HashMap::new();
    for (tenant_id, jobs) in &tenants {
        state.db.set_tenant(&mut tx, tenant_id).await?;
        if set_based {
            let first = &batch[jobs[0]].order;
            let version = lifecycle_version(&mut tx, first, &mut versions)
                .await
                .map_err(|e| Fallback::Plan(e.to_string()))?;
            let orders: Vec<&NewOrder> = jobs.iter().map(|&i| &batch[i].order).collect();
            let placed = batch::place_group(&mut tx, state, &orders, version).await?;
            for (&i, answer) in jobs.iter().zip(placed) {
                answers[i] = answer;
            }
        }
        for &i in jobs {
            if answers[i].is_none() {
                answers[i] = Some(place_one(&mut tx, state, &batch[i].order, &mut versions).await?);
            }
        }
    }
    let placed = started.elapsed();
    tx.commit().await?;
    tracing::debug!(
        orders = batch.len(),
        set_based,
        begin_us = began.as_micros() as u64,
        place_us = (placed - began).as_micros() as u64,
        commit_us = (started.elapsed() - placed).as_micros() as u64,
        "order batch timing"
    );
    Ok(answers.into_iter().flatten().collect())
}

/// One order inside the batch's transaction, in its own savepoint. The outer `Err` is a
/// database failure that dooms the batch; the inner result is this order's answer.
///
/// A retry of a committed key, or a duplicate still in flight (in this batch, or committed by
/// another node meanwhile), is found when its key cannot be stored: its work is rolled back to
/// the savepoint and the first answer replayed.
async fn place_one(
    tx: &mut TenantTx,
    state: &AppState,
    order: &NewOrder,
    versions: &mut HashMap<(String, String), i64>,
) -> Result<ApiResult<Answer>, sqlx::Error> {
    let tenant_id = &order.snapshot.tenant.id;
    let version = match lifecycle_version(tx, order, versions).await {
        Ok(v) => v,
        Err(ApiError::Internal(cause)) => return Err(sqlx::Error::Protocol(cause)),
        Err(refused) => return Ok(Err(refused)),
    };
    sqlx::query("SAVEPOINT fc_order").execute(&mut **tx).await?;
    let placed = place_in(tx, state, order, Some(version)).await;
    let stored = match &placed {
        Ok(p) => Stored {
            status: 201,
            body: serde_json::to_string(p).unwrap_or_default(),
        },
        Err(ApiError::Internal(cause)) => {
            // This order failed unexpectedly; the others of the batch go on.
            tracing::error!(%cause, "placing an order failed");
            sqlx::query("ROLLBACK TO SAVEPOINT fc_order")
                .execute(&mut **tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT fc_order")
                .execute(&mut **tx)
                .await?;
            return Ok(Err(ApiError::Unavailable(
                "the order could not be placed; nothing was reserved. Retry with the same Idempotency-Key"
                    .into(),
            )));
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT fc_order")
                .execute(&mut **tx)
                .await?;
            if !idempotency::keeps(e.status()) {
                sqlx::query("RELEASE SAVEPOINT fc_order")
                    .execute(&mut **tx)
                    .await?;
                return Ok(placed.map(|p| Answer::Placed(Box::new(p))));
            }
            idempotency::stored_error(e)
        }
    };
    if let Some(key) = &order.key {
        let first = idempotency::remember(
            tx,
            tenant_id,
            &order.scope,
            key,
            &order.fingerprint,
            &stored,
            order.now,
        )
        .await?;
        if !first {
            // Another writer (another node) committed this key first: undo ours, replay theirs.
            sqlx::query("ROLLBACK TO SAVEPOINT fc_order")
                .execute(&mut **tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT fc_order")
                .execute(&mut **tx)
                .await?;
            return Ok(
                match idempotency::lookup(
                    tx,
                    tenant_id,
                    &order.scope,
                    key,
                    &order.fingerprint,
                    order.now,
                )
                .await
                {
                    Ok(Some(stored)) => Ok(Answer::Replay(stored)),
                    Ok(None) => Err(ApiError::Conflict {
                        code: "idempotency_key_in_use",
                        detail: format!(
                            "another request with Idempotency-Key `{key}` is in progress; retry shortly"
                        ),
                    }),
                    Err(e) => Err(e),
                },
            );
        }
    }
    sqlx::query("RELEASE SAVEPOINT fc_order")
        .execute(&mut **tx)
        .await?;
    Ok(placed.map(|p| Answer::Placed(Box::new(p))))
}
