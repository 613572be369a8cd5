//! Client certificate verification with revocation, and the controller's TLS server config.
//!
//! Session resumption is disabled on the server (no tickets, no session cache), so every
//! handshake — including one where the client offers to resume — verifies the client
//! certificate and checks it against the revocation list.

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use unity_shared::proto::{compat, AgentId};

/// The set of revoked agent ids, shared between the verifier and the admin commands.
#[derive(Debug, Clone, Default)]
pub struct Revocations(Arc<RwLock<HashSet<AgentId>>>);

impl Revocations {
    pub fn new(revoked: impl IntoIterator<Item = AgentId>) -> Revocations {
        Revocations(Arc::new(RwLock::new(revoked.into_iter().collect())))
    }

    pub fn revoke(&self, agent_id: AgentId) {
        if let Ok(mut set) = self.0.write() {
            set.insert(agent_id);
        }
    }

    /// A poisoned lock counts as revoked: fail closed.
    pub fn is_revoked(&self, agent_id: &AgentId) -> bool {
        self.0
            .read()
            .map(|set| set.contains(agent_id))
            .unwrap_or(true)
    }
}

#[derive(Debug)]
struct AgentCertVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
    revocations: Revocations,
}

impl ClientCertVerifier for AgentCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// Connections without a certificate are allowed, but may only enroll.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now)?;
        let agent_id = unity_shared::tls::agent_id_from_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if self.revocations.is_revoked(&agent_id) {
            tracing::warn!(agent = %agent_id, "Refused handshake of a revoked agent.");
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// TLS 1.3 server configuration: the controller's chain, optional client certificates from
/// our CA only, revocation checked at every handshake, and no session resumption.
pub fn server_config(
    ca: &super::CertificateAuthority,
    revocations: Revocations,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = unity_shared::tls::provider();
    let verifier = agent_verifier(ca, revocations)?;
    let (chain, key) = ca.server_identity();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // Every `unity/<n>`: an agent of a version not served is told why after the handshake
    // (see `transport::serve_connection`) instead of failing it.
    config.alpn_protocols = compat::controller_alpns();
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.max_early_data_size = 0;
    Ok(config)
}

/// The client certificate verifier of the QUIC endpoint: the agent CA's root is the only trust
/// anchor (never the services CA's), and webpki requires the `clientAuth` extended key usage,
/// so a service certificate (`serverAuth` only) is refused even if it came from the agent CA.
pub fn agent_verifier(
    ca: &super::CertificateAuthority,
    revocations: Revocations,
) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
    let provider = unity_shared::tls::provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone())?;
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|error| rustls::Error::General(error.to_string()))?;
    Ok(Arc::new(AgentCertVerifier {
        webpki,
        revocations,
    }))
}
