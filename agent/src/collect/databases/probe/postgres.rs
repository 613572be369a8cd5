//! PostgreSQL probe (frontend/backend protocol 3.0, written by hand).
//!
//! 1. `SSLRequest`: the one-byte answer `S`/`N` confirms PostgreSQL and says whether TLS is
//!    offered. After `S` the connection must switch to TLS, so the probe reconnects.
//! 2. `StartupMessage` as user `postgres` (or the configured user) to database `postgres`. The
//!    first answer is `AuthenticationOk` (trust authentication: the server then sends
//!    `ParameterStatus server_version`, which is where the version comes from), another
//!    authentication request (password, SCRAM, GSS: `auth_required = true`, no version, since
//!    PostgreSQL reveals its version only after authentication), or an `ErrorResponse`
//!    (no `pg_hba.conf` entry, too many connections, starting up).
//! 3. With a configured password, `AuthenticationSASL` offering SCRAM-SHA-256 is answered
//!    (see [`super::scram`]; the server's signature is verified). md5, cleartext and GSS
//!    authentication are not implemented.
//! 4. Only when credentials are configured for the instance and the server let the agent in
//!    (trust or SCRAM), one simple query reads connections, limits, replication, uptime, locks,
//!    long queries and database sizes.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseHealth, DatabaseSize, Replication, ReplicationRole,
};

use super::scram;
use super::{be_i32, be_u16, be_u32, connect, elapsed_ms, read_frame, ProbeError, ProbeOutcome};
use crate::collect::databases::credentials::Credentials;

const ENGINE: DatabaseEngine = DatabaseEngine::Postgres;
/// Backend messages bigger than this are not expected from a probe.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// `SSLRequest`: length 8, code 80877103.
pub const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// `Terminate`.
pub const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// The health query: one row of counters, then one row per database.
pub const HEALTH_QUERY: &str = "SELECT \
(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
current_setting('max_connections'), \
pg_is_in_recovery(), \
EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), \
(SELECT count(*) FROM pg_stat_replication), \
EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::bigint, \
(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'), \
(SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND now() - query_start > interval '1 minute'); \
SELECT datname, pg_database_size(datname) FROM pg_database WHERE datallowconn ORDER BY datname";

/// `AuthenticationSASL`, `AuthenticationSASLContinue`, `AuthenticationSASLFinal`.
pub const AUTH_SASL: u32 = 10;
pub const AUTH_SASL_CONTINUE: u32 = 11;
pub const AUTH_SASL_FINAL: u32 = 12;

/// The mechanism names of an `AuthenticationSASL` body (after the code): C strings, then an
/// empty one.
pub fn parse_sasl_mechanisms(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|byte| *byte == 0)
        .take_while(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

fn password_message(body: &[u8]) -> Vec<u8> {
    let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut message = vec![b'p'];
    message.extend_from_slice(&length.to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// `SASLInitialResponse` choosing SCRAM-SHA-256 with the client-first message.
pub fn sasl_initial_response(client_first: &str) -> Vec<u8> {
    let mut body = scram::MECHANISM.as_bytes().to_vec();
    body.push(0);
    let length = i32::try_from(client_first.len()).unwrap_or(i32::MAX);
    body.extend_from_slice(&length.to_be_bytes());
    body.extend_from_slice(client_first.as_bytes());
    password_message(&body)
}

/// `SASLResponse` with the client-final message.
pub fn sasl_response(client_final: &str) -> Vec<u8> {
    password_message(client_final.as_bytes())
}

/// The answer to `SSLRequest`.
pub fn parse_ssl_response(bytes: &[u8]) -> Result<Option<(bool, usize)>, ProbeError> {
    match bytes.first() {
        None => Ok(None),
        Some(b'S') => Ok(Some((true, 1))),
        Some(b'N') => Ok(Some((false, 1))),
        // Servers older than 7.0 answer with an error; close enough to "no TLS".
        Some(b'E') => Ok(Some((false, bytes.len()))),
        Some(_) => Err(ProbeError::wrong_protocol(ENGINE, bytes)),
    }
}

/// Builds a `StartupMessage` for protocol 3.0.
pub fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (key, value) in [
        ("user", user),
        ("database", database),
        ("application_name", "unity-agent"),
    ] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut message = length.to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// Builds a simple `Query` message.
pub fn query_message(sql: &str) -> Vec<u8> {
    let length = u32::try_from(sql.len() + 5).unwrap_or(u32::MAX);
    let mut message = vec![b'Q'];
    message.extend_from_slice(&length.to_be_bytes());
    message.extend_from_slice(sql.as_bytes());
    message.push(0);
    message
}

/// One backend message: its type byte and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendMessage {
    pub tag: u8,
    pub body: Vec<u8>,
}

/// Splits one backend message off the front of `bytes`. `first` says this is the first message
/// of the startup phase, where only `R`, `E`, `N` and `v` are valid PostgreSQL.
pub fn parse_message(
    bytes: &[u8],
    first: bool,
) -> Result<Option<(BackendMessage, usize)>, ProbeError> {
    let Some(tag) = bytes.first().copied() else {
        return Ok(None);
    };
    if first && !matches!(tag, b'R' | b'E' | b'N' | b'v') {
        return Err(ProbeError::wrong_protocol(ENGINE, bytes));
    }
    let Some(length) = be_u32(bytes, 1) else {
        return Ok(None);
    };
    let length = length as usize;
    if !(4..=MAX_MESSAGE_BYTES).contains(&length) {
        return Err(if first {
            ProbeError::wrong_protocol(ENGINE, bytes)
        } else {
            ProbeError::malformed(ENGINE, format!("message length {length}"))
        });
    }
    let Some(body) = bytes.get(5..1 + length) else {
        return Ok(None);
    };
    Ok(Some((
        BackendMessage {
            tag,
            body: body.to_vec(),
        },
        1 + length,
    )))
}

/// The fields of an `ErrorResponse` or `NoticeResponse` that matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerError {
    pub severity: String,
    pub code: String,
    pub message: String,
}

/// Parses an `ErrorResponse` body: `(field type byte, C string)*` then a zero byte.
pub fn parse_error_fields(body: &[u8]) -> ServerError {
    let mut error = ServerError::default();
    for field in body.split(|byte| *byte == 0) {
        let Some((kind, value)) = field.split_first() else {
            continue;
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match kind {
            b'S' => error.severity = value,
            b'C' => error.code = value,
            b'M' => error.message = value,
            _ => {}
        }
    }
    error
}

/// Parses a `ParameterStatus` body: name and value, both C strings.
pub fn parse_parameter_status(body: &[u8]) -> Option<(String, String)> {
    let mut parts = body.split(|byte| *byte == 0);
    let name = parts.next()?;
    let value = parts.next()?;
    Some((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// The authentication request code of an `R` message (0 = OK, 3 = cleartext, 5 = MD5,
/// 10 = SASL, ...).
pub fn parse_auth_code(body: &[u8]) -> Option<u32> {
    be_u32(body, 0)
}

/// Parses a `DataRow` body into text values (`None` = SQL NULL).
pub fn parse_data_row(body: &[u8]) -> Result<Vec<Option<String>>, ProbeError> {
    let malformed = || ProbeError::malformed(ENGINE, "truncated DataRow");
    let count = be_u16(body, 0).ok_or_else(malformed)?;
    let mut offset = 2usize;
    let mut values = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let length = be_i32(body, offset).ok_or_else(malformed)?;
        offset += 4;
        if length < 0 {
            values.push(None);
            continue;
        }
        let end = offset + length as usize;
        let value = body.get(offset..end).ok_or_else(malformed)?;
        values.push(Some(String::from_utf8_lossy(value).into_owned()));
        offset = end;
    }
    Ok(values)
}

/// The rows of each result set of a simple query, in order.
pub type ResultSets = Vec<Vec<Vec<Option<String>>>>;

/// Turns the health query's result sets into health. Missing or unreadable values stay `None`.
pub fn health_from_results(results: &ResultSets) -> DatabaseHealth {
    let mut health = DatabaseHealth::default();
    let counters = results.first().and_then(|rows| rows.first());
    let value = |index: usize| -> Option<&str> {
        counters
            .and_then(|row| row.get(index))
            .and_then(|value| value.as_deref())
    };
    let number = |index: usize| -> Option<u64> { value(index)?.trim().parse().ok() };
    health.connections = number(0);
    health.max_connections = number(1);
    if let Some(in_recovery) = value(2) {
        let role = if in_recovery == "t" {
            ReplicationRole::Replica
        } else {
            ReplicationRole::Primary
        };
        health.replication = Some(Replication {
            role,
            lag_seconds: match role {
                ReplicationRole::Replica => value(3).and_then(|lag| lag.trim().parse().ok()),
                ReplicationRole::Primary => None,
            },
            n_replicas: number(4),
            primary_link_up: None,
        });
    }
    health.uptime_seconds = number(5);
    health.blocked_clients = number(6);
    health.slow_queries = number(7);
    if let Some(rows) = results.get(1) {
        health.databases = rows
            .iter()
            .filter_map(|row| {
                let name = row.first()?.clone()?;
                let size_bytes = row.get(1).and_then(|size| size.as_deref()?.parse().ok());
                Some(DatabaseSize { name, size_bytes })
            })
            .collect();
    }
    health
}

/// Whether an SQLSTATE means "you may not log in like this".
fn is_auth_error(code: &str) -> bool {
    code.starts_with("28")
}

/// Probes PostgreSQL at `endpoint`; `start` is when the probe began (for latency).
pub async fn probe(
    endpoint: &DatabaseEndpoint,
    credentials: Option<&Credentials>,
    start: Instant,
) -> Result<ProbeOutcome, ProbeError> {
    let mut outcome = ProbeOutcome::reachable(ENGINE);
    let mut stream = connect(endpoint).await?;
    stream.write_all(&SSL_REQUEST).await?;
    let mut buffer = Vec::new();
    let tls_offered = read_frame(&mut stream, &mut buffer, parse_ssl_response).await?;
    outcome.latency_ms = Some(elapsed_ms(start));
    outcome.tls_offered = Some(tls_offered);
    if tls_offered || !buffer.is_empty() {
        // After `S` the server expects a TLS handshake: start over without TLS.
        drop(stream);
        stream = connect(endpoint).await?;
        buffer.clear();
    }

    let user = credentials
        .and_then(|credentials| credentials.user.as_deref())
        .unwrap_or("postgres");
    let database = credentials
        .and_then(|credentials| credentials.database.as_deref())
        .unwrap_or("postgres");
    stream.write_all(&startup_message(user, database)).await?;
    let password = credentials.and_then(|credentials| credentials.password.as_ref());
    let mut scram_client: Option<scram::ScramClient> = None;
    let mut scram_final: Option<scram::ScramFinal> = None;
    let mut first = true;
    loop {
        let message = read_frame(&mut stream, &mut buffer, |bytes| {
            parse_message(bytes, first)
        })
        .await?;
        first = false;
        match message.tag {
            b'R' => match parse_auth_code(&message.body) {
                Some(0) => {
                    if outcome.auth_required.is_none() {
                        outcome.auth_required = Some(false);
                    }
                }
                Some(AUTH_SASL) if password.is_some() => {
                    outcome.auth_required = Some(true);
                    let mechanisms =
                        parse_sasl_mechanisms(message.body.get(4..).unwrap_or_default());
                    if !mechanisms.iter().any(|name| name == scram::MECHANISM) {
                        outcome.error = Some(format!(
                            "the server offers SASL mechanisms {mechanisms:?}; the agent supports \
                             only {}",
                            scram::MECHANISM
                        ));
                        return Ok(outcome);
                    }
                    let client = scram::ScramClient::new("", &scram::new_nonce());
                    stream
                        .write_all(&sasl_initial_response(&client.client_first()))
                        .await?;
                    scram_client = Some(client);
                }
                Some(AUTH_SASL_CONTINUE) => {
                    let (Some(client), Some(password)) = (scram_client.as_ref(), password) else {
                        return Err(ProbeError::malformed(ENGINE, "unexpected SASLContinue"));
                    };
                    let server_first =
                        String::from_utf8_lossy(message.body.get(4..).unwrap_or_default())
                            .into_owned();
                    match client.client_final(password.expose().as_bytes(), &server_first) {
                        Ok(answer) => {
                            stream.write_all(&sasl_response(&answer.message)).await?;
                            scram_final = Some(answer);
                        }
                        Err(error) => {
                            outcome.error = Some(format!("SCRAM authentication failed: {error}"));
                            return Ok(outcome);
                        }
                    }
                }
                Some(AUTH_SASL_FINAL) => {
                    let Some(answer) = scram_final.as_ref() else {
                        return Err(ProbeError::malformed(ENGINE, "unexpected SASLFinal"));
                    };
                    let server_final =
                        String::from_utf8_lossy(message.body.get(4..).unwrap_or_default())
                            .into_owned();
                    if let Err(error) = answer.verify(&server_final) {
                        outcome.error = Some(format!("SCRAM authentication failed: {error}"));
                        return Ok(outcome);
                    }
                }
                Some(code) => {
                    outcome.auth_required = Some(true);
                    if credentials.is_some() {
                        let method = match code {
                            3 => "cleartext password",
                            5 => "md5",
                            AUTH_SASL => "SCRAM-SHA-256 (but no password_file is configured)",
                            7 => "GSSAPI",
                            9 => "SSPI",
                            _ => "an unknown method",
                        };
                        outcome.error = Some(format!(
                            "the server asks for {method} authentication (code {code}); the agent \
                             supports trust and SCRAM-SHA-256"
                        ));
                    }
                    return Ok(outcome);
                }
                None => {
                    return Err(ProbeError::malformed(
                        ENGINE,
                        "short authentication request",
                    ))
                }
            },
            b'S' => {
                if let Some((name, value)) = parse_parameter_status(&message.body) {
                    if name == "server_version" {
                        outcome.version = Some(value);
                    }
                }
            }
            b'E' => {
                let error = parse_error_fields(&message.body);
                // After `AuthenticationOk` (trust) a refusal is not about passwords: a
                // missing role or database keeps `auth_required = false`.
                if is_auth_error(&error.code) && outcome.auth_required.is_none() {
                    outcome.auth_required = Some(true);
                }
                outcome.error = Some(format!(
                    "server refused the probe's login: {} ({})",
                    error.message, error.code
                ));
                return Ok(outcome);
            }
            b'Z' => break,
            // BackendKeyData, NoticeResponse, NegotiateProtocolVersion.
            _ => {}
        }
    }

    if credentials.is_some() {
        stream.write_all(&query_message(HEALTH_QUERY)).await?;
        let mut results: ResultSets = Vec::new();
        loop {
            let message = read_frame(&mut stream, &mut buffer, |bytes| {
                parse_message(bytes, false)
            })
            .await?;
            match message.tag {
                b'T' => results.push(Vec::new()),
                b'D' => {
                    let row = parse_data_row(&message.body)?;
                    if let Some(rows) = results.last_mut() {
                        rows.push(row);
                    }
                }
                b'E' => {
                    let error = parse_error_fields(&message.body);
                    outcome.error = Some(format!("health query failed: {}", error.message));
                }
                b'Z' => break,
                _ => {}
            }
        }
        outcome.health = Some(health_from_results(&results));
    }
    // Best effort: the server cleans up either way.
    let _ = stream.write_all(&TERMINATE).await;
    Ok(outcome)
}
