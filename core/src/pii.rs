//! Personal data at rest: buyers' names, mobile numbers and ID numbers are sealed with
//! AES-256-GCM before they reach the database, looked up by a keyed blind index, and masked in
//! staff views unless the actor's scope grants `pii.read`.
//!
//! (Contract; being implemented.)

/// A 32-byte master key (from `FORECOURT_PII_KEY` or a key file). `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey(pub [u8; 32]);

impl MasterKey {
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The keys that seal and index personal data. Cheap to clone; `Debug` never shows a key.
#[derive(Clone)]
pub struct Vault {
    _private: (),
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

/// A sealed value that does not open (wrong key, moved between tenants or fields, damaged).
#[derive(Debug, thiserror::Error)]
#[error("personal data could not be opened: {0}")]
pub struct PiiError(pub String);

impl Vault {
    /// A vault from a 32-byte master key (both keys are derived from it).
    pub fn from_master(_master: [u8; 32]) -> Vault {
        todo!()
    }
    /// A vault with a fresh random key (tests; data sealed with it dies with the process).
    pub fn random() -> Vault {
        todo!()
    }
    /// Seals `plain` for `field` (`name`, `mobile`, `id_number`) of `tenant_id`.
    pub fn seal(&self, _tenant_id: &str, _field: &str, _plain: &str) -> String {
        todo!()
    }
    /// Opens what [`Vault::seal`] sealed for the same tenant and field.
    pub fn open(&self, _tenant_id: &str, _field: &str, _sealed: &str) -> Result<String, PiiError> {
        todo!()
    }
    /// The blind index of a mobile number (normalised first): equal numbers, equal indexes.
    pub fn mobile_index(&self, _tenant_id: &str, _mobile: &str) -> String {
        todo!()
    }
}

/// Masks for staff views without `pii.read`.
pub fn mask_name(_name: &str) -> String {
    todo!()
}
pub fn mask_mobile(_mobile: &str) -> String {
    todo!()
}
pub fn mask_id_number(_id: &str) -> String {
    todo!()
}
