//! One compiled hook call, as a quote page makes it (bar: `tax.purchase` ≤ 10 µs typical).
//!
//! `cargo bench -p forecourt-plugins --bench hooks`
//!
//! The scripts are the demo tenants' own (`examples/*/bundle/scripts/`). A call is: the typed
//! input to a Rhai map, the script's top level and entry function under the sandbox's limits and
//! deadline, the returned map to the typed output, and the hook's output check.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use forecourt_plugins::hooks::{Energy, PricingAdjust, PricingInput, TaxInput, TaxPurchase};
use forecourt_plugins::{Date, HookKind, HookRunner, ScriptRuntime};
use serde_json::json;

fn demo_script(tenant: &str, hook: HookKind) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(tenant)
        .join("bundle")
        .join(hook.script_path());
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn bench(c: &mut Criterion) {
    let rt = ScriptRuntime::default();
    let mut group = c.benchmark_group("hooks");

    let tax = rt
        .compile(
            "scripts/tax.purchase.rhai",
            &demo_script("aurora-motors", HookKind::TaxPurchase),
        )
        .expect("compiles");
    // A BEV bought in 2026 above the reduction cap: every step of the rule runs.
    let input = TaxInput {
        price_incl_vat: 39_990_000,
        energy: Energy::Bev,
        purchase_date: Date::parse("2026-01-01").unwrap(),
        model: "s7".into(),
        trim: "s7-performance".into(),
        region: "east".into(),
    };
    assert_eq!(
        HookRunner::call::<TaxPurchase>(&rt, &tax, &input)
            .unwrap()
            .tax,
        2_038_938
    );
    group.bench_function("tax_purchase_aurora", |b| {
        b.iter(|| HookRunner::call::<TaxPurchase>(&rt, &tax, black_box(&input)).unwrap())
    });

    let shudao_tax = rt
        .compile(
            "scripts/tax.purchase.rhai",
            &demo_script("shudao-auto-group", HookKind::TaxPurchase),
        )
        .expect("compiles");
    group.bench_function("tax_purchase_shudao", |b| {
        b.iter(|| HookRunner::call::<TaxPurchase>(&rt, &shudao_tax, black_box(&input)).unwrap())
    });

    // The same call with JSON in and out (hook known only at run time).
    let json_input = serde_json::to_value(&input).unwrap();
    group.bench_function("tax_purchase_aurora_json", |b| {
        b.iter(|| {
            HookKind::TaxPurchase
                .call_json(&rt, &tax, black_box(&json_input))
                .unwrap()
        })
    });

    let pricing = rt
        .compile(
            "scripts/pricing.adjust.rhai",
            &demo_script("aurora-motors", HookKind::PricingAdjust),
        )
        .expect("compiles");
    let quote: PricingInput = serde_json::from_value(json!({
        "model": "s7", "trim": "s7-performance", "region": "southwest", "date": "2026-03-01",
        "base_price": 29_990_000, "options_price": 3_800_000,
        "selections": ["wheel-21-forged", "pkg-lidar", "paint-track-orange"],
    }))
    .unwrap();
    assert_eq!(
        HookRunner::call::<PricingAdjust>(&rt, &pricing, &quote)
            .unwrap()
            .adjustments
            .len(),
        3
    );
    group.bench_function("pricing_adjust_aurora", |b| {
        b.iter(|| HookRunner::call::<PricingAdjust>(&rt, &pricing, black_box(&quote)).unwrap())
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
