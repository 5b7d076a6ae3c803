//! Loading a definition: layer 1 (YAML syntax) and layer 2 (the workflow schema) through
//! [`tenant_config::Document`], then layer 3, the meaning rules of this crate, and the
//! compilation of guards and input schemas. The result is an immutable [`Workflow`], or a
//! [`Report`] with every problem found, each located.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;

use forecourt_tenant_config::document::suggestion;
use forecourt_tenant_config::{Diagnostic, Document, Report};
use jsonschema::Validator;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::guard::{self, Guard};
use crate::model::{Action, Definition, NotifyDef, Party, StateDef, TimerDef, TransitionDef};
use crate::schema::{workflow_schema, workflow_validator};
use crate::timetext::parse_duration;

/// Roles every tenant knows: `buyer` (the customer) and `system` (timers and the server).
pub const BUILTIN_ROLES: [&str; 2] = ["buyer", "system"];

/// What a definition is checked against: the tenant's role codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The tenant's role codes (`store_manager`, …); [`BUILTIN_ROLES`] are always known.
    pub roles: BTreeSet<String>,
    /// Accept any role name (see [`load_stored`]).
    pub any_role: bool,
}

impl Context {
    /// A context with these role codes.
    pub fn with_roles<S: Into<String>>(roles: impl IntoIterator<Item = S>) -> Context {
        Context {
            roles: roles.into_iter().map(Into::into).collect(),
            any_role: false,
        }
    }
}

/// When a timer goes off, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Milliseconds after entering the state.
    After(i64),
    /// The time in a subject field (dotted path), plus an offset in milliseconds.
    At { field: String, offset: i64 },
}

/// A loaded, validated workflow definition with its compiled guards and input schemas.
/// Immutable; share it in an `Arc`. Only [`load`] makes one.
pub struct Workflow {
    definition: Definition,
    file: String,
    source: String,
    hash: String,
    initial: usize,
    states: HashMap<String, usize>,
    transitions: HashMap<String, usize>,
    timers: HashMap<String, usize>,
    /// Per transition.
    guards: Vec<Option<Guard>>,
    /// Per transition.
    inputs: Vec<Option<Validator>>,
    /// Per timer.
    schedules: Vec<Schedule>,
}

impl fmt::Debug for Workflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workflow")
            .field("id", &self.definition.id)
            .field("version", &self.definition.version)
            .field("file", &self.file)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Workflow {
    /// Whether the definition has a state of this name.
    pub fn has_state(&self, name: &str) -> bool {
        self.states.contains_key(name)
    }

    /// Every `hook` action with its JSON pointer (`/states/0/on_enter/1/hook`).
    pub fn hook_actions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, state) in self.definition.states.iter().enumerate() {
            for (list, actions) in [("on_enter", &state.on_enter), ("on_exit", &state.on_exit)] {
                for (j, action) in actions.iter().enumerate() {
                    if let crate::model::Action::Hook(hook) = action {
                        out.push((format!("/states/{i}/{list}/{j}/hook"), hook.clone()));
                    }
                }
            }
        }
        out
    }

    /// The workflow's name (`id`).
    pub fn id(&self) -> &str {
        &self.definition.id
    }

    /// The version number the author gave, if any.
    pub fn version(&self) -> Option<u32> {
        self.definition.version
    }

    /// The subject type.
    pub fn subject(&self) -> &str {
        &self.definition.subject
    }

    /// Hex SHA-256 of the definition's canonical JSON: comments, key order, formatting and
    /// YAML-or-JSON do not change it; any change of content does.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The text the definition was loaded from, as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The file name given to [`load`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The typed definition.
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The initial state.
    pub fn initial(&self) -> &StateDef {
        &self.definition.states[self.initial]
    }

    /// A state by name.
    pub fn state(&self, name: &str) -> Option<&StateDef> {
        self.states.get(name).map(|i| &self.definition.states[*i])
    }

    /// A transition by name.
    pub fn transition(&self, name: &str) -> Option<&TransitionDef> {
        self.transitions
            .get(name)
            .map(|i| &self.definition.transitions[*i])
    }

    /// A timer by name.
    pub fn timer(&self, name: &str) -> Option<&TimerDef> {
        self.timers.get(name).map(|i| &self.definition.timers[*i])
    }

    /// The transitions leaving `state`, in definition order.
    pub fn transitions_from<'a>(
        &'a self,
        state: &'a str,
    ) -> impl Iterator<Item = &'a TransitionDef> + 'a {
        self.definition
            .transitions
            .iter()
            .filter(move |t| t.leaves(state))
    }

    /// The timers running in `state`, in definition order.
    pub fn timers_in<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a TimerDef> + 'a {
        self.definition
            .timers
            .iter()
            .filter(move |t| t.in_state == state)
    }

    pub(crate) fn transition_index(&self, name: &str) -> Option<usize> {
        self.transitions.get(name).copied()
    }

    pub(crate) fn guard(&self, transition: usize) -> Option<&Guard> {
        self.guards.get(transition).and_then(Option::as_ref)
    }

    pub(crate) fn input_validator(&self, transition: usize) -> Option<&Validator> {
        self.inputs.get(transition).and_then(Option::as_ref)
    }

    pub(crate) fn schedule(&self, timer: &str) -> Option<&Schedule> {
        self.timers.get(timer).and_then(|i| self.schedules.get(*i))
    }
}

/// Compiles a transition's input schema: draft 2020-12, `format` enforced, never fetching
/// anything (no remote or file `$ref`), patterns with a linear-time regex engine.
pub(crate) fn compile_input_schema(
    schema: &Value,
) -> Result<Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .offline()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
}

/// Loads a definition that was valid when it was published (a stored version), or one checked
/// without a tenant at hand (`forecourt workflow graph`): every rule applies except that role
/// names are not checked against a tenant, so a role retired later does not strand the
/// instances still running on the version.
pub fn load_stored(file: &str, text: &str) -> Result<Workflow, Report> {
    load(
        file,
        text,
        &Context {
            roles: BTreeSet::new(),
            any_role: true,
        },
    )
}

/// Loads and validates a definition from `text` (YAML or JSON), the contents of `file`.
/// Every problem of all three layers is reported at once, each located (file, line, column,
/// JSON pointer); see the crate docs for the codes.
pub fn load(file: &str, text: &str, ctx: &Context) -> Result<Workflow, Report> {
    let mut doc = Document::parse(file, text);
    match workflow_validator() {
        Ok(validator) => doc.check_schema(workflow_schema(), validator, "workflow"),
        Err(e) => {
            let internal = Diagnostic::error(
                "schema.other",
                file,
                "",
                format!("internal error: the workflow schema could not be compiled: {e}"),
            );
            return Err(doc.into_report(vec![internal]));
        }
    }
    let Some(definition) = doc.read::<Definition>() else {
        let mut extra = Vec::new();
        if !doc.has_errors() {
            extra.push(
                doc.error(
                    "schema.model",
                    "",
                    "internal error: the document passed the schema but does not fit the workflow \
                 model"
                        .to_string(),
                ),
            );
        }
        return Err(doc.into_report(extra));
    };
    let mut meaning = Meaning {
        doc: &doc,
        ctx,
        def: &definition,
        out: Vec::new(),
    };
    let compiled = meaning.check();
    let found = meaning.out;
    let value = doc.value().cloned().unwrap_or(Value::Null);
    let report = doc.into_report(found);
    if report.has_errors() {
        return Err(report);
    }
    let mut hasher = Sha256::new();
    hasher.update(b"forecourt-workflow/1\n");
    hasher.update(Document::canonical_json(&value).as_bytes());
    let index = |names: Vec<&String>| -> HashMap<String, usize> {
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect()
    };
    Ok(Workflow {
        states: index(definition.states.iter().map(|s| &s.name).collect()),
        transitions: index(definition.transitions.iter().map(|t| &t.name).collect()),
        timers: index(definition.timers.iter().map(|t| &t.name).collect()),
        initial: definition
            .states
            .iter()
            .position(|s| s.initial)
            .unwrap_or_default(),
        guards: compiled.guards,
        inputs: compiled.inputs,
        schedules: compiled.schedules,
        definition,
        file: file.to_string(),
        source: text.to_string(),
        hash: hex::encode(hasher.finalize()),
    })
}

/// What layer 3 compiled along the way.
struct Compiled {
    guards: Vec<Option<Guard>>,
    inputs: Vec<Option<Validator>>,
    schedules: Vec<Schedule>,
}

struct Meaning<'a> {
    doc: &'a Document,
    ctx: &'a Context,
    def: &'a Definition,
    out: Vec<Diagnostic>,
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Meaning<'_> {
    fn error(&mut self, code: &'static str, pointer: &str, message: String) {
        let d = self.doc.error(code, pointer, message);
        self.out.push(d);
    }

    fn key_error(&mut self, code: &'static str, pointer: &str, message: String) {
        let d = self.doc.key_error(code, pointer, message);
        self.out.push(d);
    }

    fn state_names(&self) -> Vec<&str> {
        self.def.states.iter().map(|s| s.name.as_str()).collect()
    }

    fn check(&mut self) -> Compiled {
        self.states();
        self.transitions_meaning();
        let schedules = self.timers();
        self.graph();
        let (guards, inputs) = self.compile();
        Compiled {
            guards,
            inputs,
            schedules,
        }
    }

    /// `workflow.duplicate_*`: the second (and later) use of a name.
    fn duplicates<'n>(
        &mut self,
        code: &'static str,
        what: &str,
        list: &str,
        names: impl Iterator<Item = &'n str>,
    ) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.enumerate() {
            if let Some(j) = first.get(name) {
                let message = format!(
                    "the {what} `{name}` is defined twice (first at {list}/{j}); rename or \
                     remove one of them"
                );
                self.error(code, &format!("{list}/{i}/name"), message);
            } else {
                first.insert(name, i);
            }
        }
    }

    fn states(&mut self) {
        let def = self.def;
        self.duplicates(
            "workflow.duplicate_state",
            "state",
            "/states",
            def.states.iter().map(|s| s.name.as_str()),
        );
        let initial: Vec<usize> = def
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.initial)
            .map(|(i, _)| i)
            .collect();
        match initial.as_slice() {
            [] => self.error(
                "workflow.no_initial",
                "/states",
                "no state is marked `initial: true`; mark the one state instances start in"
                    .to_string(),
            ),
            [first, rest @ ..] => {
                let first_name = &def.states[*first].name;
                for i in rest {
                    let message = format!(
                        "`{}` is marked initial, but `{first_name}` already is; exactly one \
                         state may be initial",
                        def.states[*i].name
                    );
                    self.error(
                        "workflow.many_initial",
                        &format!("/states/{i}/initial"),
                        message,
                    );
                }
            }
        }
        for (i, s) in def.states.iter().enumerate() {
            if s.initial && s.terminal {
                let message = format!(
                    "`{}` is both initial and terminal: instances would end as soon as they \
                     start; remove `terminal: true` or make another state initial",
                    s.name
                );
                self.error(
                    "workflow.initial_terminal",
                    &format!("/states/{i}/terminal"),
                    message,
                );
            }
            for (list, actions) in [("on_enter", &s.on_enter), ("on_exit", &s.on_exit)] {
                for (k, action) in actions.iter().enumerate() {
                    if let Action::Notify(notify) = action {
                        self.recipients(notify, &format!("/states/{i}/{list}/{k}/notify"));
                    }
                }
            }
        }
    }

    fn known_role(&self, role: &str) -> bool {
        self.ctx.any_role || BUILTIN_ROLES.contains(&role) || self.ctx.roles.contains(role)
    }

    fn role_hint(&self, role: &str) -> String {
        suggestion(
            role,
            self.ctx
                .roles
                .iter()
                .map(String::as_str)
                .chain(BUILTIN_ROLES),
        )
    }

    fn parties(&mut self, parties: &[Party], pointer: &str) {
        for (k, party) in parties.iter().enumerate() {
            if !self.known_role(&party.role) {
                let message = format!(
                    "`{}` is not a role of this tenant, nor `buyer` or `system`.{}",
                    party.role,
                    self.role_hint(&party.role)
                );
                self.error(
                    "workflow.unknown_role",
                    &format!("{pointer}/{k}/role"),
                    message,
                );
            }
        }
    }

    fn recipients(&mut self, notify: &NotifyDef, pointer: &str) {
        for (r, to) in notify.to.iter().enumerate() {
            let message = if to == "system" {
                "`system` cannot receive notifications; name `buyer` or roles of the tenant"
                    .to_string()
            } else if !self.known_role(to) {
                format!(
                    "`{to}` is not a role of this tenant, nor `buyer`.{}",
                    self.role_hint(to)
                )
            } else {
                continue;
            };
            self.error(
                "workflow.unknown_role",
                &format!("{pointer}/to/{r}"),
                message,
            );
        }
    }

    fn unknown_state(&mut self, name: &str, pointer: &str) -> bool {
        if self.def.states.iter().any(|s| s.name == name) {
            return false;
        }
        let names = self.state_names();
        let message = format!(
            "there is no state `{name}`.{} States: {}.",
            suggestion(name, names.iter().copied()),
            quoted(&names)
        );
        self.error("workflow.unknown_state", pointer, message);
        true
    }

    fn transitions_meaning(&mut self) {
        let def = self.def;
        self.duplicates(
            "workflow.duplicate_transition",
            "transition",
            "/transitions",
            def.transitions.iter().map(|t| t.name.as_str()),
        );
        for (i, t) in def.transitions.iter().enumerate() {
            let base = format!("/transitions/{i}");
            let from_is_list = self
                .doc
                .value()
                .and_then(|v| v.pointer(&format!("{base}/from")))
                .is_some_and(Value::is_array);
            for (k, from) in t.from.names().iter().enumerate() {
                let pointer = if from_is_list {
                    format!("{base}/from/{k}")
                } else {
                    format!("{base}/from")
                };
                if self.unknown_state(from, &pointer) {
                    continue;
                }
                if def.states.iter().any(|s| &s.name == from && s.terminal) {
                    let message = format!(
                        "`{from}` is a terminal state, so no transition may leave it; remove it \
                         from `from` or remove `terminal: true` from the state"
                    );
                    self.error("workflow.terminal_exit", &pointer, message);
                }
            }
            self.unknown_state(&t.to, &format!("{base}/to"));
            if let Some(who) = &t.who {
                self.parties(who, &format!("{base}/who"));
            }
            if let Some(approval) = &t.approval {
                if t.who.is_some() {
                    self.key_error(
                        "workflow.approval_with_who",
                        &format!("{base}/who"),
                        format!(
                            "`{}` has both `who` and `approval`; with `approval`, the approvers \
                             are who may fire it, so remove `who`",
                            t.name
                        ),
                    );
                }
                self.parties(&approval.approvers, &format!("{base}/approval/approvers"));
                let m = approval.approvers.len();
                let mode = approval.mode.as_str();
                match (approval.mode, approval.n) {
                    (crate::model::ApprovalMode::NOfM, None) => self.error(
                        "workflow.approval_quorum",
                        &format!("{base}/approval"),
                        format!(
                            "mode `n_of_m` needs `n`: how many of the {m} approvers must approve"
                        ),
                    ),
                    (crate::model::ApprovalMode::NOfM, Some(n))
                        if usize::try_from(n).map_or(true, |n| n > m) =>
                    {
                        self.error(
                            "workflow.approval_quorum",
                            &format!("{base}/approval/n"),
                            format!(
                                "`n` is {n}, but there are only {m} approvers; it must be 1 to {m}"
                            ),
                        )
                    }
                    (crate::model::ApprovalMode::NOfM, Some(_)) => {}
                    (_, Some(_)) => self.key_error(
                        "workflow.approval_quorum",
                        &format!("{base}/approval/n"),
                        format!(
                            "`n` only applies to mode `n_of_m`, not `{mode}`; remove it or use \
                             `mode: n_of_m`"
                        ),
                    ),
                    (_, None) => {}
                }
            }
        }
    }

    fn timers(&mut self) -> Vec<Schedule> {
        let def = self.def;
        self.duplicates(
            "workflow.duplicate_timer",
            "timer",
            "/timers",
            def.timers.iter().map(|t| t.name.as_str()),
        );
        let mut schedules = Vec::new();
        for (i, timer) in def.timers.iter().enumerate() {
            let base = format!("/timers/{i}");
            let in_known = !self.unknown_state(&timer.in_state, &format!("{base}/in"));
            if in_known
                && def
                    .states
                    .iter()
                    .any(|s| s.name == timer.in_state && s.terminal)
            {
                self.error(
                    "workflow.timer_in_terminal",
                    &format!("{base}/in"),
                    format!(
                        "`{}` is a terminal state: instances end there, so the timer would never \
                         go off",
                        timer.in_state
                    ),
                );
            }
            schedules.push(self.schedule(timer, &base));
            match (&timer.fire, &timer.escalate) {
                (Some(_), Some(_)) | (None, None) => self.error(
                    "workflow.timer_action",
                    &base,
                    format!(
                        "the timer `{}` needs exactly one of `fire` (a transition) or `escalate` \
                         (a reminder)",
                        timer.name
                    ),
                ),
                (None, Some(escalate)) => {
                    self.recipients(&escalate.notify, &format!("{base}/escalate/notify"));
                }
                (Some(fire), None) => self.fired(timer, fire, in_known, &base),
            }
        }
        schedules
    }

    fn schedule(&mut self, timer: &TimerDef, base: &str) -> Schedule {
        let duration = |m: &mut Self, text: &str, pointer: &str, signed: bool| -> i64 {
            match parse_duration(text, signed) {
                Ok(ms) if ms == 0 && !signed => {
                    m.error(
                        "workflow.bad_duration",
                        pointer,
                        format!("`{text}` is zero; a timer must run for some time"),
                    );
                    0
                }
                Ok(ms) => ms,
                Err(why) => {
                    m.error(
                        "workflow.bad_duration",
                        pointer,
                        format!(
                            "`{text}` is not a duration: {why}. Write an ISO-8601 duration in \
                             days, hours, minutes and seconds, e.g. `P7D`, `PT24H`, `PT90M`, \
                             `P1DT12H`"
                        ),
                    );
                    0
                }
            }
        };
        if timer.offset.is_some() && timer.at.is_none() {
            self.key_error(
                "workflow.timer_schedule",
                &format!("{base}/offset"),
                "`offset` only applies with `at`; remove it or add it to `after`".to_string(),
            );
        }
        match (&timer.after, &timer.at) {
            (Some(after), None) => {
                Schedule::After(duration(self, after, &format!("{base}/after"), false))
            }
            (None, Some(at)) => {
                let offset = timer
                    .offset
                    .as_ref()
                    .map_or(0, |o| duration(self, o, &format!("{base}/offset"), true));
                Schedule::At {
                    field: at.clone(),
                    offset,
                }
            }
            _ => {
                self.error(
                    "workflow.timer_schedule",
                    base,
                    format!(
                        "the timer `{}` needs exactly one of `after` (a duration after entering \
                         the state) or `at` (a subject field holding a time)",
                        timer.name
                    ),
                );
                Schedule::After(0)
            }
        }
    }

    /// Checks the transition a timer fires.
    fn fired(&mut self, timer: &TimerDef, fire: &str, in_known: bool, base: &str) {
        let pointer = format!("{base}/fire");
        let Some(t) = self.def.transitions.iter().find(|t| t.name == fire) else {
            let names: Vec<&str> = self
                .def
                .transitions
                .iter()
                .filter(|t| t.leaves(&timer.in_state))
                .map(|t| t.name.as_str())
                .collect();
            let all = self.def.transitions.iter().map(|t| t.name.as_str());
            let message = format!(
                "there is no transition `{fire}`.{} Transitions leaving `{}`: {}.",
                suggestion(fire, all),
                timer.in_state,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    quoted(&names)
                }
            );
            self.error("workflow.timer_unknown_transition", &pointer, message);
            return;
        };
        if in_known && !t.leaves(&timer.in_state) {
            let message = format!(
                "the timer runs in `{}`, but `{fire}` leaves {} only; fire a transition that \
                 leaves `{}`",
                timer.in_state,
                quoted(
                    &t.from
                        .names()
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                ),
                timer.in_state
            );
            self.error("workflow.timer_wrong_state", &pointer, message);
        }
        if let Some(schema) = &t.input {
            if let Ok(validator) = compile_input_schema(schema) {
                if !validator.is_valid(&json!({})) {
                    let message = format!(
                        "`{fire}` requires input, but a timer fires it without any; make its \
                         `input` accept `{{}}` or fire another transition"
                    );
                    self.error("workflow.timer_input", &pointer, message);
                }
            }
        }
    }

    /// `workflow.unreachable_state` (reachability from every initial state, so that a second
    /// initial state is reported once, as such) and `workflow.dead_end`.
    fn graph(&mut self) {
        let def = self.def;
        let roots: Vec<&str> = def
            .states
            .iter()
            .filter(|s| s.initial)
            .map(|s| s.name.as_str())
            .collect();
        let mut reached: HashSet<&str> = roots.iter().copied().collect();
        let mut queue: VecDeque<&str> = roots.iter().copied().collect();
        while let Some(state) = queue.pop_front() {
            for t in def.transitions.iter().filter(|t| t.leaves(state)) {
                if reached.insert(t.to.as_str()) {
                    queue.push_back(t.to.as_str());
                }
            }
        }
        let mut seen = HashSet::new();
        for (i, s) in def.states.iter().enumerate() {
            if !seen.insert(s.name.as_str()) {
                continue; // a duplicate, reported as such
            }
            let pointer = format!("/states/{i}/name");
            if let Some(initial) = roots.first() {
                if !reached.contains(s.name.as_str()) {
                    let message = format!(
                        "no sequence of transitions leads from the initial state `{initial}` to \
                         `{}`; add a transition into it or remove it",
                        s.name
                    );
                    self.error("workflow.unreachable_state", &pointer, message);
                }
            }
            if !s.terminal && !def.transitions.iter().any(|t| t.leaves(&s.name)) {
                let message = format!(
                    "no transition leaves `{}`, so instances would be stuck there; add a \
                     transition out of it or mark it `terminal: true`",
                    s.name
                );
                self.error("workflow.dead_end", &pointer, message);
            }
        }
    }

    /// Compiles guards (never running them) and input schemas.
    #[allow(clippy::type_complexity)]
    fn compile(&mut self) -> (Vec<Option<Guard>>, Vec<Option<Validator>>) {
        let def = self.def;
        let mut guards = Vec::new();
        let mut inputs = Vec::new();
        for (i, t) in def.transitions.iter().enumerate() {
            let base = format!("/transitions/{i}");
            guards.push(t.guard.as_ref().and_then(|source| {
                let name = format!("{}: guard of {}", def.id, t.name);
                guard::compile(&name, source)
                    .map_err(|message| {
                        self.error("workflow.guard_compile", &format!("{base}/guard"), message)
                    })
                    .ok()
            }));
            inputs.push(t.input.as_ref().and_then(|schema| {
                compile_input_schema(schema)
                    .map_err(|e| {
                        let inner = e.instance_path().as_str().to_string();
                        self.error(
                            "workflow.input_schema",
                            &format!("{base}/input{inner}"),
                            format!("`input` is not a valid JSON Schema (draft 2020-12): {e}"),
                        )
                    })
                    .ok()
            }));
        }
        (guards, inputs)
    }
}
