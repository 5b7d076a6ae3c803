//! # forecourt-page-builder
//!
//! **Owns** storefront pages as data: the block library (each block's props JSON Schema, its
//! template and its JSON twin), page documents with a `schema_version`, server-side rendering
//! through templates with escaping on, and the builder UI's static assets.
//!
//! **Must never know** SQL, tenants' storage or how publishing is persisted: `core` stores page
//! versions and decides which one is live; this crate turns a validated page document into HTML
//! or its JSON twin.
//!
//! This crate is a placeholder in the workspace layout: the block library and renderer are
//! delivered by the page-builder issue, and nothing in the product depends on it yet.
