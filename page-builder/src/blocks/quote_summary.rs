//! `quote_summary` block: a buyer's saved quote (the record `quote` that `core` loads for a
//! `/quotes/{quote}` route, shaped like `GET /api/v1/public/quotes/{code}`): its number, model
//! and trim, dates, every line of the all-in cost sheet with its explanation, the total, the
//! loan figures when financed, and a link to the printable quote. A polite message when there
//! is no such quote. Per request (reads the visit's records).
//!
//! Props: `heading` (default “Your quote”), `show_explanations` (checkbox).

use serde_json::{json, Map, Value};

use super::promotion_countdown::civil_from_days;
use super::section::common::{flag, loc, model, object, opt_text, prop, text_prop, tr};
use super::{BlockCtx, BlockKind};
use crate::format;

pub struct QuoteSummary;

/// A quote code: 12 ASCII letters and digits.
fn quote_code(code: &str) -> Option<&str> {
    (code.len() == 12 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// `YYYY-MM-DD` when `s` is one.
fn iso_day(s: &str) -> Option<(i64, i64, i64)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<i64>()
            .ok()
    };
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// A day in words: `30 June 2026` / `2026年6月30日`; the text itself when it is not a day.
fn day_words(s: &str, locale: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match iso_day(s) {
        Some((y, m, d)) if locale.starts_with("zh") => format!("{y}年{m}月{d}日"),
        Some((y, m, d)) => format!(
            "{d} {} {y}",
            MONTHS[usize::try_from(m - 1).unwrap_or(0).min(11)]
        ),
        None => s.to_string(),
    }
}

fn str_of<'a>(o: &'a Map<String, Value>, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

fn int_of(o: Option<&Value>, key: &str) -> Option<i64> {
    o?.get(key)?.as_i64()
}

impl BlockKind for QuoteSummary {
    fn name(&self) -> &'static str {
        "quote_summary"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Quote summary", "报价单")
    }
    fn icon(&self) -> &'static str {
        "📄"
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
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Your quote”."),
                "show_explanations": prop(json!({ "type": "boolean", "default": true }), "checkbox", ("Show explanations", "显示说明"), "Show how each amount is worked out under its line."),
            }),
            &[],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "show_explanations": true })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/quote_summary.html")
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let labels = json!({
            "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Your quote", "您的报价单")),
            "code": tr(locale, "Quote number", "报价单编号"),
            "model": tr(locale, "Vehicle", "车型"),
            "issued": tr(locale, "Issued on", "开具日期"),
            "valid": tr(locale, "Valid until", "有效期至"),
            "expired": tr(locale, "This quote has expired; prices may have changed. Ask a store for a new quote.", "该报价单已过期，价格可能已有变动，请联系门店重新报价。"),
            "item": tr(locale, "Item", "项目"),
            "amount": tr(locale, "Amount", "金额"),
            "vehicle_price": tr(locale, "Vehicle price", "车辆成交价"),
            "total": tr(locale, "Total to pay", "落地总价"),
            "finance": tr(locale, "Loan", "贷款方案"),
            "down_payment": tr(locale, "Down payment", "首付金额"),
            "term": tr(locale, "Term", "期数"),
            "monthly": tr(locale, "Monthly payment", "月供"),
            "total_interest": tr(locale, "Total interest", "总利息"),
            "print": tr(locale, "Print or save this quote", "打印或保存报价单"),
            "not_found": tr(
                locale,
                "We could not find this quote. Please check the link, or ask a store for a new quote.",
                "未找到该报价单，请检查链接或联系门店重新报价。",
            ),
        });
        let record = ctx
            .visit
            .and_then(|v| v.records.get("quote"))
            .and_then(Value::as_object);
        let Some((q, code)) = record.and_then(|q| Some((q, quote_code(str_of(q, "code"))?))) else {
            return json!({ "found": false, "labels": labels });
        };
        let currency = match str_of(q, "currency") {
            "" => ctx.site.tenant.currency.as_str(),
            c => c,
        };
        let show = |minor: i64| format::money(minor, currency, locale);
        let explain = flag(props, "show_explanations", true);
        let cost = q.get("cost");
        let lines: Vec<Value> = cost
            .and_then(|c| c.get("lines"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|l| {
                let amount = l.get("amount").and_then(Value::as_i64).unwrap_or(0);
                json!({
                    "code": str_of(l, "code"),
                    "category": str_of(l, "category"),
                    "label": str_of(l, "label"),
                    "amount": amount,
                    "amount_display": show(amount),
                    "explanation": if explain { str_of(l, "explanation") } else { "" },
                })
            })
            .collect();
        let vehicle_price = int_of(cost, "vehicle_price");
        let total = int_of(cost, "total");
        let model_code = str_of(q, "model");
        let trim_code = str_of(q, "trim");
        let site_model = model(ctx.site, model_code);
        let model_name = site_model.map(|m| loc(ctx, &m.name)).unwrap_or(model_code);
        let trim_name = site_model
            .and_then(|m| m.trims.iter().find(|t| t.code == trim_code))
            .map(|t| loc(ctx, &t.name))
            .unwrap_or(trim_code);
        let finance = q.get("finance").filter(|f| f.is_object()).map(|f| {
            let term = int_of(Some(f), "term_months").unwrap_or(0);
            let money_of = |key: &str| int_of(Some(f), key).map(&show).unwrap_or_default();
            json!({
                "down_payment_display": money_of("down_payment"),
                "term_months": term,
                "term_display": if locale.starts_with("zh") { format!("{term} 期") } else { format!("{term} months") },
                "monthly_payment": int_of(Some(f), "first_payment"),
                "monthly_payment_display": money_of("first_payment"),
                "total_interest_display": money_of("total_interest"),
            })
        });
        let valid_until = str_of(q, "valid_until");
        let today = ctx.visit.map(|v| {
            let (y, m, d) = civil_from_days(v.now_ms.div_euclid(86_400_000));
            format!("{y:04}-{m:02}-{d:02}")
        });
        let expired =
            iso_day(valid_until).is_some() && today.is_some_and(|t| t.as_str() > valid_until);
        json!({
            "found": true,
            "code": code,
            "model": model_code,
            "model_name": model_name,
            "trim": trim_code,
            "trim_name": trim_name,
            "currency": currency,
            "issued_on": str_of(q, "issued_on"),
            "issued_display": day_words(str_of(q, "issued_on"), locale),
            "valid_until": valid_until,
            "valid_display": day_words(valid_until, locale),
            "expired": expired,
            "lines": lines,
            "vehicle_price": vehicle_price,
            "vehicle_price_display": vehicle_price.map(&show).unwrap_or_default(),
            "total": total,
            "total_display": total.map(&show).unwrap_or_default(),
            "finance": finance,
            "print_href": format!("{}/api/v1/public/quotes/{code}/print", ctx.req.base_path),
            "labels": labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    fn quote() -> Value {
        json!({
            "code": "Q7x9Kp2mZr4T",
            "model": "s7",
            "trim": "s7-max",
            "selections": ["paint-obsidian-black"],
            "region": null,
            "locale": "zh-CN",
            "currency": "CNY",
            "issued_on": "2026-05-28",
            "valid_until": "2026-06-03",
            "cost": {
                "lines": [
                    {"code": "vehicle", "category": "vehicle", "label": "车辆价格", "amount": 25_990_000, "explanation": "S7 Max 指导价"},
                    {"code": "tax", "category": "tax", "label": "购置税", "amount": 0, "explanation": "新能源汽车免征购置税"},
                    {"code": "insurance", "category": "insurance", "label": "商业保险", "amount": 650_050, "explanation": "首年估算"}
                ],
                "vehicle_price": 25_990_000,
                "total": 26_640_050
            },
            "build": {},
            "finance": {"method": "equal_instalments", "term_months": 36, "annual_rate_bp": 399, "vehicle_price": 25_990_000, "down_payment": 7_797_000, "financed_amount": 18_193_000, "first_payment": 537_112, "last_payment": 537_112, "total_interest": 1_143_032, "total_payments": 19_336_032, "total_cost": 27_133_032, "instalments": []},
            "json_path": "/t/aurora/api/v1/public/quotes/Q7x9Kp2mZr4T",
            "print_path": "/t/aurora/api/v1/public/quotes/Q7x9Kp2mZr4T/print"
        })
    }

    #[test]
    fn quote_summary_passes_the_standard_checks() {
        kit::standard(&QuoteSummary);
    }

    #[test]
    fn quote_summary_shows_lines_total_finance_and_print_link() {
        let env = Env::new().record("quote", quote());
        let b = kit::data(&QuoteSummary, &QuoteSummary.defaults(), &env, "zh-CN");
        assert_eq!(b["found"], true);
        assert_eq!(b["model_name"], "极光 S7");
        assert_eq!(b["trim_name"], "S7-MAX");
        assert_eq!(b["lines"][2]["amount_display"], "¥6,500.50");
        assert_eq!(b["total_display"], "¥266,400.50");
        assert_eq!(b["finance"]["monthly_payment_display"], "¥5,371.12");
        assert_eq!(b["finance"]["term_display"], "36 期");
        assert_eq!(b["valid_display"], "2026年6月3日");
        assert_eq!(b["expired"], false);
        assert_eq!(
            b["print_href"],
            "/t/aurora/api/v1/public/quotes/Q7x9Kp2mZr4T/print"
        );
        let html = kit::render(&QuoteSummary, &QuoteSummary.defaults(), &env, "zh-CN");
        assert!(html.contains("新能源汽车免征购置税"), "{html}");
        assert!(html.contains("落地总价"), "{html}");
        assert!(html.contains("打印或保存报价单"), "{html}");
    }

    #[test]
    fn quote_summary_marks_expired_quotes() {
        let env = Env::new().record("quote", quote()).now(1_781_000_000_000);
        let b = kit::data(&QuoteSummary, &QuoteSummary.defaults(), &env, "en");
        assert_eq!(b["expired"], true);
        assert_eq!(b["valid_display"], "3 June 2026");
    }

    #[test]
    fn quote_summary_without_a_quote_is_polite() {
        for env in [
            Env::new(),
            Env::new().record("quote", json!({"code": "../../x"})),
            Env::new().record("quote", json!("nope")),
        ] {
            let html = kit::render(&QuoteSummary, &QuoteSummary.defaults(), &env, "en");
            assert!(html.contains("We could not find this quote."), "{html}");
        }
    }

    #[test]
    fn quote_summary_escapes_record_text() {
        let mut q = quote();
        q["cost"]["lines"][0]["label"] = json!(XSS);
        q["cost"]["lines"][0]["explanation"] = json!(XSS);
        q["model"] = json!(XSS);
        let env = Env::new().record("quote", q);
        kit::assert_escaped(&kit::render(
            &QuoteSummary,
            &json!({"heading": XSS}),
            &env,
            "en",
        ));
    }
}
