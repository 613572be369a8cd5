//! Agentless hosts (issue 16): this agent as the *proxy* of hosts that run no agent. The
//! controller assigns targets ([`Proxy::assign`]); each target gets a task of its own that logs
//! in over SSH every interval ([`ssh`], host key checked by [`host_key`]), runs the collectors
//! there ([`round`]) and leaves a report and a status in the [`outbox::Outbox`], which the
//! session sends and drops on acknowledgement. A hung or dead target only stalls its own task:
//! every step has a timeout and the agent's own loops never wait for one. See
//! `docs/agentless.md`.

pub mod host_key;
pub mod outbox;
pub mod round;
pub mod ssh;

use crate::clock::now_ms;
use outbox::{HostSummary, Outbox};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use unity_shared::model::agentless::{
    AgentlessReport, AgentlessStatus, AgentlessTarget, AssignAgentless,
};
use unity_shared::proto::{AgentId, Report};

/// One host's line in the agent's status file (what `unity-agent agentless status` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusLine {
    pub host: String,
    pub state: String,
    pub message: Option<String>,
    pub pending: usize,
    pub acknowledged: u64,
    pub dropped: u64,
}

/// The message of an outcome, if it has one (the presented key's line for key outcomes).
fn outcome_message(outcome: &unity_shared::model::agentless::AgentlessOutcome) -> Option<String> {
    use unity_shared::model::agentless::AgentlessOutcome as O;
    match outcome {
        O::Collected => None,
        O::HostKeyToConfirm { presented } | O::HostKeyMismatch { presented } => {
            Some(format!("presented {presented}"))
        }
        O::Unreachable { message } | O::AuthenticationFailed { message } => Some(message.clone()),
        O::CommandFailed { command, message } => Some(format!("{command}: {message}")),
    }
}

/// The agentless targets of this agent and what it owes the controller for them.
#[derive(Default)]
pub struct Proxy {
    outbox: Arc<Mutex<Outbox>>,
    /// Woken when a report or a status is ready to send.
    pub ready: Arc<Notify>,
    tasks: Mutex<BTreeMap<AgentId, Running>>,
}

struct Running {
    target: AgentlessTarget,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two assignments of a target ask for the same work (the stored sequence number aside).
fn same_work(a: &AgentlessTarget, b: &AgentlessTarget) -> bool {
    AgentlessTarget {
        last_stored_seq: None,
        ..a.clone()
    } == AgentlessTarget {
        last_stored_seq: None,
        ..b.clone()
    }
}

impl Proxy {
    /// Puts an assignment in effect: targets missing from it are stopped, changed ones are
    /// restarted, new ones started (each collects at once, then every interval). Returns how
    /// many targets run.
    pub fn assign(&self, assignment: AssignAgentless) -> u32 {
        let Ok(mut tasks) = self.tasks.lock() else {
            return 0;
        };
        let wanted: BTreeSet<AgentId> = assignment
            .targets
            .iter()
            .map(|target| target.host.clone())
            .collect();
        tasks.retain(|host, _| wanted.contains(host));
        if let Ok(mut outbox) = self.outbox.lock() {
            outbox.retain(&wanted);
        }
        for target in assignment.targets {
            if let Some(running) = tasks.get(&target.host) {
                if same_work(&running.target, &target) && !running.task.is_finished() {
                    continue;
                }
            }
            let task = tokio::spawn(target_loop(
                target.clone(),
                self.outbox.clone(),
                self.ready.clone(),
            ));
            tasks.insert(target.host.clone(), Running { target, task });
        }
        u32::try_from(tasks.len()).unwrap_or(u32::MAX)
    }

    /// A new session: everything unacknowledged is sent again.
    pub fn new_session(&self) {
        if let Ok(mut outbox) = self.outbox.lock() {
            outbox.new_session();
        }
    }

    /// Reports (up to `room`) and statuses to send now.
    pub fn take_ready(&self, room: usize) -> (Vec<AgentlessReport>, Vec<AgentlessStatus>) {
        match self.outbox.lock() {
            Ok(mut outbox) => (outbox.take_unsent(room), outbox.take_statuses()),
            Err(_) => (Vec::new(), Vec::new()),
        }
    }

    /// Reports sent in this session and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.outbox.lock().map_or(0, |outbox| outbox.in_flight())
    }

    pub fn ack(&self, host: &AgentId, seq: u64) {
        if let Ok(mut outbox) = self.outbox.lock() {
            outbox.ack(host, seq);
        }
    }

    /// One line per host for `status.json`.
    pub fn status_lines(&self) -> Vec<StatusLine> {
        self.summary()
            .into_iter()
            .map(|summary| {
                let (state, message) = match &summary.status {
                    Some(status) => (
                        outcome_word(&status.outcome).to_owned(),
                        outcome_message(&status.outcome),
                    ),
                    None => (String::new(), None),
                };
                StatusLine {
                    host: summary.host.to_string(),
                    state,
                    message,
                    pending: summary.pending,
                    acknowledged: summary.acked,
                    dropped: summary.dropped,
                }
            })
            .collect()
    }

    pub fn summary(&self) -> Vec<HostSummary> {
        self.outbox
            .lock()
            .map(|outbox| outbox.summary())
            .unwrap_or_default()
    }
}

/// One target: a round at once, then every interval, until the task is aborted.
async fn target_loop(target: AgentlessTarget, outbox: Arc<Mutex<Outbox>>, ready: Arc<Notify>) {
    let interval = Duration::from_secs(u64::from(target.interval_secs.max(1)));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = now_ms();
        let result = round::run(&target, started).await;
        let outcome = match result {
            Ok((collected, outcome)) => {
                if let Ok(mut outbox) = outbox.lock() {
                    let seq = outbox.take_seq(&target.host, target.last_stored_seq);
                    let report = Report {
                        seq,
                        collected_at_ms: started,
                        samples: collected.samples,
                        dropped_reports: outbox.dropped(&target.host),
                        storage: collected.storage.map(Box::new),
                        databases: None,
                        containers: None,
                        plugin_series: None,
                        plugin_sources: None,
                        checks: None,
                        certificates: None,
                    };
                    outbox.push(AgentlessReport {
                        host: target.host.clone(),
                        facts: collected.facts,
                        report,
                    });
                }
                outcome
            }
            Err(outcome) => outcome,
        };
        let changed = outbox.lock().is_ok_and(|mut outbox| {
            outbox.set_status(AgentlessStatus {
                host: target.host.clone(),
                at_ms: now_ms(),
                outcome: outcome.clone(),
            })
        });
        if changed {
            tracing::info!(host = %target.host, outcome = ?outcome_word(&outcome), "Agentless host outcome changed.");
        }
        ready.notify_one();
    }
}

/// A short word for the log and the status (the outcome's messages may be long).
pub fn outcome_word(outcome: &unity_shared::model::agentless::AgentlessOutcome) -> &'static str {
    use unity_shared::model::agentless::AgentlessOutcome as O;
    match outcome {
        O::Collected => "collected",
        O::HostKeyToConfirm { .. } => "host key to confirm",
        O::HostKeyMismatch { .. } => "host key mismatch",
        O::Unreachable { .. } => "unreachable",
        O::AuthenticationFailed { .. } => "authentication failed",
        O::CommandFailed { .. } => "command failed",
    }
}
