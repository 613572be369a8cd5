//! Frame I/O over QUIC streams: the async glue around the pure [`crate::proto::frame`] codec,
//! used by both the agent and the controller (feature `runtime`).

use crate::proto::frame::{self, FrameError, HEADER_LEN};
use quinn::{ReadExactError, RecvStream, SendStream};
use serde::{de::DeserializeOwned, Serialize};

/// Errors reading or writing frames on a stream.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes on the stream are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream ended in the middle of a frame.
    #[error("stream ended in the middle of a frame")]
    Truncated,
    /// The peer reset the stream or the connection was lost.
    #[error("stream read failed: {0}")]
    Read(#[from] quinn::ReadError),
    /// Writing to the stream failed.
    #[error("stream write failed: {0}")]
    Write(#[from] quinn::WriteError),
}

impl WireError {
    /// True when the peer sent bytes that are not a valid frame (as opposed to a lost link).
    pub fn is_bad_frame(&self) -> bool {
        matches!(self, WireError::Frame(_) | WireError::Truncated)
    }
}

/// Reads one frame; `Ok(None)` when the peer finished the stream cleanly between frames.
pub async fn read<T: DeserializeOwned>(
    recv: &mut RecvStream,
    max_len: usize,
) -> Result<Option<T>, WireError> {
    match read_payload(recv, max_len).await? {
        Some(payload) => Ok(Some(frame::decode_payload(&payload)?)),
        None => Ok(None),
    }
}

/// Reads one frame's payload, undecoded (for a caller that decodes by the negotiated protocol
/// version, see [`crate::proto::compat::Dialect`]); `Ok(None)` as in [`read`].
pub async fn read_payload(
    recv: &mut RecvStream,
    max_len: usize,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut header = [0u8; HEADER_LEN];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(ReadExactError::FinishedEarly(_)) => return Err(WireError::Truncated),
        Err(ReadExactError::ReadError(error)) => return Err(error.into()),
    }
    let len = frame::payload_len(header, max_len)?;
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(_)) => return Err(WireError::Truncated),
        Err(ReadExactError::ReadError(error)) => return Err(error.into()),
    }
    Ok(Some(payload))
}

/// Writes one frame.
pub async fn write<T: Serialize>(
    send: &mut SendStream,
    message: &T,
    max_len: usize,
) -> Result<(), WireError> {
    let bytes = frame::encode(message, max_len)?;
    send.write_all(&bytes).await?;
    Ok(())
}
