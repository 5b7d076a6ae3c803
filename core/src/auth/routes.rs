//! Login, logout, the caller's identity, and API tokens for integrators.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{issue_token, verify_login, Actor, SESSION_COOKIE};
use crate::audit;
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Authz};
use crate::state::AppState;
use crate::store::{now_ms, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the API (also set as the `forecourt_session` cookie).
    pub token: String,
    pub token_type: String,
    pub expires_at: String,
    pub user: MeView,
}

fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::http::error::Problem),
              (status = 422, body = crate::http::error::Problem), (status = 429, body = crate::http::error::Problem)))]
async fn login(
    State(state): State<AppState>,
    crate::http::limits::ClientAddr(addr): crate::http::limits::ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let email = req.email.trim().to_lowercase();
    state.throttle.check(&req.tenant, &email, &addr)?;
    let tenant = state.snapshots.get_by_slug(&state.db, &req.tenant).await?;
    let user_id = match &tenant {
        Some(t) if t.tenant.status == "active" => {
            verify_login(&state.db, &t.tenant.id, &email, &req.password).await?
        }
        _ => {
            // Spend the same time as a real check so unknown tenants are not revealed by timing.
            let pw = req.password.clone();
            tokio::task::spawn_blocking(move || super::verify_password(&pw, super::dummy_hash()))
                .await
                .ok();
            None
        }
    };
    let (Some(tenant), Some(user_id)) = (tenant, user_id) else {
        state.throttle.fail(&req.tenant, &email, &addr);
        tracing::info!(tenant = %req.tenant, "login failed");
        return Err(ApiError::Unauthenticated("invalid_credentials"));
    };
    state.throttle.succeed(&req.tenant, &email, &addr);
    let ttl = state.settings.session_ttl;
    let (minted, expires_at) = issue_token(
        &state.db,
        &tenant.tenant.id,
        &user_id,
        "session",
        "login",
        None,
        ttl,
    )
    .await?;
    let actor = super::authenticate(&state, &minted.token).await?;
    audit::record(
        &state.db,
        &tenant.tenant.id,
        &actor.audit_name(),
        "auth.login",
        &format!("user:{user_id}"),
        serde_json::json!({ "session": minted.id }),
    )
    .await?;
    let body = LoginResponse {
        token: minted.token.clone(),
        token_type: "Bearer".into(),
        expires_at: rfc3339(expires_at),
        user: MeView::from(&actor),
    };
    let mut response = Json(body).into_response();
    if let Some(cookie) =
        session_cookie(&minted.token, ttl.as_secs(), state.settings.secure_cookies)
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "The session or token used for this request is revoked"), (status = 401, body = crate::http::error::Problem)))]
async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<Response> {
    super::revoke(&state, &actor.tenant.tenant.id, &actor.credential.token_id).await?;
    audit::record(
        &state.db,
        &actor.tenant.tenant.id,
        &actor.audit_name(),
        "auth.logout",
        &format!("token:{}", actor.credential.token_id),
        serde_json::json!({}),
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = session_cookie("", 0, state.settings.secure_cookies) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The caller: user, tenant, roles, org unit and (for tokens) scopes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub tenant: String,
    pub roles: Vec<String>,
    pub unit: Option<String>,
    /// `session` or `api`.
    pub credential: String,
    pub scopes: Option<Vec<String>>,
}

impl From<&Actor> for MeView {
    fn from(a: &Actor) -> Self {
        MeView {
            user_id: a.credential.user_id.clone(),
            email: a.credential.email.clone(),
            display_name: a.credential.display_name.clone(),
            tenant: a.tenant.tenant.slug.clone(),
            roles: a.principal.roles.clone(),
            unit: a.principal.unit.clone(),
            credential: a.credential.kind.clone(),
            scopes: a.credential.scopes.clone(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = crate::http::error::Problem)))]
async fn me(actor: Actor) -> Json<MeView> {
    Json(MeView::from(&actor))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. "DMS sync".
    pub name: String,
    /// The user the token acts as (default: the caller). Its permissions are that user's,
    /// narrowed to `scopes`.
    pub user_id: Option<String>,
    /// Actions the token may use (non-empty; `area.*` allowed).
    pub scopes: Vec<String>,
    /// Days until expiry (1–365, default 90).
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret token; shown only in this response.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TokenList), (status = 403, body = crate::http::error::Problem)))]
async fn list_tokens(State(state): State<AppState>, authz: Authz) -> ApiResult<Json<TokenList>> {
    authz.check(&Resource::Tenant)?;
    let tenant_id = &authz.actor.tenant.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(
        "SELECT id, name, user_id, scopes, created_at, expires_at, revoked_at FROM auth_tokens \
         WHERE tenant_id = $1 AND kind = 'api' ORDER BY id DESC LIMIT 1000",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let tokens = rows
        .iter()
        .map(|r| {
            let scopes: Option<String> = r.try_get("scopes")?;
            Ok(TokenView {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                user_id: r.try_get("user_id")?,
                scopes: scopes
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default(),
                created_at: rfc3339(r.try_get("created_at")?),
                expires_at: rfc3339(r.try_get("expires_at")?),
                revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(rfc3339),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(TokenList { tokens }))
}

/// Checks token scopes: non-empty, each a known action or pattern; returns them expanded.
pub fn expand_scopes(scopes: &[String]) -> ApiResult<Vec<String>> {
    if scopes.is_empty() {
        return Err(ApiError::field(
            "invalid_scopes",
            "/scopes",
            "give at least one action the token may use",
        ));
    }
    let mut out = Vec::new();
    for (i, s) in scopes.iter().enumerate() {
        let expanded = forecourt_tenant_config::actions::expand(s);
        if expanded.is_empty() {
            return Err(ApiError::field(
                "invalid_scopes",
                &format!("/scopes/{i}"),
                format!("`{s}` is not an action of the platform"),
            ));
        }
        out.extend(expanded.into_iter().map(String::from));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", security(("bearer" = [])),
    request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 403, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn create_token(
    State(state): State<AppState>,
    authz: Authz,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    authz.check(&Resource::Tenant)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            "invalid_name",
            "/name",
            "the token name must have 1 to 100 characters",
        ));
    }
    let scopes = expand_scopes(&req.scopes)?;
    let days = req.expires_in_days.unwrap_or(90);
    if !(1..=365).contains(&days) {
        return Err(ApiError::field(
            "invalid_expiry",
            "/expires_in_days",
            "a token lives 1 to 365 days",
        ));
    }
    let tenant_id = authz.actor.tenant.tenant.id.clone();
    let user_id = req
        .user_id
        .clone()
        .unwrap_or_else(|| authz.actor.user_id().to_string());
    if crate::users::find_user(&state.db, &tenant_id, &user_id)
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "unknown_user",
            "/user_id",
            format!("user `{user_id}` does not exist in this tenant"),
        ));
    }
    let ttl = Duration::from_secs(u64::from(days) * 86_400);
    let (minted, expires_at) = issue_token(
        &state.db,
        &tenant_id,
        &user_id,
        "api",
        name,
        Some(&scopes),
        ttl,
    )
    .await?;
    audit::record(
        &state.db,
        &tenant_id,
        &authz.actor.audit_name(),
        "token.create",
        &format!("token:{}", minted.id),
        serde_json::json!({ "user_id": user_id, "scopes": scopes, "name": name }),
    )
    .await?;
    let info = TokenView {
        id: minted.id.clone(),
        name: name.to_string(),
        user_id,
        scopes,
        created_at: rfc3339(now_ms()),
        expires_at: rfc3339(expires_at),
        revoked_at: None,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: minted.token,
            info,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::http::error::Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    authz: Authz,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    authz.check(&Resource::Tenant)?;
    let tenant_id = authz.actor.tenant.tenant.id.clone();
    if !super::revoke(&state, &tenant_id, &id).await? {
        return Err(ApiError::NotFound(format!("active token `{id}`")));
    }
    audit::record(
        &state.db,
        &tenant_id,
        &authz.actor.audit_name(),
        "token.revoke",
        &format!("token:{id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
