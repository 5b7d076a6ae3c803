//! Tenants and their live configuration.
//!
//! **Owns** the tenant registry (slug, kind, name, status, active bundle version), the
//! per-tenant [`Snapshot`] (the validated bundle and its compiled policies, immutable, shared as
//! an `Arc`), the node-local snapshot cache, and the read-only org routes.
//!
//! **Invariants**
//! - A snapshot is never modified: publishing builds a new one and swaps it in the cache.
//! - A tenant is resolved only from credentials (API) or from the Host / `/t/{slug}/` prefix
//!   (public pages); never from a request body or query.
//! - Every node sees a publish made on another node within `publish_poll` (+ one load): the
//!   watcher reads `publish_log` and drops stale snapshots.

pub mod routes;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use forecourt_tenant_config::model::{TenantDoc, TenantKind};
use forecourt_tenant_config::{Bundle, BundleSource};
use serde::Serialize;
use sqlx::Row;

use crate::authz::{self, TenantPolicies};
use crate::catalog::CompiledCatalog;
use crate::http::error::ApiError;
use crate::store::{now_ms, Db};

/// A row of the tenant registry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub active_version: Option<i64>,
    pub created_at: i64,
}

const TENANT_COLUMNS: &str = "id, slug, kind, name, status, active_version, created_at";

fn tenant_from_row(row: &sqlx::any::AnyRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        active_version: row.try_get("active_version")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Checks a tenant slug: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`.
pub fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (3..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Registers a new tenant (operator action). Fails on a bad or taken slug.
pub async fn create_tenant(
    db: &Db,
    slug: &str,
    kind: TenantKind,
    name: &str,
) -> Result<TenantRow, ApiError> {
    if !valid_slug(slug) {
        return Err(ApiError::field(
            "invalid_slug",
            "/slug",
            format!("`{slug}` is not a valid tenant slug: use 3–32 lowercase letters, digits and dashes, starting with a letter"),
        ));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::field(
            "invalid_name",
            "/name",
            "the tenant name must have 1–200 characters",
        ));
    }
    let row = TenantRow {
        id: uuid::Uuid::now_v7().to_string(),
        slug: slug.to_string(),
        kind: kind.as_str().to_string(),
        name: name.trim().to_string(),
        status: "active".into(),
        active_version: None,
        created_at: now_ms(),
    };
    let inserted = sqlx::query("INSERT INTO tenants (id, slug, kind, name, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&row.id)
        .bind(&row.slug)
        .bind(&row.kind)
        .bind(&row.name)
        .bind(&row.status)
        .bind(row.created_at)
        .execute(&db.pool)
        .await;
    match inserted {
        Ok(_) => Ok(row),
        Err(e) if crate::store::is_unique_violation(&e) => Err(ApiError::Conflict {
            code: "tenant_exists",
            detail: format!("a tenant with slug `{slug}` already exists"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Registers the tenant a bundle describes (slug, kind, name in the default locale).
pub async fn create_for_profile(
    db: &Db,
    profile: &forecourt_tenant_config::model::TenantProfile,
) -> Result<TenantRow, ApiError> {
    let name = profile
        .locales
        .first()
        .and_then(|l| profile.name.get(l))
        .cloned()
        .unwrap_or_else(|| profile.slug.clone());
    create_tenant(db, &profile.slug, profile.kind, &name).await
}

pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<TenantRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1"
    ))
    .bind(slug)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<TenantRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub async fn list_tenants(db: &Db) -> Result<Vec<TenantRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(tenant_from_row).collect()
}

/// A tenant's live configuration: immutable, shared by every request that reads it.
#[derive(Debug)]
pub struct Snapshot {
    pub tenant: TenantRow,
    /// `None` until the tenant's first bundle is applied.
    pub bundle: Option<Arc<Bundle>>,
    pub policies: Arc<TenantPolicies>,
    /// Every catalog model compiled for the configurator.
    pub catalog: Arc<CompiledCatalog>,
}

impl Snapshot {
    pub fn doc(&self) -> Option<&TenantDoc> {
        self.bundle.as_ref().map(|b| b.tenant())
    }

    /// Builds a snapshot from a tenant row and its validated active bundle.
    pub fn build(tenant: TenantRow, bundle: Option<Bundle>) -> Result<Snapshot, ApiError> {
        let catalog = match &bundle {
            Some(b) => CompiledCatalog::compile(b).map_err(|problems| {
                ApiError::Internal(format!(
                    "catalog of {} no longer compiles: {}",
                    tenant.slug,
                    problems.first().map(|p| p.message.as_str()).unwrap_or("")
                ))
            })?,
            None => CompiledCatalog::default(),
        };
        let policies = match &bundle {
            Some(b) => {
                Arc::new(authz::compile(&tenant.id, b.tenant()).map_err(ApiError::internal)?)
            }
            None => TenantPolicies::deny_all(&tenant.id),
        };
        Ok(Self::assemble(tenant, bundle, policies, catalog))
    }

    /// Puts a snapshot together from parts already compiled (at apply, by validation).
    pub fn assemble(
        tenant: TenantRow,
        bundle: Option<Bundle>,
        policies: Arc<TenantPolicies>,
        catalog: CompiledCatalog,
    ) -> Snapshot {
        Snapshot {
            tenant,
            bundle: bundle.map(Arc::new),
            policies,
            catalog: Arc::new(catalog),
        }
    }
}

/// Reads the stored files of one bundle version.
pub async fn version_files(
    db: &Db,
    tenant_id: &str,
    version: i64,
) -> Result<Option<BundleSource>, ApiError> {
    let mut tx = db.tenant_tx(tenant_id).await?;
    let files: Option<String> = sqlx::query_scalar(
        "SELECT files FROM bundle_versions WHERE tenant_id = $1 AND version = $2",
    )
    .bind(tenant_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match files {
        None => Ok(None),
        Some(json) => {
            let map = serde_json::from_str(&json).map_err(ApiError::internal)?;
            Ok(Some(BundleSource::from_files(map)))
        }
    }
}

/// Loads a tenant's snapshot from the database (tenant row, active bundle, compiled policies).
pub async fn load_snapshot(db: &Db, tenant: TenantRow) -> Result<Snapshot, ApiError> {
    let bundle = match tenant.active_version {
        None => None,
        Some(v) => {
            let source = version_files(db, &tenant.id, v).await?.ok_or_else(|| {
                ApiError::Internal(format!("tenant {} lost bundle version {v}", tenant.slug))
            })?;
            let bundle = forecourt_tenant_config::load(&source).map_err(|report| {
                ApiError::Internal(format!(
                    "stored bundle of {} no longer loads: {report}",
                    tenant.slug
                ))
            })?;
            Some(bundle)
        }
    };
    Snapshot::build(tenant, bundle)
}

/// Node-local cache of tenant snapshots, by id and by slug.
pub struct Snapshots {
    by_id: moka::sync::Cache<String, Arc<Snapshot>>,
    slug_to_id: moka::sync::Cache<String, String>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Self::new()
    }
}

impl Snapshots {
    pub fn new() -> Self {
        Snapshots {
            // The TTL is a safety net only; publishes invalidate at once (see `watch_publishes`).
            by_id: moka::sync::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
            slug_to_id: moka::sync::Cache::builder().max_capacity(20_000).build(),
        }
    }

    /// The snapshot of tenant `id`, loading it on a miss. `None` when no such tenant.
    pub async fn get(&self, db: &Db, id: &str) -> Result<Option<Arc<Snapshot>>, ApiError> {
        if let Some(s) = self.by_id.get(id) {
            return Ok(Some(s));
        }
        let Some(tenant) = find_by_id(db, id).await? else {
            return Ok(None);
        };
        let snapshot = Arc::new(load_snapshot(db, tenant).await?);
        self.put(snapshot.clone());
        Ok(Some(snapshot))
    }

    /// The snapshot of the tenant with `slug`.
    pub async fn get_by_slug(
        &self,
        db: &Db,
        slug: &str,
    ) -> Result<Option<Arc<Snapshot>>, ApiError> {
        if let Some(id) = self.slug_to_id.get(slug) {
            return self.get(db, &id).await;
        }
        if !valid_slug(slug) {
            return Ok(None);
        }
        let Some(tenant) = find_by_slug(db, slug).await? else {
            return Ok(None);
        };
        self.slug_to_id.insert(slug.to_string(), tenant.id.clone());
        self.get(db, &tenant.id).await
    }

    pub fn put(&self, snapshot: Arc<Snapshot>) {
        self.slug_to_id
            .insert(snapshot.tenant.slug.clone(), snapshot.tenant.id.clone());
        self.by_id.insert(snapshot.tenant.id.clone(), snapshot);
    }

    pub fn invalidate(&self, id: &str) {
        self.by_id.invalidate(id);
    }
}

/// Which node-local cache a publish invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A configuration bundle: the tenant snapshot.
    Bundle,
    /// A storefront page publish or rollback: the tenant's live pages.
    Pages,
}

impl Published {
    pub fn as_str(self) -> &'static str {
        match self {
            Published::Bundle => "bundle",
            Published::Pages => "pages",
        }
    }
}

/// Records that `tenant_id` now runs `version` of `what`; every node's watcher picks it up.
pub async fn record_publish(
    tx: &mut crate::store::TenantTx,
    tenant_id: &str,
    what: Published,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO publish_log (tenant_id, version, published_at, what) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(version)
    .bind(now_ms())
    .bind(what.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What the watcher calls for each publish another node (or this one) made.
pub type Invalidate = Arc<dyn Fn(&str, Published) + Send + Sync>;

/// Runs forever: every `poll`, drops what this node cached for tenants that another node (or this
/// one) published. Events are read by time window and de-duplicated by sequence number, so an
/// event whose sequence number committed out of order is still seen.
pub async fn watch_publishes(db: Db, invalidate: Invalidate, poll: Duration) {
    const WINDOW_MS: i64 = 30_000;
    let mut seen: HashSet<i64> = HashSet::new();
    let mut interval = tokio::time::interval(poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        interval.tick().await;
        let since = now_ms() - WINDOW_MS;
        let rows = sqlx::query(
            "SELECT seq, tenant_id, what FROM publish_log WHERE published_at > $1 ORDER BY seq",
        )
        .bind(since)
        .fetch_all(&db.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "publish watcher could not read publish_log");
                continue;
            }
        };
        let mut live = HashSet::new();
        for row in rows {
            let (Ok(seq), Ok(tenant_id), Ok(what)) = (
                row.try_get::<i64, _>("seq"),
                row.try_get::<String, _>("tenant_id"),
                row.try_get::<String, _>("what"),
            ) else {
                continue;
            };
            let what = if what == "pages" {
                Published::Pages
            } else {
                Published::Bundle
            };
            live.insert(seq);
            if seen.insert(seq) && !first {
                tracing::debug!(
                    tenant_id,
                    seq,
                    what = what.as_str(),
                    "published; dropping what this node cached"
                );
                invalidate(&tenant_id, what);
            }
        }
        seen.retain(|s| live.contains(s));
        first = false;
    }
}
