//! Rich text: tenant-written HTML reduced to an allow-list (paragraphs, headings, lists, emphasis,
//! links with `rel="noopener noreferrer nofollow"`, images with alt text). Scripts, styles, event
//! handlers, `javascript:` URLs and unknown tags are removed, never escaped into view.

use std::collections::HashSet;

/// The sanitised HTML of `html`.
pub fn rich_text(html: &str) -> String {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "h2",
        "h3",
        "h4",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "b",
        "i",
        "u",
        "a",
        "img",
        "blockquote",
        "small",
        "span",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    ammonia::Builder::default()
        .tags(tags)
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["https", "http", "mailto", "tel"].into_iter().collect())
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_are_removed() {
        let out = rich_text(
            r#"<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a><img src="https://a/b.png" alt="car" onerror="y()"></p><style>body{}</style>"#,
        );
        assert!(!out.contains("script"), "{out}");
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("onerror"), "{out}");
        assert!(!out.contains("javascript:"), "{out}");
        assert!(!out.contains("style"), "{out}");
        assert!(out.contains("<p>Hi "), "{out}");
        assert!(out.contains(r#"alt="car""#), "{out}");
    }
}
