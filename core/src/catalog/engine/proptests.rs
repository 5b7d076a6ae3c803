//! Property tests: random small models (≤ 6 groups, ≤ 4 options each, random requires /
//! excludes / availability / tables, a package) against an independent brute-force enumerator
//! that reads the catalog model directly (no diagram, no shared code with the engine).

use std::collections::HashMap;

use forecourt_tenant_config::catalog::{
    Availability, CompatibilityTable, OptionGroup, Selection, VehicleModel, ANY_VALUE, NO_VALUE,
};
use proptest::prelude::*;

use super::testkit::*;
use super::*;

/// SplitMix64: a tiny deterministic generator driven by proptest's seed.
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
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const REGIONS: [&str; 2] = ["north", "south"];

fn generate(seed: u64) -> VehicleModel {
    use Selection::{Any, AtMostOne, ExactlyOne};
    let mut rng = Rng(seed);
    let trim_count = 1 + rng.below(3);
    let group_count = 2 + rng.below(4);
    let mut groups: Vec<OptionGroup> = Vec::new();
    let mut any_groups = 0;
    for g in 0..group_count {
        let mut selection = match rng.below(8) {
            0..=3 => ExactlyOne,
            4 | 5 => AtMostOne,
            _ => Any,
        };
        if selection == Any && any_groups == 1 {
            selection = ExactlyOne;
        }
        if selection == Any {
            any_groups += 1;
        }
        let count = if selection == Any {
            1 + rng.below(3)
        } else {
            1 + rng.below(4)
        };
        let options = (0..count)
            .map(|i| opt(&format!("g{g}o{i}"), 100 * rng.below(5) as i64))
            .collect();
        groups.push(group(&format!("g{g}"), selection, options));
    }
    // The package group (always `any`).
    groups.push(group(
        "pk",
        Any,
        vec![opt("pack", 100 * rng.below(5) as i64)],
    ));
    let codes: Vec<String> = groups
        .iter()
        .flat_map(|g| g.options.iter().map(|o| o.code.clone()))
        .collect();
    let trims: Vec<String> = (0..trim_count).map(|t| format!("t{t}")).collect();
    let locate = |groups: &[OptionGroup], code: &str| -> (usize, usize) {
        for (g, group) in groups.iter().enumerate() {
            if let Some(i) = group.options.iter().position(|o| o.code == code) {
                return (g, i);
            }
        }
        (0, 0)
    };

    // The package includes one or two options of other groups.
    let package = groups.len() - 1;
    for _ in 0..1 + rng.below(2) {
        let target = codes[rng.below(codes.len() - 1)].clone();
        if !groups[package].options[0].includes.contains(&target) {
            groups[package].options[0].includes.push(target);
        }
    }
    for _ in 0..rng.below(4) {
        let a = codes[rng.below(codes.len())].clone();
        let (g, i) = locate(&groups, &a);
        if rng.chance(6) {
            let t = trims[rng.below(trims.len())].clone();
            groups[g].options[i].requires.push(t);
        } else {
            let b = codes[rng.below(codes.len())].clone();
            if b != a {
                groups[g].options[i].requires.push(b);
            }
        }
    }
    for _ in 0..rng.below(4) {
        let a = codes[rng.below(codes.len())].clone();
        let b = codes[rng.below(codes.len())].clone();
        if a != b {
            let (g, i) = locate(&groups, &a);
            groups[g].options[i].excludes.push(b);
        }
    }
    for code in &codes {
        let (g, i) = locate(&groups, code);
        let mut availability = Availability::default();
        if rng.chance(8) {
            let allowed: Vec<String> = trims.iter().filter(|_| rng.chance(2)).cloned().collect();
            availability.trims = Some(allowed);
        }
        if rng.chance(10) {
            availability.regions = Some(vec![REGIONS[0].to_string()]);
        }
        if rng.chance(10) {
            availability.from = Some("2025-03-01".into());
            availability.until = Some("2025-06-30".into());
        }
        if availability != Availability::default() {
            groups[g].options[i].available = Some(availability);
        }
    }

    // Tables over two or three exactly/at-most-one groups, sometimes with the trim.
    let table_groups: Vec<usize> = (0..groups.len())
        .filter(|&g| groups[g].selection != Any)
        .collect();
    let mut tables = Vec::new();
    for k in 0..rng.below(3) {
        if table_groups.len() < 2 {
            break;
        }
        let mut columns: Vec<String> = Vec::new();
        let mut values: Vec<Vec<String>> = Vec::new();
        if rng.chance(3) {
            columns.push("trim".into());
            values.push(trims.clone());
        }
        let width = 2 + rng.below(2);
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < width.min(table_groups.len()) {
            let g = table_groups[rng.below(table_groups.len())];
            if !chosen.contains(&g) {
                chosen.push(g);
            }
        }
        for &g in &chosen {
            columns.push(groups[g].code.clone());
            let mut domain: Vec<String> =
                groups[g].options.iter().map(|o| o.code.clone()).collect();
            if groups[g].selection == AtMostOne {
                domain.push(NO_VALUE.to_string());
            }
            values.push(domain);
        }
        // Every tuple, each kept with probability 1/2, some cells widened to `*`.
        let mut rows = Vec::new();
        let mut tuple = vec![0usize; values.len()];
        'tuples: loop {
            if rng.chance(2) {
                let row: Vec<String> = tuple
                    .iter()
                    .zip(&values)
                    .map(|(&i, domain)| {
                        if rng.chance(6) {
                            ANY_VALUE.to_string()
                        } else {
                            domain[i].clone()
                        }
                    })
                    .collect();
                rows.push(row);
            }
            for c in 0..tuple.len() {
                tuple[c] += 1;
                if tuple[c] < values[c].len() {
                    continue 'tuples;
                }
                tuple[c] = 0;
            }
            break;
        }
        tables.push(CompatibilityTable {
            code: format!("tab{k}"),
            description: None,
            groups: columns,
            rows: Some(rows),
            csv: None,
        });
    }

    let mut trim_list = Vec::new();
    for (t, code) in trims.iter().enumerate() {
        let mut defaults: Vec<&str> = Vec::new();
        for group in &groups {
            let take = match group.selection {
                ExactlyOne => rng.chance(2),
                _ => rng.chance(6),
            };
            if take {
                defaults.push(&group.options[rng.below(group.options.len())].code);
            }
        }
        let mut trim = trim(code, 10_000 + 1_000 * t as i64, &defaults);
        if rng.chance(8) {
            trim.available = Some(Availability {
                regions: Some(vec![REGIONS[0].to_string()]),
                ..Availability::default()
            });
        }
        trim_list.push(trim);
    }
    let mut m = model("random", trim_list, groups);
    m.compatibility = tables;
    m
}

/// The independent oracle: enumerates every build and checks every rule on the raw model.
struct Brute<'a> {
    model: &'a VehicleModel,
    codes: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Brute<'a> {
    fn new(model: &'a VehicleModel) -> Brute<'a> {
        let codes: Vec<&str> = model
            .option_groups
            .iter()
            .flat_map(|g| g.options.iter().map(|o| o.code.as_str()))
            .collect();
        let index = codes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        Brute {
            model,
            codes,
            index,
        }
    }

    fn option(&self, i: usize) -> &'a forecourt_tenant_config::catalog::OptionItem {
        let mut k = i;
        for group in &self.model.option_groups {
            if k < group.options.len() {
                return &group.options[k];
            }
            k -= group.options.len();
        }
        unreachable!("option index")
    }

    fn bit(&self, code: &str) -> u64 {
        1u64 << self.index[code]
    }

    fn available(
        a: Option<&Availability>,
        trim: &str,
        region: Option<&str>,
        date: Option<&str>,
    ) -> bool {
        let Some(a) = a else { return true };
        if let Some(trims) = &a.trims {
            if !trims.iter().any(|t| t == trim) {
                return false;
            }
        }
        if let (Some(regions), Some(region)) = (&a.regions, region) {
            if !regions.iter().any(|r| r == region) {
                return false;
            }
        }
        if let Some(day) = date {
            // `YYYY-MM-DD` compares chronologically as text.
            if a.from.as_deref().is_some_and(|f| day < f)
                || a.until.as_deref().is_some_and(|u| day > u)
            {
                return false;
            }
        }
        true
    }

    /// Every valid build of `trim` as a bit set of options.
    fn builds(&self, trim: &str, region: Option<&str>, date: Option<&str>) -> Vec<u64> {
        let mut partial = vec![0u64];
        let mut base = 0;
        for group in &self.model.option_groups {
            let n = group.options.len();
            let choices: Vec<u64> = match group.selection {
                Selection::ExactlyOne => (0..n).map(|i| 1u64 << (base + i)).collect(),
                Selection::AtMostOne => std::iter::once(0)
                    .chain((0..n).map(|i| 1u64 << (base + i)))
                    .collect(),
                Selection::Any => (0..1u64 << n).map(|s| s << base).collect(),
            };
            partial = partial
                .iter()
                .flat_map(|&p| choices.iter().map(move |&c| p | c))
                .collect();
            base += n;
        }
        partial
            .into_iter()
            .filter(|&b| self.valid(trim, b, region, date))
            .collect()
    }

    fn valid(&self, trim: &str, build: u64, region: Option<&str>, date: Option<&str>) -> bool {
        for i in 0..self.codes.len() {
            if build & (1 << i) == 0 {
                continue;
            }
            let option = self.option(i);
            if !Self::available(option.available.as_ref(), trim, region, date) {
                return false;
            }
            for r in &option.requires {
                let ok = match self.index.get(r.as_str()) {
                    Some(&j) => build & (1 << j) != 0,
                    None => r == trim,
                };
                if !ok {
                    return false;
                }
            }
            if option.excludes.iter().any(|x| build & self.bit(x) != 0) {
                return false;
            }
            if option.includes.iter().any(|x| build & self.bit(x) == 0) {
                return false;
            }
        }
        for table in &self.model.compatibility {
            let tuple: Vec<String> = table
                .groups
                .iter()
                .map(|column| {
                    if column == "trim" {
                        return trim.to_string();
                    }
                    let g = self
                        .model
                        .option_groups
                        .iter()
                        .position(|g| g.code == *column)
                        .expect("column");
                    self.model.option_groups[g]
                        .options
                        .iter()
                        .find(|o| build & self.bit(&o.code) != 0)
                        .map_or(NO_VALUE.to_string(), |o| o.code.clone())
                })
                .collect();
            let matches = table.rows.iter().flatten().any(|row| {
                row.iter()
                    .zip(&tuple)
                    .all(|(cell, value)| cell == ANY_VALUE || cell == value)
            });
            if !matches {
                return false;
            }
        }
        true
    }

    /// Number of values differing from the trim's defaults (the engine's "non-default").
    fn nondefault(&self, trim: &str, build: u64) -> u32 {
        let defaults = &self
            .model
            .trims
            .iter()
            .find(|t| t.code == trim)
            .expect("trim")
            .defaults;
        let default_bits: u64 = defaults.iter().map(|d| self.bit(d)).fold(0, |a, b| a | b);
        let mut count = 0;
        let mut base = 0;
        for group in &self.model.option_groups {
            let n = group.options.len();
            let mask = ((1u64 << n) - 1) << base;
            match group.selection {
                Selection::Any => count += ((build ^ default_bits) & mask).count_ones(),
                Selection::AtMostOne => count += u32::from((build & mask) != (default_bits & mask)),
                Selection::ExactlyOne => {
                    if default_bits & mask != 0 {
                        count += u32::from((build & mask) != (default_bits & mask));
                    }
                }
            }
            base += n;
        }
        count
    }

    fn list_price(&self, build: u64) -> i64 {
        (0..self.codes.len())
            .filter(|&i| build & (1 << i) != 0)
            .map(|i| self.option(i).price)
            .sum()
    }

    fn charged_price(&self, trim: &str, build: u64) -> i64 {
        let trim_price = self
            .model
            .trims
            .iter()
            .find(|t| t.code == trim)
            .expect("trim")
            .price;
        trim_price
            + (0..self.codes.len())
                .filter(|&i| build & (1 << i) != 0)
                .filter(|&i| {
                    !(0..self.codes.len()).any(|p| {
                        build & (1 << p) != 0
                            && self.option(p).includes.iter().any(|x| x == self.codes[i])
                    })
                })
                .map(|i| self.option(i).price)
                .sum::<i64>()
    }
}

fn build_of(brute: &Brute<'_>, evaluation: &Evaluation) -> u64 {
    evaluation
        .resolved
        .values()
        .flatten()
        .map(|c| brute.bit(c))
        .fold(0, |a, b| a | b)
}

fn mask_of(brute: &Brute<'_>, codes: &[String]) -> u64 {
    codes.iter().map(|c| brute.bit(c)).fold(0, |a, b| a | b)
}

fn dedup_last(selections: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, s) in selections.iter().enumerate() {
        if !selections[i + 1..].contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn check_compile(
    model: &VehicleModel,
    brute: &Brute<'_>,
) -> Result<Option<CompiledModel>, TestCaseError> {
    let per_trim: Vec<Vec<u64>> = model
        .trims
        .iter()
        .map(|t| brute.builds(&t.code, None, None))
        .collect();
    let compiled = CompiledModel::compile(model);
    let any_build = per_trim.iter().any(|b| !b.is_empty());
    match compiled {
        Ok(compiled) => {
            prop_assert!(any_build, "compiled although no build exists");
            for (t, trim) in model.trims.iter().enumerate() {
                prop_assert!(!per_trim[t].is_empty(), "trim {} has no build", trim.code);
                let defaults = mask_of(brute, &trim.defaults);
                prop_assert!(
                    per_trim[t].iter().any(|&b| b & defaults == defaults),
                    "defaults of {} conflict",
                    trim.code
                );
            }
            Ok(Some(compiled))
        }
        Err(issues) => {
            for issue in &issues {
                match (&issue.kind, &issue.subject) {
                    (IssueKind::NoValidBuild, _) => prop_assert!(!any_build),
                    (IssueKind::TrimWithoutBuild, IssueSubject::Trim(code)) => {
                        let t = model
                            .trims
                            .iter()
                            .position(|t| t.code == *code)
                            .expect("trim");
                        prop_assert!(per_trim[t].is_empty());
                    }
                    (IssueKind::DefaultsConflict, IssueSubject::Trim(code)) => {
                        let t = model
                            .trims
                            .iter()
                            .position(|t| t.code == *code)
                            .expect("trim");
                        let defaults = mask_of(brute, &model.trims[t].defaults);
                        prop_assert!(!per_trim[t].iter().any(|&b| b & defaults == defaults));
                    }
                    other => prop_assert!(false, "unexpected issue {other:?}: {issue}"),
                }
            }
            // Conversely, every trim with a problem is reported.
            for (t, trim) in model.trims.iter().enumerate() {
                let defaults = mask_of(brute, &trim.defaults);
                if any_build && !per_trim[t].iter().any(|&b| b & defaults == defaults) {
                    prop_assert!(
                        issues
                            .iter()
                            .any(|i| i.subject == IssueSubject::Trim(trim.code.clone())),
                        "trim {} not reported: {issues:?}",
                        trim.code
                    );
                }
            }
            Ok(None)
        }
    }
}

fn check_request(
    model: &VehicleModel,
    compiled: &CompiledModel,
    brute: &Brute<'_>,
    request: &ConfigRequest,
) -> Result<(), TestCaseError> {
    let date_text = request.date.map(|d| d.to_string());
    let region = request.region.as_deref();
    let trim = model
        .trims
        .iter()
        .find(|t| t.code == request.trim)
        .expect("trim");
    let result = compiled.evaluate(request);
    if !Brute::available(
        trim.available.as_ref(),
        &trim.code,
        region,
        date_text.as_deref(),
    ) {
        let unavailable = matches!(result, Err(EngineError::TrimUnavailable { .. }));
        prop_assert!(unavailable, "expected TrimUnavailable, got {:?}", result);
        return Ok(());
    }
    let builds = brute.builds(&trim.code, region, date_text.as_deref());
    let picks = dedup_last(&request.selections);
    let new = picks.last().map(|c| brute.bit(c)).unwrap_or(0);
    let with_new: Vec<u64> = builds.iter().copied().filter(|&b| b & new == new).collect();
    if with_new.is_empty() {
        let refused = matches!(
            result,
            Err(EngineError::NoValidBuild { .. }) | Err(EngineError::OptionUnavailable { .. })
        );
        prop_assert!(refused, "expected an error, got {:?}", result);
        if builds.is_empty() && picks.is_empty() {
            let no_build = matches!(result, Err(EngineError::NoValidBuild { .. }));
            prop_assert!(no_build, "expected NoValidBuild, got {:?}", result);
        }
        return Ok(());
    }
    let evaluation = match result {
        Ok(e) => e,
        Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e:?}"))),
    };
    let build = build_of(brute, &evaluation);
    let kept = mask_of(brute, &evaluation.selections);

    // (a) The resolved build is valid and holds the standing picks and the new pick.
    prop_assert!(
        builds.contains(&build),
        "resolved build is not valid: {:?}",
        evaluation.resolved
    );
    prop_assert_eq!(build & kept, kept);
    prop_assert_eq!(build & new, new);
    for s in &evaluation.selections {
        prop_assert!(picks.contains(s));
    }

    // (d) Fewest dropped picks, and among those the oldest yield (smallest sum of positions).
    let cost = |b: u64| -> (usize, usize) {
        picks
            .iter()
            .enumerate()
            .filter(|(_, c)| b & brute.bit(c) == 0)
            .fold((0, 0), |(n, r), (i, _)| (n + 1, r + i + 1))
    };
    let best = with_new.iter().map(|&b| cost(b)).min().expect("a build");
    prop_assert_eq!(cost(build), best);
    prop_assert_eq!(
        evaluation.changes.len(),
        picks.len() - evaluation.selections.len()
    );
    for change in &evaluation.changes {
        prop_assert!(
            picks.contains(&change.option) && !evaluation.selections.contains(&change.option)
        );
    }

    // The completion: fewest non-default values, then cheapest list price, given the picks.
    let fill = |b: u64| (brute.nondefault(&trim.code, b), brute.list_price(b));
    let best_fill = builds
        .iter()
        .filter(|&&b| b & kept == kept)
        .map(|&b| fill(b))
        .min()
        .expect("a build");
    prop_assert_eq!(fill(build), best_fill);

    // (b) States: in the build ⇔ selected/included; selectable ⇔ a valid build with every
    // standing pick and the option exists; unavailable reasons name a smallest set of picks.
    for status in &evaluation.options {
        let bit = brute.bit(&status.code);
        let extends = builds.iter().any(|&b| b & (kept | bit) == (kept | bit));
        match &status.state {
            OptionState::Selected => {
                prop_assert!(build & bit != 0 && kept & bit != 0);
            }
            OptionState::Included { .. } => {
                prop_assert!(build & bit != 0 && kept & bit == 0);
            }
            OptionState::Selectable => {
                prop_assert!(build & bit == 0);
                prop_assert!(extends, "{} reported selectable", status.code);
            }
            OptionState::Unavailable { reason } => {
                prop_assert!(build & bit == 0);
                prop_assert!(
                    !extends,
                    "{} reported unavailable: {}",
                    status.code,
                    reason.message
                );
                let blockers = mask_of(
                    brute,
                    &reason
                        .conflicts_with
                        .iter()
                        .filter(|c| brute.index.contains_key(c.as_str()))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                prop_assert_eq!(blockers & !kept, 0);
                let with_option: Vec<u64> =
                    builds.iter().copied().filter(|&b| b & bit != 0).collect();
                if let Rule::Availability { .. } = reason.rule {
                    let option = brute.option(brute.index[status.code.as_str()]);
                    prop_assert!(
                        !Brute::available(
                            option.available.as_ref(),
                            &trim.code,
                            region,
                            date_text.as_deref()
                        ) || with_option.is_empty()
                    );
                } else if with_option.is_empty() {
                    prop_assert_eq!(blockers, 0);
                } else {
                    let rest = kept & !blockers;
                    prop_assert!(
                        with_option.iter().any(|&b| b & rest == rest),
                        "{}: dropping {:?} does not make it possible",
                        status.code,
                        reason.conflicts_with
                    );
                    let fewest = with_option
                        .iter()
                        .map(|&b| (kept & !b).count_ones())
                        .min()
                        .expect("a build");
                    prop_assert_eq!(blockers.count_ones(), fewest);
                }
            }
        }
    }

    // (c) The price is the sum of its parts and charges packages' contents nothing.
    let lines: i64 = evaluation.price.lines.iter().map(|l| l.amount).sum();
    prop_assert_eq!(evaluation.price.total, lines);
    prop_assert_eq!(
        evaluation.price.total,
        brute.charged_price(&trim.code, build)
    );
    prop_assert_eq!(
        evaluation.price.lines.len(),
        1 + build.count_ones() as usize
    );
    for line in &evaluation.price.lines[1..] {
        match &line.included_by {
            Some(p) => {
                prop_assert_eq!(line.amount, 0);
                prop_assert!(build & brute.bit(p) != 0);
            }
            None => prop_assert_eq!(line.amount, line.list_price),
        }
    }

    // (e) Determinism.
    let again = compiled.evaluate(request).expect("same answer");
    prop_assert_eq!(&again, &evaluation);
    Ok(())
}

fn random_requests(model: &VehicleModel, seed: u64) -> Vec<ConfigRequest> {
    let mut rng = Rng(seed ^ 0x5eed);
    let codes: Vec<&String> = model
        .option_groups
        .iter()
        .flat_map(|g| g.options.iter().map(|o| &o.code))
        .collect();
    (0..6)
        .map(|_| ConfigRequest {
            trim: model.trims[rng.below(model.trims.len())].code.clone(),
            selections: (0..rng.below(5))
                .map(|_| codes[rng.below(codes.len())].clone())
                .collect(),
            region: match rng.below(3) {
                0 => None,
                r => Some(REGIONS[r - 1].to_string()),
            },
            date: match rng.below(3) {
                0 => None,
                1 => Date::new(2025, 1, 1),
                _ => Date::new(2025, 4, 1),
            },
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_brute_force(seed in any::<u64>()) {
        let model = generate(seed);
        let brute = Brute::new(&model);
        let Some(compiled) = check_compile(&model, &brute)? else {
            return Ok(());
        };
        // (e) Compiling twice gives the same answers, even with a collection after every step.
        let twin = CompiledModel::compile_with(
            &model,
            compile::Limits { gc_slack: 0, ..compile::Limits::default() },
        )
        .expect("compiles twice");
        prop_assert_eq!(twin.stats(), compiled.stats());
        for request in random_requests(&model, seed) {
            check_request(&model, &compiled, &brute, &request)?;
            prop_assert_eq!(compiled.evaluate(&request), twin.evaluate(&request));
        }
        // Clicking through: each click appends a selectable option (no dead ends: it stays
        // selected and nothing changes).
        let mut rng = Rng(seed ^ 0xc11c);
        let trim = model.trims[rng.below(model.trims.len())].code.clone();
        let mut request = ConfigRequest { trim, selections: Vec::new(), region: None, date: None };
        for _ in 0..4 {
            let Ok(evaluation) = compiled.evaluate(&request) else { break };
            let selectable: Vec<&OptionStatus> = evaluation
                .options
                .iter()
                .filter(|o| o.state == OptionState::Selectable)
                .collect();
            if selectable.is_empty() {
                break;
            }
            let next = selectable[rng.below(selectable.len())].code.clone();
            request.selections = evaluation.selections.clone();
            request.selections.push(next.clone());
            let after = compiled.evaluate(&request).expect("a selectable option never fails");
            prop_assert!(after.changes.is_empty(), "picking a selectable option changed picks");
            prop_assert!(after.selections.contains(&next));
            check_request(&model, &compiled, &brute, &request)?;
        }
    }
}

#[test]
fn the_generator_covers_the_interesting_cases() {
    // Guard against a generator that only produces trivial or only broken models.
    let mut compiled = 0;
    let mut conflicts = 0;
    let mut unavailable = 0;
    for seed in 0..200u64 {
        let model = generate(seed);
        let Ok(m) = CompiledModel::compile(&model) else {
            continue;
        };
        compiled += 1;
        for request in random_requests(&model, seed) {
            if let Ok(e) = m.evaluate(&request) {
                conflicts += usize::from(!e.changes.is_empty());
                unavailable += e
                    .options
                    .iter()
                    .filter(|o| matches!(o.state, OptionState::Unavailable { .. }))
                    .count();
            }
        }
    }
    assert!(
        compiled > 60,
        "only {compiled} of 200 random models compile"
    );
    assert!(conflicts > 20, "only {conflicts} requests had conflicts");
    assert!(unavailable > 200, "only {unavailable} unavailable options");
}
