//! What the faces show of managed SSH access: people and keys, grants with their expiry,
//! each host's settings and last answer, and drift (found against expected), as plain
//! serialisable views with words for the enums.

use crate::storage::ssh_access::{
    GrantRecord, GrantTarget, PersonRecord, SshHostRecord, SshKeyRecord,
};
use serde::{Deserialize, Serialize};
use unity_shared::model::ssh::{AccessOutcome, AuthorizedKeysMode, DriftAction, UserAccessOutcome};
use unity_shared::proto::AgentId;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyView {
    pub person: String,
    pub fingerprint: String,
    pub algorithm: String,
    pub bits: u32,
    pub comment: String,
    pub added_by: String,
    pub added_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonView {
    pub name: String,
    pub keys: Vec<KeyView>,
    pub added_by: String,
    pub added_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantView {
    pub id: u64,
    pub person: String,
    /// One key's fingerprint, or `None` for all the person's keys.
    pub key: Option<String>,
    pub users: Vec<String>,
    /// `Some` for a grant on one host.
    pub host: Option<AgentId>,
    /// `Some` for a grant on a host group.
    pub group: Option<String>,
    pub expires_at_ms: Option<i64>,
    /// Past its expiry: no longer delivered.
    pub expired: bool,
    pub from: Vec<String>,
    pub command: Option<String>,
    pub no_port_forwarding: bool,
    pub no_agent_forwarding: bool,
    pub no_pty: bool,
    pub added_by: String,
    pub added_at_ms: i64,
}

/// One user's outcome in an agent's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutcomeView {
    pub user: String,
    /// `unchanged`, `written`, `removed`, `drift`, `restored`, `failed`.
    pub outcome: String,
    pub keys: Option<u32>,
    /// The hand-edited lines (drift, restored).
    pub found: Vec<String>,
    pub message: Option<String>,
}

/// A host's settings and its agent's last answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostAccessView {
    pub host: AgentId,
    /// `block` or `file`.
    pub mode: String,
    /// `report` or `restore`.
    pub on_drift: String,
    /// The generation of the desired keys.
    pub generation: u64,
    /// The generation the agent last answered for.
    pub applied_generation: Option<u64>,
    pub applied_at_ms: Option<i64>,
    pub error: Option<String>,
    pub users: Vec<OutcomeView>,
    /// Lines adopted from hand edits, per user.
    pub adopted: Vec<(String, Vec<String>)>,
}

/// A hand edit an agent reported and left in place.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftView {
    pub host: AgentId,
    pub user: String,
    /// What the managed block holds now.
    pub found: Vec<String>,
    /// What Unity wants there.
    pub expected: Vec<String>,
    /// Lines found and not expected.
    pub added: Vec<String>,
    /// Lines expected and not found.
    pub missing: Vec<String>,
    pub at_ms: i64,
}

pub fn mode_word(mode: AuthorizedKeysMode) -> &'static str {
    match mode {
        AuthorizedKeysMode::Block => "block",
        AuthorizedKeysMode::File => "file",
    }
}

pub fn drift_word(action: DriftAction) -> &'static str {
    match action {
        DriftAction::Report => "report",
        DriftAction::Restore => "restore",
    }
}

pub fn key(person: &str, key: &SshKeyRecord) -> KeyView {
    KeyView {
        person: person.to_owned(),
        fingerprint: key.fingerprint.clone(),
        algorithm: key.algorithm.clone(),
        bits: key.bits,
        comment: key.comment.clone(),
        added_by: key.added_by.clone(),
        added_at_ms: key.added_at_ms,
    }
}

pub fn person(record: &PersonRecord) -> PersonView {
    PersonView {
        name: record.name.clone(),
        keys: record.keys.iter().map(|k| key(&record.name, k)).collect(),
        added_by: record.added_by.clone(),
        added_at_ms: record.added_at_ms,
    }
}

pub fn grant(record: &GrantRecord, now_ms: i64) -> GrantView {
    let (host, group) = match &record.target {
        GrantTarget::Host(host) => (Some(host.clone()), None),
        GrantTarget::HostGroup(group) => (None, Some(group.clone())),
    };
    GrantView {
        id: record.id,
        person: record.person.clone(),
        key: record.key.clone(),
        users: record.users.iter().map(ToString::to_string).collect(),
        host,
        group,
        expires_at_ms: record.expires_at_ms,
        expired: !super::desired::active(record, now_ms),
        from: record.options.from.clone(),
        command: record.options.command.clone(),
        no_port_forwarding: record.options.no_port_forwarding,
        no_agent_forwarding: record.options.no_agent_forwarding,
        no_pty: record.options.no_pty,
        added_by: record.added_by.clone(),
        added_at_ms: record.added_at_ms,
    }
}

/// A grant in one line of the audit log.
pub fn grant_summary(grant: &GrantView) -> String {
    let target = match (&grant.host, &grant.group) {
        (Some(host), _) => format!("host {host}"),
        (_, Some(group)) => format!("group {group}"),
        _ => String::new(),
    };
    format!(
        "grant {} {} as {} on {target}{}",
        grant.id,
        grant.person,
        grant.users.join(","),
        grant
            .expires_at_ms
            .map(|at| format!(" until {at}"))
            .unwrap_or_default()
    )
}

pub fn outcome(outcome: &UserAccessOutcome) -> OutcomeView {
    let (word, keys, found, message) = match &outcome.outcome {
        AccessOutcome::Unchanged => ("unchanged", None, vec![], None),
        AccessOutcome::Written { keys } => ("written", Some(*keys), vec![], None),
        AccessOutcome::Removed => ("removed", None, vec![], None),
        AccessOutcome::Drift { found } => ("drift", None, found.clone(), None),
        AccessOutcome::Restored { found } => ("restored", None, found.clone(), None),
        AccessOutcome::Failed { message } => ("failed", None, vec![], Some(message.clone())),
    };
    OutcomeView {
        user: outcome.user.to_string(),
        outcome: word.to_owned(),
        keys,
        found,
        message,
    }
}

pub fn host(agent_id: &AgentId, record: &SshHostRecord) -> HostAccessView {
    HostAccessView {
        host: agent_id.clone(),
        mode: mode_word(record.mode).to_owned(),
        on_drift: drift_word(record.on_drift).to_owned(),
        generation: record.generation,
        applied_generation: record.applied.as_ref().map(|applied| applied.generation),
        applied_at_ms: record.applied.as_ref().map(|applied| applied.at_ms),
        error: record
            .applied
            .as_ref()
            .and_then(|applied| applied.error.clone()),
        users: record
            .applied
            .iter()
            .flat_map(|applied| applied.users.iter().map(outcome))
            .collect(),
        adopted: record
            .adopted
            .iter()
            .map(|adopted| {
                (
                    adopted.user.to_string(),
                    adopted.lines.iter().map(ToString::to_string).collect(),
                )
            })
            .collect(),
    }
}
