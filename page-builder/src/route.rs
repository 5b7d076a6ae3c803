//! Page routes: literal segments and typed parameters.
//! CONTRACT STUB — the helper implements it.

use std::collections::BTreeMap;

/// A parsed route such as `/models/{model}`. Parameters are `model` (a catalog model code),
/// `configuration` (a saved configuration's code) and `quote` (a quote's code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    text: String,
}

/// The parameter names a route may use.
pub const PARAMETERS: [&str; 3] = ["model", "configuration", "quote"];

impl Route {
    /// Parses `text`; the error says what is wrong (for a diagnostic at `/route`).
    pub fn parse(text: &str) -> Result<Route, String> {
        let _ = text;
        todo!()
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// The parameters of `path` (no query, no base path) when it matches.
    pub fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let _ = path;
        todo!()
    }
    /// Parameter names in order.
    pub fn params(&self) -> Vec<&str> {
        todo!()
    }
    /// More literal segments first: `/models/compare` is tried before `/models/{model}`.
    pub fn specificity(&self) -> (usize, usize) {
        todo!()
    }
    /// The link for `params` (each substituted).
    pub fn link(&self, params: &BTreeMap<String, String>) -> String {
        let _ = params;
        todo!()
    }
}
