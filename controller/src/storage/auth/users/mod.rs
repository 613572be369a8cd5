//! Users in the `auth_users` tree (name -> record): their groups and, for users made by an
//! OpenID Connect sign-in, the provider's issuer and subject they are matched by; and the
//! upgrade of records written before groups existed.
//!
//! Postcard is positional, so the record only ever gains fields at its end. Layout 1 ended at
//! `created_at_ms` and gave rights by `role`; layout 2 appended `groups` and `oidc`. A record
//! is decoded as layout 2 and, failing that, as layout 1 (each must use every byte). Opening
//! the store rewrites layout-1 records once: an `admin` becomes a member of `admins`
//! (administer on all hosts), a `viewer` of `viewers` (view on all hosts), so every user keeps
//! exactly the rights they had.

use super::{decode_exact, encode, Auth, Role, StorageError};
use crate::storage::access::{ADMINS, VIEWERS};
use serde::{Deserialize, Serialize};

/// The provider and subject an OpenID Connect user is matched by (never by e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcLink {
    pub issuer: String,
    pub subject: String,
}

/// A dashboard user (layout 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// Layout 1's role, read only by the upgrade; layout-2 records carry `Viewer` here and get
    /// their rights from `groups`.
    pub legacy_role: Role,
    /// The argon2id hash in PHC string form; empty for users who sign in at an OpenID
    /// Connect provider (an empty hash matches no password).
    pub password_hash: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    // Layout 2 (issue 21) from here on.
    /// User groups, whose rights the user has.
    pub groups: Vec<String>,
    /// Set for users an OpenID Connect sign-in created.
    pub oidc: Option<OidcLink>,
}

/// Layout 1, before groups; only ever read.
#[derive(Debug, Deserialize)]
struct UserRecordV1 {
    name: String,
    role: Role,
    password_hash: String,
    created_at_ms: i64,
}

impl From<UserRecordV1> for UserRecord {
    fn from(old: UserRecordV1) -> UserRecord {
        let group = match old.role {
            Role::Admin => ADMINS,
            Role::Viewer => VIEWERS,
        };
        UserRecord {
            name: old.name,
            legacy_role: old.role,
            password_hash: old.password_hash,
            created_at_ms: old.created_at_ms,
            groups: vec![group.to_owned()],
            oidc: None,
        }
    }
}

enum Stored {
    Current(UserRecord),
    V1(UserRecordV1),
}

fn decode_stored(bytes: &[u8]) -> Result<Stored, StorageError> {
    if let Some(record) = decode_exact(bytes) {
        return Ok(Stored::Current(record));
    }
    match decode_exact(bytes) {
        Some(record) => Ok(Stored::V1(record)),
        None => Err(StorageError::Corrupt {
            tree: "auth_users",
            message: "neither layout 2 nor layout 1 of a user".into(),
        }),
    }
}

fn decode_user(bytes: &[u8]) -> Result<UserRecord, StorageError> {
    Ok(match decode_stored(bytes)? {
        Stored::Current(record) => record,
        Stored::V1(old) => old.into(),
    })
}

impl Auth {
    /// Rewrites layout-1 users in layout 2; returns how many. Undecodable records are left
    /// alone (reading them reports the corruption).
    pub(super) fn upgrade_users(&self) -> Result<usize, StorageError> {
        let mut n_upgraded = 0;
        for item in self.users.iter() {
            let (key, value) = item?;
            let Ok(Stored::V1(old)) = decode_stored(&value) else {
                continue;
            };
            let record = UserRecord::from(old);
            let swapped =
                self.users
                    .compare_and_swap(&key, Some(&value), Some(encode(&record)?))?;
            n_upgraded += usize::from(swapped.is_ok());
        }
        Ok(n_upgraded)
    }

    /// Adds a user; `false` (and nothing written) if the name is taken.
    pub fn create_user(&self, record: &UserRecord) -> Result<bool, StorageError> {
        let swapped = self.users.compare_and_swap(
            record.name.as_bytes(),
            None::<&[u8]>,
            Some(encode(record)?),
        )?;
        Ok(swapped.is_ok())
    }

    /// Replaces an existing user's record; `false` if there is no such user.
    pub fn put_user(&self, record: &UserRecord) -> Result<bool, StorageError> {
        let bytes = encode(record)?;
        let updated = self
            .users
            .fetch_and_update(record.name.as_bytes(), |old| old.map(|_| bytes.clone()))?;
        Ok(updated.is_some())
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StorageError> {
        self.users
            .get(name.as_bytes())?
            .map(|bytes| decode_user(&bytes))
            .transpose()
    }

    /// Every user, sorted by name.
    pub fn users(&self) -> Result<Vec<UserRecord>, StorageError> {
        self.users
            .iter()
            .values()
            .map(|value| decode_user(&value?))
            .collect()
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests;
