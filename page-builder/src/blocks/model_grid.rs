//! `model_grid` block: cards of catalog models — image, name, body and energy type, from-price —
//! each linking to the model's page `{base}/models/{code}`.
//!
//! Props: `heading`, `models` (`"all"` or `[]` = the whole catalog in catalog order, or a list
//! of model codes in the order to show), `body_type` and `energy` (optional filters, `""` = any),
//! `columns` (2–4 on wide screens).

use serde_json::{json, Value};

use super::section::common::{
    card_labels, check_models, filter_prop, int, model, model_card, object, prop, str_list, text,
    text_prop, tr, BODY_TYPES, CODE_PATTERN, ENERGIES,
};
use super::{BlockCtx, BlockKind};
use crate::site::{Site, SiteModel};

pub struct ModelGrid;

/// The models `props` selects, in order, filtered.
fn selected<'a>(props: &Value, site: &'a Site) -> Vec<&'a SiteModel> {
    let models: Vec<&SiteModel> = match props.get("models") {
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut out: Vec<&SiteModel> = Vec::new();
            for code in str_list(props, "models") {
                if let Some(m) = model(site, code) {
                    if !out.iter().any(|o| o.code == m.code) {
                        out.push(m);
                    }
                }
            }
            out
        }
        _ => site.models.iter().collect(),
    };
    let body_type = text(props, "body_type");
    let energy = text(props, "energy");
    models
        .into_iter()
        .filter(|m| body_type.is_empty() || m.body_type == body_type)
        .filter(|m| energy.is_empty() || m.energy == energy)
        .collect()
}

impl BlockKind for ModelGrid {
    fn name(&self) -> &'static str {
        "model_grid"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Model grid", "车型列表")
    }
    fn icon(&self) -> &'static str {
        "🚗"
    }
    fn category(&self) -> &'static str {
        "catalog"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2 above the cards; the default is “Our models”."),
                "models": prop(
                    json!({
                        "anyOf": [
                            { "type": "string", "const": "all" },
                            {
                                "type": "array",
                                "maxItems": 24,
                                "uniqueItems": true,
                                "items": { "type": "string", "pattern": CODE_PATTERN, "maxLength": 64 },
                            },
                        ],
                        "default": "all",
                    }),
                    "models",
                    ("Models", "车型"),
                    "\"all\" (or an empty list) for every model of the catalog in catalog order, or the model codes to show, in order.",
                ),
                "body_type": filter_prop(&BODY_TYPES, ("Body type", "车身类型"), "Only models of this body type; empty for any."),
                "energy": filter_prop(&ENERGIES, ("Energy", "能源类型"), "Only models of this energy type; empty for any."),
                "columns": prop(json!({ "type": "integer", "minimum": 2, "maximum": 4, "default": 3 }), "number", ("Columns", "列数"), "Cards per row on wide screens (fewer on phones)."),
            }),
            &["models"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "models": "all", "body_type": "", "energy": "", "columns": 3 })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/model_grid.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if props.get("models").is_some_and(Value::is_array) {
            check_models(&mut out, "/models", props.get("models"), site);
        }
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let cards: Vec<Value> = selected(props, ctx.site)
            .into_iter()
            .map(|m| model_card(m, ctx))
            .collect();
        let heading = match text(props, "heading") {
            "" => tr(locale, "Our models", "全部车型"),
            h => h,
        };
        json!({
            "heading": heading,
            "columns": int(props, "columns", 3, 2, 4),
            "cards": cards,
            "labels": {
                "card": card_labels(locale),
                "empty": tr(locale, "No models to show yet.", "暂无可展示的车型。"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn model_grid_passes_the_standard_checks() {
        kit::standard(&ModelGrid);
    }

    #[test]
    fn model_grid_shows_all_or_the_listed_models_filtered() {
        let env = Env::new();
        let b = kit::data(&ModelGrid, &ModelGrid.defaults(), &env, "zh-CN");
        let codes: Vec<&str> = b["cards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert_eq!(codes, ["s7", "x9", "m3", "q5"]);
        assert_eq!(b["cards"][0]["from_price"], 22_990_000);
        assert_eq!(b["cards"][0]["from_price_display"], "¥229,900");
        assert_eq!(b["cards"][0]["href"], "/t/aurora/models/s7");
        assert_eq!(b["cards"][0]["image"]["alt"], "极光 S7 侧面");
        assert_eq!(b["labels"]["card"]["from"], "起售价");

        let props = json!({"models": ["q5", "s7", "x9"], "energy": "bev", "columns": 2});
        assert!(kit::valid(&ModelGrid, &props));
        let b = kit::data(&ModelGrid, &props, &env, "en");
        let codes: Vec<&str> = b["cards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert_eq!(codes, ["q5", "s7"]);
        assert_eq!(b["cards"][1]["from_price_display"], "CN¥229,900");
        assert_eq!(b["labels"]["card"]["from"], "From");

        let b = kit::data(
            &ModelGrid,
            &json!({"models": "all", "body_type": "suv"}),
            &env,
            "en",
        );
        assert_eq!(b["cards"].as_array().map(Vec::len), Some(2));
        // The builder's code list clears to an empty list: the whole catalog again.
        let b = kit::data(&ModelGrid, &json!({"models": []}), &env, "en");
        assert_eq!(b["cards"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn model_grid_reports_unknown_codes_with_suggestions() {
        let problems = ModelGrid.check(&json!({"models": ["s7", "s8"]}), &kit::site());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "/models/1");
        assert!(problems[0].1.contains("did you mean `s7`"), "{problems:?}");
        assert!(!kit::valid(&ModelGrid, &json!({"models": "some"})));
    }

    #[test]
    fn model_grid_renders_cards_and_an_empty_state() {
        let html = kit::render(&ModelGrid, &ModelGrid.defaults(), &Env::new(), "en");
        assert!(html.contains("Aurora X9"), "{html}");
        assert!(html.contains("alt=\"Aurora X9, side view\""), "{html}");
        assert!(html.contains("columns-3"), "{html}");
        let html = kit::render(
            &ModelGrid,
            &ModelGrid.defaults(),
            &Env::new().empty_site(),
            "zh-CN",
        );
        assert!(html.contains("暂无可展示的车型。"), "{html}");
    }

    #[test]
    fn model_grid_escapes_its_text() {
        let props = json!({"heading": XSS, "models": "all"});
        kit::assert_escaped(&kit::render(&ModelGrid, &props, &Env::new(), "en"));
    }
}
