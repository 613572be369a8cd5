//! `unity-agent ssh-keys status`: the users whose keys the agent manages on this host, the
//! file, the managed lines now and whether they were edited by hand since the agent wrote them
//! (read-only). Note that this uses blocking I/O.

use super::{block, read_existing, state};
use crate::config::ssh_keys::SshKeysConfig;

/// One managed user as `unity-agent ssh-keys status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ManagedUser {
    pub user: String,
    pub path: std::path::PathBuf,
    /// The lines of the managed block now (`None`: no block, or the file is unreadable).
    pub lines: Option<Vec<String>>,
    /// The block differs from what the agent last wrote (a hand edit).
    pub drift: bool,
    /// Why the file could not be read.
    pub error: Option<String>,
}

/// What the agent manages now and whether each block is as it wrote it (read-only).
pub fn status(config: &SshKeysConfig) -> Result<Vec<ManagedUser>, String> {
    let remembered = state::load(&config.state_file)?;
    Ok(remembered
        .users
        .into_iter()
        .map(|(user, written)| {
            let found = read_existing(&written.path).and_then(|existing| {
                let bytes = existing.map(|(bytes, _)| bytes).unwrap_or_default();
                block::split(&bytes)
                    .map(|split| split.block)
                    .map_err(|error| error.to_string())
            });
            match found {
                Ok(lines) => ManagedUser {
                    drift: lines
                        .as_deref()
                        .is_none_or(|lines| block::fingerprint(lines) != written.fingerprint),
                    user,
                    path: written.path,
                    lines,
                    error: None,
                },
                Err(error) => ManagedUser {
                    user,
                    path: written.path,
                    lines: None,
                    drift: false,
                    error: Some(error),
                },
            }
        })
        .collect())
}
