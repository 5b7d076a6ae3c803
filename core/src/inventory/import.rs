//! CSV import and DMS sync (being written).
