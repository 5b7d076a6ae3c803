//! Car-loan calculators: from a vehicle price, a down payment, a term, an annual nominal rate and
//! a repayment method to a month-by-month repayment plan, exact to the minor unit.
//!
//! **Owns** the arithmetic of a loan offer. **Knows nothing** of HTTP, storage, tenants or the
//! clock: it is a pure function, [`repayment_plan`], over plain data, so the same figures come out
//! of the API, the storefront and a test.
//!
//! # Money
//! Every amount is an `i64` in minor units of the tenant's currency (fen for CNY). There is no
//! floating point anywhere: rates are integers in basis points (399 = 3.99 %), and the one place
//! that needs more than 64-bit integers — the annuity factor `(1 + r)^n` — uses exact big-integer
//! rationals ([`num_bigint::BigUint`]). Decimal types are not exact here: the monthly rate
//! `bp / 120 000` has no finite decimal expansion unless `bp` is a multiple of 3 (4.90 % gives
//! 0.000408333…), and a truncated rate rounds genuine half-fen ties down (150 000.00 over 60 months at
//! 4.90 %, equal principal, meets one in month 52: 2 250 000 × 490 / 120 000 = 9 187.5 fen).
//!
//! # Rounding rule `loan-fen-half-up` (followed exactly; the tests pin it)
//! 1. **Down payment.** Given as an amount, it is taken as is. Given as a percentage `p` in basis
//!    points, it is `round_half_up(price × p / 10 000)`.
//! 2. **Financed amount** `P = price − down payment`; it must be positive.
//! 3. **Monthly rate** `r = annual_bp / 10 000 / 12 = annual_bp / 120 000`, held as an exact
//!    rational, never rounded.
//! 4. **Interest of a month** `= round_half_up(opening balance × r)` to the minor unit.
//! 5. **Equal instalment (等额本息, annuity), `r > 0`.** The regular payment is
//!    `A = round_half_up(P·r·(1+r)^n / ((1+r)^n − 1))`, computed exactly. In months 1 … n−1
//!    the payment is `A` and the principal part is `A − interest`. In month `n` the principal part
//!    is the whole remaining balance and the payment is that plus the month's interest, so the
//!    balance ends at exactly 0.
//! 6. **Equal principal (等额本金), `r > 0`.** The principal part is `floor(P / n)` in months
//!    1 … n−1; month `n` takes the remainder (`P − (n−1)·floor(P / n)`). The payment is the
//!    principal part plus the month's interest.
//! 7. **0 % (promotion), either method.** The principal is split as in 6, and there is no
//!    interest.
//! 8. `round_half_up` rounds a non-negative exact value to the nearest minor unit, a half going up
//!    (away from zero; every rounded value here is ≥ 0).
//! 9. **Totals**: total interest = Σ interest parts; total payments = Σ payments; total cost =
//!    total payments + down payment.
//!
//! # Invariants (property-tested)
//! - Σ principal parts = financed amount; every balance is ≥ 0 and the last one is 0; every
//!   principal and interest part is ≥ 0; payment = principal + interest in every month.
//! - Equal instalment: every payment but the last is the same.
//! - Equal principal and 0 %: the payments of months 1 … n−1 never increase. The last month may
//!   pay *more* than the month before by at most the remainder of `P / n` (< n minor units):
//!   at 0 %, or at a very low rate, the remainder outweighs the fall in interest.
//! - Equal instalment with a rounded-up payment repays a little faster than the exact annuity,
//!   and at high rates that drift compounds. For a tiny financed amount (over 96 months: below
//!   about 50.00 at rates up to 10 %, about 90.00 at 36 %, about 1 400.00 at 100 %) the balance
//!   would reach 0 before month `n`; such terms are refused with
//!   [`LoanTermsError::TooSmallToAmortise`] rather than bending the rule. Real car loans never
//!   meet it (property test: 10 000.00 or more always amortises, at any accepted rate and term).

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Shortest term accepted, in months.
pub const MIN_TERM_MONTHS: u32 = 1;
/// Longest term accepted, in months.
pub const MAX_TERM_MONTHS: u32 = 96;
/// Highest annual nominal rate accepted, in basis points (100 %).
pub const MAX_ANNUAL_RATE_BP: u32 = 10_000;
/// Highest vehicle price accepted, in minor units (10^14, i.e. one trillion yuan). The bound keeps
/// every intermediate product (balance × rate numerator) inside `i64`.
pub const MAX_VEHICLE_PRICE: i64 = 100_000_000_000_000;

/// Basis points in one whole (100 %).
const BP_PER_WHOLE: i64 = 10_000;
/// The monthly rate is `annual_bp / MONTHLY_RATE_DENOMINATOR`.
const MONTHLY_RATE_DENOMINATOR: i64 = BP_PER_WHOLE * 12;

/// How the loan is repaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepaymentMethod {
    /// 等额本息: the same payment every month (annuity); the last one absorbs rounding.
    EqualInstalment,
    /// 等额本金: the same principal every month plus the interest on the remaining balance.
    EqualPrincipal,
}

/// The down payment, as an amount or as a share of the vehicle price.
///
/// JSON: `{"amount": 5000000}` or `{"percent_bp": 3000}` (30 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DownPayment {
    /// An amount in minor units, 0 ≤ amount < vehicle price.
    Amount(i64),
    /// A share of the vehicle price in basis points (3000 = 30 %), 0 ≤ share ≤ 10 000; the amount
    /// is `round_half_up(price × share / 10 000)`.
    PercentBp(u32),
}

/// What a customer asks about: a vehicle, a down payment and a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanTerms {
    /// Vehicle price in minor units, 1 ≤ price ≤ 10^14.
    pub vehicle_price: i64,
    /// Down payment, as an amount or a percentage; it must leave something to finance.
    pub down_payment: DownPayment,
    /// Term in months, 1 ≤ term ≤ 96.
    pub term_months: u32,
    /// Annual nominal rate in basis points (399 = 3.99 %), 0 ≤ rate ≤ 10 000; 0 is a 0 % offer.
    pub annual_rate_bp: u32,
    /// Repayment method.
    pub method: RepaymentMethod,
}

/// One month of a repayment plan. Amounts in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Instalment {
    /// Month number, 1-based.
    pub month: u32,
    /// What the customer pays this month: principal + interest.
    pub payment: i64,
    /// Part of the payment that repays principal.
    pub principal: i64,
    /// Part of the payment that is interest on the opening balance.
    pub interest: i64,
    /// Principal still owed after this month's payment.
    pub balance: i64,
}

/// A complete repayment plan, exact to the minor unit. Amounts in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RepaymentPlan {
    /// Repayment method used.
    pub method: RepaymentMethod,
    /// Term in months (= number of instalments).
    pub term_months: u32,
    /// Annual nominal rate in basis points.
    pub annual_rate_bp: u32,
    /// Vehicle price.
    pub vehicle_price: i64,
    /// Down payment as an amount (a percentage is already resolved).
    pub down_payment: i64,
    /// Amount borrowed: vehicle price − down payment.
    pub financed_amount: i64,
    /// Payment of month 1.
    pub first_payment: i64,
    /// Payment of the last month.
    pub last_payment: i64,
    /// Sum of the interest parts.
    pub total_interest: i64,
    /// Sum of the monthly payments (financed amount + total interest).
    pub total_payments: i64,
    /// Everything the customer pays: total payments + down payment.
    pub total_cost: i64,
    /// The month-by-month schedule, month 1 first.
    pub instalments: Vec<Instalment>,
}

/// One problem with a [`LoanTerms`]: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoanTermsError {
    /// The vehicle price is zero or negative.
    #[error("vehicle_price must be positive, got {0}")]
    VehiclePriceNotPositive(i64),
    /// The vehicle price is above [`MAX_VEHICLE_PRICE`].
    #[error("vehicle_price must be at most {MAX_VEHICLE_PRICE}, got {0}")]
    VehiclePriceTooLarge(i64),
    /// A down payment amount below zero.
    #[error("down_payment amount must not be negative, got {0}")]
    DownPaymentNegative(i64),
    /// A down payment share above 100 %.
    #[error("down_payment percent_bp must be at most {BP_PER_WHOLE} (100 %), got {0}")]
    DownPaymentPercentTooLarge(u32),
    /// The down payment is more than the vehicle costs.
    #[error("down_payment {down_payment} exceeds vehicle_price {vehicle_price}")]
    DownPaymentExceedsPrice {
        /// The down payment, as an amount.
        down_payment: i64,
        /// The vehicle price.
        vehicle_price: i64,
    },
    /// The down payment covers the whole price: there is no loan.
    #[error("down_payment {0} equals vehicle_price: nothing is left to finance")]
    NothingToFinance(i64),
    /// The term is outside `1..=96`.
    #[error("term_months must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}, got {0}")]
    TermOutOfRange(u32),
    /// The rate is above [`MAX_ANNUAL_RATE_BP`].
    #[error("annual_rate_bp must be at most {MAX_ANNUAL_RATE_BP} (100 %), got {0}")]
    RateTooHigh(u32),
    /// Equal instalments rounded to the minor unit would repay this (tiny) amount before the last
    /// month; see the module documentation.
    #[error(
        "financed amount {financed_amount} is too small for {term_months} equal instalments at \
         {annual_rate_bp} bp: rounded payments would repay it before the last month; \
         choose a shorter term or finance more"
    )]
    TooSmallToAmortise {
        /// The financed amount.
        financed_amount: i64,
        /// The term asked for.
        term_months: u32,
        /// The rate asked for.
        annual_rate_bp: u32,
    },
}

impl LoanTermsError {
    /// The [`LoanTerms`] field at fault, as its JSON name.
    pub fn field(&self) -> &'static str {
        match self {
            Self::VehiclePriceNotPositive(_) | Self::VehiclePriceTooLarge(_) => "vehicle_price",
            Self::DownPaymentNegative(_)
            | Self::DownPaymentPercentTooLarge(_)
            | Self::DownPaymentExceedsPrice { .. }
            | Self::NothingToFinance(_) => "down_payment",
            Self::TermOutOfRange(_) | Self::TooSmallToAmortise { .. } => "term_months",
            Self::RateTooHigh(_) => "annual_rate_bp",
        }
    }

    /// A stable machine-readable code for the problem.
    pub fn code(&self) -> &'static str {
        match self {
            Self::VehiclePriceNotPositive(_) => "vehicle_price_not_positive",
            Self::VehiclePriceTooLarge(_) => "vehicle_price_too_large",
            Self::DownPaymentNegative(_) => "down_payment_negative",
            Self::DownPaymentPercentTooLarge(_) => "down_payment_percent_too_large",
            Self::DownPaymentExceedsPrice { .. } => "down_payment_exceeds_price",
            Self::NothingToFinance(_) => "nothing_to_finance",
            Self::TermOutOfRange(_) => "term_out_of_range",
            Self::RateTooHigh(_) => "rate_too_high",
            Self::TooSmallToAmortise { .. } => "too_small_to_amortise",
        }
    }
}

/// Every problem found in a [`LoanTerms`], at once (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid loan terms: {}", join_messages(.errors))]
pub struct InvalidLoanTerms {
    /// The problems, in field order: price, down payment, term, rate.
    pub errors: Vec<LoanTermsError>,
}

fn join_messages(errors: &[LoanTermsError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<LoanTermsError> for InvalidLoanTerms {
    fn from(error: LoanTermsError) -> Self {
        Self {
            errors: vec![error],
        }
    }
}

/// Builds the repayment plan for `terms` by the rule `loan-fen-half-up` (module documentation).
///
/// # Errors
/// [`InvalidLoanTerms`] listing every field problem at once; or, for valid fields, the single
/// [`LoanTermsError::TooSmallToAmortise`].
pub fn repayment_plan(terms: &LoanTerms) -> Result<RepaymentPlan, InvalidLoanTerms> {
    let down_payment = validate(terms)?;
    let financed_amount = terms.vehicle_price - down_payment;
    let n = terms.term_months;
    let bp = terms.annual_rate_bp;

    let instalments = match terms.method {
        RepaymentMethod::EqualInstalment if bp > 0 => equal_instalment(financed_amount, n, bp)
            .ok_or(LoanTermsError::TooSmallToAmortise {
                financed_amount,
                term_months: n,
                annual_rate_bp: bp,
            })?,
        // Equal principal, and 0 % under either method: the same principal split.
        RepaymentMethod::EqualInstalment | RepaymentMethod::EqualPrincipal => {
            equal_principal(financed_amount, n, bp)
        }
    };

    let total_interest = instalments.iter().map(|i| i.interest).sum();
    let total_payments: i64 = instalments.iter().map(|i| i.payment).sum();
    let first_payment = instalments.first().map_or(0, |i| i.payment);
    let last_payment = instalments.last().map_or(0, |i| i.payment);
    Ok(RepaymentPlan {
        method: terms.method,
        term_months: n,
        annual_rate_bp: bp,
        vehicle_price: terms.vehicle_price,
        down_payment,
        financed_amount,
        first_payment,
        last_payment,
        total_interest,
        total_payments,
        total_cost: total_payments + down_payment,
        instalments,
    })
}

/// Checks every field and returns the down payment as an amount.
fn validate(terms: &LoanTerms) -> Result<i64, InvalidLoanTerms> {
    let mut errors = Vec::new();
    let price = terms.vehicle_price;
    let price_ok = if price <= 0 {
        errors.push(LoanTermsError::VehiclePriceNotPositive(price));
        false
    } else if price > MAX_VEHICLE_PRICE {
        errors.push(LoanTermsError::VehiclePriceTooLarge(price));
        false
    } else {
        true
    };

    let down = match terms.down_payment {
        DownPayment::Amount(amount) if amount < 0 => {
            errors.push(LoanTermsError::DownPaymentNegative(amount));
            None
        }
        DownPayment::Amount(amount) => Some(amount),
        DownPayment::PercentBp(share) if i64::from(share) > BP_PER_WHOLE => {
            errors.push(LoanTermsError::DownPaymentPercentTooLarge(share));
            None
        }
        // price ≤ 10^14 and share ≤ 10^4, so the product fits in i64.
        DownPayment::PercentBp(share) if price_ok => {
            Some(round_half_up_div(price * i64::from(share), BP_PER_WHOLE))
        }
        DownPayment::PercentBp(_) => None,
    };
    if let (true, Some(down)) = (price_ok, down) {
        if down > price {
            errors.push(LoanTermsError::DownPaymentExceedsPrice {
                down_payment: down,
                vehicle_price: price,
            });
        } else if down == price {
            errors.push(LoanTermsError::NothingToFinance(down));
        }
    }

    if !(MIN_TERM_MONTHS..=MAX_TERM_MONTHS).contains(&terms.term_months) {
        errors.push(LoanTermsError::TermOutOfRange(terms.term_months));
    }
    if terms.annual_rate_bp > MAX_ANNUAL_RATE_BP {
        errors.push(LoanTermsError::RateTooHigh(terms.annual_rate_bp));
    }

    match down {
        Some(down) if errors.is_empty() => Ok(down),
        _ => Err(InvalidLoanTerms { errors }),
    }
}

/// `round_half_up(numerator / denominator)` for `numerator ≥ 0`, `denominator > 0`.
fn round_half_up_div(numerator: i64, denominator: i64) -> i64 {
    (2 * numerator + denominator) / (2 * denominator)
}

/// Interest on `balance` for one month at `annual_bp`: `round_half_up(balance × bp / 120 000)`.
/// `balance ≤ 10^14` and `bp ≤ 10^4`, so `2 × balance × bp` fits in i64.
fn monthly_interest(balance: i64, annual_bp: u32) -> i64 {
    round_half_up_div(balance * i64::from(annual_bp), MONTHLY_RATE_DENOMINATOR)
}

/// The regular equal-instalment payment, `round_half_up(P·r·(1+r)^n / ((1+r)^n − 1))`, exactly.
///
/// With `r = a / b` (`a = annual_bp > 0`, `b = 120 000`) the fraction is
/// `P · a · (a+b)^n / (b · ((a+b)^n − b^n))`, a ratio of big integers.
fn annuity_payment(financed: i64, term_months: u32, annual_bp: u32) -> i64 {
    let a = BigUint::from(annual_bp);
    let b = BigUint::from(MONTHLY_RATE_DENOMINATOR.unsigned_abs());
    let growth = (&a + &b).pow(term_months);
    let base = b.pow(term_months);
    let numerator = BigUint::from(financed.unsigned_abs()) * &a * &growth;
    let denominator = &b * (growth - base);
    let two = BigUint::from(2u8);
    let payment = (&two * numerator + &denominator) / (&two * denominator);
    // The payment is at most P·(1 + r) ≤ 2 × MAX_VEHICLE_PRICE < 2^63, so it fits; the fallback
    // is unreachable.
    debug_assert!(payment.bits() < 63);
    i64::try_from(&payment).unwrap_or(i64::MAX)
}

/// Equal instalment at a positive rate; `None` if rounding would repay the loan before month `n`.
fn equal_instalment(financed: i64, term_months: u32, annual_bp: u32) -> Option<Vec<Instalment>> {
    let regular = annuity_payment(financed, term_months, annual_bp);
    let mut balance = financed;
    let mut instalments = Vec::with_capacity(term_months as usize);
    for month in 1..=term_months {
        let interest = monthly_interest(balance, annual_bp);
        let principal = if month == term_months {
            balance
        } else {
            // Never negative: the exact payment exceeds P·r and rounding is monotone, so
            // regular ≥ month-1 interest ≥ any later month's interest.
            let principal = regular - interest;
            if principal > balance {
                return None;
            }
            principal
        };
        balance -= principal;
        instalments.push(Instalment {
            month,
            payment: principal + interest,
            principal,
            interest,
            balance,
        });
    }
    Some(instalments)
}

/// Equal principal (and 0 % under either method): `floor(P / n)` a month, the remainder last.
fn equal_principal(financed: i64, term_months: u32, annual_bp: u32) -> Vec<Instalment> {
    let share = financed / i64::from(term_months);
    let mut balance = financed;
    let mut instalments = Vec::with_capacity(term_months as usize);
    for month in 1..=term_months {
        let interest = monthly_interest(balance, annual_bp);
        let principal = if month == term_months { balance } else { share };
        balance -= principal;
        instalments.push(Instalment {
            month,
            payment: principal + interest,
            principal,
            interest,
            balance,
        });
    }
    instalments
}

#[cfg(test)]
mod tests;
