//! Unity's sshd files on disk: what is there now (the drop-in and every regular file in Unity's
//! directory and its principals directory, or one drop-in alone), replacing them with a new set (each file written
//! atomically, files no longer wanted removed), and putting a snapshot back exactly. Note that
//! this uses blocking I/O.

use super::render::PRINCIPALS_DIR;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Unity's files as they are: path -> bytes.
pub type Snapshot = BTreeMap<PathBuf, Vec<u8>>;

fn regular_files(dir: &Path, into: &mut Snapshot) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.file_type()?;
        if meta.is_file() && !entry.file_name().to_string_lossy().ends_with(".tmp") {
            into.insert(entry.path(), fs::read(entry.path())?);
        }
    }
    Ok(())
}

/// Adds `path` to `into` when it is a regular file; an error when it is anything else.
fn one_file(path: &Path, into: &mut Snapshot) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {
            into.insert(path.to_owned(), fs::read(path)?);
            Ok(())
        }
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Reads the drop-in and Unity's directory (symlinks are not followed: only regular files).
pub fn snapshot(unity_dir: &Path, drop_in: &Path) -> Result<Snapshot, String> {
    let mut files = Snapshot::new();
    let mut read = || -> std::io::Result<()> {
        regular_files(unity_dir, &mut files)?;
        regular_files(&unity_dir.join(PRINCIPALS_DIR), &mut files)?;
        one_file(drop_in, &mut files)
    };
    read().map_err(|error| format!("reading Unity's sshd files: {error}"))?;
    Ok(files)
}

/// Reads one drop-in: empty when it does not exist; a symlink or anything but a regular file
/// is an error.
pub fn snapshot_file(path: &Path) -> Result<Snapshot, String> {
    let mut files = Snapshot::new();
    one_file(path, &mut files).map_err(|error| format!("reading {}: {error}", path.display()))?;
    Ok(files)
}

/// Makes the files on disk exactly `wanted` (paths the caller made from `[sshd]`, never the
/// controller's): writes those that differ (0644 and missing directories 0755 whatever the umask:
/// sshd reads principals files as the user; atomically), removes the others of `current`.
pub fn apply(current: &Snapshot, wanted: &Snapshot) -> Result<(), String> {
    let run = || -> std::io::Result<()> {
        for (path, bytes) in wanted {
            if current.get(path) == Some(bytes) {
                continue;
            }
            if let Some(parent) = path.parent() {
                crate::fsutil::create_dirs(parent, 0o755)?;
            }
            crate::fsutil::replace_file(path, bytes, 0o644)?;
        }
        for path in current.keys() {
            if !wanted.contains_key(path) {
                match fs::remove_file(path) {
                    Ok(()) => crate::fsutil::sync_parent(path)?,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(())
    };
    run().map_err(|error| format!("writing Unity's sshd files: {error}"))
}

/// Puts `before` back after `apply(before -> after)`.
pub fn restore(after: &Snapshot, before: &Snapshot) -> Result<(), String> {
    apply(after, before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_then_restore_puts_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let unity = dir.path().join("unity");
        let drop_in = dir.path().join("conf.d/50-unity.conf");
        fs::create_dir_all(unity.join(PRINCIPALS_DIR)).unwrap();
        fs::create_dir_all(drop_in.parent().unwrap()).unwrap();
        fs::write(unity.join("old-cert.pub"), "old\n").unwrap();
        fs::write(unity.join("principals/ops"), "ops\n").unwrap();
        fs::write(&drop_in, "HostCertificate old\n").unwrap();
        let before = snapshot(&unity, &drop_in).unwrap();
        assert_eq!(before.len(), 3);

        let mut wanted = Snapshot::new();
        wanted.insert(unity.join("new-cert.pub"), b"new\n".to_vec());
        wanted.insert(drop_in.clone(), b"HostCertificate new\n".to_vec());
        apply(&before, &wanted).unwrap();
        assert_eq!(snapshot(&unity, &drop_in).unwrap(), wanted);

        restore(&wanted, &before).unwrap();
        assert_eq!(snapshot(&unity, &drop_in).unwrap(), before);
    }
}
