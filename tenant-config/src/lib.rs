//! # forecourt-tenant-config
//!
//! **Owns** the tenant bundle: the directory of YAML/JSON documents (`tenant.yaml` now;
//! `catalog/`, `workflows/`, `pages/`, `scripts/` join later) that describes a tenant — its
//! profile, org tree (regions → dealer groups → stores), roles and permission scopes — and its
//! validation in three layers: YAML syntax, JSON Schema shape, meaning.
//!
//! **Must never know** HTTP, SQL, Cedar or any storage: it turns bytes into a validated,
//! immutable [`Bundle`] with a content hash, or into the complete list of what is wrong.
//!
//! **Invariants**
//! - Loading never stops at the first problem: one call reports **every** error, each with
//!   file, line, column, JSON pointer, a stable code and a message a tenant admin understands.
//! - A [`Bundle`] only exists when all three layers passed; nothing downstream re-validates.
//! - The content hash depends on the meaning of the documents, not on formatting or comments.
