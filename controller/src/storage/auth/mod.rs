//! Dashboard and API identities: users (argon2 password hashes, groups), login sessions, API
//! tokens, second factors, pending logins and the audit log. Secrets (session ids, API tokens,
//! pending-login tokens) are stored as their SHA-256 only, recovery codes as argon2 hashes, so
//! the database never holds anything that can be replayed.
//!
//! Trees: `auth_users` (name -> user, see `users/mod.rs`), `auth_sessions` (hash -> session),
//! `auth_api_tokens` (hash -> token, see `api_tokens/mod.rs`), `auth_factors` and
//! `auth_pending` (see `factors.rs`), `auth_oidc_pending` (see `oidc.rs`), `auth_audit` (big-endian sequence -> record, so iteration
//! is time order).

use super::StorageError;
pub use api_tokens::{ApiTokenRecord, TokenScope, LAST_USED_RESOLUTION_MS};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
pub use challenges::{ChallengePurpose, WebauthnChallengeRecord};
pub use factors::{FactorsRecord, PasskeyRecord, PendingLoginRecord, TotpRecord};
pub use oidc::OidcPendingRecord;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
pub use users::{OidcLink, UserRecord};

mod api_tokens;
mod challenges;
mod factors;
mod oidc;
mod users;

/// The two roles of layout 1 (before groups); still the shorthand for creating a user
/// (`admin`: member of `admins`, `viewer`: of `viewers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Reads everything and changes everything.
    Admin,
    /// Reads everything, changes nothing.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A login session, stored under the SHA-256 of its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    /// Must accompany every state-changing request made with this session.
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at_ms: i64,
    /// The user (or `cli` for the local command line).
    pub actor: String,
    /// A dotted verb such as `user.create` or `agent.revoke`.
    pub action: String,
    pub target: String,
}

/// A password that cannot be hashed (never expected: the parameters are constants).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// Hashes `password` with argon2id and a random salt.
///
/// Note that this is slow on purpose (tens of milliseconds); run it off the async threads.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|error| HashError(error.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Whether `password` matches the stored PHC `hash`. A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Compares without an early exit, so timing does not leak how much of a secret matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random secret: 32 bytes, hex.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The key a secret is stored under.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub struct Auth {
    users: sled::Tree,
    sessions: sled::Tree,
    api_tokens: sled::Tree,
    factors: sled::Tree,
    pending: sled::Tree,
    oidc_pending: sled::Tree,
    webauthn_challenges: sled::Tree,
    audit: sled::Tree,
    db: sled::Db,
}

fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StorageError> {
    postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
        tree: "auth",
        message: error.to_string(),
    })
}

/// `T` from exactly all of `bytes` (for telling layouts apart).
fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

impl Auth {
    /// Opens the trees and upgrades users and API tokens written by older versions (users
    /// first: an old token takes the scope of its user's role).
    pub fn open(db: &sled::Db) -> Result<Auth, StorageError> {
        let auth = Auth {
            users: db.open_tree("auth_users")?,
            sessions: db.open_tree("auth_sessions")?,
            api_tokens: db.open_tree("auth_api_tokens")?,
            factors: db.open_tree("auth_factors")?,
            pending: db.open_tree("auth_pending")?,
            oidc_pending: db.open_tree("auth_oidc_pending")?,
            webauthn_challenges: db.open_tree("auth_webauthn_challenges")?,
            audit: db.open_tree("auth_audit")?,
            db: db.clone(),
        };
        auth.upgrade_api_tokens()?;
        auth.upgrade_users()?;
        Ok(auth)
    }

    /// Deletes a user with their sessions, API tokens and second factors; `false` if there
    /// was none.
    pub fn delete_user(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.users.remove(name.as_bytes())?.is_some();
        self.factors.remove(name.as_bytes())?;
        for item in self.sessions.iter() {
            let (key, value) = item?;
            let session: SessionRecord = decode("auth_sessions", &value)?;
            if session.user == name {
                self.sessions.remove(key)?;
            }
        }
        for item in self.api_tokens.iter() {
            let (key, value) = item?;
            let token = self.decode_api_token(&value)?;
            if token.owner == name {
                self.api_tokens.remove(key)?;
            }
        }
        Ok(existed)
    }

    pub fn put_session(
        &self,
        session_hash: [u8; 32],
        record: &SessionRecord,
    ) -> Result<(), StorageError> {
        self.sessions.insert(session_hash, encode(record)?)?;
        Ok(())
    }

    /// The session if it exists and has not expired at `now_ms`; expired ones are deleted.
    pub fn session(
        &self,
        session_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StorageError> {
        let Some(bytes) = self.sessions.get(session_hash)? else {
            return Ok(None);
        };
        let record: SessionRecord = decode("auth_sessions", &bytes)?;
        if record.expires_at_ms <= now_ms {
            self.sessions.remove(session_hash)?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    pub fn delete_session(&self, session_hash: [u8; 32]) -> Result<bool, StorageError> {
        Ok(self.sessions.remove(session_hash)?.is_some())
    }

    /// Deletes every session expired at `now_ms`; returns how many.
    pub fn purge_sessions(&self, now_ms: i64) -> Result<usize, StorageError> {
        let mut n_purged = 0;
        for item in self.sessions.iter() {
            let (key, value) = item?;
            let session: SessionRecord = decode("auth_sessions", &value)?;
            if session.expires_at_ms <= now_ms {
                self.sessions.remove(key)?;
                n_purged += 1;
            }
        }
        Ok(n_purged)
    }

    /// Appends to the audit log.
    pub fn audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        let sequence = self.db.generate_id()?;
        self.audit.insert(sequence.to_be_bytes(), encode(record)?)?;
        Ok(())
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.audit
            .iter()
            .values()
            .rev()
            .take(limit)
            .map(|value| decode("auth_audit", &value?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        (dir, Auth::open(&db).unwrap())
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn users_are_unique_and_deleting_removes_sessions_and_tokens() {
        let (_dir, auth) = auth();
        let user = UserRecord {
            name: "ada".into(),
            legacy_role: Role::Viewer,
            password_hash: "x".into(),
            created_at_ms: 1,
            groups: vec!["admins".into()],
            oidc: None,
        };
        assert!(auth.create_user(&user).unwrap());
        assert!(!auth.create_user(&user).unwrap());
        let session = SessionRecord {
            user: "ada".into(),
            csrf_token: "c".into(),
            created_at_ms: 1,
            expires_at_ms: 100,
        };
        auth.put_session([1; 32], &session).unwrap();
        assert_eq!(auth.session([1; 32], 50).unwrap(), Some(session.clone()));
        assert_eq!(auth.session([1; 32], 100).unwrap(), None, "expired");
        auth.put_session([2; 32], &session).unwrap();
        let token = ApiTokenRecord {
            token_id: "t".into(),
            owner: "ada".into(),
            name: "grafana".into(),
            created_at_ms: 1,
            scope: TokenScope::Read,
            expires_at_ms: None,
            last_used_ms: None,
            host_group: None,
        };
        auth.put_api_token([3; 32], &token).unwrap();
        assert!(auth.delete_user("ada").unwrap());
        assert_eq!(auth.session([2; 32], 50).unwrap(), None);
        assert_eq!(auth.api_token([3; 32]).unwrap(), None);
        assert_eq!(auth.n_users(), 0);
    }

    #[test]
    fn audit_log_is_newest_first() {
        let (_dir, auth) = auth();
        for n in 0..300 {
            let record = AuditRecord {
                at_ms: n,
                actor: "ada".into(),
                action: "user.create".into(),
                target: format!("u{n}"),
            };
            auth.audit(&record).unwrap();
        }
        let log = auth.audit_log(3).unwrap();
        let times: Vec<i64> = log.iter().map(|record| record.at_ms).collect();
        assert_eq!(times, vec![299, 298, 297]);
    }
}
