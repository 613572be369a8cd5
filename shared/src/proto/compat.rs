//! Which protocol versions meet, pure: the ALPN tokens each end offers, the version a
//! connection negotiated ([`Dialect`]), decoding what an older agent sends, and the one place
//! that decides what may be sent to it.
//!
//! Rules: a controller serves agents of its own version and one older
//! ([`OLDEST_SERVED_PROTOCOL`]); update the controller first, then the agents. The controller
//! accepts the handshake of *any* `unity/<n>` so that it can tell an agent it does not serve
//! why ([`Unserved`], closed with `UPGRADE_REQUIRED`) instead of failing the TLS handshake; an
//! agent offers its own version and every older one, so that a controller too old for it
//! picks its own and the agent can say "update the controller" ([`ControllerTooOld`]).

use super::frame::{self, FrameError};
use super::{
    v10, AgentMessage, Command, ControllerMessage, OLDEST_SERVED_PROTOCOL, PROTOCOL_VERSION,
};

/// ALPN prefix; the version follows in decimal (`unity/11`).
const ALPN_PREFIX: &str = "unity/";
/// The highest version a controller answers the handshake of (to tell it to update the
/// controller); well past any version this build can meet.
const HIGHEST_ANSWERED: u16 = 64;

/// The ALPN token of protocol `version`.
pub fn alpn(version: u16) -> Vec<u8> {
    format!("{ALPN_PREFIX}{version}").into_bytes()
}

/// The version in an ALPN token, if it is a `unity/<n>` token.
pub fn parse_alpn(token: &[u8]) -> Option<u16> {
    let digits = std::str::from_utf8(token).ok()?.strip_prefix(ALPN_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a controller offers, in its order of preference (rustls picks the first one the client
/// also offers): the served versions newest first, then every older version newest first (so a
/// newer agent that also offers older tokens lands on the newest served one), then newer ones.
pub fn controller_alpns() -> Vec<Vec<u8>> {
    (1..=PROTOCOL_VERSION)
        .rev()
        .chain(PROTOCOL_VERSION + 1..=HIGHEST_ANSWERED)
        .map(alpn)
        .collect()
}

/// What an agent offers: its own version first, then every older one. It speaks only its own;
/// the others let a controller too old for it answer with its version.
pub fn agent_alpns() -> Vec<Vec<u8>> {
    (1..=PROTOCOL_VERSION).rev().map(alpn).collect()
}

/// The protocol version one connection speaks, as the controller serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Version 10: the hello without the install kind ([`v10`]).
    V10,
    /// [`PROTOCOL_VERSION`].
    Current,
}

/// A connection whose version the controller does not serve; the text tells the operator
/// which side to update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unserved {
    /// The agent is too old.
    #[error(
        "agent protocol {agent} is too old for this controller (serves {OLDEST_SERVED_PROTOCOL}–{PROTOCOL_VERSION}): update the agent package"
    )]
    AgentTooOld { agent: u16 },
    /// The agent is newer than this controller.
    #[error(
        "agent protocol {agent} is newer than this controller (serves {OLDEST_SERVED_PROTOCOL}–{PROTOCOL_VERSION}): update the controller first"
    )]
    AgentTooNew { agent: u16 },
    /// No `unity/<n>` token was negotiated at all.
    #[error(
        "the peer negotiated no Unity protocol (this controller serves unity/{OLDEST_SERVED_PROTOCOL} to unity/{PROTOCOL_VERSION})"
    )]
    NotUnity,
}

/// The agent met a controller older than itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the controller speaks protocol {controller}, this agent {PROTOCOL_VERSION}: update the controller first (a controller serves agents one version older, never newer); reports stay spooled until then"
)]
pub struct ControllerTooOld {
    pub controller: u16,
}

/// A message or command the connection's version cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} needs protocol {needs}; the agent speaks {speaks}: update the agent package")]
pub struct NotInDialect {
    pub what: &'static str,
    pub needs: u16,
    pub speaks: u16,
}

impl Dialect {
    /// The dialect of a connection that negotiated `alpn` (`None`: nothing negotiated).
    pub fn negotiated(alpn: Option<&[u8]>) -> Result<Dialect, Unserved> {
        let version = alpn.and_then(parse_alpn).ok_or(Unserved::NotUnity)?;
        Dialect::of_version(version)
    }

    /// The dialect of protocol `version`.
    pub fn of_version(version: u16) -> Result<Dialect, Unserved> {
        match version {
            PROTOCOL_VERSION => Ok(Dialect::Current),
            v10::VERSION => Ok(Dialect::V10),
            agent if agent < OLDEST_SERVED_PROTOCOL => Err(Unserved::AgentTooOld { agent }),
            agent => Err(Unserved::AgentTooNew { agent }),
        }
    }

    /// Its protocol version.
    pub fn version(self) -> u16 {
        match self {
            Dialect::V10 => v10::VERSION,
            Dialect::Current => PROTOCOL_VERSION,
        }
    }

    /// Decodes one session-stream payload from an agent of this version.
    pub fn decode_agent_message(self, payload: &[u8]) -> Result<AgentMessage, FrameError> {
        match self {
            Dialect::V10 => frame::decode_payload::<v10::AgentMessage>(payload).map(Into::into),
            Dialect::Current => frame::decode_payload(payload),
        }
    }

    /// Whether `message` may go to an agent of this version: every session-stream message the
    /// controller writes passes here.
    pub fn check_message(self, message: &ControllerMessage) -> Result<(), NotInDialect> {
        self.allows(message_since(message))
    }

    /// Whether `command` may go to an agent of this version: every command the controller
    /// sends passes here.
    pub fn check_command(self, command: &Command) -> Result<(), NotInDialect> {
        self.allows(command_since(command))
    }

    fn allows(self, (what, needs): (&'static str, u16)) -> Result<(), NotInDialect> {
        if needs <= self.version() {
            Ok(())
        } else {
            Err(NotInDialect {
                what,
                needs,
                speaks: self.version(),
            })
        }
    }
}

/// The version each controller message first appeared in. No wildcard arm: a new variant does
/// not compile until someone says which version brought it.
fn message_since(message: &ControllerMessage) -> (&'static str, u16) {
    match message {
        ControllerMessage::Welcome(_)
        | ControllerMessage::Ack(_)
        | ControllerMessage::Nack(_)
        | ControllerMessage::HeartbeatAck { .. }
        | ControllerMessage::Renewed(_)
        | ControllerMessage::RenewRefused { .. }
        | ControllerMessage::SecretReply(_)
        | ControllerMessage::SecretsWithdrawn(_)
        | ControllerMessage::AgentlessAck(_)
        | ControllerMessage::AgentlessNack(_) => ("every session message", v10::VERSION),
        ControllerMessage::ReleaseKeys(_) => ("release keys", 11),
    }
}

/// The version each command first appeared in (see [`message_since`]).
fn command_since(command: &Command) -> (&'static str, u16) {
    match command {
        Command::Ping(_)
        | Command::CollectNow(_)
        | Command::Container(_)
        | Command::PrepareCertificate(_)
        | Command::InstallCertificate(_)
        | Command::ServeHttpChallenge(_)
        | Command::ApplySshAccess(_)
        | Command::ReadSshHostKeys(_)
        | Command::ConfigureSshd(_)
        | Command::AssignAgentless(_)
        | Command::AssignServiceChecks(_)
        | Command::ReadContainerLogs(_) => ("every command", v10::VERSION),
        Command::UpdateAgent(_) => ("an agent update", 11),
    }
}
