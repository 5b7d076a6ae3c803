//! Layer three for the catalog: the rules across fields and files that no schema can express.
//! Codes unique across all catalog files (brands, models) and within a model (trims, groups,
//! options, tables, specs); references (brands, requires / excludes / includes, defaults,
//! availability by trim and region, compatibility-table columns and values); options that can
//! never be chosen (their requirements exclude each other) and packages that include
//! themselves; plausible defaults; calendar dates; the locales of every text. It also joins
//! compatibility tables to their CSV files, filling `rows` from them.
//!
//! It does not decide whether each trim's defaults form a complete, valid build under every
//! table: the configurator engine in `core` does that. Every rule runs and every finding is
//! kept; a finding about CSV data is located in the CSV file (pointer `/<row>` or
//! `/<row>/<column>`, rows counted from 0 after the header).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use time::{Date, Month};

use crate::catalog::{
    Availability, CatalogDoc, OptionGroup, OptionItem, Selection, Spec, VehicleModel, ANY_VALUE,
    NO_VALUE, TRIM_COLUMN,
};
use crate::csv_table::CsvTable;
use crate::diagnostic::{suggestion, Diagnostic};
use crate::meaning::{listing, text_locales, Checker};
use crate::model::{LocalizedText, TenantDoc};
use crate::spans::SpanMap;

/// A text and its pointer, for the locale rules.
type TextRef<'a> = (String, &'a LocalizedText);

/// One catalog document of the bundle: its path, its typed content when it could be read
/// (absent after a syntax error or a shape error that makes it unreadable), its span map.
pub(crate) struct CatalogInput {
    pub path: String,
    pub doc: Option<CatalogDoc>,
    pub spans: SpanMap,
}

/// How many steps following `requires`/`includes`/`excludes` one model may cost; bounds the
/// work a hostile catalog can cause (a real model needs a few thousand at most).
const CLOSURE_BUDGET: usize = 500_000;

/// How many findings of one load get a "did you mean" and a list of the known names. Each
/// costs a comparison with every candidate, so thousands of wrong names against thousands of
/// candidates must not multiply; past this, messages are shorter.
const HINT_BUDGET: usize = 200;

/// How many package cycles one model reports.
const MAX_CYCLES: usize = 20;

/// The shared hint budget of one load.
struct Hints(Cell<usize>);

impl Hints {
    /// ` Did you mean `x`?` and, when `what` is given, ` {what}: `a`, `b`.` — while the budget
    /// lasts; `candidates` is only called then.
    fn text<'n>(
        &self,
        name: &str,
        what: Option<&str>,
        candidates: impl FnOnce() -> Vec<&'n str>,
    ) -> String {
        let left = self.0.get();
        if left == 0 {
            return String::new();
        }
        self.0.set(left - 1);
        let names = candidates();
        let mut text = suggestion(name, names.iter().copied());
        if let Some(what) = what {
            text.push_str(&format!(" {what}: {}.", listing(names.iter().copied())));
        }
        text
    }
}

/// Where the rows of a table come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RowSource {
    /// Written in the catalog document (or absent).
    Inline,
    /// Read from this CSV file of the bundle.
    Csv(String),
    /// Could not be read; the reason is already reported.
    Unusable,
}

/// Runs every catalog rule over all catalog documents of a bundle. First joins tables to
/// their CSV files (`csvs`: each `catalog/**/*.csv` path, with its parsed data unless it was
/// unreadable), filling their `rows`. `tenant` (when readable) supplies the locales and regions.
pub(crate) fn check(
    inputs: &mut [CatalogInput],
    csvs: &BTreeMap<String, Option<CsvTable>>,
    tenant: Option<&TenantDoc>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let hints = Hints(Cell::new(HINT_BUDGET));
    let sources = attach_csv(inputs, csvs, &hints, &mut out);
    let complete = inputs.iter().all(|i| i.doc.is_some());
    if complete {
        let used: HashSet<&str> = inputs
            .iter()
            .filter_map(|i| i.doc.as_ref())
            .flat_map(|d| &d.models)
            .flat_map(|m| &m.compatibility)
            .filter_map(|t| t.csv.as_deref())
            .collect();
        for path in csvs.keys().filter(|p| !used.contains(p.as_str())) {
            out.push(Diagnostic::warning(
                "catalog.unused_csv",
                path,
                "",
                "no compatibility table names this CSV file in its `csv` field, so it is not \
                 used; name it in a table (`csv: <this path>`) or remove it"
                    .to_string(),
            ));
        }
    }

    let files: Vec<(&str, &CatalogDoc, &SpanMap)> = inputs
        .iter()
        .filter_map(|i| i.doc.as_ref().map(|d| (i.path.as_str(), d, &i.spans)))
        .collect();
    let context = Context {
        files: &files,
        csvs,
        sources: &sources,
        regions: tenant.map(|t| t.org.regions.iter().map(|r| r.code.as_str()).collect()),
        locales: tenant.map(|t| t.tenant.locales.as_slice()),
        stores: tenant.map(|t| t.org.stores.iter().map(|s| s.code.as_str()).collect()),
        hints,
    };
    let brands = unique_codes(&context, &mut out);
    let mut offer_codes: HashSet<&str> = HashSet::new();
    for (f, (path, doc, spans)) in files.iter().enumerate() {
        let mut c = Checker::new(path, spans);
        for (i, brand) in doc.brands.iter().enumerate() {
            texts(
                &mut c,
                &context,
                vec![(format!("/brands/{i}/name"), &brand.name)],
            );
        }
        for (m, model) in doc.models.iter().enumerate() {
            let base = format!("/models/{m}");
            if complete && !brands.contains(model.brand.as_str()) {
                c.error(
                    "catalog.unknown_brand",
                    format!("{base}/brand"),
                    format!(
                        "model `{}` names brand `{}`, which no catalog file of the bundle \
                         defines.{} Add the brand under `brands:` or fix the code.",
                        model.code,
                        model.brand,
                        context.hints.text(&model.brand, Some("Known brands"), || {
                            let mut known: Vec<&str> = brands.iter().copied().collect();
                            known.sort_unstable();
                            known
                        })
                    ),
                );
            }
            let mut scope = Scope::new(c, &context, (f, m), model, base);
            scope.run();
            c = scope.c;
        }
        offers(&mut c, &context, doc, complete, &mut offer_codes);
        out.extend(c.out);
    }
    out
}

/// Dealer offers: unique codes, a known store, model and trims, real dates in order, texts in
/// the tenant's locales.
fn offers<'a>(
    c: &mut Checker<'_>,
    context: &Context<'a>,
    doc: &'a CatalogDoc,
    complete: bool,
    seen: &mut HashSet<&'a str>,
) {
    for (i, offer) in doc.offers.iter().enumerate() {
        let base = format!("/offers/{i}");
        if !seen.insert(offer.code.as_str()) {
            c.error(
                "catalog.duplicate_offer",
                format!("{base}/code"),
                format!(
                    "offer code `{}` is used twice; every offer needs its own code",
                    offer.code
                ),
            );
        }
        if let Some(stores) = &context.stores {
            if !stores.contains(offer.store.as_str()) {
                c.error("catalog.unknown_store", format!("{base}/store"), format!("offer `{}` names store `{}`, which is not a store of tenant.yaml's org tree", offer.code, offer.store));
            }
        }
        let model = context
            .files
            .iter()
            .flat_map(|(_, d, _)| &d.models)
            .find(|m| m.code == offer.model);
        match model {
            None if complete => c.error(
                "catalog.unknown_model",
                format!("{base}/model"),
                format!(
                    "offer `{}` names model `{}`, which no catalog file defines",
                    offer.code, offer.model
                ),
            ),
            None => {}
            Some(model) => {
                for (t, trim) in offer.trims.iter().flatten().enumerate() {
                    if model.trim(trim).is_none() {
                        c.error(
                            "catalog.unknown_trim",
                            format!("{base}/trims/{t}"),
                            format!("model `{}` has no trim `{trim}`", model.code),
                        );
                    }
                }
            }
        }
        let mut dates = [None, None];
        for (slot, (field, text)) in [
            ("valid_from", &offer.valid_from),
            ("valid_until", &offer.valid_until),
        ]
        .into_iter()
        .enumerate()
        {
            match calendar_date(text) {
                DateText::Malformed => {}
                DateText::Invalid => c.error(
                    "catalog.invalid_date",
                    format!("{base}/{field}"),
                    format!("`{text}` is not a date of the calendar"),
                ),
                DateText::Valid(date) => dates[slot] = Some(date),
            }
        }
        if let [Some(from), Some(until)] = dates {
            if from > until {
                c.error("catalog.date_order", format!("{base}/valid_until"), format!("`valid_until` ({until}) is before `valid_from` ({from}); swap or fix the dates"));
            }
        }
        let mut texts_of = vec![(format!("{base}/label"), &offer.label)];
        for (g, gift) in offer.gifts.iter().enumerate() {
            texts_of.push((format!("{base}/gifts/{g}/label"), &gift.label));
        }
        texts(c, context, texts_of);
    }
}

/// Joins each table that names a CSV file to it: checks the file exists and its header names
/// the table's groups, then fills the table's `rows`. Returns each table's row source.
fn attach_csv(
    inputs: &mut [CatalogInput],
    csvs: &BTreeMap<String, Option<CsvTable>>,
    hints: &Hints,
    out: &mut Vec<Diagnostic>,
) -> HashMap<(usize, usize, usize), RowSource> {
    let mut sources = HashMap::new();
    let mut f = 0;
    for input in inputs.iter_mut() {
        let Some(doc) = &mut input.doc else { continue };
        let mut c = Checker::new(&input.path, &input.spans);
        for (m, model) in doc.models.iter_mut().enumerate() {
            let model_code = model.code.clone();
            for (t, table) in model.compatibility.iter_mut().enumerate() {
                let base = format!("/models/{m}/compatibility/{t}");
                let source = match (table.csv.clone(), table.rows.is_some()) {
                    (None, _) => RowSource::Inline,
                    (Some(_), true) => {
                        c.error(
                            "catalog.table_source",
                            format!("{base}/csv"),
                            format!(
                                "table `{}` has both `rows` and `csv`; give the allowed \
                                 combinations in one place only (the `rows` were used)",
                                table.code
                            ),
                        );
                        RowSource::Inline
                    }
                    (Some(path), false) => match csvs.get(&path) {
                        None => {
                            let hint = hints.text(&path, Some("CSV files of the bundle"), || {
                                csvs.keys().map(String::as_str).collect()
                            });
                            c.error(
                                "catalog.missing_csv",
                                format!("{base}/csv"),
                                format!(
                                    "table `{}` reads its rows from `{path}`, but the bundle \
                                     has no such file.{hint}",
                                    table.code,
                                ),
                            );
                            RowSource::Unusable
                        }
                        Some(None) => RowSource::Unusable,
                        Some(Some(data)) => {
                            let line = input
                                .spans
                                .value(&base)
                                .map(|(line, _)| format!(" line {line},"))
                                .unwrap_or_default();
                            let owner = format!(
                                "table `{}` of model `{model_code}` (`{}`,{line} `{base}`)",
                                table.code, input.path
                            );
                            if header_matches(&path, data, &table.groups, &owner, out) {
                                table.rows =
                                    Some(data.records.iter().map(|r| r.values.clone()).collect());
                                RowSource::Csv(path)
                            } else {
                                RowSource::Unusable
                            }
                        }
                    },
                };
                sources.insert((f, m, t), source);
            }
        }
        out.extend(c.out);
        f += 1;
    }
    sources
}

/// Whether the CSV header names exactly `groups`, in order; reports when not.
fn header_matches(
    path: &str,
    data: &CsvTable,
    groups: &[String],
    owner: &str,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let expected = groups.join(",");
    let Some(header) = &data.header else {
        out.push(
            Diagnostic::error(
                "catalog.csv_header",
                path,
                "",
                format!(
                    "this CSV file is empty, but {owner} reads its rows from it; its first line \
                     must name the columns (`{expected}`), each further line is one allowed \
                     combination"
                ),
            )
            .at(Some((1, 1))),
        );
        return false;
    };
    if header.values == groups {
        return true;
    }
    let k = header
        .values
        .iter()
        .zip(groups)
        .position(|(a, b)| a != b)
        .unwrap_or(header.values.len().min(groups.len()));
    out.push(
        Diagnostic::error(
            "catalog.csv_header",
            path,
            "",
            format!(
                "the first line of this CSV file names the columns `{}`, but {owner} lists \
                 the groups `{expected}`; the header must name the same groups in the same \
                 order",
                header.values.join(",")
            ),
        )
        .at(Some(header.field(k))),
    );
    false
}

/// What every model check may look at.
struct Context<'a> {
    files: &'a [(&'a str, &'a CatalogDoc, &'a SpanMap)],
    csvs: &'a BTreeMap<String, Option<CsvTable>>,
    sources: &'a HashMap<(usize, usize, usize), RowSource>,
    /// Region codes of the tenant, when its document was readable.
    regions: Option<HashSet<&'a str>>,
    /// The tenant's locales, when its document was readable.
    locales: Option<&'a [String]>,
    /// Store codes of the tenant, when its document was readable.
    stores: Option<HashSet<&'a str>>,
    hints: Hints,
}

impl Context<'_> {
    /// "`/models/0` (line 3)" in file `f`, or "`/models/0` of `catalog/a.yaml` (line 3)" when
    /// `f` is not `here`.
    fn place(&self, here: usize, f: usize, pointer: &str) -> String {
        let (path, _, spans) = self.files[f];
        let line = spans
            .value(pointer)
            .map(|(line, _)| format!(" (line {line})"))
            .unwrap_or_default();
        if f == here {
            format!("`{pointer}`{line}")
        } else {
            format!("`{pointer}` of `{path}`{line}")
        }
    }
}

/// Brand and model codes unique across all files (the second use is reported). Returns the
/// brand codes.
fn unique_codes<'a>(cx: &Context<'a>, out: &mut Vec<Diagnostic>) -> HashSet<&'a str> {
    let mut brands: HashMap<&str, (usize, String)> = HashMap::new();
    let mut models: HashMap<&str, (usize, String)> = HashMap::new();
    for (f, (path, doc, spans)) in cx.files.iter().enumerate() {
        let mut c = Checker::new(path, spans);
        let entries = doc
            .brands
            .iter()
            .enumerate()
            .map(|(i, b)| ("brand", b.code.as_str(), format!("/brands/{i}")))
            .chain(
                doc.models
                    .iter()
                    .enumerate()
                    .map(|(i, m)| ("model", m.code.as_str(), format!("/models/{i}"))),
            );
        for (kind, code, pointer) in entries {
            let (seen, error) = if kind == "brand" {
                (&mut brands, "catalog.duplicate_brand")
            } else {
                (&mut models, "catalog.duplicate_model")
            };
            match seen.get(code) {
                Some((first_file, first_pointer)) => {
                    let first = cx.place(f, *first_file, first_pointer);
                    c.error(
                        error,
                        format!("{pointer}/code"),
                        format!(
                            "the {kind} code `{code}` is already used by the {kind} at {first}; \
                             {kind} codes must be unique across all catalog files of the \
                             bundle, so remove one or give it another code"
                        ),
                    );
                }
                None => {
                    seen.insert(code, (f, pointer));
                }
            }
        }
        out.extend(c.out);
    }
    brands.into_keys().collect()
}

/// The locale rules of `tenant.yaml`, applied to catalog texts.
fn texts(c: &mut Checker<'_>, cx: &Context<'_>, list: Vec<TextRef<'_>>) {
    if let Some(locales) = cx.locales {
        text_locales(c, locales, list);
    }
}

/// One column of a compatibility table.
enum Column<'a> {
    Trim,
    /// An option group and its option codes.
    Group(&'a OptionGroup, HashSet<&'a str>),
    /// Unknown, not allowed or repeated (already reported): its values are not checked.
    Bad,
}

/// The checks of one model.
struct Scope<'a, 'c> {
    c: Checker<'c>,
    cx: &'c Context<'a>,
    /// Index of the file (among the readable catalog files) and of the model in it.
    at: (usize, usize),
    model: &'a VehicleModel,
    base: String,
    trims: HashMap<&'a str, usize>,
    groups: HashMap<&'a str, &'a OptionGroup>,
    /// Option code → (group index, option index, group, option); the first of a code.
    options: HashMap<&'a str, (usize, usize, &'a OptionGroup, &'a OptionItem)>,
}

impl<'a, 'c> Scope<'a, 'c> {
    fn new(
        c: Checker<'c>,
        cx: &'c Context<'a>,
        at: (usize, usize),
        model: &'a VehicleModel,
        base: String,
    ) -> Self {
        let mut trims = HashMap::new();
        for (j, t) in model.trims.iter().enumerate() {
            trims.entry(t.code.as_str()).or_insert(j);
        }
        let mut groups = HashMap::new();
        let mut options = HashMap::new();
        for (g, group) in model.option_groups.iter().enumerate() {
            groups.entry(group.code.as_str()).or_insert(group);
            for (o, option) in group.options.iter().enumerate() {
                options
                    .entry(option.code.as_str())
                    .or_insert((g, o, group, option));
            }
        }
        Scope {
            c,
            cx,
            at,
            model,
            base,
            trims,
            groups,
            options,
        }
    }

    fn run(&mut self) {
        self.codes();
        self.references();
        self.package_cycles();
        self.contradictions();
        self.defaults();
        self.availability();
        self.tables();
        self.specs();
        self.texts();
    }

    fn option_pointer(&self, g: usize, o: usize) -> String {
        format!("{}/option_groups/{g}/options/{o}", self.base)
    }

    /// Every option with its pointer, in document order.
    fn all_options(&self) -> Vec<(String, &'a OptionGroup, &'a OptionItem)> {
        let model = self.model;
        model
            .option_groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group
                    .options
                    .iter()
                    .enumerate()
                    .map(move |(o, option)| (g, o, group, option))
            })
            .map(|(g, o, group, option)| (self.option_pointer(g, o), group, option))
            .collect()
    }

    fn codes(&mut self) {
        let model = self.model;
        let base = self.base.clone();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (j, trim) in model.trims.iter().enumerate() {
            if let Some(first) = seen.insert(&trim.code, j) {
                seen.insert(&trim.code, first);
                let line = self.c.line_of(&format!("{base}/trims/{first}"));
                self.c.error(
                    "catalog.duplicate_trim",
                    format!("{base}/trims/{j}/code"),
                    format!(
                        "model `{}` already has a trim `{}` (at `{base}/trims/{first}`{line}); \
                         trim codes must be unique within a model",
                        model.code, trim.code
                    ),
                );
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (g, group) in model.option_groups.iter().enumerate() {
            let pointer = format!("{base}/option_groups/{g}/code");
            if group.code == TRIM_COLUMN {
                self.c.error(
                    "catalog.reserved_code",
                    pointer,
                    format!(
                        "`{TRIM_COLUMN}` cannot be an option group code: compatibility tables \
                         use it for the trim column; name the group differently"
                    ),
                );
            } else if let Some(first) = seen.get(group.code.as_str()) {
                let line = self.c.line_of(&format!("{base}/option_groups/{first}"));
                self.c.error(
                    "catalog.duplicate_group",
                    pointer,
                    format!(
                        "model `{}` already has an option group `{}` (at \
                         `{base}/option_groups/{first}`{line}); group codes must be unique \
                         within a model",
                        model.code, group.code
                    ),
                );
            } else {
                seen.insert(&group.code, g);
            }
        }
        let mut seen: HashMap<&str, String> = HashMap::new();
        for (pointer, group, option) in self.all_options() {
            if self.trims.contains_key(option.code.as_str()) {
                self.c.error(
                    "catalog.option_trim_clash",
                    format!("{pointer}/code"),
                    format!(
                        "option `{}` (group `{}`) has the same code as a trim of model `{}`; \
                         `requires` and compatibility tables could not tell them apart, so \
                         give the option another code",
                        option.code, group.code, model.code
                    ),
                );
            }
            match seen.get(option.code.as_str()) {
                Some(first) => {
                    let line = self.c.line_of(first);
                    self.c.error(
                        "catalog.duplicate_option",
                        format!("{pointer}/code"),
                        format!(
                            "model `{}` already has an option `{}` (at `{first}`{line}); option \
                             codes must be unique within a model, across all its groups",
                            model.code, option.code
                        ),
                    );
                }
                None => {
                    seen.insert(&option.code, pointer);
                }
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (t, table) in model.compatibility.iter().enumerate() {
            if let Some(first) = seen.get(table.code.as_str()) {
                let line = self.c.line_of(&format!("{base}/compatibility/{first}"));
                self.c.error(
                    "catalog.duplicate_table",
                    format!("{base}/compatibility/{t}/code"),
                    format!(
                        "model `{}` already has a compatibility table `{}` (at \
                         `{base}/compatibility/{first}`{line}); table codes must be unique \
                         within a model",
                        model.code, table.code
                    ),
                );
            } else {
                seen.insert(&table.code, t);
            }
        }
    }

    /// A hint for a wrong name among `candidates` (see [`Hints`]).
    fn hint(
        &self,
        name: &str,
        what: Option<&str>,
        candidates: impl FnOnce() -> Vec<&'a str>,
    ) -> String {
        self.cx.hints.text(name, what, candidates)
    }

    fn unknown_option(&mut self, pointer: String, field: &str, code: &str, trims_too: bool) {
        let model = self.model;
        let candidates = || {
            let mut names: Vec<&str> = model.options().map(|(_, o)| o.code.as_str()).collect();
            if trims_too {
                names.extend(model.trims.iter().map(|t| t.code.as_str()));
            }
            names
        };
        let model = &model.code;
        let message = if trims_too {
            format!(
                "`{code}` in `{field}` is neither an option nor a trim of model `{model}`.{}",
                self.hint(code, None, candidates)
            )
        } else if self.trims.contains_key(code) {
            format!(
                "`{code}` in `{field}` is a trim of model `{model}`, not an option; only \
                 `requires` may name a trim (to keep an option off some trims, list the trims \
                 it is on in its `available.trims`)"
            )
        } else {
            format!(
                "`{code}` in `{field}` is not an option of model `{model}`.{}",
                self.hint(code, None, candidates)
            )
        };
        self.c.error("catalog.unknown_option", pointer, message);
    }

    fn references(&mut self) {
        for (pointer, _, option) in self.all_options() {
            for (k, r) in option.requires.iter().enumerate() {
                if !self.options.contains_key(r.as_str()) && !self.trims.contains_key(r.as_str()) {
                    self.unknown_option(format!("{pointer}/requires/{k}"), "requires", r, true);
                }
            }
            for (field, list) in [
                ("excludes", &option.excludes),
                ("includes", &option.includes),
            ] {
                for (k, r) in list.iter().enumerate() {
                    if !self.options.contains_key(r.as_str()) {
                        self.unknown_option(format!("{pointer}/{field}/{k}"), field, r, false);
                    }
                }
            }
        }
    }

    /// Cycles in the `includes` graph, each reported once (at most [`MAX_CYCLES`] per model)
    /// at the `includes` entry closing it.
    fn package_cycles(&mut self) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: HashMap<&str, Mark> = HashMap::new();
        let mut reported: HashSet<Vec<&str>> = HashSet::new();
        let mut findings = Vec::new();
        for (_, _, root) in self.all_options() {
            if marks.contains_key(root.code.as_str()) {
                continue;
            }
            marks.insert(&root.code, Mark::Open);
            let mut stack: Vec<(&'a OptionItem, usize)> = vec![(root, 0)];
            while let Some((node, next)) = stack.last_mut() {
                let node: &'a OptionItem = node;
                let Some(target) = node.includes.get(*next) else {
                    marks.insert(&node.code, Mark::Done);
                    stack.pop();
                    continue;
                };
                let k = *next;
                *next += 1;
                let Some(&(_, _, _, child)) = self.options.get(target.as_str()) else {
                    continue;
                };
                match marks.get(child.code.as_str()) {
                    None => {
                        marks.insert(&child.code, Mark::Open);
                        stack.push((child, 0));
                    }
                    Some(Mark::Open) if findings.len() < MAX_CYCLES => {
                        let from = stack
                            .iter()
                            .rposition(|(o, _)| o.code == child.code)
                            .unwrap_or(0);
                        let cycle: Vec<&str> =
                            stack[from..].iter().map(|(o, _)| o.code.as_str()).collect();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if reported.insert(key) {
                            findings.push((node.code.clone(), k, cycle));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        for (code, k, cycle) in findings {
            let Some(&(g, o, _, _)) = self.options.get(code.as_str()) else {
                continue;
            };
            let message = if cycle.len() == 1 {
                format!(
                    "package `{code}` includes itself; a package cannot contain itself, so \
                     remove this entry"
                )
            } else {
                let mut path: Vec<String> =
                    cycle.iter().take(12).map(|c| format!("`{c}`")).collect();
                if cycle.len() > 12 {
                    path.push(format!("… ({} more)", cycle.len() - 12));
                }
                path.push(format!("`{}`", cycle[0]));
                format!(
                    "packages include each other in a cycle: {}; a package cannot contain \
                     itself, so remove one of these `includes` entries",
                    path.join(" → ")
                )
            };
            let pointer = format!("{}/includes/{k}", self.option_pointer(g, o));
            self.c.error("catalog.package_cycle", pointer, message);
        }
    }

    /// Options that can never be chosen: what they need (through `requires` and `includes`,
    /// transitively) contains two options that exclude each other, two options of one
    /// single-choice group, or two trims.
    fn contradictions(&mut self) {
        let mut budget = CLOSURE_BUDGET;
        for (pointer, _, option) in self.all_options() {
            let found = self
                .closure(option, &mut budget)
                .and_then(|(needs, trims)| self.conflict(option, &needs, &trims, &mut budget));
            match found {
                None => {
                    self.c.error(
                        "catalog.too_complex",
                        format!("{}/code", self.base),
                        format!(
                            "the `requires`, `includes` and `excludes` links of model `{}` are \
                             too many to check (more than {CLOSURE_BUDGET} steps); simplify \
                             them",
                            self.model.code
                        ),
                    );
                    return;
                }
                Some(None) => {}
                Some(Some(reason)) => self.c.error(
                    "catalog.contradiction",
                    format!("{pointer}/code"),
                    format!(
                        "option `{}` can never be chosen: {reason}. Fix its `requires`, \
                         `includes` or `excludes`",
                        option.code
                    ),
                ),
            }
        }
    }

    /// Everything `start` brings into a build (itself first, then breadth-first), and the
    /// trims it requires; `None` when the budget runs out.
    fn closure(
        &self,
        start: &'a OptionItem,
        budget: &mut usize,
    ) -> Option<(Vec<&'a OptionItem>, Vec<&'a str>)> {
        let mut order = vec![start];
        let mut seen: HashSet<&str> = HashSet::from([start.code.as_str()]);
        let mut trims: Vec<&str> = Vec::new();
        let mut queue = VecDeque::from([start]);
        while let Some(option) = queue.pop_front() {
            let links = option
                .requires
                .iter()
                .map(|c| (c, true))
                .chain(option.includes.iter().map(|c| (c, false)));
            for (code, required) in links {
                *budget = budget.checked_sub(1)?;
                if let Some(&(_, _, _, next)) = self.options.get(code.as_str()) {
                    if seen.insert(&next.code) {
                        order.push(next);
                        queue.push_back(next);
                    }
                } else if let Some((&trim, _)) = self.trims.get_key_value(code.as_str()) {
                    if required && !trims.contains(&trim) {
                        trims.push(trim);
                    }
                }
            }
        }
        Some((order, trims))
    }

    /// Why a build holding all of `needs` and the `trims` is impossible, if it is; `None`
    /// when the budget runs out.
    fn conflict(
        &self,
        x: &OptionItem,
        needs: &[&OptionItem],
        trims: &[&str],
        budget: &mut usize,
    ) -> Option<Option<String>> {
        let inside: HashSet<&str> = needs.iter().map(|o| o.code.as_str()).collect();
        for a in needs {
            for e in &a.excludes {
                *budget = budget.checked_sub(1)?;
                if !inside.contains(e.as_str()) {
                    continue;
                }
                return Some(Some(if a.code == x.code && *e == x.code {
                    "it excludes itself".to_string()
                } else if a.code == x.code {
                    format!("it needs `{e}`, which it excludes")
                } else if *e == x.code {
                    format!("it needs `{}`, which excludes it", a.code)
                } else {
                    format!("it needs `{}` and `{e}`, which exclude each other", a.code)
                }));
            }
        }
        let mut taken: HashMap<&str, &str> = HashMap::new();
        for a in needs {
            let Some(&(_, _, group, _)) = self.options.get(a.code.as_str()) else {
                continue;
            };
            if !group.selection.is_single() {
                continue;
            }
            if let Some(first) = taken.insert(&group.code, &a.code) {
                let needs = if first == x.code {
                    format!(
                        "it needs `{}`, but it is in the same group `{}`",
                        a.code, group.code
                    )
                } else {
                    format!(
                        "it needs `{first}` and `{}`, which are both in group `{}`",
                        a.code, group.code
                    )
                };
                return Some(Some(format!(
                    "{needs}, where a build holds at most one option (`{}`)",
                    group.selection.as_str()
                )));
            }
        }
        if let [first, second, ..] = trims {
            return Some(Some(format!(
                "it needs the trims `{first}` and `{second}`, but a build has one trim"
            )));
        }
        for &trim in trims {
            for a in needs {
                *budget = budget.checked_sub(1)?;
                if available_on(a, trim) {
                    continue;
                }
                return Some(Some(if a.code == x.code {
                    format!("it requires the trim `{trim}`, but is not available on it")
                } else {
                    format!(
                        "it needs the trim `{trim}` and `{}`, which is not available on that \
                         trim",
                        a.code
                    )
                }));
            }
        }
        Some(None)
    }

    fn defaults(&mut self) {
        let model = self.model;
        let offered = Offered::new(model);
        for (j, trim) in model.trims.iter().enumerate() {
            let tbase = format!("{}/trims/{j}", self.base);
            // Code → the earlier default that takes the group / excludes it.
            let mut chosen: HashSet<&str> = HashSet::new();
            let mut group_taken: HashMap<&str, &str> = HashMap::new();
            let mut excluded_by: HashMap<&str, &str> = HashMap::new();
            let mut kept: Vec<&OptionItem> = Vec::new();
            for (k, code) in trim.defaults.iter().enumerate() {
                let pointer = format!("{tbase}/defaults/{k}");
                let Some(&(_, _, group, option)) = self.options.get(code.as_str()) else {
                    self.unknown_option(pointer, "defaults", code, false);
                    continue;
                };
                if !chosen.insert(&option.code) {
                    continue;
                }
                if !available_on(option, &trim.code) {
                    self.c.error(
                        "catalog.default_unavailable",
                        pointer.clone(),
                        format!(
                            "`{code}` is a default of trim `{}`, but its `available.trims` \
                             does not include `{}`; add the trim there or choose another \
                             default",
                            trim.code, trim.code
                        ),
                    );
                }
                let clash = if let Some(other) = group
                    .selection
                    .is_single()
                    .then(|| group_taken.get(group.code.as_str()))
                    .flatten()
                {
                    Some(format!(
                        "`{code}` and `{other}` are both defaults of trim `{}`, but they are in \
                         group `{}`, where a build holds at most one option",
                        trim.code, group.code
                    ))
                } else {
                    let other = excluded_by.get(option.code.as_str()).copied().or_else(|| {
                        option
                            .excludes
                            .iter()
                            .find(|e| chosen.contains(e.as_str()) && **e != option.code)
                            .map(String::as_str)
                    });
                    other.map(|other| {
                        format!(
                            "`{code}` and `{other}` are both defaults of trim `{}`, but they \
                             exclude each other",
                            trim.code
                        )
                    })
                };
                if let Some(why) = clash {
                    self.c.error(
                        "catalog.default_conflict",
                        pointer.clone(),
                        format!("{why}; keep one of them"),
                    );
                }
                group_taken.entry(&group.code).or_insert(&option.code);
                for e in &option.excludes {
                    excluded_by.entry(e).or_insert(&option.code);
                }
                kept.push(option);
            }
            self.missing_defaults(j, &tbase, &kept, &offered);
        }
    }

    /// Exactly-one groups without a default on a trim (counting what default packages
    /// include) are only a warning, one per trim: the configurator picks the first available
    /// option. Costs about the number of defaults, not trims × groups.
    fn missing_defaults(
        &mut self,
        j: usize,
        tbase: &str,
        chosen: &[&'a OptionItem],
        offered: &Offered<'a>,
    ) {
        let trim = &self.model.trims[j];
        let mut covered_options: HashSet<&str> = HashSet::new();
        let mut covered: HashSet<usize> = HashSet::new();
        let mut queue: VecDeque<&OptionItem> = chosen.iter().copied().collect();
        while let Some(option) = queue.pop_front() {
            if !covered_options.insert(&option.code) {
                continue;
            }
            if let Some(&(g, _, _, _)) = self.options.get(option.code.as_str()) {
                covered.insert(g);
            }
            for code in &option.includes {
                if let Some(&(_, _, _, next)) = self.options.get(code.as_str()) {
                    queue.push_back(next);
                }
            }
        }
        let (count, first) = offered.missing(&trim.code, &covered, 10);
        if count == 0 {
            return;
        }
        let pointer = if trim.defaults.is_empty() {
            format!("{tbase}/code")
        } else {
            format!("{tbase}/defaults")
        };
        let mut names: Vec<String> = first
            .iter()
            .map(|&g| format!("`{}`", self.model.option_groups[g].code))
            .collect();
        if count > names.len() {
            names.push(format!("and {} more", count - names.len()));
        }
        let (groups, them) = if count == 1 {
            ("group", "it")
        } else {
            ("groups", "each")
        };
        self.c.warning(
            "catalog.missing_default",
            pointer,
            format!(
                "trim `{}` has no default in the exactly-one {groups} {}, so the configurator \
                 will start with the first option available; add a default for {them} to \
                 `defaults`",
                trim.code,
                names.join(", ")
            ),
        );
    }

    fn availability(&mut self) {
        let model = self.model;
        for (j, trim) in model.trims.iter().enumerate() {
            if let Some(available) = &trim.available {
                let pointer = format!("{}/trims/{j}/available", self.base);
                self.when_and_where(&pointer, available);
            }
        }
        for (pointer, _, option) in self.all_options() {
            let Some(available) = &option.available else {
                continue;
            };
            let pointer = format!("{pointer}/available");
            for (k, code) in available.trims.iter().flatten().enumerate() {
                if !self.trims.contains_key(code.as_str()) {
                    let hint = self.hint(code, Some("Its trims"), || {
                        model.trims.iter().map(|t| t.code.as_str()).collect()
                    });
                    self.c.error(
                        "catalog.unknown_trim",
                        format!("{pointer}/trims/{k}"),
                        format!("`{code}` is not a trim of model `{}`.{hint}", model.code),
                    );
                }
            }
            self.when_and_where(&pointer, available);
        }
    }

    /// Regions of the org tree, real calendar dates, `from` not after `until`.
    fn when_and_where(&mut self, pointer: &str, available: &Availability) {
        let cx = self.cx;
        if let Some(regions) = &cx.regions {
            for (k, code) in available.regions.iter().flatten().enumerate() {
                if !regions.contains(code.as_str()) {
                    let hint = self.hint(code, Some("Known regions"), || {
                        let mut known: Vec<&str> = regions.iter().copied().collect();
                        known.sort_unstable();
                        known
                    });
                    self.c.error(
                        "catalog.unknown_region",
                        format!("{pointer}/regions/{k}"),
                        format!(
                            "`{code}` is not a region of the tenant's `org.regions` in \
                             `tenant.yaml`.{hint}"
                        ),
                    );
                }
            }
        }
        let mut dates = [None, None];
        for (slot, (field, text)) in [("from", &available.from), ("until", &available.until)]
            .into_iter()
            .enumerate()
        {
            let Some(text) = text else { continue };
            match calendar_date(text) {
                DateText::Malformed => {}
                DateText::Invalid => self.c.error(
                    "catalog.invalid_date",
                    format!("{pointer}/{field}"),
                    format!(
                        "`{text}` is not a date of the calendar (check the month, and the day \
                         within that month: e.g. February has 29 days only in leap years)"
                    ),
                ),
                DateText::Valid(date) => dates[slot] = Some(date),
            }
        }
        if let [Some(from), Some(until)] = dates {
            if from > until {
                self.c.error(
                    "catalog.date_order",
                    format!("{pointer}/until"),
                    format!(
                        "`until` ({until}) is before `from` ({from}), so it could never be \
                         ordered; swap or fix the dates"
                    ),
                );
            }
        }
    }

    fn tables(&mut self) {
        let model = self.model;
        for (t, table) in model.compatibility.iter().enumerate() {
            let tbase = format!("{}/compatibility/{t}", self.base);
            let columns = self.columns(&tbase, &table.groups);
            let (f, m) = self.at;
            let source = self
                .cx
                .sources
                .get(&(f, m, t))
                .cloned()
                .unwrap_or(RowSource::Inline);
            let rows = table.rows();
            let csv = match &source {
                RowSource::Unusable => continue,
                RowSource::Inline => None,
                RowSource::Csv(path) => match self.cx.csvs.get(path) {
                    Some(Some(data)) => Some((path.as_str(), data)),
                    _ => continue,
                },
            };
            if rows.is_empty() {
                let message = format!(
                    "compatibility table `{}` has no rows, so it allows no combination at all \
                     and no build of model `{}` could be valid; list the allowed combinations",
                    table.code, model.code
                );
                match (csv, &table.rows) {
                    (Some((path, data)), _) => {
                        let at = data.header.as_ref().map(|h| h.start);
                        self.c.out.push(
                            Diagnostic::error("catalog.empty_table", path, "", message).at(at),
                        );
                    }
                    (None, Some(_)) => {
                        self.c
                            .error("catalog.empty_table", format!("{tbase}/rows"), message)
                    }
                    (None, None) => self.c.error(
                        "catalog.empty_table",
                        format!("{tbase}/code"),
                        format!("{message} (in `rows`, or in a CSV file named by `csv`)"),
                    ),
                }
                continue;
            }
            let mut seen: HashMap<&[String], usize> = HashMap::new();
            for (r, row) in rows.iter().enumerate() {
                let here = RowPlace {
                    csv,
                    tbase: &tbase,
                    row: r,
                };
                if row.len() != columns.len() {
                    self.report(
                        &here,
                        None,
                        false,
                        "catalog.row_length",
                        format!(
                            "this row has {} value(s), but table `{}` has {} column(s) ({}); \
                             give one value per column (`*` for any)",
                            row.len(),
                            table.code,
                            columns.len(),
                            table.groups.join(", ")
                        ),
                    );
                    continue;
                }
                for (k, (value, column)) in row.iter().zip(&columns).enumerate() {
                    if let Some((code, message)) = self.cell(value, column) {
                        self.report(&here, Some(k), false, code, message);
                    }
                }
                if let Some(first) = seen.get(row.as_slice()) {
                    let first = *first;
                    self.report(
                        &here,
                        None,
                        true,
                        "catalog.duplicate_row",
                        format!(
                            "this row repeats row {first} of table `{}`; remove one of them",
                            table.code
                        ),
                    );
                } else {
                    seen.insert(row, r);
                }
            }
        }
    }

    /// Resolves a table's columns, reporting unknown, repeated and `any` groups.
    fn columns(&mut self, tbase: &str, groups: &[String]) -> Vec<Column<'a>> {
        let mut seen = HashSet::new();
        let mut columns = Vec::new();
        for (k, code) in groups.iter().enumerate() {
            let pointer = format!("{tbase}/groups/{k}");
            let column = if !seen.insert(code.as_str()) {
                self.c.error(
                    "catalog.duplicate_column",
                    pointer,
                    format!("`{code}` is already a column of this table; list each group once"),
                );
                Column::Bad
            } else if code == TRIM_COLUMN {
                Column::Trim
            } else {
                match self.groups.get(code.as_str()) {
                    Some(group) if group.selection.is_single() => Column::Group(
                        group,
                        group.options.iter().map(|o| o.code.as_str()).collect(),
                    ),
                    Some(_) => {
                        self.c.error(
                            "catalog.table_any_group",
                            pointer,
                            format!(
                                "group `{code}` has `selection: any`, so a build may hold \
                                 several of its options and one table value cannot describe \
                                 it; only `exactly_one` and `at_most_one` groups can be table \
                                 columns (use `requires`/`excludes` for the others)"
                            ),
                        );
                        Column::Bad
                    }
                    None => {
                        let model = self.model;
                        let hint = self.hint(code, Some("Its groups"), || {
                            let mut known: Vec<&str> = vec![TRIM_COLUMN];
                            known.extend(model.option_groups.iter().map(|g| g.code.as_str()));
                            known
                        });
                        self.c.error(
                            "catalog.unknown_group",
                            pointer,
                            format!(
                                "`{code}` is not an option group of model `{}` (nor \
                                 `{TRIM_COLUMN}`, the trim column).{hint}",
                                model.code
                            ),
                        );
                        Column::Bad
                    }
                }
            };
            columns.push(column);
        }
        columns
    }

    /// What is wrong with one table value, if anything.
    fn cell(&self, value: &str, column: &Column<'a>) -> Option<(&'static str, String)> {
        if value == ANY_VALUE {
            return None;
        }
        match column {
            Column::Bad => None,
            Column::Trim if value == NO_VALUE => Some((
                "catalog.no_value_not_allowed",
                format!(
                    "`{NO_VALUE}` (no option) makes no sense in the `{TRIM_COLUMN}` column: \
                     every build has a trim; write a trim code or `{ANY_VALUE}`"
                ),
            )),
            Column::Trim if self.trims.contains_key(value) => None,
            Column::Trim => {
                let model = self.model;
                let hint = self.hint(value, Some("Its trims"), || {
                    model.trims.iter().map(|t| t.code.as_str()).collect()
                });
                Some((
                    "catalog.unknown_value",
                    format!(
                        "`{value}` is not a trim of model `{}`.{hint} Write a trim code or \
                         `{ANY_VALUE}` (any trim).",
                        model.code,
                    ),
                ))
            }
            Column::Group(group, _) if value == NO_VALUE => {
                (group.selection == Selection::ExactlyOne).then(|| {
                    (
                        "catalog.no_value_not_allowed",
                        format!(
                            "`{NO_VALUE}` (no option) is not possible in column `{}`: the group \
                             has `selection: exactly_one`, so every build holds one of its \
                             options; write an option code or `{ANY_VALUE}`",
                            group.code
                        ),
                    )
                })
            }
            Column::Group(_, codes) if codes.contains(value) => None,
            Column::Group(group, _) => {
                let hint = self.hint(value, Some("Its options"), || {
                    group.options.iter().map(|o| o.code.as_str()).collect()
                });
                let elsewhere = match self.options.get(value) {
                    Some((_, _, other, _)) => {
                        format!(" (it is an option of group `{}`)", other.code)
                    }
                    None => String::new(),
                };
                Some((
                    "catalog.unknown_value",
                    format!(
                        "`{value}` is not an option of group `{}`{elsewhere}.{hint} Write an \
                         option code of the group, `{ANY_VALUE}` (any){}.",
                        group.code,
                        if group.selection == Selection::AtMostOne {
                            format!(" or `{NO_VALUE}` (none)")
                        } else {
                            String::new()
                        }
                    ),
                ))
            }
        }
    }

    /// Reports about a table row (or one of its values) wherever the row is written.
    fn report(
        &mut self,
        place: &RowPlace<'_>,
        column: Option<usize>,
        warning: bool,
        code: &'static str,
        message: String,
    ) {
        let r = place.row;
        let suffix = column.map(|k| format!("/{k}")).unwrap_or_default();
        match place.csv {
            Some((path, data)) => {
                let record = &data.records[r];
                let at = column.map_or(record.start, |k| record.field(k));
                let pointer = format!("/{r}{suffix}");
                let d = if warning {
                    Diagnostic::warning(code, path, &pointer, message)
                } else {
                    Diagnostic::error(code, path, &pointer, message)
                };
                self.c.out.push(d.at(Some(at)));
            }
            None => {
                let pointer = format!("{}/rows/{r}{suffix}", place.tbase);
                if warning {
                    self.c.warning(code, pointer, message);
                } else {
                    self.c.error(code, pointer, message);
                }
            }
        }
    }

    fn specs(&mut self) {
        let model = self.model;
        let mut lists: Vec<(String, &[Spec])> = vec![(self.base.clone(), &model.specs)];
        for (j, trim) in model.trims.iter().enumerate() {
            lists.push((format!("{}/trims/{j}", self.base), &trim.specs));
        }
        for (pointer, _, option) in self.all_options() {
            lists.push((pointer, &option.specs));
        }
        for (owner, specs) in lists {
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (k, spec) in specs.iter().enumerate() {
                if let Some(first) = seen.get(spec.code.as_str()) {
                    let line = self.c.line_of(&format!("{owner}/specs/{first}"));
                    self.c.error(
                        "catalog.duplicate_spec",
                        format!("{owner}/specs/{k}/code"),
                        format!(
                            "the spec `{}` is already given in this list (at \
                             `{owner}/specs/{first}`{line}); give each spec once",
                            spec.code
                        ),
                    );
                } else {
                    seen.insert(&spec.code, k);
                }
            }
        }
    }

    fn texts(&mut self) {
        let model = self.model;
        let base = self.base.clone();
        let mut list: Vec<TextRef<'a>> = vec![(format!("{base}/name"), &model.name)];
        if let Some(text) = &model.description {
            list.push((format!("{base}/description"), text));
        }
        for (k, image) in model.images.iter().enumerate() {
            list.push((format!("{base}/images/{k}/alt"), &image.alt));
        }
        spec_labels(&mut list, &base, &model.specs);
        for (j, trim) in model.trims.iter().enumerate() {
            let owner = format!("{base}/trims/{j}");
            list.push((format!("{owner}/name"), &trim.name));
            spec_labels(&mut list, &owner, &trim.specs);
        }
        for (g, group) in model.option_groups.iter().enumerate() {
            list.push((format!("{base}/option_groups/{g}/name"), &group.name));
        }
        for (owner, _, option) in self.all_options() {
            list.push((format!("{owner}/name"), &option.name));
            if let Some(text) = &option.description {
                list.push((format!("{owner}/description"), text));
            }
            spec_labels(&mut list, &owner, &option.specs);
        }
        for (t, table) in model.compatibility.iter().enumerate() {
            if let Some(text) = &table.description {
                list.push((format!("{base}/compatibility/{t}/description"), text));
            }
        }
        texts(&mut self.c, self.cx, list);
    }
}

fn spec_labels<'a>(list: &mut Vec<TextRef<'a>>, owner: &str, specs: &'a [Spec]) {
    for (k, spec) in specs.iter().enumerate() {
        list.push((format!("{owner}/specs/{k}/label"), &spec.label));
    }
}

/// Which exactly-one groups of a model offer an option on which trim.
struct Offered<'a> {
    /// Groups (by index) with an option available on every trim.
    everywhere: Vec<usize>,
    /// Trim code → the other groups with an option available on it, ascending.
    on_trim: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Offered<'a> {
    fn new(model: &'a VehicleModel) -> Self {
        let mut everywhere = Vec::new();
        let mut on_trim: HashMap<&str, Vec<usize>> = HashMap::new();
        for (g, group) in model.option_groups.iter().enumerate() {
            if group.selection != Selection::ExactlyOne {
                continue;
            }
            let lists: Option<Vec<&Vec<String>>> = group
                .options
                .iter()
                .map(|o| o.available.as_ref().and_then(|a| a.trims.as_ref()))
                .collect();
            let Some(lists) = lists else {
                everywhere.push(g);
                continue;
            };
            let trims: HashSet<&str> = lists.into_iter().flatten().map(String::as_str).collect();
            for trim in trims {
                on_trim.entry(trim).or_default().push(g);
            }
        }
        Offered {
            everywhere,
            on_trim,
        }
    }

    /// How many groups offer an option on `trim` but are not `covered`, and the first `shown`
    /// of them in document order.
    fn missing(&self, trim: &str, covered: &HashSet<usize>, shown: usize) -> (usize, Vec<usize>) {
        let here = self.on_trim.get(trim).map_or(&[][..], Vec::as_slice);
        let offered =
            |g: &usize| self.everywhere.binary_search(g).is_ok() || here.binary_search(g).is_ok();
        let count =
            self.everywhere.len() + here.len() - covered.iter().filter(|g| offered(g)).count();
        let (mut a, mut b) = (self.everywhere.iter().peekable(), here.iter().peekable());
        let mut first = Vec::new();
        while first.len() < shown {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            };
            let Some(&g) = next else { break };
            if !covered.contains(&g) {
                first.push(g);
            }
        }
        (count, first)
    }
}

/// Where a table row is written: in the catalog document under `tbase`, or in a CSV file.
struct RowPlace<'p> {
    csv: Option<(&'p str, &'p CsvTable)>,
    tbase: &'p str,
    row: usize,
}

/// Whether `option` may be ordered on the trim `trim` (other conditions aside).
fn available_on(option: &OptionItem, trim: &str) -> bool {
    option
        .available
        .as_ref()
        .and_then(|a| a.trims.as_ref())
        .is_none_or(|trims| trims.iter().any(|t| t == trim))
}

/// A date as written.
#[derive(Debug, PartialEq, Eq)]
enum DateText {
    /// Not `YYYY-MM-DD` at all (the shape layer reports it).
    Malformed,
    /// `YYYY-MM-DD`, but no such day.
    Invalid,
    Valid(Date),
}

fn calendar_date(text: &str) -> DateText {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return DateText::Malformed;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return DateText::Malformed;
    }
    let (Ok(year), Ok(month), Ok(day)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
    else {
        return DateText::Malformed;
    };
    match Month::try_from(month).and_then(|month| Date::from_calendar_date(year, month, day)) {
        Ok(date) => DateText::Valid(date),
        Err(_) => DateText::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calendar_dates() {
        assert!(matches!(calendar_date("2024-02-29"), DateText::Valid(_)));
        assert_eq!(calendar_date("2025-02-29"), DateText::Invalid);
        assert_eq!(calendar_date("1900-02-29"), DateText::Invalid);
        assert!(matches!(calendar_date("2000-02-29"), DateText::Valid(_)));
        assert_eq!(calendar_date("2025-13-01"), DateText::Invalid);
        assert_eq!(calendar_date("2025-04-31"), DateText::Invalid);
        assert_eq!(calendar_date("2025-00-10"), DateText::Invalid);
        assert_eq!(calendar_date("2025-1-01"), DateText::Malformed);
        assert_eq!(calendar_date("soon"), DateText::Malformed);
    }

    fn input(doc: serde_json::Value) -> CatalogInput {
        CatalogInput {
            path: "catalog/m.yaml".into(),
            doc: Some(serde_json::from_value(doc).unwrap()),
            spans: SpanMap::default(),
        }
    }

    fn option(code: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut o = json!({"code": code, "name": {"en": code}, "price": 0});
        o.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o
    }

    /// A model with one trim `std`, a paint group (exactly one) and an `any` group.
    fn model(paint: Vec<serde_json::Value>, extras: Vec<serde_json::Value>) -> serde_json::Value {
        json!({
            "schema_version": 1,
            "brands": [{"code": "aurora", "name": {"en": "Aurora"}}],
            "models": [{
                "code": "s7", "brand": "aurora", "name": {"en": "S7"},
                "body_type": "suv", "energy": "bev",
                "trims": [{"code": "std", "name": {"en": "Std"}, "price": 1, "defaults": ["white"]},
                          {"code": "lr", "name": {"en": "LR"}, "price": 2, "defaults": ["white"]}],
                "option_groups": [
                    {"code": "paint", "name": {"en": "Paint"}, "selection": "exactly_one", "options": paint},
                    {"code": "extras", "name": {"en": "Extras"}, "selection": "any", "options": extras},
                ],
            }],
        })
    }

    fn findings(doc: serde_json::Value) -> Vec<(&'static str, String, String)> {
        let mut inputs = [input(doc)];
        check(&mut inputs, &BTreeMap::new(), None)
            .into_iter()
            .map(|d| (d.code, d.pointer, d.message))
            .collect()
    }

    #[test]
    fn a_consistent_model_has_no_findings() {
        let doc = model(
            vec![
                option("white", json!({})),
                option("black", json!({"excludes": ["tow"]})),
            ],
            vec![
                option("tow", json!({"requires": ["lr"]})),
                option("pack", json!({"includes": ["tow"], "requires": ["white"]})),
            ],
        );
        assert_eq!(findings(doc), []);
    }

    #[test]
    fn transitive_contradictions_are_explained() {
        let doc = model(
            vec![
                option("white", json!({})),
                option("black", json!({"excludes": ["tow"]})),
            ],
            vec![
                option("tow", json!({})),
                option("pack", json!({"includes": ["tow"]})),
                option(
                    "bundle",
                    json!({"requires": ["black"], "includes": ["pack"]}),
                ),
                option("two_paints", json!({"requires": ["white", "black"]})),
                option("two_trims", json!({"requires": ["std", "lr"]})),
                option("selfish", json!({"excludes": ["selfish"]})),
                option(
                    "lr_only",
                    json!({"requires": ["std"], "available": {"trims": ["lr"]}}),
                ),
                option(
                    "std_pack",
                    json!({"requires": ["std"], "includes": ["lr_only"]}),
                ),
            ],
        );
        let got = findings(doc);
        let base = "/models/0/option_groups/1/options";
        assert_eq!(
            got.iter()
                .map(|(c, p, _)| (*c, p.as_str()))
                .collect::<Vec<_>>(),
            [
                ("catalog.contradiction", format!("{base}/2/code").as_str()),
                ("catalog.contradiction", format!("{base}/3/code").as_str()),
                ("catalog.contradiction", format!("{base}/4/code").as_str()),
                ("catalog.contradiction", format!("{base}/5/code").as_str()),
                ("catalog.contradiction", format!("{base}/6/code").as_str()),
                ("catalog.contradiction", format!("{base}/7/code").as_str()),
            ]
        );
        assert!(got[0].2.contains(
            "option `bundle` can never be chosen: it needs `black` and `tow`, which exclude each \
             other"
        ));
        assert!(got[1].2.contains("both in group `paint`"), "{}", got[1].2);
        assert!(
            got[2].2.contains("the trims `std` and `lr`"),
            "{}",
            got[2].2
        );
        assert!(got[3].2.contains("it excludes itself"), "{}", got[3].2);
        assert!(
            got[4]
                .2
                .contains("it requires the trim `std`, but is not available on it"),
            "{}",
            got[4].2
        );
        assert!(
            got[5]
                .2
                .contains("it needs the trim `std` and `lr_only`, which is not available"),
            "{}",
            got[5].2
        );
    }

    #[test]
    fn package_cycles_are_reported_once() {
        let doc = model(
            vec![option("white", json!({}))],
            vec![
                option("a", json!({"includes": ["b"]})),
                option("b", json!({"includes": ["c"]})),
                option("c", json!({"includes": ["a"]})),
                option("d", json!({"includes": ["d", "a"]})),
            ],
        );
        let got = findings(doc);
        let cycles: Vec<_> = got
            .iter()
            .filter(|(c, _, _)| *c == "catalog.package_cycle")
            .collect();
        assert_eq!(cycles.len(), 2, "{got:#?}");
        assert_eq!(
            cycles[0].1,
            "/models/0/option_groups/1/options/2/includes/0"
        );
        assert!(
            cycles[0].2.contains("`a` → `b` → `c` → `a`"),
            "{}",
            cycles[0].2
        );
        assert_eq!(
            cycles[1].1,
            "/models/0/option_groups/1/options/3/includes/0"
        );
        assert!(cycles[1].2.contains("package `d` includes itself"));
    }

    #[test]
    fn defaults_rules() {
        let mut doc = model(
            vec![
                option("white", json!({})),
                option("black", json!({"available": {"trims": ["lr"]}})),
            ],
            vec![option("tow", json!({"excludes": ["white"]}))],
        );
        doc["models"][0]["trims"][0]["defaults"] = json!(["white", "black", "tow", "nope"]);
        doc["models"][0]["trims"][1]["defaults"] = json!([]);
        let got: Vec<_> = findings(doc).into_iter().map(|(c, p, _)| (c, p)).collect();
        assert_eq!(
            got,
            [
                (
                    "catalog.default_unavailable",
                    "/models/0/trims/0/defaults/1".to_string()
                ),
                (
                    "catalog.default_conflict",
                    "/models/0/trims/0/defaults/1".to_string()
                ),
                (
                    "catalog.default_conflict",
                    "/models/0/trims/0/defaults/2".to_string()
                ),
                (
                    "catalog.unknown_option",
                    "/models/0/trims/0/defaults/3".to_string()
                ),
                (
                    "catalog.missing_default",
                    "/models/0/trims/1/code".to_string()
                ),
            ]
        );
    }

    #[test]
    fn tables_need_rows_and_single_choice_groups() {
        let mut doc = model(
            vec![option("white", json!({}))],
            vec![option("tow", json!({}))],
        );
        doc["models"][0]["compatibility"] = json!([
            {"code": "a", "groups": ["trim", "extras", "paint", "paint"], "rows": [["std", "tow", "white", "white"]]},
            {"code": "b", "groups": ["paint"]},
            {"code": "c", "groups": ["paint"], "rows": [["white"], ["white"], ["-"], ["*"]]},
        ]);
        let got: Vec<_> = findings(doc).into_iter().map(|(c, p, _)| (c, p)).collect();
        let t = "/models/0/compatibility";
        assert_eq!(
            got,
            [
                ("catalog.table_any_group", format!("{t}/0/groups/1")),
                ("catalog.duplicate_column", format!("{t}/0/groups/3")),
                ("catalog.empty_table", format!("{t}/1/code")),
                ("catalog.duplicate_row", format!("{t}/2/rows/1")),
                ("catalog.no_value_not_allowed", format!("{t}/2/rows/2/0")),
            ]
        );
    }

    #[test]
    fn csv_rows_are_attached_and_checked_in_the_csv_file() {
        let mut doc = model(
            vec![option("white", json!({})), option("black", json!({}))],
            vec![option("tow", json!({}))],
        );
        doc["models"][0]["compatibility"] = json!([
            {"code": "a", "groups": ["trim", "paint"], "csv": "catalog/a.csv"},
            {"code": "b", "groups": ["paint", "trim"], "csv": "catalog/a.csv"},
            {"code": "c", "groups": ["paint"], "csv": "catalog/missing.csv"},
        ]);
        let csv =
            crate::csv_table::parse("catalog/a.csv", "trim,paint\nstd,white\nlr,red\n").unwrap();
        let csvs = BTreeMap::from([
            ("catalog/a.csv".to_string(), Some(csv)),
            ("catalog/unused.csv".to_string(), Some(CsvTable::default())),
        ]);
        let mut inputs = [input(doc)];
        let got: Vec<_> = check(&mut inputs, &csvs, None)
            .into_iter()
            .map(|d| (d.code, d.file, d.pointer, d.line, d.column))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "catalog.csv_header",
                    "catalog/a.csv".to_string(),
                    String::new(),
                    Some(1),
                    Some(1)
                ),
                (
                    "catalog.missing_csv",
                    "catalog/m.yaml".to_string(),
                    "/models/0/compatibility/2/csv".to_string(),
                    None,
                    None
                ),
                (
                    "catalog.unused_csv",
                    "catalog/unused.csv".to_string(),
                    String::new(),
                    None,
                    None
                ),
                (
                    "catalog.unknown_value",
                    "catalog/a.csv".to_string(),
                    "/1/1".to_string(),
                    Some(3),
                    Some(4)
                ),
            ]
        );
        let tables = &inputs[0].doc.as_ref().unwrap().models[0].compatibility;
        assert_eq!(tables[0].rows().len(), 2);
        assert_eq!(tables[0].rows()[0], ["std", "white"]);
        assert_eq!(tables[0].csv.as_deref(), Some("catalog/a.csv"));
        assert!(tables[1].rows.is_none());
    }

    #[test]
    fn references_name_options_or_trims() {
        let doc = model(
            vec![option("white", json!({"requires": ["std", "nope"]}))],
            vec![
                option("tow", json!({"excludes": ["std"], "includes": ["whte"]})),
                option("std", json!({})),
            ],
        );
        let got = findings(doc);
        let codes: Vec<_> = got.iter().map(|(c, p, _)| (*c, p.as_str())).collect();
        let o = "/models/0/option_groups";
        assert_eq!(
            codes,
            [
                (
                    "catalog.option_trim_clash",
                    format!("{o}/1/options/1/code").as_str()
                ),
                (
                    "catalog.unknown_option",
                    format!("{o}/0/options/0/requires/1").as_str()
                ),
                (
                    "catalog.unknown_option",
                    format!("{o}/1/options/0/includes/0").as_str()
                ),
            ]
        );
        // Without the clashing option, `std` in `excludes` names a trim.
        let doc = model(
            vec![option("white", json!({}))],
            vec![option(
                "tow",
                json!({"excludes": ["std"], "includes": ["whte"]}),
            )],
        );
        let got = findings(doc);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0]
                .2
                .contains("`std` in `excludes` is a trim of model `s7`, not an option"),
            "{}",
            got[0].2
        );
        assert!(got[1].2.contains("Did you mean `white`?"), "{}", got[1].2);
    }
}
