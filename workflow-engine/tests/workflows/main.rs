//! The workflow engine's integration tests, one binary: loading (every validation rule with its
//! exact location), the engine's rules, and the tools (mermaid, simulate). Fixtures live in
//! `tests/fixtures/`: `valid/` loads, `broken/<rule>.yaml` breaks exactly one rule.

mod engine;
mod load;
mod tools;

use std::path::PathBuf;

use forecourt_workflow_engine::{load, Context, Workflow};

/// The roles of the demo tenants.
pub const DEMO_ROLES: [&str; 9] = [
    "tenant_admin",
    "region_manager",
    "store_manager",
    "sales_consultant",
    "stock_manager",
    "finance_specialist",
    "integrator",
    "auditor",
    "subsidiary_manager",
];

pub fn ctx() -> Context {
    Context::with_roles(DEMO_ROLES)
}

pub fn fixture_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(fixture_path(path)).unwrap()
}

/// Loads a fixture that must be valid.
pub fn valid(name: &str) -> Workflow {
    let path = format!("valid/{name}.yaml");
    load(&path, &fixture(&path), &ctx()).unwrap_or_else(|report| panic!("{report}"))
}

/// Loads a definition from text that must be valid.
pub fn from_text(text: &str) -> Workflow {
    load("inline.yaml", text, &ctx()).unwrap_or_else(|report| panic!("{report}"))
}
