//! Idempotency keys (being written).
