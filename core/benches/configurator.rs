//! Configurator engine benchmarks.
//!
//! `cargo bench -p forecourt --bench configurator`
//!
//! 1. `realistic_*`: the 40-option `aurora` test model (10 groups, packages with contents, three
//!    compatibility tables, region and date rules) — one `evaluate` per click, bar ≤ 50 µs.
//! 2. `industrial_*`: a generated model of industrial size — 100 option groups with up to 40
//!    options each, 100 compatibility tables over 2–4 nearby groups (some with the trim column),
//!    a few requires / excludes / packages — generated from a fixed seed around a hidden valid
//!    build, so it is satisfiable and tightly constrained. Compile time is measured once
//!    (printed) and by criterion with 10 samples; each click is one `evaluate` with a few picks,
//!    bar ≤ 10 ms.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use forecourt::catalog::engine::{CompiledModel, ConfigRequest, Evaluation, OptionState};
use forecourt_tenant_config::catalog::{
    CompatibilityTable, OptionGroup, OptionItem, Selection, Trim, VehicleModel,
};

#[allow(dead_code)]
#[path = "../src/catalog/engine/testkit.rs"]
mod testkit;

/// SplitMix64 with a fixed seed: the industrial model is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn option(code: String, price: i64) -> OptionItem {
    OptionItem {
        code: code.clone(),
        name: testkit::text(&code),
        description: None,
        price,
        image: None,
        available: None,
        requires: Vec::new(),
        excludes: Vec::new(),
        includes: Vec::new(),
        specs: Vec::new(),
    }
}

const GROUPS: usize = 100;
const TABLES: usize = 100;
const TRIMS: usize = 3;

/// The industrial model: see the module documentation. Each table holds the hidden build's
/// row plus 15–74 random rows whose cells are `*` one time in five; the denser the tables (the
/// fewer the `*`s and rows), the more distinct states the diagram must keep apart.
fn industrial() -> VehicleModel {
    let mut rng = Rng(0x00f0_2eca_57c0_ffee);
    let trims: Vec<String> = (0..TRIMS).map(|t| format!("trim{t}")).collect();
    let hidden_trim = 0;
    let mut groups = Vec::new();
    // The hidden valid build: one value per group (for at-most-one groups possibly "none").
    let mut hidden: Vec<String> = Vec::new();
    for g in 0..GROUPS {
        let at_most_one = rng.chance(15);
        let size = match rng.below(10) {
            0..=3 => 2 + rng.below(5),
            4..=7 => 6 + rng.below(15),
            _ => 21 + rng.below(20),
        };
        let options: Vec<OptionItem> = (0..size)
            .map(|i| option(format!("g{g:03}-{i:02}"), 10_000 * rng.below(50) as i64))
            .collect();
        let chosen = if at_most_one && rng.chance(30) {
            "-".to_string()
        } else {
            options[rng.below(size)].code.clone()
        };
        hidden.push(chosen);
        groups.push(OptionGroup {
            code: format!("g{g:03}"),
            name: testkit::text(&format!("group {g}")),
            selection: if at_most_one {
                Selection::AtMostOne
            } else {
                Selection::ExactlyOne
            },
            options,
        });
    }
    let domain = |groups: &[OptionGroup], g: usize| -> Vec<String> {
        let mut values: Vec<String> = groups[g].options.iter().map(|o| o.code.clone()).collect();
        if groups[g].selection == Selection::AtMostOne {
            values.push("-".into());
        }
        values
    };
    // Tables over 2–4 groups within a window of 6 consecutive groups.
    let mut tables = Vec::new();
    for k in 0..TABLES {
        let anchor = (k * GROUPS / TABLES + rng.below(3)).min(GROUPS - 2);
        let width = 2 + rng.below(3);
        let mut columns = vec![anchor];
        while columns.len() < width {
            let g = (anchor + 1 + rng.below(5)).min(GROUPS - 1);
            if !columns.contains(&g) {
                columns.push(g);
            }
            if columns.len() == GROUPS - anchor {
                break;
            }
        }
        let with_trim = rng.chance(10);
        let mut header: Vec<String> = Vec::new();
        if with_trim {
            header.push("trim".into());
        }
        header.extend(columns.iter().map(|&g| groups[g].code.clone()));
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut hidden_row: Vec<String> = Vec::new();
        if with_trim {
            hidden_row.push(trims[hidden_trim].clone());
        }
        hidden_row.extend(columns.iter().map(|&g| hidden[g].clone()));
        rows.push(hidden_row);
        let row_count = 15 + rng.below(60);
        for _ in 0..row_count {
            let mut row = Vec::new();
            if with_trim {
                row.push(if rng.chance(40) {
                    "*".to_string()
                } else {
                    trims[rng.below(TRIMS)].clone()
                });
            }
            for &g in &columns {
                let values = domain(&groups, g);
                row.push(if rng.chance(20) {
                    "*".to_string()
                } else {
                    values[rng.below(values.len())].clone()
                });
            }
            rows.push(row);
        }
        tables.push(CompatibilityTable {
            code: format!("tab{k:03}"),
            description: None,
            groups: header,
            rows: Some(rows),
            csv: None,
        });
    }
    // A few requires / excludes between nearby groups, consistent with the hidden build.
    for _ in 0..30 {
        let g = rng.below(GROUPS - 3);
        let h = g + 1 + rng.below(3);
        let a = rng.below(groups[g].options.len());
        let b = rng.below(groups[h].options.len());
        let a_code = groups[g].options[a].code.clone();
        let b_code = groups[h].options[b].code.clone();
        let a_in = hidden[g] == a_code;
        let b_in = hidden[h] == b_code;
        if rng.chance(50) {
            if !a_in || b_in {
                groups[g].options[a].requires.push(b_code);
            }
        } else if !(a_in && b_in) {
            groups[g].options[a].excludes.push(b_code);
        }
    }
    // Packages: an `any` group whose options include options of a few groups.
    let mut packages = Vec::new();
    for p in 0..6 {
        let mut package = option(format!("pack{p}"), 500_000);
        for _ in 0..3 {
            let g = rng.below(GROUPS);
            if groups[g].selection == Selection::ExactlyOne {
                let o = rng.below(groups[g].options.len());
                package.includes.push(groups[g].options[o].code.clone());
            }
        }
        packages.push(package);
    }
    groups.push(OptionGroup {
        code: "packages".into(),
        name: testkit::text("packages"),
        selection: Selection::Any,
        options: packages,
    });
    let trims = trims
        .iter()
        .enumerate()
        .map(|(t, code)| Trim {
            code: code.clone(),
            name: testkit::text(code),
            price: 20_000_000 + 3_000_000 * t as i64,
            defaults: Vec::new(),
            specs: Vec::new(),
            available: None,
        })
        .collect();
    let mut model = testkit::model("industrial", trims, groups);
    model.compatibility = tables;
    model
}

fn count(evaluation: &Evaluation, wanted: fn(&OptionState) -> bool) -> usize {
    evaluation
        .options
        .iter()
        .filter(|o| wanted(&o.state))
        .count()
}

/// Picks `n` options one click at a time, each one selectable after the previous clicks.
fn click_path(model: &CompiledModel, trim: &str, n: usize, seed: u64) -> ConfigRequest {
    let mut rng = Rng(seed);
    let mut request = ConfigRequest {
        trim: trim.into(),
        selections: Vec::new(),
        region: None,
        date: None,
    };
    for _ in 0..n {
        let evaluation = model.evaluate(&request).expect("evaluates");
        let selectable: Vec<&str> = evaluation
            .options
            .iter()
            .filter(|o| o.state == OptionState::Selectable)
            .map(|o| o.code.as_str())
            .collect();
        if selectable.is_empty() {
            break;
        }
        request
            .selections
            .push(selectable[rng.below(selectable.len())].to_string());
    }
    request
}

/// A click on an option that conflicts with the current picks (but exists on the trim).
fn conflicting_click(model: &CompiledModel, mut request: ConfigRequest) -> ConfigRequest {
    let evaluation = model.evaluate(&request).expect("evaluates");
    for status in &evaluation.options {
        if let OptionState::Unavailable { reason } = &status.state {
            if reason
                .conflicts_with
                .iter()
                .any(|c| request.selections.contains(c))
            {
                request.selections.push(status.code.clone());
                if model.evaluate(&request).is_ok() {
                    return request;
                }
                request.selections.pop();
            }
        }
    }
    request
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("configurator");

    // 1. The realistic 40-option model.
    let aurora = testkit::aurora();
    let realistic = CompiledModel::compile(&aurora).expect("aurora compiles");
    let defaults = ConfigRequest {
        trim: "long-range".into(),
        selections: Vec::new(),
        region: Some("east".into()),
        date: None,
    };
    let picks = ConfigRequest {
        selections: ["paint-blue", "pack-winter", "towbar-fixed", "adas-full"]
            .map(String::from)
            .to_vec(),
        ..defaults.clone()
    };
    let conflict = ConfigRequest {
        selections: ["paint-blue", "pack-winter", "adas-full", "battery-max"]
            .map(String::from)
            .to_vec(),
        ..defaults.clone()
    };
    let e = realistic.evaluate(&conflict).expect("evaluates");
    assert_eq!(e.changes.len(), 1, "the conflict case drops adas-full");
    println!("realistic model: {:?}", realistic.stats());
    group.bench_function("realistic_evaluate_defaults", |b| {
        b.iter(|| realistic.evaluate(black_box(&defaults)).expect("evaluates"))
    });
    group.bench_function("realistic_evaluate_4_picks", |b| {
        b.iter(|| realistic.evaluate(black_box(&picks)).expect("evaluates"))
    });
    group.bench_function("realistic_evaluate_conflict", |b| {
        b.iter(|| realistic.evaluate(black_box(&conflict)).expect("evaluates"))
    });
    group.bench_function("realistic_compile", |b| {
        b.iter(|| CompiledModel::compile(black_box(&aurora)).expect("compiles"))
    });

    // 2. The industrial model.
    let model = industrial();
    let started = Instant::now();
    let industrial = CompiledModel::compile(&model).unwrap_or_else(|issues| {
        panic!("industrial model compiles: {issues:?}");
    });
    let compile_time = started.elapsed();
    let options: usize = model.option_groups.iter().map(|g| g.options.len()).sum();
    println!(
        "industrial model: {} groups, {options} options, {} tables; compiled once in {compile_time:?}; {:?}",
        model.option_groups.len(),
        model.compatibility.len(),
        industrial.stats()
    );
    let start = ConfigRequest {
        trim: "trim1".into(),
        selections: Vec::new(),
        region: None,
        date: None,
    };
    let first = industrial.evaluate(&start).expect("evaluates");
    println!(
        "industrial, no picks: {} selectable, {} unavailable, {} included",
        count(&first, |s| *s == OptionState::Selectable),
        count(&first, |s| matches!(s, OptionState::Unavailable { .. })),
        count(&first, |s| matches!(s, OptionState::Included { .. })),
    );
    let clicks = click_path(&industrial, "trim1", 5, 7);
    let conflict_click = conflicting_click(&industrial, clicks.clone());
    let last = industrial.evaluate(&clicks).expect("evaluates");
    let resolved = industrial.evaluate(&conflict_click).expect("evaluates");
    println!(
        "industrial, {} picks: {} selectable, {} unavailable; conflicting click {:?} changes {} picks",
        clicks.selections.len(),
        count(&last, |s| *s == OptionState::Selectable),
        count(&last, |s| matches!(s, OptionState::Unavailable { .. })),
        conflict_click.selections.last(),
        resolved.changes.len(),
    );
    group.bench_function("industrial_click_no_picks", |b| {
        b.iter(|| industrial.evaluate(black_box(&start)).expect("evaluates"))
    });
    group.bench_function("industrial_click_5_picks", |b| {
        b.iter(|| industrial.evaluate(black_box(&clicks)).expect("evaluates"))
    });
    group.bench_function("industrial_click_conflict", |b| {
        b.iter(|| {
            industrial
                .evaluate(black_box(&conflict_click))
                .expect("evaluates")
        })
    });
    group.sample_size(10);
    group.bench_function("industrial_compile", |b| {
        b.iter(|| CompiledModel::compile(black_box(&model)).expect("compiles"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
