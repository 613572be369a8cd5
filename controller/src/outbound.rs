//! Outbound TLS and HTTP: the one place the controller decides how it talks to servers outside
//! (notification receivers, MQTT brokers, remote_write endpoints, ACME CAs, OIDC providers,
//! release-note APIs and image registries). rustls with ring and the platform's trust store,
//! plus extra roots where the owner configured them; one user agent; the caller chooses its
//! timeouts and whether redirects are followed. A leaf: it imports nothing of the controller.

use rustls_pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;

/// The client could not be set up (the trust store, or rustls/reqwest refusing the settings).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutboundError(String);

/// Whether an HTTP client follows redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// Never: a redirect is an answer like any other (credentials never follow it elsewhere).
    None,
    /// Up to this many hops.
    Limited(usize),
}

/// How an outbound HTTP client behaves.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The whole request, answer included.
    pub timeout: Duration,
    /// Establishing the connection (TCP and TLS).
    pub connect_timeout: Duration,
    pub redirects: Redirects,
    /// Certificates trusted besides the platform's roots (a private CA).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// `None`: `unity-controller/<version>`.
    pub user_agent: Option<String>,
}

impl HttpOptions {
    /// `timeout` for the whole request and for connecting; no redirects; platform roots only.
    pub fn new(timeout: Duration) -> HttpOptions {
        HttpOptions {
            timeout,
            connect_timeout: timeout,
            redirects: Redirects::None,
            extra_roots: Vec::new(),
            user_agent: None,
        }
    }
}

/// The user agent every outbound request carries unless its caller names another.
pub const USER_AGENT: &str = concat!("unity-controller/", env!("CARGO_PKG_VERSION"));

/// A rustls client configuration trusting the platform's roots and `extra_roots`.
pub fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, OutboundError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, Arc::clone(&provider))
    }
    .map_err(|error| OutboundError(format!("TLS roots: {error}")))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| OutboundError(format!("TLS: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// An HTTP client as `options` say, over [`tls_config`].
pub fn http_client(options: &HttpOptions) -> Result<reqwest::Client, OutboundError> {
    let redirect = match options.redirects {
        Redirects::None => reqwest::redirect::Policy::none(),
        Redirects::Limited(hops) => reqwest::redirect::Policy::limited(hops),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(options.extra_roots.clone())?)
        .redirect(redirect)
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .user_agent(options.user_agent.as_deref().unwrap_or(USER_AGENT))
        .build()
        .map_err(|error| OutboundError(format!("HTTP client: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_build_with_and_without_extra_roots() {
        assert!(http_client(&HttpOptions::new(Duration::from_secs(5))).is_ok());
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["ca.home.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let options = HttpOptions {
            extra_roots: vec![certificate.der().clone()],
            redirects: Redirects::Limited(3),
            ..HttpOptions::new(Duration::from_secs(5))
        };
        assert!(http_client(&options).is_ok());
    }
}
