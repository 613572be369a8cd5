//! TLS configuration shared by both ends: TLS 1.3 only, ring crypto, ALPN pinned to the
//! protocol version, and certificate helpers (CA pin hash, agent identity, expiry).

use crate::proto::{compat, AgentId};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Errors building TLS configuration or reading certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the configuration (bad key, unsupported algorithm...).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate could not be parsed as X.509.
    #[error("cannot parse certificate: {0}")]
    BadCertificate(String),
    /// A `--ca-hash` value is not of the form `sha256:<64 hex digits>`.
    #[error("invalid CA hash {0:?}: expected sha256:<64 hex digits>")]
    BadCaHash(String),
    /// The certificate carries no valid agent identity.
    #[error("certificate has no valid agent id: {0}")]
    NoAgentId(String),
}

/// The crypto provider both ends use.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `sha256:<hex>` of the CA certificate's SubjectPublicKeyInfo, as printed in join commands
/// (the same scheme as kubeadm's `--discovery-token-ca-cert-hash`).
pub fn ca_hash(ca_der: &[u8]) -> Result<String, TlsError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(ca_der)
        .map_err(|error| TlsError::BadCertificate(error.to_string()))?;
    let digest = Sha256::digest(certificate.tbs_certificate.subject_pki.raw);
    Ok(format!("sha256:{}", hex::encode(digest)))
}

/// Parses and normalizes a `sha256:<hex>` pin.
pub fn parse_ca_hash(pin: &str) -> Result<String, TlsError> {
    let hex_part = pin
        .strip_prefix("sha256:")
        .ok_or_else(|| TlsError::BadCaHash(pin.to_owned()))?;
    let bytes = hex::decode(hex_part).map_err(|_| TlsError::BadCaHash(pin.to_owned()))?;
    if bytes.len() != 32 {
        return Err(TlsError::BadCaHash(pin.to_owned()));
    }
    Ok(format!("sha256:{}", hex::encode(bytes)))
}

/// The agent id in a certificate's common name.
pub fn agent_id_from_certificate(der: &[u8]) -> Result<AgentId, TlsError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| TlsError::BadCertificate(error.to_string()))?;
    let common_name = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| TlsError::NoAgentId("no common name".into()))?;
    AgentId::new(common_name).map_err(|error| TlsError::NoAgentId(error.to_string()))
}

/// The certificate's `notAfter` as Unix seconds.
pub fn certificate_not_after(der: &[u8]) -> Result<i64, TlsError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| TlsError::BadCertificate(error.to_string()))?;
    Ok(certificate.validity().not_after.timestamp())
}

/// The certificate's `notBefore` as Unix seconds.
pub fn certificate_not_before(der: &[u8]) -> Result<i64, TlsError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| TlsError::BadCertificate(error.to_string()))?;
    Ok(certificate.validity().not_before.timestamp())
}

/// Client configuration for an enrolled agent: trusts only the controller's CA and presents
/// the agent's own certificate.
pub fn agent_client_config(
    ca_der: CertificateDer<'static>,
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca_der)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![certificate], key)?;
    config.alpn_protocols = compat::agent_alpns();
    Ok(config)
}

/// Client configuration for enrollment: no client certificate yet, and the controller is
/// trusted only if its chain contains a CA whose key matches the pinned hash.
pub fn enrollment_client_config(ca_hash: &str) -> Result<ClientConfig, TlsError> {
    let verifier = PinnedCaVerifier {
        pin: parse_ca_hash(ca_hash)?,
        provider: provider(),
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = compat::agent_alpns();
    Ok(config)
}

/// Verifies a server chain against a CA found in the chain itself, accepted only if the hash
/// of its public key equals the pin. Signatures and validity are still fully checked by webpki.
#[derive(Debug)]
struct PinnedCaVerifier {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned_ca = intermediates
            .iter()
            .find(|candidate| ca_hash(candidate).is_ok_and(|hash| hash == self.pin))
            .ok_or_else(|| {
                rustls::Error::General(format!(
                    "the controller's CA does not match the pinned hash {}",
                    self.pin
                ))
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(pinned_ca.clone().into_owned())?;
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|error| rustls::Error::General(error.to_string()))?;
        webpki.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_hash_parsing() {
        let pin = format!("sha256:{}", "AB".repeat(32));
        assert_eq!(
            parse_ca_hash(&pin).unwrap(),
            format!("sha256:{}", "ab".repeat(32))
        );
        assert!(parse_ca_hash("md5:abcd").is_err());
        assert!(parse_ca_hash("sha256:abcd").is_err());
        assert!(parse_ca_hash("sha256:zz").is_err());
    }

    #[test]
    fn garbage_certificates_are_errors() {
        assert!(ca_hash(b"not a cert").is_err());
        assert!(agent_id_from_certificate(&[]).is_err());
        assert!(certificate_not_after(&[0x30, 0x82]).is_err());
    }
}
