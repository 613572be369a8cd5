//! The backup's manifest (pure): format version, controller version, when, and every file with
//! its size, mode and SHA-256. It is the archive's last entry (`MANIFEST.json`), so the
//! archive is written in one pass; a restore reads the whole archive once to check every file
//! against it before it writes anything.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The archive format this version writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's name in the archive (the last entry).
pub const MANIFEST_NAME: &str = "MANIFEST.json";
/// The sled dump's name in the archive.
pub const DATABASE_DUMP_NAME: &str = "database.dump";
/// Files of the data directory are under this prefix in the archive.
pub const DATA_PREFIX: &str = "data/";

/// What the archive holds. A file format: fields are only ever added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub controller_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub created_at_ms: i64,
    /// Whether the archive is encrypted with a passphrase (informational; the file says).
    pub encrypted: bool,
    /// Every entry but the manifest, in archive order.
    pub files: Vec<ManifestFile>,
}

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// `database.dump` or `data/<path in the data directory>`.
    pub path: String,
    pub size: u64,
    /// Unix permission bits to restore (0600 for keys).
    pub mode: u32,
    /// Lower-case hex.
    pub sha256: String,
}

/// Why an archive does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The manifest is not JSON of this shape.
    #[error("the manifest cannot be read: {0}")]
    Unreadable(String),
    /// Written by a newer version of the format.
    #[error("archive format {0} is not supported (this controller reads format {FORMAT_VERSION}); restore with a newer unity-controller")]
    UnsupportedFormat(u32),
    /// An entry's name could escape the target or is not one we write.
    #[error("entry {0:?} has a name a backup never holds")]
    BadPath(String),
    /// An entry appears twice (in the archive or the manifest).
    #[error("entry {0} appears twice")]
    Duplicate(String),
    /// An entry is in the archive but not in the manifest.
    #[error("entry {0} is not in the manifest")]
    Unlisted(String),
    /// An entry of the manifest is missing from the archive.
    #[error("entry {0} is listed in the manifest but missing from the archive")]
    Missing(String),
    /// An entry's size or SHA-256 differs from the manifest.
    #[error("entry {0} does not match its checksum in the manifest (damaged or changed)")]
    Mismatch(String),
    /// The archive has no manifest at its end.
    #[error("the archive has no manifest at its end (cut short?)")]
    NoManifest,
}

impl Manifest {
    /// Parses and checks a manifest: supported format, sane names, no duplicates.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|error| ManifestError::Unreadable(error.to_string()))?;
        if manifest.format != FORMAT_VERSION {
            return Err(ManifestError::UnsupportedFormat(manifest.format));
        }
        let mut seen = std::collections::BTreeSet::new();
        for file in &manifest.files {
            entry_target(&file.path)?;
            if !seen.insert(file.path.as_str()) {
                return Err(ManifestError::Duplicate(file.path.clone()));
            }
        }
        Ok(manifest)
    }

    /// Checks what was read from the archive (entry name -> size and SHA-256, in any order)
    /// against the manifest: the same entries, each the same.
    pub fn check(&self, seen: &BTreeMap<String, (u64, String)>) -> Result<(), ManifestError> {
        for file in &self.files {
            match seen.get(&file.path) {
                None => return Err(ManifestError::Missing(file.path.clone())),
                Some((size, sha256)) if *size != file.size || *sha256 != file.sha256 => {
                    return Err(ManifestError::Mismatch(file.path.clone()))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = seen
            .keys()
            .find(|path| !self.files.iter().any(|file| &file.path == *path))
        {
            return Err(ManifestError::Unlisted(extra.clone()));
        }
        Ok(())
    }

    /// The entry named `path`.
    pub fn file(&self, path: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|file| file.path == path)
    }
}

/// Where an entry goes, relative to the restored data directory: `None` for the database
/// dump, else the path under `data/`. Names that are absolute, climb with `..`, or are
/// neither of those are refused.
pub fn entry_target(name: &str) -> Result<Option<PathBuf>, ManifestError> {
    if name == DATABASE_DUMP_NAME {
        return Ok(None);
    }
    let bad = || ManifestError::BadPath(name.to_owned());
    let relative = name.strip_prefix(DATA_PREFIX).ok_or_else(bad)?;
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(bad());
    }
    Ok(Some(path.to_path_buf()))
}

/// The archive name of a file at `relative` in the data directory.
pub fn data_entry_name(relative: &Path) -> Option<String> {
    let text = relative.to_str()?;
    let name = format!("{DATA_PREFIX}{text}");
    entry_target(&name).ok().map(|_| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, u64, &str)]) -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            controller_version: "0.0.0".into(),
            created_at: "2026-12-07T19:00:00Z".into(),
            created_at_ms: 1,
            encrypted: false,
            files: files
                .iter()
                .map(|&(path, size, sha256)| ManifestFile {
                    path: path.into(),
                    size,
                    mode: 0o600,
                    sha256: sha256.into(),
                })
                .collect(),
        }
    }

    fn seen(files: &[(&str, u64, &str)]) -> BTreeMap<String, (u64, String)> {
        files
            .iter()
            .map(|&(path, size, sha)| (path.to_owned(), (size, sha.to_owned())))
            .collect()
    }

    #[track_caller]
    fn check_target(name: &str, expect: Result<Option<&str>, ()>) {
        let got = entry_target(name).map_err(|_| ());
        assert_eq!(got, expect.map(|path| path.map(PathBuf::from)), "{name}");
    }

    #[test]
    fn entry_names() {
        check_target("database.dump", Ok(None));
        check_target("data/ca/ca.key", Ok(Some("ca/ca.key")));
        check_target(
            "data/db-wal/00000000000000000001.wal",
            Ok(Some("db-wal/00000000000000000001.wal")),
        );
        check_target("data/../etc/passwd", Err(()));
        check_target("data/ca/../../x", Err(()));
        check_target("data//etc/passwd", Err(()));
        check_target("data/./x", Err(()));
        check_target("data/", Err(()));
        check_target("/etc/passwd", Err(()));
        check_target("other/x", Err(()));
        check_target("MANIFEST.json", Err(()));
    }

    #[test]
    fn a_manifest_round_trips_and_checks_what_was_read() {
        let written = manifest(&[("database.dump", 10, "aa"), ("data/ca/ca.key", 3, "bb")]);
        let parsed = Manifest::parse(&serde_json::to_vec(&written).unwrap()).unwrap();
        assert_eq!(parsed, written);
        let all = [("database.dump", 10, "aa"), ("data/ca/ca.key", 3, "bb")];
        assert_eq!(parsed.check(&seen(&all)), Ok(()));
        let changed = [("database.dump", 10, "aa"), ("data/ca/ca.key", 3, "bc")];
        assert_eq!(
            parsed.check(&seen(&changed)),
            Err(ManifestError::Mismatch("data/ca/ca.key".into()))
        );
        let resized = [("database.dump", 11, "aa"), ("data/ca/ca.key", 3, "bb")];
        assert!(matches!(
            parsed.check(&seen(&resized)),
            Err(ManifestError::Mismatch(_))
        ));
        assert_eq!(
            parsed.check(&seen(&all[..1])),
            Err(ManifestError::Missing("data/ca/ca.key".into()))
        );
        let extra = [
            ("database.dump", 10, "aa"),
            ("data/ca/ca.key", 3, "bb"),
            ("data/x", 1, "cc"),
        ];
        assert_eq!(
            parsed.check(&seen(&extra)),
            Err(ManifestError::Unlisted("data/x".into()))
        );
    }

    #[test]
    fn bad_manifests_are_refused() {
        assert!(matches!(
            Manifest::parse(b"{"),
            Err(ManifestError::Unreadable(_))
        ));
        let mut newer = manifest(&[]);
        newer.format = FORMAT_VERSION + 1;
        assert_eq!(
            Manifest::parse(&serde_json::to_vec(&newer).unwrap()),
            Err(ManifestError::UnsupportedFormat(FORMAT_VERSION + 1))
        );
        let twice = manifest(&[("data/a", 1, "aa"), ("data/a", 1, "aa")]);
        assert!(matches!(
            Manifest::parse(&serde_json::to_vec(&twice).unwrap()),
            Err(ManifestError::Duplicate(_))
        ));
        let escaping = manifest(&[("data/../a", 1, "aa")]);
        assert!(matches!(
            Manifest::parse(&serde_json::to_vec(&escaping).unwrap()),
            Err(ManifestError::BadPath(_))
        ));
    }
}
