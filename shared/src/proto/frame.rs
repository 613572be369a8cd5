//! Length-delimited framing, pure: `[version: u8][length: u32 big-endian][postcard payload]`.
//!
//! The length is checked against a cap before anything is allocated, so a hostile peer cannot
//! make the receiver reserve memory it did not send.

use serde::{de::DeserializeOwned, Serialize};

/// Version of the frame layout itself (not of the messages inside).
pub const FRAME_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 5;
/// Default cap on a session-stream payload (a report with its typed state): large enough for a
/// host with hundreds of containers, small enough to refuse abuse. The controller's
/// `max_frame_bytes` defaults to it.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Cap on an enrollment request or response (a token, a CSR, host facts, a certificate).
pub const MAX_ENROLL_FRAME_LEN: usize = 64 * 1024;
/// Cap on a command the controller sends (a container operation with its pull credentials).
pub const MAX_COMMAND_FRAME_LEN: usize = 1024 * 1024;
/// Cap on a command's answer (progress frames, a result with its backup and log).
pub const MAX_COMMAND_RESPONSE_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The header names a frame layout this build does not know.
    #[error("unsupported frame version {0} (this build speaks {FRAME_VERSION})")]
    UnsupportedVersion(u8),
    /// The payload is larger than the receiver accepts.
    #[error("frame of {len} bytes exceeds the {max} byte limit")]
    TooLarge { len: usize, max: usize },
    /// The payload is not a valid message.
    #[error("undecodable frame payload: {0}")]
    Decode(postcard::Error),
    /// The payload decoded but left bytes over, so it is not the message it claims to be.
    #[error("frame payload has {0} trailing bytes")]
    TrailingBytes(usize),
    /// The message could not be serialized.
    #[error("cannot encode message: {0}")]
    Encode(postcard::Error),
}

/// Encodes `message` as one frame, refusing payloads over `max_len`.
pub fn encode<T: Serialize>(message: &T, max_len: usize) -> Result<Vec<u8>, FrameError> {
    let frame = vec![FRAME_VERSION, 0, 0, 0, 0];
    let mut frame = postcard::to_extend(message, frame).map_err(FrameError::Encode)?;
    let len = frame.len() - HEADER_LEN;
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    let len_bytes = u32::try_from(len)
        .map_err(|_| FrameError::TooLarge { len, max: max_len })?
        .to_be_bytes();
    frame[1..HEADER_LEN].copy_from_slice(&len_bytes);
    Ok(frame)
}

/// Validates a header and returns the payload length that follows it.
pub fn payload_len(header: [u8; HEADER_LEN], max_len: usize) -> Result<usize, FrameError> {
    let [version, l0, l1, l2, l3] = header;
    if version != FRAME_VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    Ok(len)
}

/// Decodes a complete payload (the bytes after the header).
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (message, rest) = postcard::take_from_bytes(payload).map_err(FrameError::Decode)?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// Decodes the first frame in `buf`: `Ok(None)` if more bytes are needed, otherwise the message
/// and the number of bytes it used.
pub fn decode<T: DeserializeOwned>(
    buf: &[u8],
    max_len: usize,
) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut header_bytes = [0u8; HEADER_LEN];
    header_bytes.copy_from_slice(header);
    let len = payload_len(header_bytes, max_len)?;
    let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    let message = decode_payload(payload)?;
    Ok(Some((message, HEADER_LEN + len)))
}
