//! Whether a request reached the user over HTTPS: the server speaks TLS itself, or the TCP
//! peer is one of the `trusted_proxies` and says so in `X-Forwarded-Proto` (a reverse proxy
//! that terminates TLS). Anyone else's `X-Forwarded-Proto` is ignored.
//!
//! [`headers::security_headers`](super::headers::security_headers), around every request,
//! decides it once from the TCP peer and records it as a [`RequestScheme`] extension; it adds
//! `Secure` to every cookie and `Strict-Transport-Security` to the response of an HTTPS
//! request, and handlers (the passkey origin) take the same value as an extractor. No face
//! decides it on its own.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::IpAddr;

/// How the user reached the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestScheme {
    Http,
    Https,
}

impl RequestScheme {
    pub fn is_https(self) -> bool {
        self == RequestScheme::Https
    }
}

/// A handler's view: what the middleware recorded (plain HTTP when it did not run).
impl<S: Send + Sync> FromRequestParts<S> for RequestScheme {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RequestScheme>()
            .copied()
            .unwrap_or(RequestScheme::Http))
    }
}

/// The scheme of a request that came from `peer`. `forwarded_proto` are the
/// `X-Forwarded-Proto` values in order; a chain of proxies appends, so the last entry is what
/// the proxy next to us saw. It counts only when `peer` is trusted.
pub fn request_scheme<'a>(
    server_speaks_tls: bool,
    peer: IpAddr,
    forwarded_proto: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> RequestScheme {
    if server_speaks_tls {
        return RequestScheme::Https;
    }
    let peer = peer.to_canonical();
    if !trusted.iter().any(|network| network.contains(&peer)) {
        return RequestScheme::Http;
    }
    let last = forwarded_proto
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .last();
    match last {
        Some(proto) if proto.eq_ignore_ascii_case("https") => RequestScheme::Https,
        _ => RequestScheme::Http,
    }
}

/// Adds `Secure` to a `Set-Cookie` value that lacks it.
pub fn secure_cookie(value: &str) -> Option<String> {
    let has_secure = value
        .split(';')
        .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"));
    (!has_secure).then(|| format!("{value}; Secure"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(tls: bool, peer: &str, proto: &[&str], trusted: &[&str]) -> RequestScheme {
        let trusted: Vec<IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        request_scheme(tls, peer.parse().unwrap(), proto.iter().copied(), &trusted)
    }

    #[test]
    fn forwarded_proto_counts_only_from_trusted_proxies() {
        use RequestScheme::{Http, Https};
        assert_eq!(scheme(true, "192.0.2.1", &[], &[]), Https);
        assert_eq!(scheme(false, "192.0.2.1", &["https"], &[]), Http);
        assert_eq!(
            scheme(false, "192.0.2.1", &["https"], &["10.0.0.0/8"]),
            Http
        );
        assert_eq!(
            scheme(false, "10.0.0.2", &["https"], &["10.0.0.0/8"]),
            Https
        );
        assert_eq!(
            scheme(false, "10.0.0.2", &["HTTPS"], &["10.0.0.0/8"]),
            Https
        );
        assert_eq!(scheme(false, "10.0.0.2", &[], &["10.0.0.0/8"]), Http);
        assert_eq!(scheme(false, "10.0.0.2", &["http"], &["10.0.0.0/8"]), Http);
        // The proxy next to us appended last.
        assert_eq!(
            scheme(false, "10.0.0.2", &["https, http"], &["10.0.0.0/8"]),
            Http
        );
        assert_eq!(
            scheme(false, "10.0.0.2", &["http", "https"], &["10.0.0.0/8"]),
            Https
        );
        assert_eq!(
            scheme(false, "::ffff:10.0.0.2", &["https"], &["10.0.0.0/8"]),
            Https
        );
        assert_eq!(scheme(false, "10.0.0.2", &["ftp"], &["10.0.0.0/8"]), Http);
    }

    #[test]
    fn secure_is_added_once() {
        assert_eq!(
            secure_cookie("a=b; Path=/; HttpOnly").as_deref(),
            Some("a=b; Path=/; HttpOnly; Secure")
        );
        assert_eq!(secure_cookie("a=b; Path=/; secure"), None);
    }
}
