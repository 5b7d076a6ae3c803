//! Hostile hook scripts are stopped quickly, with an error that names the script and the limit.
//!
//! The product bound: a runaway script called as a hook stops within 100 ms of wall time. The
//! runtime runs under the default [`Limits`] (the ones hooks use in production): the clock stops
//! a script after 50 ms, and most hostile scripts hit a size or depth limit long before that.
//! That leaves 50 ms of allowance for a loaded two-core machine; on top of that each scenario is
//! timed three times and the fastest attempt counts, so a test thread that the OS parks for a
//! moment (other tests, the compiler next door) is not mistaken for a slow sandbox. A sandbox
//! that really overruns fails all three attempts.

use std::time::{Duration, Instant};

use forecourt_plugins::hooks::{Energy, TaxInput, TaxPurchase};
use forecourt_plugins::{Date, HookRunner, Limit, Limits, ScriptError, ScriptRuntime};

const BOUND: Duration = Duration::from_millis(100);

fn input(price: i64) -> TaxInput {
    TaxInput {
        price_incl_vat: price,
        energy: Energy::Bev,
        purchase_date: Date::parse("2026-01-01").unwrap(),
        model: "s7".into(),
        trim: "s7-pro".into(),
        region: "east".into(),
    }
}

/// Call `body` as the `tax.purchase` hook of script `name`; return the error and the fastest of
/// three attempts' wall time.
fn stopped(name: &str, body: &str) -> (ScriptError, Duration) {
    let rt = ScriptRuntime::new(Limits::default());
    let source = format!("fn purchase_tax(input) {{\n{body}\n}}\n");
    let script = rt.compile(name, &source).unwrap();
    let mut fastest = Duration::MAX;
    let mut error = None;
    for _ in 0..3 {
        let started = Instant::now();
        let result = HookRunner::call::<TaxPurchase>(&rt, &script, &input(100_000));
        fastest = fastest.min(started.elapsed());
        error = Some(result.expect_err("a hostile script must not succeed"));
    }
    (error.unwrap(), fastest)
}

/// The error names the script and one of `limits`, and the stop came within the bound.
fn assert_stopped(name: &str, body: &str, limits: &[Limit]) -> ScriptError {
    let (err, fastest) = stopped(name, body);
    let limit = err
        .limit()
        .unwrap_or_else(|| panic!("expected a limit, got: {err}"));
    assert!(limits.contains(&limit), "expected one of {limits:?}: {err}");
    assert_eq!(err.script(), name);
    let message = err.to_string();
    assert!(message.contains(&format!("\"{name}\"")), "{message}");
    assert!(message.contains(limit.name()), "{message}");
    assert!(
        fastest < BOUND,
        "{name} took {fastest:?} to stop (bound {BOUND:?}): {message}"
    );
    err
}

#[test]
fn endless_loop_stops_within_the_bound() {
    // In a debug build the clock (50 ms) comes first; in a release build the operation limit
    // (1,000,000) may.
    assert_stopped(
        "scripts/tax.purchase.rhai",
        "let n = 0;\nloop { n += 1; }",
        &[Limit::Operations, Limit::Time],
    );
}

#[test]
fn endless_loop_doing_heavy_work_is_stopped_by_the_clock() {
    // Few operations, each copying a 60 KB string: only the clock can stop this in time.
    let err = assert_stopped(
        "heavy.rhai",
        "let s = \"\";\ns.pad(60000, \"x\");\nloop { let t = s.to_upper(); }",
        &[Limit::Time],
    );
    assert!(err.to_string().contains("50 ms"), "{err}");
}

#[test]
fn deep_recursion_stops_within_the_bound() {
    // The helper recurses forever; the call depth limit stops it.
    let rt = ScriptRuntime::default();
    let name = "recursive.rhai";
    let script = rt
        .compile(
            name,
            "fn purchase_tax(input) { deeper(input, 0) }\nfn deeper(input, n) { deeper(input, n + 1) }",
        )
        .unwrap();
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let err = HookRunner::call::<TaxPurchase>(&rt, &script, &input(1)).unwrap_err();
        fastest = fastest.min(started.elapsed());
        assert_eq!(err.limit(), Some(Limit::CallDepth), "{err}");
        assert_eq!(err.script(), name);
        assert!(err.to_string().contains("call depth limit"), "{err}");
    }
    assert!(fastest < BOUND, "{fastest:?}");
}

#[test]
fn gigabyte_string_by_padding_is_refused_before_it_is_built() {
    assert_stopped(
        "pad.rhai",
        "let s = \"x\";\ns.pad(1_000_000_000, \"x\");\n#{ tax: s.len() }",
        &[Limit::StringSize],
    );
}

#[test]
fn gigabyte_string_by_doubling_stops_within_the_bound() {
    assert_stopped(
        "double.rhai",
        "let s = \"x\";\nfor i in 0..30 { s += s; }\n#{ tax: s.len() }",
        &[Limit::StringSize],
    );
}

#[test]
fn huge_array_is_refused() {
    assert_stopped(
        "array-pad.rhai",
        "let a = [];\na.pad(1_000_000_000, 0);\n#{ tax: a.len() }",
        &[Limit::ArraySize],
    );
    // Rhai re-measures the whole array (strings included) on every push, so growing it item by
    // item gets slow before it gets big: the clock may stop it first.
    assert_stopped(
        "array-push.rhai",
        "let a = [];\nloop { a.push(\"item\"); }",
        &[Limit::ArraySize, Limit::Time],
    );
    // Nested arrays count towards the limit too.
    assert_stopped(
        "array-nest.rhai",
        "let a = [1];\nloop { a = [a, a]; }",
        &[Limit::ArraySize],
    );
}

#[test]
fn huge_map_is_stopped() {
    assert_stopped(
        "map.rhai",
        "let m = #{};\nfor i in 0..1_000_000 { m[`k${i}`] = i; }\n#{ tax: m.len() }",
        &[Limit::MapSize, Limit::Operations, Limit::Time],
    );
}

#[test]
fn money_overflow_is_an_error_never_a_wrapped_value() {
    let rt = ScriptRuntime::default();
    for (name, body) in [
        ("add.rhai", "#{ tax: 9223372036854775807 + 1 }"),
        (
            "add-input.rhai",
            "#{ tax: input.price_incl_vat + 9223372036854775807 }",
        ),
        (
            "mul.rhai",
            "#{ tax: input.price_incl_vat * 100_000_000_000_000 }",
        ),
        (
            "sub.rhai",
            "let low = -9223372036854775807 - 1;\n#{ tax: low - 1 }",
        ),
        (
            "neg.rhai",
            "let low = -9223372036854775807 - 1;\n#{ tax: -low }",
        ),
        (
            "abs.rhai",
            "let low = -9223372036854775807 - 1;\n#{ tax: low.abs() }",
        ),
    ] {
        let source = format!("fn purchase_tax(input) {{\n{body}\n}}");
        let script = match rt.compile(name, &source) {
            Ok(script) => script,
            // Folding the constant at compile time may already catch it: also an error.
            Err(err) => {
                assert_eq!(err.script(), name);
                continue;
            }
        };
        let result = HookRunner::call::<TaxPurchase>(&rt, &script, &input(100_000));
        let err = match result {
            Ok(output) => panic!("{name}: overflow produced a value: {output:?}"),
            Err(err) => err,
        };
        assert!(matches!(err, ScriptError::Runtime { .. }), "{name}: {err}");
        assert_eq!(err.script(), name);
        let message = err.to_string().to_lowercase();
        assert!(
            message.contains("overflow") || message.contains("out of range"),
            "{name}: {message}"
        );
    }
}

#[test]
fn the_demo_tax_script_refuses_an_absurd_price_rather_than_wrap() {
    let rt = ScriptRuntime::default();
    for tenant in ["aurora-motors", "shudao-auto-group"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(tenant)
            .join("bundle/scripts/tax.purchase.rhai");
        let source = std::fs::read_to_string(&path).unwrap();
        let script = rt.compile("tax.purchase.rhai", &source).unwrap();
        let err = HookRunner::call::<TaxPurchase>(&rt, &script, &input(i64::MAX)).unwrap_err();
        assert!(
            matches!(err, ScriptError::Runtime { .. }),
            "{tenant}: {err}"
        );
        assert!(err.to_string().to_lowercase().contains("overflow"), "{err}");
        // A price of CNY 100 trillion still works.
        let ok = HookRunner::call::<TaxPurchase>(&rt, &script, &input(10_000_000_000_000_000));
        assert!(ok.is_ok(), "{tenant}: {ok:?}");
    }
}
