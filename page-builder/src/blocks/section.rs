//! `section` block. STUB — to be written.

use serde_json::{json, Value};

use super::{BlockCtx, BlockKind};

pub struct Section;

impl BlockKind for Section {
    fn name(&self) -> &'static str {
        "section"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("section", "section")
    }
    fn icon(&self) -> &'static str {
        "▫"
    }
    fn category(&self) -> &'static str {
        "layout"
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
