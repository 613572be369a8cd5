//! Reaching the controller: the QUIC client endpoint, address resolution, enrollment, and
//! mutually-authenticated connections.

use crate::identity::Identity;
use anyhow::Context as _;
use rcgen::KeyPair;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::compat::{self, ControllerTooOld};
use unity_shared::proto::frame;
use unity_shared::proto::{
    error_code, EnrollRequest, EnrollResponse, Enrolled, HostFacts, CONTROLLER_SERVER_NAME,
    PROTOCOL_VERSION,
};
use unity_shared::wire;

/// Keep-alives keep NAT bindings open and make a restarted controller answer soon: a packet
/// of the dead connection draws a stateless reset (the controller keeps its reset key across
/// restarts), so the agent reconnects within one keep-alive interval of the controller's
/// return instead of waiting out the idle timeout. One small packet every 4 s when idle.
pub fn transport_config() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(Duration::from_secs(45)).ok());
    transport
}

/// How often an idle connection sends a keep-alive packet.
pub const KEEP_ALIVE: Duration = Duration::from_secs(4);

/// A client-only endpoint on an ephemeral UDP port.
pub fn client_endpoint(controller: SocketAddr) -> anyhow::Result<quinn::Endpoint> {
    let bind: SocketAddr = if controller.is_ipv6() {
        "[::]:0".parse()?
    } else {
        "0.0.0.0:0".parse()?
    };
    quinn::Endpoint::client(bind).context("opening a UDP socket")
}

/// Resolves `HOST:PORT` (DNS names allowed).
pub async fn resolve(controller: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(controller)
        .await
        .with_context(|| format!("resolving {controller:?} (expected HOST:PORT)"))?
        .next()
        .with_context(|| format!("{controller:?} resolves to no address"))
}

fn quic_client_config(tls: rustls::ClientConfig) -> anyhow::Result<quinn::ClientConfig> {
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Client configuration presenting the agent's certificate. Keep one per identity: it holds
/// the TLS session cache, so reconnects offer resumption (which the controller refuses).
pub fn client_config(identity: &Identity) -> anyhow::Result<quinn::ClientConfig> {
    let tls = unity_shared::tls::agent_client_config(
        identity.ca_der.clone(),
        identity.certificate_der.clone(),
        identity.private_key(),
    )?;
    quic_client_config(tls)
}

/// Opens a connection in this agent's protocol version. A controller older than the agent
/// answers the handshake with its own version (the agent offers every older token too, see
/// [`compat::agent_alpns`]): the connection is closed and the error is a [`ControllerTooOld`]
/// saying to update the controller.
pub async fn connect(
    endpoint: &quinn::Endpoint,
    config: quinn::ClientConfig,
    controller: SocketAddr,
) -> anyhow::Result<quinn::Connection> {
    let connecting = endpoint
        .connect_with(config, controller, CONTROLLER_SERVER_NAME)
        .context("starting the handshake")?;
    let connection = tokio::time::timeout(Duration::from_secs(15), connecting)
        .await
        .context("handshake timed out")?
        .context("handshake failed")?;
    let negotiated = connection
        .handshake_data()
        .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|data| data.protocol)
        .and_then(|token| compat::parse_alpn(&token));
    match negotiated {
        Some(PROTOCOL_VERSION) => Ok(connection),
        Some(controller) if controller < PROTOCOL_VERSION => {
            let too_old = ControllerTooOld { controller };
            connection.close(
                error_code::UPGRADE_REQUIRED.into(),
                too_old.to_string().as_bytes(),
            );
            Err(too_old.into())
        }
        other => {
            connection.close(error_code::UPGRADE_REQUIRED.into(), b"no common protocol");
            anyhow::bail!(
                "the controller negotiated protocol {other:?}; this agent speaks only {PROTOCOL_VERSION}"
            )
        }
    }
}

/// The text of a connection failure that only an update cures (of the controller when it is
/// older than this agent, of the agent when the controller closed it with `UPGRADE_REQUIRED`),
/// if `failure` (or the connection's close) is one.
pub fn upgrade_required(
    failure: &anyhow::Error,
    connection: Option<&quinn::Connection>,
) -> Option<String> {
    if let Some(too_old) = failure
        .chain()
        .find_map(|cause| cause.downcast_ref::<ControllerTooOld>())
    {
        return Some(too_old.to_string());
    }
    match connection?.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(error_code::UPGRADE_REQUIRED) =>
        {
            Some(format!(
                "the controller does not serve this agent: {}",
                String::from_utf8_lossy(&close.reason)
            ))
        }
        _ => None,
    }
}

/// Why enrollment did not produce an identity.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The controller said no, with a reason for the user.
    #[error("the controller refused the enrollment: {0}")]
    Refused(unity_shared::proto::EnrollRefusal),
    /// Anything else (network, TLS pin mismatch, ...).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Enrolls with a join token: makes a key pair here, sends only the CSR, and returns the
/// signed certificate with the key.
pub async fn enroll(
    controller: &str,
    token: &str,
    ca_hash: &str,
    host: HostFacts,
) -> Result<(Enrolled, KeyPair), EnrollError> {
    let address = resolve(controller).await?;
    let tls = unity_shared::tls::enrollment_client_config(ca_hash).map_err(anyhow::Error::from)?;
    let config = quic_client_config(tls)?;
    let endpoint = client_endpoint(address)?;
    let connection = connect(&endpoint, config, address).await.with_context(|| {
        format!("connecting to the controller at {controller} (is the --ca-hash right?)")
    })?;
    let (key, csr_der) = crate::identity::new_key_and_csr()?;
    let request = EnrollRequest {
        protocol_version: PROTOCOL_VERSION,
        token: token.trim().to_owned(),
        csr_der,
        host,
    };
    let exchange = async {
        let (mut send, mut recv) = connection.open_bi().await?;
        wire::write(&mut send, &request, frame::MAX_ENROLL_FRAME_LEN).await?;
        let _ = send.finish();
        let response: Option<EnrollResponse> =
            wire::read(&mut recv, frame::MAX_ENROLL_FRAME_LEN).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .context("the controller did not answer the enrollment in time")??;
    connection.close(0u32.into(), b"enrolled");
    endpoint.wait_idle().await;
    match response {
        Some(EnrollResponse::Enrolled(enrolled)) => Ok((enrolled, key)),
        Some(EnrollResponse::Refused(refusal)) => Err(EnrollError::Refused(refusal)),
        None => {
            Err(anyhow::anyhow!("the controller closed the enrollment without an answer").into())
        }
    }
}
