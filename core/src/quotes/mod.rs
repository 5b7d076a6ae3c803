//! Quotes: a build priced to the fen with its all-in cost sheet ("明白账"), valid until a date,
//! as JSON and as a printable HTML page.
//!
//! **Owns** the quote route, its storage and its printable view. The sheet itself is pure
//! (`cost_sheet`); the tenant's rules (`pricing.adjust`, `tax.purchase`) run in the Rhai sandbox
//! with the request-path limits, so a badly written rule fails the quote with a clear error and
//! the server keeps serving.
//!
//! **Invariants**: a quote is immutable once made (later catalog or rule changes do not alter
//! it); it is stored per tenant under a 12-character unguessable code; money is `i64` minor
//! units, every sum checked.

pub mod cost_sheet;
pub mod routes;
