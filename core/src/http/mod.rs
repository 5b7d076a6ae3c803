//! The HTTP edge: the router assembled from every area's `router()`, shared middleware (request
//! id and span, metrics, declared-access check, body limits, panic guard), health endpoints, the
//! OpenAPI 3.1 document, and serving with graceful shutdown.
//!
//! **Invariants**
//! - Every response that is an error is `application/problem+json` with a stable `code`,
//!   including unknown routes (404), wrong methods (405), oversized bodies (413) and panics (500).
//! - A matched route that is not declared in [`routes::ROUTES`] is refused.

pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod request_id;
pub mod routes;

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(title = "Forecourt API", description = "Multi-tenant car retail: tenants, org tree, staff auth, permission scopes and tenant configuration as data."),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "auth", description = "Login, sessions and API tokens"),
        (name = "tenancy", description = "Tenant profile and org tree"),
        (name = "users", description = "Staff users"),
        (name = "authz", description = "Permission scopes and explanations"),
        (name = "bundles", description = "Tenant configuration as data"),
        (name = "audit", description = "Audit log"),
        (name = "storefront", description = "Public storefront data"),
        (name = "workflows", description = "Workflow definitions, instances and work queues"),
        (name = "test-drives", description = "Test-drive slots and bookings"),
        (name = "pages", description = "Storefront pages: the builder's API, the block library, the builder UI and assets"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fc1.<tenant>.<id>.<secret>")
                    .build(),
            ),
        );
    }
}

static OPENAPI_JSON: OnceLock<String> = OnceLock::new();

/// The OpenAPI document of every route (built once per process).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let defaults = crate::state::Settings::default();
    api_router(defaults.body_limit, defaults.bundle_body_limit)
        .split_for_parts()
        .1
}

/// Every storefront route (tenant from Host or `/t/{slug}`).
fn public_api() -> OpenApiRouter<AppState> {
    crate::tenancy::routes::public_router()
        .merge(crate::finance::routes::public_router())
        .merge(crate::catalog::routes::public_router())
        .merge(crate::quotes::routes::public_router())
        .merge(crate::test_drives::routes::public_router())
        .merge(crate::pages::routes::public_router())
        .merge(crate::orders::routes::public_router())
        .merge(crate::payments::routes::public_router())
        .merge(crate::buyers::routes::public_router())
}

fn api_router(body_limit: usize, bundle_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_route))
        .routes(routes!(openapi_json))
        .routes(routes!(tenant_schema))
        .routes(routes!(workflow_schema))
        .merge(crate::auth::routes::router())
        .merge(crate::tenancy::routes::router())
        .merge(public_api())
        .merge(crate::users::router())
        .merge(crate::authz::routes::router())
        .merge(crate::audit::router())
        .merge(crate::workflows::routes::router())
        .merge(crate::outbox::routes::router())
        .merge(crate::test_drives::routes::router())
        .merge(crate::pages::routes::router())
        // Stock uploads (CSV import, DMS sync of up to 5,000 vehicles) get the upload limit.
        .merge(crate::inventory::routes::router().layer(DefaultBodyLimit::max(bundle_limit)))
        .merge(crate::orders::routes::router())
        .merge(crate::bundles::routes::router().layer(DefaultBodyLimit::max(bundle_limit)))
        .layer(DefaultBodyLimit::max(body_limit))
}

/// The complete application router.
pub fn router(state: AppState) -> Router {
    let bundle_limit = state.settings.bundle_body_limit;
    let body_limit = state.settings.body_limit;
    let (router, api) = api_router(body_limit, bundle_limit).split_for_parts();
    // The same storefront routes under the path prefix, for hosts that are not {slug}.{base}.
    let router = router.nest(
        "/t/{slug}",
        public_api()
            .layer(DefaultBodyLimit::max(body_limit))
            .split_for_parts()
            .0,
    );
    OPENAPI_JSON.get_or_init(|| serde_json::to_string(&api).unwrap_or_default());
    metrics::handle();
    router
        .route_layer(middleware::from_fn(declared_access))
        .fallback(storefront_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            early_413(req, next, body_limit, bundle_limit)
        }))
        .layer(middleware::from_fn(request_id::middleware))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .with_state(state)
}

/// Refuses a declared `Content-Length` over the route's limit before reading anything.
async fn early_413(req: Request, next: Next, default: usize, bundle: usize) -> Response {
    let is_bundle = req.extensions().get::<MatchedPath>().is_some_and(|p| {
        p.as_str().starts_with("/api/v1/admin/bundle")
            || p.as_str().starts_with("/api/v1/vehicles/")
    });
    let limit = if is_bundle { bundle } else { default };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(req).await
}

/// Refuses matched routes that have no declared access (default deny).
async fn declared_access(req: Request, next: Next) -> Response {
    if let Some(path) = req.extensions().get::<MatchedPath>() {
        if routes::access(req.method().as_str(), path.as_str()).is_none() {
            return ApiError::Forbidden {
                action: "undeclared".into(),
                detail: "This route declares no access rule, so it is closed.".into(),
            }
            .into_response();
        }
    }
    next.run(req).await
}

/// Unmatched paths: a tenant's storefront page (by `/t/{slug}/…` or Host), else 404.
async fn storefront_or_not_found(State(state): State<AppState>, req: Request) -> Response {
    crate::pages::storefront::serve(state, req).await
}

async fn method_not_allowed() -> ApiError {
    ApiError::Invalid {
        code: "method_not_allowed",
        detail: "This path does not accept that method.".into(),
        errors: vec![],
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    pub status: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Ready), (status = 503, body = error::Problem)))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database unreachable");
        ApiError::Unavailable("The database does not answer.".into())
    })?;
    Ok(Json(Ready {
        status: "ready",
        database: state.db.backend.as_str(),
    }))
}

#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics_route() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::render(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "health", responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.get().cloned().unwrap_or_default(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/schemas/tenant.json", tag = "bundles", responses((status = 200, description = "JSON Schema of tenant.yaml", content_type = "application/schema+json")))]
async fn tenant_schema() -> Response {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(forecourt_tenant_config::tenant_schema()),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/v1/schemas/workflow.json", tag = "workflows", responses((status = 200, description = "JSON Schema of a workflow definition (YAML or JSON)", content_type = "application/schema+json")))]
async fn workflow_schema() -> Response {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(forecourt_workflow_engine::workflow_schema()),
    )
        .into_response()
}

/// Serves `app` on `listener` until SIGTERM or Ctrl-C, then drains in-flight requests.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; draining requests");
}
