//! `[[alerts.silence]]`: silences kept in the config file (issue 18 §2), in force from the
//! start while they are configured (or until `until`), listed by the faces as "from
//! configuration" and not removable there. Checked with the same matchers as the faces'
//! silences ([`crate::config::alert_silence`]); an error names the entry by its number.

use super::invalid;
use crate::config::alert_silence::{MatcherError, Matchers, RawMatchers, CONFIGURATION};
use crate::config::error::ConfigError;
use crate::storage::alert_lifecycle::ActorRecord;
use crate::storage::alert_silences::SilenceRecord;
use serde::Deserialize;

/// One `[[alerts.silence]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSilence {
    /// Only this host's alerts (agent id).
    pub host: Option<String>,
    /// Only alerts of this rule: the first part of their key (`disk`, `container`, `rule`).
    pub rule: Option<String>,
    /// Only alerts whose key starts with this (`disk/nas01/`); not with `rule`.
    pub key_prefix: Option<String>,
    /// Only alerts of hosts with this label, `name=value`.
    pub label: Option<String>,
    /// RFC 3339 time after which it no longer applies, e.g. "2027-01-31T00:00:00Z";
    /// default: while it is in the file.
    pub until: Option<String>,
    /// Why, for the others (required).
    pub reason: String,
}

/// Checks the `[[alerts.silence]]` entries into silence records (id 0, made by
/// [`CONFIGURATION`], expiring at `until` or never).
pub(super) fn checked(raw: Vec<RawSilence>) -> Result<Vec<SilenceRecord>, ConfigError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, raw)| silence(raw, i + 1))
        .collect()
}

fn silence(raw: RawSilence, number: usize) -> Result<SilenceRecord, ConfigError> {
    let entry = format!("[[alerts.silence]] number {number}");
    let matchers = Matchers::check(&RawMatchers {
        host: raw.host.as_deref(),
        rule: raw.rule.as_deref(),
        key_prefix: raw.key_prefix.as_deref(),
        label: raw.label.as_deref(),
    })
    .map_err(|error| {
        let (key, value) = match &error {
            MatcherError::Empty => ("alerts.silence", String::new()),
            MatcherError::Host(..) => ("alerts.silence.host", raw.host.clone().unwrap_or_default()),
            MatcherError::Rule(rule) => ("alerts.silence.rule", rule.clone()),
            MatcherError::RuleAndPrefix | MatcherError::PrefixTooLong => (
                "alerts.silence.key_prefix",
                raw.key_prefix.clone().unwrap_or_default(),
            ),
            MatcherError::Label(label) => ("alerts.silence.label", label.clone()),
        };
        invalid(key, value, &format!("{entry}: {error}"))
    })?;
    let reason = raw.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 || reason.chars().any(char::is_control) {
        return Err(invalid(
            "alerts.silence.reason",
            reason,
            &format!("{entry}: say why in one line of 1 to 1000 characters"),
        ));
    }
    let expires_at_ms = match raw.until.as_deref().map(str::trim) {
        None | Some("") => i64::MAX,
        Some(text) => {
            let time = humantime::parse_rfc3339_weak(text).map_err(|error| {
                invalid(
                    "alerts.silence.until",
                    text,
                    &format!(
                        "{entry}: {error}; expected a time such as \"2027-01-31T00:00:00Z\" \
                         (UTC), or no `until` for as long as the entry is in the file"
                    ),
                )
            })?;
            time.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|since| i64::try_from(since.as_millis()).ok())
                .unwrap_or(0)
        }
    };
    Ok(SilenceRecord {
        id: 0,
        host: matchers.host,
        key_prefix: matchers.key_prefix,
        label: matchers.label,
        comment: reason.to_owned(),
        created_by: ActorRecord::Controller(CONFIGURATION.into()),
        created_at_ms: 0,
        expires_at_ms,
    })
}
