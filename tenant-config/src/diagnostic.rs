//! Diagnostics: what the loader found wrong with a bundle, where (file, line, column, JSON
//! pointer) and why, under a stable machine code. A [`Report`] is the complete list from one
//! load; nothing stops at the first problem.

use std::fmt;

use serde::Serialize;

/// How bad a finding is. Only errors stop a bundle from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The bundle cannot be used until this is fixed.
    Error,
    /// Worth a look; the bundle loads anyway.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding about one place in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine code, e.g. `schema.pattern` or `org.unknown_region`; see the crate docs
    /// for the full list.
    pub code: &'static str,
    /// Bundle-relative path with `/` separators; empty for the bundle as a whole.
    pub file: String,
    /// 1-based line, when the place is known.
    pub line: Option<u32>,
    /// 1-based column (in characters), when the place is known.
    pub column: Option<u32>,
    /// RFC 6901 JSON pointer into the document; `""` for the whole document.
    pub pointer: String,
    /// What is wrong, where, why, and how to fix it when that is obvious.
    pub message: String,
}

impl Diagnostic {
    /// An error about `pointer` in `file`, not yet placed; add the place with [`Diagnostic::at`].
    pub fn error(code: &'static str, file: &str, pointer: &str, message: String) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_string(),
            line: None,
            column: None,
            pointer: pointer.to_string(),
            message,
        }
    }

    /// A warning about `pointer` in `file`, not yet placed; add the place with
    /// [`Diagnostic::at`].
    pub fn warning(code: &'static str, file: &str, pointer: &str, message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, pointer, message)
        }
    }

    /// Places the finding at a 1-based (line, column); `None` leaves it as it is.
    pub fn at(mut self, place: Option<(u32, u32)>) -> Self {
        if let Some((line, column)) = place {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    /// Sort key: file, then position (unplaced last), then pointer and code.
    fn sort_key(&self) -> (&str, u32, u32, &str, &str, &str) {
        (
            &self.file,
            self.line.unwrap_or(u32::MAX),
            self.column.unwrap_or(u32::MAX),
            &self.pointer,
            self.code,
            &self.message,
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "bundle"
        } else {
            &self.file
        };
        f.write_str(file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        let pointer = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(
            f,
            ": {}[{}] {}: {}",
            self.severity.as_str(),
            self.code,
            pointer,
            self.message
        )
    }
}

/// Everything one load found: errors and warnings, ordered by file and position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// All findings, errors and warnings together.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// A report of `diagnostics`, sorted by file and position, exact duplicates removed.
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        diagnostics.dedup();
        Report { diagnostics }
    }

    /// The findings that stop the bundle from loading.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The findings that do not stop the bundle from loading.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

impl fmt::Display for Report {
    /// One line per finding: `file:line:column: severity[code] pointer: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        let warnings = self.diagnostics.len() - errors;
        writeln!(
            f,
            "the bundle has {errors} error(s) and {warnings} warning(s)"
        )?;
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// The candidate closest to `name`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| {
            let len = name.chars().count();
            *score >= 0.88 || (len >= 3 && strsim::levenshtein(name, c) <= (len / 3).max(1))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` Did you mean `x`?` (with its leading space) or nothing; for the end of a message.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(name, candidates)
        .map(|c| format!(" Did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_place_pointer_and_message() {
        let report = Report::new(vec![
            Diagnostic::warning("bundle.unknown_file", "notes.txt", "", "ignored".into()),
            Diagnostic::error(
                "org.unknown_region",
                "tenant.yaml",
                "/org/stores/0/region",
                "no such region".into(),
            )
            .at(Some((12, 13))),
        ]);
        let text = report.to_string();
        assert!(text.contains(
            "tenant.yaml:12:13: error[org.unknown_region] /org/stores/0/region: no such region"
        ));
        assert!(text.contains("notes.txt: warning[bundle.unknown_file] (document): ignored"));
        assert!(report.has_errors());
        assert_eq!(report.errors().count(), 1);
        assert_eq!(report.warnings().count(), 1);
        // Sorted by file: notes.txt before tenant.yaml.
        assert_eq!(report.diagnostics[0].file, "notes.txt");
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["store.read", "store.write", "user.manage"];
        assert_eq!(did_you_mean("store.reed", names), Some("store.read"));
        assert_eq!(did_you_mean("usr.manage", names), Some("user.manage"));
        assert_eq!(did_you_mean("finance.approve", names), None);
        assert_eq!(did_you_mean("fr", ["en", "zh-CN"]), None);
        assert_eq!(did_you_mean("S", ["A", "B"]), None);
        assert_eq!(did_you_mean("EAS", ["EAST", "NORTH"]), Some("EAST"));
    }
}
