//! What changed between two bundles, for review before apply and for the version history:
//! json-patch's RFC 6902 diff of the canonical forms, split into file and pointer, with the
//! old value beside the new one and in document order.

use std::cmp::Ordering;
use std::collections::HashMap;

use json_patch::PatchOperation;
use serde::Serialize;
use serde_json::Value;

use crate::bundle::Bundle;
use crate::spans::unescape;

/// One difference between two bundles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `add`, `remove` or `replace`.
    pub op: &'static str,
    /// Bundle-relative path of the file.
    pub file: String,
    /// JSON pointer inside the file's document; `""` when the whole file was added or removed.
    /// For `remove` and `replace` it points into the old document, for `add` into the new one.
    pub pointer: String,
    /// The value before (for `remove` and `replace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after (for `add` and `replace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// The changes that turn `old` into `new`, ordered by file, then by place in the document
/// (array indexes in numeric order). Empty when the hashes are equal.
pub fn diff(old: &Bundle, new: &Bundle) -> Vec<Change> {
    if old.hash() == new.hash() {
        return Vec::new();
    }
    let before = old.canonical();
    let after = new.canonical();
    let patch = json_patch::diff(&before, &after);
    // json-patch removes trailing array items one by one at the same (shifting) index; count
    // them to point each at its original place in the old document.
    let mut removed_at: HashMap<String, usize> = HashMap::new();
    let mut changes: Vec<Change> = patch
        .0
        .into_iter()
        .filter_map(|op| {
            let (op, path, value) = match op {
                PatchOperation::Add(a) => ("add", a.path.as_str().to_string(), Some(a.value)),
                PatchOperation::Replace(r) => {
                    ("replace", r.path.as_str().to_string(), Some(r.value))
                }
                PatchOperation::Remove(r) => {
                    let path = r.path.as_str().to_string();
                    let shift = removed_at.entry(path.clone()).or_insert(0);
                    let original = shifted(&path, *shift);
                    *shift += 1;
                    ("remove", original, None)
                }
                // json-patch's diff produces no move, copy or test.
                _ => return None,
            };
            let old_value = match op {
                "add" => None,
                _ => before.pointer(&path).cloned(),
            };
            let (file, pointer) = split(&path);
            Some(Change {
                op,
                file,
                pointer,
                old: old_value,
                new: value,
            })
        })
        .collect();
    changes.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then_with(|| compare_pointers(&a.pointer, &b.pointer))
    });
    changes
}

/// `path` with its last token, an array index, moved on by `by`.
fn shifted(path: &str, by: usize) -> String {
    match path.rsplit_once('/') {
        Some((parent, last)) if by > 0 => match last.parse::<usize>() {
            Ok(i) => format!("{parent}/{}", i + by),
            Err(_) => path.to_string(),
        },
        _ => path.to_string(),
    }
}

/// `/catalog~1cars.yaml/models/0` → (`catalog/cars.yaml`, `/models/0`).
fn split(path: &str) -> (String, String) {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match rest.split_once('/') {
        Some((file, pointer)) => (unescape(file), format!("/{pointer}")),
        None => (unescape(rest), String::new()),
    }
}

/// Document order: token by token, numbers numerically, a parent before its children.
fn compare_pointers(a: &str, b: &str) -> Ordering {
    let tokens = |p: &str| -> Vec<String> { p.split('/').skip(1).map(str::to_string).collect() };
    let (ta, tb) = (tokens(a), tokens(b));
    for (x, y) in ta.iter().zip(tb.iter()) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ta.len().cmp(&tb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_file_and_pointer() {
        assert_eq!(
            split("/tenant.yaml/org/stores/3"),
            ("tenant.yaml".into(), "/org/stores/3".into())
        );
        assert_eq!(
            split("/catalog~1cars.yaml"),
            ("catalog/cars.yaml".into(), String::new())
        );
        assert_eq!(
            split("/a~0b.yaml/x~1y"),
            ("a~b.yaml".into(), "/x~1y".into())
        );
    }

    #[test]
    fn orders_indexes_numerically() {
        let mut v = vec!["/roles/10", "/roles/2", "/org", "/roles/2/code", "/roles"];
        v.sort_by(|a, b| compare_pointers(a, b));
        assert_eq!(
            v,
            ["/org", "/roles", "/roles/2", "/roles/2/code", "/roles/10"]
        );
    }

    #[test]
    fn shifts_repeated_removals() {
        assert_eq!(shifted("/t/a/1", 0), "/t/a/1");
        assert_eq!(shifted("/t/a/1", 2), "/t/a/3");
        assert_eq!(shifted("/t/key", 1), "/t/key");
    }
}
