//! The durable timer scheduler: every node runs one; each pass lists due timers of every tenant
//! and applies each in a tenant transaction that first claims it (`pending → fired`). Under
//! PostgreSQL the claim's row lock makes a second node's claim wait and then find nothing, so
//! a timer fires exactly once across nodes; under SQLite writes are serialised anyway. Timers
//! live in the database, so a restart loses none: a timer that fell due while no node ran fires
//! on the first pass after start.

use std::time::Duration;

use forecourt_workflow_engine as engine;
use sqlx::Row;

use super::{compiled, load_instance, persist_outcome, save, Acting};
use crate::http::error::ApiError;
use crate::outbox::scan_mode;
use crate::state::AppState;
use crate::store::now_ms;

/// What happened to one due timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// Applied: the instance moved or escalated.
    Applied,
    /// Its instance had left the timer's state (or ended): discarded.
    Stale,
    /// Another node claimed it first.
    Lost,
}

/// One pass: applies every timer due now. Returns how many this node applied.
pub async fn run_due(state: &AppState, node: &str) -> Result<usize, ApiError> {
    let now = now_ms();
    let db = &state.db;
    let mut tx = db.scan_tx().await?;
    scan_mode(db, &mut tx).await?;
    let due = sqlx::query(
        "SELECT tenant_id, instance_id, timer, epoch FROM workflow_timers \
         WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT 200",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut applied = 0;
    for row in due {
        let tenant_id: String = row.try_get("tenant_id")?;
        let instance_id: String = row.try_get("instance_id")?;
        let timer: String = row.try_get("timer")?;
        let epoch: i64 = row.try_get("epoch")?;
        match fire(state, node, &tenant_id, &instance_id, &timer, epoch).await {
            Ok(Fired::Applied) => applied += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(
                    tenant = %tenant_id, instance = %instance_id, timer = %timer,
                    error = %e, "timer could not be applied; retried in a minute"
                );
                postpone(state, &tenant_id, &instance_id, &timer, epoch).await;
            }
        }
    }
    Ok(applied)
}

/// How long a timer whose application failed (a hook script erring, the database busy) waits
/// before the next attempt.
pub const RETRY_MS: i64 = 60_000;

/// Moves a failed timer's due time on, so one broken timer is not retried on every pass.
async fn postpone(state: &AppState, tenant_id: &str, instance_id: &str, timer: &str, epoch: i64) {
    let result = async {
        let mut tx = state.db.tenant_tx(tenant_id).await?;
        sqlx::query(
            "UPDATE workflow_timers SET due_at = $1 WHERE tenant_id = $2 AND instance_id = $3 \
             AND timer = $4 AND epoch = $5 AND status = 'pending'",
        )
        .bind(now_ms() + RETRY_MS)
        .bind(tenant_id)
        .bind(instance_id)
        .bind(timer)
        .bind(epoch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(tenant = %tenant_id, error = %e, "could not postpone a failed timer");
    }
}

/// Claims and applies one timer in a single transaction.
pub async fn fire(
    state: &AppState,
    node: &str,
    tenant_id: &str,
    instance_id: &str,
    timer: &str,
    epoch: i64,
) -> Result<Fired, ApiError> {
    let Some(snapshot) = state.snapshots.get(&state.db, tenant_id).await? else {
        return Ok(Fired::Lost);
    };
    let now = now_ms();
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    // Lock order: the instance first, then its timer (as commands do: they lock the instance,
    // then cancel its timers), so a timer and a command on one instance never deadlock.
    let exists = sqlx::query(
        "UPDATE workflow_instances SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if exists != 1 {
        return Ok(Fired::Lost);
    }
    let claimed = sqlx::query(
        "UPDATE workflow_timers SET status = 'fired', fired_by = $1, fired_at = $2 \
         WHERE tenant_id = $3 AND instance_id = $4 AND timer = $5 AND epoch = $6 AND status = 'pending'",
    )
    .bind(node)
    .bind(now)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(timer)
    .bind(epoch)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Ok(Fired::Lost);
    }
    let mut stored = load_instance(&mut tx, tenant_id, instance_id).await?;
    let wf = compiled(
        state,
        &snapshot,
        &stored.workflow_id,
        stored.workflow_version,
    )
    .await?;
    let command = engine::Command::Timer {
        timer: timer.to_string(),
        epoch: epoch as u64,
    };
    let actor = Acting::system();
    match engine::step(&wf, &stored.instance, &command, &actor.engine, now) {
        Ok(outcome) => {
            save(&mut tx, tenant_id, &stored, &outcome.instance, now).await?;
            stored.instance = outcome.instance.clone();
            stored.instance =
                persist_outcome(&mut tx, state, &snapshot, &stored, &outcome, &actor, now).await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant_id, instance = %instance_id, timer = %timer, node = %node, "timer fired");
            Ok(Fired::Applied)
        }
        Err(e) => {
            // The instance moved on (or the timer's transition is refused): record why and
            // keep the claim, so it is not retried forever.
            sqlx::query(
                "UPDATE workflow_timers SET status = 'stale' WHERE tenant_id = $1 \
                 AND instance_id = $2 AND timer = $3 AND epoch = $4",
            )
            .bind(tenant_id)
            .bind(instance_id)
            .bind(timer)
            .bind(epoch)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(tenant = %tenant_id, instance = %instance_id, timer = %timer, code = e.code(), "timer discarded");
            Ok(Fired::Stale)
        }
    }
}

/// Runs the scheduler until the process ends.
pub async fn run(state: AppState, node: String, poll: Duration) {
    loop {
        if let Err(e) = run_due(&state, &node).await {
            tracing::warn!(error = %e, "timer scheduler pass failed");
        }
        tokio::time::sleep(poll).await;
    }
}
