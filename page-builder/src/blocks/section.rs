//! `section` block: a container that groups child blocks under an h2 heading, with an optional
//! intro paragraph, stacked or in a 2- or 3-column grid.
//!
//! Props: `heading` (text, required), `intro` (text), `layout` (`stack` | `grid-2` | `grid-3`).
//!
//! This file also mounts the block library's shared helpers ([`common`]) and, for tests, its
//! test kit, because `mod.rs` belongs to the framework.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

#[path = "common.rs"]
pub(crate) mod common;
#[cfg(test)]
#[path = "testkit.rs"]
pub(crate) mod testkit;

use common::{object, opt_text, prop, text, text_prop, textarea_prop, tr};

const LAYOUTS: [&str; 3] = ["stack", "grid-2", "grid-3"];

pub struct Section;

impl BlockKind for Section {
    fn name(&self) -> &'static str {
        "section"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Section", "版块")
    }
    fn icon(&self) -> &'static str {
        "🗂️"
    }
    fn category(&self) -> &'static str {
        "layout"
    }
    fn container(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "The section's heading, shown as an h2 above its blocks."),
                "intro": textarea_prop(600, ("Intro", "导语"), "An optional paragraph under the heading."),
                "layout": prop(
                    json!({ "type": "string", "enum": LAYOUTS, "default": "stack" }),
                    "select",
                    ("Layout", "布局"),
                    "How the child blocks are arranged: one under the other, or in a grid of 2 or 3 columns (one column on phones).",
                ),
            }),
            &["heading", "layout"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "Section heading", "intro": "", "layout": "stack" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/section.html")
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let layout = LAYOUTS
            .iter()
            .find(|l| **l == text(props, "layout"))
            .copied()
            .unwrap_or("stack");
        json!({
            "heading": text(props, "heading"),
            "intro": opt_text(props, "intro").unwrap_or(""),
            "layout": layout,
            "labels": { "region": tr(ctx.req.locale, "Section", "版块") },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn section_passes_the_standard_checks() {
        kit::standard(&Section);
    }

    #[test]
    fn section_renders_heading_intro_layout_and_children() {
        let props = json!({"heading": "Our range", "intro": "Pick one.", "layout": "grid-3"});
        assert!(kit::valid(&Section, &props));
        let html = kit::render(&Section, &props, &Env::new(), "en");
        assert!(html.contains("layout-grid-3"), "{html}");
        assert!(
            html.contains("<h2 id=\"b1-title\">Our range</h2>"),
            "{html}"
        );
        assert!(html.contains("Pick one."), "{html}");
        assert!(html.contains("<p class=\"child\">child</p>"), "{html}");
        assert!(!kit::valid(
            &Section,
            &json!({"heading": "x", "layout": "grid-5"})
        ));
        assert!(!kit::valid(
            &Section,
            &json!({"heading": "x", "layout": "stack", "extra": 1})
        ));
    }

    #[test]
    fn section_without_heading_is_named_by_label() {
        let html = kit::render(&Section, &json!({"layout": "bogus"}), &Env::new(), "zh-CN");
        assert!(html.contains("aria-label=\"版块\""), "{html}");
        assert!(html.contains("layout-stack"), "{html}");
    }

    #[test]
    fn section_escapes_its_text() {
        let props = json!({"heading": XSS, "intro": XSS, "layout": "stack"});
        kit::assert_escaped(&kit::render(&Section, &props, &Env::new(), "en"));
    }
}
