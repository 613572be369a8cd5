//! The controller's QUIC endpoint: accepts agent connections, tells enrollment apart from
//! authenticated sessions, and keeps the live connections ([`Hub`]) that commands go out on.

pub mod admission;
pub mod agent_build;
pub mod enroll;
pub mod failure_log;
pub mod hub;
pub mod ingest;
pub mod live;
pub mod negotiated;
pub mod secrets;
pub mod session;
pub mod socket;

pub use hub::Hub;

use crate::context::Context;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::{error_code, AgentId};

/// QUIC transport settings for the server side.
pub fn transport_config() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(Duration::from_secs(60));
    transport.max_idle_timeout(idle.ok());
    transport.max_concurrent_bidi_streams(64u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    // Flow control bounds what one agent may have in flight towards the controller: a replaying
    // agent gets ~16 reports of 15 KB ahead of the storage writer, so a thousand replaying at
    // once park at most ~0.5 GB in the controller instead of quinn's unbounded default. Packet
    // loss at the socket is the buffers' job (see `socket`).
    transport.stream_receive_window(STREAM_WINDOW_BYTES.into());
    transport.receive_window(CONNECTION_WINDOW_BYTES.into());
    transport
}

/// Per-stream receive window (quinn's default is 1.25 MB).
const STREAM_WINDOW_BYTES: u32 = 256 * 1024;
/// Per-connection receive window across streams (quinn's default is unlimited).
const CONNECTION_WINDOW_BYTES: u32 = 512 * 1024;

/// The endpoint configuration, with a stateless-reset key that survives restarts.
///
/// quinn derives the reset token of every connection id it hands out from this key, and signs
/// the ids with a second key. With fresh keys per start, a restarted controller drops the
/// packets of its predecessor's connections unanswered and their agents wait out their idle
/// timeout (45 s); with both keys derived from a secret kept in the data directory it answers
/// with a reset the agents recognise, and they reconnect at once.
///
/// Note that this uses blocking I/O.
pub fn endpoint_config(data_dir: &std::path::Path) -> anyhow::Result<quinn::EndpointConfig> {
    let secret = reset_secret(&data_dir.join(RESET_KEY_FILE))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    // Connection ids carry a signature the endpoint checks before answering a packet of an
    // unknown connection; it must survive restarts too, or the reset is never sent.
    let tag = ring::hmac::sign(&key, b"unity connection id key");
    let mut cid_key = [0u8; 8];
    cid_key.copy_from_slice(&tag.as_ref()[..8]);
    let cid_key = u64::from_le_bytes(cid_key);
    let mut config = quinn::EndpointConfig::new(Arc::new(key));
    config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    Ok(config)
}

const RESET_KEY_FILE: &str = "quic-reset.key";

/// Reads the 32-byte secret, creating it (0600) on first use.
fn reset_secret(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::read(path) {
        Ok(bytes) => {
            return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a 32-byte key; delete it to make a new one",
                    path.display()
                )
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    let secret: [u8; 32] = rand::random();
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(&secret)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("creating {}", path.display()))?;
    Ok(secret)
}

/// Builds the endpoint's server configuration.
pub fn server_config(ctx: &Context) -> anyhow::Result<quinn::ServerConfig> {
    let tls = crate::ca::verifier::server_config(&ctx.ca, ctx.revocations.clone())?;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Accepts connections until the endpoint is closed.
pub async fn accept_loop(endpoint: quinn::Endpoint, ctx: Arc<Context>) {
    let failures = Arc::new(failure_log::PeerFailures::default());
    let summaries = tokio::spawn({
        let failures = failures.clone();
        async move {
            let mut tick = tokio::time::interval(failure_log::WINDOW / 4);
            loop {
                tick.tick().await;
                failures.tick();
            }
        }
    });
    while let Some(incoming) = endpoint.accept().await {
        let ctx = ctx.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(connection) => serve_connection(ctx, connection, &failures).await,
                Err(error) => failures.handshakes.failed(remote, &error),
            }
        });
    }
    summaries.abort();
}

/// The agent id in the peer's certificate, if it presented one.
pub fn peer_agent_id(connection: &quinn::Connection) -> Option<AgentId> {
    let identity = connection.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    let leaf = chain.first()?;
    unity_shared::tls::agent_id_from_certificate(leaf).ok()
}

async fn serve_connection(
    ctx: Arc<Context>,
    connection: quinn::Connection,
    failures: &failure_log::PeerFailures,
) {
    let dialect = match negotiated::dialect(&connection) {
        Ok(dialect) => dialect,
        Err(unserved) => {
            // Anyone who reaches the port can cause this: counted per minute.
            failures
                .handshakes
                .failed(connection.remote_address(), &unserved);
            let reason = unserved.to_string();
            connection.close(error_code::UPGRADE_REQUIRED.into(), reason.as_bytes());
            return;
        }
    };
    match peer_agent_id(&connection) {
        None => enroll::serve(ctx, connection, dialect, &failures.enrollments).await,
        Some(agent_id) => session::serve(ctx, connection, agent_id, dialect).await,
    }
}
