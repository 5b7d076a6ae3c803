//! Stock routes for staff and integrators: the stock list and one vehicle (limited to the
//! stores where the caller holds `vehicle.read`), CSV import and DMS sync (`vehicle.import`,
//! optionally with an `Idempotency-Key`).
//!
//! **Invariants**
//! - A caller sees only vehicles of stores where a Cedar decision grants them `vehicle.read`
//!   (the vehicle as a record of its store); the list filters by that store set in SQL, with
//!   every value bound, so paging and counts cover exactly what the caller may see.
//! - An unknown VIN is 404 (whatever the caller's scope); a known one out of scope is 403.

use crate::store::rows::placeholders;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{self, Counts, Upload};
use super::vin::Vin;
use super::{stock, VehicleRow, VehicleView, RECORD_KIND, STATUSES, VEHICLE_COLUMNS};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{body_bytes, media_type, Authz};
use crate::idempotency::{self, Begun, IdempotencyKey};
use crate::state::AppState;
use crate::store::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vehicles))
        .routes(routes!(get_vehicle))
        .routes(routes!(import_csv))
        .routes(routes!(sync_vehicles))
}

/// The most vehicles one page holds.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VehicleQuery {
    /// Only this store (403 when the caller may not read its stock).
    #[serde(default)]
    pub store: Option<String>,
    /// Only stores of this region.
    #[serde(default)]
    pub region: Option<String>,
    /// Only this status: `in_production`, `in_transit`, `in_stock`, `reserved`, `sold`,
    /// `delivered`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub trim: Option<String>,
    /// `model/trim/opt+opt+…` (options sorted).
    #[serde(default)]
    pub build_key: Option<String>,
    /// Page size, 1–500 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The last VIN of the previous page (the response's `next`).
    #[serde(default)]
    pub after: Option<String>,
}

/// How many vehicles the caller may see have each status (with every filter but `status`
/// and paging applied).
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub in_production: i64,
    pub in_transit: i64,
    pub in_stock: i64,
    pub reserved: i64,
    pub sold: i64,
    pub delivered: i64,
    pub total: i64,
}

impl StatusCounts {
    fn add(&mut self, status: &str, n: i64) {
        match status {
            "in_production" => self.in_production += n,
            "in_transit" => self.in_transit += n,
            "in_stock" => self.in_stock += n,
            "reserved" => self.reserved += n,
            "sold" => self.sold += n,
            "delivered" => self.delivered += n,
            _ => {}
        }
        self.total += n;
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VehicleList {
    /// In VIN order.
    pub vehicles: Vec<VehicleView>,
    pub counts: StatusCounts,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

fn vehicle_record(vin: &str, store: &str) -> Resource {
    Resource::Record {
        kind: RECORD_KIND,
        id: vin.to_string(),
        unit: Some(store.to_string()),
    }
}

/// The stores whose stock the caller may read (or import into: the route's action decides),
/// in the bundle's order: one decision per store, the resource being any vehicle of it.
fn stores_in_scope(authz: &Authz) -> Vec<String> {
    authz
        .actor
        .tenant
        .doc()
        .map(|d| d.org.stores.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|st| authz.allows(&vehicle_record("*", &st.code)))
        .map(|st| st.code.clone())
        .collect()
}

/// A `WHERE` clause over `vehicles` and its bound values (all text; `$1` is the tenant).
#[derive(Clone)]
struct Filter {
    sql: String,
    values: Vec<String>,
}

impl Filter {
    fn new(tenant_id: &str, stores: &[String]) -> Filter {
        let mut values = vec![tenant_id.to_string()];
        values.extend(stores.iter().cloned());
        Filter {
            sql: format!(
                "tenant_id = $1 AND store_code IN ({})",
                placeholders(2, stores.len())
            ),
            values,
        }
    }

    /// Adds `AND {column} = $n` binding `value`; `column` is a constant of this module.
    fn equals(&mut self, column: &'static str, value: &str) {
        self.values.push(value.to_string());
        self.sql
            .push_str(&format!(" AND {column} = ${}", self.values.len()));
    }

    /// Adds the condition for one combined status (see [`stock::status`]).
    fn status(&mut self, status: &str) {
        match status {
            "delivered" => self.sql.push_str(" AND stage = 'delivered'"),
            "sold" => self
                .sql
                .push_str(" AND stage <> 'delivered' AND hold = 'sold'"),
            "reserved" => self
                .sql
                .push_str(" AND stage <> 'delivered' AND hold = 'reserved'"),
            stage => {
                self.equals("stage", stage);
                self.sql.push_str(" AND hold = 'free'");
            }
        }
    }

    fn query<'q>(
        &'q self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query(sql);
        for v in &self.values {
            q = q.bind(v.as_str());
        }
        q
    }
}

fn bad_query(code: &'static str, parameter: &str, message: String) -> ApiError {
    ApiError::field(code, parameter, message)
}

#[utoipa::path(get, path = "/api/v1/vehicles", tag = "inventory", security(("bearer" = [])),
    description = "Vehicle stock of the stores where the caller may read it (`vehicle.read`: a sales consultant their store, a stock manager at a level-A store the whole network, at a level-B store their region …), in VIN order, with counts by status of everything the caller may see under the same filters.",
    params(VehicleQuery),
    responses((status = 200, body = VehicleList), (status = 401, body = crate::http::error::Problem), (status = 403, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn list_vehicles(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<VehicleQuery>,
) -> ApiResult<Json<VehicleList>> {
    let s = authz.actor.tenant.clone();
    let tenant_id = s.tenant.id.clone();
    let stores = s.doc().map(|d| d.org.stores.as_slice()).unwrap_or_default();
    if let Some(status) = &q.status {
        if !STATUSES.contains(&status.as_str()) {
            return Err(bad_query(
                "invalid_status",
                "status",
                format!(
                    "`{status}` is not a status; use one of {}",
                    STATUSES.join(", ")
                ),
            ));
        }
    }
    if let Some(store) = &q.store {
        if !stores.iter().any(|st| &st.code == store) {
            return Err(bad_query(
                "unknown_store",
                "store",
                format!("`{store}` is not a store of this tenant"),
            ));
        }
    }
    if let Some(region) = &q.region {
        if s.doc().and_then(|d| d.org.region(region)).is_none() {
            return Err(bad_query(
                "unknown_region",
                "region",
                format!("`{region}` is not a region of this tenant"),
            ));
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            "limit",
            format!("a page holds 1 to {MAX_PAGE} vehicles"),
        ));
    }
    let readable = stores_in_scope(&authz);
    if readable.is_empty() && !stores.is_empty() {
        // Not a single store: the standard refusal, naming the action.
        authz.check(&Resource::Tenant)?;
    }
    if let Some(store) = &q.store {
        if !readable.contains(store) {
            return Err(ApiError::Forbidden {
                action: authz.action.to_string(),
                detail: format!(
                    "You may not {} here: none of your roles grants it on the stock of store {store}. A tenant admin can see why with GET /api/v1/authz/explain.",
                    authz.action
                ),
            });
        }
    }
    let in_filter: Vec<String> = stores
        .iter()
        .filter(|st| q.store.as_ref().is_none_or(|c| &st.code == c))
        .filter(|st| q.region.as_ref().is_none_or(|r| &st.region == r))
        .filter(|st| readable.contains(&st.code))
        .map(|st| st.code.clone())
        .collect();
    if in_filter.is_empty() {
        return Ok(Json(VehicleList {
            vehicles: Vec::new(),
            counts: StatusCounts::default(),
            next: None,
        }));
    }

    let mut filter = Filter::new(&tenant_id, &in_filter);
    if let Some(m) = &q.model {
        filter.equals("model_code", m);
    }
    if let Some(t) = &q.trim {
        filter.equals("trim_code", t);
    }
    if let Some(k) = &q.build_key {
        filter.equals("build_key", k);
    }
    // The counts ignore `status` and paging.
    let count_filter = filter.clone();
    let counts_sql = format!(
        "SELECT stage, hold, COUNT(*) AS n FROM vehicles WHERE {} GROUP BY stage, hold",
        count_filter.sql
    );
    if let Some(status) = &q.status {
        filter.status(status);
    }
    let after = q
        .after
        .as_deref()
        .map(|a| a.trim().to_ascii_uppercase())
        .unwrap_or_default();
    filter.values.push(after);
    let list_sql = format!(
        "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE {} AND vin > ${} ORDER BY vin LIMIT ${}",
        filter.sql,
        filter.values.len(),
        filter.values.len() + 1
    );
    let mut tx = state.db.tenant_tx(&tenant_id).await?;
    let rows = filter
        .query(&list_sql)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
    let count_rows = count_filter.query(&counts_sql).fetch_all(&mut *tx).await?;
    tx.commit().await?;

    let mut counts = StatusCounts::default();
    for r in &count_rows {
        let stage: String = r.try_get("stage")?;
        let hold: String = r.try_get("hold")?;
        let n: i64 = r.try_get("n")?;
        counts.add(stock::status(&stage, &hold), n);
    }
    let today = super::today(&s);
    let mut vehicles: Vec<VehicleView> = rows
        .iter()
        .map(|r| VehicleRow::from_row(r).map(|v| v.view(&s, today)))
        .collect::<Result<_, _>>()?;
    let next = if vehicles.len() > limit as usize {
        vehicles.truncate(limit as usize);
        vehicles.last().map(|v| v.vin.clone())
    } else {
        None
    };
    Ok(Json(VehicleList {
        vehicles,
        counts,
        next,
    }))
}

#[derive(Debug, Deserialize)]
struct VinParam {
    vin: String,
}

#[utoipa::path(get, path = "/api/v1/vehicles/{vin}", tag = "inventory", security(("bearer" = [])),
    params(("vin" = String, Path, description = "The vehicle's VIN (17 characters; case and surrounding spaces do not matter)")),
    responses((status = 200, body = VehicleView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 422, description = "Not a valid VIN (the error says which character and why)", body = crate::http::error::Problem)))]
async fn get_vehicle(
    State(state): State<AppState>,
    authz: Authz,
    Path(VinParam { vin }): Path<VinParam>,
) -> ApiResult<Json<VehicleView>> {
    let vin = Vin::parse(&vin).map_err(|e| ApiError::field(e.code(), "vin", e.to_string()))?;
    let s = authz.actor.tenant.clone();
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(&format!(
        "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE tenant_id = $1 AND vin = $2"
    ))
    .bind(tenant_id)
    .bind(vin.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let row = row.ok_or_else(|| ApiError::NotFound(format!("vehicle {vin}")))?;
    let vehicle = VehicleRow::from_row(&row)?;
    authz.check(&vehicle_record(&vehicle.vin, &vehicle.store))?;
    Ok(Json(vehicle.view(&s, super::today(&s))))
}

/// The JSON body of a sync (documentation; the body is checked member by member so that every
/// problem of every vehicle is reported at once).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SyncRequest {
    /// Up to 5,000 vehicles.
    pub vehicles: Vec<SyncVehicle>,
}

/// One vehicle of a sync.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SyncVehicle {
    pub vin: String,
    pub model: String,
    pub trim: String,
    /// Option codes; the trim's defaults may be left out.
    #[serde(default)]
    pub options: Vec<String>,
    pub store: String,
    /// `in_production`, `in_transit`, `in_stock` or `delivered` (`reserved` and `sold` come
    /// from orders).
    pub stage: String,
    /// `YYYY-MM-DD`; required once `in_stock` or `delivered` (and then not after today).
    #[serde(default)]
    pub arrival_date: Option<String>,
    /// Minor units per month, ≥ 0.
    pub holding_cost_per_month: i64,
    /// At most 64 characters.
    #[serde(default)]
    pub external_ref: Option<String>,
}

/// Refuses early when the caller may import into no store at all.
fn check_any_import_scope(authz: &Authz) -> ApiResult<()> {
    let stores = authz
        .actor
        .tenant
        .doc()
        .map(|d| d.org.stores.as_slice())
        .unwrap_or_default();
    if stores
        .iter()
        .any(|st| authz.allows(&vehicle_record("*", &st.code)))
    {
        Ok(())
    } else {
        authz.check(&Resource::Tenant)
    }
}

#[utoipa::path(post, path = "/api/v1/vehicles/import", tag = "inventory", security(("bearer" = [])),
    description = "Imports vehicle stock from a UTF-8 CSV file (header row first; columns vin, model, trim, options (codes separated by `|`), store, stage, arrival_date, holding_cost_per_month, external_ref; at most 5,000 rows). Upserts by VIN in one transaction. Any problem refuses the whole file and lists every problem with its line and column (422; 403 when every problem is the caller's scope). Send an `Idempotency-Key` to make a retry safe.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional; a retry with the same key and file replays the first answer")),
    request_body(content = String, description = "The CSV file", content_type = "text/csv"),
    responses((status = 200, body = Counts), (status = 403, body = crate::http::error::Problem), (status = 413, body = crate::http::error::Problem), (status = 415, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn import_csv(
    State(state): State<AppState>,
    authz: Authz,
    key: Option<IdempotencyKey>,
    req: Request,
) -> ApiResult<Response> {
    check_any_import_scope(&authz)?;
    let media = media_type(req.headers());
    let charset = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .skip(1)
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
                .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase())
        });
    if media != "text/csv"
        || charset
            .as_deref()
            .is_some_and(|c| c != "utf-8" && c != "utf8")
    {
        return Err(ApiError::invalid(
            "unsupported_media_type",
            "Send the file as `Content-Type: text/csv` in UTF-8 (or use POST /api/v1/vehicles/sync for JSON).",
        ));
    }
    let path = req.uri().path().to_string();
    let bytes = body_bytes(req, &state).await?;
    let upload = import::parse_csv(&bytes)?;
    run(&state, &authz, key.as_ref(), &path, &bytes, upload).await
}

#[utoipa::path(post, path = "/api/v1/vehicles/sync", tag = "inventory", security(("bearer" = [])),
    description = "The dealer management system's sync: the same checks and upsert as the CSV import, for a JSON batch of up to 5,000 vehicles. Problems are located by JSON pointer (`/vehicles/3/vin`).",
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional; a retry with the same key and body replays the first answer")),
    request_body = SyncRequest,
    responses((status = 200, body = Counts), (status = 403, body = crate::http::error::Problem), (status = 413, body = crate::http::error::Problem), (status = 415, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn sync_vehicles(
    State(state): State<AppState>,
    authz: Authz,
    key: Option<IdempotencyKey>,
    req: Request,
) -> ApiResult<Response> {
    check_any_import_scope(&authz)?;
    let media = media_type(req.headers());
    if media != "application/json" {
        return Err(ApiError::invalid(
            "unsupported_media_type",
            "Send the batch as JSON with `Content-Type: application/json`.",
        ));
    }
    let path = req.uri().path().to_string();
    let bytes = body_bytes(req, &state).await?;
    let upload = import::parse_sync(&bytes)?;
    run(&state, &authz, key.as_ref(), &path, &bytes, upload).await
}

/// Applies a parsed upload once per idempotency key, as the caller.
async fn run(
    state: &AppState,
    authz: &Authz,
    key: Option<&IdempotencyKey>,
    path: &str,
    body: &[u8],
    upload: Upload,
) -> ApiResult<Response> {
    let s = authz.actor.tenant.clone();
    let scope = format!("user:{}", authz.actor.user_id());
    let fingerprint = idempotency::fingerprint("POST", path, body);
    let may_import = |vin: &str, store: &str| authz.allows(&vehicle_record(vin, store));
    let actor = authz.actor.audit_name();
    let backend = state.db.backend;
    let today = super::today(&s);
    match idempotency::begin(state, &s.tenant.id, &scope, key, &fingerprint).await? {
        Begun::Replay(response) => Ok(response),
        Begun::Fresh(mut pending) => {
            let outcome = import::apply(
                &mut pending.tx,
                backend,
                &s,
                &upload,
                &may_import,
                &actor,
                true,
                today,
                now_ms(),
            )
            .await
            .and_then(|counts| {
                serde_json::to_value(counts)
                    .map(|body| (StatusCode::OK, body))
                    .map_err(ApiError::internal)
            });
            pending.finish(outcome).await
        }
    }
}
