//! The storefront: live pages served as HTML by Host (`{slug}.{base domain}`) or under
//! `/t/{slug}/`, from the rendered-page cache with per-request blocks filled for each visitor,
//! and the same pages as their JSON twin. Reached through the router's fallback, so every path
//! that is not an API route can be a tenant's page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use forecourt_page_builder::{Channel, NavLink, Page, RenderRequest, Site, Visit};

use super::site::SiteServices;
use super::{LivePage, RenderKey};
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::routes::{pick_locale, slug_from_host};
use crate::tenancy::Snapshot;

/// Content-Security-Policy of storefront pages: no inline script or style; the configurator
/// island is `/assets/configurator.js`.
const STOREFRONT_CSP: &str = "default-src 'self'; img-src 'self' https: data:; media-src 'self' https:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'";

/// Cookie with the models a visitor looked at (personalised blocks read it).
const SEEN_COOKIE: &str = "fc_seen";
/// Cookie with the visitor's chosen language.
const LOCALE_COOKIE: &str = "fc_locale";

/// An HTML response with the storefront's security headers.
pub fn html_response(status: StatusCode, html: impl Into<Body>) -> Response {
    let mut response = (status, html.into()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(STOREFRONT_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A plain page for "not found" and form results (no tenant input is echoed unescaped).
pub(crate) fn message_page(
    status: StatusCode,
    lang: &str,
    title: &str,
    lines: &[String],
    back: &str,
) -> Response {
    let esc = forecourt_page_builder::sandbox::escape;
    let mut body = String::new();
    for line in lines {
        body.push_str(&format!("<p>{}</p>", esc(line)));
    }
    html_response(
        status,
        format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/storefront.css\"></head>\
             <body><main id=\"main\" class=\"message-page\"><h1>{title}</h1>{body}<p><a href=\"{back}\">{home}</a></p></main></body></html>",
            lang = esc(lang),
            title = esc(title),
            back = esc(back),
            home = if lang.starts_with("zh") { "返回首页" } else { "Back to the home page" },
        ),
    )
}

fn not_found_page(lang: &str, base: &str) -> Response {
    let (title, line) = if lang.starts_with("zh") {
        ("页面不存在", "您要找的页面不存在或已下线。")
    } else {
        (
            "Page not found",
            "The page you are looking for does not exist or is no longer online.",
        )
    };
    message_page(
        StatusCode::NOT_FOUND,
        lang,
        title,
        &[line.to_string()],
        &format!("{base}/"),
    )
}

/// Serves what the router did not match: a storefront page when the path or Host names a
/// tenant, else the API's 404 problem.
pub async fn serve(state: AppState, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let (slug, base, rest) = match path.strip_prefix("/t/") {
        Some(after) => {
            let (slug, rest) = after.split_once('/').unwrap_or((after, ""));
            (
                Some(slug.to_string()),
                format!("/t/{slug}"),
                format!("/{rest}"),
            )
        }
        None => (
            slug_from_host(req.headers(), &state.settings.base_domain).map(str::to_string),
            String::new(),
            path.clone(),
        ),
    };
    let not_api = !rest.starts_with("/api/") && rest != "/api";
    let Some(slug) = slug.filter(|_| not_api) else {
        return ApiError::NotFound("This path".into()).into_response();
    };
    let snapshot = match state.snapshots.get_by_slug(&state.db, &slug).await {
        Ok(Some(s)) => s,
        Ok(None) => return ApiError::NotFound(format!("tenant `{slug}`")).into_response(),
        Err(e) => return e.into_response(),
    };
    // The buyer's order pages (a guest's tracking link) come before the tenant's pages.
    if let Some(order) = rest.strip_prefix("/orders/") {
        let order = order.to_string();
        return crate::orders::page::serve(&state, &snapshot, &base, &order, req)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let result = match *req.method() {
        Method::GET | Method::HEAD => page(&state, &snapshot, &base, &rest, req).await,
        Method::POST => super::forms::submit(&state, &snapshot, &base, &rest, req).await,
        _ => Err(ApiError::Invalid {
            code: "method_not_allowed",
            detail: "This path does not accept that method.".into(),
            errors: vec![],
        }),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Query parameters: the first value of each, at most 32, each at most 256 bytes.
pub fn query_map(query: Option<&str>) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for (k, v) in pairs.into_iter().take(32) {
        if k.len() <= 64 && v.len() <= 256 {
            out.entry(k).or_insert(v);
        }
    }
    out
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn valid_code(c: &str) -> bool {
    (1..=32).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The models a visitor looked at, most recent first (at most 8, well-formed codes only).
fn seen_models(headers: &HeaderMap) -> Vec<String> {
    cookie(headers, SEEN_COOKIE)
        .map(|v| {
            v.split('.')
                .filter(|c| valid_code(c))
                .take(8)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The page's language: `?locale=` when the tenant has it, else the visitor's cookie, else
/// `Accept-Language`, else the tenant's default.
pub(crate) fn page_locale(
    snapshot: &Snapshot,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
) -> String {
    let locales = snapshot
        .doc()
        .map(|d| d.tenant.locales.clone())
        .unwrap_or_default();
    let known = |l: &str| locales.iter().find(|x| x.as_str() == l).cloned();
    query
        .get("locale")
        .and_then(|l| known(l))
        .or_else(|| cookie(headers, LOCALE_COOKIE).and_then(known))
        .unwrap_or_else(|| pick_locale(&locales, headers))
}

/// The storefront navigation in `locale`: live pages with a `nav` position and no parameters.
pub async fn nav(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    locale: &str,
    current: Option<&str>,
) -> ApiResult<Vec<NavLink>> {
    let live = state.pages.live(&state.db, &snapshot.tenant.id).await?;
    let mut entries: Vec<(u32, &LivePage)> = live
        .pages
        .iter()
        .filter(|p| p.page.route.params().is_empty())
        .filter_map(|p| p.page.doc.nav.map(|n| (n, p)))
        .collect();
    entries.sort_by_key(|(n, p)| (*n, p.id.clone()));
    let fallback = snapshot
        .doc()
        .and_then(|d| d.tenant.locales.first().cloned())
        .unwrap_or_else(|| "en".into());
    Ok(entries
        .into_iter()
        .map(|(_, p)| {
            let meta = p
                .page
                .doc
                .meta
                .get(locale)
                .or_else(|| p.page.doc.meta.get(&fallback))
                .or_else(|| p.page.doc.meta.values().next());
            let label = meta
                .map(|m| m.nav_label.clone().unwrap_or_else(|| m.title.clone()))
                .unwrap_or_else(|| p.id.clone());
            let route = p.page.route.as_str();
            NavLink {
                href: if route == "/" {
                    format!("{base}/")
                } else {
                    format!("{base}{route}")
                },
                label,
                current: current == Some(p.id.as_str()),
            }
        })
        .collect())
}

/// Parameters for previewing a page with parameters: the first model; records stay absent.
pub fn sample_params(page: &Page, site: &Site) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for p in page.route.params() {
        let value = match p {
            "model" => site.models.first().map(|m| m.code.clone()),
            _ => Some("preview".to_string()),
        };
        if let Some(v) = value {
            out.insert(p.to_string(), v);
        }
    }
    out
}

/// The visitor of a builder preview: nobody in particular, now.
pub fn preview_visit() -> Visit {
    Visit {
        now_ms: crate::store::now_ms(),
        ..Visit::default()
    }
}

/// Checks route parameters and loads the records they name. `None` when one names nothing.
async fn records(
    state: &AppState,
    snapshot: &Snapshot,
    site: &Site,
    params: &BTreeMap<String, String>,
) -> ApiResult<Option<BTreeMap<String, serde_json::Value>>> {
    let mut out = BTreeMap::new();
    for (name, value) in params {
        match name.as_str() {
            "model" => {
                if !site.models.iter().any(|m| &m.code == value) {
                    return Ok(None);
                }
            }
            "configuration" => {
                match crate::catalog::routes::load_configuration(state, snapshot, value.clone())
                    .await
                {
                    Ok(c) => {
                        out.insert(
                            "configuration".into(),
                            serde_json::to_value(c).map_err(ApiError::internal)?,
                        );
                    }
                    Err(ApiError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            "quote" => match crate::quotes::routes::load_quote(state, snapshot, value).await {
                Ok(q) => {
                    out.insert(
                        "quote".into(),
                        serde_json::to_value(q).map_err(ApiError::internal)?,
                    );
                }
                Err(ApiError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            },
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// What per-request blocks read of a visit, as a cache key: the query, the models looked at
/// and the minute. `None` when the visit carries records (quotes, saved configurations), which
/// are served fresh.
fn visit_key(visit: &Visit) -> Option<String> {
    if !visit.records.is_empty() {
        return None;
    }
    let mut out = params_key(&visit.query);
    out.push('|');
    out.push_str(&visit.seen_models.join("."));
    out.push('|');
    out.push_str(&(visit.now_ms / 60_000).to_string());
    Some(out)
}

fn params_key(params: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in params {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('&');
    }
    out
}

/// One storefront page as HTML.
async fn page(
    state: &AppState,
    snapshot: &Arc<Snapshot>,
    base: &str,
    path: &str,
    req: Request,
) -> ApiResult<Response> {
    let headers = req.headers();
    let query = query_map(req.uri().query());
    let locale = page_locale(snapshot, &query, headers);
    let live = state.pages.live(&state.db, &snapshot.tenant.id).await?;
    let Some((live_page, params)) = live.find(path) else {
        return Ok(not_found_page(&locale, base));
    };
    let site = state.pages.site(snapshot);
    let Some(records) = records(state, snapshot, &site, &params).await? else {
        return Ok(not_found_page(&locale, base));
    };
    let nav = nav(state, snapshot, base, &locale, Some(&live_page.id)).await?;
    let services = SiteServices { state, snapshot };
    let render_req = RenderRequest {
        locale: &locale,
        channel: Channel::Web,
        base_path: base,
        params: &params,
        nav: &nav,
        preview: false,
    };
    let key = RenderKey {
        tenant_id: snapshot.tenant.id.clone(),
        page_id: live_page.id.clone(),
        version: live_page.version,
        config: super::config_key(snapshot),
        locale: locale.clone(),
        base_path: base.to_string(),
        params: params_key(&params),
    };
    let renderer = &state.pages.renderer;
    let rendered = state.pages.rendered(key.clone(), || {
        renderer.render(&live_page.page, &site, &render_req, &services)
    });
    let seen = seen_models(headers);
    let mut response = match rendered.whole() {
        Some(whole) => html_response(StatusCode::OK, whole.to_string()),
        None => {
            let visit = Visit {
                query: query.clone(),
                seen_models: seen.clone(),
                records,
                now_ms: crate::store::now_ms(),
            };
            let fill = || {
                renderer.fill(
                    &rendered,
                    &live_page.page,
                    &site,
                    &render_req,
                    &visit,
                    &services,
                )
            };
            match visit_key(&visit) {
                Some(vk) => html_response(
                    StatusCode::OK,
                    state.pages.for_visit(key, "html", vk, fill).to_string(),
                ),
                None => html_response(StatusCode::OK, fill()),
            }
        }
    };
    let h = response.headers_mut();
    if let Some(model) = params.get("model") {
        let mut list = vec![model.clone()];
        list.extend(seen.into_iter().filter(|m| m != model).take(7));
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{SEEN_COOKIE}={}; Path=/; Max-Age=2592000; SameSite=Lax; HttpOnly",
            list.join(".")
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if query.get("locale") == Some(&locale) {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LOCALE_COOKIE}={locale}; Path=/; Max-Age=31536000; SameSite=Lax"
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// The JSON twin of the live page at `path_and_query`, as JSON text.
pub async fn twin(
    state: &AppState,
    snapshot: &Arc<Snapshot>,
    headers: &HeaderMap,
    path_and_query: &str,
    locale: &str,
    channel: Channel,
) -> ApiResult<Arc<str>> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if !path.starts_with('/') || path.len() > 512 {
        return Err(ApiError::field(
            "invalid_path",
            "/path",
            "`path` is a storefront path starting with `/`, at most 512 characters",
        ));
    }
    let not_found = || ApiError::NotFound(format!("a live page at `{path}`"));
    let live = state.pages.live(&state.db, &snapshot.tenant.id).await?;
    let (live_page, params) = live.find(path).ok_or_else(not_found)?;
    let site = state.pages.site(snapshot);
    let records = records(state, snapshot, &site, &params)
        .await?
        .ok_or_else(not_found)?;
    let base = format!("/t/{}", snapshot.tenant.slug);
    let nav = nav(state, snapshot, &base, locale, Some(&live_page.id)).await?;
    let services = SiteServices { state, snapshot };
    let render_req = RenderRequest {
        locale,
        channel,
        base_path: &base,
        params: &params,
        nav: &nav,
        preview: false,
    };
    let visit = Visit {
        query: query_map(query),
        seen_models: seen_models(headers),
        records,
        now_ms: crate::store::now_ms(),
    };
    let make = || {
        let mut twin =
            state
                .pages
                .renderer
                .twin(&live_page.page, &site, &render_req, &visit, &services);
        if let Some(obj) = twin.as_object_mut() {
            obj.insert("version".into(), live_page.version.into());
        }
        twin.to_string()
    };
    Ok(match visit_key(&visit) {
        Some(vk) => {
            let key = RenderKey {
                tenant_id: snapshot.tenant.id.clone(),
                page_id: live_page.id.clone(),
                version: live_page.version,
                config: super::config_key(snapshot),
                locale: locale.to_string(),
                base_path: base.clone(),
                params: params_key(&params),
            };
            state.pages.for_visit(key, channel.as_str(), vk, make)
        }
        None => Arc::from(make()),
    })
}
