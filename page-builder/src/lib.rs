//! # forecourt-page-builder
//!
//! **Owns** storefront pages as data: the block library (each block's props JSON Schema, its
//! tera template, its JSON twin and its editor metadata), page documents with a
//! `schema_version`, validation with located errors, server-side rendering with escaping on,
//! tenant templates in a sandbox, rich-text sanitising, locale formatting, and the static assets
//! of the builder UI and the configurator island.
//!
//! **Must never know** SQL, HTTP, tenants' storage or how publishing is persisted: `core` stores
//! page versions, decides which one is live, caches rendered pages and serves them; this crate
//! turns a validated page document plus the tenant's [`site::Site`] into HTML or its JSON twin.
//!
//! **Invariants**
//! - Every value a tenant or visitor supplies reaches HTML escaped; rich text passes an
//!   allow-list sanitiser; a tenant template can neither turn escaping off nor loop without
//!   bound, and a failing block renders as an empty, labelled placeholder, never a failed page.
//! - The HTML and the JSON twin of a block come from the same view model ([`blocks::BlockKind::data`]).
//! - Loading returns every problem of a document at once, each with file, line, column and
//!   JSON pointer.

pub mod assets;
pub mod blocks;
pub mod document;
pub mod format;
pub mod render;
pub mod route;
pub mod sandbox;
pub mod sanitize;
pub mod site;

pub use document::{BlockNode, Channel, PageDocument, PageMeta, SCHEMA_VERSION};
pub use render::{Page, RenderedPage, Renderer};
pub use route::Route;
pub use site::{NavLink, RenderRequest, Services, Site, Visit};
