//! `POST /api/v1/public/quotes`, `GET /api/v1/public/quotes/{code}` and its printable view.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use forecourt_plugins::hooks::{
    Date as ScriptDate, PricingAdjust, PricingInput, TaxInput, TaxOutput, TaxPurchase,
};
use forecourt_plugins::HookRunner;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cost_sheet::{cost_sheet, AllInCost, CostInputs};
use crate::buyers::BuyerSession;
use crate::catalog::routes::ConfigureRequest;
use crate::catalog::share_code;
use crate::finance::calc::{
    repayment_plan, DownPayment, LoanTerms, RepaymentMethod, RepaymentPlan,
};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::store::now_ms;
use crate::tenancy::routes::PublicTenant;
use crate::tenancy::Snapshot;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_quote))
        .routes(routes!(get_quote))
        .routes(routes!(print_quote))
}

/// How the buyer wants to pay, when financing.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinanceChoice {
    pub down_payment: DownPayment,
    pub term_months: u32,
    pub annual_rate_bp: u32,
    pub method: RepaymentMethod,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub model: String,
    pub trim: String,
    #[serde(default)]
    pub selections: Vec<String>,
    /// Region of the point of sale (region rules and the tenant's pricing rule use it).
    #[serde(default)]
    pub region: Option<String>,
    /// Language of the sheet (one of the tenant's locales; default: the tenant's default).
    #[serde(default)]
    pub locale: Option<String>,
    /// Present when the buyer finances: the interest joins the sheet.
    #[serde(default)]
    pub finance: Option<FinanceChoice>,
    /// The store the buyer buys from: its offer today (cash discount, gifts, finance subsidy)
    /// joins the sheet.
    #[serde(default)]
    pub store: Option<String>,
}

/// A quote: the build, its all-in cost sheet and how long it holds.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quote {
    pub code: String,
    pub model: String,
    pub trim: String,
    pub selections: Vec<String>,
    pub region: Option<String>,
    pub locale: String,
    pub currency: String,
    /// The day the quote was made and the last day it holds (tenant calendar, UTC).
    pub issued_on: String,
    pub valid_until: String,
    #[schema(value_type = Object)]
    pub cost: serde_json::Value,
    #[schema(value_type = Object)]
    pub build: serde_json::Value,
    #[schema(value_type = Object)]
    pub finance: Option<serde_json::Value>,
    /// Storefront paths of this quote as JSON and as a printable page.
    pub json_path: String,
    pub print_path: String,
}

fn script_failed(e: forecourt_plugins::ScriptError) -> ApiError {
    tracing::warn!(error = %e, "tenant rule failed");
    ApiError::Unavailable(format!(
        "The tenant's pricing rules could not price this build: {e}"
    ))
}

/// Runs the tenant's hook script at `path`, if the bundle has one.
fn run_hook<H: forecourt_plugins::HookPoint>(
    state: &AppState,
    s: &Snapshot,
    input: &H::Input,
) -> ApiResult<Option<H::Output>> {
    let path = format!("scripts/{}.rhai", H::NAME);
    let Some(source) = s.bundle.as_ref().and_then(|b| b.files().get(&path)) else {
        return Ok(None);
    };
    let compiled = state
        .scripts
        .compile(&path, source)
        .map_err(script_failed)?;
    HookRunner::call::<H>(&state.scripts, &compiled, input)
        .map(Some)
        .map_err(script_failed)
}

/// The catalog's energy type as the tax rule's input names it.
fn script_energy(
    energy: forecourt_tenant_config::catalog::Energy,
) -> forecourt_plugins::hooks::Energy {
    use forecourt_plugins::hooks::Energy as Script;
    use forecourt_tenant_config::catalog::Energy as Catalog;
    match energy {
        Catalog::Bev => Script::Bev,
        Catalog::Phev => Script::Phev,
        Catalog::Erev => Script::Erev,
        Catalog::Ice => Script::Ice,
    }
}

/// The all-in cost of a model's trim with its default options, in `locale` (the storefront's
/// all-in cost block).
pub(crate) fn default_cost(
    state: &AppState,
    s: &Snapshot,
    model: &str,
    trim: &str,
    locale: &str,
) -> ApiResult<(Quote, AllInCost)> {
    make_quote(
        state,
        s,
        &QuoteRequest {
            model: model.to_string(),
            trim: trim.to_string(),
            selections: Vec::new(),
            region: None,
            locale: Some(locale.to_string()),
            finance: None,
            store: None,
        },
    )
}

fn make_quote(state: &AppState, s: &Snapshot, req: &QuoteRequest) -> ApiResult<(Quote, AllInCost)> {
    let doc = s
        .doc()
        .ok_or_else(|| ApiError::NotFound("this storefront".into()))?;
    let model = crate::catalog::routes::model(s, &req.model)?;
    let locale = match &req.locale {
        Some(l) if doc.tenant.locales.contains(l) => l.clone(),
        Some(l) => {
            return Err(ApiError::field(
                "unknown_locale",
                "/locale",
                format!(
                    "`{l}` is not one of this storefront's languages ({})",
                    doc.tenant.locales.join(", ")
                ),
            ))
        }
        None => doc
            .tenant
            .locales
            .first()
            .cloned()
            .unwrap_or_else(|| "en".into()),
    };
    let build = ConfigureRequest {
        trim: req.trim.clone(),
        selections: req.selections.clone(),
        region: req.region.clone(),
    };
    let (evaluation, day) = crate::catalog::routes::evaluate(s, &req.model, &build)?;
    let iso_day = crate::store::iso_date(day);
    let script_day = ScriptDate::parse(&iso_day).map_err(ApiError::Internal)?;
    let base_price = evaluation
        .price
        .lines
        .first()
        .map(|l| l.amount)
        .unwrap_or(0);
    let options_price = evaluation.price.total - base_price;
    let pricing = PricingInput {
        model: req.model.clone(),
        trim: evaluation.trim.clone(),
        region: req.region.clone().unwrap_or_default(),
        date: script_day.clone(),
        base_price,
        options_price,
        selections: evaluation.resolved.values().flatten().cloned().collect(),
    };
    let mut adjustments = run_hook::<PricingAdjust>(state, s, &pricing)?
        .map(|o| o.adjustments)
        .unwrap_or_default();
    let offer = match &req.store {
        None => None,
        Some(store) => {
            if doc.org.store(store).is_none() {
                return Err(ApiError::field(
                    "unknown_store",
                    "/store",
                    format!("`{store}` is not a store of this tenant"),
                ));
            }
            crate::catalog::routes::store_offers(
                s,
                &req.model,
                &evaluation.trim,
                evaluation.price.total,
                &iso_day,
            )
            .into_iter()
            .find(|o| &o.store == store)
        }
    };
    if let Some(o) = offer.as_ref().filter(|o| o.cash_discount > 0) {
        adjustments.push(forecourt_plugins::hooks::PriceAdjustment {
            code: format!("offer:{}", o.offer),
            label: o
                .label
                .get(&locale)
                .or_else(|| o.label.values().next())
                .cloned()
                .unwrap_or_default(),
            amount: -o.cash_discount,
        });
    }
    let adjusted: i64 = adjustments
        .iter()
        .try_fold(evaluation.price.total, |acc, a| acc.checked_add(a.amount))
        .ok_or_else(|| ApiError::Internal("price overflow".into()))?;
    let energy = script_energy(model.energy);
    let tax_input = TaxInput {
        price_incl_vat: adjusted.max(0),
        energy,
        purchase_date: script_day,
        model: req.model.clone(),
        trim: evaluation.trim.clone(),
        region: req.region.clone().unwrap_or_default(),
    };
    let tax = run_hook::<TaxPurchase>(state, s, &tax_input)?.unwrap_or(TaxOutput {
        tax: 0,
        exemption: 0,
        lines: Vec::new(),
        explanation: "No purchase-tax rule is configured for this storefront.".into(),
    });
    let plan: Option<RepaymentPlan> = match &req.finance {
        None => None,
        Some(f) => Some(
            repayment_plan(&LoanTerms {
                vehicle_price: adjusted.max(0),
                down_payment: f.down_payment,
                term_months: f.term_months,
                annual_rate_bp: f.annual_rate_bp,
                method: f.method,
            })
            .map_err(|invalid| ApiError::Invalid {
                code: invalid
                    .errors
                    .first()
                    .map(|e| e.code())
                    .unwrap_or("invalid_loan_terms"),
                detail: invalid.to_string(),
                errors: invalid
                    .errors
                    .iter()
                    .map(|e| FieldError {
                        pointer: format!("/finance/{}", e.field()),
                        message: e.to_string(),
                    })
                    .collect(),
            })?,
        ),
    };
    let settings = doc.quotes.clone().unwrap_or_default();
    let (gifts, subsidy) = match &offer {
        Some(o) => (
            o.gifts.clone(),
            if plan.is_some() { o.finance_subsidy } else { 0 },
        ),
        None => (Vec::new(), 0),
    };
    let cost = cost_sheet(&CostInputs {
        locale: &locale,
        model,
        evaluation: &evaluation,
        adjustments: &adjustments,
        tax: &tax,
        settings: &settings,
        finance: plan.as_ref(),
        gifts: &gifts,
        finance_subsidy: subsidy,
    })
    .map_err(ApiError::internal)?;
    let valid_until = day
        .checked_add(time::Duration::days(i64::from(
            settings.validity_days.saturating_sub(1),
        )))
        .unwrap_or(day);
    let code = share_code();
    let slug = &s.tenant.slug;
    let quote = Quote {
        json_path: format!("/t/{slug}/api/v1/public/quotes/{code}"),
        print_path: format!("/t/{slug}/api/v1/public/quotes/{code}/print"),
        code,
        model: req.model.clone(),
        trim: evaluation.trim.clone(),
        selections: evaluation.selections.clone(),
        region: req.region.clone(),
        locale,
        currency: doc.tenant.currency.clone(),
        issued_on: iso_day,
        valid_until: format!(
            "{:04}-{:02}-{:02}",
            valid_until.year(),
            valid_until.month() as u8,
            valid_until.day()
        ),
        cost: serde_json::to_value(&cost).map_err(ApiError::internal)?,
        build: serde_json::json!({ "resolved": evaluation.resolved, "price": evaluation.price }),
        finance: plan
            .map(serde_json::to_value)
            .transpose()
            .map_err(ApiError::internal)?,
    };
    Ok((quote, cost))
}

#[utoipa::path(post, path = "/api/v1/public/quotes", tag = "storefront",
    description = "Prices a build with the tenant's rules and returns the all-in cost sheet (vehicle, options, adjustments, purchase tax, insurance, fees, loan interest), each line explained, exact to the fen, valid until a date. With a buyer session (cookie `fc_buyer` or `Authorization: Bearer fcb_…`) the quote joins that buyer's list.",
    request_body = QuoteRequest,
    responses((status = 201, body = Quote), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem), (status = 503, description = "The tenant's rules failed on this build", body = crate::http::error::Problem)))]
async fn create_quote(
    State(state): State<AppState>,
    tenant: PublicTenant,
    buyer: Option<BuyerSession>,
    ApiJson(req): ApiJson<QuoteRequest>,
) -> ApiResult<(StatusCode, Json<Quote>)> {
    let s = tenant.0.clone();
    let worker = state.clone();
    // Rules run in the sandbox off the async workers: a slow rule never stalls other requests.
    let (quote, cost) = tokio::task::spawn_blocking(move || make_quote(&worker, &s, &req))
        .await
        .map_err(ApiError::internal)??;
    let s = &tenant.0;
    let buyer_id = buyer
        .as_ref()
        .filter(|b| b.tenant_id == s.tenant.id)
        .map(|b| b.buyer_id.as_str());
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    sqlx::query("INSERT INTO quotes (tenant_id, code, issued_on, valid_until, total, currency, body, created_at, buyer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&s.tenant.id)
        .bind(&quote.code)
        .bind(&quote.issued_on)
        .bind(&quote.valid_until)
        .bind(cost.total)
        .bind(&quote.currency)
        .bind(serde_json::to_string(&quote).map_err(ApiError::internal)?)
        .bind(now_ms())
        .bind(buyer_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(quote)))
}

/// `{code}` in a path.
#[derive(Debug, Deserialize)]
pub struct QuoteParam {
    code: String,
}

pub(crate) async fn load_quote(state: &AppState, s: &Snapshot, code: &str) -> ApiResult<Quote> {
    let not_found = || ApiError::NotFound(format!("quote `{code}`"));
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(not_found());
    }
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    let row = sqlx::query("SELECT body FROM quotes WHERE tenant_id = $1 AND code = $2")
        .bind(&s.tenant.id)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    let body: String = row.try_get("body")?;
    serde_json::from_str(&body).map_err(ApiError::internal)
}

#[utoipa::path(get, path = "/api/v1/public/quotes/{code}", tag = "storefront",
    params(("code" = String, Path, description = "Quote code")),
    responses((status = 200, body = Quote), (status = 404, body = crate::http::error::Problem)))]
async fn get_quote(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(QuoteParam { code }): Path<QuoteParam>,
) -> ApiResult<Json<Quote>> {
    Ok(Json(load_quote(&state, &tenant.0, &code).await?))
}

const PRINT_TEMPLATE: &str = include_str!("quote.html");

fn templates() -> &'static tera::Tera {
    static TERA: OnceLock<tera::Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut t = tera::Tera::default();
        // A constant of this crate; the print test renders it.
        t.add_raw_template("quote.html", PRINT_TEMPLATE)
            .expect("the built-in quote template parses");
        t.autoescape_on(vec![".html"]);
        t
    })
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "−" } else { "" };
    let m = minor.unsigned_abs();
    let units = (m / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", m % 100)
}

#[utoipa::path(get, path = "/api/v1/public/quotes/{code}/print", tag = "storefront",
    params(("code" = String, Path, description = "Quote code")),
    responses((status = 200, description = "Printable HTML", content_type = "text/html"), (status = 404, body = crate::http::error::Problem)))]
async fn print_quote(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(QuoteParam { code }): Path<QuoteParam>,
) -> ApiResult<Response> {
    let s = &tenant.0;
    let quote = load_quote(&state, s, &code).await?;
    let cost: AllInCost = serde_json::from_value(quote.cost.clone()).map_err(ApiError::internal)?;
    let zh = quote.locale.starts_with("zh");
    let mut ctx = tera::Context::new();
    let tenant_name = s
        .doc()
        .and_then(|d| d.tenant.name.get(&quote.locale).cloned())
        .unwrap_or_else(|| s.tenant.name.clone());
    ctx.insert("lang", &quote.locale);
    ctx.insert("zh", &zh);
    ctx.insert("tenant", &tenant_name);
    ctx.insert("quote", &quote);
    let lines: Vec<serde_json::Value> = cost
        .lines
        .iter()
        .map(|l| serde_json::json!({ "label": l.label, "amount": money(l.amount), "explanation": l.explanation, "category": l.category }))
        .collect();
    ctx.insert("lines", &lines);
    ctx.insert("vehicle_price", &money(cost.vehicle_price));
    ctx.insert("total", &money(cost.total));
    let html = templates()
        .render("quote.html", &ctx)
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_groups_thousands() {
        assert_eq!(super::money(259_900_000), "2,599,000.00");
        assert_eq!(super::money(-50_000), "−500.00");
        assert_eq!(super::money(5), "0.05");
        assert!(super::templates()
            .get_template_names()
            .any(|n| n == "quote.html"));
    }
}
