//! ACME accounts: one per provider, created on first use and reused. The account's
//! credentials (its private key and URL, as `instant-acme` serialises them) are kept at rest
//! only sealed, with the same key and sealing as registry credentials
//! ([`crate::sealing::SealingKey`]), in `<data_dir>/acme/`. The associated
//! data names the provider and its directory URL, so a sealed account moved to another
//! provider's file does not open; a changed directory URL gets a new account.

use super::http::AcmeHttp;
use super::settings::ProviderSettings;
use super::AcmeError;
use crate::sealing::SealingKey;
use crate::updates::credentials::{open_credentials, seal_credentials, CredentialKey, Credentials};
use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the sealed accounts live, and a lock so two issuances for the same provider do not
/// both create an account.
pub struct AcmeAccounts {
    data_dir: PathBuf,
    creating: tokio::sync::Mutex<()>,
}

impl AcmeAccounts {
    /// Accounts under `data_dir/acme/` (created when the first account is).
    pub fn new(data_dir: &Path) -> AcmeAccounts {
        AcmeAccounts {
            data_dir: data_dir.to_path_buf(),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// The sealed file of `provider`'s account.
    pub fn path(&self, provider: &ProviderSettings) -> PathBuf {
        let digest = Sha256::digest(provider.directory.as_bytes());
        self.data_dir.join("acme").join(format!(
            "{}-{}.account",
            provider.name,
            hex::encode(&digest[..8])
        ))
    }

    /// The provider's account: the stored one, or a new one registered now and stored sealed.
    /// `created` says which.
    pub async fn account(
        &self,
        provider: &ProviderSettings,
        http: &reqwest::Client,
    ) -> Result<(Account, bool), AcmeError> {
        let _creating = self.creating.lock().await;
        let path = self.path(provider);
        let associated = associated_data(provider);
        let data_dir = self.data_dir.clone();
        let sealed_path = path.clone();
        let stored = tokio::task::spawn_blocking(move || -> Result<_, AcmeError> {
            let key = CredentialKey::open_or_create(&data_dir)
                .map_err(|error| AcmeError::Account(error.to_string()))?;
            match std::fs::read(&sealed_path) {
                Ok(sealed) => {
                    let opened = key
                        .open(&associated, &sealed)
                        .map_err(|error| AcmeError::Account(error.to_string()))?;
                    Ok(Some(opened.secret))
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(AcmeError::Account(format!(
                    "{}: {error}",
                    sealed_path.display()
                ))),
            }
        })
        .await
        .map_err(|error| AcmeError::Account(error.to_string()))??;
        let builder = || Account::builder_with_http(Box::new(AcmeHttp(http.clone())));
        if let Some(json) = stored {
            let credentials: AccountCredentials = serde_json::from_str(&json)
                .map_err(|error| AcmeError::Account(format!("stored account: {error}")))?;
            let account = builder()
                .from_credentials(credentials)
                .await
                .map_err(AcmeError::from_acme)?;
            return Ok((account, false));
        }
        let external_account = match &provider.external_account {
            Some((key_id, hmac_key)) => {
                use base64::Engine;
                let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(hmac_key.0.trim_end_matches('='))
                    .map_err(|error| {
                        AcmeError::Setup(format!("eab_hmac_key_file is not base64url: {error}"))
                    })?;
                Some(ExternalAccountKey::new(key_id.clone(), &key))
            }
            None => None,
        };
        let contact = provider
            .email
            .as_ref()
            .map(|email| format!("mailto:{email}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                provider.directory.clone(),
                external_account.as_ref(),
            )
            .await
            .map_err(AcmeError::from_acme)?;
        let json = serde_json::to_string(&credentials)
            .map_err(|error| AcmeError::Account(error.to_string()))?;
        let data_dir = self.data_dir.clone();
        let associated = associated_data(provider);
        tokio::task::spawn_blocking(move || -> Result<(), AcmeError> {
            let key = CredentialKey::open_or_create(&data_dir)
                .map_err(|error| AcmeError::Account(error.to_string()))?;
            let sealed = key
                .seal(
                    &associated,
                    &Credentials {
                        username: "acme-account".into(),
                        secret: json,
                    },
                )
                .map_err(|error| AcmeError::Account(error.to_string()))?;
            write_private(&path, &sealed)
                .map_err(|error| AcmeError::Account(format!("{}: {error}", path.display())))
        })
        .await
        .map_err(|error| AcmeError::Account(error.to_string()))??;
        tracing::info!(provider = %provider.name, account = %account.id(), "ACME account registered.");
        Ok((account, true))
    }
}

impl AcmeAccounts {
    /// Re-seals `provider`'s stored account with `key`'s current key (a key rotation);
    /// `false` when there is none or it is sealed with the current key already.
    ///
    /// Note that this uses blocking I/O.
    pub fn reseal(&self, provider: &ProviderSettings, key: &SealingKey) -> Result<bool, AcmeError> {
        let path = self.path(provider);
        let failed = |error: &dyn std::fmt::Display| {
            AcmeError::Account(format!("{}: {error}", path.display()))
        };
        let sealed = match std::fs::read(&path) {
            Ok(sealed) => sealed,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(failed(&error)),
        };
        if key.is_current(&sealed) {
            return Ok(false);
        }
        let associated = associated_data(provider);
        let account = open_credentials(key, &associated, &sealed).map_err(|e| failed(&e))?;
        let resealed = seal_credentials(key, &associated, &account).map_err(|e| failed(&e))?;
        write_private(&path, &resealed).map_err(|e| failed(&e))?;
        Ok(true)
    }

    /// The sealed account files in `<data_dir>/acme/`.
    ///
    /// Note that this uses blocking I/O.
    pub fn stored_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.data_dir.join("acme")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "account"))
            .collect();
        files.sort();
        files
    }
}

/// What the seal is bound to: the provider and its directory.
pub fn associated_data(provider: &ProviderSettings) -> String {
    format!("acme-account {} {}", provider.name, provider.directory)
}

/// Writes `bytes` to `path` (0600) through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
