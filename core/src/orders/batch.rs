//! The desk's set-based path: one tenant's share of a batch placed with a handful of
//! statements, whatever the number of orders.
//!
//! 1. Which idempotency keys are stored already: one statement per 500 keys.
//! 2. Vehicles: VIN orders name theirs; orders from a saved build take candidates of their
//!    build from the pick steps of [`stock::pick_condition`] (in stock at the selling store,
//!    then the network, in transit, in production, lapsed reservations), assigned in batch
//!    order in memory; then [`stock::reserve_many`] reserves them all (one statement on
//!    SQLite, one per chunk on PostgreSQL), re-checking that each is still free.
//! 3. The lifecycle starts are computed by the pure workflow engine; instances, history,
//!    timers, outbox messages, orders and keys are written with one multi-row `INSERT` per
//!    table.
//!
//! **Invariants**
//! - The result is what the per-order path would give for each order, or the order is left
//!   to that path (`None`): an order whose key is stored already or repeats an earlier key of
//!   the batch (so it replays the first answer), and an order whose candidate vehicle was taken
//!   by a concurrent writer.
//! - Anything unexpected — a start with a script hook, a refused start, a database error — is
//!   a [`Fallback`]: the caller rolls the whole transaction back and places the batch order by
//!   order. Nothing of this path outlives its transaction.
//! - A VIN is reserved for at most one order of the batch; the VIN orders' vehicles are never
//!   candidates for build orders of the same batch.

use std::collections::{BTreeMap, HashSet};

use super::desk::Answer;
use super::{
    buyer_acting, order_row, placed_order, settings, sold_out, start_spec, NewOrder, ORDER_INSERT,
    ORDER_WIDTH,
};
use crate::http::error::ApiResult;
use crate::idempotency::{self, Stored};
use crate::inventory::stock::{self, Hold, PICK_STEPS};
use crate::state::AppState;
use crate::store::rows::Rows;
use crate::store::TenantTx;
use crate::workflows::{self, Starts};

/// Why the set-based path gave up on a batch.
#[derive(Debug)]
pub enum Fallback {
    /// Something this path does not handle; the per-order path will.
    Plan(String),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for Fallback {
    fn from(e: sqlx::Error) -> Self {
        Fallback::Db(e)
    }
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::Plan(why) => f.write_str(why),
            Fallback::Db(e) => write!(f, "database: {e}"),
        }
    }
}

fn plan(e: impl std::fmt::Display) -> Fallback {
    Fallback::Plan(e.to_string())
}

/// Places `orders` — all of one tenant, in batch order — inside `tx`, starting lifecycle
/// version `version`. One answer per order: `Some` when decided here, `None` when the order
/// must take the per-order path (after this call, in the same transaction).
pub async fn place_group(
    tx: &mut TenantTx,
    state: &AppState,
    orders: &[&NewOrder],
    version: i64,
) -> Result<Vec<Option<ApiResult<Answer>>>, Fallback> {
    let Some(first) = orders.first() else {
        return Ok(Vec::new());
    };
    let snapshot = &first.snapshot;
    let tenant_id = snapshot.tenant.id.as_str();
    let settings = settings(snapshot).map_err(plan)?;
    let wf = workflows::compiled(state, snapshot, &settings.workflow, version)
        .await
        .map_err(plan)?;
    let n = orders.len();
    let clock = std::time::Instant::now();

    // 1. Keys seen before (stored, or earlier in this batch) go the per-order way.
    let keyed: Vec<(&str, &str)> = orders
        .iter()
        .filter_map(|o| o.key.as_deref().map(|k| (o.scope.as_str(), k)))
        .collect();
    let stored = idempotency::stored_keys(tx, tenant_id, &keyed).await?;
    let keys_at = clock.elapsed();
    let mut seen = HashSet::new();
    let single: Vec<bool> = orders
        .iter()
        .map(|o| match &o.key {
            Some(key) => {
                let k = (o.scope.clone(), key.clone());
                stored.contains(&k) || !seen.insert(k)
            }
            None => false,
        })
        .collect();

    // 2. Vehicles: which order wants which VIN.
    let mut picks: Vec<Option<String>> = vec![None; n];
    let mut taken: HashSet<String> = HashSet::new();
    for (i, o) in orders.iter().enumerate() {
        if let (false, Some(vin)) = (single[i], &o.vin) {
            // A later order for the same VIN finds it reserved: sold out.
            if taken.insert(vin.clone()) {
                picks[i] = Some(vin.clone());
            }
        }
    }
    let mut builds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in orders.iter().enumerate() {
        if !single[i] && o.vin.is_none() {
            builds.entry(o.build_key.as_str()).or_default().push(i);
        }
    }
    let now = orders.iter().map(|o| o.now).max().unwrap_or_default();
    for (build, members) in &builds {
        // Step 0 per selling store, then the network steps for whoever still waits.
        let mut by_store: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in members {
            by_store
                .entry(orders[i].store.as_str())
                .or_default()
                .push(i);
        }
        for (store, waiting) in by_store {
            let found = stock::candidates(
                tx,
                state.db.backend,
                tenant_id,
                build,
                0,
                store,
                now,
                waiting.len() + taken.len(),
            )
            .await?;
            assign(&waiting, found, &mut picks, &mut taken);
        }
        for step in 1..PICK_STEPS {
            let waiting: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| picks[i].is_none())
                .collect();
            if waiting.is_empty() {
                break;
            }
            let found = stock::candidates(
                tx,
                state.db.backend,
                tenant_id,
                build,
                step,
                "",
                now,
                waiting.len() + taken.len(),
            )
            .await?;
            assign(&waiting, found, &mut picks, &mut taken);
        }
    }
    let holds: Vec<Hold> = orders
        .iter()
        .zip(&picks)
        .filter_map(|(o, pick)| {
            pick.as_deref().map(|vin| Hold {
                vin,
                order_id: &o.id,
                until: o.reserved_until,
            })
        })
        .collect();
    let picked_at = clock.elapsed();
    let won = stock::reserve_many(tx, state.db.backend, tenant_id, &holds, now).await?;
    let reserved_at = clock.elapsed();

    // 3. Starts, orders and keys.
    let mut starts = Starts::default();
    let mut order_rows = Rows::new(ORDER_INSERT, ORDER_WIDTH, "");
    let mut key_rows = Rows::new(idempotency::INSERT, idempotency::WIDTH, "");
    let mut answers = Vec::with_capacity(n);
    for (i, order) in orders.iter().enumerate() {
        if single[i] {
            answers.push(None);
            continue;
        }
        let reserved = picks[i].as_ref().and_then(|vin| won.get(vin));
        if order.vin.is_none() && picks[i].is_some() && reserved.is_none() {
            // Its candidate went to a concurrent writer: look again, order by order.
            answers.push(None);
            continue;
        }
        let answer = if reserved.is_none() && (order.vin.is_some() || !settings.build_to_order) {
            Err(sold_out(order))
        } else {
            let vin = reserved.map(|r| r.vin.as_str());
            let fulfilling = reserved.map(|r| r.store.as_str());
            let actor = buyer_acting(order);
            let spec = start_spec(order, settings, vin, fulfilling, Some(version));
            let (instance, outcome) =
                workflows::begin(&wf, version, spec, &actor, order.now).map_err(plan)?;
            starts
                .push(tenant_id, &instance, &outcome, &actor, order.now)
                .map_err(plan)?;
            order_rows
                .push(order_row(order, vin, fulfilling, &instance.instance.state).map_err(plan)?);
            Ok(placed_order(
                state,
                order,
                vin,
                fulfilling,
                &instance.instance.state,
            ))
        };
        if let Some(key) = &order.key {
            let kept = match &answer {
                Ok(placed) => Stored {
                    status: 201,
                    body: serde_json::to_string(placed).map_err(plan)?,
                },
                Err(refused) => idempotency::stored_error(refused),
            };
            key_rows.push(idempotency::row(
                tenant_id,
                &order.scope,
                key,
                &order.fingerprint,
                &kept,
                order.now,
            ));
        }
        answers.push(Some(answer.map(|p| Answer::Placed(Box::new(p)))));
    }
    let computed_at = clock.elapsed();
    starts.write(tx).await?;
    order_rows.write(tx).await?;
    key_rows.write(tx).await?;
    tracing::debug!(
        orders = n,
        keys_us = keys_at.as_micros() as u64,
        pick_us = (picked_at - keys_at).as_micros() as u64,
        reserve_us = (reserved_at - picked_at).as_micros() as u64,
        compute_us = (computed_at - reserved_at).as_micros() as u64,
        write_us = (clock.elapsed() - computed_at).as_micros() as u64,
        "order group timing"
    );
    Ok(answers)
}

/// Gives the orders in `waiting` (in order) the VINs of `found` not taken yet.
fn assign(
    waiting: &[usize],
    found: Vec<String>,
    picks: &mut [Option<String>],
    taken: &mut HashSet<String>,
) {
    let free: Vec<String> = found
        .into_iter()
        .filter(|vin| !taken.contains(vin))
        .collect();
    for (&i, vin) in waiting.iter().zip(free) {
        taken.insert(vin.clone());
        picks[i] = Some(vin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_skips_taken_vehicles_and_keeps_batch_order() {
        let mut picks = vec![None, None, None];
        let mut taken: HashSet<String> = ["B".to_string()].into_iter().collect();
        assign(
            &[0, 2],
            vec!["A".into(), "B".into(), "C".into()],
            &mut picks,
            &mut taken,
        );
        assert_eq!(picks, vec![Some("A".into()), None, Some("C".into())]);
        assert!(taken.contains("A") && taken.contains("C"));
        // Nothing left: the waiting order keeps no pick.
        let mut more = vec![None];
        assign(&[0], vec!["A".into()], &mut more, &mut taken);
        assert_eq!(more, vec![None]);
    }

    #[test]
    fn fallback_names_its_cause() {
        assert_eq!(plan("a hook").to_string(), "a hook");
    }
}
