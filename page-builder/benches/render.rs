//! Rendering the demo home page (`tests/fixtures/home.json`, 10 blocks: hero, model grid,
//! promotion countdown, recommended models, a section of three rich texts, FAQ, store locator)
//! for the fixture site: the uncached static render, the per-visitor fill and the JSON twin.
//! Target: `render` ≤ 1 ms.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use forecourt_page_builder::document::Channel;
use forecourt_page_builder::site::{NavLink, NoServices, RenderRequest, Site, Visit};
use forecourt_page_builder::Renderer;

fn bench(c: &mut Criterion) {
    let site: Site = serde_json::from_str(include_str!("../tests/fixtures/site.json"))
        .expect("the fixture site reads");
    let renderer = Renderer::new();
    let page = renderer
        .load(
            "home.json",
            include_str!("../tests/fixtures/home.json"),
            Some(&site),
        )
        .unwrap_or_else(|r| panic!("{r}"));
    let params = BTreeMap::new();
    let nav = vec![
        NavLink {
            href: "/".into(),
            label: "首页".into(),
            current: true,
        },
        NavLink {
            href: "/models".into(),
            label: "车型".into(),
            current: false,
        },
        NavLink {
            href: "/stores".into(),
            label: "门店".into(),
            current: false,
        },
    ];
    let req = RenderRequest {
        locale: "zh-CN",
        channel: Channel::Web,
        base_path: "",
        params: &params,
        nav: &nav,
        preview: false,
    };
    let visit = Visit {
        query: [("city".to_string(), "上海".to_string())]
            .into_iter()
            .collect(),
        seen_models: vec!["x5".into(), "s7".into()],
        records: BTreeMap::new(),
        now_ms: 1_780_000_000_000,
    };
    let rendered = renderer.render(&page, &site, &req, &NoServices);
    assert!(rendered.problems().is_empty(), "{:?}", rendered.problems());

    let mut group = c.benchmark_group("home");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("load", |b| {
        b.iter(|| {
            renderer
                .load(
                    "home.json",
                    black_box(include_str!("../tests/fixtures/home.json")),
                    Some(&site),
                )
                .is_ok()
        })
    });
    group.bench_function("render", |b| {
        b.iter(|| renderer.render(black_box(&page), &site, &req, &NoServices))
    });
    group.bench_function("fill", |b| {
        b.iter(|| {
            renderer.fill(
                black_box(&rendered),
                &page,
                &site,
                &req,
                &visit,
                &NoServices,
            )
        })
    });
    group.bench_function("render+fill", |b| {
        b.iter(|| {
            let r = renderer.render(black_box(&page), &site, &req, &NoServices);
            renderer.fill(&r, &page, &site, &req, &visit, &NoServices)
        })
    });
    group.bench_function("twin", |b| {
        b.iter(|| renderer.twin(black_box(&page), &site, &req, &visit, &NoServices))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
