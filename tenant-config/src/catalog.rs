//! The typed model of a bundle's vehicle catalog: `catalog/*.yaml` (schema_version 1).
//!
//! A catalog file holds brands and/or models. A model has trims, option groups with options, and
//! the constraints carmakers publish: requires / excludes, exactly-one and at-most-one groups,
//! packages that include options, defaults per trim, availability by trim / region / date, and
//! compatibility tables (the allowed combinations across several option groups).
//!
//! Money is an integer in minor units (fen for CNY) of the tenant's currency; never a float.

use serde::{Deserialize, Serialize};

use crate::model::LocalizedText;

/// One `catalog/*.yaml` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDoc {
    /// Format version; currently always `1`.
    pub schema_version: u32,
    #[serde(default)]
    pub brands: Vec<Brand>,
    #[serde(default)]
    pub models: Vec<VehicleModel>,
    /// Dealer offers per store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<DealerOffer>,
}

/// A store's offer on a model (or some of its trims) for a period: a cash discount, gifts each
/// with its value, and a finance subsidy. Money in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerOffer {
    /// Unique across the bundle's offers; `^[a-z0-9][a-z0-9_.-]{0,63}$`.
    pub code: String,
    /// Store code of the org tree.
    pub store: String,
    /// Model code of the catalog.
    pub model: String,
    /// Only these trims of the model; absent = every trim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trims: Option<Vec<String>>,
    pub label: LocalizedText,
    /// Taken off the vehicle price, ≥ 0.
    #[serde(default)]
    pub cash_discount: i64,
    /// Given with the car, listed with their value (not taken off the price).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gifts: Vec<Gift>,
    /// Paid by the store towards the loan interest when the buyer finances, ≥ 0.
    #[serde(default)]
    pub finance_subsidy: i64,
    /// First and last day of the offer, `YYYY-MM-DD`, inclusive.
    pub valid_from: String,
    pub valid_until: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gift {
    pub label: LocalizedText,
    /// What the gift is worth, minor units, ≥ 0.
    pub value: i64,
}

impl DealerOffer {
    /// True when the offer applies to `trim` on `day` (`YYYY-MM-DD`; ISO dates compare as text).
    pub fn applies(&self, model: &str, trim: &str, day: &str) -> bool {
        self.model == model
            && self
                .trims
                .as_ref()
                .is_none_or(|t| t.iter().any(|x| x == trim))
            && self.valid_from.as_str() <= day
            && day <= self.valid_until.as_str()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brand {
    /// `^[a-z0-9][a-z0-9_-]{0,63}$`, unique in the tenant.
    pub code: String,
    pub name: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyType {
    Sedan,
    Suv,
    Mpv,
    Hatchback,
    Wagon,
    Coupe,
    Pickup,
}

/// Energy type: battery electric, plug-in hybrid, extended-range electric, combustion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Energy {
    Bev,
    Phev,
    Erev,
    Ice,
}

impl Energy {
    /// New-energy vehicles (the purchase-tax rules of several markets treat them apart).
    pub fn is_new_energy(self) -> bool {
        !matches!(self, Energy::Ice)
    }
}

/// A vehicle model (e.g. "Aurora S7").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleModel {
    /// `^[a-z0-9][a-z0-9_-]{0,63}$`, unique in the tenant.
    pub code: String,
    /// Code of a brand of the bundle.
    pub brand: String,
    pub name: LocalizedText,
    pub body_type: BodyType,
    pub energy: Energy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Spec parameters of the model (trims and options may override single entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<Spec>,
    pub trims: Vec<Trim>,
    pub option_groups: Vec<OptionGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatibility: Vec<CompatibilityTable>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: String,
    pub alt: LocalizedText,
}

/// One spec parameter: range, battery capacity, power, dimensions …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `^[a-z][a-z0-9_]{0,63}$`, e.g. `range_cltc_km`.
    pub code: String,
    pub label: LocalizedText,
    pub value: SpecValue,
    /// Unit shown after the value (`km`, `kWh`, `kW`, `mm`, `s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A spec value: a whole number, a decimal number (not money), a flag or a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpecValue {
    Integer(i64),
    Number(f64),
    Flag(bool),
    Text(String),
}

/// A trim level (e.g. "Long Range AWD"): its base price, defaults and spec overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trim {
    /// Unique within the model; same pattern as option codes.
    pub code: String,
    pub name: LocalizedText,
    /// Base price (MSRP) in minor units of the tenant's currency, ≥ 0.
    pub price: i64,
    /// Options selected by default on this trim (must be available on it and consistent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<Spec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<Availability>,
}

/// How many options of a group a build holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Exactly one (paint, wheels, battery …).
    ExactlyOne,
    /// None or one (tow bar …).
    AtMostOne,
    /// Any number (accessories, packages …).
    Any,
}

/// A group of options (paint, wheels, interior, seats, battery, assisted driving, packages …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionGroup {
    /// Unique within the model; `^[a-z0-9][a-z0-9_-]{0,63}$`.
    pub code: String,
    pub name: LocalizedText,
    pub selection: Selection,
    pub options: Vec<OptionItem>,
}

/// One option. Its code is unique within the model (across groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionItem {
    /// `^[a-z0-9][a-z0-9_.-]{0,63}$`, unique within the model.
    pub code: String,
    pub name: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedText>,
    /// Price in minor units, ≥ 0. Not charged when a selected package includes the option.
    pub price: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<Availability>,
    /// Options (or trims) that must all be in the build when this one is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Options that cannot be in the build together with this one (symmetric).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    /// A package: selecting it puts these options in the build, at no extra price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
    /// Spec parameters this option changes (e.g. a battery sets `range_cltc_km`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<Spec>,
}

/// Where and when something can be bought. Absent fields do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// Only on these trims (options only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trims: Option<Vec<String>>,
    /// Only in these regions (codes of the org tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// First day it can be ordered, `YYYY-MM-DD` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last day it can be ordered, `YYYY-MM-DD` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// The allowed combinations across several option groups (buildability data). A build is valid
/// only if the values it takes in `groups` match one row. In a row, `*` matches any value of that
/// group and `-` means "no option of this group" (for at-most-one groups). The groups must be
/// `exactly_one` or `at_most_one`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityTable {
    /// Unique within the model.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalizedText>,
    /// Option group codes, or `trim` for the trim, in column order.
    pub groups: Vec<String>,
    /// Rows of option codes, one per group. Give `rows` or `csv`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Vec<String>>>,
    /// A CSV file of the bundle (path relative to the bundle root) whose header names the
    /// groups and whose rows are the allowed combinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

/// The pseudo-group naming the trim in a compatibility table.
pub const TRIM_COLUMN: &str = "trim";
/// Matches any value in a compatibility row.
pub const ANY_VALUE: &str = "*";
/// Means "no option of this group" in a compatibility row.
pub const NO_VALUE: &str = "-";

/// The whole catalog of a loaded bundle: the brands and models of every catalog file, merged
/// in path order (and in document order within a file). Codes are unique. Compatibility tables
/// given as `csv` have their `rows` filled from the CSV file, so readers only look at `rows`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub brands: Vec<Brand>,
    pub models: Vec<VehicleModel>,
    pub offers: Vec<DealerOffer>,
}

impl Catalog {
    /// The brand with this code.
    pub fn brand(&self, code: &str) -> Option<&Brand> {
        self.brands.iter().find(|b| b.code == code)
    }

    /// The model with this code.
    pub fn model(&self, code: &str) -> Option<&VehicleModel> {
        self.models.iter().find(|m| m.code == code)
    }

    /// Whether the bundle has no brands and no models.
    pub fn is_empty(&self) -> bool {
        self.brands.is_empty() && self.models.is_empty()
    }
}

impl VehicleModel {
    /// The trim with this code.
    pub fn trim(&self, code: &str) -> Option<&Trim> {
        self.trims.iter().find(|t| t.code == code)
    }

    /// The option group with this code.
    pub fn group(&self, code: &str) -> Option<&OptionGroup> {
        self.option_groups.iter().find(|g| g.code == code)
    }

    /// The option with this code, in whichever group it is.
    pub fn option(&self, code: &str) -> Option<&OptionItem> {
        self.options().find(|(_, o)| o.code == code).map(|(_, o)| o)
    }

    /// The group holding the option with this code.
    pub fn group_of(&self, option_code: &str) -> Option<&OptionGroup> {
        self.options()
            .find(|(_, o)| o.code == option_code)
            .map(|(g, _)| g)
    }

    /// Every option of the model with its group, in document order.
    pub fn options(&self) -> impl Iterator<Item = (&OptionGroup, &OptionItem)> {
        self.option_groups
            .iter()
            .flat_map(|g| g.options.iter().map(move |o| (g, o)))
    }

    /// The compatibility table with this code.
    pub fn table(&self, code: &str) -> Option<&CompatibilityTable> {
        self.compatibility.iter().find(|t| t.code == code)
    }
}

impl OptionGroup {
    /// The option of this group with this code.
    pub fn option(&self, code: &str) -> Option<&OptionItem> {
        self.options.iter().find(|o| o.code == code)
    }
}

impl Selection {
    /// `exactly_one`, `at_most_one` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::ExactlyOne => "exactly_one",
            Selection::AtMostOne => "at_most_one",
            Selection::Any => "any",
        }
    }

    /// Whether a build holds at most one option of such a group.
    pub fn is_single(self) -> bool {
        !matches!(self, Selection::Any)
    }
}

impl CompatibilityTable {
    /// The allowed combinations (empty only before loading filled a CSV table's rows).
    pub fn rows(&self) -> &[Vec<String>] {
        self.rows.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(en: &str) -> LocalizedText {
        LocalizedText::from([("en".to_string(), en.to_string())])
    }

    fn option(code: &str) -> OptionItem {
        OptionItem {
            code: code.to_string(),
            name: text(code),
            description: None,
            price: 0,
            image: None,
            available: None,
            requires: Vec::new(),
            excludes: Vec::new(),
            includes: Vec::new(),
            specs: Vec::new(),
        }
    }

    fn group(code: &str, selection: Selection, options: &[&str]) -> OptionGroup {
        OptionGroup {
            code: code.to_string(),
            name: text(code),
            selection,
            options: options.iter().map(|o| option(o)).collect(),
        }
    }

    #[test]
    fn model_lookups() {
        let model = VehicleModel {
            code: "s7".into(),
            brand: "aurora".into(),
            name: text("S7"),
            body_type: BodyType::Suv,
            energy: Energy::Bev,
            description: None,
            images: Vec::new(),
            specs: Vec::new(),
            trims: vec![Trim {
                code: "std".into(),
                name: text("Standard"),
                price: 100,
                defaults: Vec::new(),
                specs: Vec::new(),
                available: None,
            }],
            option_groups: vec![
                group("paint", Selection::ExactlyOne, &["white", "black"]),
                group("extras", Selection::Any, &["towbar"]),
            ],
            compatibility: Vec::new(),
        };
        assert_eq!(model.trim("std").unwrap().price, 100);
        assert!(model.trim("lr").is_none());
        assert_eq!(model.option("towbar").unwrap().code, "towbar");
        assert_eq!(model.group_of("black").unwrap().code, "paint");
        assert!(model.group_of("std").is_none());
        assert_eq!(model.options().count(), 3);
        assert_eq!(
            model.group("paint").unwrap().option("white").unwrap().price,
            0
        );
        assert!(Selection::AtMostOne.is_single() && !Selection::Any.is_single());
        let catalog = Catalog {
            brands: Vec::new(),
            models: vec![model],
            offers: Vec::new(),
        };
        assert!(catalog.model("s7").is_some() && catalog.brand("aurora").is_none());
        assert!(!catalog.is_empty() && Catalog::default().is_empty());
    }

    #[test]
    fn csv_rows_read_like_inline_rows() {
        let table = CompatibilityTable {
            code: "t".into(),
            description: None,
            groups: vec!["paint".into()],
            rows: None,
            csv: Some("catalog/t.csv".into()),
        };
        assert!(table.rows().is_empty());
        let doc: CatalogDoc = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "models": [],
        }))
        .unwrap();
        assert!(doc.brands.is_empty() && doc.models.is_empty());
    }
}
