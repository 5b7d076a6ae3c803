//! Signing and verifying provider callbacks: the `FakePay-Signature` header.
//!
//! **Owns** the header format and the check of a callback's authenticity and freshness. The
//! header is Stripe-style:
//!
//! ```text
//! FakePay-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//! ```
//!
//! `t` is the Unix time (seconds) the provider signed at; each `v1` is the lower-case hex
//! HMAC-SHA256, keyed with the webhook secret, of the bytes `"{t}.{raw body}"`. A header may carry
//! several `v1` entries (one per secret while a secret is being rotated); one match is enough.
//! Entries with other names (`v0`, future schemes) are ignored.
//!
//! **Invariants**
//! - Signatures are compared in constant time (`hmac::Mac::verify_slice`), never with `==`.
//! - The timestamp is inside the signed bytes, so it cannot be moved without breaking the
//!   signature; a correctly signed but old (or far-future) callback is rejected as
//!   [`CallbackRejected::Stale`], which bounds how long a captured callback can be replayed.
//!   Replays inside the tolerance verify: consumers dedupe on the event id.
//! - The work per header is bounded: at most [`MAX_HEADER_LEN`] bytes and
//!   [`MAX_SIGNATURES`] `v1` entries are looked at.
//! - Nothing here logs, and no error message contains the secret or a computed signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::CallbackRejected;

type HmacSha256 = Hmac<Sha256>;

/// The HTTP header carrying the signature.
pub const HEADER: &str = "FakePay-Signature";

/// Longer headers are rejected as malformed without being parsed.
pub const MAX_HEADER_LEN: usize = 4096;

/// At most this many `v1` entries are checked (secret rotation needs two or three).
pub const MAX_SIGNATURES: usize = 8;

/// The MAC over `"{timestamp}.{body}"`, ready to finalise or verify.
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so this never fails; `None` keeps that an error value
    // rather than a panic.
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `FakePay-Signature` header value for `body` signed at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        // Cannot happen (see `mac`); an empty signature never verifies.
        .unwrap_or_default();
    format!("t={timestamp},v1={digest}")
}

/// Checks that `header` (the `FakePay-Signature` value, `None` when absent) signs `body` with
/// `secret`, and that its timestamp is at most `tolerance_secs` away from `now_secs`.
///
/// The signature is checked before the timestamp, so a caller without the secret always learns
/// [`CallbackRejected::BadSignature`], whatever timestamp it sends.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), CallbackRejected> {
    let header = header.ok_or(CallbackRejected::MissingSignature)?;
    let parsed = parse(header)?;
    let mut matched = false;
    for candidate in &parsed.signatures {
        let Some(mac) = mac(secret, parsed.timestamp, body) else {
            return Err(CallbackRejected::BadSignature);
        };
        if mac.verify_slice(candidate).is_ok() {
            matched = true;
            break;
        }
    }
    if !matched {
        return Err(CallbackRejected::BadSignature);
    }
    let age_secs = now_secs.saturating_sub(parsed.timestamp).saturating_abs();
    if age_secs > tolerance_secs {
        return Err(CallbackRejected::Stale {
            age_secs,
            tolerance_secs,
        });
    }
    Ok(())
}

/// A parsed header: the timestamp and the raw bytes of each `v1` signature.
#[derive(Debug)]
struct Parsed {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn malformed(why: impl Into<String>) -> CallbackRejected {
    CallbackRejected::MalformedSignature(why.into())
}

fn parse(header: &str) -> Result<Parsed, CallbackRejected> {
    if header.len() > MAX_HEADER_LEN {
        return Err(malformed(format!(
            "the header is {} bytes long (at most {MAX_HEADER_LEN})",
            header.len()
        )));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for (index, item) in header.split(',').enumerate() {
        let item = item.trim();
        let Some((key, value)) = item.split_once('=') else {
            return Err(malformed(format!("entry {} is not `key=value`", index + 1)));
        };
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(malformed("`t` appears more than once"));
                }
                let value = value.trim();
                let parsed = value
                    .parse::<i64>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| malformed("`t` is not a Unix time in seconds"))?;
                timestamp = Some(parsed);
            }
            "v1" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(malformed(format!(
                        "more than {MAX_SIGNATURES} `v1` signatures"
                    )));
                }
                let bytes = hex::decode(value.trim())
                    .ok()
                    .filter(|bytes| bytes.len() == 32)
                    .ok_or_else(|| malformed("a `v1` signature is not 64 hex digits"))?;
                signatures.push(bytes);
            }
            // Other schemes are ignored, so the provider can add one without breaking us.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed("no `t=` timestamp"))?;
    if signatures.is_empty() {
        return Err(malformed("no `v1=` signature"));
    }
    Ok(Parsed {
        timestamp,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment.succeeded"}"#;
    const T: i64 = 1_767_225_600;

    fn check(header: &str, body: &[u8], now: i64) -> Result<(), CallbackRejected> {
        verify(SECRET, Some(header), body, now, 300)
    }

    #[test]
    fn a_known_vector_matches() {
        // HMAC-SHA256 with key "key" over "1.hello", computed independently with
        // `printf '1.hello' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            sign(b"key", 1, b"hello"),
            "t=1,v1=9233658ef5e21fe59dba8abb099c978547d7626f87090a6a585c26a2a98a91f8"
        );
    }

    #[test]
    fn a_signed_body_verifies_within_the_tolerance() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(check(&header, BODY, T), Ok(()));
        assert_eq!(check(&header, BODY, T + 300), Ok(()));
        assert_eq!(check(&header, BODY, T - 300), Ok(()));
    }

    #[test]
    fn old_and_future_timestamps_are_stale() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(
            check(&header, BODY, T + 301),
            Err(CallbackRejected::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            check(&header, BODY, T - 1000),
            Err(CallbackRejected::Stale {
                age_secs: 1000,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn a_changed_body_timestamp_or_secret_fails() {
        let header = sign(SECRET, T, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment.succeeded" }"#;
        assert_eq!(
            check(&header, tampered, T),
            Err(CallbackRejected::BadSignature)
        );
        // Moving the timestamp forward to look fresh breaks the signature.
        let moved = header.replacen(&format!("t={T}"), &format!("t={}", T + 10), 1);
        assert_eq!(check(&moved, BODY, T), Err(CallbackRejected::BadSignature));
        assert_eq!(
            verify(b"another secret", Some(&header), BODY, T, 300),
            Err(CallbackRejected::BadSignature)
        );
    }

    #[test]
    fn a_forged_stale_header_is_a_bad_signature_not_stale() {
        let forged = sign(b"guess", T - 10_000, BODY);
        assert_eq!(check(&forged, BODY, T), Err(CallbackRejected::BadSignature));
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let old = sign(b"old secret", T, BODY);
        let new = sign(SECRET, T, BODY);
        let old_sig = old.split_once(",v1=").unwrap().1;
        let new_sig = new.split_once(",v1=").unwrap().1;
        let both = format!("t={T}, v1={old_sig}, v0=ignored, v1={new_sig}");
        assert_eq!(check(&both, BODY, T), Ok(()));
        assert_eq!(verify(b"old secret", Some(&both), BODY, T, 300), Ok(()));
        assert_eq!(
            verify(b"third secret", Some(&both), BODY, T, 300),
            Err(CallbackRejected::BadSignature)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        assert_eq!(
            verify(SECRET, None, BODY, T, 300),
            Err(CallbackRejected::MissingSignature)
        );
        let sig = "ab".repeat(32);
        for header in [
            String::new(),
            "garbage".to_string(),
            format!("v1={sig}"),
            format!("t={T}"),
            format!("t={T},t={T},v1={sig}"),
            format!("t=soon,v1={sig}"),
            format!("t=+{T},v1={sig}"),
            format!("t=-5,v1={sig}"),
            format!("t={T},v1=zz"),
            format!("t={T},v1={}", "ab".repeat(31)),
            format!("t={T},{}", format!("v1={sig},").repeat(MAX_SIGNATURES + 1)),
            format!("t={T},v1={sig},{}", "x".repeat(MAX_HEADER_LEN)),
        ] {
            assert!(
                matches!(
                    check(&header, BODY, T),
                    Err(CallbackRejected::MalformedSignature(_))
                ),
                "{header:.80} should be malformed, got {:?}",
                check(&header, BODY, T)
            );
        }
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let header = sign(SECRET, 0, BODY);
        assert!(matches!(
            verify(SECRET, Some(&header), BODY, i64::MAX, 300),
            Err(CallbackRejected::Stale { .. })
        ));
        let header = sign(SECRET, i64::MAX, BODY);
        assert!(matches!(
            verify(SECRET, Some(&header), BODY, i64::MIN, 300),
            Err(CallbackRejected::Stale { .. })
        ));
    }
}
