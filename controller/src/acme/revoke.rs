//! Revoking a certificate the provider issued, with the account that ordered it (RFC 8555
//! section 7.6). The server's refusal (already revoked, not ours) comes back as it said it.

use super::{timed, AcmeAccounts, AcmeError, AcmeProvider};
use instant_acme::{RevocationReason, RevocationRequest};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Revokes the leaf of `chain_pem` (as [`super::IssuedChain::chain_pem`] holds it) at
/// `provider`, for `reason` (`Superseded` when a certificate is replaced or deleted,
/// `KeyCompromise` when its key leaked, `CessationOfOperation` when the name is given up).
pub async fn revoke(
    provider: &AcmeProvider,
    accounts: &AcmeAccounts,
    chain_pem: &str,
    reason: RevocationReason,
) -> Result<(), AcmeError> {
    let leaf = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .next()
        .ok_or_else(|| AcmeError::Chain("no certificate in the chain".into()))?
        .map_err(|error| AcmeError::Chain(error.to_string()))?;
    let shown = format!("{reason:?}");
    timed(
        provider.settings.order_timeout,
        "revoking the certificate",
        async {
            let (account, _) = accounts.account(&provider.settings, &provider.http).await?;
            account
                .revoke(&RevocationRequest {
                    certificate: &leaf,
                    reason: Some(reason),
                })
                .await
                .map_err(AcmeError::from_acme)
        },
    )
    .await?;
    tracing::info!(provider = %provider.settings.name, reason = %shown, "ACME certificate revoked.");
    Ok(())
}
