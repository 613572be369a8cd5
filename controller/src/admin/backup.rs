//! `backup FILE` on the admin socket (issue 20): the running daemon makes the backup, so the
//! snapshot is taken inside the process that writes the store, through
//! [`crate::domain::controller_backup`] as the actor `cli`. The passphrase travels towards the
//! daemon only, over the 0600 socket, and is never answered or logged.

use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::controller_backup;
use crate::domain::error::DomainError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `unity-controller backup FILE`, as sent to the daemon.
#[derive(Clone, Serialize, Deserialize)]
pub struct BackupRequest {
    /// The archive to write, absolute (the CLI resolves it against its working directory).
    pub path: String,
    /// Encrypt with this passphrase (read by the CLI from a file or standard input).
    pub passphrase: Option<String>,
}

impl std::fmt::Debug for BackupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupRequest")
            .field("path", &self.path)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the backup wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupDone {
    pub path: String,
    pub bytes: u64,
    pub n_files: usize,
    pub n_records: u64,
    pub encrypted: bool,
    pub created_at_ms: i64,
}

/// Makes the backup. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: BackupRequest) -> Result<BackupDone, DomainError> {
    let passphrase = request
        .passphrase
        .as_deref()
        .map(controller_backup::passphrase)
        .transpose()?;
    let report = controller_backup::create(ctx, &Actor::Cli, Path::new(&request.path), passphrase)?;
    Ok(BackupDone {
        path: report.path.display().to_string(),
        bytes: report.bytes,
        n_files: report.n_files,
        n_records: report.n_records,
        encrypted: report.encrypted,
        created_at_ms: report.created_at_ms,
    })
}
