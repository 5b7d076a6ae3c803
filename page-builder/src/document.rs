//! Page documents: plain JSON with a `schema_version`, a route, title and SEO fields per locale,
//! and a tree of blocks `{type, id, props, children}` with optional channel variants.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The page document format this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Where a page is shown. The web gets HTML; apps and mini-programs get the JSON twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    App,
    Mini,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Mini => "mini",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "web" => Some(Channel::Web),
            "app" => Some(Channel::App),
            "mini" => Some(Channel::Mini),
            _ => None,
        }
    }
}

/// One storefront page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageDocument {
    pub schema_version: u32,
    /// `^[a-z][a-z0-9-]{0,47}$`.
    pub id: String,
    /// `/`, `/models`, `/models/{model}`: literal segments and typed parameters (`{model}`,
    /// `{configuration}`, `{quote}`).
    pub route: String,
    /// Title and SEO fields per locale.
    pub meta: BTreeMap<String, PageMeta>,
    /// Shown in the storefront navigation at this position, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nav: Option<u32>,
    pub blocks: Vec<BlockNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageMeta {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Share image URL (`og:image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Navigation label; the title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nav_label: Option<String>,
}

/// One block of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockNode {
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique within the page: `^[a-z0-9][a-z0-9_-]{0,63}$`.
    pub id: String,
    #[serde(default)]
    pub props: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<BlockNode>,
    /// Only on these channels; every channel when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
}

impl BlockNode {
    /// Shown on `channel`.
    pub fn on(&self, channel: Channel) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(&channel))
    }
}
