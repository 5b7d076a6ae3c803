//! Per-address limits on public requests that cost the tenant something: a sign-in code is a
//! text message someone pays for, a storefront form lands in a store's inbox. The per-number
//! limits of sign-in codes stop one number being flooded; these stop one client cycling
//! through numbers (SMS pumping) or filling the forms with spam.
//!
//! **Rules**: per tenant and client address (the socket peer: a forwarded-for header is not
//! trusted, a client could set it), at most [`CODES_PER_ADDRESS`] sign-in codes and
//! [`FORMS_PER_ADDRESS`] form posts per [`WINDOW`]; past that, `429` with `Retry-After` until
//! the window that started with the first counted request ends. Counted per node, in memory:
//! a restart forgets, and N nodes allow N times as much — a cap on abuse, not an accounting.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Extensions;

use crate::http::error::ApiError;

/// The window of the per-address limits.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// Sign-in codes one address may request per tenant and window.
pub const CODES_PER_ADDRESS: u32 = 20;
/// Storefront form posts (test drives, leads) one address may make per tenant and window.
pub const FORMS_PER_ADDRESS: u32 = 30;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    SignInCode,
    Form,
}

impl Limited {
    fn max(self) -> u32 {
        match self {
            Limited::SignInCode => CODES_PER_ADDRESS,
            Limited::Form => FORMS_PER_ADDRESS,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Limited::SignInCode => "code",
            Limited::Form => "form",
        }
    }
}

/// The client address of a request, as counted (`unknown` when the server runs without
/// connection info, e.g. inside a test router).
pub fn client_addr(extensions: &Extensions) -> String {
    addr_of(extensions.get::<ConnectInfo<SocketAddr>>())
}

/// The address of a connection as counted (see [`client_addr`]).
pub fn addr_of(connect: Option<&ConnectInfo<SocketAddr>>) -> String {
    connect
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Counters per (what, tenant, address): the start of the key's window (ms) and its count.
pub struct AddressLimits {
    counts: moka::sync::Cache<String, (i64, u32)>,
}

impl Default for AddressLimits {
    fn default() -> Self {
        AddressLimits {
            counts: moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(WINDOW)
                .build(),
        }
    }
}

impl AddressLimits {
    /// Counts one request of `what` from `addr` to `tenant_id` at `now` (ms), or refuses it
    /// (nothing counted) when the address used up its window.
    pub fn take(
        &self,
        what: Limited,
        tenant_id: &str,
        addr: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        let window = WINDOW.as_millis() as i64;
        let key = format!("{}:{tenant_id}:{addr}", what.tag());
        let mut refused_until = None;
        self.counts
            .entry(key)
            .and_upsert_with(|current| match current.map(|e| e.into_value()) {
                Some((start, count)) if now - start < window => {
                    if count >= what.max() {
                        refused_until = Some(start + window);
                        (start, count)
                    } else {
                        (start, count + 1)
                    }
                }
                _ => (now, 1),
            });
        match refused_until {
            Some(until) => Err(ApiError::TooManyRequests {
                retry_after_secs: ((until - now).max(1000) as u64).div_ceil(1000),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_tenant_address_and_kind_and_opens_again_after_the_window() {
        let limits = AddressLimits::default();
        let hour = WINDOW.as_millis() as i64;
        for i in 0..CODES_PER_ADDRESS {
            assert!(limits
                .take(Limited::SignInCode, "t1", "10.0.0.1", 1_000 + i as i64)
                .is_ok());
        }
        match limits.take(Limited::SignInCode, "t1", "10.0.0.1", 61_000) {
            Err(ApiError::TooManyRequests { retry_after_secs }) => {
                assert_eq!(retry_after_secs, ((hour + 1_000 - 61_000) / 1000) as u64)
            }
            other => panic!("{other:?}"),
        }
        // Another address, tenant or kind has its own count.
        assert!(limits
            .take(Limited::SignInCode, "t1", "10.0.0.2", 61_000)
            .is_ok());
        assert!(limits
            .take(Limited::SignInCode, "t2", "10.0.0.1", 61_000)
            .is_ok());
        assert!(limits.take(Limited::Form, "t1", "10.0.0.1", 61_000).is_ok());
        // A refusal is not counted; the window that began with the first request ends.
        assert!(limits
            .take(Limited::SignInCode, "t1", "10.0.0.1", 1_000 + hour - 1)
            .is_err());
        assert!(limits
            .take(Limited::SignInCode, "t1", "10.0.0.1", 1_000 + hour)
            .is_ok());
    }

    #[test]
    fn forms_have_their_own_limit() {
        let limits = AddressLimits::default();
        for _ in 0..FORMS_PER_ADDRESS {
            assert!(limits.take(Limited::Form, "t", "a", 0).is_ok());
        }
        assert!(limits.take(Limited::Form, "t", "a", 0).is_err());
    }
}
