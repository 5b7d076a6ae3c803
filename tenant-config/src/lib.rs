//! # forecourt-tenant-config
//!
//! **Owns** the tenant bundle: the directory of YAML/JSON documents (`tenant.yaml` and the
//! vehicle catalog in `catalog/` now; `workflows/`, `pages/`, `scripts/` join later) that
//! describes a tenant — its profile, org tree (regions → dealer groups → stores), roles and
//! permission scopes, brands and models with their trims, options and constraints — and its
//! validation in three layers: YAML syntax, JSON Schema shape, meaning.
//!
//! **Must never know** HTTP, SQL, Cedar or any storage: it turns bytes into a validated,
//! immutable [`Bundle`] with a content hash, or into the complete list of what is wrong.
//!
//! **Invariants**
//! - Loading never stops at the first problem: one call reports **every** error, each with
//!   file, line, column, JSON pointer, a stable code and a message a tenant admin understands.
//! - A [`Bundle`] only exists when all three layers passed; nothing downstream re-validates.
//!   (Whether each trim's defaults form a complete valid build under every compatibility
//!   table is the configurator engine's question, in `core`; this crate checks the rules that
//!   hold for the catalog as data.)
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
//! - `catalog/**/*.yaml` (`.yml`, `.json`): catalog files, each a [`catalog::CatalogDoc`] with
//!   brands and/or models, validated against [`catalog_schema`] and the catalog meaning rules.
//!   Codes of brands and models are unique across all catalog files; a model may name a brand
//!   of another file. [`Bundle::catalog`] merges them in path order.
//! - `catalog/**/*.csv`: compatibility-table data. A table names its file with
//!   `csv: catalog/…/x.csv` (path from the bundle root) instead of giving `rows`; the first
//!   line names the table's groups in order, each further line is one allowed combination
//!   (values trimmed; blank lines and lines starting with `#` skipped). After loading, such a
//!   table's `rows` hold the file's rows. Findings about CSV data are located in the CSV file:
//!   pointer `""` for the file or its header, `/<row>` or `/<row>/<column>` (rows counted from
//!   0 after the header).
//! - The other folders are carried along (stored, hashed, syntax-checked when YAML/JSON).
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
//! | `locale.missing_default` | meaning | a text (also in catalog files) without the default locale |
//! | `locale.unknown` | meaning | a text (also in catalog files) in a locale the tenant does not list |
//! | `hours.invalid` | meaning | an opening range that does not open before it closes |
//! | `hours.overlap` | meaning | overlapping ranges on one day |
//! | `catalog.duplicate_brand` | meaning | a brand code used twice (across all catalog files; the second is reported) |
//! | `catalog.duplicate_model` | meaning | a model code used twice (across all catalog files) |
//! | `catalog.unknown_brand` | meaning | a model naming a brand no catalog file defines |
//! | `catalog.duplicate_trim` | meaning | a trim code used twice in a model |
//! | `catalog.duplicate_group` | meaning | an option group code used twice in a model |
//! | `catalog.reserved_code` | meaning | an option group coded `trim` (the trim column of tables) |
//! | `catalog.duplicate_option` | meaning | an option code used twice in a model (across its groups) |
//! | `catalog.option_trim_clash` | meaning | an option with the code of a trim of its model |
//! | `catalog.duplicate_table` | meaning | a compatibility table code used twice in a model |
//! | `catalog.duplicate_spec` | meaning | a spec code twice in one `specs` list |
//! | `catalog.unknown_option` | meaning | `requires` (option or trim), `excludes`, `includes` or `defaults` naming no option |
//! | `catalog.contradiction` | meaning | an option that can never be chosen: what it needs (through `requires`/`includes`, transitively) excludes itself, holds two options of one single-choice group or two trims, or holds an option not available on a trim it requires |
//! | `catalog.package_cycle` | meaning | packages that include each other in a cycle |
//! | `catalog.too_complex` | meaning | `requires`/`includes`/`excludes` links too many to check |
//! | `catalog.default_unavailable` | meaning | a trim default whose `available.trims` leaves the trim out |
//! | `catalog.default_conflict` | meaning | two defaults of a trim in one single-choice group, or excluding each other |
//! | `catalog.missing_default` (warning) | meaning | an exactly-one group without a default on a trim (the configurator picks one) |
//! | `catalog.unknown_trim` | meaning | `available.trims` naming no trim of the model |
//! | `catalog.unknown_region` | meaning | `available.regions` naming no region of `org.regions` |
//! | `catalog.invalid_date` | meaning | a `YYYY-MM-DD` that is no calendar day |
//! | `catalog.date_order` | meaning | `available.until` before `available.from` |
//! | `catalog.unknown_group` | meaning | a table column naming no option group (nor `trim`) |
//! | `catalog.table_any_group` | meaning | a table column for a `selection: any` group |
//! | `catalog.duplicate_column` | meaning | a group twice in one table |
//! | `catalog.table_source` | meaning | a table with both `rows` and `csv` |
//! | `catalog.empty_table` | meaning | a table without rows: it would allow no build at all |
//! | `catalog.row_length` | meaning | a row with another number of values than the table has columns |
//! | `catalog.unknown_value` | meaning | a row value that is no option of its column's group (no trim, for `trim`), nor `*` |
//! | `catalog.no_value_not_allowed` | meaning | `-` (none) in an exactly-one or `trim` column |
//! | `catalog.duplicate_row` (warning) | meaning | a row repeated in one table |
//! | `catalog.missing_csv` | meaning | `csv` naming a file the bundle does not have |
//! | `catalog.csv_header` | meaning | a CSV file that is empty, or whose header is not the table's groups in order (in the CSV file) |
//! | `catalog.csv_syntax` | syntax | a CSV file the `csv` reader rejects |
//! | `catalog.unused_csv` (warning) | meaning | a CSV file no table names |

pub mod actions;
mod bundle;
pub mod catalog;
mod catalog_meaning;
mod csv_table;
mod diagnostic;
mod diff;
pub mod document;
mod limits;
mod meaning;
pub mod model;
mod schema;
mod source;
mod spans;
mod yaml;

pub use bundle::{load, Bundle, RESERVED_DIRS, TENANT_FILES};
pub use catalog::Catalog;
pub use diagnostic::{Diagnostic, Report, Severity};
pub use diff::{diff, Change};
pub use document::Document;
pub use limits::{Limits, LIMITS};
pub use schema::{catalog_schema, tenant_schema};
pub use source::BundleSource;
