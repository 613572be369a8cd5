//! The SSH CA on this host (docs/ssh-ca.md): answers the controller's `ReadSshHostKeys` with the
//! public halves of the host keys `[sshd] host_keys` names, and carries out `ConfigureSshd`:
//! certificates only for those host keys (the controller never names a path), the trusted user
//! CA and per-user principals files under `[sshd] unity_dir`, and the drop-in; then
//! `sshd -t -f <config>` through [`crate::exec`]. A configuration sshd refuses is never
//! activated: the previous files are put back exactly and sshd is not reloaded.
//!
//! render.rs decides the files' text (pure), revoked.rs the revoked keys file (`RevokedKeys`,
//! pure); files.rs snapshots, writes and restores them.

pub mod files;
pub mod render;
pub mod revoked;

use crate::config::sshd::SshdConfig;
use crate::exec::{self, CommandSpec};
use std::path::{Path, PathBuf};
use unity_shared::model::ssh::{ConfigureSshd, SshHostKey, SshHostKeys, SshLine, SshdConfigured};

/// Public key files the patterns name, sorted. Note that this uses blocking I/O.
fn public_key_files(patterns: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            continue;
        };
        if !name.contains(['*', '?']) {
            if path.is_file() {
                found.push(path.to_owned());
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if render::wildcard_match(name, file_name)
                && !file_name.ends_with("-cert.pub")
                && entry.file_type().is_ok_and(|kind| kind.is_file())
            {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The host's public keys. Note that this uses blocking I/O.
fn host_keys(config: &SshdConfig) -> Result<Vec<SshHostKey>, String> {
    let mut keys = Vec::new();
    for public in public_key_files(&config.host_keys) {
        let Some(private) = render::private_key_path(&public) else {
            continue;
        };
        let text = std::fs::read_to_string(&public)
            .map_err(|error| format!("reading {}: {error}", public.display()))?;
        let line = text.trim();
        if ssh_key::PublicKey::from_openssh(line).is_err() {
            tracing::warn!(path = %public.display(), "Not an OpenSSH public key; skipped.");
            continue;
        }
        let public_key = SshLine::new(line).map_err(|error| error.to_string())?;
        keys.push(SshHostKey {
            path: private.display().to_string(),
            public_key,
        });
    }
    if keys.is_empty() {
        return Err(format!(
            "no SSH host public keys found at {}",
            config.host_keys.join(", ")
        ));
    }
    Ok(keys)
}

fn disabled() -> String {
    "the SSH CA's sshd configuration is disabled on this agent ([sshd] enabled = false)".into()
}

/// Answers `ReadSshHostKeys`.
pub async fn read_host_keys(config: &SshdConfig) -> Result<SshHostKeys, String> {
    if !config.enabled {
        return Err(disabled());
    }
    let config = config.clone();
    tokio::task::spawn_blocking(move || host_keys(&config).map(|keys| SshHostKeys { keys }))
        .await
        .map_err(|error| format!("reading host keys failed: {error}"))?
}

/// The files `request` asks for, checked against the host's own keys. Note that this uses
/// blocking I/O.
fn wanted_files(config: &SshdConfig, request: &ConfigureSshd) -> Result<files::Snapshot, String> {
    let keys = if request.host_certificates.is_empty() {
        Vec::new()
    } else {
        host_keys(config)?
    };
    let mut certificates = Vec::new();
    for wanted in &request.host_certificates {
        let Some(key) = keys.iter().find(|key| key.path == wanted.host_key_path) else {
            return Err(format!(
                "no host key {} on this host; certificates are accepted only for the keys \
                 [sshd] host_keys names",
                wanted.host_key_path
            ));
        };
        let certificate = ssh_key::Certificate::from_openssh(wanted.certificate.as_str())
            .map_err(|error| format!("certificate for {}: {error}", key.path))?;
        let public = ssh_key::PublicKey::from_openssh(key.public_key.as_str())
            .map_err(|error| format!("host key {}: {error}", key.path))?;
        if certificate.public_key() != public.key_data() || !certificate.cert_type().is_host() {
            return Err(format!(
                "the certificate sent for {} is not a host certificate of that key",
                key.path
            ));
        }
        let file_name = render::certificate_file_name(&key.path)
            .ok_or_else(|| format!("host key path {} has no file name", key.path))?;
        certificates.push((file_name, wanted.certificate.as_str().to_owned()));
    }
    let trusted: Vec<String> = request
        .trusted_user_ca_keys
        .iter()
        .map(|line| line.as_str().to_owned())
        .collect();
    let principals: Vec<(String, Vec<String>)> = request
        .principals
        .iter()
        .map(|user| {
            (
                user.user.as_str().to_owned(),
                user.principals
                    .iter()
                    .map(|principal| principal.as_str().to_owned())
                    .collect(),
            )
        })
        .collect();
    let revoked_keys = request
        .revoked_keys
        .iter()
        .map(|line| line.as_str().to_owned())
        .collect::<Vec<_>>();
    let revoked_keys = revoked::checked_lines(&revoked_keys)?;
    let mut files = render::desired_files(
        &config.unity_dir,
        &config.drop_in,
        &certificates,
        &trusted,
        &principals,
    );
    revoked::add_revoked_keys(
        &mut files,
        &config.unity_dir,
        &config.drop_in,
        !trusted.is_empty(),
        &revoked_keys,
    );
    Ok(files
        .into_iter()
        .map(|(path, text)| (path, text.into_bytes()))
        .collect())
}

/// `sshd -t -f <config>`: `Err` with sshd's own message.
async fn check(config: &SshdConfig) -> Result<(), String> {
    let spec = CommandSpec::new(
        &config.sshd,
        &["-t", "-f", &config.config.display().to_string()],
    );
    let output = exec::run(&spec, config.timeout)
        .await
        .map_err(|error| error.to_string())?;
    if output.exit_code == Some(0) {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(format!("sshd -t refused the configuration: {stderr}"))
    }
}

async fn reload(config: &SshdConfig) -> Result<(), String> {
    let args: Vec<&str> = config.reload[1..].iter().map(String::as_str).collect();
    let spec = CommandSpec::new(&config.reload[0], &args);
    let output = exec::run(&spec, config.timeout)
        .await
        .map_err(|error| error.to_string())?;
    if output.exit_code == Some(0) {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| format!("file task failed: {error}"))?
}

/// One change of sshd's configuration at a time: the files are the host's, one set for the whole
/// process (a renewal, an operator's change and the managed keys' drop-in may arrive together).
static CONFIGURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds every other change of sshd's configuration by this agent off until dropped: take it
/// before the snapshot handed to [`activate`].
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    CONFIGURING.lock().await
}

/// Makes the files `before` -> `wanted` (each written atomically, files of `before` missing in
/// `wanted` removed), then `sshd -t`: if sshd refuses, `before` is put back exactly and sshd is
/// not reloaded; otherwise sshd is reloaded. `what` names the change in messages. The caller
/// holds [`exclusive`] and made every path from the agent's own configuration.
pub async fn activate(
    config: &SshdConfig,
    before: files::Snapshot,
    wanted: files::Snapshot,
    what: &str,
) -> Result<(), String> {
    let (written_before, written) = (before.clone(), wanted.clone());
    blocking(move || files::apply(&written_before, &written)).await?;
    if let Err(message) = check(config).await {
        let (after, back) = (wanted, before);
        let restored = blocking(move || files::restore(&after, &back)).await;
        tracing::warn!(%message, what, "sshd refused Unity's drop-in; the previous files are back.");
        return Err(match restored {
            Ok(()) => format!("{message}; the previous files were put back, sshd not reloaded"),
            Err(error) => format!("{message}; putting the previous files back failed: {error}"),
        });
    }
    reload(config).await.map_err(|message| {
        format!(
            "the new sshd configuration is in place and valid, but the reload failed: {message}"
        )
    })?;
    tracing::info!(what, "sshd configured and reloaded.");
    Ok(())
}

/// Answers `ConfigureSshd`: write, check, reload; or put everything back.
pub async fn configure(
    config: &SshdConfig,
    request: ConfigureSshd,
) -> Result<SshdConfigured, String> {
    if !config.enabled {
        return Err(disabled());
    }
    let _one_at_a_time = exclusive().await;
    let owned = config.clone();
    let (before, wanted) = blocking(move || {
        let wanted = wanted_files(&owned, &request)?;
        if !wanted.is_empty() {
            let main = std::fs::read_to_string(&owned.config)
                .map_err(|error| format!("reading {}: {error}", owned.config.display()))?;
            if !render::includes(&main, &owned.drop_in) {
                return Err(not_included(&owned.config, &owned.drop_in));
            }
        }
        let before = files::snapshot(&owned.unity_dir, &owned.drop_in)?;
        Ok((before, wanted))
    })
    .await?;
    if before == wanted {
        return Ok(SshdConfigured {
            changed: false,
            reloaded: false,
        });
    }
    activate(config, before, wanted, "the SSH CA").await?;
    Ok(SshdConfigured {
        changed: true,
        reloaded: true,
    })
}

/// Why a drop-in would have no effect: sshd's main configuration does not include it.
pub fn not_included(main: &Path, drop_in: &Path) -> String {
    format!(
        "{} does not include {} (add `Include {}/*.conf` at its top); nothing was written",
        main.display(),
        drop_in.display(),
        drop_in
            .parent()
            .map(|dir| dir.display().to_string())
            .unwrap_or_default()
    )
}

/// `sshd -T -f <config>`: the effective configuration sshd would run with (lower-case keywords,
/// one per line); `Err` with sshd's own message when it refuses the configuration.
pub async fn effective(config: &SshdConfig) -> Result<String, String> {
    let spec = CommandSpec::new(
        &config.sshd,
        &["-T", "-f", &config.config.display().to_string()],
    );
    let output = exec::run(&spec, config.timeout)
        .await
        .map_err(|error| error.to_string())?;
    if output.exit_code == Some(0) && !output.stdout_truncated {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(format!("sshd -T refused the configuration: {stderr}"))
    }
}

#[cfg(test)]
mod tests;
