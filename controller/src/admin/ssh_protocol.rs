//! The admin socket's `ssh ...` (managed keys) messages: what the operator typed, as text,
//! and the domain's views in answer. A leaf the protocol and the handler both import.

use crate::domain::ssh_access::views::{DriftView, HostAccessView};
use crate::domain::ssh_access::{GrantView, KeyView, PersonView};
use serde::{Deserialize, Serialize};

/// `unity-controller ssh ...` (managed keys) as sent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshAccessRequest {
    People,
    AddPerson {
        name: String,
    },
    RemovePerson {
        name: String,
    },
    AddKey {
        person: String,
        public_key: String,
    },
    RemoveKey {
        fingerprint: String,
    },
    Grants,
    AddGrant(Box<GrantRequest>),
    RemoveGrant {
        id: u64,
    },
    SetHost {
        host: String,
        mode: Option<String>,
        on_drift: Option<String>,
    },
    Status,
    Drift,
    Restore {
        host: String,
    },
    Adopt {
        host: String,
        user: String,
    },
    /// Drop the lines adopted for a user on a host.
    ClearAdopted {
        host: String,
        user: String,
    },
}

impl SshAccessRequest {
    /// Whether it only reads (a viewer's right suffices).
    pub fn reads(&self) -> bool {
        matches!(
            self,
            SshAccessRequest::People
                | SshAccessRequest::Grants
                | SshAccessRequest::Status
                | SshAccessRequest::Drift
        )
    }
}

/// A new grant as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GrantRequest {
    pub person: String,
    pub key: Option<String>,
    pub users: Vec<String>,
    pub host: Option<String>,
    pub group: Option<String>,
    pub expires_in: Option<String>,
    pub from: Vec<String>,
    pub command: Option<String>,
    pub no_port_forwarding: bool,
    pub no_agent_forwarding: bool,
    pub no_pty: bool,
}

/// The answers to [`SshAccessRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshAccessAnswer {
    People(Vec<PersonView>),
    Person(PersonView),
    Key(KeyView),
    Grants(Vec<GrantView>),
    Grant(GrantView),
    Hosts(Vec<HostAccessView>),
    Drift(Vec<DriftView>),
}
