//! What the audit log names for managed SSH access (`ssh.grant_add`, `ssh.keys_written`, …):
//! a leaf both the audit log and the SSH access functions import.

/// One kind of SSH access event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshAccessEvent {
    PersonAdd,
    PersonRemove,
    KeyAdd,
    KeyRemove,
    GrantAdd,
    GrantRemove,
    HostSet,
    /// The owner had a host's hand-edited keys written back.
    DriftRestore,
    /// The owner kept a hand edit as part of the desired keys.
    DriftAdopt,
    /// An agent wrote a user's managed keys.
    KeysWritten,
    /// An agent removed a user's managed keys.
    KeysRemoved,
    /// An agent found a hand edit and left it (drift reported).
    DriftFound,
    /// An agent wrote its keys back over a hand edit.
    KeysRestored,
    /// An agent could not apply a user's keys.
    KeysFailed,
    /// The owner dropped the lines adopted for a user on a host.
    AdoptedClear,
}

impl SshAccessEvent {
    /// The name after `ssh.`.
    pub fn name(self) -> &'static str {
        match self {
            SshAccessEvent::PersonAdd => "person_add",
            SshAccessEvent::PersonRemove => "person_remove",
            SshAccessEvent::KeyAdd => "key_add",
            SshAccessEvent::KeyRemove => "key_remove",
            SshAccessEvent::GrantAdd => "grant_add",
            SshAccessEvent::GrantRemove => "grant_remove",
            SshAccessEvent::HostSet => "host_set",
            SshAccessEvent::DriftRestore => "drift_restore",
            SshAccessEvent::DriftAdopt => "drift_adopt",
            SshAccessEvent::KeysWritten => "keys_written",
            SshAccessEvent::KeysRemoved => "keys_removed",
            SshAccessEvent::DriftFound => "drift_found",
            SshAccessEvent::KeysRestored => "keys_restored",
            SshAccessEvent::KeysFailed => "keys_failed",
            SshAccessEvent::AdoptedClear => "adopted_clear",
        }
    }
}
