//! The controller's QUIC endpoint: accepts agent connections, tells enrollment apart from
//! authenticated sessions, and keeps the live connections ([`Hub`]) that commands go out on.

pub mod enroll;
pub mod hub;
pub mod ingest;
pub mod session;
pub mod socket;

pub use hub::Hub;

use crate::service::Context;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::AgentId;

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
    while let Some(incoming) = endpoint.accept().await {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(connection) => serve_connection(ctx, connection).await,
                Err(error) => {
                    tracing::info!(%remote, %error, "Handshake failed.");
                }
            }
        });
    }
}

/// The agent id in the peer's certificate, if it presented one.
pub fn peer_agent_id(connection: &quinn::Connection) -> Option<AgentId> {
    let identity = connection.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    let leaf = chain.first()?;
    unity_shared::tls::agent_id_from_certificate(leaf).ok()
}

async fn serve_connection(ctx: Arc<Context>, connection: quinn::Connection) {
    match peer_agent_id(&connection) {
        None => enroll::serve(ctx, connection).await,
        Some(agent_id) => session::serve(ctx, connection, agent_id).await,
    }
}
