//! Explains a decision for an admin: which policy allowed it, or why each policy that could
//! have allowed it did not.

use cedar_policy::{Authorizer, PolicySet};
use serde::Serialize;

use super::{PreDenial, Principal, Resource, TenantPolicies};

/// One policy considered for the request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyTrace {
    /// `role.<code>.grant.<n>`.
    pub policy: String,
    pub role: String,
    /// Index of the grant within the role in `tenant.yaml`.
    pub grant: usize,
    pub reach: String,
    pub store_levels: Option<Vec<String>>,
    /// Whether this policy on its own permits the request.
    pub permits: bool,
    /// Plain words: why it applies or not.
    pub why: String,
    /// The compiled Cedar policy.
    pub cedar: String,
}

/// The answer of `GET /api/v1/authz/explain`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// `allow` or `deny`.
    pub decision: String,
    /// One sentence for the admin.
    pub summary: String,
    /// The policies that determined an allow (empty on deny).
    pub determining: Vec<String>,
    /// Every policy of the principal's roles that names the action.
    pub considered: Vec<PolicyTrace>,
}

fn unit_words(p: &TenantPolicies, unit: Option<&str>) -> String {
    match unit.and_then(|u| p.units.get(u).map(|place| (u, place))) {
        Some((code, place)) => format!("{} {code}", kind_word(place.kind)),
        None => "the tenant level (no org unit)".into(),
    }
}

fn kind_word(kind: super::UnitKind) -> &'static str {
    match kind {
        super::UnitKind::Region => "region",
        super::UnitKind::DealerGroup => "dealer group",
        super::UnitKind::Store => "store",
    }
}

/// Explains whether `principal` may perform `action` on `resource`.
pub fn explain(
    p: &TenantPolicies,
    principal: &Principal,
    action: &str,
    resource: &Resource,
) -> Explanation {
    let decided = p.decide(principal, action, resource);
    let mut considered = Vec::new();
    let mut ids: Vec<&String> = p
        .sources
        .iter()
        .filter(|(_, s)| principal.roles.contains(&s.role) && s.actions.iter().any(|a| a == action))
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    if let (Some(action_uid), true) = (p.actions.get(action), decided.pre_denial.is_none()) {
        if let Ok((request, entities)) = p.request(principal, action_uid, resource) {
            for id in ids {
                let source = &p.sources[id];
                let mut single = PolicySet::new();
                if let Some(policy) = p.policies.policy(&cedar_policy::PolicyId::new(id)) {
                    let _ = single.add(policy.clone());
                }
                let permits = Authorizer::new()
                    .is_authorized(&request, &single, &entities)
                    .decision()
                    == cedar_policy::Decision::Allow;
                let why = if permits {
                    format!(
                        "grants {action} with reach {} and the resource is within it",
                        source.reach
                    )
                } else {
                    let levels = source.store_levels.as_ref().map(|l| l.join(", "));
                    let unit = unit_words(p, principal.unit.as_deref());
                    match levels {
                        Some(levels) => format!(
                            "grants {action} with reach {} only when the user's store has level {levels}; the user is at {unit}, or {} is outside that reach",
                            source.reach,
                            resource.describe()
                        ),
                        None => format!(
                            "grants {action} with reach {}; the user is at {unit} and {} is outside that reach",
                            source.reach,
                            resource.describe()
                        ),
                    }
                };
                considered.push(PolicyTrace {
                    policy: id.clone(),
                    role: source.role.clone(),
                    grant: source.grant,
                    reach: source.reach.to_string(),
                    store_levels: source.store_levels.clone(),
                    permits,
                    why,
                    cedar: source.cedar.clone(),
                });
            }
        }
    }
    let summary = if decided.allowed {
        format!("Allowed by {}.", decided.policies.join(", "))
    } else {
        match &decided.pre_denial {
            Some(PreDenial::TokenScope) => {
                format!("Denied: the API token's scopes do not include {action} (a token narrows its user's permissions).")
            }
            Some(PreDenial::UnknownUnit(code)) => format!("Denied: {code} is not an org unit of this tenant."),
            Some(PreDenial::UnknownAction) => format!("Denied: {action} is not an action of the platform."),
            None if considered.is_empty() => format!(
                "Denied by default: none of the roles [{}] grants {action}.",
                principal.roles.join(", ")
            ),
            None => format!(
                "Denied by default: {} polic{} of the user's roles grant{} {action}, but none reaches {}.",
                considered.len(),
                if considered.len() == 1 { "y" } else { "ies" },
                if considered.len() == 1 { "s" } else { "" },
                resource.describe()
            ),
        }
    };
    Explanation {
        decision: if decided.allowed { "allow" } else { "deny" }.into(),
        summary,
        determining: if decided.allowed {
            decided.policies
        } else {
            Vec::new()
        },
        considered,
    }
}
