//! The demo tenants' scripts compile, define their hooks and pass their own test cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use forecourt_plugins::hooks::{Energy, TaxInput, TaxPurchase};
use forecourt_plugins::suite::codes;
use forecourt_plugins::{
    check_bundle_scripts, hook_for_path, run_suite, Date, HookKind, HookRunner, ScriptRuntime,
};

fn bundle(tenant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(tenant)
        .join("bundle")
}

/// The bundle's `scripts/` files, keyed as a bundle names them (`scripts/tax.purchase.rhai`).
fn script_files(tenant: &str) -> BTreeMap<String, String> {
    let dir = bundle(tenant).join("scripts");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            (
                format!("scripts/{name}"),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect()
}

#[test]
fn aurora_scripts_pass_their_tests() {
    let files = script_files("aurora-motors");
    assert!(files.contains_key("scripts/tax.purchase.rhai"));
    assert!(files.contains_key("scripts/pricing.adjust.rhai"));
    let problems = check_bundle_scripts(&files);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn shudao_scripts_pass_their_tests() {
    let files = script_files("shudao-auto-group");
    assert!(files.contains_key("scripts/tax.purchase.rhai"));
    let problems = check_bundle_scripts(&files);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_demo_suite_runs_at_least_eight_cases() {
    let rt = ScriptRuntime::new(forecourt_plugins::suite::check_limits());
    for tenant in ["aurora-motors", "shudao-auto-group"] {
        let files = script_files(tenant);
        for (path, source) in &files {
            let Some(hook) = hook_for_path(path) else {
                continue;
            };
            let report = run_suite(&rt, hook, path, source, &files[&hook.test_path()]).unwrap();
            assert!(report.all_passed(), "{tenant}: {report}");
            assert!(report.total() >= 8, "{tenant}: {report}");
        }
    }
}

#[test]
fn both_tenants_tax_the_same_purchase_the_same() {
    let rt = ScriptRuntime::new(forecourt_plugins::suite::check_limits());
    let aurora = script_files("aurora-motors");
    let shudao = script_files("shudao-auto-group");
    let path = HookKind::TaxPurchase.script_path();
    let a = rt.compile("aurora", &aurora[&path]).unwrap();
    let s = rt.compile("shudao", &shudao[&path]).unwrap();
    let mut checked = 0;
    for energy in [Energy::Bev, Energy::Phev, Energy::Erev, Energy::Ice] {
        for date in [
            "2024-01-01",
            "2025-12-31",
            "2026-01-01",
            "2027-12-31",
            "2028-01-01",
        ] {
            for price in (0..40).map(|i| i * 1_234_567 + i % 7) {
                let input = TaxInput {
                    price_incl_vat: price,
                    energy,
                    purchase_date: Date::parse(date).unwrap(),
                    model: String::new(),
                    trim: String::new(),
                    region: String::new(),
                };
                let x = HookRunner::call::<TaxPurchase>(&rt, &a, &input).unwrap();
                let y = HookRunner::call::<TaxPurchase>(&rt, &s, &input).unwrap();
                assert_eq!((x.tax, x.exemption), (y.tax, y.exemption), "{input:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 5 * 40);
}

#[test]
fn a_wrong_expectation_in_a_demo_test_file_is_caught() {
    let mut files = script_files("aurora-motors");
    let tests = files.get_mut("scripts/tax.purchase.test.yaml").unwrap();
    assert_eq!(tests.matches("tax: 538938,").count(), 1);
    *tests = tests.replace("tax: 538938,", "tax: 538939,");
    let problems = check_bundle_scripts(&files);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = &problems[0];
    assert_eq!(problem.code, codes::TEST_FAILED);
    assert_eq!(problem.file, "scripts/tax.purchase.test.yaml");
    assert!(problem.line.is_some());
    assert_eq!(
        problem.message,
        "case \"BEV on 2025-12-31, the last day of the exemption, above the cap\" failed: \
         tax: expected 538939, got 538938"
    );
}

#[test]
fn a_broken_demo_rule_never_goes_live() {
    // Someone raises the 2024-2025 cap by mistake: the cases where the cap binds fail.
    let mut files = script_files("aurora-motors");
    let script = files.get_mut("scripts/tax.purchase.rhai").unwrap();
    assert!(script.contains("const EXEMPTION_CAP = 3_000_000;"));
    *script = script.replace(
        "const EXEMPTION_CAP = 3_000_000;",
        "const EXEMPTION_CAP = 3_500_000;",
    );
    let problems = check_bundle_scripts(&files);
    let failed: Vec<_> = problems
        .iter()
        .filter(|p| p.code == codes::TEST_FAILED)
        .collect();
    assert_eq!(failed.len(), 1, "{problems:#?}");
    assert!(failed[0].is_error());
    assert!(failed[0].message.contains("2025-12-31"), "{}", failed[0]);
}
