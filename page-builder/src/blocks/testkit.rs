//! Test helpers of the block library (tests only): a small tenant ([`site`]), fake core
//! services, a way to compute a block's view model and to render its template with tera the way
//! the renderer does, and the checks every block must pass ([`standard`]): schema shape and
//! editor metadata, defaults valid, template compiles, output accessible, odd props survived.
//!
//! Mounted once, from `section.rs` (`super::section::testkit`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};
use crate::document::Channel;
use crate::site::{
    CostSummary, CostSummaryLine, FinanceSummary, Localized, RenderRequest, Services, Site,
    SiteImage, SiteModel, SiteSpec, SiteStore, SiteTenant, SiteTrim, Visit,
};

pub(crate) const BASE: &str = "/t/aurora";
pub(crate) const BLOCK_ID: &str = "b1";
pub(crate) const XSS: &str = "<script>alert(1)</script>";

fn l(zh: &str, en: &str) -> Localized {
    let mut m = BTreeMap::new();
    m.insert("zh-CN".to_string(), zh.to_string());
    m.insert("en".to_string(), en.to_string());
    m
}

fn spec(code: &str, zh: &str, en: &str, value: &str, unit: Option<&str>) -> SiteSpec {
    SiteSpec {
        code: code.into(),
        label: l(zh, en),
        value: value.into(),
        unit: unit.map(str::to_string),
    }
}

#[allow(clippy::too_many_arguments)]
fn model(
    code: &str,
    zh: &str,
    en: &str,
    body_type: &str,
    energy: &str,
    trims: &[(&str, i64)],
    specs: Vec<SiteSpec>,
    test_drive: bool,
) -> SiteModel {
    SiteModel {
        code: code.into(),
        brand: "aurora".into(),
        name: l(zh, en),
        body_type: body_type.into(),
        energy: energy.into(),
        description: Some(l(&format!("{zh}，全新上市。"), &format!("The new {en}."))),
        images: vec![SiteImage {
            url: format!("https://cdn.example.com/{code}.jpg"),
            alt: l(&format!("{zh} 侧面"), &format!("{en}, side view")),
        }],
        specs,
        trims: trims
            .iter()
            .map(|(c, p)| SiteTrim {
                code: (*c).into(),
                name: l(&c.to_uppercase(), &c.to_uppercase()),
                price: *p,
            })
            .collect(),
        from_price: trims.iter().map(|t| t.1).min().unwrap_or(0),
        test_drive,
    }
}

fn store(
    code: &str,
    name: (&str, &str),
    city: (&str, &str),
    lat: f64,
    lon: f64,
    phone: Option<&str>,
) -> SiteStore {
    SiteStore {
        code: code.into(),
        name: l(name.0, name.1),
        city: l(city.0, city.1),
        address: l(
            &format!("{}某路 1 号", city.0),
            &format!("1 Some Road, {}", city.1),
        ),
        lat,
        lon,
        phone: phone.map(str::to_string),
    }
}

/// Aurora Motors: four models (s7 sedan BEV, x9 SUV EREV, m3 hatchback BEV without test drives,
/// q5 SUV BEV) and four stores (two in Shanghai, one in Beijing, one in Chengdu).
pub(crate) fn site() -> Site {
    Site {
        tenant: SiteTenant {
            slug: "aurora".into(),
            name: l("极光汽车", "Aurora Motors"),
            currency: "CNY".into(),
            locales: vec!["zh-CN".into(), "en".into()],
            default_locale: "zh-CN".into(),
            time_zone: "Asia/Shanghai".into(),
        },
        models: vec![
            model(
                "s7",
                "极光 S7",
                "Aurora S7",
                "sedan",
                "bev",
                &[("s7-pro", 22_990_000), ("s7-max", 25_990_000)],
                vec![
                    spec(
                        "range_cltc_km",
                        "CLTC 纯电续航",
                        "CLTC range",
                        "630",
                        Some("km"),
                    ),
                    spec(
                        "power_kw",
                        "电机总功率",
                        "Total motor power",
                        "250",
                        Some("kW"),
                    ),
                    spec(
                        "accel_0_100_s",
                        "0–100 km/h 加速",
                        "0–100 km/h",
                        "5.9",
                        Some("s"),
                    ),
                    spec("seats", "座位数", "Seats", "5", None),
                    spec("lidar", "激光雷达", "Lidar", "false", None),
                ],
                true,
            ),
            model(
                "x9",
                "极光 X9",
                "Aurora X9",
                "suv",
                "erev",
                &[("x9-max", 35_990_000)],
                vec![
                    spec(
                        "range_cltc_km",
                        "CLTC 纯电续航",
                        "CLTC range",
                        "280",
                        Some("km"),
                    ),
                    spec("seats", "座位数", "Seats", "6", None),
                    spec("lidar", "激光雷达", "Lidar", "true", None),
                ],
                true,
            ),
            model(
                "m3",
                "极光 M3",
                "Aurora M3",
                "hatchback",
                "bev",
                &[("m3-std", 12_990_000)],
                vec![spec(
                    "range_cltc_km",
                    "CLTC 纯电续航",
                    "CLTC range",
                    "420",
                    Some("km"),
                )],
                false,
            ),
            model(
                "q5",
                "极光 Q5",
                "Aurora Q5",
                "suv",
                "bev",
                &[("q5-std", 19_990_000)],
                vec![spec("seats", "座位数", "Seats", "5", None)],
                true,
            ),
        ],
        stores: vec![
            store(
                "sh-pudong",
                ("极光上海浦东体验中心", "Aurora Shanghai Pudong"),
                ("上海", "Shanghai"),
                31.2304,
                121.5447,
                Some("021-5888 8888"),
            ),
            store(
                "sh-xuhui",
                ("极光上海徐汇店", "Aurora Shanghai Xuhui"),
                ("上海", "Shanghai"),
                31.1880,
                121.4365,
                Some("021-6000 0000"),
            ),
            store(
                "bj-chaoyang",
                ("极光北京朝阳店", "Aurora Beijing Chaoyang"),
                ("北京", "Beijing"),
                39.9219,
                116.4436,
                None,
            ),
            store(
                "cd-jinjiang",
                ("极光成都锦江店", "Aurora Chengdu Jinjiang"),
                ("成都", "Chengdu"),
                30.6570,
                104.0800,
                Some("028-8000 0000"),
            ),
        ],
    }
}

/// Core services that answer with simple, predictable figures.
pub(crate) struct FakeServices;

impl Services for FakeServices {
    fn finance(
        &self,
        price: i64,
        down_pct: u32,
        term: u32,
        rate_bp: u32,
    ) -> Option<FinanceSummary> {
        if term == 0 {
            return None;
        }
        let down = price * i64::from(down_pct) / 100;
        let financed = price - down;
        let interest = financed * i64::from(rate_bp) * i64::from(term) / 12 / 10_000 / 2;
        let total = financed + interest;
        Some(FinanceSummary {
            down_payment: down,
            financed,
            monthly_payment: total / i64::from(term),
            total_interest: interest,
            total_paid: total + down,
        })
    }
    fn all_in_cost(&self, model: &str, locale: &str) -> Option<CostSummary> {
        let zh = locale.starts_with("zh");
        let price = site().models.iter().find(|m| m.code == model)?.from_price;
        let line = |en: &str, zhs: &str, amount: i64, why_en: &str, why_zh: &str| CostSummaryLine {
            label: if zh { zhs.into() } else { en.into() },
            amount,
            explanation: if zh { why_zh.into() } else { why_en.into() },
        };
        let lines = vec![
            line(
                "Vehicle",
                "车辆",
                price,
                "Cheapest trim, default options.",
                "最低配置，默认选装。",
            ),
            line(
                "Purchase tax",
                "购置税",
                0,
                "New-energy vehicles are exempt.",
                "新能源汽车免征。",
            ),
            line(
                "Insurance <1st year>",
                "首年保险",
                650_000,
                "Estimated.",
                "估算。",
            ),
        ];
        let total = lines.iter().map(|l| l.amount).sum();
        Some(CostSummary {
            lines,
            vehicle_price: price,
            total,
        })
    }
}

/// Everything a block's view model is computed from, owned.
pub(crate) struct Env {
    pub site: Site,
    pub params: BTreeMap<String, String>,
    pub visit: Option<Visit>,
    pub services: Box<dyn Services>,
}

impl Env {
    /// The test tenant, no route parameters, an empty visit at 2026-06-01T00:00:00Z, fake
    /// services.
    pub(crate) fn new() -> Env {
        Env {
            site: site(),
            params: BTreeMap::new(),
            visit: Some(Visit {
                now_ms: 1_780_272_000_000,
                ..Visit::default()
            }),
            services: Box::new(FakeServices),
        }
    }
    /// With route parameter `name` = `value`.
    pub(crate) fn param(mut self, name: &str, value: &str) -> Env {
        self.params.insert(name.into(), value.into());
        self
    }
    /// With query parameter `name` = `value`.
    pub(crate) fn query(mut self, name: &str, value: &str) -> Env {
        if let Some(v) = self.visit.as_mut() {
            v.query.insert(name.into(), value.into());
        }
        self
    }
    /// With these models seen, most recent first.
    pub(crate) fn seen(mut self, codes: &[&str]) -> Env {
        if let Some(v) = self.visit.as_mut() {
            v.seen_models = codes.iter().map(|c| c.to_string()).collect();
        }
        self
    }
    /// With the record `name`.
    pub(crate) fn record(mut self, name: &str, value: Value) -> Env {
        if let Some(v) = self.visit.as_mut() {
            v.records.insert(name.into(), value);
        }
        self
    }
    /// At `now_ms`.
    pub(crate) fn now(mut self, now_ms: i64) -> Env {
        if let Some(v) = self.visit.as_mut() {
            v.now_ms = now_ms;
        }
        self
    }
    /// Without a visitor (a cached render of a non-per-request block).
    pub(crate) fn no_visit(mut self) -> Env {
        self.visit = None;
        self
    }
    /// With core services that know nothing.
    pub(crate) fn no_services(mut self) -> Env {
        self.services = Box::new(crate::site::NoServices);
        self
    }
    /// With an empty site (no catalog, no stores).
    pub(crate) fn empty_site(mut self) -> Env {
        self.site = Site::default();
        self
    }
}

/// The view model of `kind` for `props` in `locale`.
pub(crate) fn data(kind: &dyn BlockKind, props: &Value, env: &Env, locale: &str) -> Value {
    let req = RenderRequest {
        locale,
        channel: Channel::Web,
        base_path: BASE,
        params: &env.params,
        nav: &[],
        preview: false,
    };
    let ctx = BlockCtx {
        site: &env.site,
        req: &req,
        visit: env.visit.as_ref(),
        services: env.services.as_ref(),
        block_id: BLOCK_ID,
    };
    kind.data(props, &ctx)
}

fn error_chain(e: &tera::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// Renders `kind`'s template over the view model `b`, the way the renderer does.
pub(crate) fn render_data(kind: &dyn BlockKind, b: &Value, locale: &str) -> String {
    let name = format!("blocks/{}.html", kind.name());
    let mut tera = tera::Tera::default();
    if let Err(e) = tera.add_raw_template(&name, kind.template()) {
        panic!("{name} does not compile: {}", error_chain(&e));
    }
    let mut c = tera::Context::new();
    c.insert("b", b);
    c.insert("block", &json!({ "id": BLOCK_ID, "type": kind.name() }));
    c.insert("base", BASE);
    c.insert("locale", locale);
    if kind.container() {
        c.insert("children_html", "<p class=\"child\">child</p>");
    }
    match tera.render(&name, &c) {
        Ok(html) => html,
        Err(e) => panic!(
            "{name} does not render: {}\nview model: {b:#}",
            error_chain(&e)
        ),
    }
}

/// Computes the view model and renders it.
pub(crate) fn render(kind: &dyn BlockKind, props: &Value, env: &Env, locale: &str) -> String {
    render_data(kind, &data(kind, props, env, locale), locale)
}

/// The schema errors of `instance` (formats checked).
pub(crate) fn schema_errors(kind: &dyn BlockKind, instance: &Value) -> Vec<String> {
    let schema = kind.schema();
    let validator = match jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
    {
        Ok(v) => v,
        Err(e) => panic!("{}: schema does not compile: {e}", kind.name()),
    };
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// `props` is valid for `kind`.
pub(crate) fn valid(kind: &dyn BlockKind, props: &Value) -> bool {
    schema_errors(kind, props).is_empty()
}

const WIDGETS: [&str; 14] = [
    "text", "textarea", "richtext", "number", "money", "select", "checkbox", "model", "models",
    "store", "image", "url", "datetime", "list",
];

/// Every size is bounded in `s` (strings: `maxLength`, `enum` or `const`; arrays: `maxItems`).
fn assert_bounded(s: &Value, at: &str) {
    if let Some(choices) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        if s.get("type").is_none() {
            for c in choices {
                assert_bounded(c, at);
            }
            return;
        }
    }
    match s.get("type").and_then(Value::as_str) {
        Some("string") => assert!(
            s.get("maxLength").is_some() || s.get("enum").is_some() || s.get("const").is_some(),
            "{at}: unbounded string"
        ),
        Some("array") => {
            assert!(s.get("maxItems").is_some(), "{at}: unbounded array");
            if let Some(items) = s.get("items") {
                assert_bounded(items, &format!("{at}/items"));
            }
        }
        Some("object") => {
            assert_eq!(
                s.get("additionalProperties"),
                Some(&json!(false)),
                "{at}: open object"
            );
            lint_properties(s, at);
        }
        Some("integer") | Some("number") => assert!(
            s.get("maximum").is_some() || s.get("enum").is_some(),
            "{at}: unbounded number"
        ),
        _ => {}
    }
}

fn lint_properties(s: &Value, at: &str) {
    let props = s
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{at}: no properties"));
    for (name, p) in props {
        let here = format!("{at}/properties/{name}");
        for key in ["title", "description"] {
            assert!(
                p.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty()),
                "{here}: no {key}"
            );
        }
        let ed = p
            .get("x-editor")
            .unwrap_or_else(|| panic!("{here}: no x-editor"));
        let widget = ed.get("widget").and_then(Value::as_str).unwrap_or("");
        assert!(WIDGETS.contains(&widget), "{here}: widget `{widget}`");
        for locale in ["en", "zh-CN"] {
            assert!(
                ed.pointer(&format!("/label/{locale}"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty()),
                "{here}: no {locale} label"
            );
        }
        if widget == "select" {
            assert!(
                p.get("enum").is_some() || p.pointer("/items/enum").is_some(),
                "{here}: select without enum"
            );
        }
        if widget == "list" {
            let items = p
                .get("items")
                .unwrap_or_else(|| panic!("{here}: list without items"));
            assert_eq!(
                items.get("type"),
                Some(&json!("object")),
                "{here}: list of non-objects"
            );
        }
        assert_bounded(p, &here);
    }
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for r in required {
            let r = r.as_str().unwrap_or("");
            assert!(
                props.contains_key(r),
                "{at}: required `{r}` is not a property"
            );
        }
    }
}

/// The start tags of `html`: (name, attribute text, offset after `>`).
fn tags(html: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(i) = html[rest..].find('<') {
        let start = rest + i + 1;
        let Some(end) = html[start..].find('>').map(|e| start + e) else {
            break;
        };
        let inner = &html[start..end];
        let name: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !name.is_empty() {
            out.push((name.clone(), inner[name.len()..].to_string(), end + 1));
        }
        rest = end + 1;
    }
    out
}

/// The value of attribute `name` in a tag's attribute text.
pub(crate) fn attr(attrs: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let i = attrs.find(&needle)? + needle.len();
    let end = attrs[i..].find('"')?;
    Some(attrs[i..i + end].to_string())
}

fn has_attr(attrs: &str, name: &str) -> bool {
    attrs.contains(&format!(" {name}=\"")) || attrs.split_whitespace().any(|a| a == name)
}

/// Text of `html` without tags.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// The rendered block is accessible, semantic and free of scripts and inline styles.
pub(crate) fn assert_accessible(kind: &dyn BlockKind, html: &str) {
    let name = kind.name();
    let all = tags(html);
    let (first, first_attrs, _) = all
        .first()
        .unwrap_or_else(|| panic!("{name}: empty output"));
    assert_eq!(first, "section", "{name}: root is not a <section>:\n{html}");
    let class = attr(first_attrs, "class").unwrap_or_default();
    assert!(
        class.starts_with(&format!("block block-{name}")),
        "{name}: root class `{class}`"
    );
    assert_eq!(
        attr(first_attrs, "id").as_deref(),
        Some(BLOCK_ID),
        "{name}: root id"
    );
    let ids: Vec<String> = all.iter().filter_map(|(_, a, _)| attr(a, "id")).collect();
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids[..i].contains(id), "{name}: duplicate id `{id}`");
    }
    match (
        attr(first_attrs, "aria-labelledby"),
        attr(first_attrs, "aria-label"),
    ) {
        (Some(by), _) => assert!(
            ids.contains(&by),
            "{name}: aria-labelledby `{by}` names nothing:\n{html}"
        ),
        (None, Some(label)) => assert!(!label.trim().is_empty(), "{name}: empty aria-label"),
        (None, None) => panic!("{name}: the section has no accessible name"),
    }
    let labels: Vec<String> = all
        .iter()
        .filter(|(t, _, _)| t == "label")
        .filter_map(|(_, a, _)| attr(a, "for"))
        .collect();
    for (tag, attrs, after) in &all {
        let here = format!("{name}: <{tag}{attrs}>");
        assert!(!attrs.contains(" style="), "{here}: inline style");
        assert!(
            !attrs
                .split_whitespace()
                .any(|a| a.starts_with("on") && a.contains('=')),
            "{here}: inline event handler"
        );
        match tag.as_str() {
            "script" | "style" | "iframe" => panic!("{here}: not allowed in a block"),
            "img" => assert!(has_attr(attrs, "alt"), "{here}: no alt"),
            "th" => assert!(has_attr(attrs, "scope"), "{here}: no scope"),
            "input" | "select" | "textarea" => {
                let kind = attr(attrs, "type").unwrap_or_default();
                if !matches!(kind.as_str(), "hidden" | "submit" | "button") {
                    let id = attr(attrs, "id").unwrap_or_else(|| panic!("{here}: no id"));
                    assert!(labels.contains(&id), "{here}: no <label for=\"{id}\">");
                    assert!(has_attr(attrs, "name"), "{here}: no name");
                }
            }
            "a" => {
                assert!(has_attr(attrs, "href"), "{here}: no href");
                let end = html[*after..]
                    .find("</a>")
                    .map(|e| after + e)
                    .unwrap_or(*after);
                assert!(
                    !text_of(&html[*after..end]).is_empty() || has_attr(attrs, "aria-label"),
                    "{here}: link without text"
                );
            }
            "button" => {
                let end = html[*after..]
                    .find("</button>")
                    .map(|e| after + e)
                    .unwrap_or(*after);
                assert!(
                    !text_of(&html[*after..end]).is_empty(),
                    "{here}: button without text"
                );
            }
            "h1" => assert!(
                matches!(name, "hero" | "model_header"),
                "{name}: only hero and model_header have the page's h1"
            ),
            _ => {}
        }
    }
}

/// The injected script came out escaped.
pub(crate) fn assert_escaped(html: &str) {
    assert!(!html.contains("<script"), "unescaped script:\n{html}");
    assert!(
        html.contains("&lt;script&gt;"),
        "the value is not shown escaped:\n{html}"
    );
}

/// The checks every block passes: palette metadata, schema shape and editor metadata, defaults
/// valid and meaningful, template compiles without `| safe`, the defaults render accessibly in
/// both locales (with and without a visitor, with an empty site), odd props survive.
pub(crate) fn standard(kind: &dyn BlockKind) {
    let name = kind.name();
    let (en, zh) = kind.label();
    assert!(
        !en.is_empty() && !zh.is_empty() && en != name,
        "{name}: palette label"
    );
    assert!(
        !kind.icon().is_empty() && kind.icon() != "▫",
        "{name}: icon"
    );
    assert!(
        ["layout", "catalog", "finance", "engagement", "content"].contains(&kind.category()),
        "{name}: category"
    );

    let schema = kind.schema();
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("{name}: schema is not valid JSON Schema: {e}");
    }
    assert_eq!(
        schema.get("$schema"),
        Some(&json!("https://json-schema.org/draft/2020-12/schema")),
        "{name}: draft"
    );
    assert_eq!(schema.get("type"), Some(&json!("object")), "{name}: type");
    assert_bounded(&schema, name);

    let defaults = kind.defaults();
    let errors = schema_errors(kind, &defaults);
    assert!(errors.is_empty(), "{name}: defaults invalid: {errors:?}");
    let problems = kind.check(&defaults, &site());
    assert!(
        problems.is_empty(),
        "{name}: defaults fail check: {problems:?}"
    );

    let safe_allowed = matches!(name, "rich_text" | "section");
    let source = kind.template().replace(' ', "");
    assert!(
        safe_allowed || !source.contains("|safe"),
        "{name}: `| safe` in the template"
    );

    let envs = [
        Env::new().param("model", "s7"),
        Env::new().no_visit().param("model", "s7"),
        Env::new().empty_site().no_services(),
        Env::new(),
    ];
    for env in &envs {
        for locale in ["zh-CN", "en"] {
            let html = render(kind, &defaults, env, locale);
            assert_accessible(kind, &html);
            for odd in [
                json!({}),
                Value::Null,
                json!({"model": 7, "models": "x", "items": [1, {"url": 3}], "images": {}, "count": -4, "html": 5, "ends_at": "soon"}),
            ] {
                let html = render(kind, &odd, env, locale);
                assert_accessible(kind, &html);
            }
        }
    }
}
