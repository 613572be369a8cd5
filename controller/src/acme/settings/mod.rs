//! The `[acme]` section of the controller's TOML: the ACME providers (Let's Encrypt, ZeroSSL,
//! a private step-ca) the controller can get public certificates from, each with the one
//! challenge it answers. Secrets (TSIG keys, API tokens) come from files read here and are
//! never shown by `Debug`. Documented in `docs/certificates/acme.md` and
//! `packaging/controller.toml`.

use crate::config::error::ConfigError;
use crate::config::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Cloudflare's API root, overridable for tests.
pub const CLOUDFLARE_API: &str = "https://api.cloudflare.com/client/v4";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcme {
    /// Each HTTP request to an ACME server (or DNS API) gives up after this; default "30s".
    pub request_timeout: Option<String>,
    /// A whole issuance (order, challenges, finalisation) gives up after this; default "5m".
    pub order_timeout: Option<String>,
    /// How long to wait for a DNS-01 record to be answered by the authoritative server;
    /// default "2m".
    pub propagation_timeout: Option<String>,
    #[serde(default)]
    pub providers: Vec<RawProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// `[a-z0-9-]`, unique: how managed certificates name their issuer.
    pub name: String,
    /// The ACME directory URL.
    pub directory: String,
    /// The account's contact address (`mailto:` is added).
    pub email: Option<String>,
    /// A PEM file with a CA certificate to trust for this server (a private step-ca, Pebble).
    pub ca_file: Option<PathBuf>,
    /// The owner agreed to the provider's terms of service; required.
    #[serde(default)]
    pub terms_agreed: bool,
    /// External Account Binding (ZeroSSL, some step-ca setups): the key id the CA gave…
    pub eab_key_id: Option<String>,
    /// …and a file holding its HMAC key (base64url, as the CA shows it).
    pub eab_hmac_key_file: Option<PathBuf>,
    pub challenge: RawChallenge,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum RawChallenge {
    /// DNS-01 through RFC 2136 dynamic updates signed with TSIG.
    #[serde(rename = "dns-rfc2136")]
    Rfc2136 {
        /// The primary server, `host:port` (port 53 if left out).
        server: String,
        /// The zone the records go into (`home.example.org`).
        zone: String,
        key_name: String,
        /// `hmac-sha256` (default), `hmac-sha384` or `hmac-sha512`.
        algorithm: Option<String>,
        /// A file holding the base64 secret (as in BIND's `secret "…";`), or a BIND key file.
        secret_file: PathBuf,
    },
    /// DNS-01 through Cloudflare's API.
    #[serde(rename = "dns-cloudflare")]
    Cloudflare {
        /// A file holding an API token with Zone:DNS:Edit on the zone.
        api_token_file: PathBuf,
        api_base: Option<String>,
    },
    /// HTTP-01 answered by the agent on the host the certificate is for.
    #[serde(rename = "http-01")]
    Http01 {
        /// The port of the agent's short-lived listener (default 80).
        port: Option<u16>,
        /// Instead of a listener, a directory the host's web server serves.
        webroot: Option<String>,
    },
}

/// The validated `[acme]` section.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub request_timeout: Duration,
    pub order_timeout: Duration,
    pub propagation_timeout: Duration,
    pub providers: Vec<ProviderSettings>,
}

impl Default for AcmeConfig {
    fn default() -> AcmeConfig {
        AcmeConfig {
            request_timeout: Duration::from_secs(30),
            order_timeout: Duration::from_secs(300),
            propagation_timeout: Duration::from_secs(120),
            providers: Vec::new(),
        }
    }
}

/// One provider, validated.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub directory: String,
    pub email: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// External Account Binding: key id and HMAC key (base64url).
    pub external_account: Option<(String, Secret)>,
    pub challenge: ChallengeSettings,
    pub request_timeout: Duration,
    pub order_timeout: Duration,
    pub propagation_timeout: Duration,
}

/// How a provider's challenges are answered.
#[derive(Debug, Clone)]
pub enum ChallengeSettings {
    Rfc2136(Rfc2136Settings),
    Cloudflare(CloudflareSettings),
    /// HTTP-01 through the agent: a listener on a port, or a webroot.
    Http01(unity_shared::model::certificate::ChallengeListener),
}

#[derive(Debug, Clone)]
pub struct Rfc2136Settings {
    pub server: String,
    pub zone: String,
    pub key_name: String,
    /// Lower case, e.g. `hmac-sha256`.
    pub algorithm: String,
    pub secret: Secret,
}

#[derive(Debug, Clone)]
pub struct CloudflareSettings {
    pub api_token: Secret,
    pub api_base: String,
}

fn invalid(key: &'static str, value: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_owned(),
        message: message.into(),
    }
}

fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    humantime::parse_duration(text).map_err(|error| invalid(key, text, error.to_string()))
}

fn read_secret(key: &'static str, path: &std::path::Path) -> Result<Secret, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| Secret(text.trim().to_owned()))
        .map_err(|error| invalid(key, &path.display().to_string(), error.to_string()))
}

/// The secret out of a file that holds either the bare base64 secret or a BIND key
/// statement (`secret "…";`, as `tsig-keygen` writes).
pub fn tsig_secret_from_text(text: &str) -> String {
    text.lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("secret")?;
            Some(
                rest.trim()
                    .trim_end_matches(';')
                    .trim()
                    .trim_matches('"')
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| text.trim().to_owned())
}

impl AcmeConfig {
    /// Validates the section and reads the secret files it names (blocking I/O).
    pub fn from_raw(raw: RawAcme) -> Result<AcmeConfig, ConfigError> {
        let request_timeout = duration(
            "acme.request_timeout",
            raw.request_timeout.as_deref(),
            "30s",
        )?;
        let order_timeout = duration("acme.order_timeout", raw.order_timeout.as_deref(), "5m")?;
        let propagation_timeout = duration(
            "acme.propagation_timeout",
            raw.propagation_timeout.as_deref(),
            "2m",
        )?;
        let mut providers: Vec<ProviderSettings> = Vec::new();
        for provider in raw.providers {
            let name = provider.name;
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_name {
                return Err(invalid(
                    "acme.providers.name",
                    &name,
                    "expected 1 to 64 of a-z, 0-9, '-'",
                ));
            }
            if providers.iter().any(|known| known.name == name) {
                return Err(invalid("acme.providers.name", &name, "given twice"));
            }
            if !provider.directory.starts_with("https://") {
                return Err(invalid(
                    "acme.providers.directory",
                    &provider.directory,
                    "must be an https:// URL",
                ));
            }
            if !provider.terms_agreed {
                return Err(invalid(
                    "acme.providers.terms_agreed",
                    &name,
                    "read the provider's terms of service and set terms_agreed = true",
                ));
            }
            let challenge = match provider.challenge {
                RawChallenge::Rfc2136 {
                    server,
                    zone,
                    key_name,
                    algorithm,
                    secret_file,
                } => {
                    let algorithm = algorithm
                        .unwrap_or_else(|| "hmac-sha256".into())
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    if !["hmac-sha256", "hmac-sha384", "hmac-sha512"].contains(&algorithm.as_str())
                    {
                        return Err(invalid(
                            "acme.providers.challenge.algorithm",
                            &algorithm,
                            "expected hmac-sha256, hmac-sha384 or hmac-sha512",
                        ));
                    }
                    let text = read_secret("acme.providers.challenge.secret_file", &secret_file)?;
                    ChallengeSettings::Rfc2136(Rfc2136Settings {
                        server,
                        zone: zone.trim_end_matches('.').to_ascii_lowercase(),
                        key_name,
                        algorithm,
                        secret: Secret(tsig_secret_from_text(&text.0)),
                    })
                }
                RawChallenge::Cloudflare {
                    api_token_file,
                    api_base,
                } => ChallengeSettings::Cloudflare(CloudflareSettings {
                    api_token: read_secret(
                        "acme.providers.challenge.api_token_file",
                        &api_token_file,
                    )?,
                    api_base: api_base
                        .unwrap_or_else(|| CLOUDFLARE_API.into())
                        .trim_end_matches('/')
                        .to_owned(),
                }),
                RawChallenge::Http01 { port, webroot } => {
                    use unity_shared::model::certificate::ChallengeListener;
                    match (port, webroot) {
                        (_, Some(webroot)) if !webroot.starts_with('/') => {
                            return Err(invalid(
                                "acme.providers.challenge.webroot",
                                &webroot,
                                "must be an absolute path",
                            ))
                        }
                        (Some(_), Some(_)) => {
                            return Err(invalid(
                                "acme.providers.challenge",
                                &name,
                                "give port or webroot, not both",
                            ))
                        }
                        (None, Some(webroot)) => {
                            ChallengeSettings::Http01(ChallengeListener::Webroot(webroot))
                        }
                        (port, None) => {
                            ChallengeSettings::Http01(ChallengeListener::Port(port.unwrap_or(80)))
                        }
                    }
                }
            };
            let external_account = match (provider.eab_key_id, provider.eab_hmac_key_file) {
                (None, None) => None,
                (Some(key_id), Some(file)) => Some((
                    key_id,
                    read_secret("acme.providers.eab_hmac_key_file", &file)?,
                )),
                _ => {
                    return Err(invalid(
                        "acme.providers.eab_key_id",
                        &name,
                        "give both eab_key_id and eab_hmac_key_file, or neither",
                    ))
                }
            };
            providers.push(ProviderSettings {
                name,
                directory: provider.directory,
                email: provider.email,
                ca_file: provider.ca_file,
                external_account,
                challenge,
                request_timeout,
                order_timeout,
                propagation_timeout,
            });
        }
        Ok(AcmeConfig {
            request_timeout,
            order_timeout,
            propagation_timeout,
            providers,
        })
    }

    /// The provider called `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|provider| provider.name == name)
    }
}

#[cfg(test)]
mod tests;
