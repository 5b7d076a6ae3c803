//! Publish-time compilation: vehicle model → variables, constraints and the decision diagram of
//! every valid build; then the publish checks (a build exists, every trim has one, every trim's
//! defaults hold together).

use std::collections::{BTreeSet, HashMap};

use forecourt_tenant_config::catalog::{
    Availability, Selection, VehicleModel, ANY_VALUE, NO_VALUE, TRIM_COLUMN,
};

use super::date::Date;
use super::mdd::{Builder, FastMap, TooLarge, FALSE};
use super::types::{CompileIssue, IssueKind, IssueSubject};
use super::CompiledModel;

/// Budgets of one compilation: live diagram nodes (a few hundred MiB at most), conjunction
/// steps (bounds the time: a few seconds at most), and how many dead nodes may pile up before
/// a collection (`gc_slack`; 0 collects after every conjunction).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub node_limit: usize,
    pub work_limit: u64,
    pub gc_slack: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            node_limit: 3_000_000,
            work_limit: 200_000_000,
            gc_slack: 100_000,
        }
    }
}
/// Columns of one compatibility table the engine accepts.
const MAX_TABLE_COLUMNS: usize = 64;
/// Values of one variable (a group's options, plus "none").
const MAX_DOMAIN: usize = 4096;
/// Variables of one model (the packed path cost counts non-default values in 24 bits).
const MAX_VARIABLES: usize = 1 << 20;

pub(crate) const NO_VALUE_U16: u16 = u16::MAX;

/// Where and when a trim or option can be ordered (dates parsed, trims as indexes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Avail {
    /// Sorted trim indexes (options only); `None` = every trim.
    pub trims: Option<Vec<u32>>,
    pub regions: Option<Vec<String>>,
    pub from: Option<Date>,
    pub until: Option<Date>,
}

impl Avail {
    pub(crate) fn on_trim(&self, trim: u32) -> bool {
        self.trims
            .as_ref()
            .is_none_or(|t| t.binary_search(&trim).is_ok())
    }

    pub(crate) fn in_region(&self, region: Option<&str>) -> bool {
        match (region, &self.regions) {
            (Some(region), Some(list)) => list.iter().any(|r| r == region),
            _ => true,
        }
    }

    pub(crate) fn on_date(&self, date: Option<Date>) -> bool {
        let Some(date) = date else { return true };
        self.from.is_none_or(|from| from <= date) && self.until.is_none_or(|until| date <= until)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TrimInfo {
    pub code: String,
    pub price: i64,
    pub defaults: Vec<u32>,
    pub avail: Avail,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupInfo {
    pub code: String,
    pub options: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct OptionInfo {
    pub code: String,
    pub group: u32,
    pub price: i64,
    /// The variable (level) deciding this option …
    pub level: u32,
    /// … and the value meaning "in the build" (`1` for an option of an `any` group).
    pub value: u16,
    pub avail: Avail,
    pub requires: Vec<u32>,
    pub requires_trims: Vec<u32>,
    pub excludes: Vec<u32>,
    pub includes: Vec<u32>,
    /// Options whose `includes` name this one (model order).
    pub included_in: Vec<u32>,
    /// Options whose `requires` name this one (model order).
    pub required_by: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarKind {
    Trim,
    /// An exactly-one or at-most-one group; value `i` = its `i`-th option, value
    /// `options.len()` (at-most-one only) = none.
    Group(u32),
    /// One option of an `any` group: value 0 = out, 1 = in.
    Flag(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct VarInfo {
    pub kind: VarKind,
    pub domain: u16,
    /// Start of this variable's values in the flat per-value arrays.
    pub offset: u32,
}

/// `variable ∈ values` (or `∉` when `positive` is false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lit {
    pub level: u32,
    pub positive: bool,
    pub values: Vec<u16>,
}

impl Lit {
    pub(crate) fn admits(&self, value: u16) -> bool {
        self.values.contains(&value) == self.positive
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Requires { option: u32, required: u32 },
    RequiresTrim { option: u32, trim: u32 },
    Excludes { a: u32, b: u32 },
    Includes { package: u32, option: u32 },
    TrimAvailability { option: u32 },
}

#[derive(Debug, Clone)]
pub(crate) enum Constraint {
    /// At least one literal holds.
    Clause { lits: Vec<Lit>, origin: Origin },
    /// The variables at `levels` take the values of one row (`None` = any value).
    Table {
        table: u32,
        levels: Vec<u32>,
        rows: Vec<Vec<Option<u16>>>,
    },
}

impl Constraint {
    pub(crate) fn levels(&self) -> Vec<u32> {
        match self {
            Constraint::Clause { lits, .. } => lits.iter().map(|l| l.level).collect(),
            Constraint::Table { levels, .. } => levels.clone(),
        }
    }

    fn remap(&mut self, position: &[u32]) {
        match self {
            Constraint::Clause { lits, .. } => {
                for lit in lits {
                    lit.level = position[lit.level as usize];
                }
            }
            Constraint::Table { levels, .. } => {
                for level in levels {
                    *level = position[*level as usize];
                }
            }
        }
    }
}

struct Issues<'a> {
    model: &'a str,
    list: Vec<CompileIssue>,
}

impl Issues<'_> {
    fn push(&mut self, subject: IssueSubject, kind: IssueKind, message: impl Into<String>) {
        self.list.push(CompileIssue {
            model: self.model.to_string(),
            subject,
            kind,
            message: message.into(),
        });
    }
}

fn parse_avail(
    avail: Option<&Availability>,
    trims: &HashMap<&str, u32>,
    subject: &IssueSubject,
    issues: &mut Issues<'_>,
) -> Avail {
    let Some(avail) = avail else {
        return Avail::default();
    };
    let mut date = |text: &Option<String>, what: &str| -> Option<Date> {
        let text = text.as_ref()?;
        let parsed = Date::parse(text);
        if parsed.is_none() {
            issues.push(
                subject.clone(),
                IssueKind::Invalid,
                format!("availability `{what}` date `{text}` is not YYYY-MM-DD"),
            );
        }
        parsed
    };
    let from = date(&avail.from, "from");
    let until = date(&avail.until, "until");
    let trim_list = avail.trims.as_ref().map(|codes| {
        let mut list: Vec<u32> = Vec::new();
        for code in codes {
            match trims.get(code.as_str()) {
                Some(&t) => list.push(t),
                None => issues.push(
                    subject.clone(),
                    IssueKind::Invalid,
                    format!("availability names unknown trim `{code}`"),
                ),
            }
        }
        list.sort_unstable();
        list.dedup();
        list
    });
    Avail {
        trims: trim_list,
        regions: avail.regions.clone(),
        from,
        until,
    }
}

/// Everything derived from the model before the diagram is built.
pub(crate) struct Skeleton {
    pub trims: Vec<TrimInfo>,
    pub groups: Vec<GroupInfo>,
    pub options: Vec<OptionInfo>,
    pub vars: Vec<VarInfo>,
    pub constraints: Vec<Constraint>,
    pub tables: Vec<String>,
}

fn skeleton(model: &VehicleModel, issues: &mut Issues<'_>) -> Skeleton {
    let mut trims_by_code: HashMap<&str, u32> = HashMap::new();
    if model.trims.is_empty() {
        issues.push(
            IssueSubject::Model,
            IssueKind::Invalid,
            "the model has no trim",
        );
    }
    for (i, trim) in model.trims.iter().enumerate() {
        if trims_by_code.insert(trim.code.as_str(), i as u32).is_some() {
            issues.push(
                IssueSubject::Trim(trim.code.clone()),
                IssueKind::Invalid,
                "duplicate trim code",
            );
        }
        if trim.price < 0 {
            issues.push(
                IssueSubject::Trim(trim.code.clone()),
                IssueKind::Invalid,
                "negative price",
            );
        }
    }
    if model.trims.len() > MAX_DOMAIN {
        issues.push(
            IssueSubject::Model,
            IssueKind::TooComplex,
            format!("more than {MAX_DOMAIN} trims"),
        );
    }

    // Variables in declared order: the trim, then one per exactly/at-most-one group, one per
    // option of an `any` group.
    let mut vars = vec![VarInfo {
        kind: VarKind::Trim,
        domain: model.trims.len().min(MAX_DOMAIN) as u16,
        offset: 0,
    }];
    let mut groups_by_code: HashMap<&str, u32> = HashMap::new();
    let mut group_var: Vec<Option<u32>> = Vec::new();
    let mut options_by_code: HashMap<&str, u32> = HashMap::new();
    let mut options: Vec<OptionInfo> = Vec::new();
    let mut groups: Vec<GroupInfo> = Vec::new();
    for (g, group) in model.option_groups.iter().enumerate() {
        let subject = IssueSubject::Group(group.code.clone());
        if group.code == TRIM_COLUMN {
            issues.push(
                subject.clone(),
                IssueKind::Invalid,
                "`trim` is reserved for the trim column of compatibility tables",
            );
        }
        if groups_by_code
            .insert(group.code.as_str(), g as u32)
            .is_some()
        {
            issues.push(subject.clone(), IssueKind::Invalid, "duplicate group code");
        }
        if group.options.len() + 1 > MAX_DOMAIN {
            issues.push(
                subject.clone(),
                IssueKind::TooComplex,
                format!("more than {MAX_DOMAIN} options"),
            );
        }
        if group.selection == Selection::ExactlyOne && group.options.is_empty() {
            issues.push(
                subject.clone(),
                IssueKind::Invalid,
                "an exactly-one group needs at least one option",
            );
        }
        let var = match group.selection {
            Selection::Any => None,
            Selection::ExactlyOne | Selection::AtMostOne => {
                let none = usize::from(group.selection == Selection::AtMostOne);
                vars.push(VarInfo {
                    kind: VarKind::Group(g as u32),
                    domain: (group.options.len() + none).min(MAX_DOMAIN) as u16,
                    offset: 0,
                });
                Some(vars.len() as u32 - 1)
            }
        };
        group_var.push(var);
        let mut members = Vec::new();
        for (i, option) in group.options.iter().enumerate() {
            let o = options.len() as u32;
            if options_by_code.insert(option.code.as_str(), o).is_some() {
                issues.push(
                    IssueSubject::Option(option.code.clone()),
                    IssueKind::Invalid,
                    "duplicate option code",
                );
            }
            if option.price < 0 {
                issues.push(
                    IssueSubject::Option(option.code.clone()),
                    IssueKind::Invalid,
                    "negative price",
                );
            }
            let (level, value) = match var {
                Some(v) => (v, i.min(MAX_DOMAIN - 1) as u16),
                None => {
                    vars.push(VarInfo {
                        kind: VarKind::Flag(o),
                        domain: 2,
                        offset: 0,
                    });
                    (vars.len() as u32 - 1, 1)
                }
            };
            members.push(o);
            options.push(OptionInfo {
                code: option.code.clone(),
                group: g as u32,
                price: option.price,
                level,
                value,
                avail: Avail::default(),
                requires: Vec::new(),
                requires_trims: Vec::new(),
                excludes: Vec::new(),
                includes: Vec::new(),
                included_in: Vec::new(),
                required_by: Vec::new(),
            });
        }
        groups.push(GroupInfo {
            code: group.code.clone(),
            options: members,
        });
    }

    let mut trims = Vec::new();
    for trim in &model.trims {
        let subject = IssueSubject::Trim(trim.code.clone());
        let mut defaults = Vec::new();
        for code in &trim.defaults {
            match options_by_code.get(code.as_str()) {
                Some(&o) if !defaults.contains(&o) => defaults.push(o),
                Some(_) => {}
                None => issues.push(
                    subject.clone(),
                    IssueKind::Invalid,
                    format!("default names unknown option `{code}`"),
                ),
            }
        }
        let avail = parse_avail(trim.available.as_ref(), &trims_by_code, &subject, issues);
        trims.push(TrimInfo {
            code: trim.code.clone(),
            price: trim.price,
            defaults,
            avail: Avail {
                trims: None,
                ..avail
            },
        });
    }

    // Relations between options.
    let all_options = model.option_groups.iter().flat_map(|g| g.options.iter());
    for (o, option) in all_options.enumerate() {
        let subject = IssueSubject::Option(option.code.clone());
        options[o].avail = parse_avail(option.available.as_ref(), &trims_by_code, &subject, issues);
        for code in &option.requires {
            if let Some(&r) = options_by_code.get(code.as_str()) {
                options[o].requires.push(r);
                options[r as usize].required_by.push(o as u32);
            } else if let Some(&t) = trims_by_code.get(code.as_str()) {
                options[o].requires_trims.push(t);
            } else {
                issues.push(
                    subject.clone(),
                    IssueKind::Invalid,
                    format!("requires unknown option or trim `{code}`"),
                );
            }
        }
        for (codes, what) in [
            (&option.excludes, "excludes"),
            (&option.includes, "includes"),
        ] {
            for code in codes {
                match options_by_code.get(code.as_str()) {
                    Some(&x) if what == "excludes" => options[o].excludes.push(x),
                    Some(&x) => {
                        options[o].includes.push(x);
                        options[x as usize].included_in.push(o as u32);
                    }
                    None => issues.push(
                        subject.clone(),
                        IssueKind::Invalid,
                        format!("{what} unknown option `{code}`"),
                    ),
                }
            }
        }
    }

    let mut constraints = Vec::new();
    let on = |o: u32| Lit {
        level: options[o as usize].level,
        positive: true,
        values: vec![options[o as usize].value],
    };
    let off = |o: u32| Lit {
        positive: false,
        ..on(o)
    };
    for (o, option) in options.iter().enumerate() {
        let o = o as u32;
        for &r in &option.requires {
            constraints.push(Constraint::Clause {
                lits: vec![off(o), on(r)],
                origin: Origin::Requires {
                    option: o,
                    required: r,
                },
            });
        }
        for &t in &option.requires_trims {
            constraints.push(Constraint::Clause {
                lits: vec![
                    off(o),
                    Lit {
                        level: 0,
                        positive: true,
                        values: vec![t as u16],
                    },
                ],
                origin: Origin::RequiresTrim { option: o, trim: t },
            });
        }
        for &x in &option.excludes {
            constraints.push(Constraint::Clause {
                lits: vec![off(o), off(x)],
                origin: Origin::Excludes { a: o, b: x },
            });
        }
        for &x in &option.includes {
            constraints.push(Constraint::Clause {
                lits: vec![off(o), on(x)],
                origin: Origin::Includes {
                    package: o,
                    option: x,
                },
            });
        }
        if let Some(list) = &option.avail.trims {
            if list.len() < model.trims.len() {
                constraints.push(Constraint::Clause {
                    lits: vec![
                        off(o),
                        Lit {
                            level: 0,
                            positive: true,
                            values: list.iter().map(|&t| t as u16).collect(),
                        },
                    ],
                    origin: Origin::TrimAvailability { option: o },
                });
            }
        }
    }

    let mut tables = Vec::new();
    for table in &model.compatibility {
        let t = tables.len() as u32;
        tables.push(table.code.clone());
        let subject = IssueSubject::Table(table.code.clone());
        let before = issues.list.len();
        if table.groups.is_empty() {
            issues.push(
                subject.clone(),
                IssueKind::Invalid,
                "a table needs at least one column",
            );
        }
        if table.groups.len() > MAX_TABLE_COLUMNS {
            issues.push(
                subject.clone(),
                IssueKind::TooComplex,
                format!("more than {MAX_TABLE_COLUMNS} columns"),
            );
        }
        // Per column: its variable and how a cell's text maps to a value.
        let mut columns: Vec<(u32, Option<u32>)> = Vec::new();
        for code in &table.groups {
            if code == TRIM_COLUMN {
                columns.push((0, None));
                continue;
            }
            match groups_by_code.get(code.as_str()) {
                Some(&g) => match group_var[g as usize] {
                    Some(var) => columns.push((var, Some(g))),
                    None => issues.push(
                        subject.clone(),
                        IssueKind::Invalid,
                        format!("column `{code}` is an `any` group (tables take exactly-one or at-most-one groups)"),
                    ),
                },
                None => issues.push(
                    subject.clone(),
                    IssueKind::Invalid,
                    format!("unknown column `{code}`"),
                ),
            }
        }
        let distinct: BTreeSet<u32> = columns.iter().map(|c| c.0).collect();
        if distinct.len() != columns.len() {
            issues.push(
                subject.clone(),
                IssueKind::Invalid,
                "a column appears twice",
            );
        }
        if issues.list.len() > before {
            continue;
        }
        let mut rows = Vec::new();
        for (r, row) in table.rows.iter().flatten().enumerate() {
            if row.len() != columns.len() {
                issues.push(
                    subject.clone(),
                    IssueKind::Invalid,
                    format!(
                        "row {} has {} cells for {} columns",
                        r + 1,
                        row.len(),
                        columns.len()
                    ),
                );
                continue;
            }
            let mut cells = Vec::new();
            for (cell, &(var, group)) in row.iter().zip(&columns) {
                let value = if cell == ANY_VALUE {
                    Some(None)
                } else if let Some(g) = group {
                    let group_info = &groups[g as usize];
                    if cell == NO_VALUE {
                        let none = group_info.options.len() as u16;
                        (vars[var as usize].domain > none).then_some(Some(none))
                    } else {
                        group_info
                            .options
                            .iter()
                            .position(|&o| options[o as usize].code == *cell)
                            .map(|i| Some(i as u16))
                    }
                } else {
                    trims_by_code.get(cell.as_str()).map(|&t| Some(t as u16))
                };
                match value {
                    Some(v) => cells.push(v),
                    None => {
                        issues.push(
                            subject.clone(),
                            IssueKind::Invalid,
                            format!("row {}: `{cell}` is not a value of this column", r + 1),
                        );
                        break;
                    }
                }
            }
            if cells.len() == columns.len() {
                rows.push(cells);
            }
        }
        constraints.push(Constraint::Table {
            table: t,
            levels: columns.iter().map(|c| c.0).collect(),
            rows,
        });
    }

    Skeleton {
        trims,
        groups,
        options,
        vars,
        constraints,
        tables,
    }
}

/// Sum over constraints of the distance between their first and last variable.
fn total_span(constraints: &[Constraint], position: &[u32]) -> u64 {
    constraints
        .iter()
        .map(|c| {
            let levels = c.levels();
            let mut low = u32::MAX;
            let mut high = 0;
            for l in levels {
                let p = position[l as usize];
                low = low.min(p);
                high = high.max(p);
            }
            u64::from(high.saturating_sub(low))
        })
        .sum()
}

/// A static variable order: the trim first, then the better (smaller total span) of the
/// declared order and a greedy order that places next the variable most connected to the
/// variables already placed (ties: declared order). Returns `position[var] = level`.
fn variable_order(var_count: usize, constraints: &[Constraint]) -> Vec<u32> {
    let declared: Vec<u32> = (0..var_count as u32).collect();
    let mut adjacency: Vec<FastMap<u32, u32>> = vec![FastMap::default(); var_count];
    for c in constraints {
        let mut vars = c.levels();
        vars.sort_unstable();
        vars.dedup();
        vars.retain(|&v| v != 0);
        for (i, &a) in vars.iter().enumerate() {
            for &b in &vars[i + 1..] {
                *adjacency[a as usize].entry(b).or_insert(0) += 1;
                *adjacency[b as usize].entry(a).or_insert(0) += 1;
            }
        }
    }
    let mut greedy = vec![0u32; var_count];
    let mut placed = vec![false; var_count];
    let mut score = vec![0u64; var_count];
    if var_count > 0 {
        placed[0] = true;
    }
    for next_level in 1..var_count {
        let mut best = None;
        for v in 1..var_count {
            if placed[v] {
                continue;
            }
            if best.is_none_or(|b: usize| score[v] > score[b]) {
                best = Some(v);
            }
        }
        let Some(v) = best else { break };
        placed[v] = true;
        greedy[v] = next_level as u32;
        for (&u, &w) in &adjacency[v] {
            score[u as usize] += u64::from(w);
        }
    }
    if total_span(constraints, &greedy) < total_span(constraints, &declared) {
        greedy
    } else {
        declared
    }
}

/// The diagram of one constraint (rooted at level 0).
fn constraint_diagram(builder: &mut Builder, constraint: &Constraint) -> Result<u32, TooLarge> {
    match constraint {
        Constraint::Clause { lits, .. } => clause_diagram(builder, lits),
        Constraint::Table { levels, rows, .. } => table_diagram(builder, levels, rows),
    }
}

fn clause_diagram(builder: &mut Builder, lits: &[Lit]) -> Result<u32, TooLarge> {
    // Allowed values per level (literals on one level merge into one set).
    let mut by_level: Vec<(u32, Vec<bool>)> = Vec::new();
    let mut sorted: Vec<&Lit> = lits.iter().collect();
    sorted.sort_by_key(|l| l.level);
    for lit in sorted {
        let domain = usize::from(builder.domain(lit.level));
        if by_level.last().is_none_or(|(l, _)| *l != lit.level) {
            by_level.push((lit.level, vec![false; domain]));
        }
        if let Some((_, allowed)) = by_level.last_mut() {
            for (v, slot) in allowed.iter_mut().enumerate() {
                if lit.admits(v as u16) {
                    *slot = true;
                }
            }
        }
    }
    if by_level
        .iter()
        .any(|(_, allowed)| allowed.iter().all(|&a| a))
    {
        return Ok(builder.always(0));
    }
    let mut node = FALSE;
    let mut node_level = builder.levels() as u32;
    for (level, allowed) in by_level.iter().rev() {
        let below = builder.lift(node, node_level, level + 1)?;
        let yes = builder.always(level + 1);
        let edges: Vec<(u16, u32)> = allowed
            .iter()
            .enumerate()
            .map(|(v, &a)| (v as u16, if a { yes } else { below }))
            .collect();
        node = builder.node(*level, &edges)?;
        node_level = *level;
    }
    builder.lift(node, node_level, 0)
}

fn table_diagram(
    builder: &mut Builder,
    levels: &[u32],
    rows: &[Vec<Option<u16>>],
) -> Result<u32, TooLarge> {
    let mut columns: Vec<(u32, usize)> = levels.iter().copied().zip(0..).collect();
    columns.sort_unstable();
    let all: Vec<u32> = (0..rows.len() as u32).collect();
    let mut memo: FastMap<(usize, Vec<u32>), u32> = FastMap::default();
    let Some(&(first, _)) = columns.first() else {
        return Ok(FALSE);
    };
    let root = table_node(builder, &columns, rows, 0, all, &mut memo)?;
    builder.lift(root, first, 0)
}

/// The node at column `k`'s level for the rows still possible (`rows_left`, sorted).
fn table_node(
    builder: &mut Builder,
    columns: &[(u32, usize)],
    rows: &[Vec<Option<u16>>],
    k: usize,
    rows_left: Vec<u32>,
    memo: &mut FastMap<(usize, Vec<u32>), u32>,
) -> Result<u32, TooLarge> {
    let key = (k, rows_left);
    if let Some(&node) = memo.get(&key) {
        return Ok(node);
    }
    let (level, column) = columns[k];
    let domain = usize::from(builder.domain(level));
    let mut any = Vec::new();
    let mut by_value: Vec<Vec<u32>> = vec![Vec::new(); domain];
    for &r in &key.1 {
        match rows[r as usize][column] {
            None => any.push(r),
            Some(v) => {
                if let Some(bucket) = by_value.get_mut(usize::from(v)) {
                    bucket.push(r);
                }
            }
        }
    }
    let mut edges = Vec::new();
    let mut any_child = None;
    for (v, exact) in by_value.into_iter().enumerate() {
        if exact.is_empty() && any.is_empty() {
            continue;
        }
        let child = if k + 1 == columns.len() {
            builder.always(level + 1)
        } else if exact.is_empty() {
            if let Some(child) = any_child {
                child
            } else {
                let node = table_node(builder, columns, rows, k + 1, any.clone(), memo)?;
                let child = builder.lift(node, columns[k + 1].0, level + 1)?;
                any_child = Some(child);
                child
            }
        } else {
            let mut subset = Vec::with_capacity(exact.len() + any.len());
            let (mut i, mut j) = (0, 0);
            while i < exact.len() || j < any.len() {
                if j == any.len() || (i < exact.len() && exact[i] < any[j]) {
                    subset.push(exact[i]);
                    i += 1;
                } else {
                    subset.push(any[j]);
                    j += 1;
                }
            }
            let node = table_node(builder, columns, rows, k + 1, subset, memo)?;
            builder.lift(node, columns[k + 1].0, level + 1)?
        };
        edges.push((v as u16, child));
    }
    let node = builder.node(level, &edges)?;
    memo.insert(key, node);
    Ok(node)
}

impl CompiledModel {
    /// Compiles a model (at publish). Returns every problem found: invalid references (which
    /// the loader should have caught), no valid build, a trim without a valid build, a trim whose
    /// defaults cannot all hold, or a solution space beyond the engine's limits.
    pub fn compile(model: &VehicleModel) -> Result<CompiledModel, Vec<CompileIssue>> {
        Self::compile_with(model, Limits::default())
    }

    pub(crate) fn compile_with(
        model: &VehicleModel,
        limits: Limits,
    ) -> Result<CompiledModel, Vec<CompileIssue>> {
        let mut issues = Issues {
            model: &model.code,
            list: Vec::new(),
        };
        let Skeleton {
            trims,
            groups,
            mut options,
            mut vars,
            mut constraints,
            tables,
        } = skeleton(model, &mut issues);
        if vars.len() > MAX_VARIABLES {
            issues.push(
                IssueSubject::Model,
                IssueKind::TooComplex,
                format!("more than {MAX_VARIABLES} decision variables"),
            );
        }
        if !issues.list.is_empty() {
            return Err(issues.list);
        }

        let position = variable_order(vars.len(), &constraints);
        let mut by_position: Vec<VarInfo> = vars.clone();
        for (var, info) in vars.drain(..).enumerate() {
            by_position[position[var] as usize] = info;
        }
        let mut vars = by_position;
        let mut offset = 0u32;
        for var in &mut vars {
            var.offset = offset;
            offset += u32::from(var.domain);
        }
        for option in &mut options {
            option.level = position[option.level as usize];
        }
        for c in &mut constraints {
            c.remap(&position);
        }

        let mut builder = Builder::new(
            vars.iter().map(|v| v.domain).collect(),
            limits.node_limit,
            limits.work_limit,
        );
        // Conjoin bottom-most constraints first: each conjunction then only rebuilds the part
        // of the diagram above its lowest variable.
        let mut order: Vec<(u32, u32, usize)> = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let levels = c.levels();
                let low = levels.iter().copied().max().unwrap_or(0);
                let high = levels.iter().copied().min().unwrap_or(0);
                (low, high, i)
            })
            .collect();
        order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut root = builder.always(0);
        let mut collected_at = builder.live_nodes();
        let built: Result<(), TooLarge> = (|| {
            for &(_, _, i) in &order {
                let diagram = constraint_diagram(&mut builder, &constraints[i])?;
                builder.clear_memo();
                root = builder.and(root, diagram)?;
                if root == FALSE {
                    break;
                }
                if builder.live_nodes() > 2 * collected_at + limits.gc_slack {
                    let mut roots = [root];
                    builder.collect(&mut roots)?;
                    root = roots[0];
                    collected_at = builder.live_nodes();
                }
            }
            Ok(())
        })();
        if built.is_err() {
            issues.push(
                IssueSubject::Model,
                IssueKind::TooComplex,
                format!(
                    "the valid builds need more than {} diagram nodes or {} conjunction steps; split the model or simplify its tables",
                    limits.node_limit,
                    limits.work_limit
                ),
            );
            return Err(issues.list);
        }
        // One frozen diagram per trim (the trim is always a hard choice, so a click only ever
        // walks its trim's part of the solution space).
        let mut diagrams = Vec::with_capacity(trims.len());
        for t in 0..trims.len() as u16 {
            let child = builder.child(root, t);
            let diagram = match builder.node(0, &[(t, child)]) {
                Ok(sub) => builder.freeze(sub),
                Err(TooLarge) => builder.freeze(FALSE),
            };
            diagrams.push(diagram);
        }
        drop(builder);

        let mut by_level = vec![Vec::new(); vars.len()];
        for (i, c) in constraints.iter().enumerate() {
            let mut levels = c.levels();
            levels.sort_unstable();
            levels.dedup();
            for l in levels {
                by_level[l as usize].push(i as u32);
            }
        }

        let mut value_option = vec![super::mdd::NIL; offset as usize];
        for (o, option) in options.iter().enumerate() {
            let var = &vars[option.level as usize];
            value_option[(var.offset + u32::from(option.value)) as usize] = o as u32;
        }
        let option_index = options
            .iter()
            .enumerate()
            .map(|(o, option)| (option.code.clone(), o as u32))
            .collect();
        let compiled = CompiledModel {
            code: model.code.clone(),
            option_index,
            value_option,
            trims,
            groups,
            options,
            vars,
            constraints,
            by_level,
            tables,
            diagrams,
        };
        compiled.publish_checks(&mut issues.list);
        if issues.list.is_empty() {
            Ok(compiled)
        } else {
            Err(issues.list)
        }
    }
}
