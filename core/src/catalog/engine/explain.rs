//! Explanations: why an option is unavailable — the availability rule, or the constraint and
//! the current picks it conflicts with.
//!
//! The picks come from the diagram (a fewest-violations path through the option, from the
//! support pass), so they are a smallest set of current picks that must change. The rule is
//! then found locally: fix the trim, the standing picks, the options they bring in (requires /
//! includes) and the option itself, and look for a single constraint that cannot hold; if none,
//! follow what the option brings in, one step at a time. When no single constraint explains
//! the conflict (several rules combine), the rule is [`Rule::Combination`].

use super::compile::{Constraint, Origin, NO_VALUE_U16};
use super::date::Date;
use super::eval::{Pick, Support, INF};
use super::types::{AvailabilityBy, Reason, Rule};
use super::CompiledModel;

/// Reusable buffers for explanations (one per evaluation).
pub(crate) struct Scratch {
    fixed: Vec<u16>,
    /// Which implication fixed a level (`None`: the trim, a pick or the option itself).
    fixed_by: Vec<Option<Origin>>,
    touched: Vec<u32>,
    path: Vec<u16>,
}

impl Scratch {
    pub(crate) fn new(levels: usize) -> Scratch {
        Scratch {
            fixed: vec![NO_VALUE_U16; levels],
            fixed_by: vec![None; levels],
            touched: Vec::new(),
            path: vec![0; levels],
        }
    }

    fn reset(&mut self) {
        for &l in &self.touched {
            self.fixed[l as usize] = NO_VALUE_U16;
            self.fixed_by[l as usize] = None;
        }
        self.touched.clear();
    }

    fn fix(&mut self, level: u32, value: u16, by: Option<Origin>) {
        if self.fixed[level as usize] == NO_VALUE_U16 {
            self.fixed[level as usize] = value;
            self.fixed_by[level as usize] = by;
            self.touched.push(level);
        }
    }
}

struct Finding {
    rule: Rule,
    involves_trim: bool,
    message: String,
    via: Vec<u32>,
}

impl CompiledModel {
    /// Why `option` is not selectable: availability first, then (when `support` says a path
    /// through it exists) the fewest current picks in the way and the rule that blocks it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn explain(
        &self,
        trim: u32,
        option: u32,
        allowed: &[bool],
        region: Option<&str>,
        date: Option<Date>,
        support: Option<&Support>,
        picks: &[Pick],
        scratch: &mut Scratch,
    ) -> Reason {
        let info = &self.options[option as usize];
        let trim_code = &self.trims[trim as usize].code;
        let availability = |by, conflicts_with: Vec<String>, message: String| Reason {
            rule: Rule::Availability { by },
            conflicts_with,
            via: Vec::new(),
            message,
        };
        if !info.avail.on_trim(trim) {
            return availability(
                AvailabilityBy::Trim,
                vec![trim_code.clone()],
                format!("`{}` is not offered on trim `{trim_code}`", info.code),
            );
        }
        if !info.avail.in_region(region) {
            return availability(
                AvailabilityBy::Region,
                Vec::new(),
                format!(
                    "`{}` is not offered in region `{}`",
                    info.code,
                    region.unwrap_or_default()
                ),
            );
        }
        if let (false, Some(day)) = (info.avail.on_date(date), date) {
            return availability(
                AvailabilityBy::Date,
                Vec::new(),
                format!("`{}` is not offered on {day}", info.code),
            );
        }
        let mut conflicting: Vec<Pick> = Vec::new();
        if let Some(support) = support {
            if support.through[self.flat(info.level, info.value)] != INF {
                scratch.path.iter_mut().for_each(|v| *v = NO_VALUE_U16);
                self.trace(support, trim, info.level, info.value, &mut scratch.path);
                conflicting.extend(
                    picks
                        .iter()
                        .filter(|p| scratch.path[p.level as usize] != p.value)
                        .copied(),
                );
            }
        }
        let finding = self.classify(trim, option, &conflicting, picks, allowed, scratch);
        let mut conflicts_with = Vec::new();
        if finding.involves_trim {
            conflicts_with.push(trim_code.clone());
        }
        conflicts_with.extend(
            conflicting
                .iter()
                .map(|p| self.options[p.option as usize].code.clone()),
        );
        let mut message = finding.message;
        if !finding.via.is_empty() {
            let via: Vec<String> = finding
                .via
                .iter()
                .map(|&o| format!("`{}`", self.options[o as usize].code))
                .collect();
            message.push_str(&format!(" (through {})", via.join(", ")));
        }
        if !conflicts_with.is_empty() {
            let with: Vec<String> = conflicts_with.iter().map(|c| format!("`{c}`")).collect();
            message.push_str(&format!("; conflicts with {}", with.join(", ")));
        }
        Reason {
            rule: finding.rule,
            conflicts_with,
            via: finding
                .via
                .iter()
                .map(|&o| self.options[o as usize].code.clone())
                .collect(),
            message,
        }
    }

    fn classify(
        &self,
        trim: u32,
        option: u32,
        conflicting: &[Pick],
        picks: &[Pick],
        allowed: &[bool],
        scratch: &mut Scratch,
    ) -> Finding {
        let x = &self.options[option as usize];
        for pick in conflicting {
            if pick.level == x.level && pick.option != option {
                let group = &self.groups[x.group as usize].code;
                return Finding {
                    rule: Rule::GroupAllowsOne {
                        group: group.clone(),
                    },
                    involves_trim: false,
                    message: format!(
                        "group `{group}` holds one option and `{}` is picked",
                        self.options[pick.option as usize].code
                    ),
                    via: Vec::new(),
                };
            }
        }
        scratch.reset();
        scratch.fix(0, trim as u16, None);
        // Every standing pick (the path through the option keeps all but `conflicting`, so a
        // constraint that fails involves a conflicting pick or what it brings in).
        for pick in picks {
            scratch.fix(pick.level, pick.value, None);
        }
        // What the picks bring in is in the build with them.
        let mut queue: Vec<u32> = picks.iter().map(|p| p.option).collect();
        let mut seen: Vec<u32> = queue.clone();
        while let Some(o) = queue.pop() {
            for (next, origin) in self.implied(o) {
                if !seen.contains(&next) {
                    seen.push(next);
                    let n = &self.options[next as usize];
                    scratch.fix(n.level, n.value, Some(origin));
                    queue.push(next);
                }
            }
        }
        if scratch.fixed[x.level as usize] != NO_VALUE_U16
            && scratch.fixed[x.level as usize] != x.value
        {
            if let Some(origin) = scratch.fixed_by[x.level as usize] {
                return self.finding_for_origin(origin, trim, Vec::new());
            }
        }
        scratch.fix(x.level, x.value, None);
        if let Some(found) = self.failing_constraint(x.level, trim, allowed, scratch, Vec::new()) {
            return found;
        }
        // Follow what the option brings in, breadth first.
        let mut chain: Vec<(u32, Option<usize>)> = vec![(option, None)];
        let mut next_index = 0;
        while next_index < chain.len() {
            let (o, _) = chain[next_index];
            for (next, origin) in self.implied(o) {
                if chain.iter().any(|&(c, _)| c == next) {
                    continue;
                }
                let n = &self.options[next as usize];
                let fixed = scratch.fixed[n.level as usize];
                let via = Self::chain_to(&chain, next_index);
                if fixed != NO_VALUE_U16 && fixed != n.value {
                    return self.finding_for_origin(origin, trim, via);
                }
                scratch.fix(n.level, n.value, Some(origin));
                chain.push((next, Some(next_index)));
                let mut via_next = via;
                via_next.push(next);
                if let Some(found) =
                    self.failing_constraint(n.level, trim, allowed, scratch, via_next)
                {
                    return found;
                }
            }
            next_index += 1;
        }
        Finding {
            rule: Rule::Combination,
            involves_trim: false,
            message: format!(
                "`{}` cannot be combined with the current choices (several rules together)",
                x.code
            ),
            via: Vec::new(),
        }
    }

    /// Options `o` puts in the build (requires, includes) with the rule that does it.
    fn implied(&self, o: u32) -> Vec<(u32, Origin)> {
        let info = &self.options[o as usize];
        let requires = info.requires.iter().map(|&r| {
            (
                r,
                Origin::Requires {
                    option: o,
                    required: r,
                },
            )
        });
        let includes = info.includes.iter().map(|&i| {
            (
                i,
                Origin::Includes {
                    package: o,
                    option: i,
                },
            )
        });
        requires.chain(includes).collect()
    }

    /// The options between the explained option (excluded) and `index` (included).
    fn chain_to(chain: &[(u32, Option<usize>)], index: usize) -> Vec<u32> {
        let mut via = Vec::new();
        let mut at = Some(index);
        while let Some(i) = at {
            let (o, parent) = chain[i];
            if parent.is_some() {
                via.push(o);
            }
            at = parent;
        }
        via.reverse();
        via
    }

    /// The first constraint on `level` that cannot hold with the fixed values.
    fn failing_constraint(
        &self,
        level: u32,
        trim: u32,
        allowed: &[bool],
        scratch: &Scratch,
        via: Vec<u32>,
    ) -> Option<Finding> {
        for &c in &self.by_level[level as usize] {
            let constraint = &self.constraints[c as usize];
            if self.holds_possibly(constraint, allowed, &scratch.fixed) {
                continue;
            }
            return Some(match constraint {
                Constraint::Clause { origin, .. } => self.finding_for_origin(*origin, trim, via),
                Constraint::Table { table, levels, .. } => {
                    let code = &self.tables[*table as usize];
                    Finding {
                        rule: Rule::CompatibilityTable {
                            table: code.clone(),
                        },
                        involves_trim: levels.contains(&0),
                        message: format!(
                            "compatibility table `{code}` has no row for this combination"
                        ),
                        via,
                    }
                }
            });
        }
        None
    }

    /// Whether `constraint` can still hold: fixed variables keep their value, free ones take
    /// any allowed value.
    fn holds_possibly(&self, constraint: &Constraint, allowed: &[bool], fixed: &[u16]) -> bool {
        let possible = |level: u32, admits: &dyn Fn(u16) -> bool| -> bool {
            let value = fixed[level as usize];
            if value != NO_VALUE_U16 {
                return admits(value);
            }
            let var = &self.vars[level as usize];
            (0..var.domain).any(|v| allowed[(var.offset + u32::from(v)) as usize] && admits(v))
        };
        match constraint {
            Constraint::Clause { lits, .. } => lits
                .iter()
                .any(|lit| possible(lit.level, &|v| lit.admits(v))),
            Constraint::Table { levels, rows, .. } => rows.iter().any(|row| {
                row.iter().zip(levels).all(|(cell, &level)| match cell {
                    None => possible(level, &|_| true),
                    Some(want) => possible(level, &|v| v == *want),
                })
            }),
        }
    }

    fn finding_for_origin(&self, origin: Origin, trim: u32, via: Vec<u32>) -> Finding {
        let code = |o: u32| &self.options[o as usize].code;
        let (rule, involves_trim, message) = match origin {
            Origin::Requires { option, required } => (
                Rule::Requires,
                false,
                format!("`{}` requires `{}`", code(option), code(required)),
            ),
            Origin::RequiresTrim { option, trim: t } => (
                Rule::Requires,
                true,
                format!(
                    "`{}` requires trim `{}`",
                    code(option),
                    self.trims[t as usize].code
                ),
            ),
            Origin::Excludes { a, b } => (
                Rule::Excludes,
                false,
                format!("`{}` excludes `{}`", code(a), code(b)),
            ),
            Origin::Includes { package, option } => (
                Rule::Includes,
                false,
                format!("package `{}` includes `{}`", code(package), code(option)),
            ),
            Origin::TrimAvailability { option } => (
                Rule::Availability {
                    by: AvailabilityBy::Trim,
                },
                true,
                format!(
                    "`{}` is not offered on trim `{}`",
                    code(option),
                    self.trims[trim as usize].code
                ),
            ),
        };
        Finding {
            rule,
            involves_trim,
            message,
            via,
        }
    }
}
