//! Which files the inventory reads and which it leaves out (pure, over paths and what a file
//! held): trust stores are not service certificates, files that cannot be certificates are
//! not read, and a CA bundle found elsewhere is left out too. The rules are written down in
//! `docs/certificates/inventory.md`.

use super::parse::ParsedFile;
use std::path::Path;

/// Directories that hold the host's trusted roots, not its services' certificates: never
/// walked into (a path given explicitly as a file is still read).
pub const TRUST_STORES: &[&str] = &[
    "/etc/ssl/certs",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
    "/etc/ca-certificates",
    "/etc/pki/ca-trust",
    "/etc/pki/tls/certs",
    "/etc/pki/java",
    "/etc/ssl/java",
    "/usr/share/pki",
];

/// The directory is (inside) a trust store.
pub fn is_trust_store(path: &Path) -> bool {
    TRUST_STORES.iter().any(|store| path.starts_with(store))
}

/// Extensions of files that may hold certificates (`.key` for combined key + certificate
/// files; letsencrypt-style files without an extension are read too).
const EXTENSIONS: &[&str] = &[
    "pem", "crt", "cer", "cert", "der", "key", "p12", "pfx", "chain",
];

/// What to do with a file found while walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// Read it and decode it.
    Read,
    /// A PKCS#12 file: reported as not supported.
    Pkcs12,
    /// Not a certificate file by its name or size: not read.
    Skip,
}

/// Decides by name and size. `max_bytes` caps any certificate file; a file without an
/// extension must also be small (64 KiB) to be read.
pub fn candidate(path: &Path, size: u64, max_bytes: u64) -> Candidate {
    if size == 0 || size > max_bytes {
        return Candidate::Skip;
    }
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("p12" | "pfx") => Candidate::Pkcs12,
        Some(extension) if EXTENSIONS.contains(&extension) => Candidate::Read,
        None if size <= 64 * 1024 => Candidate::Read,
        _ => Candidate::Skip,
    }
}

/// The file's extension says it is a certificate: one that holds none is a problem worth
/// reporting (a `.key` or extensionless file without a certificate is not).
pub fn must_hold_certificate(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .is_some_and(|extension| matches!(extension.as_str(), "crt" | "cer" | "cert" | "der"))
}

/// A CA bundle: three or more certificates, every one a CA, and no private key. Such a file
/// is a trust list wherever it lies, and is left out.
pub fn is_ca_bundle(parsed: &ParsedFile) -> bool {
    parsed.private_keys == 0
        && parsed.certificates.len() >= 3
        && parsed
            .certificates
            .iter()
            .all(|certificate| certificate.is_ca)
}
