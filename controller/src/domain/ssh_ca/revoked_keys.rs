//! The keys hosts must refuse (`RevokedKeys`): the public keys of revoked user certificates
//! that have not expired yet, each once; a key leaves the list when the last revoked
//! certificate of it expires. Read by the host configuration (hosts.rs) and by signing (a key
//! still listed is not signed again).

use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::error::DomainError;
use crate::storage::ssh_ca::IssuedUserCertificate;
use std::collections::BTreeSet;

fn now_secs() -> u64 {
    (now_ms() / 1000).max(0) as u64
}

/// The public keys hosts must refuse at `now_secs`: those of revoked certificates that have
/// not expired yet, each once (pure).
pub fn keys_to_refuse(records: &[IssuedUserCertificate], now_secs: u64) -> Vec<String> {
    records
        .iter()
        .filter(|record| record.revoked.is_some() && record.valid_before > now_secs)
        .map(|record| record.public_key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The `RevokedKeys` lines for the hosts now. Note that this uses blocking I/O.
pub fn revoked_keys(ctx: &Context) -> Result<Vec<String>, DomainError> {
    Ok(keys_to_refuse(&ctx.store.ssh_ca.all_issued()?, now_secs()))
}

/// Refuses to sign a key hosts refuse anyway (it would not log in). Note that this uses
/// blocking I/O.
pub fn require_not_revoked(ctx: &Context, key_fingerprint: &str) -> Result<(), DomainError> {
    let now = now_secs();
    let revoked = ctx.store.ssh_ca.all_issued()?.into_iter().find(|record| {
        record.key_fingerprint == key_fingerprint
            && record.revoked.is_some()
            && record.valid_before > now
    });
    match revoked {
        Some(record) => Err(DomainError::Conflict(format!(
            "this key was revoked (serial {}); hosts refuse it until {}: sign a new key",
            record.serial,
            super::rfc3339(record.valid_before as i64 * 1000)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ssh_ca::SshRevocation;

    fn issued(serial: u64, key: &str, valid_before: u64, revoked: bool) -> IssuedUserCertificate {
        IssuedUserCertificate {
            serial,
            key_id: String::new(),
            for_user: "alice".into(),
            signed_by: "admin".into(),
            signed_at_ms: 0,
            principals: vec!["root".into()],
            valid_after: 0,
            valid_before,
            public_key: key.into(),
            key_fingerprint: key.into(),
            revoked: revoked.then(|| SshRevocation {
                revoked_at_ms: 0,
                revoked_by: "admin".into(),
            }),
        }
    }

    #[test]
    fn only_unexpired_revoked_keys_are_refused_each_once() {
        let records = [
            issued(1, "ssh-ed25519 A", 100, true),
            issued(2, "ssh-ed25519 A", 200, true),
            issued(3, "ssh-ed25519 B", 50, true),
            issued(4, "ssh-ed25519 C", 200, false),
        ];
        assert_eq!(keys_to_refuse(&records, 60), vec!["ssh-ed25519 A"]);
        assert_eq!(
            keys_to_refuse(&records, 10),
            vec!["ssh-ed25519 A", "ssh-ed25519 B"]
        );
        assert!(keys_to_refuse(&records, 200).is_empty());
    }
}
