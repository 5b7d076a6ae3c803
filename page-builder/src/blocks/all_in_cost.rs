//! `all_in_cost` block: what a model really costs on the road — `core`'s all-in cost sheet
//! for the model's default build (cheapest trim, default options) in the page's language: every
//! line (vehicle, purchase tax, insurance, fees …) with its explanation, and the total.
//!
//! Props: `heading`, `model` (a code or `"{model}"`), `show_explanations` (checkbox).

use serde_json::{json, Value};

use super::section::common::{
    check_model, flag, loc, model_prop, money, object, opt_text, prop, resolve_model, text_prop,
    tr, ROUTE_MODEL,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct AllInCost;

impl BlockKind for AllInCost {
    fn name(&self) -> &'static str {
        "all_in_cost"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("All-in cost", "落地价明细")
    }
    fn icon(&self) -> &'static str {
        "🧾"
    }
    fn category(&self) -> &'static str {
        "finance"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “All-in cost”."),
                "model": model_prop(false, ("Model", "车型"), "A model code, or \"{model}\" for the model named in the page's route."),
                "show_explanations": prop(json!({ "type": "boolean", "default": true }), "checkbox", ("Show explanations", "显示说明"), "Show how each amount is worked out under its line."),
            }),
            &["model"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "model": ROUTE_MODEL, "show_explanations": true })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/all_in_cost.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_model(&mut out, "/model", props.get("model"), site);
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let labels = json!({
            "heading": opt_text(props, "heading").unwrap_or(tr(locale, "All-in cost", "落地价明细")),
            "item": tr(locale, "Item", "项目"),
            "amount": tr(locale, "Amount", "金额"),
            "vehicle_price": tr(locale, "Vehicle price", "车辆价格"),
            "total": tr(locale, "Total to pay", "落地总价"),
            "note": tr(
                locale,
                "For the entry trim with standard equipment; taxes, insurance and fees as estimated today.",
                "按入门配置及标准装备计算，税费、保险及各项费用为当前估算。",
            ),
            "unavailable": tr(locale, "The all-in cost of this model is not available right now.", "暂时无法提供该车型的落地价明细。"),
        });
        let Some(m) = resolve_model(props, "model", ctx) else {
            return json!({ "found": false, "cost": null, "labels": labels });
        };
        let explain = flag(props, "show_explanations", true);
        let cost = ctx.services.all_in_cost(&m.code, locale).map(|c| {
            let lines: Vec<Value> = c
                .lines
                .iter()
                .map(|l| {
                    json!({
                        "label": l.label,
                        "amount": l.amount,
                        "amount_display": money(ctx, l.amount),
                        "explanation": if explain { l.explanation.as_str() } else { "" },
                    })
                })
                .collect();
            json!({
                "lines": lines,
                "vehicle_price": c.vehicle_price,
                "vehicle_price_display": money(ctx, c.vehicle_price),
                "total": c.total,
                "total_display": money(ctx, c.total),
            })
        });
        json!({
            "found": true,
            "model": m.code,
            "model_name": loc(ctx, &m.name),
            "cost": cost,
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn all_in_cost_passes_the_standard_checks() {
        kit::standard(&AllInCost);
    }

    #[test]
    fn all_in_cost_shows_lines_explanations_and_total() {
        let env = Env::new().param("model", "s7");
        let b = kit::data(&AllInCost, &AllInCost.defaults(), &env, "zh-CN");
        assert_eq!(b["cost"]["lines"][1]["label"], "购置税");
        assert_eq!(b["cost"]["total"], 23_640_000);
        assert_eq!(b["cost"]["total_display"], "¥236,400");
        let html = kit::render(&AllInCost, &AllInCost.defaults(), &env, "zh-CN");
        assert!(html.contains("新能源汽车免征。"), "{html}");
        assert!(html.contains("落地总价"), "{html}");
        let props = json!({"model": "s7", "show_explanations": false});
        let html = kit::render(&AllInCost, &props, &env, "en");
        assert!(!html.contains("New-energy vehicles are exempt."), "{html}");
    }

    #[test]
    fn all_in_cost_without_services_is_polite() {
        let env = Env::new().no_services();
        let html = kit::render(&AllInCost, &json!({"model": "x9"}), &env, "en");
        assert!(html.contains("not available right now"), "{html}");
    }

    #[test]
    fn all_in_cost_checks_its_model() {
        assert_eq!(
            AllInCost.check(&json!({"model": "zz"}), &kit::site())[0].0,
            "/model"
        );
        assert!(AllInCost
            .check(&json!({"model": "{model}"}), &kit::site())
            .is_empty());
    }

    #[test]
    fn all_in_cost_escapes_service_text() {
        // The fake sheet has a line label with angle brackets; the heading is the injection.
        let props = json!({"heading": XSS, "model": "m3"});
        let html = kit::render(&AllInCost, &props, &Env::new(), "en");
        kit::assert_escaped(&html);
        assert!(html.contains("Insurance &lt;1st year&gt;"), "{html}");
    }
}
