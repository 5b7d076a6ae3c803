//! Loading a page document: syntax, shape (`page.schema.json`), the blocks (types, props against
//! each block type's schema, ids, nesting, size, tenant templates) and, given the tenant's
//! [`Site`], references and locales. Every problem is reported at once, each located by file,
//! JSON pointer and, when loaded from text, line and column.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use forecourt_tenant_config::document::suggestion;
use forecourt_tenant_config::{Diagnostic, Document, Report};
use jsonschema::Validator;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::blocks::{BlockKind, Library};
use crate::document::{BlockNode, PageDocument, SCHEMA_VERSION};
use crate::render::{Page, Sandboxes};
use crate::route::Route;
use crate::sandbox::SandboxTemplate;
use crate::site::Site;

const PAGE_SCHEMA_TEXT: &str = include_str!("../schema/page.schema.json");

/// Deepest nesting of blocks (top-level blocks are at depth 1).
pub const MAX_DEPTH: usize = 8;
/// Most blocks in one page, nested ones included.
pub const MAX_BLOCKS: usize = 200;

/// The page schema, parsed once.
pub(crate) fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // Embedded and checked by a unit test; `false` (reject everything) only for a broken build.
    SCHEMA.get_or_init(|| serde_json::from_str(PAGE_SCHEMA_TEXT).unwrap_or(Value::Bool(false)))
}

fn validator() -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| jsonschema::draft202012::new(schema()).ok())
        .as_ref()
}

/// `pointer` + `/` + `token`, escaped as RFC 6901 wants.
fn child(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Loads `text` (`file` names it in diagnostics).
pub(crate) fn load(
    library: &Library,
    file: &str,
    text: &str,
    site: Option<&Site>,
) -> Result<Page, Report> {
    let mut doc = Document::parse(file, text);
    let Some(value) = doc.value().cloned() else {
        return Err(finish(doc.into_report(Vec::new())));
    };
    match validator() {
        Some(v) => doc.check_schema(schema(), v, "page"),
        None => {
            let broken = doc.error(
                "page.internal",
                "",
                "internal error: the page schema does not compile".into(),
            );
            return Err(finish(doc.into_report(vec![broken])));
        }
    }
    let mut checker = Checker {
        library,
        doc: &doc,
        site,
        out: Vec::new(),
        ids: HashMap::new(),
        count: 0,
        too_deep: false,
        sandboxes: HashMap::new(),
    };
    checker.page(&value);
    let Checker { out, sandboxes, .. } = checker;
    let typed: Option<PageDocument> = doc.read();
    let report = finish(combine(doc.into_report(Vec::new()), out));
    if report.has_errors() {
        return Err(report);
    }
    let Some(mut page) = typed else {
        return Err(Report::new(vec![Diagnostic::error(
            "schema.model",
            file,
            "",
            "the document passed the checks but could not be read as a page (a bug; please report it)"
                .into(),
        )]));
    };
    normalize(&mut page.blocks);
    let route = Route::parse(&page.route)
        .map_err(|e| Report::new(vec![Diagnostic::error("page.route", file, "/route", e)]))?;
    let canonical = serde_json::to_value(&page)
        .map(|v| Document::canonical_json(&v))
        .unwrap_or_default();
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok(Page::assemble(
        page,
        route,
        hash,
        Arc::new(Sandboxes::new(sandboxes)),
    ))
}

/// Loads an already-parsed value: as [`load`], without line and column.
pub(crate) fn load_value(
    library: &Library,
    file: &str,
    value: &Value,
    site: Option<&Site>,
) -> Result<Page, Report> {
    let text = serde_json::to_string(value).unwrap_or_default();
    load(library, file, &text, site).map_err(|mut report| {
        for d in &mut report.diagnostics {
            d.line = None;
            d.column = None;
        }
        report
    })
}

/// The syntax and shape findings plus the block and meaning findings, less those at or below
/// a place with a shape error (their consequence). Unlike [`Document::into_report`], a missing
/// field (`schema.required`, say `meta` at the top) or an unknown one does not hide the findings
/// about its neighbours, so that one load still reports every block's problems.
fn combine(shape: Report, extra: Vec<Diagnostic>) -> Report {
    let covering: Vec<&Diagnostic> = shape
        .diagnostics
        .iter()
        .filter(|d| d.code != "schema.additional_property" && d.code != "schema.required")
        .collect();
    let kept: Vec<Diagnostic> = extra
        .into_iter()
        .filter(|e| {
            !covering.iter().any(|d| {
                e.pointer == d.pointer
                    || (e.pointer.starts_with(&d.pointer)
                        && e.pointer[d.pointer.len()..].starts_with('/'))
            })
        })
        .collect();
    let mut all = shape.diagnostics;
    all.extend(kept);
    Report::new(all)
}

/// Absent props become `{}`.
fn normalize(blocks: &mut [BlockNode]) {
    for block in blocks {
        if block.props.is_null() {
            block.props = Value::Object(Map::new());
        }
        normalize(&mut block.children);
    }
}

/// Page-specific codes for what the generic layers report about pages.
fn finish(mut report: Report) -> Report {
    for d in &mut report.diagnostics {
        if d.code == "bundle.too_large" {
            d.code = "page.too_large";
            d.message = format!("the page document is too large: {}", d.message);
        } else if d.pointer == "/schema_version" && d.code.starts_with("schema.") {
            d.code = "page.schema_version";
            d.message = version_message(&d.message);
        }
    }
    report
}

fn version_message(original: &str) -> String {
    // The shape layer's message starts with the value in backticks: "`2` is not allowed…".
    let found = original
        .strip_prefix('`')
        .and_then(|rest| rest.split_once('`'))
        .map(|(value, _)| value.to_string());
    match found {
        Some(v) if v.parse::<i64>().is_ok() => format!(
            "this document is page format `schema_version: {v}`, but this build reads page format {SCHEMA_VERSION} only; write it as format {SCHEMA_VERSION}, or load it with a build that reads format {v}"
        ),
        _ => format!(
            "`schema_version` must be the whole number {SCHEMA_VERSION} (the page format this build reads). {original}"
        ),
    }
}

/// The block and meaning checks; collects diagnostics.
struct Checker<'a> {
    library: &'a Library,
    doc: &'a Document,
    site: Option<&'a Site>,
    out: Vec<Diagnostic>,
    /// Block id → pointer of its first use.
    ids: HashMap<String, String>,
    count: usize,
    too_deep: bool,
    sandboxes: HashMap<String, SandboxTemplate>,
}

impl Checker<'_> {
    fn error(&mut self, code: &'static str, pointer: &str, message: String) {
        let d = self.doc.error(code, pointer, message);
        self.out.push(d);
    }

    fn page(&mut self, value: &Value) {
        if let Some(route) = value.get("route").and_then(Value::as_str) {
            if let Err(e) = Route::parse(route) {
                self.error("page.route", "/route", e);
            }
        }
        if let Some(site) = self.site {
            if let Some(meta) = value.get("meta").and_then(Value::as_object) {
                let default = site.tenant.default_locale.as_str();
                if !default.is_empty() && !meta.contains_key(default) {
                    let have = meta
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.error(
                        "page.meta_missing",
                        "/meta",
                        format!(
                            "the page has no title in the tenant's default locale `{default}` (it has {have}); add `meta.{default}.title`"
                        ),
                    );
                }
            }
        }
        if let Some(blocks) = value.get("blocks").and_then(Value::as_array) {
            self.blocks(blocks, "/blocks", 1);
        }
        if self.count > MAX_BLOCKS {
            let count = self.count;
            self.error(
                "page.too_large",
                "/blocks",
                format!(
                    "the page has {count} blocks (nested ones included); at most {MAX_BLOCKS} are allowed"
                ),
            );
        }
    }

    fn blocks(&mut self, blocks: &[Value], pointer: &str, depth: usize) {
        if depth > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.error(
                    "page.too_large",
                    pointer,
                    format!(
                        "blocks are nested more than {MAX_DEPTH} levels deep here; at most {MAX_DEPTH} levels are allowed"
                    ),
                );
            }
            return;
        }
        for (i, block) in blocks.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            self.count += 1;
            if self.count > MAX_BLOCKS {
                // Counted, not checked: the page is refused as too large anyway.
                if let Some(children) = block.get("children").and_then(Value::as_array) {
                    self.count_only(children);
                }
                continue;
            }
            self.block(block, &at, depth);
        }
    }

    fn count_only(&mut self, blocks: &[Value]) {
        for block in blocks {
            self.count += 1;
            if let Some(children) = block.get("children").and_then(Value::as_array) {
                self.count_only(children);
            }
        }
    }

    fn block(&mut self, block: &Value, at: &str, depth: usize) {
        let Some(object) = block.as_object() else {
            return; // the shape layer reports it
        };
        if let Some(id) = object.get("id").and_then(Value::as_str) {
            match self.ids.get(id) {
                Some(first) => {
                    let first = first.clone();
                    self.error(
                        "page.duplicate_block_id",
                        &child(at, "id"),
                        format!(
                            "the block id `{id}` is already used by the block at {first}; block ids must be unique in a page"
                        ),
                    );
                }
                None => {
                    self.ids.insert(id.to_string(), at.to_string());
                }
            }
        }
        let kind = match object.get("type").and_then(Value::as_str) {
            Some(name) => match self.library.get(name) {
                Some(kind) => Some(kind),
                None => {
                    let hint = suggestion(name, self.library.names());
                    self.error(
                        "page.unknown_block",
                        &child(at, "type"),
                        format!(
                            "`{name}` is not a block type.{hint} Block types: {}.",
                            self.library.names().join(", ")
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let children = object.get("children").and_then(Value::as_array);
        if let Some(kind) = kind {
            if !kind.container() && children.is_some_and(|c| !c.is_empty()) {
                self.error(
                    "page.children_not_allowed",
                    &child(at, "children"),
                    format!(
                        "a `{}` block cannot hold other blocks; move them out of `children` (container blocks such as `section` can hold them)",
                        kind.name()
                    ),
                );
            }
            let empty = Value::Object(Map::new());
            let props = object.get("props").unwrap_or(&empty);
            self.props(kind, props, object, &child(at, "props"));
        }
        if let Some(children) = children {
            self.blocks(children, &child(at, "children"), depth + 1);
        }
    }

    fn props(&mut self, kind: &dyn BlockKind, props: &Value, block: &Map<String, Value>, at: &str) {
        if !props.is_object() {
            return; // the shape layer reports it
        }
        let name = kind.name();
        let (Some(schema), Some(validator)) =
            (self.library.schema(name), self.library.validator(name))
        else {
            return;
        };
        let validator = match validator {
            Ok(v) => v,
            Err(e) => {
                let message = format!(
                    "internal error: the props schema of the `{name}` block type does not compile ({e}); please report it"
                );
                self.error("page.internal", at, message);
                return;
            }
        };
        let before = self.out.len();
        self.out
            .extend(self.doc.check_part(at, props, schema, validator));
        if self.out.len() > before {
            return; // meaning checks need valid props
        }
        if let Some(site) = self.site {
            let found = catch_unwind(AssertUnwindSafe(|| kind.check(props, site)));
            match found {
                Ok(found) => {
                    for (inner, message) in found {
                        let pointer = if inner.is_empty() || inner.starts_with('/') {
                            format!("{at}{inner}")
                        } else {
                            format!("{at}/{inner}")
                        };
                        self.error("page.reference", &pointer, message);
                    }
                }
                Err(_) => self.error(
                    "page.internal",
                    at,
                    format!(
                        "internal error: checking this `{name}` block failed; please report it"
                    ),
                ),
            }
        }
        if name == "template" {
            self.template(props, block, at);
        }
    }

    /// A tenant template: the sandbox rules, compiled once for the page.
    fn template(&mut self, props: &Value, block: &Map<String, Value>, at: &str) {
        let source = props.get("template").and_then(Value::as_str).unwrap_or("");
        let data = props
            .get("data")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        match SandboxTemplate::compile(source) {
            Ok(compiled) => {
                if let Err(e) = compiled.check_data(&data) {
                    self.error("page.template", &child(at, "data"), e);
                } else if let Some(id) = block.get("id").and_then(Value::as_str) {
                    self.sandboxes.insert(id.to_string(), compiled);
                }
            }
            Err(e) => self.error(
                "page.template",
                &child(at, "template"),
                format!("the template is not allowed: {e}"),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Every object schema is closed and every property carries a description.
    #[test]
    fn page_schema_compiles_and_is_described() {
        fn walk(path: &str, v: &Value) {
            if let Some(o) = v.as_object() {
                if o.contains_key("properties") {
                    assert_eq!(
                        o.get("additionalProperties"),
                        Some(&Value::Bool(false)),
                        "{path}"
                    );
                    for (name, prop) in o["properties"].as_object().unwrap() {
                        let described = prop.get("description").is_some();
                        assert!(described, "{path}/properties/{name}");
                    }
                }
                for (k, c) in o {
                    walk(&format!("{path}/{k}"), c);
                }
            } else if let Some(a) = v.as_array() {
                for (i, c) in a.iter().enumerate() {
                    walk(&format!("{path}/{i}"), c);
                }
            }
        }
        let s = schema();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert!(validator().is_some());
        walk("", s);
        let p = |ptr: &str| s.pointer(ptr).unwrap().clone();
        assert_eq!(p("/properties/id/pattern"), "^[a-z][a-z0-9-]{0,47}$");
        assert_eq!(
            p("/$defs/block/properties/id/pattern"),
            "^[a-z0-9][a-z0-9_-]{0,63}$"
        );
        assert_eq!(p("/properties/schema_version/const"), SCHEMA_VERSION);
        assert_eq!(
            p("/$defs/block/properties/channels/items/enum"),
            serde_json::json!(["web", "app", "mini"])
        );
    }

    #[test]
    fn pointers_escape_tokens() {
        assert_eq!(child("/a", "b/c~d"), "/a/b~1c~0d");
    }
}
