//! Agent builds the controller hands to its agents (issue 20 §2, docs/agent-updates.md): the
//! manifest that describes one build, its signature by the controller's release key, the
//! release keys' public halves an agent trusts, and the command that carries a build to an
//! agent (the manifest in the command, the bytes in [`AgentBuildChunk`] frames after it on the
//! same command stream, each under the command frame cap).
//!
//! The signature covers [`signed_payload`]: a fixed context string and the manifest's postcard
//! bytes exactly as they travel ([`SignedManifest::manifest`]); the agent checks the
//! signature before it decodes them, so nothing unsigned is ever interpreted.
//!
//! postcard encodes by position: append fields at the end of a struct and variants at the end
//! of an enum, never reorder (see [`crate::proto`]).

use serde::{Deserialize, Serialize};

/// What every signature of a manifest starts with, so a release-key signature over anything
/// else can never pass for one over a manifest.
pub const SIGNATURE_CONTEXT: &[u8] = b"unity agent build manifest v1\n";

/// The most bytes of build one [`AgentBuildChunk`] carries (under
/// [`crate::proto::frame::MAX_COMMAND_FRAME_LEN`] with its header).
pub const CHUNK_BYTES: usize = 512 * 1024;

/// The largest build an agent accepts (an agent binary is ~20 MiB; a package is smaller).
pub const MAX_BUILD_BYTES: u64 = 256 * 1024 * 1024;

/// The processor architecture a build runs on, named as `uname -m` and
/// [`crate::proto::HostFacts::arch`] name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BuildArch {
    X86_64,
    Aarch64,
}

impl BuildArch {
    /// `x86_64` or `aarch64`.
    pub fn name(self) -> &'static str {
        match self {
            BuildArch::X86_64 => "x86_64",
            BuildArch::Aarch64 => "aarch64",
        }
    }

    /// Reads `x86_64`/`amd64` or `aarch64`/`arm64`; `None` for anything else.
    pub fn parse(text: &str) -> Option<BuildArch> {
        match text.trim() {
            "x86_64" | "amd64" => Some(BuildArch::X86_64),
            "aarch64" | "arm64" => Some(BuildArch::Aarch64),
            _ => None,
        }
    }
}

/// How a build is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BuildKind {
    /// The `unity-agent` executable itself: replaces the running binary's file.
    Binary,
    /// A Debian package, installed with `dpkg -i` on hosts whose agent came from one.
    Deb,
    /// An RPM package, installed with `rpm -U` on hosts whose agent came from one.
    Rpm,
}

impl BuildKind {
    /// `binary`, `deb` or `rpm`.
    pub fn name(self) -> &'static str {
        match self {
            BuildKind::Binary => "binary",
            BuildKind::Deb => "deb",
            BuildKind::Rpm => "rpm",
        }
    }

    pub fn parse(text: &str) -> Option<BuildKind> {
        match text.trim() {
            "binary" => Some(BuildKind::Binary),
            "deb" => Some(BuildKind::Deb),
            "rpm" => Some(BuildKind::Rpm),
            _ => None,
        }
    }
}

/// One build as the controller signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentBuildManifest {
    /// The agent version the build reports (`unity-agent --version`), semver.
    pub version: String,
    pub arch: BuildArch,
    pub kind: BuildKind,
    /// The build's length in bytes.
    pub size: u64,
    /// SHA-256 of the build's bytes.
    pub sha256: [u8; 32],
    /// When the build was added (Unix milliseconds).
    pub added_at_ms: i64,
}

/// A manifest with its release-key signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The postcard bytes of an [`AgentBuildManifest`], exactly as signed.
    pub manifest: Vec<u8>,
    /// Which release key signed it ([`ReleaseKey::key_id`]).
    pub key_id: String,
    /// Ed25519 over [`signed_payload`]`(manifest)`.
    pub signature: Vec<u8>,
}

/// The bytes a release key signs for `manifest` (a manifest's postcard bytes).
pub fn signed_payload(manifest: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(SIGNATURE_CONTEXT.len() + manifest.len());
    payload.extend_from_slice(SIGNATURE_CONTEXT);
    payload.extend_from_slice(manifest);
    payload
}

/// The public half of a release key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseKey {
    /// The first 8 bytes of the public key's SHA-256, in hex.
    pub key_id: String,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Until when a retired key still verifies (Unix milliseconds); `None` for the current key.
    pub valid_until_ms: Option<i64>,
}

/// Controller -> agent after the welcome: every release key an agent should accept now. The
/// agent keeps the set in its data directory (replacing the one it had), so a rotation
/// reaches it at its next session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseKeys {
    pub keys: Vec<ReleaseKey>,
}

/// Controller -> agent: install this build. The build's bytes follow on the same stream as
/// [`AgentBuildChunk`] frames, in order, `manifest.size` bytes in all. Answered with
/// [`AgentUpdateOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateAgent {
    pub manifest: SignedManifest,
    /// An explicit rollback by an operator: an older version is accepted.
    pub allow_downgrade: bool,
    /// How long the new process has to reach the controller before the agent puts the
    /// previous binary back by itself.
    pub confirm_within_secs: u32,
}

/// A piece of a build, after [`UpdateAgent`] on its command stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentBuildChunk {
    /// Where the bytes start in the build.
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// The agent's answer to [`UpdateAgent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentUpdateOutcome {
    /// The build is installed; the agent restarts into it now and must come back with
    /// `to_version` within the deadline.
    Restarting {
        from_version: String,
        to_version: String,
    },
    /// Nothing was changed.
    Refused { reason: String },
}
