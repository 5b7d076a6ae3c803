//! Unit tests, one or more per rule, on the realistic `aurora` model and on small models.

use forecourt_tenant_config::catalog::{Availability, Selection};

use super::testkit::*;
use super::*;

fn compiled() -> CompiledModel {
    CompiledModel::compile(&aurora()).expect("aurora compiles")
}

fn request(trim: &str, selections: &[&str]) -> ConfigRequest {
    ConfigRequest {
        trim: trim.into(),
        selections: strings(selections),
        region: None,
        date: None,
    }
}

fn eval(model: &CompiledModel, trim: &str, selections: &[&str]) -> Evaluation {
    model
        .evaluate(&request(trim, selections))
        .expect("evaluates")
}

fn state<'a>(evaluation: &'a Evaluation, code: &str) -> &'a OptionState {
    &evaluation
        .options
        .iter()
        .find(|o| o.code == code)
        .unwrap_or_else(|| panic!("option {code}"))
        .state
}

fn reason<'a>(evaluation: &'a Evaluation, code: &str) -> &'a Reason {
    match state(evaluation, code) {
        OptionState::Unavailable { reason } => reason,
        other => panic!("{code} should be unavailable, is {other:?}"),
    }
}

fn resolved<'a>(evaluation: &'a Evaluation, group: &str) -> Vec<&'a str> {
    evaluation.resolved[group]
        .iter()
        .map(String::as_str)
        .collect()
}

#[test]
fn compiled_model_is_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<CompiledModel>();
}

#[test]
fn defaults_fill_the_build_and_the_price() {
    let m = compiled();
    let e = eval(&m, "standard", &[]);
    assert_eq!(resolved(&e, "paint"), ["paint-white"]);
    assert_eq!(resolved(&e, "wheels"), ["wheels-19"]);
    assert_eq!(resolved(&e, "battery"), ["battery-standard"]);
    assert!(
        resolved(&e, "towbar").is_empty(),
        "at-most-one defaults to none"
    );
    assert!(
        resolved(&e, "packages").is_empty(),
        "`any` options default to out"
    );
    assert_eq!(
        state(&e, "paint-white"),
        &OptionState::Included {
            by: IncludedBy::Default
        }
    );
    assert_eq!(e.price.total, 24_990_000);
    assert!(e.changes.is_empty());
    assert!(e.selections.is_empty());
    // Long range: defaults with a price are charged.
    let e = eval(&m, "long-range", &[]);
    assert_eq!(e.price.total, 28_990_000 + 500_000 + 2_500_000 + 1_500_000);
}

#[test]
fn a_pick_is_selected_and_siblings_say_the_group_allows_one() {
    let m = compiled();
    let e = eval(&m, "standard", &["paint-green"]);
    assert_eq!(state(&e, "paint-green"), &OptionState::Selected);
    assert_eq!(e.selections, ["paint-green"]);
    let r = reason(&e, "paint-blue");
    assert_eq!(
        r.rule,
        Rule::GroupAllowsOne {
            group: "paint".into()
        }
    );
    assert_eq!(r.conflicts_with, ["paint-green"]);
    // Without a pick, a default's siblings are selectable.
    let e = eval(&m, "standard", &[]);
    assert_eq!(state(&e, "paint-blue"), &OptionState::Selectable);
}

#[test]
fn excludes_is_symmetric_and_named() {
    let m = compiled();
    let e = eval(&m, "standard", &["paint-green"]);
    let r = reason(&e, "interior-nappa");
    assert_eq!(r.rule, Rule::Excludes);
    assert_eq!(r.conflicts_with, ["paint-green"]);
    let e = eval(&m, "standard", &["interior-nappa"]);
    let r = reason(&e, "paint-green");
    assert_eq!(r.rule, Rule::Excludes);
    assert_eq!(r.conflicts_with, ["interior-nappa"]);
}

#[test]
fn requires_brings_options_in_and_blocks_conflicting_ones() {
    let m = compiled();
    let e = eval(&m, "standard", &["pack-family"]);
    assert_eq!(resolved(&e, "seats"), ["seats-7"]);
    assert_eq!(
        state(&e, "seats-7"),
        &OptionState::Included {
            by: IncludedBy::Required {
                by: "pack-family".into()
            }
        }
    );
    // pack-sport excludes seats-7, which pack-family requires.
    let r = reason(&e, "pack-sport");
    assert_eq!(r.rule, Rule::Excludes);
    assert_eq!(r.conflicts_with, ["pack-family"]);
    // adas-full requires battery-long: with battery-max picked it is blocked by `requires`.
    let e = eval(&m, "long-range", &["battery-max"]);
    let r = reason(&e, "adas-full");
    assert_eq!(r.rule, Rule::Requires);
    assert_eq!(r.conflicts_with, ["battery-max"]);
}

#[test]
fn requiring_another_trim_names_the_trim() {
    let m = compiled();
    let e = eval(&m, "standard", &[]);
    let r = reason(&e, "wheels-21-track");
    assert_eq!(r.rule, Rule::Requires);
    assert_eq!(r.conflicts_with, ["standard"]);
    let e = eval(&m, "performance", &[]);
    assert_eq!(state(&e, "wheels-21-track"), &OptionState::Selectable);
}

#[test]
fn packages_include_their_contents_free_of_charge() {
    let m = compiled();
    let e = eval(&m, "long-range", &["pack-winter"]);
    for code in ["heated-wheel", "heat-pump"] {
        assert_eq!(
            state(&e, code),
            &OptionState::Included {
                by: IncludedBy::Package {
                    package: "pack-winter".into()
                }
            }
        );
        let line = e.price.lines.iter().find(|l| l.code == code).expect("line");
        assert_eq!(line.amount, 0);
        assert_eq!(line.included_by.as_deref(), Some("pack-winter"));
        assert!(line.list_price > 0);
    }
    let package = e
        .price
        .lines
        .iter()
        .find(|l| l.code == "pack-winter")
        .expect("line");
    assert_eq!(package.amount, 600_000);
    assert_eq!(
        e.price.total,
        28_990_000 + 500_000 + 2_500_000 + 1_500_000 + 600_000
    );
    assert_eq!(
        e.price.total,
        e.price.lines.iter().map(|l| l.amount).sum::<i64>()
    );
    // A package whose content the picks rule out is unavailable through that content.
    let e = eval(&m, "standard", &["battery-standard"]);
    let r = reason(&e, "pack-sport");
    assert_eq!(
        r.rule,
        Rule::CompatibilityTable {
            table: "battery-wheels".into()
        }
    );
    assert_eq!(r.via, ["wheels-21"]);
    assert_eq!(r.conflicts_with, ["battery-standard"]);
}

#[test]
fn availability_by_trim_region_and_date() {
    let m = compiled();
    let e = eval(&m, "standard", &[]);
    let r = reason(&e, "paint-matte");
    assert_eq!(
        r.rule,
        Rule::Availability {
            by: AvailabilityBy::Trim
        }
    );
    assert_eq!(
        state(&eval(&m, "performance", &[]), "paint-matte"),
        &OptionState::Selectable
    );

    let mut req = request("long-range", &[]);
    req.region = Some("north".into());
    let e = m.evaluate(&req).expect("evaluates");
    assert_eq!(
        reason(&e, "adas-full").rule,
        Rule::Availability {
            by: AvailabilityBy::Region
        }
    );
    req.region = Some("east".into());
    let e = m.evaluate(&req).expect("evaluates");
    assert_eq!(state(&e, "adas-full"), &OptionState::Selectable);

    req.date = Date::new(2025, 1, 15);
    let e = m.evaluate(&req).expect("evaluates");
    assert_eq!(
        reason(&e, "charger-portable").rule,
        Rule::Availability {
            by: AvailabilityBy::Date
        }
    );
    req.date = Date::new(2025, 3, 1);
    let e = m.evaluate(&req).expect("evaluates");
    assert_eq!(state(&e, "charger-portable"), &OptionState::Selectable);

    // Picking what the region rules out is an error naming the rule.
    req.region = Some("north".into());
    req.selections = strings(&["adas-full"]);
    match m.evaluate(&req) {
        Err(EngineError::OptionUnavailable { option, reason }) => {
            assert_eq!(option, "adas-full");
            assert_eq!(
                reason.rule,
                Rule::Availability {
                    by: AvailabilityBy::Region
                }
            );
        }
        other => panic!("expected OptionUnavailable, got {other:?}"),
    }
}

#[test]
fn compatibility_tables_with_wildcards_none_and_trim() {
    let m = compiled();
    // trim-battery: battery-max is not on the standard trim.
    let e = eval(&m, "standard", &[]);
    let r = reason(&e, "battery-max");
    assert_eq!(
        r.rule,
        Rule::CompatibilityTable {
            table: "trim-battery".into()
        }
    );
    assert_eq!(r.conflicts_with, ["standard"]);
    // `-`: a standard battery on the standard trim takes no tow bar.
    let e = eval(&m, "standard", &["battery-standard"]);
    let r = reason(&e, "towbar-fixed");
    assert_eq!(
        r.rule,
        Rule::CompatibilityTable {
            table: "trim-battery".into()
        }
    );
    assert_eq!(r.conflicts_with, ["standard", "battery-standard"]);
    // Picking the tow bar with the default battery switches the battery (a default, not a pick).
    let e = eval(&m, "standard", &["towbar-fixed"]);
    assert_eq!(resolved(&e, "battery"), ["battery-long"]);
    assert!(e.changes.is_empty());
    // `*`: the long battery takes any wheel.
    let e = eval(&m, "long-range", &["battery-long"]);
    assert_eq!(state(&e, "wheels-21"), &OptionState::Selectable);
    // paint × interior.
    let e = eval(&m, "standard", &["paint-green"]);
    let r = reason(&e, "interior-white");
    assert_eq!(
        r.rule,
        Rule::CompatibilityTable {
            table: "paint-interior".into()
        }
    );
}

#[test]
fn a_conflicting_pick_wins_and_earlier_picks_yield() {
    let m = compiled();
    let e = eval(
        &m,
        "long-range",
        &["battery-long", "wheels-21", "adas-full", "battery-max"],
    );
    assert_eq!(resolved(&e, "battery"), ["battery-max"]);
    assert_eq!(e.selections, ["wheels-21", "battery-max"]);
    assert_eq!(e.changes.len(), 2);
    assert_eq!(e.changes[0].option, "battery-long");
    assert_eq!(
        e.changes[0].kind,
        ChangeKind::Replaced {
            by: "battery-max".into()
        }
    );
    assert_eq!(
        e.changes[0].reason.rule,
        Rule::GroupAllowsOne {
            group: "battery".into()
        }
    );
    assert_eq!(e.changes[1].option, "adas-full");
    assert_eq!(
        e.changes[1].kind,
        ChangeKind::Replaced {
            by: "adas-enhanced".into()
        }
    );
    assert_eq!(e.changes[1].reason.rule, Rule::Requires);
    assert_eq!(e.changes[1].reason.conflicts_with, ["battery-max"]);

    // A removed `any` option.
    let e = eval(&m, "standard", &["pack-family", "pack-sport"]);
    assert_eq!(e.selections, ["pack-sport"]);
    assert_eq!(e.changes.len(), 1);
    assert_eq!(e.changes[0].option, "pack-family");
    assert_eq!(e.changes[0].kind, ChangeKind::Removed);
}

#[test]
fn among_equal_resolutions_the_oldest_pick_yields() {
    use Selection::ExactlyOne;
    let mut m = model(
        "m",
        vec![trim("t", 100, &[])],
        vec![
            group("a", ExactlyOne, vec![opt("a1", 0), opt("a2", 0)]),
            group("b", ExactlyOne, vec![opt("b1", 0), opt("b2", 0)]),
            group("c", ExactlyOne, vec![opt("c1", 0), opt("c2", 0)]),
        ],
    );
    // Everything except a1 + b1 + c2.
    m.compatibility = vec![table(
        "abc",
        &["a", "b", "c"],
        &[&["a2", "*", "*"], &["*", "b2", "*"], &["*", "*", "c1"]],
    )];
    let m = CompiledModel::compile(&m).expect("compiles");
    let e = eval(&m, "t", &["a1", "b1", "c2"]);
    assert_eq!(e.selections, ["b1", "c2"]);
    assert_eq!(e.changes.len(), 1);
    assert_eq!(e.changes[0].option, "a1");
    assert_eq!(e.changes[0].kind, ChangeKind::Replaced { by: "a2".into() });
    assert_eq!(
        e.changes[0].reason.rule,
        Rule::CompatibilityTable {
            table: "abc".into()
        }
    );
    let e = eval(&m, "t", &["b1", "a1", "c2"]);
    assert_eq!(e.selections, ["a1", "c2"]);
}

#[test]
fn no_dead_ends_across_tables() {
    use Selection::ExactlyOne;
    let mut m = model(
        "m",
        vec![trim("t", 100, &[])],
        vec![
            group("a", ExactlyOne, vec![opt("a1", 0), opt("a2", 0)]),
            group("b", ExactlyOne, vec![opt("b1", 0), opt("b2", 0)]),
            group("c", ExactlyOne, vec![opt("c1", 0), opt("c2", 0)]),
        ],
    );
    // Each table alone allows a1, but a1 ⇒ b1 ⇒ c1 while a1 ⇒ c2.
    m.compatibility = vec![
        table("ab", &["a", "b"], &[&["a1", "b1"], &["a2", "*"]]),
        table("bc", &["b", "c"], &[&["b1", "c1"], &["b2", "*"]]),
        table("ac", &["a", "c"], &[&["a1", "c2"], &["a2", "*"]]),
    ];
    let m = CompiledModel::compile(&m).expect("compiles");
    let e = eval(&m, "t", &[]);
    let r = reason(&e, "a1");
    assert_eq!(r.rule, Rule::Combination);
    assert!(r.conflicts_with.is_empty());
    assert_eq!(resolved(&e, "a"), ["a2"]);
    assert!(matches!(
        m.evaluate(&request("t", &["a1"])),
        Err(EngineError::OptionUnavailable { .. })
    ));
}

#[test]
fn repeated_picks_count_where_last_made() {
    let m = compiled();
    let e = eval(&m, "standard", &["paint-red", "paint-blue", "paint-red"]);
    assert_eq!(e.selections, ["paint-red"]);
    assert_eq!(e.changes.len(), 1);
    assert_eq!(e.changes[0].option, "paint-blue");
    assert_eq!(
        e.changes[0].kind,
        ChangeKind::Replaced {
            by: "paint-red".into()
        }
    );
}

#[test]
fn request_errors() {
    let m = compiled();
    assert!(matches!(
        m.evaluate(&request("nope", &[])),
        Err(EngineError::UnknownTrim { .. })
    ));
    assert!(matches!(
        m.evaluate(&request("standard", &["nope"])),
        Err(EngineError::UnknownOption { .. })
    ));
    match m.evaluate(&request("standard", &["battery-max"])) {
        Err(EngineError::OptionUnavailable { option, reason }) => {
            assert_eq!(option, "battery-max");
            assert_eq!(
                reason.rule,
                Rule::CompatibilityTable {
                    table: "trim-battery".into()
                }
            );
        }
        other => panic!("expected OptionUnavailable, got {other:?}"),
    }
    let mut t = model(
        "m",
        vec![trim("t", 100, &[])],
        vec![group("g", Selection::ExactlyOne, vec![opt("x", 0)])],
    );
    t.trims[0].available = Some(Availability {
        regions: Some(strings(&["north"])),
        ..Availability::default()
    });
    let t = CompiledModel::compile(&t).expect("compiles");
    let mut req = request("t", &[]);
    req.region = Some("south".into());
    assert!(matches!(
        t.evaluate(&req),
        Err(EngineError::TrimUnavailable { .. })
    ));
    // Region rules that leave nothing.
    let mut n = model(
        "m",
        vec![trim("t", 100, &[])],
        vec![group(
            "g",
            Selection::ExactlyOne,
            vec![opt("x", 0).available(Availability {
                regions: Some(strings(&["north"])),
                ..Availability::default()
            })],
        )],
    );
    n.option_groups[0]
        .options
        .push(opt("y", 0).requires(&["x"]));
    let n = CompiledModel::compile(&n).expect("compiles");
    let mut req = request("t", &[]);
    req.region = Some("south".into());
    assert!(matches!(
        n.evaluate(&req),
        Err(EngineError::NoValidBuild { .. })
    ));
}

#[test]
fn too_many_distinct_selections_are_refused() {
    let options: Vec<_> = (0..1100).map(|i| opt(&format!("x{i}"), 0)).collect();
    let codes: Vec<String> = options.iter().map(|o| o.code.clone()).collect();
    let m = model(
        "m",
        vec![trim("t", 1, &[])],
        vec![group("extras", Selection::Any, options)],
    );
    let m = CompiledModel::compile(&m).expect("compiles");
    let mut req = request("t", &[]);
    req.selections = codes[..1024].to_vec();
    let e = m.evaluate(&req).expect("1024 picks evaluate");
    assert_eq!(e.selections.len(), 1024);
    req.selections = codes;
    assert_eq!(
        m.evaluate(&req),
        Err(EngineError::TooManySelections { max: 1024 })
    );
}

#[test]
fn price_overflow_is_an_error() {
    let m = model(
        "m",
        vec![trim("t", i64::MAX - 10, &["x"])],
        vec![group("g", Selection::ExactlyOne, vec![opt("x", 100)])],
    );
    let m = CompiledModel::compile(&m).expect("compiles");
    assert_eq!(
        m.evaluate(&request("t", &[])),
        Err(EngineError::PriceOverflow)
    );
}

#[test]
fn compile_reports_every_problem() {
    use Selection::{Any, ExactlyOne};
    // No valid build at all.
    let m = model(
        "m",
        vec![trim("t", 1, &[])],
        vec![
            group("g", ExactlyOne, vec![opt("x", 0).requires(&["y"])]),
            group("h", ExactlyOne, vec![opt("y", 0).excludes(&["x"])]),
        ],
    );
    let issues = CompiledModel::compile(&m).expect_err("no build");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].kind, IssueKind::NoValidBuild);
    assert!(issues[0].to_string().starts_with("model `m`"));

    // A trim without a build, another with conflicting defaults.
    let m = model(
        "m",
        vec![
            trim("t1", 1, &["x", "p", "q"]),
            trim("t2", 1, &[]),
            trim("t3", 1, &[]),
        ],
        vec![
            group(
                "g",
                ExactlyOne,
                vec![opt("x", 0).available(Availability {
                    trims: Some(strings(&["t1", "t3"])),
                    ..Availability::default()
                })],
            ),
            group(
                "extras",
                Any,
                vec![opt("p", 0).excludes(&["q"]), opt("q", 0)],
            ),
        ],
    );
    let issues = CompiledModel::compile(&m).expect_err("issues");
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(issues[0].kind, IssueKind::DefaultsConflict);
    assert_eq!(issues[0].subject, IssueSubject::Trim("t1".into()));
    assert!(
        issues[0]
            .message
            .starts_with("defaults of trim `t1` conflict: `p`"),
        "{}",
        issues[0].message
    );
    assert!(
        issues[0].message.contains("excludes"),
        "{}",
        issues[0].message
    );
    assert_eq!(issues[1].kind, IssueKind::TrimWithoutBuild);
    assert_eq!(issues[1].subject, IssueSubject::Trim("t2".into()));

    // Invalid references and shapes, all at once.
    let mut m = model(
        "m",
        vec![trim("t", 1, &["nope"])],
        vec![
            group("g", ExactlyOne, vec![opt("x", 0).requires(&["ghost"])]),
            group("extras", Any, vec![opt("p", 0)]),
        ],
    );
    m.compatibility = vec![
        table("t1", &["g", "extras"], &[&["x", "p"]]),
        table("t2", &["g"], &[&["y"]]),
    ];
    let issues = CompiledModel::compile(&m).expect_err("invalid");
    assert_eq!(issues.len(), 4, "{issues:?}");
    assert!(issues.iter().all(|i| i.kind == IssueKind::Invalid));
}

#[test]
fn outputs_are_deterministic_and_serialise() {
    let a = compiled();
    let b = compiled();
    let req = request("long-range", &["pack-sport", "seats-7", "paint-blue"]);
    let first = serde_json::to_string(&a.evaluate(&req).expect("evaluates")).expect("json");
    let second = serde_json::to_string(&b.evaluate(&req).expect("evaluates")).expect("json");
    assert_eq!(first, second);
    let json: serde_json::Value = serde_json::from_str(&first).expect("json");
    assert_eq!(json["trim"], "long-range");
    assert_eq!(json["changes"][0]["option"], "pack-sport");
    assert_eq!(json["changes"][0]["change"], "removed");
    assert_eq!(json["changes"][0]["reason"]["rule"], "excludes");
    let battery_max = json["options"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["code"] == "paint-matte"))
        .expect("option");
    assert_eq!(battery_max["state"], "unavailable");
    assert_eq!(battery_max["reason"]["rule"], "availability");
    assert_eq!(battery_max["reason"]["by"], "trim");
    let req_json =
        r#"{"trim":"standard","selections":["paint-red"],"region":"east","date":"2025-05-01"}"#;
    let parsed: ConfigRequest = serde_json::from_str(req_json).expect("request parses");
    assert_eq!(parsed.date, Date::new(2025, 5, 1));
}

#[test]
fn the_realistic_model_is_small() {
    let m = compiled();
    let stats = m.stats();
    assert_eq!(stats.variables, 1 + 8 + 10);
    assert!(stats.nodes < 2_000, "{stats:?}");
}

#[test]
fn collecting_garbage_after_every_step_changes_nothing() {
    let eager = CompiledModel::compile_with(
        &aurora(),
        compile::Limits {
            gc_slack: 0,
            ..compile::Limits::default()
        },
    )
    .expect("compiles");
    let normal = compiled();
    assert_eq!(eager.stats(), normal.stats());
    for (trim, picks) in [
        ("standard", &["pack-family", "pack-sport"][..]),
        ("long-range", &["battery-max", "adas-full", "paint-red"][..]),
        ("performance", &["paint-matte", "interior-white"][..]),
    ] {
        assert_eq!(eval(&eager, trim, picks), eval(&normal, trim, picks));
    }
}

#[test]
fn budgets_turn_into_a_too_complex_issue() {
    for limits in [
        compile::Limits {
            node_limit: 40,
            ..compile::Limits::default()
        },
        compile::Limits {
            work_limit: 10,
            ..compile::Limits::default()
        },
    ] {
        let issues = CompiledModel::compile_with(&aurora(), limits).expect_err("too complex");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].kind, IssueKind::TooComplex);
    }
}
