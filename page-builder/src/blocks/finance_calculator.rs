//! `finance_calculator` block: loan figures for a model — the visitor picks the trim, the term
//! and the down payment in a plain GET form (works without JavaScript; the choice comes back as
//! `?trim=…&term=…&down=…`, each checked against the offered options), and the block shows the
//! down payment, loan amount, monthly payment, total interest and total paid that `core`'s
//! finance service computes. Per request (reads the query).
//!
//! Props: `heading`, `model` (a code or `"{model}"`), `rate_bp` (annual rate in basis points),
//! `terms` (months offered), `down_payments` (% offered), `default_term`, `default_down`.

use serde_json::{json, Value};

use super::section::common::{
    check_model, int, int_list, loc, model_prop, money, object, opt_text, prop, resolve_model,
    text_prop, tr, ROUTE_MODEL,
};
use super::{BlockCtx, BlockKind};
use crate::format;
use crate::site::Site;

pub struct FinanceCalculator;

const TERMS: [i64; 7] = [12, 24, 36, 48, 60, 72, 84];
const DOWNS: [i64; 11] = [0, 10, 15, 20, 25, 30, 35, 40, 50, 60, 70];
const DEFAULT_TERMS: [i64; 4] = [12, 24, 36, 60];
const DEFAULT_DOWNS: [i64; 4] = [15, 20, 30, 50];

/// The offered options of `key` (only allowed values), else `fallback`.
fn options(props: &Value, key: &str, allowed: &[i64], fallback: &[i64]) -> Vec<i64> {
    let list: Vec<i64> = int_list(props, key, 0, 1000)
        .into_iter()
        .filter(|n| allowed.contains(n))
        .collect();
    if list.is_empty() {
        fallback.to_vec()
    } else {
        list
    }
}

/// The visitor's choice of `key` if offered, else the default if offered, else the first.
fn chosen(query: Option<&String>, default: i64, offered: &[i64]) -> i64 {
    query
        .and_then(|q| q.trim().parse::<i64>().ok())
        .filter(|n| offered.contains(n))
        .or_else(|| offered.contains(&default).then_some(default))
        .or_else(|| offered.first().copied())
        .unwrap_or(default)
}

impl BlockKind for FinanceCalculator {
    fn name(&self) -> &'static str {
        "finance_calculator"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Finance calculator", "金融计算器")
    }
    fn icon(&self) -> &'static str {
        "🧮"
    }
    fn category(&self) -> &'static str {
        "finance"
    }
    fn per_request(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Finance calculator”."),
                "model": model_prop(false, ("Model", "车型"), "A model code, or \"{model}\" for the model named in the page's route."),
                "rate_bp": prop(json!({ "type": "integer", "minimum": 0, "maximum": 3000, "default": 399 }), "number", ("Annual rate (bp)", "年利率（基点）"), "Annual interest rate in basis points: 399 = 3.99 %."),
                "terms": prop(
                    json!({ "type": "array", "minItems": 1, "maxItems": TERMS.len(), "uniqueItems": true, "items": { "type": "integer", "enum": TERMS } }),
                    "select",
                    ("Terms offered", "可选期数"),
                    "Loan terms the visitor can choose, in months.",
                ),
                "down_payments": prop(
                    json!({ "type": "array", "minItems": 1, "maxItems": DOWNS.len(), "uniqueItems": true, "items": { "type": "integer", "enum": DOWNS } }),
                    "select",
                    ("Down payments offered", "可选首付比例"),
                    "Down payments the visitor can choose, in % of the vehicle price.",
                ),
                "default_term": prop(json!({ "type": "integer", "enum": TERMS, "default": 36 }), "select", ("Default term", "默认期数"), "The term shown first; one of the terms offered."),
                "default_down": prop(json!({ "type": "integer", "enum": DOWNS, "default": 30 }), "select", ("Default down payment", "默认首付比例"), "The down payment shown first, in %; one of those offered."),
            }),
            &["model", "rate_bp", "terms", "down_payments"],
        )
    }
    fn defaults(&self) -> Value {
        json!({
            "heading": "",
            "model": ROUTE_MODEL,
            "rate_bp": 399,
            "terms": DEFAULT_TERMS,
            "down_payments": DEFAULT_DOWNS,
            "default_term": 36,
            "default_down": 30,
        })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/finance_calculator.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_model(&mut out, "/model", props.get("model"), site);
        for (key, list, unit) in [
            ("default_term", "terms", " months"),
            ("default_down", "down_payments", "%"),
        ] {
            let offered = int_list(props, list, 0, 1000);
            if let Some(d) = props.get(key).and_then(Value::as_i64) {
                if !offered.is_empty() && !offered.contains(&d) {
                    let names: Vec<String> = offered.iter().map(|n| format!("{n}{unit}")).collect();
                    out.push((
                        format!("/{key}"),
                        format!("{d}{unit} is not offered; offered: {}", names.join(", ")),
                    ));
                }
            }
        }
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let zh = locale.starts_with("zh");
        let rate_bp = int(props, "rate_bp", 399, 0, 3000);
        let rate_display = format::percent_bp(u32::try_from(rate_bp).unwrap_or(0), locale);
        let mut labels = json!({
            "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Finance calculator", "金融计算器")),
            "trim": tr(locale, "Trim", "车型配置"),
            "term": tr(locale, "Term", "期数"),
            "down": tr(locale, "Down payment", "首付比例"),
            "rate": tr(locale, "Annual rate", "年利率"),
            "calculate": tr(locale, "Calculate", "计算"),
            "result": tr(locale, "Your estimate", "月供估算"),
            "vehicle_price": tr(locale, "Vehicle price", "车辆价格"),
            "down_payment": tr(locale, "Down payment", "首付金额"),
            "financed": tr(locale, "Loan amount", "贷款金额"),
            "monthly": tr(locale, "Monthly payment", "月供"),
            "total_interest": tr(locale, "Total interest", "总利息"),
            "total_paid": tr(locale, "Total paid", "总支付金额"),
            "unavailable": tr(locale, "Finance figures are not available right now. Please ask a store for an offer.", "暂时无法计算金融方案，请向门店咨询。"),
            "not_found": tr(locale, "Finance figures for this model are not available.", "暂无该车型的金融方案。"),
            "note": if zh {
                format!("以上为按年利率 {rate_display} 估算的参考数据，最终以金融机构审批结果为准。")
            } else {
                format!("Indicative figures at {rate_display} a year; the lender's approval and final terms apply.")
            },
        });
        let Some(m) = resolve_model(props, "model", ctx) else {
            return json!({ "found": false, "labels": labels });
        };
        if let Some(o) = labels.as_object_mut() {
            let name = loc(ctx, &m.name);
            o.insert("heading_model".into(), Value::from(name));
        }
        let query = ctx.visit.map(|v| &v.query);
        let mut trims: Vec<_> = m.trims.iter().collect();
        trims.sort_by_key(|t| t.price);
        let wanted_trim = query.and_then(|q| q.get("trim")).map(String::as_str);
        let trim = wanted_trim
            .and_then(|w| trims.iter().find(|t| t.code == w))
            .or_else(|| trims.first())
            .copied();
        let price = trim.map(|t| t.price).unwrap_or(m.from_price);
        let terms = options(props, "terms", &TERMS, &DEFAULT_TERMS);
        let downs = options(props, "down_payments", &DOWNS, &DEFAULT_DOWNS);
        let term = chosen(
            query.and_then(|q| q.get("term")),
            int(props, "default_term", 36, 0, 1000),
            &terms,
        );
        let down = chosen(
            query.and_then(|q| q.get("down")),
            int(props, "default_down", 30, 0, 1000),
            &downs,
        );
        let result = ctx
            .services
            .finance(
                price,
                u32::try_from(down).unwrap_or(0),
                u32::try_from(term).unwrap_or(0),
                u32::try_from(rate_bp).unwrap_or(0),
            )
            .map(|f| {
                json!({
                    "down_payment": f.down_payment,
                    "down_payment_display": money(ctx, f.down_payment),
                    "financed": f.financed,
                    "financed_display": money(ctx, f.financed),
                    "monthly_payment": f.monthly_payment,
                    "monthly_payment_display": money(ctx, f.monthly_payment),
                    "total_interest": f.total_interest,
                    "total_interest_display": money(ctx, f.total_interest),
                    "total_paid": f.total_paid,
                    "total_paid_display": money(ctx, f.total_paid),
                })
            })
            .unwrap_or(Value::Null);
        let trim_options: Vec<Value> = trims
            .iter()
            .map(|t| {
                json!({
                    "value": t.code,
                    "label": format!("{} · {}", loc(ctx, &t.name), money(ctx, t.price)),
                    "selected": trim.is_some_and(|c| c.code == t.code),
                })
            })
            .collect();
        let term_options: Vec<Value> = terms
            .iter()
            .map(|n| json!({ "value": n, "label": if zh { format!("{n} 期") } else { format!("{n} months") }, "selected": *n == term }))
            .collect();
        let down_options: Vec<Value> = downs
            .iter()
            .map(|n| json!({ "value": n, "label": format!("{n}%"), "selected": *n == down }))
            .collect();
        json!({
            "found": true,
            "model": m.code,
            "model_name": loc(ctx, &m.name),
            "trim": trim.map(|t| t.code.as_str()).unwrap_or(""),
            "price": price,
            "price_display": money(ctx, price),
            "term_months": term,
            "down_payment_pct": down,
            "rate_bp": rate_bp,
            "rate_display": rate_display,
            "trim_options": trim_options,
            "term_options": term_options,
            "down_options": down_options,
            "result": result,
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn finance_calculator_passes_the_standard_checks() {
        kit::standard(&FinanceCalculator);
    }

    #[test]
    fn finance_calculator_reads_valid_choices_from_the_query() {
        let env = Env::new()
            .param("model", "s7")
            .query("term", "60")
            .query("down", "20")
            .query("trim", "s7-max");
        let b = kit::data(
            &FinanceCalculator,
            &FinanceCalculator.defaults(),
            &env,
            "zh-CN",
        );
        assert_eq!(b["term_months"], 60);
        assert_eq!(b["down_payment_pct"], 20);
        assert_eq!(b["trim"], "s7-max");
        assert_eq!(b["price"], 25_990_000);
        assert_eq!(b["result"]["down_payment"], 5_198_000);
        assert_eq!(b["result"]["down_payment_display"], "¥51,980");
        assert_eq!(b["labels"]["monthly"], "月供");
        assert_eq!(b["term_options"][3]["label"], "60 期");
        assert_eq!(b["term_options"][3]["selected"], true);
        assert_eq!(b["rate_display"], "3.99%");
    }

    #[test]
    fn finance_calculator_falls_back_to_defaults_on_bad_query() {
        let env = Env::new()
            .query("term", "61")
            .query("down", "abc")
            .query("trim", "nope");
        let props = json!({"model": "x9", "rate_bp": 0, "terms": [24, 36], "down_payments": [30], "default_term": 36, "default_down": 30});
        let b = kit::data(&FinanceCalculator, &props, &env, "en");
        assert_eq!(b["term_months"], 36);
        assert_eq!(b["down_payment_pct"], 30);
        assert_eq!(b["trim"], "x9-max");
        assert_eq!(b["term_options"][1]["label"], "36 months");
    }

    #[test]
    fn finance_calculator_form_works_without_javascript() {
        let env = Env::new().param("model", "s7");
        let html = kit::render(
            &FinanceCalculator,
            &FinanceCalculator.defaults(),
            &env,
            "en",
        );
        assert!(html.contains("method=\"get\" action=\"#b1\""), "{html}");
        assert!(html.contains("name=\"term\""), "{html}");
        assert!(html.contains("name=\"down\""), "{html}");
        assert!(
            html.contains("<option value=\"36\" selected>36 months</option>"),
            "{html}"
        );
        assert!(html.contains("Monthly payment"), "{html}");
    }

    #[test]
    fn finance_calculator_without_services_is_polite() {
        let env = Env::new().param("model", "s7").no_services();
        let html = kit::render(
            &FinanceCalculator,
            &FinanceCalculator.defaults(),
            &env,
            "zh-CN",
        );
        assert!(html.contains("暂时无法计算金融方案"), "{html}");
    }

    #[test]
    fn finance_calculator_checks_defaults_against_options() {
        let mut props = FinanceCalculator.defaults();
        props["default_term"] = json!(48);
        props["model"] = json!("s9");
        let p = FinanceCalculator.check(&props, &kit::site());
        let pointers: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(pointers, ["/model", "/default_term"]);
        assert!(!kit::valid(
            &FinanceCalculator,
            &json!({"model": "s7", "rate_bp": 399, "terms": [13], "down_payments": [30]})
        ));
    }

    #[test]
    fn finance_calculator_escapes_its_text() {
        let props = json!({"heading": XSS, "model": "s7", "rate_bp": 399, "terms": [12], "down_payments": [30]});
        let env = Env::new().query("trim", XSS);
        kit::assert_escaped(&kit::render(&FinanceCalculator, &props, &env, "en"));
    }
}
