//! `recommended_models` block: the personalised slot. From the models the visitor looked at
//! (`Visit::seen_models`, most recent first) it recommends models they have not seen, ranked by
//! how many of the seen ones share their body type or energy type (ties in catalog order), each
//! saying "Because you looked at X". Without history it shows the props' `featured` models, or
//! the catalog's first ones. Per request (reads the visitor's history).
//!
//! Props: `heading` (default “Recommended for you”), `count` (1–12), `featured` (model codes).

use serde_json::{json, Value};

use super::section::common::{
    card_labels, check_models, int, loc, model, model_card, models_prop, object, opt_text, prop,
    str_list, text_prop, tr,
};
use super::{BlockCtx, BlockKind};
use crate::site::{Site, SiteModel};

pub struct RecommendedModels;

/// How much `candidate` has in common with `seen`.
fn affinity(candidate: &SiteModel, seen: &SiteModel) -> usize {
    usize::from(candidate.body_type == seen.body_type)
        + usize::from(candidate.energy == seen.energy)
}

/// "Because you looked at X".
fn because(name: &str, locale: &str) -> String {
    if locale.starts_with("zh") {
        format!("因为您浏览过{name}")
    } else {
        format!("Because you looked at {name}")
    }
}

impl BlockKind for RecommendedModels {
    fn name(&self) -> &'static str {
        "recommended_models"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Recommended models", "为您推荐")
    }
    fn icon(&self) -> &'static str {
        "✨"
    }
    fn category(&self) -> &'static str {
        "catalog"
    }
    fn per_request(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Recommended for you”."),
                "count": prop(json!({ "type": "integer", "minimum": 1, "maximum": 12, "default": 3 }), "number", ("Number of models", "推荐数量"), "How many models to recommend."),
                "featured": models_prop(12, ("Featured models", "主推车型"), "Shown to visitors without a browsing history, in order; the catalog's first models when empty."),
            }),
            &["count"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "count": 3, "featured": [] })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/recommended_models.html")
    }
    fn check(&self, props: &Value, site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check_models(&mut out, "/featured", props.get("featured"), site);
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let count = usize::try_from(int(props, "count", 3, 1, 12)).unwrap_or(3);
        let mut seen: Vec<&SiteModel> = Vec::new();
        for code in ctx
            .visit
            .map(|v| v.seen_models.as_slice())
            .unwrap_or_default()
        {
            if let Some(m) = model(ctx.site, code) {
                if !seen.iter().any(|s| s.code == m.code) && seen.len() < 20 {
                    seen.push(m);
                }
            }
        }
        let mut ranked: Vec<(&SiteModel, usize, Option<&SiteModel>)> = ctx
            .site
            .models
            .iter()
            .filter(|m| !seen.iter().any(|s| s.code == m.code))
            .map(|m| {
                let score = seen.iter().map(|s| affinity(m, s)).sum();
                let reason = seen.iter().find(|s| affinity(m, s) > 0).copied();
                (m, score, reason)
            })
            .collect();
        let personalised = !seen.is_empty() && !ranked.is_empty();
        let picks: Vec<(&SiteModel, Option<&SiteModel>)> = if personalised {
            ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
            ranked.into_iter().map(|(m, _, r)| (m, r)).collect()
        } else {
            let mut featured: Vec<&SiteModel> = Vec::new();
            for code in str_list(props, "featured") {
                if let Some(m) = model(ctx.site, code) {
                    if !featured.iter().any(|f| f.code == m.code) {
                        featured.push(m);
                    }
                }
            }
            if featured.is_empty() {
                featured = ctx.site.models.iter().collect();
            }
            featured.into_iter().map(|m| (m, None)).collect()
        };
        let cards: Vec<Value> = picks
            .into_iter()
            .take(count)
            .map(|(m, reason)| {
                let mut card = model_card(m, ctx);
                if let Some(o) = card.as_object_mut() {
                    o.insert("because_of".into(), json!(reason.map(|r| r.code.as_str())));
                    o.insert(
                        "reason".into(),
                        Value::from(
                            reason
                                .map(|r| because(loc(ctx, &r.name), locale))
                                .unwrap_or_default(),
                        ),
                    );
                }
                card
            })
            .collect();
        json!({
            "personalised": personalised,
            "seen": seen.iter().map(|s| s.code.as_str()).collect::<Vec<_>>(),
            "because": if personalised { seen.first().map(|s| because(loc(ctx, &s.name), locale)).unwrap_or_default() } else { String::new() },
            "cards": cards,
            "labels": {
                "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Recommended for you", "为您推荐")),
                "card": card_labels(locale),
                "empty": tr(locale, "No models to recommend yet.", "暂无推荐车型。"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    fn codes(b: &Value) -> Vec<String> {
        b["cards"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["code"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn recommended_models_passes_the_standard_checks() {
        kit::standard(&RecommendedModels);
    }

    #[test]
    fn recommended_models_ranks_unseen_models_by_what_they_share() {
        // Seen: s7 (sedan, BEV). m3 and q5 are BEVs (tie → catalog order), x9 shares nothing.
        let env = Env::new().seen(&["s7", "unknown"]);
        let b = kit::data(
            &RecommendedModels,
            &RecommendedModels.defaults(),
            &env,
            "en",
        );
        assert_eq!(b["personalised"], true);
        assert_eq!(codes(&b), ["m3", "q5", "x9"]);
        assert_eq!(b["cards"][0]["reason"], "Because you looked at Aurora S7");
        assert_eq!(b["cards"][2]["reason"], "");
        assert_eq!(b["because"], "Because you looked at Aurora S7");

        // Seen x9 (SUV, EREV) then s7: q5 shares the body with x9 and the energy with s7.
        let env = Env::new().seen(&["x9", "s7"]);
        let b = kit::data(&RecommendedModels, &json!({"count": 1}), &env, "zh-CN");
        assert_eq!(codes(&b), ["q5"]);
        assert_eq!(b["cards"][0]["reason"], "因为您浏览过极光 X9");
        let html = kit::render(&RecommendedModels, &json!({"count": 1}), &env, "zh-CN");
        assert!(html.contains("因为您浏览过极光 X9"), "{html}");
    }

    #[test]
    fn recommended_models_without_history_shows_featured_or_catalog() {
        let b = kit::data(
            &RecommendedModels,
            &json!({"count": 2, "featured": ["q5", "nope", "x9"]}),
            &Env::new(),
            "en",
        );
        assert_eq!(b["personalised"], false);
        assert_eq!(codes(&b), ["q5", "x9"]);
        let b = kit::data(
            &RecommendedModels,
            &json!({"count": 2}),
            &Env::new().no_visit(),
            "en",
        );
        assert_eq!(codes(&b), ["s7", "x9"]);
        // Everything seen: featured again.
        let b = kit::data(
            &RecommendedModels,
            &json!({"count": 1}),
            &Env::new().seen(&["s7", "x9", "m3", "q5"]),
            "en",
        );
        assert_eq!(codes(&b), ["s7"]);
    }

    #[test]
    fn recommended_models_checks_featured_codes() {
        let p = RecommendedModels.check(&json!({"count": 3, "featured": ["s77"]}), &kit::site());
        assert_eq!(p[0].0, "/featured/0");
    }

    #[test]
    fn recommended_models_escapes_its_text() {
        let mut env = Env::new().seen(&["s7"]);
        env.site.models[0].name.insert("en".into(), XSS.into());
        kit::assert_escaped(&kit::render(
            &RecommendedModels,
            &json!({"heading": XSS, "count": 3}),
            &env,
            "en",
        ));
    }
}
