//! The engine's rules, on `fixtures/valid/engine.yaml` and the demo definitions.

use std::time::{Duration, Instant};

use forecourt_workflow_engine::{
    available, may_fire, parse_timestamp, start, step, Actor, Command, Effect, Instance, Outcome,
    RecordKind, StepError, Workflow,
};
use serde_json::{json, Value};

use crate::{from_text, valid};

const HOUR: i64 = 3_600_000;

fn t0() -> i64 {
    parse_timestamp("2026-11-26T09:00:00Z").unwrap()
}

fn actor(id: &str, role: &str, relations: &[&str]) -> Actor {
    Actor {
        id: id.to_string(),
        roles: vec![role.to_string()],
        relations: relations.iter().map(|r| r.to_string()).collect(),
    }
}

fn store_manager(id: &str) -> Actor {
    actor(
        id,
        "store_manager",
        &["tenant", "same_region", "same_dealer_group", "same_store"],
    )
}

fn region_manager(id: &str) -> Actor {
    actor(id, "region_manager", &["tenant", "same_region"])
}

fn sales(id: &str) -> Actor {
    actor(
        id,
        "sales_consultant",
        &["tenant", "same_region", "same_dealer_group", "same_store"],
    )
}

fn buyer() -> Actor {
    actor("buyer-1", "buyer", &["owner"])
}

fn subject() -> Value {
    json!({"store": "sh01", "party_size": 3, "slot_start": "2026-11-27T10:00:00Z",
           "slot_end": "2026-11-27T11:00:00Z"})
}

fn engine() -> Workflow {
    valid("engine")
}

fn started(wf: &Workflow) -> Instance {
    start(wf, subject(), &buyer(), t0()).unwrap().instance
}

fn fire(name: &str, input: Value) -> Command {
    Command::Fire {
        transition: name.to_string(),
        input,
    }
}

fn fire_ok(wf: &Workflow, i: &Instance, name: &str, who: &Actor, now: i64) -> Outcome {
    step(wf, i, &fire(name, json!({})), who, now)
        .unwrap_or_else(|e| panic!("{name} by {}: {e}", who.id))
}

fn fire_err(wf: &Workflow, i: &Instance, name: &str, input: Value, who: &Actor) -> StepError {
    match step(wf, i, &fire(name, input), who, t0() + HOUR) {
        Ok(o) => panic!("{name} by {} was accepted: {:?}", who.id, o.record),
        Err(e) => e,
    }
}

fn timer(name: &str, epoch: u64) -> Command {
    Command::Timer {
        timer: name.to_string(),
        epoch,
    }
}

/// Effects without their `data`, for comparing.
fn brief(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Emit { event, .. } => format!("emit {event}"),
            Effect::Notify { template, to, .. } => format!("notify {template} {}", to.join(",")),
            Effect::CallHook { hook, .. } => format!("hook {hook}"),
            Effect::ScheduleTimer {
                timer,
                due_at,
                epoch,
            } => format!(
                "schedule {timer} +{}h epoch {epoch}",
                (due_at - t0()) / HOUR
            ),
            Effect::CancelTimers => "cancel".to_string(),
            Effect::Ended { state } => format!("ended {state}"),
        })
        .collect()
}

#[test]
fn start_enters_the_initial_state_and_arms_its_timers() {
    let wf = engine();
    let o = start(&wf, subject(), &buyer(), t0()).unwrap();
    assert_eq!(o.instance.state, "requested");
    assert_eq!((o.instance.version, o.instance.epoch), (1, 1));
    assert_eq!(o.instance.entered_at, t0());
    assert!(!o.instance.ended);
    assert_eq!(o.record.kind, RecordKind::Start);
    assert_eq!(o.record.from, None);
    assert_eq!(o.record.to, "requested");
    assert_eq!(o.record.actor_id, "buyer-1");
    assert_eq!(
        brief(&o.effects),
        [
            "emit booking.requested",
            "schedule deadline +24h epoch 1",
            "schedule reminder +4h epoch 1"
        ]
    );
    // The shape of `data`.
    let Effect::Emit { data, .. } = &o.effects[0] else {
        panic!("{:?}", o.effects[0])
    };
    assert_eq!(
        *data,
        json!({"workflow": "engine_test", "state": "requested", "from": null,
               "transition": null, "timer": null, "actor": "buyer-1", "subject": subject()})
    );
    let e = start(&wf, json!([1]), &buyer(), t0()).unwrap_err();
    assert_eq!(e.code(), "workflow.invalid_subject");
}

#[test]
fn happy_path_to_a_terminal_state() {
    let wf = engine();
    let i = started(&wf);
    let o = fire_ok(&wf, &i, "approve_one", &store_manager("sm-1"), t0() + HOUR);
    assert_eq!(o.record.kind, RecordKind::Transition);
    assert_eq!(o.record.from.as_deref(), Some("requested"));
    assert_eq!(o.record.to, "approved");
    assert_eq!(o.instance.state, "approved");
    assert_eq!((o.instance.version, o.instance.epoch), (2, 2));
    assert_eq!(o.instance.entered_at, t0() + HOUR);
    assert!(o.instance.approvals.is_empty());
    // `at: slot_end` with `offset: -PT1H`: 2026-11-27T10:00Z, 25 h after start.
    assert_eq!(
        brief(&o.effects),
        [
            "hook workflow.left_requested",
            "cancel",
            "notify booking_approved buyer",
            "schedule slot +25h epoch 2"
        ]
    );
    let Effect::Notify { data, .. } = &o.effects[2] else {
        panic!()
    };
    assert_eq!(data["from"], "requested");
    assert_eq!(data["state"], "approved");
    assert_eq!(data["transition"], "approve_one");
    assert_eq!(data["actor"], "sm-1");

    // The slot timer fires `finish` as the system, whatever actor the caller passes.
    let done = step(
        &wf,
        &o.instance,
        &timer("slot", 2),
        &buyer(),
        t0() + 25 * HOUR,
    )
    .unwrap();
    assert_eq!(done.record.kind, RecordKind::Transition);
    assert_eq!(done.record.timer.as_deref(), Some("slot"));
    assert_eq!(done.record.transition.as_deref(), Some("finish"));
    assert_eq!(done.record.actor_id, "system");
    assert_eq!(
        brief(&done.effects),
        ["cancel", "emit booking.done", "ended done"]
    );
    assert!(done.instance.ended);
    assert_eq!(done.instance.version, 3);

    // An ended instance takes no command.
    let e = fire_err(&wf, &done.instance, "cancel", json!({}), &buyer());
    assert_eq!(
        e,
        StepError::Ended {
            state: "done".into()
        }
    );
    assert_eq!(e.code(), "workflow.ended");
    let e = step(&wf, &done.instance, &timer("slot", 3), &buyer(), t0()).unwrap_err();
    assert_eq!(e.code(), "workflow.stale_timer");
    assert!(available(&wf, &done.instance, &buyer()).is_empty());
}

#[test]
fn wrong_state_and_unknown_transition() {
    let wf = engine();
    let i = started(&wf);
    let approved = fire_ok(&wf, &i, "approve_one", &store_manager("sm-1"), t0()).instance;
    let e = fire_err(&wf, &approved, "note", json!({"text": "x"}), &sales("s-1"));
    assert_eq!(e.code(), "workflow.wrong_state");
    assert_eq!(
        e.to_string(),
        "`note` cannot be fired in state `approved`: it leaves `requested` only"
    );
    let e = fire_err(&wf, &i, "aprove_one", json!({}), &store_manager("sm-1"));
    assert_eq!(e.code(), "workflow.unknown_transition");
    assert!(e.to_string().contains("Did you mean `approve_one`?"), "{e}");
}

#[test]
fn forbidden_by_role_and_by_relation() {
    let wf = engine();
    let i = started(&wf);
    let e = fire_err(&wf, &i, "cancel", json!({}), &store_manager("sm-1"));
    assert_eq!(e.code(), "workflow.forbidden");
    assert!(e.to_string().contains("buyer (owner)"), "{e}");
    // The right role, but another store's manager.
    let elsewhere = actor("sm-9", "store_manager", &["tenant", "same_region"]);
    let e = fire_err(&wf, &i, "approve_one", json!({}), &elsewhere);
    assert_eq!(e.code(), "workflow.forbidden");
    assert!(
        e.to_string()
            .contains("store_manager (same_store), region_manager (same_region)"),
        "{e}"
    );
    // A buyer who does not own the booking.
    let stranger = actor("buyer-2", "buyer", &[]);
    assert_eq!(
        fire_err(&wf, &i, "cancel", json!({}), &stranger).code(),
        "workflow.forbidden"
    );
    // Without `who`: the system only.
    let e = fire_err(&wf, &i, "expire", json!({}), &store_manager("sm-1"));
    assert!(e.to_string().contains("only timers and the system"), "{e}");
    let o = fire_ok(&wf, &i, "expire", &Actor::system(), t0());
    assert_eq!(o.instance.state, "cancelled");
    assert_eq!(
        may_fire(&wf, &i, "cancel", &stranger).unwrap_err().code(),
        "workflow.forbidden"
    );
    assert_eq!(may_fire(&wf, &i, "cancel", &buyer()), Ok(()));
}

#[test]
fn invalid_input_lists_every_pointer() {
    let wf = engine();
    let i = started(&wf);
    let e = fire_err(&wf, &i, "note", json!({"priority": 9}), &sales("s-1"));
    let StepError::InvalidInput { errors, .. } = &e else {
        panic!("{e}")
    };
    let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    pointers.sort();
    assert_eq!(pointers, ["", "/priority"]);
    assert!(e.to_string().contains("/priority:"), "{e}");
    assert!(e.to_string().contains("\"text\""), "{e}");
    assert_eq!(e.code(), "workflow.invalid_input");
    // No input counts as `{}`.
    let e = fire_err(&wf, &i, "note", Value::Null, &sales("s-1"));
    assert_eq!(e.code(), "workflow.invalid_input");
    // Formats are enforced (the demo's reschedule needs a date-time).
    let aurora = valid("test_drive_review_aurora");
    let a = start(&aurora, subject(), &buyer(), t0()).unwrap().instance;
    let e = fire_err(
        &aurora,
        &a,
        "reschedule",
        json!({"slot_start": "next tuesday"}),
        &store_manager("sm-1"),
    );
    assert_eq!(e.code(), "workflow.invalid_input", "{e}");
}

#[test]
fn guards_decide() {
    let wf = engine();
    let i = started(&wf);
    let o = fire_ok(&wf, &i, "small_party", &sales("s-1"), t0());
    assert_eq!(o.instance.state, "approved");
    let mut big = i.clone();
    big.subject["party_size"] = json!(6);
    let e = fire_err(&wf, &big, "small_party", json!({}), &sales("s-1"));
    assert_eq!(
        e,
        StepError::GuardRejected {
            transition: "small_party".into()
        }
    );
    assert_eq!(e.code(), "workflow.guard_rejected");
    // The guard sees the actor.
    let e = fire_err(&wf, &i, "small_party", json!({}), &sales("blocked"));
    assert_eq!(e.code(), "workflow.guard_rejected");
}

#[test]
fn endless_guard_fails_cleanly_and_fast() {
    let wf = from_text(
        "id: spin\nsubject: x\nstates:\n  - {name: a, initial: true}\n  - {name: b, terminal: \
         true}\ntransitions:\n  - name: go\n    from: a\n    to: b\n    who: [{role: buyer}]\n    \
         guard: \"loop {}\"\n  - name: text\n    from: a\n    to: b\n    who: [{role: buyer}]\n    \
         guard: \"\\\"yes\\\"\"\n",
    );
    let b = actor("b", "buyer", &["tenant"]);
    let i = start(&wf, json!({}), &b, t0()).unwrap().instance;
    let started = Instant::now();
    let e = fire_err(&wf, &i, "go", json!({}), &b);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.code(), "workflow.guard_failed");
    assert!(e.to_string().contains("limit"), "{e}");
    let e = fire_err(&wf, &i, "text", json!({}), &b);
    assert_eq!(e.code(), "workflow.guard_failed");
    assert!(available(&wf, &i, &b).is_empty());
}

#[test]
fn one_of_quorum() {
    let wf = engine();
    let i = started(&wf);
    let o = fire_ok(&wf, &i, "approve_one", &region_manager("rm-1"), t0());
    assert_eq!(o.record.kind, RecordKind::Transition);
    assert_eq!(o.instance.state, "approved");
}

#[test]
fn all_of_quorum() {
    let wf = engine();
    let i = started(&wf);
    let first = fire_ok(&wf, &i, "approve_all", &store_manager("sm-1"), t0() + HOUR);
    assert_eq!(first.record.kind, RecordKind::Approval);
    assert_eq!(first.record.to, "requested");
    assert!(first.effects.is_empty());
    assert_eq!(first.instance.state, "requested");
    assert_eq!((first.instance.version, first.instance.epoch), (2, 1));
    assert_eq!(first.instance.approvals.len(), 1);
    assert_eq!(first.instance.approvals[0].slot, 0);
    assert_eq!(first.instance.approvals[0].at, t0() + HOUR);
    // Another store manager matches only the filled slot.
    let e = fire_err(
        &wf,
        &first.instance,
        "approve_all",
        json!({}),
        &store_manager("sm-2"),
    );
    assert_eq!(e.code(), "workflow.forbidden");
    assert!(e.to_string().contains("already filled"), "{e}");
    let second = fire_ok(
        &wf,
        &first.instance,
        "approve_all",
        &region_manager("rm-1"),
        t0(),
    );
    assert_eq!(second.record.kind, RecordKind::Transition);
    assert_eq!(second.instance.state, "approved");
    assert!(second.instance.approvals.is_empty());
    assert_eq!(second.instance.version, 3);
}

#[test]
fn n_of_m_quorum_and_double_approval() {
    let wf = engine();
    let i = started(&wf);
    let first = fire_ok(&wf, &i, "approve_two", &store_manager("sm-1"), t0());
    assert_eq!(first.record.kind, RecordKind::Approval);
    let e = fire_err(
        &wf,
        &first.instance,
        "approve_two",
        json!({}),
        &store_manager("sm-1"),
    );
    assert_eq!(
        e,
        StepError::AlreadyApproved {
            transition: "approve_two".into(),
            actor_id: "sm-1".into(),
            state: "requested".into()
        }
    );
    assert_eq!(e.code(), "workflow.already_approved");
    // Approvals are per transition: sm-1 may still approve another one.
    assert!(available(&wf, &first.instance, &store_manager("sm-1"))
        .contains(&"approve_all".to_string()));
    let second = fire_ok(
        &wf,
        &first.instance,
        "approve_two",
        &store_manager("sm-2"),
        t0(),
    );
    assert_eq!(second.record.kind, RecordKind::Transition);
    assert_eq!(second.instance.state, "approved");
}

#[test]
fn stale_and_unknown_timers_are_refused() {
    let wf = engine();
    let i = started(&wf);
    let noted = step(
        &wf,
        &i,
        &fire("note", json!({"text": "call back"})),
        &sales("s-1"),
        t0(),
    )
    .unwrap()
    .instance;
    assert_eq!(noted.epoch, 2);
    let e = step(&wf, &noted, &timer("deadline", 1), &Actor::system(), t0()).unwrap_err();
    assert_eq!(e.code(), "workflow.stale_timer");
    assert!(e.to_string().contains("epoch 1"), "{e}");
    // Right epoch, but a timer of another state.
    let e = step(&wf, &noted, &timer("slot", 2), &Actor::system(), t0()).unwrap_err();
    assert_eq!(e.code(), "workflow.stale_timer");
    let e = step(&wf, &noted, &timer("nope", 2), &Actor::system(), t0()).unwrap_err();
    assert_eq!(e.code(), "workflow.unknown_timer");
    // The current epoch's deadline fires `expire`.
    let o = step(&wf, &noted, &timer("deadline", 2), &Actor::system(), t0()).unwrap();
    assert_eq!(o.instance.state, "cancelled");
    assert!(o.instance.ended);
}

#[test]
fn escalation_notifies_and_keeps_the_state() {
    let wf = engine();
    let i = started(&wf);
    let o = step(
        &wf,
        &i,
        &timer("reminder", 1),
        &Actor::system(),
        t0() + 4 * HOUR,
    )
    .unwrap();
    assert_eq!(o.record.kind, RecordKind::Escalation);
    assert_eq!(o.record.timer.as_deref(), Some("reminder"));
    assert_eq!(o.instance.state, "requested");
    assert_eq!((o.instance.version, o.instance.epoch), (2, 1));
    assert_eq!(brief(&o.effects), ["notify overdue region_manager"]);
    let Effect::Notify { data, .. } = &o.effects[0] else {
        panic!()
    };
    assert_eq!(data["timer"], "reminder");
    assert_eq!(data["from"], Value::Null);
}

#[test]
fn self_loop_re_enters_and_re_arms_with_a_new_epoch() {
    let wf = engine();
    let i = started(&wf);
    let o = step(
        &wf,
        &i,
        &fire("note", json!({"text": "call back", "priority": 1})),
        &sales("s-1"),
        t0() + 2 * HOUR,
    )
    .unwrap();
    assert_eq!(o.record.from.as_deref(), Some("requested"));
    assert_eq!(o.record.to, "requested");
    assert_eq!(o.record.input, json!({"text": "call back", "priority": 1}));
    assert_eq!((o.instance.version, o.instance.epoch), (2, 2));
    assert_eq!(o.instance.entered_at, t0() + 2 * HOUR);
    assert_eq!(
        brief(&o.effects),
        [
            "hook workflow.left_requested",
            "cancel",
            "emit booking.requested",
            "schedule deadline +26h epoch 2",
            "schedule reminder +6h epoch 2"
        ]
    );
}

#[test]
fn at_timers_read_the_subject() {
    let wf = engine();
    let mut i = started(&wf);
    // Unix milliseconds work as well as RFC 3339 text.
    i.subject["slot_end"] = json!(t0() + 10 * HOUR);
    let o = fire_ok(&wf, &i, "approve_one", &store_manager("sm-1"), t0());
    assert_eq!(brief(&o.effects)[3], "schedule slot +9h epoch 2");
    // A missing field: the timer is skipped and an event says why.
    i.subject = json!({"party_size": 2});
    let o = fire_ok(&wf, &i, "approve_one", &store_manager("sm-1"), t0());
    let Effect::Emit { event, data } = &o.effects[3] else {
        panic!("{:?}", o.effects)
    };
    assert_eq!(event, "workflow.timer_skipped");
    assert_eq!(data["timer"], "slot");
    assert!(data["reason"].as_str().unwrap().contains("slot_end"));
    assert_eq!(o.effects.len(), 4);
}

#[test]
fn available_lists_what_each_actor_may_do() {
    let wf = engine();
    let i = started(&wf);
    assert_eq!(available(&wf, &i, &buyer()), ["cancel"]);
    assert_eq!(
        available(&wf, &i, &store_manager("sm-1")),
        ["approve_one", "approve_all", "approve_two"]
    );
    assert_eq!(available(&wf, &i, &sales("s-1")), ["note", "small_party"]);
    assert!(available(&wf, &i, &Actor::system()).is_empty());
    let after = fire_ok(&wf, &i, "approve_all", &store_manager("sm-1"), t0()).instance;
    assert_eq!(
        available(&wf, &after, &store_manager("sm-1")),
        ["approve_one", "approve_two"]
    );

    // The demo: buyer versus store manager versus a region manager.
    let aurora = valid("test_drive_review_aurora");
    let a = start(&aurora, subject(), &buyer(), t0()).unwrap().instance;
    assert_eq!(available(&aurora, &a, &buyer()), ["cancel"]);
    assert_eq!(
        available(&aurora, &a, &store_manager("sm-1")),
        ["approve", "reject", "reschedule"]
    );
    assert!(available(&aurora, &a, &region_manager("rm-1")).is_empty());
    let approved = fire_ok(&aurora, &a, "approve", &store_manager("sm-1"), t0()).instance;
    assert_eq!(
        available(&aurora, &approved, &store_manager("sm-1")),
        ["reschedule", "no_show"]
    );
    let shudao = valid("test_drive_review_shudao");
    let s = start(&shudao, subject(), &buyer(), t0()).unwrap().instance;
    let preparing = fire_ok(&shudao, &s, "approve", &store_manager("sm-1"), t0()).instance;
    assert_eq!(preparing.state, "preparing");
    assert_eq!(available(&shudao, &preparing, &sales("s-1")), ["prepared"]);
    let stock = actor("st-1", "stock_manager", &["tenant", "same_store"]);
    let ready = fire_ok(&shudao, &preparing, "prepared", &stock, t0()).instance;
    assert_eq!(ready.state, "approved");
}

#[test]
fn instances_round_trip_through_json() {
    let wf = engine();
    let i = fire_ok(
        &wf,
        &started(&wf),
        "approve_all",
        &store_manager("sm-1"),
        t0(),
    )
    .instance;
    let text = serde_json::to_string(&i).unwrap();
    let back: Instance = serde_json::from_str(&text).unwrap();
    assert_eq!(back, i);
    let command: Command =
        serde_json::from_value(json!({"command": "timer", "timer": "deadline", "epoch": 1}))
            .unwrap();
    assert_eq!(command, timer("deadline", 1));
}
