//! `quote_summary` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct QuoteSummary;

impl BlockKind for QuoteSummary {
    fn name(&self) -> &'static str {
        "quote_summary"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("quote_summary", "quote_summary")
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
