//! The hand-over directory `<data_dir>/upgrade/` on real files, from both sides: the sandboxed
//! agent writes a verified package there (the package, then the signed manifest, then the
//! request, each atomically; the request last, because `unity-agent-upgrade.path` starts the
//! root side when it appears), and the root `apply-upgrade` takes it out again without
//! trusting it: no symlinks, regular files only, sizes checked before anything is read, the
//! package copied into its own directory (which the agent cannot write) and checked there, so
//! the agent cannot change it between the check and the install. Root's writes into the
//! agent's directories never follow a link the agent may have planted. Note that this uses
//! blocking I/O.

use super::package::{package_file, MANIFEST_FILE, REQUEST_FILE};
use sha2::Digest as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use unity_shared::model::agent_build::BuildKind;

/// The package stem in the hand-over directory.
pub const PENDING_STEM: &str = "pending";

/// `dir` must be a directory itself, not a symlink to one.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory (a symlink?)", dir.display())),
        Err(error) => Err(format!("{}: {error}", dir.display())),
    }
}

/// Opens a regular file that is not a symlink, refusing it when larger than `max` bytes, and
/// makes sure the file opened is the one looked at (a rename in between is refused).
fn open_regular(path: &Path, max: u64) -> Result<(fs::File, u64), String> {
    let seen =
        fs::symlink_metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if !seen.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file (a symlink, a directory or a device)",
            path.display()
        ));
    }
    if seen.len() > max {
        return Err(format!(
            "{} has {} bytes, more than the {max} expected",
            path.display(),
            seen.len()
        ));
    }
    let file = fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let opened = file
        .metadata()
        .map_err(|error| format!("{}: {error}", path.display()))?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) || !opened.file_type().is_file() {
        return Err(format!("{} changed while it was opened", path.display()));
    }
    Ok((file, seen.len()))
}

/// Reads a small regular file (a request, a manifest, a trial record), at most `max` bytes.
pub fn read_small(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let (file, _) = open_regular(path, max)?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!("{} grew past {max} bytes", path.display()));
    }
    Ok(bytes)
}

/// Copies `source` (a regular file of exactly `size` bytes) to a new 0600 file `target`,
/// hashing it; returns the copy's SHA-256 and length. A larger or smaller file is refused
/// before a byte is read; one that grows while read is refused too.
pub fn copy_checked(source: &Path, target: &Path, size: u64) -> Result<([u8; 32], u64), String> {
    let (file, len) = open_regular(source, size)?;
    if len != size {
        return Err(format!(
            "{} has {len} bytes, its manifest says {size}",
            source.display()
        ));
    }
    remove_if_present(target).map_err(|error| format!("{}: {error}", target.display()))?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(|error| format!("{}: {error}", target.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut copied = 0u64;
    let mut reader = file.take(size + 1);
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|error| format!("{}: {error}", source.display()))?;
        if n == 0 {
            break;
        }
        copied += n as u64;
        if copied > size {
            return Err(format!("{} grew while it was copied", source.display()));
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .map_err(|error| format!("{}: {error}", target.display()))?;
    }
    out.sync_all()
        .map_err(|error| format!("{}: {error}", target.display()))?;
    Ok((hasher.finalize().into(), copied))
}

/// Removes `path` (a link itself, never what it points to); absent is fine.
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes every pending file of the hand-over directory (the request first, so the path unit
/// does not start the service again for a half-removed set). A hand-over directory that is a
/// symlink is removed itself (the link, never what it points to); a directory planted under a
/// pending file's name is removed with its contents (without following links in it).
pub fn remove_pending(upgrade_dir: &Path) {
    match fs::symlink_metadata(upgrade_dir) {
        Ok(meta) if meta.file_type().is_dir() => {}
        Ok(_) => {
            if let Err(error) = fs::remove_file(upgrade_dir) {
                tracing::warn!(%error, "Cannot remove a hand-over directory that is not one.");
            }
            return;
        }
        Err(_) => return,
    }
    let mut names = vec![REQUEST_FILE.to_owned(), MANIFEST_FILE.to_owned()];
    for kind in [BuildKind::Deb, BuildKind::Rpm] {
        names.extend(package_file(kind, PENDING_STEM));
        names.extend(package_file(kind, INCOMING_STEM));
    }
    for name in names {
        let path = upgrade_dir.join(&name);
        let removed = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => fs::remove_dir_all(&path),
            _ => remove_if_present(&path),
        };
        if let Err(error) = removed {
            tracing::warn!(%error, file = %name, "Cannot remove a pending upgrade file.");
        }
    }
}

/// Writes `bytes` to `path` atomically through a new file (`O_EXCL`: a symlink planted at the
/// temporary name is refused, never followed), then a rename over `path` (which replaces a
/// link at `path` itself). For root writing into a directory the agent can write: the same as
/// [`crate::fsutil::replace_file`], named for what this module relies on.
pub fn write_exclusive(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    crate::fsutil::replace_file(path, bytes, mode)
}

/// Where the agent receives a package before handing it over.
pub const INCOMING_STEM: &str = ".incoming";

/// The agent's side: makes the hand-over directory (0700) and says where the package is
/// received; refused while an earlier request is still pending.
pub fn prepare(upgrade_dir: &Path, kind: BuildKind) -> Result<PathBuf, String> {
    if fs::symlink_metadata(upgrade_dir).is_err() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(upgrade_dir)
            .map_err(|error| format!("{}: {error}", upgrade_dir.display()))?;
    }
    check_dir(upgrade_dir)?;
    if fs::symlink_metadata(upgrade_dir.join(REQUEST_FILE)).is_ok() {
        return Err(format!(
            "an upgrade is already pending in {} (unity-agent-upgrade.path has not taken it; \
             is it enabled?)",
            upgrade_dir.display()
        ));
    }
    let name = package_file(kind, INCOMING_STEM).ok_or("not a package build")?;
    Ok(upgrade_dir.join(name))
}

/// The agent's side: the received and checked package becomes `pending.<ext>`, then the signed
/// manifest and the request are written; the request last.
pub fn hand_over(
    upgrade_dir: &Path,
    kind: BuildKind,
    incoming: &Path,
    manifest: &[u8],
    request: &[u8],
) -> std::io::Result<()> {
    let pending = upgrade_dir.join(package_file(kind, PENDING_STEM).unwrap_or_default());
    fs::rename(incoming, &pending)?;
    crate::fsutil::replace_file(&upgrade_dir.join(MANIFEST_FILE), manifest, 0o600)?;
    crate::fsutil::replace_file(&upgrade_dir.join(REQUEST_FILE), request, 0o600)
}
