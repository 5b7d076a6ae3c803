//! The tools: mermaid diagrams and the simulator.

use std::time::{Duration, Instant};

use forecourt_workflow_engine::{mermaid, simulate, RecordKind, SimError, MAX_SIM_STEPS};

use crate::{from_text, valid};

const SMALL: &str = "\
id: small
subject: quote
states:
  - {name: open, initial: true}
  - {name: approved}
  - {name: done, terminal: true}
  - {name: expired, terminal: true}
transitions:
  - name: approve
    from: open
    to: approved
    approval:
      mode: n_of_m
      n: 2
      approvers: [{role: store_manager}, {role: region_manager}, {role: tenant_admin}]
  - name: revise
    from: [open, approved]
    to: open
    who: [{role: sales_consultant}]
  - {name: expire, from: open, to: expired}
  - {name: finish, from: approved, to: done}
  - {name: close, from: approved, to: done}
timers:
  - {name: review_deadline, in: open, after: PT24H, fire: expire}
  - name: reminder
    in: open
    after: PT4H
    escalate: {notify: {template: overdue, to: [region_manager]}}
  - {name: slot, in: approved, at: slot_end, offset: -PT1H, fire: finish}
";

#[test]
fn mermaid_of_a_small_workflow() {
    let wf = from_text(SMALL);
    assert_eq!(
        mermaid(&wf),
        "\
stateDiagram-v2
    [*] --> open
    open --> approved: approve (approval 2 of 3)
    open --> open: revise
    approved --> open: revise
    open --> expired: expire (timer review_deadline, PT24H)
    approved --> done: finish (timer slot, at slot_end -PT1H)
    approved --> done: close (system)
    done --> [*]
    expired --> [*]
    note right of open: reminder (PT4H) notifies region_manager
"
    );
}

fn render(steps: &[forecourt_workflow_engine::SimStep]) -> String {
    steps
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

const HEADER: &str = r#"
start: "2026-11-26T09:00:00Z"
subject: { store: sh01, slot_start: "2026-11-27T10:00:00Z", slot_end: "2026-11-27T11:00:00Z" }
actor: { id: buyer-1, roles: [buyer], relations: [owner] }
"#;

#[test]
fn simulate_approve_drive_feedback() {
    let wf = valid("test_drive_review_aurora");
    let script = format!(
        "{HEADER}events:
  - at: \"+PT1H\"
    actor: {{ id: u-1, roles: [store_manager], relations: [tenant, same_region, same_store] }}
    fire: approve
  - at: \"2026-11-27T12:00:00Z\"
    fire: feedback
    input: {{ rating: 5, comment: Smooth ride }}
"
    );
    let steps = simulate(&wf, &script).unwrap();
    assert_eq!(
        render(&steps),
        "\
2026-11-26T09:00:00Z  start by buyer-1: -> requested
    notify test_drive_received -> buyer
    emit test_drive.requested
    schedule timer review_deadline at 2026-11-27T09:00:00Z (epoch 1)
    schedule timer review_reminder at 2026-11-26T13:00:00Z (epoch 1)
2026-11-26T10:00:00Z  fire approve by u-1: requested -> approved
    cancel timers
    notify test_drive_approved -> buyer
    emit test_drive.approved
    schedule timer slot_finished at 2026-11-27T11:00:00Z (epoch 2)
2026-11-27T11:00:00Z  timer slot_finished by system: approved -> completed (finish)
    cancel timers
    notify test_drive_feedback_request -> buyer
    emit test_drive.completed
    schedule timer feedback_window at 2026-12-04T11:00:00Z (epoch 3)
2026-11-27T12:00:00Z  fire feedback by buyer-1: completed -> closed
    cancel timers
    emit test_drive.closed
    ended in closed"
    );
    let last = steps.last().unwrap();
    assert_eq!(last.state, "closed");
    assert_eq!(
        last.record.as_ref().unwrap().input["comment"],
        "Smooth ride"
    );
}

#[test]
fn simulate_review_deadline_expires_the_booking() {
    let wf = valid("test_drive_review_aurora");
    let script = format!(
        "{HEADER}events:
  - advance: PT30H
  - actor: {{ id: u-1, roles: [store_manager], relations: [tenant, same_store] }}
    fire: approve
"
    );
    let steps = simulate(&wf, &script).unwrap();
    assert_eq!(
        render(&steps),
        "\
2026-11-26T09:00:00Z  start by buyer-1: -> requested
    notify test_drive_received -> buyer
    emit test_drive.requested
    schedule timer review_deadline at 2026-11-27T09:00:00Z (epoch 1)
    schedule timer review_reminder at 2026-11-26T13:00:00Z (epoch 1)
2026-11-26T13:00:00Z  timer review_reminder by system: escalation, still requested
    notify test_drive_review_overdue -> region_manager
2026-11-27T09:00:00Z  timer review_deadline by system: requested -> cancelled (expire)
    cancel timers
    notify test_drive_cancelled -> buyer
    emit test_drive.cancelled
    ended in cancelled
2026-11-27T15:00:00Z  fire approve by u-1: refused [workflow.ended] the instance has ended \
in state `cancelled`; no command applies to it any more"
    );
    assert_eq!(
        steps[1].record.as_ref().unwrap().kind,
        RecordKind::Escalation
    );
    assert_eq!(steps[3].error.as_ref().unwrap().code(), "workflow.ended");
}

#[test]
fn simulate_shudao_two_step_approval() {
    let wf = valid("test_drive_review_shudao");
    let script = format!(
        "{HEADER}events:
  - at: \"+PT1H\"
    actor: {{ id: sm-1, roles: [store_manager], relations: [tenant, same_store] }}
    fire: approve
  - at: \"+PT2H\"
    actor: {{ id: sm-1, roles: [store_manager], relations: [tenant, same_store] }}
    fire: prepared
  - at: \"+PT3H\"
    actor: {{ id: st-1, roles: [stock_manager], relations: [tenant, same_store] }}
    fire: prepared
"
    );
    let steps = simulate(&wf, &script).unwrap();
    let states: Vec<&str> = steps.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["requested", "preparing", "preparing", "approved"]);
    assert_eq!(
        steps[2].error.as_ref().unwrap().code(),
        "workflow.forbidden"
    );
}

#[test]
fn bad_scripts_are_reported_with_places() {
    let wf = valid("test_drive_review_aurora");
    let script = format!(
        "{HEADER}events:
  - at: soon
    fire: approve
  - advance: PT1X
  - fire: approve
    advance: PT1H
"
    );
    let SimError::Invalid(report) = simulate(&wf, &script).unwrap_err() else {
        panic!()
    };
    let got: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.line, d.pointer.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("simulation.time", Some(6), "/events/0/at"),
            ("simulation.duration", Some(8), "/events/1/advance"),
            ("simulation.event", Some(9), "/events/2"),
        ]
    );
    let SimError::Invalid(report) = simulate(&wf, "start: x\nsubject: {}\n").unwrap_err() else {
        panic!()
    };
    assert_eq!(report.diagnostics[0].code, "schema.required");
}

#[test]
fn runaway_timers_stop_the_simulation() {
    let wf = from_text(
        "id: tick\nsubject: x\nstates:\n  - {name: a, initial: true}\ntransitions:\n  - {name: \
         again, from: a, to: a}\ntimers:\n  - {name: tick, in: a, after: PT1S, fire: again}\n",
    );
    let started = Instant::now();
    let e = simulate(
        &wf,
        "start: \"2026-01-01T00:00:00Z\"\nsubject: {}\nactor: {id: b}\nevents:\n  - advance: P3000D\n",
    )
    .unwrap_err();
    assert_eq!(
        e,
        SimError::TooManySteps {
            limit: MAX_SIM_STEPS
        }
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
