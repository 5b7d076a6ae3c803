//! CONTRACT STUB — the helper implements it.

use std::sync::Arc;

use forecourt_tenant_config::Report;

use crate::blocks::Library;
use crate::document::PageDocument;
use crate::route::Route;
use crate::site::{RenderRequest, Services, Site, Visit};

/// A validated page document: what `core` stores, caches and renders.
#[derive(Debug, Clone)]
pub struct Page {
    pub doc: PageDocument,
    pub route: Route,
    /// sha256 hex of the canonical JSON of `doc`.
    pub hash: String,
}

/// A page rendered once for (page version, site, locale, channel, params): static HTML with
/// the per-request blocks left as slots.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    _p: (),
}

impl RenderedPage {
    /// Bytes held (for the cache's weigher).
    pub fn weight(&self) -> usize {
        todo!()
    }
    /// The complete document when no block is per-request.
    pub fn whole(&self) -> Option<Arc<str>> {
        todo!()
    }
    /// Problems met while rendering (a block that failed and was replaced by a placeholder);
    /// `core` logs them.
    pub fn problems(&self) -> &[String] {
        todo!()
    }
}

/// The block library and its compiled templates. Build once; share.
pub struct Renderer {
    _p: (),
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        todo!()
    }
    pub fn library(&self) -> &Library {
        todo!()
    }
    /// Parses and validates a page document (JSON text); every problem at once, located.
    /// With `site`, references (model codes) are checked too.
    pub fn load(&self, file: &str, text: &str, site: Option<&Site>) -> Result<Page, Report> {
        let _ = (file, text, site);
        todo!()
    }
    /// The same for an already-parsed value (pointers only, no line and column).
    pub fn load_value(
        &self,
        file: &str,
        value: &serde_json::Value,
        site: Option<&Site>,
    ) -> Result<Page, Report> {
        let _ = (file, value, site);
        todo!()
    }
    /// Renders everything that does not depend on the visitor.
    pub fn render(
        &self,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        services: &dyn Services,
    ) -> RenderedPage {
        let _ = (page, site, req, services);
        todo!()
    }
    /// The complete HTML document for one visitor.
    pub fn fill(
        &self,
        rendered: &RenderedPage,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        visit: &Visit,
        services: &dyn Services,
    ) -> String {
        let _ = (rendered, page, site, req, visit, services);
        todo!()
    }
    /// The JSON twin for one visitor.
    pub fn twin(
        &self,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        visit: &Visit,
        services: &dyn Services,
    ) -> serde_json::Value {
        let _ = (page, site, req, visit, services);
        todo!()
    }
}

/// The JSON Schema of a page document (served at `/api/v1/schemas/page.json`).
pub fn page_schema() -> serde_json::Value {
    todo!()
}
