//! CONTRACT STUB.

/// A static asset by file name: (content type, bytes).
pub fn get(name: &str) -> Option<(&'static str, &'static [u8])> {
    let _ = name;
    todo!()
}
