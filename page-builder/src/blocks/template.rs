//! `template` block: a tenant-written tera template over the block's own `data`, run in the
//! sandbox ([`crate::sandbox`]).
//!
//! Props: `template` (the tera text, at most 8 KiB) and `data` (a free JSON object, at most
//! 64 KiB as JSON). Loading a page checks every `template` block against the sandbox rules and
//! compiles it once (`page.template` errors); rendering runs it with escaping on and puts the
//! result in the view model as `html` (so the JSON twin carries the same HTML), which this
//! block's own template prints inside its section.

use serde_json::{json, Map, Value};

use super::{BlockCtx, BlockKind};
use crate::sandbox::{MAX_DATA_BYTES, MAX_TEMPLATE_BYTES};

/// The `template` block.
pub struct TenantTemplate;

/// The view model's key that the renderer fills with the tenant template's output.
pub const HTML_KEY: &str = "html";

const TEMPLATE: &str = r#"<section class="block block-template" id="{{ block.id }}">
{{ b.html | default(value="") | safe }}
</section>"#;

impl BlockKind for TenantTemplate {
    fn name(&self) -> &'static str {
        "template"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Custom template", "自定义模板")
    }
    fn icon(&self) -> &'static str {
        "🧩"
    }
    fn category(&self) -> &'static str {
        "content"
    }
    fn schema(&self) -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["template"],
            "properties": {
                "template": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEMPLATE_BYTES,
                    "title": "Template",
                    "description": format!(
                        "A tera template (at most {MAX_TEMPLATE_BYTES} characters) over `data`, `locale` and `site.name`/`site.currency`. Everything printed is escaped. Allowed: `{{{{ … }}}}`, `if`/`elif`/`else`, one level of `for` over a list in `data` (at most 100 entries), and the filters upper, lower, capitalize, title, trim, truncate, length, first, last, join, default, wordcount, escape. Not allowed: `safe`, functions such as `range()`, `set`, `include`, `extends`, `import`, `macro`, `block`, `filter`."
                    ),
                    "x-editor": {"widget": "textarea", "label": {"en": "Template", "zh-CN": "模板"}}
                },
                "data": {
                    "type": "object",
                    "title": "Data",
                    "description": format!(
                        "The values the template shows, as a JSON object (at most {MAX_DATA_BYTES} bytes); the template reads them as `data.…`."
                    ),
                    "x-editor": {"widget": "json", "label": {"en": "Data", "zh-CN": "数据"}}
                }
            }
        })
    }
    fn defaults(&self) -> Value {
        json!({
            "template": "<h2>{{ data.heading }}</h2>\n<ul>\n{% for item in data.items %}  <li>{{ item }}</li>\n{% endfor %}</ul>",
            "data": {
                "heading": "Why Aurora",
                "items": ["Free home charger", "8-year battery warranty", "Over-the-air updates"]
            }
        })
    }
    fn template(&self) -> &'static str {
        TEMPLATE
    }
    /// `{data}`; the renderer adds `html`, the sandboxed template's output.
    fn data(&self, props: &Value, _ctx: &BlockCtx<'_>) -> Value {
        let data = props
            .get("data")
            .filter(|d| d.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        json!({ "data": data })
    }
}
