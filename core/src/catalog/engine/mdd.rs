//! Quasi-reduced multi-valued decision diagrams: the builder used at compile time (unique table,
//! conjunction with a memo, garbage collection) and the frozen, array-based [`Diagram`] that
//! requests walk.
//!
//! **Shape.** Level `l` tests variable `l`; every edge goes from level `l` to level `l + 1`
//! (quasi-reduced: no level is ever skipped, so every root-to-`TRUE` path assigns every variable
//! exactly once). Edges to `FALSE` are not stored. A node whose every value leads to the same
//! child is stored as a *uniform* node (one child, no edge list): this is the canonical form of
//! such a node, which keeps the unique table canonical and keeps "don't care" levels cheap.
//!
//! **Invariants.** Within one builder, two live nodes never have the same level and the same
//! outgoing edges (hash-consing), so equal functions are equal ids. Explicit edge lists are
//! sorted by value and never cover the whole domain with one child (that is a uniform node).
//! Nothing here recurses on the depth of the diagram: conjunction and collection use explicit
//! stacks, so a model with thousands of variables cannot overflow the thread stack.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The terminal `true` (the only node at the last level).
pub(crate) const TRUE: u32 = 0;
/// The terminal `false`; never stored as a child.
pub(crate) const FALSE: u32 = u32::MAX;
/// "No child": marks an explicit (non-uniform) node.
pub(crate) const NIL: u32 = u32::MAX;

/// The diagram outgrew its node budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// A small multiplicative hasher (deterministic, fast on integer keys).
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[derive(Debug, Clone, Copy)]
struct BuildNode {
    level: u32,
    /// The child of a uniform node, or [`NIL`].
    uniform: u32,
    start: u32,
    len: u32,
    /// The node is `TRUE` or a chain of uniform nodes down to `TRUE` (a constant `true`).
    always: bool,
}

fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// One step of a conjunction in progress (explicit stack instead of recursion).
struct Frame {
    a: u32,
    b: u32,
    level: u32,
    uniform: bool,
    /// `(value, child of a, child of b)` still to conjoin.
    pairs: Vec<(u16, u32, u32)>,
    next: usize,
    out: Vec<(u16, u32)>,
}

/// Hash-consed node store used while compiling a model.
pub(crate) struct Builder {
    domains: Vec<u16>,
    nodes: Vec<BuildNode>,
    edges: Vec<(u16, u32)>,
    /// Open addressing over node ids ([`NIL`] = empty); the key is the node's content.
    slots: Vec<u32>,
    used: usize,
    always: Vec<u32>,
    memo: FastMap<(u32, u32), u32>,
    node_limit: usize,
    /// Conjunction steps done so far, and the most allowed.
    work: u64,
    work_limit: u64,
    pool: Vec<Frame>,
}

impl Builder {
    /// A builder over variables with these domain sizes (level order). `node_limit` bounds the
    /// live node count and `work_limit` the conjunction steps (the compile fails with
    /// [`TooLarge`] beyond either).
    pub(crate) fn new(domains: Vec<u16>, node_limit: usize, work_limit: u64) -> Builder {
        let mut builder = Builder {
            domains,
            nodes: Vec::new(),
            edges: Vec::new(),
            slots: vec![NIL; 1024],
            used: 0,
            always: Vec::new(),
            memo: FastMap::default(),
            node_limit,
            work: 0,
            work_limit,
            pool: Vec::new(),
        };
        builder.reset_terminals();
        builder
    }

    fn reset_terminals(&mut self) {
        let levels = self.domains.len();
        self.nodes.push(BuildNode {
            level: levels as u32,
            uniform: NIL,
            start: 0,
            len: 0,
            always: true,
        });
        self.always = vec![TRUE; levels + 1];
        for level in (0..levels).rev() {
            let child = self.always[level + 1];
            // Cannot exceed the budget: one node per level.
            self.always[level] = self.uniform(level as u32, child).unwrap_or(FALSE);
        }
    }

    pub(crate) fn levels(&self) -> usize {
        self.domains.len()
    }

    pub(crate) fn domain(&self, level: u32) -> u16 {
        self.domains[level as usize]
    }

    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The constant `true` at `level`.
    pub(crate) fn always(&self, level: u32) -> u32 {
        self.always[level as usize]
    }

    fn is_always(&self, node: u32) -> bool {
        node != FALSE && self.nodes[node as usize].always
    }

    fn hash_of(level: u32, uniform: u32, edges: &[(u16, u32)]) -> u64 {
        let mut h = mix(0x9e37_79b9, u64::from(level));
        h = mix(h, u64::from(uniform));
        for &(v, c) in edges {
            h = mix(h, (u64::from(v) << 32) | u64::from(c));
        }
        h
    }

    fn same(&self, id: u32, level: u32, uniform: u32, edges: &[(u16, u32)]) -> bool {
        let node = &self.nodes[id as usize];
        node.level == level
            && node.uniform == uniform
            && self.edges[node.start as usize..(node.start + node.len) as usize] == *edges
    }

    fn intern(&mut self, level: u32, uniform: u32, edges: &[(u16, u32)]) -> Result<u32, TooLarge> {
        let mask = self.slots.len() - 1;
        let mut slot = Self::hash_of(level, uniform, edges) as usize & mask;
        loop {
            let id = self.slots[slot];
            if id == NIL {
                break;
            }
            if self.same(id, level, uniform, edges) {
                return Ok(id);
            }
            slot = (slot + 1) & mask;
        }
        if self.nodes.len() >= self.node_limit
            || self.edges.len() + edges.len() >= u32::MAX as usize
        {
            return Err(TooLarge);
        }
        let id = self.nodes.len() as u32;
        let always = uniform != NIL && self.is_always(uniform);
        self.nodes.push(BuildNode {
            level,
            uniform,
            start: self.edges.len() as u32,
            len: edges.len() as u32,
            always,
        });
        self.edges.extend_from_slice(edges);
        self.slots[slot] = id;
        self.used += 1;
        if self.used * 2 > self.slots.len() {
            self.grow();
        }
        Ok(id)
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.slots = vec![NIL; size];
        let mask = size - 1;
        for id in 1..self.nodes.len() as u32 {
            let node = self.nodes[id as usize];
            let edges = &self.edges[node.start as usize..(node.start + node.len) as usize];
            let mut slot = Self::hash_of(node.level, node.uniform, edges) as usize & mask;
            while self.slots[slot] != NIL {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = id;
        }
    }

    /// The node at `level` sending every value to `child`.
    pub(crate) fn uniform(&mut self, level: u32, child: u32) -> Result<u32, TooLarge> {
        if child == FALSE {
            return Ok(FALSE);
        }
        self.intern(level, child, &[])
    }

    /// The node at `level` with these edges (sorted by value, distinct values, children at
    /// `level + 1`); edges to `FALSE` are dropped.
    pub(crate) fn node(&mut self, level: u32, edges: &[(u16, u32)]) -> Result<u32, TooLarge> {
        let kept: Vec<(u16, u32)> = edges.iter().copied().filter(|&(_, c)| c != FALSE).collect();
        if kept.is_empty() {
            return Ok(FALSE);
        }
        let domain = usize::from(self.domains[level as usize]);
        if kept.len() == domain && kept.iter().all(|&(_, c)| c == kept[0].1) {
            return self.uniform(level, kept[0].1);
        }
        self.intern(level, NIL, &kept)
    }

    /// Wraps `node` (at level `from`) in uniform nodes up to level `to` (`to ≤ from`).
    pub(crate) fn lift(&mut self, mut node: u32, from: u32, to: u32) -> Result<u32, TooLarge> {
        for level in (to..from).rev() {
            node = self.uniform(level, node)?;
        }
        Ok(node)
    }

    fn quick(&self, a: u32, b: u32) -> Option<u32> {
        if a == FALSE || b == FALSE {
            return Some(FALSE);
        }
        if a == b || self.is_always(b) {
            return Some(a);
        }
        if self.is_always(a) {
            return Some(b);
        }
        self.memo.get(&(a.min(b), a.max(b))).copied()
    }

    fn frame(&mut self, a: u32, b: u32) -> Frame {
        let mut frame = self.pool.pop().unwrap_or(Frame {
            a,
            b,
            level: 0,
            uniform: false,
            pairs: Vec::new(),
            next: 0,
            out: Vec::new(),
        });
        frame.pairs.clear();
        frame.out.clear();
        frame.next = 0;
        frame.a = a;
        frame.b = b;
        let na = self.nodes[a as usize];
        let nb = self.nodes[b as usize];
        frame.level = na.level;
        let ea = &self.edges[na.start as usize..(na.start + na.len) as usize];
        let eb = &self.edges[nb.start as usize..(nb.start + nb.len) as usize];
        frame.uniform = false;
        match (na.uniform != NIL, nb.uniform != NIL) {
            (true, true) => {
                frame.uniform = true;
                frame.pairs.push((0, na.uniform, nb.uniform));
            }
            (true, false) => frame
                .pairs
                .extend(eb.iter().map(|&(v, c)| (v, na.uniform, c))),
            (false, true) => frame
                .pairs
                .extend(ea.iter().map(|&(v, c)| (v, c, nb.uniform))),
            (false, false) => {
                let (mut i, mut j) = (0, 0);
                while i < ea.len() && j < eb.len() {
                    match ea[i].0.cmp(&eb[j].0) {
                        std::cmp::Ordering::Less => i += 1,
                        std::cmp::Ordering::Greater => j += 1,
                        std::cmp::Ordering::Equal => {
                            frame.pairs.push((ea[i].0, ea[i].1, eb[j].1));
                            i += 1;
                            j += 1;
                        }
                    }
                }
            }
        }
        frame
    }

    /// The conjunction of two diagrams rooted at the same level.
    pub(crate) fn and(&mut self, a: u32, b: u32) -> Result<u32, TooLarge> {
        if let Some(r) = self.quick(a, b) {
            return Ok(r);
        }
        let first = self.frame(a, b);
        let mut stack = vec![first];
        let mut returned: Option<u32> = None;
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(FALSE);
            };
            if let Some(r) = returned.take() {
                if r != FALSE {
                    top.out.push((top.pairs[top.next].0, r));
                }
                top.next += 1;
            }
            while top.next < top.pairs.len() {
                let (v, ca, cb) = top.pairs[top.next];
                match self.quick(ca, cb) {
                    Some(r) => {
                        if r != FALSE {
                            top.out.push((v, r));
                        }
                        top.next += 1;
                    }
                    None => break,
                }
            }
            if top.next < top.pairs.len() {
                let (_, ca, cb) = top.pairs[top.next];
                self.work += 1;
                if self.work > self.work_limit {
                    return Err(TooLarge);
                }
                let child = self.frame(ca, cb);
                stack.push(child);
                continue;
            }
            let Some(done) = stack.pop() else {
                return Ok(FALSE);
            };
            let result = if done.uniform {
                match done.out.first() {
                    Some(&(_, c)) => self.uniform(done.level, c)?,
                    None => FALSE,
                }
            } else {
                self.node(done.level, &done.out)?
            };
            self.memo
                .insert((done.a.min(done.b), done.a.max(done.b)), result);
            self.pool.push(done);
            if stack.is_empty() {
                return Ok(result);
            }
            returned = Some(result);
        }
    }

    /// The child of `node` for `value` ([`FALSE`] when there is none).
    pub(crate) fn child(&self, node: u32, value: u16) -> u32 {
        if node == FALSE {
            return FALSE;
        }
        let n = self.nodes[node as usize];
        if n.uniform != NIL {
            return n.uniform;
        }
        let edges = &self.edges[n.start as usize..(n.start + n.len) as usize];
        edges
            .binary_search_by_key(&value, |&(v, _)| v)
            .map_or(FALSE, |i| edges[i].1)
    }

    /// Forgets the conjunction memo (its keys may name nodes a collection frees).
    pub(crate) fn clear_memo(&mut self) {
        self.memo.clear();
    }

    /// Keeps only the nodes reachable from `roots` (renumbering them; `roots` are updated).
    pub(crate) fn collect(&mut self, roots: &mut [u32]) -> Result<(), TooLarge> {
        let old_nodes = std::mem::take(&mut self.nodes);
        let old_edges = std::mem::take(&mut self.edges);
        self.slots = vec![NIL; (old_nodes.len() * 2).next_power_of_two().max(1024)];
        self.used = 0;
        self.memo.clear();
        self.reset_terminals();
        let mut map: FastMap<u32, u32> = FastMap::default();
        map.insert(TRUE, TRUE);
        let mut buffer = Vec::new();
        for root in roots.iter_mut() {
            if *root == FALSE {
                continue;
            }
            let mut stack = vec![(*root, false)];
            while let Some((id, expanded)) = stack.pop() {
                if map.contains_key(&id) {
                    continue;
                }
                let node = old_nodes[id as usize];
                let edges = &old_edges[node.start as usize..(node.start + node.len) as usize];
                if !expanded {
                    stack.push((id, true));
                    if node.uniform != NIL {
                        stack.push((node.uniform, false));
                    } else {
                        stack.extend(edges.iter().rev().map(|&(_, c)| (c, false)));
                    }
                    continue;
                }
                let new_id = if node.uniform != NIL {
                    let child = map.get(&node.uniform).copied().unwrap_or(FALSE);
                    self.uniform(node.level, child)?
                } else {
                    buffer.clear();
                    buffer.extend(
                        edges
                            .iter()
                            .map(|&(v, c)| (v, map.get(&c).copied().unwrap_or(FALSE))),
                    );
                    self.node(node.level, &buffer)?
                };
                map.insert(id, new_id);
            }
            *root = map.get(root).copied().unwrap_or(FALSE);
        }
        Ok(())
    }

    /// Freezes the diagram under `root` (at level 0) into request-time arrays.
    pub(crate) fn freeze(&self, root: u32) -> Diagram {
        let levels = self.domains.len();
        let mut diagram = Diagram {
            levels,
            level_start: Vec::with_capacity(levels + 2),
            node_level: Vec::new(),
            uniform: Vec::new(),
            edge_start: Vec::new(),
            edge_value: Vec::new(),
            edge_child: Vec::new(),
        };
        if root == FALSE {
            diagram.level_start = vec![0; levels + 2];
            diagram.edge_start.push(0);
            return diagram;
        }
        // Breadth-first by level, children in value order: a canonical numbering.
        let mut map: FastMap<u32, u32> = FastMap::default();
        let mut order: Vec<u32> = vec![root];
        map.insert(root, 0);
        let mut level_begin = 0;
        for _ in 0..=levels {
            diagram.level_start.push(level_begin as u32);
            let level_end = order.len();
            for index in level_begin..level_end {
                let node = self.nodes[order[index] as usize];
                let children: Vec<u32> = if node.uniform != NIL {
                    vec![node.uniform]
                } else {
                    self.edges[node.start as usize..(node.start + node.len) as usize]
                        .iter()
                        .map(|&(_, c)| c)
                        .collect()
                };
                for child in children {
                    if let std::collections::hash_map::Entry::Vacant(slot) = map.entry(child) {
                        slot.insert(order.len() as u32);
                        order.push(child);
                    }
                }
            }
            level_begin = level_end;
        }
        diagram.level_start.push(order.len() as u32);
        for (index, &id) in order.iter().enumerate() {
            let node = self.nodes[id as usize];
            diagram.node_level.push(node.level);
            diagram.edge_start.push(diagram.edge_value.len() as u32);
            if node.uniform != NIL {
                diagram
                    .uniform
                    .push(map.get(&node.uniform).copied().unwrap_or(NIL));
            } else {
                diagram.uniform.push(NIL);
                for &(v, c) in &self.edges[node.start as usize..(node.start + node.len) as usize] {
                    diagram.edge_value.push(v);
                    diagram.edge_child.push(map.get(&c).copied().unwrap_or(NIL));
                }
            }
            debug_assert_eq!(index + 1, diagram.edge_start.len());
        }
        diagram.edge_start.push(diagram.edge_value.len() as u32);
        diagram
    }
}

/// A frozen quasi-reduced diagram. Nodes are numbered level by level (root = 0 when the
/// diagram is not empty; the `TRUE` terminal is the last node); children always have larger
/// numbers than their parents, so one forward loop is a top-down pass and one backward loop a
/// bottom-up pass.
#[derive(Debug, Clone)]
pub(crate) struct Diagram {
    levels: usize,
    /// Nodes of level `l` are `level_start[l]..level_start[l + 1]`; level `levels` is `TRUE`.
    level_start: Vec<u32>,
    node_level: Vec<u32>,
    /// The child of a uniform node, or [`NIL`].
    uniform: Vec<u32>,
    /// Edges of node `n` are `edge_start[n]..edge_start[n + 1]` (sorted by value).
    edge_start: Vec<u32>,
    edge_value: Vec<u16>,
    edge_child: Vec<u32>,
}

impl Diagram {
    /// No valid assignment at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.uniform.is_empty()
    }

    pub(crate) fn node_count(&self) -> usize {
        self.uniform.len()
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.edge_value.len() + self.uniform.iter().filter(|&&u| u != NIL).count()
    }

    pub(crate) fn levels(&self) -> usize {
        self.levels
    }

    /// The node range of a level.
    #[inline]
    pub(crate) fn level_nodes(&self, level: usize) -> std::ops::Range<usize> {
        self.level_start[level] as usize..self.level_start[level + 1] as usize
    }

    #[inline]
    pub(crate) fn level_of(&self, node: usize) -> usize {
        self.node_level[node] as usize
    }

    /// The `TRUE` terminal (meaningless when empty).
    pub(crate) fn terminal(&self) -> usize {
        self.uniform.len().saturating_sub(1)
    }

    /// The child of a uniform node.
    #[inline]
    pub(crate) fn uniform_child(&self, node: usize) -> Option<usize> {
        let child = self.uniform[node];
        (child != NIL).then_some(child as usize)
    }

    /// The explicit edges of a node: `(values, children)` (empty for uniform nodes).
    #[inline]
    pub(crate) fn edges(&self, node: usize) -> (&[u16], &[u32]) {
        let range = self.edge_start[node] as usize..self.edge_start[node + 1] as usize;
        (&self.edge_value[range.clone()], &self.edge_child[range])
    }

    /// The child reached from `node` by `value`, if that edge exists.
    pub(crate) fn child(&self, node: usize, value: u16) -> Option<usize> {
        if let Some(child) = self.uniform_child(node) {
            return Some(child);
        }
        let (values, children) = self.edges(node);
        values
            .binary_search(&value)
            .ok()
            .map(|i| children[i] as usize)
    }
}
