//! The typed definition model: what a workflow document (`workflows/*.yaml`) says, read after
//! it passed the schema (`schema/workflow.schema.json`). Names mirror the YAML keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Text per locale (`en`, `zh-CN`).
pub type LocalizedText = BTreeMap<String, String>;

/// A workflow definition as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The workflow's name, unique in the tenant.
    pub id: String,
    /// The optional version number the author gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The type of thing instances are about.
    pub subject: String,
    /// Display name per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<LocalizedText>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The states, in the order written.
    pub states: Vec<StateDef>,
    /// The transitions, in the order written.
    #[serde(default)]
    pub transitions: Vec<TransitionDef>,
    /// The timers, in the order written.
    #[serde(default)]
    pub timers: Vec<TimerDef>,
}

/// A state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// The state's name.
    pub name: String,
    /// Whether instances start here.
    #[serde(default)]
    pub initial: bool,
    /// Whether instances end here.
    #[serde(default)]
    pub terminal: bool,
    /// Display name per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<LocalizedText>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Actions on entering the state.
    #[serde(default)]
    pub on_enter: Vec<Action>,
    /// Actions on leaving the state.
    #[serde(default)]
    pub on_exit: Vec<Action>,
}

/// A transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    /// The transition's name (the command).
    pub name: String,
    /// The states it leaves (one name or a list in YAML).
    pub from: StateList,
    /// The state it enters.
    pub to: String,
    /// Display name per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<LocalizedText>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who may fire it; `None` means only timers and the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Vec<Party>>,
    /// A Rhai expression that must be `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// The JSON Schema of the command's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Approvals needed before it happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRule>,
}

impl TransitionDef {
    /// Whether the transition leaves `state`.
    pub fn leaves(&self, state: &str) -> bool {
        self.from.0.iter().any(|s| s == state)
    }

    /// Whether only timers and the system may fire it (no `who`, no `approval`).
    pub fn system_only(&self) -> bool {
        self.who.is_none() && self.approval.is_none()
    }
}

/// One state name or a list of them; always a list once read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct StateList(pub Vec<String>);

impl StateList {
    /// The state names.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for StateList {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => StateList(vec![s]),
            OneOrMany::Many(v) => StateList(v),
        }
    }
}

/// A role and the relation to the subject its holder must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// A tenant role code, `buyer` or `system`.
    pub role: String,
    /// The relation to the subject; default `tenant`.
    #[serde(default)]
    pub scope: Scope,
}

impl Party {
    /// `store_manager (same_store)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.role, self.scope.as_str())
    }
}

/// How an actor relates to the subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Anyone of the tenant.
    #[default]
    Tenant,
    /// In the subject's region.
    SameRegion,
    /// In the subject's dealer group.
    SameDealerGroup,
    /// In the subject's store.
    SameStore,
    /// The owner of the subject (e.g. the buyer who booked).
    Owner,
}

impl Scope {
    /// The relation name, as in [`crate::Actor::relations`].
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::SameRegion => "same_region",
            Scope::SameDealerGroup => "same_dealer_group",
            Scope::SameStore => "same_store",
            Scope::Owner => "owner",
        }
    }
}

/// Approvals needed before a transition happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// How many slots must be filled.
    pub mode: ApprovalMode,
    /// For `n_of_m`: how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// The approver slots.
    pub approvers: Vec<Party>,
}

impl ApprovalRule {
    /// How many slots must be filled for the transition to happen.
    pub fn quorum(&self) -> usize {
        match self.mode {
            ApprovalMode::OneOf => 1,
            ApprovalMode::AllOf => self.approvers.len(),
            ApprovalMode::NOfM => self
                .n
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(self.approvers.len()),
        }
    }
}

/// How many approver slots must be filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Any one.
    OneOf,
    /// Every slot.
    AllOf,
    /// `n` of them.
    NOfM,
}

impl ApprovalMode {
    /// `one_of`, `all_of` or `n_of_m`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::OneOf => "one_of",
            ApprovalMode::AllOf => "all_of",
            ApprovalMode::NOfM => "n_of_m",
        }
    }
}

/// A timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerDef {
    /// The timer's name.
    pub name: String,
    /// The state it runs in.
    #[serde(rename = "in")]
    pub in_state: String,
    /// ISO-8601 duration after entering the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Subject field holding the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// ISO-8601 duration added to `at` (may be negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// Transition the system fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<String>,
    /// Reminder instead of a transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate: Option<Escalation>,
}

/// A reminder a timer sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// The notification.
    pub notify: NotifyDef,
}

/// A notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyDef {
    /// The template's name.
    pub template: String,
    /// `buyer` and/or tenant role codes.
    pub to: Vec<String>,
}

/// An action on entering or leaving a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Publish an event.
    Emit(String),
    /// Send a notification.
    Notify(NotifyDef),
    /// Call a script hook.
    Hook(String),
}
