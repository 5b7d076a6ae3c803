//! Workflows at run time: the tenant's definitions as immutable published versions, instances
//! stored per tenant and pinned to the version they started on, commands with optimistic
//! concurrency, the full history, durable timers ([`scheduler`]) and the effects of every step
//! written to the outbox in the same transaction.
//!
//! The decisions themselves are the pure engine's (`forecourt-workflow-engine`): this module
//! loads, calls `start`/`step`, and persists what they return.
//!
//! **Invariants**
//! - A command either commits its new state, history row, timers and outbox messages together,
//!   or changes nothing. A command naming a stale instance version gets 409.
//! - An instance keeps its workflow version until an explicit migration moves it.
//! - Each due timer is applied at most once and, while its instance stays in the timer's state,
//!   exactly once (claimed in the transaction that applies it).

pub mod routes;
pub mod scheduler;

use std::collections::BTreeSet;
use std::sync::Arc;

use forecourt_workflow_engine as engine;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::http::error::{ApiError, ApiResult};
use crate::outbox::{self, Kind, Message};
use crate::state::AppState;
use crate::store::rows::{Rows, Val};
use crate::store::{now_ms, TenantTx};
use crate::tenancy::Snapshot;

/// Compiled workflow versions by (tenant, workflow, version); a version never changes, so
/// entries never go stale.
pub struct WorkflowCache {
    cache: moka::sync::Cache<(String, String, i64), Arc<engine::Workflow>>,
}

impl Default for WorkflowCache {
    fn default() -> Self {
        WorkflowCache {
            cache: moka::sync::Cache::builder().max_capacity(10_000).build(),
        }
    }
}

/// The roles a tenant's definitions may name: the bundle's role codes.
pub fn context_for(snapshot: &Snapshot) -> engine::Context {
    let roles: BTreeSet<String> = snapshot
        .doc()
        .map(|d| d.roles.iter().map(|r| r.code.clone()).collect())
        .unwrap_or_default();
    engine::Context {
        roles,
        any_role: false,
    }
}

/// Where a definition's diagnostics point: `workflows/<id>.yaml`.
pub fn file_name(workflow_id: &str) -> String {
    format!("workflows/{workflow_id}.yaml")
}

/// Validates a definition for `snapshot`'s tenant off the async workers (guards compile there).
pub async fn validate(
    snapshot: &Snapshot,
    file: String,
    text: String,
) -> Result<engine::Workflow, ApiError> {
    let ctx = context_for(snapshot);
    let hooks = hook_names(snapshot);
    tokio::task::spawn_blocking(move || {
        let wf = engine::load(&file, &text, &ctx)?;
        check_hooks(&wf, &file, &text, &hooks)?;
        Ok::<_, forecourt_tenant_config::Report>(wf)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|report| ApiError::InvalidWorkflow {
        diagnostics: report.diagnostics,
    })
}

/// Script names a bundle provides (`scripts/<name>.rhai` → `<name>`).
fn script_names(files: &std::collections::BTreeMap<String, String>) -> BTreeSet<String> {
    files
        .keys()
        .filter_map(|p| p.strip_prefix("scripts/")?.strip_suffix(".rhai"))
        .map(str::to_string)
        .collect()
}

/// Script hooks the tenant's active bundle provides.
fn hook_names(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot
        .bundle
        .as_ref()
        .map(|b| script_names(b.files()))
        .unwrap_or_default()
}

/// A hook action must name a script of the tenant's bundle.
fn check_hooks(
    wf: &engine::Workflow,
    file: &str,
    text: &str,
    hooks: &BTreeSet<String>,
) -> Result<(), forecourt_tenant_config::Report> {
    let mut problems = Vec::new();
    for (pointer, hook) in wf.hook_actions() {
        if !hook.starts_with("workflow.") {
            problems.push((
                pointer,
                format!(
                    "`{hook}` is not a workflow action: workflow hooks are named \
                     `workflow.<name>` and live in the bundle's `scripts/workflow.<name>.rhai`"
                ),
            ));
        } else if !hooks.contains(&hook) {
            problems.push((
                pointer,
                format!(
                    "hook `{hook}` has no script: the tenant bundle needs `scripts/{hook}.rhai` \
                     (defining `on_step(step)`) before a workflow can call it"
                ),
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    // Only now is the text parsed again, to locate what is wrong.
    let doc = forecourt_tenant_config::Document::parse(file, text);
    let located = problems
        .into_iter()
        .map(|(pointer, message)| doc.error("workflow.unknown_hook", &pointer, message))
        .collect();
    Err(doc.into_report(located))
}

/// One published version as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub workflow_id: String,
    pub version: i64,
    pub subject_type: String,
    pub hash: String,
    /// `published` or `deprecated`.
    pub status: String,
    pub published_by: String,
    pub published_at: i64,
    /// Instances on this version that have not ended.
    pub running: i64,
}

/// What a publish did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Published {
    /// False when the definition equals the latest version (nothing new was stored).
    pub changed: bool,
    pub version: VersionInfo,
}

/// Publishes `text` as the next version of `workflow_id` (validated first; nothing is stored
/// when anything is wrong). Publishing the latest version's content again changes nothing.
pub async fn publish(
    state: &AppState,
    snapshot: &Snapshot,
    workflow_id: &str,
    text: &str,
    by: &str,
) -> ApiResult<Published> {
    let file = file_name(workflow_id);
    let wf = validate(snapshot, file.clone(), text.to_string()).await?;
    if wf.id() != workflow_id {
        let doc = forecourt_tenant_config::Document::parse(&file, text);
        let d = doc.error(
            "workflow.id_mismatch",
            "/id",
            format!(
                "the definition's id is `{}` but it is published as `{workflow_id}`; they must be equal",
                wf.id()
            ),
        );
        return Err(ApiError::InvalidWorkflow {
            diagnostics: vec![d],
        });
    }
    let tenant_id = &snapshot.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    lock_tenant(&mut tx, tenant_id).await?;
    let latest = latest_version(&mut tx, tenant_id, workflow_id).await?;
    let (latest_version, latest_hash) = latest.clone().unwrap_or((0, String::new()));
    let next = latest_version + 1;
    if let Some(v) = wf.version() {
        if i64::from(v) != next && !(latest_hash == wf.hash() && i64::from(v) == latest_version) {
            return Err(ApiError::Conflict {
                code: "workflow_version_conflict",
                detail: format!(
                    "the definition says `version: {v}` but the next version of `{workflow_id}` is {next}; \
                     someone published in between: fetch the latest, merge, and publish as {next}"
                ),
            });
        }
    }
    if latest_hash == wf.hash() {
        tx.commit().await?;
        let info = version_info(state, tenant_id, workflow_id, latest_version).await?;
        return Ok(Published {
            changed: false,
            version: info,
        });
    }
    let entry = BundleWorkflow {
        id: workflow_id.to_string(),
        source: text.to_string(),
        workflow: Arc::new(wf),
    };
    let version = insert_version(&mut tx, tenant_id, &entry, next, by).await?;
    tx.commit().await?;
    state.workflows.cache.insert(
        (tenant_id.clone(), workflow_id.to_string(), version),
        entry.workflow,
    );
    let info = version_info(state, tenant_id, workflow_id, version).await?;
    Ok(Published {
        changed: true,
        version: info,
    })
}

/// Takes the tenant's write lock as the transaction's first statement: publishes and
/// migrations of one tenant serialise, and on SQLite the transaction holds the write lock
/// before it reads (a read snapshot cannot be upgraded once another writer committed).
async fn lock_tenant(tx: &mut TenantTx, tenant_id: &str) -> ApiResult<()> {
    sqlx::query("UPDATE tenants SET status = status WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The newest version of a workflow and its hash.
async fn latest_version(
    tx: &mut TenantTx,
    tenant_id: &str,
    workflow_id: &str,
) -> ApiResult<Option<(i64, String)>> {
    let latest = sqlx::query(
        "SELECT version, hash FROM workflow_versions WHERE tenant_id = $1 AND workflow_id = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id)
    .bind(workflow_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match latest {
        Some(r) => Some((r.try_get("version")?, r.try_get("hash")?)),
        None => None,
    })
}

async fn insert_version(
    tx: &mut TenantTx,
    tenant_id: &str,
    w: &BundleWorkflow,
    version: i64,
    by: &str,
) -> ApiResult<i64> {
    let inserted = sqlx::query(
        "INSERT INTO workflow_versions (tenant_id, workflow_id, version, subject_type, hash, source, \
         status, published_by, published_at) VALUES ($1, $2, $3, $4, $5, $6, 'published', $7, $8)",
    )
    .bind(tenant_id)
    .bind(&w.id)
    .bind(version)
    .bind(w.workflow.subject())
    .bind(w.workflow.hash())
    .bind(&w.source)
    .bind(by)
    .bind(now_ms())
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::Conflict {
                code: "workflow_version_conflict",
                detail: format!(
                "another publish of `{}` took version {version} at the same time; publish again",
                w.id
            ),
            })
        }
        Err(e) => return Err(e.into()),
    }
    crate::audit::record_in(
        tx,
        tenant_id,
        by,
        "workflow.publish",
        &format!("workflow:{}:{version}", w.id),
        serde_json::json!({ "hash": w.workflow.hash(), "subject": w.workflow.subject() }),
    )
    .await?;
    Ok(version)
}

/// A workflow definition carried in a tenant bundle (`workflows/<id>.yaml`), validated.
#[derive(Clone)]
pub struct BundleWorkflow {
    pub id: String,
    pub source: String,
    pub workflow: Arc<engine::Workflow>,
}

/// Validates every `workflows/*.yaml` (`.yml`, `.json`) of a bundle against the bundle's own
/// roles and scripts; the file name (without extension) must be the definition's id.
pub fn bundle_workflows(
    bundle: &forecourt_tenant_config::Bundle,
) -> Result<Vec<BundleWorkflow>, Vec<forecourt_tenant_config::Diagnostic>> {
    let ctx = engine::Context::with_roles(bundle.tenant().roles.iter().map(|r| r.code.clone()));
    let hooks = script_names(bundle.files());
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (path, text) in bundle.files() {
        let Some(name) = path.strip_prefix("workflows/") else {
            continue;
        };
        let Some(stem) = [".yaml", ".yml", ".json"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
        else {
            continue;
        };
        let wf = engine::load(path, text, &ctx).and_then(|wf| {
            check_hooks(&wf, path, text, &hooks)?;
            Ok(wf)
        });
        match wf {
            Ok(wf) if wf.id() == stem => out.push(BundleWorkflow {
                id: stem.to_string(),
                source: text.clone(),
                workflow: Arc::new(wf),
            }),
            Ok(wf) => {
                let doc = forecourt_tenant_config::Document::parse(path, text);
                problems.push(doc.error(
                    "workflow.id_mismatch",
                    "/id",
                    format!(
                        "the file is `{path}` but the definition's id is `{}`; name the file after the id",
                        wf.id()
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

/// Publishes a bundle's workflow inside the bundle's apply transaction, unless a version with
/// the same content was published before (re-applying a bundle never reverts a newer version
/// published through the API).
pub async fn publish_in(
    tx: &mut TenantTx,
    tenant_id: &str,
    w: &BundleWorkflow,
    by: &str,
) -> ApiResult<()> {
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM workflow_versions WHERE tenant_id = $1 AND workflow_id = $2 AND hash = $3 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id)
    .bind(&w.id)
    .bind(w.workflow.hash())
    .fetch_optional(&mut **tx)
    .await?;
    if seen.is_some() {
        return Ok(());
    }
    let next = latest_version(tx, tenant_id, &w.id)
        .await?
        .map_or(1, |(v, _)| v + 1);
    insert_version(tx, tenant_id, w, next, by).await?;
    Ok(())
}

const VERSION_COLUMNS: &str = "v.workflow_id, v.version, v.subject_type, v.hash, v.status, \
     v.published_by, v.published_at, \
     (SELECT COUNT(*) FROM workflow_instances i WHERE i.tenant_id = v.tenant_id \
      AND i.workflow_id = v.workflow_id AND i.workflow_version = v.version AND i.ended = 0) AS running";

fn version_from_row(r: &sqlx::any::AnyRow) -> Result<VersionInfo, sqlx::Error> {
    Ok(VersionInfo {
        workflow_id: r.try_get("workflow_id")?,
        version: r.try_get("version")?,
        subject_type: r.try_get("subject_type")?,
        hash: r.try_get("hash")?,
        status: r.try_get("status")?,
        published_by: r.try_get("published_by")?,
        published_at: r.try_get("published_at")?,
        running: r.try_get("running")?,
    })
}

/// Every version of every workflow of the tenant (or of one workflow), newest first per id.
pub async fn list_versions(
    state: &AppState,
    tenant_id: &str,
    workflow_id: Option<&str>,
) -> ApiResult<Vec<VersionInfo>> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM workflow_versions v WHERE v.tenant_id = $1 \
         AND ($2 = '' OR v.workflow_id = $2) ORDER BY v.workflow_id, v.version DESC"
    ))
    .bind(tenant_id)
    .bind(workflow_id.unwrap_or(""))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(version_from_row)
        .collect::<Result<_, _>>()?)
}

pub(crate) async fn version_info(
    state: &AppState,
    tenant_id: &str,
    workflow_id: &str,
    version: i64,
) -> ApiResult<VersionInfo> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM workflow_versions v WHERE v.tenant_id = $1 \
         AND v.workflow_id = $2 AND v.version = $3"
    ))
    .bind(tenant_id)
    .bind(workflow_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match row {
        Some(r) => Ok(version_from_row(&r)?),
        None => Err(ApiError::NotFound(format!(
            "version {version} of workflow `{workflow_id}`"
        ))),
    }
}

/// Marks a version deprecated: it starts no new instance; running ones keep it.
pub async fn deprecate(
    state: &AppState,
    tenant_id: &str,
    workflow_id: &str,
    version: i64,
    by: &str,
) -> ApiResult<VersionInfo> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let changed = sqlx::query(
        "UPDATE workflow_versions SET status = 'deprecated' WHERE tenant_id = $1 \
         AND workflow_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(workflow_id)
    .bind(version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::NotFound(format!(
            "version {version} of workflow `{workflow_id}`"
        )));
    }
    crate::audit::record_in(
        &mut tx,
        tenant_id,
        by,
        "workflow.deprecate",
        &format!("workflow:{workflow_id}:{version}"),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    version_info(state, tenant_id, workflow_id, version).await
}

/// The stored source of one version.
pub async fn source_of(
    state: &AppState,
    tenant_id: &str,
    workflow_id: &str,
    version: i64,
) -> ApiResult<String> {
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let row = sqlx::query(
        "SELECT source FROM workflow_versions WHERE tenant_id = $1 AND workflow_id = $2 AND version = $3",
    )
    .bind(tenant_id)
    .bind(workflow_id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match row {
        Some(r) => Ok(r.try_get("source")?),
        None => Err(ApiError::NotFound(format!(
            "version {version} of workflow `{workflow_id}`"
        ))),
    }
}

/// The compiled definition of one stored version (cached; versions are immutable).
pub async fn compiled(
    state: &AppState,
    snapshot: &Snapshot,
    workflow_id: &str,
    version: i64,
) -> ApiResult<Arc<engine::Workflow>> {
    let key = (snapshot.tenant.id.clone(), workflow_id.to_string(), version);
    if let Some(wf) = state.workflows.cache.get(&key) {
        return Ok(wf);
    }
    let source = source_of(state, &snapshot.tenant.id, workflow_id, version).await?;
    let file = file_name(workflow_id);
    // A stored version was valid when published; compile it against the roles it names, so a
    // role retired from the bundle later does not strand its running instances.
    let wf = tokio::task::spawn_blocking(move || engine::load_stored(&file, &source))
        .await
        .map_err(ApiError::internal)?
        .map_err(|report| {
            ApiError::Internal(format!(
                "stored workflow {workflow_id} v{version} no longer loads: {report}"
            ))
        })?;
    let wf = Arc::new(wf);
    state.workflows.cache.insert(key, wf.clone());
    Ok(wf)
}

/// The version new instances of `workflow_id` start on: the newest one not deprecated.
pub async fn current_version(
    tx: &mut TenantTx,
    tenant_id: &str,
    workflow_id: &str,
) -> ApiResult<i64> {
    let row = sqlx::query(
        "SELECT MAX(version) AS v FROM workflow_versions WHERE tenant_id = $1 AND workflow_id = $2 \
         AND status = 'published'",
    )
    .bind(tenant_id)
    .bind(workflow_id)
    .fetch_one(&mut **tx)
    .await?;
    row.try_get::<Option<i64>, _>("v")?
        .ok_or_else(|| ApiError::Conflict {
            code: "workflow_missing",
            detail: format!(
                "the tenant has no published version of workflow `{workflow_id}`; an admin publishes one with PUT /api/v1/admin/workflows/{workflow_id}"
            ),
        })
}

/// Who acts, as the engine and the history need it.
#[derive(Debug, Clone)]
pub struct Acting {
    pub engine: engine::Actor,
    /// How history shows the actor (`user:<id>`, `buyer`, `system`).
    pub name: String,
}

impl Acting {
    pub fn system() -> Acting {
        Acting {
            engine: engine::Actor::system(),
            name: "system".into(),
        }
    }
}

/// The relations that hold between a staff member in org unit `unit` (None = tenant level)
/// and a record in `store`: `tenant` always; `same_region`, `same_dealer_group`, `same_store`
/// when the staff member's unit and the store share that level of the org tree.
pub fn relations(snapshot: &Snapshot, unit: Option<&str>, store: Option<&str>) -> Vec<String> {
    let mut out = vec!["tenant".to_string()];
    let (Some(doc), Some(unit), Some(store)) = (snapshot.doc(), unit, store) else {
        return out;
    };
    let org = &doc.org;
    let Some(target) = org.store(store) else {
        return out;
    };
    // The unit's own region / dealer group / store.
    let (region, group, own_store) = if let Some(s) = org.store(unit) {
        (
            Some(s.region.clone()),
            s.dealer_group.clone(),
            Some(s.code.clone()),
        )
    } else if let Some(g) = org.dealer_groups.iter().find(|g| g.code == unit) {
        (Some(g.region.clone()), Some(g.code.clone()), None)
    } else if org.regions.iter().any(|r| r.code == unit) {
        (Some(unit.to_string()), None, None)
    } else {
        (None, None, None)
    };
    if region.as_deref() == Some(target.region.as_str()) {
        out.push("same_region".into());
    }
    if group.is_some() && group == target.dealer_group {
        out.push("same_dealer_group".into());
    }
    if own_store.as_deref() == Some(store) {
        out.push("same_store".into());
    }
    out
}

/// The staff actor for a record in `store`.
pub fn staff(snapshot: &Snapshot, actor: &crate::auth::Actor, store: Option<&str>) -> Acting {
    let c = &actor.credential;
    Acting {
        engine: engine::Actor {
            id: format!("user:{}", c.user_id),
            roles: c.roles.clone(),
            relations: relations(snapshot, c.unit.as_deref(), store),
        },
        name: format!("user:{}", c.user_id),
    }
}

/// A stored instance.
#[derive(Debug, Clone)]
pub struct StoredInstance {
    pub id: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub subject_type: String,
    pub subject_id: String,
    pub store: Option<String>,
    pub created_at: i64,
    pub instance: engine::Instance,
}

const INSTANCE_COLUMNS: &str = "id, workflow_id, workflow_version, subject_type, subject_id, \
                                store_code, body, created_at";

fn instance_from_row(r: &sqlx::any::AnyRow) -> ApiResult<StoredInstance> {
    let body: String = r.try_get("body")?;
    Ok(StoredInstance {
        id: r.try_get("id")?,
        workflow_id: r.try_get("workflow_id")?,
        workflow_version: r.try_get("workflow_version")?,
        subject_type: r.try_get("subject_type")?,
        subject_id: r.try_get("subject_id")?,
        store: r.try_get("store_code")?,
        created_at: r.try_get("created_at")?,
        instance: serde_json::from_str(&body).map_err(ApiError::internal)?,
    })
}

/// Loads one instance inside `tx`.
pub async fn load_instance(
    tx: &mut TenantTx,
    tenant_id: &str,
    id: &str,
) -> ApiResult<StoredInstance> {
    let row = sqlx::query(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("workflow instance `{id}`")))?;
    instance_from_row(&row)
}

/// The instance that drives a record (a booking …).
pub async fn instance_for_subject(
    tx: &mut TenantTx,
    tenant_id: &str,
    subject_type: &str,
    subject_id: &str,
) -> ApiResult<StoredInstance> {
    let row = sqlx::query(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE tenant_id = $1 \
         AND subject_type = $2 AND subject_id = $3"
    ))
    .bind(tenant_id)
    .bind(subject_type)
    .bind(subject_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("workflow of {subject_type} `{subject_id}`")))?;
    instance_from_row(&row)
}

/// What starts an instance.
pub struct StartSpec<'a> {
    pub workflow_id: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub store: Option<&'a str>,
    pub subject: Value,
    /// The version to start on when the caller already looked it up (the order writer does,
    /// once per batch); `None` → the current version.
    pub version: Option<i64>,
}

/// Starts an instance of the current version inside the caller's transaction.
pub async fn start_in(
    tx: &mut TenantTx,
    state: &AppState,
    snapshot: &Snapshot,
    spec: StartSpec<'_>,
    actor: &Acting,
    now: i64,
) -> ApiResult<StoredInstance> {
    let tenant_id = &snapshot.tenant.id;
    let version = match spec.version {
        Some(v) => v,
        None => current_version(tx, tenant_id, spec.workflow_id).await?,
    };
    let wf = compiled(state, snapshot, spec.workflow_id, version).await?;
    let (mut stored, outcome) = begin(&wf, version, spec, actor, now)?;
    let mut instances = Rows::new(INSTANCE_INSERT, INSTANCE_WIDTH, "");
    instances.push(instance_row(tenant_id, &stored)?);
    instances.write(tx).await?;
    stored.instance = persist_outcome(tx, state, snapshot, &stored, &outcome, actor, now).await?;
    Ok(stored)
}

/// A new instance of `wf` (version `version`) in memory: the engine's start, not yet stored.
pub fn begin(
    wf: &engine::Workflow,
    version: i64,
    spec: StartSpec<'_>,
    actor: &Acting,
    now: i64,
) -> ApiResult<(StoredInstance, engine::Outcome)> {
    if wf.subject() != spec.subject_type {
        return Err(ApiError::Conflict {
            code: "workflow_subject_mismatch",
            detail: format!(
                "workflow `{}` v{version} is for `{}` records, not `{}`",
                spec.workflow_id,
                wf.subject(),
                spec.subject_type
            ),
        });
    }
    let outcome = engine::start(wf, spec.subject, &actor.engine, now).map_err(step_error)?;
    let stored = StoredInstance {
        id: uuid::Uuid::now_v7().to_string(),
        workflow_id: spec.workflow_id.to_string(),
        workflow_version: version,
        subject_type: spec.subject_type.to_string(),
        subject_id: spec.subject_id.to_string(),
        store: spec.store.map(str::to_string),
        created_at: now,
        instance: outcome.instance.clone(),
    };
    Ok((stored, outcome))
}

const INSTANCE_INSERT: &str = "INSERT INTO workflow_instances (tenant_id, id, workflow_id, \
     workflow_version, subject_type, subject_id, store_code, state, version, ended, body, \
     created_at, updated_at)";
const INSTANCE_WIDTH: usize = 13;

fn instance_row(tenant_id: &str, stored: &StoredInstance) -> ApiResult<Vec<Val>> {
    Ok(vec![
        tenant_id.into(),
        (&stored.id).into(),
        (&stored.workflow_id).into(),
        stored.workflow_version.into(),
        (&stored.subject_type).into(),
        (&stored.subject_id).into(),
        stored.store.as_deref().into(),
        (&stored.instance.state).into(),
        (stored.instance.version as i64).into(),
        i64::from(stored.instance.ended).into(),
        serde_json::to_string(&stored.instance)
            .map_err(ApiError::internal)?
            .into(),
        stored.created_at.into(),
        stored.created_at.into(),
    ])
}

const HISTORY_INSERT: &str = "INSERT INTO workflow_history (tenant_id, instance_id, seq, kind, \
     transition, timer, from_state, to_state, actor_id, actor_name, input, at)";
const HISTORY_WIDTH: usize = 12;

fn history_row(
    tenant_id: &str,
    stored: &StoredInstance,
    outcome: &engine::Outcome,
    actor: &Acting,
) -> Vec<Val> {
    let r = &outcome.record;
    vec![
        tenant_id.into(),
        (&stored.id).into(),
        (outcome.instance.version as i64).into(),
        r.kind.as_str().into(),
        r.transition.as_deref().into(),
        r.timer.as_deref().into(),
        r.from.as_deref().into(),
        (&r.to).into(),
        (&r.actor_id).into(),
        (&actor.name).into(),
        r.input.to_string().into(),
        r.at.into(),
    ]
}

const TIMER_INSERT: &str =
    "INSERT INTO workflow_timers (tenant_id, instance_id, timer, epoch, due_at, status)";
const TIMER_WIDTH: usize = 6;
const TIMER_UPSERT: &str = "ON CONFLICT (tenant_id, instance_id, timer, epoch) \
     DO UPDATE SET due_at = excluded.due_at, status = 'pending'";

fn timer_row(tenant_id: &str, instance_id: &str, timer: &str, epoch: u64, due_at: i64) -> Vec<Val> {
    vec![
        tenant_id.into(),
        instance_id.into(),
        timer.into(),
        (epoch as i64).into(),
        due_at.into(),
        "pending".into(),
    ]
}

/// The outbox messages of an `Emit` or `Notify` effect (none for other effects).
fn messages(stored: &StoredInstance, effect: &engine::Effect) -> Vec<Message> {
    let subject = Some((stored.subject_type.clone(), stored.subject_id.clone()));
    match effect {
        engine::Effect::Emit { event, data } => vec![Message {
            kind: Kind::Event,
            name: event.clone(),
            recipient: None,
            subject,
            payload: data.clone(),
        }],
        engine::Effect::Notify { template, to, data } => to
            .iter()
            .map(|recipient| {
                let reference = if recipient == "buyer" {
                    format!("buyer:{}", stored.subject_id)
                } else {
                    match &stored.store {
                        Some(store) => format!("role:{recipient}@{store}"),
                        None => format!("role:{recipient}"),
                    }
                };
                Message {
                    kind: Kind::Notify,
                    name: template.clone(),
                    recipient: Some(reference),
                    subject: subject.clone(),
                    payload: data.clone(),
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Starts of many instances, written together: one multi-row statement per table. For
/// callers that start many instances in one transaction (the order desk).
pub struct Starts {
    instances: Rows,
    history: Rows,
    timers: Rows,
    outbox: Rows,
}

impl Default for Starts {
    fn default() -> Self {
        Starts {
            instances: Rows::new(INSTANCE_INSERT, INSTANCE_WIDTH, ""),
            history: Rows::new(HISTORY_INSERT, HISTORY_WIDTH, ""),
            timers: Rows::new(TIMER_INSERT, TIMER_WIDTH, TIMER_UPSERT),
            outbox: Rows::new(outbox::INSERT, outbox::WIDTH, ""),
        }
    }
}

impl Starts {
    /// Adds a start from [`begin`]. `Err` names an effect that needs [`start_in`] instead
    /// (a script hook, an immediate end); nothing is added then.
    pub fn push(
        &mut self,
        tenant_id: &str,
        stored: &StoredInstance,
        outcome: &engine::Outcome,
        actor: &Acting,
        now: i64,
    ) -> ApiResult<()> {
        let mut timers = Vec::new();
        let mut messages_out = Vec::new();
        for effect in &outcome.effects {
            match effect {
                engine::Effect::ScheduleTimer {
                    timer,
                    due_at,
                    epoch,
                } => timers.push(timer_row(tenant_id, &stored.id, timer, *epoch, *due_at)),
                engine::Effect::Emit { .. } | engine::Effect::Notify { .. } => {
                    messages_out.extend(messages(stored, effect))
                }
                other => {
                    return Err(ApiError::Internal(format!(
                        "a batched start cannot carry out {other:?}"
                    )))
                }
            }
        }
        self.instances.push(instance_row(tenant_id, stored)?);
        self.history
            .push(history_row(tenant_id, stored, outcome, actor));
        for row in timers {
            self.timers.push(row);
        }
        for m in &messages_out {
            self.outbox.push(outbox::row(tenant_id, m, now).1);
        }
        Ok(())
    }

    /// Writes every start added.
    pub async fn write(self, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
        self.instances.write(tx).await?;
        self.history.write(tx).await?;
        self.timers.write(tx).await?;
        self.outbox.write(tx).await?;
        Ok(())
    }
}

/// Maps an engine refusal to the HTTP edge, keeping the engine's stable code.
pub fn step_error(e: engine::StepError) -> ApiError {
    use axum::http::StatusCode;
    use engine::StepError as E;
    let status = match &e {
        E::Forbidden { .. } | E::AlreadyApproved { .. } => StatusCode::FORBIDDEN,
        E::InvalidInput { .. } | E::GuardRejected { .. } | E::UnknownTransition { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        E::GuardFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    };
    let errors = match &e {
        E::InvalidInput { errors, .. } => errors
            .iter()
            .map(|i| crate::http::error::FieldError {
                pointer: format!("/input{}", i.pointer),
                message: i.message.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    ApiError::WorkflowRefused {
        status,
        code: e.code(),
        detail: e.to_string(),
        errors,
    }
}

/// Writes what a step decided: history, timers, outbox messages, subject rules. Returns the
/// instance as stored: a step that moved its record (an order allocated another vehicle) gets
/// the new subject in the instance, its messages and its timers.
async fn persist_outcome(
    tx: &mut TenantTx,
    state: &AppState,
    snapshot: &Snapshot,
    stored: &StoredInstance,
    outcome: &engine::Outcome,
    actor: &Acting,
    now: i64,
) -> ApiResult<engine::Instance> {
    let tenant_id = &snapshot.tenant.id;
    let moved =
        crate::orders::after_step(tx, state.db.backend, snapshot, stored, outcome, now).await?;
    let changed;
    let outcome = match moved {
        Some(subject) => {
            let wf = compiled(
                state,
                snapshot,
                &stored.workflow_id,
                stored.workflow_version,
            )
            .await?;
            let mut with_new = outcome.clone();
            with_subject(&wf, &mut with_new, subject, now);
            sqlx::query(
                "UPDATE workflow_instances SET body = $1 WHERE tenant_id = $2 AND id = $3 \
                 AND version = $4",
            )
            .bind(serde_json::to_string(&with_new.instance).map_err(ApiError::internal)?)
            .bind(tenant_id)
            .bind(&stored.id)
            .bind(with_new.instance.version as i64)
            .execute(&mut **tx)
            .await?;
            changed = with_new;
            &changed
        }
        None => outcome,
    };
    let mut history = Rows::new(HISTORY_INSERT, HISTORY_WIDTH, "");
    history.push(history_row(tenant_id, stored, outcome, actor));
    history.write(tx).await?;
    let subject = Some((stored.subject_type.clone(), stored.subject_id.clone()));
    for effect in &outcome.effects {
        match effect {
            engine::Effect::ScheduleTimer {
                timer,
                due_at,
                epoch,
            } => {
                let mut timers = Rows::new(TIMER_INSERT, TIMER_WIDTH, TIMER_UPSERT);
                timers.push(timer_row(tenant_id, &stored.id, timer, *epoch, *due_at));
                timers.write(tx).await?;
            }
            engine::Effect::CancelTimers => {
                sqlx::query(
                    "UPDATE workflow_timers SET status = 'cancelled' WHERE tenant_id = $1 \
                     AND instance_id = $2 AND status = 'pending'",
                )
                .bind(tenant_id)
                .bind(&stored.id)
                .execute(&mut **tx)
                .await?;
            }
            engine::Effect::Emit { .. } | engine::Effect::Notify { .. } => {
                for message in messages(stored, effect) {
                    outbox::enqueue(tx, tenant_id, &message, now).await?;
                }
            }
            engine::Effect::CallHook { hook, data } => {
                // A hook is a consequence, not a condition (guards are): when its script fails,
                // the step still happens and the failure is kept as a dead hook message.
                let result = run_hook(state, snapshot, hook, stored, outcome).await;
                let payload = match &result {
                    Ok(value) => value.clone(),
                    Err(_) => data.clone(),
                };
                let id = outbox::enqueue(
                    tx,
                    tenant_id,
                    &Message {
                        kind: Kind::Hook,
                        name: hook.clone(),
                        recipient: None,
                        subject: subject.clone(),
                        payload,
                    },
                    now,
                )
                .await?;
                if let Err(e) = result {
                    let reason = match e {
                        ApiError::Unavailable(reason) => reason,
                        other => other.to_string(),
                    };
                    tracing::warn!(tenant = %tenant_id, hook = %hook, reason = %reason, "workflow hook failed");
                    outbox::fail(tx, tenant_id, &id, &reason).await?;
                }
            }
            engine::Effect::Ended { .. } => {
                crate::test_drives::on_ended(tx, tenant_id, stored).await?;
            }
        }
    }
    Ok(outcome.instance.clone())
}

/// Runs a workflow action's script hook (`scripts/<hook>.rhai`, function `on_step(step)`) in
/// the sandbox; its return value is the hook message's payload.
async fn run_hook(
    state: &AppState,
    snapshot: &Snapshot,
    hook: &str,
    stored: &StoredInstance,
    outcome: &engine::Outcome,
) -> ApiResult<Value> {
    let path = format!("scripts/{hook}.rhai");
    let source = snapshot
        .bundle
        .as_ref()
        .and_then(|b| b.files().get(&path).cloned())
        .ok_or_else(|| {
            ApiError::Unavailable(format!(
                "workflow hook `{hook}` has no script `{path}` in the active bundle"
            ))
        })?;
    let step = serde_json::json!({
        "workflow": stored.workflow_id,
        "version": stored.workflow_version,
        "state": outcome.instance.state,
        "transition": outcome.record.transition,
        "subject": outcome.instance.subject,
    });
    let worker = state.clone();
    let hook_name = hook.to_string();
    tokio::task::spawn_blocking(move || {
        let scripts = &worker.scripts;
        let compiled = scripts.compile(&path, &source).map_err(|e| e.to_string())?;
        scripts
            .run(&compiled, Some("on_step"), &Value::Array(vec![step]))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::Unavailable(format!("workflow hook `{hook_name}` failed: {e}")))
}

/// Applies one command to an instance: `expected` (when given) must be the instance's current
/// version.
pub async fn command(
    state: &AppState,
    snapshot: &Snapshot,
    instance_id: &str,
    expected: Option<i64>,
    command: &engine::Command,
    actor: &Acting,
) -> ApiResult<StoredInstance> {
    let tenant_id = &snapshot.tenant.id;
    let now = now_ms();
    let expected = match expected {
        Some(v) => v,
        None => {
            let mut tx = state.db.tenant_tx(tenant_id).await?;
            let current = load_instance(&mut tx, tenant_id, instance_id).await?;
            tx.commit().await?;
            current.instance.version as i64
        }
    };
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let stored = command_in(
        &mut tx,
        state,
        snapshot,
        instance_id,
        expected,
        command,
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// [`command`] inside the caller's transaction (a payment callback records the payment and
/// fires the order's transition together). `expected` must be the instance's current version.
#[allow(clippy::too_many_arguments)]
pub async fn command_in(
    tx: &mut TenantTx,
    state: &AppState,
    snapshot: &Snapshot,
    instance_id: &str,
    expected: i64,
    command: &engine::Command,
    actor: &Acting,
    now: i64,
) -> ApiResult<StoredInstance> {
    let tenant_id = &snapshot.tenant.id;
    // The first statement takes the write lock (SQLite: the database, before any read, so the
    // transaction never has to upgrade a stale read snapshot; PostgreSQL: the row), conditional
    // on the version the caller saw: a concurrent command that committed first makes this 409.
    let locked = sqlx::query(
        "UPDATE workflow_instances SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2 \
         AND version = $3",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if locked != 1 {
        // Either no such instance (404) or another version (409).
        load_instance(tx, tenant_id, instance_id).await?;
        return Err(stale(instance_id, expected));
    }
    let mut stored = load_instance(tx, tenant_id, instance_id).await?;
    let wf = compiled(
        state,
        snapshot,
        &stored.workflow_id,
        stored.workflow_version,
    )
    .await?;
    let mut outcome =
        engine::step(&wf, &stored.instance, command, &actor.engine, now).map_err(step_error)?;
    // A command the workflow accepted may move the record itself (a reschedule moves the
    // booking's slot); the outcome then carries the new subject and re-armed timers.
    if let Some(subject) =
        crate::test_drives::after_accepted(tx, snapshot, &stored, command, now).await?
    {
        with_subject(&wf, &mut outcome, subject, now);
    }
    save(tx, tenant_id, &stored, &outcome.instance, now).await?;
    stored.instance = outcome.instance.clone();
    stored.instance = persist_outcome(tx, state, snapshot, &stored, &outcome, actor, now).await?;
    Ok(stored)
}

/// Puts a changed subject into an outcome: the instance, the data of its messages, and its
/// timers (the state's timers re-armed from the new subject).
fn with_subject(wf: &engine::Workflow, outcome: &mut engine::Outcome, subject: Value, now: i64) {
    outcome.instance.subject = subject.clone();
    outcome
        .effects
        .retain(|e| !matches!(e, engine::Effect::ScheduleTimer { .. }));
    for effect in &mut outcome.effects {
        if let engine::Effect::Emit { data, .. }
        | engine::Effect::Notify { data, .. }
        | engine::Effect::CallHook { data, .. } = effect
        {
            if let Some(object) = data.as_object_mut() {
                object.insert("subject".into(), subject.clone());
            }
        }
    }
    if !outcome.instance.ended {
        outcome.effects.push(engine::Effect::CancelTimers);
        outcome
            .effects
            .extend(engine::timers_for(wf, &outcome.instance, now));
    }
}

fn stale(instance_id: &str, expected: i64) -> ApiError {
    ApiError::Conflict {
        code: "stale_version",
        detail: format!(
            "workflow instance `{instance_id}` is no longer at version {expected}: someone acted on it first; \
             reload it and decide again"
        ),
    }
}

async fn save(
    tx: &mut TenantTx,
    tenant_id: &str,
    stored: &StoredInstance,
    next: &engine::Instance,
    now: i64,
) -> ApiResult<()> {
    let updated = sqlx::query(
        "UPDATE workflow_instances SET state = $1, version = $2, ended = $3, body = $4, \
         workflow_version = $5, updated_at = $6 WHERE tenant_id = $7 AND id = $8 AND version = $9",
    )
    .bind(&next.state)
    .bind(next.version as i64)
    .bind(i64::from(next.ended))
    .bind(serde_json::to_string(next).map_err(ApiError::internal)?)
    .bind(stored.workflow_version)
    .bind(now)
    .bind(tenant_id)
    .bind(&stored.id)
    .bind(stored.instance.version as i64)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(stale(&stored.id, stored.instance.version as i64));
    }
    Ok(())
}

/// One history row as served.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    /// `start`, `transition`, `approval`, `escalation` or `migration`.
    pub kind: String,
    pub transition: Option<String>,
    pub timer: Option<String>,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    #[schema(value_type = Object)]
    pub input: Value,
    pub at: i64,
}

/// The history of one instance, oldest first.
pub async fn history(
    tx: &mut TenantTx,
    tenant_id: &str,
    instance_id: &str,
) -> ApiResult<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT seq, kind, transition, timer, from_state, to_state, actor_name, input, at \
         FROM workflow_history WHERE tenant_id = $1 AND instance_id = $2 ORDER BY seq",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let input: String = r.try_get("input")?;
            Ok(HistoryEntry {
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                transition: r.try_get("transition")?,
                timer: r.try_get("timer")?,
                from: r.try_get("from_state")?,
                to: r.try_get("to_state")?,
                actor: r.try_get("actor_name")?,
                input: serde_json::from_str(&input).unwrap_or(Value::Null),
                at: r.try_get("at")?,
            })
        })
        .collect()
}

/// A pending timer as served.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingTimer {
    pub timer: String,
    pub due_at: i64,
}

pub async fn pending_timers(
    tx: &mut TenantTx,
    tenant_id: &str,
    instance_id: &str,
) -> ApiResult<Vec<PendingTimer>> {
    let rows = sqlx::query(
        "SELECT timer, due_at FROM workflow_timers WHERE tenant_id = $1 AND instance_id = $2 \
         AND status = 'pending' ORDER BY due_at",
    )
    .bind(tenant_id)
    .bind(instance_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingTimer {
                timer: r.try_get("timer")?,
                due_at: r.try_get("due_at")?,
            })
        })
        .collect()
}

/// Moves every running instance of `workflow_id` on version `from` to version `to`, mapping
/// states through `states` (a state missing from the map keeps its name). All or nothing: when
/// any instance's state does not exist in the target version, nothing moves. Timers are
/// re-armed from the target version; approvals in progress are cleared.
pub async fn migrate(
    state: &AppState,
    snapshot: &Snapshot,
    workflow_id: &str,
    from: i64,
    to: i64,
    states: &std::collections::BTreeMap<String, String>,
    by: &str,
) -> ApiResult<Vec<String>> {
    let tenant_id = &snapshot.tenant.id;
    let target = compiled(state, snapshot, workflow_id, to).await?;
    let _ = compiled(state, snapshot, workflow_id, from).await?;
    let now = now_ms();
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    lock_tenant(&mut tx, tenant_id).await?;
    let rows = sqlx::query(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE tenant_id = $1 AND workflow_id = $2 \
         AND workflow_version = $3 AND ended = 0 ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(workflow_id)
    .bind(from)
    .fetch_all(&mut *tx)
    .await?;
    let instances: Vec<StoredInstance> = rows
        .iter()
        .map(instance_from_row)
        .collect::<Result<_, _>>()?;
    let mut problems = Vec::new();
    for s in &instances {
        let new_state = states.get(&s.instance.state).unwrap_or(&s.instance.state);
        if !target.has_state(new_state) {
            problems.push(format!(
                "instance {} is in state `{}`, which version {to} does not have{}",
                s.id,
                s.instance.state,
                if states.contains_key(&s.instance.state) {
                    format!(" (mapped to `{new_state}`)")
                } else {
                    "; map it with `states`".into()
                }
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Conflict {
            code: "migration_refused",
            detail: format!("nothing was migrated: {}", problems.join("; ")),
        });
    }
    let actor = Acting {
        engine: engine::Actor::system(),
        name: by.to_string(),
    };
    let mut moved = Vec::new();
    for mut s in instances {
        let new_state = states
            .get(&s.instance.state)
            .cloned()
            .unwrap_or_else(|| s.instance.state.clone());
        let outcome = engine::migrate(&target, &s.instance, &new_state, now).map_err(step_error)?;
        let old_version = s.workflow_version;
        s.workflow_version = to;
        save(&mut tx, tenant_id, &s, &outcome.instance, now).await?;
        sqlx::query(
            "UPDATE workflow_timers SET status = 'cancelled' WHERE tenant_id = $1 \
             AND instance_id = $2 AND status = 'pending'",
        )
        .bind(tenant_id)
        .bind(&s.id)
        .execute(&mut *tx)
        .await?;
        let mut outcome = outcome;
        outcome.record.input = serde_json::json!({ "from_version": old_version, "to_version": to });
        s.instance = outcome.instance.clone();
        s.instance = persist_outcome(&mut tx, state, snapshot, &s, &outcome, &actor, now).await?;
        moved.push(s.id);
    }
    crate::audit::record_in(
        &mut tx,
        tenant_id,
        by,
        "workflow.migrate",
        &format!("workflow:{workflow_id}:{from}->{to}"),
        serde_json::json!({ "instances": moved.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(yaml: &str) -> (StoredInstance, engine::Outcome) {
        let wf = engine::load_stored("w.yaml", yaml).expect("test workflow loads");
        let spec = StartSpec {
            workflow_id: "w",
            subject_type: "quote",
            subject_id: "q1",
            store: Some("sh01"),
            subject: serde_json::json!({}),
            version: Some(1),
        };
        begin(&wf, 1, spec, &Acting::system(), 1_000).expect("starts")
    }

    const PLAIN: &str = "id: w\nsubject: quote\nstates:\n  - name: open\n    initial: true\n    on_enter:\n      - emit: quote.opened\n      - notify: { template: opened, to: [buyer, store_manager] }\n  - name: done\n    terminal: true\ntransitions:\n  - name: finish\n    from: open\n    to: done\n    who: [{role: store_manager}]\n";

    #[test]
    fn batched_starts_carry_the_instance_history_and_messages() {
        let (stored, outcome) = started(PLAIN);
        assert_eq!(stored.instance.state, "open");
        let mut starts = Starts::default();
        starts
            .push("t1", &stored, &outcome, &Acting::system(), 1_000)
            .expect("a plain start is batched");
        assert_eq!(starts.instances.len(), 1);
        assert_eq!(starts.history.len(), 1);
        // One event, one notification per recipient (buyer, and the role at the store).
        assert_eq!(starts.outbox.len(), 3);
        let recipients: Vec<String> = outcome
            .effects
            .iter()
            .flat_map(|e| messages(&stored, e))
            .filter_map(|m| m.recipient)
            .collect();
        assert_eq!(recipients, ["buyer:q1", "role:store_manager@sh01"]);
    }

    #[test]
    fn a_start_calling_a_hook_is_left_to_the_one_by_one_path() {
        let (stored, outcome) = started(&PLAIN.replace(
            "      - emit: quote.opened\n",
            "      - emit: quote.opened\n      - hook: audit\n",
        ));
        let mut starts = Starts::default();
        let refused = starts.push("t1", &stored, &outcome, &Acting::system(), 1_000);
        assert!(refused.is_err());
        assert!(starts.instances.is_empty() && starts.outbox.is_empty());
    }
}
