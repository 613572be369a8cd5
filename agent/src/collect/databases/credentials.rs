//! Optional per-instance credentials for deeper health, and the [`Secret`] that keeps a
//! password out of logs, `Debug` output and reports.
//!
//! The configuration names a `password_file`, never a password; the file is read when the
//! instance is probed. A [`Secret`] has no `Display` and no `Serialize`, and its `Debug` prints
//! `<redacted>`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    /// Reads the password file, if any.
    pub async fn load(&self) -> Result<Credentials, CredentialsError> {
        let password = match &self.password_file {
            Some(path) => Some(read_password(path).await?),
            None => None,
        };
        Ok(Credentials {
            user: self.user.clone(),
            database: self.database.clone(),
            password,
        })
    }
}
