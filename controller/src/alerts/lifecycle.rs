//! The lifecycle decisions, pure (issue 18 §2): which silences apply to an alert, which rule
//! conditions have held for their `for`, and whether a step of an alert's life is told to the
//! receivers (opened, escalated, reminder, resolved) given its acknowledgement, silences and
//! what was told before. The evaluation loop (`super::apply`) stores and sends what these say.

use super::rules::Condition;
use super::EventKind;
use crate::storage::alert_lifecycle::AlertStatus;
use crate::storage::alert_silences::SilenceRecord;
use crate::storage::alerts::Severity;
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

/// Whether `silence` mutes the alert `key` of host `agent_id` (carrying `labels`) at `now_ms`.
/// Every matcher it has must match; a silence without matchers mutes nothing.
pub fn silences(
    silence: &SilenceRecord,
    key: &str,
    agent_id: &AgentId,
    labels: &[(String, String)],
    now_ms: i64,
) -> bool {
    silence.mutes(key, agent_id, labels, now_ms)
}

/// Keeps the conditions that have held for their rule's `for` (milliseconds, 0 = at once)
/// and returns the clocks to store: when each still-held condition was first seen. A
/// condition that goes away loses its clock, so `for` means "held continuously".
pub fn held_for(
    pending: &BTreeMap<String, i64>,
    candidates: Vec<(Condition, i64)>,
    now_ms: i64,
) -> (Vec<Condition>, BTreeMap<String, i64>) {
    let mut clocks = BTreeMap::new();
    let mut active = Vec::new();
    for (condition, for_ms) in candidates {
        if for_ms <= 0 {
            active.push(condition);
            continue;
        }
        let since = pending.get(&condition.key).copied().unwrap_or(now_ms);
        clocks.insert(condition.key.clone(), since);
        if now_ms.saturating_sub(since) >= for_ms {
            active.push(condition);
        }
    }
    (active, clocks)
}

/// A step in an open alert's life, as [`super::diff_with_hosts`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Opened,
    Seen { escalated: bool },
    Resolved,
}

/// What the receivers are told about one step (nothing while silenced): an alert opens;
/// one never told (opened under a silence since expired) is told as opened; an escalation
/// and, every `repeat_ms` (0 = never), a reminder of an unacknowledged critical alert; its
/// resolution only if its problem was told (paired messages).
pub fn notification(
    step: Step,
    status: &AlertStatus,
    severity: Severity,
    acknowledged: bool,
    silenced: bool,
    now_ms: i64,
    repeat_ms: i64,
) -> Option<EventKind> {
    if silenced {
        return None;
    }
    match step {
        Step::Opened => Some(EventKind::Opened),
        Step::Resolved => status.notified_at_ms.map(|_| EventKind::Resolved),
        Step::Seen { .. } if acknowledged => None,
        Step::Seen { escalated } => match status.notified_at_ms {
            None => Some(EventKind::Opened),
            Some(_) if escalated => Some(EventKind::Escalated),
            Some(told_ms)
                if severity == Severity::Critical
                    && repeat_ms > 0
                    && now_ms.saturating_sub(told_ms) >= repeat_ms =>
            {
                Some(EventKind::Reminder)
            }
            Some(_) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::alert_lifecycle::ActorRecord;

    const HOUR: i64 = 3_600_000;

    fn silence(
        host: Option<&str>,
        prefix: Option<&str>,
        label: Option<(&str, &str)>,
    ) -> SilenceRecord {
        SilenceRecord {
            id: 1,
            host: host.map(|host| AgentId::new(host).unwrap()),
            key_prefix: prefix.map(str::to_owned),
            label: label.map(|(name, value)| (name.into(), value.into())),
            comment: String::new(),
            created_by: ActorRecord::Cli,
            created_at_ms: 0,
            expires_at_ms: HOUR,
        }
    }

    #[track_caller]
    fn check_silence(silence: SilenceRecord, key: &str, host: &str, now: i64, expect: bool) {
        let labels = [("role".to_owned(), "nas".to_owned())];
        let agent_id = AgentId::new(host).unwrap();
        assert_eq!(
            super::silences(&silence, key, &agent_id, &labels, now),
            expect
        );
    }

    #[test]
    fn issue_18_silences_match_by_host_prefix_and_label_until_they_expire() {
        check_silence(
            silence(Some("nas"), None, None),
            "pool/nas/t",
            "nas",
            0,
            true,
        );
        check_silence(
            silence(Some("nas"), None, None),
            "pool/web/t",
            "web",
            0,
            false,
        );
        check_silence(
            silence(None, Some("disk/"), None),
            "disk/nas/1/smart",
            "nas",
            0,
            true,
        );
        check_silence(
            silence(None, Some("disk/"), None),
            "pool/nas/t",
            "nas",
            0,
            false,
        );
        check_silence(
            silence(None, None, Some(("role", "nas"))),
            "x",
            "nas",
            0,
            true,
        );
        check_silence(
            silence(None, None, Some(("role", "web"))),
            "x",
            "nas",
            0,
            false,
        );
        check_silence(
            silence(Some("nas"), Some("disk/"), None),
            "pool/nas/t",
            "nas",
            0,
            false,
        );
        // Expired: no longer applies; no matcher: mutes nothing.
        check_silence(
            silence(Some("nas"), None, None),
            "pool/nas/t",
            "nas",
            HOUR,
            false,
        );
        check_silence(silence(None, None, None), "pool/nas/t", "nas", 0, false);
    }

    fn condition(key: &str) -> Condition {
        Condition {
            key: key.into(),
            agent_id: AgentId::new("nas").unwrap(),
            severity: Severity::Warning,
            summary: String::new(),
            details: vec![],
        }
    }

    #[test]
    fn issue_18_a_rule_with_for_fires_only_after_holding_continuously() {
        let mut pending = BTreeMap::new();
        let mut step = |keys: &[&str], now: i64| {
            let candidates = keys.iter().map(|key| (condition(key), 600_000)).collect();
            let (active, clocks) = held_for(&pending, candidates, now);
            pending = clocks;
            active.into_iter().map(|c| c.key).collect::<Vec<_>>()
        };
        assert!(step(&["hot"], 0).is_empty());
        assert!(step(&["hot"], 599_999).is_empty());
        assert_eq!(step(&["hot"], 600_000), ["hot"]);
        // Gone once: the clock starts again.
        assert!(step(&[], 700_000).is_empty());
        assert!(step(&["hot"], 800_000).is_empty());
        assert_eq!(step(&["hot"], 1_400_000), ["hot"]);
        let (active, clocks) = held_for(&BTreeMap::new(), vec![(condition("now"), 0)], 5);
        assert_eq!(active.len(), 1);
        assert!(clocks.is_empty());
    }

    #[track_caller]
    fn check(
        step: Step,
        told: Option<i64>,
        acked: bool,
        silenced: bool,
        now: i64,
    ) -> Option<&'static str> {
        let status = AlertStatus {
            notified_at_ms: told,
            unknown_since_ms: None,
        };
        notification(
            step,
            &status,
            Severity::Critical,
            acked,
            silenced,
            now,
            4 * HOUR,
        )
        .map(EventKind::as_str)
    }

    #[test]
    fn issue_18_what_is_told() {
        let seen = Step::Seen { escalated: false };
        assert_eq!(check(Step::Opened, None, false, false, 0), Some("opened"));
        assert_eq!(check(Step::Opened, None, false, true, 0), None);
        assert_eq!(check(seen, Some(0), false, false, HOUR), None);
        assert_eq!(
            check(seen, Some(0), false, false, 4 * HOUR),
            Some("reminder")
        );
        // Acknowledged: no reminder, no escalation; silenced: nothing.
        assert_eq!(check(seen, Some(0), true, false, 4 * HOUR), None);
        assert_eq!(
            check(Step::Seen { escalated: true }, Some(0), true, false, 1),
            None
        );
        assert_eq!(
            check(Step::Seen { escalated: true }, Some(0), false, false, 1),
            Some("escalated")
        );
        assert_eq!(check(seen, Some(0), false, true, 4 * HOUR), None);
        // Opened under a silence that has expired since: told as opened now.
        assert_eq!(check(seen, None, false, false, HOUR), Some("opened"));
        // Resolved: told only when its problem was.
        assert_eq!(
            check(Step::Resolved, Some(0), true, false, 1),
            Some("resolved")
        );
        assert_eq!(check(Step::Resolved, None, false, false, 1), None);
        assert_eq!(check(Step::Resolved, Some(0), false, true, 1), None);
        // A warning is never repeated; repeat 0 disables.
        let status = AlertStatus {
            notified_at_ms: Some(0),
            unknown_since_ms: None,
        };
        assert_eq!(
            notification(
                seen,
                &status,
                Severity::Warning,
                false,
                false,
                9 * HOUR,
                HOUR
            ),
            None
        );
        assert_eq!(
            notification(seen, &status, Severity::Critical, false, false, 9 * HOUR, 0),
            None
        );
    }
}
