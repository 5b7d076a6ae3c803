//! Script tests: the `scripts/<hook name>.test.yaml` files of a bundle, and the check of a
//! bundle's scripts that keeps a broken rule from ever going live.
//!
//! # The test file
//!
//! ```yaml
//! cases:
//!   - name: BEV bought in 2025 pays nothing up to the cap
//!     input: { price_incl_vat: 22990000, energy: bev, purchase_date: "2025-06-15" }
//!     expect: { tax: 0, exemption: 2034513 }
//!   - name: a negative price is refused
//!     input: { price_incl_vat: -1, energy: ice, purchase_date: "2025-06-15" }
//!     expect_error: "price must not be negative"
//! ```
//!
//! - `input` must fit the hook's input type (unknown or missing fields are errors of the test
//!   file, reported with line and column).
//! - `expect` may be partial: only the keys it gives are compared, recursively through maps;
//!   arrays are compared whole. The script's output is compared after the hook's own checks, as
//!   the host would see it (optional fields the script left out appear with their defaults).
//! - `expect_error` passes when the call fails with an error whose message contains the text
//!   (case-sensitive): a `throw` of the script, a limit, an output the hook refuses …
//! - Each case has exactly one of `expect` and `expect_error`, and a unique, non-empty `name`.
//!
//! Money in test files is written as plain integers of minor units (`22990000`, not
//! `22_990_000`, which YAML reads as text).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ScriptError;
use crate::hooks::{
    hook_for_path, hook_for_test_path, HookKind, HookPoint, HookRunner, HookVisitor, SCRIPTS_DIR,
    SCRIPT_SUFFIX, TEST_SUFFIX,
};
use crate::runtime::{CompiledScript, ScriptRuntime};

/// The limits scripts run under while their tests are checked (at publish and by the CLI, off
/// the request path): the production limits, except a wall-clock deadline of 2 s instead of
/// 50 ms, because a busy machine may pause a checking thread for longer than a hook may take.
/// The operation, depth and size limits stay the real bounds.
pub fn check_limits() -> crate::sandbox::Limits {
    crate::sandbox::Limits {
        timeout: std::time::Duration::from_secs(2),
        ..crate::sandbox::Limits::default()
    }
}

/// Problem codes of [`check_bundle_scripts`].
pub mod codes {
    /// A `scripts/*.rhai` file is not named after a hook (error).
    pub const UNKNOWN_HOOK: &str = "script.unknown_hook";
    /// A script does not compile (error).
    pub const COMPILE: &str = "script.compile";
    /// A script lacks its hook's entry function, or it takes the wrong number of inputs (error).
    pub const MISSING_FUNCTION: &str = "script.missing_function";
    /// A test file is not valid YAML or not a valid test file (error).
    pub const TEST_FILE: &str = "script.test_file";
    /// A test case failed (error; one problem per failing case).
    pub const TEST_FAILED: &str = "script.test_failed";
    /// A hook script has no test file (warning).
    pub const UNTESTED: &str = "script.untested";
    /// A test file has no script next to it (warning).
    pub const ORPHAN_TEST: &str = "script.orphan_test";
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

/// The outcome of running a script's test cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// The hook the script implements.
    pub hook: HookKind,
    /// The script's name, e.g. `scripts/tax.purchase.rhai`.
    pub script: String,
    /// How many cases passed.
    pub passed: usize,
    /// The cases that failed, in file order.
    pub failed: Vec<CaseFailure>,
}

impl SuiteReport {
    /// Whether every case passed. A script whose suite did not pass must not go live.
    pub fn all_passed(&self) -> bool {
        self.failed.is_empty()
    }

    /// How many cases ran.
    pub fn total(&self) -> usize {
        self.passed + self.failed.len()
    }
}

impl fmt::Display for SuiteReport {
    /// A summary line, then one line per failed case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} passed, {} failed",
            self.script,
            self.hook,
            self.passed,
            self.failed.len()
        )?;
        for failure in &self.failed {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

/// One failed test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFailure {
    /// The case's `name`.
    pub case: String,
    /// What went wrong: expected against got, or the script's error (which names the script,
    /// line and column).
    pub message: String,
    /// The line of the test file where the case's `name` is written, if it could be found.
    pub test_line: Option<usize>,
    /// The script's error, when the call failed where it should not have (its
    /// [`location`](ScriptError::location) points into the script).
    pub error: Option<ScriptError>,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case \"{}\"", self.case)?;
        if let Some(line) = self.test_line {
            write!(f, " (line {line})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a suite could not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The test file is not valid YAML, or not a valid test file for the hook. Line and column
    /// (1-based) point into the test file where known.
    #[error("the test file is invalid{}: {message}", at(*.line, *.column))]
    TestFile {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The script does not compile or lacks its entry function.
    #[error(transparent)]
    Script(ScriptError),
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a suite
// ---------------------------------------------------------------------------------------------

/// Compile `script_source` as the script for `hook` and run the test cases in `test_yaml`.
///
/// `Err` when the suite cannot run: the test file is invalid, or the script does not compile or
/// lacks `hook`'s entry function. Otherwise the report says which cases passed; check
/// [`SuiteReport::all_passed`] before letting the script go live.
pub fn run_suite(
    runtime: &ScriptRuntime,
    hook: HookKind,
    script_name: &str,
    script_source: &str,
    test_yaml: &str,
) -> Result<SuiteReport, SuiteError> {
    let script = runtime
        .compile(script_name, script_source)
        .map_err(SuiteError::Script)?;
    run_suite_compiled(runtime, hook, &script, test_yaml)
}

/// Like [`run_suite`], for a script that is already compiled.
pub fn run_suite_compiled(
    runtime: &ScriptRuntime,
    hook: HookKind,
    script: &CompiledScript,
    test_yaml: &str,
) -> Result<SuiteReport, SuiteError> {
    hook.check_entry(script).map_err(SuiteError::Script)?;
    hook.visit(Suite {
        runtime,
        script,
        test_yaml,
    })
}

/// A test file, with inputs of the hook's input type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "I: DeserializeOwned"))]
struct TestFile<I> {
    cases: Vec<TestCase<I>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "I: DeserializeOwned"))]
struct TestCase<I> {
    name: String,
    input: I,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    expect_error: Option<String>,
}

enum Expectation {
    Output(Value),
    Error(String),
}

struct Suite<'a> {
    runtime: &'a ScriptRuntime,
    script: &'a CompiledScript,
    test_yaml: &'a str,
}

impl HookVisitor for Suite<'_> {
    type Output = Result<SuiteReport, SuiteError>;

    fn visit<H: HookPoint>(self) -> Self::Output {
        let cases = parse_cases::<H::Input>(self.test_yaml)?;
        let mut report = SuiteReport {
            hook: H::KIND,
            script: self.script.name().to_string(),
            passed: 0,
            failed: Vec::new(),
        };
        for (case, expectation) in cases {
            let result = HookRunner::call::<H>(self.runtime, self.script, &case.input);
            let failure = match (result, expectation) {
                (Ok(output), Expectation::Output(expected)) => {
                    let got = serde_json::to_value(&output).unwrap_or(Value::Null);
                    let mut diffs = Vec::new();
                    compare(&mut String::new(), &expected, &got, &mut diffs);
                    (!diffs.is_empty()).then(|| (diffs.join("; "), None))
                }
                (Ok(output), Expectation::Error(wanted)) => {
                    let got = serde_json::to_value(&output).unwrap_or(Value::Null);
                    Some((
                        format!(
                            "expected an error containing \"{wanted}\", but the script returned {got}"
                        ),
                        None,
                    ))
                }
                (Err(err), Expectation::Output(_)) => Some((err.to_string(), Some(err))),
                (Err(err), Expectation::Error(wanted)) => {
                    let message = err.to_string();
                    (!message.contains(&wanted)).then(|| {
                        (
                            format!("expected an error containing \"{wanted}\", got: {message}"),
                            Some(err),
                        )
                    })
                }
            };
            match failure {
                None => report.passed += 1,
                Some((message, error)) => report.failed.push(CaseFailure {
                    test_line: case_line(self.test_yaml, &case.name),
                    case: case.name,
                    message,
                    error,
                }),
            }
        }
        Ok(report)
    }
}

/// Parse and validate a test file.
fn parse_cases<I: DeserializeOwned>(
    test_yaml: &str,
) -> Result<Vec<(TestCase<I>, Expectation)>, SuiteError> {
    let file: TestFile<I> = serde_yaml::from_str(test_yaml).map_err(|err| {
        let location = err.location();
        SuiteError::TestFile {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message: without_location(&err.to_string()),
        }
    })?;
    if file.cases.is_empty() {
        return Err(SuiteError::TestFile {
            line: None,
            column: None,
            message: "the test file has no cases".to_string(),
        });
    }
    let mut names = HashSet::new();
    let mut cases = Vec::with_capacity(file.cases.len());
    for mut case in file.cases {
        let invalid = |message: String| SuiteError::TestFile {
            line: case_line(test_yaml, &case.name),
            column: None,
            message,
        };
        if case.name.trim().is_empty() {
            return Err(invalid("a case has an empty name".to_string()));
        }
        if !names.insert(case.name.clone()) {
            return Err(invalid(format!(
                "two cases are named \"{}\"; names must be unique",
                case.name
            )));
        }
        let expectation = match (case.expect.take(), case.expect_error.take()) {
            (Some(expect), None) => Expectation::Output(expect),
            (None, Some(wanted)) if !wanted.is_empty() => Expectation::Error(wanted),
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "case \"{}\" has an empty expect_error",
                    case.name
                )))
            }
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "case \"{}\" has both expect and expect_error; give one",
                    case.name
                )))
            }
            (None, None) => {
                return Err(invalid(format!(
                    "case \"{}\" has neither expect nor expect_error; give one",
                    case.name
                )))
            }
        };
        cases.push((case, expectation));
    }
    Ok(cases)
}

/// serde_yaml ends its messages with " at line L column C"; the location is reported apart.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i)
            if message[i + " at line ".len()..]
                .split_once(" column ")
                .is_some_and(|(l, c)| {
                    !l.is_empty()
                        && !c.is_empty()
                        && l.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit())
                }) =>
        {
            message[..i].to_string()
        }
        _ => message.to_string(),
    }
}

/// The 1-based line where a case called `name` is named in block style (`- name: …`), if any.
fn case_line(test_yaml: &str, name: &str) -> Option<usize> {
    test_yaml
        .lines()
        .position(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix('-').unwrap_or(line).trim_start();
            let Some(value) = line.strip_prefix("name:") else {
                return false;
            };
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            unquoted == name
        })
        .map(|i| i + 1)
}

/// Compare `expected` against `got`: maps by the expected keys only (recursively), everything
/// else whole. Each difference is pushed to `diffs` with its path.
fn compare(path: &mut String, expected: &Value, got: &Value, diffs: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want_value) in want {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match have.get(key) {
                    Some(have_value) => compare(path, want_value, have_value, diffs),
                    None => diffs.push(format!(
                        "{path}: expected {want_value}, but the output has no \"{key}\""
                    )),
                }
                path.truncate(len);
            }
        }
        _ if expected == got => {}
        _ => {
            let place = if path.is_empty() {
                "the output"
            } else {
                path.as_str()
            };
            diffs.push(format!("{place}: expected {expected}, got {got}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking a bundle's scripts
// ---------------------------------------------------------------------------------------------

/// How serious a [`ScriptProblem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The bundle must not go live.
    Error,
    /// Worth fixing; does not block.
    Warning,
}

/// Something wrong with a bundle's scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptProblem {
    /// The bundle file, e.g. `scripts/tax.purchase.rhai`.
    pub file: String,
    /// 1-based line in `file`, where known.
    pub line: Option<usize>,
    /// 1-based column in `file`, where known.
    pub column: Option<usize>,
    /// Error or warning.
    pub severity: Severity,
    /// One of [`codes`], e.g. `script.test_failed`.
    pub code: &'static str,
    /// What is wrong, for the tenant administrator.
    pub message: String,
}

impl ScriptProblem {
    /// Whether the problem keeps the bundle from going live.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn error(file: &str, code: &'static str, message: String) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            column: None,
            severity: Severity::Error,
            code,
            message,
        }
    }

    fn warning(file: &str, code: &'static str, message: String) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, code, message)
        }
    }

    fn at(mut self, line: Option<usize>, column: Option<usize>) -> Self {
        self.line = line;
        self.column = column;
        self
    }
}

impl fmt::Display for ScriptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, ":{line}:{column}")?,
            (Some(line), None) => write!(f, ":{line}")?,
            _ => {}
        }
        write!(f, ": {severity} {}: {}", self.code, self.message)
    }
}

/// Check every script of a bundle, on a runtime with the default limits.
///
/// `files` maps bundle-relative paths (`scripts/tax.purchase.rhai`) to their text; files outside
/// `scripts/`, and files in it that are neither `*.rhai` nor `*.test.yaml`, are ignored. See
/// [`check_bundle_scripts_with`].
pub fn check_bundle_scripts(files: &BTreeMap<String, String>) -> Vec<ScriptProblem> {
    check_bundle_scripts_with(&ScriptRuntime::new(check_limits()), files)
}

/// Check every script of a bundle on `runtime` (whose cache then holds the compiled scripts):
///
/// - each `scripts/*.rhai` must be named after a hook (`script.unknown_hook`) or be a workflow
///   action `scripts/workflow.<name>.rhai` defining `on_step(step)`, compile
///   (`script.compile`, with line and column) and define the hook's entry function with one
///   input (`script.missing_function`);
/// - its `scripts/<hook>.test.yaml` must be a valid test file (`script.test_file`, with line and
///   column) whose cases all pass (`script.test_failed`, one per failing case, pointing at the
///   case's line in the test file);
/// - a hook script without a test file draws the warning `script.untested`, a test file without
///   a script the warning `script.orphan_test`.
///
/// Problems come in file order. Any [`Severity::Error`] means the bundle must not go live.
pub fn check_bundle_scripts_with(
    runtime: &ScriptRuntime,
    files: &BTreeMap<String, String>,
) -> Vec<ScriptProblem> {
    let mut problems = Vec::new();
    for (path, source) in files.range(SCRIPTS_DIR.to_string()..) {
        let Some(name) = path.strip_prefix(SCRIPTS_DIR) else {
            break;
        };
        if name.ends_with(TEST_SUFFIX) {
            let script_path = format!("{}{SCRIPT_SUFFIX}", &path[..path.len() - TEST_SUFFIX.len()]);
            if !files.contains_key(&script_path) {
                let hook = hook_for_test_path(path).map_or_else(
                    || " (and no hook has that name)".to_string(),
                    |_| String::new(),
                );
                problems.push(ScriptProblem::warning(
                    path,
                    codes::ORPHAN_TEST,
                    format!("there is no script {script_path} for these tests{hook}"),
                ));
            }
        } else if name.ends_with(SCRIPT_SUFFIX) {
            check_script(runtime, files, path, source, &mut problems);
        }
    }
    problems
}

/// A workflow action script: `scripts/workflow.<name>.rhai`, called by a workflow's `hook:`
/// action as `on_step(step)` with the step (workflow, state, transition, subject); what it
/// returns becomes the payload of the hook's outbox message.
pub fn workflow_action_name(path: &str) -> Option<&str> {
    path.strip_prefix(SCRIPTS_DIR)?
        .strip_suffix(SCRIPT_SUFFIX)
        .filter(|name| name.starts_with("workflow."))
}

/// The entry function of a workflow action script.
pub const WORKFLOW_ACTION_FUNCTION: &str = "on_step";

fn check_workflow_action(
    runtime: &ScriptRuntime,
    path: &str,
    action: &str,
    source: &str,
    problems: &mut Vec<ScriptProblem>,
) {
    match runtime.compile(path, source) {
        Ok(script) if script.has_function(WORKFLOW_ACTION_FUNCTION, 1) => {}
        Ok(_) => problems.push(ScriptProblem::error(
            path,
            codes::MISSING_FUNCTION,
            format!(
                "the workflow action {action} is called as {WORKFLOW_ACTION_FUNCTION}(step), \
                 taking one input map; the script has no such function"
            ),
        )),
        Err(err) => {
            let (line, column) = err.location();
            problems
                .push(ScriptProblem::error(path, codes::COMPILE, err.to_string()).at(line, column));
        }
    }
}

fn check_script(
    runtime: &ScriptRuntime,
    files: &BTreeMap<String, String>,
    path: &str,
    source: &str,
    problems: &mut Vec<ScriptProblem>,
) {
    if let Some(action) = workflow_action_name(path) {
        check_workflow_action(runtime, path, action, source, problems);
        return;
    }
    let Some(hook) = hook_for_path(path) else {
        problems.push(ScriptProblem::error(
            path,
            codes::UNKNOWN_HOOK,
            format!(
                "a script must be named scripts/<hook>.rhai after the hook it implements; \
                 hooks: {}",
                HookKind::ALL.map(HookKind::name).join(", ")
            ),
        ));
        return;
    };
    let script = match runtime.compile(path, source) {
        Ok(script) => script,
        Err(err) => {
            let (line, column) = err.location();
            problems
                .push(ScriptProblem::error(path, codes::COMPILE, err.to_string()).at(line, column));
            return;
        }
    };
    if hook.check_entry(&script).is_err() {
        let other_arity = (0..8)
            .filter(|arity| *arity != hook.arity())
            .find(|arity| script.has_function(hook.function(), *arity));
        let found = match other_arity {
            Some(arity) => format!("it defines {} with {arity} inputs instead", hook.function()),
            None => format!("it has no function {}", hook.function()),
        };
        problems.push(ScriptProblem::error(
            path,
            codes::MISSING_FUNCTION,
            format!(
                "the {} hook calls {}, taking one input map; {found}",
                hook,
                hook.signature()
            ),
        ));
        return;
    }

    let test_path = hook.test_path();
    let Some(test_yaml) = files.get(&test_path) else {
        problems.push(ScriptProblem::warning(
            path,
            codes::UNTESTED,
            format!("the script has no test cases; add {test_path}"),
        ));
        return;
    };
    match run_suite_compiled(runtime, hook, &script, test_yaml) {
        Ok(report) => {
            for failure in report.failed {
                problems.push(
                    ScriptProblem::error(
                        &test_path,
                        codes::TEST_FAILED,
                        format!("case \"{}\" failed: {}", failure.case, failure.message),
                    )
                    .at(failure.test_line, None),
                );
            }
        }
        Err(SuiteError::TestFile {
            line,
            column,
            message,
        }) => problems
            .push(ScriptProblem::error(&test_path, codes::TEST_FILE, message).at(line, column)),
        // Compiling and the entry function were checked above.
        Err(SuiteError::Script(err)) => {
            let (line, column) = err.location();
            problems
                .push(ScriptProblem::error(path, codes::COMPILE, err.to_string()).at(line, column));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAX: &str = r#"
fn purchase_tax(input) {
    if input.price_incl_vat < 0 { throw "negative price"; }
    let tax = input.price_incl_vat / 10;
    #{ tax: tax, lines: [#{ label: "Tax", amount: tax }], explanation: "ten percent" }
}
"#;

    fn suite(script: &str, yaml: &str) -> Result<SuiteReport, SuiteError> {
        run_suite(
            &ScriptRuntime::new(check_limits()),
            HookKind::TaxPurchase,
            "scripts/tax.purchase.rhai",
            script,
            yaml,
        )
    }

    fn file_error(yaml: &str) -> (Option<usize>, Option<usize>, String) {
        match suite(TAX, yaml) {
            Err(SuiteError::TestFile {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected a test-file error, got {other:?}"),
        }
    }

    #[test]
    fn passing_and_failing_cases_are_counted() {
        let yaml = r#"
cases:
  - name: partial expectation passes
    input: { price_incl_vat: 1000, energy: ice, purchase_date: "2026-01-01" }
    expect: { tax: 100 }
  - name: wrong tax
    input: { price_incl_vat: 1000, energy: ice, purchase_date: "2026-01-01" }
    expect: { tax: 101, exemption: 0 }
  - name: thrown error expected
    input: { price_incl_vat: -1, energy: ice, purchase_date: "2026-01-01" }
    expect_error: "negative price"
"#;
        let report = suite(TAX, yaml).unwrap();
        assert_eq!(report.passed, 2);
        assert_eq!(report.total(), 3);
        assert!(!report.all_passed());
        let failure = &report.failed[0];
        assert_eq!(failure.case, "wrong tax");
        assert_eq!(failure.message, "tax: expected 101, got 100");
        assert_eq!(failure.test_line, Some(6));
        assert!(failure.error.is_none());
        assert_eq!(
            report.to_string(),
            "scripts/tax.purchase.rhai (tax.purchase): 2 passed, 1 failed\n  \
             case \"wrong tax\" (line 6): tax: expected 101, got 100"
        );
    }

    #[test]
    fn maps_compare_by_given_keys_and_arrays_whole() {
        let case = |expect: &str| {
            format!(
                "cases:\n  - name: c\n    input: {{ price_incl_vat: 1000, energy: bev, purchase_date: \"2026-01-01\" }}\n    expect: {expect}\n"
            )
        };
        let run = |expect: &str| suite(TAX, &case(expect)).unwrap();
        // An empty expectation only asks for a successful, valid output.
        assert!(run("{}").all_passed());
        assert!(run("{ explanation: ten percent, exemption: 0 }").all_passed());
        assert!(run("{ lines: [{ label: Tax, amount: 100 }] }").all_passed());
        // Arrays are whole: a partial element does not match.
        let report = run("{ lines: [{ label: Tax }] }");
        // (Key order inside `got` depends on serde_json's `preserve_order`, which another crate
        // of the workspace may switch on; compare the parts, not the order.)
        let message = &report.failed[0].message;
        assert!(
            message.starts_with(r#"lines: expected [{"label":"Tax"}], got [{"#),
            "{message}"
        );
        assert!(
            message.contains(r#""amount":100"#) && message.contains(r#""label":"Tax""#),
            "{message}"
        );
        let report = run("{ lines: [] }");
        assert!(!report.all_passed());
        // A key the output does not have.
        let report = run("{ rate: 10, tax: 99 }");
        assert_eq!(
            report.failed[0].message,
            "rate: expected 10, but the output has no \"rate\"; tax: expected 99, got 100"
        );
    }

    #[test]
    fn nested_maps_compare_recursively() {
        let mut diffs = Vec::new();
        let expected = serde_json::json!({"a": {"b": 1}, "c": [1, 2]});
        let got = serde_json::json!({"a": {"b": 2, "x": 0}, "c": [1, 2], "d": 5});
        compare(&mut String::new(), &expected, &got, &mut diffs);
        assert_eq!(diffs, ["a.b: expected 1, got 2"]);
        diffs.clear();
        compare(&mut String::new(), &serde_json::json!(5), &got, &mut diffs);
        assert!(
            diffs[0].starts_with("the output: expected 5, got {"),
            "{diffs:?}"
        );
    }

    #[test]
    fn expect_error_cases() {
        let yaml = r#"
cases:
  - name: wrong words
    input: { price_incl_vat: -1, energy: ice, purchase_date: "2026-01-01" }
    expect_error: "price below zero"
  - name: no error at all
    input: { price_incl_vat: 1, energy: ice, purchase_date: "2026-01-01" }
    expect_error: "negative"
"#;
        let report = suite(TAX, yaml).unwrap();
        assert_eq!(report.passed, 0);
        let first = &report.failed[0];
        assert!(
            first.message.starts_with(
                "expected an error containing \"price below zero\", got: script \
                 \"scripts/tax.purchase.rhai\" failed at line 3, column"
            ),
            "{}",
            first.message
        );
        assert_eq!(first.error.as_ref().unwrap().location().0, Some(3));
        assert!(
            report.failed[1].message.starts_with(
                "expected an error containing \"negative\", but the script returned {"
            ),
            "{}",
            report.failed[1].message
        );
    }

    #[test]
    fn script_errors_fail_a_case_with_their_location() {
        let yaml = r#"
cases:
  - name: negative
    input: { price_incl_vat: -1, energy: ice, purchase_date: "2026-01-01" }
    expect: { tax: 0 }
"#;
        let report = suite(TAX, yaml).unwrap();
        let failure = &report.failed[0];
        let err = failure.error.as_ref().unwrap();
        assert_eq!(err.location().0, Some(3));
        assert!(
            failure.message.contains("at line 3, column"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("negative price"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn invalid_outputs_fail_a_case() {
        let script = "fn purchase_tax(input) { #{ tax: -5 } }";
        let yaml = "cases:\n  - name: c\n    input: { price_incl_vat: 1, energy: ice, purchase_date: \"2026-01-01\" }\n    expect: { tax: -5 }\n";
        let report = suite(script, yaml).unwrap();
        assert!(
            report.failed[0]
                .message
                .contains("tax must not be negative"),
            "{report}"
        );
        // ... unless that is what the case expects.
        let yaml = yaml.replace("expect: { tax: -5 }", "expect_error: must not be negative");
        assert!(suite(script, &yaml).unwrap().all_passed());
    }

    #[test]
    fn yaml_errors_have_line_and_column() {
        let (line, column, message) = file_error("cases:\n  - name: a\n    input: [1, 2\n");
        assert!(line.is_some() && column.is_some(), "{message}");
        assert!(!message.contains(" at line "), "{message}");

        // A field the hook's input does not have.
        let (line, column, message) = file_error(
            "cases:\n  - name: a\n    input: { price_incl_vat: 1, energy: ice, purchase_date: \"2026-01-01\", vin: x }\n    expect: {}\n",
        );
        assert_eq!(line, Some(3), "{message}");
        assert!(column.is_some());
        assert!(message.contains("unknown field `vin`"), "{message}");
        assert!(message.starts_with("cases[0].input"), "{message}");

        // A bad value: an energy type that does not exist, a date that is not one.
        let (line, _, message) = file_error(
            "cases:\n  - name: a\n    input:\n      price_incl_vat: 1\n      energy: diesel\n      purchase_date: \"2026-01-01\"\n    expect: {}\n",
        );
        assert_eq!(line, Some(5), "{message}");
        assert!(message.contains("diesel"), "{message}");
        let (_, _, message) = file_error(
            "cases:\n  - name: a\n    input: { price_incl_vat: 1, energy: ice, purchase_date: \"2026-02-30\" }\n    expect: {}\n",
        );
        assert!(message.contains("not a day of the calendar"), "{message}");

        // A misspelt key of the case itself.
        let (line, _, message) = file_error(
            "cases:\n  - name: a\n    input: { price_incl_vat: 1, energy: ice, purchase_date: \"2026-01-01\" }\n    expected: {}\n",
        );
        assert_eq!(line, Some(4), "{message}");
        assert!(message.contains("unknown field `expected`"), "{message}");
    }

    #[test]
    fn test_file_rules() {
        let input = r#"input: { price_incl_vat: 1, energy: ice, purchase_date: "2026-01-01" }"#;
        let (_, _, message) = file_error("cases: []");
        assert_eq!(message, "the test file has no cases");
        let (line, _, message) = file_error(&format!(
            "cases:\n  - name: a\n    {input}\n    expect: {{}}\n  - name: a\n    {input}\n    expect: {{}}\n"
        ));
        assert!(message.contains("two cases are named \"a\""), "{message}");
        assert_eq!(line, Some(2));
        let (line, _, message) = file_error(&format!(
            "cases:\n  - name: both\n    {input}\n    expect: {{}}\n    expect_error: x\n"
        ));
        assert!(
            message.contains("both expect and expect_error"),
            "{message}"
        );
        assert_eq!(line, Some(2));
        let (_, _, message) = file_error(&format!("cases:\n  - name: none\n    {input}\n"));
        assert!(
            message.contains("neither expect nor expect_error"),
            "{message}"
        );
        let (_, _, message) = file_error(&format!(
            "cases:\n  - name: \" \"\n    {input}\n    expect: {{}}\n"
        ));
        assert!(message.contains("empty name"), "{message}");
        let (_, _, message) = file_error(&format!(
            "cases:\n  - name: e\n    {input}\n    expect_error: \"\"\n"
        ));
        assert!(message.contains("empty expect_error"), "{message}");
    }

    #[test]
    fn broken_scripts_do_not_run_their_suite() {
        let yaml = "cases:\n  - name: a\n    input: { price_incl_vat: 1, energy: ice, purchase_date: \"2026-01-01\" }\n    expect: {}\n";
        let err = suite("fn purchase_tax(input) {\n  let x = ;\n}", yaml).unwrap_err();
        let SuiteError::Script(err) = err else {
            panic!("{err}")
        };
        assert_eq!(err.location(), (Some(2), Some(11)), "{err}");
        let err = suite("fn tax(input) { 1 }", yaml).unwrap_err();
        assert!(
            matches!(err, SuiteError::Script(ScriptError::MissingFunction { .. })),
            "{err}"
        );
    }

    #[test]
    fn case_lines_are_found_in_block_style() {
        let yaml = "cases:\n  - name: first\n    x: 1\n  - input: {}\n    name: \"second one\"\n  - name: 'third'\n";
        assert_eq!(case_line(yaml, "first"), Some(2));
        assert_eq!(case_line(yaml, "second one"), Some(5));
        assert_eq!(case_line(yaml, "third"), Some(6));
        assert_eq!(case_line(yaml, "fourth"), None);
    }

    #[test]
    fn yaml_locations_are_stripped_from_messages() {
        assert_eq!(
            without_location("bad thing at line 3 column 7"),
            "bad thing"
        );
        assert_eq!(without_location("bad at line x"), "bad at line x");
        assert_eq!(without_location("no location"), "no location");
    }

    fn bundle(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(path, text)| ((*path).to_string(), (*text).to_string()))
            .collect()
    }

    const TAX_TESTS: &str = "cases:\n  - name: ten percent\n    input: { price_incl_vat: 1000, energy: ice, purchase_date: \"2026-01-01\" }\n    expect: { tax: 100 }\n";

    #[test]
    fn a_good_bundle_has_no_problems() {
        let files = bundle(&[
            ("tenant.yaml", "schema_version: 1"),
            ("scripts/tax.purchase.rhai", TAX),
            ("scripts/tax.purchase.test.yaml", TAX_TESTS),
            ("scripts/README.md", "notes"),
            ("workflows/x.rhai", "this is not checked here"),
        ]);
        assert_eq!(check_bundle_scripts(&files), []);
    }

    #[test]
    fn bundle_problems_are_reported_per_file() {
        let failing_tests = TAX_TESTS.replace("tax: 100", "tax: 99");
        let files = bundle(&[
            ("scripts/discount.rhai", "fn discount(x) { x }"),
            (
                "scripts/lead.score.rhai",
                "fn score_lead(input) {\n  let = 1;\n}",
            ),
            (
                "scripts/finance.decide.rhai",
                "fn decide_finance(a, b) { 1 }",
            ),
            ("scripts/profile.tags.rhai", "fn tags(input) { 1 }"),
            ("scripts/tax.purchase.rhai", TAX),
            ("scripts/tax.purchase.test.yaml", &failing_tests),
            (
                "scripts/pricing.adjust.rhai",
                "fn adjust_price(input) { #{ adjustments: [] } }",
            ),
            (
                "scripts/tradein.value.rhai",
                "fn value_tradein(input) { #{ value: 1 } }",
            ),
            (
                "scripts/tradein.value.test.yaml",
                "cases:\n  - name: x\n    input: [\n",
            ),
            ("scripts/lead.score.test.yaml", TAX_TESTS),
            ("scripts/old.test.yaml", TAX_TESTS),
        ]);
        let problems = check_bundle_scripts(&files);
        let summary: Vec<_> = problems
            .iter()
            .map(|p| (p.file.as_str(), p.code, p.severity, p.line))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "scripts/discount.rhai",
                    codes::UNKNOWN_HOOK,
                    Severity::Error,
                    None
                ),
                (
                    "scripts/finance.decide.rhai",
                    codes::MISSING_FUNCTION,
                    Severity::Error,
                    None
                ),
                (
                    "scripts/lead.score.rhai",
                    codes::COMPILE,
                    Severity::Error,
                    Some(2)
                ),
                (
                    "scripts/old.test.yaml",
                    codes::ORPHAN_TEST,
                    Severity::Warning,
                    None
                ),
                (
                    "scripts/pricing.adjust.rhai",
                    codes::UNTESTED,
                    Severity::Warning,
                    None
                ),
                (
                    "scripts/profile.tags.rhai",
                    codes::MISSING_FUNCTION,
                    Severity::Error,
                    None
                ),
                (
                    "scripts/tax.purchase.test.yaml",
                    codes::TEST_FAILED,
                    Severity::Error,
                    Some(2)
                ),
                (
                    "scripts/tradein.value.test.yaml",
                    codes::TEST_FILE,
                    Severity::Error,
                    Some(3)
                ),
            ]
        );
        let by_code = |code| problems.iter().find(|p| p.code == code).unwrap();
        assert!(by_code(codes::UNKNOWN_HOOK)
            .message
            .contains("tax.purchase"));
        assert_eq!(by_code(codes::COMPILE).column, Some(7));
        assert_eq!(
            problems[1].message,
            "the finance.decide hook calls fn decide_finance(input), taking one input map; \
             it defines decide_finance with 2 inputs instead"
        );
        assert!(problems[5]
            .message
            .ends_with("it has no function profile_tags"));
        let failed = by_code(codes::TEST_FAILED);
        assert_eq!(
            failed.message,
            "case \"ten percent\" failed: tax: expected 99, got 100"
        );
        assert_eq!(
            failed.to_string(),
            "scripts/tax.purchase.test.yaml:2: error script.test_failed: \
             case \"ten percent\" failed: tax: expected 99, got 100"
        );
        assert!(by_code(codes::TEST_FILE).column.is_some());
        assert!(by_code(codes::ORPHAN_TEST)
            .message
            .contains("no hook has that name"));
        assert!(problems.iter().filter(|p| p.is_error()).count() == 6);
    }
}
