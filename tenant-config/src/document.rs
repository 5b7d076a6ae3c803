//! One located YAML/JSON document, for other crates: the syntax layer (`yaml.rs`: size
//! limit, alias bombs, nesting depth, tags, duplicate keys) and the shape layer (JSON Schema
//! draft 2020-12, with the same wording and locations as the bundle's own documents) run on a
//! document with any schema, and findings of the caller's own meaning layer are placed at the
//! line and column of a JSON pointer.
//!
//! **Owns** nothing of its own meaning: it is the bundle's loading machinery, opened up so that
//! workflow definitions, page documents and the like are checked and located exactly as
//! `tenant.yaml` is, without a second implementation.
//!
//! ```
//! use forecourt_tenant_config::Document;
//!
//! let mut doc = Document::parse("workflows/x.yaml", "id: x\nstates: [a, a]\n");
//! assert!(!doc.has_errors());
//! let dup = doc.error("workflow.duplicate_state", "/states/1", "`a` twice".into());
//! assert_eq!((dup.line, dup.column), (Some(2), Some(13)));
//! let report = doc.into_report(vec![dup]);
//! assert!(report.has_errors());
//! ```

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bundle::{covered, write_canonical};
use crate::diagnostic::{Diagnostic, Report, Severity};
use crate::limits::LIMITS;
use crate::schema::{self, Kind};
use crate::source::file_too_large;
use crate::spans::{unescape, SpanMap};
use crate::yaml;

pub use crate::diagnostic::{did_you_mean, suggestion};

/// A parsed document with its source positions and the findings of the layers run so far.
#[derive(Debug, Clone)]
pub struct Document {
    file: String,
    value: Option<Value>,
    spans: SpanMap,
    diagnostics: Vec<Diagnostic>,
    /// Members the shape layer reported as unknown fields; [`Document::read`] drops them.
    unknown_members: Vec<String>,
    /// Findings of the shape layer; meaning findings at or below one of them are dropped.
    shape: Vec<Diagnostic>,
}

impl Document {
    /// Runs the syntax layer on `text`, the contents of `file` (a path used in diagnostics).
    ///
    /// A text over [`crate::Limits::max_file_bytes`] is refused at once, without being scanned,
    /// with a `bundle.too_large` error at line 1, column 1. Never panics.
    pub fn parse(file: &str, text: &str) -> Document {
        if text.len() > LIMITS.max_file_bytes {
            return Document {
                file: file.to_string(),
                value: None,
                spans: SpanMap::default(),
                diagnostics: vec![Diagnostic::error(
                    "bundle.too_large",
                    file,
                    "",
                    file_too_large(text.len()),
                )
                .at(Some((1, 1)))],
                unknown_members: Vec::new(),
                shape: Vec::new(),
            };
        }
        let parsed = yaml::parse(file, text);
        Document {
            file: file.to_string(),
            value: parsed.value,
            spans: parsed.spans,
            diagnostics: parsed.diagnostics,
            unknown_members: Vec::new(),
            shape: Vec::new(),
        }
    }

    /// Runs the shape layer: checks the document against `schema` (compiled as `validator`,
    /// draft 2020-12) and adds one located diagnostic per violation, worded with the schema's
    /// `description`s. `name` says what the document is (`workflow`), for messages. Does
    /// nothing when the syntax layer failed.
    pub fn check_schema(
        &mut self,
        schema: &'static Value,
        validator: &'static jsonschema::Validator,
        name: &'static str,
    ) {
        let Some(value) = &self.value else { return };
        let kind = Kind::Other {
            root: schema,
            validator,
            name,
        };
        let shape = schema::check(kind, &self.file, value, &self.spans);
        self.unknown_members.extend(shape.unknown_members);
        self.shape.extend(shape.diagnostics.iter().cloned());
        self.diagnostics.extend(shape.diagnostics);
    }

    /// Checks `part`, the value at pointer `at` (e.g. one block's props, or its default when
    /// the document leaves it out), against a schema of its own; the findings point into the
    /// whole document and are located like the rest. They are returned, not added to the
    /// document's own diagnostics.
    pub fn check_part(
        &self,
        at: &str,
        part: &Value,
        schema: &Value,
        validator: &jsonschema::Validator,
    ) -> Vec<Diagnostic> {
        schema::check_part(schema, validator, at, &self.file, part, &self.spans).diagnostics
    }

    /// The file path given to [`Document::parse`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The parsed value, when the syntax layer passed (even if the shape layer did not).
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    /// The value read into a typed model, after dropping the members the shape layer reported
    /// as unknown fields, so that a meaning layer can still run on a document with shape
    /// errors. `None` when there is no value or it does not fit `T`.
    pub fn read<T: DeserializeOwned>(&self) -> Option<T> {
        let mut readable = self.value.clone()?;
        for member in &self.unknown_members {
            if let Some((parent, key)) = member.rsplit_once('/') {
                if let Some(object) = readable.pointer_mut(parent).and_then(Value::as_object_mut) {
                    object.remove(&unescape(key));
                }
            }
        }
        serde_json::from_value(readable).ok()
    }

    /// The findings of the layers run so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether any finding so far is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// Where the value at `pointer` starts (1-based line and column); for a place that is not
    /// in the text (say, inside an alias), the nearest enclosing node that is.
    pub fn position(&self, pointer: &str) -> Option<(u32, u32)> {
        self.spans.value(pointer)
    }

    /// Where the key of the mapping member at `pointer` starts, else as
    /// [`Document::position`].
    pub fn key_position(&self, pointer: &str) -> Option<(u32, u32)> {
        self.spans.key(pointer)
    }

    /// An error about the value at `pointer`, placed where that value starts.
    pub fn error(&self, code: &'static str, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::error(code, &self.file, pointer, message).at(self.position(pointer))
    }

    /// An error about the mapping member at `pointer`, placed at its key.
    pub fn key_error(&self, code: &'static str, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::error(code, &self.file, pointer, message).at(self.key_position(pointer))
    }

    /// A warning about the value at `pointer`, placed where that value starts.
    pub fn warning(&self, code: &'static str, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::warning(code, &self.file, pointer, message).at(self.position(pointer))
    }

    /// Every finding: those of the layers run here and the caller's `extra` ones (its meaning
    /// layer), sorted by position, duplicates removed. An extra finding at or below a place
    /// that already has a shape error (other than an unknown field) is dropped as its
    /// consequence.
    pub fn into_report(self, extra: Vec<Diagnostic>) -> Report {
        let shape = self.shape;
        let mut all = self.diagnostics;
        all.extend(extra.into_iter().filter(|d| !covered(&shape, &d.pointer)));
        Report::new(all)
    }

    /// `value` as canonical JSON: object keys sorted, no whitespace. Two documents that mean
    /// the same (whatever their formatting, comments, key order or YAML/JSON syntax) give the
    /// same text; hash it for a content hash.
    pub fn canonical_json(value: &Value) -> String {
        let mut out = String::new();
        write_canonical(value, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    fn schema() -> (&'static Value, &'static jsonschema::Validator) {
        static SCHEMA: OnceLock<Value> = OnceLock::new();
        static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
        let schema = SCHEMA.get_or_init(|| {
            serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "additionalProperties": false,
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z]+$",
                           "description": "Lower-case letters only."},
                    "size": {"type": "integer", "minimum": 1, "description": "How many."}
                }
            })
        });
        let validator = VALIDATOR.get_or_init(|| jsonschema::draft202012::new(schema).unwrap());
        (schema, validator)
    }

    fn found(report: &Report) -> Vec<(&'static str, Option<u32>, Option<u32>, &str)> {
        report
            .diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.column, d.pointer.as_str()))
            .collect()
    }

    #[derive(serde::Deserialize)]
    struct Doc {
        id: String,
        size: Option<i64>,
    }

    #[test]
    fn syntax_error_is_located() {
        let doc = Document::parse("w.yaml", "id: a\n  size: 1\n");
        assert!(doc.has_errors());
        assert!(doc.value().is_none());
        let report = doc.into_report(Vec::new());
        assert_eq!(found(&report), [("yaml.syntax", Some(2), Some(7), "")]);
        assert_eq!(report.diagnostics[0].file, "w.yaml");
    }

    #[test]
    fn schema_errors_are_located_and_worded_with_descriptions() {
        let (root, validator) = schema();
        let mut doc = Document::parse("w.yaml", "id: Bad\nsize: 0\ncolour: red\n");
        doc.check_schema(root, validator, "test");
        assert!(doc.has_errors());
        let pattern = doc
            .diagnostics()
            .iter()
            .find(|d| d.code == "schema.pattern")
            .unwrap();
        assert!(
            pattern.message.contains("Lower-case letters only."),
            "{}",
            pattern.message
        );
        // The unknown field is dropped when reading, so a meaning layer can still run.
        let typed: Doc = doc.read().unwrap();
        assert_eq!((typed.id.as_str(), typed.size), ("Bad", Some(0)));
        // A meaning finding below a shape error is its consequence and is dropped; others stay.
        let consequence = doc.error("test.id", "/id", "bad id".into());
        let also = doc.key_error("test.size", "/size", "odd size".into());
        let own = doc.error("test.whole", "", "odd document".into());
        let report = doc.into_report(vec![consequence, also, own]);
        assert_eq!(
            found(&report),
            [
                ("test.whole", Some(1), Some(1), ""),
                ("schema.pattern", Some(1), Some(5), "/id"),
                ("schema.range", Some(2), Some(7), "/size"),
                ("schema.additional_property", Some(3), Some(1), ""),
            ]
        );
    }

    #[test]
    fn meaning_errors_are_placed_at_values_and_keys() {
        let doc = Document::parse("w.json", "{\n  \"id\": \"x\",\n  \"size\": [1, 2]\n}");
        assert!(!doc.has_errors());
        let at_value = doc.error("t.x", "/size/1", String::new());
        let at_key = doc.key_error("t.x", "/size", String::new());
        let nearest = doc.error("t.x", "/size/1/deeper", String::new());
        assert_eq!((at_value.line, at_value.column), (Some(3), Some(15)));
        assert_eq!((at_key.line, at_key.column), (Some(3), Some(3)));
        assert_eq!((nearest.line, nearest.column), (Some(3), Some(15)));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let started = Instant::now();
        let doc = Document::parse("w.yaml", &text);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(doc.value().is_none());
        assert_eq!(doc.diagnostics()[0].code, "yaml.alias_limit");
        assert!(doc.diagnostics()[0].line.is_some());
    }

    #[test]
    fn oversized_text_is_refused_without_scanning() {
        // Ten megabytes of something that would be slow to scan if it were scanned.
        let text = "[".repeat(10 * 1024 * 1024);
        let started = Instant::now();
        let mut doc = Document::parse("w.yaml", &text);
        let (root, validator) = schema();
        doc.check_schema(root, validator, "test");
        assert!(started.elapsed() < Duration::from_millis(100));
        let report = doc.into_report(Vec::new());
        assert_eq!(found(&report), [("bundle.too_large", Some(1), Some(1), "")]);
        assert!(report.diagnostics[0].message.contains("1048576"));
    }

    #[test]
    fn canonical_json_ignores_formatting() {
        let yaml = Document::parse("a.yaml", "# note\nb: [1, {z: 2, a: x}]\na: true\n");
        let json = Document::parse("a.json", r#"{"a": true, "b": [1, {"a": "x", "z": 2}]}"#);
        let (y, j) = (yaml.value().unwrap(), json.value().unwrap());
        assert_eq!(Document::canonical_json(y), Document::canonical_json(j));
        assert_eq!(
            Document::canonical_json(y),
            r#"{"a":true,"b":[1,{"a":"x","z":2}]}"#
        );
    }
}
