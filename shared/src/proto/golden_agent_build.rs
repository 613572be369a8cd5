//! Golden values of the agent-update messages (issue 20 §2), chained into `golden_tests.rs`'s
//! golden file, and their round trips.

use super::*;
use crate::model::agent_build::{
    AgentBuildChunk, AgentBuildManifest, BuildArch, BuildKind, ReleaseKey, SignedManifest,
};

fn manifest() -> AgentBuildManifest {
    AgentBuildManifest {
        version: "0.2.0".into(),
        arch: BuildArch::Aarch64,
        kind: BuildKind::Deb,
        size: 21_000_000,
        sha256: [0xab; 32],
        added_at_ms: 1_700_000_000_000,
    }
}

fn signed() -> SignedManifest {
    SignedManifest {
        manifest: postcard::to_allocvec(&manifest()).unwrap(),
        key_id: "0011223344556677".into(),
        signature: vec![0x5a; 64],
    }
}

/// The current key and a retired one still valid for a while.
pub(super) fn controller_messages() -> Vec<(&'static str, ControllerMessage)> {
    vec![(
        "v20.controller.release_keys",
        ControllerMessage::ReleaseKeys(ReleaseKeys {
            keys: vec![
                ReleaseKey {
                    key_id: "0011223344556677".into(),
                    public_key: vec![0x11; 32],
                    valid_until_ms: None,
                },
                ReleaseKey {
                    key_id: "8899aabbccddeeff".into(),
                    public_key: vec![0x22; 32],
                    valid_until_ms: Some(1_702_592_000_000),
                },
            ],
        }),
    )]
}

pub(super) fn commands() -> Vec<Command> {
    vec![Command::from(UpdateAgent {
        manifest: signed(),
        allow_downgrade: false,
        confirm_within_secs: 120,
    })]
}

/// The frame after the command, the manifest alone, and every kind and arch.
pub(super) fn others() -> Vec<(String, Vec<u8>)> {
    let encode = |value: &dyn erased::Encode| value.bytes();
    let mut out = vec![
        (
            "v20.chunk".to_owned(),
            encode(&AgentBuildChunk {
                offset: 524_288,
                bytes: vec![0x7f, 0x45, 0x4c, 0x46],
            }),
        ),
        ("v20.manifest".to_owned(), encode(&manifest())),
    ];
    for (n, kind) in [BuildKind::Binary, BuildKind::Deb, BuildKind::Rpm]
        .into_iter()
        .enumerate()
    {
        out.push((format!("v20.kind.{n}"), encode(&kind)));
    }
    for (n, arch) in [BuildArch::X86_64, BuildArch::Aarch64]
        .into_iter()
        .enumerate()
    {
        out.push((format!("v20.arch.{n}"), encode(&arch)));
    }
    out
}

pub(super) fn responses() -> Vec<CommandResponse> {
    vec![
        CommandResponse::AgentUpdateOutcome(AgentUpdateOutcome::Restarting {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
        }),
        CommandResponse::AgentUpdateOutcome(AgentUpdateOutcome::Refused {
            reason: "the signature does not verify".into(),
        }),
    ]
}

/// Postcard bytes of any serializable value, behind one object-safe trait.
mod erased {
    pub trait Encode {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Encode for T {
        fn bytes(&self) -> Vec<u8> {
            postcard::to_allocvec(self).unwrap()
        }
    }
}

#[test]
fn agent_update_messages_decode_back_to_themselves() {
    for (name, message) in controller_messages() {
        let bytes = postcard::to_allocvec(&message).unwrap();
        let back: ControllerMessage = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, message, "{name}");
    }
    for command in commands() {
        let bytes = postcard::to_allocvec(&command).unwrap();
        let back: Command = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, command);
    }
    for response in responses() {
        let bytes = postcard::to_allocvec(&response).unwrap();
        let back: CommandResponse = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, response);
        assert!(AgentUpdateOutcome::try_from(back).is_ok());
    }
    let decoded: AgentBuildManifest = postcard::from_bytes(&signed().manifest).unwrap();
    assert_eq!(decoded, manifest());
}

#[test]
fn a_full_chunk_fits_under_the_command_frame_cap() {
    let chunk = AgentBuildChunk {
        offset: u64::MAX,
        bytes: vec![0xff; crate::model::agent_build::CHUNK_BYTES],
    };
    assert!(frame::encode(&chunk, frame::MAX_COMMAND_FRAME_LEN).is_ok());
}
