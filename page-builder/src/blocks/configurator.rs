//! `configurator` block: a model's configurator. The server renders a summary that works
//! without JavaScript (every trim with its price) inside the root of the configurator island,
//! `<div data-configurator data-model data-configuration data-api …>`, which
//! `assets/configurator.js` enhances (trims, options per group, live price, constraint
//! messages, saving a shareable build). A saved build's code comes from the route parameter
//! `{configuration}`; the island then loads it first.
//!
//! Props: `model` (a model code, or `"{model}"` for the route's model parameter), `heading`.

use serde_json::{json, Value};

use super::section::common::{
    check_model, component, loc, model_prop, money, object, opt_text, resolve_model, text_prop, tr,
    ROUTE_MODEL,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct Configurator;

/// A saved configuration's share code: 12 ASCII letters and digits.
fn share_code(code: &str) -> Option<&str> {
    (code.len() == 12 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

impl BlockKind for Configurator {
    fn name(&self) -> &'static str {
        "configurator"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Configurator", "在线配置器")
    }
    fn icon(&self) -> &'static str {
        "🛠️"
    }
    fn category(&self) -> &'static str {
        "catalog"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "model": model_prop(false, ("Model", "车型"), "A model code, or \"{model}\" for the model named in the page's route (/models/{model}/configure)."),
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Build your {model name}”."),
            }),
            &["model"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "model": ROUTE_MODEL, "heading": "" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/configurator.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_model(&mut out, "/model", props.get("model"), site);
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let base = ctx.req.base_path;
        let mut labels = json!({
            "trims": tr(locale, "Trims and prices", "配置与价格"),
            "trim": tr(locale, "Trim", "配置"),
            "price": tr(locale, "Price", "指导价"),
            "no_js": tr(
                locale,
                "Prices are for each trim with its standard equipment. With JavaScript on, you can choose paint, wheels and options here and save your build.",
                "以上为各配置（含标准装备）的指导价。启用 JavaScript 后，可在此选择车漆、轮毂及选装配置，并保存您的方案。",
            ),
            "not_found": tr(locale, "This model cannot be configured online.", "该车型暂不支持在线配置。"),
            "region": tr(locale, "Configurator", "在线配置器"),
            "test_drive": tr(locale, "Book a test drive", "预约试驾"),
        });
        let Some(m) = resolve_model(props, "model", ctx) else {
            return json!({ "found": false, "labels": labels });
        };
        let name = loc(ctx, &m.name);
        let heading = match opt_text(props, "heading") {
            Some(h) => h.to_string(),
            None if locale.starts_with("zh") => format!("配置您的{name}"),
            None => format!("Build your {name}"),
        };
        let mut trims: Vec<Value> = m
            .trims
            .iter()
            .map(|t| {
                json!({
                    "code": t.code,
                    "name": loc(ctx, &t.name),
                    "price": t.price,
                    "price_display": money(ctx, t.price),
                })
            })
            .collect();
        trims.sort_by_key(|t| t["price"].as_i64().unwrap_or(0));
        let configuration = ctx
            .req
            .params
            .get("configuration")
            .and_then(|c| share_code(c))
            .unwrap_or("");
        if let Some(o) = labels.as_object_mut() {
            o.insert("heading".into(), Value::from(heading));
        }
        json!({
            "found": true,
            "code": m.code,
            "name": name,
            "trims": trims,
            "from_price": m.from_price,
            "from_price_display": money(ctx, m.from_price),
            "configuration": configuration,
            "api": format!("{base}/api/v1/public"),
            "share_base": format!("{base}/configurations"),
            "locale": locale,
            "currency": ctx.site.tenant.currency,
            "test_drive": m.test_drive.then(|| format!("{base}/test-drive?model={}", component(&m.code))),
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn configurator_passes_the_standard_checks() {
        kit::standard(&Configurator);
    }

    #[test]
    fn configurator_renders_the_island_root_and_a_no_js_summary() {
        let env = Env::new()
            .param("model", "s7")
            .param("configuration", "AbCdEf123456");
        let b = kit::data(&Configurator, &Configurator.defaults(), &env, "zh-CN");
        assert_eq!(b["api"], "/t/aurora/api/v1/public");
        assert_eq!(b["configuration"], "AbCdEf123456");
        assert_eq!(b["trims"][1]["price_display"], "¥259,900");
        assert_eq!(b["labels"]["heading"], "配置您的极光 S7");
        let html = kit::render(&Configurator, &Configurator.defaults(), &env, "zh-CN");
        assert!(html.contains("data-configurator"), "{html}");
        assert!(html.contains("data-model=\"s7\""), "{html}");
        assert!(
            html.contains("data-configuration=\"AbCdEf123456\""),
            "{html}"
        );
        assert!(html.contains("¥229,900"), "{html}");
    }

    #[test]
    fn configurator_ignores_a_malformed_configuration_code() {
        let env = Env::new()
            .param("configuration", "\"><x")
            .param("model", "x9");
        let b = kit::data(&Configurator, &json!({"model": "{model}"}), &env, "en");
        assert_eq!(b["configuration"], "");
        assert_eq!(b["labels"]["heading"], "Build your Aurora X9");
    }

    #[test]
    fn configurator_checks_its_model() {
        let p = Configurator.check(&json!({"model": "q4"}), &kit::site());
        assert_eq!(p[0].0, "/model");
        assert!(p[0].1.contains("`q5`"), "{p:?}");
    }

    #[test]
    fn configurator_escapes_its_text() {
        let props = json!({"model": "s7", "heading": XSS});
        kit::assert_escaped(&kit::render(&Configurator, &props, &Env::new(), "en"));
    }
}
