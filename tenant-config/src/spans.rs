//! Source locations for JSON pointers, and the structural checks serde cannot make safely.
//!
//! One pass over yaml-rust2's marked event stream (which never expands aliases) builds a
//! [`SpanMap`] — pointer → line/column of the node's value and, for mapping members, of its
//! key — and at the same time enforces what must hold before anything is materialised: nesting
//! depth (aliases included), the number of nodes alias references would add (alias bombs),
//! string-only mapping keys, no YAML tags, no duplicate keys.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::limits::LIMITS;
use crate::source::to_u32;

/// A 1-based (line, column) position.
pub(crate) type Pos = (u32, u32);

/// JSON pointer → source position.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanMap {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SpanMap {
    /// Where the value at `pointer` starts; for a place inside an alias (or otherwise not in
    /// the text), the nearest enclosing node that is.
    pub(crate) fn value(&self, pointer: &str) -> Option<Pos> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            let (parent, _) = p.rsplit_once('/')?;
            p = parent;
        }
    }

    /// Where the key of the mapping member at `pointer` starts, else as [`SpanMap::value`].
    pub(crate) fn key(&self, pointer: &str) -> Option<Pos> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.value(pointer))
    }
}

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Undoes [`escape`].
pub(crate) fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// `parent` + `/` + escaped `token`.
pub(crate) fn child(parent: &str, token: &str) -> String {
    format!("{parent}/{}", escape(token))
}

/// Something the scan found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub code: &'static str,
    pub pointer: String,
    pub pos: Pos,
    pub message: String,
}

/// The result of scanning one document.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub spans: SpanMap,
    pub findings: Vec<Finding>,
    /// The first syntax error yaml-rust2 met, if any; scanning stops there.
    pub syntax_error: Option<(String, Pos)>,
    /// Whether the findings forbid handing the text to serde at all.
    pub blocking: bool,
}

#[derive(Debug)]
enum FrameKind {
    Seq {
        next: usize,
    },
    Map {
        expect_key: bool,
        /// Pointer of the member whose value comes next; `None` when its key was unusable.
        member: Option<String>,
        key_pos: Pos,
        seen: HashSet<String>,
        start_index: usize,
        has_key: bool,
    },
}

#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    pointer: Option<String>,
    anchor: usize,
    nodes_before: u64,
    max_child_height: usize,
}

enum Role {
    Key,
    Value(Option<String>, Option<Pos>),
}

fn pos(m: &Marker) -> Pos {
    (to_u32(m.line()), to_u32(m.col() + 1))
}

/// Whether a plain (unquoted) scalar means null, a boolean or a number in YAML 1.2's core
/// schema — i.e. would not be a string as a mapping key.
fn plain_is_not_string(s: &str) -> bool {
    matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | ".nan"
            | ".NaN"
            | ".NAN"
    ) || {
        let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
        matches!(unsigned, ".inf" | ".Inf" | ".INF") || is_number(unsigned, s)
    }
}

fn is_number(unsigned: &str, s: &str) -> bool {
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    if let Some(h) = s.strip_prefix("0x") {
        return digits(h, 16);
    }
    if let Some(o) = s.strip_prefix("0o") {
        return digits(o, 8);
    }
    // [0-9]+ | [0-9]+.[0-9]* | .[0-9]+ , then optional exponent.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (digits(int, 10) && (frac.is_empty() || digits(frac, 10)))
                || (int.is_empty() && digits(frac, 10))
        }
        None => digits(mantissa, 10),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    mantissa_ok && exponent_ok
}

struct Scanner<'t> {
    text: &'t str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    scan: Scan,
    frames: Vec<Frame>,
    /// anchor id → (expanded node count, height).
    anchors: HashMap<usize, (u64, usize)>,
    nodes: u64,
    alias_nodes: u64,
    stop: bool,
}

/// Scans `text`: builds the span map and checks structure. Never panics; stops at the first
/// syntax error, at the first node nested too deeply and when aliases would expand too far.
pub(crate) fn scan(text: &str) -> Scan {
    let mut scanner = Scanner {
        text,
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        scan: Scan::default(),
        frames: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        alias_nodes: 0,
        stop: false,
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    while !scanner.stop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((Event::DocumentStart, _)) => {
                documents += 1;
                if documents > 1 {
                    // serde_yaml reports the second document; only the first is mapped.
                    break;
                }
            }
            Ok((event, mark)) => scanner.event(event, &mark),
            Err(e) => {
                scanner.scan.syntax_error = Some((e.info().to_string(), pos(e.marker())));
                break;
            }
        }
    }
    scanner.scan
}

impl Scanner<'_> {
    fn find(
        &mut self,
        code: &'static str,
        pointer: &str,
        at: Pos,
        message: String,
        blocking: bool,
    ) {
        self.scan.findings.push(Finding {
            code,
            pointer: pointer.to_string(),
            pos: at,
            message,
        });
        self.scan.blocking |= blocking;
    }

    /// Works out what the next node is for its parent: a key, or a value at some pointer.
    fn role(&mut self, mark: &Marker, event: &Event) -> Role {
        let Some(top) = self.frames.last_mut() else {
            return Role::Value(Some(String::new()), None);
        };
        let parent = top.pointer.clone();
        match &mut top.kind {
            FrameKind::Seq { next } => {
                let p = parent.map(|p| format!("{p}/{next}"));
                *next += 1;
                Role::Value(p, None)
            }
            FrameKind::Map {
                expect_key,
                member,
                key_pos,
                start_index,
                has_key,
                ..
            } => {
                if *expect_key {
                    *expect_key = false;
                    // A block mapping's start mark sits after its first key; use the key.
                    if !*has_key {
                        *has_key = true;
                        if mark.index() < *start_index {
                            if let Some(p) = &parent {
                                self.scan.spans.values.insert(p.clone(), pos(mark));
                            }
                        }
                    }
                    Role::Key
                } else {
                    *expect_key = true;
                    let empty = matches!(event, Event::Scalar(v, TScalarStyle::Plain, 0, None) if v.is_empty());
                    // An empty value has no text of its own: point at its key instead.
                    let at = empty.then_some(*key_pos);
                    Role::Value(member.take(), at)
                }
            }
        }
    }

    /// Handles a key node: checks it and prepares the member pointer for the value.
    fn key(&mut self, event: &Event, mark: &Marker) {
        let at = pos(mark);
        let Some(Frame {
            kind:
                FrameKind::Map {
                    member,
                    key_pos,
                    seen,
                    ..
                },
            pointer,
            ..
        }) = self.frames.last_mut()
        else {
            return;
        };
        *key_pos = at;
        *member = None;
        let map_pointer = pointer.clone();
        let text = match event {
            Event::Scalar(v, style, _, None)
                if !(*style == TScalarStyle::Plain && plain_is_not_string(v)) =>
            {
                v.clone()
            }
            Event::Scalar(_, _, _, Some(_)) => return, // reported as a tag
            other => {
                let what = match other {
                    Event::Scalar(v, ..) if v.is_empty() => "an empty key".to_string(),
                    Event::Scalar(v, ..) => {
                        format!("`{v}`, which YAML reads as a number, true/false or null")
                    }
                    Event::SequenceStart(..) => "a list".to_string(),
                    Event::MappingStart(..) => "a mapping".to_string(),
                    _ => "an alias".to_string(),
                };
                let message = format!(
                    "keys must be text, but this key is {what}; write it as text (e.g. in quotes)"
                );
                if let Some(mp) = map_pointer {
                    self.find("yaml.non_string_key", &mp, at, message, true);
                }
                return;
            }
        };
        let Some(mp) = map_pointer else { return };
        let member_pointer = child(&mp, &text);
        if !seen.insert(text.clone()) {
            self.scan.findings.push(Finding {
                code: "yaml.duplicate_key",
                pointer: member_pointer.clone(),
                pos: at,
                message: format!(
                    "`{text}` appears twice in the same mapping; only the last one would count, \
                     so remove or rename one of them"
                ),
            });
        }
        self.scan.spans.keys.insert(member_pointer.clone(), at);
        *member = Some(member_pointer);
    }

    fn event(&mut self, event: Event, mark: &Marker) {
        let (is_node, tag) = match &event {
            Event::Scalar(_, _, _, tag) => (true, tag.clone()),
            Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => (true, tag.clone()),
            Event::Alias(_) => (true, None),
            _ => (false, None),
        };
        if is_node {
            let role = self.role(mark, &event);
            let pointer = match role {
                Role::Key => {
                    self.key(&event, mark);
                    None
                }
                Role::Value(pointer, at) => {
                    let at = at.or_else(|| {
                        matches!(event, Event::SequenceStart(..))
                            .then(|| self.dash_before(mark))
                            .flatten()
                    });
                    if let Some(p) = &pointer {
                        self.scan
                            .spans
                            .values
                            .insert(p.clone(), at.unwrap_or_else(|| pos(mark)));
                    }
                    pointer
                }
            };
            if let Some(tag) = tag {
                let shown = format!("{}{}", tag.handle, tag.suffix);
                self.find(
                    "yaml.tag",
                    pointer.as_deref().unwrap_or(""),
                    pos(mark),
                    format!("YAML tags such as `{shown}` are not supported; remove the tag"),
                    true,
                );
            }
            self.node(event, mark, pointer);
        } else if matches!(event, Event::SequenceEnd | Event::MappingEnd) {
            self.end();
        }
    }

    fn node(&mut self, event: Event, mark: &Marker, pointer: Option<String>) {
        let depth = self.frames.len();
        match event {
            Event::Scalar(_, _, anchor, _) => {
                self.nodes += 1;
                if anchor > 0 {
                    self.anchors.insert(anchor, (1, 0));
                }
            }
            Event::Alias(id) => {
                let (size, height) = self.anchors.get(&id).copied().unwrap_or((1, 0));
                self.nodes = self.nodes.saturating_add(size);
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if let Some(top) = self.frames.last_mut() {
                    top.max_child_height = top.max_child_height.max(height);
                }
                let p = pointer.unwrap_or_default();
                if self.alias_nodes > LIMITS.max_alias_expansion {
                    self.find(
                        "yaml.alias_limit",
                        &p,
                        pos(mark),
                        format!(
                            "aliases (`*name`) in this file would expand to more than {} \
                             values; this looks like an alias bomb, so the file was rejected. \
                             Write the values out or use fewer aliases",
                            LIMITS.max_alias_expansion
                        ),
                        true,
                    );
                    self.stop = true;
                } else if depth + height > LIMITS.max_depth {
                    self.too_deep(&p, pos(mark));
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if depth + 1 > LIMITS.max_depth {
                    let p = pointer.unwrap_or_default();
                    // A block mapping is marked after its first key; its own key is clearer.
                    let block_map =
                        matches!(event, Event::MappingStart(..)) && self.char_at(mark) != Some('{');
                    let at = match self.scan.spans.keys.get(&p) {
                        Some(key) if block_map => *key,
                        _ => pos(mark),
                    };
                    self.too_deep(&p, at);
                    return;
                }
                let nodes_before = self.nodes;
                self.nodes += 1;
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    FrameKind::Seq { next: 0 }
                } else {
                    FrameKind::Map {
                        expect_key: true,
                        member: None,
                        key_pos: pos(mark),
                        seen: HashSet::new(),
                        start_index: mark.index(),
                        has_key: false,
                    }
                };
                self.frames.push(Frame {
                    kind,
                    pointer,
                    anchor,
                    nodes_before,
                    max_child_height: 0,
                });
            }
            _ => {}
        }
    }

    fn end(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let height = frame.max_child_height + 1;
        if frame.anchor > 0 {
            let size = self.nodes.saturating_sub(frame.nodes_before);
            self.anchors.insert(frame.anchor, (size, height));
        }
        if let Some(top) = self.frames.last_mut() {
            top.max_child_height = top.max_child_height.max(height);
        }
    }

    /// The character at `mark`.
    fn char_at(&self, mark: &Marker) -> Option<char> {
        let start = *self.line_starts.get(mark.line().checked_sub(1)?)?;
        self.text.get(start..)?.chars().nth(mark.col())
    }

    /// An indentless block sequence (`key:` then `- item` at the key's indentation) is marked
    /// at its first item; its text starts at the `-` before that.
    fn dash_before(&self, mark: &Marker) -> Option<Pos> {
        let start = *self.line_starts.get(mark.line().checked_sub(1)?)?;
        let line = self.text.get(start..)?.split('\n').next()?;
        let before: Vec<char> = line.chars().take(mark.col()).collect();
        let trimmed = before.iter().rposition(|c| *c != ' ')?;
        (before[trimmed] == '-').then(|| (to_u32(mark.line()), to_u32(trimmed + 1)))
    }

    fn too_deep(&mut self, pointer: &str, at: Pos) {
        self.find(
            "yaml.too_deep",
            pointer,
            at,
            format!(
                "lists and mappings are nested more than {} levels deep here; no bundle \
                 document needs that, so the file was rejected",
                LIMITS.max_depth
            ),
            true,
        );
        self.stop = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> SpanMap {
        let s = scan(text);
        assert!(s.syntax_error.is_none(), "{:?}", s.syntax_error);
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        s.spans
    }

    #[test]
    fn block_style_positions_are_one_based_values() {
        let text = "tenant:\n  slug: acme\n  locales:\n    - en\n    - 'de'\norg:\n  regions: []\n";
        let s = spans(text);
        assert_eq!(s.value(""), Some((1, 1)));
        assert_eq!(s.value("/tenant"), Some((2, 3)));
        assert_eq!(s.key("/tenant"), Some((1, 1)));
        assert_eq!(s.value("/tenant/slug"), Some((2, 9)));
        assert_eq!(s.key("/tenant/slug"), Some((2, 3)));
        assert_eq!(s.value("/tenant/locales"), Some((4, 5)));
        assert_eq!(s.value("/tenant/locales/0"), Some((4, 7)));
        assert_eq!(s.value("/tenant/locales/1"), Some((5, 7)));
        assert_eq!(s.value("/org/regions"), Some((7, 12)));
        // Unknown places fall back to the nearest known ancestor.
        assert_eq!(s.value("/tenant/locales/7/x"), Some((4, 5)));
        assert_eq!(s.key("/tenant/nope"), Some((2, 3)));
    }

    #[test]
    fn flow_style_positions() {
        let text = "a: {b: 1, \"c/d\": [x, {e: f}]}\n";
        let s = spans(text);
        assert_eq!(s.value("/a"), Some((1, 4)));
        assert_eq!(s.value("/a/b"), Some((1, 8)));
        assert_eq!(s.key("/a/c~1d"), Some((1, 11)));
        assert_eq!(s.value("/a/c~1d"), Some((1, 18)));
        assert_eq!(s.value("/a/c~1d/0"), Some((1, 19)));
        assert_eq!(s.value("/a/c~1d/1"), Some((1, 22)));
        assert_eq!(s.value("/a/c~1d/1/e"), Some((1, 26)));
    }

    #[test]
    fn json_positions() {
        let text = "{\n  \"tenant\": {\n    \"slug\": \"acme\"\n  }\n}\n";
        let s = spans(text);
        assert_eq!(s.value(""), Some((1, 1)));
        assert_eq!(s.value("/tenant"), Some((2, 13)));
        assert_eq!(s.key("/tenant/slug"), Some((3, 5)));
        assert_eq!(s.value("/tenant/slug"), Some((3, 13)));
    }

    #[test]
    fn empty_value_points_at_its_key() {
        let s = spans("tenant:\n  slug:\n  kind: oem\n");
        assert_eq!(s.value("/tenant/slug"), Some((2, 3)));
        assert_eq!(s.value("/tenant/kind"), Some((3, 9)));
    }

    #[test]
    fn indentless_sequences_and_nested_block_mappings() {
        let text = "roles:\n- code: a\n  grants:\n  - actions: [x]\n    reach: tenant\n";
        let s = spans(text);
        assert_eq!(s.value("/roles"), Some((2, 1)));
        assert_eq!(s.value("/roles/0"), Some((2, 3)));
        assert_eq!(s.value("/roles/0/code"), Some((2, 9)));
        assert_eq!(s.value("/roles/0/grants/0"), Some((4, 5)));
        assert_eq!(s.value("/roles/0/grants/0/reach"), Some((5, 12)));
    }

    #[test]
    fn non_string_keys_tags_and_duplicates_are_found() {
        let s = scan("a: 1\n1: x\n? [k]\n: v\nb: !thing 3\na: 2\n");
        let found: Vec<_> = s
            .findings
            .iter()
            .map(|f| (f.code, f.pointer.as_str(), f.pos))
            .collect();
        assert_eq!(
            found,
            [
                ("yaml.non_string_key", "", (2, 1)),
                ("yaml.non_string_key", "", (3, 3)),
                ("yaml.tag", "/b", (5, 11)),
                ("yaml.duplicate_key", "/a", (6, 1)),
            ]
        );
        assert!(s.blocking);
    }

    #[test]
    fn classifies_plain_scalars() {
        for s in [
            "", "~", "null", "true", "FALSE", "1", "-2", "0x1F", "0o17", "1.5", ".5", "1e3",
            "-.inf", ".nan",
        ] {
            assert!(plain_is_not_string(s), "{s}");
        }
        for s in [
            "en", "zh-CN", "1a", "0x", "1.2.3", "e3", "-", "no", "yes", "on",
        ] {
            assert!(!plain_is_not_string(s), "{s}");
        }
    }

    #[test]
    fn depth_includes_aliases() {
        let mut text = String::from("a: &deep ");
        text.push_str(&"[".repeat(40));
        text.push_str(&"]".repeat(40));
        text.push_str("\nb: ");
        text.push_str(&"[".repeat(30));
        text.push_str("*deep");
        text.push_str(&"]".repeat(30));
        text.push('\n');
        let s = scan(&text);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(s.findings[0].code, "yaml.too_deep");
        assert_eq!(s.findings[0].pos.0, 2);
    }

    #[test]
    fn alias_expansion_is_counted_not_performed() {
        // 10 levels of 10 aliases: 10^10 nodes if expanded.
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        let s = scan(&text);
        assert_eq!(s.findings.len(), 1, "{:?}", s.findings);
        assert_eq!(s.findings[0].code, "yaml.alias_limit");
        assert!(s.blocking);
    }
}
