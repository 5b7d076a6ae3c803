//! Compiles a tenant's roles and grants to a Cedar policy set (one `permit` per grant).

use std::collections::HashMap;
use std::fmt::Write;

use cedar_policy::{Authorizer, Policy, PolicyId, PolicySet, ValidationMode, Validator};
use forecourt_tenant_config::actions;
use forecourt_tenant_config::model::{Reach, TenantDoc};

use super::{action_uids, index_units, schema, uid, PolicySource, TenantPolicies};

/// Compiling failed: a bug in the compiler or a grant the schema rejects. Names the policy.
#[derive(Debug, thiserror::Error)]
#[error("permission scope {policy} could not be compiled: {message}")]
pub struct CompileError {
    pub policy: String,
    pub message: String,
}

/// Quotes `s` as a Cedar string literal.
fn cedar_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Cedar text of one grant of one role.
pub(super) fn grant_policy(
    role: &str,
    reach: Reach,
    actions: &[&str],
    store_levels: Option<&[String]>,
) -> String {
    let action_list: Vec<String> = actions
        .iter()
        .map(|a| format!("Forecourt::Action::{}", cedar_string(a)))
        .collect();
    let mut conditions: Vec<String> = Vec::new();
    match reach {
        Reach::OwnStore => {
            conditions.push("principal has store && resource in principal.store".into())
        }
        Reach::OwnDealerGroup => conditions
            .push("principal has dealer_group && resource in principal.dealer_group".into()),
        Reach::OwnRegion => {
            conditions.push("principal has region && resource in principal.region".into())
        }
        Reach::Tenant => {}
    }
    if let Some(levels) = store_levels {
        let set: Vec<String> = levels.iter().map(|l| cedar_string(l)).collect();
        conditions.push(format!(
            "principal has store_level && [{}].contains(principal.store_level)",
            set.join(", ")
        ));
    }
    let action_scope = match action_list.as_slice() {
        [one] => format!("action == {one}"),
        many => format!("action in [{}]", many.join(", ")),
    };
    let mut text = format!(
        "permit (\n  principal in Forecourt::Role::{},\n  {action_scope},\n  resource\n)",
        cedar_string(role)
    );
    if !conditions.is_empty() {
        let _ = write!(text, "\nwhen {{ {} }}", conditions.join(" && "));
    }
    text.push(';');
    text
}

/// Compiles `doc` (already validated) for the tenant `tenant_id`.
pub fn compile(tenant_id: &str, doc: &TenantDoc) -> Result<TenantPolicies, CompileError> {
    let mut policies = PolicySet::new();
    let mut slices: HashMap<String, HashMap<&'static str, PolicySet>> = HashMap::new();
    let mut sources = HashMap::new();
    for role in &doc.roles {
        for (n, grant) in role.grants.iter().enumerate() {
            let id = format!("role.{}.grant.{}", role.code, n);
            let mut expanded: Vec<&str> = grant
                .actions
                .iter()
                .flat_map(|a| actions::expand(a))
                .collect();
            expanded.sort_unstable();
            expanded.dedup();
            if expanded.is_empty() {
                continue;
            }
            let text = grant_policy(
                &role.code,
                grant.reach,
                &expanded,
                grant.store_levels.as_deref(),
            );
            let policy =
                Policy::parse(Some(PolicyId::new(&id)), &text).map_err(|e| CompileError {
                    policy: id.clone(),
                    message: e.to_string(),
                })?;
            policies.add(policy).map_err(|e| CompileError {
                policy: id.clone(),
                message: e.to_string(),
            })?;
            // Decisions evaluate a one-action copy of each grant: Cedar rebuilds a policy's
            // action list on every evaluation, so a short scope is much cheaper.
            for action in &expanded {
                let single = grant_policy(
                    &role.code,
                    grant.reach,
                    &[action],
                    grant.store_levels.as_deref(),
                );
                let single =
                    Policy::parse(Some(PolicyId::new(&id)), &single).map_err(|e| CompileError {
                        policy: id.clone(),
                        message: e.to_string(),
                    })?;
                slices
                    .entry(role.code.clone())
                    .or_default()
                    .entry(action)
                    .or_default()
                    .add(single)
                    .map_err(|e| CompileError {
                        policy: id.clone(),
                        message: e.to_string(),
                    })?;
            }
            sources.insert(
                id,
                PolicySource {
                    role: role.code.clone(),
                    grant: n,
                    reach: grant.reach.as_str(),
                    store_levels: grant.store_levels.clone(),
                    actions: expanded.iter().map(|a| a.to_string()).collect(),
                    cedar: text,
                },
            );
        }
    }
    let validation = Validator::new(schema().clone()).validate(&policies, ValidationMode::Strict);
    if let Some(err) = validation.validation_errors().next() {
        return Err(CompileError {
            policy: err.policy_id().to_string(),
            message: err.to_string(),
        });
    }
    Ok(TenantPolicies {
        tenant_uid: uid("Forecourt::Tenant", tenant_id),
        policies,
        slices,
        sources,
        units: index_units(tenant_id, doc),
        authorizer: Authorizer::new(),
        actions: action_uids(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_strings() {
        assert_eq!(cedar_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn grant_text_has_reach_and_levels() {
        let t = grant_policy(
            "stock_manager",
            Reach::OwnRegion,
            &["store.read"],
            Some(&["B".to_string()]),
        );
        assert!(
            t.contains(r#"principal in Forecourt::Role::"stock_manager""#),
            "{t}"
        );
        assert!(t.contains("resource in principal.region"), "{t}");
        assert!(
            t.contains(r#"["B"].contains(principal.store_level)"#),
            "{t}"
        );
        let t = grant_policy("admin", Reach::Tenant, &["bundle.apply"], None);
        assert!(!t.contains("when"), "{t}");
    }
}
