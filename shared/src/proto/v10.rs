//! Frozen types of protocol version 10, the version before the current one: the messages
//! whose layout changed since, exactly as a version-10 agent encodes them, and their
//! conversion to the current types (fields version 10 lacks become "unknown").
//!
//! Never edit these types: their bytes are pinned by the golden test below, copied from the
//! version-10 golden file. When the protocol moves on to version 12, this module is deleted
//! (the controller then serves 11 and 12) and the types that changed in 12 are frozen in a
//! `v11` module the same way.

use super::Heartbeat;
use super::{AgentMessage as Current, HostFacts, InstallKind, InstanceId, RenewRequest, Report};
use crate::model::agentless::{AgentlessReport, AgentlessStatus};
use crate::model::secret::SecretRequest;
use serde::{Deserialize, Serialize};

/// The protocol version of this module's types.
pub const VERSION: u16 = 10;

/// Version 10's hello: without [`super::Hello::install`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u16,
    pub agent_version: String,
    pub host: HostFacts,
    pub instance_id: InstanceId,
}

/// Version 10's agent messages: the same variants in the same order, with the old hello.
/// The other payloads did not change in version 11.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentMessage {
    Hello(Hello),
    Report(Report),
    Heartbeat(Heartbeat),
    Renew(RenewRequest),
    SecretRequest(SecretRequest),
    AgentlessReport(Box<AgentlessReport>),
    AgentlessStatus(AgentlessStatus),
}

impl From<Hello> for super::Hello {
    fn from(hello: Hello) -> super::Hello {
        super::Hello {
            protocol_version: hello.protocol_version,
            agent_version: hello.agent_version,
            host: hello.host,
            instance_id: hello.instance_id,
            install: InstallKind::Unknown,
        }
    }
}

impl From<AgentMessage> for Current {
    fn from(message: AgentMessage) -> Current {
        match message {
            AgentMessage::Hello(hello) => Current::Hello(hello.into()),
            AgentMessage::Report(report) => Current::Report(report),
            AgentMessage::Heartbeat(beat) => Current::Heartbeat(beat),
            AgentMessage::Renew(renew) => Current::Renew(renew),
            AgentMessage::SecretRequest(request) => Current::SecretRequest(request),
            AgentMessage::AgentlessReport(report) => Current::AgentlessReport(report),
            AgentMessage::AgentlessStatus(status) => Current::AgentlessStatus(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `agent.hello` of `testdata/wire/golden.txt` at protocol 10 (commit f2a0759): the bytes a
    /// version-10 agent sends.
    const V10_HELLO: &str = "000a05302e312e30036e61731044656269616e20474e552f4c696e757802313\
        20e362e312e302d31332d616d643634067838365f36340d496e74656c285229204e31303004808080804\
        05a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

    fn v10_hello() -> Hello {
        Hello {
            protocol_version: 10,
            agent_version: "0.1.0".into(),
            host: HostFacts {
                hostname: "nas".into(),
                os: "Debian GNU/Linux".into(),
                os_version: "12".into(),
                kernel: "6.1.0-13-amd64".into(),
                arch: "x86_64".into(),
                cpu_model: "Intel(R) N100".into(),
                n_cpus: 4,
                memory_bytes: 16 << 30,
            },
            instance_id: InstanceId::from_bytes([0x5a; 16]),
        }
    }

    #[test]
    fn the_frozen_hello_encodes_as_version_10_did() {
        let bytes = postcard::to_allocvec(&AgentMessage::Hello(v10_hello())).unwrap();
        assert_eq!(hex::encode(bytes), V10_HELLO);
    }

    #[test]
    fn a_version_10_hello_becomes_a_current_hello_with_unknown_install() {
        let bytes = hex::decode(V10_HELLO).unwrap();
        let message: Current = postcard::from_bytes::<AgentMessage>(&bytes).unwrap().into();
        let Current::Hello(hello) = message else {
            panic!("not a hello: {message:?}");
        };
        assert_eq!(hello.protocol_version, 10);
        assert_eq!(hello.install, InstallKind::Unknown);
        assert_eq!(hello.host.hostname, "nas");
        // Read as the current layout, the same bytes are refused (the install byte is missing),
        // which is why the controller decodes by the negotiated version.
        assert!(postcard::from_bytes::<Current>(&bytes).is_err());
    }
}
