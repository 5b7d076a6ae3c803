//! The all-in cost sheet ("明白账"): every amount a buyer pays for a build, each line with its
//! explanation, exact to the fen. Pure: the caller runs the tenant's scripts and the loan
//! calculator and passes their results in.
//!
//! **Rounding**: the commercial insurance estimate is `base + round_half_up(price × rate_bp /
//! 10,000)`; everything else is already in minor units. Sums are checked: an overflow is an
//! error, never a wrapped amount.

use forecourt_plugins::hooks::{PriceAdjustment, TaxOutput};
use forecourt_tenant_config::catalog::{SpecValue, VehicleModel};
use forecourt_tenant_config::model::{LocalizedText, QuoteSettings};
use serde::{Deserialize, Serialize};

use crate::catalog::engine::{Evaluation, LineKind};
use crate::finance::calc::RepaymentPlan;

/// What a line is, for grouping and styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineCategory {
    Vehicle,
    Option,
    Adjustment,
    Tax,
    Insurance,
    Fee,
    Finance,
    /// Listed with its value but not paid for (and not in the total).
    Gift,
}

/// One line of the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostLine {
    pub code: String,
    pub category: LineCategory,
    pub label: String,
    /// Minor units; negative for a discount. Gifts carry their value but do not count.
    pub amount: i64,
    pub explanation: String,
}

/// The sheet: lines in order, the vehicle's transaction price and the total to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllInCost {
    pub lines: Vec<CostLine>,
    /// Trim + options + adjustments: the price the tax and insurance are based on.
    pub vehicle_price: i64,
    /// Everything the buyer pays (gifts excluded).
    pub total: i64,
}

/// The sum overflowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the amounts of the cost sheet overflow")]
pub struct Overflow;

/// Everything the sheet is made from.
pub struct CostInputs<'a> {
    pub locale: &'a str,
    pub model: &'a VehicleModel,
    pub evaluation: &'a Evaluation,
    pub adjustments: &'a [PriceAdjustment],
    pub tax: &'a TaxOutput,
    pub settings: &'a QuoteSettings,
    pub finance: Option<&'a RepaymentPlan>,
    /// Gifts of the store's offer: listed with their value, not paid for.
    pub gifts: &'a [forecourt_tenant_config::catalog::Gift],
    /// The store's contribution to the loan interest (only with `finance`), ≥ 0.
    pub finance_subsidy: i64,
}

fn text(t: &LocalizedText, locale: &str) -> String {
    t.get(locale)
        .or_else(|| t.values().next())
        .cloned()
        .unwrap_or_default()
}

/// Rounds `amount × bp / 10,000` half up (amount ≥ 0).
pub fn bp_of(amount: i64, bp: u32) -> Result<i64, Overflow> {
    let exact = i128::from(amount) * i128::from(bp);
    i64::try_from((exact + 5_000) / 10_000).map_err(|_| Overflow)
}

/// The seat count of the build's trim (trim spec over model spec), if the catalog says.
fn seats(model: &VehicleModel, trim: &str) -> Option<i64> {
    let from = |specs: &[forecourt_tenant_config::catalog::Spec]| {
        specs
            .iter()
            .find(|s| s.code == "seats")
            .and_then(|s| match s.value {
                SpecValue::Integer(n) => Some(n),
                _ => None,
            })
    };
    model
        .trim(trim)
        .and_then(|t| from(&t.specs))
        .or_else(|| from(&model.specs))
}

fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// Builds the sheet.
pub fn cost_sheet(i: &CostInputs<'_>) -> Result<AllInCost, Overflow> {
    let en = !i.locale.starts_with("zh");
    let mut lines = Vec::new();
    let option_name = |code: &str| {
        i.model
            .option(code)
            .map(|o| text(&o.name, i.locale))
            .unwrap_or_else(|| code.to_string())
    };
    for line in &i.evaluation.price.lines {
        match line.kind {
            LineKind::Trim => {
                let trim = i
                    .model
                    .trim(&line.code)
                    .map(|t| text(&t.name, i.locale))
                    .unwrap_or_default();
                lines.push(CostLine {
                    code: line.code.clone(),
                    category: LineCategory::Vehicle,
                    label: format!("{} {trim}", text(&i.model.name, i.locale)),
                    amount: line.amount,
                    explanation: if en {
                        "Manufacturer's suggested retail price of the trim.".into()
                    } else {
                        "该版本的厂商指导价。".into()
                    },
                });
            }
            LineKind::Option => lines.push(CostLine {
                code: line.code.clone(),
                category: LineCategory::Option,
                label: option_name(&line.code),
                amount: line.amount,
                explanation: match &line.included_by {
                    Some(pkg) if en => format!("Included in {}; not charged.", option_name(pkg)),
                    Some(pkg) => format!("已含在{}中，不另收费。", option_name(pkg)),
                    None if line.list_price == 0 && en => {
                        "Standard equipment at no extra cost.".into()
                    }
                    None if line.list_price == 0 => "标配，不另收费。".into(),
                    None if en => "Option price.".into(),
                    None => "选装价格。".into(),
                },
            }),
        }
    }
    for a in i.adjustments {
        lines.push(CostLine {
            code: a.code.clone(),
            category: LineCategory::Adjustment,
            label: a.label.clone(),
            amount: a.amount,
            explanation: if en {
                "Price adjustment of the tenant's pricing rule.".into()
            } else {
                "价格规则的调整。".into()
            },
        });
    }
    let vehicle_price = lines
        .iter()
        .try_fold(0i64, |acc, l| acc.checked_add(l.amount))
        .ok_or(Overflow)?
        .max(0);
    let tax_explanation = if i.tax.explanation.is_empty() {
        if en {
            "Vehicle purchase tax.".to_string()
        } else {
            "车辆购置税。".to_string()
        }
    } else {
        i.tax.explanation.clone()
    };
    lines.push(CostLine {
        code: "purchase-tax".into(),
        category: LineCategory::Tax,
        label: if en {
            "Vehicle purchase tax".into()
        } else {
            "车辆购置税".into()
        },
        amount: i.tax.tax,
        explanation: if i.tax.exemption > 0 {
            if en {
                format!("{tax_explanation} Exempted: CNY {}.", yuan(i.tax.exemption))
            } else {
                format!("{tax_explanation} 减免：{} 元。", yuan(i.tax.exemption))
            }
        } else {
            tax_explanation
        },
    });
    let seat_count = seats(i.model, &i.evaluation.trim);
    let (premium, band) = match seat_count {
        Some(n) if n > 6 => (i.settings.compulsory_insurance.over_6_seats, n),
        other => (
            i.settings.compulsory_insurance.up_to_6_seats,
            other.unwrap_or(5),
        ),
    };
    lines.push(CostLine {
        code: "compulsory-insurance".into(),
        category: LineCategory::Insurance,
        label: if en {
            "Compulsory traffic insurance (1 year)".into()
        } else {
            "交强险（一年）".into()
        },
        amount: premium,
        explanation: if en {
            format!(
                "Statutory premium for a car with {band} seats ({} seats).",
                if band > 6 { "more than 6" } else { "up to 6" }
            )
        } else {
            format!(
                "{band} 座车辆的法定保费（{}）。",
                if band > 6 {
                    "6 座以上"
                } else {
                    "6 座及以下"
                }
            )
        },
    });
    let rate = i.settings.commercial_insurance.rate_bp;
    let commercial = i
        .settings
        .commercial_insurance
        .base
        .checked_add(bp_of(vehicle_price, rate)?)
        .ok_or(Overflow)?;
    lines.push(CostLine {
        code: "commercial-insurance".into(),
        category: LineCategory::Insurance,
        label: if en { "Commercial insurance (estimate, 1 year)".into() } else { "商业险（估算，一年）".into() },
        amount: commercial,
        explanation: if en {
            format!("Estimate: CNY {} + {}.{:02} % of the vehicle price; the insurer's quote may differ.", yuan(i.settings.commercial_insurance.base), rate / 100, rate % 100)
        } else {
            format!("估算：{} 元 + 车价的 {}.{:02}%；以保险公司报价为准。", yuan(i.settings.commercial_insurance.base), rate / 100, rate % 100)
        },
    });
    for fee in &i.settings.fees {
        lines.push(CostLine {
            code: fee.code.clone(),
            category: LineCategory::Fee,
            label: text(&fee.label, i.locale),
            amount: fee.amount,
            explanation: text(&fee.explanation, i.locale),
        });
    }
    if let Some(plan) = i.finance {
        let rate = plan.annual_rate_bp;
        lines.push(CostLine {
            code: "finance-interest".into(),
            category: LineCategory::Finance,
            label: if en { "Loan interest".into() } else { "贷款利息".into() },
            amount: plan.total_interest,
            explanation: if en {
                format!(
                    "CNY {} financed over {} months at {}.{:02} % a year; down payment CNY {}, first instalment CNY {}.",
                    yuan(plan.financed_amount), plan.term_months, rate / 100, rate % 100, yuan(plan.down_payment), yuan(plan.first_payment)
                )
            } else {
                format!(
                    "贷款 {} 元，{} 期，年利率 {}.{:02}%；首付 {} 元，首期月供 {} 元。",
                    yuan(plan.financed_amount), plan.term_months, rate / 100, rate % 100, yuan(plan.down_payment), yuan(plan.first_payment)
                )
            },
        });
    }
    if let Some(plan) = i.finance.filter(|_| i.finance_subsidy > 0) {
        let subsidy = i.finance_subsidy.min(plan.total_interest);
        lines.push(CostLine {
            code: "finance-subsidy".into(),
            category: LineCategory::Finance,
            label: if en {
                "Store's finance subsidy".into()
            } else {
                "经销商金融贴息".into()
            },
            amount: -subsidy,
            explanation: if en {
                format!(
                    "The store pays CNY {} of the loan interest (at most the interest itself).",
                    yuan(subsidy)
                )
            } else {
                format!(
                    "经销商承担贷款利息 {} 元（不超过利息本身）。",
                    yuan(subsidy)
                )
            },
        });
    }
    for (n, gift) in i.gifts.iter().enumerate() {
        lines.push(CostLine {
            code: format!("gift-{}", n + 1),
            category: LineCategory::Gift,
            label: text(&gift.label, i.locale),
            amount: gift.value,
            explanation: if en {
                "A gift of the store's offer: its value is shown, it is not paid for.".into()
            } else {
                "经销商赠品：仅列示价值，不计入应付。".into()
            },
        });
    }
    let total = lines
        .iter()
        .filter(|l| l.category != LineCategory::Gift)
        .try_fold(0i64, |acc, l| acc.checked_add(l.amount))
        .ok_or(Overflow)?;
    Ok(AllInCost {
        lines,
        vehicle_price,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_round_half_up() {
        assert_eq!(bp_of(25_990_000, 120), Ok(311_880));
        assert_eq!(bp_of(12_345, 120), Ok(148)); // 148.14
        assert_eq!(bp_of(125, 400), Ok(5)); // 5.0
        assert_eq!(bp_of(1_250, 4), Ok(1)); // 0.5 → 1
        assert_eq!(bp_of(1_249, 4), Ok(0)); // 0.4996 → 0
        assert!(bp_of(i64::MAX, 10_000).is_ok());
    }

    #[test]
    fn yuan_formats_minor_units() {
        assert_eq!(yuan(259_900_000), "2599000.00");
        assert_eq!(yuan(-505), "-5.05");
        assert_eq!(yuan(7), "0.07");
    }
}
