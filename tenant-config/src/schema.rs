//! Layer two: shape. The JSON Schemas (draft 2020-12) of `tenant.yaml`
//! (`schema/tenant.schema.json`) and of catalog files (`schema/catalog.schema.json`), embedded
//! at build time, and the mapping of every schema violation to a located diagnostic in words a
//! tenant admin understands (using the schema's own `description` texts as the explanation of
//! what a field expects).

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic::{suggestion, Diagnostic};
use crate::spans::{child, SpanMap};

const TENANT_SCHEMA_TEXT: &str = include_str!("../schema/tenant.schema.json");
const CATALOG_SCHEMA_TEXT: &str = include_str!("../schema/catalog.schema.json");

/// The JSON Schema (draft 2020-12) of `tenant.yaml`; strict: every object forbids unknown
/// properties. Served to editors and admins as is.
pub fn tenant_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // The text is embedded and checked by a unit test; `false` (reject everything) would only
    // appear if a broken schema file were ever built in.
    SCHEMA.get_or_init(|| serde_json::from_str(TENANT_SCHEMA_TEXT).unwrap_or(Value::Bool(false)))
}

/// The JSON Schema (draft 2020-12) of a catalog file (`catalog/**/*.yaml`); strict like
/// [`tenant_schema`]. Served to editors and admins as is.
pub fn catalog_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(CATALOG_SCHEMA_TEXT).unwrap_or(Value::Bool(false)))
}

/// Which kind of document a schema check is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `tenant.yaml`.
    Tenant,
    /// A file under `catalog/`.
    Catalog,
    /// A document with a schema of its own, e.g. a workflow definition checked through
    /// [`crate::Document::check_schema`].
    Other {
        /// The schema, whose `description`s explain the findings.
        root: &'static Value,
        /// `root`, compiled.
        validator: &'static Validator,
        /// What the document is, for messages (`workflow`).
        name: &'static str,
    },
}

impl Kind {
    fn root(self) -> &'static Value {
        match self {
            Kind::Tenant => tenant_schema(),
            Kind::Catalog => catalog_schema(),
            Kind::Other { root, .. } => root,
        }
    }

    /// `tenant`, `catalog` or the name given with [`Kind::Other`], for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Catalog => "catalog",
            Kind::Other { name, .. } => name,
        }
    }

    fn validator(self) -> Result<&'static Validator, &'static str> {
        static TENANT: OnceLock<Result<Validator, String>> = OnceLock::new();
        static CATALOG: OnceLock<Result<Validator, String>> = OnceLock::new();
        let cell = match self {
            Kind::Tenant => &TENANT,
            Kind::Catalog => &CATALOG,
            Kind::Other { validator, .. } => return Ok(validator),
        };
        cell.get_or_init(|| jsonschema::draft202012::new(self.root()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// What the shape layer found.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// One diagnostic per violation.
    pub diagnostics: Vec<Diagnostic>,
    /// Pointers of members that are not known fields (already reported); dropping them lets
    /// the meaning layer still run.
    pub unknown_members: Vec<String>,
}

/// Checks `value` (a parsed document of the given kind) against its schema.
pub(crate) fn check(kind: Kind, file: &str, value: &Value, spans: &SpanMap) -> Shape {
    let mut shape = Shape::default();
    let validator = match kind.validator() {
        Ok(v) => v,
        Err(e) => {
            shape.diagnostics.push(Diagnostic::error(
                "schema.other",
                file,
                "",
                format!(
                    "internal error: the {} schema could not be compiled: {e}",
                    kind.name()
                ),
            ));
            return shape;
        }
    };
    for error in validator.iter_errors(value) {
        map_error(kind.root(), "", file, &error, spans, &mut shape);
    }
    shape
}

/// Checks `value`, the part of a document at pointer `at`, against its own schema `root`
/// (compiled as `validator`): the findings point into the whole document (`at` + the path).
pub(crate) fn check_part(
    root: &Value,
    validator: &Validator,
    at: &str,
    file: &str,
    value: &Value,
    spans: &SpanMap,
) -> Shape {
    let mut shape = Shape::default();
    for error in validator.iter_errors(value) {
        map_error(root, at, file, &error, spans, &mut shape);
    }
    shape
}

/// The schema object that holds the keyword at `schema_path` (the path minus its last part).
fn subschema<'r>(root: &'r Value, schema_path: &str) -> Option<&'r Value> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    root.pointer(parent)
}

/// A schema object's description, following a `$ref` when it has none of its own.
fn description<'r>(root: &'r Value, schema: Option<&'r Value>) -> Option<&'r str> {
    let schema = schema?;
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        return Some(d);
    }
    let target = schema.get("$ref")?.as_str()?.strip_prefix('#')?;
    root.pointer(target)?
        .get("description")
        .and_then(Value::as_str)
}

/// ` {description}` or nothing.
fn explain<'r>(root: &'r Value, schema: Option<&'r Value>) -> String {
    description(root, schema)
        .map(|d| format!(" Expected: {d}"))
        .unwrap_or_default()
}

/// A value as a tenant admin wrote it, shortened.
pub(crate) fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

/// What kind of value this is, in words.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (an empty value)",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping of `key: value` pairs",
    }
}

fn type_word(t: &str) -> &'static str {
    match t {
        "string" => "text",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping of `key: value` pairs",
        "null" => "nothing",
        _ => "another kind of value",
    }
}

fn map_error<'r>(
    root: &'r Value,
    at: &str,
    file: &str,
    error: &ValidationError<'_>,
    spans: &SpanMap,
    shape: &mut Shape,
) {
    let explain = |schema: Option<&'r Value>| explain(root, schema);
    let out = &mut shape.diagnostics;
    let pointer = format!("{at}{}", error.instance_path().as_str());
    let schema_path = error.schema_path().as_str();
    let holder = subschema(root, schema_path);
    let instance = error.instance();
    let value = shown(instance);
    let at = spans.value(&pointer);
    let (code, message) = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let prop = holder
                .and_then(|h| h.get("properties"))
                .and_then(|p| p.get(name));
            (
                "schema.required",
                format!("`{name}` is missing here; add it.{}", explain(prop)),
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed: Vec<&str> = holder
                .and_then(|h| h.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            for name in unexpected {
                let hint = if name == "<<" {
                    " YAML merge keys (`<<: *name`) are not supported; write the fields out."
                        .to_string()
                } else {
                    suggestion(name, allowed.iter().copied())
                };
                let list = allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let member = child(&pointer, name);
                out.push(
                    Diagnostic::error(
                        "schema.additional_property",
                        file,
                        &pointer,
                        format!(
                            "`{name}` is not a known field here; remove or rename it.{hint} \
                             Known fields: {list}."
                        ),
                    )
                    .at(spans.key(&member)),
                );
                shape.unknown_members.push(member);
            }
            return;
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let key = inner.instance().as_str().unwrap_or_default().to_string();
            let member = child(&pointer, &key);
            out.push(
                Diagnostic::error(
                    "schema.pattern",
                    file,
                    &member,
                    format!(
                        "`{key}` is not allowed as a key here.{}",
                        explain(subschema(root, inner.schema_path().as_str()))
                    ),
                )
                .at(spans.key(&member)),
            );
            return;
        }
        ValidationErrorKind::Pattern { .. } => (
            "schema.pattern",
            format!("`{value}` is not valid here.{}", explain(holder)),
        ),
        ValidationErrorKind::Type { .. } => {
            let expected = match holder.and_then(|h| h.get("type")) {
                Some(Value::String(t)) => type_word(t).to_string(),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .map(type_word)
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "another kind of value".to_string(),
            };
            (
                "schema.type",
                format!(
                    "expected {expected} here, but found {}.{}",
                    kind_of(instance),
                    explain(holder)
                ),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let names = options
                .as_array()
                .map(|o| o.iter().map(shown).collect::<Vec<_>>())
                .unwrap_or_default();
            let hint = suggestion(&value, names.iter().map(String::as_str));
            let list = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                "schema.enum",
                format!("`{value}` is not one of the allowed values {list}.{hint}"),
            )
        }
        ValidationErrorKind::Constant { expected_value } => (
            "schema.enum",
            format!(
                "`{value}` is not allowed here; the only allowed value is `{}`.{}",
                shown(expected_value),
                explain(holder)
            ),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => (
            "schema.range",
            format!(
                "{value} is too small; the lowest allowed value is {limit}.{}",
                explain(holder)
            ),
        ),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => (
            "schema.range",
            format!(
                "{value} is too large; the highest allowed value is {limit}.{}",
                explain(holder)
            ),
        ),
        ValidationErrorKind::MinItems { limit } => (
            "schema.too_few",
            format!(
                "this list needs at least {limit} entr{}, but has {}.{}",
                if *limit == 1 { "y" } else { "ies" },
                instance.as_array().map_or(0, Vec::len),
                explain(holder)
            ),
        ),
        ValidationErrorKind::MinProperties { limit } => (
            "schema.too_few",
            format!(
                "this mapping needs at least {limit} entr{}.{}",
                if *limit == 1 { "y" } else { "ies" },
                explain(holder)
            ),
        ),
        ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MaxProperties { limit } => (
            "schema.too_many",
            format!("this has more than {limit} entries.{}", explain(holder)),
        ),
        ValidationErrorKind::MinLength { limit } => (
            "schema.length",
            format!("this text is too short; it needs at least {limit} character(s)."),
        ),
        ValidationErrorKind::MaxLength { limit } => (
            "schema.length",
            format!("this text is too long; at most {limit} characters are allowed."),
        ),
        _ => ("schema.other", format!("{error}.{}", explain(holder))),
    };
    out.push(Diagnostic::error(code, file, &pointer, message).at(at));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_schemas_parse_and_compile() {
        for kind in [Kind::Tenant, Kind::Catalog] {
            assert_eq!(
                kind.root()["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert!(kind.validator().is_ok(), "{}", kind.name());
        }
    }

    /// Every object schema is closed and every property carries a description.
    #[test]
    fn schemas_are_strict_and_described() {
        fn walk(root: &'static Value, path: &str, v: &'static Value) {
            if let Some(o) = v.as_object() {
                if o.contains_key("properties") {
                    assert_eq!(o.get("additionalProperties"), Some(&json!(false)), "{path}");
                    for (name, prop) in o["properties"].as_object().unwrap() {
                        assert!(
                            description(root, Some(prop)).is_some(),
                            "{path}/properties/{name}"
                        );
                    }
                }
                if o.get("type") == Some(&json!("object")) && !o.contains_key("properties") {
                    // Maps (localized text) constrain keys and values instead.
                    assert!(o.contains_key("propertyNames"), "{path}");
                }
                for (k, child) in o {
                    walk(root, &format!("{path}/{k}"), child);
                }
            } else if let Some(a) = v.as_array() {
                for (i, child) in a.iter().enumerate() {
                    walk(root, &format!("{path}/{i}"), child);
                }
            }
        }
        walk(tenant_schema(), "", tenant_schema());
        walk(catalog_schema(), "", catalog_schema());
    }

    #[test]
    fn catalog_patterns_and_ranges_match_the_brief() {
        let s = catalog_schema();
        let p = |ptr: &str| s.pointer(ptr).unwrap().clone();
        assert_eq!(p("/$defs/code/pattern"), "^[a-z0-9][a-z0-9_-]{0,63}$");
        assert_eq!(
            p("/$defs/optionCode/pattern"),
            "^[a-z0-9][a-z0-9_.-]{0,63}$"
        );
        assert_eq!(p("/$defs/specCode/pattern"), "^[a-z][a-z0-9_]{0,63}$");
        assert_eq!(p("/$defs/date/pattern"), "^\\d{4}-\\d{2}-\\d{2}$");
        assert_eq!(p("/$defs/price/minimum"), 0);
        assert_eq!(p("/$defs/price/maximum"), 100_000_000_000_i64);
        assert_eq!(p("/properties/schema_version/const"), 1);
        for list in ["trims", "option_groups"] {
            assert_eq!(p(&format!("/$defs/model/properties/{list}/minItems")), 1);
        }
        assert_eq!(p("/$defs/optionGroup/properties/options/minItems"), 1);
        assert_eq!(p("/$defs/compatibilityTable/properties/groups/minItems"), 1);
        assert_eq!(
            p("/$defs/optionGroup/properties/selection/enum"),
            json!(["exactly_one", "at_most_one", "any"])
        );
    }

    #[test]
    fn catalog_errors_map_like_tenant_errors() {
        let doc = json!({
            "schema_version": 1,
            "models": [{"code": "S7", "brand": "aurora", "name": {"en": "S7"}, "body_type": "suv",
                        "energy": "diesel", "trims": [], "option_groups": [{"code": "paint",
                        "name": {"en": "Paint"}, "selection": "exactly_one", "options": [
                            {"code": "white", "name": {"en": "White"}, "price": -1, "colour": 1}
                        ]}]}],
        });
        let shape = check(Kind::Catalog, "catalog/s7.yaml", &doc, &SpanMap::default());
        let mut got: Vec<_> = shape
            .diagnostics
            .iter()
            .map(|d| (d.code, d.pointer.as_str()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    "schema.additional_property",
                    "/models/0/option_groups/0/options/0"
                ),
                ("schema.enum", "/models/0/energy"),
                ("schema.pattern", "/models/0/code"),
                ("schema.range", "/models/0/option_groups/0/options/0/price"),
                ("schema.too_few", "/models/0/trims"),
            ]
        );
        assert_eq!(
            shape.unknown_members,
            ["/models/0/option_groups/0/options/0/colour"]
        );
        let price = shape
            .diagnostics
            .iter()
            .find(|d| d.code == "schema.range")
            .unwrap();
        assert!(price.message.contains("minor units"), "{}", price.message);
    }

    #[test]
    fn patterns_match_the_brief() {
        let s = tenant_schema();
        let p = |ptr: &str| s.pointer(ptr).and_then(Value::as_str).unwrap().to_string();
        assert_eq!(
            p("/properties/tenant/properties/slug/pattern"),
            "^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
        );
        assert_eq!(
            p("/$defs/orgCode/pattern"),
            "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
        );
        assert_eq!(
            p("/$defs/role/properties/code/pattern"),
            "^[a-z][a-z0-9_]{0,63}$"
        );
        assert_eq!(
            p("/properties/tenant/properties/currency/pattern"),
            "^[A-Z]{3}$"
        );
        assert_eq!(
            p("/properties/tenant/properties/time_zone/pattern"),
            "^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+)+)$"
        );
        assert_eq!(
            p("/$defs/hoursRanges/items/pattern"),
            "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
        );
    }

    #[test]
    fn maps_errors_to_codes_and_pointers() {
        let doc = json!({
            "schema_version": 2,
            "tenant": {"slug": "Bad Slug", "kind": "oem", "name": {"EN": "x"}, "locales": ["en"],
                       "currency": "EUR", "time_zone": "Europe/Berlin", "colour": "red"},
            "org": {"regions": [], "stores": [{"code": "S1"}]},
        });
        let shape = check(Kind::Tenant, "tenant.yaml", &doc, &SpanMap::default());
        assert_eq!(shape.unknown_members, ["/tenant/colour"]);
        let found = shape.diagnostics;
        let mut got: Vec<_> = found.iter().map(|d| (d.code, d.pointer.as_str())).collect();
        got.sort();
        let mut want = vec![
            ("schema.additional_property", "/tenant"),
            ("schema.enum", "/schema_version"),
            ("schema.pattern", "/tenant/name/EN"),
            ("schema.pattern", "/tenant/slug"),
            ("schema.required", ""),
            ("schema.too_few", "/org/regions"),
        ];
        // The store misses every required field but its code.
        want.extend(std::iter::repeat_n(("schema.required", "/org/stores/0"), 7));
        want.sort();
        assert_eq!(got, want);
        let slug = found.iter().find(|d| d.pointer == "/tenant/slug").unwrap();
        assert!(slug
            .message
            .starts_with("`Bad Slug` is not valid here. Expected: The tenant's URL-safe"));
        let extra = found
            .iter()
            .find(|d| d.code == "schema.additional_property")
            .unwrap();
        assert!(
            extra.message.contains("`colour` is not a known field"),
            "{}",
            extra.message
        );
    }
}
