//! The loaded bundle and [`load`], which runs the three layers over every file and collects
//! all their findings: syntax for every YAML/JSON file, then shape and meaning for the tenant
//! document and the catalog files (with the CSV files their compatibility tables name). Also
//! the canonical form and content hash.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, CatalogDoc};
use crate::catalog_meaning::{self, CatalogInput};
use crate::csv_table::{self, CsvTable};
use crate::diagnostic::{Diagnostic, Report};
use crate::limits::LIMITS;
use crate::model::TenantDoc;
use crate::schema::Kind;
use crate::source::{bundle_too_large, file_too_large, BundleSource};
use crate::spans::{unescape, SpanMap};
use crate::{meaning, schema, yaml};

/// Names the tenant document may have, in order of preference. JSON is valid YAML.
pub const TENANT_FILES: [&str; 3] = ["tenant.yaml", "tenant.yml", "tenant.json"];

/// Folders of a bundle. `catalog/` holds catalog files (`*.yaml`, `*.yml`, `*.json`, validated
/// in three layers) and compatibility-table data (`*.csv`); the files of the other folders are
/// carried along (stored, hashed, syntax-checked when YAML/JSON) but not interpreted yet.
pub const RESERVED_DIRS: [&str; 5] = ["catalog", "workflows", "pages", "scripts", "policies"];

/// A validated, immutable tenant bundle. Only [`load`] makes one, and only when every layer
/// passed; share it behind an `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    tenant: TenantDoc,
    catalog: Catalog,
    /// File and pointer of each model of `catalog.models`, in the same order.
    model_origins: Vec<(String, String)>,
    files: BTreeMap<String, String>,
    documents: BTreeMap<String, Value>,
    hash: String,
    warnings: Vec<Diagnostic>,
}

impl Bundle {
    /// The typed tenant document.
    pub fn tenant(&self) -> &TenantDoc {
        &self.tenant
    }

    /// The catalog: brands and models of every catalog file, merged in path order; empty when
    /// the bundle has no catalog. Compatibility tables given as `csv` have their `rows` filled.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Where a model is defined: its catalog file and the JSON pointer of the model in it
    /// (`/models/3`), for locating findings about it made later (e.g. by the configurator).
    pub fn model_origin(&self, model_code: &str) -> Option<(&str, String)> {
        let index = self
            .catalog
            .models
            .iter()
            .position(|m| m.code == model_code)?;
        let (file, pointer) = self.model_origins.get(index)?;
        Some((file.as_str(), pointer.clone()))
    }

    /// The bundle's files as written (comments and formatting kept), for storage and display.
    /// Files that are not part of a bundle are not included.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// Hex SHA-256 of the canonical form: comments, key order and formatting do not change it,
    /// any change of content does.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Warnings from loading (e.g. ignored files).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The canonical content: a JSON object from file path to that file's parsed document
    /// (YAML/JSON files) or text (any other file). Input for [`crate::diff`].
    pub fn canonical(&self) -> Value {
        Value::Object(
            self.documents
                .iter()
                .map(|(path, doc)| (path.clone(), doc.clone()))
                .collect(),
        )
    }
}

/// Writes `value` as JSON with object keys sorted and no whitespace, independent of how
/// serde_json orders maps.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(key.clone()));
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn content_hash(documents: &BTreeMap<String, Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"forecourt-bundle/1\n");
    let mut text = String::new();
    for (path, doc) in documents {
        text.clear();
        write_canonical(doc, &mut text);
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// What a path is to a bundle.
enum Role {
    Tenant,
    Reserved,
    Unknown,
}

/// Whether a path is a catalog document (as opposed to CSV data or another file in `catalog/`).
fn is_catalog_doc(path: &str) -> bool {
    path.starts_with("catalog/") && yaml::is_document(path)
}

fn role(path: &str) -> Role {
    if TENANT_FILES.contains(&path) {
        Role::Tenant
    } else if path
        .split_once('/')
        .is_some_and(|(dir, _)| RESERVED_DIRS.contains(&dir))
    {
        Role::Reserved
    } else {
        Role::Unknown
    }
}

/// Loads and validates a bundle. Every problem of every file is reported at once; a
/// [`Bundle`] is returned only when there is no error (warnings travel with it).
pub fn load(source: &BundleSource) -> Result<Bundle, Report> {
    let mut diagnostics = source.problems.clone();
    let files = source.files();

    // Bundle-wide limits first: past them nothing is parsed.
    let total: usize = files.values().map(String::len).sum();
    if files.len() > LIMITS.max_files {
        diagnostics.push(Diagnostic::error(
            "bundle.too_large",
            "",
            "",
            format!(
                "the bundle has {} files, more than the limit of {}",
                files.len(),
                LIMITS.max_files
            ),
        ));
    }
    if total > LIMITS.max_bundle_bytes {
        let at = files.keys().next().map_or("", String::as_str);
        diagnostics.push(Diagnostic::error(
            "bundle.too_large",
            "",
            "",
            bundle_too_large(at),
        ));
    }
    if files.len() > LIMITS.max_files || total > LIMITS.max_bundle_bytes {
        return Err(Report::new(diagnostics));
    }

    let mut kept = BTreeMap::new();
    let mut tenant_paths = Vec::new();
    for (path, text) in files {
        match role(path) {
            Role::Unknown => {
                diagnostics.push(Diagnostic::warning(
                    "bundle.unknown_file",
                    path,
                    "",
                    format!(
                        "not part of a bundle; ignored. A bundle holds `tenant.yaml` and files \
                         in the folders {}/",
                        RESERVED_DIRS.join("/, ")
                    ),
                ));
                continue;
            }
            Role::Tenant => tenant_paths.push(path.as_str()),
            Role::Reserved => {}
        }
        kept.insert(path.clone(), text.clone());
    }
    tenant_paths.sort_by_key(|p| TENANT_FILES.iter().position(|t| t == p));
    let tenant_path = tenant_paths.first().copied();
    for extra in tenant_paths.iter().skip(1) {
        diagnostics.push(Diagnostic::error(
            "bundle.duplicate_tenant",
            extra,
            "",
            format!(
                "the bundle has both `{}` and `{extra}`; keep exactly one tenant document",
                tenant_path.unwrap_or_default()
            ),
        ));
    }
    if tenant_path.is_none() {
        diagnostics.push(Diagnostic::error(
            "bundle.missing_tenant",
            "tenant.yaml",
            "",
            "the bundle has no `tenant.yaml` (or `tenant.yml`/`tenant.json`) at its top level; \
             every bundle needs one"
                .to_string(),
        ));
    }

    let mut documents = BTreeMap::new();
    let mut tenant = None;
    let mut catalog_inputs: Vec<CatalogInput> = Vec::new();
    let mut catalog_shapes: HashMap<String, Vec<Diagnostic>> = HashMap::new();
    let mut csvs: BTreeMap<String, Option<CsvTable>> = BTreeMap::new();
    for (path, text) in &kept {
        let unreadable = |inputs: &mut Vec<CatalogInput>| {
            inputs.push(CatalogInput {
                path: path.clone(),
                doc: None,
                spans: SpanMap::default(),
            })
        };
        if text.len() > LIMITS.max_file_bytes {
            diagnostics.push(Diagnostic::error(
                "bundle.too_large",
                path,
                "",
                file_too_large(text.len()),
            ));
            if is_catalog_doc(path) {
                unreadable(&mut catalog_inputs);
            } else if csv_table::is_csv(path) {
                csvs.insert(path.clone(), None);
            }
            continue;
        }
        if !yaml::is_document(path) {
            if csv_table::is_csv(path) {
                let table = csv_table::parse(path, text)
                    .map_err(|d| diagnostics.push(d))
                    .ok();
                csvs.insert(path.clone(), table);
            }
            documents.insert(path.clone(), Value::String(text.clone()));
            continue;
        }
        let parsed = yaml::parse(path, text);
        diagnostics.extend(parsed.diagnostics);
        let Some(value) = parsed.value else {
            if is_catalog_doc(path) {
                unreadable(&mut catalog_inputs);
            }
            continue;
        };
        if Some(path.as_str()) == tenant_path {
            tenant = check_tenant(path, &value, &parsed.spans, &mut diagnostics);
        } else if is_catalog_doc(path) {
            let shaped = shape::<CatalogDoc>(Kind::Catalog, path, &value, &parsed.spans);
            if shaped.doc.is_none() {
                diagnostics.extend(shaped.model_error);
            }
            catalog_shapes.insert(path.clone(), shaped.shape);
            catalog_inputs.push(CatalogInput {
                path: path.clone(),
                doc: shaped.doc,
                spans: parsed.spans,
            });
        }
        documents.insert(path.clone(), value);
    }

    // The catalog's meaning needs every catalog file (codes are unique across them) and the
    // tenant document (locales, regions), so it runs once all are read.
    let found = catalog_meaning::check(
        &mut catalog_inputs,
        &csvs,
        tenant.as_ref().map(|(doc, _)| doc),
    );
    diagnostics.extend(found.into_iter().filter(|d| {
        !catalog_shapes
            .get(&d.file)
            .is_some_and(|shape| covered(shape, &d.pointer))
    }));
    diagnostics.extend(catalog_shapes.into_values().flatten());

    let report = Report::new(diagnostics);
    match tenant {
        Some((tenant, true)) if !report.has_errors() => {
            let mut catalog = Catalog::default();
            let mut model_origins = Vec::new();
            for input in catalog_inputs {
                let Some(doc) = input.doc else { continue };
                catalog.brands.extend(doc.brands);
                catalog.offers.extend(doc.offers);
                for (m, model) in doc.models.into_iter().enumerate() {
                    model_origins.push((input.path.clone(), format!("/models/{m}")));
                    catalog.models.push(model);
                }
            }
            Ok(Bundle {
                tenant,
                catalog,
                model_origins,
                hash: content_hash(&documents),
                files: kept,
                documents,
                warnings: report.diagnostics,
            })
        }
        _ => Err(report),
    }
}

/// A document after the shape layer.
struct Shaped<T> {
    /// The typed document, when it could be read (fields reported as unknown are dropped
    /// first, so that meaning rules can still run).
    doc: Option<T>,
    /// The shape findings.
    shape: Vec<Diagnostic>,
    /// Why the document could not be read although shape passed (a bug if ever seen).
    model_error: Option<Diagnostic>,
}

/// Runs the shape layer over `value` and reads it into the typed model `T`.
fn shape<T: DeserializeOwned>(kind: Kind, file: &str, value: &Value, spans: &SpanMap) -> Shaped<T> {
    let shape = schema::check(kind, file, value, spans);
    let mut readable = value.clone();
    for member in &shape.unknown_members {
        if let Some((parent, key)) = member.rsplit_once('/') {
            if let Some(object) = readable.pointer_mut(parent).and_then(Value::as_object_mut) {
                object.remove(&unescape(key));
            }
        }
    }
    let shape = shape.diagnostics;
    match serde_json::from_value::<T>(readable) {
        Ok(doc) => Shaped {
            doc: Some(doc),
            shape,
            model_error: None,
        },
        Err(e) => {
            let model_error = shape.is_empty().then(|| {
                Diagnostic::error(
                    "schema.model",
                    file,
                    "",
                    format!("the document does not fit the {} model: {e}", kind.name()),
                )
                .at(spans.value(""))
            });
            Shaped {
                doc: None,
                shape,
                model_error,
            }
        }
    }
}

/// Whether a meaning finding at `pointer` is a consequence of a shape finding: at or below a
/// place that already has a shape error (unknown fields aside: they were dropped).
pub(crate) fn covered(shape: &[Diagnostic], pointer: &str) -> bool {
    shape.iter().any(|d| {
        d.code != "schema.additional_property"
            && (pointer == d.pointer
                || (pointer.starts_with(&d.pointer) && pointer[d.pointer.len()..].starts_with('/')))
    })
}

/// Shape and meaning of the tenant document. Meaning rules run whenever the document can be
/// read into the typed model — after dropping fields the shape layer already reported as
/// unknown, and even if a pattern, range or list-length rule failed — so one load reports as
/// much as possible. A meaning finding at or below a place that already has a shape error is
/// dropped as its consequence. Returns the model when it could be read, and whether shape
/// passed.
fn check_tenant(
    file: &str,
    value: &Value,
    spans: &SpanMap,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(TenantDoc, bool)> {
    let shaped = shape::<TenantDoc>(Kind::Tenant, file, value, spans);
    let Some(doc) = shaped.doc else {
        diagnostics.extend(shaped.model_error);
        diagnostics.extend(shaped.shape);
        return None;
    };
    let shape = shaped.shape;
    diagnostics.extend(
        meaning::check(file, &doc, spans)
            .into_iter()
            .filter(|d| !covered(&shape, &d.pointer)),
    );
    let passed = shape.is_empty();
    diagnostics.extend(shape);
    Some((doc, passed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_text_sorts_keys_and_drops_whitespace() {
        let mut out = String::new();
        write_canonical(
            &json!({"b": [1, {"z": null, "a": "x\"y"}], "a": 1.5}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":1.5,"b":[1,{"a":"x\"y","z":null}]}"#);
    }

    #[test]
    fn hash_depends_on_paths_and_content() {
        let one = BTreeMap::from([("a.yaml".to_string(), json!({"k": 1}))]);
        let moved = BTreeMap::from([("b.yaml".to_string(), json!({"k": 1}))]);
        let changed = BTreeMap::from([("a.yaml".to_string(), json!({"k": 2}))]);
        assert_eq!(content_hash(&one), content_hash(&one.clone()));
        assert_ne!(content_hash(&one), content_hash(&moved));
        assert_ne!(content_hash(&one), content_hash(&changed));
        assert_eq!(content_hash(&one).len(), 64);
    }

    #[test]
    fn roles_of_paths() {
        assert!(matches!(role("tenant.yaml"), Role::Tenant));
        assert!(matches!(role("tenant.json"), Role::Tenant));
        assert!(matches!(role("catalog/models/suv.yaml"), Role::Reserved));
        assert!(matches!(role("scripts/price.rhai"), Role::Reserved));
        assert!(matches!(role("catalog"), Role::Unknown));
        assert!(matches!(role("extra/tenant.yaml"), Role::Unknown));
        assert!(matches!(role("notes.txt"), Role::Unknown));
    }
}
