//! Makes sshd read the managed files of the `File` mode: the `AuthorizedKeysFile` in force
//! (`sshd -T`) plus `<managed_dir>/%u`, written as `[ssh_keys] sshd_drop_in`, activated through
//! the sshd module's one path ([`crate::sshd::activate`]: written atomically, `sshd -t`, the
//! previous bytes put back and no reload when sshd refuses, otherwise a reload), then checked
//! in force. Nothing is written when the entry is in force already.

use super::drop_in;
use crate::config::ssh_keys::SshKeysConfig;
use crate::config::sshd::SshdConfig;
use crate::sshd;

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// sshd read the managed files already.
    InForce,
    /// The drop-in was written and sshd reloaded.
    Written,
}

/// The `AuthorizedKeysFile` list `sshd -T` shows.
async fn list_in_force(config: &SshdConfig) -> Result<Vec<String>, String> {
    let effective = sshd::effective(config).await?;
    drop_in::effective_list(&effective)
        .ok_or_else(|| "`sshd -T` shows no AuthorizedKeysFile".to_owned())
}

/// Makes sshd read `<managed_dir>/%u` beside the files it read before.
pub async fn ensure(keys: &SshKeysConfig, config: &SshdConfig) -> Result<Ensured, String> {
    let _one_at_a_time = sshd::exclusive().await;
    let entry = drop_in::managed_entry(&keys.managed_dir);
    let list = list_in_force(config).await?;
    let Some(text) = drop_in::render(&list, &entry) else {
        return Ok(Ensured::InForce);
    };
    let (main, path) = (config.config.clone(), keys.sshd_drop_in.clone());
    let before = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&main)
            .map_err(|error| format!("reading {}: {error}", main.display()))?;
        if !sshd::render::includes(&text, &path) {
            return Err(sshd::not_included(&main, &path));
        }
        sshd::files::snapshot_file(&path)
    })
    .await
    .map_err(|error| format!("file task failed: {error}"))??;
    let mut wanted = sshd::files::Snapshot::new();
    wanted.insert(keys.sshd_drop_in.clone(), text.into_bytes());
    sshd::activate(config, before, wanted, "the managed SSH keys").await?;
    if !list_in_force(config).await?.contains(&entry) {
        return Err(format!(
            "{} is in place, but another sshd configuration file sets AuthorizedKeysFile before \
             it (sshd takes the first value it reads); remove that line or give the drop-in a \
             name that sorts first",
            keys.sshd_drop_in.display()
        ));
    }
    tracing::info!(drop_in = %keys.sshd_drop_in.display(), %entry, "sshd now reads the managed SSH keys files.");
    Ok(Ensured::Written)
}
