//! Vehicle stock by VIN: what each physical vehicle is (its build), where it is (store and
//! stage), whether an order holds it, what it costs to keep, and who may see and change it.
//!
//! **Owns** the `vehicles` table: [`vin`] (the VIN rule), build validation against the tenant's
//! catalog (here), [`import`] (CSV import and DMS sync: one validation path, one transaction),
//! [`routes`] (stock views limited by scope) and [`stock`] (status, build keys and reservations
//! as orders use them).
//!
//! **Invariants**
//! - Every stored VIN is valid (17 characters, check digit) and in normal form (upper case).
//! - Every stored build is a complete, valid build of the tenant's catalog at the time it was
//!   written: `options` is every option of that build, sorted, and `build_key` is
//!   [`stock::build_key`] of model, trim and those options — so two physically equal vehicles
//!   have equal keys, whichever options the DMS listed (see [`resolve_build`]).
//! - Imports never set `hold`: `reserved` and `sold` come from orders only, and delivery of a
//!   vehicle held by an order happens through the order.
//! - Staff see and change only vehicles of stores where their roles grant `vehicle.read` /
//!   `vehicle.import` (a Cedar decision per store, the vehicle being a record in its store).

pub mod builds;
pub mod import;
pub mod routes;
pub mod stock;
pub mod vin;

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use sqlx::Row;

use crate::catalog::engine::{ConfigRequest, EngineError, Evaluation, IncludedBy, OptionState};
use crate::tenancy::Snapshot;

/// The statuses staff and buyers see, in lifecycle order (see [`stock::status`]).
pub const STATUSES: [&str; 6] = [
    "in_production",
    "in_transit",
    "in_stock",
    "reserved",
    "sold",
    "delivered",
];

/// The kind of Cedar record a vehicle is (in its store).
pub const RECORD_KIND: &str = "vehicle";

/// The options of a complete build: every option the configurator put in it (picked, default,
/// required, package content), sorted. This is what a vehicle stores and what its
/// [`stock::build_key`] is made of — an order matching stock must key its build the same way.
pub fn build_options(evaluation: &Evaluation) -> Vec<String> {
    let set: BTreeSet<&String> = evaluation.resolved.values().flatten().collect();
    set.into_iter().cloned().collect()
}

/// A validated build of one vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub model: String,
    pub trim: String,
    /// Every option of the complete build, sorted ([`build_options`]).
    pub options: Vec<String>,
    pub key: String,
}

/// Why a build is not valid, and which field it is about (`model`, `trim` or `options`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildProblem {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl BuildProblem {
    fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        BuildProblem {
            field,
            code,
            message: message.into(),
        }
    }
}

/// The most option codes one vehicle may list.
pub const MAX_OPTIONS: usize = 200;

/// Checks that `model`, `trim` and `options` describe one physical vehicle of the tenant's
/// catalog and returns its complete build.
///
/// `options` are taken as the configurator's picks (repeats ignored), evaluated without region
/// or date rules (a vehicle that exists is not subject to what may be *ordered* today). The
/// build is valid as given when:
/// - the model, the trim and every option exist (all unknown codes are named at once);
/// - every listed option stands in the resolved build: the engine neither refused one nor had
///   to drop or replace one to resolve a conflict (the message gives the rule);
/// - the engine did not have to guess: what it adds comes from the trim's defaults, a
///   package's contents or a requirement, never from a free choice to complete the build
///   (then the build does not say which option of that group the vehicle has).
pub fn resolve_build(
    s: &Snapshot,
    model: &str,
    trim: &str,
    options: &[String],
) -> Result<Build, Vec<BuildProblem>> {
    let Some(vm) = s.bundle.as_ref().and_then(|b| b.catalog().model(model)) else {
        return Err(vec![BuildProblem::new(
            "model",
            "unknown_model",
            if model.is_empty() {
                "give the model code".to_string()
            } else {
                format!("`{model}` is not a model of this tenant's catalog")
            },
        )]);
    };
    let mut problems = Vec::new();
    if !vm.trims.iter().any(|t| t.code == trim) {
        let known: Vec<&str> = vm.trims.iter().map(|t| t.code.as_str()).collect();
        problems.push(BuildProblem::new(
            "trim",
            "unknown_trim",
            format!(
                "model `{model}` has no trim `{trim}` (its trims: {})",
                known.join(", ")
            ),
        ));
    }
    let mut picks: Vec<String> = Vec::new();
    for o in options {
        if !picks.contains(o) {
            picks.push(o.clone());
        }
    }
    if picks.len() > MAX_OPTIONS {
        problems.push(BuildProblem::new(
            "options",
            "too_many_options",
            format!(
                "a vehicle lists at most {MAX_OPTIONS} options; this one lists {}",
                picks.len()
            ),
        ));
        return Err(problems);
    }
    let unknown: Vec<&str> = picks
        .iter()
        .filter(|o| {
            !vm.option_groups
                .iter()
                .any(|g| g.options.iter().any(|x| &x.code == *o))
        })
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        problems.push(BuildProblem::new(
            "options",
            "unknown_option",
            format!(
                "model `{model}` has no option {}",
                unknown
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(compiled) = s.catalog.model(model) else {
        return Err(vec![BuildProblem::new(
            "model",
            "unknown_model",
            format!("model `{model}` is not available to the configurator"),
        )]);
    };
    let request = ConfigRequest {
        trim: trim.to_string(),
        selections: picks.clone(),
        region: None,
        date: None,
    };
    let evaluation = match compiled.evaluate(&request) {
        Ok(e) => e,
        Err(EngineError::OptionUnavailable { option, reason }) => {
            return Err(vec![BuildProblem::new(
                "options",
                "invalid_build",
                format!(
                    "option `{option}` cannot be on trim `{trim}`: {}",
                    reason.message
                ),
            )])
        }
        Err(e) => {
            let field = match e {
                EngineError::UnknownOption { .. } | EngineError::TooManySelections { .. } => {
                    "options"
                }
                _ => "trim",
            };
            return Err(vec![BuildProblem::new(
                field,
                "invalid_build",
                e.to_string(),
            )]);
        }
    };
    for change in &evaluation.changes {
        let others = if change.reason.conflicts_with.is_empty() {
            String::new()
        } else {
            format!(
                " together with {}",
                change
                    .reason
                    .conflicts_with
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        problems.push(BuildProblem::new(
            "options",
            "invalid_build",
            format!(
                "option `{}` cannot be in this build{others}: {}",
                change.option, change.reason.message
            ),
        ));
    }
    let mut guessed: Vec<(String, String)> = evaluation
        .options
        .iter()
        .filter(|o| {
            matches!(
                o.state,
                OptionState::Included {
                    by: IncludedBy::Completion
                }
            )
        })
        .map(|o| (o.group.clone(), o.code.clone()))
        .collect();
    guessed.sort();
    for (group, option) in guessed {
        problems.push(BuildProblem::new(
            "options",
            "incomplete_build",
            format!(
                "the build does not say which option of group `{group}` the vehicle has (the trim's default does not fit the listed options; the configurator would choose `{option}`): list it"
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let options = build_options(&evaluation);
    let key = stock::build_key(model, trim, &options);
    Ok(Build {
        model: model.to_string(),
        trim: evaluation.trim,
        options,
        key,
    })
}

/// Resolved builds of one request, by (model, trim, sorted distinct options): an upload of
/// thousands of vehicles usually holds a few dozen builds, each evaluated once.
#[derive(Default)]
pub struct BuildCache {
    seen: HashMap<BuildRequest, Result<Build, Vec<BuildProblem>>>,
}

/// Model, trim and the sorted distinct option codes as listed.
type BuildRequest = (String, String, Vec<String>);

impl BuildCache {
    pub fn resolve(
        &mut self,
        s: &Snapshot,
        model: &str,
        trim: &str,
        options: &[String],
    ) -> Result<Build, Vec<BuildProblem>> {
        let mut sorted = options.to_vec();
        sorted.sort();
        sorted.dedup();
        let key = (model.to_string(), trim.to_string(), sorted);
        if let Some(found) = self.seen.get(&key) {
            return found.clone();
        }
        // Evaluate in the sorted order so that the result depends only on the key.
        let result = resolve_build(s, model, trim, &key.2);
        self.seen.insert(key, result.clone());
        result
    }
}

/// Today in the tenant's time zone: the day ages and holding costs are counted to.
pub fn today(s: &Snapshot) -> jiff::civil::Date {
    let tz = crate::test_drives::time_zone(s);
    jiff::Timestamp::from_millisecond(crate::store::now_ms())
        .map(|t| t.to_zoned(tz).date())
        .unwrap_or_else(|_| jiff::civil::date(1970, 1, 1))
}

/// A calendar date written exactly `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    text.parse::<jiff::civil::Date>().ok()
}

/// Whole days a vehicle has been at its store: for a vehicle whose stage is `in_stock`
/// (whether free, reserved or sold) and whose arrival date is today or earlier; `None` before
/// arrival (in production, in transit, or an arrival date still ahead) and once delivered.
pub fn age_days(stage: &str, arrival: Option<&str>, today: jiff::civil::Date) -> Option<i64> {
    if stage != "in_stock" {
        return None;
    }
    let arrival = parse_date(arrival?)?;
    if arrival > today {
        return None;
    }
    arrival
        .until(today)
        .ok()
        .map(|span| i64::from(span.get_days()))
}

/// What keeping a vehicle has cost so far: `cost_per_month × days / 30`, a month counted as 30
/// days, **rounded half up** to a whole minor unit (exact integer arithmetic: `(2·c·d + 30) / 60`;
/// both factors are ≥ 0, so half up is half away from zero). Saturates at `i64::MAX`.
pub fn holding_cost_to_date(cost_per_month: i64, days: i64) -> i64 {
    let c = i128::from(cost_per_month.max(0));
    let d = i128::from(days.max(0));
    let v = (2 * c * d + 30) / 60;
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A vehicle as staff and integrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VehicleView {
    pub vin: String,
    pub model: String,
    pub trim: String,
    /// Every option of the complete build, sorted.
    pub options: Vec<String>,
    /// `model/trim/opt+opt+…`: what orders match stock on.
    pub build_key: String,
    pub store: String,
    pub region: Option<String>,
    pub dealer_group: Option<String>,
    /// Where the vehicle is: `in_production`, `in_transit`, `in_stock` or `delivered`.
    pub stage: String,
    /// What staff and buyers see: the stage, or `reserved` / `sold` while an order holds it,
    /// `delivered` once handed over.
    pub status: String,
    /// The order holding the vehicle (reserved or sold).
    pub order_id: Option<String>,
    /// Until when a reservation holds (RFC 3339); `null` once confirmed or when not reserved.
    pub reserved_until: Option<String>,
    /// Arrival at the store (planned while in production or transit), `YYYY-MM-DD`.
    pub arrival_date: Option<String>,
    /// Whole days at the store since arrival (in stock only; `null` before arrival and once
    /// delivered).
    pub age_days: Option<i64>,
    /// Minor units of `currency` per month in stock.
    pub holding_cost_per_month: i64,
    /// `holding_cost_per_month × age_days / 30`, rounded half up; `null` when `age_days` is.
    pub holding_cost_to_date: Option<i64>,
    pub currency: String,
    /// Where the record last came from: `csv` or `sync`.
    pub source: String,
    /// The dealer management system's own reference.
    pub external_ref: Option<String>,
    /// Bumped by every change (import, reservation, sale, delivery).
    pub version: i64,
    pub updated_at: String,
}

/// The columns [`VehicleRow::from_row`] reads.
pub const VEHICLE_COLUMNS: &str = "vin, model_code, trim_code, options, build_key, store_code, \
     stage, hold, order_id, reserved_until, arrival_date, holding_cost_per_month, source, \
     external_ref, version, updated_at";

/// One stored vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleRow {
    pub vin: String,
    pub model: String,
    pub trim: String,
    pub options: Vec<String>,
    pub build_key: String,
    pub store: String,
    pub stage: String,
    pub hold: String,
    pub order_id: Option<String>,
    pub reserved_until: Option<i64>,
    pub arrival_date: Option<String>,
    pub holding_cost_per_month: i64,
    pub source: String,
    pub external_ref: Option<String>,
    pub version: i64,
    pub updated_at: i64,
}

impl VehicleRow {
    pub fn from_row(r: &sqlx::any::AnyRow) -> Result<VehicleRow, sqlx::Error> {
        let options: String = r.try_get("options")?;
        Ok(VehicleRow {
            vin: r.try_get("vin")?,
            model: r.try_get("model_code")?,
            trim: r.try_get("trim_code")?,
            options: serde_json::from_str(&options)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            build_key: r.try_get("build_key")?,
            store: r.try_get("store_code")?,
            stage: r.try_get("stage")?,
            hold: r.try_get("hold")?,
            order_id: r.try_get("order_id")?,
            reserved_until: r.try_get("reserved_until")?,
            arrival_date: r.try_get("arrival_date")?,
            holding_cost_per_month: r.try_get("holding_cost_per_month")?,
            source: r.try_get("source")?,
            external_ref: r.try_get("external_ref")?,
            version: r.try_get("version")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// The status staff and buyers see.
    pub fn status(&self) -> &str {
        stock::status(&self.stage, &self.hold)
    }

    /// The view of this vehicle on `today` (the tenant's local date).
    pub fn view(&self, s: &Snapshot, today: jiff::civil::Date) -> VehicleView {
        let store = s.doc().and_then(|d| d.org.store(&self.store));
        let age = age_days(&self.stage, self.arrival_date.as_deref(), today);
        let held = self.hold != "free";
        VehicleView {
            vin: self.vin.clone(),
            model: self.model.clone(),
            trim: self.trim.clone(),
            options: self.options.clone(),
            build_key: self.build_key.clone(),
            store: self.store.clone(),
            region: store.map(|st| st.region.clone()),
            dealer_group: store.and_then(|st| st.dealer_group.clone()),
            stage: self.stage.clone(),
            status: self.status().to_string(),
            order_id: if held { self.order_id.clone() } else { None },
            reserved_until: self
                .reserved_until
                .filter(|_| self.hold == "reserved")
                .map(crate::store::rfc3339),
            arrival_date: self.arrival_date.clone(),
            age_days: age,
            holding_cost_per_month: self.holding_cost_per_month,
            holding_cost_to_date: age
                .map(|days| holding_cost_to_date(self.holding_cost_per_month, days)),
            currency: s
                .doc()
                .map(|d| d.tenant.currency.clone())
                .unwrap_or_default(),
            source: self.source.clone(),
            external_ref: self.external_ref.clone(),
            version: self.version,
            updated_at: crate::store::rfc3339(self.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn holding_cost_rounds_half_up() {
        // 100 × 1 / 30 = 3.33… → 3; 100 × 2 / 30 = 6.67 → 7.
        assert_eq!(holding_cost_to_date(100, 1), 3);
        assert_eq!(holding_cost_to_date(100, 2), 7);
        // Exactly half: 15 × 1 / 30 = 0.5 → 1; 45 × 1 / 30 = 1.5 → 2; 75 / 30 = 2.5 → 3.
        assert_eq!(holding_cost_to_date(15, 1), 1);
        assert_eq!(holding_cost_to_date(45, 1), 2);
        assert_eq!(holding_cost_to_date(75, 1), 3);
        // Just under half stays down: 14 / 30 = 0.467 → 0.
        assert_eq!(holding_cost_to_date(14, 1), 0);
        // A whole month is the monthly cost; none at day 0.
        assert_eq!(holding_cost_to_date(150_000, 30), 150_000);
        assert_eq!(holding_cost_to_date(150_000, 0), 0);
        // ¥1,500 a month for 45 days = ¥2,250 exactly.
        assert_eq!(holding_cost_to_date(150_000, 45), 225_000);
        // No overflow on huge inputs.
        assert_eq!(holding_cost_to_date(i64::MAX, 1_000_000), i64::MAX);
    }

    #[test]
    fn age_counts_days_in_stock_only() {
        let today = date(2026, 11, 26);
        assert_eq!(age_days("in_stock", Some("2026-11-26"), today), Some(0));
        assert_eq!(age_days("in_stock", Some("2026-10-27"), today), Some(30));
        assert_eq!(age_days("in_stock", Some("2025-11-26"), today), Some(365));
        assert_eq!(age_days("in_stock", Some("2026-12-01"), today), None);
        assert_eq!(age_days("in_stock", None, today), None);
        assert_eq!(age_days("in_transit", Some("2026-10-01"), today), None);
        assert_eq!(age_days("in_production", Some("2026-10-01"), today), None);
        assert_eq!(age_days("delivered", Some("2026-10-01"), today), None);
    }

    #[test]
    fn dates_must_be_exactly_iso() {
        assert_eq!(parse_date("2026-02-28"), Some(date(2026, 2, 28)));
        assert_eq!(parse_date("2028-02-29"), Some(date(2028, 2, 29)));
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("2026-2-28"), None);
        assert_eq!(parse_date("2026/02/28"), None);
        assert_eq!(parse_date("2026-02-28T00:00"), None);
        assert_eq!(parse_date("+2026-02-2"), None);
        assert_eq!(parse_date(""), None);
    }
}
