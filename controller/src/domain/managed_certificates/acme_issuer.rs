//! Managed certificates issued by an ACME CA (issue 15, user story 3): the declaration's
//! checks for an `acme:<provider>` issuer (a configured provider, DNS names only, wildcards
//! only through DNS-01), the order finalised with the host's CSR (HTTP-01 answered by the
//! host's agent), and revocation at the ACME server. Errors from the ACME server are kept as
//! it said them: they end up in the certificate's `last_error`.

use crate::acme::settings::ChallengeSettings;
use crate::acme::{self, AcmeProvider, AgentHttp01, RevocationReason};
use crate::context::Context;
use crate::domain::error::DomainError;
use crate::storage::managed_certificates::ManagedCertificateRecord;
use std::time::Duration;

/// How long the host's agent may take to start serving an HTTP-01 challenge.
const HTTP01_TIMEOUT: Duration = Duration::from_secs(30);

fn unknown_provider(ctx: &Context, name: &str) -> DomainError {
    let configured: Vec<&str> = ctx
        .config
        .acme
        .providers
        .iter()
        .map(|provider| provider.name.as_str())
        .collect();
    DomainError::Invalid(if configured.is_empty() {
        format!("no ACME provider named {name:?}: [acme] configures none")
    } else {
        format!(
            "no ACME provider named {name:?}: [acme] configures {}",
            configured.join(", ")
        )
    })
}

/// The declaration's checks for issuer `acme:<provider>`: the provider is configured, no IP
/// addresses (ACME CAs do not issue for them), wildcards only with a DNS-01 provider.
pub(super) fn check_declaration(
    ctx: &Context,
    provider: &str,
    dns_names: &[String],
    ip_addresses: &[std::net::IpAddr],
) -> Result<(), DomainError> {
    let settings = ctx
        .config
        .acme
        .provider(provider)
        .ok_or_else(|| unknown_provider(ctx, provider))?;
    if let Some(ip) = ip_addresses.first() {
        return Err(DomainError::Invalid(format!(
            "{ip}: an ACME CA issues for DNS names only; use the services CA for IP addresses"
        )));
    }
    let http01 = matches!(settings.challenge, ChallengeSettings::Http01(_));
    if let Some(wildcard) = dns_names.iter().find(|name| name.starts_with("*.")) {
        if http01 {
            return Err(DomainError::Invalid(format!(
                "{wildcard}: wildcard names need a DNS-01 provider (dns-rfc2136 or \
                 dns-cloudflare); ACME provider {provider:?} answers HTTP-01"
            )));
        }
    }
    Ok(())
}

/// The provider called `name`, built. Note that this uses blocking I/O (its CA file).
fn provider(ctx: &Context, name: &str) -> Result<AcmeProvider, DomainError> {
    if ctx.config.acme.provider(name).is_none() {
        return Err(unknown_provider(ctx, name));
    }
    AcmeProvider::named(&ctx.config.acme, name)
        .map_err(|error| DomainError::Unavailable(error.to_string()))
}

/// Orders `declared`'s names from `provider_name`, finalised with the host's CSR; returns the
/// chain (PEM, leaf first).
pub(super) async fn issue(
    ctx: &std::sync::Arc<Context>,
    declared: &ManagedCertificateRecord,
    provider_name: &str,
    csr_der: &[u8],
) -> Result<String, DomainError> {
    let lookup = (ctx.clone(), provider_name.to_owned());
    let provider = tokio::task::spawn_blocking(move || provider(&lookup.0, &lookup.1))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))??;
    let responder = AgentHttp01 {
        hub: &ctx.hub,
        agent_id: declared.host.clone(),
        timeout: HTTP01_TIMEOUT,
    };
    acme::issue(
        &provider,
        &ctx.acme_accounts,
        csr_der,
        &declared.dns_names,
        &responder,
    )
    .await
    .map(|issued| issued.chain_pem)
    .map_err(|error| DomainError::Unavailable(error.to_string()))
}

/// Revokes the leaf of `chain_pem` at `provider_name` (reason unspecified: the owner revoked
/// it). A certificate the server says is revoked already counts as revoked. Note that this
/// blocks on the ACME server (call it from a blocking task inside the runtime).
pub(super) fn revoke(
    ctx: &Context,
    provider_name: &str,
    chain_pem: &str,
) -> Result<(), DomainError> {
    let provider = provider(ctx, provider_name)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|error| {
        DomainError::Internal(format!("no async runtime to revoke in: {error}"))
    })?;
    let revoked = runtime.block_on(acme::revoke(
        &provider,
        &ctx.acme_accounts,
        chain_pem,
        RevocationReason::Unspecified,
    ));
    match revoked {
        Ok(()) => Ok(()),
        Err(acme::AcmeError::Server { kind, .. })
            if kind == "urn:ietf:params:acme:error:alreadyRevoked" =>
        {
            Ok(())
        }
        Err(error) => Err(DomainError::Unavailable(format!(
            "revoking at ACME provider {provider_name:?}: {error}"
        ))),
    }
}
