//! Typed hook points: the places where Forecourt asks a tenant's script for a business decision.
//!
//! Each hook has a name (`tax.purchase`), an entry function the script defines
//! (`fn purchase_tax(input)`, always one input: a map), a Rust input type the host fills in, a
//! Rust output type the script's returned map must fit, and a check of the output's values.
//!
//! | hook | entry function | input | output |
//! |---|---|---|---|
//! | `pricing.adjust` | `adjust_price(input)` | [`PricingInput`] | [`PricingOutput`] |
//! | `tax.purchase` | `purchase_tax(input)` | [`TaxInput`] | [`TaxOutput`] |
//! | `lead.score` | `score_lead(input)` | [`LeadInput`] | [`LeadOutput`] |
//! | `profile.tags` | `profile_tags(input)` | [`ProfileInput`] | [`ProfileOutput`] |
//! | `finance.decide` | `decide_finance(input)` | [`FinanceInput`] | [`FinanceOutput`] |
//! | `tradein.value` | `value_tradein(input)` | [`TradeInInput`] | [`TradeInOutput`] |
//!
//! Conventions for every hook:
//!
//! - **Money** is an `i64` in minor units of the tenant's currency (fen for CNY), never a float.
//!   A script that returns a decimal number where money is expected fails with
//!   [`ScriptError::WrongOutputType`]; arithmetic that overflows `i64` in a script is an error,
//!   never a wrapped value.
//! - **Dates** are `YYYY-MM-DD` strings ([`Date`]). In a script they compare correctly as text:
//!   `input.date >= "2026-01-01"`.
//! - **Enumerations** (energy type, condition, decision) are lower-case strings.
//! - Inputs and outputs reject unknown fields, so a misspelt key in a script's result (`taxes`
//!   for `tax`) is an error rather than a silently missing value. Output fields documented as
//!   optional may be left out of the returned map.
//!
//! In a tenant bundle the script for a hook lives at `scripts/<hook name>.rhai` (for example
//! `scripts/tax.purchase.rhai`) and its test cases at `scripts/<hook name>.test.yaml`; see
//! [`hook_for_path`] and [`crate::suite`].
//!
//! Call a hook with [`HookRunner::call`] (or [`ScriptRuntime::call_hook`]); when the hook is only
//! known at run time, with [`HookKind::call_json`] or a [`HookVisitor`].

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ScriptError;
use crate::runtime::{output_as, CompiledScript, ScriptRuntime};

/// Where a bundle keeps its scripts.
pub const SCRIPTS_DIR: &str = "scripts/";
/// The file name ending of a hook script.
pub const SCRIPT_SUFFIX: &str = ".rhai";
/// The file name ending of a hook script's test cases.
pub const TEST_SUFFIX: &str = ".test.yaml";

/// Most entries in any list a hook returns (lines, adjustments, reasons …), unless a hook says
/// otherwise.
pub const MAX_LIST_ITEMS: usize = 100;
/// Longest label or reason, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Longest free-text explanation, in characters.
pub const MAX_EXPLANATION_CHARS: usize = 2_000;
/// Longest code (adjustment code), in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// Most tags `profile.tags` may return.
pub const MAX_TAGS: usize = 50;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

// ---------------------------------------------------------------------------------------------
// The registry of hooks
// ---------------------------------------------------------------------------------------------

/// Every hook point Forecourt has, for code that only learns the hook at run time (a bundle's
/// file names, a test file). Typed code uses the [`HookPoint`] marker types instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookKind {
    /// `pricing.adjust`: discounts and surcharges on a configured vehicle's price.
    PricingAdjust,
    /// `tax.purchase`: the purchase tax due on a vehicle.
    TaxPurchase,
    /// `lead.score`: how promising a sales lead is, 0 to 100.
    LeadScore,
    /// `profile.tags`: interest tags for a visitor's profile, from what they looked at.
    ProfileTags,
    /// `finance.decide`: a first decision on a finance application.
    FinanceDecide,
    /// `tradein.value`: what the dealer offers for a trade-in vehicle.
    TradeinValue,
}

impl HookKind {
    /// Every hook, in a stable order.
    pub const ALL: [HookKind; 6] = [
        HookKind::PricingAdjust,
        HookKind::TaxPurchase,
        HookKind::LeadScore,
        HookKind::ProfileTags,
        HookKind::FinanceDecide,
        HookKind::TradeinValue,
    ];

    /// The hook's name, e.g. `tax.purchase` (also its script's file name without `.rhai`).
    pub const fn name(self) -> &'static str {
        match self {
            HookKind::PricingAdjust => "pricing.adjust",
            HookKind::TaxPurchase => "tax.purchase",
            HookKind::LeadScore => "lead.score",
            HookKind::ProfileTags => "profile.tags",
            HookKind::FinanceDecide => "finance.decide",
            HookKind::TradeinValue => "tradein.value",
        }
    }

    /// The function the script must define, e.g. `purchase_tax`.
    pub const fn function(self) -> &'static str {
        match self {
            HookKind::PricingAdjust => "adjust_price",
            HookKind::TaxPurchase => "purchase_tax",
            HookKind::LeadScore => "score_lead",
            HookKind::ProfileTags => "profile_tags",
            HookKind::FinanceDecide => "decide_finance",
            HookKind::TradeinValue => "value_tradein",
        }
    }

    /// How many inputs the entry function takes: always one, the input map.
    pub const fn arity(self) -> usize {
        1
    }

    /// One line on what the hook decides, for listings and error messages.
    pub const fn summary(self) -> &'static str {
        match self {
            HookKind::PricingAdjust => "discounts and surcharges on a vehicle's price",
            HookKind::TaxPurchase => "the purchase tax due on a vehicle",
            HookKind::LeadScore => "a sales lead's score from 0 to 100",
            HookKind::ProfileTags => "interest tags for a visitor's profile",
            HookKind::FinanceDecide => "a first decision on a finance application",
            HookKind::TradeinValue => "the offer for a trade-in vehicle",
        }
    }

    /// The hook called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|hook| hook.name() == name)
    }

    /// Where a bundle keeps this hook's script: `scripts/<name>.rhai`.
    pub fn script_path(self) -> String {
        format!("{SCRIPTS_DIR}{}{SCRIPT_SUFFIX}", self.name())
    }

    /// Where a bundle keeps this hook's test cases: `scripts/<name>.test.yaml`.
    pub fn test_path(self) -> String {
        format!("{SCRIPTS_DIR}{}{TEST_SUFFIX}", self.name())
    }

    /// The entry function's signature as a script writes it, e.g. `fn purchase_tax(input)`.
    pub fn signature(self) -> String {
        format!("fn {}(input)", self.function())
    }

    /// Check that `script` defines this hook's entry function with the right number of inputs.
    pub fn check_entry(self, script: &CompiledScript) -> Result<(), ScriptError> {
        if script.has_function(self.function(), self.arity()) {
            Ok(())
        } else {
            Err(ScriptError::MissingFunction {
                script: script.name().to_string(),
                function: self.function().to_string(),
                arity: self.arity(),
            })
        }
    }

    /// Run `visitor` with this hook's [`HookPoint`] type.
    pub fn visit<V: HookVisitor>(self, visitor: V) -> V::Output {
        match self {
            HookKind::PricingAdjust => visitor.visit::<PricingAdjust>(),
            HookKind::TaxPurchase => visitor.visit::<TaxPurchase>(),
            HookKind::LeadScore => visitor.visit::<LeadScore>(),
            HookKind::ProfileTags => visitor.visit::<ProfileTags>(),
            HookKind::FinanceDecide => visitor.visit::<FinanceDecide>(),
            HookKind::TradeinValue => visitor.visit::<TradeinValue>(),
        }
    }

    /// Call the hook with a JSON input and get its checked output back as JSON.
    ///
    /// The input must fit the hook's input type ([`ScriptError::InvalidInput`] otherwise); the
    /// output goes through the same conversion and checks as [`HookRunner::call`].
    pub fn call_json(
        self,
        runtime: &ScriptRuntime,
        script: &CompiledScript,
        input: &Value,
    ) -> Result<Value, ScriptError> {
        struct CallJson<'a> {
            runtime: &'a ScriptRuntime,
            script: &'a CompiledScript,
            input: &'a Value,
        }
        impl HookVisitor for CallJson<'_> {
            type Output = Result<Value, ScriptError>;
            fn visit<H: HookPoint>(self) -> Self::Output {
                let input: H::Input =
                    serde_json::from_value(self.input.clone()).map_err(|err| {
                        ScriptError::InvalidInput {
                            script: self.script.name().to_string(),
                            message: format!("not an input of hook \"{}\": {err}", H::NAME),
                        }
                    })?;
                let output = HookRunner::call::<H>(self.runtime, self.script, &input)?;
                serde_json::to_value(&output).map_err(|err| ScriptError::WrongOutputType {
                    script: self.script.name().to_string(),
                    found: "an object map".to_string(),
                    message: err.to_string(),
                })
            }
        }
        self.visit(CallJson {
            runtime,
            script,
            input,
        })
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HookKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name).ok_or_else(|| {
            format!(
                "there is no hook \"{name}\" (hooks: {})",
                HookKind::ALL.map(HookKind::name).join(", ")
            )
        })
    }
}

/// The hook whose script lives at `path` in a bundle (`scripts/<hook name>.rhai`), if any.
///
/// `scripts/tax.purchase.rhai` is the `tax.purchase` hook; `scripts/tax.rhai`,
/// `scripts/sub/tax.purchase.rhai` and `scripts/tax.purchase.test.yaml` are not hook scripts.
pub fn hook_for_path(path: &str) -> Option<HookKind> {
    path.strip_prefix(SCRIPTS_DIR)?
        .strip_suffix(SCRIPT_SUFFIX)
        .and_then(HookKind::from_name)
}

/// The hook whose test cases live at `path` in a bundle (`scripts/<hook name>.test.yaml`).
pub fn hook_for_test_path(path: &str) -> Option<HookKind> {
    path.strip_prefix(SCRIPTS_DIR)?
        .strip_suffix(TEST_SUFFIX)
        .and_then(HookKind::from_name)
}

// ---------------------------------------------------------------------------------------------
// Typed hooks
// ---------------------------------------------------------------------------------------------

/// A hook point as a type: its name, entry function, input and output, and the check of its
/// output. The marker types ([`TaxPurchase`], …) implement it; call one with [`HookRunner`].
pub trait HookPoint: 'static {
    /// The hook as a value.
    const KIND: HookKind;
    /// The hook's name, e.g. `tax.purchase`.
    const NAME: &'static str = Self::KIND.name();
    /// The entry function the script defines, taking one input.
    const FUNCTION: &'static str = Self::KIND.function();

    /// What the host hands the script (as a Rhai object map).
    type Input: Serialize + DeserializeOwned + fmt::Debug + Clone + PartialEq + Send + Sync;
    /// What the script must return (an object map of this shape).
    type Output: Serialize + DeserializeOwned + fmt::Debug + Clone + PartialEq + Send + Sync;

    /// Check the values of an output the script returned for `input`: `Err` says, in words for
    /// the script's author, what is wrong.
    fn check(input: &Self::Input, output: &Self::Output) -> Result<(), String>;
}

/// Something to do with a hook's [`HookPoint`] type, chosen by a [`HookKind`] at run time.
pub trait HookVisitor {
    /// What the visit yields.
    type Output;
    /// Do it for hook `H`.
    fn visit<H: HookPoint>(self) -> Self::Output;
}

/// Calls typed hooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct HookRunner;

impl HookRunner {
    /// Call hook `H` in `script` with `input` and return the script's checked output.
    ///
    /// Errors: [`ScriptError::MissingFunction`] when the script has no `H::FUNCTION(input)`;
    /// the script's own compile-time, run-time and limit errors; [`ScriptError::WrongOutputType`]
    /// when the result does not fit `H::Output` (a missing or misspelt key, a decimal number
    /// for money …); [`ScriptError::InvalidOutput`] when it fits but [`HookPoint::check`] refuses
    /// it.
    pub fn call<H: HookPoint>(
        runtime: &ScriptRuntime,
        script: &CompiledScript,
        input: &H::Input,
    ) -> Result<H::Output, ScriptError> {
        let arg = rhai::serde::to_dynamic(input).map_err(|mut err| {
            err.set_position(rhai::Position::NONE);
            ScriptError::InvalidInput {
                script: script.name().to_string(),
                message: err.to_string(),
            }
        })?;
        let result = runtime.call_dynamic(script, H::FUNCTION, vec![arg])?;
        let output: H::Output = output_as(script, &result)?;
        H::check(input, &output).map_err(|message| ScriptError::InvalidOutput {
            script: script.name().to_string(),
            hook: H::NAME.to_string(),
            message,
        })?;
        Ok(output)
    }
}

impl ScriptRuntime {
    /// Call hook `H` in `script`; the same as [`HookRunner::call`].
    pub fn call_hook<H: HookPoint>(
        &self,
        script: &CompiledScript,
        input: &H::Input,
    ) -> Result<H::Output, ScriptError> {
        HookRunner::call::<H>(self, script, input)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared value types
// ---------------------------------------------------------------------------------------------

/// A calendar date written `YYYY-MM-DD` (year 0001 to 9999), e.g. `2026-01-01`.
///
/// Scripts receive it as that text; ISO dates compare correctly as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date(String);

impl Date {
    /// Parse a `YYYY-MM-DD` date, checking that the day exists.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("\"{text}\" is not a date written YYYY-MM-DD");
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u32, String> {
            let part = &text[range];
            if part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(format!("\"{text}\" has no month {month}")),
        };
        if year == 0 || day == 0 || day > days {
            return Err(format!("\"{text}\" is not a day of the calendar"));
        }
        Ok(Date(text.to_string()))
    }

    /// The date as `YYYY-MM-DD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Date::parse(&text)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> Self {
        date.0
    }
}

impl FromStr for Date {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Date::parse(text)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line of a breakdown: what it is and how much (minor units; negative lowers the total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountLine {
    /// What the line is, in the tenant's words (at most [`MAX_LABEL_CHARS`] characters).
    pub label: String,
    /// The amount, in minor units.
    pub amount: i64,
}

/// A vehicle's energy type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Energy {
    /// Battery electric (`"bev"`).
    Bev,
    /// Plug-in hybrid (`"phev"`).
    Phev,
    /// Extended-range electric (`"erev"`).
    Erev,
    /// Internal combustion, including non-plug-in hybrids (`"ice"`).
    Ice,
}

// ---------------------------------------------------------------------------------------------
// pricing.adjust
// ---------------------------------------------------------------------------------------------

/// `pricing.adjust`: discounts and surcharges on a configured vehicle. Entry function
/// `fn adjust_price(input)` returning `#{ adjustments: [...] }`.
#[derive(Debug)]
pub enum PricingAdjust {}

/// The input of `pricing.adjust`: one configured vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingInput {
    /// Model code from the catalog, e.g. `s7`.
    pub model: String,
    /// Trim code of the model, e.g. `lr-awd`.
    pub trim: String,
    /// Region code of the org tree where the vehicle is sold, e.g. `east`.
    pub region: String,
    /// The day the price applies to (the quote date).
    pub date: Date,
    /// The trim's list price, minor units.
    pub base_price: i64,
    /// The selected options' prices together, minor units.
    pub options_price: i64,
    /// The selected option codes.
    #[serde(default)]
    pub selections: Vec<String>,
}

/// The output of `pricing.adjust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingOutput {
    /// The adjustments, in the order they are shown; `[]` for none. At most
    /// [`MAX_LIST_ITEMS`], codes unique.
    pub adjustments: Vec<PriceAdjustment>,
}

/// One price adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceAdjustment {
    /// A stable code for the adjustment, e.g. `launch-2026` (1 to [`MAX_CODE_CHARS`] characters).
    pub code: String,
    /// What the customer sees, e.g. "Launch offer".
    pub label: String,
    /// Minor units; negative is a discount, positive a surcharge.
    pub amount: i64,
}

impl PricingOutput {
    /// The price after the adjustments: base + options + every adjustment, or `None` if that
    /// does not fit in an `i64`.
    pub fn total(&self, input: &PricingInput) -> Option<i64> {
        self.adjustments.iter().try_fold(
            input.base_price.checked_add(input.options_price)?,
            |sum, a| sum.checked_add(a.amount),
        )
    }
}

impl HookPoint for PricingAdjust {
    const KIND: HookKind = HookKind::PricingAdjust;
    type Input = PricingInput;
    type Output = PricingOutput;

    fn check(input: &PricingInput, output: &PricingOutput) -> Result<(), String> {
        check_count("adjustments", output.adjustments.len(), MAX_LIST_ITEMS)?;
        let mut codes = std::collections::HashSet::new();
        for (i, adjustment) in output.adjustments.iter().enumerate() {
            check_text(
                &format!("adjustments[{i}].code"),
                &adjustment.code,
                MAX_CODE_CHARS,
            )?;
            check_text(
                &format!("adjustments[{i}].label"),
                &adjustment.label,
                MAX_LABEL_CHARS,
            )?;
            if !codes.insert(adjustment.code.as_str()) {
                return Err(format!(
                    "adjustments[{i}].code \"{}\" is used twice",
                    adjustment.code
                ));
            }
        }
        match output.total(input) {
            None => Err("the adjusted price does not fit in a 64-bit integer".to_string()),
            Some(total) if total < 0 => Err(format!(
                "the adjustments take the price below zero (to {total})"
            )),
            Some(_) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tax.purchase
// ---------------------------------------------------------------------------------------------

/// `tax.purchase`: the purchase tax due on a vehicle. Entry function `fn purchase_tax(input)`
/// returning `#{ tax, exemption, lines, explanation }`.
#[derive(Debug)]
pub enum TaxPurchase {}

/// The input of `tax.purchase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxInput {
    /// The purchase price including VAT, minor units.
    pub price_incl_vat: i64,
    /// The vehicle's energy type.
    pub energy: Energy,
    /// The day of purchase (the invoice date).
    pub purchase_date: Date,
    /// Model code (optional in test files; `""` when unknown).
    #[serde(default)]
    pub model: String,
    /// Trim code (optional in test files; `""` when unknown).
    #[serde(default)]
    pub trim: String,
    /// Region code (optional in test files; `""` when unknown).
    #[serde(default)]
    pub region: String,
}

/// The output of `tax.purchase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxOutput {
    /// The tax to pay, minor units, `>= 0`.
    pub tax: i64,
    /// The tax waived by exemptions or reductions, minor units, `>= 0` (optional, default 0).
    #[serde(default)]
    pub exemption: i64,
    /// How the tax was worked out, step by step (optional; at most [`MAX_LIST_ITEMS`]).
    #[serde(default)]
    pub lines: Vec<AmountLine>,
    /// The result in a sentence or two (optional; at most [`MAX_EXPLANATION_CHARS`]).
    #[serde(default)]
    pub explanation: String,
}

impl HookPoint for TaxPurchase {
    const KIND: HookKind = HookKind::TaxPurchase;
    type Input = TaxInput;
    type Output = TaxOutput;

    fn check(_input: &TaxInput, output: &TaxOutput) -> Result<(), String> {
        check_non_negative("tax", output.tax)?;
        check_non_negative("exemption", output.exemption)?;
        if output.tax.checked_add(output.exemption).is_none() {
            return Err("tax + exemption does not fit in a 64-bit integer".to_string());
        }
        check_lines("lines", &output.lines)?;
        check_long_text("explanation", &output.explanation, MAX_EXPLANATION_CHARS)
    }
}

// ---------------------------------------------------------------------------------------------
// lead.score
// ---------------------------------------------------------------------------------------------

/// `lead.score`: how promising a sales lead is. Entry function `fn score_lead(input)` returning
/// `#{ score, reasons }`.
#[derive(Debug)]
pub enum LeadScore {}

/// The input of `lead.score`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    /// Where the lead came from, e.g. `website`, `showroom`, `referral`.
    pub source: String,
    /// Region code of the lead's store or address.
    pub region: String,
    /// Model codes (or topics) the lead said they are interested in.
    #[serde(default)]
    pub interests: Vec<String>,
    /// What the lead did, counted by kind (e.g. `configurator.saved`, `brochure.download`).
    #[serde(default)]
    pub events: Vec<EventCount>,
    /// Whether the lead took (or booked) a test drive.
    #[serde(default)]
    pub has_test_drive: bool,
    /// The budget the lead gave, minor units; absent (`()` in the script) when unknown.
    #[serde(default)]
    pub budget: Option<i64>,
}

/// How many times something happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCount {
    /// What happened, e.g. `page.view`.
    pub kind: String,
    /// How many times.
    pub count: i64,
}

/// The output of `lead.score`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadOutput {
    /// The score, 0 to 100.
    pub score: i64,
    /// Why, in words for the sales consultant (optional; at most [`MAX_LIST_ITEMS`]).
    #[serde(default)]
    pub reasons: Vec<String>,
}

impl HookPoint for LeadScore {
    const KIND: HookKind = HookKind::LeadScore;
    type Input = LeadInput;
    type Output = LeadOutput;

    fn check(_input: &LeadInput, output: &LeadOutput) -> Result<(), String> {
        if !(0..=100).contains(&output.score) {
            return Err(format!("score must be from 0 to 100, not {}", output.score));
        }
        check_reasons(&output.reasons)
    }
}

// ---------------------------------------------------------------------------------------------
// profile.tags
// ---------------------------------------------------------------------------------------------

/// `profile.tags`: interest tags for a visitor's profile. Entry function
/// `fn profile_tags(input)` returning `#{ tags: [...] }`.
#[derive(Debug)]
pub enum ProfileTags {}

/// The input of `profile.tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// What the visitor did, aggregated by kind and model.
    pub events: Vec<ProfileEvent>,
}

/// One aggregated kind of visitor activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEvent {
    /// What happened, e.g. `model.view`, `configurator.open`, `finance.calculate`.
    pub kind: String,
    /// The model code it was about, if any (`()` in the script when absent).
    #[serde(default)]
    pub model: Option<String>,
    /// Seconds spent, all occurrences together.
    #[serde(default)]
    pub dwell_seconds: i64,
    /// How many times it happened.
    pub count: i64,
}

/// The output of `profile.tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOutput {
    /// The tags: at most [`MAX_TAGS`], each 1 to [`MAX_TAG_CHARS`] characters, no duplicates.
    pub tags: Vec<String>,
}

impl HookPoint for ProfileTags {
    const KIND: HookKind = HookKind::ProfileTags;
    type Input = ProfileInput;
    type Output = ProfileOutput;

    fn check(_input: &ProfileInput, output: &ProfileOutput) -> Result<(), String> {
        check_count("tags", output.tags.len(), MAX_TAGS)?;
        let mut seen = std::collections::HashSet::new();
        for (i, tag) in output.tags.iter().enumerate() {
            check_text(&format!("tags[{i}]"), tag, MAX_TAG_CHARS)?;
            if !seen.insert(tag.as_str()) {
                return Err(format!("tag \"{tag}\" appears twice"));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// finance.decide
// ---------------------------------------------------------------------------------------------

/// `finance.decide`: a first decision on a finance application. Entry function
/// `fn decide_finance(input)` returning `#{ decision, reasons, max_amount }`.
#[derive(Debug)]
pub enum FinanceDecide {}

/// The input of `finance.decide`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinanceInput {
    /// The amount to finance, minor units.
    pub amount: i64,
    /// The term, in months.
    pub term_months: i64,
    /// The down payment, minor units.
    pub down_payment: i64,
    /// The applicant's monthly income, minor units.
    pub monthly_income: i64,
    /// The applicant's existing monthly debt payments, minor units.
    pub existing_debt_monthly: i64,
    /// The applicant's age in whole years.
    pub age: i64,
}

/// A finance decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Approve (`"approve"`).
    Approve,
    /// Refer to a person (`"refer"`).
    Refer,
    /// Decline (`"decline"`).
    Decline,
}

/// The output of `finance.decide`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinanceOutput {
    /// `"approve"`, `"refer"` or `"decline"`.
    pub decision: Decision,
    /// Why; at least one reason for `refer` and `decline` (at most [`MAX_LIST_ITEMS`]).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The most the applicant could finance, minor units, `>= 0` (optional).
    #[serde(default)]
    pub max_amount: Option<i64>,
}

impl HookPoint for FinanceDecide {
    const KIND: HookKind = HookKind::FinanceDecide;
    type Input = FinanceInput;
    type Output = FinanceOutput;

    fn check(_input: &FinanceInput, output: &FinanceOutput) -> Result<(), String> {
        check_reasons(&output.reasons)?;
        if output.decision != Decision::Approve && output.reasons.is_empty() {
            return Err(
                "a \"refer\" or \"decline\" decision must give at least one reason".to_string(),
            );
        }
        if let Some(max) = output.max_amount {
            check_non_negative("max_amount", max)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// tradein.value
// ---------------------------------------------------------------------------------------------

/// `tradein.value`: the offer for a trade-in vehicle. Entry function `fn value_tradein(input)`
/// returning `#{ value, lines }`.
#[derive(Debug)]
pub enum TradeinValue {}

/// A used vehicle's condition as the appraiser grades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// `"excellent"`
    Excellent,
    /// `"good"`
    Good,
    /// `"fair"`
    Fair,
    /// `"poor"`
    Poor,
}

/// The input of `tradein.value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeInInput {
    /// The make (brand), e.g. `Halden`.
    pub make: String,
    /// The model, e.g. `H5`.
    pub model: String,
    /// The model year.
    pub year: i64,
    /// The odometer reading, in kilometres.
    pub mileage_km: i64,
    /// The appraised condition.
    pub condition: Condition,
    /// Region code where the vehicle is traded in.
    pub region: String,
    /// The day of the valuation.
    pub date: Date,
}

/// The output of `tradein.value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeInOutput {
    /// The offer, minor units, `>= 0`.
    pub value: i64,
    /// How the offer was worked out (optional; at most [`MAX_LIST_ITEMS`]).
    #[serde(default)]
    pub lines: Vec<AmountLine>,
}

impl HookPoint for TradeinValue {
    const KIND: HookKind = HookKind::TradeinValue;
    type Input = TradeInInput;
    type Output = TradeInOutput;

    fn check(_input: &TradeInInput, output: &TradeInOutput) -> Result<(), String> {
        check_non_negative("value", output.value)?;
        check_lines("lines", &output.lines)
    }
}

// ---------------------------------------------------------------------------------------------
// Output checks
// ---------------------------------------------------------------------------------------------

fn check_non_negative(what: &str, amount: i64) -> Result<(), String> {
    if amount < 0 {
        Err(format!("{what} must not be negative (it is {amount})"))
    } else {
        Ok(())
    }
}

fn check_count(what: &str, count: usize, max: usize) -> Result<(), String> {
    if count > max {
        Err(format!(
            "{what} has {count} entries; at most {max} are allowed"
        ))
    } else {
        Ok(())
    }
}

/// A non-empty text of at most `max` characters.
fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    check_long_text(what, text, max)
}

/// A text (possibly empty) of at most `max` characters.
fn check_long_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    // A text has no more characters than bytes: most texts need no counting.
    if text.len() <= max {
        return Ok(());
    }
    let chars = text.chars().count();
    if chars > max {
        Err(format!(
            "{what} is {chars} characters long; at most {max} are allowed"
        ))
    } else {
        Ok(())
    }
}

fn check_lines(what: &str, lines: &[AmountLine]) -> Result<(), String> {
    check_count(what, lines.len(), MAX_LIST_ITEMS)?;
    for (i, line) in lines.iter().enumerate() {
        check_text(&format!("{what}[{i}].label"), &line.label, MAX_LABEL_CHARS)?;
    }
    Ok(())
}

fn check_reasons(reasons: &[String]) -> Result<(), String> {
    check_count("reasons", reasons.len(), MAX_LIST_ITEMS)?;
    for (i, reason) in reasons.iter().enumerate() {
        check_text(&format!("reasons[{i}]"), reason, MAX_LABEL_CHARS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScriptError;

    fn compile(rt: &ScriptRuntime, source: &str) -> std::sync::Arc<CompiledScript> {
        rt.compile("scripts/test.rhai", source).unwrap()
    }

    fn tax_input() -> TaxInput {
        TaxInput {
            price_incl_vat: 11_300_000,
            energy: Energy::Phev,
            purchase_date: Date::parse("2026-01-01").unwrap(),
            model: "s7".into(),
            trim: "s7-pro".into(),
            region: "east".into(),
        }
    }

    /// Call `tax.purchase` on a script whose body returns `output`.
    fn tax_returning(output: &str) -> Result<TaxOutput, ScriptError> {
        let rt = ScriptRuntime::default();
        let script = compile(&rt, &format!("fn purchase_tax(input) {{ {output} }}"));
        HookRunner::call::<TaxPurchase>(&rt, &script, &tax_input())
    }

    #[test]
    fn registry_names_functions_and_paths() {
        let names: Vec<_> = HookKind::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(
            names,
            [
                "pricing.adjust",
                "tax.purchase",
                "lead.score",
                "profile.tags",
                "finance.decide",
                "tradein.value"
            ]
        );
        for hook in HookKind::ALL {
            assert_eq!(HookKind::from_name(hook.name()), Some(hook));
            assert_eq!(hook.name().parse::<HookKind>(), Ok(hook));
            assert_eq!(hook_for_path(&hook.script_path()), Some(hook));
            assert_eq!(hook_for_test_path(&hook.test_path()), Some(hook));
            assert_eq!(hook.arity(), 1);
            assert!(!hook.summary().is_empty());
        }
        let functions: std::collections::HashSet<_> =
            HookKind::ALL.iter().map(|h| h.function()).collect();
        assert_eq!(functions.len(), HookKind::ALL.len());
        assert_eq!(TaxPurchase::NAME, "tax.purchase");
        assert_eq!(TaxPurchase::FUNCTION, "purchase_tax");
        assert_eq!(HookKind::TaxPurchase.signature(), "fn purchase_tax(input)");
        assert_eq!(HookKind::TaxPurchase.to_string(), "tax.purchase");
        assert!("tax"
            .parse::<HookKind>()
            .unwrap_err()
            .contains("lead.score"));
    }

    #[test]
    fn hook_paths() {
        assert_eq!(
            hook_for_path("scripts/tax.purchase.rhai"),
            Some(HookKind::TaxPurchase)
        );
        for path in [
            "scripts/tax.rhai",
            "scripts/sub/tax.purchase.rhai",
            "scripts/tax.purchase.test.yaml",
            "tax.purchase.rhai",
            "catalog/tax.purchase.rhai",
            "scripts/tax.purchase.rhai.bak",
        ] {
            assert_eq!(hook_for_path(path), None, "{path}");
        }
        assert_eq!(
            hook_for_test_path("scripts/lead.score.test.yaml"),
            Some(HookKind::LeadScore)
        );
        assert_eq!(hook_for_test_path("scripts/lead.score.rhai"), None);
    }

    #[test]
    fn dates_must_be_real_days() {
        for ok in ["2024-02-29", "2026-01-01", "2027-12-31", "0001-01-01"] {
            assert_eq!(Date::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-1-01",
            "2026/01/01",
            "20260101",
            "0000-01-01",
            "2026-01-01T00:00",
            "+026-01-01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let date: Date = serde_json::from_value(json!("2026-03-31")).unwrap();
        assert_eq!(serde_json::to_value(&date).unwrap(), json!("2026-03-31"));
        let err = serde_json::from_value::<Date>(json!("2026-02-30")).unwrap_err();
        assert!(err.to_string().contains("not a day"), "{err}");
    }

    #[test]
    fn the_script_sees_the_input_as_a_map_of_plain_values() {
        let rt = ScriptRuntime::default();
        let script = compile(
            &rt,
            r#"fn purchase_tax(input) {
                #{ tax: 0, explanation: `${input.energy}|${input.purchase_date}|${type_of(input.price_incl_vat)}|${input.model}` }
            }"#,
        );
        let out = HookRunner::call::<TaxPurchase>(&rt, &script, &tax_input()).unwrap();
        assert_eq!(out.explanation, "phev|2026-01-01|i64|s7");
        // Optional output fields take their defaults.
        assert_eq!(out.exemption, 0);
        assert!(out.lines.is_empty());
        // The same through the runtime's shorthand.
        assert_eq!(
            rt.call_hook::<TaxPurchase>(&script, &tax_input()).unwrap(),
            out
        );
    }

    #[test]
    fn absent_optional_inputs_are_unit_in_the_script() {
        let rt = ScriptRuntime::default();
        let script = compile(
            &rt,
            "fn score_lead(input) { #{ score: if input.budget == () { 10 } else { 90 } } }",
        );
        let mut lead = LeadInput {
            source: "website".into(),
            region: "east".into(),
            interests: vec![],
            events: vec![],
            has_test_drive: false,
            budget: None,
        };
        assert_eq!(
            HookRunner::call::<LeadScore>(&rt, &script, &lead)
                .unwrap()
                .score,
            10
        );
        lead.budget = Some(30_000_000);
        assert_eq!(
            HookRunner::call::<LeadScore>(&rt, &script, &lead)
                .unwrap()
                .score,
            90
        );
    }

    #[test]
    fn missing_entry_function_or_wrong_arity() {
        let rt = ScriptRuntime::default();
        for source in [
            "fn tax(input) { #{ tax: 0 } }",
            "fn purchase_tax(input, extra) { #{ tax: 0 } }",
            "fn purchase_tax() { #{ tax: 0 } }",
        ] {
            let script = compile(&rt, source);
            let err = HookRunner::call::<TaxPurchase>(&rt, &script, &tax_input()).unwrap_err();
            assert!(
                matches!(&err, ScriptError::MissingFunction { function, arity: 1, .. }
                    if function == "purchase_tax"),
                "{source}: {err}"
            );
            assert!(HookKind::TaxPurchase.check_entry(&script).is_err());
        }
    }

    #[test]
    fn outputs_of_the_wrong_shape_are_refused() {
        for (output, fragment) in [
            ("42", "an integer"),
            ("#{ taxes: 0 }", "taxes"),
            ("#{ exemption: 0 }", "tax"),
            ("#{ tax: 10.5 }", ""),
            (r#"#{ tax: "100" }"#, ""),
            ("#{ tax: 0, lines: [#{ label: \"x\" }] }", "amount"),
        ] {
            let err = tax_returning(output).unwrap_err();
            assert!(
                matches!(err, ScriptError::WrongOutputType { .. }),
                "{output}: {err}"
            );
            assert!(err.to_string().contains(fragment), "{output}: {err}");
        }
    }

    #[test]
    fn tax_outputs_are_checked() {
        let err = tax_returning("#{ tax: -1 }").unwrap_err();
        assert!(
            matches!(&err, ScriptError::InvalidOutput { hook, .. } if hook == "tax.purchase"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "script \"scripts/test.rhai\" returned an output the hook \"tax.purchase\" does not \
             accept: tax must not be negative (it is -1)"
        );
        assert!(tax_returning("#{ tax: 1, exemption: -5 }").is_err());
        assert!(tax_returning("#{ tax: 9223372036854775807, exemption: 1 }").is_err());
        assert!(tax_returning("#{ tax: 1, lines: [#{ label: \"\", amount: 1 }] }").is_err());
        let long = format!("#{{ tax: 1, explanation: \"{}\" }}", "x".repeat(2_001));
        assert!(tax_returning(&long).is_err());
        assert!(tax_returning("#{ tax: 1, explanation: \"ok\" }").is_ok());
    }

    fn pricing_input() -> PricingInput {
        PricingInput {
            model: "s7".into(),
            trim: "s7-pro".into(),
            region: "east".into(),
            date: Date::parse("2026-01-01").unwrap(),
            base_price: 20_000_000,
            options_price: 1_000_000,
            selections: vec!["wheel-21-forged".into()],
        }
    }

    fn pricing_returning(adjustments: &str) -> Result<PricingOutput, ScriptError> {
        let rt = ScriptRuntime::default();
        let script = compile(
            &rt,
            &format!("fn adjust_price(input) {{ #{{ adjustments: {adjustments} }} }}"),
        );
        HookRunner::call::<PricingAdjust>(&rt, &script, &pricing_input())
    }

    #[test]
    fn pricing_outputs_are_checked() {
        let out = pricing_returning(r#"[#{ code: "a", label: "A", amount: -500000 }]"#).unwrap();
        assert_eq!(out.total(&pricing_input()), Some(20_500_000));
        assert!(pricing_returning("[]").unwrap().adjustments.is_empty());
        for (bad, fragment) in [
            (
                r#"[#{ code: "a", label: "A", amount: -21000001 }]"#,
                "below zero",
            ),
            (
                r#"[#{ code: "a", label: "A", amount: 9223372036854775807 }]"#,
                "64-bit",
            ),
            (
                r#"[#{ code: "a", label: "A", amount: 1 }, #{ code: "a", label: "B", amount: 1 }]"#,
                "used twice",
            ),
            (
                r#"[#{ code: "", label: "A", amount: 1 }]"#,
                "code must not be empty",
            ),
        ] {
            let err = pricing_returning(bad).unwrap_err();
            assert!(
                matches!(err, ScriptError::InvalidOutput { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(fragment), "{bad}: {err}");
        }
    }

    #[test]
    fn lead_scores_are_0_to_100() {
        let rt = ScriptRuntime::default();
        let lead = LeadInput {
            source: "showroom".into(),
            region: "east".into(),
            interests: vec!["s7".into()],
            events: vec![EventCount {
                kind: "configurator.saved".into(),
                count: 2,
            }],
            has_test_drive: true,
            budget: Some(25_000_000),
        };
        let score = |body: &str| {
            let script = compile(&rt, &format!("fn score_lead(input) {{ {body} }}"));
            HookRunner::call::<LeadScore>(&rt, &script, &lead)
        };
        let ok = score(
            "let s = 20 * input.events[0].count; if input.has_test_drive { s += 50 } \
             #{ score: s, reasons: [\"test drive\"] }",
        )
        .unwrap();
        assert_eq!(ok.score, 90);
        assert!(score("#{ score: 0 }").is_ok());
        assert!(score("#{ score: 100 }").is_ok());
        let err = score("#{ score: 101 }").unwrap_err();
        assert!(err.to_string().contains("from 0 to 100, not 101"), "{err}");
        assert!(score("#{ score: -1 }").is_err());
    }

    #[test]
    fn profile_tags_are_bounded() {
        let rt = ScriptRuntime::default();
        let input = ProfileInput {
            events: vec![ProfileEvent {
                kind: "model.view".into(),
                model: Some("s7".into()),
                dwell_seconds: 95,
                count: 3,
            }],
        };
        let tags = |body: &str| {
            let script = compile(&rt, &format!("fn profile_tags(input) {{ {body} }}"));
            HookRunner::call::<ProfileTags>(&rt, &script, &input)
        };
        let ok = tags(r#"#{ tags: [`likes-${input.events[0].model}`] }"#).unwrap();
        assert_eq!(ok.tags, ["likes-s7"]);
        assert!(tags("let t = []; for i in 0..50 { t.push(`t${i}`) } #{ tags: t }").is_ok());
        let err = tags("let t = []; for i in 0..51 { t.push(`t${i}`) } #{ tags: t }").unwrap_err();
        assert!(err.to_string().contains("at most 50"), "{err}");
        assert!(tags(&format!("#{{ tags: [\"{}\"] }}", "x".repeat(64))).is_ok());
        // 64 characters, not bytes: 64 CJK characters are fine, 65 are not.
        assert!(tags(&format!("#{{ tags: [\"{}\"] }}", "新".repeat(64))).is_ok());
        assert!(tags(&format!("#{{ tags: [\"{}\"] }}", "x".repeat(65))).is_err());
        assert!(tags(r#"#{ tags: ["a", "a"] }"#).is_err());
        assert!(tags(r#"#{ tags: [""] }"#).is_err());
        assert!(tags(r#"#{ tags: [1] }"#).is_err());
    }

    #[test]
    fn finance_decisions_are_one_of_three_with_reasons() {
        let rt = ScriptRuntime::default();
        let input = FinanceInput {
            amount: 15_000_000,
            term_months: 36,
            down_payment: 5_000_000,
            monthly_income: 1_800_000,
            existing_debt_monthly: 300_000,
            age: 34,
        };
        let decide = |body: &str| {
            let script = compile(&rt, &format!("fn decide_finance(input) {{ {body} }}"));
            HookRunner::call::<FinanceDecide>(&rt, &script, &input)
        };
        let ok = decide(r#"#{ decision: "approve", max_amount: input.amount }"#).unwrap();
        assert_eq!(ok.decision, Decision::Approve);
        assert_eq!(ok.max_amount, Some(15_000_000));
        let refer = decide(r#"#{ decision: "refer", reasons: ["income to check"] }"#).unwrap();
        assert_eq!(refer.decision, Decision::Refer);
        assert_eq!(refer.max_amount, None);
        let err = decide(r#"#{ decision: "decline" }"#).unwrap_err();
        assert!(err.to_string().contains("at least one reason"), "{err}");
        let err = decide(r#"#{ decision: "maybe", reasons: ["?"] }"#).unwrap_err();
        assert!(matches!(err, ScriptError::WrongOutputType { .. }), "{err}");
        assert!(decide(r#"#{ decision: "approve", max_amount: -1 }"#).is_err());
    }

    #[test]
    fn tradein_values_are_not_negative() {
        let rt = ScriptRuntime::default();
        let input = TradeInInput {
            make: "Halden".into(),
            model: "H5".into(),
            year: 2021,
            mileage_km: 48_000,
            condition: Condition::Good,
            region: "chengdu-core".into(),
            date: Date::parse("2026-05-01").unwrap(),
        };
        let value = |body: &str| {
            let script = compile(&rt, &format!("fn value_tradein(input) {{ {body} }}"));
            HookRunner::call::<TradeinValue>(&rt, &script, &input)
        };
        let ok = value(
            r#"let v = 12000000 - input.mileage_km * 20;
               if input.condition == "good" { v -= 100000 }
               #{ value: v, lines: [#{ label: "Base", amount: 12000000 }] }"#,
        )
        .unwrap();
        assert_eq!(ok.value, 12_000_000 - 960_000 - 100_000);
        assert!(value("#{ value: -1 }").is_err());
    }

    #[test]
    fn call_json_checks_the_input_against_the_hook() {
        let rt = ScriptRuntime::default();
        let script = compile(
            &rt,
            "fn purchase_tax(input) { #{ tax: input.price_incl_vat / 10 } }",
        );
        let out = HookKind::TaxPurchase
            .call_json(
                &rt,
                &script,
                &json!({"price_incl_vat": 1000, "energy": "ice", "purchase_date": "2026-01-01"}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"tax": 100, "exemption": 0, "lines": [], "explanation": ""})
        );
        for bad in [
            json!({"price_incl_vat": 1000, "energy": "diesel", "purchase_date": "2026-01-01"}),
            json!({"price_incl_vat": 1000, "energy": "ice", "purchase_date": "2026-02-30"}),
            json!({"price_incl_vat": 10.5, "energy": "ice", "purchase_date": "2026-01-01"}),
            json!({"price_incl_vat": 1000, "energy": "ice"}),
            json!({"price_incl_vat": 1000, "energy": "ice", "purchase_date": "2026-01-01", "vin": "x"}),
        ] {
            let err = HookKind::TaxPurchase
                .call_json(&rt, &script, &bad)
                .unwrap_err();
            assert!(
                matches!(err, ScriptError::InvalidInput { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_thrown_error_keeps_its_line_and_column() {
        let err = tax_returning("\n  throw \"no tax table for this region\";").unwrap_err();
        assert_eq!(err.location(), (Some(2), Some(3)), "{err}");
        assert!(
            err.to_string().contains("no tax table for this region"),
            "{err}"
        );
    }
}
