//! The agent build store (docs/agent-updates.md): one directory per build under
//! `<data_dir>/agent-builds/`, named `<arch>-<kind>-<version>`, holding `build` (the bytes as
//! added) and `manifest.postcard` (the [`SignedManifest`]). A build is written into a
//! temporary directory, fsynced, and renamed into place, so a crash never leaves half a build
//! under its name; a name already taken is refused (a version is added once).
//!
//! The store signs nothing and checks no signature: the domain signs before it adds, and the
//! agent verifies. It does check on reading that the bytes still match the manifest's size and
//! SHA-256, so a damaged file is never sent.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use unity_shared::model::agent_build::{AgentBuildManifest, BuildArch, BuildKind, SignedManifest};

const BUILD_FILE: &str = "build";
const MANIFEST_FILE: &str = "manifest.postcard";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BuildStoreError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// This arch, kind and version is already in the store.
    #[error("the build {0} is already in the store")]
    Exists(String),
    /// A stored manifest does not decode, or the version is not a plain name.
    #[error("{0}")]
    Invalid(String),
    /// The stored bytes no longer match their manifest.
    #[error("the build {0} is damaged: its bytes no longer match the manifest")]
    Damaged(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildStoreError + '_ {
    move |source| BuildStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One stored build.
#[derive(Debug, Clone)]
pub struct StoredBuild {
    /// `<arch>-<kind>-<version>`.
    pub name: String,
    pub manifest: AgentBuildManifest,
    pub signed: SignedManifest,
    pub path: PathBuf,
}

/// The store's name of a build.
pub fn build_name(arch: BuildArch, kind: BuildKind, version: &str) -> String {
    format!("{}-{}-{version}", arch.name(), kind.name())
}

/// SHA-256 and length of a file, read in pieces. Note that this uses blocking I/O.
pub fn digest_file(path: &Path) -> Result<([u8; 32], u64), BuildStoreError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((hasher.finalize().into(), size))
}

/// The store in `dir` (made on first add).
pub struct BuildStore {
    dir: PathBuf,
}

impl BuildStore {
    pub fn new(dir: PathBuf) -> BuildStore {
        BuildStore { dir }
    }

    /// Copies `source` into the store with its signed manifest; `manifest` must be what
    /// `signed` carries. Note that this uses blocking I/O.
    pub fn add(
        &self,
        source: &Path,
        manifest: &AgentBuildManifest,
        signed: &SignedManifest,
    ) -> Result<StoredBuild, BuildStoreError> {
        if manifest.version.is_empty()
            || !manifest
                .version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            return Err(BuildStoreError::Invalid(format!(
                "{:?} is not a version",
                manifest.version
            )));
        }
        let name = build_name(manifest.arch, manifest.kind, &manifest.version);
        let target = self.dir.join(&name);
        if target.exists() {
            return Err(BuildStoreError::Exists(name));
        }
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let temp = self.dir.join(format!(".{name}.partial"));
        if temp.exists() {
            std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
        }
        std::fs::create_dir(&temp).map_err(io(&temp))?;
        let build = temp.join(BUILD_FILE);
        std::fs::copy(source, &build).map_err(io(source))?;
        std::fs::File::open(&build)
            .and_then(|file| file.sync_all())
            .map_err(io(&build))?;
        let manifest_path = temp.join(MANIFEST_FILE);
        let bytes = postcard::to_allocvec(signed)
            .map_err(|error| BuildStoreError::Invalid(format!("encoding a manifest: {error}")))?;
        let mut file = std::fs::File::create(&manifest_path).map_err(io(&manifest_path))?;
        file.write_all(&bytes).map_err(io(&manifest_path))?;
        file.sync_all().map_err(io(&manifest_path))?;
        // The copy must still be what was hashed (the source could change under us).
        let (sha256, size) = digest_file(&build)?;
        if sha256 != manifest.sha256 || size != manifest.size {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(BuildStoreError::Damaged(name));
        }
        std::fs::rename(&temp, &target).map_err(io(&target))?;
        std::fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io(&self.dir))?;
        self.read(&name)
    }

    /// One build by name, its manifest decoded (the signature is not checked here). Note that
    /// this uses blocking I/O.
    pub fn read(&self, name: &str) -> Result<StoredBuild, BuildStoreError> {
        let dir = self.dir.join(name);
        let manifest_path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
        let signed: SignedManifest = postcard::from_bytes(&bytes).map_err(|error| {
            BuildStoreError::Invalid(format!("{}: {error}", manifest_path.display()))
        })?;
        let manifest: AgentBuildManifest =
            postcard::from_bytes(&signed.manifest).map_err(|error| {
                BuildStoreError::Invalid(format!("{}: {error}", manifest_path.display()))
            })?;
        Ok(StoredBuild {
            name: name.to_owned(),
            manifest,
            signed,
            path: dir.join(BUILD_FILE),
        })
    }

    /// Checks that a stored build's bytes still match its manifest. Note that this uses
    /// blocking I/O.
    pub fn verify(&self, build: &StoredBuild) -> Result<(), BuildStoreError> {
        let (sha256, size) = digest_file(&build.path)?;
        if sha256 != build.manifest.sha256 || size != build.manifest.size {
            return Err(BuildStoreError::Damaged(build.name.clone()));
        }
        Ok(())
    }

    /// Every build, sorted by name; unreadable entries are skipped with a warning. Note that
    /// this uses blocking I/O.
    pub fn list(&self) -> Result<Vec<StoredBuild>, BuildStoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io(&self.dir)(error)),
        };
        let mut builds = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match self.read(&name) {
                Ok(build) => builds.push(build),
                Err(error) => tracing::warn!(build = %name, %error, "Unreadable agent build."),
            }
        }
        builds.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(builds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(bytes: &[u8], version: &str) -> AgentBuildManifest {
        AgentBuildManifest {
            version: version.into(),
            arch: BuildArch::Aarch64,
            kind: BuildKind::Binary,
            size: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
            added_at_ms: 1,
        }
    }

    fn signed(manifest: &AgentBuildManifest) -> SignedManifest {
        SignedManifest {
            manifest: postcard::to_allocvec(manifest).unwrap(),
            key_id: "k".into(),
            signature: vec![0; 64],
        }
    }

    #[test]
    fn a_build_is_stored_once_read_back_and_checked() {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("unity-agent");
        std::fs::write(&source, b"#!/bin/sh\necho unity-agent 0.2.0\n").unwrap();
        let store = BuildStore::new(temp.path().join("agent-builds"));
        let bytes = std::fs::read(&source).unwrap();
        let manifest = manifest(&bytes, "0.2.0");
        let stored = store.add(&source, &manifest, &signed(&manifest)).unwrap();
        assert_eq!(stored.name, "aarch64-binary-0.2.0");
        assert_eq!(stored.manifest, manifest);
        assert_eq!(std::fs::read(&stored.path).unwrap(), bytes);
        store.verify(&stored).unwrap();
        assert!(matches!(
            store.add(&source, &manifest, &signed(&manifest)),
            Err(BuildStoreError::Exists(_))
        ));
        assert_eq!(store.list().unwrap().len(), 1);

        // A build damaged on disk is found out before it is sent.
        std::fs::write(&stored.path, b"#!/bin/sh\necho evil\n").unwrap();
        assert!(matches!(
            store.verify(&stored),
            Err(BuildStoreError::Damaged(_))
        ));
    }

    #[test]
    fn a_source_that_does_not_match_its_manifest_is_not_stored() {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("unity-agent");
        std::fs::write(&source, b"other bytes").unwrap();
        let store = BuildStore::new(temp.path().join("agent-builds"));
        let manifest = manifest(b"the bytes that were hashed", "0.3.0");
        assert!(matches!(
            store.add(&source, &manifest, &signed(&manifest)),
            Err(BuildStoreError::Damaged(_))
        ));
        assert!(store.list().unwrap().is_empty());
        for bad in ["", "../x", "1.0/2", "a b"] {
            let manifest = AgentBuildManifest {
                version: bad.into(),
                ..manifest.clone()
            };
            assert!(matches!(
                store.add(&source, &manifest, &signed(&manifest)),
                Err(BuildStoreError::Invalid(_))
            ));
        }
    }
}
