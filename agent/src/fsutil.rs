//! Crash-safe file replacement: write a temporary file, fsync it, rename it over the target,
//! then fsync the directory so the rename itself survives a power cut (a rename lives in the
//! directory, not in the file). The temporary file is always a new file (`O_EXCL`): the agent
//! runs as root and writes into directories others can write (a compose project, a home's
//! `.ssh`), so a symlink planted at the temporary name must never be followed. Note that this
//! uses blocking I/O.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The temporary file [`replace_file`] writes beside `path`: `.<name>.unity-tmp`, hidden and
/// unlikely to be anyone else's file.
pub fn temporary_path(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.unity-tmp"))
}

/// Replaces `path` with `bytes` atomically and durably; the file gets `mode` (e.g. 0o600). A
/// leftover temporary file (a crash) is removed first; whatever is at the temporary name (a
/// link, a file planted since) makes it fail rather than be written through.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = temporary_path(path);
    match fs::remove_file(&tmp) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    // Exactly `mode`, whatever the umask: the unit's UMask=0077 would turn 0644 into 0600, and
    // sshd reads authorized-keys and principals files as the logging-in user.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

/// Creates `dir` and each missing parent with exactly `mode`, whatever the umask (the packaged
/// unit's is 0077; sshd reads a user's authorized-keys and principals files as that user, so
/// their directories must be searchable). Existing directories are left as they are.
pub fn create_dirs(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let missing: Vec<&Path> = dir.ancestors().take_while(|dir| !dir.exists()).collect();
    for dir in missing.into_iter().rev() {
        match fs::DirBuilder::new().mode(mode).create(dir) {
            Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode))?,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// fsyncs the directory holding `path`, making a rename, creation or removal in it durable.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::File::open(parent)?.sync_all()
}

/// [`replace_file`] with the path in the error, for `anyhow` callers.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use anyhow::Context as _;
    replace_file(path, bytes, mode).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_contents_and_sets_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        replace_file(&path, b"one", 0o600).unwrap();
        replace_file(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn a_link_planted_at_the_temporary_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("shadow");
        fs::write(&victim, b"root:secret").unwrap();
        let path = dir.path().join("compose.yaml");
        std::os::unix::fs::symlink(&victim, temporary_path(&path)).unwrap();
        replace_file(&path, b"services: {}", 0o644).unwrap();
        assert_eq!(
            fs::read(&victim).unwrap(),
            b"root:secret",
            "the link's target is untouched"
        );
        assert_eq!(fs::read(&path).unwrap(), b"services: {}");
        assert!(fs::symlink_metadata(&victim).unwrap().file_type().is_file());
        // A leftover from a crash is replaced too.
        fs::write(temporary_path(&path), b"half").unwrap();
        replace_file(&path, b"services: {x: {}}", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"services: {x: {}}");
        assert!(!temporary_path(&path).exists());
    }
}
