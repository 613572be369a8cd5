//! Optional per-instance credentials for deeper health, and the [`Secret`] that keeps a
//! password out of logs, `Debug` output and reports.
//!
//! The configuration names a `password_file` or a `password_secret` (a secret in the
//! controller's store, drawn over the session and kept in memory), never a password; either is
//! read when the instance is probed. A [`Secret`] has no `Display` and no `Serialize`, and its `Debug` prints
//! `<redacted>`.

use std::path::{Path, PathBuf};

use crate::secrets::SecretCache;
use serde::Deserialize;
use unity_shared::model::secret::SecretName;

/// Credentials as written in the agent configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseCredentials {
    /// The user to log in as (PostgreSQL: default `postgres`; MySQL/MariaDB: default `root`;
    /// Redis ACL user: default none).
    #[serde(default)]
    pub user: Option<String>,
    /// PostgreSQL: the database to connect to (default `postgres`); MySQL/MariaDB: the default
    /// database of the session (default none).
    #[serde(default)]
    pub database: Option<String>,
    /// A file holding the password (one line; a trailing newline is ignored). Keep it 0600.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The name of a secret in the controller's store holding the password (instead of
    /// `password_file`); the controller gives it only when the secret's scope includes this
    /// host. See docs/secrets.md.
    #[serde(default)]
    pub password_secret: Option<SecretName>,
}

/// A password in memory. Its `Debug` output is `<redacted>`; it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The secret itself, for writing to the database connection and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials ready to use: the password file has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<String>,
    pub database: Option<String>,
    pub password: Option<Secret>,
}

/// Why credentials could not be loaded. The message names the file, never its contents.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The password file could not be read.
    #[error("reading password file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Both a password file and a secret are configured.
    #[error("give password_file or password_secret, not both")]
    Both,
    /// The controller has not given the secret (not connected, no such secret, or this host
    /// is not in its scope).
    #[error("secret {0} not available yet (the controller has not delivered it: not connected, no such secret, or this host is not in its scope)")]
    SecretUnavailable(SecretName),
    /// The secret is not UTF-8 text.
    #[error("secret {0} is not text")]
    SecretNotText(SecretName),
}

/// Removes one trailing line ending from a password file's contents.
pub fn password_from_file_contents(contents: String) -> Secret {
    let trimmed = contents
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest));
    match trimmed {
        Some(trimmed) => Secret(trimmed.to_owned()),
        None => Secret(contents),
    }
}

async fn read_password(path: &Path) -> Result<Secret, CredentialsError> {
    let contents =
        tokio::fs::read_to_string(path)
            .await
            .map_err(|source| CredentialsError::Read {
                path: path.to_owned(),
                source,
            })?;
    Ok(password_from_file_contents(contents))
}

impl DatabaseCredentials {
    /// Reads the password file, if any (a `password_secret` is unavailable here).
    pub async fn load(&self) -> Result<Credentials, CredentialsError> {
        self.load_with(None).await
    }

    /// Reads the password file, or draws the secret from `secrets` (the agent's cache of the
    /// controller's store), if either is configured.
    pub async fn load_with(
        &self,
        secrets: Option<&SecretCache>,
    ) -> Result<Credentials, CredentialsError> {
        let password = match (&self.password_file, &self.password_secret) {
            (Some(_), Some(_)) => return Err(CredentialsError::Both),
            (Some(path), None) => Some(read_password(path).await?),
            (None, Some(name)) => {
                let value = match secrets {
                    Some(secrets) => secrets.get(name).await,
                    None => None,
                }
                .ok_or_else(|| CredentialsError::SecretUnavailable(name.clone()))?;
                let text = value
                    .expose_str()
                    .ok_or_else(|| CredentialsError::SecretNotText(name.clone()))?;
                Some(Secret(text.to_owned()))
            }
            (None, None) => None,
        };
        Ok(Credentials {
            user: self.user.clone(),
            database: self.database.clone(),
            password,
        })
    }
}
