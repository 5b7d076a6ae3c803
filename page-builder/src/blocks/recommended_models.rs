//! `recommended_models` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct RecommendedModels;

impl BlockKind for RecommendedModels {
    fn name(&self) -> &'static str {
        "recommended_models"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("recommended_models", "recommended_models")
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
