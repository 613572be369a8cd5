//! `[history]`: how long each tier of stored history is kept (raw samples, 5-minute and
//! 1-hour rollups), with overrides per metric family (`[[history.family]]`); see
//! docs/storage-model.md "History tiers". The top-level `retention` key of earlier versions
//! still sets the raw tier's retention.

use super::ConfigError;
use crate::storage::series::{FamilyRetention, MetricPattern, RetentionPolicy, TierRetention};
use serde::Deserialize;
use std::time::Duration;

/// Raw samples are kept this long by default.
pub const DEFAULT_RAW: &str = "30d";
/// 5-minute rollups are kept this long by default.
pub const DEFAULT_5M: &str = "365d";
/// 1-hour rollups are kept this long by default.
pub const DEFAULT_1H: &str = "1825d";
/// The shortest raw retention: a chart that reads raw samples (ranges up to 41 h) finds them.
const MIN_RAW: Duration = Duration::from_secs(2 * 86_400);
/// The longest retention of any tier.
const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `[history]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// How long raw samples are kept, e.g. "30d".
    pub raw_retention: Option<String>,
    /// How long 5-minute rollups are kept, e.g. "365d".
    pub rollup_5m_retention: Option<String>,
    /// How long 1-hour rollups are kept, e.g. "1825d".
    pub rollup_1h_retention: Option<String>,
    /// Overrides for metric families.
    pub family: Option<Vec<RawFamily>>,
}

/// `[[history.family]]` as written: a metric name or prefix (`smart_*`) and the tiers'
/// retentions that differ from `[history]`'s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFamily {
    pub metrics: String,
    pub raw_retention: Option<String>,
    pub rollup_5m_retention: Option<String>,
    pub rollup_1h_retention: Option<String>,
}

/// Validates `[history]`; `legacy_retention` is the top-level `retention` key.
pub fn from_raw(
    raw: RawHistory,
    legacy_retention: Option<&str>,
) -> Result<RetentionPolicy, ConfigError> {
    if legacy_retention.is_some() && raw.raw_retention.is_some() {
        return Err(ConfigError::Invalid {
            key: "retention",
            value: legacy_retention.unwrap_or_default().to_owned(),
            message: "set either `retention` or `history.raw_retention`, not both".into(),
        });
    }
    let raw_text = raw
        .raw_retention
        .as_deref()
        .or(legacy_retention)
        .unwrap_or(DEFAULT_RAW);
    let raw_key = if raw.raw_retention.is_none() && legacy_retention.is_some() {
        "retention"
    } else {
        "history.raw_retention"
    };
    let default = tiers(
        Keys::default_keys(raw_key),
        [
            raw_text,
            raw.rollup_5m_retention.as_deref().unwrap_or(DEFAULT_5M),
            raw.rollup_1h_retention.as_deref().unwrap_or(DEFAULT_1H),
        ],
    )?;
    let mut families: Vec<FamilyRetention> = Vec::new();
    for family in raw.family.unwrap_or_default() {
        let pattern = pattern(&family.metrics)?;
        if families.iter().any(|known| known.pattern == pattern) {
            return Err(invalid(
                "history.family.metrics",
                &family.metrics,
                "named by two [[history.family]] tables",
            ));
        }
        // A tier the family leaves out keeps the default, or the family's finer tier when
        // that is longer (a rollup outlives the samples it summarises).
        let raw_text = family
            .raw_retention
            .clone()
            .unwrap_or_else(|| text_of(default.raw_ms));
        let raw_ms = parse_ms("history.family.raw_retention", &raw_text)?;
        let five_text = family
            .rollup_5m_retention
            .clone()
            .unwrap_or_else(|| text_of(default.five_minutes_ms.max(raw_ms)));
        let five_ms = parse_ms("history.family.rollup_5m_retention", &five_text)?;
        let hour_text = family
            .rollup_1h_retention
            .clone()
            .unwrap_or_else(|| text_of(default.one_hour_ms.max(five_ms)));
        let keep = tiers(
            Keys::family_keys(),
            [raw_text.as_str(), five_text.as_str(), hour_text.as_str()],
        )?;
        families.push(FamilyRetention { pattern, keep });
    }
    Ok(RetentionPolicy { default, families })
}

struct Keys([&'static str; 3]);

impl Keys {
    fn default_keys(raw_key: &'static str) -> Keys {
        Keys([
            raw_key,
            "history.rollup_5m_retention",
            "history.rollup_1h_retention",
        ])
    }

    fn family_keys() -> Keys {
        Keys([
            "history.family.raw_retention",
            "history.family.rollup_5m_retention",
            "history.family.rollup_1h_retention",
        ])
    }
}

fn parse_ms(key: &'static str, text: &str) -> Result<i64, ConfigError> {
    let duration = humantime::parse_duration(text).map_err(|error| invalid(key, text, error))?;
    Ok(duration.as_millis().min(i64::MAX as u128) as i64)
}

/// A retention in milliseconds as humantime text (whole seconds).
fn text_of(ms: i64) -> String {
    format!("{}s", ms / 1000)
}

/// Parses and checks the three retentions: raw at least 2 days, each tier at least as long
/// as the finer one (a rollup outlives the samples it summarises), none above 100 years.
fn tiers(keys: Keys, texts: [&str; 3]) -> Result<TierRetention, ConfigError> {
    let mut parsed = [Duration::ZERO; 3];
    for (slot, (key, text)) in parsed.iter_mut().zip(keys.0.iter().zip(texts)) {
        *slot = humantime::parse_duration(text).map_err(|error| invalid(key, text, error))?;
        if *slot > MAX_RETENTION {
            return Err(invalid(key, text, "must be at most 100 years"));
        }
    }
    if parsed[0] < MIN_RAW {
        return Err(invalid(
            keys.0[0],
            texts[0],
            "must be at least 2d (charts up to 41 h read raw samples)",
        ));
    }
    for finer in 0..2 {
        if parsed[finer + 1] < parsed[finer] {
            return Err(invalid(
                keys.0[finer + 1],
                texts[finer + 1],
                format!(
                    "must be at least {} ({}): a rollup outlives the samples it summarises",
                    keys.0[finer], texts[finer]
                ),
            ));
        }
    }
    let ms = |duration: Duration| duration.as_millis() as i64;
    Ok(TierRetention {
        raw_ms: ms(parsed[0]),
        five_minutes_ms: ms(parsed[1]),
        one_hour_ms: ms(parsed[2]),
    })
}

/// A metric name or a prefix ending in `*`: letters, digits, `_` and `:`.
fn pattern(text: &str) -> Result<MetricPattern, ConfigError> {
    let name = text.strip_suffix('*').unwrap_or(text);
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !valid {
        return Err(invalid(
            "history.family.metrics",
            text,
            "expected a metric name or a prefix ending in * (e.g. \"smart_*\")",
        ));
    }
    Ok(MetricPattern::parse(text))
}

fn invalid(key: &'static str, value: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_owned(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::series::Tier;

    const DAY: i64 = 86_400_000;

    #[track_caller]
    fn check(toml_text: &str, expect: Result<(), &str>) -> Option<RetentionPolicy> {
        #[derive(Deserialize)]
        struct Wrapper {
            retention: Option<String>,
            history: Option<RawHistory>,
        }
        let wrapper: Wrapper = match toml::from_str(toml_text) {
            Ok(wrapper) => wrapper,
            Err(error) => {
                let wanted = expect.expect_err("the TOML parses");
                assert!(error.to_string().contains(wanted), "{error}");
                return None;
            }
        };
        let result = from_raw(
            wrapper.history.unwrap_or_default(),
            wrapper.retention.as_deref(),
        );
        match (result, expect) {
            (Ok(policy), Ok(())) => Some(policy),
            (Err(error), Err(wanted)) => {
                let text = error.to_string();
                assert!(text.contains(wanted), "{text:?} lacks {wanted:?}");
                None
            }
            (result, expect) => panic!("{result:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn defaults_are_30_days_1_year_5_years() {
        let policy = check("", Ok(())).unwrap();
        assert_eq!(policy.default.raw_ms, 30 * DAY);
        assert_eq!(policy.default.five_minutes_ms, 365 * DAY);
        assert_eq!(policy.default.one_hour_ms, 5 * 365 * DAY);
        assert!(policy.families.is_empty());
        // The earlier top-level key still sets the raw tier.
        let policy = check("retention = \"90d\"", Ok(())).unwrap();
        assert_eq!(policy.default.raw_ms, 90 * DAY);
    }

    #[test]
    fn families_override_single_tiers() {
        let policy = check(
            "[history]\nraw_retention = \"14d\"\n[[history.family]]\nmetrics = \"smart_*\"\n\
             raw_retention = \"365d\"\nrollup_5m_retention = \"730d\"\n\
             [[history.family]]\nmetrics = \"smart_temperature_celsius\"\nraw_retention = \"60d\"",
            Ok(()),
        )
        .unwrap();
        assert_eq!(policy.keep_ms("smart_power_on_hours", Tier::Raw), 365 * DAY);
        assert_eq!(
            policy.keep_ms("smart_power_on_hours", Tier::FiveMinutes),
            730 * DAY
        );
        assert_eq!(
            policy.keep_ms("smart_power_on_hours", Tier::OneHour),
            5 * 365 * DAY
        );
        // The exact name is more specific than the prefix.
        assert_eq!(
            policy.keep_ms("smart_temperature_celsius", Tier::Raw),
            60 * DAY
        );
        assert_eq!(policy.keep_ms("cpu_usage_ratio", Tier::Raw), 14 * DAY);
        // A tier left out follows a longer finer tier of the family.
        let policy = check(
            "[[history.family]]\nmetrics = \"smart_*\"\nraw_retention = \"400d\"",
            Ok(()),
        )
        .unwrap();
        assert_eq!(policy.keep_ms("smart_x", Tier::FiveMinutes), 400 * DAY);
        assert_eq!(policy.keep_ms("smart_x", Tier::OneHour), 5 * 365 * DAY);
    }

    #[test]
    fn bad_values_say_which_key_and_why() {
        check(
            "retention = \"30d\"\n[history]\nraw_retention = \"30d\"",
            Err("not both"),
        );
        check(
            "[history]\nraw_retention = \"forever\"",
            Err("history.raw_retention"),
        );
        check("[history]\nraw_retention = \"1d\"", Err("at least 2d"));
        check("retention = \"1h\"", Err("retention"));
        check(
            "[history]\nrollup_5m_retention = \"7d\"",
            Err("history.rollup_5m_retention"),
        );
        check(
            "[history]\nrollup_1h_retention = \"200d\"",
            Err("must be at least history.rollup_5m_retention"),
        );
        check(
            "[[history.family]]\nmetrics = \"smart*_x\"",
            Err("history.family.metrics"),
        );
        check(
            "[[history.family]]\nmetrics = \"*\"",
            Err("prefix ending in *"),
        );
        check(
            "[[history.family]]\nmetrics = \"smart_*\"\n[[history.family]]\nmetrics = \"smart_*\"",
            Err("two [[history.family]]"),
        );
        check(
            "[[history.family]]\nmetrics = \"smart_*\"\nraw_retention = \"400d\"\n\
             rollup_5m_retention = \"100d\"",
            Err("history.family.rollup_5m_retention"),
        );
        check(
            "[[history.family]]\nmetrics = \"x\"\nkeep = \"1d\"",
            Err("unknown field"),
        );
    }
}
