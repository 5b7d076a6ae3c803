//! Authorization decisions with the demo policies (bar: p50 ≤ 20 µs).
//!
//! `cargo bench -p forecourt --bench authz`

use criterion::{criterion_group, criterion_main, Criterion};
use forecourt::authz::{compile, Principal, Resource};
use forecourt_tenant_config::BundleSource;

fn demo(dir: &str) -> forecourt_tenant_config::Bundle {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(dir)
        .join("bundle");
    let source = BundleSource::from_dir(path).expect("demo bundle");
    forecourt_tenant_config::load(&source).expect("demo bundle loads")
}

fn principal(role: &str, unit: Option<&str>) -> Principal {
    Principal {
        user_id: "u1".into(),
        roles: vec![role.into()],
        unit: unit.map(String::from),
        token_scopes: None,
    }
}

fn bench(c: &mut Criterion) {
    let shudao = demo("shudao-auto-group");
    let policies = compile("bench-tenant", shudao.tenant()).expect("compiles");
    let mut group = c.benchmark_group("authz");
    let cases = [
        (
            "sales_own_store_allow",
            principal("sales_consultant", Some("gaoxin-01")),
            "store.read",
            Resource::Unit("gaoxin-01".into()),
            true,
        ),
        (
            "sales_other_store_deny",
            principal("sales_consultant", Some("gaoxin-01")),
            "store.read",
            Resource::Unit("leshan-01".into()),
            false,
        ),
        (
            "region_manager_record",
            principal("region_manager", Some("chengdu-core")),
            "user.read",
            Resource::Record {
                kind: "user",
                id: "x".into(),
                unit: Some("gaoxin-01".into()),
            },
            true,
        ),
        (
            "admin_tenant_allow",
            principal("tenant_admin", None),
            "bundle.apply",
            Resource::Tenant,
            true,
        ),
    ];
    for (name, who, action, resource, expected) in &cases {
        assert_eq!(policies.allows(who, action, resource), *expected, "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| assert_eq!(policies.allows(who, action, resource), *expected))
        });
    }
    group.bench_function("compile_shudao_policies", |b| {
        b.iter(|| compile("bench-tenant", shudao.tenant()).expect("compiles"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
