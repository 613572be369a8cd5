//! `[[alerts.receiver]]`: a receiver by URL with its severity, routing and quiet hours
//! ([`RawReceiver`] as written, [`ReceiverConfig`] validated), the older `[[alerts.webhook]]`
//! and `[[alerts.ntfy]]` sections mapped onto the same type, and [`ReceiverConfig::plan`], the
//! pure decision whether and when an event goes to a receiver.

use super::url::{self, Channel};
use crate::config::error::ConfigError;
use crate::config::secret::Secret;
use crate::storage::alerts::Severity;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReceiver {
    /// The service and its credentials in one URL (`docs/notifications.md`); never logged.
    pub url: String,
    /// A name for the dashboard and logs; default `<service> <n>`.
    pub name: Option<String>,
    /// "warning" (default) or "critical".
    pub min_severity: Option<String>,
    /// Only alerts of hosts in one of these host groups; default: every host.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only alerts whose key starts with one of these, e.g. "smart/", "host/"; default: all.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Local hours without notifications, e.g. "22:00-07:00".
    pub quiet_hours: Option<String>,
    /// "queue" (default: deliver when the quiet hours end) or "drop".
    pub quiet_mode: Option<String>,
    /// Alerts at least this severe go through during quiet hours; default "critical".
    pub quiet_min_severity: Option<String>,
    /// The time zone of `quiet_hours`, e.g. "Europe/Berlin"; default "UTC".
    pub time_zone: Option<String>,
    /// Generic webhooks: the HMAC-SHA256 key for the `X-Unity-Signature` header.
    pub secret: Option<String>,
}

/// What happens to notifications during quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietMode {
    /// Held back and delivered when the quiet hours end.
    Queue,
    /// Not delivered at all.
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after local midnight; `start > end` spans midnight.
    pub start_minute: u16,
    pub end_minute: u16,
    pub mode: QuietMode,
    /// At least this severe still goes through.
    pub min_severity: Severity,
    pub time_zone: jiff::tz::TimeZone,
}

/// A validated receiver.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Unique; the outbox and the status are kept under it.
    pub name: String,
    pub channel: Channel,
    pub min_severity: Severity,
    pub groups: Vec<String>,
    pub rules: Vec<String>,
    pub quiet: Option<QuietHours>,
    /// The generic webhook's signing key.
    pub secret: Option<Secret>,
}

fn invalid(key: &'static str, value: impl Into<String>, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.into(),
        message: message.to_owned(),
    }
}

fn severity(
    key: &'static str,
    value: Option<&str>,
    default: &str,
) -> Result<Severity, ConfigError> {
    match value.unwrap_or(default) {
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        other => Err(invalid(key, other, "expected \"warning\" or \"critical\"")),
    }
}

fn minute_of_day(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 && minutes.to_string().len() <= 2).then_some(hours * 60 + minutes)
}

/// Validates one `[[alerts.receiver]]`; `number` (from 1) names it in errors and by default.
pub fn receiver(raw: RawReceiver, number: usize) -> Result<ReceiverConfig, ConfigError> {
    let which = || match &raw.name {
        Some(name) => format!("receiver {number} ({name})"),
        None => format!("receiver {number}"),
    };
    let channel = url::parse(&raw.url)
        .map_err(|error| invalid("alerts.receiver.url", which(), &error.to_string()))?;
    let name = match raw.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() && !name.contains('\0') => name.to_owned(),
        Some(_) => return Err(invalid("alerts.receiver.name", which(), "expected a name")),
        None => format!("{} {number}", channel.service()),
    };
    let quiet = match raw.quiet_hours.as_deref() {
        None => None,
        Some(text) => {
            let (start, end) = text
                .split_once('-')
                .and_then(|(start, end)| Some((minute_of_day(start)?, minute_of_day(end)?)))
                .filter(|(start, end)| start != end)
                .ok_or_else(|| {
                    invalid(
                        "alerts.receiver.quiet_hours",
                        text,
                        "expected \"HH:MM-HH:MM\", e.g. \"22:00-07:00\"",
                    )
                })?;
            let zone_name = raw.time_zone.as_deref().unwrap_or("UTC");
            let time_zone = jiff::tz::TimeZone::get(zone_name).map_err(|_| {
                invalid("alerts.receiver.time_zone", zone_name, "unknown time zone")
            })?;
            Some(QuietHours {
                start_minute: start,
                end_minute: end,
                mode: match raw.quiet_mode.as_deref().unwrap_or("queue") {
                    "queue" => QuietMode::Queue,
                    "drop" => QuietMode::Drop,
                    other => {
                        return Err(invalid(
                            "alerts.receiver.quiet_mode",
                            other,
                            "expected \"queue\" or \"drop\"",
                        ))
                    }
                },
                min_severity: severity(
                    "alerts.receiver.quiet_min_severity",
                    raw.quiet_min_severity.as_deref(),
                    "critical",
                )?,
                time_zone,
            })
        }
    };
    if quiet.is_none() && (raw.quiet_mode.is_some() || raw.quiet_min_severity.is_some()) {
        return Err(invalid(
            "alerts.receiver.quiet_hours",
            which(),
            "quiet_mode and quiet_min_severity need quiet_hours",
        ));
    }
    let secret = raw.secret.filter(|secret| !secret.is_empty()).map(Secret);
    if secret.is_some() && !matches!(channel, Channel::Webhook { .. }) {
        return Err(invalid(
            "alerts.receiver.secret",
            which(),
            "a signing secret is for http(s):// webhooks only",
        ));
    }
    Ok(ReceiverConfig {
        name,
        channel,
        min_severity: severity(
            "alerts.receiver.min_severity",
            raw.min_severity.as_deref(),
            "warning",
        )?,
        groups: raw.groups,
        rules: raw.rules,
        quiet,
        secret,
    })
}

/// A receiver from the older sections, with everything else at its default.
pub fn legacy(
    name: String,
    channel: Channel,
    min_severity: Severity,
    secret: Option<Secret>,
) -> ReceiverConfig {
    ReceiverConfig {
        name,
        channel,
        min_severity,
        groups: Vec::new(),
        rules: Vec::new(),
        quiet: None,
        secret,
    }
}

/// Checks names are unique.
pub fn check_names(receivers: &[ReceiverConfig]) -> Result<(), ConfigError> {
    let mut names = std::collections::BTreeSet::new();
    match receivers
        .iter()
        .find(|receiver| !names.insert(receiver.name.as_str()))
    {
        Some(twice) => Err(invalid("alerts.receiver.name", &twice.name, "used twice")),
        None => Ok(()),
    }
}

/// What the router knows about one event.
pub struct Routed<'a> {
    pub severity: Severity,
    pub key: &'a str,
    /// Host groups the alert's host is in.
    pub host_groups: &'a [String],
    /// A recovery: when its problem was opened.
    pub resolved_problem_opened_ms: Option<i64>,
}

impl QuietHours {
    fn local(&self, ms: i64) -> Option<jiff::civil::DateTime> {
        let time = jiff::Timestamp::from_millisecond(ms).ok()?;
        Some(self.time_zone.to_datetime(time))
    }

    /// Whether `ms` falls in the quiet hours.
    pub fn contains(&self, ms: i64) -> bool {
        let Some(local) = self.local(ms) else {
            return false;
        };
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }

    /// When the quiet hours around `ms` end (Unix ms): the next local end time after `ms`
    /// (in a DST gap, the first instant after it).
    pub fn end_after(&self, ms: i64) -> i64 {
        let Some(local) = self.local(ms) else {
            return ms;
        };
        let Ok(end_time) = jiff::civil::Time::new(
            (self.end_minute / 60) as i8,
            (self.end_minute % 60) as i8,
            0,
            0,
        ) else {
            return ms;
        };
        let mut date = local.date();
        for _ in 0..3 {
            let end = jiff::civil::DateTime::from_parts(date, end_time);
            if let Ok(end) = self.time_zone.to_ambiguous_timestamp(end).later() {
                let end_ms = end.as_millisecond();
                if end_ms > ms {
                    return end_ms;
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => return ms,
            }
        }
        ms
    }
}

impl ReceiverConfig {
    /// Whether this receiver gets the event at all (severity and routing).
    pub fn wants(&self, event: &Routed) -> bool {
        event.severity >= self.min_severity
            && (self.groups.is_empty()
                || self
                    .groups
                    .iter()
                    .any(|group| event.host_groups.contains(group)))
            && (self.rules.is_empty()
                || self
                    .rules
                    .iter()
                    .any(|prefix| event.key.starts_with(prefix.as_str())))
    }

    /// Whether and when to deliver: `None` not at all, else not before the returned Unix ms.
    pub fn plan(&self, event: &Routed, now_ms: i64) -> Option<i64> {
        if !self.wants(event) {
            return None;
        }
        let Some(quiet) = &self.quiet else {
            return Some(now_ms);
        };
        if event.severity >= quiet.min_severity {
            return Some(now_ms);
        }
        let problem_dropped = quiet.mode == QuietMode::Drop
            && event
                .resolved_problem_opened_ms
                .is_some_and(|opened| quiet.contains(opened));
        if problem_dropped {
            // Its problem was never sent, so neither is the recovery.
            return None;
        }
        match (quiet.contains(now_ms), quiet.mode) {
            (false, _) => Some(now_ms),
            (true, QuietMode::Drop) => None,
            (true, QuietMode::Queue) => Some(quiet.end_after(now_ms)),
        }
    }
}
