//! Request-time passes over the frozen diagram: the min-cost resolution (conflicts and filling)
//! and the support pass (which values still extend to a valid build, and how many current picks
//! stand in the way of those that do not).

use super::compile::VarKind;
use super::date::Date;
use super::mdd::NIL;
use super::CompiledModel;

/// "No value / unreachable" in `u32` passes.
pub(crate) const INF: u32 = u32::MAX;

/// A buyer's pick: option `option` is in the build iff variable `level` takes `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub option: u32,
    pub level: u32,
    pub value: u16,
    /// Position in the (deduplicated) request, oldest = 0.
    pub pos: u32,
}

/// Most distinct picks one request may carry (keeps the packed cost fields apart).
pub(crate) const MAX_PICKS: usize = 1024;

/// The lexicographic cost of a path in the resolution pass, packed into two words: `rank`
/// holds the number of dropped picks (bits 44..), how recent they are (sum of positions + 1,
/// bits 24..44: older picks yield first) and the number of non-default values (bits 0..24);
/// `price` the sum of list prices (saturating; prices are non-negative). With at most
/// [`MAX_PICKS`] picks and fewer than 2^24 variables (a compile limit) no field overflows
/// into the next, so adding packed costs adds every field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cost {
    rank: u64,
    price: u64,
}

const BLOCKED: Cost = Cost {
    rank: u64::MAX,
    price: u64::MAX,
};

const ZERO: Cost = Cost { rank: 0, price: 0 };

impl Cost {
    #[inline]
    fn blocked(self) -> bool {
        self.rank == u64::MAX
    }

    #[inline]
    fn plus(self, other: Cost) -> Cost {
        Cost {
            rank: self.rank + other.rank,
            price: self.price.saturating_add(other.price),
        }
    }
}

/// Result of [`CompiledModel::support`]: per node the fewest pick violations from the root
/// (`top`) and to `TRUE` (`bottom`) with the choices achieving them, and per value the fewest
/// violations of any complete path through it (`through`, [`INF`] = no path at all).
pub(crate) struct Support {
    top: Vec<u32>,
    parent: Vec<(u32, u16)>,
    bottom: Vec<u32>,
    /// Explicit node: index of its best edge; uniform node: its best value.
    choice: Vec<u32>,
    pub through: Vec<u32>,
    through_node: Vec<u32>,
}

impl CompiledModel {
    /// Values allowed on `trim`, in `region`, on `date` (flat by variable offset). Trim
    /// availability of options is compiled into the diagram; region and date apply here.
    pub(crate) fn allowed_mask(
        &self,
        trim: u32,
        region: Option<&str>,
        date: Option<Date>,
    ) -> Vec<bool> {
        let mut allowed = vec![true; self.value_option.len()];
        let trim_var = &self.vars[0];
        for t in 0..trim_var.domain {
            allowed[(trim_var.offset + u32::from(t)) as usize] = u32::from(t) == trim;
        }
        if region.is_some() || date.is_some() {
            for option in &self.options {
                if !option.avail.in_region(region) || !option.avail.on_date(date) {
                    allowed[self.flat(option.level, option.value)] = false;
                }
            }
        }
        allowed
    }

    #[inline]
    pub(crate) fn flat(&self, level: u32, value: u16) -> usize {
        (self.vars[level as usize].offset + u32::from(value)) as usize
    }

    /// The value each variable takes when nothing else matters, for `trim`: its default
    /// option, "none" for an at-most-one group, "out" for an `any` option; `None` when every
    /// value is as good (an exactly-one group without default, the trim).
    fn default_values(&self, trim: u32) -> Vec<Option<u16>> {
        let mut defaults: Vec<Option<u16>> = self
            .vars
            .iter()
            .map(|var| match var.kind {
                VarKind::Trim => None,
                VarKind::Group(g) => {
                    let n = self.groups[g as usize].options.len() as u16;
                    (var.domain > n).then_some(n)
                }
                VarKind::Flag(_) => Some(0),
            })
            .collect();
        for &o in &self.trims[trim as usize].defaults {
            let option = &self.options[o as usize];
            defaults[option.level as usize] = Some(option.value);
        }
        defaults
    }

    /// The best complete valid build under `allowed` (hard) with `soft` picks that may be
    /// dropped: fewest dropped picks, then oldest dropped, then fewest non-default values
    /// for `trim`, then lowest sum of list prices, then first in diagram order. Returns the
    /// value of every variable, or `None` when `allowed` leaves no valid build.
    pub(crate) fn resolve(&self, allowed: &[bool], trim: u32, soft: &[Pick]) -> Option<Vec<u16>> {
        let d = &self.diagrams[trim as usize];
        if d.is_empty() || soft.len() > MAX_PICKS {
            return None;
        }
        let (drop_unit, recency_unit): (u64, u64) = (1 << 44, 1 << 24);
        let defaults = self.default_values(trim);
        let mut edge_cost = vec![BLOCKED; allowed.len()];
        for (level, var) in self.vars.iter().enumerate() {
            for v in 0..var.domain {
                let i = (var.offset + u32::from(v)) as usize;
                if !allowed[i] {
                    continue;
                }
                let option = self.value_option[i];
                edge_cost[i] = Cost {
                    rank: u64::from(defaults[level].is_some_and(|dv| dv != v)),
                    price: if option == NIL {
                        0
                    } else {
                        self.options[option as usize].price.max(0) as u64
                    },
                };
            }
        }
        for pick in soft {
            let var = &self.vars[pick.level as usize];
            for v in 0..var.domain {
                let i = (var.offset + u32::from(v)) as usize;
                if v != pick.value && !edge_cost[i].blocked() {
                    edge_cost[i].rank += drop_unit + recency_unit * (u64::from(pick.pos) + 1);
                }
            }
        }
        let level_best: Vec<(Cost, u16)> = self
            .vars
            .iter()
            .map(|var| {
                let mut best = (BLOCKED, 0);
                for v in 0..var.domain {
                    let c = edge_cost[(var.offset + u32::from(v)) as usize];
                    if c < best.0 {
                        best = (c, v);
                    }
                }
                best
            })
            .collect();

        // Bottom-up: cheapest completion of every node.
        let nodes = d.node_count();
        let mut cost = vec![BLOCKED; nodes];
        let mut choice = vec![0u32; nodes];
        cost[d.terminal()] = ZERO;
        for level in (0..d.levels()).rev() {
            let offset = self.vars[level].offset as usize;
            let (uniform_cost, uniform_value) = level_best[level];
            for n in d.level_nodes(level) {
                if let Some(child) = d.uniform_child(n) {
                    if !uniform_cost.blocked() && !cost[child].blocked() {
                        cost[n] = uniform_cost.plus(cost[child]);
                        choice[n] = u32::from(uniform_value);
                    }
                    continue;
                }
                let (values, children) = d.edges(n);
                let mut best = BLOCKED;
                let mut best_edge = 0;
                for (e, (&v, &c)) in values.iter().zip(children).enumerate() {
                    let ec = edge_cost[offset + usize::from(v)];
                    let cc = cost[c as usize];
                    if ec.blocked() || cc.blocked() {
                        continue;
                    }
                    let total = ec.plus(cc);
                    if total < best {
                        best = total;
                        best_edge = e as u32;
                    }
                }
                cost[n] = best;
                choice[n] = best_edge;
            }
        }
        if cost[0].blocked() {
            return None;
        }
        let mut path = vec![0u16; d.levels()];
        let mut n = 0usize;
        for slot in path.iter_mut() {
            if let Some(child) = d.uniform_child(n) {
                *slot = choice[n] as u16;
                n = child;
            } else {
                let (values, children) = d.edges(n);
                let e = choice[n] as usize;
                *slot = values[e];
                n = children[e] as usize;
            }
        }
        Some(path)
    }

    /// Forward/backward pass counting violated `picks` (each costs 1) under `allowed` (hard).
    pub(crate) fn support(&self, allowed: &[bool], trim: u32, picks: &[Pick]) -> Support {
        let d = &self.diagrams[trim as usize];
        let nodes = d.node_count();
        let mut violations: Vec<u32> = allowed.iter().map(|&a| if a { 0 } else { INF }).collect();
        for pick in picks {
            let var = &self.vars[pick.level as usize];
            for v in 0..var.domain {
                let i = (var.offset + u32::from(v)) as usize;
                if v != pick.value && violations[i] != INF {
                    violations[i] += 1;
                }
            }
        }
        let level_min: Vec<(u32, u16)> = self
            .vars
            .iter()
            .map(|var| {
                let mut best = (INF, 0);
                for v in 0..var.domain {
                    let c = violations[(var.offset + u32::from(v)) as usize];
                    if c < best.0 {
                        best = (c, v);
                    }
                }
                best
            })
            .collect();
        let mut support = Support {
            top: vec![INF; nodes],
            parent: vec![(NIL, 0); nodes],
            bottom: vec![INF; nodes],
            choice: vec![0; nodes],
            through: vec![INF; allowed.len()],
            through_node: vec![NIL; allowed.len()],
        };
        if d.is_empty() {
            return support;
        }
        let Support {
            top,
            parent,
            bottom,
            choice,
            through,
            through_node,
        } = &mut support;
        top[0] = 0;
        for (level, &(uniform_cost, uniform_value)) in level_min.iter().enumerate() {
            let offset = self.vars[level].offset as usize;
            for n in d.level_nodes(level) {
                let t = top[n];
                if t == INF {
                    continue;
                }
                if let Some(child) = d.uniform_child(n) {
                    let (c, v) = (uniform_cost, uniform_value);
                    if c != INF && t + c < top[child] {
                        top[child] = t + c;
                        parent[child] = (n as u32, v);
                    }
                    continue;
                }
                let (values, children) = d.edges(n);
                for (&v, &c) in values.iter().zip(children) {
                    let ec = violations[offset + usize::from(v)];
                    if ec != INF && t + ec < top[c as usize] {
                        top[c as usize] = t + ec;
                        parent[c as usize] = (n as u32, v);
                    }
                }
            }
        }
        bottom[d.terminal()] = 0;
        for level in (0..d.levels()).rev() {
            let offset = self.vars[level].offset as usize;
            let var = &self.vars[level];
            // Best (top + bottom) over this level's uniform nodes: they offer every value.
            let mut uniform_best = (INF, NIL);
            for n in d.level_nodes(level) {
                if top[n] == INF {
                    continue;
                }
                if let Some(child) = d.uniform_child(n) {
                    let (c, v) = level_min[level];
                    if c != INF && bottom[child] != INF {
                        bottom[n] = c + bottom[child];
                        choice[n] = u32::from(v);
                        let t = top[n] + bottom[child];
                        if t < uniform_best.0 {
                            uniform_best = (t, n as u32);
                        }
                    }
                    continue;
                }
                let (values, children) = d.edges(n);
                let mut best = INF;
                let mut best_edge = 0;
                for (e, (&v, &c)) in values.iter().zip(children).enumerate() {
                    let i = offset + usize::from(v);
                    let ec = violations[i];
                    let bc = bottom[c as usize];
                    if ec == INF || bc == INF {
                        continue;
                    }
                    if ec + bc < best {
                        best = ec + bc;
                        best_edge = e as u32;
                    }
                    let t = top[n] + ec + bc;
                    if t < through[i] {
                        through[i] = t;
                        through_node[i] = n as u32;
                    }
                }
                bottom[n] = best;
                choice[n] = best_edge;
            }
            if uniform_best.0 != INF {
                for v in 0..var.domain {
                    let i = offset + usize::from(v);
                    let ec = violations[i];
                    if ec != INF && uniform_best.0 + ec < through[i] {
                        through[i] = uniform_best.0 + ec;
                        through_node[i] = uniform_best.1;
                    }
                }
            }
        }
        support
    }

    /// A complete path with the fewest pick violations through value `value` of `level`
    /// (which must have a finite `through`), written into `path`.
    pub(crate) fn trace(
        &self,
        support: &Support,
        trim: u32,
        level: u32,
        value: u16,
        path: &mut [u16],
    ) {
        let d = &self.diagrams[trim as usize];
        let i = self.flat(level, value);
        let node = support.through_node[i];
        if node == NIL {
            return;
        }
        let mut n = node;
        while n != 0 {
            let (p, v) = support.parent[n as usize];
            if p == NIL {
                break;
            }
            path[d.level_of(p as usize)] = v;
            n = p;
        }
        path[level as usize] = value;
        let Some(mut n) = d.child(node as usize, value) else {
            return;
        };
        while n != d.terminal() {
            let l = d.level_of(n);
            if let Some(child) = d.uniform_child(n) {
                path[l] = support.choice[n] as u16;
                n = child;
            } else {
                let (values, children) = d.edges(n);
                let e = support.choice[n] as usize;
                path[l] = values[e];
                n = children[e] as usize;
            }
        }
    }

    /// Whether `allowed` leaves any valid build of `trim`.
    pub(crate) fn satisfiable(&self, allowed: &[bool], trim: u32) -> bool {
        let d = &self.diagrams[trim as usize];
        if d.is_empty() {
            return false;
        }
        let mut reach = vec![false; d.node_count()];
        reach[0] = true;
        for level in 0..d.levels() {
            let var = &self.vars[level];
            let offset = var.offset as usize;
            let any_allowed = allowed[offset..offset + usize::from(var.domain)]
                .iter()
                .any(|&a| a);
            for n in d.level_nodes(level) {
                if !reach[n] {
                    continue;
                }
                if let Some(child) = d.uniform_child(n) {
                    reach[child] |= any_allowed;
                    continue;
                }
                let (values, children) = d.edges(n);
                for (&v, &c) in values.iter().zip(children) {
                    if allowed[offset + usize::from(v)] {
                        reach[c as usize] = true;
                    }
                }
            }
        }
        reach[d.terminal()]
    }
}
