//! The controller's own backup and restore (issue 20 §5, docs/backup.md); not to be confused
//! with the container backups of updates (`domain::backups`). `write.rs` makes an archive
//! from a running (or stopped) store: the consistent snapshot of `storage::backup` plus the
//! data directory's other files, compressed, optionally encrypted (`crypt.rs`), with a
//! manifest (`manifest.rs`, pure) as its last entry, written atomically. `read.rs` walks an
//! archive checking it; `restore.rs` restores into a data directory through a temporary one.
//! `rotation.rs` (pure) names scheduled archives and picks the old ones to delete;
//! `status.rs` is what `/metrics` shows of the scheduled backups. The audited operations and
//! the schedule are `domain::backup`.

pub mod crypt;
pub mod manifest;
mod read;
mod restore;
pub mod rotation;
pub mod status;
mod write;

pub use read::{is_encrypted, verify};
pub use restore::{holds_something, restore, RestoreOptions, RestoreReport};
pub use write::{create, BackupOptions, BackupReport, STAGING_PREFIX};

use std::path::{Path, PathBuf};

/// Why a backup or a restore failed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Taking the store's snapshot or rebuilding the database failed.
    #[error(transparent)]
    Snapshot(#[from] crate::storage::backup::SnapshotError),
    /// The passphrase is wrong, too short, or the encrypted archive is damaged.
    #[error(transparent)]
    Crypt(#[from] crypt::CryptError),
    /// The archive does not match its manifest.
    #[error("the backup is damaged or was changed: {0}")]
    Manifest(#[from] manifest::ManifestError),
    /// The archive cannot be read (cut short, not gzip, a bad entry).
    #[error("the backup is damaged or cut short: {0}")]
    Damaged(String),
    /// The file is neither a plain nor an encrypted Unity backup.
    #[error("{} is not a Unity controller backup", .0.display())]
    NotABackup(PathBuf),
    /// The archive is encrypted and no passphrase was given.
    #[error("this backup is encrypted: give its passphrase (--passphrase-file)")]
    NeedsPassphrase,
    /// The target archive exists already.
    #[error("{} exists already; choose another name", .0.display())]
    Exists(PathBuf),
    /// The data directory to restore into holds something.
    #[error("{} is not empty; restore into an empty directory, or add --force to move its contents aside", .0.display())]
    NotEmpty(PathBuf),
    /// The sealing key was rotated while the backup ran.
    #[error("the sealing key was rotated while the backup ran; run the backup again")]
    KeyRotated,
    /// A file changed size while it was archived (it should not: it was staged).
    #[error("{0} changed while it was archived")]
    Changed(String),
    /// A path is outside the data directory or has no name.
    #[error("{} is not inside the data directory", .0.display())]
    Outside(PathBuf),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
