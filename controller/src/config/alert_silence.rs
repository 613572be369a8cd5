//! What a silence matches (issue 18 §2), checked in one place for every face: the config
//! file's `[[alerts.silence]]`, the API, the dashboard's form and the CLI. A silence needs at
//! least one matcher: a host (agent id), a rule (the alert's kind, the first part of its key:
//! `disk`, `container`, `rule`, ...) or a key prefix, and/or a host label `name=value`. Pure:
//! no I/O.

use unity_shared::proto::AgentId;

/// Who the faces say made a silence of the config file (`[[alerts.silence]]`, id 0).
pub const CONFIGURATION: &str = "configuration";

/// The longest key prefix or label, in bytes.
pub const MAX_MATCHER: usize = 300;

/// A silence's matchers as written; empty = not given.
#[derive(Debug, Clone, Default)]
pub struct RawMatchers<'a> {
    pub host: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub key_prefix: Option<&'a str>,
    /// `name=value`.
    pub label: Option<&'a str>,
}

/// Checked matchers; at least one is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matchers {
    pub host: Option<AgentId>,
    /// `rule` as `<rule>/`, or the key prefix.
    pub key_prefix: Option<String>,
    pub label: Option<(String, String)>,
}

/// Why a silence's matchers cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// None of host, rule, key prefix or label.
    #[error("a silence needs a host, a rule, a key prefix or a label")]
    Empty,
    /// Not an agent id.
    #[error("bad host {0:?}: {1}")]
    Host(String, String),
    /// Not one word of letters, digits, `_` and `-`.
    #[error("bad rule {0:?}: expected the first part of alert keys, e.g. disk, container, rule")]
    Rule(String),
    /// Both a rule and a key prefix.
    #[error("give a rule or a key prefix, not both")]
    RuleAndPrefix,
    /// Longer than [`MAX_MATCHER`].
    #[error("the key prefix is too long: at most 300 bytes")]
    PrefixTooLong,
    /// Not `name=value`.
    #[error("bad label {0:?}: expected name=value")]
    Label(String),
}

fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

impl Matchers {
    /// Checks matchers as written.
    pub fn check(raw: &RawMatchers<'_>) -> Result<Matchers, MatcherError> {
        let host = given(raw.host)
            .map(|host| {
                AgentId::new(host)
                    .map_err(|error| MatcherError::Host(host.into(), error.to_string()))
            })
            .transpose()?;
        let rule = given(raw.rule)
            .map(|rule| {
                let word = rule.len() <= 64
                    && rule
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if word {
                    Ok(format!("{rule}/"))
                } else {
                    Err(MatcherError::Rule(rule.into()))
                }
            })
            .transpose()?;
        let prefix = given(raw.key_prefix).map(str::to_owned);
        if prefix
            .as_ref()
            .is_some_and(|prefix| prefix.len() > MAX_MATCHER)
        {
            return Err(MatcherError::PrefixTooLong);
        }
        let key_prefix = match (rule, prefix) {
            (Some(_), Some(_)) => return Err(MatcherError::RuleAndPrefix),
            (rule, prefix) => rule.or(prefix),
        };
        let label = given(raw.label)
            .map(|label| match label.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() && label.len() <= MAX_MATCHER => {
                    Ok((name.trim().to_owned(), value.trim().to_owned()))
                }
                _ => Err(MatcherError::Label(label.into())),
            })
            .transpose()?;
        if host.is_none() && key_prefix.is_none() && label.is_none() {
            return Err(MatcherError::Empty);
        }
        Ok(Matchers {
            host,
            key_prefix,
            label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_cli_silence_matchers_are_checked() {
        let raw = |host, rule, key_prefix, label| RawMatchers {
            host,
            rule,
            key_prefix,
            label,
        };
        let checked = Matchers::check(&raw(Some("nas"), Some("disk"), None, None)).unwrap();
        assert_eq!(checked.key_prefix.as_deref(), Some("disk/"));
        assert_eq!(checked.host.unwrap().as_str(), "nas");
        let label = Matchers::check(&raw(None, None, None, Some(" role = backup "))).unwrap();
        assert_eq!(label.label, Some(("role".into(), "backup".into())));
        for (bad, error) in [
            (raw(None, None, None, None), MatcherError::Empty),
            (raw(Some(" "), Some(""), None, None), MatcherError::Empty),
            (
                raw(None, Some("disk/x"), None, None),
                MatcherError::Rule("disk/x".into()),
            ),
            (
                raw(None, Some("disk"), Some("disk/"), None),
                MatcherError::RuleAndPrefix,
            ),
            (
                raw(None, None, None, Some("novalue")),
                MatcherError::Label("novalue".into()),
            ),
            (
                raw(None, None, None, Some("=x")),
                MatcherError::Label("=x".into()),
            ),
        ] {
            assert_eq!(Matchers::check(&bad).unwrap_err(), error);
        }
        assert!(matches!(
            Matchers::check(&raw(Some("../x"), None, None, None)),
            Err(MatcherError::Host(..))
        ));
    }
}
