//! Tests of the loan calculators. The fixed expectations were computed independently with
//! Python's `decimal` module (precision 300, `ROUND_HALF_UP`, interest as `balance × bp / 120000`)
//! and cross-checked with `fractions.Fraction`, following the rule in the module documentation.

use super::*;
use proptest::prelude::*;

fn terms(
    vehicle_price: i64,
    down_payment: DownPayment,
    term_months: u32,
    annual_rate_bp: u32,
    method: RepaymentMethod,
) -> LoanTerms {
    LoanTerms {
        vehicle_price,
        down_payment,
        term_months,
        annual_rate_bp,
        method,
    }
}

/// The figures a customer compares, all in minor units.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    financed_amount: i64,
    first_payment: i64,
    last_payment: i64,
    total_interest: i64,
    total_payments: i64,
    total_cost: i64,
}

fn summary(terms: &LoanTerms) -> Summary {
    let plan = repayment_plan(terms).expect("valid terms");
    check_invariants(terms, &plan);
    Summary {
        financed_amount: plan.financed_amount,
        first_payment: plan.first_payment,
        last_payment: plan.last_payment,
        total_interest: plan.total_interest,
        total_payments: plan.total_payments,
        total_cost: plan.total_cost,
    }
}

fn expected(
    financed_amount: i64,
    first_payment: i64,
    last_payment: i64,
    total_interest: i64,
    total_payments: i64,
    total_cost: i64,
) -> Summary {
    Summary {
        financed_amount,
        first_payment,
        last_payment,
        total_interest,
        total_payments,
        total_cost,
    }
}

use DownPayment::{Amount, PercentBp};
use RepaymentMethod::{EqualInstalment, EqualPrincipal};

#[test]
fn equal_instalment_200k_over_36_months_at_3_99() {
    let t = terms(20_000_000, Amount(0), 36, 399, EqualInstalment);
    assert_eq!(
        summary(&t),
        expected(20_000_000, 590_391, 590_377, 1_254_062, 21_254_062, 21_254_062)
    );
}

#[test]
fn equal_instalment_200k_over_36_months_full_schedule() {
    // (month, payment, principal, interest, balance)
    const ROWS: [(u32, i64, i64, i64, i64); 36] = [
        (1, 590391, 523891, 66500, 19476109),
        (2, 590391, 525633, 64758, 18950476),
        (3, 590391, 527381, 63010, 18423095),
        (4, 590391, 529134, 61257, 17893961),
        (5, 590391, 530894, 59497, 17363067),
        (6, 590391, 532659, 57732, 16830408),
        (7, 590391, 534430, 55961, 16295978),
        (8, 590391, 536207, 54184, 15759771),
        (9, 590391, 537990, 52401, 15221781),
        (10, 590391, 539779, 50612, 14682002),
        (11, 590391, 541573, 48818, 14140429),
        (12, 590391, 543374, 47017, 13597055),
        (13, 590391, 545181, 45210, 13051874),
        (14, 590391, 546994, 43397, 12504880),
        (15, 590391, 548812, 41579, 11956068),
        (16, 590391, 550637, 39754, 11405431),
        (17, 590391, 552468, 37923, 10852963),
        (18, 590391, 554305, 36086, 10298658),
        (19, 590391, 556148, 34243, 9742510),
        (20, 590391, 557997, 32394, 9184513),
        (21, 590391, 559852, 30539, 8624661),
        (22, 590391, 561714, 28677, 8062947),
        (23, 590391, 563582, 26809, 7499365),
        (24, 590391, 565456, 24935, 6933909),
        (25, 590391, 567336, 23055, 6366573),
        (26, 590391, 569222, 21169, 5797351),
        (27, 590391, 571115, 19276, 5226236),
        (28, 590391, 573014, 17377, 4653222),
        (29, 590391, 574919, 15472, 4078303),
        (30, 590391, 576831, 13560, 3501472),
        (31, 590391, 578749, 11642, 2922723),
        (32, 590391, 580673, 9718, 2342050),
        (33, 590391, 582604, 7787, 1759446),
        (34, 590391, 584541, 5850, 1174905),
        (35, 590391, 586484, 3907, 588421),
        (36, 590377, 588421, 1956, 0),
    ];
    let plan = repayment_plan(&terms(20_000_000, Amount(0), 36, 399, EqualInstalment)).unwrap();
    let got: Vec<_> = plan
        .instalments
        .iter()
        .map(|i| (i.month, i.payment, i.principal, i.interest, i.balance))
        .collect();
    assert_eq!(got, ROWS);
}

#[test]
fn equal_principal_200k_over_36_months_at_3_99() {
    let t = terms(20_000_000, Amount(0), 36, 399, EqualPrincipal);
    assert_eq!(
        summary(&t),
        expected(20_000_000, 622_055, 557_422, 1_230_251, 21_230_251, 21_230_251)
    );
}

#[test]
fn equal_instalment_150k_over_60_months_at_4_90_with_30_percent_down() {
    // 30 % of 214 285.71 is 64 285.713 → 64 285.71 down, leaving exactly 150 000.00.
    let t = terms(21_428_571, PercentBp(3000), 60, 490, EqualInstalment);
    assert_eq!(
        summary(&t),
        expected(15_000_000, 282_382, 282_371, 1_942_909, 16_942_909, 23_371_480)
    );
}

#[test]
fn equal_principal_150k_over_60_months_at_4_90() {
    let t = terms(15_000_000, Amount(0), 60, 490, EqualPrincipal);
    assert_eq!(
        summary(&t),
        expected(15_000_000, 311_250, 251_021, 1_868_130, 16_868_130, 16_868_130)
    );
}

#[test]
fn a_half_fen_of_interest_rounds_up_with_a_non_terminating_monthly_rate() {
    // Month 52 opens at 22 500.00: 2 250 000 × 490 / 120 000 = 9 187.5 fen exactly. A decimal
    // monthly rate truncated to any precision (0.000408333…) would give 9 187.
    let plan = repayment_plan(&terms(15_000_000, Amount(0), 60, 490, EqualPrincipal)).unwrap();
    let month_51 = plan.instalments[50];
    let month_52 = plan.instalments[51];
    assert_eq!(month_51.balance, 2_250_000);
    assert_eq!(
        (month_52.payment, month_52.principal, month_52.interest),
        (259_188, 250_000, 9_188)
    );
}

#[test]
fn zero_percent_24_months_on_99_999_99_puts_the_remainder_last() {
    for method in [EqualInstalment, EqualPrincipal] {
        let t = terms(9_999_999, Amount(0), 24, 0, method);
        assert_eq!(
            summary(&t),
            expected(9_999_999, 416_666, 416_681, 0, 9_999_999, 9_999_999)
        );
        let plan = repayment_plan(&t).unwrap();
        assert!(plan.instalments[..23].iter().all(|i| i.payment == 416_666));
        assert_eq!(plan.instalments[23].principal, 416_681);
    }
}

#[test]
fn one_month_term_pays_everything_with_one_month_of_interest() {
    for method in [EqualInstalment, EqualPrincipal] {
        let t = terms(5_000_000, Amount(0), 1, 399, method);
        assert_eq!(
            summary(&t),
            expected(5_000_000, 5_016_625, 5_016_625, 16_625, 5_016_625, 5_016_625)
        );
    }
}

#[test]
fn equal_instalment_96_months_at_9_99_with_a_down_payment() {
    let t = terms(15_345_678, Amount(3_000_000), 96, 999, EqualInstalment);
    assert_eq!(
        summary(&t),
        expected(12_345_678, 187_270, 187_277, 5_632_249, 17_977_927, 20_977_927)
    );
    let plan = repayment_plan(&t).unwrap();
    let last_two: Vec<_> = plan.instalments[94..]
        .iter()
        .map(|i| (i.payment, i.principal, i.interest, i.balance))
        .collect();
    assert_eq!(
        last_two,
        [
            (187_270, 184_190, 3_080, 185_731),
            (187_277, 185_731, 1_546, 0)
        ]
    );
}

#[test]
fn equal_principal_96_months_at_9_99_with_a_down_payment() {
    let t = terms(15_345_678, Amount(3_000_000), 96, 999, EqualPrincipal);
    assert_eq!(
        summary(&t),
        expected(12_345_678, 231_378, 129_749, 4_984_752, 17_330_430, 20_330_430)
    );
}

#[test]
fn a_percentage_down_payment_rounds_half_up() {
    // 10 % of 5 fen is 0.5 fen → 1 fen.
    let plan = repayment_plan(&terms(5, PercentBp(1000), 1, 0, EqualPrincipal)).unwrap();
    assert_eq!((plan.down_payment, plan.financed_amount), (1, 4));
    // 10 % of 4 fen is 0.4 fen → 0 fen.
    let plan = repayment_plan(&terms(4, PercentBp(1000), 1, 0, EqualPrincipal)).unwrap();
    assert_eq!((plan.down_payment, plan.financed_amount), (0, 4));
}

#[test]
fn every_field_problem_is_reported_at_once_with_its_field() {
    let err = repayment_plan(&terms(-1, Amount(-5), 0, 10_001, EqualInstalment)).unwrap_err();
    assert_eq!(
        err.errors,
        [
            LoanTermsError::VehiclePriceNotPositive(-1),
            LoanTermsError::DownPaymentNegative(-5),
            LoanTermsError::TermOutOfRange(0),
            LoanTermsError::RateTooHigh(10_001),
        ]
    );
    let fields: Vec<_> = err.errors.iter().map(LoanTermsError::field).collect();
    assert_eq!(
        fields,
        [
            "vehicle_price",
            "down_payment",
            "term_months",
            "annual_rate_bp"
        ]
    );
    assert!(err
        .to_string()
        .contains("term_months must be between 1 and 96, got 0"));
}

#[test]
fn each_validation_rule_has_its_own_error() {
    let cases = [
        (
            terms(0, Amount(0), 12, 399, EqualInstalment),
            LoanTermsError::VehiclePriceNotPositive(0),
        ),
        (
            terms(MAX_VEHICLE_PRICE + 1, Amount(0), 12, 399, EqualInstalment),
            LoanTermsError::VehiclePriceTooLarge(MAX_VEHICLE_PRICE + 1),
        ),
        (
            terms(1_000, Amount(1_001), 12, 399, EqualInstalment),
            LoanTermsError::DownPaymentExceedsPrice {
                down_payment: 1_001,
                vehicle_price: 1_000,
            },
        ),
        (
            terms(1_000, Amount(1_000), 12, 399, EqualInstalment),
            LoanTermsError::NothingToFinance(1_000),
        ),
        (
            terms(1_000, PercentBp(10_000), 12, 399, EqualInstalment),
            LoanTermsError::NothingToFinance(1_000),
        ),
        (
            terms(1_000, PercentBp(10_001), 12, 399, EqualInstalment),
            LoanTermsError::DownPaymentPercentTooLarge(10_001),
        ),
        (
            terms(1_000, Amount(0), 97, 399, EqualInstalment),
            LoanTermsError::TermOutOfRange(97),
        ),
        (
            terms(1_000, Amount(0), 12, 10_001, EqualPrincipal),
            LoanTermsError::RateTooHigh(10_001),
        ),
    ];
    for (t, error) in cases {
        assert_eq!(repayment_plan(&t).unwrap_err().errors, [error], "{t:?}");
    }
    // The edges themselves are accepted.
    for t in [
        terms(
            MAX_VEHICLE_PRICE,
            PercentBp(9_999),
            96,
            10_000,
            EqualInstalment,
        ),
        terms(MAX_VEHICLE_PRICE, Amount(0), 96, 10_000, EqualPrincipal),
        terms(1, Amount(0), 1, 0, EqualInstalment),
    ] {
        let plan = repayment_plan(&t).unwrap();
        check_invariants(&t, &plan);
    }
}

#[test]
fn a_tiny_loan_that_rounding_would_repay_early_is_refused() {
    // 0.50 over 96 months at 0.01 %: the exact payment is 0.52 fen, rounded to 1 fen, which would
    // clear the balance in month 50 and go negative in month 51.
    let err = repayment_plan(&terms(50, Amount(0), 96, 1, EqualInstalment)).unwrap_err();
    assert_eq!(
        err.errors,
        [LoanTermsError::TooSmallToAmortise {
            financed_amount: 50,
            term_months: 96,
            annual_rate_bp: 1,
        }]
    );
    assert_eq!(err.errors[0].field(), "term_months");
    // Equal principal has no such limit.
    assert!(repayment_plan(&terms(50, Amount(0), 96, 1, EqualPrincipal)).is_ok());
}

#[test]
fn terms_round_trip_through_json_and_refuse_unknown_fields() {
    let json = r#"{"vehicle_price": 21428571, "down_payment": {"percent_bp": 3000},
        "term_months": 60, "annual_rate_bp": 490, "method": "equal_instalment"}"#;
    let t: LoanTerms = serde_json::from_str(json).unwrap();
    assert_eq!(
        t,
        terms(21_428_571, PercentBp(3000), 60, 490, EqualInstalment)
    );
    let back = serde_json::to_value(&t).unwrap();
    assert_eq!(
        back["down_payment"],
        serde_json::json!({"percent_bp": 3000})
    );

    let amount: DownPayment = serde_json::from_str(r#"{"amount": 5000000}"#).unwrap();
    assert_eq!(amount, Amount(5_000_000));
    let method: RepaymentMethod = serde_json::from_str(r#""equal_principal""#).unwrap();
    assert_eq!(method, EqualPrincipal);

    let unknown = r#"{"vehicle_price": 1, "down_payment": {"amount": 0}, "term_months": 1,
        "annual_rate_bp": 0, "method": "equal_principal", "rate": 5}"#;
    let err = serde_json::from_str::<LoanTerms>(unknown).unwrap_err();
    assert!(err.to_string().contains("unknown field `rate`"), "{err}");
}

#[test]
fn the_plan_serialises_with_its_schedule() {
    let plan = repayment_plan(&terms(5_000_000, Amount(0), 1, 399, EqualPrincipal)).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["method"], "equal_principal");
    assert_eq!(json["total_interest"], 16_625);
    assert_eq!(
        json["instalments"][0],
        serde_json::json!({"month": 1, "payment": 5_016_625, "principal": 5_000_000,
            "interest": 16_625, "balance": 0})
    );
}

/// Checks the invariants of the module documentation on one plan, and recomputes each month's
/// interest from the half-up bounds (independently of `monthly_interest`).
fn check_invariants(terms: &LoanTerms, plan: &RepaymentPlan) {
    let n = terms.term_months as usize;
    let bp = i128::from(terms.annual_rate_bp);
    let rows = &plan.instalments;
    assert_eq!(rows.len(), n);
    assert_eq!(
        plan.financed_amount + plan.down_payment,
        terms.vehicle_price
    );
    assert!(plan.financed_amount > 0);

    let mut opening = plan.financed_amount;
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row.month as usize, index + 1);
        assert!(row.principal >= 0 && row.interest >= 0, "{row:?}");
        assert_eq!(row.payment, row.principal + row.interest);
        assert_eq!(row.balance, opening - row.principal);
        assert!(row.balance >= 0, "{row:?}");
        // interest = round_half_up(opening × bp / 120000) ⇔
        // −60000 < interest × 120000 − opening × bp ≤ 60000.
        let gap = i128::from(row.interest) * 120_000 - i128::from(opening) * bp;
        assert!(-60_000 < gap && gap <= 60_000, "{row:?} opening {opening}");
        opening = row.balance;
    }
    assert_eq!(rows[n - 1].balance, 0);
    assert_eq!(
        rows.iter().map(|r| r.principal).sum::<i64>(),
        plan.financed_amount
    );
    assert_eq!(
        plan.total_interest,
        rows.iter().map(|r| r.interest).sum::<i64>()
    );
    assert_eq!(
        plan.total_payments,
        rows.iter().map(|r| r.payment).sum::<i64>()
    );
    assert_eq!(
        plan.total_payments,
        plan.financed_amount + plan.total_interest
    );
    assert_eq!(plan.total_cost, plan.total_payments + plan.down_payment);
    assert_eq!(plan.first_payment, rows[0].payment);
    assert_eq!(plan.last_payment, rows[n - 1].payment);

    let regular = &rows[..n - 1];
    if terms.method == EqualInstalment && terms.annual_rate_bp > 0 {
        assert!(regular.iter().all(|r| r.payment == rows[0].payment));
    } else {
        let share = plan.financed_amount / n as i64;
        let remainder = plan.financed_amount % n as i64;
        assert!(regular.iter().all(|r| r.principal == share));
        assert_eq!(rows[n - 1].principal, share + remainder);
        assert!(regular.windows(2).all(|w| w[0].payment >= w[1].payment));
        if n > 1 {
            assert!(rows[n - 1].payment <= rows[n - 2].payment + remainder);
        }
        if terms.annual_rate_bp == 0 {
            assert_eq!(plan.total_interest, 0);
        }
    }
}

fn method() -> impl Strategy<Value = RepaymentMethod> {
    prop_oneof![Just(EqualInstalment), Just(EqualPrincipal)]
}

fn any_valid_terms() -> impl Strategy<Value = LoanTerms> {
    let price = prop_oneof![
        1i64..=1_000,
        1i64..=100_000_000,
        1i64..=MAX_VEHICLE_PRICE,
        Just(MAX_VEHICLE_PRICE)
    ];
    let rate = prop_oneof![Just(0u32), 0u32..=1_500, 0u32..=MAX_ANNUAL_RATE_BP];
    (
        price,
        1u32..=96,
        rate,
        method(),
        any::<bool>(),
        0u32..=10_000,
    )
        .prop_flat_map(|(price, term, rate, method, as_percent, share)| {
            let down = if as_percent {
                Just(PercentBp(share)).boxed()
            } else {
                (0..price).prop_map(Amount).boxed()
            };
            down.prop_map(move |down| terms(price, down, term, rate, method))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Over every accepted input the plan keeps its invariants; the only refusals are a
    /// percentage that rounds to the whole price and a tiny equal-instalment loan.
    #[test]
    fn plans_keep_their_invariants(t in any_valid_terms()) {
        match repayment_plan(&t) {
            Ok(plan) => check_invariants(&t, &plan),
            Err(err) => {
                prop_assert_eq!(err.errors.len(), 1);
                match &err.errors[0] {
                    LoanTermsError::NothingToFinance(_) => {
                        prop_assert!(matches!(t.down_payment, PercentBp(_)));
                    }
                    LoanTermsError::TooSmallToAmortise { financed_amount, .. } => {
                        prop_assert_eq!(t.method, EqualInstalment);
                        prop_assert!(*financed_amount < 1_000_000);
                    }
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
        }
    }

    /// A loan of at least 10 000.00 always amortises, at any accepted rate and term.
    #[test]
    fn real_car_loans_always_amortise(
        financed in 1_000_000i64..=100_000_000_000,
        term in 1u32..=96,
        rate in 0u32..=MAX_ANNUAL_RATE_BP,
        method in method(),
    ) {
        let t = terms(financed, Amount(0), term, rate, method);
        let plan = repayment_plan(&t);
        prop_assert!(plan.is_ok(), "{:?}", plan);
        check_invariants(&t, &plan.unwrap());
    }

    /// The regular equal-instalment payment A is the exact annuity x rounded half up:
    /// 2A − 1 ≤ 2x < 2A + 1, with x = P·a·g / (b·(g − b^n)), g = (a+b)^n, r = a/b, checked by
    /// cross-multiplying.
    #[test]
    fn the_regular_payment_is_the_exact_annuity_rounded_half_up(
        financed in 1i64..=MAX_VEHICLE_PRICE,
        term in 1u32..=96,
        rate in 1u32..=MAX_ANNUAL_RATE_BP,
    ) {
        let payment = annuity_payment(financed, term, rate);
        prop_assert!(payment >= 0);
        let a = BigUint::from(rate);
        let b = BigUint::from(120_000u32);
        let g = (&a + &b).pow(term);
        let scale = (&g - b.pow(term)) * &b;
        let twice_x_scaled = BigUint::from(financed.unsigned_abs()) * &a * &g * 2u8;
        let twice_payment = BigUint::from(payment.unsigned_abs()) * 2u8;
        let low_ok = payment == 0 || (&twice_payment - 1u8) * &scale <= twice_x_scaled;
        let high = (&twice_payment + 1u8) * &scale;
        prop_assert!(low_ok && twice_x_scaled < high);
    }
}

#[test]
fn the_openapi_schemas_name_every_field() {
    use utoipa::PartialSchema;
    let terms = serde_json::to_string(&LoanTerms::schema()).unwrap();
    for field in [
        "vehicle_price",
        "down_payment",
        "term_months",
        "annual_rate_bp",
        "method",
    ] {
        assert!(terms.contains(field), "{field} missing from {terms}");
    }
    let down = serde_json::to_string(&DownPayment::schema()).unwrap();
    assert!(
        down.contains("percent_bp") && down.contains("amount"),
        "{down}"
    );
    let plan = serde_json::to_string(&RepaymentPlan::schema()).unwrap();
    assert!(
        plan.contains("total_interest") && plan.contains("instalments"),
        "{plan}"
    );
}
