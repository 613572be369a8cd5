//! The wire protocol between agent and controller.
//!
//! Every message is a postcard-encoded enum inside a length-delimited frame ([`frame`]).
//! postcard encodes fields and variants by position: never reorder fields or variants, only
//! append new variants at the end, and bump [`PROTOCOL_VERSION`] for anything else. The
//! golden bytes of every message and model type (`golden_tests.rs`, `testdata/wire/`) fail
//! the build on any other change until the version is bumped and the bytes renewed.
//!
//! Streams on one agent connection:
//! - the *session stream*: the agent opens one bidirectional stream right after the handshake,
//!   sends [`AgentMessage`]s in order (hello first) and reads [`ControllerMessage`]s;
//! - *command streams*: the controller opens a bidirectional stream per [`Command`], the agent
//!   answers with one [`CommandResponse`] (container operations: progress frames, then one
//!   result);
//! - on a connection without a client certificate only one *enrollment stream* is allowed:
//!   [`EnrollRequest`] then [`EnrollResponse`].

pub mod compat;
pub mod frame;
pub mod ids;
pub mod report;
pub mod v10;

pub use ids::{AgentId, InstanceId, InvalidAgentId, InvalidInstanceId};
pub use report::{Ack, HostFacts, Nack, Report, Sample, StorageState};

use crate::model::agent_build::{AgentUpdateOutcome, ReleaseKeys, UpdateAgent};
use crate::model::agentless::{
    AgentlessAck, AgentlessAssigned, AgentlessNack, AgentlessReport, AgentlessStatus,
    AssignAgentless,
};
use crate::model::certificate::{
    CertificateCsr, CertificateInstalled, ChallengeServing, InstallCertificate, PrepareCertificate,
    ServeHttpChallenge,
};
use crate::model::container_logs::{ContainerLogs, ReadContainerLogs};
use crate::model::secret::{SecretReply, SecretRequest, SecretsWithdrawn};
use crate::model::service::{AssignServiceChecks, ServiceChecksAssigned};
use crate::model::ssh::{
    ApplySshAccess, ConfigureSshd, ReadSshHostKeys, SshAccessApplied, SshHostKeys, SshdConfigured,
};
use crate::model::update::{CommandResult, ContainerCommand, Progress};
use serde::{Deserialize, Serialize};

/// Bumped on every incompatible change of any message below. Version 11: [`Hello`] says how
/// the agent was installed ([`InstallKind`]).
pub const PROTOCOL_VERSION: u16 = 11;

/// The oldest protocol a controller of this build still serves (see [`compat`]): agents one
/// version behind keep reporting while they wait for their update.
pub const OLDEST_SERVED_PROTOCOL: u16 = 10;

/// ALPN token of [`PROTOCOL_VERSION`]; every version has its own (`unity/<n>`, see
/// [`compat::alpn`]), so the handshake itself tells both ends which version the other speaks.
pub const ALPN: &[u8] = b"unity/11";

/// The name the controller's server certificate is issued for and that agents verify. Agents
/// reach the controller by any address (NAT, DNS, IP), so the name is fixed instead.
pub const CONTROLLER_SERVER_NAME: &str = "controller.unity.internal";

/// Application error codes used when closing a stream or connection.
pub mod error_code {
    /// A frame could not be decoded or exceeded the size cap.
    pub const BAD_FRAME: u32 = 0x10;
    /// A message arrived that is not allowed at this point of the conversation.
    pub const UNEXPECTED_MESSAGE: u32 = 0x11;
    /// The agent's certificate was revoked.
    pub const REVOKED: u32 = 0x12;
    /// The peer is shutting down.
    pub const SHUTDOWN: u32 = 0x13;
    /// The controller failed internally.
    pub const INTERNAL: u32 = 0x14;
    /// A newer connection of the same agent replaced this one.
    pub const REPLACED: u32 = 0x15;
    /// Another machine uses this agent's identity (a cloned data directory or VM image); the
    /// agent keeps its reports spooled until it is enrolled anew.
    pub const IDENTITY_CONFLICT: u32 = 0x16;
    /// The peer speaks a protocol version this end does not serve; the close reason says
    /// which side to update (see [`super::compat`]).
    pub const UPGRADE_REQUIRED: u32 = 0x17;
}

/// First message on the session stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u16,
    pub agent_version: String,
    pub host: HostFacts,
    /// Which installation of this identity is speaking (see [`InstanceId`]).
    pub instance_id: InstanceId,
    /// How the agent's executable got onto the host (agent updates install a package where a
    /// package manager owns the file). Since version 11.
    pub install: InstallKind,
}

/// How the agent was installed, as the agent found out from the package managers.
/// (Names are lowercase in self-describing formats such as the API's JSON; postcard encodes the
/// variant's position.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallKind {
    /// Not known: an agent older than protocol 11 does not say.
    Unknown,
    /// A file no package manager owns (copied, or built from source).
    File,
    /// Owned by a Debian package (`dpkg -S` names it).
    Deb,
    /// Owned by an RPM package (`rpm -qf` names it).
    Rpm,
}

impl InstallKind {
    /// The word pages and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallKind::Unknown => "unknown",
            InstallKind::File => "file",
            InstallKind::Deb => "deb",
            InstallKind::Rpm => "rpm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub sent_at_ms: i64,
    /// Reports waiting in the agent's spool.
    pub spool_depth: u64,
}

/// Renewal: the agent made a fresh key pair; the controller signs it for the same identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    pub csr_der: Vec<u8>,
}

/// Agent -> controller on the session stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentMessage {
    Hello(Hello),
    Report(Report),
    Heartbeat(Heartbeat),
    Renew(RenewRequest),
    /// Values of secrets from the controller's store (answered with
    /// [`ControllerMessage::SecretReply`]). Since version 7.
    SecretRequest(SecretRequest),
    /// One collection of an agentless host this agent is the proxy of (answered with
    /// [`ControllerMessage::AgentlessAck`] or `AgentlessNack`). Since version 7.
    AgentlessReport(Box<AgentlessReport>),
    /// How the last attempt on an agentless host went. Since version 7.
    AgentlessStatus(AgentlessStatus),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u16,
    pub controller_version: String,
    pub agent_id: AgentId,
    /// The last report sequence number the controller has durably stored for this agent.
    pub last_stored_seq: Option<u64>,
    pub server_time_ms: i64,
    /// Nothing from this instance is stored yet, but the identity's sequence numbers up to
    /// `last_stored_seq` are taken (the data directory moved to another machine): the agent
    /// numbers every report it holds after `last_stored_seq`, in order, so none is mistaken
    /// for a replay.
    pub new_instance: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewed {
    pub certificate_der: Vec<u8>,
    pub not_after_unix: i64,
}

/// Controller -> agent on the session stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ControllerMessage {
    Welcome(Welcome),
    Ack(Ack),
    Nack(Nack),
    HeartbeatAck {
        server_time_ms: i64,
    },
    Renewed(Renewed),
    RenewRefused {
        reason: String,
    },
    /// The answer to [`AgentMessage::SecretRequest`]. Since version 7.
    SecretReply(SecretReply),
    /// Forget these secret values. Since version 7.
    SecretsWithdrawn(SecretsWithdrawn),
    AgentlessAck(AgentlessAck),
    AgentlessNack(AgentlessNack),
    /// The release keys agent builds are signed with, sent after the welcome (issue 20 §2);
    /// the agent keeps them in its data directory.
    ReleaseKeys(ReleaseKeys),
}

/// First (and only) message on an enrollment stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub protocol_version: u16,
    pub token: String,
    pub csr_der: Vec<u8>,
    pub host: HostFacts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub agent_id: AgentId,
    pub certificate_der: Vec<u8>,
    pub ca_certificate_der: Vec<u8>,
    pub not_after_unix: i64,
}

/// Why an enrollment was refused. Shown to the person running `unity-agent enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EnrollRefusal {
    /// No such token was ever issued (or it was mistyped).
    #[error("the join token is not known to this controller; create one with `unity-controller token create`")]
    UnknownToken,
    /// The token's lifetime ended.
    #[error("the join token has expired; create a new one with `unity-controller token create`")]
    ExpiredToken,
    /// Tokens are single-use.
    #[error(
        "the join token was already used; create a new one with `unity-controller token create`"
    )]
    TokenAlreadyUsed,
    /// The certificate signing request could not be used.
    #[error("the certificate signing request was rejected: {0}")]
    BadCsr(String),
    /// The agent speaks another protocol version.
    #[error("protocol version mismatch: controller speaks {controller}, agent {agent}")]
    VersionMismatch { controller: u16, agent: u16 },
    /// The controller failed; try again.
    #[error("the controller failed to enroll the agent: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnrollResponse {
    Enrolled(Enrolled),
    Refused(EnrollRefusal),
}

/// A command's id: unique per controller, so a retried command is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommandId(pub u64);

/// Binds a controller -> agent request type to its response type.
pub trait Request: Into<Command> {
    type Response: TryFrom<CommandResponse, Error = CommandResponse>;
}

/// Liveness check through the command channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub nonce: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub nonce: u64,
}

/// Ask the agent to run a collection cycle now instead of at its next interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectNow;

/// The collection ran; its report carries `seq` and is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Ping(Ping),
    CollectNow(CollectNow),
    /// A container operation (update, rollback, restart, backup, restore). The agent answers
    /// with any number of [`CommandResponse::ContainerProgress`] frames, then one
    /// [`CommandResponse::ContainerResult`] (or `Failed`), on the same stream.
    Container(Box<ContainerCommand>),
    /// Make a key for a managed certificate and answer with a CSR ([`CertificateCsr`]).
    PrepareCertificate(PrepareCertificate),
    /// Install a managed certificate for the pending key ([`CertificateInstalled`]).
    InstallCertificate(Box<InstallCertificate>),
    /// Answer an ACME HTTP-01 challenge for a while ([`ChallengeServing`]).
    ServeHttpChallenge(ServeHttpChallenge),
    /// Write the host's managed SSH keys ([`SshAccessApplied`]). Since version 7.
    ApplySshAccess(ApplySshAccess),
    /// Answer with the host's SSH host public keys ([`SshHostKeys`]).
    ReadSshHostKeys(ReadSshHostKeys),
    /// Install SSH CA host certificates and trusted user CA keys through a validated sshd
    /// drop-in ([`SshdConfigured`]).
    ConfigureSshd(Box<ConfigureSshd>),
    /// Collect these agentless hosts over SSH ([`AgentlessAssigned`]).
    AssignAgentless(AssignAgentless),
    /// Run these service checks ([`ServiceChecksAssigned`]). Issue 18.
    AssignServiceChecks(AssignServiceChecks),
    /// Answer with a container's newest log lines ([`ContainerLogs`]), never stored by the
    /// controller. Issue 19.
    ReadContainerLogs(ReadContainerLogs),
    /// Install this agent build and restart into it ([`AgentUpdateOutcome`]); the build's
    /// bytes follow as [`crate::model::agent_build::AgentBuildChunk`] frames on the same
    /// stream. Issue 20 §2.
    UpdateAgent(Box<UpdateAgent>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEnvelope {
    pub id: CommandId,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    Pong(Pong),
    Collected(Collected),
    /// The agent could not carry out the command.
    Failed {
        message: String,
    },
    /// A running container operation changed stage.
    ContainerProgress(Progress),
    /// A container operation ended (also the answer to a retry of a finished operation).
    ContainerResult(Box<CommandResult>),
    CertificateCsr(CertificateCsr),
    CertificateInstalled(CertificateInstalled),
    ChallengeServing(ChallengeServing),
    SshAccessApplied(SshAccessApplied),
    SshHostKeys(SshHostKeys),
    SshdConfigured(SshdConfigured),
    AgentlessAssigned(AgentlessAssigned),
    ServiceChecksAssigned(ServiceChecksAssigned),
    ContainerLogs(ContainerLogs),
    AgentUpdateOutcome(AgentUpdateOutcome),
}

impl From<Ping> for Command {
    fn from(ping: Ping) -> Command {
        Command::Ping(ping)
    }
}

impl From<CollectNow> for Command {
    fn from(collect: CollectNow) -> Command {
        Command::CollectNow(collect)
    }
}

impl Request for Ping {
    type Response = Pong;
}

impl Request for CollectNow {
    type Response = Collected;
}

impl TryFrom<CommandResponse> for Pong {
    type Error = CommandResponse;
    fn try_from(response: CommandResponse) -> Result<Pong, CommandResponse> {
        match response {
            CommandResponse::Pong(pong) => Ok(pong),
            other => Err(other),
        }
    }
}

impl TryFrom<CommandResponse> for Collected {
    type Error = CommandResponse;
    fn try_from(response: CommandResponse) -> Result<Collected, CommandResponse> {
        match response {
            CommandResponse::Collected(collected) => Ok(collected),
            other => Err(other),
        }
    }
}

/// A request whose response is one [`CommandResponse`] variant: the `From`, [`Request`] and
/// `TryFrom` impls in one place.
macro_rules! request {
    ($request:ident => $command:ident($wrap:expr), $response:ident) => {
        impl From<$request> for Command {
            fn from(request: $request) -> Command {
                Command::$command($wrap(request))
            }
        }

        impl Request for $request {
            type Response = $response;
        }

        impl TryFrom<CommandResponse> for $response {
            type Error = CommandResponse;
            fn try_from(response: CommandResponse) -> Result<$response, CommandResponse> {
                match response {
                    CommandResponse::$response(answer) => Ok(answer),
                    other => Err(other),
                }
            }
        }
    };
}

request!(PrepareCertificate => PrepareCertificate(std::convert::identity), CertificateCsr);
request!(InstallCertificate => InstallCertificate(Box::new), CertificateInstalled);
request!(ServeHttpChallenge => ServeHttpChallenge(std::convert::identity), ChallengeServing);
request!(ApplySshAccess => ApplySshAccess(std::convert::identity), SshAccessApplied);
request!(ReadSshHostKeys => ReadSshHostKeys(std::convert::identity), SshHostKeys);
request!(ConfigureSshd => ConfigureSshd(Box::new), SshdConfigured);
request!(AssignAgentless => AssignAgentless(std::convert::identity), AgentlessAssigned);
request!(AssignServiceChecks => AssignServiceChecks(std::convert::identity), ServiceChecksAssigned);
request!(ReadContainerLogs => ReadContainerLogs(std::convert::identity), ContainerLogs);
request!(UpdateAgent => UpdateAgent(Box::new), AgentUpdateOutcome);

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod golden_agent_build;
#[cfg(test)]
mod golden_container_logs;
#[cfg(test)]
mod golden_credentials;
#[cfg(test)]
mod golden_services;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod tests;
