//! Tenant templates in a sandbox: the `template` block lets a tenant write a small tera template
//! over its own `data`. Before it is ever rendered, the template's syntax tree is checked
//! against an allow-list, and each one is compiled into a `tera::Tera` of its own.
//!
//! **Allowed**: text, `{% raw %}`, comments, `{{ expressions }}`, `if`/`elif`/`else`, and one
//! level of `for` over a list or mapping in `data` (at most [`MAX_LOOP_ITEMS`] entries) or over
//! a short literal list; `break`/`continue`; the filters in [`FILTERS`] and the tests in
//! [`TESTS`]; literals, maths, comparisons, `in` and `~`.
//!
//! **Refused**: `safe` (escaping cannot be turned off), every function call (`range`, `now`,
//! `get_env` …), `set`/`set_global`, `include`, `extends`, `import`, `macro`, `block`,
//! `filter` sections, loops inside loops, loops over anything but `data`, the context dump
//! `__tera_context`, and templates over [`MAX_TEMPLATE_BYTES`].
//!
//! The template's literal markup is the tenant's own HTML: its output passes an allow-list
//! sanitiser (no `<script>`, `<style>`, event handlers, comments or `javascript:` URLs), as
//! rich text does.
//!
//! **At render time** escaping is on for every expression (whatever its type: lists of text
//! are escaped too, see [`harden`]), the context holds only `data`, `locale` and
//! `site: {name, currency}`, and output beyond [`MAX_OUTPUT_BYTES`] stops the render with an
//! error (the block then shows a placeholder).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tera::ast::{Expr, ExprVal, FunctionCall, Node};
use tera::Tera;

use crate::site::{pick, Site};

/// Longest tenant template, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 8 * 1024;
/// Largest `data`, serialized as JSON, in bytes.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// Largest output of one tenant template, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Most entries a loop may go over.
pub const MAX_LOOP_ITEMS: usize = 100;

/// The filters a tenant template may use.
pub const FILTERS: [&str; 13] = [
    "upper",
    "lower",
    "capitalize",
    "title",
    "trim",
    "truncate",
    "length",
    "first",
    "last",
    "join",
    "default",
    "wordcount",
    "escape",
];

/// The tests (`{% if x is defined %}`) a tenant template may use.
pub const TESTS: [&str; 11] = [
    "defined",
    "undefined",
    "odd",
    "even",
    "string",
    "number",
    "iterable",
    "object",
    "starting_with",
    "ending_with",
    "containing",
];

/// The name of the one template in a sandbox's `Tera` (`.html`: escaping on).
const NAME: &str = "tenant.html";

/// A tenant template that passed the rules, compiled in a `Tera` of its own.
#[derive(Clone)]
pub struct SandboxTemplate {
    source: String,
    tera: Tera,
    /// The `data.…` paths the template loops over, checked against the data before rendering.
    loops: Vec<String>,
}

impl fmt::Debug for SandboxTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxTemplate")
            .field("bytes", &self.source.len())
            .field("loops", &self.loops)
            .finish_non_exhaustive()
    }
}

impl SandboxTemplate {
    /// Checks `source` against the sandbox rules and compiles it. The error says what is not
    /// allowed (or tera's syntax error, with its line and column in the template).
    pub fn compile(source: &str) -> Result<SandboxTemplate, String> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(format!(
                "the template is {} bytes long; at most {MAX_TEMPLATE_BYTES} are allowed",
                source.len()
            ));
        }
        let template = tera::Template::new(NAME, None, source).map_err(|e| syntax_error(&e))?;
        let mut rules = Rules::default();
        rules.nodes(&template.ast, 0)?;
        let mut tera = Tera::default();
        tera.set_escape_fn(escape);
        tera.add_raw_template(NAME, source)
            .map_err(|e| error_chain(&e))?;
        harden(&mut tera);
        Ok(SandboxTemplate {
            source: source.to_string(),
            tera,
            loops: rules.loops,
        })
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Checks that `data` suits the template: at most [`MAX_DATA_BYTES`] as JSON, and every
    /// loop goes over a list or mapping of `data` with at most [`MAX_LOOP_ITEMS`] entries.
    pub fn check_data(&self, data: &Value) -> Result<(), String> {
        let size = serde_json::to_string(data).map_or(usize::MAX, |s| s.len());
        if size > MAX_DATA_BYTES {
            return Err(format!(
                "`data` is {size} bytes as JSON; at most {MAX_DATA_BYTES} are allowed"
            ));
        }
        for path in &self.loops {
            let mut at = data;
            for part in path.split('.').skip(1) {
                let next = match at {
                    Value::Object(o) => o.get(part),
                    Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                at = next.ok_or_else(|| {
                    format!("the template loops over `{path}`, which `data` does not have")
                })?;
            }
            let len = match at {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                _ => {
                    return Err(format!(
                        "the template loops over `{path}`, which is not a list or a mapping"
                    ))
                }
            };
            if len > MAX_LOOP_ITEMS {
                return Err(format!(
                    "the template loops over `{path}`, which has {len} entries; at most {MAX_LOOP_ITEMS} are allowed"
                ));
            }
        }
        Ok(())
    }

    /// Renders the template over `data` for `locale`, escaping on, output capped at
    /// [`MAX_OUTPUT_BYTES`]. The error says why (in words for the page's problems list).
    pub fn render(&self, data: &Value, locale: &str, site: &Site) -> Result<String, String> {
        self.check_data(data)?;
        let name = pick(&site.tenant.name, locale, &site.tenant.default_locale);
        let context = tera::Context::from_value(json!({
            "data": data,
            "locale": locale,
            "site": {"name": name, "currency": site.tenant.currency},
        }))
        .map_err(|e| error_chain(&e))?;
        let mut out = Capped {
            buf: Vec::with_capacity(self.source.len() * 2),
            over: false,
        };
        if let Err(e) = self.tera.render_to(NAME, &context, &mut out) {
            return Err(if out.over {
                format!("the template's output is over {MAX_OUTPUT_BYTES} bytes")
            } else {
                error_chain(&e)
            });
        }
        let html = String::from_utf8(out.buf)
            .map_err(|_| "the template's output is not UTF-8".to_string())?;
        Ok(clean(&html))
    }
}

/// The template's own markup reduced to an allow-list: common content tags with `class`, no
/// scripts, styles, event handlers, comments or `javascript:` URLs (the values it prints are
/// escaped already; this covers the tenant's literal HTML).
fn clean(html: &str) -> String {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER
        .get_or_init(|| {
            let mut builder = ammonia::Builder::default();
            builder
                .add_tags([
                    "section",
                    "article",
                    "aside",
                    "figure",
                    "figcaption",
                    "small",
                    "time",
                ])
                .add_generic_attributes(["class"])
                .link_rel(Some("noopener noreferrer nofollow"))
                .url_schemes(["https", "http", "mailto", "tel"].into_iter().collect());
            builder
        })
        .clean(html)
        .to_string()
}

/// HTML-escapes `text` for element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'`. (tera's own escaper also turns `/` into `&#x2F;`, which HTML does not need and
/// which makes every URL in the page unreadable.)
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A writer that refuses to grow past [`MAX_OUTPUT_BYTES`].
struct Capped {
    buf: Vec<u8>,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > MAX_OUTPUT_BYTES {
            self.over = true;
            return Err(io::Error::other("output limit reached"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A tera error with its causes, `: `-separated (tera puts the useful part in the causes).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(text)) {
            parts.push(text.to_string());
        }
        next = err.source();
    }
    parts.join(": ")
}

/// tera's (pest's) syntax error in one line: `syntax error at line L, column C: expected …`.
fn syntax_error(e: &tera::Error) -> String {
    let text = error_chain(e);
    let place = text.split_once("--> ").and_then(|(_, rest)| {
        let (line, rest) = rest.split_once(':')?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.trim().to_string(), column))
    });
    let expected = text
        .split_once("= ")
        .map(|(_, rest)| rest.split_whitespace().collect::<Vec<_>>().join(" "));
    match (place, expected) {
        (Some((line, column)), Some(expected)) => {
            format!("syntax error at line {line}, column {column}: {expected}")
        }
        _ => format!(
            "syntax error: {}",
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    }
}

/// The walk over a template's syntax tree that enforces the rules.
#[derive(Default)]
struct Rules {
    loops: Vec<String>,
}

impl Rules {
    fn nodes(&mut self, nodes: &[Node], loop_depth: usize) -> Result<(), String> {
        for node in nodes {
            self.node(node, loop_depth)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, loop_depth: usize) -> Result<(), String> {
        let refused = |what: &str| Err(format!("{what} is not allowed in a tenant template"));
        match node {
            Node::Text(_) | Node::Raw(..) | Node::Comment(..) => Ok(()),
            Node::Break(_) | Node::Continue(_) => Ok(()),
            Node::VariableBlock(_, expr) => expr_ok(expr),
            Node::If(cond, _) => {
                for (_, expr, body) in &cond.conditions {
                    expr_ok(expr)?;
                    self.nodes(body, loop_depth)?;
                }
                if let Some((_, body)) = &cond.otherwise {
                    self.nodes(body, loop_depth)?;
                }
                Ok(())
            }
            Node::Forloop(_, forloop, _) => {
                if loop_depth > 0 {
                    return Err(
                        "a loop inside a loop is not allowed in a tenant template (one level of `for` only)"
                            .into(),
                    );
                }
                let container = &forloop.container;
                if container.negated || !container.filters.is_empty() {
                    return Err(format!(
                        "`{{% for {} in … %}}` must go over a list in `data` as it is, without filters",
                        forloop.value
                    ));
                }
                match &container.val {
                    ExprVal::Ident(path) if data_path(path) => self.loops.push(path.clone()),
                    ExprVal::Array(items) if items.len() <= MAX_LOOP_ITEMS => {
                        for item in items {
                            expr_ok(item)?;
                        }
                    }
                    ExprVal::FunctionCall(call) => {
                        return Err(format!(
                            "`{{% for {} in {}(…) %}}`: loops over function calls are not allowed; loop over a list in `data` (e.g. `{{% for item in data.items %}}`)",
                            forloop.value, call.name
                        ))
                    }
                    _ => {
                        return Err(format!(
                            "`{{% for {} in … %}}` must go over a list in `data` (e.g. `{{% for item in data.items %}}`) or a literal list of at most {MAX_LOOP_ITEMS} values",
                            forloop.value
                        ))
                    }
                }
                self.nodes(&forloop.body, loop_depth + 1)?;
                if let Some(body) = &forloop.empty_body {
                    self.nodes(body, loop_depth + 1)?;
                }
                Ok(())
            }
            Node::Set(_, set) => refused(if set.global {
                "`{% set_global %}`"
            } else {
                "`{% set %}`"
            }),
            Node::Include(..) => refused("`{% include %}`"),
            Node::Extends(..) => refused("`{% extends %}`"),
            Node::ImportMacro(..) => refused("`{% import %}`"),
            Node::MacroDefinition(..) => refused("`{% macro %}`"),
            Node::Block(..) => refused("`{% block %}`"),
            Node::Super => refused("`{{ super() }}`"),
            Node::FilterSection(..) => refused("a `{% filter %}` section"),
        }
    }
}

/// `data` or `data.a.b.0`: a plain path into the template's data.
fn data_path(path: &str) -> bool {
    let mut parts = path.split('.');
    parts.next() == Some("data")
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

fn filter_ok(call: &FunctionCall) -> Result<(), String> {
    if call.name == "safe" {
        return Err(
            "the `safe` filter is not allowed in a tenant template: everything it prints is escaped"
                .into(),
        );
    }
    if !FILTERS.contains(&call.name.as_str()) {
        let hint = forecourt_tenant_config::document::suggestion(&call.name, FILTERS);
        return Err(format!(
            "the filter `{}` is not allowed in a tenant template; allowed: {}.{hint}",
            call.name,
            FILTERS.join(", ")
        ));
    }
    call.args.values().try_for_each(expr_ok)
}

fn expr_ok(expr: &Expr) -> Result<(), String> {
    expr.filters.iter().try_for_each(filter_ok)?;
    val_ok(&expr.val)
}

fn val_ok(val: &ExprVal) -> Result<(), String> {
    match val {
        ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => Ok(()),
        ExprVal::Ident(name) => {
            if name.starts_with("__tera") {
                Err(format!("`{name}` is not allowed in a tenant template"))
            } else {
                Ok(())
            }
        }
        ExprVal::Math(m) => {
            expr_ok(&m.lhs)?;
            expr_ok(&m.rhs)
        }
        ExprVal::Logic(l) => {
            expr_ok(&l.lhs)?;
            expr_ok(&l.rhs)
        }
        ExprVal::In(i) => {
            expr_ok(&i.lhs)?;
            expr_ok(&i.rhs)
        }
        ExprVal::Test(test) => {
            if !TESTS.contains(&test.name.as_str()) {
                return Err(format!(
                    "the test `is {}` is not allowed in a tenant template; allowed: {}",
                    test.name,
                    TESTS.join(", ")
                ));
            }
            val_ok(&ExprVal::Ident(test.ident.clone()))?;
            test.args.iter().try_for_each(expr_ok)
        }
        ExprVal::StringConcat(concat) => concat.values.iter().try_for_each(val_ok),
        ExprVal::Array(items) => {
            if items.len() > MAX_LOOP_ITEMS {
                return Err(format!(
                    "a literal list of {} values; at most {MAX_LOOP_ITEMS} are allowed",
                    items.len()
                ));
            }
            items.iter().try_for_each(expr_ok)
        }
        ExprVal::FunctionCall(call) => Err(format!(
            "calling functions (`{}()`) is not allowed in a tenant template",
            call.name
        )),
        ExprVal::MacroCall(call) => Err(format!(
            "calling macros (`{}::{}()`) is not allowed in a tenant template",
            call.namespace, call.name
        )),
    }
}

/// Makes every `{{ … }}` of every template in `tera` print escaped, whatever its value's type.
///
/// tera escapes an expression's result only when it is text that came from a variable, a
/// literal or a filter: a list (`{{ items }}` prints `[a, b]`), a `~` concatenation and the
/// context dump print their text as it is. Appending the `as_str` filter to every expression
/// not marked `| safe` turns each result into text that is then escaped. Macro calls without
/// filters (template output already) are left as they are.
pub(crate) fn harden(tera: &mut Tera) {
    for template in tera.templates.values_mut() {
        harden_nodes(&mut template.ast);
        for m in template.macros.values_mut() {
            harden_nodes(&mut m.body);
        }
        for b in template.blocks.values_mut() {
            harden_nodes(&mut b.body);
        }
        for chain in template.blocks_definitions.values_mut() {
            for (_, b) in chain.iter_mut() {
                harden_nodes(&mut b.body);
            }
        }
    }
}

fn harden_nodes(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, expr) => harden_expr(expr),
            Node::MacroDefinition(_, m, _) => harden_nodes(&mut m.body),
            Node::FilterSection(_, f, _) => harden_nodes(&mut f.body),
            Node::Block(_, b, _) => harden_nodes(&mut b.body),
            Node::Forloop(_, f, _) => {
                harden_nodes(&mut f.body);
                if let Some(body) = &mut f.empty_body {
                    harden_nodes(body);
                }
            }
            Node::If(cond, _) => {
                for (_, _, body) in &mut cond.conditions {
                    harden_nodes(body);
                }
                if let Some((_, body)) = &mut cond.otherwise {
                    harden_nodes(body);
                }
            }
            _ => {}
        }
    }
}

fn harden_expr(expr: &mut Expr) {
    if expr.is_marked_safe() || expr.negated {
        return;
    }
    if expr.filters.is_empty() && matches!(expr.val, ExprVal::MacroCall(_)) {
        return;
    }
    expr.filters.push(FunctionCall {
        name: "as_str".into(),
        args: HashMap::new(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        let mut site = Site::default();
        site.tenant
            .name
            .insert("en".into(), "Aurora <Motors>".into());
        site.tenant.currency = "CNY".into();
        site.tenant.default_locale = "en".into();
        site
    }

    fn render(source: &str, data: Value) -> Result<String, String> {
        SandboxTemplate::compile(source)?.render(&data, "en", &site())
    }

    #[test]
    fn renders_escaped() {
        let out = render(
            "<p>{{ data.title | upper }} · {{ site.name }} · {{ locale }}</p>{{ \"<b>\" }}",
            json!({"title": "<script>alert(1)</script>"}),
        )
        .unwrap();
        assert!(!out.contains("<script"), "{out}");
        assert!(out.contains("&lt;SCRIPT&gt;"), "{out}");
        assert!(out.contains("Aurora &lt;Motors&gt;"), "{out}");
        assert!(out.contains("&lt;b&gt;"), "{out}");
        assert!(out.starts_with("<p>"), "{out}");
    }

    #[test]
    fn the_tenants_own_markup_is_sanitised() {
        let out = render(
            "<div class=\"note\" onclick=\"x()\"><script>alert(1)</script><a href=\"javascript:alert(1)\">a</a><a href=\"https://x.example\">b</a><!--fc-slot:0--><style>p{}</style><p>{{ data.t }}</p></div>",
            json!({"t": "ok"}),
        )
        .unwrap();
        for gone in ["onclick", "<script", "javascript:", "<!--", "<style"] {
            assert!(!out.contains(gone), "{gone}: {out}");
        }
        assert!(out.contains("<div class=\"note\">"), "{out}");
        assert!(
            out.contains(
                "<a href=\"https://x.example\" rel=\"noopener noreferrer nofollow\">b</a>"
            ),
            "{out}"
        );
        assert!(out.contains("<p>ok</p>"), "{out}");
    }

    #[test]
    fn lists_concatenations_and_arrays_are_escaped_too() {
        let data = json!({"list": ["<script>x</script>"], "t": "<i>"});
        for source in [
            "{{ data.list }}",
            "{{ data.t ~ \"\" }}",
            "{{ [\"<script>\"] }}",
            "{{ data.list | first }}",
            "{{ data.missing | default(value=data.t) }}",
        ] {
            let out = render(source, data.clone()).unwrap();
            assert!(!out.contains('<'), "{source}: {out}");
        }
    }

    #[test]
    fn loops_and_conditions_work() {
        let out = render(
            "{% for m in data.models %}{% if loop.first %}[{% endif %}{{ m.name | title }}{% if not loop.last %}, {% endif %}{% endfor %}]{% for k, v in data.kv %}{{ k }}={{ v }}{% endfor %}{% if data.n > 2 %} big{% elif data.n %} small{% else %} none{% endif %}",
            json!({"models": [{"name": "s7 sedan"}, {"name": "x5"}], "kv": {"a": 1}, "n": 1}),
        )
        .unwrap();
        assert_eq!(out, "[S7 Sedan, X5]a=1 small");
    }

    #[test]
    fn refuses_what_the_rules_forbid() {
        let cases = [
            ("{{ data.x | safe }}", "`safe`"),
            ("{% for i in range(end=100000000) %}x{% endfor %}", "function calls"),
            ("{% for a in data.a %}{% for b in data.b %}{% endfor %}{% endfor %}", "loop inside a loop"),
            ("{% for a in data.a %}{% if a %}{% for b in data.b %}{% endfor %}{% endif %}{% endfor %}", "loop inside a loop"),
            ("{% set x = 1 %}", "`{% set %}`"),
            ("{% set_global x = 1 %}", "`{% set_global %}`"),
            ("{% include \"x.html\" %}", "include"),
            ("{% extends \"x.html\" %}", "extends"),
            ("{% import \"m.html\" as m %}", "import"),
            ("{% macro m() %}x{% endmacro %}", "macro"),
            ("{% block b %}x{% endblock %}", "block"),
            ("{% filter upper %}x{% endfilter %}", "filter"),
            ("{{ get_env(name=\"HOME\") }}", "functions"),
            ("{{ now() }}", "functions"),
            ("{{ data.x | json_encode }}", "`json_encode` is not allowed"),
            ("{{ data.x | uper }}", "Did you mean `upper`?"),
            ("{{ __tera_context }}", "__tera_context"),
            ("{% if data.x is matching(\"a+\") %}{% endif %}", "`is matching`"),
            ("{% for c in site.name %}{% endfor %}", "must go over a list in `data`"),
            ("{% for c in data.items | first %}{% endfor %}", "without filters"),
            ("{{ data.x", "syntax error at line 1, column 10: expected `or`"),
        ];
        for (source, want) in cases {
            let err = SandboxTemplate::compile(source).expect_err(source);
            assert!(err.contains(want), "{source}: {err}");
        }
        let long = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert!(SandboxTemplate::compile(&long)
            .unwrap_err()
            .contains("at most 8192"));
    }

    #[test]
    fn loops_are_bounded_by_the_data() {
        let t = SandboxTemplate::compile("{% for i in data.items %}{{ i }}{% endfor %}").unwrap();
        assert!(t.check_data(&json!({"items": [1, 2]})).is_ok());
        let many: Vec<u32> = (0..=MAX_LOOP_ITEMS as u32).collect();
        assert!(t
            .check_data(&json!({ "items": many }))
            .unwrap_err()
            .contains("at most 100"));
        assert!(t
            .check_data(&json!({"items": "a long string"}))
            .unwrap_err()
            .contains("not a list"));
        assert!(t
            .check_data(&json!({}))
            .unwrap_err()
            .contains("does not have"));
        let big = "x".repeat(MAX_DATA_BYTES);
        assert!(t
            .check_data(&json!({"items": [], "big": big}))
            .unwrap_err()
            .contains("at most 65536"));
    }

    #[test]
    fn output_is_capped() {
        let big = "y".repeat(60 * 1024);
        let items: Vec<u32> = (0..10).collect();
        let err = render(
            "{% for i in data.items %}{{ data.big }}{% endfor %}",
            json!({ "items": items, "big": big }),
        )
        .unwrap_err();
        assert!(err.contains("over 262144"), "{err}");
    }

    #[test]
    fn render_errors_are_reported_not_panicked() {
        let err = render("{{ data.nope.deeper }}", json!({})).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }
}
