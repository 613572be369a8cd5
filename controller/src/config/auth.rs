//! The `[auth]` section: second factors for admins, and sign-in with an OpenID Connect
//! provider (`[auth.oidc]`) with its group mapping and the OIDC-only mode.

use super::error::ConfigError;
use super::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Users who administer every host must pass a second factor at login (and enrol one at
    /// their next login when they have none). Default false.
    pub second_factor_for_admins: Option<bool>,
    /// Sign-in with an OpenID Connect provider.
    pub oidc: Option<RawOidc>,
}

/// `[auth.oidc]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    /// The provider's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The client secret, or `client_secret_file`.
    pub client_secret: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
    /// `https://<dashboard>/login/oidc/callback`, as registered with the provider.
    pub redirect_url: String,
    /// Shown on the login button: "Sign in with NAME". Default "OpenID Connect".
    pub name: Option<String>,
    /// Default `["openid", "profile", "email", "groups"]`.
    pub scopes: Option<Vec<String>>,
    /// Provider group (from the ID token's `groups` claim) -> Unity user group.
    pub groups: Option<BTreeMap<String, String>>,
    /// Unity groups every OIDC user is in. Default none (no rights until a group maps).
    pub default_groups: Option<Vec<String>>,
    /// Refuse password logins except for `break_glass` users. Default false.
    pub only: Option<bool>,
    /// Local users who may still log in with a password in OIDC-only mode. Default ["admin"].
    pub break_glass: Option<Vec<String>>,
    /// Clock difference tolerated when checking token times. Default "60s".
    pub clock_skew: Option<String>,
}

/// The validated `[auth.oidc]`.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_url: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub groups: BTreeMap<String, String>,
    pub default_groups: Vec<String>,
    pub only: bool,
    pub break_glass: Vec<String>,
    pub clock_skew: Duration,
}

/// The validated `[auth]`.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub second_factor_for_admins: bool,
    pub oidc: Option<OidcConfig>,
}

fn invalid(key: &'static str, value: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_owned(),
        message: message.to_owned(),
    }
}

impl OidcConfig {
    fn from_raw(raw: RawOidc) -> Result<OidcConfig, ConfigError> {
        for (key, value) in [
            ("auth.oidc.issuer", &raw.issuer),
            ("auth.oidc.redirect_url", &raw.redirect_url),
        ] {
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(invalid(key, value, "expected an http(s) URL"));
            }
        }
        if !raw.redirect_url.ends_with("/login/oidc/callback") {
            return Err(invalid(
                "auth.oidc.redirect_url",
                &raw.redirect_url,
                "expected the dashboard's address followed by /login/oidc/callback",
            ));
        }
        if raw.client_id.is_empty() {
            return Err(invalid("auth.oidc.client_id", "", "must not be empty"));
        }
        let client_secret = match (raw.client_secret, raw.client_secret_file) {
            (Some(secret), None) => secret,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map(|text| text.trim().to_owned())
                .map_err(|error| {
                    invalid(
                        "auth.oidc.client_secret_file",
                        &path.display().to_string(),
                        &error.to_string(),
                    )
                })?,
            _ => {
                return Err(invalid(
                    "auth.oidc.client_secret",
                    "",
                    "give exactly one of client_secret and client_secret_file",
                ))
            }
        };
        let skew_text = raw.clock_skew.unwrap_or_else(|| "60s".into());
        let clock_skew = humantime::parse_duration(&skew_text)
            .map_err(|error| invalid("auth.oidc.clock_skew", &skew_text, &error.to_string()))?;
        Ok(OidcConfig {
            issuer: raw.issuer,
            client_id: raw.client_id,
            client_secret: Secret(client_secret),
            redirect_url: raw.redirect_url,
            name: raw.name.unwrap_or_else(|| "OpenID Connect".into()),
            scopes: raw.scopes.unwrap_or_else(|| {
                ["openid", "profile", "email", "groups"]
                    .map(str::to_owned)
                    .to_vec()
            }),
            groups: raw.groups.unwrap_or_default(),
            default_groups: raw.default_groups.unwrap_or_default(),
            only: raw.only.unwrap_or(false),
            break_glass: raw.break_glass.unwrap_or_else(|| vec!["admin".into()]),
            clock_skew,
        })
    }
}

impl AuthConfig {
    pub fn from_raw(raw: RawAuth) -> Result<AuthConfig, ConfigError> {
        Ok(AuthConfig {
            second_factor_for_admins: raw.second_factor_for_admins.unwrap_or(false),
            oidc: raw.oidc.map(OidcConfig::from_raw).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_defaults_and_errors() {
        let config = AuthConfig::from_raw(toml::from_str("").unwrap()).unwrap();
        assert!(!config.second_factor_for_admins && config.oidc.is_none());
        let raw: RawAuth = toml::from_str(
            "[oidc]\nissuer = \"https://id.lan/\"\nclient_id = \"unity\"\nclient_secret = \"s\"\nredirect_url = \"https://unity.lan/login/oidc/callback\"",
        )
        .unwrap();
        let oidc = AuthConfig::from_raw(raw).unwrap().oidc.unwrap();
        assert_eq!(oidc.issuer, "https://id.lan/");
        assert_eq!(oidc.break_glass, ["admin"]);
        assert_eq!(oidc.clock_skew, Duration::from_secs(60));
        assert!(!oidc.only);
        for bad in [
            "issuer = \"id.lan\"\nclient_id = \"unity\"\nclient_secret = \"s\"\nredirect_url = \"https://u/login/oidc/callback\"",
            "issuer = \"https://id.lan\"\nclient_id = \"unity\"\nclient_secret = \"s\"\nredirect_url = \"https://u/\"",
            "issuer = \"https://id.lan\"\nclient_id = \"unity\"\nredirect_url = \"https://u/login/oidc/callback\"",
        ] {
            let raw: RawAuth = toml::from_str(&format!("[oidc]\n{bad}")).unwrap();
            assert!(AuthConfig::from_raw(raw).is_err(), "{bad}");
        }
    }
}
