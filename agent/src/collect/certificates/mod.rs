//! The certificate inventory (docs/certificates/inventory.md): the certificates in files
//! under the configured paths and those served on the host's listening TLS ports, each with
//! what is wrong with it.
//!
//! - [`parse`] (pure): file bytes or a served DER -> decoded certificates;
//! - [`chain`] (pure): expired, not yet valid, self-signed, wrong order, missing
//!   intermediate, name mismatch;
//! - [`select`] (pure): which files are read, trust stores and CA bundles left out;
//! - [`files`] and [`ports`] do the I/O; [`collect`] runs one round.

pub mod chain;
pub mod files;
pub mod parse;
pub mod ports;
pub mod select;

#[cfg(test)]
mod tests;

use parse::Certificate;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;
use unity_shared::model::certificate::{
    CertificateInventory, CertificateLocation, ChainProblem, FoundCertificate, InventoryProblem,
};

/// The paths walked when the configuration names none (`[certificates] paths`).
pub const DEFAULT_PATHS: &[&str] = &[
    "/etc/ssl",
    "/etc/letsencrypt/live",
    "/etc/nginx",
    "/etc/caddy",
    "/var/lib/caddy",
    "/etc/traefik",
    "/etc/pve",
    "/etc/cockpit/ws-certs.d",
    "/etc/haproxy",
    "/etc/apache2",
    "/etc/httpd",
    "/etc/lighttpd",
    "/etc/postfix",
    "/etc/dovecot",
    "/etc/pki/tls/private",
    "/etc/mosquitto",
    "/etc/unifi",
];

/// What bounds one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// Files read (certificate candidates) per round.
    pub max_files: u32,
    /// A larger file is not read.
    pub max_file_bytes: u64,
    /// Directory levels below each configured path.
    pub max_depth: u32,
    /// Certificates kept per round.
    pub max_certificates: u32,
    /// Listening ports tried per round.
    pub max_ports: usize,
    /// Per port: connect and handshake.
    pub probe_timeout: Duration,
    /// Handshakes at once.
    pub probe_concurrency: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_files: 5_000,
            max_file_bytes: 1024 * 1024,
            max_depth: 8,
            max_certificates: 5_000,
            max_ports: 200,
            probe_timeout: Duration::from_secs(2),
            probe_concurrency: 16,
        }
    }
}

/// The `[certificates]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatesConfig {
    pub enabled: bool,
    pub interval: Duration,
    /// Walked in order: the defaults, or the file's `paths`.
    pub paths: Vec<PathBuf>,
    /// Walked after `paths`.
    pub extra_paths: Vec<PathBuf>,
    /// Shake hands with the host's listening TCP ports.
    pub probe_ports: bool,
    pub caps: Caps,
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        CertificatesConfig {
            enabled: true,
            interval: Duration::from_secs(3600),
            paths: DEFAULT_PATHS.iter().map(PathBuf::from).collect(),
            extra_paths: Vec::new(),
            probe_ports: true,
            caps: Caps::default(),
        }
    }
}

/// One round's findings while they are gathered: the inventory and the files' certificates
/// seen so far (by SHA-256; the first location walked is kept).
#[derive(Debug, Default)]
pub struct Found {
    pub inventory: CertificateInventory,
    seen_in_files: HashSet<String>,
}

/// Problems kept per round (the rest are counted in the last one).
const MAX_PROBLEMS: usize = 500;

impl Found {
    fn problem(&mut self, location: String, message: String) {
        if self.inventory.problems.len() < MAX_PROBLEMS {
            self.inventory
                .problems
                .push(InventoryProblem { location, message });
        } else {
            self.inventory.truncated = true;
        }
    }

    /// Counts a file read; `false` (and the round truncated) past `max_files`.
    fn count_file(&mut self, caps: &Caps) -> bool {
        if self.inventory.files_scanned >= caps.max_files {
            self.inventory.truncated = true;
            return false;
        }
        self.inventory.files_scanned += 1;
        true
    }

    fn add_file_certificate(
        &mut self,
        certificate: Certificate,
        location: &CertificateLocation,
        position: usize,
        problems: Vec<ChainProblem>,
        caps: &Caps,
    ) {
        if self.seen_in_files.insert(certificate.sha256_hex.clone()) {
            self.add(certificate, location, position, problems, caps);
        }
    }

    fn add(
        &mut self,
        certificate: Certificate,
        location: &CertificateLocation,
        position: usize,
        problems: Vec<ChainProblem>,
        caps: &Caps,
    ) {
        if self.inventory.certificates.len() >= caps.max_certificates as usize {
            self.inventory.truncated = true;
            return;
        }
        self.inventory.certificates.push(found_certificate(
            certificate,
            location.clone(),
            position,
            problems,
        ));
    }
}

/// The wire form of a decoded certificate found at `location`.
pub fn found_certificate(
    certificate: Certificate,
    location: CertificateLocation,
    position: usize,
    problems: Vec<ChainProblem>,
) -> FoundCertificate {
    FoundCertificate {
        location,
        position: u32::try_from(position).unwrap_or(u32::MAX),
        subject: certificate.subject,
        names: certificate.names,
        issuer: certificate.issuer,
        serial_hex: certificate.serial_hex,
        not_before_unix: certificate.not_before_unix,
        not_after_unix: certificate.not_after_unix,
        key: certificate.key,
        is_ca: certificate.is_ca,
        sha256_hex: certificate.sha256_hex,
        problems,
    }
}

/// One round: the files under the configured paths, then (when enabled) the listening ports,
/// handshaking with the host's name as SNI.
pub async fn collect(config: &CertificatesConfig) -> anyhow::Result<CertificateInventory> {
    let now_unix = crate::clock::now_seconds();
    let roots: Vec<PathBuf> = config
        .paths
        .iter()
        .chain(&config.extra_paths)
        .cloned()
        .collect();
    let caps = config.caps.clone();
    let probe_ports = config.probe_ports;
    let (mut found, trusted, targets, host_name) = tokio::task::spawn_blocking(move || {
        let trusted = files::trusted_subjects();
        let mut found = Found::default();
        files::scan(&roots, &caps, now_unix, &trusted, &mut found);
        let targets = if probe_ports {
            ports::listening_targets(std::path::Path::new("/proc"))
        } else {
            Vec::new()
        };
        let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        (found, trusted, targets, host_name)
    })
    .await?;
    if probe_ports {
        ports::probe_all(
            targets,
            host_name,
            &config.caps,
            now_unix,
            &trusted,
            &mut found,
        )
        .await;
    }
    Ok(found.inventory)
}
