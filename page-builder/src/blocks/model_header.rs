//! `model_header` block: the top of a model's page — the model's name as the page's h1, its
//! description, up to six key specs, the from-price and a call to book a test drive.
//!
//! Props: `model` (a model code, or `"{model}"` for the route's model parameter), `specs` (a list of
//! `{code}` of the specs to show, at most 6; the model's first four when empty), `show_test_drive` (checkbox).

use serde_json::{json, Value};

use super::section::common::{
    check_model, component, field_text, flag, item_object, loc, model_image, model_prop, money,
    object, objects, prop, resolve_model, spec_view, tr, unknown, CODE_PATTERN, ROUTE_MODEL,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct ModelHeader;

/// Shown when no spec codes are chosen.
const DEFAULT_SPECS: usize = 4;

impl BlockKind for ModelHeader {
    fn name(&self) -> &'static str {
        "model_header"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Model header", "车型头图")
    }
    fn icon(&self) -> &'static str {
        "🏁"
    }
    fn category(&self) -> &'static str {
        "catalog"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "model": model_prop(false, ("Model", "车型"), "A model code, or \"{model}\" for the model named in the page's route (/models/{model})."),
                "specs": prop(
                    json!({
                        "type": "array",
                        "maxItems": 6,
                        "items": item_object(
                            json!({
                                "code": prop(
                                    json!({ "type": "string", "pattern": CODE_PATTERN, "maxLength": 64 }),
                                    "text",
                                    ("Spec code", "参数代码"),
                                    "A spec code of the catalog, e.g. range_cltc_km or power_kw.",
                                ),
                            }),
                            &["code"],
                        ),
                    }),
                    "list",
                    ("Key specs", "核心参数"),
                    "The specs to show, in order (at most 6); the model's first four when empty.",
                ),
                "show_test_drive": prop(json!({ "type": "boolean", "default": true }), "checkbox", ("Test-drive button", "试驾按钮"), "Show a button to book a test drive of this model."),
            }),
            &["model"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "model": ROUTE_MODEL, "specs": [], "show_test_drive": true })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/model_header.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_model(&mut out, "/model", props.get("model"), site);
        if !out.is_empty() {
            return out;
        }
        // Spec codes: against the named model, or any model's for the route's model.
        let fixed = props
            .get("model")
            .and_then(Value::as_str)
            .filter(|c| *c != ROUTE_MODEL)
            .and_then(|c| site.models.iter().find(|m| m.code == c));
        let mut known: Vec<&str> = Vec::new();
        for m in fixed
            .into_iter()
            .chain(site.models.iter().filter(|_| fixed.is_none()))
        {
            for s in &m.specs {
                if !known.contains(&s.code.as_str()) {
                    known.push(&s.code);
                }
            }
        }
        for (i, item) in objects(props, "specs").into_iter().enumerate() {
            let code = field_text(item, "code");
            if !code.is_empty() && !known.contains(&code) {
                out.push((format!("/specs/{i}/code"), unknown("spec", code, &known)));
            }
        }
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let labels = json!({
            "from": tr(locale, "From", "起售价"),
            "specs": tr(locale, "Key specs", "核心参数"),
            "not_found": tr(locale, "This model is not available.", "未找到该车型。"),
            "region": tr(locale, "Model", "车型"),
        });
        let Some(m) = resolve_model(props, "model", ctx) else {
            return json!({ "found": false, "labels": labels });
        };
        let wanted: Vec<&str> = objects(props, "specs")
            .into_iter()
            .map(|o| field_text(o, "code"))
            .filter(|c| !c.is_empty())
            .collect();
        let specs: Vec<Value> = if wanted.is_empty() {
            m.specs
                .iter()
                .take(DEFAULT_SPECS)
                .map(|s| spec_view(s, ctx))
                .collect()
        } else {
            wanted
                .iter()
                .filter_map(|code| m.specs.iter().find(|s| s.code == *code))
                .take(6)
                .map(|s| spec_view(s, ctx))
                .collect()
        };
        let cta = (flag(props, "show_test_drive", true) && m.test_drive).then(|| {
            json!({
                "label": tr(locale, "Book a test drive", "预约试驾"),
                "href": format!("{}/test-drive?model={}", ctx.req.base_path, component(&m.code)),
            })
        });
        json!({
            "found": true,
            "code": m.code,
            "name": loc(ctx, &m.name),
            "description": m.description.as_ref().map(|d| loc(ctx, d)).unwrap_or(""),
            "image": model_image(m, ctx),
            "specs": specs,
            "from_price": m.from_price,
            "from_price_display": money(ctx, m.from_price),
            "cta": cta,
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn model_header_passes_the_standard_checks() {
        kit::standard(&ModelHeader);
    }

    #[test]
    fn model_header_reads_the_route_model() {
        let env = Env::new().param("model", "x9");
        let b = kit::data(&ModelHeader, &ModelHeader.defaults(), &env, "zh-CN");
        assert_eq!(b["found"], true);
        assert_eq!(b["name"], "极光 X9");
        assert_eq!(b["from_price_display"], "¥359,900");
        assert_eq!(b["cta"]["label"], "预约试驾");
        assert_eq!(b["cta"]["href"], "/t/aurora/test-drive?model=x9");
        assert_eq!(b["specs"][2]["display"], "有");
        let html = kit::render(&ModelHeader, &ModelHeader.defaults(), &env, "zh-CN");
        assert!(html.contains("<h1 id=\"b1-title\">极光 X9</h1>"), "{html}");
        assert!(html.contains("起售价"), "{html}");
    }

    #[test]
    fn model_header_shows_chosen_specs_and_no_cta_without_test_drives() {
        let props =
            json!({"model": "m3", "specs": [{"code": "range_cltc_km"}], "show_test_drive": true});
        let b = kit::data(&ModelHeader, &props, &Env::new(), "en");
        assert_eq!(b["specs"].as_array().map(Vec::len), Some(1));
        assert_eq!(b["specs"][0]["display"], "420 km");
        assert!(b["cta"].is_null());
    }

    #[test]
    fn model_header_checks_model_and_spec_codes() {
        let site = kit::site();
        let p = ModelHeader.check(&json!({"model": "x8"}), &site);
        assert_eq!(p[0].0, "/model");
        assert!(p[0].1.contains("did you mean `x9`"), "{p:?}");
        let p = ModelHeader.check(
            &json!({"model": "m3", "specs": [{"code": "range_cltc_km"}, {"code": "seats"}]}),
            &site,
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "/specs/1/code");
        assert!(ModelHeader
            .check(
                &json!({"model": "{model}", "specs": [{"code": "lidar"}]}),
                &site
            )
            .is_empty());
        assert!(!kit::valid(
            &ModelHeader,
            &json!({"model": "s7", "specs": [{"code": "a"}, {"code": "b"}, {"code": "c"}, {"code": "d"}, {"code": "e"}, {"code": "f"}, {"code": "g"}]})
        ));
    }

    #[test]
    fn model_header_without_model_is_polite() {
        let html = kit::render(&ModelHeader, &ModelHeader.defaults(), &Env::new(), "en");
        assert!(html.contains("This model is not available."), "{html}");
    }

    #[test]
    fn model_header_escapes_catalog_text() {
        let mut env = Env::new().param("model", "s7");
        env.site.models[0].name.insert("en".into(), XSS.into());
        kit::assert_escaped(&kit::render(
            &ModelHeader,
            &ModelHeader.defaults(),
            &env,
            "en",
        ));
    }
}
