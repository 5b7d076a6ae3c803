//! Helpers shared by the block library: labels in the request's locale, defensive props access,
//! props-schema building, model and store look-ups with did-you-mean messages, safe links and
//! the model card several blocks show.
//!
//! Mounted once, from `section.rs` (`super::section::common`), because `mod.rs` belongs to the
//! framework; moving it to `mod.rs` as `pub(crate) mod common;` only changes the `use` paths.

use serde_json::{json, Map, Value};

use super::BlockCtx;
use crate::format;
use crate::site::{pick, Site, SiteModel, SiteSpec, SiteStore};

/// The `model` prop value meaning "the route's `{model}` parameter".
pub(crate) const ROUTE_MODEL: &str = "{model}";

/// Codes of catalog entities (models, stores, specs).
pub(crate) const CODE_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

/// A link a tenant writes: a storefront path (`/models`, prefixed with the base path when
/// rendered), an absolute http(s) URL, `mailto:`, `tel:` or an in-page `#anchor`.
pub(crate) const LINK_PATTERN: &str =
    "^(/([^/].*)?|https?://[^\\s]+|mailto:[^\\s]+|tel:[+0-9 ]+|#[A-Za-z0-9_-]*)$";

/// An image source: an absolute http(s) URL or a same-host path.
pub(crate) const IMAGE_PATTERN: &str = "^(https?://[^\\s]+|/[^/\\s][^\\s]*)$";

/// Body types and energy types as the catalog spells them.
pub(crate) const BODY_TYPES: [&str; 7] = [
    "sedan",
    "suv",
    "mpv",
    "hatchback",
    "wagon",
    "coupe",
    "pickup",
];
pub(crate) const ENERGIES: [&str; 4] = ["bev", "phev", "erev", "ice"];

// ---------------------------------------------------------------------------------------------
// Locale

/// The locale is Chinese (`zh-CN`, `zh-HK` …).
pub(crate) fn is_zh(locale: &str) -> bool {
    locale.starts_with("zh")
}

/// `en` or `zh` by `locale`.
pub(crate) fn tr(locale: &str, en: &'static str, zh: &'static str) -> &'static str {
    if is_zh(locale) {
        zh
    } else {
        en
    }
}

/// Money in the tenant's currency for the request's locale.
pub(crate) fn money(ctx: &BlockCtx<'_>, minor: i64) -> String {
    format::money(minor, &ctx.site.tenant.currency, ctx.req.locale)
}

/// `text` in the request's locale (tenant default as fallback).
pub(crate) fn loc<'a>(ctx: &BlockCtx<'_>, text: &'a crate::site::Localized) -> &'a str {
    pick(text, ctx.req.locale, &ctx.site.tenant.default_locale)
}

// ---------------------------------------------------------------------------------------------
// Props (validated already, read defensively anyway)

/// A string prop, trimmed; `""` when absent or not a string.
pub(crate) fn text<'a>(props: &'a Value, key: &str) -> &'a str {
    props
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

/// A non-empty string prop, trimmed.
pub(crate) fn opt_text<'a>(props: &'a Value, key: &str) -> Option<&'a str> {
    Some(text(props, key)).filter(|s| !s.is_empty())
}

/// An integer prop clamped to `min..=max`, `default` when absent or not an integer.
pub(crate) fn int(props: &Value, key: &str, default: i64, min: i64, max: i64) -> i64 {
    props
        .get(key)
        .and_then(Value::as_i64)
        .unwrap_or(default)
        .clamp(min, max)
}

/// A boolean prop.
pub(crate) fn flag(props: &Value, key: &str, default: bool) -> bool {
    props.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// The strings of an array prop (non-strings skipped, trimmed, empty ones skipped).
pub(crate) fn str_list<'a>(props: &'a Value, key: &str) -> Vec<&'a str> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The integers of an array prop in `min..=max`, deduplicated, in order.
pub(crate) fn int_list(props: &Value, key: &str, min: i64, max: i64) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for n in props
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .filter(|n| (min..=max).contains(n))
    {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The objects of an array prop (non-objects skipped).
pub(crate) fn objects<'a>(props: &'a Value, key: &str) -> Vec<&'a Map<String, Value>> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// A trimmed string field of an object.
pub(crate) fn field_text<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Schema building

/// `x-editor` metadata.
pub(crate) fn editor(widget: &str, en: &str, zh: &str) -> Value {
    json!({ "widget": widget, "label": { "en": en, "zh-CN": zh } })
}

/// `base` with `title` (the English label), `description` and `x-editor` added.
pub(crate) fn prop(mut base: Value, widget: &str, label: (&str, &str), description: &str) -> Value {
    if let Some(o) = base.as_object_mut() {
        o.insert("title".into(), Value::from(label.0));
        o.insert("description".into(), Value::from(description));
        o.insert("x-editor".into(), editor(widget, label.0, label.1));
    }
    base
}

/// A props object schema: draft 2020-12, closed, with `required`.
pub(crate) fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// The schema of an item of a `list` prop (closed, required fields).
pub(crate) fn item_object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// A plain one-line text prop of at most `max` characters.
pub(crate) fn text_prop(max: u32, label: (&str, &str), description: &str) -> Value {
    prop(
        json!({ "type": "string", "maxLength": max }),
        "text",
        label,
        description,
    )
}

/// A multi-line plain text prop of at most `max` characters.
pub(crate) fn textarea_prop(max: u32, label: (&str, &str), description: &str) -> Value {
    prop(
        json!({ "type": "string", "maxLength": max }),
        "textarea",
        label,
        description,
    )
}

/// A tenant link prop (may be empty).
pub(crate) fn link_prop(label: (&str, &str), description: &str) -> Value {
    prop(
        json!({ "type": "string", "maxLength": 500, "anyOf": [{ "const": "" }, { "pattern": LINK_PATTERN }] }),
        "url",
        label,
        description,
    )
}

/// An image URL prop (may be empty).
pub(crate) fn image_prop(label: (&str, &str), description: &str) -> Value {
    prop(
        json!({ "type": "string", "maxLength": 500, "anyOf": [{ "const": "" }, { "pattern": IMAGE_PATTERN }] }),
        "image",
        label,
        description,
    )
}

/// A model reference: a catalog code or [`ROUTE_MODEL`]; with `optional`, also `""` (none).
pub(crate) fn model_prop(optional: bool, label: (&str, &str), description: &str) -> Value {
    let mut choices = vec![
        json!({ "const": ROUTE_MODEL }),
        json!({ "pattern": CODE_PATTERN }),
    ];
    if optional {
        choices.insert(0, json!({ "const": "" }));
    }
    prop(
        json!({ "type": "string", "maxLength": 64, "anyOf": choices }),
        "model",
        label,
        description,
    )
}

/// A list of model codes.
pub(crate) fn models_prop(max: u32, label: (&str, &str), description: &str) -> Value {
    prop(
        json!({
            "type": "array",
            "maxItems": max,
            "uniqueItems": true,
            "items": { "type": "string", "pattern": CODE_PATTERN, "maxLength": 64 },
        }),
        "models",
        label,
        description,
    )
}

/// A list of store codes.
pub(crate) fn stores_prop(max: u32, label: (&str, &str), description: &str) -> Value {
    prop(
        json!({
            "type": "array",
            "maxItems": max,
            "uniqueItems": true,
            "items": { "type": "string", "pattern": CODE_PATTERN, "maxLength": 64 },
        }),
        "store",
        label,
        description,
    )
}

/// An optional select among `values` (`""` = any).
pub(crate) fn filter_prop(values: &[&str], label: (&str, &str), description: &str) -> Value {
    let mut all: Vec<&str> = vec![""];
    all.extend_from_slice(values);
    prop(
        json!({ "type": "string", "enum": all }),
        "select",
        label,
        description,
    )
}

// ---------------------------------------------------------------------------------------------
// Site look-ups and meaning checks

/// The catalog model `code`.
pub(crate) fn model<'a>(site: &'a Site, code: &str) -> Option<&'a SiteModel> {
    site.models.iter().find(|m| m.code == code)
}

/// The store `code`.
pub(crate) fn store<'a>(site: &'a Site, code: &str) -> Option<&'a SiteStore> {
    site.stores.iter().find(|s| s.code == code)
}

/// The code a model prop names for this request: the route's `{model}` for [`ROUTE_MODEL`].
pub(crate) fn model_code<'a>(props: &'a Value, key: &str, ctx: &BlockCtx<'a>) -> Option<&'a str> {
    match opt_text(props, key)? {
        ROUTE_MODEL => ctx.req.params.get("model").map(String::as_str),
        code => Some(code),
    }
}

/// The model a model prop names for this request.
pub(crate) fn resolve_model<'a>(
    props: &Value,
    key: &str,
    ctx: &BlockCtx<'a>,
) -> Option<&'a SiteModel> {
    let code = match opt_text(props, key)? {
        ROUTE_MODEL => ctx.req.params.get("model")?.as_str(),
        code => code,
    };
    model(ctx.site, code)
}

/// Edit distance (for did-you-mean).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// "unknown {what} `x`: did you mean `y`? Known: a, b, c".
pub(crate) fn unknown(what: &str, wanted: &str, valid: &[&str]) -> String {
    if valid.is_empty() {
        return format!("unknown {what} `{wanted}`: this storefront has none");
    }
    let mut close: Vec<(usize, &str)> = valid
        .iter()
        .map(|v| (distance(wanted, v), *v))
        .filter(|(d, v)| {
            *d <= (wanted.chars().count() / 3).max(2) || v.contains(wanted) || wanted.contains(v)
        })
        .collect();
    close.sort();
    let known = if valid.len() > 20 {
        format!("{}, …", valid[..20].join(", "))
    } else {
        valid.join(", ")
    };
    match close.first() {
        Some((_, best)) => {
            format!("unknown {what} `{wanted}`: did you mean `{best}`? Known: {known}")
        }
        None => format!("unknown {what} `{wanted}`; known: {known}"),
    }
}

/// Checks a model prop value (`""` and [`ROUTE_MODEL`] pass).
pub(crate) fn check_model(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    value: Option<&Value>,
    site: &Site,
) {
    let Some(code) = value.and_then(Value::as_str) else {
        return;
    };
    if code.is_empty() || code == ROUTE_MODEL || model(site, code).is_some() {
        return;
    }
    let valid: Vec<&str> = site.models.iter().map(|m| m.code.as_str()).collect();
    out.push((pointer.to_string(), unknown("model", code, &valid)));
}

/// Checks every code of a model-list prop.
pub(crate) fn check_models(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    value: Option<&Value>,
    site: &Site,
) {
    for (i, item) in value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_model(out, &format!("{pointer}/{i}"), Some(item), site);
    }
}

/// Checks every code of a store-list prop.
pub(crate) fn check_stores(
    out: &mut Vec<(String, String)>,
    pointer: &str,
    value: Option<&Value>,
    site: &Site,
) {
    let valid: Vec<&str> = site.stores.iter().map(|s| s.code.as_str()).collect();
    for (i, item) in value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(code) = item.as_str() {
            if store(site, code).is_none() {
                out.push((format!("{pointer}/{i}"), unknown("store", code, &valid)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Links

/// A tenant-written link made absolute for the storefront: storefront paths get the base path;
/// http(s), `mailto:`, `tel:` and `#anchors` pass; anything else (`javascript:` …) is dropped.
pub(crate) fn href(base: &str, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() && c != ' ') {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    if raw.starts_with('/') && !raw.starts_with("//") {
        Some(format!("{base}{raw}"))
    } else if lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || raw.starts_with('#')
    {
        Some(raw.to_string())
    } else if lower.starts_with("tel:") {
        tel_href(&raw[4..])
    } else {
        None
    }
}

/// An image source: http(s) URL or same-host path; anything else dropped.
pub(crate) fn image_src(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (raw.starts_with('/') && !raw.starts_with("//"));
    (ok && !raw.chars().any(char::is_whitespace)).then(|| raw.to_string())
}

/// A `tel:` link for a phone number as written (`021-5888 8888` → `tel:02158888888`).
pub(crate) fn tel_href(phone: &str) -> Option<String> {
    let digits: String = phone
        .chars()
        .enumerate()
        .filter(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '+'))
        .map(|(_, c)| c)
        .collect();
    (digits.chars().filter(char::is_ascii_digit).count() >= 3).then(|| format!("tel:{digits}"))
}

/// Percent-encodes a query or path component (everything but unreserved characters).
pub(crate) fn component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Catalog display

/// A body type's name.
pub(crate) fn body_type_label(code: &str, locale: &str) -> String {
    let (en, zh) = match code {
        "sedan" => ("Sedan", "轿车"),
        "suv" => ("SUV", "SUV"),
        "mpv" => ("MPV", "MPV"),
        "hatchback" => ("Hatchback", "两厢车"),
        "wagon" => ("Estate", "旅行车"),
        "coupe" => ("Coupé", "轿跑"),
        "pickup" => ("Pickup", "皮卡"),
        other => (other, other),
    };
    if is_zh(locale) { zh } else { en }.to_string()
}

/// An energy type's name.
pub(crate) fn energy_label(code: &str, locale: &str) -> String {
    let (en, zh) = match code {
        "bev" => ("Electric", "纯电动"),
        "phev" => ("Plug-in hybrid", "插电式混动"),
        "erev" => ("Extended-range electric", "增程式电动"),
        "ice" => ("Petrol", "燃油"),
        other => (other, other),
    };
    if is_zh(locale) { zh } else { en }.to_string()
}

/// A spec value ready to show: booleans as Yes/No (有/无), numbers with their unit.
pub(crate) fn spec_value(spec: &SiteSpec, locale: &str) -> String {
    match spec.value.as_str() {
        "true" => tr(locale, "Yes", "有").to_string(),
        "false" => tr(locale, "No", "无").to_string(),
        v => match spec
            .unit
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(unit) => format!("{v} {unit}"),
            None => v.to_string(),
        },
    }
}

/// One spec as a view model.
pub(crate) fn spec_view(spec: &SiteSpec, ctx: &BlockCtx<'_>) -> Value {
    json!({
        "code": spec.code,
        "label": loc(ctx, &spec.label),
        "value": spec.value,
        "unit": spec.unit.clone().unwrap_or_default(),
        "display": spec_value(spec, ctx.req.locale),
    })
}

/// A model's first usable image: `{url, alt}` (alt falls back to the model's name).
pub(crate) fn model_image(m: &SiteModel, ctx: &BlockCtx<'_>) -> Value {
    let name = loc(ctx, &m.name);
    m.images
        .iter()
        .find_map(|i| {
            let url = image_src(&i.url)?;
            let alt = loc(ctx, &i.alt).trim();
            Some(json!({ "url": url, "alt": if alt.is_empty() { name } else { alt } }))
        })
        .unwrap_or(Value::Null)
}

/// A model card: code, name, link to its page, image, from-price (raw and formatted), types.
pub(crate) fn model_card(m: &SiteModel, ctx: &BlockCtx<'_>) -> Value {
    let locale = ctx.req.locale;
    json!({
        "code": m.code,
        "name": loc(ctx, &m.name),
        "href": format!("{}/models/{}", ctx.req.base_path, component(&m.code)),
        "image": model_image(m, ctx),
        "from_price": m.from_price,
        "from_price_display": money(ctx, m.from_price),
        "body_type": m.body_type,
        "body_type_label": body_type_label(&m.body_type, locale),
        "energy": m.energy,
        "energy_label": energy_label(&m.energy, locale),
        "test_drive": m.test_drive,
    })
}

/// The labels a model card shows.
pub(crate) fn card_labels(locale: &str) -> Value {
    json!({
        "from": tr(locale, "From", "起售价"),
        "details": tr(locale, "View details", "查看详情"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_prefixed_or_dropped() {
        assert_eq!(
            href("/t/aurora", "/models").as_deref(),
            Some("/t/aurora/models")
        );
        assert_eq!(href("", "/models").as_deref(), Some("/models"));
        assert_eq!(
            href("/t/a", "https://x.cn/a").as_deref(),
            Some("https://x.cn/a")
        );
        assert_eq!(
            href("/t/a", "tel:021-5888 8888").as_deref(),
            Some("tel:02158888888")
        );
        assert_eq!(href("/t/a", "javascript:alert(1)"), None);
        assert_eq!(href("/t/a", "//evil.example/x"), None);
        assert_eq!(image_src("data:image/png;base64,xx"), None);
        assert_eq!(image_src("/media/s7.jpg").as_deref(), Some("/media/s7.jpg"));
        assert_eq!(component("a b&c"), "a%20b%26c");
    }

    #[test]
    fn unknown_codes_suggest_the_closest() {
        let m = unknown("model", "s8", &["s7", "x9", "m3"]);
        assert!(m.contains("did you mean `s7`"), "{m}");
        assert!(m.contains("s7, x9, m3"), "{m}");
        let m = unknown("store", "zzzzzzzz", &["sh-pudong"]);
        assert!(m.contains("known: sh-pudong"), "{m}");
        assert!(unknown("model", "a", &[]).contains("none"));
    }

    #[test]
    fn lists_are_read_defensively() {
        let p = json!({"a": [1, "x", 3, 3, 99], "s": ["a", 2, " ", "b"], "n": "x"});
        assert_eq!(int_list(&p, "a", 0, 10), vec![1, 3]);
        assert_eq!(str_list(&p, "s"), vec!["a", "b"]);
        assert_eq!(int(&p, "n", 5, 0, 10), 5);
        assert!(objects(&p, "missing").is_empty());
    }
}
