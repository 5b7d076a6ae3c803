//! The pure decision function: `(definition, instance, command, actor, now) → outcome`.
//!
//! Nothing here reads the clock, a database or the network: `now` (unix milliseconds) and the
//! actor's relations to the subject come from the caller, and what should happen outside
//! (events, notifications, hooks, timers) comes back as [`Effect`]s for the caller to carry
//! out. A command either yields a complete [`Outcome`] or a [`StepError`]; the instance passed
//! in is never changed.

use std::collections::HashSet;

use forecourt_tenant_config::document::suggestion;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::guard;
use crate::load::{Schedule, Workflow};
use crate::model::{Action, Party, TransitionDef};
use crate::timetext::parse_timestamp;

/// Who issues a command, as the caller established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's id (a user id, `system`).
    pub id: String,
    /// The actor's role codes; `buyer` for a customer, `system` for the server.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Every relation that holds between the actor and the subject: `tenant`, `same_region`,
    /// `same_dealer_group`, `same_store`, `owner`. None implies another: a manager of the
    /// subject's store is given `same_store`, `same_dealer_group`, `same_region` and `tenant`.
    #[serde(default)]
    pub relations: Vec<String>,
}

impl Actor {
    /// The system actor (timers and the server): id `system`, role `system`, relation `tenant`.
    pub fn system() -> Actor {
        Actor {
            id: "system".to_string(),
            roles: vec!["system".to_string()],
            relations: vec!["tenant".to_string()],
        }
    }

    /// Whether the actor holds the party's role and stands in its relation to the subject.
    pub fn matches(&self, party: &Party) -> bool {
        self.roles.contains(&party.role) && self.relations.iter().any(|r| r == party.scope.as_str())
    }

    fn is_system(&self) -> bool {
        self.roles.iter().any(|r| r == "system")
    }

    fn as_json(&self) -> Value {
        json!({"id": self.id, "roles": self.roles, "relations": self.relations})
    }
}

/// The state of one running workflow instance. The caller stores it (with the hash or version
/// of the definition it runs on) and passes it back for the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The current state.
    pub state: String,
    /// 1 after start, +1 for every accepted command (for optimistic locking).
    pub version: u64,
    /// 1 after start, +1 on every state entry (self-loops too); timers carry the epoch they
    /// were armed in, so a timer of an earlier visit is recognised as stale.
    pub epoch: u64,
    /// When the current state was entered (unix milliseconds).
    pub entered_at: i64,
    /// Approvals given in the current state (cleared on every state entry).
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// The subject as guards and `at` timers see it. The engine only reads it; the caller may
    /// refresh it before a step (say, after a reschedule changed `slot_end`).
    pub subject: Value,
    /// Whether the instance reached a terminal state.
    #[serde(default)]
    pub ended: bool,
}

/// One approval of a transition with an `approval` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The transition approved.
    pub transition: String,
    /// Who approved.
    pub actor_id: String,
    /// The approver slot (index into `approval.approvers`) the approval filled.
    pub slot: usize,
    /// When (unix milliseconds).
    pub at: i64,
}

/// What the caller asks of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Fire (or, with an approval rule, approve) a transition. A `null` input counts as `{}`.
    Fire {
        /// The transition's name.
        transition: String,
        /// The command's input.
        #[serde(default)]
        input: Value,
    },
    /// A timer armed by a [`Effect::ScheduleTimer`] fell due.
    Timer {
        /// The timer's name.
        timer: String,
        /// The epoch it was armed in.
        epoch: u64,
    },
}

/// The result of an accepted command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The instance after the command.
    pub instance: Instance,
    /// What happened, for the history.
    pub record: Record,
    /// What the caller must carry out, in order.
    pub effects: Vec<Effect>,
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// The instance started in the initial state.
    Start,
    /// A transition happened (fired by an actor, the last needed approval, or a timer).
    Transition,
    /// An approval was recorded; more are needed, the state is unchanged.
    Approval,
    /// An escalation timer sent its reminder; the state is unchanged.
    Escalation,
    /// An administrator moved the instance to another version of its workflow.
    Migration,
}

impl RecordKind {
    /// `start`, `transition`, `approval`, `escalation` or `migration`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Start => "start",
            RecordKind::Transition => "transition",
            RecordKind::Approval => "approval",
            RecordKind::Escalation => "escalation",
            RecordKind::Migration => "migration",
        }
    }
}

/// One entry of an instance's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// What happened.
    pub kind: RecordKind,
    /// The transition fired or approved, if any.
    pub transition: Option<String>,
    /// The timer that went off, if any.
    pub timer: Option<String>,
    /// The state before (`None` at start).
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// Who did it (`system` for timers).
    pub actor_id: String,
    /// The command's input (`{}` when none).
    pub input: Value,
    /// When (unix milliseconds).
    pub at: i64,
}

/// Something the caller carries out after storing the outcome (through its outbox).
///
/// `data` of `Emit`, `Notify` and `CallHook` is one object per step:
/// `{"workflow", "state", "from", "transition", "timer", "actor", "subject"}` — the workflow's
/// id, the state after the step, the state left (`null` when the state did not change), the
/// transition and timer involved (or `null`), the acting actor's id, and the subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Publish an event.
    Emit {
        /// The event's name.
        event: String,
        /// See the type's docs.
        data: Value,
    },
    /// Send a notification.
    Notify {
        /// The template's name.
        template: String,
        /// `buyer` and/or role codes.
        to: Vec<String>,
        /// See the type's docs.
        data: Value,
    },
    /// Call a tenant script hook.
    CallHook {
        /// The hook's name.
        hook: String,
        /// See the type's docs.
        data: Value,
    },
    /// Arm a timer: at `due_at`, send `Command::Timer { timer, epoch }`.
    ScheduleTimer {
        /// The timer's name.
        timer: String,
        /// When it falls due (unix milliseconds; may be in the past: fire it at once).
        due_at: i64,
        /// The epoch to send back.
        epoch: u64,
    },
    /// Disarm every timer of the instance (they would be refused as stale anyway).
    CancelTimers,
    /// The instance reached a terminal state.
    Ended {
        /// The terminal state.
        state: String,
    },
}

/// One problem with a command's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputError {
    /// JSON pointer into the input.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

/// Why a command was refused. The instance is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The instance is in a terminal state.
    #[error("the instance has ended in state `{state}`; no command applies to it any more")]
    Ended {
        /// The terminal state.
        state: String,
    },
    /// No transition of that name.
    #[error("workflow `{workflow}` has no transition `{transition}`.{hint}")]
    UnknownTransition {
        /// The workflow's id.
        workflow: String,
        /// The name asked for.
        transition: String,
        /// ` Did you mean …?` or empty.
        hint: String,
    },
    /// The transition does not leave the current state.
    #[error("`{transition}` cannot be fired in state `{state}`: it leaves {} only", list(.from))]
    WrongState {
        /// The transition.
        transition: String,
        /// The current state.
        state: String,
        /// The states it leaves.
        from: Vec<String>,
    },
    /// The actor does not match `who` (or no unfilled approver slot).
    #[error("`{actor_id}` may not fire `{transition}`: {required}")]
    Forbidden {
        /// The transition.
        transition: String,
        /// The actor.
        actor_id: String,
        /// What would have been required.
        required: String,
    },
    /// The input does not satisfy the transition's input schema.
    #[error("the input of `{transition}` is not valid: {}", input_errors(.errors))]
    InvalidInput {
        /// The transition.
        transition: String,
        /// Every problem, with its pointer.
        errors: Vec<InputError>,
    },
    /// The guard returned false.
    #[error("the guard of `{transition}` does not allow it now (it returned false)")]
    GuardRejected {
        /// The transition.
        transition: String,
    },
    /// The guard failed, hit a limit, or did not return true/false.
    #[error("the guard of `{transition}` could not decide: {message}")]
    GuardFailed {
        /// The transition.
        transition: String,
        /// Why.
        message: String,
    },
    /// The actor already approved this transition in this state.
    #[error("`{actor_id}` has already approved `{transition}` in state `{state}`; another approver is needed")]
    AlreadyApproved {
        /// The transition.
        transition: String,
        /// The actor.
        actor_id: String,
        /// The current state.
        state: String,
    },
    /// No timer of that name.
    #[error("workflow `{workflow}` has no timer `{timer}`")]
    UnknownTimer {
        /// The workflow's id.
        workflow: String,
        /// The name asked for.
        timer: String,
    },
    /// The timer no longer applies; the caller discards it.
    #[error("timer `{timer}` (epoch {epoch}) is stale: {reason}; discard it")]
    StaleTimer {
        /// The timer.
        timer: String,
        /// The epoch it carried.
        epoch: u64,
        /// Why it no longer applies.
        reason: String,
    },
    /// `start` was given a subject that is not a JSON object.
    #[error("the subject must be a JSON object, but it is {found}")]
    InvalidSubject {
        /// What it is.
        found: String,
    },
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn input_errors(errors: &[InputError]) -> String {
    errors
        .iter()
        .map(|e| {
            let at = if e.pointer.is_empty() {
                "(input)"
            } else {
                &e.pointer
            };
            format!("{at}: {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl StepError {
    /// The stable machine code, e.g. `workflow.wrong_state`.
    pub fn code(&self) -> &'static str {
        match self {
            StepError::Ended { .. } => "workflow.ended",
            StepError::UnknownTransition { .. } => "workflow.unknown_transition",
            StepError::WrongState { .. } => "workflow.wrong_state",
            StepError::Forbidden { .. } => "workflow.forbidden",
            StepError::InvalidInput { .. } => "workflow.invalid_input",
            StepError::GuardRejected { .. } => "workflow.guard_rejected",
            StepError::GuardFailed { .. } => "workflow.guard_failed",
            StepError::AlreadyApproved { .. } => "workflow.already_approved",
            StepError::UnknownTimer { .. } => "workflow.unknown_timer",
            StepError::StaleTimer { .. } => "workflow.stale_timer",
            StepError::InvalidSubject { .. } => "workflow.invalid_subject",
        }
    }
}

/// What one step knows for its effects' `data`.
struct Context<'a> {
    wf: &'a Workflow,
    state: &'a str,
    from: Option<&'a str>,
    transition: Option<&'a str>,
    timer: Option<&'a str>,
    actor_id: &'a str,
    subject: &'a Value,
}

impl Context<'_> {
    fn data(&self) -> Value {
        json!({
            "workflow": self.wf.id(),
            "state": self.state,
            "from": self.from,
            "transition": self.transition,
            "timer": self.timer,
            "actor": self.actor_id,
            "subject": self.subject,
        })
    }

    fn actions(&self, actions: &[Action], effects: &mut Vec<Effect>) {
        for action in actions {
            effects.push(match action {
                Action::Emit(event) => Effect::Emit {
                    event: event.clone(),
                    data: self.data(),
                },
                Action::Notify(n) => Effect::Notify {
                    template: n.template.clone(),
                    to: n.to.clone(),
                    data: self.data(),
                },
                Action::Hook(hook) => Effect::CallHook {
                    hook: hook.clone(),
                    data: self.data(),
                },
            });
        }
    }
}

/// A subject field by dotted path.
fn field<'v>(subject: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(subject, |v, key| v.get(key))
}

/// The `ScheduleTimer` effects for the timers of the instance's (new) state. A timer `at` a
/// subject field that is missing or holds no time is not armed; an `Emit` of
/// `workflow.timer_skipped` (with `timer` and `reason` added to `data`) says so.
fn arm(ctx: &Context<'_>, instance: &Instance, now: i64, effects: &mut Vec<Effect>) {
    for timer in ctx.wf.timers_in(&instance.state) {
        let due = match ctx.wf.schedule(&timer.name) {
            Some(Schedule::After(ms)) => Ok(now.saturating_add(*ms)),
            Some(Schedule::At {
                field: path,
                offset,
            }) => match field(&instance.subject, path) {
                Some(Value::String(s)) => parse_timestamp(s)
                    .map(|t| t.saturating_add(*offset))
                    .ok_or_else(|| {
                        format!("subject field `{path}` holds `{s}`, which is no RFC 3339 time")
                    }),
                Some(Value::Number(n)) => {
                    n.as_i64()
                        .map(|t| t.saturating_add(*offset))
                        .ok_or_else(|| {
                            format!(
                                "subject field `{path}` holds {n}, which is no unix millisecond"
                            )
                        })
                }
                Some(other) => Err(format!(
                    "subject field `{path}` holds {other}, which is no time"
                )),
                None => Err(format!("the subject has no field `{path}`")),
            },
            None => continue,
        };
        match due {
            Ok(due_at) => effects.push(Effect::ScheduleTimer {
                timer: timer.name.clone(),
                due_at,
                epoch: instance.epoch,
            }),
            Err(reason) => {
                let mut data = ctx.data();
                if let Some(object) = data.as_object_mut() {
                    object.insert("timer".to_string(), json!(timer.name));
                    object.insert("reason".to_string(), json!(reason));
                }
                effects.push(Effect::Emit {
                    event: "workflow.timer_skipped".to_string(),
                    data,
                });
            }
        }
    }
}

/// Starts an instance about `subject` (a JSON object) in the initial state: version 1,
/// epoch 1, the initial state's `on_enter` actions, and a `ScheduleTimer` for each of its
/// timers.
pub fn start(wf: &Workflow, subject: Value, actor: &Actor, now: i64) -> Result<Outcome, StepError> {
    if !subject.is_object() {
        return Err(StepError::InvalidSubject {
            found: kind_of(&subject).to_string(),
        });
    }
    let initial = wf.initial();
    let instance = Instance {
        state: initial.name.clone(),
        version: 1,
        epoch: 1,
        entered_at: now,
        approvals: Vec::new(),
        subject,
        ended: false,
    };
    let ctx = Context {
        wf,
        state: &initial.name,
        from: None,
        transition: None,
        timer: None,
        actor_id: &actor.id,
        subject: &instance.subject,
    };
    let mut effects = Vec::new();
    ctx.actions(&initial.on_enter, &mut effects);
    arm(&ctx, &instance, now, &mut effects);
    Ok(Outcome {
        record: Record {
            kind: RecordKind::Start,
            transition: None,
            timer: None,
            from: None,
            to: initial.name.clone(),
            actor_id: actor.id.clone(),
            input: json!({}),
            at: now,
        },
        instance,
        effects,
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Applies a command to an instance. See the crate docs for the rules; on `Err` nothing
/// happened.
///
/// For `Command::Timer` the `actor` argument is not used: timers act as [`Actor::system`].
pub fn step(
    wf: &Workflow,
    instance: &Instance,
    command: &Command,
    actor: &Actor,
    now: i64,
) -> Result<Outcome, StepError> {
    match command {
        Command::Fire { transition, input } => fire(wf, instance, transition, input, actor, now),
        Command::Timer { timer, epoch } => timer_due(wf, instance, timer, *epoch, now),
    }
}

/// Whether `actor` may fire (or approve) `transition` now, judging by state, `who` and
/// approver slots only: the checks of [`step`] before input and guard. For buttons and work
/// queues; [`step`] decides.
pub fn may_fire(
    wf: &Workflow,
    instance: &Instance,
    transition: &str,
    actor: &Actor,
) -> Result<(), StepError> {
    authorize(wf, instance, transition, actor).map(|_| ())
}

/// The transitions `actor` could fire now, in definition order: they leave the current state,
/// are not for timers and the system only, the actor matches `who` or an unfilled approver
/// slot and has not approved yet, and the guard passes with input `{}`. For work queues.
pub fn available(wf: &Workflow, instance: &Instance, actor: &Actor) -> Vec<String> {
    if instance.ended {
        return Vec::new();
    }
    wf.transitions_from(&instance.state)
        .filter(|t| !t.system_only())
        .filter(|t| {
            authorize(wf, instance, &t.name, actor).is_ok_and(|(index, _)| {
                run_guard(wf, index, t, instance, actor, &json!({})).is_ok()
            })
        })
        .map(|t| t.name.clone())
        .collect()
}

/// State, `who` and approval checks. Returns the transition's index and, for a transition
/// with an approval rule, the slot the actor's approval fills.
fn authorize<'w>(
    wf: &'w Workflow,
    instance: &Instance,
    name: &str,
    actor: &Actor,
) -> Result<(usize, Option<usize>), StepError> {
    if instance.ended {
        return Err(StepError::Ended {
            state: instance.state.clone(),
        });
    }
    let Some(index) = wf.transition_index(name) else {
        let names = wf.definition().transitions.iter().map(|t| t.name.as_str());
        return Err(StepError::UnknownTransition {
            workflow: wf.id().to_string(),
            transition: name.to_string(),
            hint: suggestion(name, names),
        });
    };
    let t: &'w TransitionDef = &wf.definition().transitions[index];
    if !t.leaves(&instance.state) {
        return Err(StepError::WrongState {
            transition: name.to_string(),
            state: instance.state.clone(),
            from: t.from.names().to_vec(),
        });
    }
    let forbidden = |required: String| StepError::Forbidden {
        transition: name.to_string(),
        actor_id: actor.id.clone(),
        required,
    };
    let describe = |parties: &[Party]| {
        parties
            .iter()
            .map(Party::describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(rule) = &t.approval {
        if instance
            .approvals
            .iter()
            .any(|a| a.transition == name && a.actor_id == actor.id)
        {
            return Err(StepError::AlreadyApproved {
                transition: name.to_string(),
                actor_id: actor.id.clone(),
                state: instance.state.clone(),
            });
        }
        let filled: HashSet<usize> = instance
            .approvals
            .iter()
            .filter(|a| a.transition == name)
            .map(|a| a.slot)
            .collect();
        let mut matched_any = false;
        for (slot, party) in rule.approvers.iter().enumerate() {
            if actor.matches(party) {
                matched_any = true;
                if !filled.contains(&slot) {
                    return Ok((index, Some(slot)));
                }
            }
        }
        return Err(forbidden(if matched_any {
            "every approver slot they match is already filled by another approver".to_string()
        } else {
            format!(
                "it needs an approver matching one of: {} (role and relation to the subject)",
                describe(&rule.approvers)
            )
        }));
    }
    match &t.who {
        None if actor.is_system() => Ok((index, None)),
        None => Err(forbidden(
            "only timers and the system may fire it".to_string(),
        )),
        Some(who) if who.iter().any(|p| actor.matches(p)) => Ok((index, None)),
        Some(who) => Err(forbidden(format!(
            "it requires one of: {} (role and relation to the subject)",
            describe(who)
        ))),
    }
}

fn run_guard(
    wf: &Workflow,
    index: usize,
    t: &TransitionDef,
    instance: &Instance,
    actor: &Actor,
    input: &Value,
) -> Result<(), StepError> {
    let Some(g) = wf.guard(index) else {
        return Ok(());
    };
    let variables = json!({
        "actor": actor.as_json(),
        "input": input,
        "state": instance.state,
        "subject": instance.subject,
    });
    match guard::check(g, &variables) {
        Ok(true) => Ok(()),
        Ok(false) => Err(StepError::GuardRejected {
            transition: t.name.clone(),
        }),
        Err(message) => Err(StepError::GuardFailed {
            transition: t.name.clone(),
            message,
        }),
    }
}

fn fire(
    wf: &Workflow,
    instance: &Instance,
    name: &str,
    input: &Value,
    actor: &Actor,
    now: i64,
) -> Result<Outcome, StepError> {
    let (index, slot) = authorize(wf, instance, name, actor)?;
    let t = &wf.definition().transitions[index];
    let input = if input.is_null() {
        json!({})
    } else {
        input.clone()
    };
    if let Some(validator) = wf.input_validator(index) {
        let errors: Vec<InputError> = validator
            .iter_errors(&input)
            .map(|e| InputError {
                pointer: e.instance_path().as_str().to_string(),
                message: e.to_string(),
            })
            .collect();
        if !errors.is_empty() {
            return Err(StepError::InvalidInput {
                transition: name.to_string(),
                errors,
            });
        }
    }
    run_guard(wf, index, t, instance, actor, &input)?;
    if let (Some(rule), Some(slot)) = (&t.approval, slot) {
        let mut next = instance.clone();
        next.approvals.push(Approval {
            transition: name.to_string(),
            actor_id: actor.id.clone(),
            slot,
            at: now,
        });
        let given = next
            .approvals
            .iter()
            .filter(|a| a.transition == name)
            .count();
        if given < rule.quorum() {
            next.version += 1;
            return Ok(Outcome {
                record: Record {
                    kind: RecordKind::Approval,
                    transition: Some(name.to_string()),
                    timer: None,
                    from: Some(instance.state.clone()),
                    to: instance.state.clone(),
                    actor_id: actor.id.clone(),
                    input,
                    at: now,
                },
                instance: next,
                effects: Vec::new(),
            });
        }
    }
    Ok(transition(wf, instance, t, None, &actor.id, input, now))
}

/// Makes transition `t` happen: `on_exit` of the old state, `CancelTimers`, entry of the new
/// state (epoch + 1, approvals cleared), its `on_enter`, then its timers, or `Ended`.
fn transition(
    wf: &Workflow,
    instance: &Instance,
    t: &TransitionDef,
    timer: Option<&str>,
    actor_id: &str,
    input: Value,
    now: i64,
) -> Outcome {
    let mut next = instance.clone();
    next.state = t.to.clone();
    next.version += 1;
    next.epoch += 1;
    next.entered_at = now;
    next.approvals.clear();
    let ctx = Context {
        wf,
        state: &t.to,
        from: Some(&instance.state),
        transition: Some(&t.name),
        timer,
        actor_id,
        subject: &instance.subject,
    };
    let mut effects = Vec::new();
    if let Some(old) = wf.state(&instance.state) {
        ctx.actions(&old.on_exit, &mut effects);
    }
    effects.push(Effect::CancelTimers);
    if let Some(new) = wf.state(&t.to) {
        ctx.actions(&new.on_enter, &mut effects);
        if new.terminal {
            next.ended = true;
            effects.push(Effect::Ended {
                state: new.name.clone(),
            });
        } else {
            arm(&ctx, &next, now, &mut effects);
        }
    }
    Outcome {
        record: Record {
            kind: RecordKind::Transition,
            transition: Some(t.name.clone()),
            timer: timer.map(str::to_string),
            from: Some(instance.state.clone()),
            to: t.to.clone(),
            actor_id: actor_id.to_string(),
            input,
            at: now,
        },
        instance: next,
        effects,
    }
}

fn timer_due(
    wf: &Workflow,
    instance: &Instance,
    name: &str,
    epoch: u64,
    now: i64,
) -> Result<Outcome, StepError> {
    let Some(timer) = wf.timer(name) else {
        return Err(StepError::UnknownTimer {
            workflow: wf.id().to_string(),
            timer: name.to_string(),
        });
    };
    let stale = |reason: String| StepError::StaleTimer {
        timer: name.to_string(),
        epoch,
        reason,
    };
    if instance.ended {
        return Err(stale(format!(
            "the instance has ended in `{}`",
            instance.state
        )));
    }
    if epoch != instance.epoch {
        return Err(stale(format!(
            "the instance has entered a state since (it is at epoch {})",
            instance.epoch
        )));
    }
    if timer.in_state != instance.state {
        return Err(stale(format!(
            "it runs in `{}`, but the instance is in `{}`",
            timer.in_state, instance.state
        )));
    }
    let system = Actor::system();
    if let Some(fire) = &timer.fire {
        let Some(index) = wf.transition_index(fire) else {
            // The loader guarantees the transition exists; say so plainly if it ever did not.
            return Err(StepError::UnknownTransition {
                workflow: wf.id().to_string(),
                transition: fire.clone(),
                hint: String::new(),
            });
        };
        let t = &wf.definition().transitions[index];
        let input = json!({});
        run_guard(wf, index, t, instance, &system, &input)?;
        return Ok(transition(
            wf,
            instance,
            t,
            Some(name),
            &system.id,
            input,
            now,
        ));
    }
    let mut next = instance.clone();
    next.version += 1;
    let ctx = Context {
        wf,
        state: &instance.state,
        from: None,
        transition: None,
        timer: Some(name),
        actor_id: &system.id,
        subject: &instance.subject,
    };
    let effects = timer
        .escalate
        .iter()
        .map(|e| Effect::Notify {
            template: e.notify.template.clone(),
            to: e.notify.to.clone(),
            data: ctx.data(),
        })
        .collect();
    Ok(Outcome {
        record: Record {
            kind: RecordKind::Escalation,
            transition: None,
            timer: Some(name.to_string()),
            from: Some(instance.state.clone()),
            to: instance.state.clone(),
            actor_id: system.id.clone(),
            input: json!({}),
            at: now,
        },
        instance: next,
        effects,
    })
}

/// Moves a running instance onto `target` (another version of its workflow) in state `state`:
/// the version increments, the state is entered afresh (epoch + 1, approvals cleared) and its
/// timers are armed from `target`; no `on_exit`/`on_enter` actions run (nothing happened to the
/// subject). The caller disarms the old version's timers.
pub fn migrate(
    target: &Workflow,
    instance: &Instance,
    state: &str,
    now: i64,
) -> Result<Outcome, StepError> {
    if instance.ended {
        return Err(StepError::Ended {
            state: instance.state.clone(),
        });
    }
    let Some(def) = target.state(state) else {
        return Err(StepError::WrongState {
            transition: "migration".to_string(),
            state: state.to_string(),
            from: target
                .definition()
                .states
                .iter()
                .map(|s| s.name.clone())
                .collect(),
        });
    };
    let mut next = instance.clone();
    next.state = def.name.clone();
    next.version += 1;
    next.epoch += 1;
    next.entered_at = now;
    next.approvals.clear();
    let ctx = Context {
        wf: target,
        state: &def.name,
        from: Some(&instance.state),
        transition: None,
        timer: None,
        actor_id: "system",
        subject: &instance.subject,
    };
    let mut effects = vec![Effect::CancelTimers];
    if def.terminal {
        next.ended = true;
        effects.push(Effect::Ended {
            state: def.name.clone(),
        });
    } else {
        arm(&ctx, &next, now, &mut effects);
    }
    Ok(Outcome {
        record: Record {
            kind: RecordKind::Migration,
            transition: None,
            timer: None,
            from: Some(instance.state.clone()),
            to: def.name.clone(),
            actor_id: "system".to_string(),
            input: json!({}),
            at: now,
        },
        instance: next,
        effects,
    })
}

/// The `ScheduleTimer` effects of the instance's current state and epoch, computed from its
/// current subject: for a caller that changed the subject after a step (a rescheduled booking
/// moves its slot) and must re-arm `at` timers. Empty for an ended instance.
pub fn timers_for(wf: &Workflow, instance: &Instance, now: i64) -> Vec<Effect> {
    let mut effects = Vec::new();
    if instance.ended {
        return effects;
    }
    let ctx = Context {
        wf,
        state: &instance.state,
        from: None,
        transition: None,
        timer: None,
        actor_id: "system",
        subject: &instance.subject,
    };
    arm(&ctx, instance, now, &mut effects);
    effects
}
