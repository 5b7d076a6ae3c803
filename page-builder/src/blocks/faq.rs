//! `faq` block: questions and answers as disclosure widgets (`<details><summary>`), which open
//! and close without JavaScript. Answers are plain text; blank lines separate paragraphs.
//!
//! Props: `heading` (default “Frequently asked questions”), `items` (a list of up to 30
//! `{question, answer}`).

use serde_json::{json, Value};

use super::section::common::{
    field_text, item_object, object, objects, opt_text, prop, text_prop, tr,
};
use super::{BlockCtx, BlockKind};

pub struct Faq;

/// Paragraphs of a plain-text answer (split on blank lines, lines inside kept as spaces).
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

impl BlockKind for Faq {
    fn name(&self) -> &'static str {
        "faq"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("FAQ", "常见问题")
    }
    fn icon(&self) -> &'static str {
        "❓"
    }
    fn category(&self) -> &'static str {
        "content"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Frequently asked questions”."),
                "items": prop(
                    json!({
                        "type": "array",
                        "maxItems": 30,
                        "items": item_object(
                            json!({
                                "question": prop(json!({ "type": "string", "minLength": 1, "maxLength": 200 }), "text", ("Question", "问题"), "The question, as the visitor would ask it."),
                                "answer": prop(json!({ "type": "string", "minLength": 1, "maxLength": 2000 }), "textarea", ("Answer", "回答"), "Plain text; leave a blank line between paragraphs."),
                            }),
                            &["question", "answer"],
                        ),
                    }),
                    "list",
                    ("Questions", "问题列表"),
                    "Up to 30 questions and answers, in order.",
                ),
            }),
            &["items"],
        )
    }
    fn defaults(&self) -> Value {
        json!({
            "heading": "",
            "items": [
                { "question": "How do I book a test drive?", "answer": "Choose a store, a model and a time on our test-drive page. The store confirms by text message." },
            ],
        })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/faq.html")
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let items: Vec<Value> = objects(props, "items")
            .into_iter()
            .filter(|o| !field_text(o, "question").is_empty())
            .take(30)
            .map(|o| {
                json!({
                    "question": field_text(o, "question"),
                    "answer": field_text(o, "answer"),
                    "paragraphs": paragraphs(field_text(o, "answer")),
                })
            })
            .collect();
        json!({
            "heading": opt_text(props, "heading").unwrap_or(tr(ctx.req.locale, "Frequently asked questions", "常见问题")),
            "items": items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn faq_passes_the_standard_checks() {
        kit::standard(&Faq);
    }

    #[test]
    fn faq_renders_details_with_paragraphs() {
        let props = json!({"items": [{"question": "保修多久？", "answer": "整车 5 年或 15 万公里。\n\n电池 8 年。"}]});
        let b = kit::data(&Faq, &props, &Env::new(), "zh-CN");
        assert_eq!(b["heading"], "常见问题");
        assert_eq!(
            b["items"][0]["paragraphs"],
            json!(["整车 5 年或 15 万公里。", "电池 8 年。"])
        );
        let html = kit::render(&Faq, &props, &Env::new(), "zh-CN");
        assert!(html.contains("<details>"), "{html}");
        assert!(html.contains("<summary>保修多久？</summary>"), "{html}");
        assert!(html.contains("<p>电池 8 年。</p>"), "{html}");
    }

    #[test]
    fn faq_bounds_and_requires_its_items() {
        assert!(!kit::valid(&Faq, &json!({"items": [{"question": "q"}]})));
        let many: Vec<Value> = (0..31)
            .map(|_| json!({"question": "q", "answer": "a"}))
            .collect();
        assert!(!kit::valid(&Faq, &json!({"items": many})));
    }

    #[test]
    fn faq_escapes_its_text() {
        let props = json!({"heading": XSS, "items": [{"question": XSS, "answer": XSS}]});
        kit::assert_escaped(&kit::render(&Faq, &props, &Env::new(), "en"));
    }
}
