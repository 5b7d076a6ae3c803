//! Bundle routes for admins and integrators: upload, dry-run validation, history, diff, rollback.

use axum::extract::{Path, Query, Request, State};
use axum::Json;
use forecourt_tenant_config::BundleSource;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    apply, list_versions, load_version, rollback, validate_for, ApplyOutcome, Origin,
    UploadedFiles, VersionInfo,
};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{body_bytes, media_type, parse_json, ApiJson, Authz};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_bundle))
        .routes(routes!(validate_bundle))
        .routes(routes!(versions))
        .routes(routes!(version_detail))
        .routes(routes!(diff_versions))
        .routes(routes!(rollback_bundle))
}

/// A bundle as JSON: every file of the bundle directory by its relative path.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleUpload {
    /// `{"tenant.yaml": "<file text>", …}`
    #[schema(value_type = Object)]
    pub files: UploadedFiles,
}

/// Reads an upload: `application/json` (`{"files": {…}}`) or `application/yaml` (tenant.yaml).
/// Reads an upload. A YAML body replaces `tenant.yaml` only: every other file (catalog,
/// scripts …) stays as in the tenant's active version.
async fn read_upload(
    state: &AppState,
    tenant: &crate::tenancy::TenantRow,
    req: Request,
) -> ApiResult<BundleSource> {
    let content_type = media_type(req.headers());
    let bytes = body_bytes(req, state).await?;
    match content_type.as_str() {
        "application/json" => {
            let upload: BundleUpload = parse_json(&bytes)?;
            Ok(BundleSource::from_files(upload.files))
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::invalid("not_utf8", "tenant.yaml must be UTF-8 text"))?;
            let mut files = match tenant.active_version {
                Some(v) => crate::tenancy::version_files(&state.db, &tenant.id, v).await?.map(|s| s.files().clone()).unwrap_or_default(),
                None => UploadedFiles::new(),
            };
            files.retain(|path, _| !matches!(path.as_str(), "tenant.yaml" | "tenant.yml" | "tenant.json"));
            files.insert("tenant.yaml".to_string(), text);
            Ok(BundleSource::from_files(files))
        }
        _ => Err(ApiError::invalid(
            "unsupported_media_type",
            "Send `application/json` with {\"files\": {\"tenant.yaml\": \"…\"}} or `application/yaml` with the text of tenant.yaml.",
        )),
    }
}

#[utoipa::path(put, path = "/api/v1/admin/bundle", tag = "bundles", security(("bearer" = [])),
    description = "Validates the bundle in three layers and, only if every check passes, makes it the tenant's new active version. Body: `application/json` `{\"files\": {…}}` (the whole bundle) or `application/yaml` (a new tenant.yaml; the other files stay as in the active version).",
    request_body(content = BundleUpload),
    responses((status = 200, body = ApplyOutcome), (status = 413, body = crate::http::error::Problem), (status = 422, description = "Every problem found, with file, line, column and pointer", body = crate::http::error::Problem)))]
async fn put_bundle(
    State(state): State<AppState>,
    authz: Authz,
    req: Request,
) -> ApiResult<Json<ApplyOutcome>> {
    // Read the body first: answering before it is read would leave the client's connection
    // unusable for its next request.
    let source = read_upload(&state, &authz.actor.tenant.tenant, req).await;
    authz.check(&Resource::Tenant)?;
    let source = source?;
    let tenant = authz.actor.tenant.tenant.clone();
    Ok(Json(
        apply(
            &state,
            &tenant,
            &source,
            &authz.actor.audit_name(),
            Origin::Apply,
        )
        .await?,
    ))
}

/// The result of a dry run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidationResult {
    pub valid: bool,
    pub hash: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub diagnostics: Vec<forecourt_tenant_config::Diagnostic>,
}

#[utoipa::path(post, path = "/api/v1/admin/bundle/validate", tag = "bundles", security(("bearer" = [])),
    description = "Checks a bundle exactly as apply would, and writes nothing.",
    request_body(content = BundleUpload),
    responses((status = 200, body = ValidationResult)))]
async fn validate_bundle(
    State(state): State<AppState>,
    authz: Authz,
    req: Request,
) -> ApiResult<Json<ValidationResult>> {
    // Read the body first: answering before it is read would leave the client's connection
    // unusable for its next request.
    let source = read_upload(&state, &authz.actor.tenant.tenant, req).await;
    authz.check(&Resource::Tenant)?;
    let source = source?;
    match validate_for(&authz.actor.tenant.tenant, &source) {
        Ok(super::Validated { bundle, .. }) => Ok(Json(ValidationResult {
            valid: true,
            hash: Some(bundle.hash().to_string()),
            diagnostics: bundle.warnings().to_vec(),
        })),
        Err(ApiError::InvalidBundle { diagnostics }) => Ok(Json(ValidationResult {
            valid: false,
            hash: None,
            diagnostics,
        })),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionInfo>,
}

#[utoipa::path(get, path = "/api/v1/admin/bundle/versions", tag = "bundles", security(("bearer" = [])),
    responses((status = 200, body = VersionList)))]
async fn versions(State(state): State<AppState>, authz: Authz) -> ApiResult<Json<VersionList>> {
    authz.check(&Resource::Tenant)?;
    Ok(Json(VersionList {
        versions: list_versions(&state, &authz.actor.tenant.tenant).await?,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionDetail {
    pub version: i64,
    pub hash: String,
    #[schema(value_type = Object)]
    pub files: UploadedFiles,
}

#[utoipa::path(get, path = "/api/v1/admin/bundle/versions/{version}", tag = "bundles", security(("bearer" = [])),
    params(("version" = i64, Path, description = "Version number")),
    responses((status = 200, body = VersionDetail), (status = 404, body = crate::http::error::Problem)))]
async fn version_detail(
    State(state): State<AppState>,
    authz: Authz,
    Path(version): Path<i64>,
) -> ApiResult<Json<VersionDetail>> {
    authz.check(&Resource::Tenant)?;
    let bundle = load_version(&state, &authz.actor.tenant.tenant, version).await?;
    Ok(Json(VersionDetail {
        version,
        hash: bundle.hash().to_string(),
        files: bundle.files().clone(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: i64,
    pub to: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiffView {
    pub from: i64,
    pub to: i64,
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<forecourt_tenant_config::Change>,
}

#[utoipa::path(get, path = "/api/v1/admin/bundle/diff", tag = "bundles", security(("bearer" = [])), params(DiffQuery),
    responses((status = 200, body = DiffView), (status = 404, body = crate::http::error::Problem)))]
async fn diff_versions(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<DiffView>> {
    authz.check(&Resource::Tenant)?;
    let tenant = &authz.actor.tenant.tenant;
    let from = load_version(&state, tenant, q.from).await?;
    let to = load_version(&state, tenant, q.to).await?;
    Ok(Json(DiffView {
        from: q.from,
        to: q.to,
        changes: forecourt_tenant_config::diff(&from, &to),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose content becomes active again (as a new version).
    pub version: i64,
}

#[utoipa::path(post, path = "/api/v1/admin/bundle/rollback", tag = "bundles", security(("bearer" = [])),
    request_body = RollbackRequest,
    responses((status = 200, body = ApplyOutcome), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn rollback_bundle(
    State(state): State<AppState>,
    authz: Authz,
    ApiJson(req): ApiJson<RollbackRequest>,
) -> ApiResult<Json<ApplyOutcome>> {
    authz.check(&Resource::Tenant)?;
    let tenant = authz.actor.tenant.tenant.clone();
    Ok(Json(
        rollback(&state, &tenant, req.version, &authz.actor.audit_name()).await?,
    ))
}
