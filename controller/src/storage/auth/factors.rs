//! Second factors and half-finished logins.
//!
//! `auth_factors` (user name -> [`FactorsRecord`]): a user's TOTP secret with the last time
//! step used (so a code is accepted once), the hashes of their recovery codes, their passkeys
//! and the WebAuthn user handle. `auth_pending` (SHA-256 of a pending-login token ->
//! [`PendingLoginRecord`]): a login whose password was right and whose second factor is still
//! owed. Both trees are new in layout 2 of the auth store; nothing older needs upgrading.

use super::{decode, encode, Auth, StorageError};
use serde::{Deserialize, Serialize};

/// A confirmed TOTP authenticator. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    /// The shared secret (20 random bytes).
    pub secret: Vec<u8>,
    pub enabled_at_ms: i64,
    /// The newest 30-second step a code was accepted for; older and equal steps are refused.
    pub last_step: u64,
}

/// A registered passkey (WebAuthn credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRecord {
    pub credential_id: Vec<u8>,
    pub name: String,
    /// The credential's public key, an uncompressed P-256 point (65 bytes, ES256), then the
    /// RP ID (host name) it was added at.
    pub static_state: Vec<u8>,
    /// Its signature counter: 4 bytes, big-endian.
    pub dynamic_state: Vec<u8>,
    pub created_at_ms: i64,
    pub last_used_ms: Option<i64>,
}

/// A user's second factors. Its `Debug` leaves the secrets and hashes out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorsRecord {
    pub totp: Option<TotpRecord>,
    /// A secret shown for enrolment and not yet confirmed with a code.
    pub totp_pending: Option<Vec<u8>>,
    /// argon2 hashes of the unused recovery codes.
    pub recovery_codes: Vec<String>,
    pub passkeys: Vec<PasskeyRecord>,
    /// The WebAuthn user handle (random); empty until the first passkey.
    pub webauthn_user: Vec<u8>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TotpRecord")
            .field("secret", &"<redacted>")
            .field("enabled_at_ms", &self.enabled_at_ms)
            .field("last_step", &self.last_step)
            .finish()
    }
}

impl std::fmt::Debug for FactorsRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FactorsRecord")
            .field("totp", &self.totp)
            .field(
                "totp_pending",
                &self.totp_pending.as_ref().map(|_| "<redacted>"),
            )
            .field("n_recovery_codes", &self.recovery_codes.len())
            .field("n_passkeys", &self.passkeys.len())
            .finish()
    }
}

impl FactorsRecord {
    /// Whether the user has a second factor that a login must pass.
    pub fn any(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }
}

/// A login whose first step passed, waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLoginRecord {
    pub user: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// The user has no second factor but must enrol one before the session opens.
    pub must_enrol: bool,
}

impl Auth {
    /// A user's second factors (none: the default).
    pub fn factors(&self, user: &str) -> Result<FactorsRecord, StorageError> {
        Ok(self
            .factors
            .get(user.as_bytes())?
            .map(|bytes| decode("auth_factors", &bytes))
            .transpose()?
            .unwrap_or_default())
    }

    /// Changes a user's second factors atomically: `change` sees the current record and
    /// returns what it decided (`None`: leave the record as it is).
    pub fn update_factors<T>(
        &self,
        user: &str,
        mut change: impl FnMut(&mut FactorsRecord) -> Option<T>,
    ) -> Result<Option<T>, StorageError> {
        loop {
            let old = self.factors.get(user.as_bytes())?;
            let mut record: FactorsRecord = match &old {
                Some(bytes) => decode("auth_factors", bytes)?,
                None => FactorsRecord::default(),
            };
            let Some(decided) = change(&mut record) else {
                return Ok(None);
            };
            let new = encode(&record)?;
            let swapped =
                self.factors
                    .compare_and_swap(user.as_bytes(), old.as_deref(), Some(new))?;
            if swapped.is_ok() {
                return Ok(Some(decided));
            }
        }
    }

    pub fn delete_factors(&self, user: &str) -> Result<(), StorageError> {
        self.factors.remove(user.as_bytes())?;
        Ok(())
    }

    pub fn put_pending(
        &self,
        token_hash: [u8; 32],
        record: &PendingLoginRecord,
    ) -> Result<(), StorageError> {
        self.pending.insert(token_hash, encode(record)?)?;
        Ok(())
    }

    /// The pending login if it has not expired at `now_ms`; expired ones are deleted.
    pub fn pending(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<PendingLoginRecord>, StorageError> {
        let Some(bytes) = self.pending.get(token_hash)? else {
            return Ok(None);
        };
        let record: PendingLoginRecord = decode("auth_pending", &bytes)?;
        if record.expires_at_ms <= now_ms {
            self.pending.remove(token_hash)?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Removes a pending login; `true` if this call removed it (so it is used once).
    pub fn take_pending(&self, token_hash: [u8; 32]) -> Result<bool, StorageError> {
        Ok(self.pending.remove(token_hash)?.is_some())
    }

    /// Deletes every pending login expired at `now_ms`; returns how many.
    pub fn purge_pending(&self, now_ms: i64) -> Result<usize, StorageError> {
        let mut n_purged = 0;
        for item in self.pending.iter() {
            let (key, value) = item?;
            let record: PendingLoginRecord = decode("auth_pending", &value)?;
            if record.expires_at_ms <= now_ms {
                self.pending.remove(key)?;
                n_purged += 1;
            }
        }
        Ok(n_purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_change_atomically_and_pending_logins_are_used_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let auth = Auth::open(&db).unwrap();
        assert!(!auth.factors("ada").unwrap().any());
        let changed = auth
            .update_factors("ada", |record| {
                record.totp = Some(TotpRecord {
                    secret: vec![1; 20],
                    enabled_at_ms: 1,
                    last_step: 5,
                });
                Some(())
            })
            .unwrap();
        assert_eq!(changed, Some(()));
        let factors = auth.factors("ada").unwrap();
        assert!(factors.any());
        let printed = format!("{factors:?}");
        assert!(
            printed.contains("<redacted>") && !printed.contains("[1, 1"),
            "{printed}"
        );
        let refused = auth.update_factors("ada", |_| None::<()>).unwrap();
        assert_eq!(refused, None);
        let pending = PendingLoginRecord {
            user: "ada".into(),
            created_at_ms: 1,
            expires_at_ms: 100,
            must_enrol: false,
        };
        auth.put_pending([1; 32], &pending).unwrap();
        assert_eq!(auth.pending([1; 32], 50).unwrap(), Some(pending.clone()));
        assert!(auth.take_pending([1; 32]).unwrap());
        assert!(!auth.take_pending([1; 32]).unwrap(), "once");
        auth.put_pending([2; 32], &pending).unwrap();
        assert_eq!(auth.purge_pending(100).unwrap(), 1);
    }
}
