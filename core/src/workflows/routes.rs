//! Workflow routes: admins and integrators publish, list, deprecate and migrate definitions
//! (`/api/v1/admin/workflows…`); staff read instances and act on them; `GET /api/v1/tasks` is
//! the caller's work queue.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::Json;
use forecourt_workflow_engine as engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{HistoryEntry, PendingTimer, Published, VersionInfo};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{body_bytes, media_type, ApiJson, Authz};
use crate::state::AppState;
use crate::tenancy::Snapshot;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(workflow_versions, publish_workflow))
        .routes(routes!(validate_workflow))
        .routes(routes!(version_detail))
        .routes(routes!(deprecate_version))
        .routes(routes!(migrate_instances))
        .routes(routes!(instance_detail))
        .routes(routes!(instance_command))
        .routes(routes!(tasks))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkflowList {
    /// Every version of every workflow, newest first per workflow.
    pub versions: Vec<VersionInfo>,
}

#[utoipa::path(get, path = "/api/v1/admin/workflows", tag = "workflows", security(("bearer" = [])),
    responses((status = 200, body = WorkflowList), (status = 403, body = crate::http::error::Problem)))]
async fn list_workflows(
    State(state): State<AppState>,
    authz: Authz,
) -> ApiResult<Json<WorkflowList>> {
    authz.check(&Resource::Tenant)?;
    let versions = super::list_versions(&state, &authz.actor.tenant.tenant.id, None).await?;
    Ok(Json(WorkflowList { versions }))
}

#[derive(Debug, Deserialize)]
struct WorkflowParam {
    id: String,
}

#[utoipa::path(get, path = "/api/v1/admin/workflows/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = WorkflowList), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn workflow_versions(
    State(state): State<AppState>,
    authz: Authz,
    Path(WorkflowParam { id }): Path<WorkflowParam>,
) -> ApiResult<Json<WorkflowList>> {
    authz.check(&Resource::Tenant)?;
    let versions = super::list_versions(&state, &authz.actor.tenant.tenant.id, Some(&id)).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("workflow `{id}`")));
    }
    Ok(Json(WorkflowList { versions }))
}

/// Reads a definition upload: YAML (`application/yaml`, `text/yaml`) or JSON.
async fn read_definition(state: &AppState, req: Request) -> ApiResult<String> {
    let content_type = media_type(req.headers());
    let bytes = body_bytes(req, state).await?;
    match content_type.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "application/json" => {}
        other => {
            return Err(ApiError::Invalid {
                code: "unsupported_media_type",
                detail: format!(
                    "send the workflow definition as application/yaml or application/json, not `{other}`"
                ),
                errors: Vec::new(),
            })
        }
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::invalid("body_unreadable", "the definition is not UTF-8 text"))
}

#[utoipa::path(put, path = "/api/v1/admin/workflows/{id}", tag = "workflows", security(("bearer" = [])),
    description = "Publishes a workflow definition (YAML or JSON) as the next immutable version, after validating it in three layers; nothing is stored when anything is wrong (422 lists every error with file, line, column and pointer). New instances start on the newest published version; running instances keep theirs.",
    params(("id" = String, Path, description = "Workflow id; must equal the definition's `id`")),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, description = "Unchanged: equals the latest version", body = Published), (status = 201, body = Published), (status = 409, body = crate::http::error::Problem), (status = 413, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn publish_workflow(
    State(state): State<AppState>,
    authz: Authz,
    Path(WorkflowParam { id }): Path<WorkflowParam>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Published>)> {
    authz.check(&Resource::Tenant)?;
    let text = read_definition(&state, req).await?;
    let snapshot = authz.actor.tenant.clone();
    let published =
        super::publish(&state, &snapshot, &id, &text, &authz.actor.audit_name()).await?;
    let status = if published.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published)))
}

/// A definition that passed validation (not stored).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Validated {
    pub id: String,
    pub subject: String,
    pub hash: String,
    /// Mermaid `stateDiagram-v2` of the definition.
    pub graph: String,
}

#[utoipa::path(post, path = "/api/v1/admin/workflows/{id}/validate", tag = "workflows", security(("bearer" = [])),
    description = "Dry run of a publish: validates the definition and returns its graph; stores nothing.",
    params(("id" = String, Path, description = "Workflow id")),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, body = Validated), (status = 422, body = crate::http::error::Problem)))]
async fn validate_workflow(
    State(state): State<AppState>,
    authz: Authz,
    Path(WorkflowParam { id }): Path<WorkflowParam>,
    req: Request,
) -> ApiResult<Json<Validated>> {
    authz.check(&Resource::Tenant)?;
    let text = read_definition(&state, req).await?;
    let wf = super::validate(&authz.actor.tenant, super::file_name(&id), text).await?;
    Ok(Json(Validated {
        id: wf.id().to_string(),
        subject: wf.subject().to_string(),
        hash: wf.hash().to_string(),
        graph: engine::mermaid(&wf),
    }))
}

#[derive(Debug, Deserialize)]
struct VersionParam {
    id: String,
    version: i64,
}

/// One version with its source and graph.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub info: VersionInfo,
    pub source: String,
    pub graph: String,
}

#[utoipa::path(get, path = "/api/v1/admin/workflows/{id}/versions/{version}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workflow id"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = VersionDetail), (status = 404, body = crate::http::error::Problem)))]
async fn version_detail(
    State(state): State<AppState>,
    authz: Authz,
    Path(VersionParam { id, version }): Path<VersionParam>,
) -> ApiResult<Json<VersionDetail>> {
    authz.check(&Resource::Tenant)?;
    let s = authz.actor.tenant.clone();
    let info = super::version_info(&state, &s.tenant.id, &id, version).await?;
    let source = super::source_of(&state, &s.tenant.id, &id, version).await?;
    let wf = super::compiled(&state, &s, &id, version).await?;
    Ok(Json(VersionDetail {
        info,
        source,
        graph: engine::mermaid(&wf),
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/workflows/{id}/versions/{version}/deprecate", tag = "workflows", security(("bearer" = [])),
    description = "Deprecates a version: it starts no new instance; running instances keep it.",
    params(("id" = String, Path, description = "Workflow id"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = VersionInfo), (status = 404, body = crate::http::error::Problem)))]
async fn deprecate_version(
    State(state): State<AppState>,
    authz: Authz,
    Path(VersionParam { id, version }): Path<VersionParam>,
) -> ApiResult<Json<VersionInfo>> {
    authz.check(&Resource::Tenant)?;
    let info = super::deprecate(
        &state,
        &authz.actor.tenant.tenant.id,
        &id,
        version,
        &authz.actor.audit_name(),
    )
    .await?;
    Ok(Json(info))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationRequest {
    pub from_version: i64,
    pub to_version: i64,
    /// Old state → new state, for states the target version renamed or dropped.
    #[serde(default)]
    pub states: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MigrationResult {
    /// The instances moved.
    pub migrated: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/workflows/{id}/migrate", tag = "workflows", security(("bearer" = [])),
    description = "Moves every running instance from one version to another, all or nothing: a state the target lacks (and that `states` does not map) refuses the whole migration. Timers are re-armed from the target version; approvals in progress restart.",
    params(("id" = String, Path, description = "Workflow id")),
    request_body = MigrationRequest,
    responses((status = 200, body = MigrationResult), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem)))]
async fn migrate_instances(
    State(state): State<AppState>,
    authz: Authz,
    Path(WorkflowParam { id }): Path<WorkflowParam>,
    ApiJson(req): ApiJson<MigrationRequest>,
) -> ApiResult<Json<MigrationResult>> {
    authz.check(&Resource::Tenant)?;
    let s = authz.actor.tenant.clone();
    let migrated = super::migrate(
        &state,
        &s,
        &id,
        req.from_version,
        req.to_version,
        &req.states,
        &authz.actor.audit_name(),
    )
    .await?;
    Ok(Json(MigrationResult { migrated }))
}

/// An instance with its history, pending timers and what the caller may do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub id: String,
    pub workflow: String,
    pub workflow_version: i64,
    pub subject_type: String,
    pub subject_id: String,
    pub store: Option<String>,
    pub state: String,
    pub version: i64,
    pub ended: bool,
    #[schema(value_type = Object)]
    pub subject: Value,
    #[schema(value_type = Object)]
    pub approvals: Value,
    pub actions: Vec<String>,
    pub history: Vec<HistoryEntry>,
    pub timers: Vec<PendingTimer>,
}

#[derive(Debug, Deserialize)]
struct InstanceParam {
    id: String,
}

async fn view(state: &AppState, s: &Snapshot, authz: &Authz, id: &str) -> ApiResult<InstanceView> {
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let stored = super::load_instance(&mut tx, tenant_id, id).await?;
    let history = super::history(&mut tx, tenant_id, id).await?;
    let timers = super::pending_timers(&mut tx, tenant_id, id).await?;
    tx.commit().await?;
    let wf = super::compiled(state, s, &stored.workflow_id, stored.workflow_version).await?;
    let actor = super::staff(s, &authz.actor, stored.store.as_deref());
    Ok(InstanceView {
        actions: engine::available(&wf, &stored.instance, &actor.engine),
        id: stored.id,
        workflow: stored.workflow_id,
        workflow_version: stored.workflow_version,
        subject_type: stored.subject_type,
        subject_id: stored.subject_id,
        store: stored.store,
        state: stored.instance.state.clone(),
        version: stored.instance.version as i64,
        ended: stored.instance.ended,
        approvals: serde_json::to_value(&stored.instance.approvals).unwrap_or(Value::Null),
        subject: stored.instance.subject,
        history,
        timers,
    })
}

async fn instance_store(state: &AppState, tenant_id: &str, id: &str) -> ApiResult<Option<String>> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row =
        sqlx::query("SELECT store_code FROM workflow_instances WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("workflow instance `{id}`")))?;
    tx.commit().await?;
    Ok(row.try_get("store_code")?)
}

#[utoipa::path(get, path = "/api/v1/workflow-instances/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "Instance id")),
    responses((status = 200, body = InstanceView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn instance_detail(
    State(state): State<AppState>,
    authz: Authz,
    Path(InstanceParam { id }): Path<InstanceParam>,
) -> ApiResult<Json<InstanceView>> {
    let s = authz.actor.tenant.clone();
    // One read of the instance; the answer is withheld unless its store is in reach.
    let view = view(&state, &s, &authz, &id).await?;
    authz.check(&Resource::Record {
        kind: "workflow_instance",
        id: id.clone(),
        unit: view.store.clone(),
    })?;
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/v1/workflow-instances/{id}/commands", tag = "workflows", security(("bearer" = [])),
    description = "Fires a transition (or records an approval) as the caller. The workflow decides who may: each transition names roles and a scope relation (`same_store` …) between the caller's org unit and the record. `version` must be the instance version the caller saw: a stale one gets 409 and changes nothing.",
    params(("id" = String, Path, description = "Instance id")),
    request_body = crate::test_drives::routes::CommandRequest,
    responses((status = 200, body = InstanceView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn instance_command(
    State(state): State<AppState>,
    authz: Authz,
    Path(InstanceParam { id }): Path<InstanceParam>,
    ApiJson(req): ApiJson<crate::test_drives::routes::CommandRequest>,
) -> ApiResult<Json<InstanceView>> {
    let s = authz.actor.tenant.clone();
    let Some(version) = req.version else {
        return Err(ApiError::Invalid {
            code: "version_required",
            detail:
                "send the instance `version` you saw, so a concurrent decision is not overwritten"
                    .into(),
            errors: vec![crate::http::error::FieldError {
                pointer: "/version".into(),
                message: "required".into(),
            }],
        });
    };
    let store = instance_store(&state, &s.tenant.id, &id).await?;
    authz.check(&Resource::Record {
        kind: "workflow_instance",
        id: id.clone(),
        unit: store.clone(),
    })?;
    let actor = super::staff(&s, &authz.actor, store.as_deref());
    let command = engine::Command::Fire {
        transition: req.transition,
        input: req
            .input
            .unwrap_or_else(|| Value::Object(Default::default())),
    };
    super::command(&state, &s, &id, Some(version), &command, &actor).await?;
    Ok(Json(view(&state, &s, &authz, &id).await?))
}

/// One item of a work queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub instance_id: String,
    pub workflow: String,
    pub subject_type: String,
    pub subject_id: String,
    pub store: Option<String>,
    pub state: String,
    pub version: i64,
    /// Since when the instance waits in this state.
    pub since: i64,
    /// What the caller may decide.
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// Only instances of this workflow.
    #[serde(default)]
    pub workflow: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "workflows", security(("bearer" = [])),
    description = "The caller's work queue: running instances on which the workflow lets the caller decide something now (by role and scope relation), oldest first, at most 500.",
    params(TaskQuery),
    responses((status = 200, body = TaskList), (status = 401, body = crate::http::error::Problem)))]
async fn tasks(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<TaskQuery>,
) -> ApiResult<Json<TaskList>> {
    let s = authz.actor.tenant.clone();
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM workflow_instances WHERE tenant_id = $1 AND ended = 0 \
         AND ($2 = '' OR workflow_id = $2) ORDER BY updated_at, id LIMIT 5000",
        super::INSTANCE_COLUMNS
    ))
    .bind(tenant_id)
    .bind(q.workflow.as_deref().unwrap_or(""))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        let stored = super::instance_from_row(&r)?;
        if !authz.allows(&Resource::Record {
            kind: "workflow_instance",
            id: stored.id.clone(),
            unit: stored.store.clone(),
        }) {
            continue;
        }
        let wf = super::compiled(&state, &s, &stored.workflow_id, stored.workflow_version).await?;
        let actor = super::staff(&s, &authz.actor, stored.store.as_deref());
        let actions = engine::available(&wf, &stored.instance, &actor.engine);
        if actions.is_empty() {
            continue;
        }
        out.push(Task {
            since: stored.instance.entered_at,
            instance_id: stored.id,
            workflow: stored.workflow_id,
            subject_type: stored.subject_type,
            subject_id: stored.subject_id,
            store: stored.store,
            state: stored.instance.state.clone(),
            version: stored.instance.version as i64,
            actions,
        });
        if out.len() >= 500 {
            break;
        }
    }
    out.sort_by_key(|t| t.since);
    Ok(Json(TaskList { tasks: out }))
}
