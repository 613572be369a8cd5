//! Managed certificates whose key is made on this host and never leaves it: the controller asks
//! for a CSR ([`prepare`]), signs it, and sends the certificate back to be installed
//! ([`install::install`]) under the paths and with the reload `[delivery]` allows. See
//! docs/certificates.md.
//!
//! policy.rs decides on the words (pure); files.rs resolves symlinks, writes atomically with
//! owner and mode and restores; keys.rs makes, keeps and forgets pending keys; install.rs runs
//! the whole install with its rollback.

pub mod files;
pub mod install;
pub mod keys;
pub mod policy;

use crate::config::delivery::DeliveryConfig;
use unity_shared::model::certificate::{CertificateCsr, PrepareCertificate};

/// Makes a fresh key for the certificate, keeps it pending and answers with a CSR.
pub async fn prepare(
    config: &DeliveryConfig,
    request: PrepareCertificate,
) -> Result<CertificateCsr, String> {
    if !config.enabled {
        return Err(
            "managed certificates are disabled on this agent ([delivery] enabled = false)".into(),
        );
    }
    let key_dir = config.key_dir.clone();
    tokio::task::spawn_blocking(move || {
        let key = keys::generate(request.key_type).map_err(|error| error.to_string())?;
        let csr_der = keys::csr(&key, &request.dns_names, &request.ip_addresses)
            .map_err(|error| error.to_string())?;
        keys::store_pending(&key_dir, &request.certificate, &key)
            .map_err(|error| error.to_string())?;
        Ok(CertificateCsr { csr_der })
    })
    .await
    .map_err(|error| format!("key task failed: {error}"))?
}

/// Installs the certificate (see [`install::install`]), unless delivery is disabled.
pub async fn install(
    config: &DeliveryConfig,
    request: unity_shared::model::certificate::InstallCertificate,
) -> Result<unity_shared::model::certificate::CertificateInstalled, String> {
    if !config.enabled {
        return Err(
            "managed certificates are disabled on this agent ([delivery] enabled = false)".into(),
        );
    }
    install::install(config, request).await
}

#[cfg(test)]
mod tests;
