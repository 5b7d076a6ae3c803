//! `hero` block: the page's opening banner — the page's h1 headline, a subline, an optional
//! image and one call to action, on a light, dark or brand-coloured background.
//!
//! Props: `headline` (required), `subline`, `image_url`, `image_alt`, `cta_label`, `cta_link`
//! (a storefront path such as `/test-drive`, prefixed with the base path, or an absolute URL),
//! `tone` (`light` | `dark` | `brand`).

use serde_json::{json, Value};

use super::section::common::{
    href, image_prop, image_src, link_prop, object, opt_text, prop, text, text_prop, textarea_prop,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

const TONES: [&str; 3] = ["light", "dark", "brand"];

pub struct Hero;

impl BlockKind for Hero {
    fn name(&self) -> &'static str {
        "hero"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Hero banner", "首屏横幅")
    }
    fn icon(&self) -> &'static str {
        "🖼️"
    }
    fn category(&self) -> &'static str {
        "layout"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "headline": prop(json!({ "type": "string", "minLength": 1, "maxLength": 120 }), "text", ("Headline", "主标题"), "The page's main heading (h1)."),
                "subline": textarea_prop(300, ("Subline", "副标题"), "One or two sentences under the headline."),
                "image_url": image_prop(("Image", "图片"), "Banner image: an https URL or a path on this storefront's host."),
                "image_alt": text_prop(200, ("Image description", "图片描述"), "What the image shows, for screen readers; leave empty when it is decorative."),
                "cta_label": text_prop(40, ("Button text", "按钮文字"), "Text of the call-to-action button; no button when empty."),
                "cta_link": link_prop(("Button link", "按钮链接"), "Where the button leads: a storefront path such as /test-drive, or an https URL."),
                "tone": prop(json!({ "type": "string", "enum": TONES, "default": "dark" }), "select", ("Tone", "色调"), "Background and text colours: light, dark or the brand colour."),
            }),
            &["headline", "tone"],
        )
    }
    fn defaults(&self) -> Value {
        json!({
            "headline": "Drive the future",
            "subline": "",
            "image_url": "",
            "image_alt": "",
            "cta_label": "Book a test drive",
            "cta_link": "/test-drive",
            "tone": "dark",
        })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/hero.html")
    }
    fn check(&self, props: &Value, _site: &Site) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if opt_text(props, "cta_label").is_some() && opt_text(props, "cta_link").is_none() {
            out.push(("/cta_link".into(), "the button needs a link".into()));
        }
        out
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let tone = TONES
            .iter()
            .find(|t| **t == text(props, "tone"))
            .copied()
            .unwrap_or("dark");
        let image = image_src(text(props, "image_url"))
            .map(|url| json!({ "url": url, "alt": text(props, "image_alt") }))
            .unwrap_or(Value::Null);
        let cta = match (
            opt_text(props, "cta_label"),
            href(ctx.req.base_path, text(props, "cta_link")),
        ) {
            (Some(label), Some(link)) => json!({ "label": label, "href": link }),
            _ => Value::Null,
        };
        json!({
            "headline": text(props, "headline"),
            "subline": text(props, "subline"),
            "image": image,
            "cta": cta,
            "tone": tone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn hero_passes_the_standard_checks() {
        kit::standard(&Hero);
    }

    #[test]
    fn hero_links_get_the_base_path_and_bad_links_are_dropped() {
        let env = Env::new();
        let b = kit::data(&Hero, &Hero.defaults(), &env, "en");
        assert_eq!(b["cta"]["href"], "/t/aurora/test-drive");
        let props = json!({"headline": "H", "tone": "brand", "cta_label": "Go", "cta_link": "javascript:alert(1)"});
        assert!(!kit::valid(&Hero, &props));
        let b = kit::data(&Hero, &props, &env, "en");
        assert!(b["cta"].is_null());
        let html = kit::render(&Hero, &props, &env, "en");
        assert!(!html.contains("javascript"), "{html}");
        assert!(!Hero
            .check(
                &json!({"headline": "H", "tone": "dark", "cta_label": "Go"}),
                &kit::site()
            )
            .is_empty());
    }

    #[test]
    fn hero_has_the_h1_and_image_with_alt() {
        let props = json!({"headline": "极光 S7", "tone": "light", "image_url": "https://cdn.example.com/s7.jpg", "image_alt": "S7 at dusk"});
        let html = kit::render(&Hero, &props, &Env::new(), "zh-CN");
        assert!(html.contains("<h1 id=\"b1-title\">极光 S7</h1>"), "{html}");
        assert!(html.contains("alt=\"S7 at dusk\""), "{html}");
        assert!(html.contains("tone-light"), "{html}");
    }

    #[test]
    fn hero_escapes_its_text() {
        let props = json!({"headline": XSS, "subline": XSS, "tone": "dark", "cta_label": XSS, "cta_link": "/x", "image_url": "/a.jpg", "image_alt": XSS});
        kit::assert_escaped(&kit::render(&Hero, &props, &Env::new(), "en"));
    }
}
