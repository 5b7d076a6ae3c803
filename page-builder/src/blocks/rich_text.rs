//! `rich_text` block: tenant-written formatted text (paragraphs, h2–h4 headings, lists,
//! emphasis, links, images with alt text, simple tables), passed through
//! [`sanitize::rich_text`]'s allow-list before it is shown — the only block whose template
//! outputs HTML unescaped.
//!
//! Props: `html` (at most 20 KiB).

use serde_json::{json, Value};

use super::section::common::{object, prop, text, tr};
use super::{BlockCtx, BlockKind};
use crate::sanitize;
use crate::site::Site;

pub struct RichText;

/// The largest `html`, in bytes.
pub(crate) const MAX_BYTES: usize = 20 * 1024;

impl BlockKind for RichText {
    fn name(&self) -> &'static str {
        "rich_text"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Rich text", "图文")
    }
    fn icon(&self) -> &'static str {
        "📝"
    }
    fn category(&self) -> &'static str {
        "content"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "html": prop(
                    json!({ "type": "string", "maxLength": MAX_BYTES }),
                    "richtext",
                    ("Text", "正文"),
                    "Formatted text: paragraphs, headings (h2–h4), lists, bold and italic, links, images with a description, simple tables; at most 20 KiB. Scripts and styles are removed.",
                ),
            }),
            &["html"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "html": "<p>Tell your visitors what makes you special.</p>" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/rich_text.html")
    }
    fn check(&self, props: &Value, _site: &Site) -> Vec<(String, String)> {
        let len = props
            .get("html")
            .and_then(Value::as_str)
            .map(str::len)
            .unwrap_or(0);
        if len > MAX_BYTES {
            vec![(
                "/html".into(),
                format!(
                    "the text takes {len} bytes; at most 20 KiB ({MAX_BYTES} bytes) are allowed"
                ),
            )]
        } else {
            Vec::new()
        }
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        json!({
            "html": sanitize::rich_text(text(props, "html")),
            "labels": { "region": tr(ctx.req.locale, "Text", "正文") },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn rich_text_passes_the_standard_checks() {
        kit::standard(&RichText);
    }

    #[test]
    fn rich_text_keeps_formatting_and_drops_scripts() {
        let props = json!({"html": format!("<h2>Why us</h2><p onclick=\"x()\">Fair <strong>prices</strong>{XSS}<a href=\"javascript:alert(1)\">x</a></p>")});
        let b = kit::data(&RichText, &props, &Env::new(), "en");
        let html = b["html"].as_str().unwrap_or_default();
        assert!(html.contains("<h2>Why us</h2>"), "{html}");
        assert!(html.contains("<strong>prices</strong>"), "{html}");
        assert!(
            !html.contains("script") && !html.contains("onclick") && !html.contains("javascript"),
            "{html}"
        );
        let page = kit::render(&RichText, &props, &Env::new(), "en");
        assert!(page.contains("<strong>prices</strong>"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }

    #[test]
    fn rich_text_is_at_most_20_kib() {
        // 7,000 Chinese characters pass the schema's character count but not the byte limit.
        let props = json!({"html": "车".repeat(7_000)});
        assert!(kit::valid(&RichText, &props));
        let p = RichText.check(&props, &kit::site());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "/html");
        assert!(!kit::valid(
            &RichText,
            &json!({"html": "a".repeat(MAX_BYTES + 1)})
        ));
    }
}
