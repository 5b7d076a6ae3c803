//! The block library: every block type's props JSON Schema, tera template, view model (which
//! is also its JSON twin) and editor metadata.
//!
//! The trait and context below are a fixed contract: one file per block type in this folder
//! implements [`BlockKind`]; [`Library`] holds them all with their props schemas compiled.

pub mod all_in_cost;
pub mod comparison_table;
pub mod configurator;
pub mod faq;
pub mod finance_calculator;
pub mod hero;
pub mod image_gallery;
pub mod lead_form;
pub mod model_grid;
pub mod model_header;
pub mod promotion_countdown;
pub mod quote_summary;
pub mod recommended_models;
pub mod rich_text;
pub mod section;
pub mod store_locator;
pub mod template;
pub mod test_drive_form;
pub mod video;

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::{json, Value};

use crate::site::{RenderRequest, Services, Site, Visit};

/// What a block's view model is computed from.
pub struct BlockCtx<'a> {
    pub site: &'a Site,
    pub req: &'a RenderRequest<'a>,
    /// The visitor; `Some` only when a per-request block is filled for one request, and for
    /// the JSON twin.
    pub visit: Option<&'a Visit>,
    pub services: &'a dyn Services,
    /// The block's id in the page.
    pub block_id: &'a str,
}

/// One block type.
pub trait BlockKind: Send + Sync {
    /// Type name used in page documents (`hero`, `model_grid` …).
    fn name(&self) -> &'static str;
    /// Palette label: (en, zh-CN).
    fn label(&self) -> (&'static str, &'static str);
    /// Palette icon: one emoji.
    fn icon(&self) -> &'static str;
    /// Palette group: `layout`, `catalog`, `finance`, `engagement`, `content`.
    fn category(&self) -> &'static str;
    /// May hold child blocks.
    fn container(&self) -> bool {
        false
    }
    /// Depends on the visitor (query, cookie, records): filled per request, never cached.
    fn per_request(&self) -> bool {
        false
    }
    /// Props JSON Schema (draft 2020-12), `additionalProperties: false`. Every property has
    /// `title`, `description` and `x-editor: {widget, label: {en, zh-CN}}`; widgets: `text`,
    /// `textarea`, `richtext`, `number`, `money`, `select` (with `enum`), `checkbox`, `model`,
    /// `models`, `store`, `image`, `url`, `datetime`, `list` (array of objects; `items` is
    /// itself a schema whose properties carry `x-editor`).
    fn schema(&self) -> Value;
    /// Valid props a newly dropped block starts with.
    fn defaults(&self) -> Value;
    /// Tera template, registered as `blocks/<name>.html` (escaping on). Its context:
    /// `b` (the view model), `block` (`{id, type}`), `base` (link prefix), `locale`,
    /// `children_html` (containers only; already rendered, output with `| safe`).
    fn template(&self) -> &'static str;
    /// Meaning checks beyond the schema, given the tenant's facts: `(pointer inside props,
    /// message)`, e.g. an unknown model code.
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let _ = (props, site);
        Vec::new()
    }
    /// The view model, which is also the block's `data` in the JSON twin. Never fails: missing
    /// facts give an empty state the template shows politely. Display strings (formatted money,
    /// labels in `ctx.req.locale`) are computed here, next to the raw values.
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value;
}

/// Every built-in block type, in palette order.
pub fn builtin() -> Vec<Box<dyn BlockKind>> {
    vec![
        Box::new(section::Section),
        Box::new(hero::Hero),
        Box::new(model_grid::ModelGrid),
        Box::new(model_header::ModelHeader),
        Box::new(configurator::Configurator),
        Box::new(comparison_table::ComparisonTable),
        Box::new(finance_calculator::FinanceCalculator),
        Box::new(all_in_cost::AllInCost),
        Box::new(test_drive_form::TestDriveForm),
        Box::new(store_locator::StoreLocator),
        Box::new(promotion_countdown::PromotionCountdown),
        Box::new(rich_text::RichText),
        Box::new(image_gallery::ImageGallery),
        Box::new(video::Video),
        Box::new(faq::Faq),
        Box::new(lead_form::LeadForm),
        Box::new(recommended_models::RecommendedModels),
        Box::new(quote_summary::QuoteSummary),
        Box::new(template::TenantTemplate),
    ]
}

/// Every block type the builder offers, with each props schema compiled once.
pub struct Library {
    kinds: Vec<Box<dyn BlockKind>>,
    index: HashMap<&'static str, usize>,
    schemas: Vec<Value>,
    /// Each kind's compiled props schema; the error text when a schema does not compile (a bug
    /// in the block, reported at every use of the block and by the library's tests).
    validators: Vec<Result<Validator, String>>,
    palette: Value,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

impl Default for Library {
    fn default() -> Self {
        Library::builtin()
    }
}

impl Library {
    /// The built-in block types ([`builtin`]).
    pub fn builtin() -> Library {
        Library::new(builtin())
    }

    /// A library of `kinds`, in palette order. A second kind with an already used name is
    /// left out.
    pub fn new(kinds: Vec<Box<dyn BlockKind>>) -> Library {
        let mut index = HashMap::new();
        let mut kept: Vec<Box<dyn BlockKind>> = Vec::with_capacity(kinds.len());
        for kind in kinds {
            if !index.contains_key(kind.name()) {
                index.insert(kind.name(), kept.len());
                kept.push(kind);
            }
        }
        let schemas: Vec<Value> = kept.iter().map(|k| k.schema()).collect();
        let validators = schemas
            .iter()
            .map(|s| jsonschema::draft202012::new(s).map_err(|e| e.to_string()))
            .collect();
        let palette = Value::Array(
            kept.iter()
                .zip(&schemas)
                .map(|(k, schema)| {
                    let (en, zh) = k.label();
                    json!({
                        "type": k.name(),
                        "label": {"en": en, "zh-CN": zh},
                        "icon": k.icon(),
                        "category": k.category(),
                        "container": k.container(),
                        "per_request": k.per_request(),
                        "schema": schema,
                        "defaults": k.defaults(),
                    })
                })
                .collect(),
        );
        Library {
            kinds: kept,
            index,
            schemas,
            validators,
            palette,
        }
    }

    /// The palette as the builder UI reads it: one entry per block type, in palette order:
    /// `{type, label: {en, zh-CN}, icon, category, container, per_request, schema, defaults}`.
    pub fn describe(&self) -> Value {
        self.palette.clone()
    }

    /// Block type names, in palette order.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }

    /// The block type called `name`.
    pub fn get(&self, name: &str) -> Option<&dyn BlockKind> {
        self.index.get(name).map(|&i| self.kinds[i].as_ref())
    }

    /// Every block type, in palette order.
    pub fn kinds(&self) -> impl Iterator<Item = &dyn BlockKind> {
        self.kinds.iter().map(|k| k.as_ref())
    }

    /// The props schema of the block type called `name` (as [`BlockKind::schema`] gave it).
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.index.get(name).map(|&i| &self.schemas[i])
    }

    /// The compiled props schema of `name`; `Err` with the compiler's message when the block's
    /// schema is broken.
    pub fn validator(&self, name: &str) -> Option<Result<&Validator, &str>> {
        self.index
            .get(name)
            .map(|&i| self.validators[i].as_ref().map_err(String::as_str))
    }
}
