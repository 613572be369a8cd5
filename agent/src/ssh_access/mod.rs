//! Managed SSH authorized keys: the controller's [`ApplySshAccess`] carried out. Per user, the
//! pure core ([`block`] finds and edits the managed block over bytes, [`decide`] chooses
//! between leaving, writing, removing and reporting a hand edit, [`paths`] resolves the file
//! and checks the allow-list) and this thin shell: the passwd database, the file (never
//! through a symlink; a missing `.ssh` made 0700 and the file 0600, owned by the user; replaced
//! atomically with its owner and mode kept) and the remembered fingerprints ([`state`]).
//! Users managed before and missing from the command lose their block. See docs/ssh.md.
//! Note that this uses blocking I/O (called through `spawn_blocking`).

pub mod block;
pub mod decide;
pub mod drop_in;
pub mod paths;
pub mod sshd_reads;
pub mod state;
pub mod status;

pub use status::{status, ManagedUser};

use crate::config::ssh_keys::SshKeysConfig;
use decide::Decision;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Mutex;
use unity_shared::model::ssh::{
    AccessOutcome, ApplySshAccess, AuthorizedKeysMode, DriftAction, SshAccessApplied, UnixUser,
    UserAccessOutcome, UserKeys,
};

/// The largest `authorized_keys` file the agent edits.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One apply at a time: two commands must not interleave their edits of the same files.
static APPLYING: Mutex<()> = Mutex::new(());

/// Carries out `command` off the async threads; in file mode, then makes sshd read the managed
/// files ([`sshd_reads`]). When that fails, every user whose keys are in place is reported
/// `Failed` with the reason (sshd would not read the keys), and the next apply tries again.
pub async fn apply(
    config: &SshKeysConfig,
    sshd: &crate::config::sshd::SshdConfig,
    command: ApplySshAccess,
) -> Result<SshAccessApplied, String> {
    if !config.enabled {
        return Err(
            "managed SSH keys are disabled on this host ([ssh_keys] enabled = false)".into(),
        );
    }
    let owned = config.clone();
    let file_mode = command.mode == AuthorizedKeysMode::File;
    let mut applied = tokio::task::spawn_blocking(move || apply_blocking(&owned, &command))
        .await
        .map_err(|error| format!("applying SSH access: {error}"))??;
    let in_place = |outcome: &AccessOutcome| {
        matches!(
            outcome,
            AccessOutcome::Written { .. }
                | AccessOutcome::Unchanged
                | AccessOutcome::Restored { .. }
                | AccessOutcome::Drift { .. }
        )
    };
    let any_in_place = applied.users.iter().any(|user| in_place(&user.outcome));
    if file_mode && config.configure_sshd && any_in_place {
        if let Err(message) = sshd_reads::ensure(config, sshd).await {
            tracing::warn!(%message, "sshd does not read the managed SSH keys files.");
            for user in &mut applied.users {
                if in_place(&user.outcome) {
                    user.outcome = AccessOutcome::Failed {
                        message: format!(
                            "the keys are in {}, but sshd does not read them: {message}",
                            config.managed_dir.join(user.user.as_str()).display()
                        ),
                    };
                }
            }
        }
    }
    Ok(applied)
}

/// Carries out `command`: every named user's block, then the removal of users no longer named.
pub fn apply_blocking(
    config: &SshKeysConfig,
    command: &ApplySshAccess,
) -> Result<SshAccessApplied, String> {
    let _one_at_a_time = APPLYING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut remembered = state::load(&config.state_file)?;
    let passwd = match &config.passwd_file {
        Some(file) => Some(
            fs::read_to_string(file)
                .map_err(|error| format!("reading {}: {error}", file.display()))?,
        ),
        None => None,
    };
    let mut users = Vec::new();
    let mut named = BTreeSet::new();
    for keys in &command.users {
        if !named.insert(keys.user.as_str().to_owned()) {
            continue;
        }
        let outcome = apply_user(config, passwd.as_deref(), &mut remembered, command, keys)
            .unwrap_or_else(|message| AccessOutcome::Failed { message });
        users.push(UserAccessOutcome {
            user: keys.user.clone(),
            outcome,
        });
        state::store(&config.state_file, &remembered)?;
    }
    let gone: Vec<String> = remembered
        .users
        .keys()
        .filter(|name| !named.contains(*name))
        .cloned()
        .collect();
    for name in gone {
        let Some(written) = remembered.users.get(&name).cloned() else {
            continue;
        };
        let outcome = match remove_block(&written.path, written.whole_file) {
            Ok(()) => {
                remembered.users.remove(&name);
                AccessOutcome::Removed
            }
            Err(message) => AccessOutcome::Failed { message },
        };
        state::store(&config.state_file, &remembered)?;
        if let Ok(user) = UnixUser::new(name) {
            users.push(UserAccessOutcome { user, outcome });
        }
    }
    for outcome in &users {
        tracing::info!(user = %outcome.user, outcome = ?outcome.outcome, "Managed SSH keys applied.");
    }
    Ok(SshAccessApplied {
        generation: command.generation,
        users,
    })
}

/// One user's managed keys.
fn apply_user(
    config: &SshKeysConfig,
    passwd: Option<&str>,
    remembered: &mut state::Remembered,
    command: &ApplySshAccess,
    keys: &UserKeys,
) -> Result<AccessOutcome, String> {
    let name = keys.user.as_str();
    let account = match passwd {
        Some(text) => paths::account(text, name)
            .ok_or_else(|| format!("no user {name:?} in the test passwd file"))?,
        None => account_from_nss(name)?,
    };
    if !paths::allowed(name, account.uid, &config.users, config.min_uid) {
        return Err(format!(
            "user {name:?} (uid {}) may not be managed here: not in [ssh_keys] users and below min_uid {}",
            account.uid, config.min_uid
        ));
    }
    let (path, whole_file) = match command.mode {
        AuthorizedKeysMode::Block => {
            if config.authorized_keys_file.contains("%h") && !account.home.is_dir() {
                return Err(format!(
                    "the home directory {} of {name:?} does not exist (or is hidden from the \
                     agent by its systemd unit: use file mode, the default, or relax the unit \
                     as docs/ssh.md says)",
                    account.home.display()
                ));
            }
            let path = paths::expand(&config.authorized_keys_file, &account.home, name)?;
            (path, false)
        }
        AuthorizedKeysMode::File => (config.managed_dir.join(name), true),
    };
    if let Some(old) = remembered.users.get(name).cloned() {
        if old.path != path {
            // The mode or the pattern changed: the old place loses its block first.
            remove_block(&old.path, old.whole_file)?;
            remembered.users.remove(name);
        }
    }
    let desired: Vec<String> = keys
        .lines
        .iter()
        .map(|line| line.as_str().to_owned())
        .collect();
    let existing = read_existing(&path)?;
    let bytes = existing
        .as_ref()
        .map(|(bytes, _)| bytes.as_slice())
        .unwrap_or_default();
    let split = block::split(bytes).map_err(|error| format!("{}: {error}", path.display()))?;
    let last = remembered
        .users
        .get(name)
        .map(|written| written.fingerprint.clone());
    let remember = |remembered: &mut state::Remembered| {
        remembered.users.insert(
            name.to_owned(),
            state::Written {
                path: path.clone(),
                fingerprint: block::fingerprint(&desired),
                whole_file,
            },
        );
    };
    let on_drift: DriftAction = command.on_drift;
    match decide::decide(split.block.as_deref(), last.as_deref(), &desired, on_drift) {
        Decision::Unchanged => {
            if desired.is_empty() {
                remembered.users.remove(name);
                return Ok(AccessOutcome::Removed);
            }
            remember(remembered);
            Ok(AccessOutcome::Unchanged)
        }
        Decision::Write { drifted } => {
            let new = if whole_file {
                block::block_bytes(&desired)
            } else {
                block::render(&split, Some(&desired))
            };
            let (mode, owner) = match &existing {
                Some((_, meta)) => (meta.mode() & 0o7777, (Some(meta.uid()), Some(meta.gid()))),
                None if whole_file => (0o644, (None, None)),
                None => (0o600, (Some(account.uid), Some(account.gid))),
            };
            make_parent(&path, whole_file, &account)?;
            crate::certs::files::replace(&path, &new, mode, owner).map_err(|error| {
                format!(
                    "writing {}: {error}{}",
                    path.display(),
                    confinement_hint(&error, whole_file)
                )
            })?;
            remember(remembered);
            Ok(match drifted {
                Some(found) => AccessOutcome::Restored { found },
                None => AccessOutcome::Written {
                    keys: u32::try_from(desired.len()).unwrap_or(u32::MAX),
                },
            })
        }
        Decision::Remove => {
            remove_block(&path, whole_file)?;
            remembered.users.remove(name);
            Ok(AccessOutcome::Removed)
        }
        Decision::Drift { found } => Ok(AccessOutcome::Drift { found }),
    }
}

/// The user's entry through NSS (`getpwnam_r`): /etc/passwd, LDAP, sssd, whatever
/// nsswitch.conf names.
fn account_from_nss(name: &str) -> Result<paths::Account, String> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|error| format!("looking up user {name:?}: {error}"))?
        .ok_or_else(|| format!("no user {name:?} on this host (passwd database through NSS)"))?;
    Ok(paths::Account {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
    })
}

/// The file's bytes and metadata; `None` when it does not exist. A symlink, anything but a
/// regular file or an oversized file is refused.
fn read_existing(path: &Path) -> Result<Option<(Vec<u8>, fs::Metadata)>, String> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    if let Ok(meta) = fs::symlink_metadata(parent) {
        if meta.file_type().is_symlink() {
            return Err(format!(
                "{} is a symlink; refusing to follow it",
                parent.display()
            ));
        }
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} is a symlink; refusing to follow it",
            path.display()
        ));
    }
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let bytes = fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    Ok(Some((bytes, meta)))
}

/// Makes the file's directory when it is missing: the managed directory (0755, root's) for
/// whole files, otherwise one level (`~/.ssh`, 0700, the user's) under a directory that exists.
fn make_parent(path: &Path, whole_file: bool, account: &paths::Account) -> Result<(), String> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    if parent.exists() {
        return Ok(());
    }
    let made = if whole_file {
        // Each missing level 0755 whatever the umask (the packaged unit's is 0077): sshd reads
        // a user's file as that user.
        crate::fsutil::create_dirs(parent, 0o755)
    } else {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(parent)
            .and_then(|()| {
                std::os::unix::fs::chown(parent, Some(account.uid), Some(account.gid))?;
                fs::set_permissions(parent, fs::Permissions::from_mode(0o700))
            })
    };
    made.map_err(|error| {
        format!(
            "creating {}: {error}{}",
            parent.display(),
            confinement_hint(&error, whole_file)
        )
    })
}

/// What to do when the agent may not write a user's `authorized_keys`: the packaged systemd
/// unit keeps it out of home directories (`ProtectHome=yes`) and without the capabilities to
/// write into and chown in another user's `~/.ssh`. File mode writes under `/etc/ssh`, which
/// the unit allows.
fn confinement_hint(error: &std::io::Error, whole_file: bool) -> &'static str {
    let confined = matches!(
        error.kind(),
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
    );
    if !confined || whole_file {
        return "";
    }
    " (the packaged systemd unit keeps the agent out of home directories: use file mode, the \
     default, `unity-controller ssh host set HOST --mode file`, or relax the unit as docs/ssh.md \
     says)"
}

/// Takes the managed block out of `path` (or deletes the whole file), leaving the rest.
fn remove_block(path: &Path, whole_file: bool) -> Result<(), String> {
    let Some((bytes, meta)) = read_existing(path)? else {
        return Ok(());
    };
    if whole_file {
        fs::remove_file(path).map_err(|error| format!("removing {}: {error}", path.display()))?;
        return crate::fsutil::sync_parent(path)
            .map_err(|error| format!("{}: {error}", path.display()));
    }
    let split = block::split(&bytes).map_err(|error| format!("{}: {error}", path.display()))?;
    if split.block.is_none() {
        return Ok(());
    }
    let new = block::render(&split, None);
    crate::certs::files::replace(
        path,
        &new,
        meta.mode() & 0o7777,
        (Some(meta.uid()), Some(meta.gid())),
    )
    .map_err(|error| format!("writing {}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
