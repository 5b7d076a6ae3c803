use super::*;

const DOC: &str = r#"
schema_version: 1
tenant: { slug: acme, kind: oem, name: { en: Acme }, locales: [en], currency: CNY, time_zone: Asia/Shanghai }
org:
  store_levels: [A, B]
  regions:
    - { code: east, name: { en: East } }
    - { code: west, name: { en: West } }
  dealer_groups:
    - { code: g-east, name: { en: G East }, region: east }
  stores:
    - { code: sh1, name: { en: SH1 }, kind: direct, region: east, city: { en: Shanghai }, address: { en: x }, location: { lat: 31.2, lon: 121.4 }, opening_hours: { daily: ["09:00-18:00"] } }
    - { code: hz1, name: { en: HZ1 }, kind: dealer, level: A, region: east, dealer_group: g-east, city: { en: Hangzhou }, address: { en: x }, location: { lat: 30.2, lon: 120.1 }, opening_hours: { daily: ["09:00-18:00"] } }
    - { code: cd1, name: { en: CD1 }, kind: dealer, level: B, region: west, city: { en: Chengdu }, address: { en: x }, location: { lat: 30.6, lon: 104.0 }, opening_hours: { daily: ["09:00-18:00"] } }
    - { code: cd2, name: { en: CD2 }, kind: dealer, level: B, region: west, city: { en: Chengdu }, address: { en: x }, location: { lat: 30.7, lon: 104.1 }, opening_hours: { daily: ["09:00-18:00"] } }
roles:
  - code: admin
    name: { en: Admin }
    grants: [ { actions: ["*"], reach: tenant } ]
  - code: sales
    name: { en: Sales }
    grants: [ { actions: [store.read, user.read], reach: own_store } ]
  - code: region_manager
    name: { en: RM }
    grants: [ { actions: [store.read], reach: own_region } ]
  - code: group_manager
    name: { en: GM }
    grants: [ { actions: [store.read], reach: own_dealer_group } ]
  - code: stock
    name: { en: Stock }
    grants:
      - { actions: [store.read], reach: tenant, store_levels: [A] }
      - { actions: [store.read], reach: own_region, store_levels: [B] }
"#;

fn policies() -> TenantPolicies {
    let doc: TenantDoc = serde_yaml::from_str(DOC).expect("test document parses");
    compile("t1", &doc).expect("compiles")
}

fn user(role: &str, unit: Option<&str>) -> Principal {
    Principal {
        user_id: format!("u-{role}"),
        roles: vec![role.into()],
        unit: unit.map(String::from),
        token_scopes: None,
    }
}

fn store(code: &str) -> Resource {
    Resource::Unit(code.into())
}

#[test]
fn schema_parses_and_policies_validate() {
    let _ = schema();
    let p = policies();
    assert_eq!(p.policy_count(), 6);
}

#[test]
fn sales_consultant_reads_only_own_store() {
    let p = policies();
    let u = user("sales", Some("sh1"));
    assert!(p.allows(&u, "store.read", &store("sh1")));
    assert!(!p.allows(&u, "store.read", &store("hz1")));
    assert!(!p.allows(&u, "store.read", &store("cd1")));
    let staff_x = Resource::Record {
        kind: "user",
        id: "a".into(),
        unit: Some("sh1".into()),
    };
    let staff_y = Resource::Record {
        kind: "user",
        id: "b".into(),
        unit: Some("cd1".into()),
    };
    assert!(p.allows(&u, "user.read", &staff_x));
    assert!(!p.allows(&u, "user.read", &staff_y));
    // Not granted at all, and not on tenant-level resources.
    assert!(!p.allows(&u, "user.manage", &staff_x));
    assert!(!p.allows(&u, "store.read", &Resource::Tenant));
}

#[test]
fn region_manager_reads_region_and_nothing_outside() {
    let p = policies();
    let u = user("region_manager", Some("east"));
    for s in ["sh1", "hz1", "g-east", "east"] {
        assert!(p.allows(&u, "store.read", &store(s)), "{s}");
    }
    for s in ["cd1", "cd2", "west"] {
        assert!(!p.allows(&u, "store.read", &store(s)), "{s}");
    }
}

#[test]
fn dealer_group_reach() {
    let p = policies();
    let u = user("group_manager", Some("g-east"));
    assert!(p.allows(&u, "store.read", &store("hz1")));
    assert!(
        !p.allows(&u, "store.read", &store("sh1")),
        "a direct store is not in the group"
    );
}

#[test]
fn store_level_decides_reach() {
    let p = policies();
    let level_a = user("stock", Some("hz1"));
    for s in ["sh1", "hz1", "cd1", "cd2"] {
        assert!(p.allows(&level_a, "store.read", &store(s)), "{s}");
    }
    let level_b = user("stock", Some("cd1"));
    assert!(p.allows(&level_b, "store.read", &store("cd2")));
    assert!(!p.allows(&level_b, "store.read", &store("sh1")));
    let no_level = user("stock", Some("sh1"));
    assert!(!p.allows(&no_level, "store.read", &store("sh1")));
}

#[test]
fn token_scopes_narrow_never_widen() {
    let p = policies();
    let mut u = user("admin", None);
    u.token_scopes = Some(vec!["store.read".into()]);
    assert!(p.allows(&u, "store.read", &store("cd1")));
    let d = p.decide(&u, "bundle.apply", &Resource::Tenant);
    assert!(!d.allowed);
    assert_eq!(d.pre_denial, Some(PreDenial::TokenScope));
    let mut sales = user("sales", Some("sh1"));
    sales.token_scopes = Some(vec!["store.read".into(), "bundle.apply".into()]);
    assert!(!p.allows(&sales, "bundle.apply", &Resource::Tenant));
}

#[test]
fn default_deny_for_unknowns() {
    let p = policies();
    let u = user("admin", None);
    assert!(p.allows(&u, "bundle.apply", &Resource::Tenant));
    assert!(!p.allows(&u, "bundle.destroy", &Resource::Tenant));
    assert!(!p.allows(&u, "store.read", &store("nowhere")));
    assert!(!p.allows(
        &user("ghost_role", Some("sh1")),
        "store.read",
        &store("sh1")
    ));
    assert!(!TenantPolicies::deny_all("t1").allows(&u, "store.read", &Resource::Tenant));
}

#[test]
fn explain_names_the_permit_and_the_near_misses() {
    let p = policies();
    let u = user("sales", Some("sh1"));
    let yes = explain(&p, &u, "store.read", &store("sh1"));
    assert_eq!(yes.decision, "allow");
    assert_eq!(yes.determining, vec!["role.sales.grant.0".to_string()]);
    let no = explain(&p, &u, "store.read", &store("cd1"));
    assert_eq!(no.decision, "deny");
    assert_eq!(no.considered.len(), 1);
    assert!(!no.considered[0].permits);
    assert!(
        no.considered[0].why.contains("store sh1"),
        "{}",
        no.considered[0].why
    );
    assert!(
        no.summary.contains("none reaches org unit cd1"),
        "{}",
        no.summary
    );
    let none = explain(&p, &u, "bundle.apply", &Resource::Tenant);
    assert!(
        none.summary
            .contains("none of the roles [sales] grants bundle.apply"),
        "{}",
        none.summary
    );
}
