//! Forecourt's script runtime: tenants write business rules as Rhai scripts, and this crate runs
//! them in a sandbox.
//!
//! # What it owns
//!
//! - **The Rhai sandbox** ([`sandbox`]): the one builder of every [`rhai::Engine`] in Forecourt,
//!   [`hardened_engine`], with the limits a script runs under ([`Limits`]): operations, call
//!   depth, expression depth, string/array/map sizes, variables, modules and wall-clock time.
//! - **Hook points** ([`ScriptRuntime::run`]): calling a script function (or a whole script) with
//!   JSON inputs and getting JSON (or any `serde` type) back. Typed hooks build on this.
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
//! - Integers in scripts are `i64`; money is integer minor units, never floats.

pub mod error;
pub mod runtime;
pub mod sandbox;

pub use error::{Limit, ScriptError};
pub use runtime::{CompiledScript, ScriptRuntime};
pub use sandbox::{hardened_engine, Limits};
