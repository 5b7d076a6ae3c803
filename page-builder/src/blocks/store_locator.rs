//! `store_locator` block: the tenant's stores, nearest first. The visitor's position comes from
//! the query — `?lat=…&lon=…` (checked floats in range; distances by haversine, formatted with
//! [`format::distance`]) or `?city=…` (matched against the stores' city names in any locale) —
//! chosen with a plain GET form listing the cities, so no JavaScript is needed. Each store shows
//! its name, address, phone (a `tel:` link) and distance. Per request (reads the query).
//!
//! Props: `heading`, `max_results` (1–50).

use serde_json::{json, Value};

use super::section::common::{int, loc, object, opt_text, prop, tel_href, text_prop, tr};
use super::{BlockCtx, BlockKind};
use crate::format;
use crate::site::SiteStore;

pub struct StoreLocator;

/// Mean Earth radius, metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres.
pub(crate) fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// A coordinate from the query: a finite float within `-limit..=limit`.
fn coordinate(raw: Option<&String>, limit: f64) -> Option<f64> {
    let v: f64 = raw?.trim().parse().ok()?;
    (v.is_finite() && (-limit..=limit).contains(&v)).then_some(v)
}

/// The store's city in any locale equals `city` (case-insensitive).
fn in_city(store: &SiteStore, city: &str) -> bool {
    let wanted = city.trim().to_lowercase();
    store
        .city
        .values()
        .any(|c| c.trim().to_lowercase() == wanted)
}

impl BlockKind for StoreLocator {
    fn name(&self) -> &'static str {
        "store_locator"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Store locator", "门店查询")
    }
    fn icon(&self) -> &'static str {
        "📍"
    }
    fn category(&self) -> &'static str {
        "engagement"
    }
    fn per_request(&self) -> bool {
        true
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2; the default is “Find a store”."),
                "max_results": prop(json!({ "type": "integer", "minimum": 1, "maximum": 50, "default": 5 }), "number", ("Stores shown", "显示门店数"), "How many stores to list at most."),
            }),
            &["max_results"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "max_results": 5 })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/store_locator.html")
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let zh = locale.starts_with("zh");
        let max = usize::try_from(int(props, "max_results", 5, 1, 50)).unwrap_or(5);
        let query = ctx.visit.map(|v| &v.query);
        let lat = coordinate(query.and_then(|q| q.get("lat")), 90.0);
        let lon = coordinate(query.and_then(|q| q.get("lon")), 180.0);
        let asked_position = query.is_some_and(|q| q.contains_key("lat") || q.contains_key("lon"));
        let city = query
            .and_then(|q| q.get("city"))
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .filter(|c| ctx.site.stores.iter().any(|s| in_city(s, c)));
        let asked_city = query
            .and_then(|q| q.get("city"))
            .is_some_and(|c| !c.trim().is_empty());

        let mut stores: Vec<(&SiteStore, Option<f64>)> =
            ctx.site.stores.iter().map(|s| (s, None)).collect();
        let mode;
        if let (Some(lat), Some(lon)) = (lat, lon) {
            mode = "near";
            for entry in &mut stores {
                entry.1 = Some(haversine_m(lat, lon, entry.0.lat, entry.0.lon));
            }
            stores.sort_by(|a, b| a.1.unwrap_or(f64::MAX).total_cmp(&b.1.unwrap_or(f64::MAX)));
        } else if let Some(city) = city {
            mode = "city";
            stores.retain(|(s, _)| in_city(s, city));
        } else {
            mode = "all";
        }
        // The city's name in the page's language, for the heading and the selected option.
        let city_name = city
            .and_then(|c| ctx.site.stores.iter().find(|s| in_city(s, c)))
            .map(|s| loc(ctx, &s.city).to_string());
        let mut cities: Vec<Value> = Vec::new();
        for s in &ctx.site.stores {
            let name = loc(ctx, &s.city);
            if !name.is_empty() && !cities.iter().any(|c| c["value"] == name) {
                cities.push(json!({ "value": name, "label": name, "selected": city_name.as_deref() == Some(name) }));
            }
        }
        let results: Vec<Value> = stores
            .into_iter()
            .take(max)
            .map(|(s, d)| {
                let metres = d.map(|d| d.round() as u64);
                json!({
                    "code": s.code,
                    "name": loc(ctx, &s.name),
                    "city": loc(ctx, &s.city),
                    "address": loc(ctx, &s.address),
                    "phone": s.phone.clone().unwrap_or_default(),
                    "tel": s.phone.as_deref().and_then(tel_href),
                    "distance_m": metres,
                    "distance_display": metres.map(|m| format::distance(m, locale)).unwrap_or_default(),
                })
            })
            .collect();
        let results_heading = match (mode, &city_name) {
            ("near", _) => tr(locale, "Nearest stores", "最近门店").to_string(),
            ("city", Some(c)) if zh => format!("{c}的门店"),
            ("city", Some(c)) => format!("Stores in {c}"),
            _ => tr(locale, "All stores", "全部门店").to_string(),
        };
        let notice = if (asked_position && mode != "near" && !asked_city)
            || (asked_city && city.is_none())
        {
            tr(
                locale,
                "We could not find that place, so all stores are shown.",
                "未能识别您输入的位置，已为您显示全部门店。",
            )
        } else {
            ""
        };
        json!({
            "mode": mode,
            "position": match (lat, lon) { (Some(lat), Some(lon)) => json!({ "lat": lat, "lon": lon }), _ => Value::Null },
            "city": city_name.clone().unwrap_or_default(),
            "cities": cities,
            "stores": results,
            "notice": notice,
            "labels": {
                "heading": opt_text(props, "heading").unwrap_or(tr(locale, "Find a store", "查找门店")),
                "results": results_heading,
                "city": tr(locale, "City", "城市"),
                "all_cities": tr(locale, "All cities", "全部城市"),
                "find": tr(locale, "Show stores", "查找"),
                "phone": tr(locale, "Phone", "电话"),
                "distance": tr(locale, "Distance", "距离"),
                "empty": tr(locale, "No stores to show.", "暂无门店信息。"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    fn codes(b: &Value) -> Vec<String> {
        b["stores"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["code"].as_str().map(str::to_string))
            .collect()
    }

    #[test]
    fn store_locator_passes_the_standard_checks() {
        kit::standard(&StoreLocator);
    }

    #[test]
    fn haversine_is_about_right() {
        // Shanghai People's Square to Beijing Tiananmen: about 1,067 km.
        let d = haversine_m(31.2304, 121.4737, 39.9042, 116.4074);
        assert!((1_060_000.0..1_075_000.0).contains(&d), "{d}");
        assert_eq!(haversine_m(30.0, 104.0, 30.0, 104.0), 0.0);
    }

    #[test]
    fn store_locator_sorts_by_distance_from_the_visitor() {
        // Near Xuhui, Shanghai.
        let env = Env::new().query("lat", "31.19").query("lon", "121.44");
        let b = kit::data(&StoreLocator, &json!({"max_results": 3}), &env, "zh-CN");
        assert_eq!(b["mode"], "near");
        assert_eq!(codes(&b), ["sh-xuhui", "sh-pudong", "bj-chaoyang"]);
        assert_eq!(b["labels"]["results"], "最近门店");
        assert!(b["stores"][0]["distance_display"]
            .as_str()
            .is_some_and(|d| d.ends_with('米') || d.ends_with("公里")));
        assert_eq!(b["stores"][1]["tel"], "tel:02158888888");
    }

    #[test]
    fn store_locator_filters_by_city_in_any_language() {
        for city in ["shanghai", "上海", " Shanghai "] {
            let env = Env::new().query("city", city);
            let b = kit::data(&StoreLocator, &StoreLocator.defaults(), &env, "en");
            assert_eq!(b["mode"], "city");
            assert_eq!(codes(&b), ["sh-pudong", "sh-xuhui"]);
            assert_eq!(b["labels"]["results"], "Stores in Shanghai");
            assert_eq!(b["cities"][0]["selected"], true);
        }
        let html = kit::render(
            &StoreLocator,
            &StoreLocator.defaults(),
            &Env::new().query("city", "上海"),
            "zh-CN",
        );
        assert!(
            html.contains("<option value=\"上海\" selected>上海</option>"),
            "{html}"
        );
        assert!(html.contains("上海的门店"), "{html}");
        assert!(html.contains("method=\"get\""), "{html}");
    }

    #[test]
    fn store_locator_rejects_bad_positions() {
        for (lat, lon) in [("91", "121"), ("31", "NaN"), ("x", "1"), ("31", "inf")] {
            let env = Env::new().query("lat", lat).query("lon", lon);
            let b = kit::data(&StoreLocator, &StoreLocator.defaults(), &env, "en");
            assert_eq!(b["mode"], "all", "{lat},{lon}");
            assert_ne!(b["notice"], "");
        }
        let b = kit::data(
            &StoreLocator,
            &StoreLocator.defaults(),
            &Env::new().query("city", "Atlantis"),
            "en",
        );
        assert_eq!(b["mode"], "all");
        assert_eq!(codes(&b).len(), 4);
    }

    #[test]
    fn store_locator_escapes_visitor_and_site_text() {
        let mut env = Env::new().query("city", XSS);
        env.site.stores[0].name.insert("en".into(), XSS.into());
        kit::assert_escaped(&kit::render(
            &StoreLocator,
            &json!({"heading": XSS, "max_results": 5}),
            &env,
            "en",
        ));
    }
}
