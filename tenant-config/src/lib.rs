//! # forecourt-tenant-config
//!
//! **Owns** the tenant bundle: the directory of YAML/JSON documents (`tenant.yaml` now;
//! `catalog/`, `workflows/`, `pages/`, `scripts/` join later) that describes a tenant — its
//! profile, org tree (regions → dealer groups → stores), roles and permission scopes — and its
//! validation in three layers: YAML syntax, JSON Schema shape, meaning.
//!
//! **Must never know** HTTP, SQL, Cedar or any storage: it turns bytes into a validated,
//! immutable [`Bundle`] with a content hash, or into the complete list of what is wrong.
//!
//! **Invariants**
//! - Loading never stops at the first problem: one call reports **every** error, each with
//!   file, line, column, JSON pointer, a stable code and a message a tenant admin understands.
//! - A [`Bundle`] only exists when all three layers passed; nothing downstream re-validates.
//! - The content hash depends on the meaning of the documents, not on formatting or comments.
//!
//! # Using it
//!
//! ```no_run
//! use forecourt_tenant_config::{load, BundleSource};
//!
//! let source = BundleSource::from_dir("examples/acme").map_err(|r| r.to_string())?;
//! match load(&source) {
//!     Ok(bundle) => println!("{} stores, hash {}", bundle.tenant().org.stores.len(), bundle.hash()),
//!     Err(report) => eprintln!("{report}"), // every problem, one per line
//! }
//! # Ok::<(), String>(())
//! ```
//!
//! # Layout of a bundle
//! `tenant.yaml` (or `tenant.yml`, `tenant.json`) at the top, and the reserved folders
//! [`RESERVED_DIRS`]. Dotfiles and `*.md` are skipped; any other file draws a
//! `bundle.unknown_file` warning and is left out.
//!
//! # Diagnostic codes
//! Stable; clients may match on them.
//!
//! | code | layer | meaning |
//! |---|---|---|
//! | `bundle.io` | files | a file or the directory could not be read |
//! | `bundle.bad_path` | files | a file name is not a plain relative path |
//! | `bundle.symlink` | files | a symbolic link leads out of the bundle directory |
//! | `bundle.not_utf8` | files | a file (or name) is not UTF-8 |
//! | `bundle.too_large` | files | a file, the bundle, the file count or folder depth is over [`LIMITS`] |
//! | `bundle.unknown_file` (warning) | files | not part of a bundle; ignored |
//! | `bundle.missing_tenant` | files | no tenant document |
//! | `bundle.duplicate_tenant` | files | more than one of `tenant.yaml`/`.yml`/`.json` |
//! | `yaml.syntax` | syntax | not valid YAML (or more than one document) |
//! | `yaml.too_deep` | syntax | nesting deeper than [`Limits::max_depth`] |
//! | `yaml.alias_limit` | syntax | aliases would expand too far (alias bomb) |
//! | `yaml.non_string_key` | syntax | a mapping key that is not text |
//! | `yaml.tag` | syntax | a YAML tag (`!x`) |
//! | `yaml.duplicate_key` | syntax | the same key twice in one mapping |
//! | `schema.required` | shape | a required field is missing (pointer: the object) |
//! | `schema.additional_property` | shape | an unknown field (pointer: the object; position: the key) |
//! | `schema.pattern` | shape | text of the wrong form (also invalid locale keys) |
//! | `schema.type` | shape | the wrong kind of value |
//! | `schema.enum` | shape | not one of the allowed values (also `schema_version`) |
//! | `schema.range` | shape | a number out of range |
//! | `schema.too_few` / `schema.too_many` | shape | a list or mapping with too few/many entries |
//! | `schema.length` | shape | text too short or too long |
//! | `schema.other` | shape | any other schema violation |
//! | `schema.model` | shape | valid by schema yet not readable into the model (a bug if ever seen) |
//! | `org.duplicate_code` | meaning | an org unit code used twice (regions, groups and stores together) |
//! | `org.unknown_region` | meaning | a group or store in an undefined region |
//! | `org.unknown_dealer_group` | meaning | a store naming an undefined dealer group |
//! | `org.region_mismatch` | meaning | a store in another region than its dealer group |
//! | `org.direct_store_in_group` | meaning | a `direct` store naming a dealer group |
//! | `org.unknown_level` | meaning | a store level not in `org.store_levels` |
//! | `org.duplicate_level` | meaning | a level listed twice in `org.store_levels` |
//! | `role.duplicate_code` | meaning | a role code used twice |
//! | `role.unknown_action` | meaning | an action (or `area.*`) matching nothing in [`actions::ACTIONS`] |
//! | `role.unknown_level` | meaning | a grant's store level not in `org.store_levels` |
//! | `role.no_admin` | meaning | no role grants `bundle.apply` with reach `tenant` |
//! | `locale.duplicate` | meaning | a locale listed twice |
//! | `locale.missing_default` | meaning | a text without the default locale |
//! | `locale.unknown` | meaning | a text in a locale the tenant does not list |
//! | `hours.invalid` | meaning | an opening range that does not open before it closes |
//! | `hours.overlap` | meaning | overlapping ranges on one day |

pub mod actions;
mod bundle;
mod diagnostic;
mod diff;
mod limits;
mod meaning;
pub mod model;
mod schema;
mod source;
mod spans;
mod yaml;

pub use bundle::{load, Bundle, RESERVED_DIRS, TENANT_FILES};
pub use diagnostic::{Diagnostic, Report, Severity};
pub use diff::{diff, Change};
pub use limits::{Limits, LIMITS};
pub use schema::tenant_schema;
pub use source::BundleSource;
