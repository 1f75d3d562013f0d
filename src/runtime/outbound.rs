//! The HTTP client natter calls out with (Web Push services, bots' webhooks): one shape for
//! both, so the bounds cannot drift apart.
//!
//! `timeout` bounds the connection and the whole exchange. Redirects are never followed: a push
//! service never redirects, and following one would post to a host nobody checked; a webhook's
//! signature is for the URL the administrator set, so a redirect is an answer, not a second call.

use std::time::Duration;

/// A client with `timeout` for connecting and for the whole request, no redirects, and natter's
/// name and version as its User-Agent.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("natter/", env!("CARGO_PKG_VERSION")))
        .build()
}
