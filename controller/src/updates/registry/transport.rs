//! Helpers for [`super::RegistryClient`]: headers, `Link` paging, content checks, transport
//! error messages and the rustls configuration (ring, the system's trust store).

use super::{RegistryError, Repo};
use sha2::{Digest, Sha256};

pub(super) fn basic(username: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{secret}"));
    format!("Basic {encoded}")
}

pub(super) fn header_str<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// `<url>; rel="next"` from a `Link` header.
pub(super) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, parameters) = part.split_once(';')?;
        parameters.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

pub(super) fn check_content(repo: &Repo, digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    let Some(expected) = digest.strip_prefix("sha256:") else {
        return Ok(()); // Other algorithms are not verified.
    };
    if hex::encode(Sha256::digest(bytes)) != expected {
        return Err(RegistryError::Protocol {
            registry: repo.registry.clone(),
            message: format!("content does not match {digest}"),
        });
    }
    Ok(())
}

/// A short reason from a transport error: "connection refused", "timed out", or the innermost
/// cause.
pub(super) fn unreachable(registry: &str, error: &reqwest::Error) -> RegistryError {
    let mut reason = if error.is_timeout() {
        "timed out".to_string()
    } else {
        chain(error)
    };
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                reason = "connection refused".into();
            }
        }
        source = current.source();
    }
    RegistryError::Unreachable {
        registry: registry.into(),
        reason,
    }
}

/// The innermost cause's message.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        last = current.to_string();
        source = current.source();
    }
    last
}

pub(super) fn tls_config() -> Result<rustls::ClientConfig, RegistryError> {
    crate::outbound::tls_config(Vec::new()).map_err(|error| RegistryError::Setup(error.to_string()))
}
