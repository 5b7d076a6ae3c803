//! The engine's decisions, as the runtime makes them per command (no I/O in the measurement).
//!
//! `cargo bench -p forecourt-workflow-engine --bench step`
//!
//! The definitions are the demo tenants' own test-drive reviews
//! (`examples/*/bundle/workflows/test_drive_review.yaml`): loading one (all three validation
//! layers, guard compilation), starting an instance, an approval, a reschedule whose guard runs
//! in the Rhai sandbox, a due timer, and a work-queue check (`available`).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use forecourt_workflow_engine::{available, load, start, step, Actor, Command, Context};
use serde_json::json;

const ROLES: [&str; 9] = [
    "tenant_admin",
    "region_manager",
    "subsidiary_manager",
    "store_manager",
    "sales_consultant",
    "stock_manager",
    "finance_specialist",
    "integrator",
    "auditor",
];

fn demo(tenant: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(tenant)
        .join("bundle/workflows/test_drive_review.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let ctx = Context::with_roles(ROLES);
    let text = demo("aurora-motors");
    let mut group = c.benchmark_group("workflow");
    group.bench_function("load aurora test_drive_review", |b| {
        b.iter(|| load("workflows/test_drive_review.yaml", black_box(&text), &ctx).unwrap())
    });
    let wf = load("workflows/test_drive_review.yaml", &text, &ctx).unwrap();
    let buyer = Actor {
        id: "buyer:1".into(),
        roles: vec!["buyer".into()],
        relations: vec!["owner".into()],
    };
    let manager = Actor {
        id: "user:m".into(),
        roles: vec!["store_manager".into()],
        relations: vec!["tenant".into(), "same_region".into(), "same_store".into()],
    };
    let subject = json!({
        "booking": "b1", "store": "sh01", "model": "s7", "vehicle": "sh01-s7-1",
        "slot_start": "2026-11-27T02:00:00Z", "slot_end": "2026-11-27T03:00:00Z"
    });
    let now = 1_795_683_600_000;
    group.bench_function("start", |b| {
        b.iter(|| start(&wf, black_box(subject.clone()), &buyer, now).unwrap())
    });
    let started = start(&wf, subject.clone(), &buyer, now).unwrap().instance;
    let approve = Command::Fire {
        transition: "approve".into(),
        input: json!({}),
    };
    group.bench_function("approve (one_of approval → transition)", |b| {
        b.iter(|| step(&wf, black_box(&started), &approve, &manager, now).unwrap())
    });
    let reschedule = Command::Fire {
        transition: "reschedule".into(),
        input: json!({ "slot_start": "2026-11-28T02:00:00Z" }),
    };
    group.bench_function("reschedule (input schema + Rhai guard)", |b| {
        b.iter(|| step(&wf, black_box(&started), &reschedule, &manager, now).unwrap())
    });
    let deadline = Command::Timer {
        timer: "review_deadline".into(),
        epoch: started.epoch,
    };
    group.bench_function("timer review_deadline", |b| {
        b.iter(|| step(&wf, black_box(&started), &deadline, &Actor::system(), now).unwrap())
    });
    group.bench_function("available (work queue, manager)", |b| {
        b.iter(|| available(&wf, black_box(&started), &manager))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
