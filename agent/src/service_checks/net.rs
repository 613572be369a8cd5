//! TCP connect, ICMP echo and DNS resolution service checks. ICMP goes through an
//! unprivileged datagram socket (`SOCK_DGRAM` + `IPPROTO_ICMP`, socket2): no raw socket, no
//! capability; the kernel allows it only to groups within `net.ipv4.ping_group_range`, and
//! when it refuses, the check is down with a message that says so (docs/services.md). DNS uses
//! the system resolver (tokio's `lookup_host`), or asks an explicit `server` directly: one
//! query over UDP ([`super::dns`] builds and reads it), again over TCP when the answer comes
//! back truncated. The check's timeout (in [`super::run_one`]) bounds both.

use super::{dns, Finding};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Connects to `host:port`; up when the connection is accepted.
pub async fn tcp(host: &str, port: u16) -> Finding {
    match TcpStream::connect((host, port)).await {
        Ok(_stream) => Finding::up(),
        Err(error) => Finding::down(format!("connect to {host}:{port}: {error}")),
    }
}

/// Resolves `name` with the system resolver, or asks `server`; up when it resolves (to
/// `expected` when given).
pub async fn dns(name: &str, expected: Option<&str>, server: Option<&str>) -> Finding {
    let expected = match expected.map(str::parse::<IpAddr>).transpose() {
        Ok(expected) => expected,
        Err(error) => return Finding::down(format!("bad expected address: {error}")),
    };
    if let Some(server) = server {
        return match ask(name, expected, server).await {
            Ok(()) => Finding::up(),
            Err(reason) => Finding::down(reason),
        };
    }
    let addresses: Vec<IpAddr> = match tokio::net::lookup_host((name, 0)).await {
        Ok(found) => found.map(|address| address.ip()).collect(),
        Err(error) => return Finding::down(format!("resolving {name}: {error}")),
    };
    match expected {
        _ if addresses.is_empty() => Finding::down(format!("{name} resolved to no address")),
        Some(expected) if !addresses.contains(&expected) => {
            let found: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
            Finding::down(format!(
                "{name} resolved to {}, not {expected}",
                found.join(", ")
            ))
        }
        _ => Finding::up(),
    }
}

/// Asks `server` for `name`'s address (IPv6 when `expected` is), over UDP, then over TCP when
/// the answer is truncated.
async fn ask(name: &str, expected: Option<IpAddr>, server: &str) -> Result<(), String> {
    let server = dns::server_address(server).map_err(|error| error.to_string())?;
    let id = query_id();
    let v6 = expected.is_some_and(|ip| ip.is_ipv6());
    let query = dns::query(id, name, v6).map_err(|error| error.to_string())?;
    let local: SocketAddr = if server.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|error| format!("DNS socket: {error}"))?;
    socket
        .connect(server)
        .await
        .map_err(|error| format!("DNS server {server}: {error}"))?;
    socket
        .send(&query)
        .await
        .map_err(|error| format!("DNS query to {server}: {error}"))?;
    let mut buffer = vec![0u8; 4096];
    let answer = loop {
        let n = socket
            .recv(&mut buffer)
            .await
            .map_err(|error| format!("DNS server {server} did not answer ({error})"))?;
        match dns::read(id, &buffer[..n]) {
            // A late answer to an earlier query: wait for ours.
            Err(dns::DnsError::OtherQuery { .. }) => continue,
            Err(error) => return Err(format!("DNS server {server}: {error}")),
            Ok(answer) => break answer,
        }
    };
    let answer = if answer.truncated {
        over_tcp(server, id, &query).await?
    } else {
        answer
    };
    dns::judge(name, &server, &answer, expected)
}

/// The same query over TCP (two-byte length prefix, RFC 1035 4.2.2).
async fn over_tcp(server: SocketAddr, id: u16, query: &[u8]) -> Result<dns::Answer, String> {
    let failed = |error: std::io::Error| format!("DNS over TCP to {server}: {error}");
    let mut stream = TcpStream::connect(server).await.map_err(failed)?;
    let length = u16::try_from(query.len()).map_err(|_| "DNS query too long".to_owned())?;
    let mut message = length.to_be_bytes().to_vec();
    message.extend_from_slice(query);
    stream.write_all(&message).await.map_err(failed)?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.map_err(failed)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut answer).await.map_err(failed)?;
    dns::read(id, &answer).map_err(|error| format!("DNS server {server}: {error}"))
}

/// A query id that differs between checks (not a secret: the socket is connected to the
/// server, which is what guards against spoofed answers here).
fn query_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() as u16).wrapping_mul(40503);
    seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One echo to `host` (its first address).
pub async fn icmp(host: &str, timeout: Duration) -> Finding {
    let ip = match tokio::net::lookup_host((host, 0)).await {
        Ok(mut found) => match found.next() {
            Some(address) => address.ip(),
            None => return Finding::down(format!("{host} resolved to no address")),
        },
        Err(error) => return Finding::down(format!("resolving {host}: {error}")),
    };
    match tokio::task::spawn_blocking(move || echo(ip, timeout)).await {
        Ok(Ok(())) => Finding::up(),
        Ok(Err(message)) => Finding::down(message),
        Err(error) => Finding::down(format!("ICMP echo task: {error}")),
    }
}

/// The sequence number of our echo requests.
const SEQUENCE: u16 = 1;

/// An echo request (pure): type, code, checksum, identifier (the kernel sets it for datagram
/// sockets), sequence, payload.
pub fn echo_request(v6: bool) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0, 0, 0];
    packet.extend_from_slice(&SEQUENCE.to_be_bytes());
    packet.extend_from_slice(b"unity-agent service check");
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071).
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `reply` (as a datagram socket returns it: no IP header) answers our request.
pub fn is_reply(reply: &[u8], v6: bool) -> bool {
    let reply_type = if v6 { 129 } else { 0 };
    reply.len() >= 8 && reply[0] == reply_type && reply[6..8] == SEQUENCE.to_be_bytes()
}

/// The refusal's message: what the kernel allows and what to do.
fn not_allowed(error: &std::io::Error) -> String {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "ICMP datagram sockets are not allowed for this agent's group ({error}; \
         net.ipv4.ping_group_range is \"{range}\"): allow the agent's group with sysctl \
         net.ipv4.ping_group_range, or use a TCP check (docs/services.md)"
    )
}

/// Sends one echo and waits for its reply. Note that this uses blocking I/O.
fn echo(ip: IpAddr, timeout: Duration) -> Result<(), String> {
    let v6 = ip.is_ipv6();
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let socket =
        Socket::new(domain, Type::DGRAM, Some(protocol)).map_err(|error| match error.kind() {
            std::io::ErrorKind::PermissionDenied => not_allowed(&error),
            _ => format!("ICMP socket: {error}"),
        })?;
    let deadline = Instant::now() + timeout;
    socket
        .connect(&SocketAddr::new(ip, 0).into())
        .map_err(|error| format!("ICMP to {ip}: {error}"))?;
    socket
        .send(&echo_request(v6))
        .map_err(|error| format!("ICMP echo to {ip}: {error}"))?;
    let mut buffer = [0u8; 1500];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no echo reply from {ip} within {} ms",
                timeout.as_millis()
            ));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|error| format!("ICMP socket: {error}"))?;
        match (&socket).read(&mut buffer) {
            Ok(n) if is_reply(&buffer[..n], v6) => return Ok(()),
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no echo reply from {ip} within {} ms",
                    timeout.as_millis()
                ))
            }
            Err(error) => return Err(format!("ICMP echo from {ip}: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_echo_requests_and_replies() {
        let request = echo_request(false);
        assert_eq!(request[0], 8);
        assert_eq!(
            checksum(&request),
            0,
            "a packet with its checksum sums to zero"
        );
        let mut reply = request.clone();
        reply[0] = 0;
        assert!(is_reply(&reply, false));
        assert!(!is_reply(&request, false), "our own request is no reply");
        assert!(!is_reply(&reply[..4], false), "truncated");
        assert!(!is_reply(&[], true));
        assert_eq!(echo_request(true)[0], 128);
    }
}
