//! The script runtime: compiles tenant scripts once (cached by content hash) and runs them with
//! JSON inputs and outputs under the sandbox's limits.
//!
//! A script is run in one of two ways:
//!
//! - **Call a function** (`function = Some("adjust")`): the inputs are the arguments, either a
//!   JSON array (by position) or a JSON object (by parameter name, e.g. `{"price": 25000}` for
//!   `fn adjust(price)`). The script's top-level statements run first, as in Rhai's `call_fn`.
//! - **Evaluate the whole script** (`function = None`): the inputs are a JSON object of named
//!   variables. Scripts are compiled in strict-variables mode, so those names must be declared
//!   when compiling, with [`ScriptRuntime::compile_with_variables`].
//!
//! The result is the value of the function (or of the script's last expression), converted to
//! JSON with [`ScriptRuntime::run`] or to any `serde` type with [`ScriptRuntime::run_as`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use moka::sync::Cache;
use rhai::{Dynamic, Engine, ParseError, Scope, AST};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ScriptError;
use crate::sandbox::{hardened_engine, Limits, RunDeadline};

/// Compiled scripts kept by a [`ScriptRuntime`] unless told otherwise.
pub const DEFAULT_CACHE_ENTRIES: u64 = 4_096;

/// What a compiled AST is cached under: the content, never the name.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CodeKey {
    source_sha256: String,
    variables: Arc<[String]>,
}

/// One compiled source text, shared by every script with that text.
struct Code {
    source_sha256: String,
    variables: Arc<[String]>,
    ast: AST,
}

/// A compiled script, ready to [run](ScriptRuntime::run).
///
/// Scripts with the same source (and declared variables) share one compiled AST, whatever their
/// names; the name is only used to say which script an error is about.
pub struct CompiledScript {
    name: String,
    code: Arc<Code>,
}

impl CompiledScript {
    /// The name the script was compiled under, e.g. `pricing/adjust.rhai`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the source, in lower-case hex.
    pub fn source_hash(&self) -> &str {
        &self.code.source_sha256
    }

    /// The variables declared with [`ScriptRuntime::compile_with_variables`], sorted.
    pub fn variables(&self) -> &[String] {
        &self.code.variables
    }

    /// Whether the script defines a function `name` taking `arity` inputs.
    pub fn has_function(&self, name: &str, arity: usize) -> bool {
        self.parameters_of(name).any(|params| params.len() == arity)
    }

    /// Whether `self` and `other` run the very same compiled code (one cache entry).
    pub fn shares_code_with(&self, other: &CompiledScript) -> bool {
        Arc::ptr_eq(&self.code, &other.code)
    }

    /// The parameter lists of the plain (non-method) functions called `name`.
    fn parameters_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Vec<&'a str>> + 'a {
        self.code
            .ast
            .iter_functions()
            .filter(move |f| f.name == name && f.this_type.is_none())
            .map(|f| f.params)
    }
}

impl fmt::Debug for CompiledScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledScript")
            .field("name", &self.name)
            .field("source_hash", &self.code.source_sha256)
            .field("variables", &self.code.variables)
            .finish_non_exhaustive()
    }
}

/// Compiles, caches and runs tenant scripts on one hardened engine.
///
/// `Send + Sync`: share one runtime (in an `Arc`) across all threads and tenants.
pub struct ScriptRuntime {
    engine: Engine,
    limits: Limits,
    cache: Cache<CodeKey, Arc<Code>>,
    compilations: AtomicU64,
}

impl fmt::Debug for ScriptRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptRuntime")
            .field("limits", &self.limits)
            .field("cached", &self.cache.entry_count())
            .field("compilations", &self.compilations())
            .finish_non_exhaustive()
    }
}

impl Default for ScriptRuntime {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl ScriptRuntime {
    /// A runtime whose scripts run under `limits`, caching up to [`DEFAULT_CACHE_ENTRIES`]
    /// compiled scripts.
    pub fn new(limits: Limits) -> Self {
        Self::with_cache_capacity(limits, DEFAULT_CACHE_ENTRIES)
    }

    /// A runtime caching up to `max_entries` compiled scripts (least recently used go first).
    pub fn with_cache_capacity(limits: Limits, max_entries: u64) -> Self {
        Self {
            engine: hardened_engine(&limits),
            limits,
            cache: Cache::new(max_entries),
            compilations: AtomicU64::new(0),
        }
    }

    /// The limits scripts run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many times a script was actually compiled (cache misses), since the runtime started.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// Compile a script, or take it from the cache if the same source was compiled before.
    ///
    /// `name` is only used in error messages. The script may not refer to any variable it does
    /// not declare itself; for scripts run with named inputs, see
    /// [`compile_with_variables`](Self::compile_with_variables).
    pub fn compile(&self, name: &str, source: &str) -> Result<Arc<CompiledScript>, ScriptError> {
        self.compile_with_variables(name, source, &[])
    }

    /// Compile a script that reads the named `variables`, given as inputs when it is
    /// [run](Self::run) without a function name.
    pub fn compile_with_variables(
        &self,
        name: &str,
        source: &str,
        variables: &[&str],
    ) -> Result<Arc<CompiledScript>, ScriptError> {
        let mut declared: Vec<String> = variables.iter().map(|v| (*v).to_string()).collect();
        declared.sort_unstable();
        declared.dedup();
        if let Some(bad) = declared.iter().find(|v| !is_identifier(v)) {
            return Err(ScriptError::InvalidInput {
                script: name.to_string(),
                message: format!("\"{bad}\" cannot be a variable name"),
            });
        }
        let variables: Arc<[String]> = declared.into();
        let key = CodeKey {
            source_sha256: hex::encode(Sha256::digest(source.as_bytes())),
            variables,
        };

        // Concurrent requests for the same key compile once; errors are not cached. The error
        // is mapped per caller, so it names the caller's script and nobody else's.
        let code = self
            .cache
            .try_get_with(key.clone(), || self.compile_code(key, source))
            .map_err(|err: Arc<ParseError>| ScriptError::from_parse(name, &err, &self.limits))?;

        Ok(Arc::new(CompiledScript {
            name: name.to_string(),
            code,
        }))
    }

    fn compile_code(&self, key: CodeKey, source: &str) -> Result<Arc<Code>, ParseError> {
        self.compilations.fetch_add(1, Ordering::Relaxed);
        // Declared variables are known to the compiler (strict mode) but carry no value, so the
        // optimiser cannot fold them into constants.
        let mut scope = Scope::new();
        for variable in key.variables.iter() {
            scope.push_dynamic(variable.as_str(), Dynamic::UNIT);
        }
        let ast = self.engine.compile_with_scope(&scope, source)?;
        Ok(Arc::new(Code {
            source_sha256: key.source_sha256,
            variables: key.variables,
            ast,
        }))
    }

    /// Run a script and return its result as JSON.
    ///
    /// With `function`, call that function with `inputs` as its arguments (a JSON array by
    /// position, a JSON object by parameter name, or `null` for none). Without, evaluate the
    /// whole script with `inputs` (a JSON object, or `null`) bound to its declared variables.
    pub fn run(
        &self,
        script: &CompiledScript,
        function: Option<&str>,
        inputs: &Value,
    ) -> Result<Value, ScriptError> {
        self.run_as(script, function, inputs)
    }

    /// Like [`run`](Self::run), converting the result to `T` instead of JSON.
    pub fn run_as<T: DeserializeOwned>(
        &self,
        script: &CompiledScript,
        function: Option<&str>,
        inputs: &Value,
    ) -> Result<T, ScriptError> {
        let output = self.run_dynamic(script, function, inputs)?;
        output_as(script, &output)
    }

    /// Call `function` with ready-made Rhai arguments, under the per-call deadline. Typed hooks
    /// use this to hand their input to the script without a detour through JSON.
    pub(crate) fn call_dynamic(
        &self,
        script: &CompiledScript,
        function: &str,
        args: Vec<Dynamic>,
    ) -> Result<Dynamic, ScriptError> {
        if !script.has_function(function, args.len()) {
            return Err(ScriptError::MissingFunction {
                script: script.name.clone(),
                function: function.to_string(),
                arity: args.len(),
            });
        }
        let mut scope = Scope::new();
        let _deadline = RunDeadline::arm(self.limits.timeout);
        self.engine
            .call_fn::<Dynamic>(&mut scope, &script.code.ast, function, args)
            .map_err(|err| ScriptError::from_eval(&script.name, *err, &self.limits))
    }

    fn run_dynamic(
        &self,
        script: &CompiledScript,
        function: Option<&str>,
        inputs: &Value,
    ) -> Result<Dynamic, ScriptError> {
        let ast = &script.code.ast;
        let mut scope = Scope::new();
        let result = match function {
            Some(function) => {
                let args = arguments(script, function, inputs)?;
                let _deadline = RunDeadline::arm(self.limits.timeout);
                self.engine
                    .call_fn::<Dynamic>(&mut scope, ast, function, args)
            }
            None => {
                bind_variables(script, inputs, &mut scope)?;
                let _deadline = RunDeadline::arm(self.limits.timeout);
                self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast)
            }
        };
        result.map_err(|err| ScriptError::from_eval(&script.name, *err, &self.limits))
    }
}

/// Convert what a script returned to `T`, or say why it does not fit.
pub(crate) fn output_as<T: DeserializeOwned>(
    script: &CompiledScript,
    output: &Dynamic,
) -> Result<T, ScriptError> {
    rhai::serde::from_dynamic::<T>(output).map_err(|mut err| {
        err.set_position(rhai::Position::NONE);
        ScriptError::WrongOutputType {
            script: script.name.clone(),
            found: describe(output).to_string(),
            message: err.to_string(),
        }
    })
}

/// The arguments for calling `function`, from a JSON array, object or null.
fn arguments(
    script: &CompiledScript,
    function: &str,
    inputs: &Value,
) -> Result<Vec<Dynamic>, ScriptError> {
    let missing = |arity| ScriptError::MissingFunction {
        script: script.name.clone(),
        function: function.to_string(),
        arity,
    };
    match inputs {
        Value::Null if script.has_function(function, 0) => Ok(Vec::new()),
        Value::Null => Err(missing(0)),
        Value::Array(items) => {
            if !script.has_function(function, items.len()) {
                return Err(missing(items.len()));
            }
            items.iter().map(|item| to_dynamic(script, item)).collect()
        }
        Value::Object(named) => {
            let params = script
                .parameters_of(function)
                .find(|params| params.len() == named.len())
                .ok_or_else(|| missing(named.len()))?;
            params
                .iter()
                .map(|param| match named.get(*param) {
                    Some(value) => to_dynamic(script, value),
                    None => Err(ScriptError::InvalidInput {
                        script: script.name.clone(),
                        message: format!(
                            "function \"{function}\" takes ({}), but no input is named \"{param}\"",
                            params.join(", ")
                        ),
                    }),
                })
                .collect()
        }
        _ => Err(ScriptError::InvalidInput {
            script: script.name.clone(),
            message: "the inputs of a function must be a JSON array (by position) \
                      or a JSON object (by parameter name)"
                .to_string(),
        }),
    }
}

/// Put the inputs in `scope` as the script's declared variables: all of them and nothing else.
fn bind_variables(
    script: &CompiledScript,
    inputs: &Value,
    scope: &mut Scope,
) -> Result<(), ScriptError> {
    let invalid = |message: String| ScriptError::InvalidInput {
        script: script.name.clone(),
        message,
    };
    let empty = serde_json::Map::new();
    let named = match inputs {
        Value::Null => &empty,
        Value::Object(named) => named,
        _ => {
            return Err(invalid(
                "the inputs of a script must be a JSON object of named variables".to_string(),
            ))
        }
    };
    let declared = script.variables();
    if let Some(extra) = named.keys().find(|k| !declared.contains(k)) {
        return Err(invalid(format!(
            "the script does not declare a variable \"{extra}\" (it declares: {})",
            declared.join(", ")
        )));
    }
    for variable in declared {
        let value = named
            .get(variable)
            .ok_or_else(|| invalid(format!("no input given for variable \"{variable}\"")))?;
        scope.push_dynamic(variable.as_str(), to_dynamic(script, value)?);
    }
    Ok(())
}

fn to_dynamic(script: &CompiledScript, value: &Value) -> Result<Dynamic, ScriptError> {
    rhai::serde::to_dynamic(value).map_err(|mut err| {
        err.set_position(rhai::Position::NONE);
        ScriptError::InvalidInput {
            script: script.name.clone(),
            message: err.to_string(),
        }
    })
}

/// A Rhai value's type, in words.
fn describe(value: &Dynamic) -> &'static str {
    if value.is_unit() {
        "nothing"
    } else if value.is_int() {
        "an integer"
    } else if value.is_float() {
        "a decimal number"
    } else if value.is_bool() {
        "true or false"
    } else if value.is_string() || value.is_char() {
        "text"
    } else if value.is_array() {
        "an array"
    } else if value.is_map() {
        "an object map"
    } else if value.is_fnptr() {
        "a function pointer"
    } else {
        "a value of an unsupported type"
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::thread;
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;
    use crate::error::Limit;

    fn runtime() -> ScriptRuntime {
        ScriptRuntime::default()
    }

    /// Default limits but a clock so generous that only the limit under test can stop a script,
    /// however loaded the machine running the tests is.
    fn roomy() -> ScriptRuntime {
        ScriptRuntime::new(Limits {
            timeout: Duration::from_secs(30),
            ..Limits::default()
        })
    }

    /// Compile and run `source`, expecting it to fail.
    fn failure(runtime: &ScriptRuntime, source: &str, function: Option<&str>) -> ScriptError {
        let script = runtime.compile("test.rhai", source).unwrap();
        runtime
            .run(&script, function, &Value::Null)
            .expect_err("the script should have failed")
    }

    #[test]
    fn runtime_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ScriptRuntime>();
        assert_send_sync::<CompiledScript>();
        assert_send_sync::<ScriptError>();
    }

    #[test]
    fn adjusts_a_price_through_json() {
        let rt = runtime();
        let script = rt
            .compile("pricing/adjust.rhai", "fn adjust(price) { price - 1000 }")
            .unwrap();
        assert!(script.has_function("adjust", 1));
        assert_eq!(
            rt.run(&script, Some("adjust"), &json!([25_000])).unwrap(),
            json!(24_000)
        );
        assert_eq!(
            rt.run(&script, Some("adjust"), &json!({"price": 25_000}))
                .unwrap(),
            json!(24_000)
        );
        let typed: i64 = rt.run_as(&script, Some("adjust"), &json!([1_000])).unwrap();
        assert_eq!(typed, 0);
    }

    #[test]
    fn money_is_i64_and_does_not_wrap_silently() {
        let rt = runtime();
        let script = rt.compile("m.rhai", "fn double(x) { x * 2 }").unwrap();
        let big = 3_000_000_000_000_i64; // beyond i32
        assert_eq!(
            rt.run(&script, Some("double"), &json!([big])).unwrap(),
            json!(2 * big)
        );
        let err = rt
            .run(&script, Some("double"), &json!([i64::MAX]))
            .unwrap_err();
        assert!(matches!(err, ScriptError::Runtime { .. }), "{err}");
    }

    #[test]
    fn maps_and_arrays_come_back_as_json() {
        let rt = runtime();
        let script = rt
            .compile(
                "quote.rhai",
                r#"
                fn quote(vehicle, fees) {
                    #{ model: vehicle.model, total: vehicle.price + fees, lines: [vehicle.price, fees], ok: true }
                }"#,
            )
            .unwrap();
        let out = rt
            .run(
                &script,
                Some("quote"),
                &json!({"fees": 500, "vehicle": {"model": "Kestrel", "price": 20_000}}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"model": "Kestrel", "total": 20_500, "lines": [20_000, 500], "ok": true})
        );
    }

    #[test]
    fn whole_script_runs_with_named_variables() {
        let rt = runtime();
        let script = rt
            .compile_with_variables(
                "eval.rhai",
                "let d = discount; price - d",
                &["price", "discount"],
            )
            .unwrap();
        assert_eq!(script.variables(), ["discount", "price"]);
        assert_eq!(
            rt.run(&script, None, &json!({"price": 10_000, "discount": 250}))
                .unwrap(),
            json!(9_750)
        );

        let missing = rt.run(&script, None, &json!({"price": 1})).unwrap_err();
        assert!(
            matches!(missing, ScriptError::InvalidInput { .. }),
            "{missing}"
        );
        let extra = rt
            .run(&script, None, &json!({"price": 1, "discount": 0, "vat": 2}))
            .unwrap_err();
        assert!(matches!(extra, ScriptError::InvalidInput { .. }), "{extra}");

        // Without declaring them, a script cannot read inputs at all (strict variables).
        let err = rt.compile("eval.rhai", "price - 1").unwrap_err();
        assert!(matches!(err, ScriptError::Compile { .. }), "{err}");
    }

    #[test]
    fn endless_loop_is_stopped_by_the_operation_limit_quickly() {
        let started = Instant::now();
        let err = failure(&roomy(), "let x = 0;\nloop { x += 1; }", None);
        assert_eq!(err.limit(), Some(Limit::Operations), "{err}");
        assert_eq!(err.location().0, Some(2));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("operation limit"), "{err}");
    }

    #[test]
    fn heavy_loop_is_stopped_by_the_time_limit() {
        let rt = ScriptRuntime::new(Limits {
            max_operations: u64::MAX, // only the clock can stop it
            ..Limits::default()
        });
        // Each operation copies and upper-cases a 60 KB string: few operations, much work.
        let script = rt
            .compile(
                "pricing/adjust.rhai",
                "let s = \"\";\ns.pad(60000, \"x\");\nloop { let t = s.to_upper(); }",
            )
            .unwrap();
        let started = Instant::now();
        let err = rt.run(&script, None, &Value::Null).unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.limit(), Some(Limit::Time), "{err}");
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
        let message = err.to_string();
        assert!(
            message.starts_with("script \"pricing/adjust.rhai\" stopped at line 3, column "),
            "{message}"
        );
        assert!(
            message.ends_with(": it ran for more than 50 ms (time limit)"),
            "{message}"
        );
    }

    #[test]
    fn endless_recursion_is_stopped_by_the_call_depth_limit() {
        let err = failure(&roomy(), "fn down(n) { down(n + 1) }\ndown(0)", None);
        assert_eq!(err.limit(), Some(Limit::CallDepth), "{err}");
        assert!(err.to_string().contains("32 levels deep"), "{err}");
    }

    #[test]
    fn doubling_string_is_stopped_by_the_string_size_limit() {
        let err = failure(&roomy(), r#"let s = "x"; loop { s += s; }"#, None);
        assert_eq!(err.limit(), Some(Limit::StringSize), "{err}");
        assert!(err.location().0.is_some(), "{err}");
    }

    #[test]
    fn padding_a_string_is_stopped_by_the_string_size_limit() {
        let err = failure(&roomy(), r#"let s = ""; s.pad(100000000, "x"); s"#, None);
        assert_eq!(err.limit(), Some(Limit::StringSize), "{err}");
    }

    #[test]
    fn growing_array_is_stopped_by_the_array_size_limit() {
        let err = failure(&roomy(), "let a = []; loop { a.push(1); }", None);
        assert_eq!(err.limit(), Some(Limit::ArraySize), "{err}");
        let err = failure(&roomy(), "let a = []; a.pad(100000000, 0); a", None);
        assert_eq!(err.limit(), Some(Limit::ArraySize), "{err}");
    }

    #[test]
    fn growing_map_is_stopped_by_the_map_size_limit() {
        let source = "let m = #{};\nfor i in 0..20000 { m[\"k\" + i] = i; }\nm.len()";
        let err = failure(&roomy(), source, None);
        assert_eq!(err.limit(), Some(Limit::MapSize), "{err}");
        assert!(err.to_string().contains("beyond 10000 entries"), "{err}");
    }

    #[test]
    fn map_grown_by_index_assignment_is_bounded_by_the_operation_budget() {
        // Rhai checks a map's size when the map is next used, not on `m[new_key] = v`, so a
        // loop that only inserts is stopped by the operation or time limit instead.
        let err = failure(
            &runtime(),
            r#"let m = #{}; let i = 0; loop { m["k" + i] = i; i += 1; }"#,
            None,
        );
        assert!(
            matches!(err.limit(), Some(Limit::Operations | Limit::Time)),
            "{err}"
        );
    }

    #[test]
    fn too_many_variables_are_stopped() {
        let source: String = (0..300).map(|i| format!("let v{i} = {i};\n")).collect();
        let err = failure(&roomy(), &source, None);
        assert_eq!(err.limit(), Some(Limit::Variables), "{err}");
    }

    #[test]
    fn deep_nesting_is_rejected_when_compiling() {
        let source = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        let err = runtime().compile("deep.rhai", &source).unwrap_err();
        assert_eq!(err.limit(), Some(Limit::ExpressionDepth), "{err}");
    }

    #[test]
    fn eval_is_rejected() {
        let err = runtime()
            .compile("e.rhai", "let x = 2;\neval(\"1\")")
            .unwrap_err();
        assert!(matches!(err, ScriptError::Compile { .. }), "{err}");
        assert_eq!(err.location().0, Some(2), "{err}");
        assert!(err.to_string().contains("\"eval\" is not allowed"), "{err}");
    }

    #[test]
    fn import_is_rejected() {
        let err = runtime()
            .compile("i.rhai", "import \"x\" as y;\n1")
            .unwrap_err();
        assert!(matches!(err, ScriptError::Compile { .. }), "{err}");
        assert!(
            err.to_string().contains("\"import\" is not allowed"),
            "{err}"
        );
    }

    #[test]
    fn compile_error_has_line_and_column() {
        let err = runtime()
            .compile("broken.rhai", "let x = 1;\nlet y = ;\n")
            .unwrap_err();
        let ScriptError::Compile {
            script,
            line,
            column,
            message,
        } = &err
        else {
            panic!("expected a compile error, got {err}");
        };
        assert_eq!(script, "broken.rhai");
        assert_eq!((*line, *column), (Some(2), Some(9)), "{err}");
        assert!(!message.is_empty());
        assert!(
            err.to_string()
                .starts_with("script \"broken.rhai\" does not compile at line 2, column 9: "),
            "{err}"
        );
    }

    #[test]
    fn runtime_error_points_into_the_function() {
        let source = "fn pick(xs) {\n    xs[5]\n}\npick([1])";
        let err = failure(&runtime(), source, None);
        let ScriptError::Runtime { line, message, .. } = &err else {
            panic!("expected a runtime error, got {err}");
        };
        assert_eq!(*line, Some(2), "{err}");
        assert!(message.contains("in function \"pick\""), "{err}");
    }

    #[test]
    fn thrown_text_is_the_message() {
        let rt = runtime();
        let script = rt
            .compile(
                "check.rhai",
                "fn check(price) {\n  if price < 0 { throw \"price below zero\"; }\n  price\n}",
            )
            .unwrap();
        let err = rt.run(&script, Some("check"), &json!([-1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "script \"check.rhai\" failed at line 2, column 18: price below zero"
        );
    }

    #[test]
    fn missing_function_and_bad_inputs_are_reported() {
        let rt = runtime();
        let script = rt.compile("f.rhai", "fn f(a, b) { a + b }").unwrap();
        let err = rt.run(&script, Some("g"), &json!([1, 2])).unwrap_err();
        assert!(
            matches!(err, ScriptError::MissingFunction { arity: 2, .. }),
            "{err}"
        );
        let err = rt.run(&script, Some("f"), &json!([1])).unwrap_err();
        assert!(
            matches!(err, ScriptError::MissingFunction { arity: 1, .. }),
            "{err}"
        );
        let err = rt
            .run(&script, Some("f"), &json!({"a": 1, "c": 2}))
            .unwrap_err();
        assert!(matches!(err, ScriptError::InvalidInput { .. }), "{err}");
        let err = rt.run(&script, Some("f"), &json!(5)).unwrap_err();
        assert!(matches!(err, ScriptError::InvalidInput { .. }), "{err}");
        assert_eq!(
            rt.run(&script, Some("f"), &json!({"b": 2, "a": 1}))
                .unwrap(),
            json!(3)
        );
    }

    #[test]
    fn wrong_output_type_is_reported() {
        let rt = runtime();
        let script = rt
            .compile(
                "out.rhai",
                "fn text() { \"abc\" }\nfn ptr() { Fn(\"text\") }",
            )
            .unwrap();
        let err = rt
            .run_as::<i64>(&script, Some("text"), &Value::Null)
            .unwrap_err();
        assert!(
            matches!(&err, ScriptError::WrongOutputType { found, .. } if found == "text"),
            "{err}"
        );
        let err = rt.run(&script, Some("ptr"), &Value::Null).unwrap_err();
        assert!(
            matches!(&err, ScriptError::WrongOutputType { found, .. } if found == "a function pointer"),
            "{err}"
        );
    }

    #[test]
    fn cache_compiles_identical_source_once() {
        let rt = runtime();
        let source = "fn adjust(price) { price - 1000 }";
        let a = rt.compile("tenant-a/adjust.rhai", source).unwrap();
        let b = rt.compile("tenant-a/adjust.rhai", source).unwrap();
        let c = rt.compile("tenant-b/other-name.rhai", source).unwrap();
        assert_eq!(rt.compilations(), 1);
        assert!(a.shares_code_with(&b));
        assert!(a.shares_code_with(&c));
        // The name stays the caller's own.
        assert_eq!(c.name(), "tenant-b/other-name.rhai");
        assert_eq!(
            a.source_hash(),
            hex::encode(Sha256::digest(source.as_bytes()))
        );

        let d = rt
            .compile("x.rhai", "fn adjust(price) { price - 2000 }")
            .unwrap();
        assert_eq!(rt.compilations(), 2);
        assert!(!a.shares_code_with(&d));

        // Declared variables are part of the key: same text, different code.
        let e = rt
            .compile_with_variables("x.rhai", source, &["price"])
            .unwrap();
        assert_eq!(rt.compilations(), 3);
        assert!(!a.shares_code_with(&e));

        // Failed compilations are not cached, and errors name the caller's script.
        assert!(rt.compile("bad-1.rhai", "let = ;").is_err());
        let err = rt.compile("bad-2.rhai", "let = ;").unwrap_err();
        assert_eq!(err.script(), "bad-2.rhai");
    }

    #[test]
    fn concurrent_compiles_of_one_source_compile_once() {
        let rt = runtime();
        let barrier = Barrier::new(4);
        let scripts: Vec<_> = thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (rt, barrier) = (&rt, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        rt.compile(&format!("t{i}.rhai"), "fn f(x) { x * 3 }")
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(rt.compilations(), 1);
        assert!(scripts.iter().all(|s| s.shares_code_with(&scripts[0])));
    }

    #[test]
    fn four_threads_share_one_engine_with_independent_deadlines() {
        let timeout = Duration::from_millis(200);
        let rt = ScriptRuntime::new(Limits {
            max_operations: u64::MAX,
            timeout,
            ..Limits::default()
        });
        let endless = rt
            .compile("endless.rhai", "let i = 0; loop { i += 1; }")
            .unwrap();
        let quick = rt
            .compile("quick.rhai", "fn adjust(price) { price - 1000 }")
            .unwrap();
        let barrier = Barrier::new(4);

        thread::scope(|s| {
            // Two endless scripts, started 80 ms apart: each gets its own full time budget.
            for delay in [0, 80] {
                let (rt, endless, barrier) = (&rt, &endless, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    thread::sleep(Duration::from_millis(delay));
                    let started = Instant::now();
                    let err = rt.run(endless, None, &Value::Null).unwrap_err();
                    let elapsed = started.elapsed();
                    assert_eq!(err.limit(), Some(Limit::Time), "{err}");
                    assert!(elapsed >= timeout, "stopped early: {elapsed:?}");
                    assert!(
                        elapsed < Duration::from_secs(2),
                        "stopped late: {elapsed:?}"
                    );
                });
            }
            // Two threads of quick calls for well over one timeout in total: each call has a
            // fresh deadline, and the endless neighbours' deadlines never touch them.
            for _ in 0..2 {
                let (rt, quick, barrier) = (&rt, &quick, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let started = Instant::now();
                    let mut calls = 0;
                    while started.elapsed() < timeout * 3 {
                        let out = rt.run(quick, Some("adjust"), &json!([5_000])).unwrap();
                        assert_eq!(out, json!(4_000));
                        calls += 1;
                    }
                    assert!(calls > 1);
                });
            }
        });
    }
}
