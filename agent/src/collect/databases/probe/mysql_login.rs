//! MySQL / MariaDB login and health queries, as pure packet builders and parsers (the talking is
//! in [`super::mysql::probe`]).
//!
//! - Login: `HandshakeResponse41` with `mysql_native_password`
//!   (`SHA1(password) XOR SHA1(salt + SHA1(SHA1(password)))`); an `AuthSwitchRequest` to
//!   `mysql_native_password` is answered with a new scramble; any other plugin
//!   (`caching_sha2_password` full authentication, `ed25519`, GSSAPI) is reported as
//!   unsupported.
//! - Queries: `COM_QUERY`, text result sets (column count, column definitions, EOF, rows,
//!   EOF/OK), or an `ERR` packet.
//!
//! The password is only ever hashed into the scramble; nothing here formats it.

use sha1::{Digest, Sha1};
use unity_shared::model::database::{DatabaseHealth, DatabaseSize, Replication, ReplicationRole};

use super::{le_u16, ProbeError};

/// The only authentication plugin the agent speaks.
pub const NATIVE_PASSWORD: &str = "mysql_native_password";

const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_TRANSACTIONS: u32 = 0x0000_2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
/// `utf8mb4_general_ci`.
const CHARSET_UTF8MB4: u8 = 45;
/// Bigger replies than this are not expected from the health queries.
const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// The health queries, sent one `COM_QUERY` each.
pub const STATUS_QUERY: &str = "SHOW GLOBAL STATUS WHERE Variable_name IN \
('Threads_connected', 'Uptime', 'Slow_queries', 'Slaves_connected')";
pub const VARIABLES_QUERY: &str =
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections')";
pub const SIZES_QUERY: &str = "SELECT table_schema, SUM(data_length + index_length) \
FROM information_schema.tables GROUP BY table_schema ORDER BY table_schema";
pub const REPLICA_QUERY: &str = "SHOW SLAVE STATUS";

/// `mysql_native_password`: `SHA1(password) XOR SHA1(salt + SHA1(SHA1(password)))`; an empty
/// password is sent as an empty response.
pub fn native_password_scramble(password: &[u8], salt: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password);
    let stage2 = Sha1::digest(stage1);
    let mut hasher = Sha1::new();
    hasher.update(salt);
    hasher.update(stage2);
    let mask = hasher.finalize();
    stage1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Frames `payload` as one packet with sequence id `sequence`.
pub fn packet(sequence: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .min(0xff_ffff);
    let mut bytes = length.to_le_bytes()[..3].to_vec();
    bytes.push(sequence);
    bytes.extend_from_slice(payload);
    bytes
}

/// The `HandshakeResponse41` packet (sequence 1) logging in as `user` with an
/// `auth_response` computed by [`native_password_scramble`].
pub fn handshake_response(user: &str, auth_response: &[u8], database: Option<&str>) -> Vec<u8> {
    let mut capabilities = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    if database.is_some() {
        capabilities |= CLIENT_CONNECT_WITH_DB;
    }
    let mut payload = Vec::new();
    payload.extend_from_slice(&capabilities.to_le_bytes());
    payload.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    payload.push(CHARSET_UTF8MB4);
    payload.extend_from_slice(&[0; 23]);
    payload.extend_from_slice(user.as_bytes());
    payload.push(0);
    let auth_response = auth_response.get(..255).unwrap_or(auth_response);
    payload.push(u8::try_from(auth_response.len()).unwrap_or(0));
    payload.extend_from_slice(auth_response);
    if let Some(database) = database {
        payload.extend_from_slice(database.as_bytes());
        payload.push(0);
    }
    payload.extend_from_slice(NATIVE_PASSWORD.as_bytes());
    payload.push(0);
    packet(1, &payload)
}

/// `COM_QUERY` (sequence 0).
pub fn com_query(sql: &str) -> Vec<u8> {
    let mut payload = vec![0x03];
    payload.extend_from_slice(sql.as_bytes());
    packet(0, &payload)
}

/// `COM_QUIT` (sequence 0).
pub fn com_quit() -> Vec<u8> {
    packet(0, &[0x01])
}

/// A packet: sequence id and payload.
pub type Packet = (u8, Vec<u8>);

/// Splits one packet off `bytes`: `(sequence id, payload)` and the bytes used.
pub fn split_packet(bytes: &[u8]) -> Result<Option<(Packet, usize)>, ProbeError> {
    let Some(header) = bytes.get(..4) else {
        return Ok(None);
    };
    let length = header
        .iter()
        .take(3)
        .rev()
        .fold(0usize, |acc, byte| acc << 8 | usize::from(*byte));
    if length > MAX_PACKET_BYTES {
        return Err(malformed(format!("packet of {length} bytes")));
    }
    let sequence = header.get(3).copied().unwrap_or(0);
    let Some(payload) = bytes.get(4..4 + length) else {
        return Ok(None);
    };
    Ok(Some(((sequence, payload.to_vec()), 4 + length)))
}

fn malformed(message: impl Into<String>) -> ProbeError {
    ProbeError::Malformed {
        engine: "MySQL",
        message: message.into(),
    }
}

/// The server's answer to a login packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply {
    /// `OK_Packet`: logged in.
    Ok,
    /// `ERR_Packet` (wrong password: 1045 "Access denied ...").
    Err { code: u16, message: String },
    /// `AuthSwitchRequest`: use `plugin` with new `data` (the salt).
    Switch { plugin: String, data: Vec<u8> },
    /// `AuthMoreData` (`caching_sha2_password`: 3 = fast auth OK, 4 = full auth needed).
    MoreData(Vec<u8>),
}

/// Parses an `ERR_Packet` payload (starting with 0xff): code and message, SQL state removed.
pub fn parse_err(payload: &[u8]) -> (u16, String) {
    let code = le_u16(payload, 1).unwrap_or(0);
    let mut message = payload.get(3..).unwrap_or_default();
    if message.first() == Some(&b'#') {
        message = message.get(6..).unwrap_or_default();
    }
    (code, String::from_utf8_lossy(message).into_owned())
}

/// Parses the payload of the server's answer to a login packet.
pub fn parse_auth_reply(payload: &[u8]) -> Result<AuthReply, ProbeError> {
    match payload.first() {
        Some(0x00) => Ok(AuthReply::Ok),
        Some(0xff) => {
            let (code, message) = parse_err(payload);
            Ok(AuthReply::Err { code, message })
        }
        Some(0xfe) => {
            let rest = payload.get(1..).unwrap_or_default();
            let end = rest
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(rest.len());
            let plugin = String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned();
            let mut data = rest.get(end + 1..).unwrap_or_default().to_vec();
            if data.last() == Some(&0) {
                data.pop();
            }
            Ok(AuthReply::Switch { plugin, data })
        }
        Some(0x01) => Ok(AuthReply::MoreData(
            payload.get(1..).unwrap_or_default().to_vec(),
        )),
        Some(other) => Err(malformed(format!(
            "unexpected login reply starting 0x{other:02x}"
        ))),
        None => Err(malformed("empty login reply")),
    }
}

/// A length-encoded integer at the start of `bytes`: value and bytes used. `0xfb` (NULL in a
/// row) is `None` with 1 byte used.
pub fn lenenc_int(bytes: &[u8]) -> Option<(Option<u64>, usize)> {
    let first = *bytes.first()?;
    let width = match first {
        0..=0xfa => return Some((Some(u64::from(first)), 1)),
        0xfb => return Some((None, 1)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        0xff => return None,
    };
    let value = bytes
        .get(1..1 + width)?
        .iter()
        .rev()
        .fold(0u64, |acc, byte| acc << 8 | u64::from(*byte));
    Some((Some(value), 1 + width))
}

/// A length-encoded string at `offset`: its value (`None` = NULL) and the offset after it.
fn lenenc_str(bytes: &[u8], offset: usize) -> Option<(Option<String>, usize)> {
    let (length, used) = lenenc_int(bytes.get(offset..)?)?;
    let start = offset + used;
    let Some(length) = length else {
        return Some((None, start));
    };
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    let value = bytes.get(start..end)?;
    Some((Some(String::from_utf8_lossy(value).into_owned()), end))
}

/// A text result set, or the error a query got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// Column names and rows (`None` = NULL). A statement without a result set has no columns.
    Rows {
        columns: Vec<String>,
        rows: Vec<Vec<Option<String>>>,
    },
    Err {
        code: u16,
        message: String,
    },
}

impl QueryResult {
    /// The value of `column` in each row.
    pub fn column(&self, column: &str) -> Vec<Option<&str>> {
        let QueryResult::Rows { columns, rows } = self else {
            return Vec::new();
        };
        let Some(index) = columns
            .iter()
            .position(|name| name.eq_ignore_ascii_case(column))
        else {
            return Vec::new();
        };
        rows.iter()
            .map(|row| row.get(index).and_then(|value| value.as_deref()))
            .collect()
    }

    /// Two-column rows (`SHOW STATUS`, `SHOW VARIABLES`) as name/value pairs.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let QueryResult::Rows { rows, .. } = self else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|row| Some((row.first()?.as_deref()?, row.get(1)?.as_deref()?)))
            .collect()
    }
}

/// The payload of the packet at `offset`, advancing `offset` past it.
fn next_packet(bytes: &[u8], offset: &mut usize) -> Result<Option<Vec<u8>>, ProbeError> {
    match split_packet(bytes.get(*offset..).unwrap_or_default())? {
        Some(((_, payload), used)) => {
            *offset += used;
            Ok(Some(payload))
        }
        None => Ok(None),
    }
}

fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&0xfe) && payload.len() < 9
}

/// Parses a complete query response (text protocol, without `CLIENT_DEPRECATE_EOF`) from the
/// front of `bytes`; `Ok(None)` while incomplete.
pub fn parse_query_response(bytes: &[u8]) -> Result<Option<(QueryResult, usize)>, ProbeError> {
    let mut offset = 0usize;
    let Some(first) = next_packet(bytes, &mut offset)? else {
        return Ok(None);
    };
    let n_columns = match first.first() {
        Some(0x00) => {
            let result = QueryResult::Rows {
                columns: Vec::new(),
                rows: Vec::new(),
            };
            return Ok(Some((result, offset)));
        }
        Some(0xff) => {
            let (code, message) = parse_err(&first);
            return Ok(Some((QueryResult::Err { code, message }, offset)));
        }
        _ => match lenenc_int(&first) {
            Some((Some(n), _)) if (1..=4096).contains(&n) => n,
            _ => return Err(malformed("bad column count")),
        },
    };
    let mut columns = Vec::new();
    for _ in 0..n_columns {
        let Some(definition) = next_packet(bytes, &mut offset)? else {
            return Ok(None);
        };
        // catalog, schema, table, org_table, name, ...
        let mut at = 0usize;
        let mut name = None;
        for _ in 0..5 {
            let (value, after) =
                lenenc_str(&definition, at).ok_or_else(|| malformed("bad column definition"))?;
            name = value;
            at = after;
        }
        columns.push(name.unwrap_or_default());
    }
    // The EOF after the column definitions.
    let Some(eof) = next_packet(bytes, &mut offset)? else {
        return Ok(None);
    };
    if !is_eof(&eof) {
        return Err(malformed("no EOF after the column definitions"));
    }
    let mut rows = Vec::new();
    loop {
        let Some(row) = next_packet(bytes, &mut offset)? else {
            return Ok(None);
        };
        if is_eof(&row) {
            break;
        }
        if row.first() == Some(&0xff) {
            let (code, message) = parse_err(&row);
            return Ok(Some((QueryResult::Err { code, message }, offset)));
        }
        let mut values = Vec::with_capacity(columns.len());
        let mut at = 0usize;
        for _ in 0..columns.len() {
            let (value, after) = lenenc_str(&row, at).ok_or_else(|| malformed("bad row"))?;
            values.push(value);
            at = after;
        }
        rows.push(values);
    }
    Ok(Some((QueryResult::Rows { columns, rows }, offset)))
}

/// The answers to [`STATUS_QUERY`], [`VARIABLES_QUERY`], [`SIZES_QUERY`] and
/// [`REPLICA_QUERY`] (in that order; missing or failed ones are skipped) as health.
pub fn health_from_results(
    status: Option<&QueryResult>,
    variables: Option<&QueryResult>,
    sizes: Option<&QueryResult>,
    replica: Option<&QueryResult>,
) -> DatabaseHealth {
    let mut health = DatabaseHealth::default();
    let lookup = |result: Option<&QueryResult>, name: &str| -> Option<u64> {
        result?
            .pairs()
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.trim().parse().ok())
    };
    health.connections = lookup(status, "Threads_connected");
    health.uptime_seconds = lookup(status, "Uptime");
    health.slow_queries = lookup(status, "Slow_queries");
    health.max_connections = lookup(variables, "max_connections");
    if let Some(QueryResult::Rows { rows, .. }) = sizes {
        health.databases = rows
            .iter()
            .filter_map(|row| {
                let name = row.first()?.clone()?;
                let size_bytes = row
                    .get(1)
                    .and_then(|size| size.as_deref()?.trim().parse::<f64>().ok())
                    .filter(|size| size.is_finite() && *size >= 0.0)
                    .map(|size| size as u64);
                Some(DatabaseSize { name, size_bytes })
            })
            .collect();
    }
    if let Some(replica @ QueryResult::Rows { rows, .. }) = replica {
        health.replication = Some(if rows.is_empty() {
            Replication {
                role: ReplicationRole::Primary,
                lag_seconds: None,
                n_replicas: lookup(status, "Slaves_connected"),
                primary_link_up: None,
            }
        } else {
            let first = |column: &str| replica.column(column).first().copied().flatten();
            Replication {
                role: ReplicationRole::Replica,
                lag_seconds: first("Seconds_Behind_Master").and_then(|lag| lag.parse().ok()),
                n_replicas: None,
                primary_link_up: first("Slave_IO_Running")
                    .map(|running| running.eq_ignore_ascii_case("yes")),
            }
        });
    }
    health
}
