//! `image_gallery` block: a grid of up to 24 images, each with its (required) description for
//! screen readers and an optional caption.
//!
//! Props: `heading`, `images` (a list of `{url, alt, caption}`).

use serde_json::{json, Value};

use super::section::common::{
    field_text, image_src, item_object, object, objects, opt_text, prop, text_prop, tr,
    IMAGE_PATTERN,
};
use super::{BlockCtx, BlockKind};
use crate::site::Site;

pub struct ImageGallery;

pub(crate) const MAX_IMAGES: usize = 24;

impl BlockKind for ImageGallery {
    fn name(&self) -> &'static str {
        "image_gallery"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Image gallery", "图片集")
    }
    fn icon(&self) -> &'static str {
        "🖼"
    }
    fn category(&self) -> &'static str {
        "content"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "heading": text_prop(120, ("Heading", "标题"), "Shown as an h2 above the images; optional."),
                "images": prop(
                    json!({
                        "type": "array",
                        "maxItems": MAX_IMAGES,
                        "items": item_object(
                            json!({
                                "url": prop(json!({ "type": "string", "maxLength": 500, "pattern": IMAGE_PATTERN }), "image", ("Image", "图片"), "An https URL or a path on this storefront's host."),
                                "alt": prop(json!({ "type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S" }), "text", ("Description", "图片描述"), "What the image shows, for screen readers (required)."),
                                "caption": text_prop(200, ("Caption", "图片说明"), "Shown under the image; optional."),
                            }),
                            &["url", "alt"],
                        ),
                    }),
                    "list",
                    ("Images", "图片"),
                    "Up to 24 images, in order.",
                ),
            }),
            &["images"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "heading": "", "images": [] })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/image_gallery.html")
    }
    fn check(&self, props: &Value, _site: &Site) -> Vec<(String, String)> {
        objects(props, "images")
            .into_iter()
            .enumerate()
            .filter(|(_, o)| field_text(o, "alt").is_empty())
            .map(|(i, _)| {
                (
                    format!("/images/{i}/alt"),
                    "describe the image for visitors who cannot see it".to_string(),
                )
            })
            .collect()
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let images: Vec<Value> = objects(props, "images")
            .into_iter()
            .filter_map(|o| {
                let url = image_src(field_text(o, "url"))?;
                Some(json!({ "url": url, "alt": field_text(o, "alt"), "caption": field_text(o, "caption") }))
            })
            .take(MAX_IMAGES)
            .collect();
        json!({
            "heading": opt_text(props, "heading").unwrap_or(""),
            "images": images,
            "labels": {
                "region": tr(ctx.req.locale, "Image gallery", "图片集"),
                "empty": tr(ctx.req.locale, "No images yet.", "暂无图片。"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    fn gallery() -> Value {
        json!({"heading": "Interior", "images": [
            {"url": "https://cdn.example.com/a.jpg", "alt": "Dashboard", "caption": "15.6-inch screen"},
            {"url": "/media/b.jpg", "alt": "Rear seats"},
        ]})
    }

    #[test]
    fn image_gallery_passes_the_standard_checks() {
        kit::standard(&ImageGallery);
    }

    #[test]
    fn image_gallery_shows_images_with_alt_and_captions() {
        assert!(kit::valid(&ImageGallery, &gallery()));
        let html = kit::render(&ImageGallery, &gallery(), &Env::new(), "en");
        assert!(html.contains("alt=\"Dashboard\""), "{html}");
        assert!(
            html.contains("<figcaption>15.6-inch screen</figcaption>"),
            "{html}"
        );
        assert_eq!(html.matches("<img").count(), 2, "{html}");
    }

    #[test]
    fn image_gallery_requires_alt_text_and_bounds_the_list() {
        let no_alt = json!({"images": [{"url": "/a.jpg", "alt": " "}]});
        assert!(!kit::valid(&ImageGallery, &no_alt));
        assert_eq!(
            ImageGallery.check(&no_alt, &kit::site())[0].0,
            "/images/0/alt"
        );
        assert!(!kit::valid(
            &ImageGallery,
            &json!({"images": [{"url": "/a.jpg"}]})
        ));
        assert!(!kit::valid(
            &ImageGallery,
            &json!({"images": [{"url": "javascript:x", "alt": "a"}]})
        ));
        let many: Vec<Value> = (0..25)
            .map(|i| json!({"url": format!("/{i}.jpg"), "alt": "a"}))
            .collect();
        assert!(!kit::valid(&ImageGallery, &json!({"images": many})));
    }

    #[test]
    fn image_gallery_escapes_its_text() {
        let props =
            json!({"heading": XSS, "images": [{"url": "/a.jpg", "alt": XSS, "caption": XSS}]});
        kit::assert_escaped(&kit::render(&ImageGallery, &props, &Env::new(), "en"));
    }
}
