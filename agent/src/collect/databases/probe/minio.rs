//! MinIO probe: two unauthenticated health checks over plain HTTP/1.1, written by hand.
//!
//! `GET /minio/health/live` answers 200 when the server process is up, and the `Server: MinIO`
//! header confirms MinIO. `GET /minio/health/cluster` answers 200 when the cluster has write
//! quorum and 503 when it has not. MinIO reveals its version only through the authenticated
//! admin API, so `version` stays `None`; the S3 API always requires authentication, which the
//! probe does not touch (`auth_required` stays `None`). TLS-only MinIO is not probed.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseHealth};

use super::{connect, elapsed_ms, read_frame, ProbeError, ProbeOutcome};

const ENGINE: DatabaseEngine = DatabaseEngine::Minio;
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The status line and headers of an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value.as_str()))
    }

    /// `Server: MinIO` (MinIO sends exactly that).
    pub fn is_minio(&self) -> bool {
        self.header("server")
            .is_some_and(|server| server.to_ascii_lowercase().starts_with("minio"))
    }
}

/// Builds a `GET` request that asks the server to close the connection afterwards.
pub fn request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: unity-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Parses the response head off the front of `bytes` (`Ok(None)` while incomplete). The body,
/// if any, is left in the buffer.
pub fn parse_response_head(bytes: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProbeError> {
    let prefix = b"HTTP/1.";
    let shared = bytes.len().min(prefix.len());
    if bytes.get(..shared) != prefix.get(..shared) {
        return Err(ProbeError::wrong_protocol(ENGINE, bytes));
    }
    let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") else {
        if bytes.len() > MAX_HEAD_BYTES {
            return Err(ProbeError::malformed(ENGINE, "response head too large"));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| ProbeError::malformed(ENGINE, format!("status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    Ok(Some((ResponseHead { status, headers }, end + 4)))
}

async fn get(endpoint: &DatabaseEndpoint, path: &str) -> Result<ResponseHead, ProbeError> {
    let host = match endpoint {
        DatabaseEndpoint::Tcp { host, port } => match super::connect_address(host, *port) {
            Some(address) => address.to_string(),
            None => format!("{host}:{port}"),
        },
        DatabaseEndpoint::Unix { .. } => "localhost".to_owned(),
    };
    let mut stream = connect(endpoint).await?;
    stream.write_all(&request(path, &host)).await?;
    let mut buffer = Vec::new();
    read_frame(&mut stream, &mut buffer, parse_response_head).await
}

/// Probes MinIO at `endpoint`.
pub async fn probe(
    endpoint: &DatabaseEndpoint,
    start: Instant,
) -> Result<ProbeOutcome, ProbeError> {
    let live = get(endpoint, "/minio/health/live").await?;
    let mut outcome = ProbeOutcome::reachable(ENGINE);
    outcome.latency_ms = Some(elapsed_ms(start));
    if !live.is_minio() {
        return Err(ProbeError::WrongProtocol {
            expected: ENGINE.display_name(),
            received: format!(
                "with HTTP {} from server {:?}, not MinIO",
                live.status,
                live.header("server").unwrap_or("(none)")
            ),
        });
    }
    if live.status != 200 {
        outcome.error = Some(format!("liveness check answered HTTP {}", live.status));
    }
    let cluster = get(endpoint, "/minio/health/cluster").await?;
    outcome.health = Some(DatabaseHealth {
        cluster_healthy: match cluster.status {
            200 => Some(true),
            503 => Some(false),
            _ => None,
        },
        ..DatabaseHealth::default()
    });
    Ok(outcome)
}
