//! Read-only routes over the tenant profile and org tree, and the public store list that
//! storefronts reach by Host (`{slug}.{base domain}`) or path prefix (`/t/{slug}/`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, RawPathParams};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::Json;
use forecourt_tenant_config::model::{GeoPoint, OpeningHours, Store, TenantDoc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Snapshot;
use crate::authz::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Authz;
use crate::state::AppState;

/// Storefront routes: reachable by Host and, nested by `http`, under `/t/{slug}`.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(public_stores))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant_profile))
        .routes(routes!(org_tree))
        .routes(routes!(list_stores))
        .routes(routes!(get_store))
}

/// The tenant profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantProfileView {
    pub id: String,
    pub slug: String,
    pub kind: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub names: BTreeMap<String, String>,
    pub locales: Vec<String>,
    pub currency: Option<String>,
    pub time_zone: Option<String>,
    pub status: String,
    /// The active configuration version (`null` before the first apply).
    pub config_version: Option<i64>,
    pub config_hash: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenancy", security(("bearer" = [])),
    responses((status = 200, body = TenantProfileView), (status = 401, body = crate::http::error::Problem), (status = 403, body = crate::http::error::Problem)))]
async fn tenant_profile(authz: Authz) -> ApiResult<Json<TenantProfileView>> {
    authz.check(&Resource::Tenant)?;
    let s = &authz.actor.tenant;
    let doc = s.doc();
    Ok(Json(TenantProfileView {
        id: s.tenant.id.clone(),
        slug: s.tenant.slug.clone(),
        kind: s.tenant.kind.clone(),
        name: s.tenant.name.clone(),
        names: doc.map(|d| d.tenant.name.clone()).unwrap_or_default(),
        locales: doc.map(|d| d.tenant.locales.clone()).unwrap_or_default(),
        currency: doc.map(|d| d.tenant.currency.clone()),
        time_zone: doc.map(|d| d.tenant.time_zone.clone()),
        status: s.tenant.status.clone(),
        config_version: s.tenant.active_version,
        config_hash: s.bundle.as_ref().map(|b| b.hash().to_string()),
    }))
}

/// The org tree as codes: regions with their dealer groups and stores.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgTreeView {
    pub regions: Vec<RegionView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionView {
    pub code: String,
    pub name: String,
    pub dealer_groups: Vec<DealerGroupView>,
    /// Stores of the region that belong to no dealer group (direct stores).
    pub stores: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DealerGroupView {
    pub code: String,
    pub name: String,
    pub stores: Vec<String>,
}

fn default_text(doc: &TenantDoc, text: &BTreeMap<String, String>) -> String {
    doc.tenant
        .locales
        .first()
        .and_then(|l| text.get(l))
        .cloned()
        .unwrap_or_default()
}

fn require_doc(s: &Snapshot) -> ApiResult<&TenantDoc> {
    s.doc().ok_or_else(|| ApiError::Conflict {
        code: "tenant_not_configured",
        detail: "This tenant has no configuration yet; apply a bundle first.".into(),
    })
}

#[utoipa::path(get, path = "/api/v1/org", tag = "tenancy", security(("bearer" = [])),
    responses((status = 200, body = OrgTreeView), (status = 403, body = crate::http::error::Problem)))]
async fn org_tree(authz: Authz) -> ApiResult<Json<OrgTreeView>> {
    authz.check(&Resource::Tenant)?;
    let doc = require_doc(&authz.actor.tenant)?;
    let regions = doc
        .org
        .regions
        .iter()
        .map(|r| RegionView {
            code: r.code.clone(),
            name: default_text(doc, &r.name),
            dealer_groups: doc
                .org
                .dealer_groups
                .iter()
                .filter(|g| g.region == r.code)
                .map(|g| DealerGroupView {
                    code: g.code.clone(),
                    name: default_text(doc, &g.name),
                    stores: doc
                        .org
                        .stores
                        .iter()
                        .filter(|s| s.dealer_group.as_deref() == Some(g.code.as_str()))
                        .map(|s| s.code.clone())
                        .collect(),
                })
                .collect(),
            stores: doc
                .org
                .stores
                .iter()
                .filter(|s| s.region == r.code && s.dealer_group.is_none())
                .map(|s| s.code.clone())
                .collect(),
        })
        .collect();
    Ok(Json(OrgTreeView { regions }))
}

/// A store as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreView {
    pub code: String,
    #[schema(value_type = Object)]
    pub name: BTreeMap<String, String>,
    pub kind: String,
    pub level: Option<String>,
    pub region: String,
    pub dealer_group: Option<String>,
    #[schema(value_type = Object)]
    pub city: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub address: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub location: GeoPoint,
    pub phone: Option<String>,
    #[schema(value_type = Object)]
    pub opening_hours: OpeningHours,
}

impl From<&Store> for StoreView {
    fn from(s: &Store) -> Self {
        StoreView {
            code: s.code.clone(),
            name: s.name.clone(),
            kind: s.kind.as_str().into(),
            level: s.level.clone(),
            region: s.region.clone(),
            dealer_group: s.dealer_group.clone(),
            city: s.city.clone(),
            address: s.address.clone(),
            location: s.location,
            phone: s.phone.clone(),
            opening_hours: s.opening_hours.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreList {
    pub stores: Vec<StoreView>,
}

#[utoipa::path(get, path = "/api/v1/org/stores", tag = "tenancy", security(("bearer" = [])),
    responses((status = 200, description = "The stores the caller may read", body = StoreList)))]
async fn list_stores(authz: Authz) -> ApiResult<Json<StoreList>> {
    let doc = require_doc(&authz.actor.tenant)?;
    let stores = doc
        .org
        .stores
        .iter()
        .filter(|s| authz.allows(&Resource::Unit(s.code.clone())))
        .map(StoreView::from)
        .collect();
    Ok(Json(StoreList { stores }))
}

#[utoipa::path(get, path = "/api/v1/org/stores/{code}", tag = "tenancy", security(("bearer" = [])),
    params(("code" = String, Path, description = "Store code")),
    responses((status = 200, body = StoreView), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn get_store(authz: Authz, Path(code): Path<String>) -> ApiResult<Json<StoreView>> {
    let doc = require_doc(&authz.actor.tenant)?;
    let store = doc
        .org
        .store(&code)
        .ok_or_else(|| ApiError::NotFound(format!("store `{code}`")))?;
    authz.check(&Resource::Unit(code.clone()))?;
    Ok(Json(StoreView::from(store)))
}

/// A store as buyers see it on a storefront.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicStore {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub city: String,
    pub address: String,
    #[schema(value_type = Object)]
    pub location: GeoPoint,
    pub phone: Option<String>,
    #[schema(value_type = Object)]
    pub opening_hours: OpeningHours,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicStoreList {
    pub tenant: String,
    pub locale: String,
    pub stores: Vec<PublicStore>,
}

fn public_list(s: &Arc<Snapshot>, headers: &HeaderMap) -> ApiResult<PublicStoreList> {
    let doc = s
        .doc()
        .ok_or_else(|| ApiError::NotFound("this storefront".into()))?;
    let locale = pick_locale(&doc.tenant.locales, headers);
    let text = |t: &BTreeMap<String, String>| {
        t.get(&locale)
            .or_else(|| t.values().next())
            .cloned()
            .unwrap_or_default()
    };
    Ok(PublicStoreList {
        tenant: s.tenant.slug.clone(),
        locale: locale.clone(),
        stores: doc
            .org
            .stores
            .iter()
            .map(|st| PublicStore {
                code: st.code.clone(),
                name: text(&st.name),
                kind: st.kind.as_str().into(),
                city: text(&st.city),
                address: text(&st.address),
                location: st.location,
                phone: st.phone.clone(),
                opening_hours: st.opening_hours.clone(),
            })
            .collect(),
    })
}

/// The first of the tenant's locales named in `Accept-Language`, else its default.
pub(crate) fn pick_locale(locales: &[String], headers: &HeaderMap) -> String {
    let accept = headers
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part.split(';').next().unwrap_or("").trim();
        if let Some(l) = locales.iter().find(|l| l.eq_ignore_ascii_case(tag)) {
            return l.clone();
        }
        if let Some(l) = locales.iter().find(|l| {
            l.split('-').next().is_some_and(|p| {
                tag.split('-')
                    .next()
                    .is_some_and(|t| t.eq_ignore_ascii_case(p))
            })
        }) {
            return l.clone();
        }
    }
    locales.first().cloned().unwrap_or_else(|| "en".into())
}

/// The tenant named by the Host header: `{slug}.{base domain}` (port ignored).
pub fn slug_from_host<'a>(headers: &'a HeaderMap, base_domain: &str) -> Option<&'a str> {
    let host = headers.get("host")?.to_str().ok()?;
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let slug = host.strip_suffix(base_domain)?.strip_suffix('.')?;
    (!slug.contains('.')).then_some(slug)
}

#[utoipa::path(get, path = "/api/v1/public/stores", tag = "storefront",
    description = "Stores of the storefront's tenant: named by the Host (`{slug}.{base domain}`) or, under the prefix `/t/{slug}`, by the path.",
    responses((status = 200, body = PublicStoreList), (status = 404, body = crate::http::error::Problem)))]
async fn public_stores(
    tenant: PublicTenant,
    headers: HeaderMap,
) -> ApiResult<Json<PublicStoreList>> {
    Ok(Json(public_list(&tenant.0, &headers)?))
}

/// The tenant of a public (storefront) request: from the `/t/{slug}` prefix when present, else
/// from the Host header. Never from credentials, body or query.
pub struct PublicTenant(pub Arc<Snapshot>);

impl FromRequestParts<AppState> for PublicTenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_path = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "slug")
                    .map(|(_, v)| v.to_string())
            });
        let slug = match from_path {
            Some(slug) => slug,
            None => slug_from_host(&parts.headers, &state.settings.base_domain)
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "a storefront for this host (use {{slug}}.{} or /t/{{slug}}/…)",
                        state.settings.base_domain
                    ))
                })?
                .to_string(),
        };
        let snapshot = state
            .snapshots
            .get_by_slug(&state.db, &slug)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant `{slug}`")))?;
        Ok(PublicTenant(snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_resolution() {
        let mut h = HeaderMap::new();
        h.insert("host", "aurora.forecourt.test:8080".parse().unwrap());
        assert_eq!(slug_from_host(&h, "forecourt.test"), Some("aurora"));
        h.insert("host", "forecourt.test".parse().unwrap());
        assert_eq!(slug_from_host(&h, "forecourt.test"), None);
        h.insert("host", "a.b.forecourt.test".parse().unwrap());
        assert_eq!(slug_from_host(&h, "forecourt.test"), None);
        h.insert("host", "evilforecourt.test".parse().unwrap());
        assert_eq!(slug_from_host(&h, "forecourt.test"), None);
    }

    #[test]
    fn locale_negotiation() {
        let locales = vec!["zh-CN".to_string(), "en".to_string()];
        let mut h = HeaderMap::new();
        assert_eq!(pick_locale(&locales, &h), "zh-CN");
        h.insert("accept-language", "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(pick_locale(&locales, &h), "en");
        h.insert("accept-language", "zh-TW".parse().unwrap());
        assert_eq!(pick_locale(&locales, &h), "zh-CN");
    }
}
