//! Agentless hosts on the wire: hosts that cannot run an agent (a NAS appliance, a router, a
//! hypervisor) are collected over SSH by a *proxy* agent the owner picks. The controller
//! assigns targets to the proxy ([`AssignAgentless`]); the proxy runs the collectors remotely,
//! parses the output with the agent's own parsers and sends each target's reports as the
//! target's own ([`AgentlessReport`]), acknowledged per target. See `docs/agentless.md`.
//!
//! postcard encodes by position: append variants at the end, never reorder (see
//! [`crate::proto`]).

pub use super::names::{SecretValue, SshLine, UnixUser};
use crate::proto::ids::AgentId;
use crate::proto::report::{Ack, HostFacts, Nack, Report};
use serde::{Deserialize, Serialize};

/// Controller -> proxy agent: every host this agent collects over SSH, whole. A target the
/// agent collected before and that is missing here is stopped. Answered with
/// [`AgentlessAssigned`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignAgentless {
    pub targets: Vec<AgentlessTarget>,
}

/// One agentless host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessTarget {
    /// The agentless host's own identity, under which its reports are stored.
    pub host: AgentId,
    /// Host name or IP address to connect to.
    pub address: String,
    pub port: u16,
    pub user: UnixUser,
    /// The OpenSSH private key to log in with, from the secrets store (its scope includes the
    /// proxy host; the proxy keeps it in memory only).
    pub private_key: SecretValue,
    /// The pinned host key. `None`: connect only to learn the key, report it
    /// ([`AgentlessOutcome::HostKeyToConfirm`]) and collect nothing until the owner confirms.
    pub host_key: Option<SshLine>,
    pub interval_secs: u32,
    /// Each remote command is abandoned after this long.
    pub command_timeout_secs: u32,
    pub collectors: AgentlessCollectors,
    /// The last report sequence number the controller stored for this host: the proxy numbers
    /// the next report after it.
    pub last_stored_seq: Option<u64>,
}

/// What to run on an agentless host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessCollectors {
    /// `/proc/loadavg`, `/proc/meminfo`, `/proc/uptime`, `df`.
    pub system: bool,
    /// `smartctl --json` per drive.
    pub smart: bool,
    /// `zpool status -p`, `zpool list`, `zfs list`.
    pub zfs: bool,
    /// `/proc/mdstat`, `mdadm --detail`.
    pub raid: bool,
}

/// Proxy agent -> controller: the assignment is in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessAssigned {
    pub targets: u32,
}

/// Proxy agent -> controller on the session stream: one collection of an agentless host. The
/// controller answers with [`AgentlessAck`] or [`AgentlessNack`] for the same host and seq.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentlessReport {
    pub host: AgentId,
    /// What `uname`, `/etc/os-release` and `/proc` said, when they were read this round.
    pub facts: Option<HostFacts>,
    pub report: Report,
}

/// Proxy agent -> controller on the session stream: how the last attempt on a host went (sent
/// when it changes, not acknowledged: the newest wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessStatus {
    pub host: AgentId,
    pub at_ms: i64,
    pub outcome: AgentlessOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentlessOutcome {
    /// Logged in and collected.
    Collected,
    /// No key is pinned yet: this is the key the host presented, for the owner to confirm.
    HostKeyToConfirm { presented: SshLine },
    /// The host presented another key than the pinned one: refused, nothing sent or collected.
    HostKeyMismatch { presented: SshLine },
    /// The TCP connection or SSH handshake failed or timed out.
    Unreachable { message: String },
    /// The host refused the key.
    AuthenticationFailed { message: String },
    /// Logged in, but a collector's command failed or timed out (others may have worked).
    CommandFailed { command: String, message: String },
}

/// Controller -> proxy agent: an [`AgentlessReport`] is durably stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessAck {
    pub host: AgentId,
    pub ack: Ack,
}

/// Controller -> proxy agent: an [`AgentlessReport`] was not stored (unknown host, not assigned
/// to this proxy, storage failed); the proxy keeps it and retries later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessNack {
    pub host: AgentId,
    pub nack: Nack,
}
