//! The simulator: runs a definition against a script of events (YAML, format in
//! `schema/simulation.schema.json` and the crate docs), with a clock of its own and the
//! pending timers tracked from the `ScheduleTimer`/`CancelTimers` effects, the way `core` runs
//! real instances. For trying a definition out before publishing it, and for tests.

use std::fmt;

use forecourt_tenant_config::{Diagnostic, Document, Report};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::engine::{start, step, Actor, Command, Effect, Instance, Record, RecordKind, StepError};
use crate::load::Workflow;
use crate::schema::{simulation_schema, simulation_validator};
use crate::timetext::{format_timestamp, parse_duration, parse_timestamp};

/// The most steps (commands, timers included) one simulation may take.
pub const MAX_SIM_STEPS: usize = 10_000;

/// The file name simulation scripts are reported under.
const FILE: &str = "simulation.yaml";

/// One step of a simulation: a command and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimStep {
    /// When (unix milliseconds).
    pub at: i64,
    /// Who acted (`system` for timers).
    pub actor_id: String,
    /// What was asked: `start`, `fire <transition>` or `timer <timer>`.
    pub command: String,
    /// What happened, when the command was accepted.
    pub record: Option<Record>,
    /// The effects, when the command was accepted.
    pub effects: Vec<Effect>,
    /// Why the command was refused, if it was; the simulation goes on.
    pub error: Option<StepError>,
    /// The instance's state after the step.
    pub state: String,
}

impl fmt::Display for SimStep {
    /// `2026-11-26T10:00:00Z  fire approve by u-1: requested -> approved`, then one indented
    /// line per effect.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {} by {}: ",
            format_timestamp(self.at),
            self.command,
            self.actor_id
        )?;
        match (&self.record, &self.error) {
            (_, Some(e)) => write!(f, "refused [{}] {e}", e.code())?,
            (Some(r), None) => match r.kind {
                RecordKind::Start => write!(f, "-> {}", r.to)?,
                RecordKind::Transition => {
                    write!(f, "{} -> {}", r.from.as_deref().unwrap_or(""), r.to)?;
                    if let (Some(_), Some(t)) = (&r.timer, &r.transition) {
                        write!(f, " ({t})")?;
                    }
                }
                RecordKind::Approval => write!(f, "approval recorded, still {}", r.to)?,
                RecordKind::Escalation => write!(f, "escalation, still {}", r.to)?,
                RecordKind::Migration => write!(
                    f,
                    "migrated {} -> {}",
                    r.from.as_deref().unwrap_or(""),
                    r.to
                )?,
            },
            (None, None) => f.write_str("nothing happened")?,
        }
        for effect in &self.effects {
            f.write_str("\n    ")?;
            match effect {
                Effect::Emit { event, .. } => write!(f, "emit {event}")?,
                Effect::Notify { template, to, .. } => {
                    write!(f, "notify {template} -> {}", to.join(", "))?
                }
                Effect::CallHook { hook, .. } => write!(f, "hook {hook}")?,
                Effect::ScheduleTimer {
                    timer,
                    due_at,
                    epoch,
                } => write!(
                    f,
                    "schedule timer {timer} at {} (epoch {epoch})",
                    format_timestamp(*due_at)
                )?,
                Effect::CancelTimers => f.write_str("cancel timers")?,
                Effect::Ended { state } => write!(f, "ended in {state}")?,
            }
        }
        Ok(())
    }
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The script is not valid: syntax, shape (`schema/simulation.schema.json`) or meaning
    /// (`simulation.time`, `simulation.duration`, `simulation.event`), every problem located.
    #[error("the simulation script is not valid: {0}")]
    Invalid(Report),
    /// The instance could not start.
    #[error("the instance could not start: {0}")]
    Start(StepError),
    /// More than [`MAX_SIM_STEPS`] steps (a self-loop timer re-arming itself, say).
    #[error("the simulation took more than {limit} steps; does a timer re-arm itself in a loop?")]
    TooManySteps {
        /// [`MAX_SIM_STEPS`].
        limit: usize,
    },
}

#[derive(Deserialize)]
struct Script {
    start: String,
    subject: Value,
    actor: Actor,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    at: Option<String>,
    actor: Option<Actor>,
    fire: Option<String>,
    input: Option<Value>,
    subject: Option<Map<String, Value>>,
    advance: Option<String>,
}

/// An event with its time worked out.
struct Timed {
    at: i64,
    actor: Option<Actor>,
    fire: Option<String>,
    input: Value,
    subject: Option<Map<String, Value>>,
}

/// Layer 3 of a script: times and the choice between `fire` and `advance`.
fn plan(doc: &Document, script: &Script) -> (i64, Vec<Timed>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let start = parse_timestamp(&script.start).unwrap_or_else(|| {
        found.push(doc.error(
            "simulation.time",
            "/start",
            format!(
                "`{}` is not an RFC 3339 timestamp such as `2026-11-26T09:00:00Z`",
                script.start
            ),
        ));
        0
    });
    let mut now = start;
    let mut timed = Vec::new();
    for (i, event) in script.events.iter().enumerate() {
        let base = format!("/events/{i}");
        let at = match (&event.fire, &event.advance) {
            (Some(_), None) => match &event.at {
                None => Some(now),
                Some(text) => {
                    let parsed = match text.strip_prefix('+') {
                        Some(d) => parse_duration(d, false).ok().map(|d| start + d),
                        None => parse_timestamp(text),
                    };
                    if parsed.is_none() {
                        found.push(doc.error(
                            "simulation.time",
                            &format!("{base}/at"),
                            format!(
                                "`{text}` is neither `+` and an ISO-8601 duration (`+PT1H`) nor \
                                 an RFC 3339 timestamp"
                            ),
                        ));
                    }
                    parsed
                }
            },
            (None, Some(advance)) => {
                for key in ["at", "actor", "input"] {
                    let present = match key {
                        "at" => event.at.is_some(),
                        "actor" => event.actor.is_some(),
                        _ => event.input.is_some(),
                    };
                    if present {
                        found.push(doc.key_error(
                            "simulation.event",
                            &format!("{base}/{key}"),
                            format!("`{key}` only applies to an event that fires a transition"),
                        ));
                    }
                }
                match parse_duration(advance, false) {
                    Ok(d) => Some(now + d),
                    Err(why) => {
                        found.push(doc.error(
                            "simulation.duration",
                            &format!("{base}/advance"),
                            format!("`{advance}` is not a duration: {why}"),
                        ));
                        None
                    }
                }
            }
            _ => {
                found.push(
                    doc.error(
                        "simulation.event",
                        &base,
                        "an event needs exactly one of `fire` (a transition) or `advance` (a \
                     duration)"
                            .to_string(),
                    ),
                );
                None
            }
        };
        let Some(at) = at else { continue };
        if at < now {
            found.push(doc.error(
                "simulation.time",
                &format!("{base}/at"),
                format!(
                    "this event is at {}, before the previous one ({}); events must be in time \
                     order",
                    format_timestamp(at),
                    format_timestamp(now)
                ),
            ));
        }
        now = now.max(at);
        timed.push(Timed {
            at: now,
            actor: event.actor.clone(),
            fire: event.fire.clone(),
            input: event.input.clone().unwrap_or(Value::Null),
            subject: event.subject.clone(),
        });
    }
    (start, timed, found)
}

/// A timer armed and not yet gone off.
struct Pending {
    due_at: i64,
    seq: u64,
    timer: String,
    epoch: u64,
}

struct Run<'w> {
    wf: &'w Workflow,
    instance: Instance,
    now: i64,
    pending: Vec<Pending>,
    seq: u64,
    steps: Vec<SimStep>,
}

impl Run<'_> {
    fn track(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::CancelTimers => self.pending.clear(),
                Effect::ScheduleTimer {
                    timer,
                    due_at,
                    epoch,
                } => {
                    self.seq += 1;
                    self.pending.push(Pending {
                        due_at: *due_at,
                        seq: self.seq,
                        timer: timer.clone(),
                        epoch: *epoch,
                    });
                }
                _ => {}
            }
        }
    }

    fn apply(
        &mut self,
        command: String,
        actor: &Actor,
        result: Result<crate::engine::Outcome, StepError>,
    ) -> Result<(), SimError> {
        if self.steps.len() >= MAX_SIM_STEPS {
            return Err(SimError::TooManySteps {
                limit: MAX_SIM_STEPS,
            });
        }
        let step = match result {
            Ok(outcome) => {
                self.track(&outcome.effects);
                self.instance = outcome.instance;
                SimStep {
                    at: self.now,
                    actor_id: outcome.record.actor_id.clone(),
                    command,
                    record: Some(outcome.record),
                    effects: outcome.effects,
                    error: None,
                    state: self.instance.state.clone(),
                }
            }
            Err(e) => SimStep {
                at: self.now,
                actor_id: actor.id.clone(),
                command,
                record: None,
                effects: Vec::new(),
                error: Some(e),
                state: self.instance.state.clone(),
            },
        };
        self.steps.push(step);
        Ok(())
    }

    /// Fires the timers due by `until`, earliest first (ties in the order they were armed).
    fn run_timers(&mut self, until: i64) -> Result<(), SimError> {
        loop {
            let next = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.due_at <= until)
                .min_by_key(|(_, p)| (p.due_at, p.seq))
                .map(|(i, _)| i);
            let Some(i) = next else { return Ok(()) };
            let due = self.pending.remove(i);
            self.now = self.now.max(due.due_at);
            let command = Command::Timer {
                timer: due.timer.clone(),
                epoch: due.epoch,
            };
            let system = Actor::system();
            let result = step(self.wf, &self.instance, &command, &system, self.now);
            self.apply(format!("timer {}", due.timer), &system, result)?;
        }
    }
}

/// Runs `wf` against `script` (a YAML simulation script; see the crate docs). Returns every
/// step, refused commands included (with their error); the simulation goes on after a refusal.
pub fn simulate(wf: &Workflow, script: &str) -> Result<Vec<SimStep>, SimError> {
    let mut doc = Document::parse(FILE, script);
    match simulation_validator() {
        Ok(validator) => doc.check_schema(simulation_schema(), validator, "simulation"),
        Err(e) => {
            let internal = Diagnostic::error(
                "schema.other",
                FILE,
                "",
                format!("internal error: the simulation schema could not be compiled: {e}"),
            );
            return Err(SimError::Invalid(doc.into_report(vec![internal])));
        }
    }
    let parsed = doc.read::<Script>();
    let Some(script) = parsed.filter(|_| !doc.has_errors()) else {
        return Err(SimError::Invalid(doc.into_report(Vec::new())));
    };
    let (t0, events, found) = plan(&doc, &script);
    if !found.is_empty() {
        return Err(SimError::Invalid(doc.into_report(found)));
    }
    let started = start(wf, script.subject, &script.actor, t0).map_err(SimError::Start)?;
    let mut run = Run {
        wf,
        instance: started.instance.clone(),
        now: t0,
        pending: Vec::new(),
        seq: 0,
        steps: Vec::new(),
    };
    run.apply("start".to_string(), &script.actor, Ok(started))?;
    for event in events {
        run.run_timers(event.at)?;
        run.now = event.at;
        if let Some(patch) = event.subject {
            if let Some(subject) = run.instance.subject.as_object_mut() {
                subject.extend(patch);
            }
        }
        if let Some(transition) = event.fire {
            let actor = event.actor.unwrap_or_else(|| script.actor.clone());
            let command = Command::Fire {
                transition: transition.clone(),
                input: event.input,
            };
            let result = step(wf, &run.instance, &command, &actor, run.now);
            run.apply(format!("fire {transition}"), &actor, result)?;
        }
    }
    Ok(run.steps)
}
