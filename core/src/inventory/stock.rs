//! Stock as orders use it: a vehicle's status, the build key orders match on, and atomic
//! reservation of one vehicle for one order.
//!
//! **Invariants**
//! - A vehicle is promised to at most one order: every change of `hold` is one conditional
//!   `UPDATE` whose `WHERE` re-checks that the vehicle is still free (or its reservation has
//!   lapsed), so concurrent buyers — in one batch, on many connections or on many nodes — can
//!   never both get it. On PostgreSQL a re-checked row that another transaction took first no
//!   longer matches, and `FOR UPDATE SKIP LOCKED` lets concurrent buyers pick different units.
//! - A reservation carries an expiry; once it has passed, the vehicle counts as free for the
//!   next buyer even before the sweeper has cancelled the lapsed order.

use std::collections::HashMap;

use sqlx::Row;

use crate::store::rows::{json_list, shapes, Sql, STATEMENT_ROWS};

use crate::store::{Backend, TenantTx};

/// Where a vehicle is, in order: built, shipped, at the store, handed over.
pub const STAGES: [&str; 4] = ["in_production", "in_transit", "in_stock", "delivered"];

/// The status staff and buyers see: `delivered`, else `sold` or `reserved` when promised to an
/// order, else the stage.
pub fn status<'a>(stage: &'a str, hold: &'a str) -> &'a str {
    match (stage, hold) {
        ("delivered", _) => "delivered",
        (_, "sold") => "sold",
        (_, "reserved") => "reserved",
        (stage, _) => stage,
    }
}

/// `model/trim/opt+opt+…` with the options sorted and deduplicated: equal builds, equal keys.
pub fn build_key(model: &str, trim: &str, options: &[String]) -> String {
    let mut options: Vec<&str> = options.iter().map(String::as_str).collect();
    options.sort_unstable();
    options.dedup();
    format!("{model}/{trim}/{}", options.join("+"))
}

/// A vehicle just reserved for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub vin: String,
    pub store: String,
    pub build_key: String,
}

/// The condition "free, or its reservation lapsed before `$now`" with `$now` bound at `n`.
fn free_at(n: usize) -> String {
    format!("{FREE_BEFORE}${n}{FREE_AFTER}")
}

/// [`free_at`] around the placeholder of "now".
const FREE_BEFORE: &str =
    "stage <> 'delivered' AND (hold = 'free' OR (hold = 'reserved' AND reserved_until < ";
const FREE_AFTER: &str = "))";

/// "The vehicle `$3` (an order id) holds in tenant `$2`": found through the order's VIN, so each
/// statement below reads the order and the vehicle by their keys. Vehicles have no index on
/// `order_id` (it would cost every reservation one more index entry); the order's `vin` always
/// names the vehicle it holds or held, and `order_id` re-checks that it still holds it.
pub const HELD_BY_ORDER: &str = "tenant_id = $2 \
     AND vin = (SELECT o.vin FROM orders o WHERE o.tenant_id = $2 AND o.id = $3) \
     AND order_id = $3";

/// Reserves vehicle `vin` for `order_id` until `until`; `None` when it is not free (taken,
/// sold, delivered) or unknown.
pub async fn reserve_vin(
    tx: &mut TenantTx,
    tenant_id: &str,
    vin: &str,
    order_id: &str,
    until: i64,
    now: i64,
) -> Result<Option<Reserved>, sqlx::Error> {
    let sql = format!(
        "UPDATE vehicles SET hold = 'reserved', order_id = $1, reserved_until = $2, \
         updated_at = $3, version = version + 1 \
         WHERE tenant_id = $4 AND vin = $5 AND {} RETURNING vin, store_code, build_key",
        free_at(3)
    );
    let row = sqlx::query(&sql)
        .bind(order_id)
        .bind(until)
        .bind(now)
        .bind(tenant_id)
        .bind(vin)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| reserved(&r)).transpose()
}

/// Reserves one free vehicle of `build_key` for `order_id` until `until`: in stock first (at
/// `prefer_store` before other stores), then in transit, then in production, earliest arrival
/// first; then a vehicle whose reservation lapsed. `None` when none is free.
///
/// Each step is one indexed probe (`vehicles_pick`: tenant and build, hold, stage, arrival, VIN),
/// so the cost does not grow with the stock of the build.
#[allow(clippy::too_many_arguments)]
pub async fn reserve_matching(
    tx: &mut TenantTx,
    backend: Backend,
    tenant_id: &str,
    build_key: &str,
    prefer_store: &str,
    order_id: &str,
    until: i64,
    now: i64,
) -> Result<Option<Reserved>, sqlx::Error> {
    let lock = pick_lock(backend);
    for step in 0..PICK_STEPS {
        let sql = format!(
            "UPDATE vehicles SET hold = 'reserved', order_id = $1, reserved_until = $2, \
             updated_at = $3, version = version + 1 \
             WHERE tenant_id = $4 AND {free} AND vin = (\
               SELECT vin FROM vehicles WHERE tenant_id = $4 AND build_key = $5 AND {which} \
               ORDER BY arrival_date, vin LIMIT 1{lock}) \
             RETURNING vin, store_code, build_key",
            free = free_at(3),
            which = pick_condition(step, 6, 3),
        );
        let mut query = sqlx::query(&sql)
            .bind(order_id)
            .bind(until)
            .bind(now)
            .bind(tenant_id)
            .bind(build_key);
        if step == 0 {
            query = query.bind(prefer_store);
        }
        if let Some(row) = query.fetch_optional(&mut **tx).await? {
            return reserved(&row).map(Some);
        }
    }
    Ok(None)
}

/// How many places a matching vehicle is looked for, in order (see [`pick_condition`]).
pub const PICK_STEPS: usize = 5;

/// Where pick step `step` looks (each an index range of `vehicles_pick`, taken in
/// `arrival_date, vin` order): 0 in stock at the selling store (`$store_at`), 1 in stock
/// anywhere in the network, 2 in transit, 3 in production, 4 a reservation that lapsed before
/// `$now_at`.
pub fn pick_condition(step: usize, store_at: usize, now_at: usize) -> String {
    match step {
        0 => format!("hold = 'free' AND stage = 'in_stock' AND store_code = ${store_at}"),
        1 => "hold = 'free' AND stage = 'in_stock'".into(),
        2 => "hold = 'free' AND stage = 'in_transit'".into(),
        3 => "hold = 'free' AND stage = 'in_production'".into(),
        _ => format!("hold = 'reserved' AND reserved_until < ${now_at} AND stage <> 'delivered'"),
    }
}

/// On PostgreSQL a picked vehicle is locked, and one locked by a concurrent writer skipped.
fn pick_lock(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

/// Up to `limit` VINs of `build_key` where pick step `step` looks (store `store` for step 0,
/// lapsed before `now` for step 4), in pick order; on PostgreSQL they stay locked for this
/// transaction. Nothing is reserved yet: [`reserve_many`] does that.
#[allow(clippy::too_many_arguments)]
pub async fn candidates(
    tx: &mut TenantTx,
    backend: Backend,
    tenant_id: &str,
    build_key: &str,
    step: usize,
    store: &str,
    now: i64,
    limit: usize,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "SELECT vin FROM vehicles WHERE tenant_id = $1 AND build_key = $2 AND {which} \
         ORDER BY arrival_date, vin LIMIT $3{lock}",
        which = pick_condition(step, 4, 4),
        lock = pick_lock(backend),
    );
    let mut query = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(build_key)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
    match step {
        0 => query = query.bind(store),
        4 => query = query.bind(now),
        _ => {}
    }
    query
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get("vin"))
        .collect()
}

/// One vehicle to reserve for one order.
#[derive(Debug, Clone)]
pub struct Hold<'a> {
    pub vin: &'a str,
    pub order_id: &'a str,
    pub until: i64,
}

/// Reserves many vehicles at once, each for its order and only where it is still free (or its
/// reservation lapsed before `now`): the same rule as [`reserve_vin`]. Returns the vehicles
/// reserved, by VIN; a VIN missing was not free. The VINs must be distinct.
///
/// SQLite: two statements whatever the number ([`reserve_listed`]); PostgreSQL: one statement
/// per chunk of a few fixed sizes.
pub async fn reserve_many(
    tx: &mut TenantTx,
    backend: Backend,
    tenant_id: &str,
    holds: &[Hold<'_>],
    now: i64,
) -> Result<HashMap<String, Reserved>, sqlx::Error> {
    if holds.is_empty() {
        return Ok(HashMap::new());
    }
    if backend == Backend::Sqlite {
        return reserve_listed(tx, tenant_id, holds, now).await;
    }
    let mut out = HashMap::with_capacity(holds.len());
    // Statements of a few fixed sizes, prepared once per connection (see `store::rows`).
    let mut rest = holds;
    for size in shapes(holds.len(), STATEMENT_ROWS) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        // `vin IN (…)` and a CASE per column: every backend finds the rows by the key index
        // (a join with a VALUES list can make PostgreSQL scan the table).
        let mut sql = Sql::for_tx(tx);
        sql.push("UPDATE vehicles SET hold = 'reserved', order_id = CASE vin");
        for h in chunk {
            sql.push(" WHEN ")
                .bind(h.vin)
                .push(" THEN ")
                .bind(h.order_id);
        }
        sql.push(" END, reserved_until = CASE vin");
        for h in chunk {
            sql.push(" WHEN ").bind(h.vin).push(" THEN ").bind(h.until);
        }
        sql.push(" END, updated_at = ")
            .bind(now)
            .push(", version = version + 1 WHERE tenant_id = ")
            .bind(tenant_id)
            .push(" AND vin IN (")
            .list(chunk.iter().map(|h| h.vin.into()))
            .push(") AND ")
            .push(FREE_BEFORE)
            .bind(now)
            .push(FREE_AFTER)
            .push(" RETURNING vin, store_code, build_key");
        for row in sql.fetch_all(tx).await? {
            let r = reserved(&row)?;
            out.insert(r.vin.clone(), r);
        }
    }
    Ok(out)
}

/// SQLite's [`reserve_many`]: the holds go in as one JSON list, so the reservation is one
/// statement of fixed text (prepared once) for any number of vehicles, and what was won comes
/// back as one row. SQLite's connection runs on a thread of its own and hands every result row
/// across to the caller one by one: a 127-row `RETURNING` cost the single order writer about
/// 20 µs a row in hand-offs on a busy machine, more than the update itself.
///
/// A vehicle is won when it now holds the order it was asked for: order ids are new, and the
/// caller holds SQLite's write lock, so only this statement can have set them.
async fn reserve_listed(
    tx: &mut TenantTx,
    tenant_id: &str,
    holds: &[Hold<'_>],
    now: i64,
) -> Result<HashMap<String, Reserved>, sqlx::Error> {
    let list = json_list(
        &holds
            .iter()
            .map(|h| (h.vin, h.order_id, h.until))
            .collect::<Vec<_>>(),
    )?;
    // Materialised, so the list drives the loop and each vehicle is found by its key (left to
    // the planner, it scanned the tenant's vehicles for each listed one).
    sqlx::query(&format!(
        "WITH held AS MATERIALIZED (SELECT value->>0 AS held_vin, value->>1 AS held_order, \
         value->>2 AS held_until FROM json_each($1)) \
         UPDATE vehicles SET hold = 'reserved', order_id = held.held_order, \
         reserved_until = held.held_until, updated_at = $2, version = version + 1 FROM held \
         WHERE vehicles.tenant_id = $3 AND vehicles.vin = held.held_vin AND {}",
        free_at(2)
    ))
    .bind(&list)
    .bind(now)
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    let found: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(vin, store_code, build_key, order_id)) \
         FROM vehicles WHERE tenant_id = $1 AND vin IN (SELECT value->>0 FROM json_each($2))",
    )
    .bind(tenant_id)
    .bind(&list)
    .fetch_one(&mut **tx)
    .await?;
    let found: Vec<(String, String, String, Option<String>)> =
        serde_json::from_str(found.as_deref().unwrap_or("[]"))
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let asked: HashMap<&str, &str> = holds.iter().map(|h| (h.vin, h.order_id)).collect();
    Ok(found
        .into_iter()
        .filter(|(vin, _, _, order)| {
            matches!((asked.get(vin.as_str()), order), (Some(asked), Some(held)) if asked == held)
        })
        .map(|(vin, store, build_key, _)| {
            (
                vin.clone(),
                Reserved {
                    vin,
                    store,
                    build_key,
                },
            )
        })
        .collect())
}

fn reserved(row: &sqlx::any::AnyRow) -> Result<Reserved, sqlx::Error> {
    Ok(Reserved {
        vin: row.try_get("vin")?,
        store: row.try_get("store_code")?,
        build_key: row.try_get("build_key")?,
    })
}

/// Makes the reservation of `order_id` firm (no expiry) if it still holds at `now`; false when
/// it lapsed and the vehicle went to someone else (or was never reserved).
pub async fn confirm(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE vehicles SET reserved_until = NULL, updated_at = $1, version = version + 1 \
         WHERE {HELD_BY_ORDER} AND hold = 'reserved' \
         AND (reserved_until IS NULL OR reserved_until >= $1)"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Marks the vehicle held for `order_id` as sold to it; false when the order holds none.
pub async fn sell(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE vehicles SET hold = 'sold', reserved_until = NULL, updated_at = $1, \
         version = version + 1 WHERE {HELD_BY_ORDER} AND hold <> 'free'"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Marks the vehicle sold to `order_id` as handed over.
pub async fn deliver(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE vehicles SET stage = 'delivered', hold = 'sold', reserved_until = NULL, \
         updated_at = $1, version = version + 1 WHERE {HELD_BY_ORDER}"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Frees whatever vehicle `order_id` holds (cancelled or lapsed order); returns how many.
pub async fn release(
    tx: &mut TenantTx,
    tenant_id: &str,
    order_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(&format!(
        "UPDATE vehicles SET hold = 'free', order_id = NULL, reserved_until = NULL, \
         updated_at = $1, version = version + 1 \
         WHERE {HELD_BY_ORDER} AND stage <> 'delivered'"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_keys_ignore_option_order_and_repeats() {
        let a = build_key("s7", "s7-pro", &["red".into(), "tow".into(), "red".into()]);
        let b = build_key("s7", "s7-pro", &["tow".into(), "red".into()]);
        assert_eq!(a, b);
        assert_eq!(a, "s7/s7-pro/red+tow");
        assert_eq!(build_key("s7", "s7-pro", &[]), "s7/s7-pro/");
    }

    #[test]
    fn status_combines_stage_and_hold() {
        assert_eq!(status("in_transit", "free"), "in_transit");
        assert_eq!(status("in_stock", "reserved"), "reserved");
        assert_eq!(status("in_stock", "sold"), "sold");
        assert_eq!(status("delivered", "sold"), "delivered");
    }
}
