//! What can go wrong in a domain function, in words an operator can act on. Each face maps it
//! once: the HTTP faces to a status (`http::error`), the admin socket to an error line.

use crate::storage::series::SeriesError;
use crate::storage::StorageError;
use unity_shared::proto::AgentId;

/// Everything a domain function can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A value given is malformed or out of range (bad id, range, role, lifetime, ...).
    #[error("{0}")]
    Invalid(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what exists (a user name taken, no known update, ...).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (a right, a token's scope); the message says which.
    #[error("{0}")]
    Forbidden(String),
    /// The agent is not connected or did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The series store failed.
    #[error(transparent)]
    Series(#[from] SeriesError),
    /// Anything else that failed inside the controller (hashing, a key file, a registry run);
    /// the detail is for the log and the operator, not for HTTP clients.
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    /// The host the caller named is not known.
    pub fn no_host(agent_id: &AgentId) -> DomainError {
        DomainError::NotFound(format!("no host with agent id {agent_id}"))
    }

    /// An internal failure with its whole chain.
    pub fn internal(error: impl Into<anyhow::Error>) -> DomainError {
        DomainError::Internal(format!("{:#}", error.into()))
    }
}
