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
//!   bound (and its own markup is sanitised like rich text), and a failing block renders as an empty, labelled placeholder, never a failed page.
//! - The HTML and the JSON twin of a block come from the same view model ([`blocks::BlockKind::data`]).
//! - Loading returns every problem of a document at once, each with file, line, column and
//!   JSON pointer.
//!
//! # Using it
//!
//! ```
//! use std::collections::BTreeMap;
//! use forecourt_page_builder::site::NoServices;
//! use forecourt_page_builder::{Channel, RenderRequest, Renderer, Site, Visit};
//!
//! let renderer = Renderer::new(); // once per process: compiles every block's template
//! let text = r#"{"schema_version": 1, "id": "home", "route": "/",
//!   "meta": {"en": {"title": "Home"}},
//!   "blocks": [{"type": "hero", "id": "top", "props": {"headline": "Hello", "tone": "dark"}}]}"#;
//! let page = renderer.load("pages/home.json", text, None).map_err(|r| r.to_string())?;
//! let site = Site::default(); // built by `core` from the tenant's bundle
//! let params = BTreeMap::new();
//! let req = RenderRequest {
//!     locale: "en", channel: Channel::Web, base_path: "", params: &params, nav: &[], preview: false,
//! };
//! let rendered = renderer.render(&page, &site, &req, &NoServices); // cacheable
//! let html = renderer.fill(&rendered, &page, &site, &req, &Visit::default(), &NoServices);
//! assert!(html.contains("<h1") && html.contains("Hello"));
//! let twin = renderer.twin(&page, &site, &req, &Visit::default(), &NoServices);
//! assert_eq!(twin["blocks"][0]["data"]["headline"], "Hello");
//! # Ok::<(), String>(())
//! ```
//!
//! # Diagnostic codes of page loading
//! Stable; clients may match on them. Besides the shape layer's `yaml.*` and `schema.*` codes
//! (see `forecourt_tenant_config`; props violations of a block use the same `schema.*` codes,
//! located under `/blocks/…/props`):
//!
//! | code | meaning |
//! |---|---|
//! | `page.too_large` | the document is over 1 MiB, has more than [`render::MAX_BLOCKS`] blocks, or nests them deeper than [`render::MAX_DEPTH`] |
//! | `page.schema_version` | a `schema_version` this build does not read (it reads [`SCHEMA_VERSION`]) |
//! | `page.route` | a route [`Route::parse`] refuses (pointer `/route`) |
//! | `page.unknown_block` | a block `type` the library does not have, with a did-you-mean |
//! | `page.children_not_allowed` | `children` on a block type that is not a container |
//! | `page.duplicate_block_id` | a block id used twice (reported at the second) |
//! | `page.template` | a `template` block's tenant template breaks the sandbox rules, or its data does not suit it ([`sandbox`]) |
//! | `page.reference` | with the site: a block's own check failed, e.g. an unknown model code |
//! | `page.meta_missing` | with the site: no `meta` for the tenant's default locale |
//! | `page.internal` | a bug in a block type (its schema does not compile, its check panicked) |

pub mod assets;
pub mod blocks;
pub mod document;
pub mod format;
mod load;
pub mod render;
pub mod route;
pub mod sandbox;
pub mod sanitize;
pub mod site;

pub use document::{BlockNode, Channel, PageDocument, PageMeta, SCHEMA_VERSION};
pub use render::{page_schema, Page, RenderedPage, Renderer};
pub use route::Route;
pub use site::{NavLink, RenderRequest, Services, Site, Visit};
