//! Authorization: a tenant's roles and scopes (from its bundle) compiled to a Cedar policy set
//! with the org tree as the entity hierarchy, and the decisions and explanations made with it.
//!
//! **Owns** the Cedar schema of Forecourt (`Forecourt::User`, `Role`, `Tenant`, `Region`,
//! `DealerGroup`, `Store`, `Record`), the compiler from `tenant.yaml` grants to policies, and the
//! explanation of a decision.
//!
//! **Invariants**
//! - Default deny: a request is allowed only when a compiled policy permits it; there is no
//!   bypass for any role. Routes declare their action (see `http::routes`).
//! - Every compiled policy set is validated against the Cedar schema before it is used; a
//!   failure is a bug in the compiler and rejects the bundle.
//! - An API token narrows its user's permissions to the token's scopes; it never widens them.
//! - Compiling is pure: same bundle, same policies (policy ids are `role.<code>.grant.<n>`).

mod compile;
mod explain;
pub mod routes;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema,
};
use forecourt_tenant_config::model::TenantDoc;

pub use compile::compile;
pub use explain::{explain, Explanation, PolicyTrace};

/// The Cedar schema every tenant's policies are validated against.
pub const CEDAR_SCHEMA: &str = r#"
namespace Forecourt {
  entity Tenant;
  entity Region in [Tenant];
  entity DealerGroup in [Region, Tenant];
  entity Store in [DealerGroup, Region, Tenant];
  entity Record in [Store, DealerGroup, Region, Tenant];
  entity Role;
  entity User in [Role] {
    store?: Store,
    dealer_group?: DealerGroup,
    region?: Region,
    store_level?: String,
  };
  ACTIONS
}
"#;

/// The schema text with one `action` declaration per platform action.
pub fn schema_text() -> String {
    let actions: String = forecourt_tenant_config::actions::ACTIONS
        .iter()
        .map(|a| {
            format!(
                "  action \"{}\" appliesTo {{ principal: [User], resource: [Tenant, Region, DealerGroup, Store, Record] }};\n",
                a.name
            )
        })
        .collect();
    CEDAR_SCHEMA.replace("  ACTIONS\n", &actions)
}

/// The parsed schema, built once.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::from_cedarschema_str(&schema_text())
            .map(|(s, _warnings)| s)
            .unwrap_or_else(|e| {
                // The schema is a constant of this crate; a parse failure is caught by its unit test.
                panic!("built-in Cedar schema does not parse: {e}")
            })
    })
}

/// The entity type names, parsed once (parsing a name runs Cedar's parser, which costs more
/// than a whole decision).
fn type_name(name: &str) -> EntityTypeName {
    static TYPES: OnceLock<HashMap<&'static str, EntityTypeName>> = OnceLock::new();
    let types = TYPES.get_or_init(|| {
        [
            "Forecourt::Tenant",
            "Forecourt::Region",
            "Forecourt::DealerGroup",
            "Forecourt::Store",
            "Forecourt::Record",
            "Forecourt::Role",
            "Forecourt::User",
            "Forecourt::Action",
        ]
        .into_iter()
        .map(|n| {
            (
                n,
                EntityTypeName::from_str(n).expect("constant Cedar type name"),
            )
        })
        .collect()
    });
    match types.get(name) {
        Some(t) => t.clone(),
        // Type names are constants of this module; the unit tests exercise every one.
        None => EntityTypeName::from_str(name).expect("constant Cedar type name"),
    }
}

fn uid(type_name_str: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(type_name_str), EntityId::new(id))
}

/// The kinds of Cedar entity a request can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Region,
    DealerGroup,
    Store,
}

impl UnitKind {
    fn cedar_type(self) -> &'static str {
        match self {
            UnitKind::Region => "Forecourt::Region",
            UnitKind::DealerGroup => "Forecourt::DealerGroup",
            UnitKind::Store => "Forecourt::Store",
        }
    }
}

/// Where an org unit sits: its own uid and every ancestor up to the tenant.
#[derive(Debug, Clone)]
struct UnitPlace {
    uid: EntityUid,
    ancestors: Vec<EntityUid>,
    kind: UnitKind,
    region: String,
    dealer_group: Option<String>,
    level: Option<String>,
}

/// What a request is about: the tenant itself, an org unit, or a record that lives in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A tenant-wide object (profile, bundle, audit log, token list …).
    Tenant,
    /// A region, dealer group or store, by code.
    Unit(String),
    /// A record (e.g. a user) of `kind` with `id`, belonging to an org unit (or to the tenant
    /// when `unit` is `None`).
    Record {
        kind: &'static str,
        id: String,
        unit: Option<String>,
    },
}

impl Resource {
    pub fn describe(&self) -> String {
        match self {
            Resource::Tenant => "the tenant".into(),
            Resource::Unit(code) => format!("org unit {code}"),
            Resource::Record {
                kind,
                id,
                unit: Some(u),
            } => format!("{kind} {id} (in {u})"),
            Resource::Record {
                kind,
                id,
                unit: None,
            } => format!("{kind} {id} (tenant level)"),
        }
    }
}

/// The acting user, as Cedar needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub roles: Vec<String>,
    /// The user's org unit (store, dealer group or region code); `None` = tenant level.
    pub unit: Option<String>,
    /// Set for API tokens: the only actions this credential may use.
    pub token_scopes: Option<Vec<String>>,
}

/// Why a request was denied before Cedar was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreDenial {
    /// The API token's scopes do not include the action.
    TokenScope,
    /// The resource names an org unit that is not in the tenant's org tree.
    UnknownUnit(String),
    /// The action is not in the platform vocabulary.
    UnknownAction,
}

/// A decision with the policies that made it.
#[derive(Debug, Clone)]
pub struct Decided {
    pub allowed: bool,
    /// Ids of the policies that determined the decision (the permits when allowed).
    pub policies: Vec<String>,
    pub pre_denial: Option<PreDenial>,
    pub errors: Vec<String>,
}

/// One tenant's compiled authorization: policies plus the org tree index.
pub struct TenantPolicies {
    tenant_uid: EntityUid,
    policies: PolicySet,
    /// The same policies sliced by role and action, each with a one-action scope: a decision
    /// evaluates only the policies that can apply to its principal's roles and its action.
    /// Every compiled policy is a `permit`, so "some role's slice allows" is exactly the
    /// decision of the whole set.
    slices: HashMap<String, HashMap<&'static str, PolicySet>>,
    /// Policy id → (role code, grant index, Cedar text) for explanations.
    sources: HashMap<String, PolicySource>,
    units: HashMap<String, UnitPlace>,
    authorizer: Authorizer,
    actions: HashMap<&'static str, EntityUid>,
}

/// Where a compiled policy came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicySource {
    pub role: String,
    pub grant: usize,
    pub reach: &'static str,
    pub store_levels: Option<Vec<String>>,
    pub actions: Vec<String>,
    pub cedar: String,
}

impl std::fmt::Debug for TenantPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantPolicies")
            .field("policies", &self.sources.len())
            .field("units", &self.units.len())
            .finish()
    }
}

impl TenantPolicies {
    /// Policies of a tenant that has not applied a bundle yet: nothing is allowed.
    pub fn deny_all(tenant_id: &str) -> Arc<Self> {
        Arc::new(TenantPolicies {
            tenant_uid: uid("Forecourt::Tenant", tenant_id),
            policies: PolicySet::new(),
            slices: HashMap::new(),
            sources: HashMap::new(),
            units: HashMap::new(),
            authorizer: Authorizer::new(),
            actions: action_uids(),
        })
    }

    pub fn policy_source(&self, id: &str) -> Option<&PolicySource> {
        self.sources.get(id)
    }

    pub fn policy_count(&self) -> usize {
        self.sources.len()
    }

    /// True when `code` names an org unit of the tenant.
    pub fn has_unit(&self, code: &str) -> bool {
        self.units.contains_key(code)
    }

    /// Decides whether `principal` may perform `action` on `resource`.
    pub fn decide(&self, principal: &Principal, action: &str, resource: &Resource) -> Decided {
        let denied = |reason| Decided {
            allowed: false,
            policies: vec![],
            pre_denial: Some(reason),
            errors: vec![],
        };
        let Some(action_uid) = self.actions.get(action) else {
            return denied(PreDenial::UnknownAction);
        };
        if let Some(scopes) = &principal.token_scopes {
            if !scopes.iter().any(|s| s == action) {
                return denied(PreDenial::TokenScope);
            }
        }
        let (request, entities) = match self.request(principal, action_uid, resource) {
            Ok(r) => r,
            Err(pre) => return denied(pre),
        };
        let mut determining = Vec::new();
        let mut errors = Vec::new();
        for role in &principal.roles {
            let Some(slice) = self
                .slices
                .get(role)
                .and_then(|by_action| by_action.get(action))
            else {
                continue;
            };
            let response = self.authorizer.is_authorized(&request, slice, &entities);
            let diagnostics = response.diagnostics();
            errors.extend(diagnostics.errors().map(|e| e.to_string()));
            if response.decision() == Decision::Allow {
                determining.extend(diagnostics.reason().map(|p| p.to_string()));
                break;
            }
        }
        Decided {
            allowed: !determining.is_empty(),
            policies: determining,
            pre_denial: None,
            errors,
        }
    }

    /// Shorthand for `decide(..).allowed`.
    pub fn allows(&self, principal: &Principal, action: &str, resource: &Resource) -> bool {
        self.decide(principal, action, resource).allowed
    }

    fn request(
        &self,
        principal: &Principal,
        action: &EntityUid,
        resource: &Resource,
    ) -> Result<(Request, Entities), PreDenial> {
        let principal_entity = self.principal_entity(principal);
        let principal_uid = principal_entity.uid();
        let (resource_uid, resource_entity) = match resource {
            Resource::Tenant => (
                self.tenant_uid.clone(),
                Entity::new_no_attrs(self.tenant_uid.clone(), HashSet::new()),
            ),
            Resource::Unit(code) => {
                let place = self
                    .units
                    .get(code)
                    .ok_or_else(|| PreDenial::UnknownUnit(code.clone()))?;
                (
                    place.uid.clone(),
                    Entity::new_no_attrs(
                        place.uid.clone(),
                        place.ancestors.iter().cloned().collect(),
                    ),
                )
            }
            Resource::Record { kind, id, unit } => {
                let parents: HashSet<EntityUid> = match unit {
                    Some(code) => {
                        let place = self
                            .units
                            .get(code)
                            .ok_or_else(|| PreDenial::UnknownUnit(code.clone()))?;
                        place
                            .ancestors
                            .iter()
                            .cloned()
                            .chain(std::iter::once(place.uid.clone()))
                            .collect()
                    }
                    None => std::iter::once(self.tenant_uid.clone()).collect(),
                };
                let rid = uid("Forecourt::Record", &format!("{kind}:{id}"));
                (rid.clone(), Entity::new_no_attrs(rid, parents))
            }
        };
        // Parents are already transitively closed, so Cedar needs no other entity.
        let entities = Entities::from_entities([principal_entity, resource_entity], None)
            .map_err(|_| PreDenial::UnknownAction)?;
        let request = Request::new(
            principal_uid,
            action.clone(),
            resource_uid,
            Context::empty(),
            None,
        )
        .map_err(|_| PreDenial::UnknownAction)?;
        Ok((request, entities))
    }

    fn principal_entity(&self, principal: &Principal) -> Entity {
        let puid = uid("Forecourt::User", &principal.user_id);
        let parents: HashSet<EntityUid> = principal
            .roles
            .iter()
            .map(|r| uid("Forecourt::Role", r))
            .collect();
        let mut attrs: HashMap<String, RestrictedExpression> = HashMap::new();
        if let Some(place) = principal.unit.as_deref().and_then(|u| self.units.get(u)) {
            attrs.insert(
                "region".into(),
                RestrictedExpression::new_entity_uid(uid("Forecourt::Region", &place.region)),
            );
            if let Some(g) = &place.dealer_group {
                attrs.insert(
                    "dealer_group".into(),
                    RestrictedExpression::new_entity_uid(uid("Forecourt::DealerGroup", g)),
                );
            }
            if place.kind == UnitKind::Store {
                attrs.insert(
                    "store".into(),
                    RestrictedExpression::new_entity_uid(place.uid.clone()),
                );
                if let Some(level) = &place.level {
                    attrs.insert(
                        "store_level".into(),
                        RestrictedExpression::new_string(level.clone()),
                    );
                }
            }
        }
        Entity::new(puid.clone(), attrs, parents)
            .unwrap_or_else(|_| Entity::new_no_attrs(puid, HashSet::new()))
    }
}

fn action_uids() -> HashMap<&'static str, EntityUid> {
    forecourt_tenant_config::actions::ACTIONS
        .iter()
        .map(|a| (a.name, uid("Forecourt::Action", a.name)))
        .collect()
}

/// Builds the org index of a tenant document: every unit with its closed ancestor list.
fn index_units(tenant_id: &str, doc: &TenantDoc) -> HashMap<String, UnitPlace> {
    let tenant = uid("Forecourt::Tenant", tenant_id);
    let mut units = HashMap::new();
    for r in &doc.org.regions {
        units.insert(
            r.code.clone(),
            UnitPlace {
                uid: uid(UnitKind::Region.cedar_type(), &r.code),
                ancestors: vec![tenant.clone()],
                kind: UnitKind::Region,
                region: r.code.clone(),
                dealer_group: None,
                level: None,
            },
        );
    }
    for g in &doc.org.dealer_groups {
        units.insert(
            g.code.clone(),
            UnitPlace {
                uid: uid(UnitKind::DealerGroup.cedar_type(), &g.code),
                ancestors: vec![
                    uid(UnitKind::Region.cedar_type(), &g.region),
                    tenant.clone(),
                ],
                kind: UnitKind::DealerGroup,
                region: g.region.clone(),
                dealer_group: Some(g.code.clone()),
                level: None,
            },
        );
    }
    for s in &doc.org.stores {
        let mut ancestors = vec![
            uid(UnitKind::Region.cedar_type(), &s.region),
            tenant.clone(),
        ];
        if let Some(g) = &s.dealer_group {
            ancestors.insert(0, uid(UnitKind::DealerGroup.cedar_type(), g));
        }
        units.insert(
            s.code.clone(),
            UnitPlace {
                uid: uid(UnitKind::Store.cedar_type(), &s.code),
                ancestors,
                kind: UnitKind::Store,
                region: s.region.clone(),
                dealer_group: s.dealer_group.clone(),
                level: s.level.clone(),
            },
        );
    }
    units
}

#[cfg(test)]
mod tests;
