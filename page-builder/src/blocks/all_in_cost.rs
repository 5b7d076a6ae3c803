//! `all_in_cost` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct AllInCost;

impl BlockKind for AllInCost {
    fn name(&self) -> &'static str {
        "all_in_cost"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("all_in_cost", "all_in_cost")
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
