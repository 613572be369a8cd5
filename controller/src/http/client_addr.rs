//! Who the client is, for the login limit and the logs: the TCP peer, or, when the peer is one
//! of the configured `trusted_proxies`, the right-most address in `X-Forwarded-For` that is not
//! itself a trusted proxy (each proxy appends the peer it saw, so everything left of that is
//! whatever the client chose to send).
//!
//! [`resolve`] runs before every handler and replaces the `ConnectInfo<ClientAddr>` the server
//! recorded with the resolved address, so handlers (the API's and the dashboard's login) need
//! not know about proxies.

use super::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The address a request came from (after [`resolve`]: the client behind trusted proxies).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, super::tls::TlsListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, super::tls::TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`[::1]:80`, `1.2.3.4:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// The client's address. `forwarded_for` are the `X-Forwarded-For` header values in order;
/// they count only when `peer` is in `trusted`. An entry that does not parse stops the walk
/// at the last trusted hop, so garbage never names a client.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|network| network.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Middleware: puts the resolved client address in place of the TCP peer.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let trusted = &state.ctx.config.trusted_proxies;
    let peer = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|ConnectInfo(ClientAddr(peer))| *peer);
    if let (false, Some(peer)) = (trusted.is_empty(), peer) {
        let forwarded_for = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        let client = client_ip(peer.ip(), forwarded_for, trusted);
        request
            .extensions_mut()
            .insert(ConnectInfo(ClientAddr(SocketAddr::new(
                client,
                peer.port(),
            ))));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(peer: &str, forwarded_for: &[&str], trusted: &[&str], expect: &str) {
        let trusted: Vec<IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        let actual = client_ip(
            peer.parse().unwrap(),
            forwarded_for.iter().copied(),
            &trusted,
        );
        assert_eq!(actual, expect.parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_header_counts_only_from_trusted_proxies() {
        check("192.0.2.1", &["198.51.100.7"], &[], "192.0.2.1");
        check("192.0.2.1", &["198.51.100.7"], &["10.0.0.0/8"], "192.0.2.1");
        check(
            "10.0.0.2",
            &["198.51.100.7"],
            &["10.0.0.0/8"],
            "198.51.100.7",
        );
        check("10.0.0.2", &[], &["10.0.0.0/8"], "10.0.0.2");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = &["10.0.0.0/8", "fd00::/8"];
        check(
            "10.0.0.2",
            &["203.0.113.9, 198.51.100.7"],
            trusted,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &["203.0.113.9", "198.51.100.7"],
            trusted,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &["198.51.100.7, 10.0.0.3"],
            trusted,
            "198.51.100.7",
        );
        check(
            "10.0.0.2",
            &["198.51.100.7,fd00::1"],
            trusted,
            "198.51.100.7",
        );
        check("10.0.0.2", &["10.0.0.9, 10.0.0.3"], trusted, "10.0.0.9");
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = &["10.0.0.0/8"];
        check("10.0.0.2", &["not-an-address"], trusted, "10.0.0.2");
        check(
            "10.0.0.2",
            &["198.51.100.7, unknown, 10.0.0.3"],
            trusted,
            "10.0.0.3",
        );
        check("10.0.0.2", &[""], trusted, "10.0.0.2");
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        let trusted = &["10.0.0.0/8", "::1/128"];
        check("10.0.0.2", &["198.51.100.7:4711"], trusted, "198.51.100.7");
        check("10.0.0.2", &["[2001:db8::1]:443"], trusted, "2001:db8::1");
        check("10.0.0.2", &["[2001:db8::1]"], trusted, "2001:db8::1");
        check(
            "::ffff:10.0.0.2",
            &["198.51.100.7"],
            trusted,
            "198.51.100.7",
        );
        check("::1", &[" ::ffff:198.51.100.7 "], trusted, "198.51.100.7");
    }
}
