//! The agent's identity on disk: its key and certificate (`identity.pem`, mode 0600, one file
//! so that a renewal replaces both atomically), the controller's CA (`ca.crt`) and where the
//! controller is (`identity.toml`). The private key is made here and never leaves this host.
//! Note that this module uses blocking I/O.

use anyhow::Context as _;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use unity_shared::proto::AgentId;

const IDENTITY_PEM: &str = "identity.pem";
const CA_CERT: &str = "ca.crt";
const IDENTITY_TOML: &str = "identity.toml";

/// `identity.toml` as written; [`load`] checks its id into an [`AgentId`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdentityFile {
    agent_id: String,
    controller: String,
}

/// What the agent needs to connect.
#[derive(Clone)]
pub struct Identity {
    pub agent_id: AgentId,
    pub controller: String,
    pub ca_der: CertificateDer<'static>,
    pub certificate_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("agent_id", &self.agent_id)
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

/// A fresh key pair and a CSR for it. The CSR asks for nothing: the controller decides.
pub fn new_key_and_csr() -> anyhow::Result<(KeyPair, Vec<u8>)> {
    let key = KeyPair::generate().context("generating a key pair")?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "unity-agent");
    params.distinguished_name = name;
    let csr = params
        .serialize_request(&key)
        .context("creating a certificate signing request")?;
    Ok((key, csr.der().to_vec()))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    crate::fsutil::write_atomically(path, contents, 0o600)
}

fn pem(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der.to_vec()))
}

/// Stores the certificate and its key together (atomically replacing an older pair).
pub fn store_certificate(
    data_dir: &Path,
    certificate_der: &[u8],
    key: &KeyPair,
) -> anyhow::Result<()> {
    let mut contents = pem("CERTIFICATE", certificate_der);
    contents.push_str(&key.serialize_pem());
    write_private(&data_dir.join(IDENTITY_PEM), contents.as_bytes())
}

/// Stores everything enrollment produced.
pub fn store_enrollment(
    data_dir: &Path,
    agent_id: &AgentId,
    controller: &str,
    ca_der: &[u8],
    certificate_der: &[u8],
    key: &KeyPair,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    store_certificate(data_dir, certificate_der, key)?;
    crate::fsutil::write_atomically(
        &data_dir.join(CA_CERT),
        pem("CERTIFICATE", ca_der).as_bytes(),
        0o644,
    )?;
    let file = IdentityFile {
        agent_id: agent_id.to_string(),
        controller: controller.to_owned(),
    };
    write_private(
        &data_dir.join(IDENTITY_TOML),
        toml::to_string(&file)?.as_bytes(),
    )
}

pub fn is_enrolled(data_dir: &Path) -> bool {
    data_dir.join(IDENTITY_TOML).exists() && data_dir.join(IDENTITY_PEM).exists()
}

/// Loads the identity; a clear error tells the user to enroll first.
pub fn load(data_dir: &Path) -> anyhow::Result<Identity> {
    let toml_path = data_dir.join(IDENTITY_TOML);
    let text = std::fs::read_to_string(&toml_path).with_context(|| {
        format!(
            "this agent is not enrolled ({} missing); run `unity-agent enroll --controller HOST:PORT --token TOKEN --ca-hash sha256:...` first",
            toml_path.display()
        )
    })?;
    let file: IdentityFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", toml_path.display()))?;
    let pem_path = data_dir.join(IDENTITY_PEM);
    let pem_bytes =
        std::fs::read(&pem_path).with_context(|| format!("reading {}", pem_path.display()))?;
    let certificate_der = CertificateDer::from_pem_slice(&pem_bytes)
        .with_context(|| format!("no certificate in {}", pem_path.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&pem_bytes)
        .with_context(|| format!("no private key in {}", pem_path.display()))?;
    let key_der = key.secret_der().to_vec();
    let ca_path = data_dir.join(CA_CERT);
    let ca_der = CertificateDer::from_pem_file(&ca_path)
        .with_context(|| format!("reading {}", ca_path.display()))?;
    Ok(Identity {
        agent_id: AgentId::new(file.agent_id)?,
        controller: file.controller,
        ca_der,
        certificate_der,
        key_der,
    })
}

impl Identity {
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    pub fn not_after_unix(&self) -> Option<i64> {
        unity_shared::tls::certificate_not_after(&self.certificate_der).ok()
    }

    pub fn not_before_unix(&self) -> Option<i64> {
        unity_shared::tls::certificate_not_before(&self.certificate_der).ok()
    }
}

/// The data directory's spool folder.
pub fn spool_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("spool")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_round_trips() {
        for len in 0..10 {
            let der: Vec<u8> = (0..len as u8).collect();
            let text = pem("CERTIFICATE", &der);
            let parsed = CertificateDer::from_pem_slice(text.as_bytes());
            if len == 0 {
                continue;
            }
            assert_eq!(parsed.unwrap().as_ref(), der.as_slice());
        }
    }

    #[test]
    fn unenrolled_agent_gets_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("not enrolled"));
    }
}
