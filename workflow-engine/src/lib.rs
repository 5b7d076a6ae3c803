//! # forecourt-workflow-engine
//!
//! **Owns** the approval flows and state machines that tenants and integrators describe in YAML
//! (test-drive review, transfer approval, order lifecycle, finance application): their format
//! ([`workflow_schema`], the typed [`model`]), their validation ([`load`], three layers, every
//! error located), and the pure decision function [`step`]:
//! `(definition, instance, command, actor, now) → (new instance, record, effects)`; plus the
//! tools around it: [`available`] for work queues, [`mermaid`] diagrams and the [`simulate`]
//! runner.
//!
//! **Must never know** HTTP, SQL, the clock or any other I/O: `core` stores instances and their
//! history, computes the actor's relations to the subject, runs timers and carries out effects
//! through its outbox. Time comes in as `now` (unix milliseconds); input schemas never fetch a
//! `$ref`.
//!
//! **Invariants**
//! - A [`Workflow`] exists only when all three layers passed; it is immutable and carries a
//!   content hash ([`Workflow::hash`]) independent of formatting and comments. A running
//!   instance stays pinned to the definition (hash) it started on; migration is explicit.
//! - A command either yields a complete [`Outcome`] (new instance, one [`Record`], effects in
//!   order) or a [`StepError`]; the instance passed in is never changed. Same inputs, same
//!   result.
//! - Guards are compiled when a definition loads and never run then; at run time they run in
//!   the `forecourt-plugins` sandbox ([`hardened_engine`](forecourt_plugins::hardened_engine)
//!   limits, tightened by [`guard_limits`]), so `loop {}` ends in [`StepError::GuardFailed`].
//! - `version` grows by one on every accepted command; `epoch` grows by one on every state
//!   entry, and a timer is only honoured in the epoch and state it was armed in.
//!
//! # Definition format
//! YAML or JSON, shape in `schema/workflow.schema.json` ([`workflow_schema`]). A complete
//! example, loaded, started and stepped:
//!
//! ```
//! use forecourt_workflow_engine::{load, start, step, Actor, Command, Context, RecordKind};
//! use serde_json::json;
//!
//! let yaml = r#"
//! id: test_drive_review            # ^[a-z][a-z0-9_]{0,62}$
//! version: 2                       # optional; the server requires the next version
//! subject: test_drive_booking      # the subject type
//! title: { zh-CN: "试驾审核", en: "Test-drive review" }
//! states:
//!   - name: requested
//!     initial: true                # exactly one
//!     on_enter: [ { notify: { template: booking_received, to: [buyer] } } ]
//!   - name: approved
//!     on_enter: [ { emit: test_drive.approved } ]
//!     on_exit:  [ { hook: workflow.leaving_approved } ]
//!   - { name: done, terminal: true }
//!   - { name: rejected, terminal: true }
//! transitions:
//!   - name: approve
//!     from: [requested]            # one state or a list
//!     to: approved
//!     approval:                    # fires once the quorum approved; replaces `who`
//!       mode: n_of_m               # one_of | all_of | n_of_m (with n: 1..=approvers)
//!       n: 1
//!       approvers:
//!         - { role: store_manager, scope: same_store }
//!         - { role: region_manager, scope: same_region }
//!   - name: reject
//!     from: requested
//!     to: rejected
//!     who: [ { role: store_manager, scope: same_store } ]   # omit: timers/system only
//!     guard: "subject.party_size <= 4"                       # Rhai, must return bool
//!     input: { type: object, required: [reason], properties: { reason: { type: string } } }
//!   - { name: expire, from: requested, to: rejected }       # no `who`: timers and system
//!   - { name: finish, from: approved, to: done }
//! timers:
//!   - { name: review_deadline, in: requested, after: PT24H, fire: expire }
//!   - name: review_reminder
//!     in: requested
//!     after: PT4H
//!     escalate: { notify: { template: review_overdue, to: [region_manager] } }
//!   - { name: slot_over, in: approved, at: slot_end, offset: -PT1H, fire: finish }
//! "#;
//! let ctx = Context::with_roles(["store_manager", "region_manager"]);
//! let wf = load("workflows/test_drive_review.yaml", yaml, &ctx).map_err(|r| r.to_string())?;
//!
//! let buyer = Actor { id: "b-1".into(), roles: vec!["buyer".into()], relations: vec!["owner".into()] };
//! let subject = json!({"party_size": 2, "slot_end": "2026-11-27T11:00:00Z"});
//! let started = start(&wf, subject, &buyer, 1_795_683_600_000).map_err(|e| e.to_string())?;
//! let manager = Actor {
//!     id: "m-1".into(),
//!     roles: vec!["store_manager".into()],
//!     relations: vec!["tenant".into(), "same_store".into()],
//! };
//! let approve = Command::Fire { transition: "approve".into(), input: json!({}) };
//! let approved = step(&wf, &started.instance, &approve, &manager, 1_795_687_200_000)
//!     .map_err(|e| e.to_string())?;
//! assert_eq!(approved.record.kind, RecordKind::Transition);
//! assert_eq!(approved.instance.state, "approved");
//! # Ok::<(), String>(())
//! ```
//!
//! Decisions the format makes:
//! - **`who` and `approval` exclude each other.** With `approval`, each approver slot
//!   (`{role, scope}`) is filled by the first approval of an actor matching it; an actor fills
//!   one slot at most; the quorum is 1 (`one_of`), every slot (`all_of`) or `n` (`n_of_m`).
//!   Until then a `Fire` records an [`Approval`] (record kind `Approval`, version + 1, state
//!   unchanged); approvals are cleared whenever the instance enters a state.
//! - **An actor matches a party** when it holds the role *and* lists the scope among its
//!   relations (`tenant`, `same_region`, `same_dealer_group`, `same_store`, `owner`); the
//!   caller lists every relation that holds. Roles are the tenant's codes plus the built-ins
//!   `buyer` and `system`; [`Actor::system`] has role `system` and relation `tenant`. A
//!   transition without `who` and `approval` may be fired by timers and by an actor with role
//!   `system` only.
//! - **Timers act as the system**: a `fire` timer makes its transition happen ignoring `who`
//!   and `approval` (so "auto-approve after 48 h" works), with input `{}` (the loader rejects
//!   a fired transition whose input schema refuses `{}`), but **its guard still applies**: a
//!   guard returning false refuses the timer ([`StepError::GuardRejected`]). An `escalate`
//!   timer sends its notification (record kind `Escalation`, version + 1, state unchanged).
//!   Each armed timer goes off once; the caller deletes it when it fires.
//! - **`at` timers** read an RFC 3339 string or unix milliseconds from the subject field
//!   (dotted path) when the state is entered, then add `offset`. When the field is missing or
//!   holds no time the timer is not armed and an `Emit` of `workflow.timer_skipped` (with
//!   `timer` and `reason` added to `data`) says why.
//! - **Effects of a transition**, in order: the old state's `on_exit` actions, `CancelTimers`,
//!   the new state's `on_enter` actions, then `ScheduleTimer` for each of its timers, or
//!   `Ended` when it is terminal (timers in terminal states are rejected by the loader).
//!   Self-loops do all of this too, so their timers re-arm with the new epoch.
//! - `data` of `Emit`/`Notify`/`CallHook` is
//!   `{"workflow", "state", "from", "transition", "timer", "actor", "subject"}`; see [`Effect`].
//!
//! # Load diagnostics
//! Layers 1 and 2 come from [`tenant_config::Document`](forecourt_tenant_config::Document)
//! (`yaml.*`, `schema.*`, `bundle.too_large`; see that crate's table). Layer 3, stable codes:
//!
//! | code | where | meaning |
//! |---|---|---|
//! | `workflow.duplicate_state` | second `name` | a state name used twice |
//! | `workflow.duplicate_transition` | second `name` | a transition name used twice |
//! | `workflow.duplicate_timer` | second `name` | a timer name used twice |
//! | `workflow.no_initial` | `/states` | no state is `initial` |
//! | `workflow.many_initial` | every later `initial` | more than one initial state |
//! | `workflow.initial_terminal` | `terminal` | the initial state is terminal |
//! | `workflow.unknown_state` | `from`, `to`, `in` | names no state (with a suggestion) |
//! | `workflow.unreachable_state` | the state's `name` | no path of transitions from the initial state |
//! | `workflow.dead_end` | the state's `name` | a non-terminal state no transition leaves |
//! | `workflow.terminal_exit` | the `from` entry | a transition leaves a terminal state |
//! | `workflow.unknown_role` | `role`, `to` entry | not a tenant role nor `buyer`/`system` (`system` never receives notifications) |
//! | `workflow.approval_with_who` | the `who` key | a transition with both `who` and `approval` |
//! | `workflow.approval_quorum` | `approval` or `n` | `n` missing for `n_of_m`, out of 1..=approvers, or given for another mode |
//! | `workflow.guard_compile` | `guard` | not valid Rhai; the message gives line and column within the guard |
//! | `workflow.input_schema` | inside `input` | `input` is not a valid JSON Schema (draft 2020-12) |
//! | `workflow.bad_duration` | `after`, `offset` | not an ISO-8601 duration in D/H/M/S (`P7D`, `PT24H`, `P1DT12H`), zero, or over ten years |
//! | `workflow.timer_schedule` | the timer or `offset` | not exactly one of `after`/`at`, or `offset` without `at` |
//! | `workflow.timer_action` | the timer | not exactly one of `fire`/`escalate` |
//! | `workflow.timer_unknown_transition` | `fire` | names no transition (with a suggestion) |
//! | `workflow.timer_wrong_state` | `fire` | the fired transition does not leave the timer's state |
//! | `workflow.timer_input` | `fire` | the fired transition's input schema refuses `{}` |
//! | `workflow.timer_in_terminal` | `in` | a timer in a terminal state would never go off |
//!
//! # Step errors
//! [`StepError::code`]: `workflow.ended`, `workflow.unknown_transition`,
//! `workflow.wrong_state`, `workflow.forbidden`, `workflow.invalid_input`,
//! `workflow.guard_rejected`, `workflow.guard_failed`, `workflow.already_approved`,
//! `workflow.unknown_timer`, `workflow.stale_timer` (the caller discards the timer),
//! `workflow.invalid_subject`. A `Fire` is checked in this order: ended, transition exists,
//! leaves the current state, already approved, `who`/approver slot, input, guard.
//!
//! # Simulation scripts
//! [`simulate`] runs a definition against events (shape in `schema/simulation.schema.json`):
//!
//! ```yaml
//! start: "2026-11-26T09:00:00Z"
//! subject: { store: sh01, slot_end: "2026-11-27T11:00:00Z" }
//! actor: { id: buyer-1, roles: [buyer], relations: [owner] }   # who starts it
//! events:
//!   - at: "+PT1H"              # after start, or an RFC 3339 time; default: the previous event's
//!     actor: { id: u-1, roles: [store_manager], relations: [same_store, tenant] }  # default: the starter
//!     fire: approve
//!     input: {}
//!     subject: { slot_end: "2026-11-28T11:00:00Z" }   # optional: fields set before the event
//!   - advance: PT30H            # let time pass
//! ```
//!
//! Before each event, timers that fell due by its time fire in due order (ties: the order they
//! were armed). Script problems are reported like definition problems (`simulation.time`,
//! `simulation.duration`, `simulation.event`, plus `yaml.*`/`schema.*`).

pub mod engine;
mod guard;
mod load;
mod mermaid;
pub mod model;
mod schema;
mod simulate;
mod timetext;

pub use engine::{
    available, may_fire, migrate, start, step, timers_for, Actor, Approval, Command, Effect,
    InputError, Instance, Outcome, Record, RecordKind, StepError,
};
pub use guard::{guard_limits, GUARD_VARIABLES};
pub use load::{load, load_stored, Context, Workflow, BUILTIN_ROLES};
pub use mermaid::mermaid;
pub use schema::{simulation_schema, workflow_schema};
pub use simulate::{simulate, SimError, SimStep, MAX_SIM_STEPS};
pub use timetext::{format_timestamp, parse_duration, parse_timestamp};
