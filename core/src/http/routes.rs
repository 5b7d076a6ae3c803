//! Every route's declared access: public, any authenticated caller, or one platform action.
//!
//! **Invariant**: a request whose matched route is not declared here is refused (default deny);
//! a test checks that this table and the OpenAPI document list exactly the same operations, so a
//! new route cannot ship undeclared.

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (health, login, public storefront data, schemas).
    Public,
    /// Any authenticated staff user or token of the tenant; the handler narrows by identity.
    Authenticated,
    /// Authenticated, and the Cedar policies must allow this action on the resource the
    /// handler names.
    Action(&'static str),
    /// A signed-in buyer of the storefront's tenant (buyer session cookie or bearer token);
    /// the handler shows that buyer's own records only.
    Buyer,
}

/// `(method, path as in the router, access)`.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Access::Public),
    ("GET", "/readyz", Access::Public),
    ("GET", "/metrics", Access::Public),
    ("GET", "/api/openapi.json", Access::Public),
    ("GET", "/api/v1/schemas/tenant.json", Access::Public),
    ("GET", "/api/v1/schemas/workflow.json", Access::Public),
    ("GET", "/api/v1/public/test-drives/slots", Access::Public),
    // Vehicle orders, payments and buyers (storefront).
    ("POST", "/api/v1/public/orders", Access::Public),
    ("GET", "/api/v1/public/orders/{token}", Access::Public),
    (
        "POST",
        "/api/v1/public/orders/{token}/commands",
        Access::Public,
    ),
    (
        "POST",
        "/api/v1/public/orders/{token}/payments",
        Access::Public,
    ),
    ("POST", "/api/v1/public/payments/callback", Access::Public),
    ("POST", "/api/v1/public/buyer/otp", Access::Public),
    ("POST", "/api/v1/public/buyer/session", Access::Public),
    ("DELETE", "/api/v1/public/buyer/session", Access::Buyer),
    ("GET", "/api/v1/public/buyer/me", Access::Buyer),
    ("GET", "/api/v1/public/buyer/orders", Access::Buyer),
    ("GET", "/api/v1/public/buyer/test-drives", Access::Buyer),
    ("GET", "/api/v1/public/buyer/quotes", Access::Buyer),
    ("GET", "/dev/sms", Access::Public),
    // Vehicle stock and orders (staff and integrators).
    ("GET", "/api/v1/vehicles", Access::Action("vehicle.read")),
    (
        "GET",
        "/api/v1/vehicles/{vin}",
        Access::Action("vehicle.read"),
    ),
    (
        "POST",
        "/api/v1/vehicles/import",
        Access::Action("vehicle.import"),
    ),
    (
        "POST",
        "/api/v1/vehicles/sync",
        Access::Action("vehicle.import"),
    ),
    ("GET", "/api/v1/orders", Access::Action("order.read")),
    ("GET", "/api/v1/orders/{id}", Access::Action("order.read")),
    (
        "POST",
        "/api/v1/orders/{id}/commands",
        Access::Action("order.manage"),
    ),
    ("POST", "/api/v1/public/test-drives", Access::Public),
    ("GET", "/api/v1/public/test-drives/{code}", Access::Public),
    (
        "POST",
        "/api/v1/public/test-drives/{code}/commands",
        Access::Public,
    ),
    (
        "GET",
        "/api/v1/test-drives",
        Access::Action("test_drive.read"),
    ),
    (
        "GET",
        "/api/v1/test-drives/{id}",
        Access::Action("test_drive.read"),
    ),
    (
        "GET",
        "/api/v1/admin/workflows",
        Access::Action("workflow.read"),
    ),
    (
        "GET",
        "/api/v1/admin/workflows/{id}",
        Access::Action("workflow.read"),
    ),
    (
        "PUT",
        "/api/v1/admin/workflows/{id}",
        Access::Action("workflow.manage"),
    ),
    (
        "POST",
        "/api/v1/admin/workflows/{id}/validate",
        Access::Action("workflow.read"),
    ),
    (
        "GET",
        "/api/v1/admin/workflows/{id}/versions/{version}",
        Access::Action("workflow.read"),
    ),
    (
        "POST",
        "/api/v1/admin/workflows/{id}/versions/{version}/deprecate",
        Access::Action("workflow.manage"),
    ),
    (
        "POST",
        "/api/v1/admin/workflows/{id}/migrate",
        Access::Action("workflow.manage"),
    ),
    (
        "GET",
        "/api/v1/workflow-instances/{id}",
        Access::Action("task.read"),
    ),
    (
        "POST",
        "/api/v1/workflow-instances/{id}/commands",
        Access::Action("task.read"),
    ),
    ("GET", "/api/v1/tasks", Access::Action("task.read")),
    ("GET", "/api/v1/events", Access::Action("event.read")),
    ("GET", "/api/v1/public/stores", Access::Public),
    ("GET", "/api/v1/public/pages", Access::Public),
    ("GET", "/api/v1/schemas/page.json", Access::Public),
    ("GET", "/admin/pages", Access::Public),
    ("GET", "/assets/{file}", Access::Public),
    ("GET", "/api/v1/admin/pages", Access::Action("page.edit")),
    (
        "GET",
        "/api/v1/admin/pages/{id}",
        Access::Action("page.edit"),
    ),
    (
        "PUT",
        "/api/v1/admin/pages/{id}",
        Access::Action("page.edit"),
    ),
    (
        "POST",
        "/api/v1/admin/pages/{id}/preview",
        Access::Action("page.edit"),
    ),
    (
        "POST",
        "/api/v1/admin/pages/{id}/publish",
        Access::Action("page.publish"),
    ),
    (
        "POST",
        "/api/v1/admin/pages/{id}/rollback",
        Access::Action("page.publish"),
    ),
    (
        "GET",
        "/api/v1/admin/pages/{id}/versions/{version}",
        Access::Action("page.edit"),
    ),
    ("GET", "/api/v1/admin/blocks", Access::Action("page.edit")),
    ("POST", "/api/v1/public/finance/plan", Access::Public),
    ("GET", "/api/v1/public/models", Access::Public),
    ("GET", "/api/v1/public/models/{model}", Access::Public),
    (
        "POST",
        "/api/v1/public/models/{model}/configure",
        Access::Public,
    ),
    ("POST", "/api/v1/public/configurations", Access::Public),
    (
        "GET",
        "/api/v1/public/configurations/{code}",
        Access::Public,
    ),
    ("GET", "/api/v1/public/compare", Access::Public),
    (
        "POST",
        "/api/v1/public/models/{model}/stores",
        Access::Public,
    ),
    ("POST", "/api/v1/public/quotes", Access::Public),
    ("GET", "/api/v1/public/quotes/{code}", Access::Public),
    ("GET", "/api/v1/public/quotes/{code}/print", Access::Public),
    ("POST", "/api/v1/auth/login", Access::Public),
    ("POST", "/api/v1/auth/logout", Access::Authenticated),
    ("GET", "/api/v1/me", Access::Authenticated),
    ("GET", "/api/v1/tenant", Access::Action("tenant.read")),
    ("GET", "/api/v1/org", Access::Action("org.read")),
    ("GET", "/api/v1/org/stores", Access::Action("store.read")),
    (
        "GET",
        "/api/v1/org/stores/{code}",
        Access::Action("store.read"),
    ),
    ("GET", "/api/v1/users", Access::Action("user.read")),
    ("POST", "/api/v1/users", Access::Action("user.manage")),
    ("GET", "/api/v1/users/{id}", Access::Action("user.read")),
    ("PATCH", "/api/v1/users/{id}", Access::Action("user.manage")),
    ("GET", "/api/v1/tokens", Access::Action("token.manage")),
    ("POST", "/api/v1/tokens", Access::Action("token.manage")),
    (
        "DELETE",
        "/api/v1/tokens/{id}",
        Access::Action("token.manage"),
    ),
    (
        "GET",
        "/api/v1/authz/explain",
        Access::Action("authz.explain"),
    ),
    (
        "GET",
        "/api/v1/authz/policies",
        Access::Action("authz.explain"),
    ),
    ("GET", "/api/v1/audit", Access::Action("audit.read")),
    (
        "PUT",
        "/api/v1/admin/bundle",
        Access::Action("bundle.apply"),
    ),
    (
        "POST",
        "/api/v1/admin/bundle/validate",
        Access::Action("bundle.read"),
    ),
    (
        "GET",
        "/api/v1/admin/bundle/versions",
        Access::Action("bundle.read"),
    ),
    (
        "GET",
        "/api/v1/admin/bundle/versions/{version}",
        Access::Action("bundle.read"),
    ),
    (
        "GET",
        "/api/v1/admin/bundle/diff",
        Access::Action("bundle.read"),
    ),
    (
        "POST",
        "/api/v1/admin/bundle/rollback",
        Access::Action("bundle.apply"),
    ),
];

/// Storefront routes are also served under this prefix (tenant by path instead of Host).
pub const TENANT_PREFIX: &str = "/t/{slug}";

/// The declared access of `method path`, if declared. A storefront route under
/// [`TENANT_PREFIX`] has the access of the same route without it, and must be public or for
/// buyers.
pub fn access(method: &str, path: &str) -> Option<Access> {
    if let Some(rest) = path.strip_prefix(TENANT_PREFIX) {
        return access(method, rest).filter(|a| matches!(a, Access::Public | Access::Buyer));
    }
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_exist_and_routes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, a) in ROUTES {
            assert!(seen.insert((m, p)), "duplicate route {m} {p}");
            if let Access::Action(name) = a {
                assert!(
                    forecourt_tenant_config::actions::action(name).is_some(),
                    "{m} {p}: unknown action {name}"
                );
            }
        }
    }
}
