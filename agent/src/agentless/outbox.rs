//! What the proxy owes the controller for its agentless hosts (pure): each host's collected
//! reports until they are acknowledged (bounded, oldest dropped first and counted), which of
//! them this session has sent, the host's newest status and whether it was sent, and the
//! sequence numbers, which only grow.
//!
//! Kept in memory: a proxy restart loses the unacknowledged reports of its agentless hosts
//! (with a connected controller, at most the one in flight) and collects afresh; see
//! `docs/agentless.md`.

use std::collections::{BTreeMap, BTreeSet};
use unity_shared::model::agentless::{AgentlessReport, AgentlessStatus};
use unity_shared::proto::AgentId;

/// Unacknowledged reports kept per host, at most.
pub const MAX_PENDING: usize = 256;

#[derive(Debug, Default)]
struct HostBox {
    pending: BTreeMap<u64, AgentlessReport>,
    sent: BTreeSet<u64>,
    status: Option<AgentlessStatus>,
    status_sent: bool,
    next_seq: u64,
    dropped: u64,
    acked: u64,
}

/// One host's figures, for `unity-agent agentless status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSummary {
    pub host: AgentId,
    pub pending: usize,
    pub dropped: u64,
    pub acked: u64,
    pub status: Option<AgentlessStatus>,
}

#[derive(Debug, Default)]
pub struct Outbox {
    hosts: BTreeMap<AgentId, HostBox>,
}

impl Outbox {
    /// The next sequence number for `host`: after what the controller stored, after every
    /// number given out before.
    pub fn take_seq(&mut self, host: &AgentId, last_stored: Option<u64>) -> u64 {
        let entry = self.hosts.entry(host.clone()).or_default();
        let after_stored = last_stored.map_or(1, |seq| seq.saturating_add(1));
        let seq = entry.next_seq.max(after_stored).max(1);
        entry.next_seq = seq.saturating_add(1);
        seq
    }

    /// Keeps a collected report until it is acknowledged; when the host already has
    /// [`MAX_PENDING`], the oldest is dropped. Returns the reports dropped for the host so
    /// far, for the next report's `dropped_reports`.
    pub fn push(&mut self, report: AgentlessReport) {
        let entry = self.hosts.entry(report.host.clone()).or_default();
        while entry.pending.len() >= MAX_PENDING {
            if let Some((seq, _)) = entry.pending.pop_first() {
                entry.sent.remove(&seq);
                entry.dropped += 1;
            }
        }
        entry.pending.insert(report.report.seq, report);
    }

    /// Reports dropped for `host` so far.
    pub fn dropped(&self, host: &AgentId) -> u64 {
        self.hosts.get(host).map_or(0, |entry| entry.dropped)
    }

    /// Records a host's outcome; true when it differs from the previous one (then it is sent).
    pub fn set_status(&mut self, status: AgentlessStatus) -> bool {
        let entry = self.hosts.entry(status.host.clone()).or_default();
        let changed = entry
            .status
            .as_ref()
            .is_none_or(|previous| previous.outcome != status.outcome);
        if changed {
            entry.status = Some(status);
            entry.status_sent = false;
        }
        changed
    }

    /// A new session: everything kept is sent again, statuses too.
    pub fn new_session(&mut self) {
        for entry in self.hosts.values_mut() {
            entry.sent.clear();
            entry.status_sent = false;
        }
    }

    /// Up to `room` reports not yet sent in this session, oldest first per host; marked sent.
    pub fn take_unsent(&mut self, room: usize) -> Vec<AgentlessReport> {
        let mut out = Vec::new();
        for entry in self.hosts.values_mut() {
            for (seq, report) in &entry.pending {
                if out.len() >= room {
                    return out;
                }
                if entry.sent.insert(*seq) {
                    out.push(report.clone());
                }
            }
        }
        out
    }

    /// Statuses not yet sent in this session; marked sent.
    pub fn take_statuses(&mut self) -> Vec<AgentlessStatus> {
        let mut out = Vec::new();
        for entry in self.hosts.values_mut() {
            if let (Some(status), false) = (&entry.status, entry.status_sent) {
                out.push(status.clone());
                entry.status_sent = true;
            }
        }
        out
    }

    /// Sent, not yet acknowledged, in this session.
    pub fn in_flight(&self) -> usize {
        self.hosts
            .values()
            .map(|entry| {
                entry
                    .sent
                    .iter()
                    .filter(|seq| entry.pending.contains_key(seq))
                    .count()
            })
            .sum()
    }

    /// The controller stored it: drop it.
    pub fn ack(&mut self, host: &AgentId, seq: u64) {
        if let Some(entry) = self.hosts.get_mut(host) {
            if entry.pending.remove(&seq).is_some() {
                entry.acked += 1;
            }
            entry.sent.remove(&seq);
        }
    }

    /// Forgets hosts no longer assigned (the controller would refuse their reports).
    pub fn retain(&mut self, hosts: &BTreeSet<AgentId>) {
        self.hosts.retain(|host, _| hosts.contains(host));
    }

    pub fn summary(&self) -> Vec<HostSummary> {
        self.hosts
            .iter()
            .map(|(host, entry)| HostSummary {
                host: host.clone(),
                pending: entry.pending.len(),
                dropped: entry.dropped,
                acked: entry.acked,
                status: entry.status.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::agentless::AgentlessOutcome;
    use unity_shared::proto::Report;

    fn host() -> AgentId {
        AgentId::new("nas").unwrap()
    }

    fn report(seq: u64) -> AgentlessReport {
        AgentlessReport {
            host: host(),
            facts: None,
            report: Report {
                seq,
                collected_at_ms: 0,
                samples: Vec::new(),
                dropped_reports: 0,
                storage: None,
                databases: None,
                containers: None,
                plugin_series: None,
                plugin_sources: None,
                checks: None,
                certificates: None,
            },
        }
    }

    #[test]
    fn issue_16_reports_wait_for_their_ack_and_are_resent_after_reconnect() {
        let mut outbox = Outbox::default();
        let first = outbox.take_seq(&host(), Some(41));
        let second = outbox.take_seq(&host(), Some(41));
        assert_eq!((first, second), (42, 43));
        outbox.push(report(first));
        outbox.push(report(second));
        let sent: Vec<u64> = outbox
            .take_unsent(10)
            .iter()
            .map(|r| r.report.seq)
            .collect();
        assert_eq!(sent, [42, 43]);
        assert!(outbox.take_unsent(10).is_empty(), "sent once per session");
        outbox.ack(&host(), 42);
        outbox.new_session();
        let resent: Vec<u64> = outbox
            .take_unsent(10)
            .iter()
            .map(|r| r.report.seq)
            .collect();
        assert_eq!(resent, [43]);
        // Numbers never go back, even when the controller's stored number is older.
        assert_eq!(outbox.take_seq(&host(), Some(3)), 44);
        assert_eq!(outbox.take_seq(&host(), Some(99)), 100);
    }

    #[test]
    fn the_oldest_report_is_dropped_and_counted_when_full() {
        let mut outbox = Outbox::default();
        for seq in 1..=(MAX_PENDING as u64 + 2) {
            outbox.push(report(seq));
        }
        assert_eq!(outbox.dropped(&host()), 2);
        let first = outbox.take_unsent(1);
        assert_eq!(first[0].report.seq, 3);
    }

    #[test]
    fn a_status_is_sent_when_it_changes() {
        let mut outbox = Outbox::default();
        let status = |outcome| AgentlessStatus {
            host: host(),
            at_ms: 1,
            outcome,
        };
        assert!(outbox.set_status(status(AgentlessOutcome::Collected)));
        assert!(!outbox.set_status(status(AgentlessOutcome::Collected)));
        assert_eq!(outbox.take_statuses().len(), 1);
        assert!(outbox.take_statuses().is_empty());
        let down = AgentlessOutcome::Unreachable {
            message: "refused".into(),
        };
        assert!(outbox.set_status(status(down)));
        outbox.new_session();
        assert_eq!(
            outbox.take_statuses().len(),
            1,
            "sent again after a reconnect"
        );
    }
}
