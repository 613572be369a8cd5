//! TLS for `https://` service checks: the host's trust store, loaded once and only when a
//! check verifies, and a verifier that keeps the leaf certificate the server sent (so its
//! expiry is known whether or not it is trusted) and, when asked, verifies the chain with
//! rustls' WebPKI verifier.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The usual places of the system's CA bundle (Debian, Fedora, Alpine/BSD); the first that
/// exists is read.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The trust store, read at the first check that verifies.
pub struct Roots {
    candidates: Vec<PathBuf>,
    loaded: OnceCell<Result<Arc<RootCertStore>, String>>,
}

impl Roots {
    /// The system's CA bundle.
    pub fn system() -> Roots {
        Roots::from_files(SYSTEM_BUNDLES.iter().map(PathBuf::from).collect())
    }

    /// The first of `candidates` that exists (tests pass their own CA).
    pub fn from_files(candidates: Vec<PathBuf>) -> Roots {
        Roots {
            candidates,
            loaded: OnceCell::new(),
        }
    }

    /// The store, or why there is none.
    pub async fn get(&self) -> Result<Arc<RootCertStore>, String> {
        let candidates = self.candidates.clone();
        self.loaded
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || load(&candidates))
                    .await
                    .unwrap_or_else(|error| Err(format!("reading the trust store: {error}")))
            })
            .await
            .clone()
    }
}

/// Reads the first bundle that exists. Note that this uses blocking I/O.
fn load(candidates: &[PathBuf]) -> Result<Arc<RootCertStore>, String> {
    for path in candidates {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let blocks = pem::parse_many(&bytes)
            .map_err(|error| format!("the trust store {}: {error}", path.display()))?;
        let mut store = RootCertStore::empty();
        let ders = blocks
            .iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| CertificateDer::from(block.contents().to_vec()));
        store.add_parsable_certificates(ders);
        if store.is_empty() {
            return Err(format!(
                "the trust store {} holds no certificate",
                path.display()
            ));
        }
        return Ok(Arc::new(store));
    }
    Err("no system trust store found (ca-certificates not installed?)".into())
}

/// Keeps the leaf the server sent; verifies the chain when it has a WebPKI verifier.
#[derive(Debug)]
pub struct Recorder {
    leaf: Mutex<Option<Vec<u8>>>,
    verifier: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl Recorder {
    /// A recorder that verifies against `roots` when given.
    pub fn new(
        provider: Arc<CryptoProvider>,
        roots: Option<Arc<RootCertStore>>,
    ) -> Result<Recorder, String> {
        let verifier = match roots {
            Some(roots) => Some(
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|error| format!("TLS verifier: {error}"))?,
            ),
            None => None,
        };
        Ok(Recorder {
            leaf: Mutex::new(None),
            verifier,
            provider,
        })
    }

    /// The DER of the leaf certificate the server sent, when it sent one.
    pub fn leaf(&self) -> Option<Vec<u8>> {
        self.leaf.lock().ok().and_then(|leaf| leaf.clone())
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut leaf) = self.leaf.lock() {
            *leaf = Some(end_entity.to_vec());
        }
        match &self.verifier {
            Some(verifier) => verifier.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Ok(ServerCertVerified::assertion()),
        }
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

/// Days from `now_unix` until the certificate in `der` expires (negative once expired).
pub fn days_left(der: &[u8], now_unix: i64) -> Option<f64> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = certificate.validity().not_after.timestamp();
    Some((not_after - now_unix) as f64 / 86_400.0)
}
