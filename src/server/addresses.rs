//! Where this server can be reached: the URLs other devices can open, from the machine's own
//! interface list (nothing is sent anywhere), ranked so that the Wi-Fi or Ethernet address comes
//! first. The start message prints them (`transport::cli::start_message`); invite links, the web
//! UI's "Invite people" and `natter invite` use the first ([`Reach`]).
//!
//! natter is started on a Pi or a laptop at a LAN party and then everyone else has to be told
//! where it is; `0.0.0.0:8000` is no address a phone can open. `--public-url` wins over guessed
//! addresses. Everything but [`interfaces`] is a pure function of its inputs, so the rules are
//! unit-tested without touching the network configuration.

use std::net::{IpAddr, SocketAddr};

/// One address of one network interface that is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ip: IpAddr,
}

/// The addresses of the interfaces that are up and running, as the kernel lists them
/// (`getifaddrs(3)`, through the if-addrs crate); empty if the list cannot be read.
pub fn interfaces() -> Vec<Interface> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|interface| interface.is_oper_up())
        .map(|interface| Interface { ip: interface.ip(), name: interface.name })
        .collect()
}

/// What an address in the start message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--public-url`.
    Public,
    /// A guessed address of this machine on a network (from the interface list).
    Lan,
    /// `localhost`, or the loopback address natter is bound to.
    ThisMachine,
    /// The one non-loopback address natter is bound to.
    Bound,
}

/// One URL of the start message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub url: String,
    pub kind: Kind,
}

/// `scheme://host:port` with IPv6 in brackets.
fn url(scheme: &str, ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
    }
}

/// Whether a browser on another device could open `ip`: not loopback, not unspecified, not
/// link-local (an IPv6 link-local URL needs a zone id browsers do not take, and an IPv4 one is
/// what a machine gives itself when it found no network), not multicast.
fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_multicast()),
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(v6.is_loopback()
                || v6.is_unspecified()
                || link_local
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some())
        }
    }
}

/// Interfaces that usually are not the network people are on (containers, VMs, VPN bridges):
/// listed after the others, so that the QR code shows the Wi-Fi or Ethernet address.
fn virtual_interface(name: &str) -> bool {
    ["docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "lxc", "lxd", "podman", "cni", "flannel", "tun", "tap"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Home and office networks first (192.168/16, 10/8, 172.16/12), then other IPv4, then IPv6
/// (unique-local before global); virtual interfaces after real ones.
fn rank(interface: &Interface) -> (bool, u8) {
    let class = match interface.ip {
        IpAddr::V4(v4) => match v4.octets() {
            [192, 168, ..] => 0,
            [10, ..] => 1,
            [172, b, ..] if (16..32).contains(&b) => 2,
            _ => 3,
        },
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => 4,
        IpAddr::V6(_) => 5,
    };
    (virtual_interface(&interface.name), class)
}

/// The URLs of the start message, the one to put in the QR code first among them when there is
/// one (a public or LAN address; never loopback).
///
/// - `--public-url` given: it, then this machine's loopback URL. No guessing.
/// - Bound to every address (`0.0.0.0`, or `[::]`, which also takes IPv4): one URL per
///   reachable interface address (IPv6 ones only for `[::]`), then `http://localhost:PORT`.
/// - Bound to one address: that address only.
pub fn places(bind: SocketAddr, scheme: &str, public_url: Option<&str>, interfaces: &[Interface]) -> Vec<Place> {
    let port = bind.port();
    let this_machine =
        if bind.ip().is_loopback() { url(scheme, bind.ip(), port) } else { format!("{scheme}://localhost:{port}") };
    if let Some(public) = public_url {
        return vec![
            Place { url: public.to_string(), kind: Kind::Public },
            Place { url: this_machine, kind: Kind::ThisMachine },
        ];
    }
    if bind.ip().is_loopback() {
        return vec![Place { url: this_machine, kind: Kind::ThisMachine }];
    }
    if !bind.ip().is_unspecified() {
        return vec![Place { url: url(scheme, bind.ip(), port), kind: Kind::Bound }];
    }
    let with_v6 = bind.is_ipv6();
    let mut lan: Vec<&Interface> =
        interfaces.iter().filter(|i| reachable(i.ip) && (with_v6 || i.ip.is_ipv4())).collect();
    lan.sort_by_key(|i| rank(i));
    let mut places: Vec<Place> = Vec::new();
    for interface in lan {
        let url = url(scheme, interface.ip, port);
        if !places.iter().any(|p| p.url == url) {
            places.push(Place { url, kind: Kind::Lan });
        }
    }
    places.push(Place { url: this_machine, kind: Kind::ThisMachine });
    places
}

/// The URL the QR code shows: the first public, LAN or bound one (never loopback).
pub fn qr_target(places: &[Place]) -> Option<&str> {
    places.iter().find(|p| p.kind != Kind::ThisMachine).map(|p| p.url.as_str())
}

/// Where this server can be reached, worked out once its listener is bound: what invite links
/// and the web UI's "Invite people" hand out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The address other devices open: `--public-url`, else the first LAN (or bound) address;
    /// `None` when only this machine can reach natter (bound to loopback, or no network up).
    pub share_url: Option<String>,
    /// This machine's own address, with the port natter listens on.
    pub this_machine: String,
}

impl Reach {
    /// The address to print in invite links: the shared one, else this machine's.
    pub fn link_base(&self) -> &str {
        self.share_url.as_deref().unwrap_or(&self.this_machine)
    }
}

/// The start message's URLs for a server bound to `bound` (reading the interface list when it
/// is bound to every address), and the [`Reach`] they make.
pub async fn work_out(public_url: Option<&str>, bound: SocketAddr, scheme: &str) -> (Vec<Place>, Reach) {
    let interfaces = if public_url.is_none() && bound.ip().is_unspecified() {
        tokio::task::spawn_blocking(interfaces).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let places = places(bound, scheme, public_url, &interfaces);
    let this_machine = places
        .iter()
        .find(|p| p.kind == Kind::ThisMachine)
        .map_or_else(|| format!("{scheme}://localhost:{}", bound.port()), |p| p.url.clone());
    let reach = Reach { share_url: qr_target(&places).map(str::to_string), this_machine };
    (places, reach)
}

/// Interfaces as a typical machine has them, for this module's tests and the start message's.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Interface, Place};

    pub fn iface(name: &str, ip: &str) -> Interface {
        Interface { name: name.into(), ip: ip.parse().unwrap() }
    }

    pub fn urls(places: &[Place]) -> Vec<&str> {
        places.iter().map(|p| p.url.as_str()).collect()
    }

    /// Loopback, a container bridge, a public and a LAN address, IPv6 of every scope, link-local.
    pub fn all() -> Vec<Interface> {
        vec![
            iface("lo", "127.0.0.1"),
            iface("lo", "::1"),
            iface("docker0", "172.17.0.1"),
            iface("eth0", "203.0.113.7"),
            iface("wlan0", "192.168.1.23"),
            iface("wlan0", "fe80::1"),
            iface("wlan0", "fd00::23"),
            iface("wlan0", "2001:db8::23"),
            iface("eth1", "169.254.3.4"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{all, urls};
    use super::*;

    #[test]
    fn every_address_lists_the_lan_first_and_localhost_last() {
        let places = places("0.0.0.0:8000".parse().unwrap(), "http", None, &all());
        assert_eq!(
            urls(&places),
            ["http://192.168.1.23:8000", "http://203.0.113.7:8000", "http://172.17.0.1:8000", "http://localhost:8000"]
        );
        assert_eq!(qr_target(&places), Some("http://192.168.1.23:8000"));
        let places = places_v6();
        assert_eq!(
            urls(&places),
            [
                "http://192.168.1.23:8000",
                "http://203.0.113.7:8000",
                "http://[fd00::23]:8000",
                "http://[2001:db8::23]:8000",
                "http://172.17.0.1:8000",
                "http://localhost:8000"
            ]
        );
    }

    fn places_v6() -> Vec<Place> {
        places("[::]:8000".parse().unwrap(), "http", None, &all())
    }

    #[test]
    fn the_public_url_wins() {
        let places = places("0.0.0.0:8000".parse().unwrap(), "http", Some("https://chat.example.org"), &all());
        assert_eq!(urls(&places), ["https://chat.example.org", "http://localhost:8000"]);
        assert_eq!(qr_target(&places), Some("https://chat.example.org"));
    }

    #[test]
    fn one_bound_address_is_the_only_one() {
        let places = places("192.168.1.23:9000".parse().unwrap(), "https", None, &all());
        assert_eq!(urls(&places), ["https://192.168.1.23:9000"]);
    }
}
