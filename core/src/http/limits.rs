//! Per-address limits on public requests that cost the tenant something: a sign-in code is a
//! text message someone pays for, a storefront form lands in a store's inbox. The per-number
//! limits of sign-in codes stop one number being flooded; these stop one client cycling
//! through numbers (SMS pumping) or filling the forms with spam.
//!
//! **Rules**: per tenant and client address, at most [`CODES_PER_ADDRESS`] sign-in codes and
//! [`FORMS_PER_ADDRESS`] form posts per [`WINDOW`]; past that, `429` with `Retry-After` until
//! the window that started with the first counted request ends. Counted per node, in memory:
//! a restart forgets, and N nodes allow N times as much — a cap on abuse, not an accounting.
//!
//! **The client address** ([`client_ip`]) is the socket peer, unless the peer is one of the
//! reverse proxies the operator trusts (`serve --trusted-proxy`): then it is the nearest address
//! in the forwarding header (read from the right, the end each proxy appends to) that is not a
//! trusted proxy. What a client wrote into the header itself sits left of that and is never
//! read, so a client cannot pick its own address; without trusted proxies the header is
//! ignored altogether. The header is the one the operator's proxies write
//! (`serve --forwarded-header`): `X-Forwarded-For` by default, or the standard `Forwarded`
//! (RFC 7239, its `for=` parameters) — only that one is read, since a proxy that appends to
//! one passes the other on as the client wrote it. The login throttle counts the same
//! address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

use crate::http::error::ApiError;
use crate::state::AppState;

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

/// Which header the trusted reverse proxies write the client's address into
/// (`serve --forwarded-header`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: <client>, <proxy 1>, …`
    #[default]
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=<client>;proto=https, for=<proxy 1>` (RFC 7239).
    #[value(name = "forwarded")]
    Forwarded,
}

/// The client address of a request, as counted (`unknown` when the server runs without
/// connection info, e.g. inside a test router); see the module's notes.
pub fn client_addr(
    trusted: &[IpNet],
    header: ForwardedHeader,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> String {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(connect) => client_ip(connect.0.ip(), headers, trusted, header).to_string(),
        None => "unknown".into(),
    }
}

/// The client behind a connection from `peer`: `peer` itself unless it is a trusted proxy, else
/// the rightmost address in `header` that is not (every header line, in order). An entry that
/// is not an address (garbage; in `Forwarded` also `for=unknown`, an obfuscated `for=_name`, a
/// malformed element or one without `for=`) ends the walk at the proxy that forwarded it.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ForwardedHeader,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let lines = |name: &'static str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    match header {
        ForwardedHeader::XForwardedFor => walk(
            peer,
            lines("x-forwarded-for")
                .flat_map(|v| v.split(','))
                .map(|hop| parse_hop(hop.trim())),
            is_trusted,
        ),
        ForwardedHeader::Forwarded => walk(
            peer,
            lines("forwarded").flat_map(rfc7239::parse).map(|element| {
                element
                    .ok()
                    .and_then(|e| e.forwarded_for)
                    .and_then(|node| node.ip().copied())
            }),
            is_trusted,
        ),
    }
}

/// From the right (the end each proxy appends to): the first address that is not trusted, or
/// the last one read before an entry that is not an address.
fn walk(
    peer: IpAddr,
    hops: impl DoubleEndedIterator<Item = Option<IpAddr>>,
    is_trusted: impl Fn(&IpAddr) -> bool,
) -> IpAddr {
    let mut client = peer;
    for hop in hops.rev() {
        let Some(ip) = hop else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, an IPv6 one possibly in brackets, either possibly
/// with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

/// `--trusted-proxy`: a CIDR range (`10.0.0.0/8`) or one address (`10.0.0.7`).
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("`{s}` is neither an IP address nor a CIDR range (e.g. 10.0.0.7 or 10.0.0.0/8)")
        })
}

/// The client address of a request as counted, for handlers ([`client_addr`]).
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(ClientAddr(client_addr(
            &state.settings.trusted_proxies,
            state.settings.forwarded_header,
            &parts.headers,
            &parts.extensions,
        )))
    }
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

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_behind_a_trusted_proxy_and_only_from_the_right() {
        let proxies = vec![
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("2001:db8::1").unwrap(),
        ];
        let spoofed = forwarded(&["6.6.6.6, 203.0.113.5"]);
        // No trusted proxy, or a peer that is not one: the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &spoofed, &[], XFF),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("198.51.100.1"), &spoofed, &proxies, XFF),
            ip("198.51.100.1")
        );
        // Behind a proxy: the address it appended, not what the client wrote before it.
        assert_eq!(
            client_ip(ip("10.1.2.3"), &spoofed, &proxies, XFF),
            ip("203.0.113.5")
        );
        // Two proxies (the second one's line appended as a header of its own): still the
        // first address that is not a proxy, from the right.
        let chain = forwarded(&["6.6.6.6, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &chain, &proxies, XFF),
            ip("203.0.113.9")
        );
        // IPv6 with brackets and a port, IPv4 with a port.
        let v6 = forwarded(&["[2001:db8::42]:4711"]);
        assert_eq!(
            client_ip(ip("2001:db8::1"), &v6, &proxies, XFF),
            ip("2001:db8::42")
        );
        let port = forwarded(&["203.0.113.7:5555"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &port, &proxies, XFF),
            ip("203.0.113.7")
        );
        // A proxy that forwards no header, or garbage: the proxy's own address (nothing a
        // client wrote further left is read).
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies, XFF),
            ip("10.0.0.1")
        );
        let garbage = forwarded(&["203.0.113.8, unknown"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage, &proxies, XFF),
            ip("10.0.0.1")
        );
        // Every hop a trusted proxy: the leftmost.
        let inside = forwarded(&["10.9.9.9, 10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &inside, &proxies, XFF),
            ip("10.9.9.9")
        );
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const RFC: ForwardedHeader = ForwardedHeader::Forwarded;

    fn standard(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("forwarded", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_standard_header_is_read_the_same_way_when_the_proxies_write_it() {
        let proxies = vec![parse_proxy("10.0.0.0/8").unwrap()];
        let spoofed = standard(&["for=6.6.6.6;proto=https, for=203.0.113.5;proto=https"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &spoofed, &proxies, RFC),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), &spoofed, &proxies, RFC),
            ip("203.0.113.5")
        );
        // Two proxies on separate lines, parameters in any order and case, quoted IPv6 with a
        // port.
        let chain = standard(&[
            "for=6.6.6.6, proto=https;For=\"[2001:db8::42]:4711\"",
            "by=10.0.0.1;for=10.0.0.2",
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &chain, &proxies, RFC),
            ip("2001:db8::42")
        );
        // `unknown`, an obfuscated name, an element without `for=` or a malformed one end the
        // walk at the proxy that forwarded it.
        for hidden in [
            "for=203.0.113.8, for=unknown",
            "for=203.0.113.8, for=_gazonk",
            "for=203.0.113.8, proto=https",
            "for=203.0.113.8, garbage",
        ] {
            assert_eq!(
                client_ip(ip("10.0.0.1"), &standard(&[hidden]), &proxies, RFC),
                ip("10.0.0.1"),
                "{hidden}"
            );
        }
        // Only the configured header is read: a proxy that appends to one passes the other on
        // as the client wrote it.
        let both = {
            let mut h = standard(&["for=6.6.6.6"]);
            h.append("x-forwarded-for", "203.0.113.5".parse().unwrap());
            h
        };
        assert_eq!(
            client_ip(ip("10.0.0.1"), &both, &proxies, XFF),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &both, &proxies, RFC),
            ip("6.6.6.6")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &forwarded(&["203.0.113.5"]), &proxies, RFC),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        assert_eq!(
            parse_proxy("10.0.0.7").unwrap(),
            "10.0.0.7/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_proxy(" 192.168.0.0/16 ").unwrap(),
            "192.168.0.0/16".parse::<IpNet>().unwrap()
        );
        let err = parse_proxy("proxy.local").unwrap_err();
        assert!(err.contains("`proxy.local`"), "{err}");
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
