//! The `[auth]` section: whether users who administer every host must pass a second factor.

use super::error::ConfigError;
use serde::Deserialize;

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Users who administer every host must pass a second factor at login (and enrol one at
    /// their next login when they have none). Default false.
    pub second_factor_for_admins: Option<bool>,
}

/// The validated `[auth]`.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub second_factor_for_admins: bool,
}

impl AuthConfig {
    pub fn from_raw(raw: RawAuth) -> Result<AuthConfig, ConfigError> {
        Ok(AuthConfig {
            second_factor_for_admins: raw.second_factor_for_admins.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let config = AuthConfig::from_raw(toml::from_str("").unwrap()).unwrap();
        assert!(!config.second_factor_for_admins);
        let raw: RawAuth = toml::from_str("second_factor_for_admins = true").unwrap();
        assert!(AuthConfig::from_raw(raw).unwrap().second_factor_for_admins);
        // Sign-in with OpenID Connect is not there yet: a section for it is an error, not
        // silently ignored.
        assert!(toml::from_str::<RawAuth>("[oidc]\nissuer = \"https://id.lan\"").is_err());
    }
}
