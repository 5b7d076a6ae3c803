//! The typed model of a tenant bundle's `tenant.yaml` (schema_version 1).
//!
//! These types are what the rest of Forecourt reads after a bundle has passed all three
//! validation layers; they carry no source locations (those live in the loader's diagnostics).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Text in several locales, keyed by BCP 47 tag (`zh-CN`, `en`). Must hold the tenant's
/// default locale (the first entry of `tenant.locales`).
pub type LocalizedText = BTreeMap<String, String>;

/// `tenant.yaml`: who the tenant is, its organisation and its roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDoc {
    /// Format version of this document; currently always `1`.
    pub schema_version: u32,
    pub tenant: TenantProfile,
    pub org: OrgTree,
    pub roles: Vec<Role>,
    /// How quotes and their all-in cost sheet are made; absent → [`QuoteSettings::default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotes: Option<QuoteSettings>,
    /// Test-drive booking: slot length, booking window and the demo fleet; absent → the
    /// tenant takes no test-drive bookings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_drives: Option<TestDriveSettings>,
    /// Vehicle orders: lifecycle workflow, deposit, reservation and refund rules; absent → the
    /// tenant takes no online orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<OrderSettings>,
}

/// How buyers order vehicles online. Amounts are minor units of the tenant's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSettings {
    /// The lifecycle workflow (its subject type is `vehicle_order`).
    #[serde(default = "default_order_workflow")]
    pub workflow: String,
    /// The deposit that confirms an order.
    pub deposit: i64,
    /// How long a vehicle stays reserved for an order whose deposit is unpaid.
    #[serde(default = "default_reservation_minutes")]
    pub reservation_minutes: u32,
    /// Accept an order for a build no vehicle matches (a factory order, allocated later).
    #[serde(default)]
    pub build_to_order: bool,
    /// What a cancellation refunds, by the order's state (first matching rule).
    #[serde(default)]
    pub refunds: Vec<RefundRule>,
}

/// A cancelled order in one of `states` refunds what was paid minus `keep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRule {
    pub states: Vec<String>,
    pub keep: i64,
}

impl OrderSettings {
    /// What the tenant keeps when an order in `state` is cancelled.
    pub fn kept_on_cancel(&self, state: &str) -> i64 {
        self.refunds
            .iter()
            .find(|r| r.states.iter().any(|s| s == state))
            .map(|r| r.keep)
            .unwrap_or(0)
    }
}

fn default_order_workflow() -> String {
    "vehicle_order".into()
}

fn default_reservation_minutes() -> u32 {
    30
}

/// How buyers book test drives: slots of `slot_minutes` within each store's opening hours,
/// from `lead_minutes` ahead up to `horizon_days` ahead, one demo vehicle per slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDriveSettings {
    /// The workflow that reviews bookings (its subject type is `test_drive_booking`).
    #[serde(default = "default_test_drive_workflow")]
    pub workflow: String,
    /// Length of one slot in minutes (15–240).
    pub slot_minutes: u32,
    /// The earliest a slot may start, in minutes from now.
    #[serde(default)]
    pub lead_minutes: u32,
    /// How many days ahead buyers may book (1–60).
    pub horizon_days: u32,
    /// The demo vehicles, each at one store.
    pub fleet: Vec<DemoVehicle>,
}

fn default_test_drive_workflow() -> String {
    "test_drive_review".into()
}

/// One demo vehicle available for test drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoVehicle {
    /// Unique in the tenant (`sh01-s7-1`).
    pub id: String,
    /// The store that keeps it.
    pub store: String,
    /// The catalog model it is.
    pub model: String,
}

/// The tenant's settings for quotes and the all-in cost sheet ("明白账"). Amounts are minor
/// units of the tenant's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteSettings {
    /// Days a quote stays valid (1–90).
    pub validity_days: u32,
    /// Compulsory traffic accident liability insurance for one year.
    pub compulsory_insurance: CompulsoryInsurance,
    /// The commercial insurance estimate: `base + price × rate_bp / 10,000`, rounded half up.
    pub commercial_insurance: CommercialInsurance,
    /// Fixed fees every buyer pays (registration and plates, delivery …), in this order.
    #[serde(default)]
    pub fees: Vec<QuoteFee>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompulsoryInsurance {
    /// Premium for cars with up to 6 seats.
    pub up_to_6_seats: i64,
    /// Premium for cars with more than 6 seats.
    pub over_6_seats: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommercialInsurance {
    pub base: i64,
    /// Rate on the vehicle price, in basis points (120 = 1.2 %).
    pub rate_bp: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteFee {
    /// Unique among the fees: `^[a-z][a-z0-9_-]{0,63}$`.
    pub code: String,
    pub label: LocalizedText,
    pub amount: i64,
    pub explanation: LocalizedText,
}

impl Default for QuoteSettings {
    /// China-market defaults: 7 days; compulsory insurance CNY 950 / 1,100; commercial estimate
    /// CNY 1,500 + 1.2 % of the price; no fixed fees.
    fn default() -> Self {
        QuoteSettings {
            validity_days: 7,
            compulsory_insurance: CompulsoryInsurance {
                up_to_6_seats: 95_000,
                over_6_seats: 110_000,
            },
            commercial_insurance: CommercialInsurance {
                base: 150_000,
                rate_bp: 120,
            },
            fees: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantProfile {
    /// URL-safe identifier: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`. Storefront host `{slug}.{base domain}`.
    pub slug: String,
    pub kind: TenantKind,
    pub name: LocalizedText,
    /// Supported locales, the first one is the default (`zh-CN`, `en`, …).
    pub locales: Vec<String>,
    /// ISO 4217 code (`CNY`).
    pub currency: String,
    /// IANA time zone (`Asia/Shanghai`).
    pub time_zone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    Oem,
    DealerGroup,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantKind::Oem => "oem",
            TenantKind::DealerGroup => "dealer_group",
        }
    }
}

/// The org tree: regions → dealer groups → stores. A store sits in a region and, when it is
/// run by a dealer group, in that group (which must be in the same region).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgTree {
    /// Dealer levels the tenant uses (`A`, `B`, …); a store's `level` must be one of them.
    #[serde(default)]
    pub store_levels: Vec<String>,
    pub regions: Vec<Region>,
    #[serde(default)]
    pub dealer_groups: Vec<DealerGroup>,
    pub stores: Vec<Store>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Unique across all org units of the tenant: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`.
    pub code: String,
    pub name: LocalizedText,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealerGroup {
    pub code: String,
    pub name: LocalizedText,
    /// Code of the region the group belongs to.
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub code: String,
    pub name: LocalizedText,
    pub kind: StoreKind,
    /// Dealer level (one of `org.store_levels`); absent for stores without a level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Code of the region the store is in.
    pub region: String,
    /// Code of the dealer group running the store; only for `kind: dealer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_group: Option<String>,
    pub city: LocalizedText,
    pub address: LocalizedText,
    pub location: GeoPoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub opening_hours: OpeningHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Dealer,
    Direct,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Dealer => "dealer",
            StoreKind::Direct => "direct",
        }
    }
}

/// WGS-84 coordinates in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

/// Opening hours in the tenant's time zone. `daily` applies to every day that has no entry of
/// its own; a day with an empty list is closed. Each range is `"HH:MM-HH:MM"`, open before close,
/// ranges of one day do not overlap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tue: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wed: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thu: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fri: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sat: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sun: Option<Vec<String>>,
}

/// A role: a named set of grants. Users hold roles; a grant applies relative to the user's
/// place in the org tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `^[a-z][a-z0-9_]{0,63}$`, unique in the tenant.
    pub code: String,
    pub name: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub grants: Vec<Grant>,
}

/// Permission to perform `actions` on records within `reach` of the user's org unit,
/// optionally only while the user's own store has one of `store_levels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Action names from the platform vocabulary ([`crate::actions::ACTIONS`]), `area.*` or `*`.
    pub actions: Vec<String>,
    pub reach: Reach,
    /// Only when the user's store has one of these levels (the seed's "a level-A dealer sees
    /// the whole network, a level-B dealer its region").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_levels: Option<Vec<String>>,
}

/// How far from the user's own org unit a grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Records of the user's own store.
    OwnStore,
    /// Records of every store of the user's dealer group.
    OwnDealerGroup,
    /// Records of every store (and group) in the user's region.
    OwnRegion,
    /// Every record of the tenant.
    Tenant,
}

impl Reach {
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::OwnStore => "own_store",
            Reach::OwnDealerGroup => "own_dealer_group",
            Reach::OwnRegion => "own_region",
            Reach::Tenant => "tenant",
        }
    }
}

impl OrgTree {
    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }
    pub fn dealer_group(&self, code: &str) -> Option<&DealerGroup> {
        self.dealer_groups.iter().find(|g| g.code == code)
    }
    pub fn store(&self, code: &str) -> Option<&Store> {
        self.stores.iter().find(|s| s.code == code)
    }
}
