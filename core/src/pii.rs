//! Personal data at rest: buyers' names, mobile numbers and ID numbers are sealed with
//! AES-256-GCM before they reach the database, looked up by a keyed blind index, and masked in
//! staff views unless the actor's scope grants `pii.read`.
//!
//! **Owns** the keys and the sealed format; it knows no tables except the two older ones whose
//! plaintext rows it seals once ([`seal_legacy_rows`]).
//!
//! **Format**: `v1.` + base64url (no padding) of `nonce (12 random bytes) ‖ ciphertext ‖ tag`.
//! The associated data is `forecourt-pii/v1`, the tenant id and the field name, so a sealed
//! value opens only for the tenant and the column it was sealed for: copied to another tenant's
//! row, or from `name` to `mobile`, it fails to open.
//!
//! **Keys**: one 32-byte master key (operator-supplied, see `docs/BUYERS.md`); the sealing key
//! and the blind-index key are derived from it with HMAC-SHA256 under distinct labels, so the
//! index reveals nothing about the sealing key and vice versa.
//!
//! **Blind index** ([`Vault::mobile_index`]): HMAC-SHA256 of the *normalised* number under the
//! index key and the tenant id, hex. Normalisation: spaces, dashes, dots and parentheses are
//! removed; a mainland China mobile written `+86…` or `0086…` (11 digits after the prefix,
//! starting with 1) becomes its 11 digits; anything else stays as written (E.164 with `+`).
//!
//! **Invariants**
//! - No plaintext personal data is written by this crate's code paths; what is stored opens only
//!   with the master key, for the same tenant and field.
//! - [`Vault::open`] refuses anything that is not a `v1.` value. Only the two tables that held
//!   plaintext before sealing existed (`test_drive_bookings`, `storefront_leads`) read through
//!   [`Vault::open_or_legacy`], which passes such legacy values through; `serve` seals them at
//!   start-up ([`seal_legacy_rows`]), so the fallback covers only rows written by an older node
//!   during a rolling upgrade.
//! - Keys never reach logs (`Debug` prints `..`); a failure to open says why, never what.

use std::sync::Arc;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sqlx::Row;

/// A 32-byte master key (from `FORECOURT_PII_KEY` or a key file). `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey(pub [u8; 32]);

impl MasterKey {
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Reads a key as written in `FORECOURT_PII_KEY` or a key file: 64 hex characters
    /// (surrounding white space ignored) or exactly 32 raw bytes.
    pub fn parse(raw: &[u8]) -> Result<MasterKey, String> {
        let text = std::str::from_utf8(raw).map(str::trim).unwrap_or("");
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut key = [0u8; 32];
            hex::decode_to_slice(text, &mut key).map_err(|e| e.to_string())?;
            return Ok(MasterKey(key));
        }
        if raw.len() == 32 {
            let mut key = [0u8; 32];
            key.copy_from_slice(raw);
            return Ok(MasterKey(key));
        }
        Err(format!(
            "a personal-data key is 64 hex characters or 32 raw bytes; this one is {} bytes",
            raw.len()
        ))
    }

    /// A fresh random key.
    pub fn generate() -> MasterKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    /// The key as 64 lower-case hex characters (for writing a key file; never log it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

struct Keys {
    cipher: Aes256Gcm,
    index: [u8; 32],
}

/// The keys that seal and index personal data. Cheap to clone; `Debug` never shows a key.
#[derive(Clone)]
pub struct Vault {
    keys: Arc<Keys>,
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

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SEAL_LABEL: &[u8] = b"forecourt pii v1: seal";
const INDEX_LABEL: &[u8] = b"forecourt pii v1: blind index";

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn aad(tenant_id: &str, field: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + tenant_id.len() + field.len());
    out.extend_from_slice(b"forecourt-pii/v1\0");
    out.extend_from_slice(tenant_id.as_bytes());
    out.push(0);
    out.extend_from_slice(field.as_bytes());
    out
}

impl Vault {
    /// A vault from a 32-byte master key (both keys are derived from it).
    pub fn from_master(master: [u8; 32]) -> Vault {
        let seal = hmac(&master, &[SEAL_LABEL]);
        let index = hmac(&master, &[INDEX_LABEL]);
        let cipher = Aes256Gcm::new(&seal.into());
        Vault {
            keys: Arc::new(Keys { cipher, index }),
        }
    }

    /// A vault with a fresh random key (tests; data sealed with it dies with the process).
    pub fn random() -> Vault {
        Vault::from_master(MasterKey::generate().0)
    }

    /// Seals `plain` for `field` (`name`, `mobile`, `id_number`) of `tenant_id`.
    pub fn seal(&self, tenant_id: &str, field: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(tenant_id, field);
        match self.keys.cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad,
            },
        ) {
            Ok(sealed) => {
                let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
                bytes.extend_from_slice(&nonce);
                bytes.extend_from_slice(&sealed);
                format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
            }
            // AES-GCM refuses only messages over 64 GiB; inputs are bounded by the body limit.
            // Should it ever happen, store something that refuses to open rather than the text.
            Err(_) => {
                tracing::error!(field, "personal data too long to seal");
                format!("{PREFIX}!")
            }
        }
    }

    /// Opens what [`Vault::seal`] sealed for the same tenant and field.
    pub fn open(&self, tenant_id: &str, field: &str, sealed: &str) -> Result<String, PiiError> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| PiiError(format!("the stored `{field}` is not a sealed value")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| PiiError(format!("the stored `{field}` is not valid base64url")))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(PiiError(format!("the stored `{field}` is truncated")));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let aad = aad(tenant_id, field);
        let plain = self
            .keys
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                PiiError(format!(
                    "the stored `{field}` fails authentication (another key, tenant or field, or damaged)"
                ))
            })?;
        String::from_utf8(plain).map_err(|_| PiiError(format!("the stored `{field}` is not UTF-8")))
    }

    /// Like [`Vault::open`], but a value without the `v1.` prefix is returned as it is: for the
    /// columns that held plaintext before sealing existed (`test_drive_bookings`,
    /// `storefront_leads`). A `v1.` value that does not open is still an error.
    pub fn open_or_legacy(
        &self,
        tenant_id: &str,
        field: &str,
        stored: &str,
    ) -> Result<String, PiiError> {
        if is_sealed(stored) {
            self.open(tenant_id, field, stored)
        } else {
            Ok(stored.to_string())
        }
    }

    /// The blind index of a mobile number (normalised first): equal numbers, equal indexes.
    pub fn mobile_index(&self, tenant_id: &str, mobile: &str) -> String {
        let normal = normalise_mobile(mobile);
        hex::encode(hmac(
            &self.keys.index,
            &[b"mobile", tenant_id.as_bytes(), normal.as_bytes()],
        ))
    }
}

/// True when `stored` is in the sealed format (not legacy plaintext).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The canonical form of a mobile number (see the module doc): what is indexed and sealed.
pub fn normalise_mobile(mobile: &str) -> String {
    let compact: String = mobile
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{3000}'))
        .collect();
    for prefix in ["+86", "0086"] {
        if let Some(rest) = compact.strip_prefix(prefix) {
            if rest.len() == 11 && rest.starts_with('1') && rest.bytes().all(|b| b.is_ascii_digit())
            {
                return rest.to_string();
            }
        }
    }
    compact
}

fn keep_ends(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    if n == 0 {
        return String::new();
    }
    if n < head + tail + 1 {
        // Too short to show both ends: the first character only.
        return format!("{}{}", chars[0], "*".repeat(n.saturating_sub(1).max(1)));
    }
    let first: String = chars[..head].iter().collect();
    let last: String = chars[n - tail..].iter().collect();
    format!("{first}{}{last}", "*".repeat(n - head - tail))
}

/// Masks for staff views without `pii.read`: the first character only (`张*`, `A****`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
    }
}

/// The first three and last four characters (`138****5678`).
pub fn mask_mobile(mobile: &str) -> String {
    keep_ends(mobile.trim(), 3, 4)
}

/// The first three and last four characters (`110***********1234`).
pub fn mask_id_number(id: &str) -> String {
    keep_ends(id.trim(), 3, 4)
}

/// Seals the contact data of rows written before sealing existed (`test_drive_bookings`,
/// `storefront_leads`), tenant by tenant; returns how many rows were sealed. Run by `serve` at
/// start-up; idempotent (sealed rows are skipped).
pub async fn seal_legacy_rows(db: &crate::store::Db, vault: &Vault) -> Result<u64, sqlx::Error> {
    let tenants: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    let mut sealed = 0;
    for tenant_id in tenants {
        let mut tx = db.write_tx(&tenant_id).await?;
        for table in ["test_drive_bookings", "storefront_leads"] {
            // `table` is one of the two constants above, never input.
            let rows = sqlx::query(&format!(
                "SELECT id, contact_name, contact_mobile FROM {table} WHERE tenant_id = $1 \
                 AND (contact_name NOT LIKE 'v1.%' OR contact_mobile NOT LIKE 'v1.%')"
            ))
            .bind(&tenant_id)
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let id: String = row.try_get("id")?;
                let name: String = row.try_get("contact_name")?;
                let mobile: String = row.try_get("contact_mobile")?;
                let name = if is_sealed(&name) {
                    name
                } else {
                    vault.seal(&tenant_id, "name", &name)
                };
                let mobile = if is_sealed(&mobile) {
                    mobile
                } else {
                    vault.seal(&tenant_id, "mobile", &normalise_mobile(&mobile))
                };
                sqlx::query(&format!(
                    "UPDATE {table} SET contact_name = $1, contact_mobile = $2 \
                     WHERE tenant_id = $3 AND id = $4"
                ))
                .bind(&name)
                .bind(&mobile)
                .bind(&tenant_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                sealed += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_master([7u8; 32])
    }

    #[test]
    fn seals_and_opens_for_the_same_tenant_and_field() {
        let v = vault();
        let sealed = v.seal("t1", "name", "张伟");
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains("张伟"));
        assert_eq!(v.open("t1", "name", &sealed).unwrap(), "张伟");
        // A fresh nonce each time: equal texts, different ciphertexts.
        assert_ne!(sealed, v.seal("t1", "name", "张伟"));
        // The same master key opens it in another process (a key file, two nodes).
        assert_eq!(
            Vault::from_master([7u8; 32])
                .open("t1", "name", &sealed)
                .unwrap(),
            "张伟"
        );
    }

    #[test]
    fn refuses_another_tenant_field_key_or_a_damaged_value() {
        let v = vault();
        let sealed = v.seal("t1", "mobile", "13812345678");
        assert!(v.open("t2", "mobile", &sealed).is_err(), "another tenant");
        assert!(v.open("t1", "name", &sealed).is_err(), "another field");
        assert!(
            Vault::from_master([8u8; 32])
                .open("t1", "mobile", &sealed)
                .is_err(),
            "another key"
        );
        // Flip one bit of the ciphertext.
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(v.open("t1", "mobile", &tampered).is_err(), "tampered");
        assert!(v.open("t1", "mobile", "v1.abc").is_err(), "truncated");
        assert!(v.open("t1", "mobile", "v1.!!!").is_err(), "not base64");
        let err = v.open("t1", "mobile", "13812345678").unwrap_err();
        assert!(err.to_string().contains("not a sealed value"), "{err}");
        assert!(
            !err.to_string().contains("1381234"),
            "never the data: {err}"
        );
    }

    #[test]
    fn legacy_plaintext_passes_only_through_open_or_legacy() {
        let v = vault();
        assert_eq!(v.open_or_legacy("t1", "name", "王小明").unwrap(), "王小明");
        let sealed = v.seal("t1", "name", "王小明");
        assert_eq!(v.open_or_legacy("t1", "name", &sealed).unwrap(), "王小明");
        assert!(v.open_or_legacy("t2", "name", &sealed).is_err());
    }

    #[test]
    fn blind_index_normalises_and_separates_tenants_and_keys() {
        let v = vault();
        let a = v.mobile_index("t1", "13812345678");
        assert_eq!(a.len(), 64);
        assert_eq!(a, v.mobile_index("t1", "+86 138-1234-5678"));
        assert_eq!(a, v.mobile_index("t1", "008613812345678"));
        assert_ne!(a, v.mobile_index("t1", "13812345679"));
        assert_ne!(a, v.mobile_index("t2", "13812345678"), "per tenant");
        assert_ne!(
            a,
            Vault::from_master([8u8; 32]).mobile_index("t1", "13812345678"),
            "keyed"
        );
        // Not a CN mobile after +86: kept as written.
        assert_eq!(normalise_mobile("+8612345"), "+8612345");
        assert_eq!(normalise_mobile("+44 7700 900123"), "+447700900123");
    }

    #[test]
    fn master_keys_parse_from_hex_or_raw_bytes() {
        let hex_key = "00".repeat(31) + "ff";
        assert_eq!(MasterKey::parse(hex_key.as_bytes()).unwrap().0[31], 0xff);
        assert_eq!(
            MasterKey::parse(format!("{hex_key}\n").as_bytes())
                .unwrap()
                .0[31],
            0xff
        );
        assert_eq!(MasterKey::parse(&[9u8; 32]).unwrap().0, [9u8; 32]);
        assert!(MasterKey::parse(b"too short").is_err());
        assert_eq!(format!("{:?}", MasterKey([1; 32])), "MasterKey(..)");
        assert_eq!(format!("{:?}", vault()), "Vault(..)");
        let generated = MasterKey::generate();
        assert_eq!(
            MasterKey::parse(generated.to_hex().as_bytes()).unwrap().0,
            generated.0
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("张"), "张*");
        assert_eq!(mask_name("Alice"), "A****");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_mobile("+8613812345678"), "+86*******5678");
        assert_eq!(mask_mobile("12345"), "1****");
        assert_eq!(mask_mobile(""), "");
        assert_eq!(mask_id_number("110101199003071234"), "110***********1234");
        assert_eq!(mask_id_number("11010119900307123X"), "110***********123X");
        assert_eq!(mask_id_number("1234"), "1***");
    }
}
