//! Order routes.
//!
//! Storefront: place an order (`POST /api/v1/public/orders`, `Idempotency-Key` required),
//! follow it by its tracking token, act on it as its buyer (`cancel`), pay for it (see
//! [`crate::payments`]).
//! Staff: orders of the stores in reach (`order.read`, buyer data masked without `pii.read`),
//! one order with its payments and history, and workflow commands (`order.manage`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use forecourt_workflow_engine as engine;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{desk::Answer, prepare, OrderRequest, OrderView, PlacedOrder, SUBJECT, VIEW_COLUMNS};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Authz, JsonBody};
use crate::idempotency::{fingerprint, IdempotencyKey};
use crate::state::AppState;
use crate::store::TenantTx;
use crate::tenancy::routes::PublicTenant;
use crate::test_drives::routes::CommandRequest;
use crate::workflows::{self, Acting, HistoryEntry};

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order))
        .routes(routes!(tracked_order))
        .routes(routes!(buyer_command))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(order_detail))
        .routes(routes!(staff_command))
}

#[utoipa::path(post, path = "/api/v1/public/orders", tag = "orders",
    description = "Places an order from a saved configuration (a matching vehicle is reserved) or for one vehicle by VIN, and starts the tenant's order workflow. A signed-in buyer's order is theirs (listed under /api/v1/public/buyer/orders). Needs an `Idempotency-Key`: a retry with the same key and body replays the first answer (`Idempotent-Replayed: true`); the same key with another body is refused. The vehicle stays reserved until `deposit_due`. The response's `tracking_token` is shown only here.",
    params(("Idempotency-Key" = String, Header, description = "A fresh unique key per intended order (e.g. a UUID)")),
    request_body = OrderRequest,
    responses((status = 201, body = PlacedOrder), (status = 400, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, description = "Sold out", body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem), (status = 503, body = crate::http::error::Problem)))]
async fn place_order(
    State(state): State<AppState>,
    tenant: PublicTenant,
    buyer: Option<crate::buyers::BuyerSession>,
    key: IdempotencyKey,
    JsonBody(req, bytes): JsonBody<OrderRequest>,
) -> ApiResult<Response> {
    let snapshot = tenant.0;
    let print = fingerprint("POST", "/api/v1/public/orders", &bytes);
    let buyer_id = buyer.map(|b| b.buyer_id);
    let scope = super::scope_of(buyer_id.as_deref());
    let order = match prepare(
        &state,
        snapshot.clone(),
        &req,
        buyer_id,
        Some(key.0.clone()),
        print.clone(),
    )
    .await
    {
        Ok(order) => order,
        Err(refused) => {
            // A retry is answered from its key even when the world changed since (the first
            // answer stands); a new request gets the refusal. A retry whose check passes is
            // recognised by the desk, which stores keys with their effect.
            let mut tx = state.db.tenant_tx(&snapshot.tenant.id).await?;
            let stored = crate::idempotency::lookup(
                &mut tx,
                &snapshot.tenant.id,
                &scope,
                &key.0,
                &print,
                crate::store::now_ms(),
            )
            .await?;
            tx.commit().await?;
            return match stored {
                Some(stored) => Ok(stored.replay()),
                None => Err(refused),
            };
        }
    };
    match state.orders.place(&state, order).await? {
        Answer::Placed(placed) => Ok((StatusCode::CREATED, Json(placed)).into_response()),
        Answer::Replay(stored) => Ok(stored.replay()),
    }
}

/// An order as its buyer sees it through the tracking link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrackedOrder {
    #[serde(flatten)]
    pub order: OrderView,
    /// The workflow instance version to send with a command.
    pub version: i64,
    /// What the buyer may do now (`cancel` …).
    pub actions: Vec<String>,
    /// What is left to pay now: the deposit while it is due, then the balance once the car
    /// is allocated (0 when nothing is due).
    pub amount_due: i64,
    pub payments: Vec<crate::payments::PaymentView>,
    /// Status changes, without staff names.
    pub history: Vec<crate::test_drives::routes::BuyerStep>,
}

#[derive(Debug, Deserialize)]
struct TokenParam {
    token: String,
}

fn not_found() -> ApiError {
    ApiError::NotFound("order (check the tracking link)".into())
}

/// The order id of a tracking token.
pub(crate) async fn order_id_by_token(
    tx: &mut TenantTx,
    tenant_id: &str,
    token: &str,
) -> ApiResult<String> {
    let Some(stored) = super::tracking_lookup(token) else {
        return Err(not_found());
    };
    let row = sqlx::query("SELECT id FROM orders WHERE tenant_id = $1 AND tracking_hash = $2")
        .bind(tenant_id)
        .bind(stored)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(not_found)?;
    Ok(row.try_get("id")?)
}

/// Loads one order's row with [`VIEW_COLUMNS`].
pub(crate) async fn order_row(
    tx: &mut TenantTx,
    tenant_id: &str,
    id: &str,
) -> ApiResult<sqlx::any::AnyRow> {
    sqlx::query(&format!(
        "SELECT {VIEW_COLUMNS} FROM orders o WHERE o.tenant_id = $1 AND o.id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("order `{id}`")))
}

pub(crate) fn buyer_actor(order_id: &str) -> Acting {
    Acting {
        engine: engine::Actor {
            id: format!("buyer:{order_id}"),
            roles: vec!["buyer".into()],
            relations: vec!["owner".into()],
        },
        name: "buyer".into(),
    }
}

/// What is due now on an order in `state`: the deposit before it is paid, the balance once the
/// vehicle is allocated.
pub fn amount_due(view: &OrderView, initial_state: bool) -> i64 {
    if view.deposit_due.is_some() && initial_state && view.paid < view.deposit {
        view.deposit - view.paid
    } else if view.state == "allocated" && view.paid < view.price {
        view.price - view.paid
    } else {
        0
    }
}

async fn tracked_view(
    state: &AppState,
    snapshot: &crate::tenancy::Snapshot,
    order_id: &str,
) -> ApiResult<TrackedOrder> {
    Ok(tracked(state, snapshot, order_id).await?.0)
}

/// The order as its buyer sees it, with its lifecycle's definition (for state titles).
pub(crate) async fn tracked(
    state: &AppState,
    snapshot: &crate::tenancy::Snapshot,
    order_id: &str,
) -> ApiResult<(TrackedOrder, std::sync::Arc<engine::Workflow>)> {
    let tenant_id = &snapshot.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = order_row(&mut tx, tenant_id, order_id).await?;
    let order = super::view_from_row(state, tenant_id, &row, false)?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, order_id).await?;
    let history = workflows::history(&mut tx, tenant_id, &stored.id).await?;
    let payments = crate::payments::for_order(&mut tx, tenant_id, order_id).await?;
    tx.commit().await?;
    let wf = workflows::compiled(
        state,
        snapshot,
        &stored.workflow_id,
        stored.workflow_version,
    )
    .await?;
    let initial = wf.initial().name == stored.instance.state;
    let view = TrackedOrder {
        amount_due: if stored.instance.ended {
            0
        } else {
            amount_due(&order, initial)
        },
        version: stored.instance.version as i64,
        actions: engine::available(&wf, &stored.instance, &buyer_actor(order_id).engine),
        payments,
        history: history
            .iter()
            .map(crate::test_drives::routes::BuyerStep::from_history)
            .collect(),
        order,
    };
    Ok((view, wf))
}

#[utoipa::path(get, path = "/api/v1/public/orders/{token}", tag = "orders",
    description = "The order behind a tracking link: state, vehicle, amounts, payments, history and what the buyer may do now. Personal data is masked (the link may be shared by mistake).",
    params(("token" = String, Path, description = "The order's tracking token")),
    responses((status = 200, body = TrackedOrder), (status = 404, body = crate::http::error::Problem)))]
async fn tracked_order(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(TokenParam { token }): Path<TokenParam>,
) -> ApiResult<Json<TrackedOrder>> {
    let s = &tenant.0;
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    let id = order_id_by_token(&mut tx, &s.tenant.id, &token).await?;
    tx.commit().await?;
    Ok(Json(tracked_view(&state, s, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/public/orders/{token}/commands", tag = "orders",
    description = "The buyer acts on their order (e.g. `cancel`), as the tenant's order workflow allows the `buyer` role.",
    params(("token" = String, Path, description = "The order's tracking token")),
    request_body = CommandRequest,
    responses((status = 200, body = TrackedOrder), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn buyer_command(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(TokenParam { token }): Path<TokenParam>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> ApiResult<Json<TrackedOrder>> {
    let s = &tenant.0;
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let id = order_id_by_token(&mut tx, tenant_id, &token).await?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, &id).await?;
    tx.commit().await?;
    let command = engine::Command::Fire {
        transition: req.transition,
        input: req
            .input
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
    };
    workflows::command(
        &state,
        s,
        &stored.id,
        req.version,
        &command,
        &buyer_actor(&id),
    )
    .await?;
    Ok(Json(tracked_view(&state, s, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Only orders sold or fulfilled by this store.
    pub store: Option<String>,
    /// Only orders in this workflow state.
    pub state: Option<String>,
    /// Only the order with this number, as a buyer reads it out: case, spaces and hyphens do
    /// not matter, and O reads as 0, I and L as 1.
    pub number: Option<String>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
    /// Orders created before this order id (the previous page's `next`).
    pub before: Option<String>,
}

/// One page of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The stores whose orders the caller may act on with the route's action; `None` = all.
fn stores_in_reach(authz: &Authz) -> Option<Vec<String>> {
    let doc = authz.actor.tenant.doc()?;
    if authz.allows(&Resource::Tenant) {
        return None;
    }
    Some(
        doc.org
            .stores
            .iter()
            .filter(|s| authz.allows(&Resource::Unit(s.code.clone())))
            .map(|s| s.code.clone())
            .collect(),
    )
}

fn may_see_pii(authz: &Authz, store: &str) -> bool {
    authz.policies().allows(
        &authz.actor.principal,
        "pii.read",
        &Resource::Unit(store.to_string()),
    )
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    description = "Orders sold or fulfilled by the stores the caller may read (`order.read`), newest first; `number` finds one order by the number a buyer reads out. Buyer data is masked unless the caller has `pii.read` on the order's store.",
    params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = 403, body = crate::http::error::Problem)))]
async fn list_orders(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<OrderQuery>,
) -> ApiResult<Json<OrderPage>> {
    let s = authz.actor.tenant.clone();
    let tenant_id = &s.tenant.id;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field(
            "invalid_limit",
            "limit",
            "limit is 1 to 500",
        ));
    }
    let number = match q.number.as_deref().map(super::order_number) {
        Some(Ok(n)) => Some(n),
        Some(Err(why)) => return Err(ApiError::field("invalid_number", "number", &why)),
        None => None,
    };
    let reach = stores_in_reach(&authz);
    let mut stores: Vec<String> = match (&reach, &q.store) {
        (None, None) => Vec::new(),
        (None, Some(one)) => vec![one.clone()],
        (Some(all), None) => all.clone(),
        (Some(all), Some(one)) => all.iter().filter(|c| *c == one).cloned().collect(),
    };
    if reach.is_some() && stores.is_empty() {
        if let Some(one) = &q.store {
            authz.check(&Resource::Unit(one.clone()))?;
        }
        return Ok(Json(OrderPage {
            orders: Vec::new(),
            next: None,
        }));
    }
    stores.sort();
    stores.dedup();
    // Placeholders only; every value is bound.
    let mut sql = format!("SELECT {VIEW_COLUMNS} FROM orders o WHERE o.tenant_id = $1");
    let mut n = 1;
    if !stores.is_empty() {
        let marks: Vec<String> = (0..stores.len())
            .map(|i| format!("${}", n + 1 + i))
            .collect();
        let list = marks.join(", ");
        sql.push_str(&format!(
            " AND (o.store_code IN ({list}) OR o.fulfilling_store IN ({list}))"
        ));
        n += stores.len();
    }
    if q.state.is_some() {
        n += 1;
        sql.push_str(&format!(" AND o.state = ${n}"));
    }
    if number.is_some() {
        n += 1;
        sql.push_str(&format!(" AND o.number = ${n}"));
    }
    if q.before.is_some() {
        n += 1;
        sql.push_str(&format!(" AND o.id < ${n}"));
    }
    n += 1;
    sql.push_str(&format!(" ORDER BY o.id DESC LIMIT ${n}"));
    let mut query = sqlx::query(&sql).bind(tenant_id);
    for store in &stores {
        query = query.bind(store);
    }
    if let Some(st) = &q.state {
        query = query.bind(st);
    }
    if let Some(number) = &number {
        query = query.bind(number);
    }
    if let Some(b) = &q.before {
        query = query.bind(b);
    }
    query = query.bind(limit + 1);
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        let store: String = row.try_get("store_code")?;
        let unmasked = may_see_pii(&authz, &store);
        orders.push(super::view_from_row(&state, tenant_id, row, unmasked)?);
    }
    let next = (rows.len() as i64 > limit)
        .then(|| orders.last().map(|o| o.id.clone()))
        .flatten();
    Ok(Json(OrderPage { orders, next }))
}

/// One order with its payments, history and what the caller may do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffOrder {
    #[serde(flatten)]
    pub order: OrderView,
    pub version: i64,
    pub actions: Vec<String>,
    pub payments: Vec<crate::payments::PaymentView>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Deserialize)]
struct IdParam {
    id: String,
}

/// Loads an order the caller may see with the route's action: 404 when the tenant has none,
/// 403 when neither its selling nor its fulfilling store is in reach.
async fn staff_order(
    state: &AppState,
    authz: &Authz,
    id: &str,
) -> ApiResult<(OrderView, crate::workflows::StoredInstance, StaffOrder)> {
    let s = &authz.actor.tenant;
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = order_row(&mut tx, tenant_id, id).await?;
    let store: String = row.try_get("store_code")?;
    let fulfilling: Option<String> = row.try_get("fulfilling_store")?;
    let in_reach = authz.allows(&Resource::Unit(store.clone()))
        || fulfilling
            .as_ref()
            .is_some_and(|f| authz.allows(&Resource::Unit(f.clone())));
    if !in_reach {
        authz.check(&Resource::Record {
            kind: "order",
            id: id.to_string(),
            unit: Some(store.clone()),
        })?;
    }
    let unmasked = may_see_pii(authz, &store);
    let order = super::view_from_row(state, tenant_id, &row, unmasked)?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, id).await?;
    let history = workflows::history(&mut tx, tenant_id, &stored.id).await?;
    let payments = crate::payments::for_order(&mut tx, tenant_id, id).await?;
    tx.commit().await?;
    let wf = workflows::compiled(state, s, &stored.workflow_id, stored.workflow_version).await?;
    let actor = workflows::staff(s, &authz.actor, Some(&store));
    Ok((
        order.clone(),
        stored.clone(),
        StaffOrder {
            version: stored.instance.version as i64,
            actions: engine::available(&wf, &stored.instance, &actor.engine),
            payments,
            history,
            order,
        },
    ))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    description = "One order (`order.read` on its selling or fulfilling store) with payments, workflow history and the caller's possible actions.",
    params(("id" = String, Path, description = "The order's id")),
    responses((status = 200, body = StaffOrder), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn order_detail(
    State(state): State<AppState>,
    authz: Authz,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<StaffOrder>> {
    Ok(Json(staff_order(&state, &authz, &id).await?.2))
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/commands", tag = "orders",
    description = "Fires a transition of the order's workflow as the caller (`order.manage` on its selling or fulfilling store; the workflow's `who` decides the rest). `version` is required: the instance version the caller saw.",
    params(("id" = String, Path, description = "The order's id")),
    request_body = CommandRequest,
    responses((status = 200, body = StaffOrder), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn staff_command(
    State(state): State<AppState>,
    authz: Authz,
    Path(IdParam { id }): Path<IdParam>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> ApiResult<Json<StaffOrder>> {
    let (order, stored, _) = staff_order(&state, &authz, &id).await?;
    let version = req.version.ok_or_else(|| {
        ApiError::field(
            "version_required",
            "/version",
            "send the instance version you saw (`version` of GET /api/v1/orders/{id})",
        )
    })?;
    let s = &authz.actor.tenant;
    let command = engine::Command::Fire {
        transition: req.transition,
        input: req
            .input
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
    };
    let actor = workflows::staff(s, &authz.actor, Some(&order.store));
    workflows::command(&state, s, &stored.id, Some(version), &command, &actor).await?;
    Ok(Json(staff_order(&state, &authz, &id).await?.2))
}
