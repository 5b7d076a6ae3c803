//! `GET /api/v1/authz/explain` and `GET /api/v1/authz/policies` for tenant admins.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{explain, Explanation, PolicySource, Principal, Resource};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Authz;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(explain_route))
        .routes(routes!(policies_route))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    /// The user asking: email or id.
    pub user: String,
    /// The action, e.g. `store.read`.
    pub action: String,
    /// `tenant`, `unit:<code>` or `user:<id>`.
    pub resource: String,
    /// Explain as if through an API token with these comma-separated scopes.
    pub token_scopes: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainView {
    pub user_id: String,
    pub roles: Vec<String>,
    pub unit: Option<String>,
    pub action: String,
    pub resource: String,
    #[serde(flatten)]
    pub explanation: Explanation,
}

#[utoipa::path(get, path = "/api/v1/authz/explain", tag = "authz", security(("bearer" = [])), params(ExplainQuery),
    description = "Which policy allowed or denied a request, and why each policy of the user's roles that names the action did or did not apply.",
    responses((status = 200, body = ExplainView), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn explain_route(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<ExplainQuery>,
) -> ApiResult<Json<ExplainView>> {
    authz.check(&Resource::Tenant)?;
    let tenant_id = authz.actor.tenant.tenant.id.clone();
    let user = if q.user.contains('@') {
        crate::users::find_user_by_email(&state.db, &tenant_id, &q.user).await?
    } else {
        crate::users::find_user(&state.db, &tenant_id, &q.user).await?
    }
    .ok_or_else(|| ApiError::NotFound(format!("user `{}`", q.user)))?;
    if forecourt_tenant_config::actions::action(&q.action).is_none() {
        return Err(ApiError::field(
            "unknown_action",
            "action",
            format!("`{}` is not an action of the platform", q.action),
        ));
    }
    let resource = parse_resource(&state, &tenant_id, &q.resource).await?;
    let principal = Principal {
        user_id: user.id.clone(),
        roles: user.roles.clone(),
        unit: user.unit.clone(),
        token_scopes: q.token_scopes.as_deref().map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        }),
    };
    let explanation = explain(
        &authz.actor.tenant.policies,
        &principal,
        &q.action,
        &resource,
    );
    Ok(Json(ExplainView {
        user_id: user.id,
        roles: user.roles,
        unit: user.unit,
        action: q.action,
        resource: q.resource,
        explanation,
    }))
}

async fn parse_resource(state: &AppState, tenant_id: &str, text: &str) -> ApiResult<Resource> {
    if text == "tenant" {
        return Ok(Resource::Tenant);
    }
    if let Some(code) = text.strip_prefix("unit:") {
        return Ok(Resource::Unit(code.to_string()));
    }
    if let Some(id) = text.strip_prefix("user:") {
        let user = crate::users::find_user(&state.db, tenant_id, id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("user `{id}`")))?;
        return Ok(user.resource());
    }
    Err(ApiError::field(
        "invalid_resource",
        "resource",
        "use `tenant`, `unit:<code>` or `user:<id>`",
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyList {
    /// The Cedar schema the policies are validated against.
    pub schema: String,
    #[schema(value_type = Object)]
    pub policies: std::collections::BTreeMap<String, PolicySource>,
}

#[utoipa::path(get, path = "/api/v1/authz/policies", tag = "authz", security(("bearer" = [])),
    responses((status = 200, description = "The tenant's compiled Cedar policies", body = PolicyList)))]
async fn policies_route(authz: Authz) -> ApiResult<Json<PolicyList>> {
    authz.check(&Resource::Tenant)?;
    let p = &authz.actor.tenant.policies;
    Ok(Json(PolicyList {
        schema: super::schema_text(),
        policies: p
            .sources
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }))
}
