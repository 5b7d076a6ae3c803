//! Finance: loan calculators (pure, in `calc`) and their storefront route; applications to
//! banks and leasing partners come later.

pub mod calc;
pub mod routes;
