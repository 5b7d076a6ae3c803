//! Page routes: the builder's admin API (`/api/v1/admin/pages…`, `page.edit` to read, save and
//! preview, `page.publish` to publish and roll back), the block library, the page schema, the
//! storefront's JSON twin, the builder UI at `/admin/pages` and the static assets.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use forecourt_page_builder::{assets, Channel, RenderRequest};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageDetail, PageSummary, VersionView};
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{body_bytes, media_type, ApiJson, Authz};
use crate::state::AppState;
use crate::tenancy::routes::PublicTenant;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pages))
        .routes(routes!(get_page, save_page))
        .routes(routes!(preview_page))
        .routes(routes!(publish_page))
        .routes(routes!(rollback_page))
        .routes(routes!(page_version))
        .routes(routes!(block_library))
        .routes(routes!(page_schema))
        .routes(routes!(builder_ui))
        .routes(routes!(asset))
}

/// Storefront routes: reachable by Host and under `/t/{slug}`.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(page_twin))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageList {
    pub pages: Vec<PageSummary>,
}

#[utoipa::path(get, path = "/api/v1/admin/pages", tag = "pages", security(("bearer" = [])),
    responses((status = 200, body = PageList), (status = 403, body = crate::http::error::Problem)))]
async fn list_pages(State(state): State<AppState>, authz: Authz) -> ApiResult<Json<PageList>> {
    authz.check(&Resource::Tenant)?;
    let pages = super::list(&state.db, &authz.actor.tenant).await?;
    Ok(Json(PageList { pages }))
}

#[derive(Debug, Deserialize)]
struct PageParam {
    id: String,
}

fn check_id(id: &str) -> ApiResult<()> {
    let ok = (1..=48).contains(&id.len())
        && id.as_bytes()[0].is_ascii_lowercase()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("page `{id}`")))
    }
}

#[utoipa::path(get, path = "/api/v1/admin/pages/{id}", tag = "pages", security(("bearer" = [])),
    params(("id" = String, Path, description = "Page id")),
    responses((status = 200, body = PageDetail), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn get_page(
    State(state): State<AppState>,
    authz: Authz,
    Path(PageParam { id }): Path<PageParam>,
) -> ApiResult<Json<PageDetail>> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    Ok(Json(
        super::detail(&state.db, &authz.actor.tenant, &id).await?,
    ))
}

/// A page document sent as JSON text (kept as text so errors carry line and column).
async fn read_document(state: &AppState, req: Request) -> ApiResult<String> {
    let content_type = media_type(req.headers());
    if content_type != "application/json" {
        return Err(ApiError::invalid(
            "unsupported_media_type",
            "Send the page document as JSON with `Content-Type: application/json`.",
        ));
    }
    let bytes = body_bytes(req, state).await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::invalid("body_unreadable", "the page document is not UTF-8 text"))
}

#[utoipa::path(put, path = "/api/v1/admin/pages/{id}", tag = "pages", security(("bearer" = [])),
    description = "Saves the page's draft (creating the page on first save) after validating it against the block library and the tenant's catalog; nothing is saved when anything is wrong (422 lists every error with its JSON pointer, line and column). Buyers see nothing until it is published.",
    params(("id" = String, Path, description = "Page id; must equal the document's `id`")),
    request_body(content = Object, description = "A page document (see /api/v1/schemas/page.json)"),
    responses((status = 200, body = PageDetail), (status = 403, body = crate::http::error::Problem), (status = 413, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn save_page(
    State(state): State<AppState>,
    authz: Authz,
    Path(PageParam { id }): Path<PageParam>,
    req: Request,
) -> ApiResult<Json<PageDetail>> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    let text = read_document(&state, req).await?;
    let snapshot = authz.actor.tenant.clone();
    let page = super::validate(&state.pages, &snapshot, &id, &text)?;
    let detail = super::save_draft(&state.db, &snapshot, &page, &authz.actor.audit_name()).await?;
    Ok(Json(detail))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// One of the tenant's locales (default: the tenant's first).
    pub locale: Option<String>,
    /// `web` (default), `app` or `mini`: with `app` or `mini` the JSON twin is returned.
    pub channel: Option<String>,
}

/// The locale to render in: `asked` when the tenant has it, else the tenant's first.
pub(crate) fn locale_for(
    snapshot: &crate::tenancy::Snapshot,
    asked: Option<&str>,
) -> ApiResult<String> {
    let locales = snapshot
        .doc()
        .map(|d| d.tenant.locales.clone())
        .unwrap_or_default();
    match asked {
        Some(l) if locales.iter().any(|x| x == l) => Ok(l.to_string()),
        Some(l) => Err(ApiError::field(
            "unknown_locale",
            "/locale",
            format!(
                "`{l}` is not one of this storefront's languages ({})",
                locales.join(", ")
            ),
        )),
        None => Ok(locales.first().cloned().unwrap_or_else(|| "en".into())),
    }
}

#[utoipa::path(post, path = "/api/v1/admin/pages/{id}/preview", tag = "pages", security(("bearer" = [])),
    description = "Renders a page document that need not be saved (the builder's live preview): the whole HTML page, or its JSON twin for `channel=app|mini`, with sample route parameters. Nothing is stored or cached.",
    params(("id" = String, Path, description = "Page id"), PreviewQuery),
    request_body(content = Object, description = "A page document"),
    responses((status = 200, description = "The page", content_type = "text/html"), (status = 403, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn preview_page(
    State(state): State<AppState>,
    authz: Authz,
    Path(PageParam { id }): Path<PageParam>,
    Query(q): Query<PreviewQuery>,
    req: Request,
) -> ApiResult<Response> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    let snapshot = authz.actor.tenant.clone();
    let locale = locale_for(&snapshot, q.locale.as_deref())?;
    let channel = match q.channel.as_deref() {
        None => Channel::Web,
        Some(c) => Channel::parse(c).ok_or_else(|| {
            ApiError::field(
                "unknown_channel",
                "/channel",
                format!("`{c}` is not a channel: use web, app or mini"),
            )
        })?,
    };
    let text = read_document(&state, req).await?;
    let page = super::validate(&state.pages, &snapshot, &id, &text)?;
    let site = state.pages.site(&snapshot);
    let params = super::storefront::sample_params(&page, &site);
    let base = format!("/t/{}", snapshot.tenant.slug);
    let nav = super::storefront::nav(&state, &snapshot, &base, &locale, Some(&page.doc.id)).await?;
    let services = super::site::SiteServices {
        state: &state,
        snapshot: &snapshot,
    };
    let req = RenderRequest {
        locale: &locale,
        channel,
        base_path: &base,
        params: &params,
        nav: &nav,
        preview: true,
    };
    let visit = super::storefront::preview_visit();
    let renderer = &state.pages.renderer;
    if channel != Channel::Web {
        return Ok(Json(renderer.twin(&page, &site, &req, &visit, &services)).into_response());
    }
    let rendered = renderer.render(&page, &site, &req, &services);
    let html = renderer.fill(&rendered, &page, &site, &req, &visit, &services);
    Ok(super::storefront::html_response(StatusCode::OK, html))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The draft hash the publisher reviewed; a draft saved since is refused (409
    /// `stale_draft`). Optional for scripts that publish what is saved.
    pub draft_hash: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/pages/{id}/publish", tag = "pages", security(("bearer" = [])),
    description = "Publishes the saved draft as the next immutable version and makes it live on every node within a second.",
    params(("id" = String, Path, description = "Page id")),
    request_body = PublishRequest,
    responses((status = 200, body = PageDetail), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn publish_page(
    State(state): State<AppState>,
    authz: Authz,
    Path(PageParam { id }): Path<PageParam>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> ApiResult<Json<PageDetail>> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    let detail = super::publish(
        &state.db,
        &state.pages,
        &authz.actor.tenant,
        &id,
        body.draft_hash.as_deref(),
        &authz.actor.audit_name(),
    )
    .await?;
    Ok(Json(detail))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The published version to make live again.
    pub version: i64,
}

#[utoipa::path(post, path = "/api/v1/admin/pages/{id}/rollback", tag = "pages", security(("bearer" = [])),
    description = "Makes an earlier published version live again (on every node within a second) and resets the draft to it. Versions are never changed or deleted.",
    params(("id" = String, Path, description = "Page id")),
    request_body = RollbackRequest,
    responses((status = 200, body = PageDetail), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem)))]
async fn rollback_page(
    State(state): State<AppState>,
    authz: Authz,
    Path(PageParam { id }): Path<PageParam>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> ApiResult<Json<PageDetail>> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    let detail = super::rollback(
        &state.db,
        &state.pages,
        &authz.actor.tenant,
        &id,
        body.version,
        &authz.actor.audit_name(),
    )
    .await?;
    Ok(Json(detail))
}

#[derive(Debug, Deserialize)]
struct VersionParam {
    id: String,
    version: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageVersion {
    #[serde(flatten)]
    pub version: VersionView,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

#[utoipa::path(get, path = "/api/v1/admin/pages/{id}/versions/{version}", tag = "pages", security(("bearer" = [])),
    params(("id" = String, Path, description = "Page id"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = PageVersion), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn page_version(
    State(state): State<AppState>,
    authz: Authz,
    Path(VersionParam { id, version }): Path<VersionParam>,
) -> ApiResult<Json<PageVersion>> {
    authz.check(&Resource::Tenant)?;
    check_id(&id)?;
    let (version, document) =
        super::version_document(&state.db, &authz.actor.tenant.tenant.id, &id, version).await?;
    Ok(Json(PageVersion { version, document }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockLibrary {
    /// Every block type in palette order: label, icon, category, props schema, defaults.
    #[schema(value_type = Vec<Object>)]
    pub blocks: serde_json::Value,
    /// The tenant's model codes and names (for `model` fields).
    #[schema(value_type = Vec<Object>)]
    pub models: Vec<serde_json::Value>,
    /// The tenant's store codes and names (for `store` fields).
    #[schema(value_type = Vec<Object>)]
    pub stores: Vec<serde_json::Value>,
    pub locales: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/blocks", tag = "pages", security(("bearer" = [])),
    responses((status = 200, body = BlockLibrary), (status = 403, body = crate::http::error::Problem)))]
async fn block_library(
    State(state): State<AppState>,
    authz: Authz,
) -> ApiResult<Json<BlockLibrary>> {
    authz.check(&Resource::Tenant)?;
    let site = state.pages.site(&authz.actor.tenant);
    Ok(Json(BlockLibrary {
        blocks: state.pages.renderer.library().describe(),
        models: site
            .models
            .iter()
            .map(|m| serde_json::json!({ "code": m.code, "name": m.name }))
            .collect(),
        stores: site
            .stores
            .iter()
            .map(|s| serde_json::json!({ "code": s.code, "name": s.name }))
            .collect(),
        locales: site.tenant.locales.clone(),
    }))
}

#[utoipa::path(get, path = "/api/v1/schemas/page.json", tag = "pages",
    responses((status = 200, description = "JSON Schema of page documents", content_type = "application/schema+json")))]
async fn page_schema() -> Response {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(forecourt_page_builder::render::page_schema()),
    )
        .into_response()
}

/// Content-Security-Policy of the builder: its own scripts and styles only; the preview is a
/// sandboxed `srcdoc` frame.
const BUILDER_CSP: &str = "default-src 'self'; img-src 'self' https: data:; media-src 'self' https:; \
     style-src 'self'; script-src 'self'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

#[utoipa::path(get, path = "/admin/pages", tag = "pages",
    description = "The page builder (HTML; it logs in and calls the admin API).",
    responses((status = 200, description = "The builder UI", content_type = "text/html")))]
async fn builder_ui() -> Response {
    static_file("builder.html", Some(BUILDER_CSP), &HeaderMap::new())
}

#[derive(Debug, Deserialize)]
struct AssetParam {
    file: String,
}

#[utoipa::path(get, path = "/assets/{file}", tag = "pages",
    params(("file" = String, Path, description = "storefront.css, configurator.js, builder.js, builder.css")),
    responses((status = 200, description = "The file"), (status = 304, description = "Not modified"), (status = 404, body = crate::http::error::Problem)))]
async fn asset(Path(AssetParam { file }): Path<AssetParam>, headers: HeaderMap) -> Response {
    if file == "builder.html" {
        return ApiError::NotFound(format!("asset `{file}`")).into_response();
    }
    static_file(&file, None, &headers)
}

fn static_file(name: &str, csp: Option<&'static str>, headers: &HeaderMap) -> Response {
    let Some((content_type, bytes)) = assets::get(name) else {
        return ApiError::NotFound(format!("asset `{name}`")).into_response();
    };
    let etag = assets::etag(name).map(|e| format!("\"{e}\""));
    if let (Some(etag), Some(seen)) = (&etag, headers.get(header::IF_NONE_MATCH)) {
        if seen.as_bytes() == etag.as_bytes() {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response();
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if let Some(csp) = csp {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TwinQuery {
    /// The storefront path, e.g. `/models/s7`.
    pub path: String,
    /// One of the tenant's locales (default: the tenant's first).
    pub locale: Option<String>,
    /// `app` (default), `mini` or `web`.
    pub channel: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/public/pages", tag = "storefront", params(TwinQuery),
    description = "The JSON twin of a live storefront page for apps and mini-programs: the same blocks and data the HTML is rendered from. Query parameters of the page (e.g. `term`, `city`) may be added to `path` after `?`.",
    responses((status = 200, description = "The page as JSON", body = Object), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn page_twin(
    State(state): State<AppState>,
    tenant: PublicTenant,
    headers: HeaderMap,
    Query(q): Query<TwinQuery>,
) -> ApiResult<Response> {
    let channel = match q.channel.as_deref() {
        None => Channel::App,
        Some(c) => Channel::parse(c).ok_or_else(|| {
            ApiError::field(
                "unknown_channel",
                "/channel",
                format!("`{c}` is not a channel: use app, mini or web"),
            )
        })?,
    };
    let snapshot = tenant.0;
    let locale = locale_for(&snapshot, q.locale.as_deref())?;
    let twin =
        super::storefront::twin(&state, &snapshot, &headers, &q.path, &locale, channel).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        twin.to_string(),
    )
        .into_response())
}
