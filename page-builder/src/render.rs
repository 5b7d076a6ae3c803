//! The renderer: loads and validates page documents ([`Renderer::load`]), renders them to HTML
//! in two steps — everything that does not depend on the visitor once ([`Renderer::render`],
//! cacheable), then the per-request blocks for each visitor ([`Renderer::fill`]) — and builds
//! the JSON twin the apps and mini-programs read ([`Renderer::twin`]).
//!
//! One `tera::Tera` holds `layout.html` and every block type's template (`blocks/<name>.html`),
//! escaping on, every expression escaped whatever its type (see [`crate::sandbox::harden`]).
//! A block whose view model or template fails (even by panicking) is replaced by an empty,
//! labelled `<section class="block-error">` and a line in [`RenderedPage::problems`]: a page
//! always renders.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use forecourt_tenant_config::Report;
use serde_json::{json, Map, Value};
use tera::Tera;

use crate::blocks::{template::HTML_KEY, BlockCtx, BlockKind, Library};
use crate::document::{BlockNode, PageDocument, PageMeta, SCHEMA_VERSION};
use crate::route::Route;
use crate::sandbox::{self, SandboxTemplate};
use crate::site::{pick, RenderRequest, Services, Site, Visit};

pub use crate::load::{MAX_BLOCKS, MAX_DEPTH};

const LAYOUT: &str = include_str!("../templates/layout.html");
const LAYOUT_NAME: &str = "layout.html";

/// Marks where a per-request block goes in statically rendered HTML: `<!--fc-slot:N-->`. Only
/// HTML marked safe can carry `<`, so escaped text never forms one; tenant templates' output
/// is neutralised by [`neutralise`].
const SLOT_OPEN: &str = "<!--fc-slot:";
const SLOT_CLOSE: &str = "-->";

/// A validated page document: what `core` stores, caches and renders.
#[derive(Debug, Clone)]
pub struct Page {
    pub doc: PageDocument,
    pub route: Route,
    /// sha256 hex of the canonical JSON of `doc`.
    pub hash: String,
    /// The page's tenant templates, compiled once at load.
    templates: Arc<Sandboxes>,
}

/// Compiled tenant templates by block id.
#[derive(Debug, Default)]
pub(crate) struct Sandboxes(HashMap<String, SandboxTemplate>);

impl Sandboxes {
    pub(crate) fn new(map: HashMap<String, SandboxTemplate>) -> Sandboxes {
        Sandboxes(map)
    }
}

impl Page {
    pub(crate) fn assemble(
        doc: PageDocument,
        route: Route,
        hash: String,
        templates: Arc<Sandboxes>,
    ) -> Page {
        Page {
            doc,
            route,
            hash,
            templates,
        }
    }

    /// The compiled tenant template of the `template` block `block_id`, when it has one.
    pub fn sandbox(&self, block_id: &str) -> Option<&SandboxTemplate> {
        self.templates.0.get(block_id)
    }

    /// The page's title and SEO fields in `locale`, else in `fallback`, else any.
    pub fn meta(&self, locale: &str, fallback: &str) -> Option<&PageMeta> {
        self.doc
            .meta
            .get(locale)
            .or_else(|| self.doc.meta.get(fallback))
            .or_else(|| self.doc.meta.values().next())
    }

    /// Whether a block of type `kind` is shown on `channel`.
    pub fn has_block(&self, kind: &str, channel: crate::document::Channel) -> bool {
        fn walk(blocks: &[BlockNode], kind: &str, channel: crate::document::Channel) -> bool {
            blocks
                .iter()
                .filter(|b| b.on(channel))
                .any(|b| b.kind == kind || walk(&b.children, kind, channel))
        }
        walk(&self.doc.blocks, kind, channel)
    }
}

/// A page rendered once for (page version, site, locale, channel, params): static HTML with
/// the per-request blocks left as slots.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    /// HTML between the slots; one more than `gaps`.
    segments: Vec<Arc<str>>,
    /// For each gap between two segments, the index of the slot that fills it.
    gaps: Vec<usize>,
    slots: Vec<Slot>,
    problems: Vec<String>,
    weight: usize,
}

/// A per-request block, kept whole so it can be rendered for each visitor.
#[derive(Debug, Clone)]
struct Slot {
    node: BlockNode,
}

impl RenderedPage {
    /// Bytes held (for the cache's weigher).
    pub fn weight(&self) -> usize {
        self.weight
    }
    /// The complete document when no block is per-request.
    pub fn whole(&self) -> Option<Arc<str>> {
        if self.gaps.is_empty() {
            self.segments.first().cloned()
        } else {
            None
        }
    }
    /// Problems met while rendering (a block that failed and was replaced by a placeholder);
    /// `core` logs them.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
    /// How many per-request blocks [`Renderer::fill`] renders for each visitor.
    pub fn slots(&self) -> usize {
        self.gaps.len()
    }
}

/// How a block is rendered.
#[derive(Clone, Copy)]
enum Mode<'v> {
    /// Once for everyone: per-request blocks become slots.
    Static,
    /// For one visitor: everything is rendered.
    Visit(&'v Visit),
}

impl<'v> Mode<'v> {
    fn visit(self) -> Option<&'v Visit> {
        match self {
            Mode::Static => None,
            Mode::Visit(v) => Some(v),
        }
    }
}

/// What every block of one render sees.
struct Env<'a> {
    page: &'a Page,
    site: &'a Site,
    req: &'a RenderRequest<'a>,
    services: &'a dyn Services,
}

/// The output of rendering blocks: HTML with slot markers, the slots, the problems.
#[derive(Default)]
struct Out {
    html: String,
    slots: Vec<Slot>,
    problems: Vec<String>,
}

/// The block library and its compiled templates. Build once; share.
pub struct Renderer {
    library: Library,
    tera: Tera,
    /// Block types whose template does not compile, with tera's message.
    broken: HashMap<&'static str, String>,
    /// Set when `layout.html` does not compile (a bug; a bare fallback layout is used).
    layout_error: Option<String>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("library", &self.library)
            .field("broken", &self.broken)
            .field("layout_error", &self.layout_error)
            .finish_non_exhaustive()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    /// The built-in block library with every template and props schema compiled.
    pub fn new() -> Renderer {
        Renderer::with_library(Library::builtin())
    }

    /// A renderer for `library`.
    pub fn with_library(library: Library) -> Renderer {
        let mut tera = Tera::default();
        tera.set_escape_fn(sandbox::escape);
        let layout_error = tera
            .add_raw_template(LAYOUT_NAME, LAYOUT)
            .err()
            .map(|e| sandbox::error_chain(&e));
        let mut broken = HashMap::new();
        for kind in library.kinds() {
            let name = template_name(kind.name());
            if let Err(e) = tera.add_raw_template(&name, kind.template()) {
                broken.insert(kind.name(), sandbox::error_chain(&e));
            }
        }
        sandbox::harden(&mut tera);
        Renderer {
            library,
            tera,
            broken,
            layout_error,
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Block types whose template does not compile, with tera's message (empty in a good
    /// build; the library's tests check it).
    pub fn broken_templates(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<_> = self.broken.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(e) = &self.layout_error {
            out.push((LAYOUT_NAME, e.as_str()));
        }
        out.sort();
        out
    }

    /// Parses and validates a page document (JSON or YAML text); every problem at once, located.
    /// With `site`, references (model codes) and the default locale's title are checked too.
    pub fn load(&self, file: &str, text: &str, site: Option<&Site>) -> Result<Page, Report> {
        crate::load::load(&self.library, file, text, site)
    }

    /// The same for an already-parsed value (pointers only, no line and column).
    pub fn load_value(
        &self,
        file: &str,
        value: &serde_json::Value,
        site: Option<&Site>,
    ) -> Result<Page, Report> {
        crate::load::load_value(&self.library, file, value, site)
    }

    /// Renders everything that does not depend on the visitor.
    pub fn render(
        &self,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        services: &dyn Services,
    ) -> RenderedPage {
        let env = Env {
            page,
            site,
            req,
            services,
        };
        let mut out = Out::default();
        out.html.reserve(16 * 1024);
        self.blocks(&page.doc.blocks, &env, Mode::Static, &mut out);
        let Out {
            html: main,
            slots,
            mut problems,
        } = out;
        let html = self.layout(&env, &main, &mut problems);
        let (segments, gaps) = split(&html, slots.len());
        let weight = segments.iter().map(|s| s.len()).sum::<usize>()
            + slots.iter().map(|s| node_weight(&s.node)).sum::<usize>()
            + problems.iter().map(String::len).sum::<usize>()
            + std::mem::size_of::<RenderedPage>();
        RenderedPage {
            segments,
            gaps,
            slots,
            problems,
            weight,
        }
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
        self.fill_with_problems(rendered, page, site, req, visit, services)
            .0
    }

    /// [`Renderer::fill`], with the problems met while rendering the per-request blocks (those
    /// of the static render are in [`RenderedPage::problems`]).
    pub fn fill_with_problems(
        &self,
        rendered: &RenderedPage,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        visit: &Visit,
        services: &dyn Services,
    ) -> (String, Vec<String>) {
        if let Some(whole) = rendered.whole() {
            return (whole.to_string(), Vec::new());
        }
        let env = Env {
            page,
            site,
            req,
            services,
        };
        let mut out = Out::default();
        out.html.reserve(rendered.weight + 4096);
        for (i, segment) in rendered.segments.iter().enumerate() {
            out.html.push_str(segment);
            if let Some(slot) = rendered.gaps.get(i).and_then(|&s| rendered.slots.get(s)) {
                self.block(&slot.node, &env, Mode::Visit(visit), &mut out);
            }
        }
        (out.html, out.problems)
    }

    /// The JSON twin for one visitor: `{schema_version, page: {id, route, path}, locale,
    /// channel, meta: {title, description, image}, nav, blocks: [{type, id, data, children}]}`.
    /// Each block's `data` is the view model its HTML template gets; `null` when it failed.
    pub fn twin(
        &self,
        page: &Page,
        site: &Site,
        req: &RenderRequest<'_>,
        visit: &Visit,
        services: &dyn Services,
    ) -> serde_json::Value {
        let env = Env {
            page,
            site,
            req,
            services,
        };
        let meta = page.meta(req.locale, &site.tenant.default_locale);
        let mut problems = Vec::new();
        let blocks = self.twin_blocks(&page.doc.blocks, &env, visit, &mut problems);
        json!({
            "schema_version": SCHEMA_VERSION,
            "page": {
                "id": page.doc.id,
                "route": page.route.as_str(),
                "path": page.route.link(req.params),
            },
            "locale": req.locale,
            "channel": req.channel.as_str(),
            "meta": {
                "title": meta.map(|m| m.title.as_str()),
                "description": meta.and_then(|m| m.description.as_deref()),
                "image": meta.and_then(|m| m.image.as_deref()),
            },
            "nav": req.nav,
            "blocks": blocks,
        })
    }

    fn twin_blocks(
        &self,
        nodes: &[BlockNode],
        env: &Env<'_>,
        visit: &Visit,
        problems: &mut Vec<String>,
    ) -> Vec<Value> {
        nodes
            .iter()
            .filter(|n| n.on(env.req.channel))
            .map(|node| {
                let kind = self.library.get(&node.kind);
                let data = match kind {
                    Some(kind) => match self.view_model(kind, node, env, Some(visit)) {
                        Ok(b) => b,
                        Err(e) => {
                            problems.push(problem(node, &e));
                            Value::Null
                        }
                    },
                    None => Value::Null,
                };
                let children = if kind.is_some_and(|k| k.container()) {
                    self.twin_blocks(&node.children, env, visit, problems)
                } else {
                    Vec::new()
                };
                json!({
                    "type": node.kind,
                    "id": node.id,
                    "data": data,
                    "children": children,
                })
            })
            .collect()
    }

    fn blocks(&self, nodes: &[BlockNode], env: &Env<'_>, mode: Mode<'_>, out: &mut Out) {
        for node in nodes.iter().filter(|n| n.on(env.req.channel)) {
            self.block(node, env, mode, out);
        }
    }

    /// Renders `node` (and its children) into `out.html`.
    fn block(&self, node: &BlockNode, env: &Env<'_>, mode: Mode<'_>, out: &mut Out) {
        let Some(kind) = self.library.get(&node.kind) else {
            out.problems.push(problem(
                node,
                &format!("`{}` is not a block type of this build", node.kind),
            ));
            placeholder(node, &mut out.html);
            return;
        };
        if matches!(mode, Mode::Static) && kind.per_request() {
            let _ = write!(out.html, "{SLOT_OPEN}{}{SLOT_CLOSE}", out.slots.len());
            out.slots.push(Slot { node: node.clone() });
            return;
        }
        if let Some(e) = self.broken.get(kind.name()) {
            out.problems.push(problem(
                node,
                &format!("the block type's template does not compile: {e}"),
            ));
            placeholder(node, &mut out.html);
            return;
        }
        let slots_before = out.slots.len();
        let children = if kind.container() {
            let mut inner = Out {
                html: String::new(),
                slots: std::mem::take(&mut out.slots),
                problems: std::mem::take(&mut out.problems),
            };
            self.blocks(&node.children, env, mode, &mut inner);
            out.slots = inner.slots;
            out.problems = inner.problems;
            Some(inner.html)
        } else {
            None
        };
        let rendered = self
            .view_model(kind, node, env, mode.visit())
            .and_then(|b| self.html(kind, &node.id, env.req, b, children));
        match rendered {
            Ok(html) => out.html.push_str(&html),
            Err(e) => {
                // The children's slots went with the container's HTML.
                out.slots.truncate(slots_before);
                out.problems.push(problem(node, &e));
                placeholder(node, &mut out.html);
            }
        }
    }

    /// The block's view model (its `data`); for a tenant template, with the sandbox's output
    /// as `html`.
    fn view_model(
        &self,
        kind: &dyn BlockKind,
        node: &BlockNode,
        env: &Env<'_>,
        visit: Option<&Visit>,
    ) -> Result<Value, String> {
        let empty = Value::Object(Map::new());
        let props = if node.props.is_null() {
            &empty
        } else {
            &node.props
        };
        let ctx = BlockCtx {
            site: env.site,
            req: env.req,
            visit,
            services: env.services,
            block_id: &node.id,
        };
        let mut b = catch_unwind(AssertUnwindSafe(|| kind.data(props, &ctx)))
            .map_err(|p| format!("computing the view model panicked: {}", panic_text(&p)))?;
        if kind.name() == "template" {
            let html = self.tenant_html(node, props, env)?;
            if let Value::Object(m) = &mut b {
                m.insert(HTML_KEY.into(), Value::String(html));
            }
        }
        Ok(b)
    }

    /// The output of a `template` block's tenant template.
    fn tenant_html(
        &self,
        node: &BlockNode,
        props: &Value,
        env: &Env<'_>,
    ) -> Result<String, String> {
        let source = props.get("template").and_then(Value::as_str).unwrap_or("");
        let empty = Value::Object(Map::new());
        let data = props.get("data").unwrap_or(&empty);
        let compiled;
        let template = match env.page.sandbox(&node.id) {
            Some(t) if t.source() == source => t,
            // The document was changed after loading: check and compile it now.
            _ => {
                compiled = SandboxTemplate::compile(source)
                    .map_err(|e| format!("the tenant template is not allowed: {e}"))?;
                &compiled
            }
        };
        let html = catch_unwind(AssertUnwindSafe(|| {
            template.render(data, env.req.locale, env.site)
        }))
        .map_err(|p| format!("the tenant template panicked: {}", panic_text(&p)))?
        .map_err(|e| format!("the tenant template failed: {e}"))?;
        Ok(neutralise(html))
    }

    /// Renders one block's template over the view model `b` (a block's `data` in the JSON
    /// twin) exactly as a page renders it, `children_html` for containers: for the builder's
    /// previews, and to check that HTML and twin come from the same view model. A block of an
    /// unknown type or whose template fails gives the error.
    pub fn block_html(
        &self,
        kind: &str,
        block_id: &str,
        b: Value,
        req: &RenderRequest<'_>,
        children_html: Option<String>,
    ) -> Result<String, String> {
        let kind = self
            .library
            .get(kind)
            .ok_or_else(|| format!("`{kind}` is not a block type of this build"))?;
        if let Some(e) = self.broken.get(kind.name()) {
            return Err(format!("the block type's template does not compile: {e}"));
        }
        let children = kind.container().then(|| children_html.unwrap_or_default());
        self.html(kind, block_id, req, b, children)
    }

    /// Renders the block's template over view model `b`.
    fn html(
        &self,
        kind: &dyn BlockKind,
        block_id: &str,
        req: &RenderRequest<'_>,
        b: Value,
        children: Option<String>,
    ) -> Result<String, String> {
        let mut context = Map::with_capacity(5);
        context.insert("b".into(), b);
        context.insert("block".into(), json!({"id": block_id, "type": kind.name()}));
        context.insert("base".into(), Value::String(req.base_path.to_string()));
        context.insert("locale".into(), Value::String(req.locale.to_string()));
        if let Some(children) = children {
            context.insert("children_html".into(), Value::String(children));
        }
        let context = tera::Context::from_value(Value::Object(context))
            .map_err(|e| sandbox::error_chain(&e))?;
        let name = template_name(kind.name());
        catch_unwind(AssertUnwindSafe(|| self.tera.render(&name, &context)))
            .map_err(|p| format!("the template panicked: {}", panic_text(&p)))?
            .map_err(|e| format!("the template failed: {}", sandbox::error_chain(&e)))
    }

    /// The whole document around `main` (the blocks' HTML).
    fn layout(&self, env: &Env<'_>, main: &str, problems: &mut Vec<String>) -> String {
        let site = env.site;
        let req = env.req;
        let default = site.tenant.default_locale.as_str();
        let meta = env.page.meta(req.locale, default);
        let site_name = pick(&site.tenant.name, req.locale, default);
        let title = meta.map_or(site_name, |m| m.title.as_str());
        let zh = req.locale.starts_with("zh");
        let t = |en: &'static str, zh_text: &'static str| if zh { zh_text } else { en };
        let locales: Vec<Value> = site
            .tenant
            .locales
            .iter()
            .map(|code| {
                json!({
                    "code": code,
                    "label": locale_label(code),
                    "href": format!("?locale={code}"),
                    "current": code == req.locale,
                })
            })
            .collect();
        let context = json!({
            "locale": req.locale,
            "og_locale": req.locale.replace('-', "_"),
            "base": req.base_path,
            "channel": req.channel.as_str(),
            "page_id": env.page.doc.id,
            "title": title,
            "description": meta.and_then(|m| m.description.as_deref()).unwrap_or(""),
            "image": meta.and_then(|m| m.image.as_deref()).unwrap_or(""),
            "site_name": site_name,
            "nav": req.nav,
            "locales": locales,
            "preview": req.preview,
            "configurator": env.page.has_block("configurator", req.channel),
            // Hero and model header open the page with its <h1>; other pages get the title.
            "title_heading": !(env.page.has_block("hero", req.channel)
                || env.page.has_block("model_header", req.channel)),
            "labels": {
                "skip": t("Skip to content", "跳到正文"),
                "nav": t("Main navigation", "主导航"),
                "languages": t("Language", "语言"),
                "preview": t("Preview: this page is not published", "预览：此页面尚未发布"),
            },
            "main": main,
        });
        let rendered = if self.layout_error.is_some() {
            Err("layout.html does not compile".to_string())
        } else {
            tera::Context::from_value(context)
                .map_err(|e| sandbox::error_chain(&e))
                .and_then(|ctx| {
                    catch_unwind(AssertUnwindSafe(|| self.tera.render(LAYOUT_NAME, &ctx)))
                        .map_err(|p| format!("panicked: {}", panic_text(&p)))?
                        .map_err(|e| sandbox::error_chain(&e))
                })
        };
        rendered.unwrap_or_else(|e| {
            problems.push(format!("the page layout failed ({e}); a bare layout was used"));
            format!(
                "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<link rel=\"stylesheet\" href=\"/assets/storefront.css\">\n</head>\n<body>\n<main id=\"main\">\n{main}\n</main>\n</body>\n</html>\n",
                sandbox::escape(req.locale),
                sandbox::escape(title)
            )
        })
    }
}

fn template_name(kind: &str) -> String {
    format!("blocks/{kind}.html")
}

/// The placeholder of a block that failed.
fn placeholder(node: &BlockNode, html: &mut String) {
    let _ = write!(
        html,
        "<section class=\"block-error\" data-block-id=\"{}\"></section>",
        sandbox::escape(&node.id)
    );
}

fn problem(node: &BlockNode, what: &str) -> String {
    format!("block `{}` ({}): {what}", node.id, node.kind)
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Tenant-written text must not forge a slot marker.
fn neutralise(html: String) -> String {
    if html.contains(SLOT_OPEN) {
        html.replace(SLOT_OPEN, "<!-- fc-slot:")
    } else {
        html
    }
}

fn node_weight(node: &BlockNode) -> usize {
    node.kind.len()
        + node.id.len()
        + serde_json::to_string(&node.props).map_or(0, |s| s.len())
        + node.children.iter().map(node_weight).sum::<usize>()
}

/// The document cut at its slot markers: the segments and, per gap, the slot index.
fn split(html: &str, slots: usize) -> (Vec<Arc<str>>, Vec<usize>) {
    if slots == 0 {
        return (vec![Arc::from(html)], Vec::new());
    }
    let mut segments = Vec::with_capacity(slots + 1);
    let mut gaps = Vec::with_capacity(slots);
    let mut start = 0;
    let mut from = 0;
    while let Some(found) = html[from..].find(SLOT_OPEN) {
        let at = from + found;
        let digits_start = at + SLOT_OPEN.len();
        let digits = html[digits_start..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let close = digits_start + digits;
        let index = html[digits_start..close].parse::<usize>().ok();
        match index {
            Some(index) if index < slots && html[close..].starts_with(SLOT_CLOSE) => {
                segments.push(Arc::from(&html[start..at]));
                gaps.push(index);
                start = close + SLOT_CLOSE.len();
                from = start;
            }
            _ => from = digits_start,
        }
    }
    segments.push(Arc::from(&html[start..]));
    (segments, gaps)
}

/// A locale's name in itself, for the language switch.
fn locale_label(code: &str) -> String {
    match code {
        "en" => "English".into(),
        "zh-CN" | "zh" => "简体中文".into(),
        "zh-TW" | "zh-HK" => "繁體中文".into(),
        "de" => "Deutsch".into(),
        "fr" => "Français".into(),
        "ja" => "日本語".into(),
        "ko" => "한국어".into(),
        other => other.to_string(),
    }
}

/// The JSON Schema of a page document (served at `/api/v1/schemas/page.json`).
pub fn page_schema() -> serde_json::Value {
    crate::load::schema().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_at_markers_only() {
        let (segments, gaps) = split(
            "a<!--fc-slot:1-->b<!--fc-slot:0-->c<!--fc-slot:9-->d<!--fc-slot:x",
            2,
        );
        let texts: Vec<&str> = segments.iter().map(|s| &**s).collect();
        assert_eq!(texts, ["a", "b", "c<!--fc-slot:9-->d<!--fc-slot:x"]);
        assert_eq!(gaps, [1, 0]);
        let (segments, gaps) = split("whole", 0);
        assert_eq!((segments.len(), gaps.len()), (1, 0));
    }

    #[test]
    fn tenant_output_cannot_forge_markers() {
        assert_eq!(neutralise("x<!--fc-slot:0-->".into()), "x<!-- fc-slot:0-->");
    }

    #[test]
    fn layout_and_block_templates_compile() {
        let r = Renderer::new();
        assert!(r.layout_error.is_none(), "{:?}", r.layout_error);
    }
}
