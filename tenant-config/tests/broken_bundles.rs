//! Loading real bundle directories: good bundles (with and without a catalog), a broken fixture
//! per kind of mistake in `tenant.yaml` and in catalog files (each asserting the exact code,
//! file, line, column and pointer of every diagnostic), hostile input, the content hash, diffs,
//! and a property test that loading never panics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use forecourt_tenant_config::catalog::Selection;
use forecourt_tenant_config::{
    catalog_schema, diff, load, tenant_schema, Bundle, BundleSource, Report, Severity, LIMITS,
};
use proptest::prelude::*;
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn load_dir(path: &str) -> Result<Bundle, Report> {
    load(&BundleSource::from_dir(fixture(path)).expect("fixture directory"))
}

fn minimal_text() -> String {
    std::fs::read_to_string(fixture("good/minimal/tenant.yaml")).unwrap()
}

fn load_files(files: &[(&str, &str)]) -> Result<Bundle, Report> {
    let map = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect::<BTreeMap<_, _>>();
    load(&BundleSource::from_files(map))
}

/// (severity, code, file, line, column, pointer) of one expected diagnostic; `E`/`W` below.
type Expected = (
    Severity,
    &'static str,
    &'static str,
    Option<u32>,
    Option<u32>,
    &'static str,
);
const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

/// Asserts that loading the broken fixture `name` reports exactly `expected`, in report order.
fn assert_broken(name: &str, expected: &[Expected]) {
    assert_fixture(&format!("broken/{name}"), expected);
}

/// As [`assert_broken`], for a fixture directory under `tests/fixtures`.
fn assert_fixture(name: &str, expected: &[Expected]) {
    let report = load_dir(name).expect_err("the fixture must not load");
    let got: Vec<Expected> = report
        .diagnostics
        .iter()
        .map(|d| {
            // Leak to compare against the 'static table; tests only.
            let file: &'static str = Box::leak(d.file.clone().into_boxed_str());
            let pointer: &'static str = Box::leak(d.pointer.clone().into_boxed_str());
            (d.severity, d.code, file, d.line, d.column, pointer)
        })
        .collect();
    assert_eq!(got, expected, "{name}:\n{report}");
    for d in &report.diagnostics {
        assert!(!d.message.is_empty());
        assert!(d.pointer.is_empty() || d.pointer.starts_with('/'));
    }
}

fn at(line: u32, column: u32) -> (Option<u32>, Option<u32>) {
    (Some(line), Some(column))
}

macro_rules! broken {
    ($name:ident: $( ($sev:expr, $code:literal, $file:literal, $line:literal : $col:literal, $ptr:literal) ),* $(,)?) => {
        #[test]
        fn $name() {
            assert_broken(stringify!($name), &[
                $( { let (l, c) = at($line, $col); ($sev, $code, $file, l, c, $ptr) } ),*
            ]);
        }
    };
}

/// As `broken!`, for a fixture under `broken_catalog/`; the test is named `catalog_<fixture>`.
macro_rules! broken_catalog {
    ($name:ident => $test:ident: $( ($sev:expr, $code:literal, $file:literal, $line:literal : $col:literal, $ptr:literal) ),* $(,)?) => {
        #[test]
        fn $test() {
            assert_fixture(concat!("broken_catalog/", stringify!($name)), &[
                $( { let (l, c) = at($line, $col); ($sev, $code, $file, l, c, $ptr) } ),*
            ]);
        }
    };
}

// ---- the good bundle --------------------------------------------------------------------

#[test]
fn minimal_bundle_loads() {
    let bundle = load_dir("good/minimal").unwrap_or_else(|r| panic!("{r}"));
    let t = bundle.tenant();
    assert_eq!(t.tenant.slug, "aurora-motors");
    assert_eq!(t.tenant.locales, ["zh-CN", "en"]);
    assert_eq!(t.org.stores.len(), 2);
    assert_eq!(
        t.org.store("SH-001").unwrap().dealer_group.as_deref(),
        Some("HUAXIN")
    );
    assert_eq!(t.roles[0].grants[0].actions, ["*"]);
    assert!(bundle.warnings().is_empty());
    assert_eq!(bundle.hash().len(), 64);
    assert_eq!(bundle.files().keys().collect::<Vec<_>>(), ["tenant.yaml"]);
    assert_eq!(bundle.files()["tenant.yaml"], minimal_text());
    assert_eq!(
        bundle.canonical()["tenant.yaml"]["org"]["stores"][0]["location"],
        json!({"lat": 31.2304, "lon": 121.4737})
    );
}

#[test]
fn the_schema_is_exposed_for_editors() {
    let schema = tenant_schema();
    assert_eq!(
        schema["required"],
        json!(["schema_version", "tenant", "org", "roles"])
    );
    assert!(schema["properties"]["tenant"]["properties"]["slug"]["description"].is_string());
}

// ---- broken fixtures: one kind of mistake each -----------------------------------------

broken!(yaml_syntax:
    (E, "yaml.syntax", "tenant.yaml", 8:13, ""),
);

broken!(yaml_duplicate_key:
    (E, "yaml.duplicate_key", "tenant.yaml", 9:3, "/tenant/currency"),
    (E, "yaml.duplicate_key", "tenant.yaml", 22:7, "/org/stores/0/kind"),
);

broken!(yaml_tags_and_keys:
    (E, "yaml.tag", "tenant.yaml", 20:22, "/org/stores/0/phone"),
    (E, "yaml.non_string_key", "tenant.yaml", 22:9, "/org/stores/0/opening_hours"),
    (E, "yaml.non_string_key", "tenant.yaml", 23:9, "/org/stores/0/opening_hours"),
);

broken!(schema_missing_required:
    (E, "schema.required", "tenant.yaml", 3:3, "/tenant"),
    (E, "schema.required", "tenant.yaml", 12:7, "/org/stores/0"),
    (E, "schema.required", "tenant.yaml", 23:9, "/roles/0/grants/0"),
);

broken!(schema_unknown_property:
    (E, "schema.required", "tenant.yaml", 3:3, "/tenant"),
    (E, "schema.additional_property", "tenant.yaml", 8:3, "/tenant"),
    (E, "schema.additional_property", "tenant.yaml", 19:7, "/org/stores/0"),
    (E, "schema.additional_property", "tenant.yaml", 22:44, "/org/stores/0/location"),
);

broken!(schema_patterns:
    (E, "schema.pattern", "tenant.yaml", 3:9, "/tenant/slug"),
    (E, "schema.pattern", "tenant.yaml", 5:24, "/tenant/name/EN"),
    (E, "schema.pattern", "tenant.yaml", 7:13, "/tenant/currency"),
    (E, "schema.pattern", "tenant.yaml", 8:14, "/tenant/time_zone"),
    (E, "schema.pattern", "tenant.yaml", 11:13, "/org/regions/0/code"),
    (E, "schema.pattern", "tenant.yaml", 17:15, "/org/stores/0/region"),
    (E, "schema.pattern", "tenant.yaml", 22:17, "/org/stores/0/opening_hours/daily/0"),
    (E, "schema.pattern", "tenant.yaml", 24:11, "/roles/0/code"),
);

broken!(schema_types_and_enums:
    (E, "schema.enum", "tenant.yaml", 1:17, "/schema_version"),
    (E, "schema.enum", "tenant.yaml", 4:9, "/tenant/kind"),
    (E, "schema.type", "tenant.yaml", 14:13, "/org/stores/0/name"),
    (E, "schema.type", "tenant.yaml", 19:24, "/org/stores/0/location/lat"),
    (E, "schema.type", "tenant.yaml", 20:31, "/org/stores/0/opening_hours/daily"),
    (E, "schema.enum", "tenant.yaml", 25:34, "/roles/0/grants/0/reach"),
);

broken!(schema_ranges_and_empty:
    (E, "schema.range", "tenant.yaml", 19:24, "/org/stores/0/location/lat"),
    (E, "schema.range", "tenant.yaml", 19:37, "/org/stores/0/location/lon"),
    (E, "schema.too_few", "tenant.yaml", 29:20, "/roles/1/grants/0/actions"),
);

broken!(org_duplicate_codes:
    (E, "org.duplicate_code", "tenant.yaml", 13:15, "/org/dealer_groups/0/code"),
    (E, "org.duplicate_code", "tenant.yaml", 23:13, "/org/stores/1/code"),
);

broken!(org_unknown_references:
    (E, "org.unknown_region", "tenant.yaml", 13:54, "/org/dealer_groups/0/region"),
    (E, "org.unknown_dealer_group", "tenant.yaml", 19:21, "/org/stores/0/dealer_group"),
    (E, "org.unknown_region", "tenant.yaml", 27:15, "/org/stores/1/region"),
);

broken!(org_structure:
    (E, "org.region_mismatch", "tenant.yaml", 19:15, "/org/stores/0/region"),
    (E, "org.direct_store_in_group", "tenant.yaml", 29:21, "/org/stores/1/dealer_group"),
);

broken!(org_levels:
    (E, "org.duplicate_level", "tenant.yaml", 10:24, "/org/store_levels/2"),
    (E, "org.unknown_level", "tenant.yaml", 19:14, "/org/stores/0/level"),
    (E, "role.unknown_level", "tenant.yaml", 36:27, "/roles/1/grants/0/store_levels/1"),
);

broken!(role_actions:
    (E, "role.unknown_action", "tenant.yaml", 29:19, "/roles/1/grants/0/actions/0"),
    (E, "role.unknown_action", "tenant.yaml", 29:31, "/roles/1/grants/0/actions/1"),
    (E, "role.duplicate_code", "tenant.yaml", 31:11, "/roles/2/code"),
    (E, "role.unknown_action", "tenant.yaml", 34:19, "/roles/2/grants/0/actions/0"),
);

broken!(locales:
    (E, "locale.duplicate", "tenant.yaml", 6:24, "/tenant/locales/2"),
    (E, "locale.missing_default", "tenant.yaml", 12:13, "/org/regions/0/name"),
    (E, "locale.unknown", "tenant.yaml", 18:9, "/org/stores/0/name/fr"),
);

broken!(opening_hours:
    (E, "hours.invalid", "tenant.yaml", 21:17, "/org/stores/0/opening_hours/daily/0"),
    (E, "hours.overlap", "tenant.yaml", 22:30, "/org/stores/0/opening_hours/sat/1"),
    (E, "hours.invalid", "tenant.yaml", 23:15, "/org/stores/0/opening_hours/sun/0"),
);

broken!(no_admin:
    (E, "role.no_admin", "tenant.yaml", 23:3, "/roles"),
);

broken!(flow_style_json:
    (E, "org.unknown_region", "tenant.json", 10:82, "/org/stores/0/region"),
    (E, "schema.additional_property", "tenant.json", 13:8, "/org/stores/0"),
);

/// Mistakes in every layer and in several files, all reported by one load.
#[test]
fn many_errors() {
    assert_broken(
        "many_errors",
        &[
            (
                E,
                "yaml.syntax",
                "catalog/models.yaml",
                Some(5),
                Some(9),
                "",
            ),
            (W, "bundle.unknown_file", "notes.txt", None, None, ""),
            (
                E,
                "schema.pattern",
                "tenant.yaml",
                Some(8),
                Some(13),
                "/tenant/currency",
            ),
            (
                E,
                "yaml.duplicate_key",
                "tenant.yaml",
                Some(22),
                Some(7),
                "/org/stores/0/region",
            ),
            (
                E,
                "org.unknown_region",
                "tenant.yaml",
                Some(22),
                Some(15),
                "/org/stores/0/region",
            ),
            (
                E,
                "hours.overlap",
                "tenant.yaml",
                Some(30),
                Some(45),
                "/org/stores/1/opening_hours/sat/1",
            ),
            (
                E,
                "role.unknown_action",
                "tenant.yaml",
                Some(39),
                Some(33),
                "/roles/1/grants/0/actions/1",
            ),
        ],
    );
}

#[test]
fn missing_tenant() {
    assert_broken(
        "missing_tenant",
        &[
            (E, "bundle.missing_tenant", "tenant.yaml", None, None, ""),
            (W, "bundle.unknown_file", "tenant.yaml.bak", None, None, ""),
        ],
    );
}

#[test]
fn messages_explain_and_suggest() {
    let report = load_dir("broken/role_actions").unwrap_err();
    let text = report.to_string();
    assert!(
        text.starts_with("the bundle has 4 error(s) and 0 warning(s)\n"),
        "{text}"
    );
    assert!(text.contains(
        "tenant.yaml:29:19: error[role.unknown_action] /roles/1/grants/0/actions/0: `store.reed` \
         is not an action of the platform. Did you mean `store.read`?"
    ));
    assert!(text.contains("`bundel.*` matches no action of the platform. Did you mean `bundle.*`?"));
    let report = load_dir("broken/schema_unknown_property").unwrap_err();
    assert!(report.diagnostics[2]
        .message
        .contains("Did you mean `dealer_group`?"));
    let report = load_dir("broken/no_admin").unwrap_err();
    assert!(report.diagnostics[0]
        .message
        .contains("the tenant would lock itself out"));
    // Serializable for the HTTP edge.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["diagnostics"][0]["severity"], "error");
    assert_eq!(json["diagnostics"][0]["code"], "role.no_admin");
    assert_eq!(json["diagnostics"][0]["line"], 23);
}

// ---- bundle layout ------------------------------------------------------------------------

#[test]
fn reserved_folders_are_carried_and_other_files_warned_about() {
    let text = minimal_text();
    let bundle = load_files(&[
        ("tenant.yaml", &text),
        ("workflows/order.yaml", "states: [draft, placed]\n"),
        ("scripts/price.rhai", "fn price(x) { x }\n"),
        ("README.md", "# skipped silently"),
        ("extra.yaml", "ignored: true\n"),
    ])
    .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(
        bundle.files().keys().collect::<Vec<_>>(),
        ["scripts/price.rhai", "tenant.yaml", "workflows/order.yaml"]
    );
    let canonical = bundle.canonical();
    assert_eq!(
        canonical["workflows/order.yaml"],
        json!({"states": ["draft", "placed"]})
    );
    assert!(bundle.catalog().is_empty());
    assert_eq!(
        canonical["scripts/price.rhai"],
        json!("fn price(x) { x }\n")
    );
    assert_eq!(bundle.warnings().len(), 1);
    assert_eq!(bundle.warnings()[0].code, "bundle.unknown_file");
    assert_eq!(bundle.warnings()[0].file, "extra.yaml");
}

#[test]
fn two_tenant_documents_are_an_error() {
    let text = minimal_text();
    let report = load_files(&[("tenant.yaml", &text), ("tenant.json", "{}")]).unwrap_err();
    let codes: Vec<_> = report.errors().map(|d| (d.code, d.file.as_str())).collect();
    assert_eq!(codes, [("bundle.duplicate_tenant", "tenant.json")]);
}

#[test]
fn json_form_of_the_tenant_document_is_accepted() {
    let value: serde_json::Value = serde_yaml::from_str(&minimal_text()).unwrap();
    let json = serde_json::to_string_pretty(&value).unwrap();
    let from_json = load_files(&[("tenant.json", &json)]).unwrap_or_else(|r| panic!("{r}"));
    let from_yaml = load_dir("good/minimal").unwrap();
    assert_eq!(from_json.tenant(), from_yaml.tenant());
    assert_eq!(
        from_json.files().keys().collect::<Vec<_>>(),
        ["tenant.json"]
    );
}

// ---- the catalog ----------------------------------------------------------------------------

#[test]
fn catalog_bundle_loads_with_csv_rows() {
    let bundle = load_dir("good/catalog").unwrap_or_else(|r| panic!("{r}"));
    assert!(bundle.warnings().is_empty(), "{:?}", bundle.warnings());
    let catalog = bundle.catalog();
    assert_eq!(catalog.brands.len(), 1);
    assert_eq!(catalog.brand("aurora").unwrap().name["en"], "Aurora");
    assert_eq!(catalog.models.len(), 1);
    let s7 = catalog.model("s7").unwrap();
    assert_eq!(s7.trims.len(), 2);
    assert_eq!(s7.trim("lr-awd").unwrap().price, 29_980_000);
    assert_eq!(
        s7.option("winter").unwrap().includes,
        ["heated-seats", "heat-pump"]
    );
    assert_eq!(s7.group_of("tow").unwrap().selection, Selection::AtMostOne);
    // The CSV table: rows read from the file (trimmed, comments skipped), `csv` kept.
    let table = s7.table("paint-wheels").unwrap();
    assert_eq!(table.csv.as_deref(), Some("catalog/s7/paint_wheels.csv"));
    assert_eq!(
        table.rows(),
        [
            ["std", "white", "r19"],
            ["std", "black", "r19"],
            ["lr-awd", "*", "r21"],
            ["lr-awd", "white", "r19"],
        ]
    );
    assert_eq!(s7.table("tow-wheels").unwrap().rows().len(), 2);
    assert_eq!(
        bundle.model_origin("s7"),
        Some(("catalog/s7.yaml", "/models/0".to_string()))
    );
    assert_eq!(bundle.model_origin("s9"), None);
    // Every file is kept and canonical; the CSV as text.
    assert_eq!(
        bundle.files().keys().collect::<Vec<_>>(),
        [
            "catalog/brands.yaml",
            "catalog/s7.yaml",
            "catalog/s7/paint_wheels.csv",
            "tenant.yaml"
        ]
    );
    assert!(bundle.canonical()["catalog/s7/paint_wheels.csv"]
        .as_str()
        .unwrap()
        .starts_with("# trim, paint, wheels"));
    // A bundle without a catalog has an empty one.
    assert!(load_dir("good/minimal").unwrap().catalog().is_empty());
}

#[test]
fn catalog_hash_covers_csv_data() {
    let source = BundleSource::from_dir(fixture("good/catalog")).unwrap();
    let original = load(&source).unwrap();
    let mut files = source.files().clone();
    let csv = "catalog/s7/paint_wheels.csv".to_string();
    files.insert(
        csv.clone(),
        files[&csv].replace("std,black,r19", "std,black,r21"),
    );
    let changed = load(&BundleSource::from_files(files.clone())).unwrap_or_else(|r| panic!("{r}"));
    assert_ne!(changed.hash(), original.hash());
    assert_eq!(
        changed.catalog().models[0].compatibility[0].rows()[1],
        ["std", "black", "r21"]
    );
    let changes = diff(&original, &changed);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].file, csv);
    // Reformatting a catalog document keeps the hash.
    let mut files = source.files().clone();
    let brands = "catalog/brands.yaml".to_string();
    files.insert(
        brands.clone(),
        files[&brands].replace("# Brands of the tenant", "# The brands"),
    );
    let same = load(&BundleSource::from_files(files)).unwrap();
    assert_eq!(same.hash(), original.hash());
}

#[test]
fn the_catalog_schema_is_exposed_for_editors() {
    let schema = catalog_schema();
    assert_eq!(schema["required"], json!(["schema_version"]));
    assert!(schema["$defs"]["model"]["properties"]["trims"]["description"].is_string());
}

broken_catalog!(unknown_brand => catalog_unknown_brand:
    (E, "catalog.unknown_brand", "catalog/models.yaml", 17:12, "/models/1/brand"),
);

broken_catalog!(duplicate_codes => catalog_duplicate_codes:
    (E, "catalog.duplicate_option", "catalog/a.yaml", 24:21, "/models/0/option_groups/1/options/1/code"),
    (E, "catalog.option_trim_clash", "catalog/a.yaml", 25:21, "/models/0/option_groups/1/options/2/code"),
    (E, "catalog.duplicate_brand", "catalog/b.yaml", 3:11, "/brands/0/code"),
    (E, "catalog.duplicate_model", "catalog/b.yaml", 6:11, "/models/0/code"),
);

broken_catalog!(contradiction => catalog_contradiction:
    (E, "catalog.contradiction", "catalog/models.yaml", 26:19, "/models/0/option_groups/1/options/2/code"),
    (E, "catalog.contradiction", "catalog/models.yaml", 31:19, "/models/0/option_groups/1/options/3/code"),
);

broken_catalog!(package_cycle => catalog_package_cycle:
    (E, "catalog.package_cycle", "catalog/models.yaml", 25:74, "/models/0/option_groups/1/options/2/includes/0"),
);

broken_catalog!(defaults => catalog_defaults:
    (E, "catalog.default_conflict", "catalog/models.yaml", 15:27, "/models/0/trims/0/defaults/1"),
    (E, "catalog.default_unavailable", "catalog/models.yaml", 15:27, "/models/0/trims/0/defaults/1"),
    (E, "catalog.default_conflict", "catalog/models.yaml", 15:37, "/models/0/trims/0/defaults/3"),
    (W, "catalog.missing_default", "catalog/models.yaml", 16:15, "/models/0/trims/1/code"),
);

broken_catalog!(table_unknown_value => catalog_table_unknown_value:
    (E, "catalog.unknown_value", "catalog/models.yaml", 29:14, "/models/0/compatibility/0/rows/1/0"),
    (E, "catalog.unknown_value", "catalog/models.yaml", 29:18, "/models/0/compatibility/0/rows/1/1"),
    (E, "catalog.unknown_value", "catalog/models.yaml", 29:23, "/models/0/compatibility/0/rows/1/2"),
    (W, "catalog.duplicate_row", "catalog/models.yaml", 30:11, "/models/0/compatibility/0/rows/2"),
);

broken_catalog!(table_row_length => catalog_table_row_length:
    (E, "catalog.row_length", "catalog/models.yaml", 29:11, "/models/0/compatibility/0/rows/1"),
    (E, "catalog.row_length", "catalog/s7.csv", 3:1, "/1"),
);

broken_catalog!(table_dash => catalog_table_dash:
    (E, "catalog.no_value_not_allowed", "catalog/models.yaml", 29:19, "/models/0/compatibility/0/rows/1/1"),
    (E, "catalog.no_value_not_allowed", "catalog/models.yaml", 30:14, "/models/0/compatibility/0/rows/2/0"),
);

broken_catalog!(dates => catalog_dates:
    (E, "catalog.invalid_date", "catalog/models.yaml", 16:28, "/models/0/trims/0/available/from"),
    (E, "catalog.date_order", "catalog/models.yaml", 27:22, "/models/0/option_groups/0/options/0/available/until"),
    (E, "catalog.invalid_date", "catalog/models.yaml", 31:53, "/models/0/option_groups/0/options/1/available/until"),
);

broken_catalog!(unknown_region => catalog_unknown_region:
    (E, "catalog.unknown_region", "catalog/models.yaml", 16:38, "/models/0/trims/0/available/regions/1"),
    (E, "catalog.unknown_region", "catalog/models.yaml", 25:36, "/models/0/option_groups/0/options/0/available/regions/0"),
    (E, "catalog.unknown_trim", "catalog/models.yaml", 25:56, "/models/0/option_groups/0/options/0/available/trims/1"),
);

// Shape and meaning findings of one catalog file, all from one load.
broken_catalog!(many_rules => catalog_many_rules:
    (E, "catalog.duplicate_spec", "catalog/models.yaml", 13:17, "/models/0/specs/1/code"),
    (E, "locale.unknown", "catalog/models.yaml", 13:47, "/models/0/specs/1/label/fr"),
    (E, "locale.missing_default", "catalog/models.yaml", 15:28, "/models/0/trims/0/name"),
    (E, "catalog.unknown_option", "catalog/models.yaml", 21:70, "/models/0/option_groups/0/options/0/requires/0"),
    (E, "catalog.unknown_option", "catalog/models.yaml", 21:86, "/models/0/option_groups/0/options/0/excludes/0"),
    (E, "catalog.duplicate_group", "catalog/models.yaml", 22:15, "/models/0/option_groups/1/code"),
    (E, "schema.range", "catalog/models.yaml", 26:56, "/models/0/option_groups/1/options/0/price"),
    (E, "catalog.empty_table", "catalog/models.yaml", 28:15, "/models/0/compatibility/0/code"),
    (E, "catalog.unknown_group", "catalog/models.yaml", 29:25, "/models/0/compatibility/0/groups/1"),
);

/// The header mismatch is located in the CSV file; an unused CSV file is only a warning.
#[test]
fn catalog_csv_header() {
    assert_fixture(
        "broken_catalog/csv_header",
        &[
            (
                E,
                "catalog.missing_csv",
                "catalog/models.yaml",
                Some(30),
                Some(14),
                "/models/0/compatibility/1/csv",
            ),
            (
                W,
                "catalog.unused_csv",
                "catalog/tables/old.csv",
                None,
                None,
                "",
            ),
            (
                E,
                "catalog.csv_header",
                "catalog/tables/paint_wheels.csv",
                Some(2),
                Some(7),
                "",
            ),
        ],
    );
    let report = load_dir("broken_catalog/csv_header").unwrap_err();
    let header = &report.diagnostics[2];
    assert!(
        header.message.contains(
            "names the columns `trim,wheels,paint`, but table `paint-wheels` of model `s7` \
             (`catalog/models.yaml`, line 25, `/models/0/compatibility/0`) lists the groups \
             `trim,paint,wheels`"
        ),
        "{}",
        header.message
    );
}

#[test]
fn catalog_messages_explain() {
    let report = load_dir("broken_catalog/contradiction").unwrap_err();
    assert!(report.diagnostics[0].message.starts_with(
        "option `adventure` can never be chosen: it needs `matte` and `tow`, which exclude \
         each other"
    ));
    let report = load_dir("broken_catalog/package_cycle").unwrap_err();
    assert!(report.diagnostics[0]
        .message
        .contains("`comfort` → `premium` → `lounge` → `comfort`"));
    let report = load_dir("broken_catalog/unknown_brand").unwrap_err();
    assert!(report.diagnostics[0]
        .message
        .contains("Did you mean `aurora`?"));
}

/// Catalog rules that need the tenant (locales, regions) wait for a readable tenant document;
/// the others run anyway, and a broken catalog file does not hide the rest.
#[test]
fn catalog_is_checked_with_a_broken_tenant_and_broken_siblings() {
    let text = minimal_text().replace("currency: CNY", "currency: yuan");
    let dir = fixture("broken_catalog/unknown_region");
    let models = std::fs::read_to_string(dir.join("catalog/models.yaml")).unwrap();
    let report = load_files(&[
        ("tenant.yaml", &text),
        ("catalog/models.yaml", &models),
        (
            "catalog/other.yaml",
            "schema_version: 1\nbrands: [{code: x\n",
        ),
    ])
    .unwrap_err();
    let found: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.file.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("catalog.unknown_region", "catalog/models.yaml"),
            ("catalog.unknown_region", "catalog/models.yaml"),
            ("catalog.unknown_trim", "catalog/models.yaml"),
            ("yaml.syntax", "catalog/other.yaml"),
            ("schema.pattern", "tenant.yaml"),
        ]
    );
    // A tenant that cannot be read at all: no region or locale findings, the rest stays.
    let report = load_files(&[
        ("tenant.yaml", "schema_version: 1\n"),
        ("catalog/models.yaml", &models),
    ])
    .unwrap_err();
    let codes: Vec<_> = report.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "catalog.unknown_trim",
            "schema.required",
            "schema.required",
            "schema.required"
        ]
    );
}

// ---- hostile input ------------------------------------------------------------------------

#[test]
fn alias_bomb_is_rejected_quickly() {
    let mut text = String::from(
        "schema_version: 1\nlol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..=9 {
        let refs = vec![format!("*lol{}", i - 1); 10].join(", ");
        text.push_str(&format!("lol{i}: &lol{i} [{refs}]\n"));
    }
    let started = Instant::now();
    let report = load_files(&[("tenant.yaml", &text)]).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let found: Vec<_> = report
        .errors()
        .map(|d| (d.code, d.line, d.column))
        .collect();
    // The 8th alias on the `lol4` line takes the added values past 100,000.
    assert_eq!(found, [("yaml.alias_limit", Some(6), Some(63))]);
}

/// Catalogs built to make the meaning layer work quadratically (thousands of wrong names
/// against thousands of candidates, trims × groups, long `requires` chains) stay fast.
#[test]
fn hostile_catalogs_are_checked_quickly() {
    let text = minimal_text();
    let head = |trims: &str, groups: &str| {
        format!(
            "schema_version: 1\nbrands: [{{code: a, name: {{zh-CN: a}}}}]\nmodels:\n- code: m\n  \
             brand: a\n  name: {{zh-CN: m}}\n  body_type: suv\n  energy: bev\n  trims:\n{trims}  \
             option_groups:\n{groups}"
        )
    };
    let one_trim = "  - {code: t, name: {zh-CN: t}, price: 1}\n";
    let group = |selection: &str, options: String| {
        format!("  - code: g\n    name: {{zh-CN: g}}\n    selection: {selection}\n    options:\n{options}")
    };
    let options = |n: usize, extra: &dyn Fn(usize) -> String| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "    - {{code: o{i}, name: {{zh-CN: o}}, price: 0{}}}\n",
                    extra(i)
                )
            })
            .collect()
    };
    let unknown_names = head(
        one_trim,
        &group("any", options(6000, &|i| format!(", requires: [q{i}]"))),
    );
    let chain = head(
        one_trim,
        &group(
            "any",
            options(3000, &|i| format!(", requires: [o{}]", i + 1)),
        ),
    );
    let mut table = head(
        one_trim,
        &group("exactly_one", options(2500, &|_| String::new())),
    );
    table.push_str("  compatibility: [{code: c, groups: [g], csv: catalog/c.csv}]\n");
    let csv: String = std::iter::once("g\n".to_string())
        .chain((0..50_000).map(|i| format!("z{i}\n")))
        .collect();
    let trims: String = (0..4000)
        .map(|i| format!("  - {{code: t{i}, name: {{zh-CN: t}}, price: 1}}\n"))
        .collect();
    let groups: String = (0..4000)
        .map(|i| {
            format!(
                "  - {{code: g{i}, name: {{zh-CN: g}}, selection: exactly_one, options: \
                 [{{code: o{i}, name: {{zh-CN: o}}, price: 0}}]}}\n"
            )
        })
        .collect();
    let trims_by_groups = head(&trims, &groups);
    // (case, catalog files, the code expected, how often)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, usize);
    let cases: [Case; 4] = [
        (
            "unknown names",
            &[("catalog/m.yaml", &unknown_names)],
            "catalog.unknown_option",
            6000,
        ),
        (
            "requires chain",
            &[("catalog/m.yaml", &chain)],
            "catalog.too_complex",
            1,
        ),
        (
            "csv values",
            &[("catalog/m.yaml", &table), ("catalog/c.csv", &csv)],
            "catalog.unknown_value",
            50_000,
        ),
        (
            "trims × groups",
            &[("catalog/m.yaml", &trims_by_groups)],
            "catalog.missing_default",
            4000,
        ),
    ];
    for (name, files, code, count) in cases {
        let mut all = vec![("tenant.yaml", text.as_str())];
        all.extend_from_slice(files);
        let started = Instant::now();
        let diagnostics = match load_files(&all) {
            Ok(bundle) => bundle.warnings().to_vec(),
            Err(report) => report.diagnostics,
        };
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(4), "{name}: {elapsed:?}");
        assert_eq!(
            diagnostics.iter().filter(|d| d.code == code).count(),
            count,
            "{name}"
        );
    }
}

#[test]
fn hundred_deep_nesting_is_rejected() {
    let mut text = String::from("schema_version: 1\ntenant:\n");
    for depth in 1..100 {
        text.push_str(&format!("{}n:\n", "  ".repeat(depth)));
    }
    text.push_str(&format!("{}end: 1\n", "  ".repeat(100)));
    let report = load_files(&[("tenant.yaml", &text)]).unwrap_err();
    let found: Vec<_> = report
        .errors()
        .map(|d| (d.code, d.line, d.column, d.pointer.matches('/').count()))
        .collect();
    // Root mapping = level 1, `tenant` = level 2, so level 65 is the 63rd `n:`, on line 65.
    assert_eq!(found, [("yaml.too_deep", Some(65), Some(127), 64)]);
}

#[test]
fn oversized_file_is_rejected_without_parsing() {
    let text = minimal_text();
    let big = format!(
        "models:\n{}",
        "  - { code: X, name: { en: padding } }\n".repeat(30_000)
    );
    assert!(big.len() > LIMITS.max_file_bytes);
    let report = load_files(&[("tenant.yaml", &text), ("catalog/models.yaml", &big)]).unwrap_err();
    let found: Vec<_> = report.errors().map(|d| (d.code, d.file.as_str())).collect();
    assert_eq!(found, [("bundle.too_large", "catalog/models.yaml")]);
}

#[test]
fn too_many_files_or_bytes_are_rejected() {
    let text = minimal_text();
    let mut files = BTreeMap::from([("tenant.yaml".to_string(), text.clone())]);
    for i in 0..LIMITS.max_files {
        files.insert(format!("catalog/m{i}.yaml"), "a: 1\n".to_string());
    }
    let report = load(&BundleSource::from_files(files)).unwrap_err();
    assert_eq!(
        report.errors().map(|d| d.code).collect::<Vec<_>>(),
        ["bundle.too_large"]
    );

    let mut files = BTreeMap::from([("tenant.yaml".to_string(), text)]);
    let chunk = format!("# {}\n", "x".repeat(1_000_000));
    for i in 0..9 {
        files.insert(format!("pages/p{i}.yaml"), chunk.clone());
    }
    let report = load(&BundleSource::from_files(files)).unwrap_err();
    assert_eq!(
        report.errors().map(|d| d.code).collect::<Vec<_>>(),
        ["bundle.too_large"]
    );
}

// ---- hash and diff --------------------------------------------------------------------------

#[test]
fn hash_ignores_formatting_and_comments_but_not_content() {
    let original = load_dir("good/minimal").unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&minimal_text()).unwrap();
    // Same content in block style, other key order, with comments: same hash.
    let mut reformatted = String::from("# regenerated\n");
    reformatted.push_str("roles: ");
    reformatted.push_str(&serde_json::to_string(&value["roles"]).unwrap());
    reformatted.push_str("\norg: # the org tree\n");
    for line in serde_yaml::to_string(&value["org"]).unwrap().lines() {
        reformatted.push_str(&format!("  {line}\n"));
    }
    reformatted.push_str("tenant:\n");
    for line in serde_yaml::to_string(&value["tenant"]).unwrap().lines() {
        reformatted.push_str(&format!("  {line}   # trailing comment\n"));
    }
    reformatted.push_str("schema_version: 1\n");
    let same = load_files(&[("tenant.yaml", &reformatted)]).unwrap_or_else(|r| panic!("{r}"));
    assert_ne!(same.files()["tenant.yaml"], original.files()["tenant.yaml"]);
    assert_eq!(same.hash(), original.hash());
    assert!(diff(&original, &same).is_empty());

    // One meaningful edit: another hash.
    let edited = minimal_text().replace("lat: 31.2304", "lat: 31.2305");
    let changed = load_files(&[("tenant.yaml", &edited)]).unwrap();
    assert_ne!(changed.hash(), original.hash());
    // Adding a carried-along file changes it too.
    let text = minimal_text();
    let with_page =
        load_files(&[("tenant.yaml", &text), ("pages/home.yaml", "blocks: []\n")]).unwrap();
    assert_ne!(with_page.hash(), original.hash());
}

#[test]
fn diff_reports_added_store_and_changed_grant() {
    let old = load_dir("good/minimal").unwrap();
    let text = minimal_text()
        .replace(
            "roles:\n",
            "    - code: NB-001\n      name: { zh-CN: 极光宁波店 }\n      kind: direct\n      \
             region: EAST\n      city: { zh-CN: 宁波 }\n      address: { zh-CN: 中山路 1 号 }\n      \
             location: { lat: 29.87, lon: 121.55 }\n      opening_hours: { daily: [\"09:00-18:00\"] }\nroles:\n",
        )
        .replace(
            "      - actions: [store.read, user.read, user.manage]\n        reach: own_store",
            "      - actions: [store.read, user.read, user.manage]\n        reach: own_dealer_group",
        );
    let new = load_files(&[
        ("tenant.yaml", &text),
        ("catalog/models.yaml", "schema_version: 1\nmodels: []\n"),
    ])
    .unwrap_or_else(|r| panic!("{r}"));
    let changes = diff(&old, &new);
    let summary: Vec<_> = changes
        .iter()
        .map(|c| (c.op, c.file.as_str(), c.pointer.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("add", "catalog/models.yaml", ""),
            ("add", "tenant.yaml", "/org/stores/2"),
            ("replace", "tenant.yaml", "/roles/1/grants/0/reach"),
        ]
    );
    assert_eq!(
        changes[0].new,
        Some(json!({"schema_version": 1, "models": []}))
    );
    assert_eq!(changes[1].new.as_ref().unwrap()["code"], "NB-001");
    assert_eq!(changes[1].old, None);
    assert_eq!(changes[2].old, Some(json!("own_store")));
    assert_eq!(changes[2].new, Some(json!("own_dealer_group")));
    let as_json = serde_json::to_value(&changes[2]).unwrap();
    assert_eq!(as_json["op"], "replace");

    // The other way round: removals point into the old document, each at its own place.
    let back = diff(&new, &old);
    let summary: Vec<_> = back
        .iter()
        .map(|c| (c.op, c.file.as_str(), c.pointer.as_str(), c.old.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            ("remove", "catalog/models.yaml", "", true),
            ("remove", "tenant.yaml", "/org/stores/2", true),
            ("replace", "tenant.yaml", "/roles/1/grants/0/reach", true),
        ]
    );
}

#[test]
fn diff_of_several_trailing_removals_names_each_item() {
    let old = load_dir("good/minimal").unwrap();
    let text = minimal_text().replace("[A, B]", "[A, B, C, D]");
    let new = load_files(&[("tenant.yaml", &text)]).unwrap();
    let changes = diff(&new, &old);
    let summary: Vec<_> = changes
        .iter()
        .map(|c| (c.op, c.pointer.as_str(), c.old.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("remove", "/org/store_levels/2", Some(json!("C"))),
            ("remove", "/org/store_levels/3", Some(json!("D"))),
        ]
    );
}

// ---- never panics ---------------------------------------------------------------------------

/// One edit to the text: delete, insert or replace a char at a position (taken modulo length).
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    Duplicate(usize, usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len().max(1);
        match *edit {
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % len);
            }
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Replace(i, c) if !chars.is_empty() => chars[i % len] = c,
            Edit::Duplicate(i, n) if !chars.is_empty() => {
                let start = i % len;
                let end = (start + n).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(start..start, copy);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    let special = prop::sample::select(vec![
        ':', '-', ' ', '\n', '\t', '[', ']', '{', '}', ',', '&', '*', '!', '?', '"', '\'', '#',
        '|', '>', '%', '@', '`', '0', 'x', '极', '\u{feff}',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), special.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), special).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn load_never_panics_on_mutated_catalog(
        edits in prop::collection::vec(edit(), 1..12),
        csv_edits in prop::collection::vec(edit(), 0..4),
    ) {
        let source = BundleSource::from_dir(fixture("good/catalog")).unwrap();
        let mut files = source.files().clone();
        let model = "catalog/s7.yaml".to_string();
        let csv = "catalog/s7/paint_wheels.csv".to_string();
        files.insert(model.clone(), apply(&files[&model], &edits));
        files.insert(csv.clone(), apply(&files[&csv], &csv_edits));
        match load(&BundleSource::from_files(files)) {
            Ok(bundle) => prop_assert_eq!(bundle.hash().len(), 64),
            Err(report) => {
                prop_assert!(report.has_errors());
                for d in &report.diagnostics {
                    prop_assert!(d.line.is_none_or(|l| l >= 1));
                    prop_assert!(d.column.is_none_or(|c| c >= 1));
                    prop_assert!(d.pointer.is_empty() || d.pointer.starts_with('/'));
                }
            }
        }
    }

    #[test]
    fn load_never_panics_on_mutated_input(edits in prop::collection::vec(edit(), 1..12)) {
        let text = apply(&minimal_text(), &edits);
        match load_files(&[("tenant.yaml", &text)]) {
            Ok(bundle) => prop_assert_eq!(bundle.hash().len(), 64),
            Err(report) => {
                prop_assert!(report.has_errors());
                for d in &report.diagnostics {
                    prop_assert!(d.line.is_none_or(|l| l >= 1));
                    prop_assert!(d.column.is_none_or(|c| c >= 1));
                    prop_assert!(d.pointer.is_empty() || d.pointer.starts_with('/'));
                }
            }
        }
    }
}

#[test]
fn dealer_offers_are_checked_against_stores_models_trims_and_dates() {
    let source = BundleSource::from_dir(fixture("good/catalog")).unwrap();
    let mut files = source.files().clone();
    files.insert(
        "catalog/offers.yaml".into(),
        "schema_version: 1\n\
         offers:\n\
         \x20 - code: ok\n\
         \x20   store: SH-001\n\
         \x20   model: s7\n\
         \x20   trims: [lr-awd]\n\
         \x20   label: { zh-CN: 年末优惠, en: Year end }\n\
         \x20   cash_discount: 500000\n\
         \x20   gifts: [{ label: { zh-CN: 脚垫, en: Mats }, value: 30000 }]\n\
         \x20   valid_from: \"2026-01-01\"\n\
         \x20   valid_until: \"2026-12-31\"\n\
         \x20 - code: ok\n\
         \x20   store: XX-999\n\
         \x20   model: s9\n\
         \x20   label: { en: Bad }\n\
         \x20   valid_from: \"2026-02-30\"\n\
         \x20   valid_until: \"2026-01-01\"\n\
         \x20 - code: late\n\
         \x20   store: SH-001\n\
         \x20   model: s7\n\
         \x20   trims: [nope]\n\
         \x20   label: { en: Late }\n\
         \x20   valid_from: \"2026-06-01\"\n\
         \x20   valid_until: \"2026-05-01\"\n"
            .into(),
    );
    let report = load(&BundleSource::from_files(files.clone())).expect_err("broken offers");
    let found: Vec<(&str, &str)> = report
        .errors()
        .map(|d| (d.code, d.pointer.as_str()))
        .collect();
    for want in [
        ("catalog.duplicate_offer", "/offers/1/code"),
        ("catalog.unknown_store", "/offers/1/store"),
        ("catalog.unknown_model", "/offers/1/model"),
        ("catalog.invalid_date", "/offers/1/valid_from"),
        ("catalog.unknown_trim", "/offers/2/trims/0"),
        ("catalog.date_order", "/offers/2/valid_until"),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:?}");
    }
    assert!(
        report
            .errors()
            .all(|d| d.file == "catalog/offers.yaml" && d.line.is_some()),
        "{report}"
    );
    // The good offer alone loads, and applies only to its trim and days.
    let good: String = files["catalog/offers.yaml"]
        .lines()
        .take(11)
        .collect::<Vec<_>>()
        .join("\n");
    files.insert("catalog/offers.yaml".into(), good);
    let bundle = load(&BundleSource::from_files(files)).unwrap_or_else(|r| panic!("{r}"));
    let offer = &bundle.catalog().offers[0];
    assert!(offer.applies("s7", "lr-awd", "2026-06-15"));
    assert!(!offer.applies("s7", "std", "2026-06-15"));
    assert!(!offer.applies("s7", "lr-awd", "2027-01-01"));
}
