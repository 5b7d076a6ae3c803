//! Loading real bundle directories: one good bundle, a broken fixture per kind of mistake (each
//! asserting the exact code, file, line, column and pointer of every diagnostic), hostile input,
//! the content hash, diffs, and a property test that loading never panics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use forecourt_tenant_config::{
    diff, load, tenant_schema, Bundle, BundleSource, Report, Severity, LIMITS,
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
    let report = load_dir(&format!("broken/{name}")).expect_err("the fixture must not load");
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
        ("catalog/models.yaml", "models: [{code: AURORA-7}]\n"),
        ("scripts/price.rhai", "fn price(x) { x }\n"),
        ("README.md", "# skipped silently"),
        ("extra.yaml", "ignored: true\n"),
    ])
    .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(
        bundle.files().keys().collect::<Vec<_>>(),
        ["catalog/models.yaml", "scripts/price.rhai", "tenant.yaml"]
    );
    let canonical = bundle.canonical();
    assert_eq!(
        canonical["catalog/models.yaml"],
        json!({"models": [{"code": "AURORA-7"}]})
    );
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
        ("catalog/models.yaml", "models: []\n"),
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
    assert_eq!(changes[0].new, Some(json!({"models": []})));
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
