//! SSH on the wire: the authorized keys the controller grants on a host (the agent writes them
//! into a delimited block of each user's `authorized_keys`, or into a per-user file, and reports
//! hand edits as drift), and the SSH CA's host certificates and trusted user CA, which the agent
//! installs through an sshd drop-in that must pass `sshd -t` before sshd is reloaded. See
//! `docs/ssh.md`.
//!
//! postcard encodes by position: append variants at the end, never reorder (see
//! [`crate::proto`]).

pub use super::names::{Principal, SshLine, UnixUser};
use serde::{Deserialize, Serialize};

/// Where the agent writes a user's managed keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum AuthorizedKeysMode {
    /// A block between `# BEGIN UNITY MANAGED KEYS` and `# END UNITY MANAGED KEYS` in
    /// `~user/.ssh/authorized_keys`; every line outside the block stays as it is.
    #[default]
    Block,
    /// One file per user in the agent's managed directory (for sshd's `AuthorizedKeysFile`),
    /// owned by Unity alone.
    File,
}

/// What the agent does when the managed keys were edited by hand since it last wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DriftAction {
    /// Leave the edited keys in place and report them ([`AccessOutcome::Drift`]).
    #[default]
    Report,
    /// Write the managed keys back ([`AccessOutcome::Restored`]).
    Restore,
}

/// Controller -> agent: the managed SSH keys this host should have, whole. Sent when a grant,
/// key or person changes and again every reconcile interval (which is how drift is found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplySshAccess {
    /// Increases with every change of this host's desired keys.
    pub generation: u64,
    pub mode: AuthorizedKeysMode,
    pub on_drift: DriftAction,
    /// Every user with managed keys on this host. A user the agent managed before and that is
    /// missing here has its managed keys removed.
    pub users: Vec<UserKeys>,
}

/// The managed `authorized_keys` lines of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserKeys {
    pub user: UnixUser,
    /// Whole lines, options included (`from="10.0.0.0/8",no-port-forwarding ssh-ed25519 AAAA… alice@laptop`).
    pub lines: Vec<SshLine>,
}

/// Agent -> controller: what [`ApplySshAccess`] did, per user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshAccessApplied {
    pub generation: u64,
    pub users: Vec<UserAccessOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccessOutcome {
    pub user: UnixUser,
    pub outcome: AccessOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessOutcome {
    /// The managed keys were already as desired.
    Unchanged,
    /// The managed keys were written (`keys` lines).
    Written { keys: u32 },
    /// The user has no managed keys any more; the block (or file) was removed.
    Removed,
    /// The managed keys were edited by hand since the agent last wrote them and were left as
    /// they are: `found` is what they are now.
    Drift { found: Vec<String> },
    /// The managed keys had been edited by hand (`found`); the agent wrote them back.
    Restored { found: Vec<String> },
    /// Nothing was changed for this user, and why (no such user, no home directory, read-only
    /// file system, a symlink where the file should be).
    Failed { message: String },
}

/// Controller -> agent: answer with the host's SSH host public keys ([`SshHostKeys`]), to be
/// signed by the SSH CA. Only public keys leave the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadSshHostKeys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostKeys {
    pub keys: Vec<SshHostKey>,
}

/// One host key of the host's sshd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostKey {
    /// The private key's path as sshd knows it (`/etc/ssh/ssh_host_ed25519_key`).
    pub path: String,
    /// Its public half (`ssh-ed25519 AAAA… root@nas`).
    pub public_key: SshLine,
}

/// Controller -> agent: install the SSH CA's pieces through Unity's sshd drop-in, validate the
/// whole sshd configuration (`sshd -t`) and reload sshd only if it passes; otherwise restore
/// the previous files and answer `Failed` with sshd's message. Answered with [`SshdConfigured`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigureSshd {
    /// Certificates for the host keys the agent reported ([`SshHostKeys`]); the agent accepts
    /// only keys it has.
    pub host_certificates: Vec<SshHostCertificate>,
    /// The user CA's public keys for `TrustedUserCAKeys`; empty: no such line.
    pub trusted_user_ca_keys: Vec<SshLine>,
    /// Principals per user for `AuthorizedPrincipalsFile`; empty: the directive is not used
    /// (a certificate's principal must then be the login name).
    pub principals: Vec<UserPrincipals>,
    /// Public keys sshd must refuse (`RevokedKeys`, one OpenSSH public key a line): a listed
    /// key is refused on its own and so is every certificate of it. Written (empty when none)
    /// whenever `trusted_user_ca_keys` is not empty. Appended in protocol 8.
    pub revoked_keys: Vec<SshLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostCertificate {
    /// The host key's private key path, as in [`SshHostKey::path`].
    pub host_key_path: String,
    /// The OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA…`).
    pub certificate: SshLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPrincipals {
    pub user: UnixUser,
    pub principals: Vec<Principal>,
}

/// Agent -> controller: the drop-in is in place and valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshdConfigured {
    /// Any file changed (nothing is reloaded otherwise).
    pub changed: bool,
    /// sshd was reloaded.
    pub reloaded: bool,
}
