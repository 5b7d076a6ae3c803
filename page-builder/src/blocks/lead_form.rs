//! `lead_form` block: an enquiry form posted to `{base}/forms/lead` (works without JavaScript):
//! name, mobile number, the model of interest, a message and a consent checkbox; a hidden
//! `block` field names the block.
//!
//! Props: `heading` (default “Ask us”), `intro`, `models` (the models to offer; every model
//! when empty), `consent_text` (a standard sentence when empty).

use serde_json::{json, Value};

use super::section::common::{
    check_models, loc, model, models_prop, object, opt_text, str_list, text, text_prop,
    textarea_prop, tr,
};
use super::test_drive_form::MOBILE_PATTERN;
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct LeadForm;

impl BlockKind for LeadForm {
    fn name(&self) -> &'static str {
        "lead_form"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Enquiry form", "咨询表单")
    }
    fn icon(&self) -> &'static str {
        "✉️"
    }
    fn category(&self) -> &'static str {
        "engagement"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Ask us”."),
                "intro": textarea_prop(600, ("Intro", "导语"), "A short paragraph above the form."),
                "models": models_prop(24, ("Models offered", "意向车型"), "The models the visitor can pick as their interest; every model when empty."),
                "consent_text": textarea_prop(500, ("Consent text", "授权声明"), "The text of the consent checkbox; a standard sentence in the page's language when empty."),
            }),
            &[],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "intro": "", "models": [], "consent_text": "" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/lead_form.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_models(&mut out, "/models", props.get("models"), site);
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let wanted = str_list(props, "models");
        let models: Vec<Value> = if wanted.is_empty() {
            ctx.site.models.iter().collect::<Vec<_>>()
        } else {
            wanted.iter().filter_map(|c| model(ctx.site, c)).collect()
        }
        .into_iter()
        .map(|m| json!({ "value": m.code, "label": loc(ctx, &m.name) }))
        .collect();
        let consent = match text(props, "consent_text") {
            "" => tr(
                locale,
                "I agree that the store may contact me about my enquiry, and I accept the privacy policy.",
                "我同意门店就本次咨询与我联系，并已阅读和接受隐私政策。",
            ),
            t => t,
        };
        json!({
            "intro": opt_text(props, "intro").unwrap_or(""),
            "action": format!("{}/forms/lead", ctx.req.base_path),
            "block_id": ctx.block_id,
            "models": models,
            "mobile_pattern": MOBILE_PATTERN,
            "labels": {
                "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Ask us", "立即咨询")),
                "name": tr(locale, "Name", "姓名"),
                "mobile": tr(locale, "Mobile number", "手机号码"),
                "mobile_hint": tr(
                    locale,
                    "11 digits, for example 13800138000, or + and the country code.",
                    "11 位手机号码，例如 13800138000；境外号码请以 + 开头。",
                ),
                "model": tr(locale, "Model of interest", "意向车型"),
                "any_model": tr(locale, "Not sure yet", "暂未确定"),
                "message": tr(locale, "Message", "留言"),
                "consent": consent,
                "submit": tr(locale, "Send", "提交咨询"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn lead_form_passes_the_standard_checks() {
        kit::standard(&LeadForm);
    }

    #[test]
    fn lead_form_posts_labelled_fields() {
        let props = json!({"models": ["x9", "s7"]});
        let b = kit::data(&LeadForm, &props, &Env::new(), "zh-CN");
        assert_eq!(b["action"], "/t/aurora/forms/lead");
        assert_eq!(b["models"][0]["label"], "极光 X9");
        assert_eq!(b["labels"]["heading"], "立即咨询");
        let html = kit::render(&LeadForm, &props, &Env::new(), "zh-CN");
        for needle in [
            "method=\"post\"",
            "name=\"name\"",
            "name=\"mobile\"",
            "type=\"tel\"",
            "name=\"model\"",
            "<textarea",
            "name=\"consent\"",
            "<input type=\"hidden\" name=\"block\" value=\"b1\">",
        ] {
            assert!(html.contains(needle), "{needle} missing:\n{html}");
        }
    }

    #[test]
    fn lead_form_checks_model_codes() {
        let p = LeadForm.check(&json!({"models": ["s7", "q6"]}), &kit::site());
        assert_eq!(p[0].0, "/models/1");
        assert!(p[0].1.contains("`q5`"), "{p:?}");
    }

    #[test]
    fn lead_form_escapes_its_text() {
        let props = json!({"heading": XSS, "intro": XSS, "consent_text": XSS});
        kit::assert_escaped(&kit::render(&LeadForm, &props, &Env::new(), "en"));
    }
}
