//! `finance_calculator` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct FinanceCalculator;

impl BlockKind for FinanceCalculator {
    fn name(&self) -> &'static str {
        "finance_calculator"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("finance_calculator", "finance_calculator")
    }
    fn icon(&self) -> &'static str {
        "▫"
    }
    fn category(&self) -> &'static str {
        "finance"
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "additionalProperties": false, "properties": {}})
    }
    fn defaults(&self) -> Value {
        json!({})
    }
    fn template(&self) -> &'static str {
        ""
    }
    fn data(&self, _props: &Value, _ctx: &BlockCtx<'_>) -> Value {
        json!({})
    }
}
