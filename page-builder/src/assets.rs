//! The static assets built into the binary: the storefront stylesheet, the configurator island's
//! script and the builder UI (`page-builder/assets/`). `core` serves them under `/assets/…` with
//! [`get`] and answers conditional requests with [`etag`].

use std::collections::HashMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// Every asset: (file name, content type, bytes).
const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "storefront.css",
        CSS,
        include_bytes!("../assets/storefront.css"),
    ),
    (
        "configurator.js",
        JS,
        include_bytes!("../assets/configurator.js"),
    ),
    ("builder.js", JS, include_bytes!("../assets/builder.js")),
    ("builder.css", CSS, include_bytes!("../assets/builder.css")),
    (
        "builder.html",
        HTML,
        include_bytes!("../assets/builder.html"),
    ),
];

/// The file names of every asset.
pub fn names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _, _)| *name)
}

/// A static asset by file name: (content type, bytes). `None` for any other name (including
/// paths such as `../x` or `a/storefront.css`).
pub fn get(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, bytes)| (*kind, *bytes))
}

/// The strong `ETag` header value of an asset, quotes included (`"1f0c…"`, the first 16 bytes
/// of the sha256 of its contents in hex), computed once per process. `None` for an unknown name.
pub fn etag(name: &str) -> Option<&'static str> {
    static TAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(name, _, bytes)| {
                let digest = Sha256::digest(bytes);
                (*name, format!("\"{}\"", hex::encode(&digest[..16])))
            })
            .collect()
    })
    .get(name)
    .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_known_assets_only() {
        assert_eq!(get("storefront.css").map(|a| a.0), Some(CSS));
        assert_eq!(get("configurator.js").map(|a| a.0), Some(JS));
        assert_eq!(get("builder.js").map(|a| a.0), Some(JS));
        assert_eq!(get("builder.css").map(|a| a.0), Some(CSS));
        assert_eq!(get("builder.html").map(|a| a.0), Some(HTML));
        for bad in [
            "",
            "x.css",
            "../assets/storefront.css",
            "STOREFRONT.CSS",
            "/storefront.css",
        ] {
            assert!(get(bad).is_none(), "{bad}");
            assert!(etag(bad).is_none(), "{bad}");
        }
        assert_eq!(names().count(), 5);
    }

    #[test]
    fn etags_are_quoted_hashes_of_the_contents() {
        for name in names() {
            let tag = etag(name).unwrap();
            assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
            assert_eq!(tag.len(), 34);
            let (_, bytes) = get(name).unwrap();
            let digest = Sha256::digest(bytes);
            assert_eq!(&tag[1..33], hex::encode(&digest[..16]));
        }
        // Same pointer on every call: computed once.
        assert!(std::ptr::eq(
            etag("storefront.css").unwrap(),
            etag("storefront.css").unwrap()
        ));
    }
}
