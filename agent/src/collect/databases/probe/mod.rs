//! Credential-free protocol probes: connect to an endpoint, speak just enough of the expected
//! protocol to confirm the engine and read its version, and never wait past the timeout.
//!
//! Each engine module keeps the parsing of reply bytes in pure functions (`bytes -> result`) and
//! the talking in one `async fn probe`. [`probe`] wraps them with the connect, the timeout and
//! the translation of errors into a [`ProbeOutcome`].

pub mod minio;
pub mod mongodb;
pub mod mysql;
pub mod mysql_login;
pub mod postgres;
pub mod redis;
pub mod scram;

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseHealth};

use super::credentials::Credentials;

/// A connected TCP or Unix stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Replies larger than this are not what a probe asks for.
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// Why a probe could not confirm an engine.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing accepts connections there (refused, no such socket file, unreachable).
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The whole probe did not finish in time.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// Reading or writing failed after connecting.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before answering completely.
    #[error("connection closed by the server {0}")]
    Closed(String),
    /// Something answered, but not in the expected protocol.
    #[error("expected {expected}, but the server answered {received}")]
    WrongProtocol {
        expected: &'static str,
        received: String,
    },
    /// The expected protocol answered, but with a malformed message.
    #[error("malformed {engine} reply: {message}")]
    Malformed {
        engine: &'static str,
        message: String,
    },
}

impl ProbeError {
    fn wrong_protocol(engine: DatabaseEngine, received: &[u8]) -> ProbeError {
        ProbeError::WrongProtocol {
            expected: engine.display_name(),
            received: describe_bytes(received),
        }
    }

    fn malformed(engine: DatabaseEngine, message: impl Into<String>) -> ProbeError {
        ProbeError::Malformed {
            engine: engine.display_name(),
            message: message.into(),
        }
    }
}

/// What a probe found. Fields mean what they mean in
/// [`unity_shared::model::database::DatabaseInstance`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub engine: DatabaseEngine,
    pub version: Option<String>,
    pub reachable: bool,
    pub auth_required: Option<bool>,
    pub tls_offered: Option<bool>,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub health: Option<DatabaseHealth>,
}

impl ProbeOutcome {
    /// A server of `engine` answered.
    pub fn reachable(engine: DatabaseEngine) -> ProbeOutcome {
        ProbeOutcome {
            engine,
            version: None,
            reachable: true,
            auth_required: None,
            tls_offered: None,
            latency_ms: None,
            error: None,
            health: None,
        }
    }
}

/// Describes reply bytes for an error message: what they look like, never all of them.
pub fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".to_owned();
    }
    if bytes.starts_with(b"HTTP/") {
        let status_line = bytes
            .split(|byte| *byte == b'\r' || *byte == b'\n')
            .next()
            .unwrap_or(bytes);
        let status_line = status_line.get(..80).unwrap_or(status_line);
        return format!("with HTTP ({})", String::from_utf8_lossy(status_line));
    }
    let shown = bytes.get(..16).unwrap_or(bytes);
    let printable = shown
        .iter()
        .all(|byte| byte.is_ascii_graphic() || *byte == b' ' || *byte == b'\r' || *byte == b'\n');
    if printable {
        format!(
            "with {} bytes of text starting {:?}",
            bytes.len(),
            String::from_utf8_lossy(shown)
        )
    } else {
        let hex: String = shown.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("with {} bytes starting 0x{hex}", bytes.len())
    }
}

/// The address to connect to for a listening address: wildcard addresses are reached over
/// loopback.
pub fn connect_address(host: &str, port: u16) -> Option<std::net::SocketAddr> {
    let ip: IpAddr = host.parse().ok()?;
    let ip = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// Opens a stream to `endpoint`.
pub async fn connect(endpoint: &DatabaseEndpoint) -> Result<Box<dyn Stream>, ProbeError> {
    match endpoint {
        DatabaseEndpoint::Tcp { host, port } => {
            let Some(address) = connect_address(host, *port) else {
                return Err(ProbeError::Connect(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("`{host}` is not an IP address"),
                )));
            };
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .map_err(ProbeError::Connect)?;
            // Probes write small requests and wait for the answer.
            stream.set_nodelay(true).map_err(ProbeError::Connect)?;
            Ok(Box::new(stream))
        }
        DatabaseEndpoint::Unix { path } => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(ProbeError::Connect)?;
            Ok(Box::new(stream))
        }
    }
}

/// Reads from `stream` into `buffer` until `frame` recognizes a complete message, which is
/// then removed from the buffer and returned. `frame` returns `Ok(None)` while incomplete.
pub async fn read_frame<T>(
    stream: &mut (impl AsyncRead + Unpin + ?Sized),
    buffer: &mut Vec<u8>,
    mut frame: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, ProbeError>,
) -> Result<T, ProbeError> {
    loop {
        if let Some((value, used)) = frame(buffer)? {
            buffer.drain(..used.min(buffer.len()));
            return Ok(value);
        }
        if buffer.len() >= MAX_REPLY_BYTES {
            return Err(ProbeError::Closed(format!(
                "after sending more than {MAX_REPLY_BYTES} bytes without a complete reply"
            )));
        }
        let mut chunk = [0u8; 8192];
        let n_read = stream.read(&mut chunk).await?;
        if n_read == 0 {
            let received = if buffer.is_empty() {
                "without answering".to_owned()
            } else {
                format!("after an incomplete answer ({})", describe_bytes(buffer))
            };
            return Err(ProbeError::Closed(received));
        }
        buffer.extend_from_slice(chunk.get(..n_read).unwrap_or_default());
    }
}

/// `N` bytes at `offset`, if there are that many.
pub fn bytes_at<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    bytes.get(offset..offset.checked_add(N)?)?.try_into().ok()
}

/// A big-endian `u32` at `offset`.
pub fn be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    bytes_at(bytes, offset).map(u32::from_be_bytes)
}

/// A big-endian `i32` at `offset`.
pub fn be_i32(bytes: &[u8], offset: usize) -> Option<i32> {
    bytes_at(bytes, offset).map(i32::from_be_bytes)
}

/// A big-endian `u16` at `offset`.
pub fn be_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    bytes_at(bytes, offset).map(u16::from_be_bytes)
}

/// A little-endian `u16` at `offset`.
pub fn le_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    bytes_at(bytes, offset).map(u16::from_le_bytes)
}

/// A little-endian `u32` at `offset`.
pub fn le_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    bytes_at(bytes, offset).map(u32::from_le_bytes)
}

/// A little-endian `i32` at `offset`.
pub fn le_i32(bytes: &[u8], offset: usize) -> Option<i32> {
    bytes_at(bytes, offset).map(i32::from_le_bytes)
}

/// Milliseconds since `start`.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Probes `endpoint` for `engine` (sniffing a server greeting when the engine is
/// [`DatabaseEngine::Unknown`]). Never takes longer than `timeout`, never fails: problems are
/// in the outcome's `error`.
pub async fn probe(
    engine: DatabaseEngine,
    endpoint: &DatabaseEndpoint,
    credentials: Option<&Credentials>,
    timeout: Duration,
) -> ProbeOutcome {
    let start = Instant::now();
    let attempt = async {
        match engine {
            DatabaseEngine::Postgres => postgres::probe(endpoint, credentials, start).await,
            DatabaseEngine::Mysql | DatabaseEngine::Mariadb | DatabaseEngine::Unknown => {
                mysql::probe(endpoint, engine, credentials, start).await
            }
            DatabaseEngine::Redis => redis::probe(endpoint, credentials, start).await,
            DatabaseEngine::Mongodb => mongodb::probe(endpoint, start).await,
            DatabaseEngine::Minio => minio::probe(endpoint, start).await,
        }
    };
    let result = match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout(timeout)),
    };
    match result {
        Ok(outcome) => outcome,
        Err(error) => {
            let detected = match &error {
                ProbeError::WrongProtocol { .. } => DatabaseEngine::Unknown,
                _ => engine,
            };
            ProbeOutcome {
                engine: detected,
                version: None,
                reachable: false,
                auth_required: None,
                tls_offered: None,
                latency_ms: None,
                error: Some(error.to_string()),
                health: None,
            }
        }
    }
}

#[cfg(test)]
mod login_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcripts;
