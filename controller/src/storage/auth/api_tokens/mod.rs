//! API tokens in the `auth_api_tokens` tree (SHA-256 of the token -> record): their scope,
//! expiry, last use and host group, and the upgrade of records written before those existed.
//!
//! Postcard is positional, so the record only ever gains fields at its end. Layout 1 ended at
//! `created_at_ms`; layout 2 appended `scope`, `expires_at_ms` and `last_used_ms`; layout 3
//! appended `host_group`. A record is decoded as layout 3, then 2, then 1 (each must use every
//! byte, so one can never pass for another). Opening the store rewrites older records once:
//! layout 1 with the scope of their user's role at that moment and no expiry, layout 2 with
//! no host group (all of their user's hosts), so old tokens keep their rights.

use super::{decode_exact as exact, encode, Auth, Role, StorageError};
use crate::storage::access::{Right, ADMINS};
use serde::{Deserialize, Serialize};

/// The most an API token may do; a request never gets more than the token's user may do on
/// the host concerned.
///
/// Stored by position: variants are only ever appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    /// View rights: reads, changes nothing.
    Read,
    /// The user's full rights.
    Admin,
    /// Up to operate (issue 21): restart, update, collect now, but never administer.
    Operate,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Operate => "operate",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<TokenScope> {
        match text {
            "read" => Some(TokenScope::Read),
            "operate" => Some(TokenScope::Operate),
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

    /// The most a request with this token may do on any host.
    pub fn right(self) -> Right {
        match self {
            TokenScope::Read => Right::View,
            TokenScope::Operate => Right::Operate,
            TokenScope::Admin => Right::Administer,
        }
    }
}

/// An API token (layout 3), stored under the SHA-256 of the token.
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
    // Layout 3 (issue 21) from here on.
    /// Only the hosts of this host group; `None`: every host of its user.
    pub host_group: Option<String>,
}

/// `last_used_ms` is rewritten only when it is older than this, so a dashboard polling with a
/// token does not write to the database on every request.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl ApiTokenRecord {
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at_ms| at_ms <= now_ms)
    }
}

/// Layout 2, before host groups; only ever read.
#[derive(Debug, Deserialize)]
struct ApiTokenRecordV2 {
    token_id: String,
    owner: String,
    name: String,
    created_at_ms: i64,
    scope: TokenScope,
    expires_at_ms: Option<i64>,
    last_used_ms: Option<i64>,
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
    V2(ApiTokenRecordV2),
    V1(ApiTokenRecordV1),
}

fn decode_stored(bytes: &[u8]) -> Result<Stored, StorageError> {
    if let Some(record) = exact(bytes) {
        return Ok(Stored::Current(record));
    }
    if let Some(record) = exact(bytes) {
        return Ok(Stored::V2(record));
    }
    match exact(bytes) {
        Some(record) => Ok(Stored::V1(record)),
        None => Err(StorageError::Corrupt {
            tree: "auth_api_tokens",
            message: "none of layouts 3, 2 and 1 of an API token".into(),
        }),
    }
}

impl Auth {
    /// An older record in layout 3: layout 1 takes the scope of its user's role now (none
    /// left: read); neither has a host group.
    fn upgrade(&self, stored: Stored) -> Result<ApiTokenRecord, StorageError> {
        let old = match stored {
            Stored::Current(record) => return Ok(record),
            Stored::V2(old) => {
                return Ok(ApiTokenRecord {
                    token_id: old.token_id,
                    owner: old.owner,
                    name: old.name,
                    created_at_ms: old.created_at_ms,
                    scope: old.scope,
                    expires_at_ms: old.expires_at_ms,
                    last_used_ms: old.last_used_ms,
                    host_group: None,
                })
            }
            Stored::V1(old) => old,
        };
        let role = match self.user(&old.owner)? {
            Some(user) if user.groups.iter().any(|group| group == ADMINS) => Role::Admin,
            _ => Role::Viewer,
        };
        Ok(ApiTokenRecord {
            token_id: old.token_id,
            owner: old.owner,
            name: old.name,
            created_at_ms: old.created_at_ms,
            scope: TokenScope::of_role(role),
            expires_at_ms: None,
            last_used_ms: None,
            host_group: None,
        })
    }

    pub(super) fn decode_api_token(&self, bytes: &[u8]) -> Result<ApiTokenRecord, StorageError> {
        self.upgrade(decode_stored(bytes)?)
    }

    /// Rewrites layout-1 and layout-2 records in layout 3; returns how many. Undecodable records are left
    /// alone (reading them reports the corruption), so they cannot stop the controller.
    pub(super) fn upgrade_api_tokens(&self) -> Result<usize, StorageError> {
        let mut n_upgraded = 0;
        for item in self.api_tokens.iter() {
            let (key, value) = item?;
            let stored = match decode_stored(&value) {
                Ok(stored @ (Stored::V1(_) | Stored::V2(_))) => stored,
                _ => continue,
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
