//! The admin socket's protocol: one JSON request line, one JSON response line per
//! connection. These messages are a wire format between the CLI and the daemon (and scripts),
//! possibly of different versions, so they carry what the operator typed as text
//! (`agent_id`, `role`, `scope`), parsed into typed values in `handle.rs`, and answer
//! with the domain's views or, where the CLI's contract is text (a host's `status`), with
//! text rendered from the typed value in one place ([`HostView::from`]).

use crate::domain::api_tokens::ApiTokenView;
use crate::domain::groups::{GroupView, HostGroupView};
use crate::domain::history::RawSeries;
use crate::domain::hosts::Host;
use crate::domain::managed_certificates::{Declaration, ManagedCertificateView, RootView};
use crate::domain::sealing::RotationReport;
use crate::domain::secrets::SecretView;
use crate::domain::tokens::{JoinToken, JoinTokenSummary};
use crate::health::HealthRollup;
use serde::{Deserialize, Serialize};

/// What the CLI asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminRequest {
    CreateToken {
        ttl_secs: u64,
    },
    ListTokens,
    Hosts,
    RevokeAgent {
        agent_id: String,
    },
    Query {
        agent_id: String,
        metric: String,
        matchers: Vec<(String, String)>,
        from_ms: i64,
        to_ms: i64,
    },
    ListSeries {
        agent_id: String,
    },
    /// Adds a dashboard user (the password travels over the 0600 socket only); `groups`
    /// replace the role's group when given.
    AddUser {
        name: String,
        role: String,
        password: String,
        #[serde(default)]
        groups: Option<Vec<String>>,
    },
    ListUsers,
    DeleteUser {
        name: String,
    },
    SetUserGroups {
        name: String,
        groups: Vec<String>,
    },
    /// The break-glass way back in: a new password.
    SetPassword {
        name: String,
        password: String,
    },
    /// Turns a user's TOTP off (a lost phone; they log in with the password alone again).
    ResetSecondFactor {
        name: String,
    },
    ListGroups,
    CreateGroup {
        name: String,
        #[serde(default)]
        description: String,
    },
    DeleteGroup {
        name: String,
    },
    /// `right`: view, operate, administer or none.
    SetRight {
        group: String,
        host_group: String,
        right: String,
    },
    ListHostGroups,
    /// `labels` as `name=value`, `hosts` as agent ids.
    PutHostGroup {
        name: String,
        labels: Vec<String>,
        hosts: Vec<String>,
    },
    DeleteHostGroup {
        name: String,
    },
    SetLabels {
        agent_id: String,
        labels: Vec<String>,
    },
    /// Creates an API token; `scope` defaults to `read`, `expires_in` to `never`.
    CreateApiToken {
        user: String,
        name: String,
        #[serde(default)]
        scope: Option<String>,
        #[serde(default)]
        expires_in: Option<String>,
        /// Only the hosts of this host group (default: every host of the user).
        #[serde(default)]
        host_group: Option<String>,
    },
    ListApiTokens,
    RevokeApiToken {
        token_id: String,
    },
    /// `cert ...`: managed certificates and the services CA.
    ManagedCertificate(CertificateRequest),
    /// `ssh ca ...` and `ssh sign`: the SSH CA.
    SshCa(super::ssh_ca::SshCaRequest),
    /// `agentless ...`: hosts collected over SSH by a proxy agent (issue 16).
    Agentless(AgentlessRequest),
    /// `secret ...`: the secrets store and the sealing key.
    Secret(SecretAdminRequest),
    /// `ssh ...`: managed authorized keys.
    SshAccess(super::ssh_protocol::SshAccessRequest),
    /// `updates list|show`: the newest update checks (`status`: update, error or all).
    UpdateChecks {
        status: Option<String>,
    },
    /// `alerts ...`: open alerts, acknowledgements, silences, the operator's rules.
    Alerts(super::alerts::AlertsRequest),
    /// `backup FILE`: a backup of the controller made by the daemon (issue 20).
    Backup(super::backup::BackupRequest),
    /// `release-key ...` and `agent-builds ...`: signed agent builds (issue 20 §2).
    AgentBuilds(super::agent_builds::AgentBuildsRequest),
}

/// `unity-controller agentless ...`, as typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentlessRequest {
    Add {
        name: String,
        address: String,
        port: u16,
        user: String,
        proxy: String,
        /// `system,smart,zfs,raid` or a subset.
        collect: String,
        interval_secs: u32,
        /// Log in with this secret of the store instead of a generated key.
        key_secret: Option<String>,
    },
    List,
    Show {
        name: String,
    },
    Confirm {
        name: String,
        fingerprint: Option<String>,
    },
    Remove {
        name: String,
    },
}

/// `unity-controller secret ...` as sent to the daemon (over the 0600 socket; a value only
/// ever travels towards the daemon).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SecretAdminRequest {
    Set {
        name: String,
        kind: Option<String>,
        /// The value, hex-encoded.
        value_hex: String,
    },
    List,
    Show {
        name: String,
    },
    Delete {
        name: String,
    },
    Scope {
        name: String,
        hosts: Vec<String>,
        groups: Vec<String>,
    },
    RotateKey,
}

/// `unity-controller cert ...` as sent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CertificateRequest {
    Declare(Box<Declaration>),
    List,
    Show {
        name: String,
    },
    /// Renew now; wait this long for the attempt.
    Renew {
        name: String,
        wait_secs: u64,
    },
    Revoke {
        name: String,
    },
    Delete {
        name: String,
    },
    /// The services CA's root.
    Root,
}

/// A dashboard user as the CLI lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSummary {
    pub name: String,
    pub role: String,
    pub created_at_ms: i64,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub second_factor: bool,
}

/// A host as the CLI lists it (`hosts --json` prints these fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub agent_id: String,
    pub hostname: String,
    /// `online`, `stale`, `offline` or `revoked`.
    pub status: String,
    pub last_seen_ms: i64,
    pub agent_version: String,
    pub os: String,
    pub certificate_not_after: i64,
    pub dropped_reports: u64,
    /// Disks, pools, arrays, databases and containers by verdict, from the newest state.
    pub health: HealthRollup,
    /// The proxy agent of an agentless host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentless_via: Option<String>,
    /// Why an agentless host is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_reason: Option<String>,
}

/// One series with its points, as the CLI prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesView {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub points: Vec<(i64, f64)>,
}

impl From<RawSeries> for SeriesView {
    fn from(series: RawSeries) -> Self {
        SeriesView {
            metric: series.metric,
            labels: series.labels,
            points: series.points,
        }
    }
}

/// What the daemon answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminResponse {
    Token(JoinToken),
    Tokens(Vec<JoinTokenSummary>),
    Hosts(Vec<HostView>),
    Revoked {
        agent_id: String,
        was_connected: bool,
    },
    Series(Vec<SeriesView>),
    Error(String),
    UserAdded {
        name: String,
    },
    Users(Vec<UserSummary>),
    ApiToken {
        token: String,
        token_id: String,
        scope: String,
        expires_at_ms: Option<i64>,
    },
    ApiTokens(Vec<ApiTokenView>),
    ApiTokenRevoked {
        token_id: String,
    },
    /// A change was made; the text says what.
    Done(String),
    /// Agentless hosts (one for add, show and confirm).
    Agentless(Vec<crate::domain::agentless::AgentlessView>),
    Groups(Vec<GroupView>),
    HostGroups(Vec<HostGroupView>),
    ManagedCertificates(Vec<ManagedCertificateView>),
    ManagedCertificate(Box<ManagedCertificateView>),
    /// A renewal was asked for; `attempted`: the loop tried it (see the view's error).
    RenewalRequested {
        certificate: Box<ManagedCertificateView>,
        attempted: bool,
    },
    Secrets(Vec<SecretView>),
    Secret(Box<SecretView>),
    /// The update checks as `GET /api/v1/updates` serves them (the same JSON documents).
    UpdateChecks(Vec<serde_json::Value>),
    KeyRotated(RotationReport),
    /// The services CA's root: PEM (and hex of the DER for `--der`).
    ServicesRoot {
        root: RootView,
        der_hex: String,
    },
    /// The SSH CA's answer.
    SshCa(super::ssh_ca::SshCaResponse),
    /// An answer to an `ssh ...` (managed keys) request.
    SshAccess(Box<super::ssh_protocol::SshAccessAnswer>),
    /// An answer to an `alerts ...` request.
    Alerts(Box<super::alerts::AlertsResponse>),
    /// The backup was written.
    Backup(super::backup::BackupDone),
    AgentBuilds(super::agent_builds::AgentBuildsResponse),
}

impl From<Host> for HostView {
    fn from(host: Host) -> Self {
        HostView {
            agent_id: host.agent_id.to_string(),
            hostname: host.hostname,
            status: host.status.as_str().to_owned(),
            last_seen_ms: host.last_seen_ms,
            agent_version: host.agent_version,
            os: host.os,
            certificate_not_after: host.certificate_not_after,
            dropped_reports: host.dropped_reports,
            health: host.health,
            agentless_via: host.agentless.as_ref().map(|mark| mark.proxy.to_string()),
            down_reason: host.agentless.and_then(|mark| mark.down_reason),
        }
    }
}
