//! The controller as an ACME client (RFC 8555, through `instant-acme`): public certificates
//! from Let's Encrypt, ZeroSSL or a private step-ca for names the owner controls.
//!
//! [`issue`] runs one order: the account (created once per provider, kept sealed, see
//! [`account`]), one challenge per name (DNS-01 through a [`dns::DnsSolver`], or HTTP-01
//! answered by the host's agent through an [`http01::Http01Responder`]), then finalisation
//! **with the host's CSR**: the certificate's private key never leaves the host. Errors
//! from the ACME server are kept as the server said them ([`AcmeError::Server`]); every
//! request and the whole order are bounded in time. See `docs/certificates/acme.md`.

pub mod account;
pub mod dns;
pub mod http;
pub mod http01;
mod order;
mod revoke;
pub mod settings;

pub use account::AcmeAccounts;
pub use http01::{AgentHttp01, Http01Responder, NoHttp01};
pub use instant_acme::RevocationReason;
pub use order::{issue, IssuedChain};
pub use revoke::revoke;

use settings::{ChallengeSettings, ProviderSettings};
use std::time::Duration;

/// A provider ready to order from: its settings, the HTTP client that trusts its CA, and
/// its DNS solver (for DNS-01 providers).
pub struct AcmeProvider {
    pub settings: ProviderSettings,
    http: reqwest::Client,
    dns: Option<Box<dyn dns::DnsSolver>>,
}

impl std::fmt::Debug for AcmeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AcmeProvider {
    /// Builds the provider's HTTP client and solver (blocking: reads the CA file).
    pub fn new(settings: ProviderSettings) -> Result<AcmeProvider, AcmeError> {
        let http = http::client(settings.ca_file.as_deref(), settings.request_timeout)
            .map_err(|error| AcmeError::Setup(error.to_string()))?;
        let dns: Option<Box<dyn dns::DnsSolver>> = match &settings.challenge {
            ChallengeSettings::Rfc2136(rfc) => Some(Box::new(
                dns::rfc2136::Rfc2136Solver::new(
                    rfc,
                    settings.request_timeout,
                    settings.propagation_timeout,
                )
                .map_err(|error| AcmeError::Setup(error.to_string()))?,
            )),
            ChallengeSettings::Cloudflare(cloudflare) => {
                let api = http::client(None, settings.request_timeout)
                    .map_err(|error| AcmeError::Setup(error.to_string()))?;
                Some(Box::new(dns::cloudflare::CloudflareSolver::new(
                    api,
                    cloudflare.clone(),
                )))
            }
            ChallengeSettings::Http01(_) => None,
        };
        Ok(AcmeProvider {
            settings,
            http,
            dns,
        })
    }

    /// The provider called `name` in `[acme]`, built ([`AcmeProvider::new`]; blocking).
    pub fn named(config: &settings::AcmeConfig, name: &str) -> Result<AcmeProvider, AcmeError> {
        let settings = config
            .provider(name)
            .ok_or_else(|| AcmeError::Setup(format!("no [[acme.providers]] named {name:?}")))?;
        AcmeProvider::new(settings.clone())
    }

    /// Whether this provider answers with DNS-01 (and can issue wildcards).
    pub fn uses_dns(&self) -> bool {
        self.dns.is_some()
    }

    /// Fetches the directory and registers (or loads) the account: a check that the
    /// provider works, for `unity-controller acme check`. Returns the account URL, whether
    /// it was created now, and the directory document.
    pub async fn check(&self, accounts: &AcmeAccounts) -> Result<AccountCheck, AcmeError> {
        let bounded = async {
            let directory = self
                .http
                .get(&self.settings.directory)
                .send()
                .await
                .map_err(|error| AcmeError::Transport(http::error_chain(&error)))?;
            let status = directory.status();
            let text = directory
                .text()
                .await
                .map_err(|error| AcmeError::Transport(http::error_chain(&error)))?;
            if !status.is_success() {
                return Err(AcmeError::Transport(format!(
                    "{}: HTTP {status}: {text}",
                    self.settings.directory
                )));
            }
            let (account, created) = accounts.account(&self.settings, &self.http).await?;
            Ok(AccountCheck {
                account_url: account.id().to_owned(),
                created,
                directory: text,
            })
        };
        timed(
            self.settings.order_timeout,
            "checking the provider",
            bounded,
        )
        .await
    }
}

/// What [`AcmeProvider::check`] found.
#[derive(Debug, Clone)]
pub struct AccountCheck {
    pub account_url: String,
    pub created: bool,
    /// The directory document as the server sent it (JSON).
    pub directory: String,
}

/// Why a certificate was not issued.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The provider's settings cannot be used (CA file, TSIG key).
    #[error("ACME provider setup: {0}")]
    Setup(String),
    /// The ACME server answered with a problem document; `kind` and `detail` are its own.
    #[error("the ACME server said: {detail} ({kind}){}", subproblems_text(.subproblems))]
    Server {
        /// The problem type, e.g. `urn:ietf:params:acme:error:rejectedIdentifier`.
        kind: String,
        detail: String,
        /// Per-identifier problems, `identifier: type: detail`.
        subproblems: Vec<String>,
    },
    /// The ACME server could not be reached or answered something that is not ACME.
    #[error("ACME server: {0}")]
    Transport(String),
    /// A step took longer than allowed.
    #[error("{what} took longer than {after:?}")]
    Timeout { what: &'static str, after: Duration },
    /// The DNS-01 record could not be put in place or removed.
    #[error("DNS-01 challenge: {0}")]
    Dns(#[from] dns::DnsError),
    /// The host's agent could not serve the HTTP-01 challenge.
    #[error("HTTP-01 challenge: {0}")]
    Http01(String),
    /// A wildcard can only be validated through DNS-01.
    #[error("{0}: wildcard names need a DNS-01 provider (dns-rfc2136 or dns-cloudflare)")]
    WildcardNeedsDns(String),
    /// The order cannot be made as asked (no names, a name the CA cannot take).
    #[error("ACME order: {0}")]
    Order(String),
    /// The account could not be loaded, sealed or stored.
    #[error("ACME account: {0}")]
    Account(String),
    /// The server's certificate chain could not be read.
    #[error("issued certificate: {0}")]
    Chain(String),
}

fn subproblems_text(subproblems: &[String]) -> String {
    if subproblems.is_empty() {
        String::new()
    } else {
        format!("; {}", subproblems.join("; "))
    }
}

impl AcmeError {
    /// `instant-acme`'s error, the server's problem document kept as it was.
    pub fn from_acme(error: instant_acme::Error) -> AcmeError {
        match error {
            instant_acme::Error::Api(problem) => AcmeError::from_problem(&problem),
            instant_acme::Error::Timeout(_) => AcmeError::Timeout {
                what: "waiting for the ACME server",
                after: Duration::ZERO,
            },
            other => AcmeError::Transport(http::error_chain(&other)),
        }
    }

    pub fn from_problem(problem: &instant_acme::Problem) -> AcmeError {
        AcmeError::Server {
            kind: problem
                .r#type
                .clone()
                .unwrap_or_else(|| "about:blank".into()),
            detail: problem.detail.clone().unwrap_or_default(),
            subproblems: problem
                .subproblems
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// `future`, or [`AcmeError::Timeout`] after `after`.
pub(crate) async fn timed<T>(
    after: Duration,
    what: &'static str,
    future: impl std::future::Future<Output = Result<T, AcmeError>>,
) -> Result<T, AcmeError> {
    tokio::time::timeout(after, future)
        .await
        .map_err(|_| AcmeError::Timeout { what, after })?
}
