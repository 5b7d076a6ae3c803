//! VIN validation (being written).
