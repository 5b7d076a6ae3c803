//! # forecourt-workflow-engine
//!
//! **Owns** the approval flows and state machines that tenants and integrators describe in YAML
//! (test-drive review, transfer approval, order lifecycle, finance application): their format,
//! their validation and the pure decision function
//! `(definition, instance, command, actor, now) → (new state, effects)`.
//!
//! **Must never know** HTTP, SQL, the clock or any other I/O: `core` stores instances, runs
//! timers and carries out effects. Everything here is deterministic and testable alone.
//!
//! **Invariants** (to hold once the engine lands with the workflow issue): a running instance
//! always names the exact definition version it started on; a command either yields a new state
//! with its effects or an error, never a partial change.
//!
//! This crate is a placeholder in the workspace layout: the engine itself is delivered by the
//! workflow issue, and nothing in the product depends on it yet.
