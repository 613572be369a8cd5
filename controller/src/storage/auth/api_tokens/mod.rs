//! API tokens in the `auth_api_tokens` tree (SHA-256 of the token -> record): their scope,
//! expiry and last use, and the upgrade of records written before those existed.
//!
//! Postcard is positional, so the record only ever gains fields at its end. Layout 1 ended at
//! `created_at_ms`; layout 2 appended `scope`, `expires_at_ms` and `last_used_ms`. A record is
//! decoded as layout 2 and, failing that, as layout 1 (each must use every byte, so one can
//! never pass for the other). Opening the store rewrites layout-1 records once, with the scope
//! of their user's role at that moment and no expiry, so old tokens keep their rights.

use super::{encode, Auth, Role, StorageError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// What an API token may do; a request never gets more than the token's user's role.
///
/// Stored by position: variants are only ever appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    /// Viewer rights: reads everything, changes nothing.
    Read,
    /// The user's full rights (for an admin: changes too).
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<TokenScope> {
        match text {
            "read" => Some(TokenScope::Read),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }

    /// The scope carrying exactly `role`'s rights.
    pub fn of_role(role: Role) -> TokenScope {
        match role {
            Role::Admin => TokenScope::Admin,
            Role::Viewer => TokenScope::Read,
        }
    }

    /// The role a request made with this token acts with, given its user's role now.
    pub fn cap(self, role: Role) -> Role {
        match (self, role) {
            (TokenScope::Admin, Role::Admin) => Role::Admin,
            _ => Role::Viewer,
        }
    }
}

/// An API token (layout 2), stored under the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Public identifier, for listing and revoking.
    pub token_id: String,
    /// The user the token acts as.
    pub owner: String,
    pub name: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    // Layout 2 (issue 13) from here on.
    pub scope: TokenScope,
    /// Unix milliseconds; `None`: never expires.
    pub expires_at_ms: Option<i64>,
    /// Unix milliseconds, recorded at most once a minute ([`LAST_USED_RESOLUTION_MS`]).
    pub last_used_ms: Option<i64>,
}

/// `last_used_ms` is rewritten only when it is older than this, so a dashboard polling with a
/// token does not write to the database on every request.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl ApiTokenRecord {
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at_ms| at_ms <= now_ms)
    }
}

/// Layout 1, before scopes and expiry; only ever read.
#[derive(Debug, Deserialize)]
struct ApiTokenRecordV1 {
    token_id: String,
    owner: String,
    name: String,
    created_at_ms: i64,
}

enum Stored {
    Current(ApiTokenRecord),
    V1(ApiTokenRecordV1),
}

/// `T` from exactly all of `bytes`.
fn exact<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

fn decode_stored(bytes: &[u8]) -> Result<Stored, StorageError> {
    if let Some(record) = exact(bytes) {
        return Ok(Stored::Current(record));
    }
    match exact(bytes) {
        Some(record) => Ok(Stored::V1(record)),
        None => Err(StorageError::Corrupt {
            tree: "auth_api_tokens",
            message: "neither layout 2 nor layout 1 of an API token".into(),
        }),
    }
}

impl Auth {
    /// A layout-1 record in layout 2: the scope of its user's role now (none left: read).
    fn upgrade(&self, stored: Stored) -> Result<ApiTokenRecord, StorageError> {
        let old = match stored {
            Stored::Current(record) => return Ok(record),
            Stored::V1(old) => old,
        };
        let role = self
            .user(&old.owner)?
            .map_or(Role::Viewer, |user| user.role);
        Ok(ApiTokenRecord {
            token_id: old.token_id,
            owner: old.owner,
            name: old.name,
            created_at_ms: old.created_at_ms,
            scope: TokenScope::of_role(role),
            expires_at_ms: None,
            last_used_ms: None,
        })
    }

    pub(super) fn decode_api_token(&self, bytes: &[u8]) -> Result<ApiTokenRecord, StorageError> {
        self.upgrade(decode_stored(bytes)?)
    }

    /// Rewrites layout-1 records in layout 2; returns how many. Undecodable records are left
    /// alone (reading them reports the corruption), so they cannot stop the controller.
    pub(super) fn upgrade_api_tokens(&self) -> Result<usize, StorageError> {
        let mut n_upgraded = 0;
        for item in self.api_tokens.iter() {
            let (key, value) = item?;
            let Ok(stored @ Stored::V1(_)) = decode_stored(&value) else {
                continue;
            };
            let record = self.upgrade(stored)?;
            let swapped =
                self.api_tokens
                    .compare_and_swap(&key, Some(&value), Some(encode(&record)?))?;
            n_upgraded += usize::from(swapped.is_ok());
        }
        Ok(n_upgraded)
    }

    pub fn put_api_token(
        &self,
        token_hash: [u8; 32],
        record: &ApiTokenRecord,
    ) -> Result<(), StorageError> {
        self.api_tokens.insert(token_hash, encode(record)?)?;
        Ok(())
    }

    pub fn api_token(&self, token_hash: [u8; 32]) -> Result<Option<ApiTokenRecord>, StorageError> {
        self.api_tokens
            .get(token_hash)?
            .map(|bytes| self.decode_api_token(&bytes))
            .transpose()
    }

    /// Every token, oldest first.
    pub fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StorageError> {
        let mut tokens: Vec<ApiTokenRecord> = self
            .api_tokens
            .iter()
            .values()
            .map(|value| self.decode_api_token(&value?))
            .collect::<Result<_, _>>()?;
        tokens.sort_by_key(|token| token.created_at_ms);
        Ok(tokens)
    }

    /// Records a use at `now_ms`. Atomic against revocation: a token deleted meanwhile stays
    /// deleted.
    pub fn touch_api_token(&self, token_hash: [u8; 32], now_ms: i64) -> Result<(), StorageError> {
        self.api_tokens.fetch_and_update(token_hash, |old| {
            let old = old?;
            let Ok(Stored::Current(mut record)) = decode_stored(old) else {
                return Some(old.to_vec());
            };
            record.last_used_ms = Some(now_ms);
            Some(postcard::to_allocvec(&record).unwrap_or_else(|_| old.to_vec()))
        })?;
        Ok(())
    }

    /// Deletes the token with public id `token_id`; returns it if there was one.
    pub fn delete_api_token(&self, token_id: &str) -> Result<Option<ApiTokenRecord>, StorageError> {
        for item in self.api_tokens.iter() {
            let (key, value) = item?;
            let token = self.decode_api_token(&value)?;
            if token.token_id == token_id {
                self.api_tokens.remove(key)?;
                return Ok(Some(token));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
