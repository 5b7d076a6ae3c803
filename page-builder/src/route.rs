//! Page routes: literal segments and typed parameters.
//!
//! A route is `/` or `/segment/segment…` with at most [`MAX_SEGMENTS`] segments, each either a
//! literal (`[a-z0-9][a-z0-9-]*`) or one of the parameters in [`PARAMETERS`] written `{model}`,
//! `{configuration}` or `{quote}` (each at most once). A parameter matches a path segment of
//! [`PARAM_VALUE_MAX`] at most characters from `A–Z a–z 0–9 _ -`.

use std::collections::BTreeMap;

/// A parsed route such as `/models/{model}`. Parameters are `model` (a catalog model code),
/// `configuration` (a saved configuration's code) and `quote` (a quote's code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(&'static str),
}

/// The parameter names a route may use.
pub const PARAMETERS: [&str; 3] = ["model", "configuration", "quote"];

/// Most segments a route may have.
pub const MAX_SEGMENTS: usize = 6;

/// Longest route text, in bytes.
pub const MAX_ROUTE_LEN: usize = 200;

/// First segments the storefront serves itself: no page may take them.
pub const RESERVED: [&str; 3] = ["api", "forms", "orders"];

/// Longest parameter value a path may carry.
pub const PARAM_VALUE_MAX: usize = 64;

fn literal_ok(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A parameter value as a path may carry it: `^[A-Za-z0-9_-]{1,64}$`.
pub fn param_value_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= PARAM_VALUE_MAX
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Route {
    /// Parses `text`; the error says what is wrong (for a diagnostic at `/route`).
    pub fn parse(text: &str) -> Result<Route, String> {
        if text.len() > MAX_ROUTE_LEN {
            return Err(format!(
                "the route is {} characters long; at most {MAX_ROUTE_LEN} are allowed",
                text.len()
            ));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` does not start with `/`; write routes like `/`, `/models` or `/models/{{model}}`"
            ));
        };
        if rest.is_empty() {
            return Ok(Route {
                text: "/".into(),
                segments: Vec::new(),
            });
        }
        if rest.ends_with('/') {
            return Err(format!(
                "`{text}` ends with `/`; only the root route `/` may (write `{}`)",
                text.trim_end_matches('/')
            ));
        }
        let parts: Vec<&str> = rest.split('/').collect();
        if let Some(first) = parts.first().filter(|p| RESERVED.contains(p)) {
            return Err(format!(
                "`{text}` starts with `/{first}`, which the storefront keeps for itself (`/api` for the API, `/forms` for form posts, `/orders` for buyers' order pages); choose another first segment"
            ));
        }
        if parts.len() > MAX_SEGMENTS {
            return Err(format!(
                "`{text}` has {} segments; at most {MAX_SEGMENTS} are allowed",
                parts.len()
            ));
        }
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let n = i + 1;
            if part.is_empty() {
                return Err(format!("`{text}` has an empty segment (`//`)"));
            }
            if let Some(inner) = part.strip_prefix('{') {
                let Some(name) = inner.strip_suffix('}') else {
                    return Err(format!(
                        "segment {n} `{part}` opens `{{` without closing it; parameters are written `{{model}}`, `{{configuration}}` or `{{quote}}`"
                    ));
                };
                let Some(param) = PARAMETERS.iter().copied().find(|p| *p == name) else {
                    let hint = forecourt_tenant_config::document::suggestion(name, PARAMETERS);
                    return Err(format!(
                        "segment {n} `{part}` is not a known parameter; the parameters are `{{model}}`, `{{configuration}}` and `{{quote}}`.{hint}"
                    ));
                };
                if segments.contains(&Segment::Param(param)) {
                    return Err(format!(
                        "the parameter `{{{param}}}` appears twice; each parameter may be used once"
                    ));
                }
                segments.push(Segment::Param(param));
            } else if literal_ok(part) {
                segments.push(Segment::Literal((*part).to_string()));
            } else {
                return Err(format!(
                    "segment {n} `{part}` is not valid: a literal segment is lowercase letters, digits and `-`, starting with a letter or digit"
                ));
            }
        }
        Ok(Route {
            text: text.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parameters of `path` (no query, no base path) when it matches. One trailing `/` in
    /// `path` is ignored; parameter values must match `^[A-Za-z0-9_-]{1,64}$`.
    pub fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let rest = path.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut params = BTreeMap::new();
        if rest.is_empty() {
            return self.segments.is_empty().then_some(params);
        }
        let mut parts = rest.split('/');
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(l) => {
                    if l != part {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    if !param_value_ok(part) {
                        return None;
                    }
                    params.insert((*name).to_string(), part.to_string());
                }
            }
        }
        parts.next().is_none().then_some(params)
    }

    /// Parameter names in order.
    pub fn params(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(p) => Some(*p),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// `(literal segments, all segments)`. Sort routes by it, descending, and try them in that
    /// order: `/models/compare` (`(2, 2)`) is tried before `/models/{model}` (`(1, 2)`).
    pub fn specificity(&self) -> (usize, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (literals, self.segments.len())
    }

    /// The link for `params` (each substituted, percent-encoded where needed). A parameter
    /// missing from `params` stays as written (`{model}`).
    pub fn link(&self, params: &BTreeMap<String, String>) -> String {
        if self.segments.is_empty() {
            return "/".into();
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param(p) => match params.get(*p) {
                    Some(v) => encode_segment(v, &mut out),
                    None => {
                        out.push('{');
                        out.push_str(p);
                        out.push('}');
                    }
                },
            }
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_valid_routes() {
        for text in [
            "/",
            "/models",
            "/models/{model}",
            "/q/{quote}",
            "/a/b/c/d/e/f",
            "/build/{model}/{configuration}",
            "/2024-offers",
            "/my-orders",
            "/offers/orders",
        ] {
            let route = Route::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(route.as_str(), text);
        }
        assert_eq!(
            Route::parse("/build/{model}/{configuration}")
                .unwrap()
                .params(),
            ["model", "configuration"]
        );
    }

    #[test]
    fn refuses_invalid_routes_with_reasons() {
        let cases = [
            ("", "does not start with `/`"),
            ("models", "does not start with `/`"),
            ("/models/", "ends with `/`"),
            ("/a//b", "empty segment"),
            ("/Models", "not valid"),
            ("/-x", "not valid"),
            ("/models/{modle}", "Did you mean `model`?"),
            ("/models/{model", "without closing"),
            ("/{model}/{model}", "twice"),
            ("/a/b/c/d/e/f/g", "at most 6"),
            ("/a b", "not valid"),
            ("/caf\u{e9}", "not valid"),
            ("/orders", "keeps for itself"),
            ("/orders/{quote}", "keeps for itself"),
            ("/api/x", "keeps for itself"),
            ("/forms", "keeps for itself"),
        ];
        for (text, want) in cases {
            let err = Route::parse(text).expect_err(text);
            assert!(err.contains(want), "{text}: {err}");
        }
        let long = format!("/{}", "a".repeat(MAX_ROUTE_LEN));
        assert!(Route::parse(&long).unwrap_err().contains("at most 200"));
    }

    #[test]
    fn matches_paths() {
        let root = Route::parse("/").unwrap();
        assert_eq!(root.matches("/"), Some(BTreeMap::new()));
        assert_eq!(root.matches("/x"), None);
        assert_eq!(root.matches(""), None);

        let models = Route::parse("/models").unwrap();
        assert_eq!(models.matches("/models"), Some(BTreeMap::new()));
        assert_eq!(models.matches("/models/"), Some(BTreeMap::new()));
        assert_eq!(models.matches("/models//"), None);
        assert_eq!(models.matches("/Models"), None);
        assert_eq!(models.matches("/models/x"), None);
        assert_eq!(models.matches("/"), None);

        let detail = Route::parse("/models/{model}").unwrap();
        assert_eq!(
            detail.matches("/models/s7"),
            Some(params(&[("model", "s7")]))
        );
        assert_eq!(
            detail.matches("/models/S7_x-1/"),
            Some(params(&[("model", "S7_x-1")]))
        );
        assert_eq!(detail.matches("/models"), None);
        assert_eq!(detail.matches("/models/"), None);
        assert_eq!(detail.matches("/models/a.b"), None);
        assert_eq!(detail.matches("/models/%3Cx"), None);
        assert_eq!(
            detail
                .matches(&format!("/models/{}", "a".repeat(64)))
                .map(|p| p.len()),
            Some(1)
        );
        assert_eq!(detail.matches(&format!("/models/{}", "a".repeat(65))), None);
        assert_eq!(detail.matches("/models/s7/more"), None);

        let two = Route::parse("/build/{model}/{configuration}").unwrap();
        assert_eq!(
            two.matches("/build/s7/cfg-1"),
            Some(params(&[("model", "s7"), ("configuration", "cfg-1")]))
        );
    }

    #[test]
    fn specificity_orders_literals_first() {
        let mut routes: Vec<Route> = ["/models/{model}", "/", "/models/compare", "/models"]
            .into_iter()
            .map(|r| Route::parse(r).unwrap())
            .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let order: Vec<&str> = routes.iter().map(Route::as_str).collect();
        assert_eq!(
            order,
            ["/models/compare", "/models/{model}", "/models", "/"]
        );
        assert_eq!(Route::parse("/").unwrap().specificity(), (0, 0));
    }

    #[test]
    fn links_substitute_and_encode() {
        let route = Route::parse("/build/{model}/{configuration}").unwrap();
        assert_eq!(
            route.link(&params(&[("model", "s7"), ("configuration", "a b/c")])),
            "/build/s7/a%20b%2Fc"
        );
        assert_eq!(
            route.link(&params(&[("model", "s7")])),
            "/build/s7/{configuration}"
        );
        assert_eq!(Route::parse("/").unwrap().link(&BTreeMap::new()), "/");
        assert_eq!(
            Route::parse("/models").unwrap().link(&BTreeMap::new()),
            "/models"
        );
    }
}
