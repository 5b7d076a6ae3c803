//! Storefront routes of the catalog: models, model detail, the configurator, saved
//! configurations (shareable codes) and side-by-side comparison.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use forecourt_tenant_config::catalog::{BodyType, Energy, Spec, VehicleModel};
use forecourt_tenant_config::model::TenantDoc;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::engine::{ConfigRequest, Date, EngineError, Evaluation};
use super::share_code;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::store::{now_ms, rfc3339};
use crate::tenancy::routes::PublicTenant;
use crate::tenancy::Snapshot;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(model_detail))
        .routes(routes!(configure))
        .routes(routes!(save_configuration))
        .routes(routes!(get_configuration))
        .routes(routes!(compare))
        .routes(routes!(compare_stores))
}

/// `{model}` in a path (named, so the `/t/{slug}` prefix's parameter does not get in the way).
#[derive(Debug, Deserialize)]
pub struct ModelParam {
    model: String,
}

/// `{code}` in a path.
#[derive(Debug, Deserialize)]
pub struct CodeParam {
    code: String,
}

fn doc(s: &Snapshot) -> ApiResult<&TenantDoc> {
    s.doc()
        .ok_or_else(|| ApiError::NotFound("this storefront".into()))
}

pub fn model<'a>(s: &'a Snapshot, code: &str) -> ApiResult<&'a VehicleModel> {
    s.bundle
        .as_ref()
        .and_then(|b| b.catalog().model(code))
        .ok_or_else(|| ApiError::NotFound(format!("model `{code}`")))
}

/// A model in the storefront's model list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    pub code: String,
    pub brand: String,
    #[schema(value_type = Object)]
    pub name: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub body_type: BodyType,
    #[schema(value_type = String)]
    pub energy: Energy,
    /// The lowest trim price, in minor units of `currency`.
    pub price_from: i64,
    pub currency: String,
    pub trims: Vec<String>,
    pub image: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
}

#[utoipa::path(get, path = "/api/v1/public/models", tag = "storefront",
    responses((status = 200, body = ModelList), (status = 404, body = crate::http::error::Problem)))]
async fn list_models(tenant: PublicTenant) -> ApiResult<Json<ModelList>> {
    let s = &tenant.0;
    let currency = doc(s)?.tenant.currency.clone();
    let models = s
        .bundle
        .as_ref()
        .map(|b| b.catalog().models.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|m| ModelSummary {
            code: m.code.clone(),
            brand: m.brand.clone(),
            name: m.name.clone(),
            body_type: m.body_type,
            energy: m.energy,
            price_from: m.trims.iter().map(|t| t.price).min().unwrap_or(0),
            currency: currency.clone(),
            trims: m.trims.iter().map(|t| t.code.clone()).collect(),
            image: m.images.first().map(|i| i.url.clone()),
        })
        .collect();
    Ok(Json(ModelList { models }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelDetail {
    pub currency: String,
    /// The model as the catalog defines it: specs, trims, option groups, options with prices and
    /// constraints, compatibility tables.
    #[schema(value_type = Object)]
    pub model: VehicleModel,
}

#[utoipa::path(get, path = "/api/v1/public/models/{model}", tag = "storefront",
    params(("model" = String, Path, description = "Model code")),
    responses((status = 200, body = ModelDetail), (status = 404, body = crate::http::error::Problem)))]
async fn model_detail(
    tenant: PublicTenant,
    Path(ModelParam { model: code }): Path<ModelParam>,
) -> ApiResult<Json<ModelDetail>> {
    let s = &tenant.0;
    Ok(Json(ModelDetail {
        currency: doc(s)?.tenant.currency.clone(),
        model: model(s, &code)?.clone(),
    }))
}

/// One configurator click.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureRequest {
    pub trim: String,
    /// Option codes in the order the buyer picked them; the last one wins a conflict.
    #[serde(default)]
    pub selections: Vec<String>,
    /// Region code of the point of sale (region-only options); omit to ignore regions.
    #[serde(default)]
    pub region: Option<String>,
}

/// The configurator's answer, in the storefront's currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigureResponse {
    pub currency: String,
    /// The day the availability rules were applied for (UTC).
    pub date: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub evaluation: Evaluation,
}

fn engine_error(e: EngineError) -> ApiError {
    let pointer = match &e {
        EngineError::UnknownTrim { .. }
        | EngineError::TrimUnavailable { .. }
        | EngineError::NoValidBuild { .. } => "/trim",
        EngineError::UnknownOption { .. }
        | EngineError::OptionUnavailable { .. }
        | EngineError::TooManySelections { .. } => "/selections",
        EngineError::PriceOverflow => "",
    };
    if matches!(e, EngineError::PriceOverflow) {
        return ApiError::Internal(e.to_string());
    }
    ApiError::field(e.code(), pointer, e.to_string())
}

/// Runs the configurator for `model` on `request` (today, the request's region): checks the
/// region and the number of picks, maps engine errors to located 422s.
pub fn evaluate(
    s: &Snapshot,
    model_code: &str,
    request: &ConfigureRequest,
) -> ApiResult<(Evaluation, time::Date)> {
    let doc = doc(s)?;
    model(s, model_code)?;
    if let Some(region) = &request.region {
        if doc.org.region(region).is_none() {
            return Err(ApiError::field(
                "unknown_region",
                "/region",
                format!("`{region}` is not a region of this tenant"),
            ));
        }
    }
    if request.selections.len() > 200 {
        return Err(ApiError::field(
            "too_many_selections",
            "/selections",
            "at most 200 selections",
        ));
    }
    let compiled = s
        .catalog
        .model(model_code)
        .ok_or_else(|| ApiError::Internal(format!("model {model_code} is not compiled")))?;
    let day = crate::store::today();
    let engine_request = ConfigRequest {
        trim: request.trim.clone(),
        selections: request.selections.clone(),
        region: request.region.clone(),
        date: Date::new(day.year(), day.month() as u8, day.day()),
    };
    Ok((
        compiled.evaluate(&engine_request).map_err(engine_error)?,
        day,
    ))
}

#[utoipa::path(post, path = "/api/v1/public/models/{model}/configure", tag = "storefront",
    description = "One configurator click: the complete valid build (defaults filled), its price line by line, and every option's state — selected, included, selectable, or unavailable with the rule and the picks in the way. A pick that conflicts wins; the fewest earlier picks yield and are listed in `changes`.",
    params(("model" = String, Path, description = "Model code")), request_body = ConfigureRequest,
    responses((status = 200, body = ConfigureResponse), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn configure(
    tenant: PublicTenant,
    Path(ModelParam { model: code }): Path<ModelParam>,
    ApiJson(request): ApiJson<ConfigureRequest>,
) -> ApiResult<Json<ConfigureResponse>> {
    let s = &tenant.0;
    let (evaluation, date) = evaluate(s, &code, &request)?;
    Ok(Json(ConfigureResponse {
        currency: doc(s)?.tenant.currency.clone(),
        date: crate::store::iso_date(date),
        evaluation,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    pub model: String,
    #[serde(flatten)]
    pub build: ConfigureRequest,
}

/// A saved configuration: what the buyer built, as resolved when saved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedConfiguration {
    /// Short, unguessable share code.
    pub code: String,
    /// Storefront path of the shared build.
    pub share_path: String,
    pub model: String,
    pub trim: String,
    pub selections: Vec<String>,
    pub region: Option<String>,
    pub total_price: i64,
    pub currency: String,
    /// The configuration version of the catalog the build was resolved against.
    pub config_version: i64,
    pub created_at: String,
    #[schema(value_type = Object)]
    pub resolved: serde_json::Value,
}

#[utoipa::path(post, path = "/api/v1/public/configurations", tag = "storefront",
    description = "Saves a build under a short, unguessable code to share.",
    request_body = SaveRequest,
    responses((status = 201, body = SavedConfiguration), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn save_configuration(
    State(state): State<AppState>,
    tenant: PublicTenant,
    ApiJson(req): ApiJson<SaveRequest>,
) -> ApiResult<(StatusCode, Json<SavedConfiguration>)> {
    let s = &tenant.0;
    let (evaluation, _) = evaluate(s, &req.model, &req.build)?;
    let currency = doc(s)?.tenant.currency.clone();
    let resolved = serde_json::to_value(&evaluation).map_err(ApiError::internal)?;
    let code = share_code();
    let created_at = now_ms();
    let config_version = s.tenant.active_version.unwrap_or(0);
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    sqlx::query(
        "INSERT INTO saved_configurations (tenant_id, code, model_code, trim_code, selections, region_code, resolved, total_price, currency, config_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&s.tenant.id)
    .bind(&code)
    .bind(&req.model)
    .bind(&evaluation.trim)
    .bind(serde_json::to_string(&evaluation.selections).map_err(ApiError::internal)?)
    .bind(req.build.region.clone())
    .bind(resolved.to_string())
    .bind(evaluation.price.total)
    .bind(&currency)
    .bind(config_version)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(SavedConfiguration {
            share_path: format!("/t/{}/api/v1/public/configurations/{code}", s.tenant.slug),
            code,
            model: req.model,
            trim: evaluation.trim.clone(),
            selections: evaluation.selections.clone(),
            region: req.build.region,
            total_price: evaluation.price.total,
            currency,
            config_version,
            created_at: rfc3339(created_at),
            resolved,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/public/configurations/{code}", tag = "storefront",
    params(("code" = String, Path, description = "Share code")),
    responses((status = 200, body = SavedConfiguration), (status = 404, body = crate::http::error::Problem)))]
async fn get_configuration(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(CodeParam { code }): Path<CodeParam>,
) -> ApiResult<Json<SavedConfiguration>> {
    Ok(Json(load_configuration(&state, &tenant.0, code).await?))
}

/// A saved configuration of `s`'s tenant by its share code.
pub(crate) async fn load_configuration(
    state: &AppState,
    s: &Snapshot,
    code: String,
) -> ApiResult<SavedConfiguration> {
    let not_found = || ApiError::NotFound(format!("saved configuration `{code}`"));
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    // Saved configurations never change: one read per node, then the cache.
    let cache_key = (s.tenant.id.clone(), code.clone());
    if let Some(saved) = state.saved_configurations.get(&cache_key) {
        return Ok((*saved).clone());
    }
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    let row = sqlx::query(
        "SELECT model_code, trim_code, selections, region_code, resolved, total_price, currency, config_version, created_at \
         FROM saved_configurations WHERE tenant_id = $1 AND code = $2",
    )
    .bind(&s.tenant.id)
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    tx.commit().await?;
    let selections: String = row.try_get("selections")?;
    let resolved: String = row.try_get("resolved")?;
    let saved = SavedConfiguration {
        share_path: format!("/t/{}/api/v1/public/configurations/{code}", s.tenant.slug),
        code,
        model: row.try_get("model_code")?,
        trim: row.try_get("trim_code")?,
        selections: serde_json::from_str(&selections).map_err(ApiError::internal)?,
        region: row.try_get("region_code")?,
        total_price: row.try_get("total_price")?,
        currency: row.try_get("currency")?,
        config_version: row.try_get("config_version")?,
        created_at: rfc3339(row.try_get("created_at")?),
        resolved: serde_json::from_str(&resolved).map_err(ApiError::internal)?,
    };
    state
        .saved_configurations
        .insert(cache_key, std::sync::Arc::new(saved.clone()));
    Ok(saved)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// Comma-separated `model:trim` pairs (2–6), e.g. `s7:s7-pro,x9:x9-max`.
    pub trims: String,
}

/// One compared trim.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComparedTrim {
    pub model: String,
    pub trim: String,
    #[schema(value_type = Object)]
    pub model_name: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub trim_name: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub energy: Energy,
    /// MSRP of the trim in minor units.
    pub price: i64,
}

/// One spec row across the compared trims (`null` where a trim has no value).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpecRow {
    pub code: String,
    #[schema(value_type = Object)]
    pub label: BTreeMap<String, String>,
    pub unit: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<Option<serde_json::Value>>,
    /// True when the values differ (for "show differences only").
    pub differs: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub currency: String,
    pub columns: Vec<ComparedTrim>,
    pub specs: Vec<SpecRow>,
}

#[utoipa::path(get, path = "/api/v1/public/compare", tag = "storefront", params(CompareQuery),
    description = "Models and trims side by side: MSRP and every spec parameter (a trim's value overrides its model's).",
    responses((status = 200, body = Comparison), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn compare(
    tenant: PublicTenant,
    Query(q): Query<CompareQuery>,
) -> ApiResult<Json<Comparison>> {
    let s = &tenant.0;
    let currency = doc(s)?.tenant.currency.clone();
    let pairs: Vec<&str> = q
        .trims
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !(2..=6).contains(&pairs.len()) {
        return Err(ApiError::field(
            "invalid_comparison",
            "trims",
            "compare 2 to 6 trims, as `model:trim,model:trim`",
        ));
    }
    let mut columns = Vec::new();
    let mut spec_lists: Vec<Vec<&Spec>> = Vec::new();
    for pair in pairs {
        let (m, t) = pair.split_once(':').ok_or_else(|| {
            ApiError::field(
                "invalid_comparison",
                "trims",
                format!("`{pair}` is not `model:trim`"),
            )
        })?;
        let vm = model(s, m)?;
        let trim = vm
            .trims
            .iter()
            .find(|x| x.code == t)
            .ok_or_else(|| ApiError::NotFound(format!("trim `{t}` of model `{m}`")))?;
        let mut specs: Vec<&Spec> = trim.specs.iter().collect();
        specs.extend(
            vm.specs
                .iter()
                .filter(|ms| !trim.specs.iter().any(|ts| ts.code == ms.code)),
        );
        spec_lists.push(specs);
        columns.push(ComparedTrim {
            model: vm.code.clone(),
            trim: trim.code.clone(),
            model_name: vm.name.clone(),
            trim_name: trim.name.clone(),
            energy: vm.energy,
            price: trim.price,
        });
    }
    let mut order: Vec<&Spec> = Vec::new();
    for list in &spec_lists {
        for spec in list {
            if !order.iter().any(|o| o.code == spec.code) {
                order.push(spec);
            }
        }
    }
    let specs = order
        .into_iter()
        .map(|first| {
            let values: Vec<Option<serde_json::Value>> = spec_lists
                .iter()
                .map(|list| {
                    list.iter()
                        .find(|x| x.code == first.code)
                        .and_then(|x| serde_json::to_value(&x.value).ok())
                })
                .collect();
            let differs = values.windows(2).any(|w| w[0] != w[1]);
            SpecRow {
                code: first.code.clone(),
                label: first.label.clone(),
                unit: first.unit.clone(),
                values,
                differs,
            }
        })
        .collect();
    Ok(Json(Comparison {
        currency,
        columns,
        specs,
    }))
}

/// One store's offer on a build.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreOffer {
    pub store: String,
    #[schema(value_type = Object)]
    pub store_name: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub city: BTreeMap<String, String>,
    pub offer: String,
    #[schema(value_type = Object)]
    pub label: BTreeMap<String, String>,
    /// The build's list price.
    pub list_price: i64,
    pub cash_discount: i64,
    /// List price − cash discount.
    pub price: i64,
    #[schema(value_type = Vec<Object>)]
    pub gifts: Vec<forecourt_tenant_config::catalog::Gift>,
    pub gifts_value: i64,
    /// Paid towards the loan interest when financing.
    pub finance_subsidy: i64,
    pub valid_until: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreComparison {
    pub currency: String,
    pub model: String,
    pub trim: String,
    pub list_price: i64,
    /// Stores with an offer on this build today, lowest price first (then most gift value).
    pub offers: Vec<StoreOffer>,
}

/// The offers of every store on `trim` of `model` today, applied to `list_price`.
pub fn store_offers(
    s: &Snapshot,
    model: &str,
    trim: &str,
    list_price: i64,
    day: &str,
) -> Vec<StoreOffer> {
    let (Some(doc), Some(bundle)) = (s.doc(), s.bundle.as_ref()) else {
        return Vec::new();
    };
    let mut out: Vec<StoreOffer> = bundle
        .catalog()
        .offers
        .iter()
        .filter(|o| o.applies(model, trim, day))
        .filter_map(|o| {
            let store = doc.org.store(&o.store)?;
            let gifts_value = o
                .gifts
                .iter()
                .try_fold(0i64, |acc, g| acc.checked_add(g.value))?;
            Some(StoreOffer {
                store: store.code.clone(),
                store_name: store.name.clone(),
                city: store.city.clone(),
                offer: o.code.clone(),
                label: o.label.clone(),
                list_price,
                cash_discount: o.cash_discount.min(list_price),
                price: list_price - o.cash_discount.min(list_price),
                gifts: o.gifts.clone(),
                gifts_value,
                finance_subsidy: o.finance_subsidy,
                valid_until: o.valid_until.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.price
            .cmp(&b.price)
            .then(b.gifts_value.cmp(&a.gifts_value))
            .then(a.store.cmp(&b.store))
    });
    out
}

#[utoipa::path(post, path = "/api/v1/public/models/{model}/stores", tag = "storefront",
    description = "One build compared across stores: each store's offer today — cash discount, gifts each with its value, finance subsidy — lowest price first.",
    params(("model" = String, Path, description = "Model code")), request_body = ConfigureRequest,
    responses((status = 200, body = StoreComparison), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn compare_stores(
    tenant: PublicTenant,
    Path(ModelParam { model: code }): Path<ModelParam>,
    ApiJson(request): ApiJson<ConfigureRequest>,
) -> ApiResult<Json<StoreComparison>> {
    let s = &tenant.0;
    let (evaluation, _) = evaluate(s, &code, &request)?;
    let offers = store_offers(
        s,
        &code,
        &evaluation.trim,
        evaluation.price.total,
        &crate::store::iso_date(crate::store::today()),
    );
    Ok(Json(StoreComparison {
        currency: doc(s)?.tenant.currency.clone(),
        model: code,
        trim: evaluation.trim.clone(),
        list_price: evaluation.price.total,
        offers,
    }))
}
