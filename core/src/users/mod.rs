//! Staff users: their org unit, roles and status; creation by operators (CLI) and admins (API).
//!
//! **Invariants**
//! - Emails are unique per tenant (lower-cased); passwords only as argon2id hashes.
//! - A user's unit is an org unit of the tenant's live bundle; roles are roles of that bundle.
//! - No escalation: through the API an actor may hand out a role only when it holds every
//!   action of that role over the user's unit itself.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::{check_password_policy, hash_password};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Authz};
use crate::state::AppState;
use crate::store::{is_unique_violation, now_ms, rfc3339, Db};
use crate::tenancy::Snapshot;

/// A staff user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub unit: Option<String>,
    pub roles: Vec<String>,
    pub status: String,
    pub created_at: String,
}

impl UserView {
    pub fn resource(&self) -> Resource {
        Resource::Record {
            kind: "user",
            id: self.id.clone(),
            unit: self.unit.clone(),
        }
    }
}

/// Checks an email address's shape (the mail system checks the rest).
pub fn normalise_email(email: &str) -> ApiResult<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(e)
    } else {
        Err(ApiError::field(
            "invalid_email",
            "/email",
            format!("`{}` is not an email address", email.trim()),
        ))
    }
}

async fn roles_of(
    tx: &mut crate::store::TenantTx,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role_code FROM user_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY role_code",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
}

fn user_from_row(row: &sqlx::any::AnyRow, roles: Vec<String>) -> Result<UserView, sqlx::Error> {
    Ok(UserView {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        unit: row.try_get("unit_code")?,
        roles,
        status: row.try_get("status")?,
        created_at: rfc3339(row.try_get("created_at")?),
    })
}

/// One user by id.
pub async fn find_user(
    db: &Db,
    tenant_id: &str,
    user_id: &str,
) -> Result<Option<UserView>, sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let row = sqlx::query("SELECT id, email, display_name, unit_code, status, created_at FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    let user = match row {
        Some(row) => {
            let roles = roles_of(&mut tx, tenant_id, user_id).await?;
            Some(user_from_row(&row, roles)?)
        }
        None => None,
    };
    tx.commit().await?;
    Ok(user)
}

/// One user by email.
pub async fn find_user_by_email(
    db: &Db,
    tenant_id: &str,
    email: &str,
) -> Result<Option<UserView>, sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let id: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND email = $2")
            .bind(tenant_id)
            .bind(email.trim().to_lowercase())
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    match id {
        Some(id) => find_user(db, tenant_id, &id).await,
        None => Ok(None),
    }
}

/// What a new user is made of.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    /// Omit for a service account that only uses API tokens.
    pub password: Option<String>,
    pub roles: Vec<String>,
    /// Store, dealer group or region code; omit for tenant level.
    pub unit: Option<String>,
}

/// Checks roles and unit against the tenant's live bundle.
fn check_roles_and_unit(
    snapshot: &Snapshot,
    roles: &[String],
    unit: Option<&str>,
) -> ApiResult<()> {
    let doc = snapshot.doc().ok_or_else(|| ApiError::Conflict {
        code: "tenant_not_configured",
        detail:
            "Apply the tenant's bundle before creating users: roles and org units come from it."
                .into(),
    })?;
    for (i, role) in roles.iter().enumerate() {
        if !doc.roles.iter().any(|r| &r.code == role) {
            let known: Vec<&str> = doc.roles.iter().map(|r| r.code.as_str()).collect();
            return Err(ApiError::field(
                "unknown_role",
                &format!("/roles/{i}"),
                format!(
                    "role `{role}` is not defined in tenant.yaml (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(unit) = unit {
        if !snapshot.policies.has_unit(unit) {
            return Err(ApiError::field(
                "unknown_unit",
                "/unit",
                format!("`{unit}` is not a region, dealer group or store of this tenant"),
            ));
        }
    }
    Ok(())
}

/// Creates a user (no permission check: callers check). Returns the stored view.
pub async fn create_user(
    db: &Db,
    snapshot: &Snapshot,
    new: &NewUser,
    actor: &str,
) -> ApiResult<UserView> {
    let email = normalise_email(&new.email)?;
    let display_name = new.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 200 {
        return Err(ApiError::field(
            "invalid_display_name",
            "/display_name",
            "the display name must have 1 to 200 characters",
        ));
    }
    let roles: BTreeSet<String> = new.roles.iter().cloned().collect();
    let roles: Vec<String> = roles.into_iter().collect();
    check_roles_and_unit(snapshot, &roles, new.unit.as_deref())?;
    let password_hash = hash_new_password(new.password.as_deref()).await?;
    let tenant_id = &snapshot.tenant.id;
    let id = uuid::Uuid::now_v7().to_string();
    let created_at = now_ms();
    let mut tx = db.tenant_tx(tenant_id).await?;
    let inserted = sqlx::query(
        "INSERT INTO users (tenant_id, id, email, display_name, password_hash, unit_code, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(&email)
    .bind(display_name)
    .bind(password_hash)
    .bind(new.unit.clone())
    .bind(created_at)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        return Err(if is_unique_violation(&e) {
            ApiError::Conflict {
                code: "email_taken",
                detail: format!("a user with email `{email}` already exists in this tenant"),
            }
        } else {
            e.into()
        });
    }
    for role in &roles {
        sqlx::query("INSERT INTO user_roles (tenant_id, user_id, role_code) VALUES ($1, $2, $3)")
            .bind(tenant_id)
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    audit::record_in(
        &mut tx,
        tenant_id,
        actor,
        "user.create",
        &format!("user:{id}"),
        serde_json::json!({ "roles": roles, "unit": new.unit }),
    )
    .await?;
    tx.commit().await?;
    Ok(UserView {
        id,
        email,
        display_name: display_name.to_string(),
        unit: new.unit.clone(),
        roles,
        status: "active".into(),
        created_at: rfc3339(created_at),
    })
}

/// Checks and hashes a new password off the async workers (argon2id is deliberately slow).
async fn hash_new_password(password: Option<&str>) -> ApiResult<Option<String>> {
    let Some(p) = password else { return Ok(None) };
    check_password_policy(p)?;
    let p = p.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(ApiError::internal)??;
    Ok(Some(hash))
}

/// Every user of the tenant (bounded), newest first.
async fn all_users(db: &Db, tenant_id: &str) -> Result<Vec<UserView>, sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query("SELECT id, email, display_name, unit_code, status, created_at FROM users WHERE tenant_id = $1 ORDER BY id DESC LIMIT 10000")
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await?;
    let role_rows = sqlx::query(
        "SELECT user_id, role_code FROM user_roles WHERE tenant_id = $1 ORDER BY role_code",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut roles: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for r in role_rows {
        roles
            .entry(r.try_get("user_id")?)
            .or_default()
            .push(r.try_get("role_code")?);
    }
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            user_from_row(row, roles.remove(&id).unwrap_or_default())
        })
        .collect()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user_route))
        .routes(routes!(get_user, update_user))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The users the caller may read", body = UserList)))]
async fn list_users(State(state): State<AppState>, authz: Authz) -> ApiResult<Json<UserList>> {
    let users = all_users(&state.db, &authz.actor.tenant.tenant.id).await?;
    Ok(Json(UserList {
        users: users
            .into_iter()
            .filter(|u| authz.allows(&u.resource()))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn get_user(
    State(state): State<AppState>,
    authz: Authz,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = find_user(&state.db, &authz.actor.tenant.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user `{id}`")))?;
    authz.check(&user.resource())?;
    Ok(Json(user))
}

/// Refuses to hand out a role whose actions the actor does not hold over `target` itself.
fn check_no_escalation(authz: &Authz, roles: &[String], target: &Resource) -> ApiResult<()> {
    let Some(doc) = authz.actor.tenant.doc() else {
        return Ok(());
    };
    for role in doc.roles.iter().filter(|r| roles.contains(&r.code)) {
        for grant in &role.grants {
            for pattern in &grant.actions {
                for action in forecourt_tenant_config::actions::expand(pattern) {
                    if !authz
                        .policies()
                        .allows(&authz.actor.principal, action, target)
                    {
                        return Err(ApiError::Forbidden {
                            action: action.to_string(),
                            detail: format!("You may not give role `{}`: it grants {action}, which you do not hold over {}.", role.code, target.describe()),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn create_user_route(
    State(state): State<AppState>,
    authz: Authz,
    ApiJson(new): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    if let Some(unit) = &new.unit {
        if !authz.actor.tenant.policies.has_unit(unit) {
            return Err(ApiError::field(
                "unknown_unit",
                "/unit",
                format!("`{unit}` is not a region, dealer group or store of this tenant"),
            ));
        }
    }
    let target = Resource::Record {
        kind: "user",
        id: "new".into(),
        unit: new.unit.clone(),
    };
    authz.check(&target)?;
    check_no_escalation(&authz, &new.roles, &target)?;
    let user = create_user(
        &state.db,
        &authz.actor.tenant,
        &new,
        &authz.actor.audit_name(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    /// New org unit code; `""` moves the user to tenant level.
    pub unit: Option<String>,
    /// `active` or `disabled`.
    pub status: Option<String>,
    pub password: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn update_user(
    State(state): State<AppState>,
    authz: Authz,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<UserView>> {
    let tenant_id = authz.actor.tenant.tenant.id.clone();
    let user = find_user(&state.db, &tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user `{id}`")))?;
    authz.check(&user.resource())?;
    let unit = match &patch.unit {
        None => user.unit.clone(),
        Some(u) if u.is_empty() => None,
        Some(u) => Some(u.clone()),
    };
    let roles = patch.roles.clone().unwrap_or_else(|| user.roles.clone());
    check_roles_and_unit(&authz.actor.tenant, &roles, unit.as_deref())?;
    let target = Resource::Record {
        kind: "user",
        id: id.clone(),
        unit: unit.clone(),
    };
    authz.check(&target)?;
    check_no_escalation(&authz, &roles, &target)?;
    if let Some(status) = &patch.status {
        if status != "active" && status != "disabled" {
            return Err(ApiError::field(
                "invalid_status",
                "/status",
                "status is `active` or `disabled`",
            ));
        }
    }
    if let Some(name) = &patch.display_name {
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(ApiError::field(
                "invalid_display_name",
                "/display_name",
                "the display name must have 1 to 200 characters",
            ));
        }
    }
    let password_hash = hash_new_password(patch.password.as_deref()).await?;
    let mut tx = state.db.tenant_tx(&tenant_id).await?;
    sqlx::query(
        "UPDATE users SET display_name = COALESCE($1, display_name), unit_code = $2, status = COALESCE($3, status), \
         password_hash = COALESCE($4, password_hash) WHERE tenant_id = $5 AND id = $6",
    )
    .bind(patch.display_name.as_deref().map(str::trim))
    .bind(unit.clone())
    .bind(patch.status.clone())
    .bind(password_hash)
    .bind(&tenant_id)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    if patch.roles.is_some() {
        sqlx::query("DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2")
            .bind(&tenant_id)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        for role in roles.iter().collect::<BTreeSet<_>>() {
            sqlx::query(
                "INSERT INTO user_roles (tenant_id, user_id, role_code) VALUES ($1, $2, $3)",
            )
            .bind(&tenant_id)
            .bind(&id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
    }
    let changed: Vec<&str> = [
        patch.display_name.as_ref().map(|_| "display_name"),
        patch.roles.as_ref().map(|_| "roles"),
        patch.unit.as_ref().map(|_| "unit"),
        patch.status.as_ref().map(|_| "status"),
        patch.password.as_ref().map(|_| "password"),
    ]
    .into_iter()
    .flatten()
    .collect();
    audit::record_in(
        &mut tx,
        &tenant_id,
        &authz.actor.audit_name(),
        "user.update",
        &format!("user:{id}"),
        serde_json::json!({ "changed": changed, "roles": roles, "unit": unit }),
    )
    .await?;
    tx.commit().await?;
    // Credentials cache the user's roles and unit; drop them so this node sees the change now.
    state.tokens.clear();
    let user = find_user(&state.db, &tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user `{id}`")))?;
    Ok(Json(user))
}
