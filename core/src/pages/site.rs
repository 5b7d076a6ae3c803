//! The storefront facts a page is rendered from ([`Site`]), built once per tenant snapshot from
//! its bundle, and the calculations core lends the renderer ([`SiteServices`]: loan figures from
//! the finance calculator, the all-in cost sheet from the quote engine).

use forecourt_page_builder::site::{
    CostSummary, CostSummaryLine, FinanceSummary, Services, Site, SiteImage, SiteModel, SiteSpec,
    SiteStore, SiteTenant, SiteTrim,
};
use forecourt_tenant_config::catalog::SpecValue;
use forecourt_tenant_config::Bundle;

use crate::finance::calc::{repayment_plan, DownPayment, LoanTerms, RepaymentMethod};
use crate::state::AppState;
use crate::tenancy::Snapshot;

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn spec_text(value: &SpecValue) -> String {
    match value {
        SpecValue::Integer(i) => i.to_string(),
        SpecValue::Number(n) => n.to_string(),
        SpecValue::Flag(b) => b.to_string(),
        SpecValue::Text(t) => t.clone(),
    }
}

/// The storefront facts of tenant `slug` running `bundle` (empty before its first bundle).
pub fn build(slug: &str, bundle: Option<&Bundle>) -> Site {
    let Some(bundle) = bundle else {
        return Site {
            tenant: SiteTenant {
                slug: slug.to_string(),
                default_locale: "en".into(),
                ..SiteTenant::default()
            },
            ..Site::default()
        };
    };
    let doc = bundle.tenant();
    let fleet: std::collections::BTreeSet<&str> = doc
        .test_drives
        .as_ref()
        .map(|t| t.fleet.iter().map(|v| v.model.as_str()).collect())
        .unwrap_or_default();
    let models = bundle
        .catalog()
        .models
        .iter()
        .map(|m| SiteModel {
            code: m.code.clone(),
            brand: m.brand.clone(),
            name: m.name.clone(),
            body_type: json_text(&m.body_type),
            energy: json_text(&m.energy),
            description: m.description.clone(),
            images: m
                .images
                .iter()
                .map(|i| SiteImage {
                    url: i.url.clone(),
                    alt: i.alt.clone(),
                })
                .collect(),
            specs: m
                .specs
                .iter()
                .map(|s| SiteSpec {
                    code: s.code.clone(),
                    label: s.label.clone(),
                    value: spec_text(&s.value),
                    unit: s.unit.clone(),
                })
                .collect(),
            trims: m
                .trims
                .iter()
                .map(|t| SiteTrim {
                    code: t.code.clone(),
                    name: t.name.clone(),
                    price: t.price,
                })
                .collect(),
            from_price: m.trims.iter().map(|t| t.price).min().unwrap_or(0),
            test_drive: fleet.contains(m.code.as_str()),
        })
        .collect();
    let stores = doc
        .org
        .stores
        .iter()
        .map(|s| SiteStore {
            code: s.code.clone(),
            name: s.name.clone(),
            city: s.city.clone(),
            address: s.address.clone(),
            lat: s.location.lat,
            lon: s.location.lon,
            phone: s.phone.clone(),
        })
        .collect();
    Site {
        tenant: SiteTenant {
            slug: slug.to_string(),
            name: doc.tenant.name.clone(),
            currency: doc.tenant.currency.clone(),
            locales: doc.tenant.locales.clone(),
            default_locale: doc
                .tenant
                .locales
                .first()
                .cloned()
                .unwrap_or_else(|| "en".into()),
            time_zone: doc.tenant.time_zone.clone(),
        },
        models,
        stores,
    }
}

/// Loan figures and all-in costs for one tenant, computed by the same code as the finance and
/// quote APIs.
pub struct SiteServices<'a> {
    pub state: &'a AppState,
    pub snapshot: &'a Snapshot,
}

impl Services for SiteServices<'_> {
    fn finance(
        &self,
        vehicle_price: i64,
        down_payment_pct: u32,
        term_months: u32,
        annual_rate_bp: u32,
    ) -> Option<FinanceSummary> {
        let plan = repayment_plan(&LoanTerms {
            vehicle_price,
            down_payment: DownPayment::PercentBp(down_payment_pct.checked_mul(100)?),
            term_months,
            annual_rate_bp,
            method: RepaymentMethod::EqualInstalment,
        })
        .ok()?;
        Some(FinanceSummary {
            down_payment: plan.down_payment,
            financed: plan.financed_amount,
            monthly_payment: plan.first_payment,
            total_interest: plan.total_interest,
            total_paid: plan.total_cost,
        })
    }

    fn all_in_cost(&self, model: &str, locale: &str) -> Option<CostSummary> {
        let m = self
            .snapshot
            .bundle
            .as_ref()?
            .catalog()
            .models
            .iter()
            .find(|m| m.code == model)?;
        let trim = m.trims.iter().min_by_key(|t| t.price)?;
        let (_, sheet) = crate::quotes::routes::default_cost(
            self.state,
            self.snapshot,
            model,
            &trim.code,
            locale,
        )
        .ok()?;
        Some(CostSummary {
            lines: sheet
                .lines
                .into_iter()
                .map(|l| CostSummaryLine {
                    label: l.label,
                    amount: l.amount,
                    explanation: l.explanation,
                })
                .collect(),
            vehicle_price: sheet.vehicle_price,
            total: sheet.total,
        })
    }
}
