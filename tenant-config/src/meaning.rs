//! Layer three: meaning. Rules across fields that no schema can express — references between
//! org units, unique codes, the action vocabulary, locales of every text, opening hours, and
//! that someone can still apply bundles afterwards. Works on the typed model; every rule runs
//! and every finding is kept.

use std::collections::{HashMap, HashSet};

use crate::actions::{self, ACTIONS};
use crate::diagnostic::{suggestion, Diagnostic};
use crate::model::{LocalizedText, OpeningHours, Reach, StoreKind, TenantDoc};
use crate::spans::{child, SpanMap};

/// Collects the findings about one document, each located through its span map.
pub(crate) struct Checker<'a> {
    pub(crate) file: &'a str,
    pub(crate) spans: &'a SpanMap,
    pub(crate) out: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(file: &'a str, spans: &'a SpanMap) -> Self {
        Checker {
            file,
            spans,
            out: Vec::new(),
        }
    }

    /// An error located at the value `pointer` names.
    pub(crate) fn error(&mut self, code: &'static str, pointer: String, message: String) {
        let at = self.spans.value(&pointer);
        self.out
            .push(Diagnostic::error(code, self.file, &pointer, message).at(at));
    }

    /// A warning located at the value `pointer` names.
    pub(crate) fn warning(&mut self, code: &'static str, pointer: String, message: String) {
        let at = self.spans.value(&pointer);
        self.out
            .push(Diagnostic::warning(code, self.file, &pointer, message).at(at));
    }

    /// An error about a mapping member, located at its key.
    pub(crate) fn key_error(&mut self, code: &'static str, pointer: String, message: String) {
        let at = self.spans.key(&pointer);
        self.out
            .push(Diagnostic::error(code, self.file, &pointer, message).at(at));
    }

    /// ` (line N)` for the place `pointer` names, when known.
    pub(crate) fn line_of(&self, pointer: &str) -> String {
        self.spans
            .value(pointer)
            .map(|(line, _)| format!(" (line {line})"))
            .unwrap_or_default()
    }
}

/// ``a`, `b`, `c`` — at most ten names, for "known values" hints.
pub(crate) fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.into_iter().collect();
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(*n));
    let mut shown: Vec<String> = names.iter().take(10).map(|n| format!("`{n}`")).collect();
    if names.len() > 10 {
        shown.push(format!("and {} more", names.len() - 10));
    }
    if shown.is_empty() {
        "none".to_string()
    } else {
        shown.join(", ")
    }
}

/// Runs every meaning rule on a document that passed (or nearly passed) the shape layer.
pub(crate) fn check(file: &str, doc: &TenantDoc, spans: &SpanMap) -> Vec<Diagnostic> {
    let mut c = Checker::new(file, spans);
    org_codes(&mut c, doc);
    org_references(&mut c, doc);
    store_levels(&mut c, doc);
    roles(&mut c, doc);
    locales(&mut c, doc);
    opening_hours(&mut c, doc);
    test_drives(&mut c, doc);
    c.out
}

fn test_drives(c: &mut Checker<'_>, doc: &TenantDoc) {
    let Some(t) = &doc.test_drives else { return };
    let mut seen = HashSet::new();
    for (i, v) in t.fleet.iter().enumerate() {
        if !seen.insert(v.id.as_str()) {
            c.error(
                "test_drives.duplicate_vehicle",
                format!("/test_drives/fleet/{i}/id"),
                format!(
                    "demo vehicle `{}` is listed twice; every vehicle needs its own id",
                    v.id
                ),
            );
        }
        if doc.org.store(&v.store).is_none() {
            c.error(
                "test_drives.unknown_store",
                format!("/test_drives/fleet/{i}/store"),
                format!(
                    "demo vehicle `{}` is kept at store `{}`, which is not in `org.stores`",
                    v.id, v.store
                ),
            );
        }
    }
}

fn org_codes(c: &mut Checker<'_>, doc: &TenantDoc) {
    let org = &doc.org;
    let units = org
        .regions
        .iter()
        .enumerate()
        .map(|(i, r)| ("region", &r.code, format!("/org/regions/{i}")))
        .chain(
            org.dealer_groups
                .iter()
                .enumerate()
                .map(|(i, g)| ("dealer group", &g.code, format!("/org/dealer_groups/{i}"))),
        )
        .chain(
            org.stores
                .iter()
                .enumerate()
                .map(|(i, s)| ("store", &s.code, format!("/org/stores/{i}"))),
        );
    let mut seen: HashMap<&str, (&str, String)> = HashMap::new();
    for (kind, code, pointer) in units {
        match seen.get(code.as_str()) {
            Some((first_kind, first_pointer)) => {
                let line = c.line_of(first_pointer);
                c.error(
                    "org.duplicate_code",
                    format!("{pointer}/code"),
                    format!(
                        "the {kind} code `{code}` is already used by the {first_kind} at \
                         `{first_pointer}`{line}; codes must be unique across all regions, \
                         dealer groups and stores, so give one of them another code"
                    ),
                );
            }
            None => {
                seen.insert(code, (kind, pointer));
            }
        }
    }
}

fn org_references(c: &mut Checker<'_>, doc: &TenantDoc) {
    let org = &doc.org;
    let regions: Vec<&str> = org.regions.iter().map(|r| r.code.as_str()).collect();
    let groups: Vec<&str> = org.dealer_groups.iter().map(|g| g.code.as_str()).collect();
    let unknown_region = |c: &mut Checker<'_>, what: String, region: &str, pointer: String| {
        c.error(
            "org.unknown_region",
            pointer,
            format!(
                "{what} is placed in region `{region}`, which is not defined in `org.regions`.{} \
                 Known regions: {}.",
                suggestion(region, regions.iter().copied()),
                listing(regions.iter().copied())
            ),
        );
    };
    for (i, g) in org.dealer_groups.iter().enumerate() {
        if !regions.contains(&g.region.as_str()) {
            unknown_region(
                c,
                format!("dealer group `{}`", g.code),
                &g.region,
                format!("/org/dealer_groups/{i}/region"),
            );
        }
    }
    for (i, s) in org.stores.iter().enumerate() {
        let base = format!("/org/stores/{i}");
        let region_known = regions.contains(&s.region.as_str());
        if !region_known {
            unknown_region(
                c,
                format!("store `{}`", s.code),
                &s.region,
                format!("{base}/region"),
            );
        }
        let Some(group) = &s.dealer_group else {
            continue;
        };
        if s.kind == StoreKind::Direct {
            c.error(
                "org.direct_store_in_group",
                format!("{base}/dealer_group"),
                format!(
                    "store `{}` is a `direct` store (run by the brand itself) but names dealer \
                     group `{group}`; remove `dealer_group`, or make the store `kind: dealer`",
                    s.code
                ),
            );
            continue;
        }
        match org.dealer_group(group) {
            None => c.error(
                "org.unknown_dealer_group",
                format!("{base}/dealer_group"),
                format!(
                    "store `{}` names dealer group `{group}`, which is not defined in \
                     `org.dealer_groups`.{} Known dealer groups: {}.",
                    s.code,
                    suggestion(group, groups.iter().copied()),
                    listing(groups.iter().copied())
                ),
            ),
            Some(g)
                if region_known && g.region != s.region && regions.contains(&g.region.as_str()) =>
            {
                c.error(
                    "org.region_mismatch",
                    format!("{base}/region"),
                    format!(
                        "store `{}` is in region `{}`, but its dealer group `{group}` is in \
                         region `{}`; a dealer group's stores must be in the group's region, \
                         so change the store's region or its dealer group",
                        s.code, s.region, g.region
                    ),
                )
            }
            Some(_) => {}
        }
    }
}

fn store_levels(c: &mut Checker<'_>, doc: &TenantDoc) {
    let levels = &doc.org.store_levels;
    let mut seen = HashSet::new();
    for (j, level) in levels.iter().enumerate() {
        if !seen.insert(level.as_str()) {
            c.error(
                "org.duplicate_level",
                format!("/org/store_levels/{j}"),
                format!("the store level `{level}` is listed twice; remove one"),
            );
        }
    }
    for (i, s) in doc.org.stores.iter().enumerate() {
        if let Some(level) = &s.level {
            if !levels.contains(level) {
                c.error(
                    "org.unknown_level",
                    format!("/org/stores/{i}/level"),
                    format!(
                        "store `{}` has level `{level}`, which is not one of `org.store_levels` \
                         ({}).{} Add it there or fix the level.",
                        s.code,
                        listing(levels.iter().map(String::as_str)),
                        suggestion(level, levels.iter().map(String::as_str))
                    ),
                );
            }
        }
    }
}

fn roles(c: &mut Checker<'_>, doc: &TenantDoc) {
    let levels = &doc.org.store_levels;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut has_admin = false;
    let areas: Vec<String> = {
        let mut a: Vec<String> = ACTIONS
            .iter()
            .filter_map(|d| d.name.split_once('.').map(|(area, _)| format!("{area}.*")))
            .collect();
        a.dedup();
        a
    };
    for (i, role) in doc.roles.iter().enumerate() {
        let base = format!("/roles/{i}");
        if let Some(first) = seen.get(role.code.as_str()) {
            let line = c.line_of(&format!("/roles/{first}"));
            c.error(
                "role.duplicate_code",
                format!("{base}/code"),
                format!(
                    "the role code `{}` is already used by the role at `/roles/{first}`{line}; \
                     role codes must be unique, so rename one of them",
                    role.code
                ),
            );
        } else {
            seen.insert(&role.code, i);
        }
        for (j, grant) in role.grants.iter().enumerate() {
            let gbase = format!("{base}/grants/{j}");
            let mut applies = false;
            for (k, action) in grant.actions.iter().enumerate() {
                let expanded = actions::expand(action);
                if expanded.is_empty() {
                    let (what, hint) = if action.ends_with(".*") {
                        (
                            "matches no action of the platform",
                            suggestion(action, areas.iter().map(String::as_str)),
                        )
                    } else {
                        (
                            "is not an action of the platform",
                            suggestion(action, ACTIONS.iter().map(|a| a.name)),
                        )
                    };
                    c.error(
                        "role.unknown_action",
                        format!("{gbase}/actions/{k}"),
                        format!(
                            "`{action}` {what}.{hint} Use an action name such as `store.read`, \
                             an area pattern such as `store.*`, or `*`."
                        ),
                    );
                }
                applies |= expanded.contains(&"bundle.apply");
            }
            if applies && grant.reach == Reach::Tenant && grant.store_levels.is_none() {
                has_admin = true;
            }
            for (k, level) in grant.store_levels.iter().flatten().enumerate() {
                if !levels.contains(level) {
                    c.error(
                        "role.unknown_level",
                        format!("{gbase}/store_levels/{k}"),
                        format!(
                            "the grant is limited to store level `{level}`, which is not one of \
                             `org.store_levels` ({}).{}",
                            listing(levels.iter().map(String::as_str)),
                            suggestion(level, levels.iter().map(String::as_str))
                        ),
                    );
                }
            }
        }
    }
    if !has_admin {
        c.error(
            "role.no_admin",
            "/roles".to_string(),
            "no role can apply bundles; the tenant would lock itself out. Give at least one role \
             a grant with `bundle.apply` (or `bundle.*`, or `*`) and `reach: tenant`, without a \
             `store_levels` condition"
                .to_string(),
        );
    }
}

fn locales(c: &mut Checker<'_>, doc: &TenantDoc) {
    let locales = &doc.tenant.locales;
    let mut seen = HashSet::new();
    for (j, locale) in locales.iter().enumerate() {
        if !seen.insert(locale.as_str()) {
            c.error(
                "locale.duplicate",
                format!("/tenant/locales/{j}"),
                format!("the locale `{locale}` is listed twice; remove one"),
            );
        }
    }
    let mut texts: Vec<(String, &LocalizedText)> = vec![("/tenant/name".into(), &doc.tenant.name)];
    for (i, r) in doc.org.regions.iter().enumerate() {
        texts.push((format!("/org/regions/{i}/name"), &r.name));
    }
    for (i, g) in doc.org.dealer_groups.iter().enumerate() {
        texts.push((format!("/org/dealer_groups/{i}/name"), &g.name));
    }
    for (i, s) in doc.org.stores.iter().enumerate() {
        texts.push((format!("/org/stores/{i}/name"), &s.name));
        texts.push((format!("/org/stores/{i}/city"), &s.city));
        texts.push((format!("/org/stores/{i}/address"), &s.address));
    }
    for (i, r) in doc.roles.iter().enumerate() {
        texts.push((format!("/roles/{i}/name"), &r.name));
    }
    if let Some(q) = &doc.quotes {
        let mut seen = HashSet::new();
        for (i, fee) in q.fees.iter().enumerate() {
            texts.push((format!("/quotes/fees/{i}/label"), &fee.label));
            texts.push((format!("/quotes/fees/{i}/explanation"), &fee.explanation));
            if !seen.insert(fee.code.as_str()) {
                c.error(
                    "quotes.duplicate_fee",
                    format!("/quotes/fees/{i}/code"),
                    format!(
                        "fee code `{}` is used twice; every fee needs its own code",
                        fee.code
                    ),
                );
            }
        }
    }
    text_locales(c, locales, texts);
}

/// Every text must have the default locale (the first of `locales`) and no locale outside
/// `locales`. Shared by the tenant document and the catalog files.
pub(crate) fn text_locales(
    c: &mut Checker<'_>,
    locales: &[String],
    texts: Vec<(String, &LocalizedText)>,
) {
    let Some(default) = locales.first() else {
        return;
    };
    let known = listing(locales.iter().map(String::as_str));
    let allowed: HashSet<&str> = locales.iter().map(String::as_str).collect();
    // Suggestions compare with every locale; a few hundred are plenty for one load.
    let mut hints = 200usize;
    for (pointer, text) in texts {
        if !text.contains_key(default) {
            c.error(
                "locale.missing_default",
                pointer.clone(),
                format!(
                    "this text has no `{default}` version, but `{default}` is the tenant's \
                     default locale (the first of `tenant.locales`) and every text needs it; \
                     add `{default}: …`"
                ),
            );
        }
        for key in text.keys() {
            if !allowed.contains(key.as_str()) {
                let hint = if hints > 0 {
                    hints -= 1;
                    suggestion(key, locales.iter().map(String::as_str))
                } else {
                    String::new()
                };
                c.key_error(
                    "locale.unknown",
                    child(&pointer, key),
                    format!(
                        "`{key}` is not one of the tenant's locales ({known}).{hint} Add it to \
                         `tenant.locales` or remove this text."
                    ),
                );
            }
        }
    }
}

/// `"HH:MM"` → minutes since midnight.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
}

fn opening_hours(c: &mut Checker<'_>, doc: &TenantDoc) {
    for (i, store) in doc.org.stores.iter().enumerate() {
        let OpeningHours {
            daily,
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        } = &store.opening_hours;
        let days = [
            ("daily", "every day", daily),
            ("mon", "Monday", mon),
            ("tue", "Tuesday", tue),
            ("wed", "Wednesday", wed),
            ("thu", "Thursday", thu),
            ("fri", "Friday", fri),
            ("sat", "Saturday", sat),
            ("sun", "Sunday", sun),
        ];
        for (key, day, ranges) in days {
            let Some(ranges) = ranges else { continue };
            let base = format!("/org/stores/{i}/opening_hours/{key}");
            let mut valid: Vec<(u32, u32, usize)> = Vec::new();
            for (k, range) in ranges.iter().enumerate() {
                // Malformed text is the shape layer's finding.
                let Some((from, to)) = range.split_once('-') else {
                    continue;
                };
                let (Some(open), Some(close)) = (minutes(from), minutes(to)) else {
                    continue;
                };
                if close > 24 * 60 {
                    c.error(
                        "hours.invalid",
                        format!("{base}/{k}"),
                        format!(
                            "`{range}` on {day} closes after 24:00, the end of the day; end it \
                             at 24:00 at the latest"
                        ),
                    );
                } else if open >= close {
                    c.error(
                        "hours.invalid",
                        format!("{base}/{k}"),
                        format!(
                            "`{range}` on {day} opens at {from} but closes at {to}; the \
                             opening time must come before the closing time (for hours past \
                             midnight, end this range at 24:00 and start the next day at 00:00)"
                        ),
                    );
                } else {
                    valid.push((open, close, k));
                }
            }
            valid.sort();
            let mut latest: Option<(u32, usize)> = None;
            for (open, close, k) in valid {
                if let Some((end, at)) = latest {
                    if open < end {
                        c.error(
                            "hours.overlap",
                            format!("{base}/{k}"),
                            format!(
                                "`{}` overlaps `{}` on {day}; ranges of one day must not overlap, \
                                 so merge them or fix the times",
                                ranges[k], ranges[at]
                            ),
                        );
                    }
                }
                if latest.is_none_or(|(end, _)| close > end) {
                    latest = Some((close, k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clock_times() {
        assert_eq!(minutes("09:30"), Some(570));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("9:30"), None);
        assert_eq!(minutes("ab:cd"), None);
    }

    #[test]
    fn lists_at_most_ten_names() {
        let names: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
        let text = listing(names.iter().map(String::as_str));
        assert!(text.ends_with("`r9`, and 2 more"));
        assert_eq!(listing([]), "none");
    }
}
