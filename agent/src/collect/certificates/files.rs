//! The file half of the inventory (I/O): walk the configured paths, read the files that may
//! hold certificates and decode them. Directory symlinks are followed once (a loop or a second
//! way to the same directory is walked once); the path reported is the one walked (the
//! letsencrypt `live/` link, not `archive/`). Bounded by the caps: files looked at, bytes per
//! file, depth.

use super::chain::{self, Checks};
use super::parse::{self, Certificate};
use super::select::{self, Candidate};
use super::{Caps, Found};
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use unity_shared::model::certificate::CertificateLocation;

/// Walks `roots` and decodes what they hold into `found`.
///
/// Note that this does blocking I/O: call it from `spawn_blocking`.
pub fn scan(
    roots: &[PathBuf],
    caps: &Caps,
    now_unix: i64,
    trusted: &HashSet<Vec<u8>>,
    found: &mut Found,
) {
    let mut visited_dirs: HashSet<(u64, u64)> = HashSet::new();
    for root in roots {
        let Ok(metadata) = std::fs::metadata(root) else {
            // A default path this host does not have: nothing to say.
            continue;
        };
        if metadata.is_dir() {
            walk(root, 0, caps, now_unix, trusted, &mut visited_dirs, found);
        } else if metadata.is_file() {
            // Given as a file: read even inside a trust store.
            read_file(root, metadata.len(), caps, now_unix, trusted, found);
        }
    }
}

fn walk(
    dir: &Path,
    depth: u32,
    caps: &Caps,
    now_unix: i64,
    trusted: &HashSet<Vec<u8>>,
    visited: &mut HashSet<(u64, u64)>,
    found: &mut Found,
) {
    if depth > caps.max_depth || select::is_trust_store(dir) || found.inventory.truncated {
        return;
    }
    let Ok(metadata) = std::fs::metadata(dir) else {
        return;
    };
    if !visited.insert((metadata.dev(), metadata.ino())) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            found.problem(dir.display().to_string(), format!("cannot list: {error}"));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    for path in paths {
        // Follows symlinks: a link to a regular file or a directory counts as one.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            walk(&path, depth + 1, caps, now_unix, trusted, visited, found);
        } else if metadata.is_file() {
            read_file(&path, metadata.len(), caps, now_unix, trusted, found);
        }
        if found.inventory.truncated {
            return;
        }
    }
}

fn read_file(
    path: &Path,
    size: u64,
    caps: &Caps,
    now_unix: i64,
    trusted: &HashSet<Vec<u8>>,
    found: &mut Found,
) {
    let location = path.display().to_string();
    match select::candidate(path, size, caps.max_file_bytes) {
        Candidate::Skip => return,
        Candidate::Pkcs12 => {
            found.count_file(caps);
            found.problem(
                location,
                "PKCS#12 is not supported: convert it to PEM to have it inventoried".into(),
            );
            return;
        }
        Candidate::Read => {}
    }
    if !found.count_file(caps) {
        return;
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            found.problem(location, format!("cannot read: {error}"));
            return;
        }
    };
    let parsed = parse::parse_file(&bytes);
    drop(bytes);
    for error in &parsed.errors {
        found.problem(location.clone(), error.clone());
    }
    if parsed.certificates.is_empty() {
        if parsed.errors.is_empty() && select::must_hold_certificate(path) {
            found.problem(location, "no certificate in this file".into());
        }
        return;
    }
    if select::is_ca_bundle(&parsed) {
        return;
    }
    let Some(format) = parsed.format else {
        return;
    };
    let checks = Checks {
        now_unix,
        served: false,
        served_name: None,
        trusted_subjects: trusted,
    };
    let problems = chain::problems(&parsed.certificates, &checks);
    let location = CertificateLocation::File {
        path: location,
        format,
    };
    for (position, (certificate, problems)) in
        parsed.certificates.into_iter().zip(problems).enumerate()
    {
        found.add_file_certificate(certificate, &location, position, problems, caps);
    }
}

/// Subjects of the roots in the host's trust store (`ca-certificates.crt` or the Fedora
/// bundle), for the missing-intermediate check; empty when neither is there.
pub fn trusted_subjects() -> HashSet<Vec<u8>> {
    const BUNDLES: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ];
    let mut subjects = HashSet::new();
    for bundle in BUNDLES {
        if let Ok(bytes) = std::fs::read(bundle) {
            let parsed = parse::parse_file(&bytes);
            subjects.extend(
                parsed
                    .certificates
                    .into_iter()
                    .map(|certificate: Certificate| certificate.subject_der),
            );
            break;
        }
    }
    subjects
}
