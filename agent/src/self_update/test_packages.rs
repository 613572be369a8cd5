//! Test helpers for package builds: real .deb files made with `dpkg-deb --build` (the machine's
//! own dpkg-deb; a tiny shell script stands in for the binary), a release key, signed
//! manifests, and a scratch dpkg root (`dpkg --root`) that real installs go into.

use super::decide;
use crate::exec::{self, CommandSpec};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::agent_build::{
    signed_payload, AgentBuildManifest, BuildArch, BuildKind, ReleaseKey, ReleaseKeys,
    SignedManifest, UpdateAgent,
};

/// This machine's architecture, as the manifests and the packages name it (dpkg installs only
/// its own architecture's packages).
pub fn host() -> (BuildArch, &'static str) {
    match BuildArch::parse(std::env::consts::ARCH).unwrap() {
        BuildArch::X86_64 => (BuildArch::X86_64, "amd64"),
        BuildArch::Aarch64 => (BuildArch::Aarch64, "arm64"),
    }
}

/// A fresh Ed25519 release key.
pub fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

/// Stores `key` as the agent's only release key, id `k1`.
pub fn trust(data_dir: &Path, key: &Ed25519KeyPair) {
    super::install::write_keys(
        data_dir,
        &ReleaseKeys {
            keys: vec![ReleaseKey {
                key_id: "k1".into(),
                public_key: key.public_key().as_ref().to_vec(),
                valid_until_ms: None,
            }],
        },
    )
    .unwrap();
}

/// Builds `<dir>/<package>_<version>.deb` holding `/usr/bin/unity-agent`, a script that prints
/// `unity-agent <version>`.
pub async fn deb(dir: &Path, package: &str, version: &str, arch: &str) -> PathBuf {
    let tree = dir.join(format!("tree-{package}-{version}-{arch}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/bin")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {package}\nVersion: {version}\nArchitecture: {arch}\n\
             Maintainer: Test <test@example.org>\nDescription: test package\n"
        ),
    )
    .unwrap();
    let exe = tree.join("usr/bin/unity-agent");
    std::fs::write(&exe, format!("#!/bin/sh\necho 'unity-agent {version}'\n")).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.join(format!("{package}_{version}_{arch}.deb"));
    let spec = CommandSpec::new(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            &tree.to_string_lossy(),
            &out.to_string_lossy(),
        ],
    );
    let output = exec::run(&spec, Duration::from_secs(60)).await.unwrap();
    assert_eq!(output.exit_code, Some(0), "{output:?}");
    out
}

/// A scratch dpkg root with an empty database.
pub fn dpkg_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
    root
}

/// The manifest of `bytes` as a `kind` build of `version`, signed by `key` (id `k1`).
pub fn signed(
    key: &Ed25519KeyPair,
    version: &str,
    kind: BuildKind,
    bytes: &[u8],
) -> SignedManifest {
    let manifest = AgentBuildManifest {
        version: version.into(),
        arch: host().0,
        kind,
        size: bytes.len() as u64,
        sha256: decide::digest(bytes),
        added_at_ms: 1,
    };
    let manifest = postcard::to_allocvec(&manifest).unwrap();
    SignedManifest {
        signature: key.sign(&signed_payload(&manifest)).as_ref().to_vec(),
        manifest,
        key_id: "k1".into(),
    }
}

/// The command carrying a signed `kind` build of `bytes`.
pub fn update(
    key: &Ed25519KeyPair,
    version: &str,
    kind: BuildKind,
    bytes: &[u8],
    confirm_within_secs: u32,
) -> UpdateAgent {
    UpdateAgent {
        manifest: signed(key, version, kind, bytes),
        allow_downgrade: false,
        confirm_within_secs,
    }
}

/// A build's bytes as the command stream would bring them, in chunks of 4 KiB.
pub struct Chunks(pub std::collections::VecDeque<super::AgentBuildChunk>);

impl super::ChunkSource for Chunks {
    async fn next_chunk(&mut self) -> anyhow::Result<Option<super::AgentBuildChunk>> {
        Ok(self.0.pop_front())
    }
}

pub fn chunks(bytes: &[u8]) -> Chunks {
    Chunks(
        bytes
            .chunks(4096)
            .enumerate()
            .map(|(n, piece)| super::AgentBuildChunk {
                offset: (n * 4096) as u64,
                bytes: piece.to_vec(),
            })
            .collect(),
    )
}
