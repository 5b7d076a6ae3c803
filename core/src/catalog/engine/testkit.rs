//! Builders of catalog models for the engine's tests.

use std::collections::BTreeMap;

use forecourt_tenant_config::catalog::{
    Availability, BodyType, CompatibilityTable, Energy, OptionGroup, OptionItem, Selection, Trim,
    VehicleModel,
};

pub(crate) fn text(s: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("en".to_string(), s.to_string())])
}

pub(crate) fn model(code: &str, trims: Vec<Trim>, groups: Vec<OptionGroup>) -> VehicleModel {
    VehicleModel {
        code: code.into(),
        brand: "aurora".into(),
        name: text(code),
        body_type: BodyType::Suv,
        energy: Energy::Bev,
        description: None,
        images: Vec::new(),
        specs: Vec::new(),
        trims,
        option_groups: groups,
        compatibility: Vec::new(),
    }
}

pub(crate) fn trim(code: &str, price: i64, defaults: &[&str]) -> Trim {
    Trim {
        code: code.into(),
        name: text(code),
        price,
        defaults: defaults.iter().map(|s| s.to_string()).collect(),
        specs: Vec::new(),
        available: None,
    }
}

pub(crate) fn group(code: &str, selection: Selection, options: Vec<OptionItem>) -> OptionGroup {
    OptionGroup {
        code: code.into(),
        name: text(code),
        selection,
        options,
    }
}

pub(crate) fn opt(code: &str, price: i64) -> OptionItem {
    OptionItem {
        code: code.into(),
        name: text(code),
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

pub(crate) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(crate) trait OptionExt {
    fn requires(self, codes: &[&str]) -> Self;
    fn excludes(self, codes: &[&str]) -> Self;
    fn includes(self, codes: &[&str]) -> Self;
    fn available(self, availability: Availability) -> Self;
}

impl OptionExt for OptionItem {
    fn requires(mut self, codes: &[&str]) -> Self {
        self.requires = strings(codes);
        self
    }
    fn excludes(mut self, codes: &[&str]) -> Self {
        self.excludes = strings(codes);
        self
    }
    fn includes(mut self, codes: &[&str]) -> Self {
        self.includes = strings(codes);
        self
    }
    fn available(mut self, availability: Availability) -> Self {
        self.available = Some(availability);
        self
    }
}

pub(crate) fn table(code: &str, groups: &[&str], rows: &[&[&str]]) -> CompatibilityTable {
    CompatibilityTable {
        code: code.into(),
        description: None,
        groups: strings(groups),
        rows: Some(rows.iter().map(|r| strings(r)).collect()),
        csv: None,
    }
}

/// A realistic 40-option SUV: paint 8, wheels 4, interior 5, seats 3, battery 3, assisted
/// driving 3, tow bar (at most one) 2, charging (at most one) 2, packages (any, with contents) 4,
/// accessories (any) 6; three trims with defaults; tables for battery × wheels, paint ×
/// interior and trim × battery.
pub(crate) fn aurora() -> VehicleModel {
    use Selection::{Any, AtMostOne, ExactlyOne};
    let paint = group(
        "paint",
        ExactlyOne,
        vec![
            opt("paint-white", 0),
            opt("paint-black", 600_000),
            opt("paint-grey", 600_000),
            opt("paint-blue", 800_000),
            opt("paint-red", 800_000),
            opt("paint-green", 800_000),
            opt("paint-silver", 600_000),
            opt("paint-matte", 1_800_000).available(Availability {
                trims: Some(strings(&["performance"])),
                ..Availability::default()
            }),
        ],
    );
    let wheels = group(
        "wheels",
        ExactlyOne,
        vec![
            opt("wheels-19", 0),
            opt("wheels-20", 500_000),
            opt("wheels-21", 900_000),
            opt("wheels-21-track", 1_500_000).requires(&["performance"]),
        ],
    );
    let interior = group(
        "interior",
        ExactlyOne,
        vec![
            opt("interior-black", 0),
            opt("interior-white", 300_000),
            opt("interior-cream", 300_000),
            opt("interior-red", 500_000),
            opt("interior-nappa", 1_200_000).excludes(&["paint-green"]),
        ],
    );
    let seats = group(
        "seats",
        ExactlyOne,
        vec![
            opt("seats-5", 0),
            opt("seats-6", 800_000).excludes(&["towbar-fixed"]),
            opt("seats-7", 1_000_000),
        ],
    );
    let battery = group(
        "battery",
        ExactlyOne,
        vec![
            opt("battery-standard", 0),
            opt("battery-long", 2_500_000),
            opt("battery-max", 4_000_000),
        ],
    );
    let adas = group(
        "adas",
        ExactlyOne,
        vec![
            opt("adas-basic", 0),
            opt("adas-enhanced", 1_500_000),
            opt("adas-full", 3_500_000)
                .requires(&["battery-long"])
                .available(Availability {
                    regions: Some(strings(&["east", "south"])),
                    ..Availability::default()
                }),
        ],
    );
    let towbar = group(
        "towbar",
        AtMostOne,
        vec![
            opt("towbar-fixed", 400_000),
            opt("towbar-retractable", 700_000),
        ],
    );
    let charging = group(
        "charging",
        AtMostOne,
        vec![
            opt("charger-wallbox", 300_000),
            opt("charger-portable", 150_000).available(Availability {
                from: Some("2025-03-01".into()),
                until: Some("2025-12-31".into()),
                ..Availability::default()
            }),
        ],
    );
    let packages = group(
        "packages",
        Any,
        vec![
            opt("pack-winter", 600_000).includes(&["heated-wheel", "heat-pump"]),
            opt("pack-tech", 900_000).includes(&["hud", "sound-premium"]),
            opt("pack-sport", 1_200_000)
                .includes(&["wheels-21"])
                .excludes(&["seats-7"]),
            opt("pack-family", 500_000)
                .includes(&["rear-screens"])
                .requires(&["seats-7"]),
        ],
    );
    let accessories = group(
        "accessories",
        Any,
        vec![
            opt("heated-wheel", 150_000),
            opt("heat-pump", 300_000),
            opt("hud", 400_000),
            opt("sound-premium", 600_000),
            opt("rear-screens", 700_000).requires(&["seats-7"]),
            opt("roof-box", 250_000).excludes(&["towbar-retractable"]),
        ],
    );
    let mut m = model(
        "aurora-s7",
        vec![
            trim(
                "standard",
                24_990_000,
                &[
                    "paint-white",
                    "wheels-19",
                    "interior-black",
                    "seats-5",
                    "battery-standard",
                    "adas-basic",
                ],
            ),
            trim(
                "long-range",
                28_990_000,
                &[
                    "paint-white",
                    "wheels-20",
                    "interior-black",
                    "seats-5",
                    "battery-long",
                    "adas-enhanced",
                ],
            ),
            trim(
                "performance",
                33_990_000,
                &[
                    "paint-black",
                    "wheels-21",
                    "interior-nappa",
                    "seats-5",
                    "battery-max",
                    "adas-enhanced",
                    "pack-tech",
                ],
            ),
        ],
        vec![
            paint,
            wheels,
            interior,
            seats,
            battery,
            adas,
            towbar,
            charging,
            packages,
            accessories,
        ],
    );
    m.compatibility = vec![
        table(
            "battery-wheels",
            &["battery", "wheels"],
            &[
                &["battery-standard", "wheels-19"],
                &["battery-standard", "wheels-20"],
                &["battery-long", "*"],
                &["battery-max", "wheels-20"],
                &["battery-max", "wheels-21"],
                &["battery-max", "wheels-21-track"],
            ],
        ),
        table(
            "paint-interior",
            &["paint", "interior"],
            &[
                &["*", "interior-black"],
                &["paint-white", "*"],
                &["paint-black", "*"],
                &["paint-grey", "interior-white"],
                &["paint-blue", "interior-cream"],
                &["paint-silver", "interior-red"],
                &["paint-matte", "interior-nappa"],
            ],
        ),
        table(
            "trim-battery",
            &["trim", "battery", "towbar"],
            &[
                &["standard", "battery-standard", "-"],
                &["standard", "battery-long", "*"],
                &["long-range", "battery-long", "*"],
                &["long-range", "battery-max", "*"],
                &["performance", "battery-max", "*"],
            ],
        ),
    ];
    m
}
