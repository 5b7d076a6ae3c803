//! The platform's action vocabulary: every action a role may grant. Routes in `core` declare
//! one of these; a role naming anything else fails validation.

/// One grantable action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionDef {
    /// `area.verb`, e.g. `store.read`.
    pub name: &'static str,
    /// What granting it allows, for admins reading the vocabulary.
    pub description: &'static str,
}

/// Every grantable action. Later areas append theirs here together with their routes.
pub const ACTIONS: &[ActionDef] = &[
    ActionDef {
        name: "tenant.read",
        description: "Read the tenant profile",
    },
    ActionDef {
        name: "org.read",
        description: "Read regions, dealer groups and stores",
    },
    ActionDef {
        name: "store.read",
        description: "Read a store's details",
    },
    ActionDef {
        name: "user.read",
        description: "Read staff users and their roles",
    },
    ActionDef {
        name: "user.manage",
        description: "Create staff users, change their roles and org unit, disable them",
    },
    ActionDef {
        name: "token.manage",
        description: "Create, list and revoke API tokens for integrators",
    },
    ActionDef {
        name: "bundle.read",
        description: "Read tenant configuration versions and diffs",
    },
    ActionDef {
        name: "bundle.apply",
        description: "Apply a new tenant configuration bundle or roll back to an earlier one",
    },
    ActionDef {
        name: "authz.explain",
        description: "Ask why a request was allowed or denied",
    },
    ActionDef {
        name: "audit.read",
        description: "Read the audit log",
    },
    ActionDef {
        name: "workflow.read",
        description: "Read workflow definitions, their versions and graphs",
    },
    ActionDef {
        name: "workflow.manage",
        description: "Publish and deprecate workflow versions and migrate running instances",
    },
    ActionDef {
        name: "task.read",
        description: "Read workflow instances (approvals, bookings) and their history",
    },
    ActionDef {
        name: "event.read",
        description:
            "Read the business-event feed (workflow events and hook results) for integrations",
    },
    ActionDef {
        name: "test_drive.read",
        description:
            "Read test-drive bookings (the buyer's contact details masked without `pii.read`)",
    },
    ActionDef {
        name: "page.edit",
        description: "Open the page builder: read storefront pages, save drafts and preview them",
    },
    ActionDef {
        name: "vehicle.read",
        description: "Read vehicle stock (VIN, build, store, status, age and holding cost)",
    },
    ActionDef {
        name: "vehicle.import",
        description: "Import vehicles from CSV and sync them from a dealer management system",
    },
    ActionDef {
        name: "order.read",
        description: "Read vehicle orders of a store (personal data masked without `pii.read`)",
    },
    ActionDef {
        name: "order.manage",
        description: "Move vehicle orders through their workflow: allocate, ready, deliver, cancel",
    },
    ActionDef {
        name: "pii.read",
        description: "See buyers' personal data (name, mobile, ID number) unmasked",
    },
    ActionDef {
        name: "page.publish",
        description: "Publish storefront pages and roll them back to an earlier version",
    },
];

/// Looks an action up by exact name.
pub fn action(name: &str) -> Option<&'static ActionDef> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Expands an action pattern (`store.read`, `store.*`, `*`) to the concrete actions it names.
/// An unknown name or a pattern matching nothing yields an empty list.
pub fn expand(pattern: &str) -> Vec<&'static str> {
    if pattern == "*" {
        return ACTIONS.iter().map(|a| a.name).collect();
    }
    if let Some(area) = pattern.strip_suffix(".*") {
        return ACTIONS
            .iter()
            .filter(|a| a.name.split_once('.').map(|(ar, _)| ar) == Some(area))
            .map(|a| a.name)
            .collect();
    }
    action(pattern).map(|a| vec![a.name]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_patterns() {
        assert_eq!(expand("store.read"), vec!["store.read"]);
        assert_eq!(expand("bundle.*"), vec!["bundle.read", "bundle.apply"]);
        assert_eq!(expand("*").len(), ACTIONS.len());
        assert!(expand("store.write").is_empty());
        assert!(expand("nothing.*").is_empty());
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for a in ACTIONS {
            assert!(seen.insert(a.name), "duplicate action {}", a.name);
            let (area, verb) = a.name.split_once('.').expect("area.verb");
            assert!(!area.is_empty() && !verb.is_empty());
        }
    }
}
