//! Storefront pages at run time: each page's working draft and its immutable published
//! versions, publish and rollback, the live pages of every tenant cached per node, rendered
//! pages cached per (tenant, page, version, configuration, locale, parameters), and the
//! storefront itself (HTML by Host or `/t/{slug}/`, the JSON twin for apps).
//!
//! The block library, validation and rendering are `forecourt-page-builder`'s; this module
//! stores, decides what is live and serves.
//!
//! **Invariants**
//! - A version row never changes; publish adds one, rollback moves the live pointer to an
//!   older one. Both are recorded in `publish_log`, so every node drops its cached live pages
//!   within one watcher poll (200 ms by default).
//! - A draft is saved only when it validates against the block library and the tenant's
//!   catalog; nothing is half-saved.
//! - A rendered page is cached under its page version and the tenant's configuration hash, so
//!   a publish or a catalog change is never served stale; per-request blocks are filled for
//!   each request.

pub mod forms;
pub mod routes;
pub mod site;
pub mod storefront;

use std::collections::BTreeMap;
use std::sync::Arc;

use forecourt_page_builder::{Page, RenderedPage, Renderer, Site};
use serde::Serialize;
use sqlx::Row;

use crate::http::error::{ApiError, ApiResult};
use crate::store::{now_ms, rfc3339, Db, TenantTx};
use crate::tenancy::{self, Published, Snapshot};

/// The live pages of one tenant, most specific route first.
pub struct LivePages {
    pub pages: Vec<LivePage>,
}

pub struct LivePage {
    pub id: String,
    pub version: i64,
    pub page: Arc<Page>,
}

impl LivePages {
    /// The page serving `path` and its route parameters.
    pub fn find(&self, path: &str) -> Option<(&LivePage, BTreeMap<String, String>)> {
        self.pages
            .iter()
            .find_map(|p| p.page.route.matches(path).map(|params| (p, params)))
    }
}

/// The block library and its compiled templates, built once per process.
pub fn renderer() -> &'static Arc<Renderer> {
    static RENDERER: std::sync::OnceLock<Arc<Renderer>> = std::sync::OnceLock::new();
    RENDERER.get_or_init(|| Arc::new(Renderer::new()))
}

/// What a rendered page is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderKey {
    pub tenant_id: String,
    pub page_id: String,
    pub version: i64,
    /// The tenant's configuration hash (catalog, stores, prices).
    pub config: String,
    pub locale: String,
    pub base_path: String,
    /// Route parameters, `k=v&…` in key order.
    pub params: String,
}

/// Node-local caches of the storefront.
pub struct PageCache {
    pub renderer: Arc<Renderer>,
    live: moka::sync::Cache<String, Arc<LivePages>>,
    rendered: moka::sync::Cache<RenderKey, Arc<RenderedPage>>,
    /// Whole responses for one kind of visitor: (page, output, what the visitor brings).
    visits: moka::sync::Cache<(RenderKey, &'static str, String), Arc<str>>,
    sites: moka::sync::Cache<(String, String), Arc<Site>>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            renderer: renderer().clone(),
            live: moka::sync::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
            rendered: moka::sync::Cache::builder()
                .weigher(|_k, v: &Arc<RenderedPage>| u32::try_from(v.weight()).unwrap_or(u32::MAX))
                .max_capacity(256 * 1024 * 1024)
                .build(),
            visits: moka::sync::Cache::builder()
                .weigher(|_k, v: &Arc<str>| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .max_capacity(64 * 1024 * 1024)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            sites: moka::sync::Cache::builder().max_capacity(20_000).build(),
        }
    }
}

impl PageCache {
    /// Drops the tenant's live pages (a publish or rollback on any node).
    pub fn invalidate(&self, tenant_id: &str) {
        self.live.invalidate(tenant_id);
    }

    /// The storefront facts of `snapshot` (built once per configuration).
    pub fn site(&self, snapshot: &Snapshot) -> Arc<Site> {
        let key = (snapshot.tenant.id.clone(), config_key(snapshot));
        self.sites.get_with(key, || {
            Arc::new(site::build(
                &snapshot.tenant.slug,
                snapshot.bundle.as_deref(),
            ))
        })
    }

    /// The tenant's live pages, from the cache or the database.
    pub async fn live(&self, db: &Db, tenant_id: &str) -> ApiResult<Arc<LivePages>> {
        if let Some(live) = self.live.get(tenant_id) {
            return Ok(live);
        }
        let live = Arc::new(load_live(db, &self.renderer, tenant_id).await?);
        self.live.insert(tenant_id.to_string(), live.clone());
        Ok(live)
    }

    /// A page's whole output (`html`, or the twin of a channel) for visitors who bring the same
    /// `visit` key (query, looked-at models, the minute), made once per minute at most. The
    /// per-request blocks read nothing else, so two such visitors get the same page.
    pub fn for_visit(
        &self,
        key: RenderKey,
        output: &'static str,
        visit: String,
        make: impl FnOnce() -> String,
    ) -> Arc<str> {
        self.visits
            .get_with((key, output, visit), || Arc::from(make()))
    }

    /// A rendered page from the cache, rendering it on a miss.
    pub fn rendered(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> RenderedPage,
    ) -> Arc<RenderedPage> {
        self.rendered.get_with(key, || {
            let page = render();
            for problem in page.problems() {
                tracing::warn!(problem = %problem, "storefront block rendered as a placeholder");
            }
            Arc::new(page)
        })
    }
}

/// The configuration a snapshot runs, for cache keys (`-` before the first bundle).
pub fn config_key(snapshot: &Snapshot) -> String {
    snapshot
        .bundle
        .as_ref()
        .map(|b| b.hash().to_string())
        .unwrap_or_else(|| "-".into())
}

async fn load_live(db: &Db, renderer: &Renderer, tenant_id: &str) -> ApiResult<LivePages> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(
        "SELECT p.id, p.live_version, v.document FROM pages p JOIN page_versions v \
         ON v.tenant_id = p.tenant_id AND v.page_id = p.id AND v.version = p.live_version \
         WHERE p.tenant_id = $1 AND p.live_version IS NOT NULL",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut pages = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let version: i64 = row.try_get("live_version")?;
        let text: String = row.try_get("document")?;
        match renderer.load(&file_name(&id), &text, None) {
            Ok(page) => pages.push(LivePage {
                id,
                version,
                page: Arc::new(page),
            }),
            Err(report) => tracing::error!(
                page = %id,
                version,
                problems = report.diagnostics.len(),
                "a published page no longer loads; it is not served"
            ),
        }
    }
    pages.sort_by(|a, b| {
        b.page
            .route
            .specificity()
            .cmp(&a.page.route.specificity())
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(LivePages { pages })
}

/// Where a page's diagnostics point: `pages/<id>.json`.
pub fn file_name(page_id: &str) -> String {
    format!("pages/{page_id}.json")
}

/// Validates a page document for `snapshot`'s tenant (shape, blocks, props, references).
pub fn validate(
    cache: &PageCache,
    snapshot: &Snapshot,
    page_id: &str,
    text: &str,
) -> ApiResult<Page> {
    let site = cache.site(snapshot);
    let page = cache
        .renderer
        .load(&file_name(page_id), text, Some(&site))
        .map_err(|report| ApiError::InvalidPage {
            diagnostics: report.diagnostics,
        })?;
    if page.doc.id != page_id {
        return Err(ApiError::field(
            "page_id_mismatch",
            "/id",
            format!(
                "the document's id is `{}` but it is being saved as page `{page_id}`",
                page.doc.id
            ),
        ));
    }
    Ok(page)
}

/// One published version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub route: String,
    pub hash: String,
    pub published_at: String,
    pub published_by: String,
    /// The version buyers see now.
    pub live: bool,
}

/// A page as the builder sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageDetail {
    pub id: String,
    pub route: String,
    #[schema(value_type = Object)]
    pub draft: serde_json::Value,
    pub draft_hash: String,
    pub draft_updated_at: String,
    pub draft_updated_by: String,
    pub live_version: Option<i64>,
    /// The draft differs from the live version (or nothing is live yet).
    pub draft_changed: bool,
    /// Newest first.
    pub versions: Vec<VersionView>,
    /// Where the live page is on the storefront (under `/t/{slug}`).
    pub storefront_url: String,
}

/// One page in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageSummary {
    pub id: String,
    pub route: String,
    pub title: String,
    pub live_version: Option<i64>,
    pub draft_changed: bool,
    pub updated_at: String,
}

/// Takes the tenant's write lock first (publishes of one tenant serialise; SQLite holds the
/// write lock before it reads).
async fn lock_tenant(tx: &mut TenantTx, tenant_id: &str) -> ApiResult<()> {
    sqlx::query("UPDATE tenants SET status = status WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn title_of(doc: &serde_json::Value, locale: &str) -> String {
    let meta = &doc["meta"];
    meta.get(locale)
        .or_else(|| meta.as_object().and_then(|m| m.values().next()))
        .and_then(|m| m["title"].as_str())
        .unwrap_or("")
        .to_string()
}

/// Every page of the tenant, by route.
pub async fn list(db: &Db, snapshot: &Snapshot) -> ApiResult<Vec<PageSummary>> {
    let tenant_id = &snapshot.tenant.id;
    let locale = snapshot
        .doc()
        .and_then(|d| d.tenant.locales.first().cloned())
        .unwrap_or_else(|| "en".into());
    let mut tx = db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(
        "SELECT p.id, p.draft, p.draft_hash, p.draft_updated_at, p.live_version, v.hash AS live_hash \
         FROM pages p LEFT JOIN page_versions v ON v.tenant_id = p.tenant_id AND v.page_id = p.id \
         AND v.version = p.live_version WHERE p.tenant_id = $1 ORDER BY p.id",
    )
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let draft: String = row.try_get("draft")?;
        let doc: serde_json::Value = serde_json::from_str(&draft).map_err(ApiError::internal)?;
        let draft_hash: String = row.try_get("draft_hash")?;
        let live_hash: Option<String> = row.try_get("live_hash")?;
        out.push(PageSummary {
            id: row.try_get("id")?,
            route: doc["route"].as_str().unwrap_or("").to_string(),
            title: title_of(&doc, &locale),
            live_version: row.try_get("live_version")?,
            draft_changed: live_hash.as_deref() != Some(draft_hash.as_str()),
            updated_at: rfc3339(row.try_get("draft_updated_at")?),
        });
    }
    out.sort_by(|a, b| a.route.cmp(&b.route));
    Ok(out)
}

/// One page with its versions, inside `tx`.
async fn detail_in(tx: &mut TenantTx, snapshot: &Snapshot, page_id: &str) -> ApiResult<PageDetail> {
    let tenant_id = &snapshot.tenant.id;
    let row = sqlx::query(
        "SELECT draft, draft_hash, draft_updated_at, draft_updated_by, live_version FROM pages \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(page_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("page `{page_id}`")))?;
    let live_version: Option<i64> = row.try_get("live_version")?;
    let draft: String = row.try_get("draft")?;
    let draft: serde_json::Value = serde_json::from_str(&draft).map_err(ApiError::internal)?;
    let draft_hash: String = row.try_get("draft_hash")?;
    let rows = sqlx::query(
        "SELECT version, route, hash, published_at, published_by FROM page_versions \
         WHERE tenant_id = $1 AND page_id = $2 ORDER BY version DESC",
    )
    .bind(tenant_id)
    .bind(page_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut versions = Vec::with_capacity(rows.len());
    for r in rows {
        let version: i64 = r.try_get("version")?;
        versions.push(VersionView {
            version,
            route: r.try_get("route")?,
            hash: r.try_get("hash")?,
            published_at: rfc3339(r.try_get("published_at")?),
            published_by: r.try_get("published_by")?,
            live: Some(version) == live_version,
        });
    }
    let live = versions.iter().find(|v| v.live);
    let route = draft["route"].as_str().unwrap_or("").to_string();
    let live_route = live.map_or(route.clone(), |v| v.route.clone());
    Ok(PageDetail {
        id: page_id.to_string(),
        draft_changed: live.is_none_or(|v| v.hash != draft_hash),
        storefront_url: format!(
            "/t/{}{}",
            snapshot.tenant.slug,
            if live_route == "/" { "/" } else { &live_route }
        ),
        route,
        draft,
        draft_hash,
        draft_updated_at: rfc3339(row.try_get("draft_updated_at")?),
        draft_updated_by: row.try_get("draft_updated_by")?,
        live_version,
        versions,
    })
}

/// One page with its versions.
pub async fn detail(db: &Db, snapshot: &Snapshot, page_id: &str) -> ApiResult<PageDetail> {
    let mut tx = db.tenant_tx(&snapshot.tenant.id).await?;
    let detail = detail_in(&mut tx, snapshot, page_id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Saves a validated draft (creating the page on first save).
pub async fn save_draft(
    db: &Db,
    snapshot: &Snapshot,
    page: &Page,
    by: &str,
) -> ApiResult<PageDetail> {
    let tenant_id = &snapshot.tenant.id;
    let mut tx = db.tenant_tx(tenant_id).await?;
    upsert_draft(&mut tx, tenant_id, page, by).await?;
    let detail = detail_in(&mut tx, snapshot, &page.doc.id).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Sets the page's draft (creating the page when it is new).
async fn upsert_draft(tx: &mut TenantTx, tenant_id: &str, page: &Page, by: &str) -> ApiResult<()> {
    let text = serde_json::to_string(&page.doc).map_err(ApiError::internal)?;
    let now = now_ms();
    let updated = sqlx::query(
        "UPDATE pages SET draft = $1, draft_hash = $2, draft_updated_by = $3, draft_updated_at = $4 \
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(&text)
    .bind(&page.hash)
    .bind(by)
    .bind(now)
    .bind(tenant_id)
    .bind(&page.doc.id)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() > 0 {
        return Ok(());
    }
    let inserted = sqlx::query(
        "INSERT INTO pages (tenant_id, id, draft, draft_hash, draft_updated_by, draft_updated_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(tenant_id)
    .bind(&page.doc.id)
    .bind(&text)
    .bind(&page.hash)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if crate::store::is_unique_violation(&e) => Err(ApiError::Conflict {
            code: "page_conflict",
            detail: format!(
                "page `{}` was created by someone else at the same time; reload it",
                page.doc.id
            ),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Publishes the page's draft as a new immutable version and makes it live. `expected` is the
/// draft hash the publisher saw: a draft changed since is refused (409 `stale_draft`).
pub async fn publish(
    db: &Db,
    cache: &PageCache,
    snapshot: &Snapshot,
    page_id: &str,
    expected: Option<&str>,
    by: &str,
) -> ApiResult<PageDetail> {
    let tenant_id = &snapshot.tenant.id;
    let mut tx = db.tenant_tx(tenant_id).await?;
    lock_tenant(&mut tx, tenant_id).await?;
    let row = sqlx::query(
        "SELECT draft, draft_hash, live_version FROM pages WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(page_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("page `{page_id}`")))?;
    let draft: String = row.try_get("draft")?;
    let draft_hash: String = row.try_get("draft_hash")?;
    if let Some(expected) = expected {
        if expected != draft_hash {
            return Err(ApiError::Conflict {
                code: "stale_draft",
                detail: format!(
                    "the draft of `{page_id}` changed since you loaded it (someone saved in between); reload, check and publish again"
                ),
            });
        }
    }
    // The draft validated when it was saved; check it again against today's catalog.
    let page = validate(cache, snapshot, page_id, &draft)?;
    let live_hash: Option<String> = sqlx::query_scalar(
        "SELECT v.hash FROM page_versions v JOIN pages p ON p.tenant_id = v.tenant_id \
         AND p.id = v.page_id AND p.live_version = v.version WHERE v.tenant_id = $1 AND v.page_id = $2",
    )
    .bind(tenant_id)
    .bind(page_id)
    .fetch_optional(&mut *tx)
    .await?;
    if live_hash.as_deref() == Some(page.hash.as_str()) {
        return Err(ApiError::Conflict {
            code: "nothing_to_publish",
            detail: format!("the draft of `{page_id}` is the live version already"),
        });
    }
    publish_version(&mut tx, tenant_id, &page, by, "builder").await?;
    let detail = detail_in(&mut tx, snapshot, page_id).await?;
    tx.commit().await?;
    cache.invalidate(tenant_id);
    Ok(detail)
}

/// Adds `page` as the page's next version, makes it live, audits it and tells every node.
async fn publish_version(
    tx: &mut TenantTx,
    tenant_id: &str,
    page: &Page,
    by: &str,
    from: &str,
) -> ApiResult<i64> {
    let page_id = &page.doc.id;
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM page_versions WHERE tenant_id = $1 AND page_id = $2",
    )
    .bind(tenant_id)
    .bind(page_id)
    .fetch_one(&mut **tx)
    .await?;
    insert_version(tx, tenant_id, page, next, by).await?;
    make_live(tx, tenant_id, page_id, next, page.route.as_str()).await?;
    crate::audit::record_in(
        tx,
        tenant_id,
        by,
        "page.publish",
        &format!("page:{page_id}:{next}"),
        serde_json::json!({ "hash": page.hash, "route": page.route.as_str(), "from": from }),
    )
    .await?;
    tenancy::record_publish(tx, tenant_id, Published::Pages, next).await?;
    Ok(next)
}

async fn insert_version(
    tx: &mut TenantTx,
    tenant_id: &str,
    page: &Page,
    version: i64,
    by: &str,
) -> ApiResult<()> {
    let text = serde_json::to_string(&page.doc).map_err(ApiError::internal)?;
    sqlx::query(
        "INSERT INTO page_versions (tenant_id, page_id, version, route, document, hash, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(&page.doc.id)
    .bind(version)
    .bind(page.route.as_str())
    .bind(&text)
    .bind(&page.hash)
    .bind(by)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Points the page at `version`; another live page on the same route is a conflict.
async fn make_live(
    tx: &mut TenantTx,
    tenant_id: &str,
    page_id: &str,
    version: i64,
    route: &str,
) -> ApiResult<()> {
    let taken: Option<String> = sqlx::query_scalar(
        "SELECT id FROM pages WHERE tenant_id = $1 AND live_route = $2 AND id <> $3",
    )
    .bind(tenant_id)
    .bind(route)
    .bind(page_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(other) = taken {
        return Err(ApiError::Conflict {
            code: "route_taken",
            detail: format!(
                "page `{other}` is live on `{route}`; give this page another route or change `{other}` first"
            ),
        });
    }
    sqlx::query(
        "UPDATE pages SET live_version = $1, live_route = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(version)
    .bind(route)
    .bind(tenant_id)
    .bind(page_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes an earlier version live again and resets the draft to it.
pub async fn rollback(
    db: &Db,
    cache: &PageCache,
    snapshot: &Snapshot,
    page_id: &str,
    version: i64,
    by: &str,
) -> ApiResult<PageDetail> {
    let tenant_id = &snapshot.tenant.id;
    let mut tx = db.tenant_tx(tenant_id).await?;
    lock_tenant(&mut tx, tenant_id).await?;
    let row = sqlx::query(
        "SELECT route, document, hash FROM page_versions WHERE tenant_id = $1 AND page_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(page_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("version {version} of page `{page_id}`")))?;
    let route: String = row.try_get("route")?;
    let document: String = row.try_get("document")?;
    let hash: String = row.try_get("hash")?;
    make_live(&mut tx, tenant_id, page_id, version, &route).await?;
    sqlx::query(
        "UPDATE pages SET draft = $1, draft_hash = $2, draft_updated_by = $3, draft_updated_at = $4 \
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(&document)
    .bind(&hash)
    .bind(by)
    .bind(now_ms())
    .bind(tenant_id)
    .bind(page_id)
    .execute(&mut *tx)
    .await?;
    crate::audit::record_in(
        &mut tx,
        tenant_id,
        by,
        "page.rollback",
        &format!("page:{page_id}:{version}"),
        serde_json::json!({ "hash": hash, "route": route }),
    )
    .await?;
    tenancy::record_publish(&mut tx, tenant_id, Published::Pages, version).await?;
    let detail = detail_in(&mut tx, snapshot, page_id).await?;
    tx.commit().await?;
    cache.invalidate(tenant_id);
    Ok(detail)
}

/// One version's document.
pub async fn version_document(
    db: &Db,
    tenant_id: &str,
    page_id: &str,
    version: i64,
) -> ApiResult<(VersionView, serde_json::Value)> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(
        "SELECT v.version, v.route, v.hash, v.published_at, v.published_by, v.document, p.live_version \
         FROM page_versions v JOIN pages p ON p.tenant_id = v.tenant_id AND p.id = v.page_id \
         WHERE v.tenant_id = $1 AND v.page_id = $2 AND v.version = $3",
    )
    .bind(tenant_id)
    .bind(page_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("version {version} of page `{page_id}`")))?;
    tx.commit().await?;
    let document: String = row.try_get("document")?;
    let live: Option<i64> = row.try_get("live_version")?;
    Ok((
        VersionView {
            version,
            route: row.try_get("route")?,
            hash: row.try_get("hash")?,
            published_at: rfc3339(row.try_get("published_at")?),
            published_by: row.try_get("published_by")?,
            live: live == Some(version),
        },
        serde_json::from_str(&document).map_err(ApiError::internal)?,
    ))
}

/// A page document carried in a tenant bundle (`pages/<id>.json`), validated.
#[derive(Clone)]
pub struct BundlePage {
    pub page: Arc<Page>,
}

/// Validates every `pages/*.json` of a bundle against the bundle's own catalog; the file name
/// must be the page's id.
pub fn bundle_pages(
    renderer: &Renderer,
    site: &Site,
    bundle: &forecourt_tenant_config::Bundle,
) -> Result<Vec<BundlePage>, Vec<forecourt_tenant_config::Diagnostic>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (path, text) in bundle.files() {
        let Some(stem) = path
            .strip_prefix("pages/")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        match renderer.load(path, text, Some(site)) {
            Ok(page) if page.doc.id == stem => out.push(BundlePage {
                page: Arc::new(page),
            }),
            Ok(page) => {
                let doc = forecourt_tenant_config::Document::parse(path, text);
                problems.push(doc.error(
                    "page.id_mismatch",
                    "/id",
                    format!(
                        "the file is `{path}` but the page's id is `{}`; name the file after the id",
                        page.doc.id
                    ),
                ));
            }
            Err(report) => problems.extend(report.diagnostics),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Publishes a bundle's page inside the bundle's apply transaction, unless a version with the
/// same content was published before (re-applying a bundle never reverts an edit made in the
/// builder). The draft follows the published version.
pub async fn publish_in(
    tx: &mut TenantTx,
    tenant_id: &str,
    p: &BundlePage,
    by: &str,
) -> ApiResult<bool> {
    let page = &p.page;
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM page_versions WHERE tenant_id = $1 AND page_id = $2 AND hash = $3 LIMIT 1",
    )
    .bind(tenant_id)
    .bind(&page.doc.id)
    .bind(&page.hash)
    .fetch_optional(&mut **tx)
    .await?;
    if seen.is_some() {
        return Ok(false);
    }
    upsert_draft(tx, tenant_id, page, by).await?;
    publish_version(tx, tenant_id, page, by, "bundle").await?;
    Ok(true)
}
