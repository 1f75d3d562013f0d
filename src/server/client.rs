//! Who is on the other end of a request: the client's address and whether it came over HTTPS.
//!
//! Directly connected, that is the TCP peer and whether natter terminated TLS itself. Behind a
//! reverse proxy the peer is the proxy, so for peers in a `--trust-proxy` network (and only
//! those: anyone else could forge the headers) the address comes from `Forwarded` (RFC 7239) or
//! else `X-Forwarded-For`, and the scheme from `Forwarded: proto=` or `X-Forwarded-Proto`.
//!
//! Each proxy appends the address it received the request from, so the list reads client,
//! proxy 1, proxy 2, …; everything left of the first trusted hop's entry was written by the
//! client and may be forged. The client is therefore the right-most address that is not itself
//! a trusted proxy. An entry that is not an address (`unknown`, an obfuscated `_name`, garbage)
//! stops the walk: the last trusted hop is then the best that is known.
//!
//! The accept loop (`server::serve`) computes a [`Client`] once per request and puts it in the
//! request's extensions; [`ClientAddr`] reads it back (every per-address limit and log line
//! uses that), and Socket.IO's handshake keeps it for the socket's life.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};

/// An IP network: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1` = `/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `ADDRESS[/PREFIX]`; the host bits may be set (`192.168.1.10/24` is `192.168.1.0/24`).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not an IP network; use e.g. 127.0.0.1/32, 10.0.0.0/8 or fd00::/8");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u8>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(format!("`{text}`: the prefix length must be at most {max}"));
        }
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The client of one request, as far as natter can tell (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    /// The client reached natter over HTTPS: natter's own TLS, or a trusted proxy that says so.
    pub https: bool,
}

/// The `--trust-proxy` networks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

impl TrustedProxies {
    pub fn new(networks: Vec<Cidr>) -> Self {
        Self(networks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(address))
    }

    /// The client of a request that arrived from `peer` (over TLS when `tls`) with `headers`.
    pub fn client(&self, peer: IpAddr, tls: bool, headers: &HeaderMap) -> Client {
        let peer = peer.to_canonical();
        let direct = Client { addr: peer, https: tls };
        if !self.trusts(peer) {
            return direct;
        }
        let hops = if headers.contains_key(&FORWARDED) { forwarded_hops(headers) } else { x_forwarded_hops(headers) };
        let mut client = direct;
        // Right to left: skip the trusted proxies; the first other address is the client.
        for hop in hops.iter().rev() {
            match hop.addr {
                Some(addr) => {
                    client.addr = addr;
                    if let Some(https) = hop.https {
                        client.https = https;
                    }
                    if !self.trusts(addr) {
                        break;
                    }
                }
                None => break,
            }
        }
        if !headers.contains_key(&FORWARDED)
            && let Some(proto) = first_value(headers, &X_FORWARDED_PROTO)
        {
            client.https = proto.eq_ignore_ascii_case("https");
        }
        client
    }
}

/// One entry of a forwarding list: the address (None when it is not one) and, from
/// `Forwarded`, the scheme that hop received.
struct Hop {
    addr: Option<IpAddr>,
    https: Option<bool>,
}

/// Every `X-Forwarded-For` entry in order, over all the header's lines.
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|entry| Hop { addr: parse_node(entry), https: None })
        .collect()
}

/// Every `Forwarded` element in order: `for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for line in headers.get_all(&FORWARDED) {
        let Ok(line) = line.to_str() else {
            hops.push(Hop { addr: None, https: None });
            continue;
        };
        for element in line.split(',') {
            let mut hop = Hop { addr: None, https: None };
            for pair in element.split(';') {
                let Some((key, value)) = pair.split_once('=') else { continue };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.addr = parse_node(value),
                    "proto" => hop.https = Some(value.eq_ignore_ascii_case("https")),
                    _ => {}
                }
            }
            hops.push(hop);
        }
    }
    hops
}

/// `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    let inner = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'))?;
    inner.parse::<IpAddr>().ok().map(|addr| addr.to_canonical())
}

/// The first comma-separated value of a header, trimmed.
fn first_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    value.split(',').next().map(str::trim).filter(|v| !v.is_empty())
}

/// The client's address, for per-address limits and logs: the [`Client`] the accept loop
/// found, else (a request that did not come through it) the TCP peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// From a request's (or a Socket.IO handshake's) extensions.
    pub fn of(extensions: &axum::http::Extensions) -> Option<ClientAddr> {
        if let Some(client) = extensions.get::<Client>() {
            return Some(ClientAddr(client.addr));
        }
        extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| ClientAddr(peer.ip().to_canonical()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ClientAddr::of(&parts.extensions).ok_or_else(|| crate::error::ApiError::internal("no client address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| Cidr::parse(n).unwrap()).collect())
    }

    #[test]
    fn networks() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped addresses are IPv4");
        assert!(Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(!Cidr::parse("fd00::/8").unwrap().contains(ip("10.0.0.1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in ["", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/+8", "host/8", "10.0.0.0/8/8"] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn untrusted_peers_cannot_forge_anything() {
        let proxies = trusted(&["127.0.0.1/32"]);
        let forged = headers(&[("x-forwarded-for", "203.0.113.9"), ("x-forwarded-proto", "https")]);
        let client = proxies.client(ip("192.0.2.1"), false, &forged);
        assert_eq!(client, Client { addr: ip("192.0.2.1"), https: false });
        // Without --trust-proxy nobody is trusted, 127.0.0.1 included.
        let client = TrustedProxies::default().client(ip("127.0.0.1"), true, &forged);
        assert_eq!(client, Client { addr: ip("127.0.0.1"), https: true });
    }

    #[test]
    fn right_most_untrusted_address_of_x_forwarded_for() {
        let proxies = trusted(&["127.0.0.1/32", "10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2"), ("x-forwarded-proto", "https")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &h), Client { addr: ip("203.0.113.9"), https: true });
        // Several header lines read as one list.
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(proxies.client(ip("10.1.1.1"), false, &h).addr, ip("203.0.113.9"));
        // Only proxies in the list: the left-most is the best known.
        let h = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &h).addr, ip("10.0.0.3"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &h).addr, ip("127.0.0.1"));
        // No header: the peer itself.
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &HeaderMap::new()).addr, ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_header() {
        let proxies = trusted(&["127.0.0.1/32"]);
        let h = headers(&[
            ("forwarded", "for=6.6.6.6;proto=http, for=\"[2001:db8:cafe::17]:4711\";proto=https"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &h), Client { addr: ip("2001:db8:cafe::17"), https: true });
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), false, &h).addr, ip("127.0.0.1"));
    }
}
