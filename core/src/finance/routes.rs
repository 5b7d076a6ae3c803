//! Storefront route of the loan calculator: `POST /api/v1/public/finance/plan`.

use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calc::{repayment_plan, LoanTerms, RepaymentPlan};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::tenancy::routes::PublicTenant;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(plan))
}

/// A repayment plan in the storefront tenant's currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// ISO 4217 code; every amount is in its minor unit (fen for CNY).
    pub currency: String,
    /// The rounding rule the plan follows (see the finance module docs).
    pub rounding: &'static str,
    #[serde(flatten)]
    pub plan: RepaymentPlan,
}

#[utoipa::path(post, path = "/api/v1/public/finance/plan", tag = "storefront",
    description = "Loan calculator: equal instalment or equal principal, down payment as an amount or a percentage, 0 % promotions; the full schedule, exact to the fen (rule `loan-fen-half-up`).",
    request_body = LoanTerms,
    responses((status = 200, body = PlanView), (status = 422, description = "Every invalid field, each with its pointer", body = crate::http::error::Problem)))]
async fn plan(
    tenant: PublicTenant,
    ApiJson(terms): ApiJson<LoanTerms>,
) -> ApiResult<Json<PlanView>> {
    let currency = tenant
        .0
        .doc()
        .map(|d| d.tenant.currency.clone())
        .unwrap_or_else(|| "CNY".into());
    let plan = repayment_plan(&terms).map_err(|invalid| {
        let errors: Vec<FieldError> = invalid
            .errors
            .iter()
            .map(|e| FieldError {
                pointer: format!("/{}", e.field()),
                message: e.to_string(),
            })
            .collect();
        let code = invalid
            .errors
            .first()
            .map(|e| e.code())
            .unwrap_or("invalid_loan_terms");
        ApiError::Invalid {
            code,
            detail: invalid.to_string(),
            errors,
        }
    })?;
    Ok(Json(PlanView {
        currency,
        rounding: "loan-fen-half-up",
        plan,
    }))
}
