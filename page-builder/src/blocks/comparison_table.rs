//! `comparison_table` block: models side by side — the starting price, then every spec any of
//! them has (the union of spec codes, in order of first appearance), marking rows that differ.
//! Per request: the visitor's `?models=s7,x9` (comma list of up to 4 known codes) wins over the
//! props' list when present.
//!
//! Props: `heading`, `models` (a list of up to 4 model codes, or `"query"` to compare only what
//! the visitor's `?models=` names).

use serde_json::{json, Value};

use super::section::common::{
    check_models, component, loc, model, money, object, opt_text, prop, spec_value, str_list, tr,
    CODE_PATTERN,
};
use super::{BlockCtx, BlockKind};
use crate::site::{Site, SiteModel};

pub struct ComparisonTable;

const MAX: usize = 4;

/// Known models among `codes`, deduplicated, at most [`MAX`].
fn known<'a, 'c>(site: &'a Site, codes: impl Iterator<Item = &'c str>) -> Vec<&'a SiteModel> {
    let mut out: Vec<&SiteModel> = Vec::new();
    for code in codes {
        if let Some(m) = model(site, code.trim()) {
            if !out.iter().any(|o| o.code == m.code) && out.len() < MAX {
                out.push(m);
            }
        }
    }
    out
}

impl BlockKind for ComparisonTable {
    fn name(&self) -> &'static str {
        "comparison_table"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Comparison table", "车型对比")
    }
    fn icon(&self) -> &'static str {
        "⚖️"
    }
    fn category(&self) -> &'static str {
        "catalog"
    }
    fn per_request(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": prop(json!({ "type": "string", "maxLength": 120 }), "text", ("Heading", "标题"), "Shown as an h2; the default is “Compare models”."),
                "models": prop(
                    json!({
                        "anyOf": [
                            { "type": "string", "const": "query" },
                            {
                                "type": "array",
                                "maxItems": MAX,
                                "uniqueItems": true,
                                "items": { "type": "string", "pattern": CODE_PATTERN, "maxLength": 64 },
                            },
                        ],
                    }),
                    "models",
                    ("Models", "车型"),
                    "Up to 4 model codes to compare, or \"query\" (or an empty list) to compare only what the link's ?models=a,b names. A ?models= in the link always wins.",
                ),
            }),
            &["models"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "models": "query" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/comparison_table.html")
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
        let from_query = ctx
            .visit
            .and_then(|v| v.query.get("models"))
            .map(|q| known(ctx.site, q.split(',')))
            .unwrap_or_default();
        let models = if from_query.is_empty() {
            known(ctx.site, str_list(props, "models").into_iter())
        } else {
            from_query
        };
        let columns: Vec<Value> = models
            .iter()
            .map(|m| {
                json!({
                    "code": m.code,
                    "name": loc(ctx, &m.name),
                    "href": format!("{}/models/{}", ctx.req.base_path, component(&m.code)),
                    "price": m.from_price,
                    "price_display": money(ctx, m.from_price),
                })
            })
            .collect();
        let missing = "—";
        let mut rows: Vec<Value> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for m in &models {
            for spec in &m.specs {
                if seen.contains(&spec.code.as_str()) {
                    continue;
                }
                seen.push(&spec.code);
                let cells: Vec<String> = models
                    .iter()
                    .map(|other| {
                        other
                            .specs
                            .iter()
                            .find(|s| s.code == spec.code)
                            .map(|s| spec_value(s, locale))
                            .unwrap_or_else(|| missing.to_string())
                    })
                    .collect();
                let differs = cells.windows(2).any(|w| w[0] != w[1]);
                rows.push(json!({
                    "code": spec.code,
                    "label": loc(ctx, &spec.label),
                    "cells": cells,
                    "differs": differs,
                }));
            }
        }
        let prices: Vec<i64> = models.iter().map(|m| m.from_price).collect();
        json!({
            "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Compare models", "车型对比")),
            "columns": columns,
            "rows": rows,
            "price_differs": prices.windows(2).any(|w| w[0] != w[1]),
            "labels": {
                "spec": tr(locale, "Spec", "参数"),
                "price": tr(locale, "Starting price", "起售价"),
                "differs": tr(locale, "differs", "有差异"),
                "empty": tr(locale, "Choose models to compare.", "请选择要对比的车型。"),
                "missing": missing,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn comparison_table_passes_the_standard_checks() {
        kit::standard(&ComparisonTable);
    }

    #[test]
    fn comparison_table_takes_the_query_over_the_props() {
        let props = json!({"models": ["s7", "m3"]});
        let b = kit::data(&ComparisonTable, &props, &Env::new(), "en");
        let names: Vec<&str> = b["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["Aurora S7", "Aurora M3"]);
        let env = Env::new().query("models", "x9, s7,nope,x9");
        let b = kit::data(&ComparisonTable, &props, &env, "zh-CN");
        let codes: Vec<&str> = b["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["code"].as_str())
            .collect();
        assert_eq!(codes, ["x9", "s7"]);
        assert_eq!(b["columns"][0]["price_display"], "¥359,900");
        // The union of spec codes: x9's, then those only s7 has.
        let rows: Vec<&str> = b["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["code"].as_str())
            .collect();
        assert_eq!(
            rows,
            [
                "range_cltc_km",
                "seats",
                "lidar",
                "power_kw",
                "accel_0_100_s"
            ]
        );
        assert_eq!(b["rows"][2]["cells"], json!(["有", "无"]));
        assert_eq!(b["rows"][3]["cells"], json!(["—", "250 kW"]));
        assert_eq!(b["rows"][1]["differs"], true);
        assert_eq!(b["labels"]["price"], "起售价");
    }

    #[test]
    fn comparison_table_query_mode_without_query_is_polite() {
        let html = kit::render(
            &ComparisonTable,
            &ComparisonTable.defaults(),
            &Env::new(),
            "zh-CN",
        );
        assert!(html.contains("请选择要对比的车型。"), "{html}");
        let env = Env::new().query("models", "s7,x9");
        let html = kit::render(&ComparisonTable, &ComparisonTable.defaults(), &env, "en");
        assert!(html.contains("<th scope=\"row\">CLTC range<span class=\"visually-hidden\"> (differs)</span></th>"), "{html}");
        assert!(html.contains("Aurora X9"), "{html}");
    }

    #[test]
    fn comparison_table_checks_codes() {
        let p = ComparisonTable.check(&json!({"models": ["s7", "x90"]}), &kit::site());
        assert_eq!(p[0].0, "/models/1");
        assert!(!kit::valid(
            &ComparisonTable,
            &json!({"models": ["s7", "x9", "m3", "q5", "a1"]})
        ));
    }

    #[test]
    fn comparison_table_escapes_its_text() {
        let env = Env::new().query("models", XSS);
        let props = json!({"heading": XSS, "models": ["s7"]});
        kit::assert_escaped(&kit::render(&ComparisonTable, &props, &env, "en"));
    }
}
