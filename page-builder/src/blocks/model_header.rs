//! `model_header` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct ModelHeader;

impl BlockKind for ModelHeader {
    fn name(&self) -> &'static str {
        "model_header"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("model_header", "model_header")
    }
    fn icon(&self) -> &'static str {
        "▫"
    }
    fn category(&self) -> &'static str {
        "catalog"
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
