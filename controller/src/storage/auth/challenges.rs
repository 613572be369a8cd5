//! WebAuthn challenges under way: `auth_webauthn_challenges` (SHA-256 of the random
//! challenge -> [`WebauthnChallengeRecord`]), each bound to the session (registration) or
//! the pending login (authentication) it was issued to, taken once, and refused after it
//! expires. New tree; nothing older needs upgrading.

use super::{decode, encode, Auth, StorageError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a challenge was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengePurpose {
    /// Adding a passkey; bound to the session's hash.
    Register,
    /// A login's second factor; bound to the pending login's hash.
    Login,
}

/// A challenge issued and not yet answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnChallengeRecord {
    pub user: String,
    pub purpose: ChallengePurpose,
    /// The hash of the session or pending login it was issued to.
    pub bound_to: [u8; 32],
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

fn key(challenge: &[u8]) -> [u8; 32] {
    Sha256::digest(challenge).into()
}

impl Auth {
    /// Stores an issued challenge (and forgets the expired ones).
    pub fn put_webauthn_challenge(
        &self,
        challenge: &[u8],
        record: &WebauthnChallengeRecord,
    ) -> Result<(), StorageError> {
        for item in self.webauthn_challenges.iter() {
            let (old_key, value) = item?;
            let old: WebauthnChallengeRecord = decode("auth_webauthn_challenges", &value)?;
            if old.expires_at_ms <= record.created_at_ms {
                self.webauthn_challenges.remove(old_key)?;
            }
        }
        self.webauthn_challenges
            .insert(key(challenge), encode(record)?)?;
        Ok(())
    }

    /// Takes an issued challenge: once, and only before it expires.
    pub fn take_webauthn_challenge(
        &self,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<Option<WebauthnChallengeRecord>, StorageError> {
        let Some(bytes) = self.webauthn_challenges.remove(key(challenge))? else {
            return Ok(None);
        };
        let record: WebauthnChallengeRecord = decode("auth_webauthn_challenges", &bytes)?;
        Ok((record.expires_at_ms > now_ms).then_some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_taken_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let auth = Auth::open(&db).unwrap();
        let record = WebauthnChallengeRecord {
            user: "ada".into(),
            purpose: ChallengePurpose::Login,
            bound_to: [7; 32],
            created_at_ms: 0,
            expires_at_ms: 100,
        };
        auth.put_webauthn_challenge(b"c1", &record).unwrap();
        assert_eq!(
            auth.take_webauthn_challenge(b"c1", 50).unwrap(),
            Some(record.clone())
        );
        assert_eq!(
            auth.take_webauthn_challenge(b"c1", 50).unwrap(),
            None,
            "once"
        );
        auth.put_webauthn_challenge(b"c2", &record).unwrap();
        assert_eq!(
            auth.take_webauthn_challenge(b"c2", 100).unwrap(),
            None,
            "expired"
        );
        let later = WebauthnChallengeRecord {
            created_at_ms: 200,
            expires_at_ms: 300,
            ..record.clone()
        };
        auth.put_webauthn_challenge(b"c3", &record).unwrap();
        auth.put_webauthn_challenge(b"c4", &later).unwrap();
        assert_eq!(
            auth.take_webauthn_challenge(b"c3", 0).unwrap(),
            None,
            "purged"
        );
    }
}
