//! MySQL / MariaDB probe: the server speaks first, so connecting and reading the initial
//! handshake packet (protocol 10) is enough: server version, connection id, capability flags
//! (`CLIENT_SSL` = TLS offered). Without credentials the probe then closes without logging in,
//! so whether authentication is required stays unknown. An error packet instead of the greeting
//! (host not allowed, too many connections) still proves a MySQL-protocol server.
//!
//! With configured credentials the probe logs in with `mysql_native_password` (user default
//! `root`, optional database) and reads health with four text queries (see
//! [`super::mysql_login`]): `auth_required` is then `true` when the login needed a password
//! (or was refused) and `false` when it succeeded without one.
//!
//! MariaDB is told apart by its version string (`5.5.5-10.11.6-MariaDB-...` on the wire; the
//! `5.5.5-` prefix, kept for old replication clients, is removed).
//!
//! When asked to sniff ([`DatabaseEngine::Unknown`]), the same greeting identifies the engine.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine};

use super::mysql_login::{
    com_query, com_quit, handshake_response, health_from_results, native_password_scramble, packet,
    parse_auth_reply, parse_query_response, split_packet, AuthReply, QueryResult, NATIVE_PASSWORD,
    REPLICA_QUERY, SIZES_QUERY, STATUS_QUERY, VARIABLES_QUERY,
};
use super::{connect, elapsed_ms, le_u16, le_u32, read_frame, ProbeError, ProbeOutcome, Stream};
use crate::collect::databases::credentials::Credentials;

/// `CLIENT_SSL` in the lower capability flags.
pub const CLIENT_SSL: u32 = 0x0800;
/// A greeting is small; anything claiming more is not MySQL.
const MAX_GREETING_BYTES: usize = 64 * 1024;

/// What the server's first packet says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// A protocol-10 handshake.
    Handshake(Handshake),
    /// An error packet sent instead of a handshake.
    Error { code: u16, message: String },
}

/// The fields of the initial handshake the probe reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The version as sent (`5.5.5-10.11.19-MariaDB-0+deb12u1`, `8.0.36`).
    pub server_version: String,
    pub connection_id: u32,
    /// Lower and upper capability flags combined.
    pub capabilities: u32,
    pub auth_plugin: Option<String>,
    /// The salt for the password scramble (auth data parts 1 and 2, 20 bytes).
    pub auth_data: Vec<u8>,
}

impl Handshake {
    pub fn is_mariadb(&self) -> bool {
        self.server_version.to_ascii_lowercase().contains("mariadb")
    }

    /// The version without MariaDB's `5.5.5-` compatibility prefix.
    pub fn version(&self) -> String {
        match self.server_version.strip_prefix("5.5.5-") {
            Some(rest) if self.is_mariadb() => rest.to_owned(),
            _ => self.server_version.clone(),
        }
    }

    pub fn tls_offered(&self) -> bool {
        self.capabilities & CLIENT_SSL != 0
    }
}

fn wrong(expected: DatabaseEngine, bytes: &[u8]) -> ProbeError {
    ProbeError::wrong_protocol(expected, bytes)
}

/// Splits the first packet off `bytes` and parses it as a greeting. `expected` names the engine
/// in errors.
pub fn parse_greeting(
    bytes: &[u8],
    expected: DatabaseEngine,
) -> Result<Option<(Greeting, usize)>, ProbeError> {
    // Packet header: 3-byte little-endian payload length, 1-byte sequence id (0 here).
    let Some(length) = bytes.get(..3) else {
        return Ok(None);
    };
    let length = length
        .iter()
        .rev()
        .fold(0usize, |acc, byte| acc << 8 | usize::from(*byte));
    if length == 0 || length > MAX_GREETING_BYTES {
        return Err(wrong(expected, bytes));
    }
    match bytes.get(3) {
        None => return Ok(None),
        Some(0) => {}
        Some(_) => return Err(wrong(expected, bytes)),
    }
    let Some(payload) = bytes.get(4..4 + length) else {
        return Ok(None);
    };
    let greeting = match payload.first() {
        Some(10) => Greeting::Handshake(parse_handshake(payload).ok_or_else(|| {
            ProbeError::malformed(expected, "truncated initial handshake packet")
        })?),
        Some(0xff) => {
            let code = le_u16(payload, 1).unwrap_or(0);
            let mut message = payload.get(3..).unwrap_or_default();
            if message.first() == Some(&b'#') {
                message = message.get(6..).unwrap_or_default();
            }
            Greeting::Error {
                code,
                message: String::from_utf8_lossy(message).into_owned(),
            }
        }
        _ => return Err(wrong(expected, bytes)),
    };
    Ok(Some((greeting, 4 + length)))
}

/// Parses a protocol-10 handshake payload (starting at the protocol version byte).
pub fn parse_handshake(payload: &[u8]) -> Option<Handshake> {
    let rest = payload.get(1..)?;
    let version_end = rest.iter().position(|byte| *byte == 0)?;
    let server_version = String::from_utf8_lossy(rest.get(..version_end)?).into_owned();
    // After the version: connection id (4), auth data part 1 (8), filler (1), caps low (2).
    let offset = 1 + version_end + 1;
    let connection_id = le_u32(payload, offset)?;
    let caps_low = le_u16(payload, offset + 4 + 8 + 1)?;
    // Optional: charset (1), status (2), caps high (2), auth data length (1), reserved (10),
    // auth data part 2, auth plugin name.
    let extended = offset + 4 + 8 + 1 + 2;
    let caps_high = le_u16(payload, extended + 3).unwrap_or(0);
    let auth_plugin = payload
        .get(extended + 3 + 2)
        .copied()
        .and_then(|auth_data_length| {
            let part2 = usize::max(13, usize::from(auth_data_length).saturating_sub(8));
            let name_start = extended + 3 + 2 + 1 + 10 + part2;
            let name = payload.get(name_start..)?;
            let name_end = name
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(name.len());
            let name = String::from_utf8_lossy(name.get(..name_end)?).into_owned();
            (!name.is_empty()).then_some(name)
        });
    let mut auth_data = payload.get(offset + 4..offset + 4 + 8)?.to_vec();
    if let Some(part2) = payload.get(extended + 3 + 2 + 1 + 10..) {
        let end = part2
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(part2.len());
        auth_data.extend_from_slice(part2.get(..end.min(12)).unwrap_or_default());
    }
    Some(Handshake {
        server_version,
        connection_id,
        capabilities: u32::from(caps_low) | u32::from(caps_high) << 16,
        auth_plugin,
        auth_data,
    })
}

/// Probes a MySQL-protocol server at `endpoint`; with `credentials`, logs in and reads health.
pub async fn probe(
    endpoint: &DatabaseEndpoint,
    expected: DatabaseEngine,
    credentials: Option<&Credentials>,
    start: Instant,
) -> Result<ProbeOutcome, ProbeError> {
    let mut stream = connect(endpoint).await?;
    let mut buffer = Vec::new();
    let name = match expected {
        DatabaseEngine::Mariadb => DatabaseEngine::Mariadb,
        _ => DatabaseEngine::Mysql,
    };
    let greeting = read_frame(&mut stream, &mut buffer, |bytes| {
        parse_greeting(bytes, name)
    })
    .await?;
    let mut outcome = ProbeOutcome::reachable(name);
    outcome.latency_ms = Some(elapsed_ms(start));
    match greeting {
        Greeting::Handshake(handshake) => {
            outcome.engine = if handshake.is_mariadb() {
                DatabaseEngine::Mariadb
            } else {
                DatabaseEngine::Mysql
            };
            outcome.version = Some(handshake.version());
            outcome.tls_offered = Some(handshake.tls_offered());
            if let Some(credentials) = credentials {
                log_in_and_read_health(
                    &mut stream,
                    &mut buffer,
                    &handshake,
                    credentials,
                    &mut outcome,
                )
                .await?;
            }
        }
        Greeting::Error { code, message } => {
            outcome.error = Some(format!("server refused the connection: {message} ({code})"));
        }
    }
    Ok(outcome)
}

/// The user to log in as when the configuration names none.
pub const DEFAULT_USER: &str = "root";

/// Logs in with `mysql_native_password` and, when let in, runs the health queries. Login
/// problems end up in `outcome.error` (never with the password).
async fn log_in_and_read_health(
    stream: &mut Box<dyn Stream>,
    buffer: &mut Vec<u8>,
    handshake: &Handshake,
    credentials: &Credentials,
    outcome: &mut ProbeOutcome,
) -> Result<(), ProbeError> {
    let user = credentials.user.as_deref().unwrap_or(DEFAULT_USER);
    let password = credentials
        .password
        .as_ref()
        .map(|secret| secret.expose().as_bytes())
        .unwrap_or_default();
    let response = native_password_scramble(password, &handshake.auth_data);
    stream
        .write_all(&handshake_response(
            user,
            &response,
            credentials.database.as_deref(),
        ))
        .await?;
    let mut switched = false;
    loop {
        let (sequence, payload) = read_frame(stream, buffer, split_packet).await?;
        match parse_auth_reply(&payload)? {
            AuthReply::Ok => break,
            AuthReply::Err { code, message } => {
                // 1045: access denied (wrong user or password), 1044: no access to the database.
                outcome.auth_required = Some(true);
                outcome.error = Some(format!(
                    "authentication failed for `{user}`: {message} ({code})"
                ));
                return Ok(());
            }
            AuthReply::Switch { plugin, data } if plugin == NATIVE_PASSWORD && !switched => {
                switched = true;
                let response = native_password_scramble(password, &data);
                stream
                    .write_all(&packet(sequence.wrapping_add(1), &response))
                    .await?;
            }
            AuthReply::Switch { plugin, .. } => {
                outcome.auth_required = Some(true);
                outcome.error = Some(format!(
                    "the server asks for the `{plugin}` authentication plugin; the agent supports \
                     only {NATIVE_PASSWORD}"
                ));
                return Ok(());
            }
            // `caching_sha2_password` fast authentication succeeded: an OK follows.
            AuthReply::MoreData(data) if data == [3] => {}
            AuthReply::MoreData(_) => {
                outcome.auth_required = Some(true);
                outcome.error = Some(
                    "the server asks for caching_sha2_password full authentication (TLS or RSA), \
                     which the agent does not support; use mysql_native_password for its user"
                        .to_owned(),
                );
                return Ok(());
            }
        }
    }
    // Logged in: a password was needed if one was given (a wrong one is refused).
    outcome.auth_required = Some(!password.is_empty());

    let mut results: Vec<Option<QueryResult>> = Vec::new();
    let mut errors = Vec::new();
    for sql in [STATUS_QUERY, VARIABLES_QUERY, SIZES_QUERY, REPLICA_QUERY] {
        stream.write_all(&com_query(sql)).await?;
        let result = read_frame(stream, buffer, parse_query_response).await?;
        if let QueryResult::Err { code, message } = &result {
            // SHOW SLAVE STATUS needs a privilege a monitoring user may lack: no role then.
            if sql != REPLICA_QUERY {
                errors.push(format!("{message} ({code})"));
            }
            results.push(None);
        } else {
            results.push(Some(result));
        }
    }
    let result = |index: usize| results.get(index).and_then(Option::as_ref);
    outcome.health = Some(health_from_results(
        result(0),
        result(1),
        result(2),
        result(3),
    ));
    if !errors.is_empty() {
        outcome.error = Some(format!("health query failed: {}", errors.join("; ")));
    }
    // Best effort: the server cleans up either way.
    let _ = stream.write_all(&com_quit()).await;
    Ok(())
}
