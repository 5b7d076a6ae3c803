//! Forecourt's script runtime: tenants write business rules as Rhai scripts, and this crate runs
//! them in a sandbox.
//!
//! # What it owns
//!
//! - **The Rhai sandbox** ([`sandbox`]): the one builder of every [`rhai::Engine`] in Forecourt,
//!   [`hardened_engine`], with the limits a script runs under ([`Limits`]): operations, call
//!   depth, expression depth, string/array/map sizes, variables, modules and wall-clock time.
//! - **Running scripts** ([`ScriptRuntime::run`]): calling a script function (or a whole script)
//!   with JSON inputs and getting JSON (or any `serde` type) back.
//! - **Typed hook points** ([`hooks`]): the places where Forecourt asks a tenant's script for a
//!   decision — `pricing.adjust`, `tax.purchase`, `lead.score`, `profile.tags`,
//!   `finance.decide`, `tradein.value`. Each has a Rust input and output type, an entry function
//!   the script defines (`fn purchase_tax(input)`), and a check of the output's values
//!   ([`HookPoint`], called with [`HookRunner::call`]). A bundle keeps the script for a hook at
//!   `scripts/<hook name>.rhai` ([`hook_for_path`]).
//! - **Script tests** ([`suite`]): the `scripts/<hook name>.test.yaml` cases of a script
//!   ([`run_suite`]) and the check of all of a bundle's scripts ([`check_bundle_scripts`]):
//!   compile, entry function, and every test case passing. **A broken rule never goes live**:
//!   callers apply a bundle only when that check reports no error.
//! - **The compiled-script cache** ([`ScriptRuntime::compile`]): Rhai ASTs cached by the SHA-256
//!   of their source, so a published script compiles once however many tenants and requests use it.
//! - **Script errors** ([`ScriptError`]): what went wrong, in which script, at which line and
//!   column, worded for a tenant administrator.
//!
//! # What it must never know
//!
//! HTTP, SQL, tenants' storage, or who the tenant is. Callers hand it a script name, the source
//! and JSON inputs; it hands back JSON or a [`ScriptError`]. Mapping errors to problem+json and
//! loading scripts from a tenant bundle happen in `core` and `tenant-config`.
//!
//! # Invariants
//!
//! - **Every engine comes from one hardened builder**, [`hardened_engine`]: a raw engine with only
//!   the safe standard packages (no file access, no `eval`, no `import`, no `sleep`, no stdout).
//!   No other code in Forecourt calls `Engine::new`.
//! - **No script runs without operation, size and time limits.** The limits are set on the engine
//!   itself, and the wall-clock deadline is checked from the engine's progress callback, per call
//!   and per thread, so one engine can serve many threads. Rhai's `unchecked` feature compiles all
//!   of this out, so it must never be enabled anywhere in the build (check with
//!   `cargo tree -e features -i rhai`); see `ENGINEERING.md`.
//! - **Compiled ASTs are keyed by content hash** (SHA-256 of the source, plus the declared input
//!   variables, if any), never by name: two tenants with the same script share one AST, and a
//!   changed script can never be served a stale AST.
//! - Integers in scripts are `i64`; money is integer minor units, never floats. Arithmetic that
//!   overflows is an error of the script, never a wrapped value.
//! - **A hook's output is checked before anyone sees it**: its shape against the hook's output
//!   type (unknown keys are errors), its values by [`HookPoint::check`] (no negative tax, scores
//!   within 0..=100, …).

pub mod error;
pub mod hooks;
pub mod payments;
pub mod runtime;
pub mod sandbox;
pub mod suite;

pub use error::{Limit, ScriptError};
pub use hooks::{
    hook_for_path, hook_for_test_path, Date, HookKind, HookPoint, HookRunner, HookVisitor,
};
pub use runtime::{CompiledScript, ScriptRuntime};
pub use sandbox::{hardened_engine, Limits};
pub use suite::{
    check_bundle_scripts, check_bundle_scripts_with, run_suite, run_suite_compiled, CaseFailure,
    ScriptProblem, Severity, SuiteError, SuiteReport,
};
