//! The little HTTP/1.1 an exporter scrape needs (pure): the loopback URL, the request, the
//! response head and the chunked transfer coding. The socket work is `scrape.rs`'s.
//!
//! Only `http://` to a loopback address (`127.0.0.0/8`, `::1`, `localhost`): the agent reads
//! exporters on its own host, so their ports need not be open to the network; a URL that
//! names any other host is refused when the configuration is read.

use super::parse::Format;
use std::net::{IpAddr, Ipv4Addr};

/// The most bytes of a response head.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// An exporter's address: a loopback IP, a port and a path (with its query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub ip: IpAddr,
    pub port: u16,
    pub path: String,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "http://{ip}:{}{}", self.port, self.path),
            IpAddr::V6(ip) => write!(f, "http://[{ip}]:{}{}", self.port, self.path),
        }
    }
}

/// What is wrong with an HTTP exchange or URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL is not one the agent scrapes.
    #[error("{0}")]
    Url(String),
    /// The answer is not HTTP/1.x as expected.
    #[error("bad response: {0}")]
    Response(String),
}

/// Parses `http://HOST[:PORT][/PATH]` with HOST a loopback address or `localhost`.
pub fn parse_url(text: &str) -> Result<Url, HttpError> {
    let bad = |why: &str| HttpError::Url(format!("{text:?}: {why}"));
    let rest = text
        .strip_prefix("http://")
        .ok_or_else(|| bad("expected http:// (exporters are read over loopback, without TLS)"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/metrics"),
    };
    if authority.contains('@') {
        return Err(bad(
            "credentials in the URL are not supported (use bearer_token_file)",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| bad("invalid port"))?,
        None => 80,
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| bad("the host must be a loopback address (127.0.0.1, ::1) or localhost"))?
    };
    if !ip.is_loopback() {
        return Err(bad(
            "only loopback addresses: the agent scrapes exporters on its own host",
        ));
    }
    if path.bytes().any(|byte| byte <= b' ' || byte == 0x7f) {
        return Err(bad("the path has blanks or control characters"));
    }
    Ok(Url {
        ip,
        port,
        path: path.to_owned(),
    })
}

/// The GET request for `url`, asking for the Prometheus text format, uncompressed, on a
/// connection that closes after the answer.
pub fn request(url: &Url, bearer_token: Option<&str>, agent_version: &str) -> Vec<u8> {
    let host = match url.ip {
        IpAddr::V4(ip) => format!("{ip}:{}", url.port),
        IpAddr::V6(ip) => format!("[{ip}]:{}", url.port),
    };
    let mut text = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: unity-agent/{agent_version}\r\n\
         Accept: text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n",
        url.path
    );
    if let Some(token) = bearer_token {
        text.push_str("Authorization: Bearer ");
        text.push_str(token.trim());
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Where the head ends (just past its blank line), if it has.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The parts of a response head a scrape needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
}

/// Parses a response head (status line and header lines).
pub fn parse_head(bytes: &[u8]) -> Result<Head, HttpError> {
    let bad = |why: String| HttpError::Response(why);
    let text = std::str::from_utf8(bytes).map_err(|_| bad("the head is not text".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!(
            "not HTTP/1.x: {:?}",
            status_line.chars().take(60).collect::<String>()
        )));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("no status code in {status_line:?}")))?;
    let mut head = Head {
        status,
        reason: parts.next().unwrap_or_default().trim().to_owned(),
        content_length: None,
        chunked: false,
        content_type: None,
        content_encoding: None,
    };
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                head.content_length = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("bad Content-Length {value:?}")))?,
                )
            }
            "transfer-encoding" => {
                head.chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
            }
            "content-type" => head.content_type = Some(value.to_owned()),
            "content-encoding" => head.content_encoding = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(head)
}

/// The text format a `Content-Type` names: OpenMetrics, or the Prometheus text format
/// (also for `text/plain` without a version and for no header at all).
pub fn format_of(content_type: Option<&str>) -> Result<Format, String> {
    let Some(content_type) = content_type else {
        return Ok(Format::Prometheus);
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/openmetrics-text" => Ok(Format::OpenMetrics),
        "text/plain" | "" => Ok(Format::Prometheus),
        _ => Err(format!(
            "the exporter answered {content_type:?}, not the Prometheus text format"
        )),
    }
}

/// Undoes the chunked transfer coding as bytes arrive.
#[derive(Debug, Default)]
pub struct Dechunker {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk: bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to a blank one.
    Trailer,
    Done,
}

impl Dechunker {
    /// Decodes `input` into `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
        let bad = |why: &str| HttpError::Response(format!("chunked body: {why}"));
        while !input.is_empty() && self.state != ChunkState::Done {
            match self.state {
                ChunkState::Data(left) => {
                    let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                _ => {
                    let (byte, rest) = (input[0], &input[1..]);
                    input = rest;
                    if byte != b'\n' {
                        if self.line.len() > 1024 {
                            return Err(bad("a line too long"));
                        }
                        self.line.push(byte);
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    self.state = match self.state {
                        ChunkState::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or_default();
                            let size = std::str::from_utf8(size)
                                .ok()
                                .and_then(|size| u64::from_str_radix(size.trim(), 16).ok())
                                .ok_or_else(|| bad("bad chunk size"))?;
                            if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => return Err(bad("no CRLF after a chunk")),
                        ChunkState::Trailer if line.is_empty() => ChunkState::Done,
                        ChunkState::Trailer => ChunkState::Trailer,
                        ChunkState::Data(_) | ChunkState::Done => ChunkState::Done,
                    };
                }
            }
        }
        Ok(())
    }

    /// The last chunk and the trailer have arrived.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        let url = parse_url("http://127.0.0.1:9100/metrics").unwrap();
        assert_eq!((url.port, url.path.as_str()), (9100, "/metrics"));
        assert_eq!(url.to_string(), "http://127.0.0.1:9100/metrics");
        let url = parse_url("http://localhost:8123/api/prometheus?x=1").unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:8123/api/prometheus?x=1");
        assert_eq!(
            parse_url("http://[::1]:9633").unwrap().to_string(),
            "http://[::1]:9633/metrics"
        );
        assert_eq!(parse_url("http://127.0.0.2").unwrap().port, 80);
        for bad in [
            "https://127.0.0.1:9100/metrics",
            "http://192.168.1.5:9100/metrics",
            "http://example.com:9100/metrics",
            "http://[::1:9100/metrics",
            "http://127.0.0.1:99999/metrics",
            "http://user:pw@127.0.0.1:9100/metrics",
            "http://127.0.0.1:9100/a b",
            "127.0.0.1:9100",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let error = parse_url("http://10.0.0.1:9100/metrics")
            .unwrap_err()
            .to_string();
        assert!(error.contains("only loopback"), "{error}");
    }

    #[test]
    fn request_and_head() {
        let url = parse_url("http://[::1]:9100/metrics").unwrap();
        let request = String::from_utf8(request(&url, Some("abc\n"), "0.1.0")).unwrap();
        assert!(
            request.starts_with("GET /metrics HTTP/1.1\r\nHost: [::1]:9100\r\n"),
            "{request}"
        );
        assert!(
            request.contains("Authorization: Bearer abc\r\n"),
            "{request}"
        );
        assert!(request.contains("Connection: close\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n"), "{request}");
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     Transfer-Encoding: chunked\r\nDate: x\r\n\r\nbody";
        let end = head_end(head).unwrap();
        assert_eq!(&head[end..], b"body");
        let parsed = parse_head(&head[..end]).unwrap();
        assert!(parsed.chunked);
        assert_eq!(parsed.status, 200);
        assert_eq!(
            format_of(parsed.content_type.as_deref()),
            Ok(Format::Prometheus)
        );
        let parsed = parse_head(b"HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\n").unwrap();
        assert_eq!(
            (parsed.status, parsed.reason.as_str(), parsed.content_length),
            (404, "Not Found", Some(9))
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n").is_err());
        assert_eq!(
            format_of(Some("application/openmetrics-text; version=1.0.0")),
            Ok(Format::OpenMetrics)
        );
        assert!(format_of(Some("application/vnd.google.protobuf")).is_err());
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let body =
            b"4\r\nWiki\r\n7;ext=1\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        for piece in 1..body.len() {
            let mut decoder = Dechunker::default();
            let mut out = Vec::new();
            for part in body.chunks(piece) {
                decoder.feed(part, &mut out).unwrap();
            }
            assert!(decoder.is_done(), "piece {piece}");
            assert_eq!(out, b"Wikipedia in \r\nchunks.");
        }
        let mut decoder = Dechunker::default();
        assert!(decoder.feed(b"zz\r\n", &mut Vec::new()).is_err());
        let mut decoder = Dechunker::default();
        assert!(decoder.feed(b"2\r\nabX\r\n", &mut Vec::new()).is_err());
    }
}
