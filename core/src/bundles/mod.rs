//! Applying tenant bundles: validation, the immutable version history, diff and rollback, and
//! publishing the new snapshot.
//!
//! **Invariants**
//! - Apply is all or nothing: the version row, the materialised org units, the tenant's active
//!   version, the publish event and the audit entry commit in one transaction, after every
//!   validation layer passed (including checks against live data: a store or role still in use
//!   cannot disappear).
//! - Versions are immutable and numbered 1, 2, 3 … per tenant; rollback makes a new version
//!   with an old version's content.
//! - Applying content identical (same hash) to the active version changes nothing.

pub mod routes;

use std::collections::BTreeMap;
use std::sync::Arc;

use forecourt_tenant_config::{Bundle, BundleSource, Diagnostic, Severity};
use serde::Serialize;
use sqlx::Row;

use crate::audit;
use crate::catalog::CompiledCatalog;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{now_ms, TenantTx};
use crate::tenancy::{self, Snapshot, TenantRow};

/// What an apply did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApplyOutcome {
    pub tenant: String,
    pub version: i64,
    pub hash: String,
    /// False when the content equalled the active version (nothing was written).
    pub changed: bool,
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Diagnostic>,
}

fn diag(code: &'static str, pointer: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code,
        file: "tenant.yaml".into(),
        line: None,
        column: None,
        pointer: pointer.into(),
        message,
    }
}

/// A bundle that passed every check, with its policies and catalog compiled.
pub struct Validated {
    pub bundle: Bundle,
    pub policies: crate::authz::TenantPolicies,
    pub catalog: CompiledCatalog,
    /// The workflow definitions of `workflows/*.yaml`, validated against this bundle's roles
    /// and scripts; published with the bundle when they differ from the latest version.
    pub workflows: Vec<crate::workflows::BundleWorkflow>,
    /// The storefront pages of `pages/*.json`, validated against this bundle's catalog;
    /// published with the bundle when they differ from every earlier version.
    pub pages: Vec<crate::pages::BundlePage>,
}

/// Validates `source` for `tenant` without writing anything.
pub fn validate_for(tenant: &TenantRow, source: &BundleSource) -> Result<Validated, ApiError> {
    let bundle =
        forecourt_tenant_config::load(source).map_err(|report| ApiError::InvalidBundle {
            diagnostics: report.diagnostics,
        })?;
    let mut problems = Vec::new();
    if bundle.tenant().tenant.slug != tenant.slug {
        problems.push(diag(
            "bundle.wrong_tenant",
            "/tenant/slug",
            format!(
                "this bundle is for tenant `{}`, but it is being applied to `{}`",
                bundle.tenant().tenant.slug,
                tenant.slug
            ),
        ));
    }
    if bundle.tenant().tenant.kind.as_str() != tenant.kind {
        problems.push(diag(
            "bundle.kind_change",
            "/tenant/kind",
            format!(
                "tenant `{}` is registered as `{}`; a bundle cannot change it to `{}`",
                tenant.slug,
                tenant.kind,
                bundle.tenant().tenant.kind.as_str()
            ),
        ));
    }
    let policies = match crate::authz::compile(&tenant.id, bundle.tenant()) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(diag("authz.compile", "/roles", e.to_string()));
            None
        }
    };
    problems.extend(script_problems(bundle.files()));
    problems.extend(fleet_problems(&bundle));
    let workflows = match crate::workflows::bundle_workflows(&bundle) {
        Ok(w) => w,
        Err(mut found) => {
            problems.append(&mut found);
            Vec::new()
        }
    };
    problems.extend(order_problems(&bundle, &workflows));
    let site = crate::pages::site::build(&bundle.tenant().tenant.slug, Some(&bundle));
    let pages = match crate::pages::bundle_pages(crate::pages::renderer(), &site, &bundle) {
        Ok(p) => p,
        Err(mut found) => {
            problems.append(&mut found);
            Vec::new()
        }
    };
    let catalog = match CompiledCatalog::compile(&bundle) {
        Ok(c) => Some(c),
        Err(mut unbuildable) => {
            problems.append(&mut unbuildable);
            None
        }
    };
    match (policies, catalog) {
        (Some(policies), Some(catalog)) if problems.is_empty() => Ok(Validated {
            bundle,
            policies,
            catalog,
            workflows,
            pages,
        }),
        _ => Err(ApiError::InvalidBundle {
            diagnostics: problems,
        }),
    }
}

/// Every demo vehicle of `test_drives.fleet` must be a model of the bundle's catalog.
fn fleet_problems(bundle: &Bundle) -> Vec<Diagnostic> {
    let Some(settings) = &bundle.tenant().test_drives else {
        return Vec::new();
    };
    let file = bundle
        .files()
        .keys()
        .find(|p| forecourt_tenant_config::TENANT_FILES.contains(&p.as_str()))
        .cloned()
        .unwrap_or_else(|| "tenant.yaml".into());
    let doc = forecourt_tenant_config::Document::parse(
        &file,
        bundle.files().get(&file).map(String::as_str).unwrap_or(""),
    );
    settings
        .fleet
        .iter()
        .enumerate()
        .filter(|(_, v)| bundle.catalog().model(&v.model).is_none())
        .map(|(i, v)| {
            doc.error(
                "test_drives.unknown_model",
                &format!("/test_drives/fleet/{i}/model"),
                format!(
                    "demo vehicle `{}` is a `{}`, which is not a model of the catalog",
                    v.id, v.model
                ),
            )
        })
        .collect()
}

/// The order lifecycle named by `orders.workflow`, when the bundle carries it, must be about
/// `vehicle_order` records and have the transitions the platform fires (`deposit_paid` leaving
/// the initial state, `balance_paid`); every state a refund rule names must be one of its states.
fn order_problems(
    bundle: &Bundle,
    workflows: &[crate::workflows::BundleWorkflow],
) -> Vec<Diagnostic> {
    let Some(settings) = &bundle.tenant().orders else {
        return Vec::new();
    };
    let file = bundle
        .files()
        .keys()
        .find(|p| forecourt_tenant_config::TENANT_FILES.contains(&p.as_str()))
        .cloned()
        .unwrap_or_else(|| "tenant.yaml".into());
    let doc = forecourt_tenant_config::Document::parse(
        &file,
        bundle.files().get(&file).map(String::as_str).unwrap_or(""),
    );
    // A lifecycle published through the workflow API instead of the bundle is checked when
    // an order starts it (409 `workflow_missing` or `workflow_subject_mismatch`).
    let Some(wf) = workflows.iter().find(|w| w.id == settings.workflow) else {
        return Vec::new();
    };
    let wf = &wf.workflow;
    let mut problems = Vec::new();
    if wf.subject() != crate::orders::SUBJECT {
        problems.push(doc.error(
            "orders.workflow_subject",
            "/orders/workflow",
            format!(
                "workflow `{}` is about `{}` records; an order lifecycle is about `{}`",
                wf.id(),
                wf.subject(),
                crate::orders::SUBJECT
            ),
        ));
    }
    let initial = wf.initial().name.clone();
    for (name, why) in [
        (
            "deposit_paid",
            "fired when the deposit's payment is confirmed",
        ),
        (
            "balance_paid",
            "fired when the balance's payment is confirmed",
        ),
    ] {
        match wf.transition(name) {
            None => problems.push(doc.error(
                "orders.missing_transition",
                "/orders/workflow",
                format!(
                    "workflow `{}` has no transition `{name}` ({why})",
                    wf.id()
                ),
            )),
            Some(t) if name == "deposit_paid" && !t.from.names().contains(&initial) => {
                problems.push(doc.error(
                    "orders.missing_transition",
                    "/orders/workflow",
                    format!(
                        "transition `deposit_paid` of workflow `{}` must leave the initial state `{initial}`",
                        wf.id()
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    for (i, rule) in settings.refunds.iter().enumerate() {
        for (j, state) in rule.states.iter().enumerate() {
            if !wf.has_state(state) {
                problems.push(doc.error(
                    "orders.unknown_state",
                    &format!("/orders/refunds/{i}/states/{j}"),
                    format!("workflow `{}` has no state `{state}`", wf.id()),
                ));
            }
        }
    }
    problems
}

/// Compiles every script of the bundle and runs its test cases: a broken rule never goes live.
pub fn script_problems(files: &std::collections::BTreeMap<String, String>) -> Vec<Diagnostic> {
    forecourt_plugins::check_bundle_scripts(files)
        .into_iter()
        .filter(|p| p.is_error())
        .map(|p| Diagnostic {
            severity: Severity::Error,
            code: p.code,
            file: p.file,
            line: p.line.and_then(|l| u32::try_from(l).ok()),
            column: p.column.and_then(|c| u32::try_from(c).ok()),
            pointer: String::new(),
            message: p.message,
        })
        .collect()
}

/// Checks the new bundle against live data: units and roles still in use must remain.
async fn check_in_use(
    tx: &mut TenantTx,
    tenant_id: &str,
    bundle: &Bundle,
) -> Result<Vec<Diagnostic>, ApiError> {
    let doc = &bundle.tenant();
    let mut problems = Vec::new();
    let units = sqlx::query("SELECT unit_code, COUNT(*) AS n FROM users WHERE tenant_id = $1 AND unit_code IS NOT NULL GROUP BY unit_code ORDER BY unit_code")
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in units {
        let code: String = row.try_get("unit_code")?;
        let n: i64 = row.try_get("n")?;
        let exists = doc.org.region(&code).is_some()
            || doc.org.dealer_group(&code).is_some()
            || doc.org.store(&code).is_some();
        if !exists {
            problems.push(diag("org.unit_in_use", "/org", format!("org unit `{code}` is removed, but {n} user(s) belong to it; move them to another unit first")));
        }
    }
    let roles = sqlx::query("SELECT role_code, COUNT(*) AS n FROM user_roles WHERE tenant_id = $1 GROUP BY role_code ORDER BY role_code")
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in roles {
        let code: String = row.try_get("role_code")?;
        let n: i64 = row.try_get("n")?;
        if !doc.roles.iter().any(|r| r.code == code) {
            problems.push(diag(
                "role.in_use",
                "/roles",
                format!(
                    "role `{code}` is removed, but {n} user(s) hold it; take it from them first"
                ),
            ));
        }
    }
    Ok(problems)
}

/// Upserts the org units of `bundle`; units no longer in it are marked retired.
async fn materialise_org(
    tx: &mut TenantTx,
    tenant_id: &str,
    bundle: &Bundle,
) -> Result<(), sqlx::Error> {
    let org = &bundle.tenant().org;
    let mut units: Vec<(&str, &str, &str, Option<&str>)> = Vec::new();
    units.extend(
        org.regions
            .iter()
            .map(|r| (r.code.as_str(), "region", r.code.as_str(), None)),
    );
    units.extend(org.dealer_groups.iter().map(|g| {
        (
            g.code.as_str(),
            "dealer_group",
            g.region.as_str(),
            Some(g.code.as_str()),
        )
    }));
    units.extend(org.stores.iter().map(|s| {
        (
            s.code.as_str(),
            "store",
            s.region.as_str(),
            s.dealer_group.as_deref(),
        )
    }));
    sqlx::query("UPDATE org_units SET status = 'retired' WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    for (code, kind, region, group) in units {
        sqlx::query(
            "INSERT INTO org_units (tenant_id, code, kind, region_code, dealer_group_code, status) VALUES ($1, $2, $3, $4, $5, 'active') \
             ON CONFLICT (tenant_id, code) DO UPDATE SET kind = excluded.kind, region_code = excluded.region_code, \
             dealer_group_code = excluded.dealer_group_code, status = 'active'",
        )
        .bind(tenant_id)
        .bind(code)
        .bind(kind)
        .bind(region)
        .bind(group)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Validates and applies `source` to `tenant` as a new version (see module invariants).
pub async fn apply(
    state: &AppState,
    tenant: &TenantRow,
    source: &BundleSource,
    actor: &str,
    origin: Origin,
) -> Result<ApplyOutcome, ApiError> {
    let Validated {
        bundle,
        policies,
        catalog,
        workflows,
        pages,
    } = validate_for(tenant, source)?;
    let db = &state.db;
    let mut tx = db.tenant_tx(&tenant.id).await?;
    // Take the tenant's row lock first: concurrent applies to one tenant serialise here.
    sqlx::query("UPDATE tenants SET status = status WHERE id = $1")
        .bind(&tenant.id)
        .execute(&mut *tx)
        .await?;
    let active: Option<i64> =
        sqlx::query_scalar("SELECT active_version FROM tenants WHERE id = $1")
            .bind(&tenant.id)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(v) = active {
        let hash: Option<String> = sqlx::query_scalar(
            "SELECT hash FROM bundle_versions WHERE tenant_id = $1 AND version = $2",
        )
        .bind(&tenant.id)
        .bind(v)
        .fetch_optional(&mut *tx)
        .await?;
        if hash.as_deref() == Some(bundle.hash()) {
            tx.rollback().await?;
            return Ok(ApplyOutcome {
                tenant: tenant.slug.clone(),
                version: v,
                hash: bundle.hash().to_string(),
                changed: false,
                warnings: bundle.warnings().to_vec(),
            });
        }
    }
    let problems = check_in_use(&mut tx, &tenant.id, &bundle).await?;
    if !problems.is_empty() {
        tx.rollback().await?;
        return Err(ApiError::InvalidBundle {
            diagnostics: problems,
        });
    }
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM bundle_versions WHERE tenant_id = $1",
    )
    .bind(&tenant.id)
    .fetch_one(&mut *tx)
    .await?;
    let files = serde_json::to_string(&bundle.files()).map_err(ApiError::internal)?;
    let (origin_name, based_on) = match origin {
        Origin::Apply => ("apply", None),
        Origin::Rollback(v) => ("rollback", Some(v)),
    };
    sqlx::query(
        "INSERT INTO bundle_versions (tenant_id, version, hash, files, origin, based_on, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&tenant.id)
    .bind(next)
    .bind(bundle.hash())
    .bind(files)
    .bind(origin_name)
    .bind(based_on)
    .bind(actor)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    materialise_org(&mut tx, &tenant.id, &bundle).await?;
    let default_name = bundle
        .tenant()
        .tenant
        .locales
        .first()
        .and_then(|l| bundle.tenant().tenant.name.get(l))
        .cloned()
        .unwrap_or_else(|| tenant.name.clone());
    sqlx::query("UPDATE tenants SET active_version = $1, name = $2 WHERE id = $3")
        .bind(next)
        .bind(&default_name)
        .bind(&tenant.id)
        .execute(&mut *tx)
        .await?;
    tenancy::record_publish(&mut tx, &tenant.id, tenancy::Published::Bundle, next).await?;
    for w in &workflows {
        crate::workflows::publish_in(&mut tx, &tenant.id, w, actor).await?;
    }
    for p in &pages {
        crate::pages::publish_in(&mut tx, &tenant.id, p, actor).await?;
    }
    audit::record_in(
        &mut tx,
        &tenant.id,
        actor,
        &format!("bundle.{origin_name}"),
        &format!("bundle:{next}"),
        serde_json::json!({ "hash": bundle.hash(), "based_on": based_on }),
    )
    .await?;
    tx.commit().await?;

    let mut row = tenant.clone();
    row.active_version = Some(next);
    row.name = default_name;
    let warnings = bundle.warnings().to_vec();
    let hash = bundle.hash().to_string();
    state.snapshots.put(Arc::new(Snapshot::assemble(
        row,
        Some(bundle),
        Arc::new(policies),
        catalog,
    )));
    if !pages.is_empty() {
        state.pages.invalidate(&tenant.id);
    }
    tracing::info!(tenant = %tenant.slug, version = next, %hash, "bundle published");
    Ok(ApplyOutcome {
        tenant: tenant.slug.clone(),
        version: next,
        hash,
        changed: true,
        warnings,
    })
}

/// Why a version was made.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    Apply,
    Rollback(i64),
}

/// Makes a new version with the content of `version`.
pub async fn rollback(
    state: &AppState,
    tenant: &TenantRow,
    version: i64,
    actor: &str,
) -> Result<ApplyOutcome, ApiError> {
    let source = tenancy::version_files(&state.db, &tenant.id, version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("version {version}")))?;
    apply(state, tenant, &source, actor, Origin::Rollback(version)).await
}

/// A row of the version history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub version: i64,
    pub hash: String,
    /// `apply` or `rollback`.
    pub origin: String,
    /// For a rollback: the version whose content it restored.
    pub based_on: Option<i64>,
    pub created_by: String,
    pub created_at: String,
    pub active: bool,
}

pub async fn list_versions(
    state: &AppState,
    tenant: &TenantRow,
) -> Result<Vec<VersionInfo>, ApiError> {
    let mut tx = state.db.tenant_tx(&tenant.id).await?;
    let active: Option<i64> =
        sqlx::query_scalar("SELECT active_version FROM tenants WHERE id = $1")
            .bind(&tenant.id)
            .fetch_one(&mut *tx)
            .await?;
    let rows = sqlx::query("SELECT version, hash, origin, based_on, created_by, created_at FROM bundle_versions WHERE tenant_id = $1 ORDER BY version DESC")
        .bind(&tenant.id)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            let version: i64 = r.try_get("version")?;
            Ok(VersionInfo {
                version,
                hash: r.try_get("hash")?,
                origin: r.try_get("origin")?,
                based_on: r.try_get("based_on")?,
                created_by: r.try_get("created_by")?,
                created_at: crate::store::rfc3339(r.try_get("created_at")?),
                active: Some(version) == active,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(ApiError::from)
}

/// Loads a stored version as a bundle (for diffs).
pub async fn load_version(
    state: &AppState,
    tenant: &TenantRow,
    version: i64,
) -> Result<Bundle, ApiError> {
    let source = tenancy::version_files(&state.db, &tenant.id, version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("version {version}")))?;
    forecourt_tenant_config::load(&source)
        .map_err(|r| ApiError::Internal(format!("stored version {version} no longer loads: {r}")))
}

/// A bundle upload: files by relative path.
pub type UploadedFiles = BTreeMap<String, String>;
