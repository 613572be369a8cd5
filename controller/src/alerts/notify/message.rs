//! The words of a notification, the same for every service: short enough for a phone's lock
//! screen. What and where in the title (`nas01: tank DEGRADED`), why and since when in the
//! body, and a link to the host's page. A recovery repeats the problem's title after
//! "Resolved:" and says how long it lasted. Pure: a function of the event and the dashboard's
//! address.

use crate::alerts::{Event, EventKind};
use crate::storage::alerts::Severity;

/// One notification's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `<prefix><host>: <summary>`.
    pub title: String,
    /// Severity and since when, then the details, one per line.
    pub body: String,
    /// The host's page on the dashboard, when its address is configured.
    pub link: Option<String>,
    pub severity: Severity,
    /// The condition is over (the message is good news).
    pub resolved: bool,
}

impl EventKind {
    /// What comes before the problem's title; one line per kind of event.
    pub fn title_prefix(self) -> &'static str {
        match self {
            EventKind::Opened => "",
            EventKind::Escalated => "Worse: ",
            EventKind::Resolved => "Resolved: ",
            EventKind::Reminder => "Still open: ",
        }
    }
}

/// The link to the alert's host on the dashboard, when its address is configured.
pub fn host_link(dashboard_url: Option<&str>, agent_id: &impl std::fmt::Display) -> Option<String> {
    dashboard_url.map(|url| format!("{}/hosts/{agent_id}", url.trim_end_matches('/')))
}

/// `2026-12-07 14:03 UTC`.
pub fn clock_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(time) => time.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// `3d 4h`, `1h 12m`, `5m`, `40s`: the two largest units.
pub fn duration_words(ms: i64) -> String {
    let seconds = (ms.max(0) / 1000) as u64;
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, unit) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// The message for `event`.
pub fn message(event: &Event, dashboard_url: Option<&str>) -> Message {
    let alert = &event.alert;
    let resolved = alert.resolved_at_ms.is_some() && event.kind == EventKind::Resolved;
    let title = format!(
        "{}{}: {}",
        event.kind.title_prefix(),
        event.hostname,
        alert.summary
    );
    let level = match alert.severity {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
    };
    let mut body = match alert.resolved_at_ms {
        Some(end) if resolved => format!(
            "{level} for {}, from {} until {}.",
            duration_words(end - alert.opened_at_ms),
            clock_time(alert.opened_at_ms),
            clock_time(end)
        ),
        _ => format!("{level} since {}.", clock_time(alert.opened_at_ms)),
    };
    for detail in alert.details.iter().take(5) {
        body.push('\n');
        body.push_str(detail);
    }
    Message {
        title,
        body,
        link: host_link(dashboard_url, &alert.agent_id),
        severity: alert.severity,
        resolved,
    }
}

/// The event a "send test" delivers: an alert that is not one, on host "unity".
pub fn test_event(now_ms: i64) -> Event {
    let agent_id = match unity_shared::proto::AgentId::new("unity") {
        Ok(agent_id) => agent_id,
        Err(_) => unreachable!("\"unity\" is a valid agent id"),
    };
    Event {
        kind: EventKind::Opened,
        hostname: "unity".into(),
        alert: crate::storage::alerts::AlertRecord {
            key: "test/unity/notification".into(),
            agent_id,
            severity: Severity::Warning,
            summary: "Test notification from Unity".into(),
            details: vec!["If you can read this, this receiver works.".into()],
            opened_at_ms: now_ms,
            last_seen_ms: now_ms,
            resolved_at_ms: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::alerts::AlertRecord;
    use unity_shared::proto::AgentId;

    fn event(kind: EventKind) -> Event {
        Event {
            kind,
            hostname: "nas01".into(),
            alert: AlertRecord {
                key: "pool/nas/tank".into(),
                agent_id: AgentId::new("nas").unwrap(),
                severity: Severity::Critical,
                summary: "tank: DEGRADED".into(),
                details: vec!["One device removed.".into()],
                opened_at_ms: 1_765_115_000_000,
                last_seen_ms: 1_765_115_000_000,
                resolved_at_ms: (kind == EventKind::Resolved)
                    .then_some(1_765_115_000_000 + 4_320_000),
            },
        }
    }

    #[test]
    fn issue_18_problem_and_recovery_are_paired() {
        let problem = message(&event(EventKind::Opened), Some("https://unity.lan/"));
        assert_eq!(problem.title, "nas01: tank: DEGRADED");
        assert_eq!(
            problem.body,
            "Critical since 2025-12-07 13:43 UTC.\nOne device removed."
        );
        assert_eq!(problem.link.as_deref(), Some("https://unity.lan/hosts/nas"));
        let recovery = message(&event(EventKind::Resolved), None);
        assert_eq!(recovery.title, format!("Resolved: {}", problem.title));
        assert!(recovery.resolved && !problem.resolved);
        assert!(
            recovery.body.starts_with(
                "Critical for 1h 12m, from 2025-12-07 13:43 UTC until 2025-12-07 14:55 UTC."
            ),
            "{}",
            recovery.body
        );
        assert_eq!(
            message(&event(EventKind::Escalated), None).title,
            "Worse: nas01: tank: DEGRADED"
        );
    }

    #[test]
    fn durations_in_two_units() {
        assert_eq!(duration_words(0), "0s");
        assert_eq!(duration_words(40_000), "40s");
        assert_eq!(duration_words(3_600_000), "1h");
        assert_eq!(duration_words(90_061_000), "1d 1h");
        assert_eq!(duration_words(-5), "0s");
        assert_eq!(clock_time(i64::MAX), format!("{} ms", i64::MAX));
        assert_eq!(test_event(0).alert.agent_id.to_string(), "unity");
    }
}
