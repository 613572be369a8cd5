//! OpenID Connect logins under way: `auth_oidc_pending` (SHA-256 of the `state` sent to the
//! provider -> [`OidcPendingRecord`]), taken once when the provider sends the browser back, so
//! a replayed callback finds nothing. New tree; nothing older needs upgrading.

use super::{decode, encode, Auth, StorageError};
use serde::{Deserialize, Serialize};

/// What the callback needs to finish a login: the nonce the ID token must carry and the PKCE
/// verifier for the code exchange. Its `Debug` leaves both out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcPendingRecord {
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for OidcPendingRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OidcPendingRecord")
            .field("created_at_ms", &self.created_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Stores a login under way (and forgets the expired ones).
    pub fn put_oidc_pending(
        &self,
        state_hash: [u8; 32],
        record: &OidcPendingRecord,
    ) -> Result<(), StorageError> {
        for item in self.oidc_pending.iter() {
            let (key, value) = item?;
            let old: OidcPendingRecord = decode("auth_oidc_pending", &value)?;
            if old.expires_at_ms <= record.created_at_ms {
                self.oidc_pending.remove(key)?;
            }
        }
        self.oidc_pending.insert(state_hash, encode(record)?)?;
        Ok(())
    }

    /// Takes the login under way for this state: once, and only before it expires.
    pub fn take_oidc_pending(
        &self,
        state_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<OidcPendingRecord>, StorageError> {
        let Some(bytes) = self.oidc_pending.remove(state_hash)? else {
            return Ok(None);
        };
        let record: OidcPendingRecord = decode("auth_oidc_pending", &bytes)?;
        Ok((record.expires_at_ms > now_ms).then_some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_taken_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let auth = Auth::open(&db).unwrap();
        let record = OidcPendingRecord {
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            created_at_ms: 0,
            expires_at_ms: 100,
        };
        auth.put_oidc_pending([1; 32], &record).unwrap();
        assert_eq!(
            auth.take_oidc_pending([1; 32], 50).unwrap(),
            Some(record.clone())
        );
        assert_eq!(auth.take_oidc_pending([1; 32], 50).unwrap(), None, "once");
        auth.put_oidc_pending([2; 32], &record).unwrap();
        assert_eq!(
            auth.take_oidc_pending([2; 32], 100).unwrap(),
            None,
            "expired"
        );
        assert!(!format!("{record:?}").contains("pkce"));
    }
}
