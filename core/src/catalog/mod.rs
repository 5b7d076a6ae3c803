//! The vehicle catalog as buyers and staff use it: models, trims and options from the tenant's
//! bundle, the configurator (engine + routes), saved configurations and model comparison.
//!
//! **Owns** everything a buyer does between "show me the models" and "here is my build".
//! The configurator engine (`engine`) is pure: no I/O, no clock; the routes feed it the request
//! context (region, today's date) and persist saved configurations.
//!
//! **Invariants**
//! - Every model of a live snapshot is compiled (at publish, once): a bundle whose models do not
//!   compile — no valid build, a trim without one, conflicting defaults — is rejected at apply
//!   with the model's file and pointer, so a buyer never meets a model the engine cannot answer.
//! - Saved configurations are stored with the build as resolved when saved, under a short
//!   unguessable code (60 random bits), per tenant.

pub mod engine;
pub mod routes;

use std::collections::HashMap;
use std::sync::Arc;

use forecourt_tenant_config::{Bundle, Diagnostic, Severity};

use engine::CompiledModel;

/// Every model of a bundle, compiled for the configurator.
#[derive(Debug, Default)]
pub struct CompiledCatalog {
    models: HashMap<String, Arc<CompiledModel>>,
}

impl CompiledCatalog {
    /// Compiles every model of `bundle`; on failure, every issue as a located diagnostic.
    pub fn compile(bundle: &Bundle) -> Result<CompiledCatalog, Vec<Diagnostic>> {
        let mut models = HashMap::new();
        let mut problems = Vec::new();
        for model in &bundle.catalog().models {
            match CompiledModel::compile(model) {
                Ok(compiled) => {
                    models.insert(model.code.clone(), Arc::new(compiled));
                }
                Err(issues) => {
                    let (file, pointer) = bundle
                        .model_origin(&model.code)
                        .map(|(f, p)| (f.to_string(), p))
                        .unwrap_or_else(|| ("catalog".into(), String::new()));
                    problems.extend(issues.into_iter().map(|issue| Diagnostic {
                        severity: Severity::Error,
                        code: "catalog.unbuildable",
                        file: file.clone(),
                        line: None,
                        column: None,
                        pointer: pointer.clone(),
                        message: issue.to_string(),
                    }));
                }
            }
        }
        if problems.is_empty() {
            Ok(CompiledCatalog { models })
        } else {
            Err(problems)
        }
    }

    pub fn model(&self, code: &str) -> Option<&Arc<CompiledModel>> {
        self.models.get(code)
    }
}

/// A short, unguessable code for sharing (12 characters of Crockford base32: 60 random bits).
pub fn share_code() -> String {
    random_code(12)
}

/// `len` random characters of Crockford base32 (lower case, no i, l, o, u): 5 random bits each.
pub fn random_code(len: usize) -> String {
    use rand::RngCore;
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // 256 is a multiple of 32, so the low five bits of a random byte are uniform.
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn share_codes_are_short_distinct_and_url_safe() {
        let a = super::share_code();
        assert_eq!(a.len(), 12);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let codes: std::collections::HashSet<String> =
            (0..1000).map(|_| super::share_code()).collect();
        assert_eq!(codes.len(), 1000);
    }
}
