//! The engine's inputs, outputs and errors (outputs serialise to the API's JSON).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::date::Date;

/// One configurator click: the trim and the buyer's picks in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRequest {
    /// Trim code (a hard choice: options never change the trim).
    pub trim: String,
    /// Option codes the buyer picked, oldest first. The last one is the new pick: it wins any
    /// conflict, and as few earlier picks as possible yield to it.
    #[serde(default)]
    pub selections: Vec<String>,
    /// Region code of the point of sale; `None` ignores region availability.
    #[serde(default)]
    pub region: Option<String>,
    /// The order day; `None` ignores date availability.
    #[serde(default)]
    pub date: Option<Date>,
}

/// The answer to one click: the complete valid build, its price and the state of every option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub model: String,
    pub trim: String,
    /// The buyer's picks still standing after conflict resolution (request order, deduplicated).
    pub selections: Vec<String>,
    /// Earlier picks that yielded to the new pick (empty when nothing conflicted).
    pub changes: Vec<Change>,
    /// The resolved build: option group code → option codes in it (empty for a group with
    /// none). Every group of the model appears.
    pub resolved: BTreeMap<String, Vec<String>>,
    /// Every option of the model, in model order.
    pub options: Vec<OptionStatus>,
    pub price: Price,
}

/// An earlier pick that had to go so that the new pick could stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The option that was picked before.
    pub option: String,
    #[serde(flatten)]
    pub kind: ChangeKind,
    /// Why it can no longer stand (the rule and the picks it conflicts with).
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// Dropped; its group now holds nothing the buyer picked in its place.
    Removed,
    /// Its group now holds this other option.
    Replaced { by: String },
}

/// The state of one option in the current configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionStatus {
    pub code: String,
    pub group: String,
    #[serde(flatten)]
    pub state: OptionState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OptionState {
    /// In the build because the buyer picked it.
    Selected,
    /// In the build without being picked.
    Included { by: IncludedBy },
    /// Not in the build; picking it keeps every current pick (a valid build with it exists).
    Selectable,
    /// Not in the build and not pickable without changing current picks (or not at all).
    Unavailable { reason: Reason },
}

/// Why an option that nobody picked is in the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IncludedBy {
    /// Content of a package in the build (not charged).
    Package { package: String },
    /// Required by an option in the build.
    Required { by: String },
    /// A default of the trim.
    Default,
    /// Chosen to complete the build (fewest non-default choices, then lowest price).
    Completion,
}

/// The rule that makes an option unavailable, and what it conflicts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    #[serde(flatten)]
    pub rule: Rule,
    /// The current picks (and/or the trim code) that would have to change for this option:
    /// a smallest such set. Empty when the region or date rules the option out.
    pub conflicts_with: Vec<String>,
    /// Options this one would bring in (requires / includes), in chain order, through which
    /// the conflict arises; empty for a direct conflict.
    pub via: Vec<String>,
    /// A short English explanation for logs and staff tools (clients localise from the rest).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// Not offered on this trim, in this region or on this day.
    Availability { by: AvailabilityBy },
    /// An `excludes` between two options.
    Excludes,
    /// A `requires` that cannot be met.
    Requires,
    /// A package whose contents cannot be in the build.
    Includes,
    /// No row of this compatibility table allows the combination.
    CompatibilityTable { table: String },
    /// The option's group holds one option and another one is picked.
    GroupAllowsOne { group: String },
    /// Several rules together (no single one explains it alone).
    Combination,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityBy {
    Trim,
    Region,
    Date,
}

/// The price of the build in minor units of the tenant's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Trim price plus every line's amount.
    pub total: i64,
    /// The trim first, then every option in the build in model order.
    pub lines: Vec<PriceLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceLine {
    /// Trim or option code.
    pub code: String,
    pub kind: LineKind,
    /// Charged amount (0 for an option a package in the build includes).
    pub amount: i64,
    /// The option's own price (the trim's price for the trim line).
    pub list_price: i64,
    /// The package in the build that includes this option, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Trim,
    Option,
}

/// A click the engine cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("model `{model}` has no trim `{trim}`")]
    UnknownTrim { model: String, trim: String },
    #[error("model `{model}` has no option `{option}`")]
    UnknownOption { model: String, option: String },
    #[error("trim `{trim}` cannot be ordered {reason}")]
    TrimUnavailable { trim: String, reason: String },
    /// The new pick cannot be in any valid build on this trim, region and day.
    #[error("option `{option}` cannot be chosen: {}", reason.message)]
    OptionUnavailable { option: String, reason: Box<Reason> },
    /// Region and date rules leave no valid build for this trim.
    #[error("trim `{trim}` has no valid build {context}")]
    NoValidBuild { trim: String, context: String },
    #[error("the price of the build overflows")]
    PriceOverflow,
    #[error("a configuration holds at most {max} distinct selections")]
    TooManySelections { max: usize },
}

impl EngineError {
    /// A stable machine code for the HTTP edge.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::UnknownTrim { .. } => "configurator.unknown_trim",
            EngineError::UnknownOption { .. } => "configurator.unknown_option",
            EngineError::TrimUnavailable { .. } => "configurator.trim_unavailable",
            EngineError::OptionUnavailable { .. } => "configurator.option_unavailable",
            EngineError::NoValidBuild { .. } => "configurator.no_valid_build",
            EngineError::PriceOverflow => "configurator.price_overflow",
            EngineError::TooManySelections { .. } => "configurator.too_many_selections",
        }
    }
}

/// One reason a model cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompileIssue {
    pub model: String,
    /// What the issue is about.
    pub subject: IssueSubject,
    pub kind: IssueKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "code", rename_all = "snake_case")]
pub enum IssueSubject {
    Model,
    Trim(String),
    Group(String),
    Option(String),
    Table(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A reference, code, date or shape the loader should have rejected.
    Invalid,
    /// No valid build exists at all.
    NoValidBuild,
    /// This trim has no valid build.
    TrimWithoutBuild,
    /// The trim's defaults cannot all hold in one valid build.
    DefaultsConflict,
    /// The solution space is too large to compile within the engine's limits.
    TooComplex,
}

impl fmt::Display for CompileIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = match &self.subject {
            IssueSubject::Model => String::new(),
            IssueSubject::Trim(code) => format!(" trim `{code}`"),
            IssueSubject::Group(code) => format!(" group `{code}`"),
            IssueSubject::Option(code) => format!(" option `{code}`"),
            IssueSubject::Table(code) => format!(" table `{code}`"),
        };
        write!(f, "model `{}`{}: {}", self.model, subject, self.message)
    }
}

/// Size figures of a compiled model (for benchmarks and capacity planning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelStats {
    /// Decision variables (trim, one per exactly-one / at-most-one group, one per option of an
    /// `any` group).
    pub variables: usize,
    /// Diagram nodes, summed over the trims' diagrams.
    pub nodes: usize,
    /// Diagram edges (a uniform node counts one), summed over the trims' diagrams.
    pub edges: usize,
    pub constraints: usize,
}
