//! The audit log: who changed what, when, per tenant; and the route that reads it.
//!
//! **Invariants**: entries are only ever inserted; details hold ids and codes, never passwords,
//! secrets or personal data.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::authz::Resource;
use crate::http::error::ApiResult;
use crate::http::extract::Authz;
use crate::state::AppState;
use crate::store::{now_ms, rfc3339, Db, TenantTx};

/// Appends an entry in its own transaction.
pub async fn record(
    db: &Db,
    tenant_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    record_in(&mut tx, tenant_id, actor, action, target, detail).await?;
    tx.commit().await
}

/// Appends an entry inside the caller's transaction (so it commits with the change).
pub async fn record_in(
    tx: &mut TenantTx,
    tenant_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (tenant_id, id, at, actor, action, target, detail, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(tenant_id)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .bind(crate::http::request_id::current())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries older than this entry id (for paging).
    pub before: Option<String>,
    /// At most this many entries (1–500, default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = crate::http::error::Problem)))]
async fn list_audit(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    authz.check(&Resource::Tenant)?;
    let tenant_id = &authz.actor.tenant.tenant.id;
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 500));
    let before = q.before.unwrap_or_else(|| "~".into());
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(
        "SELECT id, at, actor, action, target, detail, request_id FROM audit_log \
         WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant_id)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let entries = rows
        .iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: rfc3339(r.try_get("at")?),
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                request_id: r.try_get("request_id")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(AuditPage { entries }))
}
