//! Which push services natter posts to (`--push-service`). A subscription names its endpoint, a
//! URL the browser got from its push service; natter accepts only endpoints on these hosts, so a
//! user can never make the server send requests to an address of their choosing (an intranet
//! host, the server's own admin ports).

use reqwest::Url;

/// The browsers' own push services: Chrome and Edge on Android and desktop (FCM), Firefox
/// (Mozilla autopush), Safari (Apple), and Edge's Windows Push Notification Services.
pub const DEFAULT_SERVICES: &[&str] =
    &["fcm.googleapis.com", "updates.push.services.mozilla.com", "*.push.apple.com", "*.notify.windows.com"];

/// One `--push-service` value: `HOST` (any port), `HOST:PORT`, or `*.DOMAIN` (its subdomains,
/// not the domain itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHost {
    host: String,
    subdomains: bool,
    port: Option<u16>,
}

impl ServiceHost {
    pub fn parse(text: &str) -> Result<ServiceHost, String> {
        let text = text.trim().to_ascii_lowercase();
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && (!host.contains(':') || host.ends_with(']')) =>
            {
                (
                    host.to_string(),
                    Some(port.parse::<u16>().map_err(|_| format!("`{text}`: the port is not a port number"))?),
                )
            }
            _ => (text.clone(), None),
        };
        let (host, subdomains) = match host.strip_prefix("*.") {
            Some(domain) => (domain.to_string(), true),
            None => (host, false),
        };
        let plain = |c: char| c.is_ascii_alphanumeric() || "-.[]:".contains(c);
        if host.is_empty() || !host.chars().all(plain) {
            return Err(format!("`{text}` is not a host name such as fcm.googleapis.com or *.push.apple.com"));
        }
        Ok(ServiceHost { host, subdomains, port })
    }

    fn admits(&self, host: &str, port: u16) -> bool {
        let host_ok = if self.subdomains {
            host.strip_suffix(&self.host).is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        } else {
            host == self.host
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

/// The hosts of `--push-service` (the defaults when none was given).
#[derive(Debug, Clone)]
pub struct PushServices(Vec<ServiceHost>);

impl PushServices {
    pub fn new(given: Vec<ServiceHost>) -> PushServices {
        if given.is_empty() {
            PushServices(DEFAULT_SERVICES.iter().filter_map(|s| ServiceHost::parse(s).ok()).collect())
        } else {
            PushServices(given)
        }
    }

    /// `endpoint` as a URL natter may post to, or the reason it may not.
    pub fn check(&self, endpoint: &str) -> Result<Url, &'static str> {
        let url = Url::parse(endpoint).map_err(|_| "must be an absolute https URL")?;
        let host = url.host_str().ok_or("must be an absolute https URL")?.to_ascii_lowercase();
        match url.scheme() {
            "https" => {}
            // Plain http only to this machine (a local push service, e.g. in tests).
            "http" if is_loopback(&host) => {}
            _ => return Err("must be an https URL"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password");
        }
        let port = url.port_or_known_default().unwrap_or(443);
        if !self.0.iter().any(|s| s.admits(&host, port)) {
            return Err("is not on a push service this server delivers to (--push-service)");
        }
        Ok(url)
    }
}

fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_hosts_over_https_or_loopback() {
        let defaults = PushServices::new(Vec::new());
        assert!(defaults.check("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(defaults.check("https://web.push.apple.com/QAB").is_ok());
        assert!(defaults.check("https://push.apple.com/QAB").is_err(), "*.domain is not the domain");
        assert!(defaults.check("http://fcm.googleapis.com/x").is_err(), "https only");
        assert!(defaults.check("https://evil.example/x").is_err());
        assert!(defaults.check("https://fcm.googleapis.com.evil.example/x").is_err());
        let local = PushServices::new(vec![ServiceHost::parse("127.0.0.1").unwrap()]);
        assert!(local.check("http://127.0.0.1:9999/push/1").is_ok());
        let ported = PushServices::new(vec![ServiceHost::parse("127.0.0.1:80").unwrap()]);
        assert!(ported.check("http://127.0.0.1:9999/push/1").is_err());
        let lan = PushServices::new(vec![ServiceHost::parse("10.0.0.5").unwrap()]);
        assert!(lan.check("http://10.0.0.5/push").is_err(), "plain http only to loopback");
    }
}
