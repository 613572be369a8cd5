//! Redis probe (RESP2, written by hand).
//!
//! `PING` answers `+PONG` (no authentication needed) or `-NOAUTH` (a password is set). When
//! allowed, `INFO` gives `redis_version` and the health fields (clients, memory, replication,
//! uptime), and `SLOWLOG LEN` the slow-log length. With configured credentials the probe sends
//! `AUTH` first when `PING` says `NOAUTH`. Without credentials a password-protected Redis
//! reveals no version. The password is written to the socket only, never into a message.

use std::collections::BTreeMap;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseHealth, Replication, ReplicationRole,
};

use super::{connect, elapsed_ms, read_frame, ProbeError, ProbeOutcome, Stream};
use crate::collect::databases::credentials::Credentials;

const ENGINE: DatabaseEngine = DatabaseEngine::Redis;
/// Deeper nesting is not something a probe's commands produce.
const MAX_DEPTH: usize = 4;
const MAX_BULK_BYTES: usize = 2 * 1024 * 1024;
const MAX_ARRAY_LENGTH: usize = 4096;

/// A RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

/// Encodes a command as a RESP array of bulk strings.
pub fn command(arguments: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
        bytes.extend_from_slice(argument);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

fn line(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let end = bytes.windows(2).position(|window| window == b"\r\n")?;
    Some((bytes.get(..end)?, end + 2))
}

/// Parses one RESP2 value off the front of `bytes` (`Ok(None)` while incomplete).
pub fn parse_resp(bytes: &[u8]) -> Result<Option<(Resp, usize)>, ProbeError> {
    parse_value(bytes, 0)
}

fn parse_value(bytes: &[u8], depth: usize) -> Result<Option<(Resp, usize)>, ProbeError> {
    let Some(kind) = bytes.first().copied() else {
        return Ok(None);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(if depth == 0 {
            ProbeError::wrong_protocol(ENGINE, bytes)
        } else {
            ProbeError::malformed(ENGINE, format!("unexpected type byte 0x{kind:02x}"))
        });
    }
    let rest = bytes.get(1..).unwrap_or_default();
    let Some((header, header_length)) = line(rest) else {
        if rest.len() > 1024 {
            // A header line this long is not RESP.
            return Err(ProbeError::wrong_protocol(ENGINE, bytes));
        }
        return Ok(None);
    };
    let consumed = 1 + header_length;
    let text = String::from_utf8_lossy(header).into_owned();
    let integer = || -> Result<i64, ProbeError> {
        text.parse::<i64>()
            .map_err(|_| ProbeError::malformed(ENGINE, format!("bad length or integer {text:?}")))
    };
    match kind {
        b'+' => Ok(Some((Resp::Simple(text.clone()), consumed))),
        b'-' => Ok(Some((Resp::Error(text.clone()), consumed))),
        b':' => Ok(Some((Resp::Integer(integer()?), consumed))),
        b'$' => {
            let length = integer()?;
            if length < 0 {
                return Ok(Some((Resp::Bulk(None), consumed)));
            }
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if length > MAX_BULK_BYTES {
                return Err(ProbeError::malformed(ENGINE, "bulk string too large"));
            }
            let Some(data) = bytes.get(consumed..consumed + length) else {
                return Ok(None);
            };
            match bytes.get(consumed + length..consumed + length + 2) {
                None => Ok(None),
                Some(b"\r\n") => Ok(Some((
                    Resp::Bulk(Some(data.to_vec())),
                    consumed + length + 2,
                ))),
                Some(_) => Err(ProbeError::malformed(ENGINE, "bulk string not terminated")),
            }
        }
        _ => {
            let length = integer()?;
            if length < 0 {
                return Ok(Some((Resp::Array(None), consumed)));
            }
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if length > MAX_ARRAY_LENGTH || depth >= MAX_DEPTH {
                return Err(ProbeError::malformed(ENGINE, "array too large or too deep"));
            }
            let mut items = Vec::with_capacity(length);
            let mut offset = consumed;
            for _ in 0..length {
                let Some((item, used)) =
                    parse_value(bytes.get(offset..).unwrap_or_default(), depth + 1)?
                else {
                    return Ok(None);
                };
                items.push(item);
                offset += used;
            }
            Ok(Some((Resp::Array(Some(items)), offset)))
        }
    }
}

/// Parses `INFO` output: `key:value` lines; `# Section` and blank lines are skipped.
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Health from parsed `INFO`; fields Redis does not report stay `None`.
pub fn health_from_info(info: &BTreeMap<String, String>) -> DatabaseHealth {
    let number = |key: &str| -> Option<u64> { info.get(key)?.parse().ok() };
    let role = match info.get("role").map(String::as_str) {
        Some("master") => Some(ReplicationRole::Primary),
        Some("slave") | Some("replica") => Some(ReplicationRole::Replica),
        _ => None,
    };
    let replication = role.map(|role| Replication {
        role,
        lag_seconds: match role {
            ReplicationRole::Replica => info
                .get("master_last_io_seconds_ago")
                .and_then(|value| value.parse::<f64>().ok())
                .filter(|seconds| *seconds >= 0.0),
            ReplicationRole::Primary => None,
        },
        n_replicas: number("connected_slaves"),
        primary_link_up: match role {
            ReplicationRole::Replica => info.get("master_link_status").map(|status| status == "up"),
            ReplicationRole::Primary => None,
        },
    });
    DatabaseHealth {
        connections: number("connected_clients"),
        max_connections: number("maxclients"),
        databases: Vec::new(),
        replication,
        uptime_seconds: number("uptime_in_seconds"),
        used_memory_bytes: number("used_memory"),
        max_memory_bytes: number("maxmemory").filter(|limit| *limit > 0),
        blocked_clients: number("blocked_clients"),
        slow_queries: None,
        cluster_healthy: None,
    }
}

/// What an error reply to `PING` means for authentication.
fn needs_auth(error: &str) -> bool {
    error.starts_with("NOAUTH") || error.starts_with("NOPERM")
}

async fn call(
    stream: &mut Box<dyn Stream>,
    buffer: &mut Vec<u8>,
    arguments: &[&[u8]],
) -> Result<Resp, ProbeError> {
    stream.write_all(&command(arguments)).await?;
    read_frame(stream, buffer, parse_resp).await
}

/// Probes Redis at `endpoint`.
pub async fn probe(
    endpoint: &DatabaseEndpoint,
    credentials: Option<&Credentials>,
    start: Instant,
) -> Result<ProbeOutcome, ProbeError> {
    let mut stream = connect(endpoint).await?;
    let mut buffer = Vec::new();
    let mut outcome = ProbeOutcome::reachable(ENGINE);
    let pong = call(&mut stream, &mut buffer, &[b"PING"]).await?;
    outcome.latency_ms = Some(elapsed_ms(start));
    match pong {
        Resp::Simple(_) | Resp::Bulk(_) => outcome.auth_required = Some(false),
        Resp::Error(error) if needs_auth(&error) => {
            outcome.auth_required = Some(true);
            let password = credentials.and_then(|credentials| credentials.password.as_ref());
            let Some(password) = password else {
                return Ok(outcome);
            };
            let user = credentials.and_then(|credentials| credentials.user.as_deref());
            let mut arguments: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = user {
                arguments.push(user.as_bytes());
            }
            arguments.push(password.expose().as_bytes());
            match call(&mut stream, &mut buffer, &arguments).await? {
                Resp::Simple(_) => {}
                Resp::Error(error) => {
                    // The server's message names no password (`WRONGPASS invalid username-password pair`).
                    outcome.error = Some(format!("authentication failed: {error}"));
                    return Ok(outcome);
                }
                _ => return Err(ProbeError::malformed(ENGINE, "unexpected reply to AUTH")),
            }
        }
        Resp::Error(error) => {
            // Protected mode (`DENIED`), or a command renamed away.
            outcome.error = Some(format!("PING refused: {error}"));
            return Ok(outcome);
        }
        _ => return Err(ProbeError::malformed(ENGINE, "unexpected reply to PING")),
    }

    match call(&mut stream, &mut buffer, &[b"INFO"]).await? {
        Resp::Bulk(Some(text)) => {
            let info = parse_info(&String::from_utf8_lossy(&text));
            outcome.version = info.get("redis_version").cloned();
            let mut health = health_from_info(&info);
            if let Resp::Integer(length) =
                call(&mut stream, &mut buffer, &[b"SLOWLOG", b"LEN"]).await?
            {
                health.slow_queries = u64::try_from(length).ok();
            }
            outcome.health = Some(health);
        }
        Resp::Error(error) => outcome.error = Some(format!("INFO refused: {error}")),
        _ => return Err(ProbeError::malformed(ENGINE, "unexpected reply to INFO")),
    }
    // Best effort: the server cleans up either way.
    let _ = stream.write_all(&command(&[b"QUIT"])).await;
    Ok(outcome)
}
