//! `video` block: one video file played by the browser's own player
//! (`<video controls preload="none">`, nothing loads until the visitor presses play), with a
//! poster image, a title, a caption and a plain link to the file as the fallback.
//!
//! Props: `title`, `url` (https only), `poster` (image), `caption`.

use serde_json::{json, Value};

use super::section::common::{
    image_prop, image_src, object, opt_text, prop, text, text_prop, textarea_prop, tr,
};
use super::{BlockCtx, BlockKind};

pub struct Video;

/// A video URL: https, no whitespace.
pub(crate) const VIDEO_PATTERN: &str = "^https://[^\\s]+$";

/// The video's https URL, else `None`.
fn video_src(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    (raw.len() > "https://".len()
        && raw
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        && !raw.chars().any(char::is_whitespace))
    .then_some(raw)
}

/// The MIME type from the file extension, when it is a common one.
fn mime(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if path.ends_with(".mp4") || path.ends_with(".m4v") {
        "video/mp4"
    } else if path.ends_with(".webm") {
        "video/webm"
    } else if path.ends_with(".ogv") {
        "video/ogg"
    } else {
        ""
    }
}

impl BlockKind for Video {
    fn name(&self) -> &'static str {
        "video"
    }
    fn label(&self) -> (&'static str, &'static str) {
        ("Video", "视频")
    }
    fn icon(&self) -> &'static str {
        "🎬"
    }
    fn category(&self) -> &'static str {
        "content"
    }
    fn schema(&self) -> Value {
        object(
            json!({
                "title": text_prop(120, ("Title", "标题"), "Shown as an h2 above the video and used as its accessible name."),
                "url": prop(
                    json!({ "type": "string", "maxLength": 500, "anyOf": [{ "const": "" }, { "pattern": VIDEO_PATTERN }] }),
                    "url",
                    ("Video file", "视频地址"),
                    "The video file's https URL (MP4 or WebM).",
                ),
                "poster": image_prop(("Poster image", "封面图"), "Shown before the video plays: an https URL or a path on this storefront's host."),
                "caption": textarea_prop(300, ("Caption", "说明"), "Shown under the video; optional."),
            }),
            &["url"],
        )
    }
    fn defaults(&self) -> Value {
        json!({ "title": "", "url": "", "poster": "", "caption": "" })
    }
    fn template(&self) -> &'static str {
        include_str!("../../templates/blocks/video.html")
    }
    fn data(&self, props: &Value, ctx: &BlockCtx<'_>) -> Value {
        let locale = ctx.req.locale;
        let url = video_src(text(props, "url"));
        json!({
            "title": opt_text(props, "title").unwrap_or(""),
            "url": url,
            "mime": url.map(mime).unwrap_or(""),
            "poster": image_src(text(props, "poster")),
            "caption": opt_text(props, "caption").unwrap_or(""),
            "labels": {
                "region": tr(locale, "Video", "视频"),
                "fallback": tr(locale, "Your browser cannot play this video.", "您的浏览器无法播放此视频。"),
                "watch": tr(locale, "Open the video file", "打开视频文件"),
                "empty": tr(locale, "No video yet.", "暂无视频。"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::section::testkit::{self as kit, Env, XSS};
    use super::*;

    #[test]
    fn video_passes_the_standard_checks() {
        kit::standard(&Video);
    }

    #[test]
    fn video_renders_a_lazy_player_with_a_fallback_link() {
        let props = json!({"title": "S7 launch", "url": "https://cdn.example.com/s7.mp4?v=2", "poster": "https://cdn.example.com/s7.jpg", "caption": "Shanghai, 2026"});
        let b = kit::data(&Video, &props, &Env::new(), "zh-CN");
        assert_eq!(b["url"], "https://cdn.example.com/s7.mp4?v=2");
        assert_eq!(b["mime"], "video/mp4");
        assert_eq!(b["poster"], "https://cdn.example.com/s7.jpg");
        let html = kit::render(&Video, &props, &Env::new(), "zh-CN");
        assert!(html.contains("<video controls preload=\"none\""), "{html}");
        assert!(html.contains("<source src="), "{html}");
        assert!(html.contains("打开视频文件</a>"), "{html}");
    }

    #[test]
    fn video_must_be_https() {
        assert!(!kit::valid(
            &Video,
            &json!({"url": "http://cdn.example.com/a.mp4"})
        ));
        assert!(!kit::valid(&Video, &json!({"url": "javascript:alert(1)"})));
        let b = kit::data(
            &Video,
            &json!({"url": "http://cdn.example.com/a.mp4"}),
            &Env::new(),
            "en",
        );
        assert!(b["url"].is_null());
        let html = kit::render(&Video, &json!({"url": "ftp://x"}), &Env::new(), "en");
        assert!(!html.contains("<video"), "{html}");
    }

    #[test]
    fn video_escapes_its_text() {
        let props = json!({"title": XSS, "url": "https://cdn.example.com/a.webm", "caption": XSS});
        kit::assert_escaped(&kit::render(&Video, &props, &Env::new(), "en"));
    }
}
