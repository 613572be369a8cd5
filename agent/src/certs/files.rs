//! The files of a managed certificate on disk: where a declared path really leads (no symlink
//! out of the allowed directories), owners by name from `/etc/passwd` and `/etc/group`, each
//! file replaced atomically with its owner and mode set before the rename (temporary file in
//! the same directory, fsync, rename, fsync the directory), and what was there before, to put
//! back. Note that this uses blocking I/O.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The real path to write for `path` (already checked by `policy::check_path`): its directory
/// must exist and, symlinks resolved, still be under an allowed directory; the file itself
/// must be absent or a regular file (not a symlink).
pub fn resolve(path: &Path, allowed_dirs: &[PathBuf]) -> Result<PathBuf, String> {
    let (Some(parent), Some(file_name)) = (path.parent(), path.file_name()) else {
        return Err(format!("{} names no file", path.display()));
    };
    let real_parent = fs::canonicalize(parent)
        .map_err(|error| format!("directory {}: {error}", parent.display()))?;
    let inside = allowed_dirs
        .iter()
        .filter_map(|dir| fs::canonicalize(dir).ok())
        .any(|dir| real_parent.starts_with(dir));
    if !inside {
        return Err(format!(
            "{} leads outside the allowed directories (through a symlink) to {}",
            path.display(),
            real_parent.display()
        ));
    }
    let target = real_parent.join(file_name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => Err(format!(
            "{} is a symlink; refusing to follow it",
            path.display()
        )),
        Ok(meta) if !meta.is_file() => Err(format!("{} is not a regular file", path.display())),
        _ => Ok(target),
    }
}

/// The numeric id of `name` (or a number) in the text of a passwd or group file.
pub fn lookup_id(name: &str, table: &str, file: &str) -> Result<u32, String> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let entry = fields.next()?;
            let _password = fields.next()?;
            let id = fields.next()?.parse().ok()?;
            (entry == name).then_some(id)
        })
        .next()
        .ok_or_else(|| format!("{name:?} not found in {file}"))
}

/// Owner and group ids for the files, from their names (`None`: leave as created).
pub fn owner_ids(
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), String> {
    let read = |file: &str| fs::read_to_string(file).map_err(|error| format!("{file}: {error}"));
    let uid = match owner {
        Some(owner) => Some(lookup_id(owner, &read("/etc/passwd")?, "/etc/passwd")?),
        None => None,
    };
    let gid = match group {
        Some(group) => Some(lookup_id(group, &read("/etc/group")?, "/etc/group")?),
        None => None,
    };
    Ok((uid, gid))
}

/// What a path held before an install: its bytes, mode and owner, or nothing.
#[derive(Debug, Clone)]
pub struct Previous {
    pub path: PathBuf,
    pub contents: Option<(Vec<u8>, u32, u32, u32)>,
}

/// What `path` holds now.
pub fn snapshot(path: &Path) -> Result<Previous, String> {
    let contents = match fs::read(path) {
        Ok(bytes) => {
            let meta =
                fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
            Some((
                bytes,
                meta.permissions().mode() & 0o7777,
                meta.uid(),
                meta.gid(),
            ))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(format!("reading {}: {error}", path.display())),
    };
    Ok(Previous {
        path: path.to_owned(),
        contents,
    })
}

/// Replaces `path` with `bytes` atomically and durably, with `mode` and owner set before the
/// rename, so the new file is never visible with other permissions.
pub fn replace(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (Option<u32>, Option<u32>),
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.unity-tmp"));
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = (|| {
        file.write_all(bytes)?;
        if owner.0.is_some() || owner.1.is_some() {
            std::os::unix::fs::fchown(&file, owner.0, owner.1)?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()
    })();
    drop(file);
    if let Err(error) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(error);
    }
    crate::fsutil::sync_parent(path)
}

/// Puts back what [`snapshot`] saw: the old bytes, mode and owner, or no file.
pub fn restore(previous: &Previous) -> std::io::Result<()> {
    match &previous.contents {
        Some((bytes, mode, uid, gid)) => {
            replace(&previous.path, bytes, *mode, (Some(*uid), Some(*gid)))
        }
        None => match fs::remove_file(&previous.path) {
            Ok(()) => crate::fsutil::sync_parent(&previous.path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_15_a_symlink_out_of_the_allowed_directories_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let outside = dir.path().join("outside");
        fs::create_dir_all(allowed.join("real")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, allowed.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), allowed.join("link.pem")).unwrap();
        let dirs = vec![allowed.clone()];
        assert!(resolve(&allowed.join("real/a.pem"), &dirs).is_ok());
        let error = resolve(&allowed.join("escape/a.pem"), &dirs).unwrap_err();
        assert!(error.contains("outside"), "{error}");
        let error = resolve(&allowed.join("link.pem"), &dirs).unwrap_err();
        assert!(error.contains("symlink"), "{error}");
        let error = resolve(&allowed.join("missing/a.pem"), &dirs).unwrap_err();
        assert!(error.contains("missing"), "{error}");
        assert!(!outside.join("f").exists());
    }

    #[test]
    fn replace_and_restore_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        let before = snapshot(&path).unwrap();
        replace(&path, b"one", 0o640, (None, None)).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let one = snapshot(&path).unwrap();
        replace(&path, b"two", 0o600, (None, None)).unwrap();
        restore(&one).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        restore(&before).unwrap();
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn ids_by_name_or_number() {
        let passwd = "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n";
        assert_eq!(lookup_id("www-data", passwd, "passwd"), Ok(33));
        assert_eq!(lookup_id("root", passwd, "passwd"), Ok(0));
        assert_eq!(lookup_id("1000", passwd, "passwd"), Ok(1000));
        assert!(lookup_id("nobody", passwd, "passwd").is_err());
    }
}
