//! The demo: the two example tenants (`aurora`, `shudao`) with their bundles, one user per
//! demo role and their vehicle stock (`stock.csv`, through the import's checks), applied
//! idempotently by `forecourt serve --demo`. Demo passwords are for the demo only.

use std::path::{Path, PathBuf};

use forecourt_tenant_config::BundleSource;
use serde::Deserialize;

use crate::bundles::{self, Origin};
use crate::http::error::ApiError;
use crate::inventory;
use crate::state::AppState;
use crate::tenancy;
use crate::users::{self, NewUser};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "forecourt-demo";

/// The day the dates of the demo's `stock.csv` files are written relative to: seeding shifts
/// every arrival date by the days from this day to today (in the tenant's time zone), so ages,
/// holding costs and arrivals still ahead look the same whenever the demo starts.
pub const DEMO_STOCK_ANCHOR: jiff::civil::Date = jiff::civil::date(2026, 11, 26);

/// The demo tenants: directory under `examples/`.
pub const DEMO_TENANTS: &[&str] = &["aurora-motors", "shudao-auto-group"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUser {
    email: String,
    name: String,
    roles: Vec<String>,
    #[serde(default)]
    unit: Option<String>,
}

/// Finds `examples/`: the given directory, else `./examples`, else the one in the source tree.
pub fn examples_dir(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let local = PathBuf::from("examples");
    if local.join(DEMO_TENANTS[0]).is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// What the demo set up for one tenant.
pub struct DemoTenant {
    pub slug: String,
    pub version: i64,
    pub users: Vec<(String, Vec<String>)>,
}

/// Creates (if missing) and configures the demo tenants and users. Safe to run again.
pub async fn apply_demo(state: &AppState, examples: &Path) -> Result<Vec<DemoTenant>, ApiError> {
    let mut out = Vec::new();
    for dir in DEMO_TENANTS {
        let base = examples.join(dir);
        let source = BundleSource::from_dir(base.join("bundle"))
            .map_err(|e| ApiError::Internal(format!("demo bundle {}: {e}", base.display())))?;
        let bundle =
            forecourt_tenant_config::load(&source).map_err(|report| ApiError::InvalidBundle {
                diagnostics: report.diagnostics,
            })?;
        let profile = &bundle.tenant().tenant;
        let tenant = match tenancy::find_by_slug(&state.db, &profile.slug).await? {
            Some(t) => t,
            None => tenancy::create_for_profile(&state.db, profile).await?,
        };
        let outcome = bundles::apply(state, &tenant, &source, "demo", Origin::Apply).await?;
        let snapshot = state
            .snapshots
            .get(&state.db, &tenant.id)
            .await?
            .ok_or_else(|| ApiError::Internal("demo tenant vanished".into()))?;
        let text = std::fs::read_to_string(base.join("demo-users.yaml"))
            .map_err(|e| ApiError::Internal(format!("demo users of {dir}: {e}")))?;
        let demo_users: Vec<DemoUser> = serde_yaml::from_str(&text)
            .map_err(|e| ApiError::Internal(format!("demo users of {dir}: {e}")))?;
        let mut users_out = Vec::new();
        for u in demo_users {
            if users::find_user_by_email(&state.db, &tenant.id, &u.email)
                .await?
                .is_none()
            {
                let new = NewUser {
                    email: u.email.clone(),
                    display_name: u.name.clone(),
                    password: Some(DEMO_PASSWORD.into()),
                    roles: u.roles.clone(),
                    unit: u.unit.clone(),
                };
                users::create_user(&state.db, &snapshot, &new, "demo").await?;
            }
            users_out.push((u.email, u.roles));
        }
        let stock = base.join("stock.csv");
        if stock.is_file() {
            seed_stock(state, &snapshot, &stock).await?;
        }
        out.push(DemoTenant {
            slug: tenant.slug.clone(),
            version: outcome.version,
            users: users_out,
        });
    }
    Ok(out)
}

/// Seeds a demo tenant's stock from `path` (only VINs not stored yet), dates shifted from
/// [`DEMO_STOCK_ANCHOR`] to today.
async fn seed_stock(
    state: &AppState,
    snapshot: &crate::tenancy::Snapshot,
    path: &Path,
) -> Result<(), ApiError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ApiError::Internal(format!("demo stock {}: {e}", path.display())))?;
    let mut upload = inventory::import::parse_csv(&bytes)?;
    let shift = DEMO_STOCK_ANCHOR
        .until(inventory::today(snapshot))
        .map_err(ApiError::internal)?;
    for (_, item) in &mut upload.items {
        if let Some(day) = item.arrival_date.as_deref().and_then(inventory::parse_date) {
            let shifted = day.checked_add(shift).map_err(ApiError::internal)?;
            item.arrival_date = Some(shifted.to_string());
        }
    }
    inventory::import::seed(state, snapshot, upload, "demo").await?;
    Ok(())
}
