//! One ACME order, from the names to the issued chain: new order, one challenge per
//! authorisation, finalisation with the host's CSR, the chain. DNS records are removed again
//! whatever happened.

use super::dns::PresentedRecord;
use super::http01::Http01Responder;
use super::settings::ChallengeSettings;
use super::{timed, AcmeAccounts, AcmeError, AcmeProvider};
use instant_acme::{
    AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus, RetryPolicy,
};
use std::time::Duration;
use unity_shared::model::certificate::ServeHttpChallenge;

/// Longest wait to remove the DNS records after an order.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the ACME server issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChain {
    /// PEM: the leaf first, then the intermediates, as the server sent them.
    pub chain_pem: String,
    /// The leaf's serial number, lowercase hex without separators.
    pub serial_hex: String,
    /// The leaf's validity (Unix seconds): renewal is due at two thirds of it.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
}

/// Orders a certificate for `names` from `provider` and finalises it with `csr_der`, the
/// CSR the certificate's host made (its key stays there). `names` are DNS names; a
/// `*.` wildcard needs a DNS-01 provider. `http01` serves HTTP-01 challenges for an
/// `http-01` provider (use [`super::AgentHttp01`] for the host's agent; ignored for DNS
/// providers). The whole order is bounded by the provider's `order_timeout`.
pub async fn issue(
    provider: &AcmeProvider,
    accounts: &AcmeAccounts,
    csr_der: &[u8],
    names: &[String],
    http01: &dyn Http01Responder,
) -> Result<IssuedChain, AcmeError> {
    if names.is_empty() {
        return Err(AcmeError::Order("no names to order".into()));
    }
    if !provider.uses_dns() {
        if let Some(wildcard) = names.iter().find(|name| name.starts_with("*.")) {
            return Err(AcmeError::WildcardNeedsDns(wildcard.clone()));
        }
    }
    let mut presented = Vec::new();
    let issued = timed(
        provider.settings.order_timeout,
        "the ACME order",
        run(provider, accounts, csr_der, names, http01, &mut presented),
    )
    .await;
    if let Some(solver) = &provider.dns {
        for record in &presented {
            match tokio::time::timeout(CLEANUP_TIMEOUT, solver.cleanup(record)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(record = %record.name, %error, "DNS-01 record not removed.")
                }
                Err(_) => tracing::warn!(record = %record.name, "DNS-01 record removal timed out."),
            }
        }
    }
    issued
}

async fn run(
    provider: &AcmeProvider,
    accounts: &AcmeAccounts,
    csr_der: &[u8],
    names: &[String],
    http01: &dyn Http01Responder,
    presented: &mut Vec<PresentedRecord>,
) -> Result<IssuedChain, AcmeError> {
    let (account, _) = accounts.account(&provider.settings, &provider.http).await?;
    let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(AcmeError::from_acme)?;
    answer_challenges(provider, &mut order, http01, presented).await?;
    let retries = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .timeout(provider.settings.order_timeout);
    let status = order
        .poll_ready(&retries)
        .await
        .map_err(AcmeError::from_acme)?;
    if status != OrderStatus::Ready {
        return Err(challenge_problem(&mut order).await);
    }
    order
        .finalize_csr(csr_der)
        .await
        .map_err(AcmeError::from_acme)?;
    let chain_pem = order
        .poll_certificate(&retries)
        .await
        .map_err(AcmeError::from_acme)?;
    let (serial_hex, not_before_unix, not_after_unix) = leaf_facts(&chain_pem)?;
    tracing::info!(
        provider = %provider.settings.name,
        names = ?names,
        serial = %serial_hex,
        not_after = not_after_unix,
        "ACME certificate issued."
    );
    Ok(IssuedChain {
        chain_pem,
        serial_hex,
        not_before_unix,
        not_after_unix,
    })
}

/// Puts each pending authorisation's challenge in place and tells the server to look.
async fn answer_challenges(
    provider: &AcmeProvider,
    order: &mut Order,
    http01: &dyn Http01Responder,
    presented: &mut Vec<PresentedRecord>,
) -> Result<(), AcmeError> {
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(AcmeError::from_acme)?;
        let name = match authorization.identifier().identifier {
            Identifier::Dns(name) => name.clone(),
            other => return Err(AcmeError::Order(format!("unexpected identifier {other:?}"))),
        };
        match authorization.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            status => {
                return Err(AcmeError::Order(format!(
                    "authorization for {name} is {status:?}"
                )))
            }
        }
        let kind = match &provider.dns {
            Some(_) => ChallengeType::Dns01,
            None => ChallengeType::Http01,
        };
        let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
            AcmeError::Order(format!(
                "the server offers no {kind:?} challenge for {name}"
            ))
        })?;
        let key_authorization = challenge.key_authorization();
        match (&provider.dns, &provider.settings.challenge) {
            (Some(solver), _) => {
                let record = format!("_acme-challenge.{name}");
                let added = solver
                    .present(&record, &key_authorization.dns_value())
                    .await?;
                presented.push(added);
            }
            (None, ChallengeSettings::Http01(listener)) => {
                let lifetime_secs =
                    u32::try_from(provider.settings.order_timeout.as_secs()).unwrap_or(u32::MAX);
                let at = http01
                    .serve(ServeHttpChallenge {
                        token: challenge.token.clone(),
                        key_authorization: key_authorization.as_str().to_owned(),
                        listener: listener.clone(),
                        lifetime_secs,
                    })
                    .await
                    .map_err(AcmeError::Http01)?;
                tracing::info!(name, at, "HTTP-01 challenge served.");
            }
            (None, _) => return Err(AcmeError::Setup("no challenge solver".into())),
        }
        challenge.set_ready().await.map_err(AcmeError::from_acme)?;
    }
    Ok(())
}

/// Why an order became invalid: the first failed challenge's problem, as the server said it.
async fn challenge_problem(order: &mut Order) -> AcmeError {
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let Ok(mut authorization) = authorization else {
            continue;
        };
        if let Ok(state) = authorization.refresh().await {
            if let Some(problem) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
                return AcmeError::from_problem(problem);
            }
        }
    }
    match order.state().error.as_ref() {
        Some(problem) => AcmeError::from_problem(problem),
        None => AcmeError::Order(format!("order is {:?}", order.state().status)),
    }
}

/// The leaf's serial (hex), not-before and not-after (Unix seconds) from the PEM chain.
pub fn leaf_facts(chain_pem: &str) -> Result<(String, i64, i64), AcmeError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes())
        .map_err(|error| AcmeError::Chain(error.to_string()))?;
    let certificate = pem
        .parse_x509()
        .map_err(|error| AcmeError::Chain(error.to_string()))?;
    Ok((
        hex::encode(certificate.raw_serial()),
        certificate.validity().not_before.timestamp(),
        certificate.validity().not_after.timestamp(),
    ))
}
