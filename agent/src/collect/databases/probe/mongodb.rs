//! MongoDB probe: three commands over `OP_MSG` (opcode 2013), with a minimal hand-written BSON
//! encoder and decoder for the few fields needed.
//!
//! - `hello` (allowed before authentication): confirms MongoDB, replication role.
//! - `buildInfo` (allowed before authentication): `version`.
//! - `listDatabases`: names and sizes when no authentication is required; error code 13
//!   (`Unauthorized`) means `auth_required = true`.
//!
//! Message layout (MongoDB wire protocol docs, "OP_MSG"): a 16-byte header (`messageLength`,
//! `requestID`, `responseTo`, `opCode`, all little-endian int32), `flagBits` (uint32), then
//! sections; kind 0 is one BSON document (the command or reply body). Flag bit 0
//! (`checksumPresent`) appends a CRC-32C, which is skipped, not checked.

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseHealth, DatabaseSize, Replication, ReplicationRole,
};

use super::{
    bytes_at, connect, elapsed_ms, le_i32, le_u32, read_frame, ProbeError, ProbeOutcome, Stream,
};

const ENGINE: DatabaseEngine = DatabaseEngine::Mongodb;
pub const OP_MSG: i32 = 2013;
/// MongoDB's own limit (`maxMessageSizeBytes`).
const MAX_MESSAGE_BYTES: usize = 48_000_000;
const MAX_DEPTH: usize = 16;
/// `Unauthorized`.
const UNAUTHORIZED: i64 = 13;

/// A decoded BSON value; types the probe does not read are kept as their type byte.
#[derive(Debug, Clone, PartialEq)]
pub enum Bson {
    Double(f64),
    String(String),
    Document(Document),
    Array(Vec<Bson>),
    Bool(bool),
    Null,
    Int32(i32),
    Int64(i64),
    /// Any other type, skipped by length.
    Other(u8),
}

/// A BSON document: its elements in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document(pub Vec<(String, Bson)>);

impl Document {
    pub fn get(&self, key: &str) -> Option<&Bson> {
        self.0
            .iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Bson::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Bson::String(value) => Some(value),
            _ => None,
        }
    }

    /// A number of any BSON numeric type, as `f64`.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Bson::Double(value) => Some(*value),
            Bson::Int32(value) => Some(f64::from(*value)),
            Bson::Int64(value) => Some(*value as f64),
            _ => None,
        }
    }

    /// A number of any BSON numeric type, as `i64` (doubles are truncated).
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Bson::Double(value) if value.is_finite() => Some(*value as i64),
            Bson::Int32(value) => Some(i64::from(*value)),
            Bson::Int64(value) => Some(*value),
            _ => None,
        }
    }

    /// `ok: 1` (MongoDB sends a double).
    pub fn is_ok(&self) -> bool {
        self.get_f64("ok") == Some(1.0)
    }
}

/// The values the probe encodes.
pub enum BsonOut<'a> {
    Int32(i32),
    String(&'a str),
    Bool(bool),
}

/// Encodes a flat document.
pub fn encode_document(elements: &[(&str, BsonOut<'_>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in elements {
        let type_byte = match value {
            BsonOut::Int32(_) => 0x10,
            BsonOut::String(_) => 0x02,
            BsonOut::Bool(_) => 0x08,
        };
        body.push(type_byte);
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        match value {
            BsonOut::Int32(number) => body.extend_from_slice(&number.to_le_bytes()),
            BsonOut::String(text) => {
                let length = i32::try_from(text.len() + 1).unwrap_or(i32::MAX);
                body.extend_from_slice(&length.to_le_bytes());
                body.extend_from_slice(text.as_bytes());
                body.push(0);
            }
            BsonOut::Bool(flag) => body.push(u8::from(*flag)),
        }
    }
    body.push(0);
    let length = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
    let mut document = length.to_le_bytes().to_vec();
    document.extend_from_slice(&body);
    document
}

fn malformed(message: &str) -> ProbeError {
    ProbeError::malformed(ENGINE, message)
}

fn cstring(bytes: &[u8], offset: usize) -> Result<(String, usize), ProbeError> {
    let rest = bytes
        .get(offset..)
        .ok_or_else(|| malformed("truncated name"))?;
    let end = rest
        .iter()
        .position(|byte| *byte == 0)
        .ok_or_else(|| malformed("unterminated name"))?;
    let text = String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned();
    Ok((text, offset + end + 1))
}

/// Decodes one BSON document that fills `bytes` exactly.
pub fn decode_document(bytes: &[u8]) -> Result<Document, ProbeError> {
    decode_at(bytes, 0)
}

fn decode_at(bytes: &[u8], depth: usize) -> Result<Document, ProbeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("documents nested too deeply"));
    }
    let length = le_i32(bytes, 0).ok_or_else(|| malformed("truncated document"))?;
    if length < 5 || usize::try_from(length).ok() != Some(bytes.len()) {
        return Err(malformed("document length does not match"));
    }
    if bytes.last() != Some(&0) {
        return Err(malformed("document not terminated"));
    }
    let end = bytes.len() - 1;
    let mut offset = 4;
    let mut elements = Vec::new();
    while offset < end {
        let type_byte = *bytes
            .get(offset)
            .ok_or_else(|| malformed("truncated element"))?;
        let (name, value_start) = cstring(bytes, offset + 1)?;
        let value_bytes = bytes.get(value_start..end).unwrap_or_default();
        let (value, used) = decode_value(type_byte, value_bytes, depth)?;
        elements.push((name, value));
        offset = value_start + used;
    }
    if offset != end {
        return Err(malformed("element overruns its document"));
    }
    Ok(Document(elements))
}

/// Decodes a value of `type_byte` at the start of `bytes`; returns it and its length.
fn decode_value(type_byte: u8, bytes: &[u8], depth: usize) -> Result<(Bson, usize), ProbeError> {
    let fixed = |length: usize| -> Result<usize, ProbeError> {
        if bytes.len() < length {
            Err(malformed("truncated value"))
        } else {
            Ok(length)
        }
    };
    let string = |bytes: &[u8]| -> Result<(String, usize), ProbeError> {
        let length = le_i32(bytes, 0).ok_or_else(|| malformed("truncated string"))?;
        let length = usize::try_from(length).map_err(|_| malformed("negative string length"))?;
        let data = bytes
            .get(4..4 + length)
            .ok_or_else(|| malformed("truncated string"))?;
        let (nul, text) = data.split_last().ok_or_else(|| malformed("empty string"))?;
        if *nul != 0 {
            return Err(malformed("string not terminated"));
        }
        Ok((String::from_utf8_lossy(text).into_owned(), 4 + length))
    };
    let embedded = |bytes: &[u8]| -> Result<(Document, usize), ProbeError> {
        let length = le_i32(bytes, 0).ok_or_else(|| malformed("truncated document"))?;
        let length = usize::try_from(length).map_err(|_| malformed("negative document length"))?;
        let inner = bytes
            .get(..length)
            .ok_or_else(|| malformed("truncated document"))?;
        Ok((decode_at(inner, depth + 1)?, length))
    };
    Ok(match type_byte {
        0x01 => {
            let raw = bytes_at::<8>(bytes, 0).ok_or_else(|| malformed("truncated double"))?;
            (Bson::Double(f64::from_le_bytes(raw)), 8)
        }
        0x02 => {
            let (text, used) = string(bytes)?;
            (Bson::String(text), used)
        }
        0x03 => {
            let (document, used) = embedded(bytes)?;
            (Bson::Document(document), used)
        }
        0x04 => {
            let (document, used) = embedded(bytes)?;
            (
                Bson::Array(document.0.into_iter().map(|(_, value)| value).collect()),
                used,
            )
        }
        0x05 => {
            let length = le_i32(bytes, 0).ok_or_else(|| malformed("truncated binary"))?;
            let length =
                usize::try_from(length).map_err(|_| malformed("negative binary length"))?;
            (Bson::Other(type_byte), fixed(4 + 1 + length)?)
        }
        0x06 | 0x0A | 0x7F | 0xFF => (
            if type_byte == 0x0A {
                Bson::Null
            } else {
                Bson::Other(type_byte)
            },
            0,
        ),
        0x07 => (Bson::Other(type_byte), fixed(12)?),
        0x08 => match bytes.first() {
            Some(0) => (Bson::Bool(false), 1),
            Some(1) => (Bson::Bool(true), 1),
            _ => return Err(malformed("bad boolean")),
        },
        0x09 | 0x11 => (Bson::Other(type_byte), fixed(8)?),
        0x0B => {
            let (_, after_pattern) = cstring(bytes, 0)?;
            let (_, after_options) = cstring(bytes, after_pattern)?;
            (Bson::Other(type_byte), after_options)
        }
        0x0C => {
            let (_, used) = string(bytes)?;
            (Bson::Other(type_byte), fixed(used + 12)?)
        }
        0x0D | 0x0E => {
            let (_, used) = string(bytes)?;
            (Bson::Other(type_byte), used)
        }
        0x0F => {
            let length = le_i32(bytes, 0).ok_or_else(|| malformed("truncated code"))?;
            let length = usize::try_from(length).map_err(|_| malformed("negative code length"))?;
            (Bson::Other(type_byte), fixed(length)?)
        }
        0x10 => (
            Bson::Int32(le_i32(bytes, 0).ok_or_else(|| malformed("truncated int32"))?),
            4,
        ),
        0x12 => {
            let raw = bytes_at::<8>(bytes, 0).ok_or_else(|| malformed("truncated int64"))?;
            (Bson::Int64(i64::from_le_bytes(raw)), 8)
        }
        0x13 => (Bson::Other(type_byte), fixed(16)?),
        _ => return Err(malformed("unknown BSON type")),
    })
}

/// Builds an `OP_MSG` carrying one command document.
pub fn op_msg(request_id: i32, document: &[u8]) -> Vec<u8> {
    let length = i32::try_from(16 + 4 + 1 + document.len()).unwrap_or(i32::MAX);
    let mut message = Vec::with_capacity(document.len() + 21);
    message.extend_from_slice(&length.to_le_bytes());
    message.extend_from_slice(&request_id.to_le_bytes());
    message.extend_from_slice(&0i32.to_le_bytes());
    message.extend_from_slice(&OP_MSG.to_le_bytes());
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    message.extend_from_slice(document);
    message
}

/// Splits one `OP_MSG` reply to `request_id` off `bytes` and returns its body document.
pub fn parse_op_msg(
    bytes: &[u8],
    request_id: i32,
) -> Result<Option<(Document, usize)>, ProbeError> {
    let wrong = || ProbeError::wrong_protocol(ENGINE, bytes);
    let Some(length) = le_i32(bytes, 0) else {
        return Ok(None);
    };
    let length = usize::try_from(length).map_err(|_| wrong())?;
    if !(21..=MAX_MESSAGE_BYTES).contains(&length) {
        return Err(wrong());
    }
    // Check what is there already, so that a wrong protocol fails before `length` bytes arrive.
    if let Some(op_code) = le_i32(bytes, 12) {
        if op_code != OP_MSG {
            return Err(wrong());
        }
    }
    if let Some(response_to) = le_i32(bytes, 8) {
        if response_to != request_id {
            return Err(malformed("reply to another request"));
        }
    }
    let Some(message) = bytes.get(..length) else {
        return Ok(None);
    };
    let flags = le_u32(message, 16).ok_or_else(|| malformed("truncated flags"))?;
    let sections_end = if flags & 1 != 0 { length - 4 } else { length };
    let mut offset = 20;
    let mut body = None;
    while offset < sections_end {
        let kind = *message
            .get(offset)
            .ok_or_else(|| malformed("truncated section"))?;
        let size = le_i32(message, offset + 1).ok_or_else(|| malformed("truncated section"))?;
        let size = usize::try_from(size).map_err(|_| malformed("negative section size"))?;
        match kind {
            0 => {
                let document = message
                    .get(offset + 1..offset + 1 + size)
                    .ok_or_else(|| malformed("truncated body"))?;
                body = Some(decode_document(document)?);
                offset += 1 + size;
            }
            1 => offset += 1 + size,
            _ => return Err(malformed("unknown section kind")),
        }
    }
    if offset != sections_end {
        return Err(malformed("sections overrun the message"));
    }
    let body = body.ok_or_else(|| malformed("no body section"))?;
    Ok(Some((body, length)))
}

/// Replication role from a `hello` reply: `setName` marks a replica set member.
pub fn replication_from_hello(hello: &Document) -> Option<Replication> {
    hello.get_str("setName")?;
    let role = if hello.get_bool("isWritablePrimary") == Some(true)
        || hello.get_bool("ismaster") == Some(true)
    {
        ReplicationRole::Primary
    } else {
        ReplicationRole::Replica
    };
    Some(Replication {
        role,
        lag_seconds: None,
        n_replicas: None,
        primary_link_up: None,
    })
}

/// Database sizes from a `listDatabases` reply.
pub fn databases_from_list(reply: &Document) -> Vec<DatabaseSize> {
    let Some(Bson::Array(databases)) = reply.get("databases") else {
        return Vec::new();
    };
    databases
        .iter()
        .filter_map(|database| match database {
            Bson::Document(database) => Some(DatabaseSize {
                name: database.get_str("name")?.to_owned(),
                size_bytes: database
                    .get_i64("sizeOnDisk")
                    .and_then(|size| u64::try_from(size).ok()),
            }),
            _ => None,
        })
        .collect()
}

async fn command(
    stream: &mut Box<dyn Stream>,
    buffer: &mut Vec<u8>,
    request_id: i32,
    name: &str,
) -> Result<Document, ProbeError> {
    let document = encode_document(&[(name, BsonOut::Int32(1)), ("$db", BsonOut::String("admin"))]);
    stream.write_all(&op_msg(request_id, &document)).await?;
    read_frame(stream, buffer, |bytes| parse_op_msg(bytes, request_id)).await
}

/// Probes MongoDB at `endpoint`.
pub async fn probe(
    endpoint: &DatabaseEndpoint,
    start: Instant,
) -> Result<ProbeOutcome, ProbeError> {
    let mut stream = connect(endpoint).await?;
    let mut buffer = Vec::new();
    let mut outcome = ProbeOutcome::reachable(ENGINE);
    let hello = command(&mut stream, &mut buffer, 1, "hello").await?;
    outcome.latency_ms = Some(elapsed_ms(start));
    if !hello.is_ok() {
        outcome.error = Some(format!(
            "hello failed: {}",
            hello.get_str("errmsg").unwrap_or("no message")
        ));
        return Ok(outcome);
    }
    let build_info = command(&mut stream, &mut buffer, 2, "buildInfo").await?;
    outcome.version = build_info.get_str("version").map(str::to_owned);
    let databases = command(&mut stream, &mut buffer, 3, "listDatabases").await?;
    let mut health = DatabaseHealth {
        replication: replication_from_hello(&hello),
        ..DatabaseHealth::default()
    };
    if databases.is_ok() {
        outcome.auth_required = Some(false);
        health.databases = databases_from_list(&databases);
    } else if databases.get_i64("code") == Some(UNAUTHORIZED) {
        outcome.auth_required = Some(true);
    }
    outcome.health = Some(health);
    Ok(outcome)
}
