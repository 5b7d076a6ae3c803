//! CONTRACT STUB — the helper implements it.
