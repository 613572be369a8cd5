//! What the proxy owes the controller for its agentless hosts in this session (pure): which
//! spooled reports of each host this session has sent (a cursor, as the agent's own session
//! keeps) and not yet had acknowledged, the host's newest status and facts and whether they
//! were sent, and the acknowledgement counts. The reports themselves live in the hosts' spools
//! ([`super::spools`]), on disk until acknowledged; see `docs/agentless.md`.

use std::collections::{BTreeMap, BTreeSet};
use unity_shared::model::agentless::AgentlessStatus;
use unity_shared::proto::{AgentId, HostFacts};

#[derive(Debug, Default)]
struct HostBox {
    /// The newest report sent in this session.
    cursor: Option<u64>,
    /// Sent in this session, not acknowledged.
    in_flight: BTreeSet<u64>,
    status: Option<AgentlessStatus>,
    status_sent: bool,
    /// The newest facts read from the host (not spooled: read again every round).
    facts: Option<HostFacts>,
    facts_sent: bool,
    acked: u64,
}

/// One host's figures, for `unity-agent agentless status` (the spool's figures beside them).
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
    /// Keeps a host's newest facts; sent with its next report.
    pub fn set_facts(&mut self, host: &AgentId, facts: HostFacts) {
        let entry = self.hosts.entry(host.clone()).or_default();
        entry.facts = Some(facts);
        entry.facts_sent = false;
    }

    /// The facts to send with `host`'s next report, once per change and session.
    pub fn take_facts(&mut self, host: &AgentId) -> Option<HostFacts> {
        let entry = self.hosts.get_mut(host)?;
        if entry.facts_sent {
            return None;
        }
        entry.facts_sent = true;
        entry.facts.clone()
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

    /// A new session: everything spooled is sent again from the oldest, statuses and facts too.
    pub fn new_session(&mut self) {
        for entry in self.hosts.values_mut() {
            entry.cursor = None;
            entry.in_flight.clear();
            entry.status_sent = false;
            entry.facts_sent = false;
        }
    }

    /// The newest report of `host` sent in this session: the next ones come after it.
    pub fn cursor(&self, host: &AgentId) -> Option<u64> {
        self.hosts.get(host).and_then(|entry| entry.cursor)
    }

    /// `host`'s report `seq` is sent in this session.
    pub fn sent(&mut self, host: &AgentId, seq: u64) {
        let entry = self.hosts.entry(host.clone()).or_default();
        entry.cursor = Some(entry.cursor.map_or(seq, |cursor| cursor.max(seq)));
        entry.in_flight.insert(seq);
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
        self.hosts.values().map(|entry| entry.in_flight.len()).sum()
    }

    /// The controller stored it: counted (the spool forgets it).
    pub fn ack(&mut self, host: &AgentId, seq: u64) {
        if let Some(entry) = self.hosts.get_mut(host) {
            if entry.in_flight.remove(&seq) {
                entry.acked += 1;
            }
        }
    }

    /// Forgets hosts no longer assigned.
    pub fn retain(&mut self, hosts: &BTreeSet<AgentId>) {
        self.hosts.retain(|host, _| hosts.contains(host));
    }

    /// The hosts' figures; `spooled` gives a host's spooled and dropped reports.
    pub fn summary(
        &self,
        hosts: &[AgentId],
        spooled: impl Fn(&AgentId) -> (usize, u64),
    ) -> Vec<HostSummary> {
        let mut all: BTreeSet<&AgentId> = self.hosts.keys().collect();
        all.extend(hosts);
        all.into_iter()
            .map(|host| {
                let (pending, dropped) = spooled(host);
                let entry = self.hosts.get(host);
                HostSummary {
                    host: host.clone(),
                    pending,
                    dropped,
                    acked: entry.map_or(0, |entry| entry.acked),
                    status: entry.and_then(|entry| entry.status.clone()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::agentless::AgentlessOutcome;

    fn host() -> AgentId {
        AgentId::new("nas").unwrap()
    }

    #[test]
    fn issue_16_sent_reports_wait_for_their_ack_and_a_new_session_starts_over() {
        let mut outbox = Outbox::default();
        assert_eq!(outbox.cursor(&host()), None);
        outbox.sent(&host(), 42);
        outbox.sent(&host(), 43);
        assert_eq!(outbox.cursor(&host()), Some(43));
        assert_eq!(outbox.in_flight(), 2);
        outbox.ack(&host(), 42);
        outbox.ack(&host(), 42);
        assert_eq!(outbox.in_flight(), 1);
        outbox.new_session();
        assert_eq!(
            outbox.cursor(&host()),
            None,
            "everything spooled is sent again"
        );
        assert_eq!(outbox.in_flight(), 0);
        let summary = outbox.summary(&[], |_| (1, 0));
        assert_eq!((summary[0].pending, summary[0].acked), (1, 1));
    }

    #[test]
    fn facts_go_with_one_report_per_change_and_session() {
        let mut outbox = Outbox::default();
        assert_eq!(outbox.take_facts(&host()), None);
        outbox.set_facts(&host(), HostFacts::default());
        assert!(outbox.take_facts(&host()).is_some());
        assert_eq!(outbox.take_facts(&host()), None);
        outbox.new_session();
        assert!(outbox.take_facts(&host()).is_some());
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
