//! Payments of orders. (Being implemented.)
