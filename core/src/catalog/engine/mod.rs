//! # The configurator engine
//!
//! Pure decisions for one vehicle model: given a trim and the buyer's picks, the complete valid
//! build, its price, and the state of every option (selected, included, selectable or
//! unavailable with the rule and the picks in the way). No I/O, no clock, no HTTP: the caller
//! passes the region and the day, and shares a [`CompiledModel`] between threads in an `Arc`.
//!
//! ## API
//!
//! - [`CompiledModel::compile`]`(&VehicleModel) -> Result<CompiledModel, Vec<CompileIssue>>` —
//!   once per model, at publish. Every problem is returned at once: invalid references (the
//!   loader's job, re-checked so that nothing here panics), no valid build at all, a trim with
//!   no valid build, a trim whose defaults cannot all hold ("defaults of trim X conflict: …"),
//!   or a solution space beyond the engine's limits.
//! - [`CompiledModel::evaluate`]`(&ConfigRequest) -> Result<Evaluation, EngineError>` — once
//!   per click. The request's *last* selection is the new pick and always wins; earlier picks
//!   that conflict with it yield (fewest possible) and are listed in [`Evaluation::changes`].
//!   A repeated selection counts where it was last made; at most 1024 distinct selections.
//!   Errors: unknown trim or option, trim not sold in the region / on the day, the new pick
//!   impossible on this trim, region and day (with the reason), no valid build left by the
//!   region and date rules, price overflow.
//! - [`CompiledModel::stats`] — size figures of the compiled diagram.
//!
//! ## Encoding
//!
//! One variable for the trim (always the top level); one multi-valued variable per
//! `exactly_one` group (its options) and per `at_most_one` group (its options + "none"); one
//! boolean variable per option of an `any` group. The structural rule of a group is the
//! variable's domain. Every other rule is a constraint: `requires` (option or trim), `excludes`
//! (symmetric), `includes` (package ⇒ content) and `availability.trims` are two-literal clauses;
//! a compatibility table is the set of its allowed tuples (`*` = any value, `-` = "none").
//! Region and date availability are **not** compiled in: they vary per request and are applied
//! as restrictions (the option's value forbidden) on every pass.
//!
//! ## Compilation: the solution space as a decision diagram
//!
//! Variables are ordered statically: the trim first, then the better (smaller total span of the
//! constraints) of the declared order and a greedy order that places next the variable most
//! connected to those already placed, so that variables sharing a table or an implication sit
//! close together. Each constraint becomes a small quasi-reduced MDD; the diagrams are conjoined
//! bottom-most first with a memoised `and` over a hash-consed node store (unique table), with
//! garbage collection of dead nodes between steps. The result is frozen into flat arrays, one
//! diagram per trim (the trim is always a hard choice, so a click only walks its trim's part),
//! nodes numbered level by level in a canonical breadth-first order. A root-to-`TRUE` path is
//! exactly one valid complete build: the diagram is **globally** consistent, whatever the
//! tables and rules do together. Budgets (live nodes, conjunction steps, 4096 values per
//! variable, 2^20 variables) turn a hostile model into a `TooComplex` issue, not a hang.
//!
//! ## One click: linear passes over the diagram
//!
//! 1. **Resolution** (`resolve`): a bottom-up min-cost pass with the new pick and the
//!    region/date restrictions hard, and a lexicographic cost per path: number of earlier picks
//!    it drops, then how recent those are (older picks yield first), then number of values that
//!    differ from the trim's defaults ("none"/"out" for optional things), then the sum of list
//!    prices; remaining ties go to the first path in diagram order. The cheapest path is the
//!    resolved build: the fewest changes to earlier picks, and, given the picks that stand, the
//!    completion closest to the defaults and cheapest. So the resolved build is always complete,
//!    valid and deterministic.
//! 2. **Support** (`support`): with the standing picks each costing 1 when violated, a top-down
//!    and a bottom-up pass give, for every node, the fewest violations from the root and to
//!    `TRUE`; for every value, the fewest violations of a complete path through it. Zero means
//!    the option extends the current picks to a valid build (**selectable: no dead ends**); more
//!    means it conflicts, and the path achieving the minimum names a smallest set of picks in
//!    the way; infinity means the trim, region or date rule it out.
//! 3. **Explanation** (`explain`): availability first; otherwise the blocking rule is found by
//!    fixing the trim, the conflicting picks, what they bring in and the option, and checking
//!    the constraints on the option and on what it brings in (see `explain.rs`).
//! 4. **Price**: trim price plus every option in the build, except those a package in the build
//!    includes (price 0, the line names the package). Checked `i64` sums; overflow is an error.
//!
//! ## Invariants
//!
//! - Every resolved build satisfies every constraint and contains every standing pick.
//! - An option is `selectable` iff some valid complete build contains it and every standing
//!   pick (on the trim, region and day).
//! - The new pick is never dropped; the number of dropped earlier picks is the minimum possible.
//! - Same model and request → same output, byte for byte (no hashing order, no clock).
//! - No panics on any model or request: bad input is a [`CompileIssue`] or an [`EngineError`].

mod compile;
mod date;
mod eval;
mod explain;
mod mdd;
mod types;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

pub use date::Date;
pub use types::{
    AvailabilityBy, Change, ChangeKind, CompileIssue, ConfigRequest, EngineError, Evaluation,
    IncludedBy, IssueKind, IssueSubject, LineKind, ModelStats, OptionState, OptionStatus, Price,
    PriceLine, Reason, Rule,
};

use compile::{Constraint, GroupInfo, OptionInfo, TrimInfo, VarInfo, VarKind};
use eval::Pick;
use explain::Scratch;
use mdd::{Diagram, NIL};

/// A vehicle model compiled for the configurator: immutable, `Send + Sync`, cheap to share.
#[derive(Debug, Clone)]
pub struct CompiledModel {
    code: String,
    trims: Vec<TrimInfo>,
    groups: Vec<GroupInfo>,
    options: Vec<OptionInfo>,
    option_index: HashMap<String, u32>,
    /// Variables in level order (level 0 = the trim).
    vars: Vec<VarInfo>,
    /// Flat per (variable, value): the option that value puts in the build, or [`NIL`].
    value_option: Vec<u32>,
    constraints: Vec<Constraint>,
    /// Constraints touching each level.
    by_level: Vec<Vec<u32>>,
    tables: Vec<String>,
    /// Per trim: the diagram of its valid builds (level 0 has only that trim's edge).
    diagrams: Vec<Diagram>,
}

impl CompiledModel {
    /// The model's code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Size figures of the compiled solution space.
    pub fn stats(&self) -> ModelStats {
        ModelStats {
            variables: self.vars.len(),
            nodes: self.diagrams.iter().map(Diagram::node_count).sum(),
            edges: self.diagrams.iter().map(Diagram::edge_count).sum(),
            constraints: self.constraints.len(),
        }
    }

    /// One configurator click: see the module documentation.
    pub fn evaluate(&self, request: &ConfigRequest) -> Result<Evaluation, EngineError> {
        let trim = self
            .trims
            .iter()
            .position(|t| t.code == request.trim)
            .ok_or_else(|| EngineError::UnknownTrim {
                model: self.code.clone(),
                trim: request.trim.clone(),
            })? as u32;
        let trim_info = &self.trims[trim as usize];
        let region = request.region.as_deref();
        let date = request.date;
        if !trim_info.avail.in_region(region) {
            return Err(EngineError::TrimUnavailable {
                trim: request.trim.clone(),
                reason: format!("in region `{}`", region.unwrap_or_default()),
            });
        }
        if let (false, Some(day)) = (trim_info.avail.on_date(date), date) {
            return Err(EngineError::TrimUnavailable {
                trim: request.trim.clone(),
                reason: format!("on {day}"),
            });
        }

        // The picks, deduplicated (a repeated pick counts where it was last made).
        let mut indexes = Vec::with_capacity(request.selections.len());
        for code in &request.selections {
            let o = self
                .option_index
                .get(code)
                .ok_or_else(|| EngineError::UnknownOption {
                    model: self.code.clone(),
                    option: code.clone(),
                })?;
            indexes.push(*o);
        }
        let mut last = vec![usize::MAX; self.options.len()];
        for (i, &o) in indexes.iter().enumerate() {
            last[o as usize] = i;
        }
        let mut picks: Vec<Pick> = Vec::new();
        for (i, &o) in indexes.iter().enumerate() {
            if last[o as usize] == i {
                let option = &self.options[o as usize];
                picks.push(Pick {
                    option: o,
                    level: option.level,
                    value: option.value,
                    pos: picks.len() as u32,
                });
            }
        }

        if picks.len() > eval::MAX_PICKS {
            return Err(EngineError::TooManySelections {
                max: eval::MAX_PICKS,
            });
        }
        let allowed = self.allowed_mask(trim, region, date);
        let mut scratch = Scratch::new(self.vars.len());
        let (new_pick, earlier) = match picks.split_last() {
            Some((new, earlier)) => (Some(*new), earlier),
            None => (None, &picks[..]),
        };
        let unavailable = |new: Pick, scratch: &mut Scratch| EngineError::OptionUnavailable {
            option: self.options[new.option as usize].code.clone(),
            reason: Box::new(self.explain(
                trim,
                new.option,
                &allowed,
                region,
                date,
                None,
                &[],
                scratch,
            )),
        };
        let mut hard = allowed.clone();
        if let Some(new) = new_pick {
            if !allowed[self.flat(new.level, new.value)] {
                return Err(unavailable(new, &mut scratch));
            }
            let var = &self.vars[new.level as usize];
            for v in 0..var.domain {
                if v != new.value {
                    hard[(var.offset + u32::from(v)) as usize] = false;
                }
            }
        }
        let Some(path) = self.resolve(&hard, trim, earlier) else {
            if let (Some(new), true) = (new_pick, self.satisfiable(&allowed, trim)) {
                return Err(unavailable(new, &mut scratch));
            }
            return Err(self.no_build(request));
        };
        let in_build = |o: u32| {
            let option = &self.options[o as usize];
            path[option.level as usize] == option.value
        };
        let (kept, dropped): (Vec<Pick>, Vec<Pick>) = picks
            .iter()
            .partition(|p| path[p.level as usize] == p.value);
        let support = self.support(&allowed, trim, &kept);

        let mut statuses = Vec::with_capacity(self.options.len());
        for (o, option) in self.options.iter().enumerate() {
            let o = o as u32;
            let state = if in_build(o) {
                if kept.iter().any(|p| p.option == o) {
                    OptionState::Selected
                } else {
                    OptionState::Included {
                        by: self.included_by(trim, o, &in_build),
                    }
                }
            } else if support.through[self.flat(option.level, option.value)] == 0 {
                OptionState::Selectable
            } else {
                OptionState::Unavailable {
                    reason: self.explain(
                        trim,
                        o,
                        &allowed,
                        region,
                        date,
                        Some(&support),
                        &kept,
                        &mut scratch,
                    ),
                }
            };
            statuses.push(OptionStatus {
                code: option.code.clone(),
                group: self.groups[option.group as usize].code.clone(),
                state,
            });
        }

        let changes = dropped
            .iter()
            .map(|pick| {
                let value = path[pick.level as usize];
                let replacement = self.value_option[self.flat(pick.level, value)];
                let kind = match self.vars[pick.level as usize].kind {
                    VarKind::Group(_) if replacement != NIL => ChangeKind::Replaced {
                        by: self.options[replacement as usize].code.clone(),
                    },
                    _ => ChangeKind::Removed,
                };
                let reason = match &statuses[pick.option as usize].state {
                    OptionState::Unavailable { reason } => reason.clone(),
                    _ => self.explain(
                        trim,
                        pick.option,
                        &allowed,
                        region,
                        date,
                        Some(&support),
                        &kept,
                        &mut scratch,
                    ),
                };
                Change {
                    option: self.options[pick.option as usize].code.clone(),
                    kind,
                    reason,
                }
            })
            .collect();

        let mut resolved = BTreeMap::new();
        for group in &self.groups {
            let members: Vec<String> = group
                .options
                .iter()
                .filter(|&&o| in_build(o))
                .map(|&o| self.options[o as usize].code.clone())
                .collect();
            resolved.insert(group.code.clone(), members);
        }

        let mut lines = vec![PriceLine {
            code: trim_info.code.clone(),
            kind: LineKind::Trim,
            amount: trim_info.price,
            list_price: trim_info.price,
            included_by: None,
        }];
        let mut total = trim_info.price;
        for (o, option) in self.options.iter().enumerate() {
            if !in_build(o as u32) {
                continue;
            }
            let package = option.included_in.iter().copied().find(|&p| in_build(p));
            let amount = if package.is_some() { 0 } else { option.price };
            total = total
                .checked_add(amount)
                .ok_or(EngineError::PriceOverflow)?;
            lines.push(PriceLine {
                code: option.code.clone(),
                kind: LineKind::Option,
                amount,
                list_price: option.price,
                included_by: package.map(|p| self.options[p as usize].code.clone()),
            });
        }

        Ok(Evaluation {
            model: self.code.clone(),
            trim: trim_info.code.clone(),
            selections: kept
                .iter()
                .map(|p| self.options[p.option as usize].code.clone())
                .collect(),
            changes,
            resolved,
            options: statuses,
            price: Price { total, lines },
        })
    }

    fn no_build(&self, request: &ConfigRequest) -> EngineError {
        let mut context = Vec::new();
        if let Some(region) = &request.region {
            context.push(format!("in region `{region}`"));
        }
        if let Some(date) = request.date {
            context.push(format!("on {date}"));
        }
        EngineError::NoValidBuild {
            trim: request.trim.clone(),
            context: context.join(" "),
        }
    }

    fn included_by(&self, trim: u32, o: u32, in_build: &dyn Fn(u32) -> bool) -> IncludedBy {
        let option = &self.options[o as usize];
        if let Some(&p) = option.included_in.iter().find(|&&p| in_build(p)) {
            return IncludedBy::Package {
                package: self.options[p as usize].code.clone(),
            };
        }
        if let Some(&r) = option.required_by.iter().find(|&&r| in_build(r)) {
            return IncludedBy::Required {
                by: self.options[r as usize].code.clone(),
            };
        }
        if self.trims[trim as usize].defaults.contains(&o) {
            return IncludedBy::Default;
        }
        IncludedBy::Completion
    }

    /// The publish checks on the compiled diagram.
    fn publish_checks(&self, issues: &mut Vec<CompileIssue>) {
        let issue = |subject, kind, message: String| CompileIssue {
            model: self.code.clone(),
            subject,
            kind,
            message,
        };
        if self.diagrams.iter().all(Diagram::is_empty) {
            issues.push(issue(
                IssueSubject::Model,
                IssueKind::NoValidBuild,
                "no valid build exists: the rules and tables together rule out every combination"
                    .into(),
            ));
            return;
        }
        let mut scratch = Scratch::new(self.vars.len());
        for (t, trim) in self.trims.iter().enumerate() {
            let t = t as u32;
            if self.diagrams[t as usize].is_empty() {
                issues.push(issue(
                    IssueSubject::Trim(trim.code.clone()),
                    IssueKind::TrimWithoutBuild,
                    format!("trim `{}` has no valid build", trim.code),
                ));
                continue;
            }
            let allowed = self.allowed_mask(t, None, None);
            let defaults: Vec<Pick> = trim
                .defaults
                .iter()
                .enumerate()
                .map(|(i, &o)| Pick {
                    option: o,
                    level: self.options[o as usize].level,
                    value: self.options[o as usize].value,
                    pos: i as u32,
                })
                .collect();
            let Some(path) = self.resolve(&allowed, t, &defaults) else {
                continue;
            };
            let (kept, dropped): (Vec<Pick>, Vec<Pick>) = defaults
                .iter()
                .partition(|p| path[p.level as usize] == p.value);
            let Some(first) = dropped.first() else {
                continue;
            };
            let support = self.support(&allowed, t, &kept);
            let reason = self.explain(
                t,
                first.option,
                &allowed,
                None,
                None,
                Some(&support),
                &kept,
                &mut scratch,
            );
            let names: Vec<String> = dropped
                .iter()
                .map(|p| format!("`{}`", self.options[p.option as usize].code))
                .collect();
            issues.push(issue(
                IssueSubject::Trim(trim.code.clone()),
                IssueKind::DefaultsConflict,
                format!(
                    "defaults of trim `{}` conflict: {} cannot be in a valid build with the other defaults ({})",
                    trim.code,
                    names.join(", "),
                    reason.message
                ),
            ));
        }
    }
}
