//! Where a bundle's bytes come from: a directory on disk or an in-memory map of files. Reading
//! is bounded by [`LIMITS`](crate::LIMITS) (a file over the limit is never read into memory),
//! and every problem on the way (non-UTF-8 text, a symlink leaving the directory, an unreadable
//! file) becomes a diagnostic that [`load`](crate::load) reports with the rest.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Report};
use crate::limits::LIMITS;

/// The raw files of one bundle: bundle-relative path (`/` separators) → UTF-8 text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSource {
    files: BTreeMap<String, String>,
    /// Problems found while reading; reported by `load`.
    pub(crate) problems: Vec<Diagnostic>,
}

/// Whether a path is never part of a bundle and skipped silently: dotfiles (and anything in a
/// dot-directory) and Markdown notes.
fn skipped(path: &str) -> bool {
    path.split('/').any(|segment| segment.starts_with('.')) || path.ends_with(".md")
}

impl BundleSource {
    /// Takes files already in memory (e.g. from an upload). Paths must be relative, use `/`
    /// separators and contain no `.`/`..` segments; others are reported by `load`. Dotfiles and
    /// `*.md` files are skipped, as in [`BundleSource::from_dir`].
    pub fn from_files(files: BTreeMap<String, String>) -> Self {
        let mut source = BundleSource::default();
        for (path, text) in files {
            let bad = path.is_empty()
                || path.starts_with('/')
                || path.contains('\\')
                || path
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..");
            if bad {
                source.problems.push(Diagnostic::error(
                    "bundle.bad_path",
                    &path,
                    "",
                    "this file name is not a plain relative path (use `/` between folders, no \
                     leading `/`, no `.` or `..`); the file was not read"
                        .to_string(),
                ));
                continue;
            }
            if !skipped(&path) {
                source.files.insert(path, text);
            }
        }
        source
    }

    /// Reads a bundle directory recursively, in name order. Skips dotfiles, dot-directories and
    /// `*.md`; follows a symlink only when its target stays inside the directory. Files over the
    /// size limits are not read. Fails only when the directory itself cannot be read; every
    /// other problem is kept and reported by [`load`](crate::load).
    pub fn from_dir(path: impl AsRef<Path>) -> Result<Self, Report> {
        let path = path.as_ref();
        let root = fs::canonicalize(path).map_err(|e| {
            Report::new(vec![Diagnostic::error(
                "bundle.io",
                "",
                "",
                format!("cannot open the bundle directory `{}`: {e}", path.display()),
            )])
        })?;
        if !root.is_dir() {
            return Err(Report::new(vec![Diagnostic::error(
                "bundle.io",
                "",
                "",
                format!("`{}` is not a directory", path.display()),
            )]));
        }
        let mut walk = Walk {
            root: root.clone(),
            source: BundleSource::default(),
            visited: HashSet::from([root.clone()]),
            total_bytes: 0,
            file_count: 0,
            stopped: false,
        };
        if let Err(e) = walk.dir(&root, "", 0) {
            return Err(Report::new(vec![Diagnostic::error(
                "bundle.io",
                "",
                "",
                format!("cannot read the bundle directory `{}`: {e}", path.display()),
            )]));
        }
        Ok(walk.source)
    }

    /// The files, by bundle-relative path.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }
}

/// State of one recursive directory read.
struct Walk {
    root: PathBuf,
    source: BundleSource,
    visited: HashSet<PathBuf>,
    total_bytes: usize,
    file_count: usize,
    /// Set once a bundle-wide limit is hit: nothing more is read.
    stopped: bool,
}

impl Walk {
    fn problem(&mut self, code: &'static str, file: &str, message: String) {
        self.source
            .problems
            .push(Diagnostic::error(code, file, "", message));
    }

    fn dir(&mut self, dir: &Path, prefix: &str, depth: usize) -> std::io::Result<()> {
        let mut entries = fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if self.stopped {
                return Ok(());
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                let lossy = format!("{prefix}{}", name.to_string_lossy());
                self.problem(
                    "bundle.not_utf8",
                    &lossy,
                    "this file name is not valid UTF-8; rename it".to_string(),
                );
                continue;
            };
            let rel = format!("{prefix}{name}");
            if skipped(&rel) {
                continue;
            }
            let full = entry.path();
            let Ok(mut meta) = fs::symlink_metadata(&full) else {
                self.problem("bundle.io", &rel, "cannot read this file".to_string());
                continue;
            };
            if meta.file_type().is_symlink() {
                match fs::canonicalize(&full) {
                    Ok(target) if target.starts_with(&self.root) => match fs::metadata(&target) {
                        Ok(m) => meta = m,
                        Err(e) => {
                            self.problem("bundle.io", &rel, format!("cannot read this link: {e}"));
                            continue;
                        }
                    },
                    _ => {
                        self.problem(
                            "bundle.symlink",
                            &rel,
                            "this symbolic link points outside the bundle directory (or \
                             nowhere); a bundle may only link to its own files, so it was not \
                             read"
                                .to_string(),
                        );
                        continue;
                    }
                }
            }
            if meta.is_dir() {
                if depth + 1 >= LIMITS.max_dir_depth {
                    self.problem(
                        "bundle.too_large",
                        &rel,
                        format!(
                            "folders are nested more than {} levels deep; flatten them",
                            LIMITS.max_dir_depth
                        ),
                    );
                    continue;
                }
                // A link back to a folder already read would loop forever.
                let canonical = fs::canonicalize(&full).unwrap_or_else(|_| full.clone());
                if !self.visited.insert(canonical) {
                    continue;
                }
                if let Err(e) = self.dir(&full, &format!("{rel}/"), depth + 1) {
                    self.problem("bundle.io", &rel, format!("cannot read this folder: {e}"));
                }
            } else if meta.is_file() {
                self.file(&full, &rel, meta.len());
            } else {
                self.source.problems.push(Diagnostic::warning(
                    "bundle.unknown_file",
                    &rel,
                    "",
                    "not a regular file; ignored".to_string(),
                ));
            }
        }
        Ok(())
    }

    fn file(&mut self, full: &Path, rel: &str, len: u64) {
        self.file_count += 1;
        if self.file_count > LIMITS.max_files {
            self.problem(
                "bundle.too_large",
                "",
                format!(
                    "the bundle has more than {} files; nothing after `{rel}` was read",
                    LIMITS.max_files
                ),
            );
            self.stopped = true;
            return;
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > LIMITS.max_file_bytes {
            self.problem("bundle.too_large", rel, file_too_large(len));
            return;
        }
        if self.total_bytes.saturating_add(len) > LIMITS.max_bundle_bytes {
            self.problem("bundle.too_large", "", bundle_too_large(rel));
            self.stopped = true;
            return;
        }
        // Read at most one byte past the limit, in case the file grew since `metadata`.
        let mut bytes = Vec::with_capacity(len.min(LIMITS.max_file_bytes) + 1);
        let read = fs::File::open(full).and_then(|f| {
            f.take(LIMITS.max_file_bytes as u64 + 1)
                .read_to_end(&mut bytes)
        });
        if let Err(e) = read {
            self.problem("bundle.io", rel, format!("cannot read this file: {e}"));
            return;
        }
        if bytes.len() > LIMITS.max_file_bytes {
            self.problem("bundle.too_large", rel, file_too_large(bytes.len()));
            return;
        }
        self.total_bytes += bytes.len();
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.source.files.insert(rel.to_string(), text);
            }
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let prefix = String::from_utf8_lossy(valid);
                let line = prefix.matches('\n').count() + 1;
                let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                self.source.problems.push(
                    Diagnostic::error(
                        "bundle.not_utf8",
                        rel,
                        "",
                        "this file is not UTF-8 text (the byte here is not valid UTF-8); save \
                         it with UTF-8 encoding"
                            .to_string(),
                    )
                    .at(Some((to_u32(line), to_u32(column)))),
                );
            }
        }
    }
}

pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn file_too_large(len: usize) -> String {
    format!(
        "this file has {len} bytes, more than the limit of {} bytes (1 MiB); split it or \
         remove content",
        LIMITS.max_file_bytes
    )
}

pub(crate) fn bundle_too_large(at: &str) -> String {
    format!(
        "the bundle is larger than {} bytes (8 MiB) in total; nothing from `{at}` on was read",
        LIMITS.max_bundle_bytes
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "forecourt-tenant-config-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn from_files_skips_notes_and_reports_bad_paths() {
        let files = BTreeMap::from([
            ("tenant.yaml".to_string(), "a: 1".to_string()),
            ("README.md".to_string(), "# notes".to_string()),
            (".git/config".to_string(), "x".to_string()),
            ("../escape.yaml".to_string(), "x".to_string()),
            ("catalog\\cars.yaml".to_string(), "x".to_string()),
        ]);
        let source = BundleSource::from_files(files);
        assert_eq!(source.files().keys().collect::<Vec<_>>(), ["tenant.yaml"]);
        let codes: Vec<_> = source.problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["bundle.bad_path", "bundle.bad_path"]);
    }

    #[test]
    fn from_dir_reads_recursively_and_reports_bad_files() {
        let dir = temp_dir("walk");
        fs::create_dir_all(dir.join("catalog/models")).unwrap();
        fs::create_dir_all(dir.join(".hidden")).unwrap();
        fs::write(dir.join("tenant.yaml"), "a: 1\n").unwrap();
        fs::write(dir.join("catalog/models/suv.yaml"), "b: 2\n").unwrap();
        fs::write(dir.join("NOTES.md"), "skip").unwrap();
        fs::write(dir.join(".hidden/x.yaml"), "skip").unwrap();
        fs::write(dir.join("latin1.yaml"), b"name: caf\xe9\n").unwrap();
        let source = BundleSource::from_dir(&dir).unwrap();
        assert_eq!(
            source.files().keys().collect::<Vec<_>>(),
            ["catalog/models/suv.yaml", "tenant.yaml"]
        );
        assert_eq!(source.problems.len(), 1);
        let p = &source.problems[0];
        assert_eq!(
            (p.code, p.file.as_str()),
            ("bundle.not_utf8", "latin1.yaml")
        );
        assert_eq!((p.line, p.column), (Some(1), Some(10)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn from_dir_refuses_symlinks_leaving_the_directory() {
        let outside = temp_dir("outside");
        fs::write(outside.join("secret.yaml"), "s: 1\n").unwrap();
        let dir = temp_dir("links");
        fs::create_dir_all(dir.join("catalog")).unwrap();
        fs::write(dir.join("tenant.yaml"), "a: 1\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.yaml"), dir.join("catalog/secret.yaml"))
            .unwrap();
        std::os::unix::fs::symlink(dir.join("tenant.yaml"), dir.join("catalog/inside.yaml"))
            .unwrap();
        // A link back to the root must not loop.
        std::os::unix::fs::symlink(&dir, dir.join("catalog/loop")).unwrap();
        let source = BundleSource::from_dir(&dir).unwrap();
        assert_eq!(
            source.files().keys().collect::<Vec<_>>(),
            ["catalog/inside.yaml", "tenant.yaml"]
        );
        let codes: Vec<_> = source
            .problems
            .iter()
            .map(|d| (d.code, d.file.as_str()))
            .collect();
        assert_eq!(codes, [("bundle.symlink", "catalog/secret.yaml")]);
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn from_dir_does_not_read_oversized_files() {
        let dir = temp_dir("big");
        fs::write(dir.join("tenant.yaml"), "a: 1\n").unwrap();
        fs::create_dir_all(dir.join("catalog")).unwrap();
        fs::write(
            dir.join("catalog/big.yaml"),
            vec![b'#'; LIMITS.max_file_bytes + 1],
        )
        .unwrap();
        let source = BundleSource::from_dir(&dir).unwrap();
        assert!(!source.files().contains_key("catalog/big.yaml"));
        assert_eq!(source.problems[0].code, "bundle.too_large");
        assert_eq!(source.problems[0].file, "catalog/big.yaml");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn from_dir_fails_on_a_missing_directory() {
        let err = BundleSource::from_dir("/nonexistent/forecourt/bundle").unwrap_err();
        assert_eq!(err.diagnostics[0].code, "bundle.io");
    }
}
