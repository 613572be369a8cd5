//! The protocol version a connection negotiated (its ALPN token): a leaf the hub and the
//! accept loop both read, so that neither imports the other.

use unity_shared::proto::compat::{Dialect, Unserved};

/// The protocol version the connection negotiated, if this controller serves it.
pub fn dialect(connection: &quinn::Connection) -> Result<Dialect, Unserved> {
    let protocol = connection
        .handshake_data()
        .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|data| data.protocol);
    Dialect::negotiated(protocol.as_deref())
}
