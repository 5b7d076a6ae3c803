//! # forecourt
//!
//! The tenant-aware service and the `forecourt` binary: HTTP API, storage, authentication,
//! authorization and the runtime that applies tenant configuration.
//!
//! **Owns** everything with I/O: the database (SQLite or PostgreSQL through sqlx), HTTP (axum),
//! the clock, caches shared across requests, and the CLI. The engines below it
//! (`forecourt-tenant-config`, `forecourt-plugins`, and later the workflow and page engines) are
//! pure libraries it calls; none of them depends on this crate.
//!
//! **Layout**: organised by business area — `tenancy/`, `auth/`, `users/`, `authz/`,
//! `bundles/`, `audit/` — each with its model, its queries and its routes; shared plumbing in
//! `http/` and `store/`.
//!
//! **Invariants**
//! - Every row of business data belongs to one tenant; every query is bound to the tenant that
//!   the credentials name (and on PostgreSQL row-level security enforces it again).
//! - Every route declares its access; authorization is default-deny through Cedar.
//! - SQL is parameterised; no request text is ever formatted into a statement.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod bundles;
pub mod buyers;
pub mod catalog;
pub mod cli;
pub mod demo;
pub mod finance;
pub mod http;
pub mod idempotency;
pub mod inventory;
pub mod orders;
pub mod outbox;
pub mod pages;
pub mod payments;
pub mod pii;
pub mod quotes;
pub mod state;
pub mod store;
pub mod tenancy;
pub mod test_drives;
pub mod users;
pub mod workflows;

pub use state::{AppState, Settings};
