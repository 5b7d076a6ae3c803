//! The JSON Schemas (draft 2020-12) of a workflow definition (`schema/workflow.schema.json`)
//! and of a simulation script (`schema/simulation.schema.json`), embedded at build time and
//! compiled once.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

const WORKFLOW_SCHEMA_TEXT: &str = include_str!("../schema/workflow.schema.json");
const SIMULATION_SCHEMA_TEXT: &str = include_str!("../schema/simulation.schema.json");

/// The JSON Schema (draft 2020-12) of a workflow definition; strict: every object forbids
/// unknown properties, every property is described. Served to editors as is.
pub fn workflow_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // The text is embedded and checked by a unit test; `false` (reject everything) would only
    // appear if a broken schema file were ever built in.
    SCHEMA.get_or_init(|| serde_json::from_str(WORKFLOW_SCHEMA_TEXT).unwrap_or(Value::Bool(false)))
}

/// The JSON Schema (draft 2020-12) of a simulation script for [`crate::simulate`].
pub fn simulation_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA
        .get_or_init(|| serde_json::from_str(SIMULATION_SCHEMA_TEXT).unwrap_or(Value::Bool(false)))
}

/// [`workflow_schema`], compiled; the error text if it does not compile (a bug).
pub(crate) fn workflow_validator() -> Result<&'static Validator, &'static str> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    compiled(&VALIDATOR, workflow_schema())
}

/// [`simulation_schema`], compiled.
pub(crate) fn simulation_validator() -> Result<&'static Validator, &'static str> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    compiled(&VALIDATOR, simulation_schema())
}

fn compiled(
    cell: &'static OnceLock<Result<Validator, String>>,
    schema: &'static Value,
) -> Result<&'static Validator, &'static str> {
    cell.get_or_init(|| jsonschema::draft202012::new(schema).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_parse_and_compile() {
        for schema in [workflow_schema(), simulation_schema()] {
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
        }
        assert!(workflow_validator().is_ok());
        assert!(simulation_validator().is_ok());
    }

    /// Every object schema with properties is closed and every property is described;
    /// every other object schema is a locale map (keys constrained) or an open document on
    /// purpose (a transition's input schema, a subject, a command input).
    #[test]
    fn schemas_are_strict_and_described() {
        fn walk(path: &str, v: &Value, open: &[&str]) {
            if let Some(o) = v.as_object() {
                if let Some(props) = o.get("properties").and_then(Value::as_object) {
                    assert_eq!(o.get("additionalProperties"), Some(&json!(false)), "{path}");
                    for (name, prop) in props {
                        assert!(
                            prop.get("description").and_then(Value::as_str).is_some(),
                            "{path}/properties/{name}"
                        );
                    }
                } else if o.get("type") == Some(&json!("object")) {
                    assert!(
                        o.contains_key("propertyNames") || open.contains(&path),
                        "{path}"
                    );
                }
                for (k, child) in o {
                    if k != "examples" {
                        walk(&format!("{path}/{k}"), child, open);
                    }
                }
            } else if let Some(a) = v.as_array() {
                for (i, child) in a.iter().enumerate() {
                    walk(&format!("{path}/{i}"), child, open);
                }
            }
        }
        walk(
            "",
            workflow_schema(),
            &["/$defs/transition/properties/input"],
        );
        walk(
            "",
            simulation_schema(),
            &[
                "/properties/subject",
                "/$defs/event/properties/input",
                "/$defs/event/properties/subject",
            ],
        );
    }

    #[test]
    fn examples_are_valid() {
        let schema = workflow_schema();
        let validator = workflow_validator().unwrap();
        let examples = schema["examples"].as_array().unwrap();
        assert!(!examples.is_empty());
        for example in examples {
            assert!(validator.is_valid(example), "{example}");
        }
        assert_eq!(
            schema.pointer("/$defs/name/pattern").unwrap(),
            "^[a-z][a-z0-9_]{0,62}$"
        );
        assert_eq!(
            schema.pointer("/$defs/dottedName/pattern").unwrap(),
            "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$"
        );
    }
}
