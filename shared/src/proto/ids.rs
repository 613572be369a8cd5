//! The identities on the wire: the agent id the controller assigns (carried in the agent's
//! certificate) and the instance id of one installation of it. A leaf: imports nothing of the
//! protocol, so model types can name an agent without importing the protocol's messages.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The identity the controller assigns to an agent at enrollment; carried in the agent's
/// certificate (common name) and never taken from anything the agent says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentId(String);

/// An agent id is 1 to 64 characters of `[a-z0-9-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agent id {0:?}: expected 1 to 64 characters of a-z, 0-9 and '-'")]
pub struct InvalidAgentId(pub String);

impl AgentId {
    pub fn new(id: impl Into<String>) -> Result<AgentId, InvalidAgentId> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(AgentId(id))
        } else {
            Err(InvalidAgentId(id))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for AgentId {
    type Err = InvalidAgentId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentId::new(s)
    }
}

/// One installation of an agent identity: made at the agent's first start and made anew
/// whenever its data directory turns up on another machine (a clone or a move). Two live
/// instances of one [`AgentId`] mean two hosts share one identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceId([u8; 16]);

/// An instance id is 32 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid instance id {0:?}: expected 32 hexadecimal digits")]
pub struct InvalidInstanceId(pub String);

impl InstanceId {
    pub const fn from_bytes(bytes: [u8; 16]) -> InstanceId {
        InstanceId(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({self})")
    }
}

impl std::str::FromStr for InstanceId {
    type Err = InvalidInstanceId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| InvalidInstanceId(s.to_owned()))?;
        Ok(InstanceId(bytes))
    }
}
