//! The OCI distribution API client: [`RegistryClient`] with anonymous, Basic and bearer-token
//! auth ([`auth`]), rate-limit tracking ([`ratelimit`]) and a result cache ([`cache`]).

pub mod auth;
pub mod cache;
mod client;
pub mod ratelimit;
mod transport;

pub use client::{ClientOptions, RegistryClient};

use std::time::SystemTime;

/// A repository in a registry, both normalised (see [`super::reference`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repo {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/nginx`.
    pub repository: String,
}

impl Repo {
    pub fn new(registry: impl Into<String>, repository: impl Into<String>) -> Repo {
        Repo {
            registry: registry.into(),
            repository: repository.into(),
        }
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// A registry request that failed; the message is meant for the operator, per container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No connection (refused, DNS, TLS, timeout).
    #[error("registry {registry} unreachable: {reason}")]
    Unreachable { registry: String, reason: String },
    /// Credentials were sent and rejected (by the registry or its token server).
    #[error("registry {registry} refused the credentials ({status})")]
    Refused { registry: String, status: u16 },
    /// The registry wants credentials and none are configured for it.
    #[error("registry {registry} requires credentials ({status}); none are configured")]
    CredentialsRequired { registry: String, status: u16 },
    /// Authenticated, but not allowed to pull this repository.
    #[error("registry {registry} denied access to {repository} (403)")]
    Denied {
        registry: String,
        repository: String,
    },
    /// The tag, manifest or blob does not exist.
    #[error("registry {registry}: {what} not found (404)")]
    NotFound { registry: String, what: String },
    /// The registry answered 429 (or is still backing off from one).
    #[error("registry {registry} rate limited until {}", humantime::format_rfc3339_seconds(*until))]
    RateLimited { registry: String, until: SystemTime },
    /// Any other unexpected status.
    #[error("registry {registry} answered {status} for {what}")]
    Status {
        registry: String,
        status: u16,
        what: String,
    },
    /// The registry's answer made no sense (bad JSON, missing digest, digest mismatch).
    #[error("registry {registry}: {message}")]
    Protocol { registry: String, message: String },
    /// The HTTP client could not be built (TLS roots).
    #[error("registry client: {0}")]
    Setup(String),
}

impl RegistryError {
    /// The registry the error is about, if any.
    pub fn registry(&self) -> Option<&str> {
        match self {
            RegistryError::Unreachable { registry, .. }
            | RegistryError::Refused { registry, .. }
            | RegistryError::CredentialsRequired { registry, .. }
            | RegistryError::Denied { registry, .. }
            | RegistryError::NotFound { registry, .. }
            | RegistryError::RateLimited { registry, .. }
            | RegistryError::Status { registry, .. }
            | RegistryError::Protocol { registry, .. } => Some(registry),
            RegistryError::Setup(_) => None,
        }
    }
}
