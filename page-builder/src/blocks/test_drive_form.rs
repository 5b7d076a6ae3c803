//! `test_drive_form` block: a test-drive booking form posted to `{base}/forms/test-drive`
//! (works without JavaScript): store (the site's stores, optionally limited), model (the models
//! that can be test-driven, optionally preselected), date, time, name, mobile number and a
//! consent checkbox; a hidden `block` field names the block.
//!
//! Props: `heading`, `intro`, `stores` (store codes to offer; all when empty), `model` (`""`,
//! a model code or `"{model}"` to preselect), `consent_text` (the consent checkbox's text;
//! a standard sentence when empty).

use serde_json::{json, Value};

use super::section::common::{
    check_model, check_stores, loc, model, model_code, model_prop, object, opt_text, store,
    stores_prop, str_list, text, text_prop, textarea_prop, tr,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct TestDriveForm;

/// The mobile number's HTML pattern, as `core` checks it: a Chinese mobile number (11 digits)
/// or `+` and an international number.
pub(crate) const MOBILE_PATTERN: &str = "1[3-9][0-9]{9}|\\+[1-9][0-9]{6,14}";

impl BlockKind for TestDriveForm {
    fn name(&self) -> &'static str {
        "test_drive_form"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Test-drive booking", "预约试驾")
    }
    fn icon(&self) -> &'static str {
        "🗓️"
    }
    fn category(&self) -> &'static str {
        "engagement"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Book a test drive”."),
                "intro": textarea_prop(600, ("Intro", "导语"), "A short paragraph above the form."),
                "stores": stores_prop(100, ("Stores", "门店"), "The stores the visitor can choose; every store when empty."),
                "model": model_prop(true, ("Preselected model", "预选车型"), "A model to preselect: a model code, \"{model}\" for the model in the page's route, or empty."),
                "consent_text": textarea_prop(500, ("Consent text", "授权声明"), "The text of the consent checkbox; a standard sentence in the page's language when empty."),
            }),
            &[],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "intro": "", "stores": [], "model": "", "consent_text": "" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/test_drive_form.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_stores(&mut out, "/stores", props.get("stores"), site);
        check_model(&mut out, "/model", props.get("model"), site);
        if let Some(m) = props
            .get("model")
            .and_then(Value::as_str)
            .and_then(|c| model(site, c))
        {
            if !m.test_drive {
                let can: Vec<&str> = site
                    .models
                    .iter()
                    .filter(|m| m.test_drive)
                    .map(|m| m.code.as_str())
                    .collect();
                out.push((
                    "/model".into(),
                    format!(
                        "model `{}` cannot be booked for a test drive; these can: {}",
                        m.code,
                        can.join(", ")
                    ),
                ));
            }
        }
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let wanted = str_list(props, "stores");
        let stores: Vec<Value> = if wanted.is_empty() {
            ctx.site.stores.iter().collect::<Vec<_>>()
        } else {
            wanted.iter().filter_map(|c| store(ctx.site, c)).collect()
        }
        .into_iter()
        .map(|s| {
            json!({
                "value": s.code,
                "label": format!("{} · {}", loc(ctx, &s.name), loc(ctx, &s.city)),
                "selected": false,
            })
        })
        .collect();
        let preselect = model_code(props, "model", ctx).unwrap_or("");
        let models: Vec<Value> = ctx
            .site
            .models
            .iter()
            .filter(|m| m.test_drive)
            .map(|m| json!({ "value": m.code, "label": loc(ctx, &m.name), "selected": m.code == preselect }))
            .collect();
        let consent = match text(props, "consent_text") {
            "" => tr(
                locale,
                "I agree that the store may contact me about this test drive, and I accept the privacy policy.",
                "我同意门店就本次试驾与我联系，并已阅读和接受隐私政策。",
            ),
            t => t,
        };
        json!({
            "intro": opt_text(props, "intro").unwrap_or(""),
            "action": format!("{}/forms/test-drive", ctx.req.base_path),
            "block_id": ctx.block_id,
            "stores": stores,
            "models": models,
            "model_chosen": models.iter().any(|m| m["selected"] == true),
            "single_store": stores.len() == 1,
            "mobile_pattern": MOBILE_PATTERN,
            "available": !stores.is_empty() && !models.is_empty(),
            "labels": {
                "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Book a test drive", "预约试驾")),
                "store": tr(locale, "Store", "试驾门店"),
                "model": tr(locale, "Model", "试驾车型"),
                "choose": tr(locale, "Please choose", "请选择"),
                "date": tr(locale, "Date", "试驾日期"),
                "time": tr(locale, "Time", "试驾时间"),
                "name": tr(locale, "Name", "姓名"),
                "mobile": tr(locale, "Mobile number", "手机号码"),
                "mobile_hint": tr(
                    locale,
                    "11 digits, for example 13800138000, or + and the country code.",
                    "11 位手机号码，例如 13800138000；境外号码请以 + 开头。",
                ),
                "consent": consent,
                "submit": tr(locale, "Book a test drive", "提交预约"),
                "unavailable": tr(
                    locale,
                    "Test drives cannot be booked online yet. Please call one of our stores.",
                    "暂未开放在线预约试驾，请致电门店预约。",
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, attr, Env, XSS};
    use super::*;

    #[test]
    fn test_drive_form_passes_the_standard_checks() {
        kit::standard(&TestDriveForm);
    }

    #[test]
    fn test_drive_form_offers_stores_and_test_drive_models() {
        let env = Env::new().param("model", "x9");
        let props = json!({"stores": ["bj-chaoyang", "sh-pudong"], "model": "{model}"});
        let b = kit::data(&TestDriveForm, &props, &env, "zh-CN");
        assert_eq!(b["action"], "/t/aurora/forms/test-drive");
        assert_eq!(b["block_id"], "b1");
        assert_eq!(b["stores"][0]["label"], "极光北京朝阳店 · 北京");
        let models: Vec<&str> = b["models"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str())
            .collect();
        assert_eq!(models, ["s7", "x9", "q5"], "m3 has no demo car");
        assert_eq!(b["models"][1]["selected"], true);
        let html = kit::render(&TestDriveForm, &props, &env, "zh-CN");
        for needle in [
            "method=\"post\"",
            "type=\"date\"",
            "type=\"time\"",
            "type=\"tel\"",
            "type=\"checkbox\"",
            "<input type=\"hidden\" name=\"block\" value=\"b1\">",
            "<option value=\"x9\" selected>极光 X9</option>",
            "预约试驾",
        ] {
            assert!(html.contains(needle), "{needle} missing:\n{html}");
        }
        let pattern = html
            .split("type=\"tel\"")
            .nth(1)
            .and_then(|rest| attr(rest, "pattern"));
        assert_eq!(pattern.as_deref(), Some(MOBILE_PATTERN));
    }

    #[test]
    fn test_drive_form_checks_stores_and_models() {
        let site = kit::site();
        let p = TestDriveForm.check(&json!({"stores": ["sh-pudong", "sh-pudon"]}), &site);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "/stores/1");
        assert!(p[0].1.contains("did you mean `sh-pudong`"), "{p:?}");
        let p = TestDriveForm.check(&json!({"model": "m3"}), &site);
        assert_eq!(p[0].0, "/model");
        assert!(p[0].1.contains("s7, x9, q5"), "{p:?}");
        assert!(TestDriveForm
            .check(&json!({"model": "{model}"}), &site)
            .is_empty());
    }

    #[test]
    fn test_drive_form_without_stores_is_polite() {
        let html = kit::render(
            &TestDriveForm,
            &TestDriveForm.defaults(),
            &Env::new().empty_site(),
            "en",
        );
        assert!(html.contains("cannot be booked online yet"), "{html}");
        assert!(!html.contains("<form"), "{html}");
    }

    #[test]
    fn test_drive_form_escapes_its_text() {
        let props = json!({"heading": XSS, "intro": XSS, "consent_text": XSS});
        kit::assert_escaped(&kit::render(&TestDriveForm, &props, &Env::new(), "en"));
    }
}
