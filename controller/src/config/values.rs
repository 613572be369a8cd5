//! Value parsers the sections share: the [`ConfigError::Invalid`] that names a key, and a
//! duration of at least a second (`"90d"`, `"60s"`).

use super::error::ConfigError;
use std::time::Duration;

/// `key = value` cannot be used, and why.
pub(super) fn invalid(key: &'static str, value: impl Into<String>, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.into(),
        message: message.to_owned(),
    }
}

/// `value` (or `default` when the key is missing) as a duration of at least one second.
pub(super) fn duration(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let text = value.unwrap_or(default);
    let parsed =
        humantime::parse_duration(text).map_err(|error| invalid(key, text, &error.to_string()))?;
    if parsed < Duration::from_secs(1) {
        return Err(invalid(key, text, "must be at least 1s"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_at_least_a_second_and_name_their_key() {
        assert_eq!(
            duration("a.b", None, "60s").unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            duration("a.b", Some("2h"), "60s").unwrap(),
            Duration::from_secs(7200)
        );
        let error = duration("a.b", Some("0s"), "60s").unwrap_err().to_string();
        assert!(
            error.contains("a.b") && error.contains("at least 1s"),
            "{error}"
        );
        let error = duration("a.b", Some("soon"), "60s")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("a.b = \"soon\""), "{error}");
    }
}
