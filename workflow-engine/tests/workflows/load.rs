//! Loading: the valid definitions load; every broken fixture reports its rule's code at the
//! exact line, column and pointer; hostile documents are refused fast.

use std::time::{Duration, Instant};

use forecourt_tenant_config::Report;
use forecourt_workflow_engine::{load, Context};

use crate::{ctx, fixture, valid};

fn broken(name: &str) -> Report {
    let path = format!("broken/{name}.yaml");
    match load(&path, &fixture(&path), &ctx()) {
        Ok(_) => panic!("{path} loaded"),
        Err(report) => {
            for d in &report.diagnostics {
                assert_eq!(d.file, path);
            }
            report
        }
    }
}

type Found<'a> = (&'static str, u32, u32, &'a str);

fn found(report: &Report) -> Vec<Found<'_>> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code,
                d.line.unwrap_or(0),
                d.column.unwrap_or(0),
                d.pointer.as_str(),
            )
        })
        .collect()
}

/// Each broken fixture breaks one rule, reported once, at the right place.
#[test]
fn every_rule_is_reported_at_its_place() {
    let cases: &[(&str, Found<'_>)] = &[
        (
            "duplicate_state",
            ("workflow.duplicate_state", 8, 11, "/states/2/name"),
        ),
        (
            "duplicate_transition",
            (
                "workflow.duplicate_transition",
                13,
                11,
                "/transitions/1/name",
            ),
        ),
        (
            "duplicate_timer",
            ("workflow.duplicate_timer", 18, 11, "/timers/1/name"),
        ),
        ("no_initial", ("workflow.no_initial", 4, 3, "/states")),
        (
            "many_initial",
            ("workflow.many_initial", 7, 14, "/states/1/initial"),
        ),
        (
            "initial_terminal",
            ("workflow.initial_terminal", 6, 15, "/states/0/terminal"),
        ),
        (
            "unknown_state",
            ("workflow.unknown_state", 10, 18, "/transitions/0/from/1"),
        ),
        (
            "unreachable_state",
            ("workflow.unreachable_state", 6, 11, "/states/1/name"),
        ),
        ("dead_end", ("workflow.dead_end", 6, 11, "/states/1/name")),
        (
            "terminal_exit",
            ("workflow.terminal_exit", 14, 11, "/transitions/1/from"),
        ),
        (
            "unknown_role",
            ("workflow.unknown_role", 12, 18, "/transitions/0/who/0/role"),
        ),
        (
            "guard_compile",
            ("workflow.guard_compile", 13, 12, "/transitions/0/guard"),
        ),
        (
            "input_schema",
            (
                "workflow.input_schema",
                16,
                24,
                "/transitions/0/input/properties/reason/type",
            ),
        ),
        (
            "timer_unknown_transition",
            (
                "workflow.timer_unknown_transition",
                20,
                11,
                "/timers/0/fire",
            ),
        ),
        (
            "timer_wrong_state",
            ("workflow.timer_wrong_state", 25, 11, "/timers/0/fire"),
        ),
        (
            "bad_duration",
            ("workflow.bad_duration", 19, 12, "/timers/0/after"),
        ),
        (
            "approval_quorum",
            (
                "workflow.approval_quorum",
                14,
                10,
                "/transitions/0/approval/n",
            ),
        ),
        (
            "approval_with_who",
            ("workflow.approval_with_who", 12, 5, "/transitions/0/who"),
        ),
        (
            "timer_schedule",
            ("workflow.timer_schedule", 17, 5, "/timers/0"),
        ),
        (
            "timer_action",
            ("workflow.timer_action", 14, 5, "/timers/0"),
        ),
        (
            "timer_input",
            ("workflow.timer_input", 21, 11, "/timers/0/fire"),
        ),
        (
            "timer_in_terminal",
            ("workflow.timer_in_terminal", 15, 9, "/timers/0/in"),
        ),
        ("unknown_key", ("schema.additional_property", 13, 1, "")),
    ];
    let mut failures = Vec::new();
    for (name, want) in cases {
        let report = broken(name);
        let got = found(&report);
        if got != [*want] {
            failures.push(format!("{name}: want {want:?}\n  got {got:?}\n{report}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn message(report: &Report, code: &str) -> String {
    report
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .map(|d| d.message.clone())
        .unwrap_or_default()
}

#[test]
fn messages_suggest_and_explain() {
    let m = message(&broken("unknown_state"), "workflow.unknown_state");
    assert!(
        m.contains("no state `opne`") && m.contains("Did you mean `open`?"),
        "{m}"
    );
    let m = message(&broken("unknown_role"), "workflow.unknown_role");
    assert!(m.contains("Did you mean `store_manager`?"), "{m}");
    let m = message(
        &broken("timer_unknown_transition"),
        "workflow.timer_unknown_transition",
    );
    assert!(m.contains("Did you mean `expire`?"), "{m}");
    let m = message(&broken("guard_compile"), "workflow.guard_compile");
    assert!(m.contains("line 1, column"), "{m}");
    let m = message(&broken("bad_duration"), "workflow.bad_duration");
    assert!(m.contains("`PT24X`") && m.contains("`X`"), "{m}");
    let m = message(&broken("duplicate_state"), "workflow.duplicate_state");
    assert!(m.contains("first at /states/0"), "{m}");
    let m = message(&broken("unknown_key"), "schema.additional_property");
    assert!(m.contains("`owner` is not a known field"), "{m}");
}

#[test]
fn syntax_errors_are_located() {
    let report = broken("syntax");
    assert_eq!(found(&report).len(), 1, "{report}");
    let d = &report.diagnostics[0];
    assert_eq!(d.code, "yaml.syntax");
    assert_eq!(d.line, Some(6), "{report}");
}

#[test]
fn all_problems_come_in_one_report() {
    let text = "id: Bad\nsubject: quote\nstates:\n  - name: open\n  - name: open\ntransitions:\n  \
                - name: go\n    from: nowhere\n    to: open\n    who: [{role: chef}]\n";
    let report = load("all.yaml", text, &ctx()).unwrap_err();
    let codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
    for code in [
        "schema.pattern",
        "workflow.duplicate_state",
        "workflow.no_initial",
        "workflow.unknown_state",
        "workflow.unknown_role",
    ] {
        assert!(codes.contains(&code), "{code} missing from {report}");
    }
}

#[test]
fn valid_definitions_load() {
    let wf = valid("minimal");
    assert_eq!(wf.id(), "minimal");
    assert_eq!(wf.subject(), "quote");
    assert_eq!(wf.initial().name, "open");
    assert_eq!(wf.version(), None);
    assert_eq!(wf.hash().len(), 64);
    assert!(wf.source().starts_with("id: minimal"));
    assert!(wf.transition("finish").is_some());
    assert!(wf.state("done").is_some_and(|s| s.terminal));
}

#[test]
fn demo_definitions_load_with_the_demo_roles() {
    for name in ["test_drive_review_aurora", "test_drive_review_shudao"] {
        let wf = valid(name);
        assert_eq!(wf.id(), "test_drive_review");
        assert_eq!(wf.subject(), "test_drive_booking");
        assert_eq!(wf.initial().name, "requested");
        let timers: Vec<&str> = wf.timers_in("requested").map(|t| t.name.as_str()).collect();
        assert_eq!(timers, ["review_deadline", "review_reminder"]);
    }
    let shudao = valid("test_drive_review_shudao");
    assert_eq!(
        shudao.transition("approve").unwrap().to,
        "preparing",
        "shudao approves in two steps"
    );
    // Without the tenant's roles, the demo definitions do not load.
    let aurora = fixture("valid/test_drive_review_aurora.yaml");
    let report = load("aurora.yaml", &aurora, &Context::default()).unwrap_err();
    assert!(report
        .diagnostics
        .iter()
        .all(|d| d.code == "workflow.unknown_role"));
}

#[test]
fn hash_ignores_formatting_and_comments() {
    let yaml = valid("minimal");
    let json = r#"{"subject": "quote", "id": "minimal",
        "states": [{"name": "open", "initial": true}, {"name": "done", "terminal": true}],
        "transitions": [{"name": "finish", "from": "open", "to": "done",
                         "who": [{"role": "store_manager"}]}]}"#;
    let json = load("minimal.json", json, &ctx()).unwrap();
    assert_eq!(yaml.hash(), json.hash());
    let commented = format!("# a comment\n{}", fixture("valid/minimal.yaml"));
    assert_eq!(
        load("m.yaml", &commented, &ctx()).unwrap().hash(),
        yaml.hash()
    );
    let changed = fixture("valid/minimal.yaml").replace("subject: quote", "subject: order");
    assert_ne!(
        load("m.yaml", &changed, &ctx()).unwrap().hash(),
        yaml.hash()
    );
}

#[test]
fn alias_bomb_is_refused_fast() {
    let mut text =
        String::from("id: bomb\nsubject: quote\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    let started = Instant::now();
    let report = load("bomb.yaml", &text, &ctx()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    let d = &report.diagnostics[0];
    assert_eq!(d.code, "yaml.alias_limit");
    assert!(d.line.is_some());
    assert!(d.message.contains("alias bomb"), "{}", d.message);
}

#[test]
fn huge_document_is_refused_fast() {
    let mut text = fixture("valid/minimal.yaml");
    text.push_str("description: \"");
    text.push_str(&"x".repeat(10 * 1024 * 1024));
    text.push_str("\"\n");
    let started = Instant::now();
    let report = load("huge.yaml", &text, &ctx()).unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(report.diagnostics.len(), 1, "{report}");
    let d = &report.diagnostics[0];
    assert_eq!(d.code, "bundle.too_large");
    assert_eq!((d.line, d.column), (Some(1), Some(1)));
    assert!(d.message.contains("more than the limit"), "{}", d.message);
}

#[test]
fn endless_guard_compiles_and_is_never_run_at_load() {
    let text = format!(
        "{}    guard: \"loop {{}}\"\n",
        fixture("valid/minimal.yaml")
    );
    let started = Instant::now();
    load("loop.yaml", &text, &ctx()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn workflows_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<forecourt_workflow_engine::Workflow>();
    let wf = std::sync::Arc::new(valid("engine"));
    let other = std::sync::Arc::clone(&wf);
    let id = std::thread::spawn(move || other.id().to_string())
        .join()
        .unwrap();
    assert_eq!(id, wf.id());
}
