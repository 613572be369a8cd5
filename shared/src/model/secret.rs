//! Secrets on the wire. An agent draws the secrets its configuration names (database probe
//! passwords, SSH keys of agentless hosts) from the controller's store over its mTLS session:
//! it asks ([`SecretRequest`]), the controller answers each name with the value only when the
//! secret's scope includes the asking host ([`SecretReply`]), audits every value it sends, and
//! tells the agent to forget values whose scope narrowed, that changed or were removed
//! ([`SecretsWithdrawn`]). The agent keeps values in memory only. See `docs/secrets.md`.
//!
//! postcard encodes by position: append variants at the end, never reorder (see
//! [`crate::proto`]).

pub use super::names::{SecretName, SecretValue};
use serde::{Deserialize, Serialize};

/// Agent -> controller on the session stream: the values of these secrets, please.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRequest {
    /// Chosen by the agent; the reply carries it back.
    pub id: u64,
    pub names: Vec<SecretName>,
}

/// Controller -> agent on the session stream: one answer per requested name, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretReply {
    pub id: u64,
    pub answers: Vec<SecretAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAnswer {
    pub name: SecretName,
    /// `None`: no such secret, or its scope does not include this host (the agent is not told
    /// which, so a compromised agent cannot list the store).
    pub value: Option<SecretValue>,
}

/// Controller -> agent on the session stream: forget these values (scope narrowed, value
/// changed, secret removed); ask again if still needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsWithdrawn {
    pub names: Vec<SecretName>,
}
