//! What a page is rendered from besides its own document: the tenant's storefront facts
//! ([`Site`], built by `core` from the active bundle), the request ([`RenderRequest`]), the
//! visitor ([`Visit`], only for per-request blocks) and the calculations `core` owns
//! ([`Services`]: loan figures, the all-in cost).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Text per locale (`zh-CN`, `en`); read it with [`pick`].
pub type Localized = BTreeMap<String, String>;

/// `text` in `locale`, else in `fallback`, else any; empty when there is none.
pub fn pick<'a>(text: &'a Localized, locale: &str, fallback: &str) -> &'a str {
    text.get(locale)
        .or_else(|| text.get(fallback))
        .or_else(|| text.values().next())
        .map(String::as_str)
        .unwrap_or("")
}

/// The storefront facts of one tenant at one configuration version. Immutable; `core` builds it
/// once per tenant snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Site {
    pub tenant: SiteTenant,
    /// Catalog models in catalog order.
    pub models: Vec<SiteModel>,
    /// Stores that sell (showrooms), in org-tree order.
    pub stores: Vec<SiteStore>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteTenant {
    pub slug: String,
    pub name: Localized,
    /// ISO 4217 code; every amount is in its minor units.
    pub currency: String,
    pub locales: Vec<String>,
    pub default_locale: String,
    /// IANA time zone (promotion countdowns show their end in it).
    pub time_zone: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteModel {
    pub code: String,
    pub brand: String,
    pub name: Localized,
    /// `sedan`, `suv`, `mpv` … as in the catalog.
    pub body_type: String,
    /// `bev`, `phev`, `ice` … as in the catalog.
    pub energy: String,
    pub description: Option<Localized>,
    pub images: Vec<SiteImage>,
    /// Key specs, display-ready.
    pub specs: Vec<SiteSpec>,
    pub trims: Vec<SiteTrim>,
    /// The cheapest trim's price, minor units.
    pub from_price: i64,
    /// A demo vehicle of this model can be booked for a test drive.
    pub test_drive: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteImage {
    pub url: String,
    pub alt: Localized,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteSpec {
    pub code: String,
    pub label: Localized,
    /// The value as text (`"520"`, `"true"`, `"LFP"`).
    pub value: String,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteTrim {
    pub code: String,
    pub name: Localized,
    /// Minor units.
    pub price: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteStore {
    pub code: String,
    pub name: Localized,
    pub city: Localized,
    pub address: Localized,
    pub lat: f64,
    pub lon: f64,
    pub phone: Option<String>,
}

/// Where and how a page is being rendered.
#[derive(Debug, Clone, Copy)]
pub struct RenderRequest<'a> {
    /// One of the tenant's locales.
    pub locale: &'a str,
    pub channel: crate::document::Channel,
    /// Prefix of every storefront link: `""` under the tenant's host, `"/t/{slug}"` otherwise.
    pub base_path: &'a str,
    /// Route parameters (`{model}` → `s7`), already checked by `core`.
    pub params: &'a BTreeMap<String, String>,
    /// The storefront's navigation, in order.
    pub nav: &'a [NavLink],
    /// A preview of an unpublished draft (the page says so and is never cached).
    pub preview: bool,
}

/// One navigation entry: an absolute link (base path included) and its label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NavLink {
    pub href: String,
    pub label: String,
    /// The page being rendered.
    pub current: bool,
}

/// The visitor of one request; only per-request blocks read it.
#[derive(Debug, Clone, Default)]
pub struct Visit {
    /// Query parameters (first value of each), already size-limited by `core`.
    pub query: BTreeMap<String, String>,
    /// Model codes the visitor looked at, most recent first (from a cookie; unchecked).
    pub seen_models: Vec<String>,
    /// Records a route parameter names, loaded by `core`: `configuration` (a saved
    /// configuration, as its public API returns it) and `quote` (a quote, likewise).
    pub records: BTreeMap<String, serde_json::Value>,
    /// Now, Unix milliseconds (countdowns).
    pub now_ms: i64,
}

/// Calculations that belong to `core` (finance and the all-in cost sheet).
pub trait Services: Send + Sync {
    /// A loan on `vehicle_price` with `down_payment_pct` % down, equal instalments.
    fn finance(
        &self,
        vehicle_price: i64,
        down_payment_pct: u32,
        term_months: u32,
        annual_rate_bp: u32,
    ) -> Option<FinanceSummary>;
    /// The all-in cost of `model`'s default build (cheapest trim, default options) in `locale`.
    fn all_in_cost(&self, model: &str, locale: &str) -> Option<CostSummary>;
}

/// Loan figures, minor units.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FinanceSummary {
    pub down_payment: i64,
    pub financed: i64,
    pub monthly_payment: i64,
    pub total_interest: i64,
    pub total_paid: i64,
}

/// An all-in cost sheet, minor units.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CostSummary {
    pub lines: Vec<CostSummaryLine>,
    pub vehicle_price: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CostSummaryLine {
    pub label: String,
    pub amount: i64,
    pub explanation: String,
}

/// [`Services`] that know nothing (tests, previews without a catalog).
pub struct NoServices;

impl Services for NoServices {
    fn finance(&self, _: i64, _: u32, _: u32, _: u32) -> Option<FinanceSummary> {
        None
    }
    fn all_in_cost(&self, _: &str, _: &str) -> Option<CostSummary> {
        None
    }
}
