//! `promotion_countdown` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct PromotionCountdown;

impl BlockKind for PromotionCountdown {
    fn name(&self) -> &'static str {
        "promotion_countdown"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("promotion_countdown", "promotion_countdown")
    }
    fn icon(&self) -> &'static str {
        "▫"
    }
    fn category(&self) -> &'static str {
        "engagement"
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
