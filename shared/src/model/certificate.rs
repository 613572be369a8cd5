//! Certificates on the wire: what an agent finds on its host (the inventory, carried in
//! reports), and the commands that issue and deliver a *managed* certificate, whose private key
//! the agent makes on its host and never sends (it answers with a CSR). See
//! `docs/certificates.md`.
//!
//! postcard encodes by position: append variants at the end, never reorder (see
//! [`crate::proto`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// What one inventory round found on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CertificateInventory {
    /// Every certificate found, in files and served on listening TLS ports.
    pub certificates: Vec<FoundCertificate>,
    /// Files and ports that could not be read or understood, with why.
    pub problems: Vec<InventoryProblem>,
    /// Files looked at (certificates or not).
    pub files_scanned: u32,
    /// Listening ports a TLS handshake was tried on.
    pub ports_probed: u32,
    /// The round stopped at one of its caps (files, certificates); what is here is a part.
    pub truncated: bool,
}

/// One certificate, where it was found and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCertificate {
    pub location: CertificateLocation,
    /// Its place in the file or the served chain: 0 is the first (the leaf of a chain).
    pub position: u32,
    /// The subject as an RFC 4514 string (`CN=nas.home.arpa,O=Home`).
    pub subject: String,
    pub names: Vec<SubjectName>,
    /// The issuer as an RFC 4514 string.
    pub issuer: String,
    /// The serial number, lowercase hex without separators.
    pub serial_hex: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub key: PublicKeyKind,
    /// Basic constraints say CA.
    pub is_ca: bool,
    /// SHA-256 over the DER, lowercase hex: the same certificate found twice has one.
    pub sha256_hex: String,
    pub problems: Vec<ChainProblem>,
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SubjectName {
    Dns(String),
    Ip(IpAddr),
    Email(String),
    Uri(String),
}

impl fmt::Display for SubjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectName::Dns(name) => write!(f, "DNS:{name}"),
            SubjectName::Ip(ip) => write!(f, "IP:{ip}"),
            SubjectName::Email(email) => write!(f, "email:{email}"),
            SubjectName::Uri(uri) => write!(f, "URI:{uri}"),
        }
    }
}

/// The certificate's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicKeyKind {
    Rsa {
        bits: u32,
    },
    /// `curve` is the curve's common name (`P-256`, `P-384`, `P-521`) or its OID.
    Ecdsa {
        curve: String,
    },
    Ed25519,
    Ed448,
    /// Any other algorithm, by OID.
    Other {
        oid: String,
    },
}

/// Where a certificate was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateLocation {
    File {
        path: String,
        format: FileFormat,
    },
    /// Served by a TLS listener on the host.
    Port {
        /// The address the listener is bound to, e.g. `0.0.0.0` or `::1`.
        address: String,
        port: u16,
        /// The listening process (`nginx`), when the agent could tell.
        process: Option<String>,
        /// The server name sent in the handshake (SNI), if any.
        server_name: Option<String>,
    },
}

/// How a certificate file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileFormat {
    Pem,
    Der,
    Pkcs12,
}

impl FileFormat {
    /// The name the CLI's and the API's JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Pem => "pem",
            FileFormat::Der => "der",
            FileFormat::Pkcs12 => "pkcs12",
        }
    }
}

/// Something wrong with a certificate or the chain it came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainProblem {
    /// Expired at `not_after`.
    Expired,
    /// `not_before` is still in the future.
    NotYetValid,
    /// Issued by itself and not a CA the host trusts: clients will warn.
    SelfSigned,
    /// The served chain stops at a certificate whose issuer (this name) is neither in the
    /// chain nor a root the host trusts.
    MissingIntermediate { issuer: String },
    /// The leaf is not valid for the name it was served for.
    NameMismatch { name: String },
    /// The next certificate in the chain did not issue this one.
    WrongOrder,
}

/// A file or port the inventory could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryProblem {
    /// A path, or `address:port`.
    pub location: String,
    pub message: String,
}

/// The name of a managed certificate: 1 to 64 characters of `[a-z0-9-]`. The agent uses it
/// as a file name, so nothing else gets through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertificateName(String);

/// Names are 1 to 64 characters of `[a-z0-9-]`, not starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid certificate name {0:?}: expected 1 to 64 characters of a-z, 0-9 and '-', not starting with '-'"
)]
pub struct InvalidCertificateName(pub String);

impl CertificateName {
    pub fn new(name: impl Into<String>) -> Result<CertificateName, InvalidCertificateName> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(CertificateName(name))
        } else {
            Err(InvalidCertificateName(name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CertificateName {
    type Error = InvalidCertificateName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        CertificateName::new(name)
    }
}

impl From<CertificateName> for String {
    fn from(name: CertificateName) -> String {
        name.0
    }
}

impl fmt::Display for CertificateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for CertificateName {
    type Err = InvalidCertificateName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CertificateName::new(s)
    }
}

/// The key a managed certificate's host makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeyType {
    #[default]
    EcdsaP256,
    Rsa2048,
    Rsa3072,
    Ed25519,
}

/// Controller -> agent: make a fresh key for `certificate` and answer with a CSR over it
/// ([`CertificateCsr`]). The key stays on the host, pending, until [`InstallCertificate`]
/// brings a certificate for it; a later request replaces a pending key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareCertificate {
    pub certificate: CertificateName,
    pub key_type: KeyType,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
}

/// The agent's answer to [`PrepareCertificate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateCsr {
    pub csr_der: Vec<u8>,
}

/// Where the agent writes a managed certificate. Every path is absolute; each file is
/// replaced atomically (write, fsync, rename).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CertificateFiles {
    /// The leaf alone.
    pub cert: Option<String>,
    /// The intermediates alone.
    pub chain: Option<String>,
    /// The leaf, then the intermediates.
    pub fullchain: Option<String>,
    /// The private key (PKCS#8 PEM).
    pub key: Option<String>,
    /// One PEM: leaf, intermediates, then the key (HAProxy, some appliances).
    pub combined: Option<String>,
    /// The files' owner and group, by name (default: root).
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Mode of the files holding the key (`key`, `combined`); the others are readable by all.
    pub key_mode: u32,
}

/// Controller -> agent: install the certificate issued for the pending key of
/// `certificate`, then run `reload` (argv, no shell) through the agent's exec layer. If the
/// reload fails, the previous files are put back and the agent answers `Failed` saying so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallCertificate {
    pub certificate: CertificateName,
    /// PEM: the leaf first, then the intermediates (not the root).
    pub chain_pem: String,
    pub files: CertificateFiles,
    pub reload: Option<Vec<String>>,
}

/// The agent's answer to [`InstallCertificate`]: the files are in place (and reloaded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInstalled {
    pub serial_hex: String,
    pub not_after_unix: i64,
    /// The reload command ran and exited 0 (false when there was none).
    pub reloaded: bool,
}

/// How the agent answers an ACME HTTP-01 challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeListener {
    /// A short-lived HTTP listener on this port (80 in production) on all addresses.
    Port(u16),
    /// A file under `<webroot>/.well-known/acme-challenge/` served by the host's web server.
    Webroot(String),
}

/// Controller -> agent: answer `GET /.well-known/acme-challenge/<token>` with
/// `key_authorization` for `lifetime_secs`, then stop (or remove the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeHttpChallenge {
    pub token: String,
    pub key_authorization: String,
    pub listener: ChallengeListener,
    pub lifetime_secs: u32,
}

/// The agent's answer to [`ServeHttpChallenge`]: the challenge is being served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeServing {
    /// Where: `0.0.0.0:80` or the file's path.
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_are_file_name_safe() {
        for good in ["nas", "web-1", "a", &"x".repeat(64)] {
            assert!(CertificateName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-x",
            "../etc",
            "a/b",
            "A",
            "a.b",
            "a b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(CertificateName::new(bad).is_err(), "{bad:?}");
        }
        // The wire does not bypass the check.
        let bytes = postcard::to_allocvec(&"../x".to_owned()).unwrap();
        assert!(postcard::from_bytes::<CertificateName>(&bytes).is_err());
    }
}
