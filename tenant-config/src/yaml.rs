//! Layer one: YAML syntax. Turns one file's text into a `serde_json::Value` plus a span map,
//! or into diagnostics. JSON files take the same path (JSON is YAML).
//!
//! Order matters for hostile input: the structural scan ([`crate::spans`]) runs first and
//! never expands aliases, so alias bombs and absurd nesting are rejected before serde_yaml
//! materialises anything. serde_yaml's own limits (alias repetition, recursion depth 128) stay
//! as a second fence.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::source::to_u32;
use crate::spans::{self, SpanMap};

/// One parsed document: its value when the syntax layer passed, its span map, and findings.
pub(crate) struct Parsed {
    pub value: Option<Value>,
    pub spans: SpanMap,
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a bundle file is a YAML/JSON document (as opposed to a script or template).
pub(crate) fn is_document(path: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Parses one document. Never panics.
pub(crate) fn parse(file: &str, text: &str) -> Parsed {
    let scan = spans::scan(text);
    let mut diagnostics: Vec<Diagnostic> = scan
        .findings
        .iter()
        .map(|f| Diagnostic::error(f.code, file, &f.pointer, f.message.clone()).at(Some(f.pos)))
        .collect();
    if let Some((info, at)) = &scan.syntax_error {
        // yaml-rust2 looks ahead through flow collections and gives up at 255 levels.
        if info.contains("recursion limit exceeded") {
            diagnostics.push(
                Diagnostic::error("yaml.too_deep", file, "", too_deep_message()).at(Some(*at)),
            );
            return Parsed {
                value: None,
                spans: scan.spans,
                diagnostics,
            };
        }
    }
    if scan.blocking {
        if let Some((info, at)) = &scan.syntax_error {
            diagnostics.push(syntax(file, info, Some(*at)));
        }
        return Parsed {
            value: None,
            spans: scan.spans,
            diagnostics,
        };
    }
    let value = match serde_yaml::from_str::<Value>(text) {
        Ok(value) => match &scan.syntax_error {
            // The two parsers disagree; trust the stricter one.
            Some((info, at)) => {
                diagnostics.push(syntax(file, info, Some(*at)));
                None
            }
            None => Some(value),
        },
        Err(e) => {
            diagnostics.push(from_serde_yaml(
                file,
                &e,
                scan.syntax_error.as_ref().map(|s| s.1),
            ));
            None
        }
    };
    Parsed {
        value,
        spans: scan.spans,
        diagnostics,
    }
}

fn too_deep_message() -> String {
    format!(
        "lists and mappings are nested more than {} levels deep here; no bundle document needs \
         that, so the file was rejected",
        crate::LIMITS.max_depth
    )
}

fn syntax(file: &str, info: &str, at: Option<(u32, u32)>) -> Diagnostic {
    Diagnostic::error(
        "yaml.syntax",
        file,
        "",
        format!(
            "this is not valid YAML: {info}. Check the indentation, colons, quotes and brackets \
             around this place"
        ),
    )
    .at(at)
}

fn from_serde_yaml(file: &str, e: &serde_yaml::Error, fallback: Option<(u32, u32)>) -> Diagnostic {
    let mut text = e.to_string();
    let at = e
        .location()
        .map(|l| (to_u32(l.line()), to_u32(l.column())))
        .or(fallback);
    if let Some((line, column)) = at {
        // The position is reported on its own; keep the rest of the text (it may name an
        // earlier place, e.g. "while parsing a flow sequence at line 4 column 12").
        text = text.replacen(&format!(" at line {line} column {column}"), "", 1);
    }
    if text.contains("repetition limit exceeded") {
        return Diagnostic::error(
            "yaml.alias_limit",
            file,
            "",
            "aliases (`*name`) in this file repeat content too often; this looks like an alias \
             bomb, so the file was rejected"
                .to_string(),
        )
        .at(at);
    }
    if text.contains("recursion limit exceeded") {
        return Diagnostic::error("yaml.too_deep", file, "", too_deep_message()).at(at);
    }
    if text.contains("more than one document") {
        return Diagnostic::error(
            "yaml.syntax",
            file,
            "",
            "this file holds more than one YAML document (a second `---`); a bundle file must \
             hold exactly one"
                .to_string(),
        )
        .at(at);
    }
    syntax(file, &text, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(p: &Parsed) -> Vec<(&'static str, Option<u32>, Option<u32>)> {
        p.diagnostics
            .iter()
            .map(|d| (d.code, d.line, d.column))
            .collect()
    }

    #[test]
    fn parses_yaml_and_json() {
        let y = parse("tenant.yaml", "a: [1, two]\nb: {c: null}\n");
        let j = parse("tenant.json", "{\"a\": [1, \"two\"], \"b\": {\"c\": null}}");
        assert!(y.diagnostics.is_empty() && j.diagnostics.is_empty());
        assert_eq!(y.value, j.value);
        assert_eq!(y.value.unwrap()["a"][1], "two");
    }

    #[test]
    fn syntax_errors_have_serde_yaml_locations() {
        let p = parse("tenant.yaml", "tenant:\n  slug: acme\n   kind: oem\n");
        assert!(p.value.is_none());
        assert_eq!(codes(&p), [("yaml.syntax", Some(3), Some(8))]);
        assert!(p.diagnostics[0]
            .message
            .contains("mapping values are not allowed"));
        assert!(!p.diagnostics[0].message.contains("at line 3 column 8."));
    }

    #[test]
    fn unclosed_flow_sequence() {
        let p = parse("tenant.yaml", "locales: [en, de\ncurrency: EUR\n");
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].code, "yaml.syntax");
        assert_eq!(p.diagnostics[0].line, Some(2));
    }

    #[test]
    fn second_document_is_rejected() {
        let p = parse("tenant.yaml", "a: 1\n---\nb: 2\n");
        assert_eq!(p.diagnostics.len(), 1);
        assert!(p.diagnostics[0]
            .message
            .contains("more than one YAML document"));
    }

    #[test]
    fn serde_yaml_has_its_own_alias_repetition_limit() {
        // The second fence: serde_yaml 0.9 alone refuses a classic billion-laughs document
        // without expanding it (it counts alias jumps against 100 × the number of events).
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let err = serde_yaml::from_str::<Value>(&text).unwrap_err();
        assert!(
            err.to_string().contains("repetition limit exceeded"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // Our own scan stops it earlier still, with a location.
        let p = parse("tenant.yaml", &text);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].code, "yaml.alias_limit");
        assert!(p.diagnostics[0].line.is_some());
    }

    #[test]
    fn wide_alias_fan_out_is_stopped_by_the_scan() {
        // Few jumps but large targets: within serde_yaml's jump budget, yet it would
        // materialise tens of millions of nodes. The scan counts and stops it.
        let big = vec!["x"; 20_000].join(", ");
        let refs = vec!["*big"; 20_000].join(", ");
        let text = format!("big: &big [{big}]\ncopies: [{refs}]\n");
        let started = std::time::Instant::now();
        let p = parse("tenant.yaml", &text);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(codes(&p)[0].0, "yaml.alias_limit");
        assert_eq!(p.diagnostics[0].line, Some(2));
    }

    #[test]
    fn nesting_beyond_the_limit_is_rejected() {
        // Far too deep: yaml-rust2's look-ahead gives up first; serde_yaml never runs.
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let p = parse("tenant.yaml", &text);
        assert_eq!(codes(&p).len(), 1);
        assert_eq!(codes(&p)[0].0, "yaml.too_deep");
        // Just too deep: found by the scan at the 65th level.
        let text = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let p = parse("tenant.yaml", &text);
        assert_eq!(codes(&p), [("yaml.too_deep", Some(1), Some(65))]);
        let text = format!("a: {}1{}", "[".repeat(64), "]".repeat(64));
        let p = parse("tenant.yaml", &text);
        assert_eq!(codes(&p), [("yaml.too_deep", Some(1), Some(67))]);
        // 64 levels are fine.
        let text = format!("{}1{}", "[".repeat(64), "]".repeat(64));
        assert!(parse("tenant.yaml", &text).diagnostics.is_empty());
    }

    #[test]
    fn tags_and_non_string_keys_block_parsing() {
        let p = parse("tenant.yaml", "a: !secret x\n");
        assert!(p.value.is_none());
        // Anchors and tags come before a node's mark, which is at its content.
        assert_eq!(codes(&p), [("yaml.tag", Some(1), Some(12))]);
        let p = parse("tenant.yaml", "true: x\n");
        assert!(p.value.is_none());
        assert_eq!(codes(&p), [("yaml.non_string_key", Some(1), Some(1))]);
    }

    #[test]
    fn a_later_syntax_error_is_reported_with_earlier_findings() {
        let p = parse("tenant.yaml", "a: !x 1\nb: [1, 2\n");
        assert_eq!(p.diagnostics.len(), 2);
        assert_eq!(p.diagnostics[0].code, "yaml.tag");
        assert_eq!(p.diagnostics[1].code, "yaml.syntax");
        assert_eq!(p.diagnostics[1].line, Some(3));
    }

    #[test]
    fn duplicate_keys_are_reported_but_parsing_goes_on() {
        let p = parse("tenant.yaml", "a: 1\nb: 2\na: 3\n");
        assert_eq!(codes(&p), [("yaml.duplicate_key", Some(3), Some(1))]);
        assert_eq!(p.value.unwrap()["a"], 3);
    }
}
