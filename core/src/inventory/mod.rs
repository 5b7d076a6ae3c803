//! Vehicle stock by VIN. (Contract; being implemented.)

pub mod import;
pub mod routes;
pub mod stock;
pub mod vin;
