//! The hard limits a bundle must stay within. They bound the time and memory one upload can
//! cost, whatever its content; each is enforced with a diagnostic, never with a panic.

/// Limits applied while reading and loading a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single file, in bytes (1 MiB).
    pub max_file_bytes: usize,
    /// Largest bundle, all files together, in bytes (8 MiB).
    pub max_bundle_bytes: usize,
    /// Most files in one bundle.
    pub max_files: usize,
    /// Deepest nesting of mappings and sequences in one document (aliases included).
    pub max_depth: usize,
    /// Most nodes that alias references (`*name`) may add to one document when expanded;
    /// stops "billion laughs" alias bombs before anything is expanded.
    pub max_alias_expansion: u64,
    /// Deepest directory nesting `BundleSource::from_dir` descends into.
    pub max_dir_depth: usize,
}

/// The limits in force.
pub const LIMITS: Limits = Limits {
    max_file_bytes: 1024 * 1024,
    max_bundle_bytes: 8 * 1024 * 1024,
    max_files: 500,
    max_depth: 64,
    max_alias_expansion: 100_000,
    max_dir_depth: 16,
};
