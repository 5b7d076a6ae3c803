//! Page documents end to end: loading with located errors, rendering (static + per-request
//! fill), the JSON twin, channels, escaping, tenant templates and the block library, against the
//! fixture site `fixtures/site.json` (tenant aurora: zh-CN + en, CNY, 3 models, 3 stores).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use forecourt_page_builder::document::Channel;
use forecourt_page_builder::site::{NavLink, NoServices, RenderRequest, Site, Visit};
use forecourt_page_builder::{page_schema, Page, Renderer};
use forecourt_tenant_config::Report;
use proptest::prelude::*;
use serde_json::{json, Value};

const XSS: &str = "<script>alert(1)</script>";
const FILE: &str = "pages/test.json";

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(Renderer::new)
}

fn site() -> &'static Site {
    static S: OnceLock<Site> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(include_str!("fixtures/site.json")).unwrap())
}

/// What a request needs besides the locale and channel.
struct Request {
    params: BTreeMap<String, String>,
    nav: Vec<NavLink>,
    preview: bool,
}

impl Request {
    fn new() -> Request {
        Request {
            params: BTreeMap::new(),
            nav: vec![
                NavLink {
                    href: "/t/aurora/".into(),
                    label: "Home".into(),
                    current: true,
                },
                NavLink {
                    href: "/t/aurora/models".into(),
                    label: "Models".into(),
                    current: false,
                },
            ],
            preview: false,
        }
    }

    fn model(mut self, code: &str) -> Request {
        self.params.insert("model".into(), code.into());
        self
    }

    fn req<'a>(&'a self, locale: &'a str, channel: Channel) -> RenderRequest<'a> {
        RenderRequest {
            locale,
            channel,
            base_path: "/t/aurora",
            params: &self.params,
            nav: &self.nav,
            preview: self.preview,
        }
    }
}

fn page_json(blocks: Value) -> Value {
    json!({
        "schema_version": 1,
        "id": "test",
        "route": "/",
        "meta": {"zh-CN": {"title": "测试页"}, "en": {"title": "Test page"}},
        "blocks": blocks,
    })
}

fn load(value: &Value) -> Page {
    renderer()
        .load_value(FILE, value, Some(site()))
        .unwrap_or_else(|r| panic!("{r}"))
}

fn load_err(text: &str) -> Report {
    match renderer().load(FILE, text, Some(site())) {
        Ok(_) => panic!("loaded, but should not have:\n{text}"),
        Err(r) => r,
    }
}

/// (code, pointer, line, column) of every diagnostic.
fn found(report: &Report) -> Vec<(&'static str, String, Option<u32>, Option<u32>)> {
    report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.pointer.clone(), d.line, d.column))
        .collect()
}

fn one<'r>(report: &'r Report, code: &str) -> &'r forecourt_tenant_config::Diagnostic {
    let all: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .collect();
    assert_eq!(all.len(), 1, "one `{code}` expected:\n{report}");
    all[0]
}

/// The full HTML for one visitor.
fn html(page: &Page, request: &Request, locale: &str, visit: &Visit) -> String {
    let r = renderer();
    let req = request.req(locale, Channel::Web);
    let rendered = r.render(page, site(), &req, &NoServices);
    let (out, problems) = r.fill_with_problems(&rendered, page, site(), &req, visit, &NoServices);
    assert!(rendered.problems().is_empty(), "{:?}", rendered.problems());
    assert!(problems.is_empty(), "{problems:?}");
    out
}

/// The `<main>` element's content.
fn main_of(html: &str) -> &str {
    let start = html.find("<main").expect("a <main>");
    let end = html.rfind("</main>").expect("a </main>");
    &html[start..end]
}

// ---------------------------------------------------------------------------------------------
// Loading: located errors

#[test]
fn bad_schema_version_is_located_and_explained() {
    let text = r#"{
  "schema_version": 2,
  "id": "home",
  "route": "/",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": []
}"#;
    let report = load_err(text);
    assert_eq!(
        found(&report),
        [(
            "page.schema_version",
            "/schema_version".into(),
            Some(2),
            Some(21)
        )]
    );
    let d = &report.diagnostics[0];
    assert_eq!(d.file, FILE);
    assert!(
        d.message.contains("reads page format 1 only"),
        "{}",
        d.message
    );
    assert!(d.message.contains("`schema_version: 2`"), "{}", d.message);
}

#[test]
fn unknown_block_type_gets_a_suggestion() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": [
    {"type": "heor", "id": "top", "props": {"headline": "Hi"}}
  ]
}"#;
    let report = load_err(text);
    let d = one(&report, "page.unknown_block");
    assert_eq!(
        (d.pointer.as_str(), d.line, d.column),
        ("/blocks/0/type", Some(7), Some(14))
    );
    assert!(d.message.contains("Did you mean `hero`?"), "{}", d.message);
    assert_eq!(report.diagnostics.len(), 1, "{report}");
}

#[test]
fn bad_props_deep_in_children_are_located() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": [
    {"type": "section", "id": "outer", "props": {"heading": "Outer", "layout": "stack"}, "children": [
      {"type": "section", "id": "inner", "props": {"heading": "Inner", "layout": "stack"}, "children": [
        {"type": "hero", "id": "deep", "props": {"headline": 42, "tone": "dark", "colour": "red"}}
      ]}
    ]}
  ]
}"#;
    let report = load_err(text);
    let d = one(&report, "schema.type");
    assert_eq!(d.pointer, "/blocks/0/children/0/children/0/props/headline");
    assert_eq!((d.line, d.column), (Some(9), Some(62)));
    assert!(
        d.message.contains("expected text here, but found a number"),
        "{}",
        d.message
    );
    let extra = one(&report, "schema.additional_property");
    assert_eq!(extra.pointer, "/blocks/0/children/0/children/0/props");
    assert_eq!((extra.line, extra.column), (Some(9), Some(82)));
    assert!(
        extra.message.contains("`colour` is not a known field"),
        "{}",
        extra.message
    );
}

#[test]
fn duplicate_block_ids_are_reported_at_the_second() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": [
    {"type": "hero", "id": "same", "props": {"headline": "One", "tone": "dark"}},
    {"type": "section", "id": "box", "props": {"heading": "Box", "layout": "stack"}, "children": [
      {"type": "hero", "id": "same", "props": {"headline": "Two", "tone": "dark"}}
    ]}
  ]
}"#;
    let report = load_err(text);
    let d = one(&report, "page.duplicate_block_id");
    assert_eq!(d.pointer, "/blocks/1/children/0/id");
    assert_eq!((d.line, d.column), (Some(9), Some(30)));
    assert!(d.message.contains("/blocks/0"), "{}", d.message);
}

#[test]
fn children_on_a_leaf_are_refused() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": [
    {"type": "hero", "id": "top", "props": {"headline": "Hi", "tone": "dark"}, "children": [
      {"type": "hero", "id": "inside", "props": {"headline": "Hi", "tone": "dark"}}
    ]}
  ]
}"#;
    let report = load_err(text);
    let d = one(&report, "page.children_not_allowed");
    assert_eq!(d.pointer, "/blocks/0/children");
    assert_eq!(d.line, Some(7));
    assert!(
        d.message.contains("`hero` block cannot hold"),
        "{}",
        d.message
    );
}

#[test]
fn unknown_model_reference_is_located() {
    let text = r#"{
  "schema_version": 1,
  "id": "detail",
  "route": "/models/{model}",
  "meta": {"zh-CN": {"title": "车型"}},
  "blocks": [
    {"type": "model_header", "id": "head", "props": {"model": "s77"}}
  ]
}"#;
    // Without the site the reference cannot be checked, so the page loads.
    assert!(renderer().load(FILE, text, None).is_ok());
    let report = load_err(text);
    let d = one(&report, "page.reference");
    assert_eq!(d.pointer, "/blocks/0/props/model");
    assert_eq!((d.line, d.column), (Some(7), Some(63)));
    assert!(d.message.contains("s77"), "{}", d.message);
}

#[test]
fn the_default_locale_needs_a_title_when_the_site_is_known() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/",
  "meta": {"en": {"title": "Home"}},
  "blocks": []
}"#;
    assert!(renderer().load(FILE, text, None).is_ok());
    let report = load_err(text);
    let d = one(&report, "page.meta_missing");
    assert_eq!((d.pointer.as_str(), d.line), ("/meta", Some(5)));
    assert!(d.message.contains("`zh-CN`"), "{}", d.message);
}

#[test]
fn route_errors_are_located() {
    let text = r#"{
  "schema_version": 1,
  "id": "home",
  "route": "/models/{modle}",
  "meta": {"zh-CN": {"title": "首页"}},
  "blocks": []
}"#;
    let report = load_err(text);
    let d = one(&report, "page.route");
    assert_eq!(
        (d.pointer.as_str(), d.line, d.column),
        ("/route", Some(4), Some(12))
    );
    assert!(d.message.contains("Did you mean `model`?"), "{}", d.message);
}

#[test]
fn a_ten_megabyte_document_is_refused_fast() {
    let text = format!(
        r#"{{"schema_version": 1, "id": "big", "route": "/", "meta": {{"en": {{"title": "{}"}}}}, "blocks": []}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    let started = Instant::now();
    let report = renderer().load(FILE, &text, Some(site())).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        found(&report),
        [("page.too_large", String::new(), Some(1), Some(1))]
    );
}

#[test]
fn too_many_and_too_deep_blocks_are_refused() {
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"type": "hero", "id": format!("h{i}"), "props": {"headline": "x", "tone": "dark"}}))
        .collect();
    let report = renderer()
        .load_value(FILE, &page_json(Value::Array(many)), Some(site()))
        .unwrap_err();
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code == "page.too_large" && d.message.contains("201 blocks")),
        "{report}"
    );

    let mut deep =
        json!({"type": "hero", "id": "leaf", "props": {"headline": "x", "tone": "dark"}});
    for i in 0..9 {
        deep = json!({"type": "section", "id": format!("s{i}"), "props": {"heading": "x", "layout": "stack"}, "children": [deep]});
    }
    let report = renderer()
        .load_value(FILE, &page_json(json!([deep])), Some(site()))
        .unwrap_err();
    let d = one(&report, "page.too_large");
    assert!(d.message.contains("at most 8 levels"), "{}", d.message);
    assert_eq!(d.line, None, "load_value has no positions");
}

#[test]
fn every_problem_of_a_document_is_reported_at_once() {
    let text = r#"{
  "schema_version": 1,
  "id": "Home Page",
  "route": "models/",
  "meta": {"en": {"title": "Home"}, "EN_us": {"title": "x"}},
  "colour": "red",
  "blocks": [
    {"type": "heor", "id": "a"},
    {"type": "hero", "id": "a", "props": {"headline": "", "tone": "neon"}},
    {"type": "hero", "id": "b", "props": {"headline": "x", "tone": "dark"}, "children": [
      {"type": "model_header", "id": "c", "props": {"model": "s8"}}
    ]},
    {"type": "section", "id": "d", "props": {"heading": "x", "layout": "stack"}, "channels": ["tv"]}
  ]
}"#;
    let report = load_err(text);
    let mut got: Vec<(&str, String)> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.pointer.clone()))
        .collect();
    got.sort();
    let mut want: Vec<(&str, String)> = vec![
        ("schema.pattern", "/id".into()),
        ("page.route", "/route".into()),
        ("schema.pattern", "/meta/EN_us".into()),
        ("schema.additional_property", "".into()),
        ("page.unknown_block", "/blocks/0/type".into()),
        ("page.duplicate_block_id", "/blocks/1/id".into()),
        ("schema.length", "/blocks/1/props/headline".into()),
        ("schema.enum", "/blocks/1/props/tone".into()),
        ("page.children_not_allowed", "/blocks/2/children".into()),
        ("page.reference", "/blocks/2/children/0/props/model".into()),
        ("schema.enum", "/blocks/3/channels/0".into()),
        ("page.meta_missing", "/meta".into()),
    ];
    want.sort();
    assert_eq!(got, want, "\n{report}");
    assert!(report
        .diagnostics
        .iter()
        .all(|d| d.line.is_some() && d.file == FILE));
}

#[test]
fn load_value_reports_pointers_without_positions() {
    let value = page_json(json!([{"type": "heor", "id": "x"}]));
    let report = renderer().load_value(FILE, &value, None).unwrap_err();
    assert_eq!(
        found(&report),
        [("page.unknown_block", "/blocks/0/type".into(), None, None)]
    );
}

#[test]
fn the_hash_depends_on_meaning_not_formatting() {
    let a = r#"{"schema_version": 1, "id": "home", "route": "/", "meta": {"zh-CN": {"title": "首页"}},
        "blocks": [{"type": "hero", "id": "top", "props": {"tone": "dark", "headline": "Hi"}}]}"#;
    let b = "# the same page as YAML\nschema_version: 1\nid: home\nroute: /\nmeta:\n  zh-CN: {title: 首页}\nblocks:\n  - {id: top, type: hero, props: {headline: Hi, tone: dark}}\n";
    let pa = renderer().load("a.json", a, Some(site())).unwrap();
    let pb = renderer().load("b.yaml", b, Some(site())).unwrap();
    assert_eq!(pa.hash, pb.hash);
    assert_eq!(pa.hash.len(), 64);
    let c = a.replace("\"Hi\"", "\"Hello\"");
    let pc = renderer().load("c.json", &c, Some(site())).unwrap();
    assert_ne!(pa.hash, pc.hash);
    assert_eq!(pa.route.as_str(), "/");
    assert_eq!(pa.doc.blocks[0].id, "top");
}

#[test]
fn tenant_templates_are_checked_at_load() {
    let cases = [
        ("{{ data.x | safe }}", "`safe`"),
        (
            "{% for i in range(end=100000000) %}x{% endfor %}",
            "function calls",
        ),
        (
            "{% for a in data.a %}{% for b in data.a %}{% endfor %}{% endfor %}",
            "loop inside a loop",
        ),
        ("{% set x = 1 %}{{ x }}", "`{% set %}`"),
        ("{{ data.x", "syntax error at line 1"),
    ];
    for (template, want) in cases {
        let value = page_json(json!([
            {"type": "template", "id": "t1", "props": {"template": template, "data": {"a": [1], "x": "y"}}}
        ]));
        let report = renderer()
            .load_value(FILE, &value, Some(site()))
            .unwrap_err();
        let d = one(&report, "page.template");
        assert_eq!(d.pointer, "/blocks/0/props/template", "{template}");
        assert!(d.message.contains(want), "{template}: {}", d.message);
    }
    // Loops are bounded by the data they go over.
    let many: Vec<u32> = (0..500).collect();
    let value = page_json(json!([
        {"type": "template", "id": "t1", "props": {"template": "{% for i in data.many %}{{ i }}{% endfor %}", "data": {"many": many}}}
    ]));
    let report = renderer()
        .load_value(FILE, &value, Some(site()))
        .unwrap_err();
    let d = one(&report, "page.template");
    assert_eq!(d.pointer, "/blocks/0/props/data");
    assert!(d.message.contains("at most 100"), "{}", d.message);
}

#[test]
fn the_page_schema_is_served_as_written() {
    let schema = page_schema();
    let file: Value = serde_json::from_str(include_str!("../schema/page.schema.json")).unwrap();
    assert_eq!(schema, file);
    assert_eq!(schema["properties"]["schema_version"]["const"], 1);
}

// ---------------------------------------------------------------------------------------------
// Rendering

#[test]
fn hostile_text_is_escaped_in_meta_and_in_props() {
    let mut value = page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": XSS, "subline": "a \"quoted\" & 'single' <b>", "tone": "dark"}}
    ]));
    value["meta"]["en"] =
        json!({"title": XSS, "description": XSS, "image": "https://x.example/a.png?\"><script>"});
    let page = load(&value);
    let out = html(&page, &Request::new(), "en", &Visit::default());
    assert!(!out.contains("<script"), "{out}");
    assert!(
        out.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{out}"
    );
    assert!(
        out.contains(r#"<meta name="description" content="&lt;script&gt;"#),
        "{out}"
    );
    assert!(
        out.contains(r#"<meta property="og:title" content="&lt;script&gt;"#),
        "{out}"
    );
    assert!(
        out.contains(r#"content="https://x.example/a.png?&quot;&gt;&lt;script&gt;""#),
        "{out}"
    );
    assert!(
        main_of(&out).contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{out}"
    );
    assert!(
        out.contains("a &quot;quoted&quot; &amp; &#x27;single&#x27; &lt;b&gt;"),
        "{out}"
    );
}

#[test]
fn the_layout_has_landmarks_and_accessibility() {
    let page = load(&page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": "Drive", "tone": "dark"}}
    ])));
    let request = Request::new();
    for (locale, name, skip) in [
        ("en", "Aurora Motors", "Skip to content"),
        ("zh-CN", "极光汽车", "跳到正文"),
    ] {
        let out = html(&page, &request, locale, &Visit::default());
        assert!(out.starts_with("<!doctype html>\n<html lang=\""), "{out}");
        for want in [
            format!("<html lang=\"{locale}\">"),
            "<meta charset=\"utf-8\">".into(),
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">".into(),
            "<title>".into(),
            "<meta property=\"og:title\"".into(),
            "<link rel=\"stylesheet\" href=\"/assets/storefront.css\">".into(),
            format!("<a class=\"skip-link\" href=\"#main\">{skip}</a>"),
            "<header class=\"site-header\">".into(),
            format!("<a class=\"site-name\" href=\"/t/aurora/\">{name}</a>"),
            "<nav class=\"site-nav\" aria-label=".into(),
            "<a href=\"/t/aurora/\" aria-current=\"page\">Home</a>".into(),
            "<a href=\"/t/aurora/models\">Models</a>".into(),
            "<a href=\"?locale=en\" hreflang=\"en\" lang=\"en\"".into(),
            "<a href=\"?locale=zh-CN\" hreflang=\"zh-CN\" lang=\"zh-CN\"".into(),
            "<main id=\"main\"".into(),
            "<footer".into(),
            "</html>".into(),
        ] {
            assert!(out.contains(&want), "{locale}: no {want} in\n{out}");
        }
        assert!(
            !out.contains("<script"),
            "no script without a configurator:\n{out}"
        );
        assert!(!out.contains("preview-banner"), "{out}");
    }
    let mut preview = Request::new();
    preview.preview = true;
    let out = html(&page, &preview, "en", &Visit::default());
    assert!(out.contains("class=\"preview-banner\""), "{out}");
    assert!(out.contains("noindex"), "{out}");
}

#[test]
fn the_configurator_script_comes_only_with_a_configurator_block() {
    let value = page_json(json!([
        {"type": "configurator", "id": "build", "props": renderer().library().get("configurator").unwrap().defaults()}
    ]));
    let page = renderer()
        .load_value(FILE, &value, Some(site()))
        .unwrap_or_else(|r| panic!("{r}"));
    let request = Request::new().model("s7");
    let req = request.req("en", Channel::Web);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    let out = renderer().fill(
        &rendered,
        &page,
        site(),
        &req,
        &Visit::default(),
        &NoServices,
    );
    assert_eq!(out.matches("<script").count(), 1, "{out}");
    assert!(
        out.contains("<script src=\"/assets/configurator.js\" defer></script>"),
        "{out}"
    );
}

fn visit(query: &[(&str, &str)]) -> Visit {
    Visit {
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Visit::default()
    }
}

#[test]
fn a_per_request_block_is_a_slot_filled_for_each_visit() {
    let page = load(&page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": "Find us", "tone": "dark"}},
        {"type": "store_locator", "id": "stores", "props": {"max_results": 5}}
    ])));
    let request = Request::new();
    let req = request.req("en", Channel::Web);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    assert!(rendered.whole().is_none());
    assert_eq!(rendered.slots(), 1);
    assert!(rendered.weight() > 1000);
    let beijing = renderer().fill(
        &rendered,
        &page,
        site(),
        &req,
        &visit(&[("city", "Beijing")]),
        &NoServices,
    );
    let shanghai = renderer().fill(
        &rendered,
        &page,
        site(),
        &req,
        &visit(&[("city", "Shanghai")]),
        &NoServices,
    );
    assert_ne!(beijing, shanghai);
    assert!(
        beijing.contains("Sanlitun") && !beijing.contains("Pudong"),
        "{beijing}"
    );
    assert!(
        shanghai.contains("Pudong") && !shanghai.contains("Sanlitun"),
        "{shanghai}"
    );
    // Everything around the slot is the same static HTML.
    assert!(beijing.contains("Find us") && shanghai.contains("Find us"));
    assert!(!beijing.contains("fc-slot"), "{beijing}");
}

#[test]
fn a_page_without_per_request_blocks_is_whole() {
    let page = load(&page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": "Hi", "tone": "dark"}}
    ])));
    let request = Request::new();
    let req = request.req("en", Channel::Web);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    let whole = rendered.whole().expect("no slots");
    assert_eq!(rendered.slots(), 0);
    let filled = renderer().fill(
        &rendered,
        &page,
        site(),
        &req,
        &Visit::default(),
        &NoServices,
    );
    assert_eq!(&*whole, filled.as_str());
}

#[test]
fn the_twin_carries_the_view_model_the_html_was_made_from() {
    let page = load(&page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": "Drive", "tone": "dark", "cta_label": "Go", "cta_link": "/models"}},
        {"type": "section", "id": "box", "props": {"heading": "Around you", "layout": "stack"}, "children": [
            {"type": "store_locator", "id": "stores", "props": {"max_results": 2}},
            {"type": "template", "id": "note", "props": {"template": "<p>{{ data.note }}</p>", "data": {"note": "Open <daily>"}}}
        ]}
    ])));
    let request = Request::new();
    let req = request.req("en", Channel::Web);
    let v = visit(&[("city", "Beijing")]);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    let out = renderer().fill(&rendered, &page, site(), &req, &v, &NoServices);
    let twin = renderer().twin(&page, site(), &req, &v, &NoServices);

    assert_eq!(twin["schema_version"], 1);
    assert_eq!(
        twin["page"],
        json!({"id": "test", "route": "/", "path": "/"})
    );
    assert_eq!(
        (twin["locale"].as_str(), twin["channel"].as_str()),
        (Some("en"), Some("web"))
    );
    assert_eq!(
        twin["meta"],
        json!({"title": "Test page", "description": null, "image": null})
    );
    assert_eq!(twin["nav"][0]["href"], "/t/aurora/");
    let blocks = twin["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1]["children"].as_array().unwrap().len(), 2);
    assert_eq!(
        blocks[1]["children"][1]["data"]["html"],
        "<p>Open &lt;daily&gt;</p>"
    );

    // Each leaf's HTML in the page is its template over exactly the twin's data.
    let leaves = [
        &blocks[0],
        &blocks[1]["children"][0],
        &blocks[1]["children"][1],
    ];
    for leaf in leaves {
        let kind = leaf["type"].as_str().unwrap();
        let id = leaf["id"].as_str().unwrap();
        let from_twin = renderer()
            .block_html(kind, id, leaf["data"].clone(), &req, None)
            .unwrap();
        assert!(
            out.contains(&from_twin),
            "{kind} `{id}`:\n{from_twin}\nnot in\n{out}"
        );
    }
    // And the container around them.
    let children: String = [&blocks[1]["children"][0], &blocks[1]["children"][1]]
        .iter()
        .map(|c| {
            renderer()
                .block_html(
                    c["type"].as_str().unwrap(),
                    c["id"].as_str().unwrap(),
                    c["data"].clone(),
                    &req,
                    None,
                )
                .unwrap()
        })
        .collect();
    let section = renderer()
        .block_html(
            "section",
            "box",
            blocks[1]["data"].clone(),
            &req,
            Some(children),
        )
        .unwrap();
    assert!(out.contains(&section), "{section}\nnot in\n{out}");
}

#[test]
fn channels_filter_blocks() {
    let page = load(&page_json(json!([
        {"type": "hero", "id": "everywhere", "props": {"headline": "Everywhere", "tone": "dark"}},
        {"type": "hero", "id": "app-only", "props": {"headline": "Only in the app", "tone": "dark"}, "channels": ["app"]},
        {"type": "section", "id": "web-box", "props": {"heading": "Web box", "layout": "stack"}, "channels": ["web"], "children": [
            {"type": "hero", "id": "in-web-box", "props": {"headline": "Inside", "tone": "dark"}}
        ]}
    ])));
    let request = Request::new();
    let web = html(&page, &request, "en", &Visit::default());
    assert!(web.contains("Everywhere") && web.contains("Web box") && web.contains("Inside"));
    assert!(!web.contains("Only in the app"), "{web}");

    let ids = |twin: &Value| -> Vec<String> {
        twin["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    let app_req = request.req("en", Channel::App);
    let app = renderer().twin(&page, site(), &app_req, &Visit::default(), &NoServices);
    assert_eq!(ids(&app), ["everywhere", "app-only"]);
    assert_eq!(app["channel"], "app");
    assert_eq!(app["blocks"][1]["data"]["headline"], "Only in the app");
    let web_req = request.req("en", Channel::Web);
    let web_twin = renderer().twin(&page, site(), &web_req, &Visit::default(), &NoServices);
    assert_eq!(ids(&web_twin), ["everywhere", "web-box"]);
    let mini_req = request.req("en", Channel::Mini);
    let mini = renderer().twin(&page, site(), &mini_req, &Visit::default(), &NoServices);
    assert_eq!(ids(&mini), ["everywhere"]);
}

#[test]
fn tenant_templates_render_escaped_and_fail_politely() {
    let page = load(&page_json(json!([
        {"type": "template", "id": "ok", "props": {
            "template": "<ul>{% for m in data.models %}<li>{{ m | upper }}</li>{% endfor %}</ul>{{ \"<b>\" }}{{ data.list }}<p>{{ site.name }} {{ site.currency }} {{ locale }}</p>",
            "data": {"models": ["s7", XSS], "list": [XSS]}}},
        {"type": "template", "id": "broken", "props": {"template": "<p>{{ data.nope.deeper }}</p>", "data": {}}},
        {"type": "hero", "id": "after", "props": {"headline": "Still here", "tone": "dark"}}
    ])));
    let request = Request::new();
    let req = request.req("en", Channel::Web);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    let out = rendered.whole().unwrap();
    assert!(!out.contains("<script"), "{out}");
    assert!(
        out.contains("<li>S7</li><li>&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;</li>"),
        "{out}"
    );
    assert!(out.contains("&lt;b&gt;"), "{out}");
    assert!(
        out.contains("[&lt;script&gt;alert(1)&lt;/script&gt;]"),
        "{out}"
    );
    assert!(out.contains("<p>Aurora Motors CNY en</p>"), "{out}");
    // The failing one is an empty, labelled placeholder; the page goes on.
    assert!(
        out.contains(r#"<section class="block-error" data-block-id="broken"></section>"#),
        "{out}"
    );
    assert!(!out.contains("nope"), "no internals in the HTML:\n{out}");
    assert!(out.contains("Still here"));
    assert_eq!(rendered.problems().len(), 1, "{:?}", rendered.problems());
    assert!(
        rendered.problems()[0].contains("block `broken` (template)"),
        "{:?}",
        rendered.problems()
    );
    assert!(
        rendered.problems()[0].contains("nope"),
        "{:?}",
        rendered.problems()
    );
    // The twin says the block failed.
    let twin = renderer().twin(&page, site(), &req, &Visit::default(), &NoServices);
    assert_eq!(twin["blocks"][1]["data"], Value::Null);
}

#[test]
fn a_document_changed_after_loading_still_renders() {
    let mut page = load(&page_json(json!([
        {"type": "hero", "id": "top", "props": {"headline": "Hi", "tone": "dark"}}
    ])));
    page.doc.blocks[0].kind = "no_such_block".into();
    page.doc.blocks.push(forecourt_page_builder::BlockNode {
        kind: "template".into(),
        id: "late".into(),
        props: json!({"template": "{% set x = 1 %}", "data": {}}),
        children: Vec::new(),
        channels: None,
    });
    let request = Request::new();
    let req = request.req("en", Channel::Web);
    let rendered = renderer().render(&page, site(), &req, &NoServices);
    let out = rendered.whole().unwrap();
    assert!(out.contains(r#"data-block-id="top""#) && out.contains(r#"data-block-id="late""#));
    assert_eq!(rendered.problems().len(), 2, "{:?}", rendered.problems());
}

// ---------------------------------------------------------------------------------------------
// The block library (these need the finished blocks)

/// Checks every property of a props schema (and of `list` items) for editor metadata.
fn check_properties(kind: &str, path: &str, schema: &Value, problems: &mut Vec<String>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, prop) in props {
        let at = format!("{kind}{path}/{name}");
        for field in ["title", "description"] {
            if prop
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{at}: no {field}"));
            }
        }
        match prop.pointer("/x-editor/widget").and_then(Value::as_str) {
            None => problems.push(format!("{at}: no x-editor.widget")),
            Some("list") => match prop.get("items") {
                Some(items) => {
                    check_properties(kind, &format!("{path}/{name}/items"), items, problems)
                }
                None => problems.push(format!("{at}: a list without items")),
            },
            Some(_) => {}
        }
    }
}

#[test]
fn the_library_is_complete_and_consistent() {
    let library = renderer().library();
    let names = library.names();
    assert!(names.len() >= 16, "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "duplicate names: {names:?}");
    assert!(
        renderer().broken_templates().is_empty(),
        "{:?}",
        renderer().broken_templates()
    );

    let mut problems = Vec::new();
    for kind in library.kinds() {
        let name = kind.name();
        let schema = kind.schema();
        assert_eq!(schema["type"], "object", "{name}");
        assert_eq!(schema["additionalProperties"], false, "{name}");
        check_properties(name, "", &schema, &mut problems);
        let validator = library
            .validator(name)
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let defaults = kind.defaults();
        for e in validator.iter_errors(&defaults) {
            problems.push(format!(
                "{name}: defaults invalid at {}: {e}",
                e.instance_path()
            ));
        }
        let (en, zh) = kind.label();
        assert!(!en.is_empty() && !zh.is_empty(), "{name}");
        assert!(
            ["layout", "catalog", "finance", "engagement", "content"].contains(&kind.category()),
            "{name}: {}",
            kind.category()
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let palette = library.describe();
    let entries = palette.as_array().unwrap();
    assert_eq!(entries.len(), names.len());
    for (entry, name) in entries.iter().zip(&names) {
        assert_eq!(entry["type"], *name);
        for key in [
            "label",
            "icon",
            "category",
            "container",
            "per_request",
            "schema",
            "defaults",
        ] {
            assert!(entry.get(key).is_some(), "{name}: {key}");
        }
        assert!(entry["label"]["en"].is_string() && entry["label"]["zh-CN"].is_string());
    }
}

/// A page with every block type, each with its defaults (containers hold a hero).
fn every_block_page(override_text: Option<&str>) -> Value {
    let library = renderer().library();
    let mut blocks = Vec::new();
    for (i, kind) in library.kinds().enumerate() {
        let mut props = kind.defaults();
        if let (Some(text), Some(validator)) = (override_text, library.validator(kind.name())) {
            let validator = validator.unwrap();
            // Every top-level text prop the schema lets take the text gets it.
            let keys: Vec<String> = props
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| v.is_string())
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            for key in keys {
                let mut tried = props.clone();
                tried[key.as_str()] = json!(text);
                if validator.is_valid(&tried) && kind.check(&tried, site()).is_empty() {
                    props = tried;
                }
            }
        }
        let mut block = json!({"type": kind.name(), "id": format!("b{i}"), "props": props});
        if kind.container() {
            block["children"] = json!([{"type": "hero", "id": format!("b{i}-child"), "props": {"headline": "Inside", "tone": "dark"}}]);
        }
        blocks.push(block);
    }
    let mut page = page_json(Value::Array(blocks));
    page["route"] = json!("/models/{model}");
    page
}

#[test]
fn every_block_renders_with_its_defaults_in_both_locales() {
    for hostile in [None, Some(XSS)] {
        let page = load(&every_block_page(hostile));
        let request = Request::new().model("s7");
        for locale in ["zh-CN", "en"] {
            let v = visit(&[("city", "Shanghai")]);
            let out = html(&page, &request, locale, &v);
            let main = main_of(&out);
            assert!(!main.contains("<script"), "{locale} {hostile:?}:\n{main}");
            assert!(
                !main.contains("block-error"),
                "{locale} {hostile:?}:\n{main}"
            );
            let req = request.req(locale, Channel::App);
            let twin = renderer().twin(&page, site(), &req, &v, &NoServices);
            for block in twin["blocks"].as_array().unwrap() {
                assert!(
                    !block["data"].is_null(),
                    "{locale}: {} failed in the twin",
                    block["type"]
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property: whatever text a tenant types, no script comes out.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_text_props_never_produce_a_script(
        a in "\\PC{1,60}",
        b in "(<script>|</script>|<scr|ipt>|<|>|\"|'|&|/|[a-zA-Z ]|javascript:|\\{\\{|%\\}){0,8}",
    ) {
        let value = page_json(json!([
            {"type": "hero", "id": "h", "props": {"headline": format!("x{a}"), "subline": b, "tone": "dark"}},
            {"type": "section", "id": "s", "props": {"heading": format!("y{b}"), "intro": a, "layout": "stack"}, "children": [
                {"type": "template", "id": "t", "props": {"template": "<p>{{ data.a }}|{{ data.b | upper }}|{{ data.l }}</p>", "data": {"a": a, "b": b, "l": [a, b]}}}
            ]}
        ]));
        let mut value = value;
        value["meta"]["en"]["title"] = json!(format!("t{b}"));
        let page = load(&value);
        let out = html(&page, &Request::new(), "en", &Visit::default());
        prop_assert!(!out.contains("<script"), "{}", out);
        prop_assert!(!out.contains("<scr"), "{}", out);
    }
}

#[test]
fn the_demo_home_page_loads_and_renders_in_both_locales() {
    let page = renderer()
        .load(
            "home.json",
            include_str!("fixtures/home.json"),
            Some(site()),
        )
        .unwrap_or_else(|r| panic!("{r}"));
    let mut count = 0;
    fn walk(blocks: &[forecourt_page_builder::BlockNode], count: &mut usize) {
        for b in blocks {
            *count += 1;
            walk(&b.children, count);
        }
    }
    walk(&page.doc.blocks, &mut count);
    assert_eq!(count, 10);
    let request = Request::new();
    let v = Visit {
        seen_models: vec!["x5".into()],
        ..visit(&[("city", "Shanghai")])
    };
    for locale in ["zh-CN", "en"] {
        let out = html(&page, &request, locale, &v);
        assert!(!main_of(&out).contains("block-error"), "{out}");
        assert!(out.contains("og:image"), "{out}");
    }
}

#[test]
fn shared_types_are_thread_safe() {
    fn cached<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    fn shared<T: Send + Sync + 'static>() {}
    cached::<Page>();
    cached::<forecourt_page_builder::RenderedPage>();
    shared::<Renderer>();
}
