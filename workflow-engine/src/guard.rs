//! Guards: Rhai expressions compiled once when a definition loads (never evaluated then) and
//! run in `forecourt-plugins`' hardened sandbox when a transition is tried.
//!
//! Guards run on one process-wide [`ScriptRuntime`] with tighter limits than hooks (a guard is
//! a condition, not a program): [`guard_limits`]. An endless loop stops at the operation limit
//! (or the wall-clock deadline, whichever comes first) with a clean error.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use forecourt_plugins::{CompiledScript, Limits, ScriptError, ScriptRuntime};
use serde_json::Value;

/// The variables a guard sees.
pub const GUARD_VARIABLES: [&str; 4] = ["actor", "input", "state", "subject"];

/// The limits a guard runs under: 20,000 operations, 20 ms, the sandbox's defaults otherwise.
pub fn guard_limits() -> Limits {
    Limits {
        max_operations: 20_000,
        timeout: Duration::from_millis(20),
        ..Limits::default()
    }
}

fn runtime() -> &'static ScriptRuntime {
    static RUNTIME: OnceLock<ScriptRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| ScriptRuntime::new(guard_limits()))
}

/// A compiled guard.
pub(crate) type Guard = Arc<CompiledScript>;

/// Compiles `source` (named `name` in errors). On failure: a message with the line and
/// column within the guard.
pub(crate) fn compile(name: &str, source: &str) -> Result<Guard, String> {
    runtime()
        .compile_with_variables(name, source, &GUARD_VARIABLES)
        .map_err(|e| {
            let place = match e.location() {
                (Some(line), Some(column)) => {
                    format!(" at line {line}, column {column} of the guard")
                }
                (Some(line), None) => format!(" at line {line} of the guard"),
                _ => String::new(),
            };
            let why = match &e {
                ScriptError::Compile { message, .. } => message.clone(),
                other => other.to_string(),
            };
            format!("the guard is not a valid Rhai expression{place}: {why}")
        })
}

/// Runs a guard with its variables (a JSON object with [`GUARD_VARIABLES`]). `Err` says why it
/// could not decide: it failed, hit a limit, or returned something other than true/false.
pub(crate) fn check(guard: &Guard, variables: &Value) -> Result<bool, String> {
    runtime()
        .run_as::<bool>(guard, None, variables)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    fn vars() -> Value {
        json!({"actor": {"id": "u", "roles": ["store_manager"], "relations": []},
               "input": {}, "state": "requested", "subject": {"party_size": 3}})
    }

    #[test]
    fn guards_see_their_variables() {
        let g = compile(
            "g",
            "subject.party_size <= 4 && state == \"requested\" && \"store_manager\" in actor.roles",
        )
        .unwrap();
        assert_eq!(check(&g, &vars()), Ok(true));
        let g = compile("g", "subject.party_size > 4").unwrap();
        assert_eq!(check(&g, &vars()), Ok(false));
    }

    #[test]
    fn compile_errors_say_where() {
        let e = compile("g", "subject.party_size <=").unwrap_err();
        assert!(e.contains("line 1, column"), "{e}");
        let e = compile("g", "unknown_variable > 1").unwrap_err();
        assert!(e.contains("unknown_variable"), "{e}");
        assert!(compile("g", "eval(\"1\")").is_err());
    }

    #[test]
    fn endless_loops_and_wrong_types_fail_cleanly() {
        let g = compile("g", "loop {}").unwrap();
        let started = Instant::now();
        let e = check(&g, &vars()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(e.contains("limit"), "{e}");
        let g = compile("g", "42").unwrap();
        assert!(check(&g, &vars()).unwrap_err().contains("integer"));
    }
}
